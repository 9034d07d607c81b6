//! The `path_*` functions: every path is resolved by cap-std relative to a
//! directory descriptor, so `..`, absolute paths and symlinks cannot leave
//! the preopen (cap-std reports such a path as `PermissionDenied`, which is
//! `EPERM` here, as in wasmtime).
//!
//! Rule: never join a guest path onto a host path or hand it to an ambient
//! `std::fs` call; always go through the `Dir` of the entry, after checking
//! its rights and, for anything that changes the tree, its read-only flag.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use cap_fs_ext::{
    DirExt, FollowSymlinks, OpenOptionsFollowExt, OpenOptionsMaybeDirExt, OpenOptionsSyncExt,
};
use cap_std::fs::{Dir, OpenOptions};

use crate::abi::{fdflags, oflags, rights, LOOKUP_SYMLINK_FOLLOW};
use crate::ctx::{FdEntry, Handle, WasiCtx};
use crate::errno::Errno;
use crate::mem::Mem;
use crate::stat::{metadata_stat, system_time_spec, time_sets, write_filestat};
use crate::table::Args;

/// The guest path at `(ptr, len)`; the bytes are used as they are (no
/// UTF-8 requirement on a Unix host).
fn path_arg(mem: &Mem<'_>, ptr: u32, len: u32) -> Result<PathBuf, Errno> {
    let bytes = mem.string(ptr, len)?;
    if bytes.contains(&0) {
        return Err(Errno::INVAL);
    }
    Ok(PathBuf::from(OsStr::from_bytes(&bytes)))
}

fn follows(lookupflags: u32) -> bool {
    lookupflags & LOOKUP_SYMLINK_FOLLOW != 0
}

/// `path_create_directory(fd, path, path_len)`.
pub fn path_create_directory(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    a: &Args<'_>,
) -> Result<(), Errno> {
    let dir = ctx
        .get(a.u32(0))?
        .dir(rights::PATH_CREATE_DIRECTORY, true)?;
    dir.create_dir(path_arg(mem, a.u32(1), a.u32(2))?)?;
    Ok(())
}

/// `path_filestat_get(fd, lookupflags, path, path_len, filestat_ptr)`.
pub fn path_filestat_get(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let dir = ctx.get(a.u32(0))?.dir(rights::PATH_FILESTAT_GET, false)?;
    let path = path_arg(mem, a.u32(2), a.u32(3))?;
    mem.range(a.u32(4), 64)?;
    let m = if follows(a.u32(1)) {
        dir.metadata(path)?
    } else {
        dir.symlink_metadata(path)?
    };
    write_filestat(mem, a.u32(4), &metadata_stat(&m))
}

/// `path_filestat_set_times(fd, lookupflags, path, path_len, atim, mtim, fstflags)`.
pub fn path_filestat_set_times(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    a: &Args<'_>,
) -> Result<(), Errno> {
    let dir = ctx
        .get(a.u32(0))?
        .dir(rights::PATH_FILESTAT_SET_TIMES, true)?;
    let path = path_arg(mem, a.u32(2), a.u32(3))?;
    let (atim, mtim) = time_sets(a.u64(4), a.u64(5), a.u16(6))?;
    let (atim, mtim) = (system_time_spec(atim), system_time_spec(mtim));
    if follows(a.u32(1)) {
        dir.set_times(path, atim, mtim)?;
    } else {
        dir.set_symlink_times(path, atim, mtim)?;
    }
    Ok(())
}

/// `path_link(old_fd, old_flags, old_path, old_path_len, new_fd, new_path, new_path_len)`.
pub fn path_link(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let old = ctx.get(a.u32(0))?.dir(rights::PATH_LINK_SOURCE, true)?;
    let new = ctx.get(a.u32(4))?.dir(rights::PATH_LINK_TARGET, true)?;
    if follows(a.u32(1)) {
        return Err(Errno::INVAL);
    }
    old.hard_link(
        path_arg(mem, a.u32(2), a.u32(3))?,
        new,
        path_arg(mem, a.u32(5), a.u32(6))?,
    )?;
    Ok(())
}

/// `path_readlink(fd, path, path_len, buf, buf_len, bufused_ptr)`: the
/// target is truncated to the buffer.
pub fn path_readlink(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let dir = ctx.get(a.u32(0))?.dir(rights::PATH_READLINK, false)?;
    let path = path_arg(mem, a.u32(1), a.u32(2))?;
    let (buf, len) = (a.u32(3), a.u32(4));
    mem.range(buf, len)?;
    mem.range(a.u32(5), 4)?;
    let target = dir.read_link_contents(path)?;
    let bytes = target.as_os_str().as_bytes();
    let n = bytes.len().min(usize::try_from(len).unwrap_or(usize::MAX));
    mem.write_bytes(buf, bytes.get(..n).ok_or(Errno::FAULT)?)?;
    mem.write_size(a.u32(5), n)
}

