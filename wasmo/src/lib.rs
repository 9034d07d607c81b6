//! wasmo's embedding API: run WebAssembly from Rust, ahead-of-time
//! compiled with LLVM, with the object model Wasmtime users know.
//!
//! - An [`Engine`] holds the configuration ([`Config`]) modules are
//!   compiled and loaded with.
//! - A [`Module`] is compiled code: [`Module::new`] compiles wasm or wat at
//!   run time (the default `compiler` feature, which links LLVM);
//!   [`Module::from_file`] and [`Module::deserialize`] load `.wasmo`
//!   artifacts made by `wasmoc build` or [`Module::serialize`], with no
//!   compiler at all.
//! - A [`Store<T>`] owns instances and everything they make, plus your
//!   host data `T`; handles ([`Func`], [`Memory`], [`Table`], [`Global`],
//!   [`Instance`]) are `Copy` indices into it, and every operation takes
//!   the store.
//! - A [`Linker<T>`] defines imports by module and name: host functions
//!   ([`Linker::func_wrap`]), WASI ([`Linker::define_wasi`]), other
//!   instances' exports ([`Linker::instance`]).
//! - [`Func::wrap`] turns a Rust closure of typed parameters into a host
//!   function; [`TypedFunc`] calls wasm with typed arguments, the
//!   signature checked once.
//!
//! ```
//! use wasmo::{Caller, Engine, Linker, Module, Store};
//!
//! # fn main() -> wasmo::Result<()> {
//! let engine = Engine::default();
//! let module = Module::new(&engine, r#"
//!     (module
//!       (import "host" "add_to_total" (func $add (param i32)))
//!       (memory (export "memory") 1)
//!       (func (export "run") (param $n i32) (result i32)
//!         (i32.store (i32.const 0) (local.get $n))
//!         (call $add (local.get $n))
//!         (i32.mul (local.get $n) (i32.const 2))))
//! "#)?;
//!
//! let mut linker = Linker::new(&engine);
//! linker.func_wrap("host", "add_to_total", |mut caller: Caller<'_, u64>, n: i32| {
//!     *caller.data_mut() += n as u64;
//! })?;
//!
//! let mut store = Store::new(&engine, 0u64); // the host data: a running total
//! let instance = linker.instantiate(&mut store, &module)?;
//! let run = instance.get_typed_func::<i32, i32>(&store, "run")?;
//! assert_eq!(run.call(&mut store, 21)?, 42);
//! assert_eq!(*store.data(), 21);
//!
//! let memory = instance.get_memory(&store, "memory").ok_or("no memory export").unwrap();
//! assert_eq!(memory.data(&store)[0], 21);
//! # Ok(())
//! # }
//! ```
//!
//! Where this differs from Wasmtime (and why) is written down in
//! ARCHITECTURE.md, "The embedding API"; in short: errors are typed
//! ([`Error`]) rather than `anyhow`, and
//! [`Module::deserialize`] is safe because artifacts are verified.
//!
//! Rule: this crate adds no runtime machinery of its own; it puts the
//! loader's object model, WASI and (behind `compiler`) the compiler
//! behind one coherent API, and holds only configuration (`Engine`),
//! module handles, linker definitions and each store's engine. No unsafe
//! code here.

#![warn(missing_docs)]

mod engine;
mod error;
mod linker;
mod module;
mod store;

pub use engine::{BoundsChecks, Config, Engine};
pub use error::{Error, Result};
pub use linker::Linker;
pub use module::Module;
pub use store::Store;

pub use wasmo_loader::{
    AsContext, AsContextMut, CallError, Caller, ExportType, Extern, ExternRef, ExternType,
    FrameInfo, Func, FuncType, Global, GlobalType, HostError, HostFuncDef, ImportType, Instance,
    InstantiationError, IntoFunc, Limits, LoadError, Memory, MemoryType, StoreContext,
    StoreContextMut, Table, TableType, Trap, TrapCode, TypedFunc, Val, ValType, WasmParams,
    WasmResults, WasmRet, WasmTy, V128,
};

/// WASI preview1: the context a store's data holds for
/// [`Linker::define_wasi`], and its configuration.
pub mod wasi {
    pub use wasmo_wasi::{parse_env, Errno, Preopen, WasiConfig, WasiCtx, WasiError};
}
