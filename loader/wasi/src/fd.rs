//! The `fd_*` functions but `fd_readdir`: reading, writing, seeking,
//! metadata, flags, rights and descriptor-table management.
//!
//! Rule: every function first looks the descriptor up (`EBADF`) and checks
//! its rights, then touches the host; data moves directly between the host
//! descriptor and bounds-checked guest slices, one iovec at a time.

use std::num::NonZeroU64;
use std::os::fd::BorrowedFd;

use rustix::fs::{Advice, OFlags, SeekFrom, Timestamps};

use crate::abi::{advice, fdflags, fdstat, rights, whence};
use crate::ctx::{FdEntry, Handle, WasiCtx};
use crate::errno::Errno;
use crate::mem::{IoVec, Mem};
use crate::stat::{fd_stat, system_time_spec, time_sets, timespec, write_filestat};
use crate::table::Args;

fn retry<T>(mut f: impl FnMut() -> rustix::io::Result<T>) -> Result<T, Errno> {
    loop {
        match f() {
            Err(rustix::io::Errno::INTR) => {}
            r => return r.map_err(Errno::from),
        }
    }
}

/// The entry for `fd` with `FD_READ` or `FD_WRITE` (`right`); a stream
/// lacking it is `EBADF`, as POSIX says.
fn io_entry(ctx: &WasiCtx, fd: u32, right: u64) -> Result<&FdEntry, Errno> {
    let e = ctx.get(fd)?;
    if let Handle::Dir(_) = e.handle {
        return Err(if right == rights::FD_READ {
            Errno::ISDIR
        } else {
            Errno::BADF
        });
    }
    if e.base & right == 0 {
        return Err(Errno::BADF);
    }
    Ok(e)
}

/// The entry for a positioned operation: a regular file (`ESPIPE` for a
/// stream) with `right`.
fn file_entry(ctx: &WasiCtx, fd: u32, right: u64) -> Result<&FdEntry, Errno> {
    let e = ctx.get(fd)?;
    match e.handle {
        Handle::File(_) => {}
        Handle::Dir(_) => return Err(Errno::BADF),
        _ => return Err(Errno::SPIPE),
    }
    e.require(right)?;
    Ok(e)
}

/// Reads into the iovecs; at `offset` if given. A stream gets a single
/// read (so a terminal returns what is available), a file fills iovecs
/// until a short read.
fn read_into(
    e: &FdEntry,
    mem: &mut Mem<'_>,
    iovs: &[IoVec],
    offset: Option<u64>,
) -> Result<usize, Errno> {
    let fd = e.handle.fd();
    let mut total = 0usize;
    for v in iovs.iter().filter(|v| v.len > 0) {
        let want = v.len as usize;
        let at = match offset {
            None => None,
            Some(off) => Some(off.checked_add(total as u64).ok_or(Errno::OVERFLOW)?),
        };
        let r = mem.with_mut(v.ptr, v.len, |buf| match at {
            None => retry(|| rustix::io::read(fd, &mut *buf)),
            Some(at) => retry(|| rustix::io::pread(fd, &mut *buf, at)),
        })?;
        let n = match r {
            Ok(n) => n,
            Err(_) if total > 0 => break,
            Err(err) => return Err(err),
        };
        total = total.saturating_add(n);
        if n < want || e.handle.is_stdio() {
            break;
        }
    }
    Ok(total)
}

/// Writes the iovecs; at `offset` if given. Stops at a short write.
fn write_from(
    e: &FdEntry,
    mem: &Mem<'_>,
    iovs: &[IoVec],
    offset: Option<u64>,
) -> Result<usize, Errno> {
    let fd = e.handle.fd();
    let mut total = 0usize;
    for v in iovs.iter().filter(|v| v.len > 0) {
        let buf = mem.slice(v.ptr, v.len)?;
        let r = match offset {
            None => retry(|| rustix::io::write(fd, &buf)),
            Some(off) => {
                let at = off.checked_add(total as u64).ok_or(Errno::OVERFLOW)?;
                retry(|| rustix::io::pwrite(fd, &buf, at))
            }
        };
        let n = match r {
            Ok(n) => n,
            Err(_) if total > 0 => break,
            Err(err) => return Err(err),
        };
        total = total.saturating_add(n);
        if n < buf.len() {
            break;
        }
    }
    Ok(total)
}

