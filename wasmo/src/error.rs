//! The one error type of the embedding API, so that `?` works across
//! loading, compiling, linking, instantiating and calling.
//!
//! Rule: every variant wraps the loader's (or compiler's) typed error
//! unchanged, so its message keeps the position it names (byte offset,
//! artifact section, import); nothing here formats a message of its own
//! but for the linker's and engine's own checks.

use std::path::PathBuf;

use wasmo_loader::{CallError, InstantiationError, LoadError, Trap};

/// What the embedding API can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An artifact could not be loaded (format, hash, target, CPU, ...).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A module could not be compiled (invalid, or a proposal wasmo lacks,
    /// with its byte offset).
    #[cfg(feature = "compiler")]
    #[error(transparent)]
    Compile(#[from] wasmo_compiler::CompileError),
    /// A module's text could not be parsed.
    #[cfg(feature = "compiler")]
    #[error(transparent)]
    Wat(#[from] wat::Error),
    /// An instance could not be created (an unknown or mistyped import, a
    /// trapping segment or start function, resources).
    #[error(transparent)]
    Instantiation(#[from] InstantiationError),
    /// A call failed (a trap, an exit, a host error, a type mismatch).
    #[error(transparent)]
    Call(#[from] CallError),
    /// The WASI context could not be built (a preopen that cannot be
    /// opened, ...).
    #[error(transparent)]
    Wasi(#[from] wasmo_wasi::WasiError),
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A linker already defines this name (see
    /// [`Linker::allow_shadowing`](crate::Linker::allow_shadowing)).
    #[error("`{module}.{name}` is already defined in this linker")]
    AlreadyDefined {
        /// Module name.
        module: String,
        /// Field name.
        name: String,
    },
    /// A linker has no definition of a name it was asked for.
    #[error("`{module}.{name}` is not defined in this linker")]
    Undefined {
        /// Module name.
        module: String,
        /// Field name.
        name: String,
    },
    /// An artifact was built for another configuration than the engine's.
    #[error("{what}")]
    Incompatible {
        /// What differs and what to do.
        what: String,
    },
    /// A module's file is neither an artifact nor (without the `compiler`
    /// feature) something this build can load.
    #[error("{0} is not a .wasmo artifact; compile it with `wasmoc build` or enable wasmo's `compiler` feature")]
    NotAnArtifact(String),
}

impl Error {
    /// The wasm trap, if this is one (a failed call or a trapping start
    /// function or segment).
    pub fn trap(&self) -> Option<&Trap> {
        match self {
            Error::Call(CallError::Trap(t)) | Error::Instantiation(InstantiationError::Trap(t)) => {
                Some(t)
            }
            _ => None,
        }
    }

    /// The exit status, if a host function (WASI `proc_exit`) asked the
    /// program to exit.
    pub fn exit_status(&self) -> Option<i32> {
        match self {
            Error::Call(CallError::Exit(n)) => Some(*n),
            _ => None,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
