//! The one list of preview1 functions: name, wasm parameter types and
//! handler, and the glue that turns a handler into a loader host function.
//!
//! Rule: adding a function is one line in [`FUNCS`]; handlers see guest
//! values only through [`Args`] and guest memory only through
//! [`Mem`](crate::mem::Mem), and every handler but `proc_exit` returns a
//! WASI errno as its single `i32` result.

use std::sync::{Arc, Mutex, PoisonError};

use wasmo_loader::{
    AsContextMut, Caller, Extern, Func, FuncType, HostError, HostFuncDef, Imports, Val, ValType,
};

use crate::ctx::WasiCtx;
use crate::errno::Errno;
use crate::mem::Mem;
use crate::{args, clock, fd, path, poll, proc, readdir, MODULE};

/// The arguments of one call, read by position.
#[derive(Debug)]
pub struct Args<'a>(pub &'a [Val]);

impl Args<'_> {
    /// Argument `i` as an unsigned 32-bit value (the loader has checked the
    /// types; a missing argument reads as 0).
    pub fn u32(&self, i: usize) -> u32 {
        match self.0.get(i) {
            Some(Val::I32(v)) => v.cast_unsigned(),
            Some(Val::I64(v)) => v.cast_unsigned() as u32,
            _ => 0,
        }
    }

    /// Argument `i` as an unsigned 64-bit value.
    pub fn u64(&self, i: usize) -> u64 {
        match self.0.get(i) {
            Some(Val::I32(v)) => u64::from(v.cast_unsigned()),
            Some(Val::I64(v)) => v.cast_unsigned(),
            _ => 0,
        }
    }

    /// Argument `i` truncated to 16 bits (flags).
    pub fn u16(&self, i: usize) -> u16 {
        self.u32(i) as u16
    }

    /// Argument `i` truncated to 8 bits (enums).
    pub fn u8(&self, i: usize) -> u8 {
        self.u32(i) as u8
    }
}

/// A handler: does the work, returns the errno.
pub type Handler = fn(&mut WasiCtx, &mut Mem<'_>, &Args<'_>) -> Result<(), Errno>;

/// How a function returns.
#[derive(Debug)]
pub enum Kind {
    /// Returns an errno.
    Errno(Handler),
    /// `proc_exit`: never returns; ends the program.
    Exit,
}

/// One preview1 function.
#[derive(Debug)]
pub struct WasiFunc {
    /// Field name under `wasi_snapshot_preview1`.
    pub name: &'static str,
    /// Wasm parameter types.
    pub params: &'static [ValType],
    /// What it does.
    pub kind: Kind,
}

use ValType::{I32, I64};

const fn f(name: &'static str, params: &'static [ValType], h: Handler) -> WasiFunc {
    WasiFunc {
        name,
        params,
        kind: Kind::Errno(h),
    }
}