/// `fd_read(fd, iovs, iovs_len, nread_ptr)`.
pub fn fd_read(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let e = io_entry(ctx, a.u32(0), rights::FD_READ)?;
    let iovs = mem.iovecs(a.u32(1), a.u32(2))?;
    mem.range(a.u32(3), 4)?;
    let n = read_into(e, mem, &iovs, None)?;
    mem.write_size(a.u32(3), n)
}

/// `fd_write(fd, iovs, iovs_len, nwritten_ptr)`.
pub fn fd_write(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let e = io_entry(ctx, a.u32(0), rights::FD_WRITE)?;
    let iovs = mem.iovecs(a.u32(1), a.u32(2))?;
    mem.range(a.u32(3), 4)?;
    let n = write_from(e, mem, &iovs, None)?;
    mem.write_size(a.u32(3), n)
}

/// `fd_pread(fd, iovs, iovs_len, offset, nread_ptr)`.
pub fn fd_pread(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let e = file_entry(ctx, a.u32(0), rights::FD_SEEK)?;
    if e.base & rights::FD_READ == 0 {
        return Err(Errno::BADF);
    }
    let iovs = mem.iovecs(a.u32(1), a.u32(2))?;
    mem.range(a.u32(4), 4)?;
    let n = read_into(e, mem, &iovs, Some(a.u64(3)))?;
    mem.write_size(a.u32(4), n)
}

/// `fd_pwrite(fd, iovs, iovs_len, offset, nwritten_ptr)`.
pub fn fd_pwrite(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let e = file_entry(ctx, a.u32(0), rights::FD_SEEK)?;
    if e.base & rights::FD_WRITE == 0 {
        return Err(Errno::BADF);
    }
    let iovs = mem.iovecs(a.u32(1), a.u32(2))?;
    mem.range(a.u32(4), 4)?;
    let n = write_from(e, mem, &iovs, Some(a.u64(3)))?;
    mem.write_size(a.u32(4), n)
}

/// `fd_seek(fd, offset, whence, newoffset_ptr)`.
pub fn fd_seek(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let offset = a.u64(1).cast_signed();
    let pos = match a.u8(2) {
        whence::SET => SeekFrom::Start(u64::try_from(offset).map_err(|_| Errno::INVAL)?),
        whence::CUR => SeekFrom::Current(offset),
        whence::END => SeekFrom::End(offset),
        _ => return Err(Errno::INVAL),
    };
    let right = if offset == 0 && a.u8(2) == whence::CUR {
        rights::FD_TELL
    } else {
        rights::FD_SEEK
    };
    let e = file_entry(ctx, a.u32(0), right)?;
    mem.range(a.u32(3), 8)?;
    let new = retry(|| rustix::fs::seek(e.handle.fd(), pos))?;
    mem.write_u64(a.u32(3), new)
}

/// `fd_tell(fd, offset_ptr)`.
pub fn fd_tell(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let e = file_entry(ctx, a.u32(0), rights::FD_TELL)?;
    let pos = retry(|| rustix::fs::seek(e.handle.fd(), SeekFrom::Current(0)))?;
    mem.write_u64(a.u32(1), pos)
}

/// `fd_close(fd)`.
pub fn fd_close(ctx: &mut WasiCtx, _: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    ctx.fds.remove(&a.u32(0)).map(drop).ok_or(Errno::BADF)
}

/// `fd_renumber(from, to)`: moves `from` over `to`, closing `to`.
pub fn fd_renumber(ctx: &mut WasiCtx, _: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let (from, to) = (a.u32(0), a.u32(1));
    ctx.get(to)?;
    let entry = ctx.fds.remove(&from).ok_or(Errno::BADF)?;
    ctx.fds.insert(to, entry);
    Ok(())
}

/// `fd_prestat_get(fd, prestat_ptr)`: tag 0 (`dir`) and the name's length.
pub fn fd_prestat_get(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let name = ctx.get(a.u32(0))?.preopen.as_ref().ok_or(Errno::BADF)?;
    let ptr = a.u32(1);
    mem.range(ptr, 8)?;
    mem.write_u32(ptr, 0)?;
    mem.write_size(ptr.wrapping_add(4), name.len())
}

