//! File metadata in preview1 form: `filestat` from a host descriptor or a
//! cap-std `Metadata`, file types, and the timestamps of `*_set_times`.
//!
//! Rule: host times and sizes become `u64` nanoseconds and counts with
//! saturating conversions (a time before 1970 is 0), never a panicking
//! cast; the 64-byte `filestat` is written only through [`write_filestat`].

use std::os::fd::BorrowedFd;

use rustix::fs::Timespec;

use crate::abi::{filestat, filetype, fstflags};
use crate::errno::Errno;
use crate::mem::Mem;

/// `filestat`, host-independent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filestat {
    pub dev: u64,
    pub ino: u64,
    pub filetype: u8,
    pub nlink: u64,
    pub size: u64,
    pub atim: u64,
    pub mtim: u64,
    pub ctim: u64,
}

/// Seconds and nanoseconds since 1970 as nanoseconds (0 before 1970).
pub fn unix_ns(secs: i64, nsecs: i64) -> u64 {
    let s = u64::try_from(secs).unwrap_or(0);
    let n = u64::try_from(nsecs).unwrap_or(0);
    s.saturating_mul(1_000_000_000).saturating_add(n)
}

/// The WASI file type of a host `st_mode`.
pub fn filetype_of_mode(mode: u32) -> u8 {
    use rustix::fs::FileType as T;
    match T::from_raw_mode(mode) {
        T::RegularFile => filetype::REGULAR_FILE,
        T::Directory => filetype::DIRECTORY,
        T::Symlink => filetype::SYMBOLIC_LINK,
        T::CharacterDevice => filetype::CHARACTER_DEVICE,
        T::BlockDevice => filetype::BLOCK_DEVICE,
        T::Socket => filetype::SOCKET_STREAM,
        _ => filetype::UNKNOWN,
    }
}

/// `fstat` of a host descriptor.
pub fn fd_stat(fd: BorrowedFd<'_>) -> Result<Filestat, Errno> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::File::from(fd.try_clone_to_owned()?).metadata()?;
    Ok(Filestat {
        dev: m.dev(),
        ino: m.ino(),
        filetype: filetype_of_mode(m.mode()),
        nlink: m.nlink(),
        size: m.size(),
        atim: unix_ns(m.atime(), m.atime_nsec()),
        mtim: unix_ns(m.mtime(), m.mtime_nsec()),
        ctim: unix_ns(m.ctime(), m.ctime_nsec()),
    })
}

/// Writes a 64-byte `filestat` at `ptr`.
pub fn write_filestat(mem: &mut Mem<'_>, ptr: u32, st: &Filestat) -> Result<(), Errno> {
    mem.range(ptr, 64)?;
    mem.zero(ptr, 64)?;
    let at = |off: u32| ptr.wrapping_add(off);
    mem.write_u64(at(filestat::DEV), st.dev)?;
    mem.write_u64(at(filestat::INO), st.ino)?;
    mem.write_u8(at(filestat::FILETYPE), st.filetype)?;
    mem.write_u64(at(filestat::NLINK), st.nlink)?;
    mem.write_u64(at(filestat::SIZE), st.size)?;
    mem.write_u64(at(filestat::ATIM), st.atim)?;
    mem.write_u64(at(filestat::MTIM), st.mtim)?;
    mem.write_u64(at(filestat::CTIM), st.ctim)
}

/// One timestamp of a `*_set_times` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSet {
    /// Leave unchanged.
    Omit,
    /// The current time.
    Now,
    /// Nanoseconds since 1970.
    At(u64),
}

/// Decodes `(atim, mtim, fstflags)`; both `X` and `X_NOW` is `EINVAL`.
pub fn time_sets(atim: u64, mtim: u64, flags: u16) -> Result<(TimeSet, TimeSet), Errno> {
    let one = |t: u64, set: u16, now: u16| match (flags & set != 0, flags & now != 0) {
        (true, true) => Err(Errno::INVAL),
        (true, false) => Ok(TimeSet::At(t)),
        (false, true) => Ok(TimeSet::Now),
        (false, false) => Ok(TimeSet::Omit),
    };
    Ok((
        one(atim, fstflags::ATIM, fstflags::ATIM_NOW)?,
        one(mtim, fstflags::MTIM, fstflags::MTIM_NOW)?,
    ))
}

/// A `*_set_times` timestamp for `futimens`.
pub fn timespec(t: TimeSet) -> Timespec {
    match t {
        TimeSet::Omit => Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
        TimeSet::Now => Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_NOW,
        },
        TimeSet::At(ns) => Timespec {
            tv_sec: i64::try_from(ns / 1_000_000_000).unwrap_or(i64::MAX),
            tv_nsec: i64::try_from(ns % 1_000_000_000).unwrap_or(0),
        },
    }
}

/// A `*_set_times` timestamp for cap-std (`None`: leave unchanged).
pub fn system_time_spec(t: TimeSet) -> Option<cap_fs_ext::SystemTimeSpec> {
    use cap_fs_ext::SystemTimeSpec;
    match t {
        TimeSet::Omit => None,
        TimeSet::Now => Some(SystemTimeSpec::SymbolicNow),
        TimeSet::At(ns) => {
            let t = std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_nanos(ns))?;
            Some(SystemTimeSpec::Absolute(
                cap_std::time::SystemTime::from_std(t),
            ))
        }
    }
}

/// The `filestat` of a cap-std `Metadata` (for `path_filestat_get`).
pub fn metadata_stat(m: &cap_std::fs::Metadata) -> Filestat {
    use cap_fs_ext::OsMetadataExt;
    Filestat {
        dev: m.dev(),
        ino: m.ino(),
        filetype: filetype_of_mode(m.mode()),
        nlink: m.nlink(),
        size: m.size(),
        atim: unix_ns(m.atime(), m.atime_nsec()),
        mtim: unix_ns(m.mtime(), m.mtime_nsec()),
        ctim: unix_ns(m.ctime(), m.ctime_nsec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_times_flags_decode() {
        assert_eq!(
            time_sets(1, 2, fstflags::ATIM | fstflags::MTIM_NOW),
            Ok((TimeSet::At(1), TimeSet::Now))
        );
        assert_eq!(time_sets(1, 2, 0), Ok((TimeSet::Omit, TimeSet::Omit)));
        assert_eq!(
            time_sets(1, 2, fstflags::ATIM | fstflags::ATIM_NOW),
            Err(Errno::INVAL)
        );
        assert_eq!(unix_ns(-5, 3), 3);
        assert_eq!(unix_ns(2, 3), 2_000_000_003);
    }
}
