//! The `env` imports of a program built by Emscripten without
//! `-sSTANDALONE_WASM` (Emscripten 3.1.6's names and signatures): what
//! Emscripten's own JavaScript would provide, sandboxed exactly as WASI
//! is. The functions share the [`WasiCtx`] and its descriptor table with
//! `wasi_snapshot_preview1`, so a descriptor from `__syscall_open` works
//! with WASI's `fd_read`, `fd_write` and `fd_close`.
//!
//! Rule: a guest path is resolved against the preopens only (the
//! program's working directory is `/`, as under Emscripten's JS); it is
//! opened through the preopen's cap-std directory, never as a host path.
//! A failing syscall returns `-errno`, with WASI's errno numbers (which
//! are Emscripten's).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use wasmo_loader::{
    AsContextMut, Caller, Extern, Func, FuncType, HostError, Imports, TrapCode, Val, ValType,
};

use crate::abi::{clockid, fdflags, filetype, oflags, rights};
use crate::ctx::{Handle, WasiCtx};
use crate::errno::Errno;
use crate::mem::Mem;
use crate::path::{open_at, OpenRequest};
use crate::stat::{fd_stat, metadata_stat, Filestat};
use crate::table::Args;

/// The import module name of every function defined here.
pub const MODULE: &str = "env";

/// Emscripten's Linux `open` flags.
mod open_flags {
    pub const ACCMODE: u32 = 3;
    pub const WRONLY: u32 = 1;
    pub const RDWR: u32 = 2;
    pub const CREAT: u32 = 0o100;
    pub const EXCL: u32 = 0o200;
    pub const TRUNC: u32 = 0o1000;
    pub const APPEND: u32 = 0o2000;
    pub const NONBLOCK: u32 = 0o4000;
    pub const DIRECTORY: u32 = 0o200000;
    pub const NOFOLLOW: u32 = 0o400000;
}

/// A syscall-like handler: its `i32` result, or the errno it returns
/// negated.
type Sys = fn(&mut WasiCtx, &mut Mem<'_>, &Args<'_>) -> Result<i32, Errno>;

/// How one function behaves.
#[derive(Clone, Copy)]
enum Kind {
    /// Returns an `i32`, `-errno` on failure.
    Sys(Sys),
    /// `emscripten_resize_heap(size) -> 1/0`: grows memory 0.
    ResizeHeap,
    /// Does nothing (`emscripten_notify_memory_growth`: no JS views of
    /// memory to refresh).
    Nothing,
    /// `setTempRet0(v)`.
    SetTempRet,
    /// `getTempRet0() -> v`.
    GetTempRet,
    /// `emscripten_get_now() -> f64` milliseconds.
    Now,
    /// `exit(status)`: ends the program.
    Exit,
    /// Traps with a message (`abort`, `__assert_fail`).
    Abort,
}

struct EnvFunc {
    name: &'static str,
    params: &'static [ValType],
    results: &'static [ValType],
    kind: Kind,
}

use ValType::{F64, I32};

const fn sys(name: &'static str, params: &'static [ValType], h: Sys) -> EnvFunc {
    EnvFunc {
        name,
        params,
        results: &[I32],
        kind: Kind::Sys(h),
    }
}