/// `fd_prestat_dir_name(fd, path, path_len)`.
pub fn fd_prestat_dir_name(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    a: &Args<'_>,
) -> Result<(), Errno> {
    let name = ctx.get(a.u32(0))?.preopen.as_ref().ok_or(Errno::BADF)?;
    if usize::try_from(a.u32(2)).unwrap_or(usize::MAX) < name.len() {
        return Err(Errno::NAMETOOLONG);
    }
    mem.write_bytes(a.u32(1), name.as_bytes())
}

fn host_fdflags(fd: BorrowedFd<'_>) -> Result<u16, Errno> {
    let fl = retry(|| rustix::fs::fcntl_getfl(fd))?;
    let mut out = 0;
    for (host, wasi) in [
        (OFlags::APPEND, fdflags::APPEND),
        (OFlags::NONBLOCK, fdflags::NONBLOCK),
        (OFlags::DSYNC, fdflags::DSYNC),
        (OFlags::RSYNC, fdflags::RSYNC),
        (OFlags::SYNC, fdflags::SYNC),
    ] {
        if fl.contains(host) {
            out |= wasi;
        }
    }
    // O_SYNC includes the O_DSYNC bit on Linux; report what was asked for.
    if out & fdflags::SYNC != 0 {
        out &= !(fdflags::DSYNC | fdflags::RSYNC);
    }
    Ok(out)
}

/// `fd_fdstat_get(fd, fdstat_ptr)`.
pub fn fd_fdstat_get(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let e = ctx.get(a.u32(0))?;
    let ptr = a.u32(1);
    mem.range(ptr, 24)?;
    let ty = fd_stat(e.handle.fd())?.filetype;
    let flags = host_fdflags(e.handle.fd())?;
    mem.zero(ptr, 24)?;
    mem.write_u8(ptr.wrapping_add(fdstat::FILETYPE), ty)?;
    mem.write_u16(ptr.wrapping_add(fdstat::FLAGS), flags)?;
    mem.write_u64(ptr.wrapping_add(fdstat::RIGHTS_BASE), e.base)?;
    mem.write_u64(ptr.wrapping_add(fdstat::RIGHTS_INHERITING), e.inheriting)
}

/// `fd_fdstat_set_flags(fd, flags)`: only `append` and `nonblock` can
/// change after opening.
pub fn fd_fdstat_set_flags(ctx: &mut WasiCtx, _: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let e = ctx.get(a.u32(0))?;
    e.require(rights::FD_FDSTAT_SET_FLAGS)?;
    let want = a.u16(1);
    if want & (fdflags::DSYNC | fdflags::RSYNC | fdflags::SYNC) != 0 {
        return Err(Errno::NOTSUP);
    }
    match e.handle {
        // Directories are `O_PATH` descriptors; the flags mean nothing there.
        Handle::Dir(_) => return Ok(()),
        // The standard streams' open file descriptions are shared with the
        // host's parent (a shell's terminal); changing them would outlive
        // the program.
        _ if e.handle.is_stdio() => {
            return if host_fdflags(e.handle.fd())? == want {
                Ok(())
            } else {
                Err(Errno::NOTSUP)
            };
        }
        _ => {}
    }
    let fd = e.handle.fd();
    let mut fl = retry(|| rustix::fs::fcntl_getfl(fd))?;
    fl.set(OFlags::APPEND, want & fdflags::APPEND != 0);
    fl.set(OFlags::NONBLOCK, want & fdflags::NONBLOCK != 0);
    retry(|| rustix::fs::fcntl_setfl(fd, fl))
}

/// `fd_fdstat_set_rights(fd, base, inheriting)`: rights only shrink.
pub fn fd_fdstat_set_rights(ctx: &mut WasiCtx, _: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let e = ctx.get_mut(a.u32(0))?;
    let (base, inheriting) = (a.u64(1), a.u64(2));
    if base & !e.base != 0 || inheriting & !e.inheriting != 0 {
        return Err(Errno::NOTCAPABLE);
    }
    e.base = base;
    e.inheriting = inheriting;
    Ok(())
}

