//! Programs built by Emscripten (issue 14) under `wasmo run`:
//! `tests/emscripten/io.c` (argv, a 16 MiB memset/memcpy and overlapping
//! memmoves past the 512 bytes at which Emscripten calls
//! `emscripten_memcpy_big`, heap growth, file I/O, stat and directories
//! through `--dir`, `exit` and `abort`).
//!
//! - `io.wasm` is a non-standalone build (`env` imports next to WASI,
//!   legalized `fd_seek`), started as Emscripten's JS starts it; its
//!   output and exit status must be what `node io.js` gives.
//! - `io-standalone.wasm` is `-sSTANDALONE_WASM` (pure WASI plus
//!   `env.emscripten_notify_memory_growth`, `_start`), which must give
//!   what Wasmtime gives (compared directly when a `wasmtime` is on the
//!   PATH or in `$WASMTIME`).
//!
//! CI has no Emscripten (Debian's package is 800 MB), so both builds are
//! checked in (`tests/emscripten/build.sh` rebuilds them); when `emcc` is
//! installed the test also rebuilds them from `io.c` and runs the fresh
//! builds, and node on the JS build, against the same expectations.
//!
//! Rule: the expectations are written here, never taken from a run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wasmo_tests::bin_path;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("emscripten")
}

fn bin(name: &str) -> PathBuf {
    match bin_path(name) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn run(cmd: &mut Command) -> Output {
    match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run {cmd:?}: {e}"),
    }
}

/// The stdout `io.c` prints for `args` (after `argv[0]`), `argv[0]`
/// being `argv0`.
fn expected_stdout(argv0: &str, args: &[&str]) -> String {
    let mut out = format!("argc={} argv0={argv0}\n", args.len() + 1);
    for (i, a) in args.iter().enumerate() {
        out += &format!("argv[{}]={a}\n", i + 1);
    }
    out += "memcpy d4a34bc9 969101be a5928605\ntime after 2020: 1\n";
    for a in args {
        match *a {
            "files" => {
                out += "read 1000 lines, last line 999\nsize 8890 regular 1\nmissing: 1\n\
                        sub has 3 entries, y 1\n";
            }
            "exit" | "abort" => break,
            _ => {}
        }
    }
    out
}

/// The exit status for `args`: `exit(7)`, `abort()`'s (`abort` of the
/// standalone build), else `main`'s 42.
fn expected_status(args: &[&str], abort: i32) -> i32 {
    match args.iter().find(|a| **a == "exit" || **a == "abort") {
        Some(&"exit") => 7,
        Some(_) => abort,
        None => 42,
    }
}

fn check(what: &str, out: &Output, argv0: &str, args: &[&str], abort: i32) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stdout,
        expected_stdout(argv0, args),
        "{what} {args:?}: stdout differs; stderr:\n{stderr}"
    );
    assert_eq!(
        out.status.code(),
        Some(expected_status(args, abort)),
        "{what} {args:?}: exit status; stderr:\n{stderr}"
    );
}

/// `wasmo run --argv0 ./this.program --dir SCRATCH::/ WASM ARGS`, with a
/// fresh scratch directory that the program must leave empty.
fn wasmo(wasm: &Path, args: &[&str], extra: &[&str]) -> Output {
    let scratch = tempfile::tempdir().expect("temporary directory");
    let dir_arg = format!("{}::/", scratch.path().display());
    let out = run(Command::new(bin("wasmo"))
        .args(["run", "--argv0", "./this.program", "--dir", &dir_arg])
        .args(extra)
        .arg(wasm)
        .args(args));
    let left: Vec<_> = std::fs::read_dir(scratch.path())
        .expect("scratch directory")
        .collect();
    assert!(left.is_empty(), "{args:?} left files behind: {left:?}");
    out
}

const EMSCRIPTEN_CASES: [&[&str]; 4] = [&["files"], &["files", "exit"], &["abort"], &[]];
const STANDALONE_CASES: [&[&str]; 3] = [&[], &["exit"], &["abort"]];
/// `abort()` in a non-standalone build traps (as a trap exits: 134).
const EMSCRIPTEN_ABORT: i32 = 134;
/// A standalone build's `abort()` is `proc_exit(1)`... as Wasmtime shows.
const STANDALONE_ABORT: i32 = 1;

fn check_emscripten_build(wasm: &Path) {
    for args in EMSCRIPTEN_CASES {
        let out = wasmo(wasm, args, &[]);
        check(
            "wasmo (emscripten)",
            &out,
            "./this.program",
            args,
            EMSCRIPTEN_ABORT,
        );
        if args.contains(&"abort") {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.starts_with("Aborted()\n"), "{stderr}");
        }
    }
}

