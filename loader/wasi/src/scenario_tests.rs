//! Host-function tests without a compiled guest: call the table's handlers
//! directly on a byte array standing in for linear memory.
//!
//! Rule: these go through [`crate::table::FUNCS`] by name, exactly as a
//! guest call would (arguments as `Val`s, errno as the result).

use std::path::Path;

use wasmo_loader::Val;

use crate::abi::{oflags, rights};
use crate::ctx::{Preopen, WasiConfig, WasiCtx};
use crate::errno::Errno;
use crate::mem::Mem;
use crate::table::{Args, Kind, FUNCS};

struct Guest {
    ctx: WasiCtx,
    mem: Vec<u8>,
}

/// A guest-call argument.
#[derive(Clone, Copy)]
enum A {
    W(u32),
    L(u64),
}

impl Guest {
    fn new(sandbox: &Path, read_only: bool) -> Guest {
        let cfg = WasiConfig {
            args: vec!["prog".into(), "x".into()],
            env: vec![],
            preopens: vec![Preopen {
                host: sandbox.to_path_buf(),
                guest: "/sandbox".into(),
                read_only,
            }],
        };
        Guest {
            ctx: WasiCtx::new(cfg).unwrap(),
            mem: vec![0; 65536],
        }
    }

    fn call(&mut self, name: &str, args: &[A]) -> Errno {
        let f = FUNCS.iter().find(|f| f.name == name).unwrap();
        let Kind::Errno(h) = f.kind else {
            panic!("{name} returns nothing")
        };
        let vals: Vec<Val> = args
            .iter()
            .map(|a| match *a {
                A::W(v) => Val::I32(v.cast_signed()),
                A::L(v) => Val::I64(v.cast_signed()),
            })
            .collect();
        assert_eq!(vals.len(), f.params.len(), "{name} arity");
        match h(&mut self.ctx, &mut Mem::new(&mut self.mem), &Args(&vals)) {
            Ok(()) => Errno::SUCCESS,
            Err(e) => e,
        }
    }

    fn put(&mut self, at: usize, bytes: &[u8]) {
        self.mem[at..at + bytes.len()].copy_from_slice(bytes);
    }

    fn u32_at(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.mem[at..at + 4].try_into().unwrap())
    }

    /// `path_open` of `path` under fd 3; the new fd, or the errno.
    fn open(&mut self, path: &str, oflags: u16, base: u64) -> Result<u32, Errno> {
        self.put(1000, path.as_bytes());
        let args = [
            A::W(3),
            A::W(1),
            A::W(1000),
            A::W(path.len() as u32),
            A::W(oflags.into()),
            A::L(base),
            A::L(base),
            A::W(0),
            A::W(2000),
        ];
        match self.call("path_open", &args) {
            Errno::SUCCESS => Ok(self.u32_at(2000)),
            e => Err(e),
        }
    }
}

const READ: u64 = rights::FILE_ALL
    & !(rights::FD_WRITE
        | rights::FD_DATASYNC
        | rights::FD_ALLOCATE
        | rights::FD_FILESTAT_SET_SIZE)
    | rights::FD_READDIR;
const ALL: u64 = u64::MAX >> 34;

#[test]
fn directory_listing_through_an_opened_directory() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("d")).unwrap();
    std::fs::write(tmp.path().join("d/a.txt"), "x").unwrap();
    let mut g = Guest::new(tmp.path(), false);
    let fd = g.open("d", oflags::DIRECTORY, READ).unwrap();
    assert_eq!(
        g.call(
            "fd_readdir",
            &[A::W(fd), A::W(4096), A::W(4096), A::L(0), A::W(3000)]
        ),
        Errno::SUCCESS
    );
    let used = g.u32_at(3000) as usize;
    assert_eq!(used, 3 * 24 + 1 + 2 + 5);
    let names: Vec<u8> = g.mem[4096..4096 + used].to_vec();
    assert!(names.windows(5).any(|w| w == b"a.txt"));
    assert_eq!(
        g.call(
            "fd_readdir",
            &[A::W(3), A::W(4096), A::W(4096), A::L(0), A::W(3000)]
        ),
        Errno::SUCCESS
    );
}

#[test]
fn read_only_preopens_refuse_writes_with_eperm() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("f"), "data").unwrap();
    let mut g = Guest::new(tmp.path(), true);
    assert_eq!(g.open("f", 0, ALL), Err(Errno::PERM));
    assert_eq!(g.open("new", oflags::CREAT, READ), Err(Errno::PERM));
    let fd = g.open("f", 0, READ).unwrap();
    g.put(100, &[0, 2, 0, 0, 4, 0, 0, 0]);
    assert_eq!(
        g.call("fd_write", &[A::W(fd), A::W(100), A::W(1), A::W(200)]),
        Errno::BADF
    );
    assert_eq!(
        g.call("fd_read", &[A::W(fd), A::W(100), A::W(1), A::W(200)]),
        Errno::SUCCESS
    );
    assert_eq!(g.u32_at(200), 4);
    assert_eq!(&g.mem[512..516], b"data");
}

