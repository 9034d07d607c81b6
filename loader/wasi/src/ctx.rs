//! The WASI context: configuration (arguments, environment, preopened
//! directories) and the guest's file-descriptor table.
//!
//! Rule: the guest reaches the host file system only through a
//! [`cap_std::fs::Dir`] opened here from a [`Preopen`] or through
//! descriptors opened relative to one; no code in this crate opens an
//! ambient path anywhere else.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::PathBuf;

use cap_std::fs::{Dir, File};

use crate::abi::rights;
use crate::errno::Errno;
use crate::readdir::DirEntry;

/// What the guest sees: its arguments, environment and directories.
/// stdin, stdout and stderr are always the host's (fds 0, 1, 2).
#[derive(Debug, Clone, Default)]
pub struct WasiConfig {
    /// `argv`, including the program name as `args[0]`.
    pub args: Vec<String>,
    /// Environment variables, in order. Values are bytes, as WASI's
    /// environment strings are: a host value need not be UTF-8.
    pub env: Vec<(String, OsString)>,
    /// Directories the guest may use, as fds 3, 4, ... in this order.
    pub preopens: Vec<Preopen>,
}

/// A host directory made visible to the guest.
#[derive(Debug, Clone)]
pub struct Preopen {
    /// The directory on the host.
    pub host: PathBuf,
    /// The name the guest sees (`.`, `/sandbox`, ...).
    pub guest: String,
    /// Refuse everything that would change the tree (`EPERM`).
    pub read_only: bool,
}

/// Why a WASI context cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum WasiError {
    /// A preopened directory cannot be opened.
    #[error("cannot open directory {} for the guest: {source}", host.display())]
    Preopen {
        /// The host path.
        host: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A `--env` value without a variable name.
    #[error("invalid environment variable `{0}`: expected NAME=VALUE or NAME")]
    EnvSpec(String),
    /// An argument or environment string contains a NUL byte, which the
    /// guest could not see.
    #[error("{what} contains a nul byte: {value:?}")]
    Nul {
        /// `argument` or `environment variable`.
        what: &'static str,
        /// The offending string.
        value: String,
    },
}

/// The host object behind a guest descriptor.
#[derive(Debug)]
pub enum Handle {
    /// The host's stdin.
    Stdin,
    /// The host's stdout.
    Stdout,
    /// The host's stderr.
    Stderr,
    /// A file opened under a preopen.
    File(File),
    /// A preopen or a directory opened under one.
    Dir(Dir),
}

impl Handle {
    /// The OS descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Handle::Stdin => rustix::stdio::stdin(),
            Handle::Stdout => rustix::stdio::stdout(),
            Handle::Stderr => rustix::stdio::stderr(),
            Handle::File(f) => f.as_fd(),
            Handle::Dir(d) => d.as_fd(),
        }
    }

    /// Whether this is a standard stream.
    pub fn is_stdio(&self) -> bool {
        matches!(self, Handle::Stdin | Handle::Stdout | Handle::Stderr)
    }
}

/// One guest descriptor.
#[derive(Debug)]
pub struct FdEntry {
    /// The host object.
    pub handle: Handle,
    /// Rights on this descriptor.
    pub base: u64,
    /// Rights descriptors opened through this one may have.
    pub inheriting: u64,
    /// The guest name if this is a preopen (for `fd_prestat_*`).
    pub preopen: Option<String>,
    /// Whether it comes from a read-only preopen.
    pub read_only: bool,
    /// The directory listing `fd_readdir` is paging through: taken at
    /// cookie 0 and reused for later cookies, so that entries removed or
    /// added meanwhile do not shift the cookies.
    pub listing: Option<Vec<DirEntry>>,
}

impl FdEntry {
    /// `Ok` if every bit of `needed` is in the base rights, otherwise
    /// `ENOTCAPABLE`.
    pub fn require(&self, needed: u64) -> Result<(), Errno> {
        if self.base & needed == needed {
            Ok(())
        } else {
            Err(Errno::NOTCAPABLE)
        }
    }

    /// `EPERM` if this descriptor comes from a read-only preopen: every
    /// call that changes the host file system (contents, size, times,
    /// entries) checks this first, whatever rights the descriptor holds.
    pub fn require_mutable(&self) -> Result<(), Errno> {
        if self.read_only {
            Err(Errno::PERM)
        } else {
            Ok(())
        }
    }

    /// The directory behind this descriptor with `needed` rights;
    /// `mutates` refuses read-only preopens with `EPERM`.
    pub fn dir(&self, needed: u64, mutates: bool) -> Result<&Dir, Errno> {
        let Handle::Dir(d) = &self.handle else {
            return Err(Errno::NOTDIR);
        };
        if mutates {
            self.require_mutable()?;
        }
        self.require(needed)?;
        Ok(d)
    }
}

/// The most descriptors a guest may hold; the host's own limit usually
/// bites first.
const MAX_FDS: usize = 1 << 20;

/// The WASI state of one program: configuration and descriptor table.
#[derive(Debug)]
pub struct WasiCtx {
    pub(crate) args: Vec<Vec<u8>>,
    pub(crate) env: Vec<Vec<u8>>,
    pub(crate) fds: BTreeMap<u32, FdEntry>,
}

fn nul_terminated(what: &'static str, mut v: Vec<u8>) -> Result<Vec<u8>, WasiError> {
    if v.contains(&0) {
        let value = String::from_utf8_lossy(&v).into_owned();
        return Err(WasiError::Nul { what, value });
    }
    v.push(0);
    Ok(v)
}