/// Every preview1 function with its signature from the witx.
pub const FUNCS: &[WasiFunc] = &[
    f("args_get", &[I32, I32], args::args_get),
    f("args_sizes_get", &[I32, I32], args::args_sizes_get),
    f("environ_get", &[I32, I32], args::environ_get),
    f("environ_sizes_get", &[I32, I32], args::environ_sizes_get),
    f("clock_res_get", &[I32, I32], clock::clock_res_get),
    f("clock_time_get", &[I32, I64, I32], clock::clock_time_get),
    f("random_get", &[I32, I32], clock::random_get),
    f("fd_advise", &[I32, I64, I64, I32], fd::fd_advise),
    f("fd_allocate", &[I32, I64, I64], fd::fd_allocate),
    f("fd_close", &[I32], fd::fd_close),
    f("fd_datasync", &[I32], fd::fd_datasync),
    f("fd_fdstat_get", &[I32, I32], fd::fd_fdstat_get),
    f("fd_fdstat_set_flags", &[I32, I32], fd::fd_fdstat_set_flags),
    f(
        "fd_fdstat_set_rights",
        &[I32, I64, I64],
        fd::fd_fdstat_set_rights,
    ),
    f("fd_filestat_get", &[I32, I32], fd::fd_filestat_get),
    f(
        "fd_filestat_set_size",
        &[I32, I64],
        fd::fd_filestat_set_size,
    ),
    f(
        "fd_filestat_set_times",
        &[I32, I64, I64, I32],
        fd::fd_filestat_set_times,
    ),
    f("fd_pread", &[I32, I32, I32, I64, I32], fd::fd_pread),
    f("fd_prestat_get", &[I32, I32], fd::fd_prestat_get),
    f(
        "fd_prestat_dir_name",
        &[I32, I32, I32],
        fd::fd_prestat_dir_name,
    ),
    f("fd_pwrite", &[I32, I32, I32, I64, I32], fd::fd_pwrite),
    f("fd_read", &[I32, I32, I32, I32], fd::fd_read),
    f(
        "fd_readdir",
        &[I32, I32, I32, I64, I32],
        readdir::fd_readdir,
    ),
    f("fd_renumber", &[I32, I32], fd::fd_renumber),
    f("fd_seek", &[I32, I64, I32, I32], fd::fd_seek),
    f("fd_sync", &[I32], fd::fd_sync),
    f("fd_tell", &[I32, I32], fd::fd_tell),
    f("fd_write", &[I32, I32, I32, I32], fd::fd_write),
    f(
        "path_create_directory",
        &[I32, I32, I32],
        path::path_create_directory,
    ),
    f(
        "path_filestat_get",
        &[I32, I32, I32, I32, I32],
        path::path_filestat_get,
    ),
    f(
        "path_filestat_set_times",
        &[I32, I32, I32, I32, I64, I64, I32],
        path::path_filestat_set_times,
    ),
    f(
        "path_link",
        &[I32, I32, I32, I32, I32, I32, I32],
        path::path_link,
    ),
    f(
        "path_open",
        &[I32, I32, I32, I32, I32, I64, I64, I32, I32],
        path::path_open,
    ),
    f(
        "path_readlink",
        &[I32, I32, I32, I32, I32, I32],
        path::path_readlink,
    ),
    f(
        "path_remove_directory",
        &[I32, I32, I32],
        path::path_remove_directory,
    ),
    f(
        "path_rename",
        &[I32, I32, I32, I32, I32, I32],
        path::path_rename,
    ),
    f(
        "path_symlink",
        &[I32, I32, I32, I32, I32],
        path::path_symlink,
    ),
    f("path_unlink_file", &[I32, I32, I32], path::path_unlink_file),
    f("poll_oneoff", &[I32, I32, I32, I32], poll::poll_oneoff),
    WasiFunc {
        name: "proc_exit",
        params: &[I32],
        kind: Kind::Exit,
    },
    f("proc_raise", &[I32], proc::proc_raise),
    f("sched_yield", &[], proc::sched_yield),
    f("sock_accept", &[I32, I32, I32], proc::sock_accept),
    f(
        "sock_recv",
        &[I32, I32, I32, I32, I32, I32],
        proc::sock_recv,
    ),
    f("sock_send", &[I32, I32, I32, I32, I32], proc::sock_send),
    f("sock_shutdown", &[I32, I32], proc::sock_shutdown),
];

impl WasiFunc {
    /// The wasm type of this function.
    pub fn ty(&self) -> FuncType {
        let results = match self.kind {
            Kind::Errno(_) => vec![I32],
            Kind::Exit => vec![],
        };
        FuncType {
            params: self.params.to_vec(),
            results,
        }
    }

    /// Runs the function for one guest call; `src` finds the WASI
    /// context.
    fn call<T>(
        &self,
        src: &CtxSource<T>,
        mut caller: Caller<'_, T>,
        args: &[Val],
        results: &mut [Val],
    ) -> Result<(), HostError> {
        let handler = match self.kind {
            Kind::Exit => return Err(HostError::Exit(Args(args).u32(0).cast_signed())),
            Kind::Errno(h) => h,
        };
        // The calling instance's memory 0 (reached by copying when it is
        // shared with other threads) and the store's data, borrowed
        // together from the store (disjoint parts of it).
        let memory = caller.memory();
        let shared = memory.and_then(|m| m.shared(&caller));
        let (bytes, data) = match memory {
            Some(mem) => mem.data_and_store_mut(&mut caller),
            None => (&mut [][..], caller.data_mut()),
        };
        let mut mem = match shared {
            Some(m) => Mem::shared(m),
            None => Mem::new(bytes),
        };
        let outcome = match src {
            CtxSource::Store(get) => handler(get(data), &mut mem, &Args(args)),
            CtxSource::Shared(ctx) => {
                // A thread that panicked holding the lock left the context
                // as consistent as any handler returning an error does.
                let mut ctx = ctx.lock().unwrap_or_else(PoisonError::into_inner);
                handler(&mut ctx, &mut mem, &Args(args))
            }
        };
        let errno = match outcome {
            Ok(()) => Errno::SUCCESS,
            Err(e) => e,
        };
        if let Some(r) = results.first_mut() {
            *r = Val::I32(i32::from(errno.0));
        }
        Ok(())
    }
}