#[test]
fn bad_pointers_are_efault_and_bad_fds_ebadf() {
    let tmp = tempfile::tempdir().unwrap();
    let mut g = Guest::new(tmp.path(), false);
    assert_eq!(
        g.call("args_sizes_get", &[A::W(65534), A::W(0)]),
        Errno::FAULT
    );
    assert_eq!(
        g.call("fd_write", &[A::W(1), A::W(u32::MAX - 3), A::W(1), A::W(0)]),
        Errno::FAULT
    );
    g.put(100, &[0xf0, 0xff, 0, 0, 0x20, 0, 0, 0]);
    assert_eq!(
        g.call("fd_write", &[A::W(1), A::W(100), A::W(1), A::W(0)]),
        Errno::FAULT
    );
    assert_eq!(
        g.call(
            "fd_write",
            &[A::W(1), A::W(100), A::W(0x2000_0000), A::W(0)]
        ),
        Errno::FAULT
    );
    assert_eq!(
        g.call("poll_oneoff", &[A::W(0), A::W(0), A::W(u32::MAX), A::W(0)]),
        Errno::FAULT
    );
    assert_eq!(
        g.call("random_get", &[A::W(65000), A::W(1000)]),
        Errno::FAULT
    );
    assert_eq!(g.call("fd_close", &[A::W(77)]), Errno::BADF);
    assert_eq!(g.call("sock_shutdown", &[A::W(77), A::W(0)]), Errno::BADF);
    assert_eq!(g.call("sock_shutdown", &[A::W(1), A::W(0)]), Errno::NOTSOCK);
    assert_eq!(
        g.call("clock_time_get", &[A::W(9), A::L(0), A::W(0)]),
        Errno::INVAL
    );
    assert_eq!(
        g.call("fd_prestat_get", &[A::W(3), A::W(0)]),
        Errno::SUCCESS
    );
    assert_eq!(g.u32_at(4), "/sandbox".len() as u32);
    assert_eq!(
        g.call("fd_prestat_dir_name", &[A::W(3), A::W(0), A::W(3)]),
        Errno::NAMETOOLONG
    );
    assert_eq!(g.call("fd_prestat_get", &[A::W(1), A::W(0)]), Errno::BADF);
}

#[test]
fn args_are_laid_out_like_a_c_argv() {
    let tmp = tempfile::tempdir().unwrap();
    let mut g = Guest::new(tmp.path(), false);
    assert_eq!(
        g.call("args_sizes_get", &[A::W(0), A::W(4)]),
        Errno::SUCCESS
    );
    assert_eq!((g.u32_at(0), g.u32_at(4)), (2, 7));
    assert_eq!(g.call("args_get", &[A::W(100), A::W(200)]), Errno::SUCCESS);
    assert_eq!((g.u32_at(100), g.u32_at(104)), (200, 205));
    assert_eq!(&g.mem[200..207], b"prog\0x\0");
}

#[test]
fn renumber_moves_and_rights_only_shrink() {
    let tmp = tempfile::tempdir().unwrap();
    let mut g = Guest::new(tmp.path(), false);
    let fd = g.open("f", oflags::CREAT, ALL).unwrap();
    assert_eq!(
        g.call(
            "fd_fdstat_set_rights",
            &[A::W(fd), A::L(rights::FD_READ), A::L(0)]
        ),
        Errno::SUCCESS
    );
    assert_eq!(
        g.call(
            "fd_fdstat_set_rights",
            &[A::W(fd), A::L(rights::FD_WRITE), A::L(0)]
        ),
        Errno::NOTCAPABLE
    );
    assert_eq!(g.call("fd_renumber", &[A::W(fd), A::W(1)]), Errno::SUCCESS);
    assert_eq!(g.call("fd_close", &[A::W(fd)]), Errno::BADF);
    assert_eq!(g.call("fd_fdstat_get", &[A::W(1), A::W(0)]), Errno::SUCCESS);
    assert_eq!(g.mem[0], crate::abi::filetype::REGULAR_FILE);
    assert_eq!(g.call("fd_renumber", &[A::W(1), A::W(99)]), Errno::BADF);
}

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// An argument biased towards the edges of a 4 KiB memory.
    fn arg(&mut self, wide: bool) -> A {
        let edges = [
            0,
            1,
            3,
            4,
            8,
            4088,
            4092,
            4095,
            4096,
            4097,
            u64::from(u32::MAX),
            u64::from(u32::MAX - 3),
        ];
        let r = self.next();
        let v = match r % 4 {
            0 => edges[(r >> 8) as usize % edges.len()],
            1 => (r >> 8) % 4096,
            2 => (r >> 8) % 16,
            _ => r >> 8,
        };
        if wide {
            A::L(v)
        } else {
            A::W(v as u32)
        }
    }
}

