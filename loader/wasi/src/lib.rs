//! WASI preview1 (`wasi_snapshot_preview1`) for the wasmo loader: build a
//! [`WasiCtx`] from a [`WasiConfig`] and keep it in the store's data (or
//! anywhere reachable from it), then [`add_to_imports`] defines every
//! preview1 function in an [`Imports`](wasmo_loader::Imports), each
//! finding the context through the accessor it is given (as
//! `wasmtime_wasi::add_to_linker` does).
//!
//! ```no_run
//! use wasmo_loader::{CallError, Imports, Instance, Module, Store};
//! use wasmo_wasi::{parse_env, Preopen, WasiConfig, WasiCtx};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let module = Module::from_file("app.wasmo".as_ref())?;
//! let mut ro = Preopen::parse("/srv/data::/data"); // `--dir-ro` or similar
//! ro.read_only = true;
//! let cfg = WasiConfig {
//!     args: vec!["app".into(), "--flag".into()],             // argv[0] first
//!     env: ["K=V", "HOME"].iter().filter_map(|s| parse_env(s).transpose()).collect::<Result<_, _>>()?,
//!     preopens: vec![Preopen::parse("."), ro],               // fds 3, 4
//! };
//! let mut store = Store::new(WasiCtx::new(cfg)?);
//! let mut imports = Imports::new();
//! wasmo_wasi::add_to_imports(&mut store, &mut imports, |ctx| ctx);
//! let instance = Instance::new(&mut store, &module, &imports)?;
//! let start = instance.get_func(&store, "_start");
//! let status = match start.map(|f| f.call(&mut store, &[], &mut [])) {
//!     Some(Ok(_)) => 0,
//!     Some(Err(CallError::Exit(code))) => code, // proc_exit(code)
//!     Some(Err(e)) => return Err(e.into()),
//!     None => return Err("no `_start` export".into()),
//! };
//! std::process::exit(status);
//! # }
//! ```
//!
//! Rule: the guest touches the host only through this crate's modules, each
//! of which takes guest pointers through [`mem::Mem`] (bounds-checked, a bad
//! pointer is `EFAULT`) and files through the cap-std directories in
//! [`WasiCtx`] (sandboxed, no ambient paths). No unsafe code here.

mod abi;
mod args;
mod clock;
mod ctx;
pub mod emscripten;
mod errno;
mod fd;
mod mem;
mod path;
mod poll;
mod proc;
mod readdir;
mod spec;
mod stat;
mod table;
pub mod threads;

#[cfg(test)]
mod scenario_tests;

pub use ctx::{Preopen, WasiConfig, WasiCtx, WasiError};
pub use errno::Errno;
pub use spec::parse_env;

/// The import module name of every function defined here.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// Defines all of `wasi_snapshot_preview1` in `imports` as host functions
/// of `store`, each reaching the store's [`WasiCtx`] through `get` (and
/// the calling instance's memory 0 through the store, so a host call holds
/// no lock and borrows guest memory only for its own length).
/// `proc_exit(code)` fails the call with `HostError::Exit(code)`, which
/// reaches the embedder as `CallError::Exit(code)`.
pub fn add_to_imports<T: 'static>(
    store: impl wasmo_loader::AsContextMut<Data = T>,
    imports: &mut wasmo_loader::Imports,
    get: fn(&mut T) -> &mut WasiCtx,
) {
    table::define_all(store, imports, &table::CtxSource::Store(get));
}

/// As [`add_to_imports`], but every function finds the one context `ctx`,
/// which all threads of a program share (wasi-threads: each thread has
/// its own store, see [`threads`]); a call holds its lock for as long as
/// it runs.
pub fn add_to_imports_shared<T: 'static>(
    store: impl wasmo_loader::AsContextMut<Data = T>,
    imports: &mut wasmo_loader::Imports,
    ctx: std::sync::Arc<std::sync::Mutex<WasiCtx>>,
) {
    table::define_all(store, imports, &table::CtxSource::Shared(ctx));
}

/// Function `name` of `wasi_snapshot_preview1` (`None` if there is no
/// such function) as a host function definition that belongs to no store
/// yet and reaches the store's [`WasiCtx`] through `get`: what a linker
/// keeps, to make the function in each store it instantiates into
/// ([`HostFuncDef::to_func`](wasmo_loader::HostFuncDef::to_func)).
pub fn func_def<T: 'static>(
    name: &str,
    get: fn(&mut T) -> &mut WasiCtx,
) -> Option<wasmo_loader::HostFuncDef<T>> {
    table::func_def(name, get)
}

/// The names of the functions [`add_to_imports`] defines.
pub fn function_names() -> impl Iterator<Item = &'static str> {
    table::FUNCS.iter().map(|f| f.name)
}