fn stdio(handle: Handle, rights: u64) -> FdEntry {
    FdEntry {
        handle,
        base: rights,
        inheriting: 0,
        preopen: None,
        read_only: false,
        listing: None,
    }
}

/// Descriptors 0, 1 and 2: the host's standard input, output and error.
fn stdio_table() -> BTreeMap<u32, FdEntry> {
    let mut fds = BTreeMap::new();
    fds.insert(0, stdio(Handle::Stdin, rights::STDIO & !rights::FD_WRITE));
    fds.insert(1, stdio(Handle::Stdout, rights::STDIO & !rights::FD_READ));
    fds.insert(2, stdio(Handle::Stderr, rights::STDIO & !rights::FD_READ));
    fds
}

impl Default for WasiCtx {
    /// Standard input, output and error only: no arguments, environment
    /// or preopened directories (what `WasiCtx::new` makes of
    /// `WasiConfig::default()`, without its fallible steps).
    fn default() -> WasiCtx {
        WasiCtx {
            args: Vec::new(),
            env: Vec::new(),
            fds: stdio_table(),
        }
    }
}

impl WasiCtx {
    /// Opens the preopened directories and builds the descriptor table.
    pub fn new(cfg: WasiConfig) -> Result<WasiCtx, WasiError> {
        let args = cfg
            .args
            .into_iter()
            .map(|a| nul_terminated("argument", a.into_bytes()))
            .collect::<Result<_, _>>()?;
        let env = cfg
            .env
            .into_iter()
            .map(|(k, v)| {
                let mut entry = k.into_bytes();
                entry.push(b'=');
                entry.extend_from_slice(v.as_bytes());
                nul_terminated("environment variable", entry)
            })
            .collect::<Result<_, _>>()?;
        let mut fds = stdio_table();
        let mut next = 3u32;
        for p in cfg.preopens {
            let dir =
                Dir::open_ambient_dir(&p.host, cap_std::ambient_authority()).map_err(|source| {
                    WasiError::Preopen {
                        host: p.host.clone(),
                        source,
                    }
                })?;
            // A read-only preopen still passes write rights on, so that
            // wasi-libc asks for them and `open(O_WRONLY)` fails at once
            // with EPERM (from the `read_only` flag) instead of opening a
            // descriptor whose writes fail later.
            let base = if p.read_only {
                rights::DIR_ALL & !rights::DIR_WRITE
            } else {
                rights::DIR_ALL
            };
            let inheriting = rights::DIR_ALL | rights::FILE_ALL;
            let entry = FdEntry {
                handle: Handle::Dir(dir),
                base,
                inheriting,
                preopen: Some(p.guest),
                read_only: p.read_only,
                listing: None,
            };
            fds.insert(next, entry);
            next = next.saturating_add(1);
        }
        Ok(WasiCtx { args, env, fds })
    }

    /// The entry for `fd`, or `EBADF`.
    pub(crate) fn get(&self, fd: u32) -> Result<&FdEntry, Errno> {
        self.fds.get(&fd).ok_or(Errno::BADF)
    }

    /// The entry for `fd`, mutably, or `EBADF`.
    pub(crate) fn get_mut(&mut self, fd: u32) -> Result<&mut FdEntry, Errno> {
        self.fds.get_mut(&fd).ok_or(Errno::BADF)
    }

    /// Puts `entry` at the lowest free descriptor.
    pub(crate) fn insert(&mut self, entry: FdEntry) -> Result<u32, Errno> {
        if self.fds.len() >= MAX_FDS {
            return Err(Errno::MFILE);
        }
        let mut fd = 0u32;
        for &used in self.fds.keys() {
            if used != fd {
                break;
            }
            fd = fd.checked_add(1).ok_or(Errno::MFILE)?;
        }
        self.fds.insert(fd, entry);
        Ok(fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preopens_follow_the_standard_streams() {
        let tmp = std::env::temp_dir();
        let cfg = WasiConfig {
            args: vec!["prog".into()],
            env: vec![("K".into(), "V".into())],
            preopens: vec![Preopen {
                host: tmp,
                guest: "/tmp".into(),
                read_only: true,
            }],
        };
        let mut ctx = WasiCtx::new(cfg).unwrap();
        assert_eq!(ctx.get(3).unwrap().preopen.as_deref(), Some("/tmp"));
        assert!(ctx.get(3).unwrap().read_only);
        assert_eq!(ctx.env, vec![b"K=V\0".to_vec()]);
        let e = stdio(Handle::Stdin, 0);
        assert_eq!(ctx.insert(e).unwrap(), 4);
        ctx.fds.remove(&1);
        assert_eq!(ctx.insert(stdio(Handle::Stdout, 0)).unwrap(), 1);
    }

    #[test]
    fn bad_configuration_is_an_error() {
        let cfg = WasiConfig {
            args: vec!["a\0b".into()],
            ..WasiConfig::default()
        };
        assert!(matches!(WasiCtx::new(cfg), Err(WasiError::Nul { .. })));
        let host = PathBuf::from("/nonexistent/wasmo-wasi-test");
        let cfg = WasiConfig {
            preopens: vec![Preopen {
                host,
                guest: "/".into(),
                read_only: false,
            }],
            ..WasiConfig::default()
        };
        assert!(WasiCtx::new(cfg)
            .unwrap_err()
            .to_string()
            .starts_with("cannot open directory /nonexistent"));
    }
}
