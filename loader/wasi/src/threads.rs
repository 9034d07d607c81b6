//! wasi-threads: `wasi.thread-spawn(start_arg) -> tid` for a module that
//! imports a shared memory and exports `wasi_thread_start(tid, start_arg)`
//! (what a `wasm32-wasip1-threads` toolchain emits for `pthread_create`).
//!
//! Each thread is an OS thread with its own [`Store`], made by the
//! embedder's `new_store`, in which the same [`Module`] is instantiated
//! against the same [`SharedMemory`], the one WASI context of the program
//! (behind a `Mutex`, see [`add_to_imports_shared`](crate::add_to_imports_shared))
//! and `thread-spawn` itself, so threads spawn threads. A thread that
//! cannot start, traps or calls `proc_exit` is reported to the embedder's
//! `on_failure`, which for a command-line program ends the process (as
//! `wasmtime run` does); a thread whose `wasi_thread_start` returns just
//! ends.
//!
//! Rule: nothing here is shared between threads but what the loader
//! makes shareable (`Module`, `SharedMemory`) and the locked WASI context;
//! stores never cross threads.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use wasmo_loader::{
    CallError, Extern, ExternType, Func, FuncType, Imports, Instance, InstantiationError, Module,
    SharedMemory, Store, Val, ValType,
};

use crate::ctx::WasiCtx;

/// The import module of `thread-spawn`.
pub const MODULE: &str = "wasi";

/// The import name of `thread-spawn`.
pub const SPAWN: &str = "thread-spawn";

/// The export every spawned thread starts in: `(tid: i32, start_arg: i32)`.
pub const START: &str = "wasi_thread_start";

/// The largest thread id the proposal allows (ids are 1..=2^29-1; the
/// main thread is 0).
const MAX_TID: u32 = 0x1fff_ffff;

/// Why a module cannot run with wasi-threads.
#[derive(Debug, thiserror::Error)]
pub enum ThreadsError {
    /// The module imports no shared memory for the threads to share.
    #[error("a module importing `wasi.thread-spawn` must import a shared memory")]
    NoSharedMemory,
    /// Making the shared memory failed.
    #[error("cannot make the shared memory `{module}.{name}`: {source}")]
    Memory {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
        /// What failed.
        source: InstantiationError,
    },
}

/// How a spawned thread ended, when not by returning from
/// `wasi_thread_start`.
#[derive(Debug)]
pub enum ThreadFailure {
    /// Its instance could not be made.
    Instantiate(InstantiationError),
    /// The module exports no `wasi_thread_start` of type `[i32 i32] -> []`.
    NoStart,
    /// `wasi_thread_start` trapped, exited (`CallError::Exit`) or failed.
    Call(CallError),
}

/// What every thread of one program shares. Made once, before the main
/// thread's instance; [`WasiThreads::add_to_imports`] then provides a
/// store's imports.
pub struct WasiThreads<T> {
    module: Module,
    memory_import: (String, String),
    memory: SharedMemory,
    ctx: Arc<Mutex<WasiCtx>>,
    next_tid: AtomicU32,
    new_store: NewStore<T>,
    on_failure: OnFailure,
}

impl<T> std::fmt::Debug for WasiThreads<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasiThreads")
            .field("memory", &self.memory)
            .field("next_tid", &self.next_tid)
            .finish_non_exhaustive()
    }
}

/// Makes a spawned thread's store (on that thread).
type NewStore<T> = Box<dyn Fn() -> Store<T> + Send + Sync>;

/// Told of a spawned thread's failure, on that thread, with its id.
type OnFailure = Box<dyn Fn(u32, ThreadFailure) + Send + Sync>;

