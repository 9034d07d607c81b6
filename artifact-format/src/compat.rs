//! The compatibility hash: one BLAKE3 digest over every fact that changes
//! what generated code expects of its loader.
//!
//! Rule: nobody bumps a number by hand to invalidate old artifacts. The ABI
//! fingerprint is derived from the very lists the compiler and loader are
//! built from (helpers, libcalls, trap codes, VMContext layout), so changing
//! any of them changes the hash.

use crate::cpu::CpuFeatures;
use crate::helpers::{Helper, Libcall};
use crate::traps::TrapCode;
use crate::vmctx::VMOffsets;
use crate::FORMAT_VERSION;

/// Bytes reserved per 32-bit memory, under either strategy.
pub const MEMORY_RESERVATION: u64 = 4 << 30;
/// Guard region after a 32-bit memory's reservation with guard pages.
pub const GUARD_PAGES_GUARD_SIZE: u64 = 4 << 30;

/// How linear-memory accesses are kept in bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum BoundsChecks {
    /// 32-bit memories live in a reservation of 4 GiB plus a guard region;
    /// accesses are not checked and a fault becomes the trap.
    #[default]
    GuardPages = 0,
    /// Every access compares against the memory's current length.
    Explicit = 1,
}

impl BoundsChecks {
    /// Decodes the header byte.
    pub fn from_u8(b: u8) -> Option<BoundsChecks> {
        match b {
            0 => Some(BoundsChecks::GuardPages),
            1 => Some(BoundsChecks::Explicit),
            _ => None,
        }
    }

    /// Bytes each 32-bit memory reserves under this strategy: the whole
    /// 4 GiB a 32-bit address can reach. The code the compiler emits for a
    /// strategy depends on this number, so both sides take it from here and
    /// the loader refuses a header that says otherwise.
    pub fn memory_reservation(self) -> u64 {
        MEMORY_RESERVATION
    }

    /// Guard bytes after each 32-bit memory's reservation under this
    /// strategy: 4 GiB with guard pages (so `addr + offset` never leaves
    /// reserved space for any `offset + size` up to 4 GiB; larger static
    /// offsets are checked explicitly), none with explicit bounds checks.
    pub fn guard_size(self) -> u64 {
        match self {
            BoundsChecks::GuardPages => GUARD_PAGES_GUARD_SIZE,
            BoundsChecks::Explicit => 0,
        }
    }

    /// The name used on command lines and in `inspect`.
    pub fn name(self) -> &'static str {
        match self {
            BoundsChecks::GuardPages => "guard-pages",
            BoundsChecks::Explicit => "explicit",
        }
    }
}

/// WebAssembly feature sets the compiler accepted, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WasmFeatures(pub u64);

impl WasmFeatures {
    /// WebAssembly 1.0 (MVP, with mutable globals import/export).
    pub const MVP: u64 = 1 << 0;
    /// Sign-extension operators.
    pub const SIGN_EXTENSION: u64 = 1 << 1;
    /// Non-trapping float-to-int conversions.
    pub const SATURATING_FLOAT_TO_INT: u64 = 1 << 2;
    /// Multi-value.
    pub const MULTI_VALUE: u64 = 1 << 3;
    /// Bulk memory operations.
    pub const BULK_MEMORY: u64 = 1 << 4;
    /// Reference types.
    pub const REFERENCE_TYPES: u64 = 1 << 5;
    /// 128-bit SIMD.
    pub const SIMD: u64 = 1 << 6;
    /// Tail calls (`return_call`, `return_call_indirect`).
    pub const TAIL_CALL: u64 = 1 << 7;
    /// `i32`/`i64` `add`, `sub`, `mul` in constant expressions.
    pub const EXTENDED_CONST: u64 = 1 << 8;
    /// Relaxed SIMD, with the behaviours [`RELAXED_SIMD_SEMANTICS`] names.
    pub const RELAXED_SIMD: u64 = 1 << 9;
    /// Threads: shared memories, atomic operators, wait and notify.
    pub const THREADS: u64 = 1 << 10;
    /// Exception handling (tags, `throw`, `try_table`, legacy `try`); its
    /// code carries unwind tables.
    pub const EXCEPTIONS: u64 = 1 << 11;
    /// Several memories per module.
    pub const MULTI_MEMORY: u64 = 1 << 12;
    /// 64-bit memory indices.
    pub const MEMORY64: u64 = 1 << 13;
    /// Typed function references (`(ref $t)`, `call_ref`, `br_on_null`).
    pub const FUNCTION_REFERENCES: u64 = 1 << 14;
}

/// Which of the behaviours relaxed SIMD allows the compiler gives each
/// operator (the table in `compiler/src/translate/simd/relaxed.rs`): x86
/// SSE's, with unfused `madd`. Fed into every compatibility hash, so an
/// artifact is never run by a loader that expects other relaxed results,
/// and changed (a new name) whenever any row of that table changes.
pub const RELAXED_SIMD_SEMANTICS: &str =
    "relaxed-simd x86-sse v1: pshufb, cvtt (unsigned saturating), \
     unfused madd, pblendvb/bitselect/blendvps/blendvpd, minps/maxps, pmulhrsw, pmaddubsw";

/// Checks compiled in for resource limits (issue 13), as header bits.
///
/// Code built with them reads the store's `VMStoreLimits` (see
/// [`crate::vmctx`]); code built without them cannot be stopped by an
/// interrupt or fuel, so the loader refuses those limits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Instrumentation(pub u8);

