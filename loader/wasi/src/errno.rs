//! WASI preview1 error numbers and the mapping from host errors to them.
//!
//! Rule: the numbers are the preview1 `errno` enum, which differs from the
//! host's; every host error goes through [`Errno::from_host`] (by raw OS
//! number, then by `io::ErrorKind`), never through a cast.

use std::io;

/// A WASI `errno` (`u16` in the witx; returned to the guest as `i32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub u16);

macro_rules! errnos {
    ($($name:ident = $value:literal,)*) => {
        impl Errno {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                pub const $name: Errno = Errno($value);
            )*
        }
    };
}

errnos! {
    SUCCESS = 0, TOOBIG = 1, ACCES = 2, ADDRINUSE = 3, ADDRNOTAVAIL = 4, AFNOSUPPORT = 5,
    AGAIN = 6, ALREADY = 7, BADF = 8, BADMSG = 9, BUSY = 10, CANCELED = 11, CHILD = 12,
    CONNABORTED = 13, CONNREFUSED = 14, CONNRESET = 15, DEADLK = 16, DESTADDRREQ = 17,
    DOM = 18, DQUOT = 19, EXIST = 20, FAULT = 21, FBIG = 22, HOSTUNREACH = 23, IDRM = 24,
    ILSEQ = 25, INPROGRESS = 26, INTR = 27, INVAL = 28, IO = 29, ISCONN = 30, ISDIR = 31,
    LOOP = 32, MFILE = 33, MLINK = 34, MSGSIZE = 35, MULTIHOP = 36, NAMETOOLONG = 37,
    NETDOWN = 38, NETRESET = 39, NETUNREACH = 40, NFILE = 41, NOBUFS = 42, NODEV = 43,
    NOENT = 44, NOEXEC = 45, NOLCK = 46, NOLINK = 47, NOMEM = 48, NOMSG = 49,
    NOPROTOOPT = 50, NOSPC = 51, NOSYS = 52, NOTCONN = 53, NOTDIR = 54, NOTEMPTY = 55,
    NOTRECOVERABLE = 56, NOTSOCK = 57, NOTSUP = 58, NOTTY = 59, NXIO = 60, OVERFLOW = 61,
    OWNERDEAD = 62, PERM = 63, PIPE = 64, PROTO = 65, PROTONOSUPPORT = 66, PROTOTYPE = 67,
    RANGE = 68, ROFS = 69, SPIPE = 70, SRCH = 71, STALE = 72, TIMEDOUT = 73, TXTBSY = 74,
    XDEV = 75, NOTCAPABLE = 76,
}

/// Host `errno` to WASI errno, for the numbers a file-system or clock call
/// can produce; `None` for anything else.
fn from_raw_os(raw: i32) -> Option<Errno> {
    let e = match raw {
        libc::E2BIG => Errno::TOOBIG,
        libc::EACCES => Errno::ACCES,
        libc::EAGAIN => Errno::AGAIN,
        libc::EALREADY => Errno::ALREADY,
        libc::EBADF => Errno::BADF,
        libc::EBUSY => Errno::BUSY,
        libc::ECANCELED => Errno::CANCELED,
        libc::EDEADLK => Errno::DEADLK,
        libc::EDQUOT => Errno::DQUOT,
        libc::EEXIST => Errno::EXIST,
        libc::EFAULT => Errno::FAULT,
        libc::EFBIG => Errno::FBIG,
        libc::EILSEQ => Errno::ILSEQ,
        libc::EINPROGRESS => Errno::INPROGRESS,
        libc::EINTR => Errno::INTR,
        libc::EINVAL => Errno::INVAL,
        libc::EIO => Errno::IO,
        libc::EISDIR => Errno::ISDIR,
        libc::ELOOP => Errno::LOOP,
        libc::EMFILE => Errno::MFILE,
        libc::EMLINK => Errno::MLINK,
        libc::ENAMETOOLONG => Errno::NAMETOOLONG,
        libc::ENFILE => Errno::NFILE,
        libc::ENODEV => Errno::NODEV,
        libc::ENOENT => Errno::NOENT,
        libc::ENOLCK => Errno::NOLCK,
        libc::ENOMEM => Errno::NOMEM,
        libc::ENOSPC => Errno::NOSPC,
        libc::ENOSYS => Errno::NOSYS,
        libc::ENOTDIR => Errno::NOTDIR,
        libc::ENOTEMPTY => Errno::NOTEMPTY,
        libc::ENOTSOCK => Errno::NOTSOCK,
        libc::ENOTSUP => Errno::NOTSUP,
        libc::ENOTTY => Errno::NOTTY,
        libc::ENXIO => Errno::NXIO,
        libc::EOVERFLOW => Errno::OVERFLOW,
        libc::EPERM => Errno::PERM,
        libc::EPIPE => Errno::PIPE,
        libc::ERANGE => Errno::RANGE,
        libc::EROFS => Errno::ROFS,
        libc::ESPIPE => Errno::SPIPE,
        libc::ESRCH => Errno::SRCH,
        libc::ESTALE => Errno::STALE,
        libc::ETIMEDOUT => Errno::TIMEDOUT,
        libc::ETXTBSY => Errno::TXTBSY,
        libc::EXDEV => Errno::XDEV,
        libc::ECONNRESET => Errno::CONNRESET,
        libc::ENOTCONN => Errno::NOTCONN,
        _ => return None,
    };
    Some(e)
}