impl<T: 'static> WasiThreads<T> {
    /// Prepares `module` to run with threads: makes the shared memory it
    /// imports (of the type it declares). `ctx` is the program's WASI
    /// context, `new_store` makes each spawned thread's store (with the
    /// limits the embedder wants), `on_failure` hears of a spawned thread
    /// that trapped, exited or could not start.
    pub fn new(
        module: &Module,
        ctx: Arc<Mutex<WasiCtx>>,
        new_store: impl Fn() -> Store<T> + Send + Sync + 'static,
        on_failure: impl Fn(u32, ThreadFailure) + Send + Sync + 'static,
    ) -> Result<Arc<WasiThreads<T>>, ThreadsError> {
        let (import, ty) = module
            .imports()
            .into_iter()
            .find_map(|i| match i.ty {
                ExternType::Memory(ty) if ty.shared => Some((i, ty)),
                _ => None,
            })
            .ok_or(ThreadsError::NoSharedMemory)?;
        let memory = SharedMemory::new(ty).map_err(|source| ThreadsError::Memory {
            module: import.module.clone(),
            name: import.name.clone(),
            source,
        })?;
        Ok(Arc::new(WasiThreads {
            module: module.clone(),
            memory_import: (import.module, import.name),
            memory,
            ctx,
            next_tid: AtomicU32::new(1),
            new_store: Box::new(new_store),
            on_failure: Box::new(on_failure),
        }))
    }

    /// The memory every thread shares.
    pub fn memory(&self) -> &SharedMemory {
        &self.memory
    }

    /// Defines, for instances of `store`: WASI with the shared context,
    /// `wasi.thread-spawn`, and the shared memory under the name the module
    /// imports it by.
    pub fn add_to_imports(self: &Arc<Self>, store: &mut Store<T>, imports: &mut Imports) {
        crate::add_to_imports_shared(&mut *store, imports, Arc::clone(&self.ctx));
        let ty = FuncType {
            params: vec![ValType::I32],
            results: vec![ValType::I32],
        };
        let threads = Arc::clone(self);
        let spawn = Func::new(&mut *store, ty, move |_, args, results| {
            let arg = match args.first() {
                Some(Val::I32(v)) => *v,
                _ => 0,
            };
            if let Some(r) = results.first_mut() {
                *r = Val::I32(threads.spawn(arg));
            }
            Ok(())
        });
        imports.define(MODULE, SPAWN, Extern::Func(spawn));
        let (module, name) = &self.memory_import;
        let memory = self.memory.attach(&mut *store);
        imports.define(module, name, Extern::Memory(memory));
    }

    /// `thread-spawn`: a new thread's id, or -1 when no id or OS thread is
    /// left. The thread runs on its own; nobody joins it.
    fn spawn(self: &Arc<Self>, arg: i32) -> i32 {
        let tid = self.next_tid.fetch_add(1, Ordering::Relaxed);
        if tid == 0 || tid > MAX_TID {
            return -1;
        }
        let threads = Arc::clone(self);
        let started = std::thread::Builder::new()
            .name(format!("wasi-thread-{tid}"))
            .spawn(move || threads.run(tid, arg));
        match started {
            // At most MAX_TID, so it fits.
            Ok(_) => tid as i32,
            Err(_) => -1,
        }
    }

    /// A spawned thread's life: store, instance, `wasi_thread_start`.
    fn run(self: Arc<Self>, tid: u32, arg: i32) {
        let mut store = (self.new_store)();
        let mut imports = Imports::new();
        self.add_to_imports(&mut store, &mut imports);
        let instance = match Instance::new(&mut store, &self.module, &imports) {
            Ok(i) => i,
            Err(e) => return (self.on_failure)(tid, ThreadFailure::Instantiate(e)),
        };
        let Some(start) = instance.get_func(&store, START) else {
            return (self.on_failure)(tid, ThreadFailure::NoStart);
        };
        let ty = start.ty(&store);
        if ty.params != [ValType::I32, ValType::I32] || !ty.results.is_empty() {
            return (self.on_failure)(tid, ThreadFailure::NoStart);
        }
        // At most MAX_TID, so it fits.
        let args = [Val::I32(tid as i32), Val::I32(arg)];
        if let Err(e) = start.call(&mut store, &args, &mut []) {
            (self.on_failure)(tid, ThreadFailure::Call(e));
        }
    }
}
