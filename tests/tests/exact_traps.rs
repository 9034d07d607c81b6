//! Issue 9, defects 1 and 2: traps are exact under both bounds-check
//! strategies. An out-of-bounds access whose value is unused, or that LLVM
//! can prove dead, still traps; a fill or copy loop that runs out of
//! bounds traps instead of killing the process from inside a libc call.
//!
//! Everything runs through the real binaries (`wasmoc build`, `wasmo
//! exec`), as a user would, for wat modules and for a C program built with
//! clang-19; what an embedder sees after a trap (globals, memory: accesses
//! stay in order with other side effects) through the API.
//!
//! Rule: every case is checked under both strategies, and "it failed
//! somehow" is not a pass: the exit status is 134 and the first line of
//! stderr names the out-of-bounds trap.

use std::path::Path;
use std::process::Command;

use wasmo_artifact_format::{BoundsChecks, TrapCode};
use wasmo_loader::{CallError, Imports, Instance, Store, Val};
use wasmo_tests::{bin_path, call, load, optimised_ir, workspace_root};

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

/// What the embedder sees after a trap: the exported global `g` and the
/// first bytes of memory, through the API.
fn state_after_trap(text: &str, strategy: BoundsChecks, arg: i32) -> (i32, Vec<u8>) {
    let c = load(text, strategy);
    let mut store = Store::new(());
    let inst = match Instance::new(&mut store, &c.module, &Imports::new()) {
        Ok(i) => i,
        Err(e) => panic!("instantiation failed: {e}"),
    };
    let Some(f) = inst.get_func(&store, "f") else {
        panic!("no export `f`")
    };
    match call(&mut store, f, &[Val::I32(arg)]) {
        Err(CallError::Trap(t)) => assert_eq!(t.code, TrapCode::MemoryOutOfBounds, "{strategy:?}"),
        other => panic!("{strategy:?}: expected the out-of-bounds trap, got {other:?}"),
    }
    let g = match inst.get_global(&store, "g").map(|g| g.get(&store)) {
        Some(Val::I32(v)) => v,
        other => panic!("global g: {other:?}"),
    };
    let Some(memory) = inst.get_memory(&store, "m") else {
        panic!("no exported memory `m`")
    };
    (g, memory.data(&store).to_vec())
}