impl Errno {
    /// The WASI errno for a host I/O error. cap-std reports a path that
    /// would leave its directory as `PermissionDenied` without an OS number;
    /// that becomes `EPERM`, as in wasmtime.
    pub fn from_host(err: &io::Error) -> Errno {
        if let Some(e) = err.raw_os_error().and_then(from_raw_os) {
            return e;
        }
        match err.kind() {
            io::ErrorKind::NotFound => Errno::NOENT,
            io::ErrorKind::PermissionDenied => Errno::PERM,
            io::ErrorKind::AlreadyExists => Errno::EXIST,
            io::ErrorKind::InvalidInput => Errno::INVAL,
            io::ErrorKind::BrokenPipe => Errno::PIPE,
            io::ErrorKind::WouldBlock => Errno::AGAIN,
            io::ErrorKind::Interrupted => Errno::INTR,
            io::ErrorKind::Unsupported => Errno::NOTSUP,
            io::ErrorKind::NotADirectory => Errno::NOTDIR,
            io::ErrorKind::IsADirectory => Errno::ISDIR,
            io::ErrorKind::DirectoryNotEmpty => Errno::NOTEMPTY,
            io::ErrorKind::InvalidFilename => Errno::NAMETOOLONG,
            io::ErrorKind::CrossesDevices => Errno::XDEV,
            io::ErrorKind::OutOfMemory => Errno::NOMEM,
            _ => Errno::IO,
        }
    }
}

impl From<io::Error> for Errno {
    fn from(err: io::Error) -> Errno {
        Errno::from_host(&err)
    }
}

impl From<rustix::io::Errno> for Errno {
    fn from(err: rustix::io::Errno) -> Errno {
        from_raw_os(err.raw_os_error()).unwrap_or(Errno::IO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_numbers_map_to_preview1_numbers() {
        let os = |n| Errno::from(io::Error::from_raw_os_error(n));
        assert_eq!(os(libc::ENOENT), Errno(44));
        assert_eq!(os(libc::EBADF), Errno(8));
        assert_eq!(os(libc::EINVAL), Errno(28));
        assert_eq!(os(libc::ENOTDIR), Errno(54));
        assert_eq!(os(libc::EISDIR), Errno(31));
        assert_eq!(os(libc::EEXIST), Errno(20));
        assert_eq!(os(libc::ENOTEMPTY), Errno(55));
        assert_eq!(os(libc::EACCES), Errno(2));
        assert_eq!(os(libc::EPERM), Errno(63));
        assert_eq!(os(libc::ESPIPE), Errno(70));
        assert_eq!(os(libc::ELOOP), Errno(32));
        assert_eq!(os(libc::ENAMETOOLONG), Errno(37));
        assert_eq!(os(libc::EXDEV), Errno(75));
        assert_eq!(os(libc::EPIPE), Errno(64));
        assert_eq!(os(libc::EAGAIN), Errno(6));
        assert_eq!(os(libc::EIO), Errno(29));
        assert_eq!(os(libc::EHOSTDOWN), Errno::IO);
    }

    #[test]
    fn errors_without_a_number_map_by_kind() {
        let escape = io::Error::new(
            io::ErrorKind::PermissionDenied,
            "a path led outside of the filesystem",
        );
        assert_eq!(Errno::from(escape), Errno::PERM);
        assert_eq!(
            Errno::from(io::Error::from(io::ErrorKind::NotFound)),
            Errno::NOENT
        );
        assert_eq!(Errno::from(rustix::io::Errno::NOTEMPTY), Errno::NOTEMPTY);
        assert_eq!(Errno::NOTCAPABLE, Errno(76));
        assert_eq!(Errno::NOSYS, Errno(52));
        assert_eq!(Errno::NOTSUP, Errno(58));
        assert_eq!(Errno::FAULT, Errno(21));
    }
}
