//! The wasmo loader: loads `.wasmo` artifacts made by the wasmo compiler,
//! instantiates them and calls into them, turning wasm traps into errors.
//!
//! - [`Module::from_file`] maps and verifies an artifact (format, hash,
//!   target, CPU features, compatibility hash, every metadata offset) and
//!   only then maps its code executable and applies its relocations.
//! - [`Instance::new`] links imports ([`Imports`]), builds the VMContext,
//!   memories, tables and globals, runs the segment initialisers and the
//!   start function.
//! - [`Func::call`] enters wasm on a separate stack; traps (helper calls and
//!   hardware faults) come back as [`CallError::Trap`] and leave the
//!   instance usable.
//!
//! Rule: this crate depends on `wasmo-artifact-format` and system crates
//! only, never on LLVM or the compiler. `unsafe` is confined to the modules
//! that map memory, call or are called by compiled code, or handle signals
//! (`vm`, `image`, `func`, `helpers`, `traphandler`); the others are safe
//! code.

mod error;
mod externs;
mod func;
mod helpers;
mod image;
mod imports;
mod instance;
mod module;
mod traphandler;
mod typereg;
mod types;
mod values;
mod verify;
mod vm;

pub use error::{CallError, FrameInfo, HostError, InstantiationError, LoadError, Trap};
pub use externs::{
    Global, Memory, Table, DEFAULT_GUARD_SIZE, DEFAULT_MEMORY_RESERVATION, MAX_TABLE_ELEMENTS,
};
pub use func::{Caller, Func};
pub use imports::{Extern, Imports};
pub use instance::Instance;
pub use module::{host_triple, Module};
pub use types::{ExportType, ExternType, ImportType};
pub use values::Val;
pub use wasmo_artifact_format::{
    FuncType, GlobalType, Limits, MemoryType, TableType, TrapCode, ValType,
};

/// Usable stack bytes of each entry into wasm unless
/// [`set_wasm_stack_size`] says otherwise.
pub const DEFAULT_WASM_STACK_SIZE: usize = traphandler::DEFAULT_WASM_STACK_SIZE;

/// Sets the usable native stack size of every later call into wasm
/// (process-wide; at least 256 KiB). Deep recursion beyond it traps with
/// "call stack exhausted".
pub fn set_wasm_stack_size(bytes: usize) {
    traphandler::set_wasm_stack_size(bytes);
}
