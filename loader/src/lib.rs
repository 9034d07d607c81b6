//! The wasmo loader: loads `.wasmo` artifacts made by the wasmo compiler,
//! instantiates them and calls into them, turning wasm traps into errors.
//!
//! - [`Module::from_file`] maps and verifies an artifact (format, hash,
//!   target, CPU features, compatibility hash, every metadata offset) and
//!   only then maps its code executable and applies its relocations.
//! - A [`Store`] owns everything instances share: instances, memories,
//!   tables, globals, host functions, externrefs and the host's data; they
//!   are freed together when it is dropped. [`Func`], [`Memory`],
//!   [`Table`], [`Global`] and [`Instance`] are `Copy` handles into it.
//! - [`Instance::new`] links imports ([`Imports`]), builds the VMContext,
//!   memories, tables and globals, runs the segment initialisers and the
//!   start function.
//! - [`Func::call`] enters wasm on a separate stack; traps (helper calls and
//!   hardware faults) come back as [`CallError::Trap`] and leave the
//!   instance usable.
//!
//! ```no_run
//! use wasmo_loader::{Caller, Extern, Func, FuncType, Imports, Instance, Module, Store, Val, ValType};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let module = Module::from_file("app.wasmo".as_ref())?;
//! let mut store = Store::new(0u64); // host data: a call counter
//! let ty = FuncType { params: vec![ValType::I32], results: vec![] };
//! let log = Func::new(&mut store, ty, |mut caller: Caller<'_, u64>, args, _results| {
//!     *caller.data_mut() += 1;
//!     if let Some(mem) = caller.memory() {
//!         let bytes = mem.data(&caller);
//!         println!("{:?} {}", args[0], bytes.len());
//!     }
//!     Ok(())
//! });
//! let mut imports = Imports::new();
//! imports.define("env", "log", Extern::Func(log));
//! let instance = Instance::new(&mut store, &module, &imports)?;
//! let run = instance.get_func(&store, "run").ok_or("no `run` export")?;
//! let mut results = [Val::I32(0)];
//! run.call(&mut store, &[Val::I32(7)], &mut results)?;
//! println!("{results:?}, {} host calls", store.data());
//! # Ok(())
//! # }
//! ```
//!
//! Rule: this crate depends on `wasmo-artifact-format` and system crates
//! only, never on LLVM or the compiler. `unsafe` is confined to the modules
//! that map memory, call or are called by compiled code, or handle signals
//! (`vm`, `image`, `func`, `helpers`, `traphandler`), lend the store
//! through its raw pointer (`store`) or lend linear memory as slices
//! (`externs`); the others are safe code.

mod error;
mod exception;
mod externs;
mod func;
mod helpers;
mod image;
mod imports;
mod instance;
mod limits;
mod module;
mod parking;
mod perfmap;
mod store;
mod traphandler;
mod typed;
mod typereg;
mod types;
mod unwind;
mod values;
mod verify;
mod vm;

pub use error::{CallError, FrameInfo, HostError, InstantiationError, LoadError, Trap};
pub use exception::{Exception, Tag};
pub use externs::{
    Global, Memory, SharedMemory, Table, DEFAULT_GUARD_SIZE, DEFAULT_MEMORY_RESERVATION,
    MAX_TABLE_ELEMENTS,
};
pub use func::{Caller, Func};
pub use imports::{Extern, Imports};
pub use instance::Instance;
pub use limits::{InterruptHandle, StoreLimits};
pub use module::{host_triple, Module};
pub use store::{AsContext, AsContextMut, Store, StoreContext, StoreContextMut};
pub use typed::{HostFuncDef, IntoFunc, TypedFunc, WasmParams, WasmResults, WasmRet, WasmTy, V128};
pub use types::{ExportType, ExternType, ImportType};
pub use values::{ExternRef, Val};
pub use wasmo_artifact_format::{
    FuncType, GlobalType, Limits, MemoryType, TableType, TrapCode, ValType,
};

/// Usable stack bytes of each entry into wasm unless
/// [`set_wasm_stack_size`] says otherwise.
pub const DEFAULT_WASM_STACK_SIZE: usize = traphandler::DEFAULT_WASM_STACK_SIZE;

/// Sets the usable native stack size of calls into wasm in stores made
/// from now on (process-wide default; at least 256 KiB). Deep recursion
/// beyond it traps with "call stack exhausted". A store's own size is
/// [`Store::set_wasm_stack_size`].
pub fn set_wasm_stack_size(bytes: usize) {
    traphandler::set_wasm_stack_size(bytes);
}
