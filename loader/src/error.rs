//! The loader's error and trap types: what loading, instantiating and
//! calling can fail with.
//!
//! Rule: messages are lowercase, without a trailing period, name the check
//! that failed and, where it helps, what to do. No unsafe code here.

use std::path::PathBuf;

use wasmo_artifact_format::{FormatError, TrapCode, ValType};

/// Why an artifact cannot be loaded. Every check runs before any code is
/// mapped executable.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file cannot be opened, read or mapped.
    #[error("cannot read artifact {}: {source}", path.display())]
    Io {
        /// The artifact's path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The bytes are not a valid artifact (magic, version, truncation,
    /// corruption, section bounds, metadata).
    #[error(transparent)]
    Format(#[from] FormatError),
    /// Built for another target.
    #[error("artifact built for {artifact}, this host is {host}")]
    Target {
        /// The artifact's target triple.
        artifact: String,
        /// This host's triple.
        host: String,
    },
    /// The code needs CPU features this host lacks.
    #[error("artifact needs CPU features {missing} which this CPU lacks (it was built for cpu {cpu}); rebuild with --cpu x86-64-v2")]
    CpuFeatures {
        /// The missing features, comma-separated.
        missing: String,
        /// The CPU the artifact was built for.
        cpu: String,
    },
    /// The compatibility hash does not match this loader's.
    #[error(
        "artifact was built by an incompatible wasmo (compatibility hash mismatch); rebuild it"
    )]
    Compat,
    /// The metadata is inconsistent with the image or with this loader.
    #[error("invalid artifact {section}: {what}")]
    Invalid {
        /// Which part of the artifact.
        section: &'static str,
        /// What is wrong.
        what: String,
    },
}

impl LoadError {
    pub(crate) fn io(path: &str, source: std::io::Error) -> LoadError {
        LoadError::Io {
            path: PathBuf::from(path),
            source,
        }
    }

    /// The same error, naming `path` if it named the snapshot.
    pub(crate) fn with_path(self, path: &std::path::Path) -> LoadError {
        match self {
            LoadError::Io { source, .. } => LoadError::Io {
                path: path.to_owned(),
                source,
            },
            e => e,
        }
    }
}

/// Why an instance cannot be created.
#[derive(Debug, thiserror::Error)]
pub enum InstantiationError {
    /// An import is missing or has the wrong type; `reason` is the whole
    /// message (`unknown import `m.f``, `incompatible import type for ...`).
    #[error("{reason}")]
    Link {
        /// The import's module name.
        module: String,
        /// The import's field name.
        name: String,
        /// The full message.
        reason: String,
    },
    /// A segment initialiser or the start function trapped.
    #[error("{0}")]
    Trap(Trap),
    /// Memory, address space or another resource ran out, or a limit was
    /// exceeded.
    #[error("{0}")]
    Resource(String),
}

/// A wasm trap with the wasm frames that led to it, innermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap {
    /// What trapped.
    pub code: TrapCode,
    /// Wasm frames, innermost first (may be empty).
    pub backtrace: Vec<FrameInfo>,
}

impl Trap {
    /// A trap without a backtrace.
    pub fn new(code: TrapCode) -> Trap {
        Trap {
            code,
            backtrace: Vec::new(),
        }
    }

    /// The backtrace as text, one frame a line (`  0: name (func 3)`), for
    /// tools that want to show it; [`std::fmt::Display`] shows only the
    /// message.
    pub fn backtrace_text(&self) -> String {
        let mut out = String::new();
        for (i, f) in self.backtrace.iter().enumerate() {
            let module = f.module_name.as_deref().unwrap_or("<module>");
            match &f.func_name {
                Some(name) => {
                    out.push_str(&format!("  {i}: {module}!{name} (func {})\n", f.func_index))
                }
                None => out.push_str(&format!("  {i}: {module}!<func {}>\n", f.func_index)),
            }
        }
        out
    }
}

impl std::fmt::Display for Trap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "wasm trap: {}", self.code.message())
    }
}

impl std::error::Error for Trap {}

/// One wasm frame of a trap's backtrace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameInfo {
    /// Index in the module's function index space.
    pub func_index: u32,
    /// The function's name from the name section.
    pub func_name: Option<String>,
    /// The module's name from the name section.
    pub module_name: Option<String>,
}

/// Why a call did not return values.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The callee trapped.
    #[error("{0}")]
    Trap(Trap),
    /// A host function asked the program to exit with this status.
    #[error("program exited with status {0}")]
    Exit(i32),
    /// Wrong number of arguments.
    #[error("expected {expected} arguments, got {got}")]
    ArgumentCount {
        /// Parameters of the function.
        expected: usize,
        /// Arguments given.
        got: usize,
    },
    /// An argument of the wrong type.
    #[error("argument {index} has type {got}, expected {expected}")]
    ArgumentType {
        /// Which argument.
        index: usize,
        /// The parameter's type.
        expected: ValType,
        /// The argument's type.
        got: ValType,
    },
    /// A host function failed with a message (or panicked).
    #[error("{0}")]
    Host(String),
    /// Wrong number of result slots.
    #[error("expected {expected} result slots, got {got}")]
    ResultCount {
        /// Results of the function.
        expected: usize,
        /// Slots given.
        got: usize,
    },
    /// A typed view of a function ([`Func::typed`](crate::Func::typed))
    /// asked for another type than the function has.
    #[error("function has type {expected}, not the requested {got}")]
    Signature {
        /// The function's type, in the text format.
        expected: String,
        /// The type asked for.
        got: String,
    },
    /// The instance exports no function of this name.
    #[error("instance has no function export `{0}`")]
    UnknownExport(String),
    /// A handle (`function`, `memory`, ...) was used with a store it does
    /// not belong to.
    #[error("{0} used with a store it does not belong to")]
    WrongStore(&'static str),
    /// A wasm exception no wasm frame caught: its tag and payload are
    /// readable from the store.
    #[error("uncaught wasm exception")]
    Exception(crate::Exception),
}

impl From<Trap> for CallError {
    fn from(t: Trap) -> CallError {
        CallError::Trap(t)
    }
}

/// What a host function may fail with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HostError {
    /// Raise this wasm trap.
    #[error("wasm trap: {0}")]
    Trap(TrapCode),
    /// Exit the program with this status (WASI `proc_exit`); unwinds every
    /// wasm frame up to the host's call.
    #[error("program exited with status {0}")]
    Exit(i32),
    /// Fail with a message.
    #[error("{0}")]
    Message(String),
    /// Throw this wasm exception into the calling wasm (made with
    /// [`Exception::new`](crate::Exception::new), or one a call into wasm
    /// returned as [`CallError::Exception`]).
    #[error("uncaught wasm exception")]
    Exception(crate::Exception),
}
