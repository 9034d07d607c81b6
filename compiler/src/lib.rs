//! The wasmo compiler: WebAssembly bytes in, `.wasmo` artifact bytes out.
//!
//! ```text
//! wasm ──▶ validate + read module (wasmparser) ──▶ translate each function to LLVM IR
//!      ──▶ optimise (new pass manager) ──▶ emit ELF object ──▶ link into an image
//!      ──▶ ArtifactBuilder (wasmo-artifact-format) ──▶ bytes
//! ```
//!
//! Rule: the compiler never touches the file system and never depends on the
//! loader; everything the loader needs goes through
//! `wasmo_artifact_format`. Same input and [`CompileConfig`] give the same
//! bytes.

mod translate;

use wasmo_artifact_format::BoundsChecks;

/// LLVM optimisation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptLevel {
    /// `-O0`
    O0,
    /// `-O1`
    O1,
    /// `-O2` (the default)
    #[default]
    O2,
    /// `-O3`
    O3,
}

impl OptLevel {
    /// From the number after `-O`.
    pub fn from_number(n: u8) -> Option<OptLevel> {
        match n {
            0 => Some(OptLevel::O0),
            1 => Some(OptLevel::O1),
            2 => Some(OptLevel::O2),
            3 => Some(OptLevel::O3),
            _ => None,
        }
    }

    /// The number after `-O`.
    pub fn as_number(self) -> u8 {
        match self {
            OptLevel::O0 => 0,
            OptLevel::O1 => 1,
            OptLevel::O2 => 2,
            OptLevel::O3 => 3,
        }
    }
}

/// Which CPU to generate code for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CpuSelection {
    /// The documented baseline for shipped artifacts: `x86-64-v2` on
    /// x86-64 (SSE4.2, POPCNT), `generic` elsewhere.
    #[default]
    Baseline,
    /// The CPU this compiler runs on, with all its features.
    Native,
    /// A CPU by LLVM's name (`x86-64-v3`, `znver3`, `skylake`, ...).
    Named(String),
}

/// How to compile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompileConfig {
    /// Optimisation level.
    pub opt_level: OptLevel,
    /// Target triple; `None` for the host. Normalised before use.
    pub target: Option<String>,
    /// CPU.
    pub cpu: CpuSelection,
    /// Bounds-check strategy for linear memory.
    pub bounds_checks: BoundsChecks,
}

/// Why a module could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The module is malformed or invalid.
    #[error("invalid module at byte offset {offset:#x}: {message}")]
    Invalid {
        /// Byte offset in the wasm binary.
        offset: u64,
        /// What is wrong (wasmparser's message).
        message: String,
    },
    /// The module uses a feature this compiler does not support yet.
    #[error("unsupported feature at byte offset {offset:#x}: {feature}")]
    Unsupported {
        /// What is unsupported.
        feature: String,
        /// Byte offset in the wasm binary.
        offset: u64,
    },
    /// The target triple or CPU is unknown or unsupported.
    #[error("unsupported target: {0}")]
    Target(String),
    /// LLVM failed; a bug in wasmo.
    #[error("internal compiler error: {0}")]
    Internal(String),
}

impl From<inkwell::builder::BuilderError> for CompileError {
    fn from(e: inkwell::builder::BuilderError) -> Self {
        CompileError::Internal(format!("LLVM builder: {e}"))
    }
}

impl From<wasmparser::BinaryReaderError> for CompileError {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        CompileError::Invalid {
            offset: e.offset(),
            message: e.message().to_owned(),
        }
    }
}

/// Compiles a WebAssembly binary into the bytes of a `.wasmo` artifact.
pub fn compile(wasm: &[u8], config: &CompileConfig) -> Result<Vec<u8>, CompileError> {
    let _ = (wasm, config);
    Err(CompileError::Internal("compiler not written yet".into()))
}