/// `path_remove_directory(fd, path, path_len)`.
pub fn path_remove_directory(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    a: &Args<'_>,
) -> Result<(), Errno> {
    let dir = ctx
        .get(a.u32(0))?
        .dir(rights::PATH_REMOVE_DIRECTORY, true)?;
    dir.remove_dir(path_arg(mem, a.u32(1), a.u32(2))?)?;
    Ok(())
}

/// `path_rename(fd, old_path, old_path_len, new_fd, new_path, new_path_len)`.
pub fn path_rename(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let old = ctx.get(a.u32(0))?.dir(rights::PATH_RENAME_SOURCE, true)?;
    let new = ctx.get(a.u32(3))?.dir(rights::PATH_RENAME_TARGET, true)?;
    old.rename(
        path_arg(mem, a.u32(1), a.u32(2))?,
        new,
        path_arg(mem, a.u32(4), a.u32(5))?,
    )?;
    Ok(())
}

/// `path_symlink(old_path, old_path_len, fd, new_path, new_path_len)`: an
/// absolute target is refused (`EPERM`), a relative one may point
/// anywhere but resolves inside the sandbox only.
pub fn path_symlink(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let dir = ctx.get(a.u32(2))?.dir(rights::PATH_SYMLINK, true)?;
    dir.symlink(
        path_arg(mem, a.u32(0), a.u32(1))?,
        path_arg(mem, a.u32(3), a.u32(4))?,
    )?;
    Ok(())
}

/// `path_unlink_file(fd, path, path_len)`.
pub fn path_unlink_file(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let dir = ctx.get(a.u32(0))?.dir(rights::PATH_UNLINK_FILE, true)?;
    dir.remove_file(path_arg(mem, a.u32(1), a.u32(2))?)?;
    Ok(())
}

/// Rights whose presence in `path_open`'s base rights asks for a writable
/// descriptor (wasi-libc sets exactly these for `O_WRONLY`).
const WRITE_INTENT: u64 =
    rights::FD_WRITE | rights::FD_DATASYNC | rights::FD_ALLOCATE | rights::FD_FILESTAT_SET_SIZE;

/// What a `path_open` call asks for, decoded from its flags.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenRequest {
    pub(crate) follow: bool,
    pub(crate) oflags: u16,
    pub(crate) base: u64,
    pub(crate) inheriting: u64,
    pub(crate) fdflags: u16,
}

impl OpenRequest {
    fn has(&self, flag: u16) -> bool {
        self.oflags & flag != 0
    }

    fn writes(&self) -> bool {
        self.base & WRITE_INTENT != 0
            || self.fdflags & fdflags::APPEND != 0
            || self.has(oflags::TRUNC)
            || self.has(oflags::CREAT)
    }

    /// Rights the parent directory needs.
    fn parent_rights(&self) -> u64 {
        let mut r = rights::PATH_OPEN;
        if self.has(oflags::CREAT) {
            r |= rights::PATH_CREATE_FILE;
        }
        if self.has(oflags::TRUNC) {
            r |= rights::PATH_FILESTAT_SET_SIZE;
        }
        r
    }
}

fn open_dir(dir: &Dir, path: PathBuf, req: &OpenRequest) -> Result<Handle, Errno> {
    if req.has(oflags::CREAT) || req.has(oflags::EXCL) || req.has(oflags::TRUNC) {
        return Err(Errno::INVAL);
    }
    // A directory's own rights include `fd_datasync`, so reopening one
    // with the rights it has must work; only rights no directory can have
    // (writing, allocating, truncating) or appending ask for a file.
    if req.base & WRITE_INTENT & !rights::DIR_ALL != 0 || req.fdflags & fdflags::APPEND != 0 {
        return Err(Errno::ISDIR);
    }
    let d = if req.follow {
        dir.open_dir(path)?
    } else {
        dir.open_dir_nofollow(path)?
    };
    Ok(Handle::Dir(d))
}