/// Every function, with the signature Emscripten 3.1.6 imports it with.
const FUNCS: &[EnvFunc] = &[
    sys("emscripten_memcpy_big", &[I32, I32, I32], memcpy_big),
    sys("time", &[I32], time),
    sys("clock", &[], clock),
    sys("__syscall_open", &[I32, I32, I32], sys_open),
    sys("__syscall_openat", &[I32, I32, I32, I32], sys_openat),
    sys("__syscall_fcntl64", &[I32, I32, I32], sys_fcntl64),
    sys("__syscall_ioctl", &[I32, I32, I32], sys_ioctl),
    sys("__syscall_stat64", &[I32, I32], sys_stat64),
    sys("__syscall_lstat64", &[I32, I32], sys_lstat64),
    sys("__syscall_fstat64", &[I32, I32], sys_fstat64),
    sys("__syscall_fstatat64", &[I32, I32, I32, I32], sys_fstatat64),
    sys("__syscall_newfstatat", &[I32, I32, I32, I32], sys_fstatat64),
    sys("__syscall_unlinkat", &[I32, I32, I32], sys_unlinkat),
    sys("__syscall_getcwd", &[I32, I32], sys_getcwd),
    sys("__syscall_mkdir", &[I32, I32], sys_mkdir),
    sys("__syscall_rmdir", &[I32], sys_rmdir),
    sys("__syscall_unlink", &[I32], sys_unlink),
    sys("__syscall_rename", &[I32, I32], sys_rename),
    sys("__syscall_dup", &[I32], sys_dup),
    sys("__syscall_getdents64", &[I32, I32, I32], sys_getdents64),
    sys("_mmap_js", &[I32, I32, I32, I32, I32, I32, I32], enosys),
    sys("_munmap_js", &[I32, I32, I32, I32, I32, I32], enosys),
    EnvFunc {
        name: "emscripten_resize_heap",
        params: &[I32],
        results: &[I32],
        kind: Kind::ResizeHeap,
    },
    EnvFunc {
        name: "emscripten_notify_memory_growth",
        params: &[I32],
        results: &[],
        kind: Kind::Nothing,
    },
    EnvFunc {
        name: "setTempRet0",
        params: &[I32],
        results: &[],
        kind: Kind::SetTempRet,
    },
    EnvFunc {
        name: "getTempRet0",
        params: &[],
        results: &[I32],
        kind: Kind::GetTempRet,
    },
    EnvFunc {
        name: "emscripten_get_now",
        params: &[],
        results: &[F64],
        kind: Kind::Now,
    },
    EnvFunc {
        name: "exit",
        params: &[I32],
        results: &[],
        kind: Kind::Exit,
    },
    EnvFunc {
        name: "abort",
        params: &[],
        results: &[],
        kind: Kind::Abort,
    },
    EnvFunc {
        name: "__assert_fail",
        params: &[I32, I32, I32, I32],
        results: &[],
        kind: Kind::Abort,
    },
];

/// The largest heap Emscripten's JS grows to (2 GiB less a page).
const HEAP_MAX: u64 = (2 << 30) - 65536;

/// Defines in `imports` each Emscripten `env` function that `module`
/// imports with the type defined here, as host functions of `store` that
/// find the WASI context through `get` (an `env` import of another name
/// or type stays undefined, for the embedder to report or provide).
/// `setTempRet0`/`getTempRet0` keep their value per call of this function
/// (one per instance).
pub fn add_to_imports<T: 'static>(
    mut store: impl AsContextMut<Data = T>,
    imports: &mut Imports,
    module: &wasmo_loader::Module,
    get: fn(&mut T) -> &mut WasiCtx,
) {
    let temp_ret = Arc::new(AtomicI32::new(0));
    for func in FUNCS {
        let ty = FuncType {
            params: func.params.to_vec(),
            results: func.results.to_vec(),
        };
        let imported = module.imports().iter().any(|i| {
            i.module == MODULE
                && i.name == func.name
                && matches!(&i.ty, wasmo_loader::ExternType::Func(t) if *t == ty)
        });
        if !imported {
            continue;
        }
        let temp_ret = Arc::clone(&temp_ret);
        let host = Func::new(&mut store, ty, move |caller, args, results| {
            func.call(get, &temp_ret, caller, args, results)
        });
        imports.define(MODULE, func.name, Extern::Func(host));
    }
}

/// For each WASI function `module` imports with its Emscripten-legalized
/// type (every `i64` parameter as two `i32` halves, what a build for
/// JavaScript without BigInt imports), defines that variant in `imports`,
/// replacing the standard one. Call after `crate::add_to_imports`.
pub fn add_legalized_wasi<T: 'static>(
    mut store: impl AsContextMut<Data = T>,
    imports: &mut Imports,
    module: &wasmo_loader::Module,
    get: fn(&mut T) -> &mut WasiCtx,
) {
    for import in module.imports() {
        let wasmo_loader::ExternType::Func(ty) = &import.ty else {
            continue;
        };
        if import.module == crate::MODULE
            && crate::table::legalized_ty(&import.name).as_ref() == Some(ty)
        {
            crate::table::define_legalized(&mut store, imports, &import.name, get);
        }
    }
}

