//! The `.wasmo` artifact format: the contract between the wasmo compiler and
//! loader.
//!
//! It defines, each once: the file layout and its checks ([`artifact`]), the
//! metadata ([`metadata`]), the VMContext layout and calling conventions
//! ([`vmctx`]), the runtime helpers and libcalls compiled code may call
//! ([`helpers`]), the trap codes ([`traps`]), the CPU features
//! ([`cpu`]) and the compatibility hash ([`compat`]).
//!
//! Rule: this crate knows nothing of LLVM, of memory mapping or of WASI. It is
//! plain data and pure functions over bytes, so both sides can trust it to
//! mean the same thing.

pub mod artifact;
pub mod code;
pub mod compat;
pub mod cpu;
pub mod helpers;
pub mod metadata;
pub mod recgroup;
pub mod traps;
pub mod types;
pub mod vmctx;

pub use artifact::{
    rewrite_body_hash, ArtifactBuilder, ArtifactRef, BuildFacts, Header, Range64, HEADER_SIZE,
    MAGIC,
};
pub use compat::{
    abi_fingerprint, BoundsChecks, CompatFacts, Instrumentation, WasmFeatures,
    GUARD_PAGES_GUARD_SIZE, MEMORY_RESERVATION, RELAXED_SIMD_SEMANTICS,
};
pub use cpu::{CpuFeatures, X86Feature};
pub use helpers::{AbiType, GotSymbol, Helper, Libcall};
pub use recgroup::{RecGroup, RecGroupKey};
pub use traps::{TrapCode, TRAP_SYMBOL_PREFIX};
pub use types::*;
pub use vmctx::{VMCounts, VMOffsets};

/// The artifact format version. Part of the compatibility hash; bump it
/// when the file layout (not the ABI, which is fingerprinted) changes.
pub const FORMAT_VERSION: u32 = 7;

/// Why an artifact's bytes cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Shorter than its header says.
    #[error("artifact is truncated: {actual} bytes, expected {expected}")]
    Truncated {
        /// Bytes the header promises.
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// Not a wasmo artifact.
    #[error("not a wasmo artifact (bad magic number)")]
    BadMagic,
    /// Written in another format version.
    #[error("artifact format version {found} is not supported (this wasmo reads version {expected}); rebuild it with this wasmoc")]
    Version {
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        expected: u32,
    },
    /// The content hash does not match: the file is corrupt.
    #[error("artifact content hash mismatch: the file is corrupt or was modified; rebuild it")]
    HashMismatch,
    /// A field or section is inconsistent.
    #[error("malformed artifact {section} at offset {offset}: {what}")]
    Malformed {
        /// Which section.
        section: &'static str,
        /// Byte offset (in the file, or in the section).
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// Larger than this host can address.
    #[error("artifact too large for this host")]
    TooLarge,
}