/// `fd_filestat_get(fd, filestat_ptr)`.
pub fn fd_filestat_get(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let e = ctx.get(a.u32(0))?;
    e.require(rights::FD_FILESTAT_GET)?;
    mem.range(a.u32(1), 64)?;
    let st = fd_stat(e.handle.fd())?;
    write_filestat(mem, a.u32(1), &st)
}

/// `fd_filestat_set_size(fd, size)`.
pub fn fd_filestat_set_size(ctx: &mut WasiCtx, _: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let e = file_entry(ctx, a.u32(0), rights::FD_FILESTAT_SET_SIZE)?;
    e.require_mutable()?;
    retry(|| rustix::fs::ftruncate(e.handle.fd(), a.u64(1)))
}

/// `fd_filestat_set_times(fd, atim, mtim, fstflags)`.
pub fn fd_filestat_set_times(
    ctx: &mut WasiCtx,
    _: &mut Mem<'_>,
    a: &Args<'_>,
) -> Result<(), Errno> {
    let e = ctx.get(a.u32(0))?;
    e.require_mutable()?;
    e.require(rights::FD_FILESTAT_SET_TIMES)?;
    let (atim, mtim) = time_sets(a.u64(1), a.u64(2), a.u16(3))?;
    if let Handle::Dir(d) = &e.handle {
        // An `O_PATH` descriptor cannot be given to `futimens`.
        use cap_fs_ext::DirExt;
        d.set_times(".", system_time_spec(atim), system_time_spec(mtim))?;
        return Ok(());
    }
    let ts = Timestamps {
        last_access: timespec(atim),
        last_modification: timespec(mtim),
    };
    retry(|| rustix::fs::futimens(e.handle.fd(), &ts))
}

/// `fsync` or `fdatasync`. cap-std opens directories `O_PATH`, which
/// cannot be synced, so a directory is reopened for reading first.
fn sync(handle: &Handle, data_only: bool) -> Result<(), Errno> {
    let reopened;
    let fd = match handle {
        Handle::Dir(d) => {
            use cap_fs_ext::OpenOptionsMaybeDirExt;
            let mut opts = cap_std::fs::OpenOptions::new();
            opts.read(true).maybe_dir(true);
            reopened = d.open_with(".", &opts)?;
            rustix::fd::AsFd::as_fd(&reopened)
        }
        h => h.fd(),
    };
    if data_only {
        retry(|| rustix::fs::fdatasync(fd))
    } else {
        retry(|| rustix::fs::fsync(fd))
    }
}

/// `fd_advise(fd, offset, len, advice)`.
pub fn fd_advise(ctx: &mut WasiCtx, _: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let adv = match a.u8(3) {
        advice::NORMAL => Advice::Normal,
        advice::SEQUENTIAL => Advice::Sequential,
        advice::RANDOM => Advice::Random,
        advice::WILLNEED => Advice::WillNeed,
        advice::DONTNEED => Advice::DontNeed,
        advice::NOREUSE => Advice::NoReuse,
        _ => return Err(Errno::INVAL),
    };
    let e = file_entry(ctx, a.u32(0), rights::FD_ADVISE)?;
    retry(|| rustix::fs::fadvise(e.handle.fd(), a.u64(1), NonZeroU64::new(a.u64(2)), adv))
}

/// `fd_allocate(fd, offset, len)`: extends the file to `offset + len` if
/// it is shorter.
pub fn fd_allocate(ctx: &mut WasiCtx, _: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let e = file_entry(ctx, a.u32(0), rights::FD_ALLOCATE)?;
    e.require_mutable()?;
    let end = a.u64(1).checked_add(a.u64(2)).ok_or(Errno::FBIG)?;
    if end > fd_stat(e.handle.fd())?.size {
        retry(|| rustix::fs::ftruncate(e.handle.fd(), end))?;
    }
    Ok(())
}

/// `fd_sync(fd)`.
pub fn fd_sync(ctx: &mut WasiCtx, _: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let e = ctx.get(a.u32(0))?;
    e.require(rights::FD_SYNC)?;
    sync(&e.handle, false)
}

/// `fd_datasync(fd)`.
pub fn fd_datasync(ctx: &mut WasiCtx, _: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let e = ctx.get(a.u32(0))?;
    e.require(rights::FD_DATASYNC)?;
    sync(&e.handle, true)
}