/// The names of the functions [`add_to_imports`] defines.
pub fn function_names() -> impl Iterator<Item = &'static str> {
    FUNCS.iter().map(|f| f.name)
}

impl EnvFunc {
    fn call<T>(
        &self,
        get: fn(&mut T) -> &mut WasiCtx,
        temp_ret: &AtomicI32,
        mut caller: Caller<'_, T>,
        args: &[Val],
        results: &mut [Val],
    ) -> Result<(), HostError> {
        let a = Args(args);
        let out = match self.kind {
            Kind::Exit => return Err(HostError::Exit(a.u32(0).cast_signed())),
            Kind::Abort => {
                // As Emscripten's JS: the message on stderr, then a trap
                // (what `abort` is in a standalone build).
                eprintln!("Aborted({})", abort_message(&mut caller, &a));
                return Err(HostError::Trap(TrapCode::UnreachableCodeReached));
            }
            Kind::Nothing => return Ok(()),
            Kind::SetTempRet => {
                temp_ret.store(a.u32(0).cast_signed(), Ordering::Relaxed);
                return Ok(());
            }
            Kind::GetTempRet => Val::I32(temp_ret.load(Ordering::Relaxed)),
            Kind::Now => {
                let ns = crate::clock::now_ns(clockid::MONOTONIC).unwrap_or(0);
                Val::F64((ns as f64 / 1e6).to_bits())
            }
            Kind::ResizeHeap => Val::I32(i32::from(resize_heap(&mut caller, a.u32(0)))),
            Kind::Sys(h) => {
                let memory = caller.memory();
                let (bytes, data) = match memory {
                    Some(mem) => mem.data_and_store_mut(&mut caller),
                    None => (&mut [][..], caller.data_mut()),
                };
                let mut mem = Mem::new(bytes);
                match h(get(data), &mut mem, &a) {
                    Ok(v) => Val::I32(v),
                    Err(e) => Val::I32(-i32::from(e.0)),
                }
            }
        };
        if let Some(r) = results.first_mut() {
            *r = out;
        }
        Ok(())
    }
}

/// `abort()` or `__assert_fail(expr, file, line, function)`: the message
/// Emscripten's JS would print.
fn abort_message<T>(caller: &mut Caller<'_, T>, a: &Args<'_>) -> String {
    if a.0.is_empty() {
        return String::new();
    }
    let memory = caller.memory();
    let bytes = match memory {
        Some(mem) => mem.data_and_store_mut(caller).0,
        None => &mut [][..],
    };
    let mem = Mem::new(bytes);
    let s =
        |ptr: u32| String::from_utf8_lossy(&c_string(&mem, ptr).unwrap_or_default()).into_owned();
    format!(
        "Assertion failed: {}, at: {},{},{}",
        s(a.u32(0)),
        s(a.u32(1)),
        a.u32(2),
        s(a.u32(3))
    )
}

/// Grows memory 0 to at least `requested` bytes as Emscripten's JS does
/// (20% over the old size, at most 96 MiB over the request, page-aligned,
/// at most [`HEAP_MAX`], retrying with less overgrowth when growing
/// fails). `false` when it cannot.
fn resize_heap<T>(caller: &mut Caller<'_, T>, requested: u32) -> bool {
    let Some(memory) = caller.memory() else {
        return false;
    };
    let old = memory.data_size(&*caller);
    let requested = u64::from(requested);
    if requested <= old || requested > HEAP_MAX {
        return false;
    }
    let page = 65536u64;
    for cut_down in [1u64, 2, 4] {
        let over = old + old / (5 * cut_down);
        let over = over.min(requested + (96 << 20));
        let new = requested.max(over).div_ceil(page) * page;
        let new = new.min(HEAP_MAX);
        let delta = (new - old).div_ceil(page);
        if memory.grow(&mut *caller, delta).is_some() {
            return true;
        }
    }
    false
}