impl Instrumentation {
    /// No checks.
    pub const NONE: Instrumentation = Instrumentation(0);
    /// Function entries and loop headers check the store's interrupt
    /// word (`wasmoc build --epoch-interruption`).
    pub const EPOCH_INTERRUPTION: u8 = 1 << 0;
    /// Every operator costs one unit of the store's fuel, charged per
    /// straight-line run and checked at function entries and loop headers
    /// (`wasmoc build --consume-fuel`).
    pub const CONSUME_FUEL: u8 = 1 << 1;
    /// Every bit this build knows.
    pub const ALL: u8 = Self::EPOCH_INTERRUPTION | Self::CONSUME_FUEL;

    /// Whether interruption checks are compiled in.
    pub fn epoch_interruption(self) -> bool {
        self.0 & Self::EPOCH_INTERRUPTION != 0
    }

    /// Whether fuel is counted.
    pub fn consume_fuel(self) -> bool {
        self.0 & Self::CONSUME_FUEL != 0
    }

    /// Decodes the header byte; `None` for a bit this build does not know.
    pub fn from_u8(b: u8) -> Option<Instrumentation> {
        (b & !Self::ALL == 0).then_some(Instrumentation(b))
    }
}

/// Everything that must match between an artifact and the loader running
/// it, besides the ABI lists this crate was built with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CompatFacts {
    /// Normalised target triple.
    pub target_triple: String,
    /// CPU features the code may use.
    pub cpu_features: CpuFeatures,
    /// Bounds-check strategy.
    pub bounds_checks: BoundsChecks,
    /// Bytes reserved per 32-bit memory (guard-page strategy).
    pub memory_reservation: u64,
    /// Bytes of guard region after the reservation.
    pub guard_size: u64,
    /// Wasm features enabled.
    pub wasm_features: WasmFeatures,
    /// Alignment of the image's parts in the file.
    pub page_align: u32,
    /// Resource-limit checks compiled in.
    pub instrumentation: Instrumentation,
}

impl CompatFacts {
    /// The compatibility hash of these facts together with this build's ABI.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(b"wasmo compat\0");
        h.update(&FORMAT_VERSION.to_le_bytes());
        h.update(abi_fingerprint().as_bytes());
        h.update(b"\0");
        h.update(self.target_triple.as_bytes());
        h.update(b"\0");
        h.update(&self.cpu_features.0.to_le_bytes());
        h.update(&[self.bounds_checks as u8]);
        h.update(&self.memory_reservation.to_le_bytes());
        h.update(&self.guard_size.to_le_bytes());
        h.update(&self.wasm_features.0.to_le_bytes());
        h.update(RELAXED_SIMD_SEMANTICS.as_bytes());
        h.update(b"\0");
        h.update(&self.page_align.to_le_bytes());
        h.update(&[self.instrumentation.0]);
        *h.finalize().as_bytes()
    }
}

/// A text that changes whenever the calling convention between compiled
/// code and the loader does: the helper and libcall lists with their
/// signatures, the trap codes and the VMContext layout.
///
/// Built once per process (every artifact load hashes it).
pub fn abi_fingerprint() -> &'static str {
    static FINGERPRINT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    FINGERPRINT.get_or_init(build_abi_fingerprint)
}

fn build_abi_fingerprint() -> String {
    let mut s = String::new();
    s.push_str(&VMOffsets::layout_fingerprint());
    for &h in Helper::ALL {
        push_sig(&mut s, h as u32, h.symbol(), h.signature());
    }
    for &l in Libcall::ALL {
        push_sig(&mut s, l as u32, l.symbol(), l.signature());
    }
    for &t in TrapCode::ALL {
        s.push_str(&format!(";trap {}={}", t.name(), t.as_u32()));
    }
    s
}

fn push_sig(
    s: &mut String,
    num: u32,
    sym: &str,
    (params, ret): (&[crate::helpers::AbiType], crate::helpers::AbiType),
) {
    s.push_str(&format!(";{num}:{sym}("));
    for p in params {
        s.push_str(p.name());
        s.push(',');
    }
    s.push_str(")->");
    s.push_str(ret.name());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> CompatFacts {
        CompatFacts {
            target_triple: "x86_64-unknown-linux-gnu".into(),
            cpu_features: CpuFeatures::EMPTY,
            bounds_checks: BoundsChecks::GuardPages,
            memory_reservation: 4 << 30,
            guard_size: 4 << 30,
            wasm_features: WasmFeatures(WasmFeatures::MVP),
            page_align: 4096,
            instrumentation: Instrumentation::NONE,
        }
    }

    #[test]
    fn every_fact_changes_the_hash() {
        let base = facts().hash();
        let mut f = facts();
        f.bounds_checks = BoundsChecks::Explicit;
        assert_ne!(f.hash(), base);
        let mut f = facts();
        f.cpu_features = CpuFeatures(1);
        assert_ne!(f.hash(), base);
        let mut f = facts();
        f.target_triple = "aarch64-unknown-linux-gnu".into();
        assert_ne!(f.hash(), base);
        let mut f = facts();
        f.guard_size = 0;
        assert_ne!(f.hash(), base);
        let mut f = facts();
        f.instrumentation = Instrumentation(Instrumentation::EPOCH_INTERRUPTION);
        assert_ne!(f.hash(), base);
        let mut f = facts();
        f.instrumentation = Instrumentation(Instrumentation::CONSUME_FUEL);
        assert_ne!(f.hash(), base);
        assert_eq!(facts().hash(), base);
    }
}
