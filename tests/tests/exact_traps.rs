//! Issue 9, defects 1 and 2: traps are exact under both bounds-check
//! strategies. An out-of-bounds access whose value is unused, or that LLVM
//! can prove dead, still traps; a fill or copy loop that runs out of
//! bounds traps instead of killing the process from inside a libc call.
//!
//! Everything runs through the real binaries (`wasmoc build`, `wasmo
//! exec`), as a user would, for wat modules and for a C program built with
//! clang-19.
//!
//! Rule: every case is checked under both strategies, and "it failed
//! somehow" is not a pass: the exit status is 134 and the first line of
//! stderr names the out-of-bounds trap.

use std::path::Path;
use std::process::Command;

use wasmo_tests::{bin_path, workspace_root};

const STRATEGIES: [&str; 2] = ["guard-pages", "explicit"];
const OOB: &str = "error: wasm trap: out of bounds memory access";

/// Compiles `wasm` (a `.wat` or `.wasm` path) with `strategy` into `dir`.
fn build(wasm: &Path, strategy: &str, dir: &Path) -> std::path::PathBuf {
    let artifact = dir.join(format!("app-{strategy}.wasmo"));
    let out = Command::new(bin_path("wasmoc").unwrap_or_else(|e| panic!("{e}")))
        .args(["build", "--bounds-checks", strategy])
        .arg(wasm)
        .arg("-o")
        .arg(&artifact)
        .output()
        .unwrap_or_else(|e| panic!("running wasmoc: {e}"));
    assert!(
        out.status.success(),
        "wasmoc build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    artifact
}

/// Runs `wasmo exec ARGS` and returns (status, stdout, stderr).
fn exec(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(bin_path("wasmo").unwrap_or_else(|e| panic!("{e}")))
        .arg("exec")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running wasmo: {e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_oob(what: &str, (status, stdout, stderr): (Option<i32>, String, String)) {
    assert_eq!(
        (status, stderr.lines().next()),
        (Some(134), Some(OOB)),
        "{what}: expected the out-of-bounds trap\nstdout: {stdout}\nstderr: {stderr}"
    );
}

/// Each wat case exports `f`, which must trap when called with `arg`.
fn check_wat(name: &str, text: &str, arg: &str) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let wat = dir.path().join(format!("{name}.wat"));
    std::fs::write(&wat, text).unwrap_or_else(|e| panic!("writing {name}.wat: {e}"));
    for strategy in STRATEGIES {
        let artifact = build(&wat, strategy, dir.path());
        let artifact = artifact.to_string_lossy();
        assert_oob(
            &format!("{name} ({strategy})"),
            exec(&["--invoke", "f", &artifact, arg]),
        );
    }
}

#[test]
fn issue9_unused_load_traps() {
    check_wat(
        "unused_load",
        r#"(module (memory 1)
             (func (export "f") (param i32) (local i32)
               (local.set 1 (i32.load (local.get 0)))))"#,
        "2147418112", // 0x7fff0000
    );
}

#[test]
fn issue9_load_llvm_proves_dead_traps() {
    check_wat(
        "dead_by_folding",
        r#"(module (memory 1)
             (func (export "f") (param i32) (result i32)
               (i32.mul (i32.load (local.get 0)) (i32.const 0))))"#,
        "2147418112",
    );
    check_wat(
        "dead_by_select",
        r#"(module (memory 1)
             (func (export "f") (param i32) (result i64)
               (select (i64.load8_u offset=7 (local.get 0)) (i64.const 5) (i32.const 0))))"#,
        "65529",
    );
    check_wat(
        "dead_in_loop",
        r#"(module (memory 1)
             (func (export "f") (param i32) (local i32)
               (loop
                 (local.set 1 (i32.add (local.get 1)
                   (i32.and (f32.ne (f32.load (local.get 0)) (f32.load (local.get 0)))
                            (i32.const 0))))
                 (local.set 0 (i32.add (local.get 0) (i32.const 4096)))
                 (br_if 0 (i32.lt_u (local.get 0) (i32.const 200000))))))"#,
        "0",
    );
}

#[test]
fn issue9_store_loops_past_the_end_trap() {
    // Constant start and trip count: LLVM proves the addresses never wrap
    // and, with ordinary stores, turns these loops into memset/memcpy calls
    // that fault inside libc (the process died with SIGSEGV).
    check_wat(
        "fill_loop",
        r#"(module (memory 1)
             (func (export "f") (param i32) (local i32)
               (loop
                 (i32.store8 (i32.add (local.get 1) (i32.const 60000)) (local.get 0))
                 (local.set 1 (i32.add (local.get 1) (i32.const 1)))
                 (br_if 0 (i32.lt_u (local.get 1) (i32.const 1000000))))))"#,
        "0",
    );
    check_wat(
        "copy_loop",
        r#"(module (memory 1)
             (func (export "f") (param i32) (local i32)
               (loop
                 (i32.store8 (i32.add (local.get 1) (i32.const 60000))
                             (i32.load8_u (i32.add (local.get 1) (local.get 0))))
                 (local.set 1 (i32.add (local.get 1) (i32.const 1)))
                 (br_if 0 (i32.lt_u (local.get 1) (i32.const 1000000))))))"#,
        "1024",
    );
}

fn clang_wasm(src: &Path, out: &Path) {
    let status = Command::new("clang-19")
        .args([
            "--target=wasm32-wasi",
            "-O2",
            "-fno-builtin",
            "--sysroot=/usr",
            "-isystem",
            "/usr/include/wasm32-wasi",
        ])
        .arg(src)
        .arg("-o")
        .arg(out)
        .status()
        .unwrap_or_else(|e| panic!("cannot run clang-19 ({e}); run .ci/setup"));
    assert!(status.success(), "clang-19 failed on {}", src.display());
}

#[test]
fn issue9_c_fill_and_copy_loops_out_of_bounds_trap() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let wasm = dir.path().join("fill.wasm");
    clang_wasm(&workspace_root().join("tests/exact_traps/fill.c"), &wasm);
    for strategy in STRATEGIES {
        let artifact = build(&wasm, strategy, dir.path());
        let artifact = artifact.to_string_lossy();
        // In bounds: runs to the end.
        let (status, stdout, stderr) = exec(&[&artifact, "small"]);
        assert_eq!(
            (status, stdout.as_str()),
            (Some(0), "7\n"),
            "in-bounds fill ({strategy}): {stderr}"
        );
        for mode in ["set", "copy"] {
            assert_oob(&format!("{mode} ({strategy})"), exec(&[&artifact, mode]));
        }
    }
}