#[test]
fn issue9_trapping_accesses_stay_in_order_with_side_effects() {
    // A global updated in a loop that traps on its 17th load: LLVM must not
    // keep the global in a register across iterations (the trap would lose
    // the updates), and a store before the trapping access must happen
    // while a store after it must not, even where a later store to the
    // same place would let LLVM delete the earlier one as dead.
    let looped = r#"(module
        (memory (export "m") 1)
        (global $g (export "g") (mut i32) (i32.const 0))
        (func (export "f") (param $p i32) (local $i i32)
          (loop
            (global.set $g (i32.add (global.get $g) (i32.const 1)))
            (i32.store8 (local.get $i) (i32.const 7))
            (drop (i32.load (i32.add (local.get $p) (i32.mul (local.get $i) (i32.const 4096)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if 0 (i32.lt_u (local.get $i) (i32.const 100))))))"#;
    let straight = r#"(module
        (memory (export "m") 1)
        (global $g (export "g") (mut i32) (i32.const 0))
        (func (export "f") (param $p i32)
          (global.set $g (i32.const 1))
          (i32.store (i32.const 0) (i32.const 0x01020304))
          (i32.store (local.get $p) (i32.load (local.get $p)))
          (global.set $g (i32.const 2))
          (i32.store (i32.const 0) (i32.const 0x0a0b0c0d))
          (i32.store (i32.const 4) (i32.const 0x05060708))
          (memory.fill (i32.const 8) (i32.const 9) (i32.const 4))))"#;
    for strategy in [BoundsChecks::GuardPages, BoundsChecks::Explicit] {
        let (g, mem) = state_after_trap(looped, strategy, 0);
        assert_eq!(
            g, 17,
            "{strategy:?}: the loop's global updates before the trap"
        );
        assert_eq!(
            &mem[..16],
            &[7u8; 16],
            "{strategy:?}: the loop's stores before the trap"
        );
        let (g, mem) = state_after_trap(straight, strategy, 65534);
        assert_eq!(g, 1, "{strategy:?}: only the global set before the trap");
        assert_eq!(&mem[..8], &[4, 3, 2, 1, 0, 0, 0, 0], "{strategy:?}: memory");
    }
}

/// Issue 15: loop versioning (`compiler/src/loop_version.rs`) runs a copy
/// of a loop with ordinary accesses only when a check before the loop
/// proves every access of every iteration in bounds. Loops the check
/// refuses keep their exact traps: a forward fill that runs off the end
/// writes every in-bounds word first, and a backward one that wraps below
/// address 0 writes every word down to 0 first.
#[test]
fn issue15_versioned_loops_keep_exact_traps() {
    // Stores `i + 1` at `p + 4i` (`p - 4i` backward) for `i` in 0..100.
    let fill = |op: &str| {
        format!(
            r#"(module
        (memory (export "m") 1)
        (global (export "g") (mut i32) (i32.const 0))
        (func (export "f") (param $p i32) (local $i i32)
          (loop
            (i32.store ({op} (local.get $p) (i32.shl (local.get $i) (i32.const 2)))
                       (i32.add (local.get $i) (i32.const 1)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if 0 (i32.ne (local.get $i) (i32.const 100))))))"#
        )
    };
    let (forward, backward) = (fill("i32.add"), fill("i32.sub"));
    for strategy in [BoundsChecks::GuardPages, BoundsChecks::Explicit] {
        // Starts 16 words before the end: words 0..16 land, then the trap.
        let (_, mem) = state_after_trap(&forward, strategy, 65536 - 64);
        let words: Vec<u32> = mem[65536 - 64..]
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        assert_eq!(
            words,
            (1..=16).collect::<Vec<u32>>(),
            "{strategy:?}: forward"
        );
        // Starts at word 3: words 3, 2, 1, 0 land, then address -4 traps.
        let (_, mem) = state_after_trap(&backward, strategy, 12);
        assert_eq!(
            &mem[..16],
            &[4, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0],
            "{strategy:?}: backward"
        );
    }
}

/// Issue 15: a forward fill like the one above (with a trip count LLVM
/// cannot unroll first), in bounds, takes the versioned copy,
/// which LLVM vectorises (a vector store in the optimised IR), while the
/// exact, volatile loop stays beside it; and it computes what it should.
#[test]
fn issue15_affine_loop_is_versioned_and_vectorised() {
    let text = r#"(module
        (memory (export "m") 1)
        (func (export "f") (param $p i32) (param $n i32) (result i32) (local $i i32)
          (loop
            (i32.store (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2)))
                       (i32.add (local.get $i) (i32.const 1)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if 0 (i32.ne (local.get $i) (local.get $n))))
          (i32.load (i32.add (local.get $p) (i32.const 396)))))"#;
    let ir = optimised_ir(text);
    assert!(
        ir.contains("store <"),
        "no vector store in the versioned loop:\n{ir}"
    );
    assert!(
        ir.contains("store volatile i32"),
        "the exact loop is gone:\n{ir}"
    );

    let c = load(text, BoundsChecks::GuardPages);
    let mut store = Store::new(());
    let inst = Instance::new(&mut store, &c.module, &Imports::new())
        .unwrap_or_else(|e| panic!("instantiation failed: {e}"));
    let f = inst
        .get_func(&store, "f")
        .unwrap_or_else(|| panic!("no export `f`"));
    match call(&mut store, f, &[Val::I32(1000), Val::I32(100)]) {
        Ok(v) => assert!(
            matches!(v.as_slice(), [Val::I32(100)]),
            "f(1000, 100) = {v:?}"
        ),
        Err(e) => panic!("f(1000, 100): {e:?}"),
    }
    let memory = inst
        .get_memory(&store, "m")
        .unwrap_or_else(|| panic!("no exported memory `m`"));
    let words: Vec<u32> = memory.data(&store)[1000..1400]
        .chunks(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    assert_eq!(words, (1..=100).collect::<Vec<u32>>());
}