/// The NUL-terminated string at `ptr`.
fn c_string(mem: &Mem<'_>, ptr: u32) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut p = ptr;
    loop {
        let b = mem.read_u8(p)?;
        if b == 0 {
            return Ok(out);
        }
        out.push(b);
        p = p.checked_add(1).ok_or(Errno::FAULT)?;
    }
}

/// `emscripten_memcpy_big(dest, src, n) -> dest`, with memmove semantics
/// (a range out of bounds copies nothing; musl never passes one).
fn memcpy_big(_: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<i32, Errno> {
    let (dest, src, n) = (a.u32(0), a.u32(1), a.u32(2));
    mem.range(src, n)?;
    mem.range(dest, n)?;
    let lo = dest.min(src);
    let span = dest.max(src) - lo + n;
    let (from, to) = ((src - lo) as usize, (dest - lo) as usize);
    mem.with_mut(lo, span, |b| b.copy_within(from..from + n as usize, to))?;
    Ok(dest.cast_signed())
}

/// `time(ptr) -> seconds`, also stored at `ptr` when it is not null.
fn time(_: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<i32, Errno> {
    let secs = (crate::clock::now_ns(clockid::REALTIME)? / 1_000_000_000) as i32;
    if a.u32(0) != 0 {
        mem.write_u32(a.u32(0), secs.cast_unsigned())?;
    }
    Ok(secs)
}

/// `clock() -> microseconds` of process CPU time (`CLOCKS_PER_SEC` is a
/// million).
fn clock(_: &mut WasiCtx, _: &mut Mem<'_>, _: &Args<'_>) -> Result<i32, Errno> {
    let ns = crate::clock::now_ns(clockid::PROCESS_CPUTIME)?;
    Ok((ns / 1000) as i32)
}

fn enosys(_: &mut WasiCtx, _: &mut Mem<'_>, _: &Args<'_>) -> Result<i32, Errno> {
    Err(Errno::NOSYS)
}

/// The guest path at `ptr` as the preopen descriptor it lies under and
/// the path relative to that preopen. Relative paths are relative to `/`;
/// a preopen named `.` is `/`. No preopen is `ENOENT`.
fn resolve(ctx: &WasiCtx, mem: &Mem<'_>, ptr: u32) -> Result<(u32, PathBuf), Errno> {
    let raw = c_string(mem, ptr)?;
    let path = String::from_utf8_lossy(&raw);
    let path = path.trim_start_matches("./");
    let abs = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    let mut best: Option<(u32, usize)> = None;
    for (&fd, entry) in &ctx.fds {
        let Some(guest) = entry.preopen.as_deref() else {
            continue;
        };
        let guest = guest.trim_end_matches('/').trim_start_matches('.');
        let root = if guest.starts_with('/') || guest.is_empty() {
            guest.to_owned()
        } else {
            format!("/{guest}")
        };
        let under = abs == root || abs.starts_with(&format!("{root}/"));
        if under && best.is_none_or(|(_, len)| root.len() > len) {
            best = Some((fd, root.len()));
        }
    }
    let (fd, len) = best.ok_or(Errno::NOENT)?;
    let rest = abs[len..].trim_start_matches('/');
    let rest = if rest.is_empty() { "." } else { rest };
    Ok((fd, PathBuf::from(OsStr::from_bytes(rest.as_bytes()))))
}

/// `open(path, flags, varargs)`.
fn sys_open(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<i32, Errno> {
    open_path(ctx, mem, a.u32(0), a.u32(1))
}

/// `openat(dirfd, path, flags, varargs)`: only `AT_FDCWD` or absolute
/// paths, since the guest's directories are named by path.
fn sys_openat(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<i32, Errno> {
    at_cwd(mem, a.u32(0), a.u32(1))?;
    open_path(ctx, mem, a.u32(1), a.u32(2))
}

/// `AT_FDCWD`: an `*at` call's directory argument meaning the working
/// directory.
const AT_FDCWD: u32 = -100i32 as u32;

/// The `*at` calls take `AT_FDCWD` or an absolute path: a guest directory
/// descriptor has no path here to resolve a relative one against
/// (`ENOTSUP`).
fn at_cwd(mem: &Mem<'_>, dirfd: u32, path: u32) -> Result<(), Errno> {
    if dirfd == AT_FDCWD || mem.read_u8(path)? == b'/' {
        Ok(())
    } else {
        Err(Errno::NOTSUP)
    }
}

fn open_path(ctx: &mut WasiCtx, mem: &mut Mem<'_>, ptr: u32, flags: u32) -> Result<i32, Errno> {
    use open_flags as o;
    let (dirfd, path) = resolve(ctx, mem, ptr)?;
    let mut base = rights::FILE_ALL & !(rights::FD_READ | rights::FD_WRITE);
    match flags & o::ACCMODE {
        o::WRONLY => base |= rights::FD_WRITE,
        o::RDWR => base |= rights::FD_READ | rights::FD_WRITE,
        _ => base |= rights::FD_READ,
    }
    if flags & o::ACCMODE == 0 {
        base &= !(rights::FD_DATASYNC | rights::FD_ALLOCATE | rights::FD_FILESTAT_SET_SIZE);
    }
    if flags & o::DIRECTORY != 0 {
        base = rights::DIR_ALL;
    }
    let flag = |bit: u32, v: u16| if flags & bit != 0 { v } else { 0 };
    let mut req = OpenRequest {
        follow: flags & o::NOFOLLOW == 0,
        oflags: flag(o::CREAT, oflags::CREAT)
            | flag(o::EXCL, oflags::EXCL)
            | flag(o::TRUNC, oflags::TRUNC)
            | flag(o::DIRECTORY, oflags::DIRECTORY),
        base,
        inheriting: rights::DIR_ALL | rights::FILE_ALL,
        fdflags: flag(o::APPEND, fdflags::APPEND) | flag(o::NONBLOCK, fdflags::NONBLOCK),
    };
    match open_at(ctx, dirfd, path.clone(), &req) {
        // `open(dir, O_RDONLY)` (as `opendir` does without O_DIRECTORY
        // on some paths) opens the directory.
        Err(Errno::ISDIR) if flags & o::ACCMODE == 0 => {
            req.oflags |= oflags::DIRECTORY;
            req.base = rights::DIR_ALL;
            open_at(ctx, dirfd, path, &req)
        }
        r => r,
    }
    .map(u32::cast_signed)
}

/// `fcntl64(fd, cmd, varargs)`: descriptor flags are a no-op, as in
/// Emscripten's JS; `F_GETFL` reports the access mode.
fn sys_fcntl64(ctx: &mut WasiCtx, _: &mut Mem<'_>, a: &Args<'_>) -> Result<i32, Errno> {
    const F_GETFD: u32 = 1;
    const F_SETFD: u32 = 2;
    const F_GETFL: u32 = 3;
    const F_SETFL: u32 = 4;
    let entry = ctx.get(a.u32(0))?;
    match a.u32(1) {
        F_GETFD | F_SETFD | F_SETFL => Ok(0),
        F_GETFL => {
            let (r, w) = (
                entry.base & rights::FD_READ != 0,
                entry.base & rights::FD_WRITE != 0,
            );
            Ok(match (r, w) {
                (true, true) => open_flags::RDWR as i32,
                (false, true) => open_flags::WRONLY as i32,
                _ => 0,
            })
        }
        _ => Err(Errno::INVAL),
    }
}

/// `ioctl(fd, op, varargs)`: the standard streams are terminals to the
/// guest, as under Emscripten's JS (so stdout is line-buffered); any other
/// descriptor is `ENOTTY`.
fn sys_ioctl(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<i32, Errno> {
    const TCGETS: u32 = 0x5401;
    const TCSETS: u32 = 0x5402;
    const TCSETSF: u32 = 0x5404;
    const TIOCGPGRP: u32 = 0x540f;
    const TIOCGWINSZ: u32 = 0x5413;
    let entry = ctx.get(a.u32(0))?;
    if !entry.handle.is_stdio() {
        return Err(Errno::NOTTY);
    }
    match a.u32(1) {
        TIOCGPGRP => {
            let argp = mem.read_u32(a.u32(2))?;
            mem.write_u32(argp, 0)?;
            Ok(0)
        }
        TCGETS | TIOCGWINSZ => Ok(0),
        // TCSETS, TCSETSW, TCSETSF.
        TCSETS..=TCSETSF => Ok(0),
        _ => Err(Errno::INVAL),
    }
}

/// Emscripten's `struct stat` (88 bytes), as its JS `doStat` fills it.
fn write_stat(mem: &mut Mem<'_>, buf: u32, st: &Filestat) -> Result<(), Errno> {
    mem.range(buf, 88)?;
    mem.zero(buf, 88)?;
    let mode: u32 = match st.filetype {
        filetype::DIRECTORY => 0o040755,
        filetype::CHARACTER_DEVICE => 0o020666,
        filetype::BLOCK_DEVICE => 0o060666,
        filetype::SYMBOLIC_LINK => 0o120777,
        filetype::SOCKET_STREAM => 0o140666,
        _ => 0o100644,
    };
    let at = |off: u32| buf.wrapping_add(off);
    mem.write_u32(at(0), st.dev as u32)?;
    mem.write_u32(at(8), st.ino as u32)?;
    mem.write_u32(at(12), mode)?;
    mem.write_u32(at(16), st.nlink as u32)?;
    mem.write_u64(at(40), st.size)?;
    mem.write_u32(at(48), 4096)?;
    mem.write_u32(at(52), st.size.div_ceil(512) as u32)?;
    mem.write_u32(at(56), (st.atim / 1_000_000_000) as u32)?;
    mem.write_u32(at(64), (st.mtim / 1_000_000_000) as u32)?;
    mem.write_u32(at(72), (st.ctim / 1_000_000_000) as u32)?;
    mem.write_u64(at(80), st.ino)
}

fn stat_path(
    ctx: &WasiCtx,
    mem: &mut Mem<'_>,
    path: u32,
    buf: u32,
    follow: bool,
) -> Result<i32, Errno> {
    let (fd, path) = resolve(ctx, mem, path)?;
    let dir = ctx.get(fd)?.dir(rights::PATH_FILESTAT_GET, false)?;
    let m = if follow {
        dir.metadata(path)?
    } else {
        dir.symlink_metadata(path)?
    };
    write_stat(mem, buf, &metadata_stat(&m))?;
    Ok(0)
}

fn sys_stat64(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<i32, Errno> {
    stat_path(ctx, mem, a.u32(0), a.u32(1), true)
}

fn sys_lstat64(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<i32, Errno> {
    stat_path(ctx, mem, a.u32(0), a.u32(1), false)
}

/// `fstatat64(dirfd, path, buf, flags)`; `AT_EMPTY_PATH` is `fstat(dirfd)`.
fn sys_fstatat64(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<i32, Errno> {
    const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
    const AT_EMPTY_PATH: u32 = 0x1000;
    let flags = a.u32(3);
    if flags & AT_EMPTY_PATH != 0 && mem.read_u8(a.u32(1))? == 0 {
        return fstat(ctx, mem, a.u32(0), a.u32(2));
    }
    at_cwd(mem, a.u32(0), a.u32(1))?;
    stat_path(
        ctx,
        mem,
        a.u32(1),
        a.u32(2),
        flags & AT_SYMLINK_NOFOLLOW == 0,
    )
}

/// `unlinkat(dirfd, path, flags)`; `AT_REMOVEDIR` removes a directory.
fn sys_unlinkat(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<i32, Errno> {
    const AT_REMOVEDIR: u32 = 0x200;
    at_cwd(mem, a.u32(0), a.u32(1))?;
    if a.u32(2) & AT_REMOVEDIR != 0 {
        remove_dir(ctx, mem, a.u32(1))
    } else {
        remove_file(ctx, mem, a.u32(1))
    }
}

fn sys_fstat64(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<i32, Errno> {
    fstat(ctx, mem, a.u32(0), a.u32(1))
}

fn fstat(ctx: &WasiCtx, mem: &mut Mem<'_>, fd: u32, buf: u32) -> Result<i32, Errno> {
    let entry = ctx.get(fd)?;
    let mut st = fd_stat(entry.handle.fd())?;
    if entry.handle.is_stdio() {
        st.filetype = filetype::CHARACTER_DEVICE;
    }
    write_stat(mem, buf, &st)?;
    Ok(0)
}

/// `getcwd(buf, size) -> buf`: always `/`.
fn sys_getcwd(_: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<i32, Errno> {
    match a.u32(1) {
        0 => Err(Errno::INVAL),
        1 => Err(Errno::RANGE),
        _ => {
            mem.write_bytes(a.u32(0), b"/\0")?;
            Ok(a.u32(0).cast_signed())
        }
    }
}

/// Changes the tree at the guest path at `ptr` with `op` on its preopen's
/// directory, which must hold `right` and not be read-only.
fn change(
    ctx: &WasiCtx,
    mem: &Mem<'_>,
    ptr: u32,
    right: u64,
    op: fn(&cap_std::fs::Dir, PathBuf) -> std::io::Result<()>,
) -> Result<i32, Errno> {
    let (fd, path) = resolve(ctx, mem, ptr)?;
    op(ctx.get(fd)?.dir(right, true)?, path)?;
    Ok(0)
}

fn sys_mkdir(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<i32, Errno> {
    change(ctx, mem, a.u32(0), rights::PATH_CREATE_DIRECTORY, |d, p| {
        d.create_dir(p)
    })
}

fn sys_rmdir(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<i32, Errno> {
    remove_dir(ctx, mem, a.u32(0))
}

fn sys_unlink(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<i32, Errno> {
    remove_file(ctx, mem, a.u32(0))
}

/// Removes the directory at the guest path at `ptr` (`rmdir`, `unlinkat`).
fn remove_dir(ctx: &WasiCtx, mem: &Mem<'_>, ptr: u32) -> Result<i32, Errno> {
    change(ctx, mem, ptr, rights::PATH_REMOVE_DIRECTORY, |d, p| {
        d.remove_dir(p)
    })
}

/// Removes the file at the guest path at `ptr` (`unlink`, `unlinkat`).
fn remove_file(ctx: &WasiCtx, mem: &Mem<'_>, ptr: u32) -> Result<i32, Errno> {
    change(ctx, mem, ptr, rights::PATH_UNLINK_FILE, |d, p| {
        d.remove_file(p)
    })
}

fn sys_rename(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<i32, Errno> {
    let (from_fd, from) = resolve(ctx, mem, a.u32(0))?;
    let (to_fd, to) = resolve(ctx, mem, a.u32(1))?;
    let src = ctx.get(from_fd)?.dir(rights::PATH_RENAME_SOURCE, true)?;
    let dst = ctx.get(to_fd)?.dir(rights::PATH_RENAME_TARGET, true)?;
    src.rename(from, dst, to)?;
    Ok(0)
}

/// `dup(fd)`: a new descriptor for the same open file or directory (a
/// cloned host descriptor), or for the same standard stream.
fn sys_dup(ctx: &mut WasiCtx, _: &mut Mem<'_>, a: &Args<'_>) -> Result<i32, Errno> {
    let entry = ctx.get(a.u32(0))?;
    let handle = match &entry.handle {
        Handle::Stdin => Handle::Stdin,
        Handle::Stdout => Handle::Stdout,
        Handle::Stderr => Handle::Stderr,
        Handle::File(f) => Handle::File(f.try_clone()?),
        Handle::Dir(d) => Handle::Dir(d.try_clone()?),
    };
    let copy = crate::ctx::FdEntry {
        handle,
        base: entry.base,
        inheriting: entry.inheriting,
        preopen: None,
        read_only: entry.read_only,
        listing: None,
    };
    ctx.insert(copy).map(u32::cast_signed)
}

fn sys_getdents64(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<i32, Errno> {
    crate::readdir::getdents64(ctx, mem, a.u32(0), a.u32(1), a.u32(2))
}
