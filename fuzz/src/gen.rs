//! Inputs from seeds: every case the driver runs is a pure function of
//! its seed, so a seed (or the files written for it) reproduces it.
//!
//! Rule: the `wasm-smith` configuration enables exactly what wasmo
//! compiles today (see `compiler/src/proposals.rs`); a generated module
//! wasmo refuses as `Unsupported` is counted and skipped, never a finding.

use arbitrary::Unstructured;
use wasm_smith::{Config, InstructionKind, InstructionKinds};

/// Global fuel `wasm-smith` gives each instance: decremented at every
/// function entry and loop back-edge, `unreachable` at zero, so every
/// generated module terminates under both engines.
pub const TERMINATION_FUEL: u32 = 5_000;

/// A deterministic pseudo-random stream (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream for `seed` and a purpose, so streams of one seed differ.
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        r.next_u64();
        r
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

/// The `wasm-smith` configuration: WebAssembly 1.0, sign extension,
/// saturating conversions, multi-value, bulk memory (see below for
/// `memory.init`), reference types with their table operators (on the
/// seeds with bulk memory, which they need), SIMD, tail calls, multi-memory
/// (two memories on half the seeds) and memory64 (on a third of the seeds,
/// where wasm-smith makes 64-bit tables too); no imports, threads,
/// exceptions, GC, relaxed SIMD, wide arithmetic or extended constants.
/// Everything is exported, NaNs are canonicalised (so results and memory are
/// deterministic), memories are small and declare a maximum (so
/// `memory.grow` cannot allocate gigabytes in the interpreter).
pub fn smith_config(seed: u64) -> Config {
    // wasmo compiles `memory.copy` and `memory.fill` but not yet
    // `memory.init`/`data.drop`, which wasm-smith emits whenever a module
    // with bulk memory has data segments: every other seed has bulk memory
    // and no data segments, the others data segments and no bulk memory.
    let bulk = seed.is_multiple_of(2);
    let memory64 = seed % 3 == 2;
    Config {
        allow_start_export: true,
        allowed_instructions: InstructionKinds::new(&[
            InstructionKind::Numeric,
            InstructionKind::Vector,
            InstructionKind::Parametric,
            InstructionKind::Variable,
            InstructionKind::Memory,
            InstructionKind::Control,
            InstructionKind::Reference,
            InstructionKind::Table,
        ]),
        bulk_memory_enabled: bulk,
        canonicalize_nans: true,
        exceptions_enabled: false,
        export_everything: true,
        gc_enabled: false,
        custom_descriptors_enabled: false,
        custom_page_sizes_enabled: false,
        max_imports: 0,
        min_funcs: 1,
        max_funcs: 20,
        max_globals: 20,
        max_instructions: 200,
        max_memories: if seed % 4 >= 2 { 2 } else { 1 },
        max_memory32_bytes: 16 * 65536,
        max_memory64_bytes: 16 * 65536,
        memory_max_size_required: true,
        max_tables: if bulk { 3 } else { 1 },
        max_table_elements: 1000,
        table_max_size_required: true,
        max_data_segments: if bulk { 0 } else { 10 },
        max_element_segments: 10,
        max_elements: 50,
        memory64_enabled: memory64,
        multi_value_enabled: true,
        reference_types_enabled: bulk,
        relaxed_simd_enabled: false,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        shared_everything_threads_enabled: false,
        simd_enabled: true,
        tail_call_enabled: true,
        threads_enabled: false,
        wide_arithmetic_enabled: false,
        extended_const_enabled: false,
        ..Config::default()
    }
}

/// The valid, terminating module of `seed`, or `None` when `wasm-smith`
/// gives up on the bytes (rare; the seed is skipped).
pub fn module(seed: u64) -> Option<Vec<u8>> {
    let mut rng = Rng::new(seed, 1);
    let len = 2048 + rng.below(32 * 1024) as usize;
    let bytes = rng.bytes(len);
    let mut u = Unstructured::new(&bytes);
    let mut m = wasm_smith::Module::new(smith_config(seed), &mut u).ok()?;
    m.ensure_termination(TERMINATION_FUEL).ok()?;
    Some(m.to_bytes())
}

/// Values that find bugs more often than uniform bits do.
const INTERESTING_I64: &[u64] = &[
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0x8000,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX,
    65536,
    65535,
    65532,
];

const INTERESTING_F64: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    f64::MIN_POSITIVE,
    f64::MAX,
    2147483648.0,
    -2147483649.0,
    4294967296.0,
    9223372036854775808.0,
];

/// Raw bits for an argument of `bits` width: interesting values half the
/// time.
pub fn arg_bits(rng: &mut Rng, float: bool, bits: u32) -> u128 {
    let mask = |v: u64| -> u128 {
        if bits >= 64 {
            u128::from(v)
        } else {
            u128::from(v & ((1u64 << bits) - 1))
        }
    };
    match rng.below(4) {
        0 | 1 => mask(rng.next_u64()),
        2 if float => {
            let f = INTERESTING_F64[rng.below(INTERESTING_F64.len() as u64) as usize];
            if bits == 32 {
                u128::from((f as f32).to_bits())
            } else {
                u128::from(f.to_bits())
            }
        }
        _ => {
            let v = INTERESTING_I64[rng.below(INTERESTING_I64.len() as u64) as usize];
            mask(if rng.below(2) == 0 {
                v
            } else {
                v.wrapping_neg()
            })
        }
    }
}