/// Where a function finds the WASI context.
pub enum CtxSource<T> {
    /// In the store's data.
    Store(fn(&mut T) -> &mut WasiCtx),
    /// Shared by every thread of a program (wasi-threads), locked for the
    /// length of each call.
    Shared(Arc<Mutex<WasiCtx>>),
}

impl<T> Clone for CtxSource<T> {
    fn clone(&self) -> Self {
        match self {
            CtxSource::Store(get) => CtxSource::Store(*get),
            CtxSource::Shared(ctx) => CtxSource::Shared(Arc::clone(ctx)),
        }
    }
}

/// Defines every function of [`FUNCS`] under [`MODULE`], as host
/// functions of `store` that find their context through `src`.
pub fn define_all<T: 'static>(
    mut store: impl AsContextMut<Data = T>,
    imports: &mut Imports,
    src: &CtxSource<T>,
) {
    for func in FUNCS {
        let src = src.clone();
        let host = Func::new(&mut store, func.ty(), move |caller, args, results| {
            func.call(&src, caller, args, results)
        });
        imports.define(MODULE, func.name, Extern::Func(host));
    }
}

/// Function `name` of [`FUNCS`] as a store-independent definition that
/// finds its context with `get` (what a linker keeps).
pub fn func_def<T: 'static>(name: &str, get: fn(&mut T) -> &mut WasiCtx) -> Option<HostFuncDef<T>> {
    let func = FUNCS.iter().find(|f| f.name == name)?;
    let src = CtxSource::Store(get);
    Some(HostFuncDef::new(func.ty(), move |caller, args, results| {
        func.call(&src, caller, args, results)
    }))
}

/// Function `name` of [`FUNCS`] with every `i64` parameter split into two
/// `i32`s (low half first): the "legalized" signature under which a
/// module built by Emscripten for JavaScript without BigInt imports it.
pub fn legalized_ty(name: &str) -> Option<FuncType> {
    let func = FUNCS.iter().find(|f| f.name == name)?;
    let mut ty = func.ty();
    ty.params = func
        .params
        .iter()
        .flat_map(|&t| match t {
            I64 => vec![I32, I32],
            t => vec![t],
        })
        .collect();
    Some(ty)
}

/// Defines function `name` of [`FUNCS`] under [`MODULE`] with its
/// [`legalized_ty`], joining each pair of `i32` halves back into the
/// `i64` the handler reads.
pub fn define_legalized<T: 'static>(
    mut store: impl AsContextMut<Data = T>,
    imports: &mut Imports,
    name: &str,
    get: fn(&mut T) -> &mut WasiCtx,
) -> bool {
    let (Some(func), Some(ty)) = (FUNCS.iter().find(|f| f.name == name), legalized_ty(name)) else {
        return false;
    };
    let src = CtxSource::Store(get);
    let host = Func::new(&mut store, ty, move |caller, args, results| {
        let mut joined = Vec::with_capacity(func.params.len());
        let mut halves = args.iter();
        for &t in func.params {
            let lo = Args(halves.as_slice()).u64(0);
            halves.next();
            joined.push(if t == I64 {
                let hi = Args(halves.as_slice()).u64(0);
                halves.next();
                Val::I64(((hi << 32) | (lo & 0xffff_ffff)).cast_signed())
            } else {
                Val::I32((lo as u32).cast_signed())
            });
        }
        func.call(&src, caller, &joined, results)
    });
    imports.define(MODULE, func.name, Extern::Func(host));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_every_preview1_function_once() {
        let mut names: Vec<_> = FUNCS.iter().map(|f| f.name).collect();
        assert_eq!(names.len(), 46);
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 46);
        let exit = FUNCS.iter().find(|f| f.name == "proc_exit").unwrap();
        assert_eq!(
            exit.ty(),
            FuncType {
                params: vec![I32],
                results: vec![]
            }
        );
        let seek = FUNCS.iter().find(|f| f.name == "fd_seek").unwrap();
        assert_eq!(
            seek.ty(),
            FuncType {
                params: vec![I32, I64, I32, I32],
                results: vec![I32]
            }
        );
    }

    #[test]
    fn args_read_by_position() {
        let vals = [Val::I32(-1), Val::I64(-2)];
        let a = Args(&vals);
        assert_eq!(a.u32(0), u32::MAX);
        assert_eq!(a.u64(0), u64::from(u32::MAX));
        assert_eq!(a.u64(1), u64::MAX - 1);
        assert_eq!(a.u16(0), u16::MAX);
        assert_eq!(a.u32(5), 0);
    }
}