fn open_file(dir: &Dir, path: PathBuf, req: &OpenRequest) -> Result<Handle, Errno> {
    let write = req.writes();
    let append = req.fdflags & fdflags::APPEND != 0;
    // Rust's `OpenOptions` refuses append together with truncate, which
    // POSIX allows (`O_TRUNC | O_APPEND`): truncate first, then set
    // `O_APPEND` on the open file.
    let append_later = append && req.has(oflags::TRUNC);
    let mut opts = OpenOptions::new();
    opts.read(req.base & (rights::FD_READ | rights::FD_READDIR) != 0 || !write)
        .write(write)
        .append(append && !append_later)
        .create(req.has(oflags::CREAT))
        .create_new(req.has(oflags::CREAT) && req.has(oflags::EXCL))
        .truncate(req.has(oflags::TRUNC));
    opts.follow(if req.follow {
        FollowSymlinks::Yes
    } else {
        FollowSymlinks::No
    });
    opts.maybe_dir(true);
    opts.sync(req.fdflags & fdflags::SYNC != 0);
    opts.dsync(req.fdflags & fdflags::DSYNC != 0);
    opts.rsync(req.fdflags & fdflags::RSYNC != 0);
    let file = match dir.open_with(&path, &opts) {
        // A directory opened without `O_DIRECTORY` but with rights that
        // include writing (its own rights, say): open it as a directory,
        // whose rights `opened_rights` then masks, as Wasmtime does.
        Err(e)
            if e.raw_os_error() == Some(libc::EISDIR)
                && !req.has(oflags::CREAT)
                && !req.has(oflags::TRUNC)
                && !append =>
        {
            return open_dir(dir, path, req)
        }
        other => other?,
    };
    if file.metadata()?.is_dir() {
        return Ok(Handle::Dir(Dir::from_std_file(file.into_std())));
    }
    if append_later {
        let fl = rustix::fs::fcntl_getfl(&file)?;
        rustix::fs::fcntl_setfl(&file, fl | rustix::fs::OFlags::APPEND)?;
    }
    Ok(Handle::File(file))
}

/// The new descriptor's rights: what was asked, within what the parent
/// passes on and what the handle can do.
fn opened_rights(handle: &Handle, req: &OpenRequest, parent: &FdEntry, write: bool) -> (u64, u64) {
    let mut base = req.base & parent.inheriting;
    let inheriting = req.inheriting & parent.inheriting;
    match handle {
        Handle::Dir(_) => base &= rights::DIR_ALL,
        _ => {
            base &= rights::FILE_ALL;
            if !write {
                base &= !(rights::FD_WRITE | WRITE_INTENT);
            }
        }
    }
    (base, inheriting)
}

/// `path_open(fd, dirflags, path, path_len, oflags, rights_base,
/// rights_inheriting, fdflags, fd_ptr)`.
pub fn path_open(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let req = OpenRequest {
        follow: follows(a.u32(1)),
        oflags: a.u16(4),
        base: a.u64(5),
        inheriting: a.u64(6),
        fdflags: a.u16(7),
    };
    let path = path_arg(mem, a.u32(2), a.u32(3))?;
    let out = a.u32(8);
    mem.range(out, 4)?;
    let fd = open_at(ctx, a.u32(0), path, &req)?;
    mem.write_u32(out, fd)
}

/// Opens `path` under directory descriptor `dirfd` as `req` asks and
/// returns the new descriptor (`path_open`, and Emscripten's `open`).
pub(crate) fn open_at(
    ctx: &mut WasiCtx,
    dirfd: u32,
    path: PathBuf,
    req: &OpenRequest,
) -> Result<u32, Errno> {
    let parent = ctx.get(dirfd)?;
    let dir = parent.dir(req.parent_rights(), req.writes())?;
    if req.writes() && parent.inheriting & rights::FD_WRITE == 0 {
        return Err(Errno::NOTCAPABLE);
    }
    let handle = if req.has(oflags::DIRECTORY) {
        open_dir(dir, path, req)?
    } else {
        open_file(dir, path, req)?
    };
    if let (Handle::File(_), true) = (&handle, req.fdflags & fdflags::NONBLOCK != 0) {
        // (Directories are `O_PATH` descriptors, where the flag means nothing.)
        let fd = handle.fd();
        let fl = rustix::fs::fcntl_getfl(fd)?;
        rustix::fs::fcntl_setfl(fd, fl | rustix::fs::OFlags::NONBLOCK)?;
    }
    let (base, inheriting) = opened_rights(&handle, req, parent, req.writes());
    let entry = FdEntry {
        handle,
        base,
        inheriting,
        preopen: None,
        read_only: parent.read_only,
        listing: None,
    };
    ctx.insert(entry)
}