/// Every errno-returning function, called thousands of times with hostile
/// arguments on hostile memory, returns an errno: no panic, no hang.
/// (`poll_oneoff` is left out only because random timeouts would sleep;
/// the standard streams are closed so nothing blocks on a terminal.)
#[test]
fn hostile_arguments_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("f"), "contents").unwrap();
    std::fs::create_dir(tmp.path().join("d")).unwrap();
    let mut g = Guest::new(tmp.path(), false);
    g.mem = vec![0; 4096];
    for fd in 0..3 {
        g.ctx.fds.remove(&fd);
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..1000 {
        for f in FUNCS
            .iter()
            .filter(|f| matches!(f.kind, Kind::Errno(_)) && f.name != "poll_oneoff")
        {
            for b in g.mem.iter_mut() {
                *b = (rng.next() >> 32) as u8 & if round % 2 == 0 { 0x7f } else { 0xff };
            }
            let args: Vec<A> = f
                .params
                .iter()
                .map(|t| rng.arg(*t == wasmo_loader::ValType::I64))
                .collect();
            let _ = g.call(f.name, &args);
        }
    }
    let _ = g.ctx.get(3);
}

#[test]
fn poll_reports_expired_timers_and_bad_clocks() {
    let tmp = tempfile::tempdir().unwrap();
    let mut g = Guest::new(tmp.path(), false);
    let sub = |g: &mut Guest, i: usize, userdata: u64, clock: u32, timeout: u64, flags: u16| {
        let at = 100 + i * 48;
        g.put(at, &userdata.to_le_bytes());
        g.put(at + 8, &[0]);
        g.put(at + 16, &clock.to_le_bytes());
        g.put(at + 24, &timeout.to_le_bytes());
        g.put(at + 40, &flags.to_le_bytes());
    };
    sub(&mut g, 0, 11, 1, 2_000_000, 0);
    sub(&mut g, 1, 22, 1, 0, 1);
    sub(&mut g, 2, 33, 7, 0, 0);
    let start = std::time::Instant::now();
    assert_eq!(
        g.call("poll_oneoff", &[A::W(100), A::W(1000), A::W(3), A::W(90)]),
        Errno::SUCCESS
    );
    assert!(
        start.elapsed() < std::time::Duration::from_secs(1),
        "an expired timer must not wait"
    );
    assert_eq!(g.u32_at(90), 2);
    let event = |g: &Guest, i: usize| {
        let at = 1000 + i * 32;
        (
            g.mem[at],
            u16::from_le_bytes([g.mem[at + 8], g.mem[at + 9]]),
            g.mem[at + 10],
        )
    };
    assert_eq!(event(&g, 0), (33, Errno::INVAL.0, 0));
    assert_eq!(event(&g, 1), (22, 0, 0));

    assert_eq!(
        g.call("poll_oneoff", &[A::W(100), A::W(1000), A::W(1), A::W(90)]),
        Errno::SUCCESS
    );
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(2),
        "a relative timer waits"
    );
    assert_eq!((g.u32_at(90), event(&g, 0)), (1, (11, 0, 0)));
}

/// Issue 9, defect 12: a file opened read-only through a read-only
/// preopen kept `fd_filestat_set_times`, so the guest could change the
/// host file's timestamps.
#[test]
fn issue9_read_only_preopen_refuses_set_times() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("f");
    std::fs::write(&file, "data").unwrap();
    let before = std::fs::metadata(&file).unwrap().modified().unwrap();
    let mut g = Guest::new(tmp.path(), true);
    let fd = g.open("f", 0, READ).unwrap();
    // fstflags: atim_now | mtim_now.
    assert_eq!(
        g.call(
            "fd_filestat_set_times",
            &[A::W(fd), A::L(0), A::L(0), A::W(0b1010)]
        ),
        Errno::PERM
    );
    // Explicit times (atim | mtim), the form that moves them backwards.
    assert_eq!(
        g.call(
            "fd_filestat_set_times",
            &[A::W(fd), A::L(1), A::L(1), A::W(0b0101)]
        ),
        Errno::PERM
    );
    assert_eq!(
        g.call(
            "fd_filestat_set_times",
            &[A::W(3), A::L(1), A::L(1), A::W(0b0101)]
        ),
        Errno::PERM
    );
    g.put(1000, b"f");
    assert_eq!(
        g.call(
            "path_filestat_set_times",
            &[
                A::W(3),
                A::W(1),
                A::W(1000),
                A::W(1),
                A::L(1),
                A::L(1),
                A::W(0b0101)
            ]
        ),
        Errno::PERM
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        before
    );
}