fn check_standalone_build(wasm: &Path) {
    for args in STANDALONE_CASES {
        let out = wasmo(wasm, args, &[]);
        check(
            "wasmo (standalone)",
            &out,
            "./this.program",
            args,
            STANDALONE_ABORT,
        );
    }
}

#[test]
fn non_standalone_build_runs_as_under_node() {
    check_emscripten_build(&dir().join("io.wasm"));
}

#[test]
fn standalone_build_runs_as_under_wasmtime() {
    let wasm = dir().join("io-standalone.wasm");
    check_standalone_build(&wasm);
    let wasmtime = std::env::var_os("WASMTIME").unwrap_or_else(|| "wasmtime".into());
    if run_ok(Command::new(&wasmtime).arg("--version")).is_none() {
        println!("no `wasmtime` on the PATH or in $WASMTIME: not comparing against it");
        return;
    }
    for args in STANDALONE_CASES {
        let out = run(Command::new(&wasmtime)
            .args([
                "run",
                "-W",
                "unknown-imports-default",
                "--argv0",
                "./this.program",
            ])
            .arg(&wasm)
            .args(args));
        check(
            "wasmtime (standalone)",
            &out,
            "./this.program",
            args,
            STANDALONE_ABORT,
        );
    }
}

/// The heap cannot grow past `-W max-memory-size`: `malloc` fails and the
/// program says so (exit 2), rather than the limit being ignored.
#[test]
fn resize_heap_respects_max_memory_size() {
    let out = wasmo(
        &dir().join("io.wasm"),
        &[],
        &["-W", "max-memory-size=33554432"],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "argc=1 argv0=./this.program\nmalloc failed\n"
    );
    assert_eq!(out.status.code(), Some(2));
}

/// An `env` import wasmo does not provide stays an error naming it, in a
/// module that otherwise looks like an Emscripten build.
#[test]
fn unknown_env_import_is_an_error() {
    let scratch = tempfile::tempdir().expect("temporary directory");
    let wat = scratch.path().join("m.wat");
    std::fs::write(
        &wat,
        r#"(module
             (import "env" "setTempRet0" (func (param i32)))
             (import "env" "emscripten_no_such_thing" (func))
             (memory (export "memory") 1)
             (func (export "__wasm_call_ctors"))
             (global $sp (mut i32) (i32.const 4096))
             (func (export "stackAlloc") (param i32) (result i32)
               (global.set $sp (i32.sub (global.get $sp) (local.get 0)))
               (global.get $sp))
             ;; argc - 1 + the first byte of argv[0] - 'm': 0 for `m.wat`.
             (func (export "main") (param i32 i32) (result i32)
               (i32.add (i32.sub (local.get 0) (i32.const 1))
                 (i32.sub (i32.load8_u (i32.load (local.get 1))) (i32.const 0x6d)))))"#,
    )
    .expect("write m.wat");
    let out = run(Command::new(bin("wasmo"))
        .arg("run")
        .arg(&wat)
        .current_dir(scratch.path()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("unresolvable import `env.emscripten_no_such_thing`"),
        "{stderr}"
    );
    let out = run(Command::new(bin("wasmo"))
        .args(["run", "-W", "unknown-imports-default", "m.wat"])
        .current_dir(scratch.path()));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_ok(cmd: &mut Command) -> Option<Output> {
    cmd.output().ok().filter(|o| o.status.success())
}

/// With `emcc` installed: today's builds of `io.c` give the same, and so
/// does node on the JS build.
#[test]
fn fresh_emcc_builds_match() {
    if run_ok(Command::new("emcc").arg("--version")).is_none() {
        println!("no `emcc` (Debian package emscripten): only the checked-in builds are tested");
        return;
    }
    let tmp = tempfile::tempdir().expect("temporary directory");
    let src = dir().join("io.c");
    let js = tmp.path().join("io.js");
    let standalone = tmp.path().join("io-standalone.wasm");
    for (opt, out) in [("-O1", &js), ("-O2", &standalone)] {
        let o = run(Command::new("emcc")
            .args([opt, "-sALLOW_MEMORY_GROWTH=1"])
            .arg(&src)
            .arg("-o")
            .arg(out));
        assert!(
            o.status.success(),
            "emcc: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    check_emscripten_build(&tmp.path().join("io.wasm"));
    check_standalone_build(&standalone);
    // node (a dependency of Debian's emscripten) runs the JS build in
    // Emscripten's in-memory file system; `argv[0]` is the script.
    for args in EMSCRIPTEN_CASES {
        let out = run(Command::new("node")
            .arg("--no-experimental-fetch")
            .arg(&js)
            .args(args)
            .current_dir(tmp.path()));
        check("node", &out, &js.display().to_string(), args, 7);
    }
}
