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
use wasmo_tests::{bin_path, call, call_export, load, optimised_ir, workspace_root};

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
    let ir = optimised_ir(text, &["-O2"]);
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

/// An instance of wat `text` built under guard pages, in a new store,
/// with its exported memory `m` (and the compiled module, which must
/// outlive it).
fn guarded_instance(
    text: &str,
) -> (
    wasmo_tests::Compiled,
    Store<()>,
    Instance,
    wasmo_loader::Memory,
) {
    let c = load(text, BoundsChecks::GuardPages);
    let (store, inst, memory) = fresh_instance(&c);
    (c, store, inst, memory)
}

/// An instance of `c` in a new store, with its exported memory `m`.
fn fresh_instance(c: &wasmo_tests::Compiled) -> (Store<()>, Instance, wasmo_loader::Memory) {
    let mut store = Store::new(());
    let inst = Instance::new(&mut store, &c.module, &Imports::new())
        .unwrap_or_else(|e| panic!("instantiation failed: {e}"));
    let memory = inst
        .get_memory(&store, "m")
        .unwrap_or_else(|| panic!("no exported memory `m`"));
    (store, inst, memory)
}

/// A dot product of the words at 0 and at [`DOT_WORDS`] `* 4` (each
/// [`DOT_WORDS`] long) unrolled `ways` times by hand, as clang unrolls for
/// wasm: each iteration reads `ways` consecutive words of each array.
fn unrolled_dot(ways: u32) -> String {
    let body: String = (0..ways)
        .map(|k| {
            format!(
                "(local.set $s (i32.add (local.get $s) (i32.mul
                   (i32.load offset={a} (local.get $i))
                   (i32.load offset={b} (local.get $i)))))\n",
                a = 4 * k,
                b = 4 * (k + DOT_WORDS)
            )
        })
        .collect();
    format!(
        r#"(module
        (memory (export "m") 1)
        (func (export "dot") (result i32) (local $i i32) (local $s i32)
          (loop
            {body}
            (local.set $i (i32.add (local.get $i) (i32.const {step})))
            (br_if 0 (i32.ne (local.get $i) (i32.const {end}))))
          (local.get $s)))"#,
        step = 4 * ways,
        end = 4 * DOT_WORDS
    )
}

/// Words of each array [`unrolled_dot`] reads.
const DOT_WORDS: u32 = 1024;

/// The `--cpu native` saxpy regression (found in issue 13's benchmark run):
/// a versioned loop whose accesses were unrolled more than LLVM's loop
/// vectoriser groups (8 elements per iteration) is still versioned, but
/// its copy is marked not to be vectorised, since the vectoriser could only
/// widen it into a scalar load and an `insertelement` per lane (3x slower
/// on Zen 5). A loop unrolled 4 times still becomes wide loads and
/// shuffles. Compiled for AVX-512, where the vectoriser did gather; the
/// marked copy computes the right sum.
#[test]
fn issue13_copy_of_an_overly_unrolled_loop_is_not_gathered() {
    const NO_VECTORS: &str = r#"!{!"llvm.loop.vectorize.enable", i1 false}"#;
    let ir = optimised_ir(&unrolled_dot(16), &["-O2", "--cpu", "x86-64-v4"]);
    assert!(ir.contains(NO_VECTORS), "the copy is not marked:\n{ir}");
    assert!(
        !ir.contains("insertelement"),
        "the copy is vectorised lane by lane:\n{ir}"
    );
    assert!(
        ir.lines().any(|l| l.trim_start().starts_with("versioned")),
        "the loop is not versioned:\n{ir}"
    );
    let ir = optimised_ir(&unrolled_dot(4), &["-O2", "--cpu", "x86-64-v4"]);
    assert!(!ir.contains(NO_VECTORS), "a 4-way copy is marked:\n{ir}");
    assert!(
        ir.contains("load <"),
        "a 4-way copy is not vectorised:\n{ir}"
    );

    for ways in [4, 16] {
        let (_c, mut store, inst, memory) = guarded_instance(&unrolled_dot(ways));
        for k in 0..DOT_WORDS {
            let at = |word: u32| 4 * word as usize;
            let data = memory.data_mut(&mut store);
            data[at(k)..at(k) + 4].copy_from_slice(&(k + 1).to_le_bytes());
            data[at(DOT_WORDS + k)..at(DOT_WORDS + k) + 4]
                .copy_from_slice(&(3 * k + 7).to_le_bytes());
        }
        let expected =
            (0..DOT_WORDS).fold(0u32, |s, k| s.wrapping_add((k + 1).wrapping_mul(3 * k + 7)));
        let dot = inst
            .get_func(&store, "dot")
            .unwrap_or_else(|| panic!("no export `dot`"));
        match call(&mut store, dot, &[]) {
            Ok(v) => assert!(
                matches!(v.as_slice(), [Val::I32(s)] if *s as u32 == expected),
                "{ways}-way dot = {v:?}, expected {expected}"
            ),
            Err(e) => panic!("{ways}-way dot: {e:?}"),
        }
    }
}

/// A table-driven CRC-32 over the `n` bytes at `p`, its table of 256 words
/// at constant address `table`.
fn crc_module(table: u32) -> String {
    format!(
        r#"(module
        (memory (export "m") 1)
        (func (export "crc") (param $p i32) (param $n i32) (result i32)
          (local $i i32) (local $c i32)
          (local.set $c (i32.const -1))
          (loop
            (local.set $c (i32.xor
              (i32.load offset={table} (i32.shl (i32.and (i32.xor (local.get $c)
                  (i32.load8_u (i32.add (local.get $p) (local.get $i))))
                (i32.const 255)) (i32.const 2)))
              (i32.shr_u (local.get $c) (i32.const 8))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if 0 (i32.ne (local.get $i) (local.get $n))))
          (local.get $c)))"#
    )
}

/// What [`crc_module`] computes, with the table it is given.
fn crc_reference(table: &[u32; 256], bytes: &[u8]) -> u32 {
    bytes.iter().fold(u32::MAX, |c, &b| {
        table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
    })
}

/// Issue 13 (crc32's loop, which had an interruption check every byte):
/// a loop whose access indexes a table by a byte (`base + C + zext(i8) *
/// s`, bounded but not affine) is versioned, the check covering the
/// table's whole reach (`C + 255 * s + size`); it computes what the loop
/// does. With the table's last word past the end of memory the check
/// fails, so the exact loop runs: it still computes the CRC when no byte
/// reaches that word, and traps out of bounds when one does.
#[test]
fn issue13_table_lookup_loop_is_versioned() {
    let ir = optimised_ir(&crc_module(1024), &["-O2"]);
    assert!(
        ir.lines().any(|l| l.starts_with("versioned")),
        "the table loop is not versioned:\n{ir}"
    );
    let mut table = [0u32; 256];
    for (i, t) in table.iter_mut().enumerate() {
        *t = (i as u32).wrapping_mul(0x9e37_79b9) ^ 0x5a5a_0000;
    }
    let run = |at: u32, bytes: &[u8]| {
        let (_c, mut store, inst, memory) = guarded_instance(&crc_module(at));
        let data = memory.data_mut(&mut store);
        for (k, t) in table.iter().enumerate() {
            let w = at as usize + 4 * k;
            if w + 4 <= data.len() {
                data[w..w + 4].copy_from_slice(&t.to_le_bytes());
            }
        }
        data[4096..4096 + bytes.len()].copy_from_slice(bytes);
        let crc = inst
            .get_func(&store, "crc")
            .unwrap_or_else(|| panic!("no export `crc`"));
        let n = bytes.len() as i32;
        call(&mut store, crc, &[Val::I32(4096), Val::I32(n)])
    };
    // The first byte is not 0, whose lookup would be word 255.
    let bytes: Vec<u8> = (0..3000u32).map(|i| (i * 7 + i / 13 + 1) as u8).collect();
    match run(1024, &bytes) {
        Ok(v) => assert!(
            matches!(v.as_slice(), [Val::I32(c)] if *c as u32 == crc_reference(&table, &bytes)),
            "crc = {v:?}"
        ),
        Err(e) => panic!("crc: {e:?}"),
    }
    // Word 255 of a table at 64516 is at 65536, past the end: the longest
    // prefix of `bytes` whose lookups avoid it runs, one byte more traps.
    let at = 65536 - 255 * 4;
    let safe: Vec<u8> = {
        let mut c = u32::MAX;
        let mut out = Vec::new();
        for &b in &bytes {
            if (c ^ u32::from(b)) & 0xff == 255 {
                break;
            }
            c = table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
            out.push(b);
        }
        out
    };
    assert!(
        (1..bytes.len()).contains(&safe.len()),
        "{} of {} bytes avoid word 255",
        safe.len(),
        bytes.len()
    );
    match run(at, &safe) {
        Ok(v) => assert!(
            matches!(v.as_slice(), [Val::I32(c)] if *c as u32 == crc_reference(&table, &safe)),
            "crc of {} bytes = {v:?}",
            safe.len()
        ),
        Err(e) => panic!("crc of {} bytes: {e:?}", safe.len()),
    }
    match run(at, &bytes[..safe.len() + 1]) {
        Err(CallError::Trap(t)) => assert_eq!(t.code, TrapCode::MemoryOutOfBounds),
        other => panic!("expected the out-of-bounds trap, got {other:?}"),
    }
}

/// `swap(a, b)`: swaps the 32 bytes at `a` with those at `b` a byte at a
/// time, unrolled 4 times as clang unrolls `swap_bytes(a, b, 32)` for
/// wasm (qsortcb's): each iteration loads `a[i]`, loads `b[i]`, stores
/// `a[i]`, stores `b[i]`, for four consecutive `i`.
fn swap_module() -> String {
    let body: String = (0..4)
        .map(|k| {
            format!(
                "(local.set $t (i32.load8_u (i32.add (local.get $a) (i32.add (local.get $i) (i32.const {k})))))
                 (i32.store8 (i32.add (local.get $a) (i32.add (local.get $i) (i32.const {k})))
                   (i32.load8_u (i32.add (local.get $b) (i32.add (local.get $i) (i32.const {k})))))
                 (i32.store8 (i32.add (local.get $b) (i32.add (local.get $i) (i32.const {k}))) (local.get $t))\n"
            )
        })
        .collect();
    format!(
        r#"(module
        (memory (export "m") 1)
        (func (export "swap") (param $a i32) (param $b i32) (local $i i32) (local $t i32)
          (loop
            {body}
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br_if 0 (i32.ne (local.get $i) (i32.const 32))))))"#
    )
}

/// What [`swap_module`]'s `swap(a, b)` does to `mem`, access by access in
/// wasm's order: whether it traps (at the first access past the end), and
/// the memory as it leaves it.
fn swap_reference(mem: &mut [u8], a: u32, b: u32) -> bool {
    let len = mem.len();
    let at = |p: u32, i: u32| {
        let addr = p.wrapping_add(i) as usize;
        (addr < len).then_some(addr)
    };
    for i in 0..32 {
        let (Some(x), Some(y)) = (at(a, i), at(b, i)) else {
            return true;
        };
        mem.swap(x, y);
    }
    false
}

/// Issue 15 (qsortcb's `swap_bytes`): a versioned loop whose accesses form
/// two groups, `a + i` and `b + i`, both written, runs its copy only when
/// the check also proves the groups' bytes apart, and then tells LLVM so
/// (scoped `noalias`), so that the vectoriser, which may add no run-time
/// alias checks of its own to a loop of 8 iterations, swaps the 32 bytes as
/// two wide loads and stores. Overlapping ranges (by 31 bytes, by 1, the
/// same range) take the exact loop and give the byte-by-byte result;
/// ranges that only touch are apart. At the edge of memory the copy runs
/// when the last byte is in bounds, and a range one byte past the end
/// traps out of bounds, with every earlier byte swapped, under both
/// strategies.
#[test]
fn issue15_swap_loop_groups_proven_apart() {
    let text = swap_module();
    let ir = optimised_ir(&text, &["-O2"]);
    assert!(
        ir.contains("load <32 x i8>") && ir.contains("store <32 x i8>"),
        "the swap is not vectorised:\n{ir}"
    );
    assert!(
        ir.contains("llvm.experimental.noalias.scope.decl"),
        "no alias scopes declared:\n{ir}"
    );
    assert!(
        ir.contains("store volatile i8"),
        "the exact loop is gone:\n{ir}"
    );

    const END: u32 = 65536;
    let cases = [
        (0x100, 0x200),
        (0x100, 0x101),
        (0x101, 0x100),
        (0x100, 0x11f),
        (0x120, 0x100),
        (0x100, 0x120),
        (0x300, 0x300),
        (0x100, END - 32),
        (END - 32, 0x100),
        (0x100, END - 31),
        (END - 31, 0x100),
        (END - 1, END - 40),
    ];
    for strategy in [BoundsChecks::GuardPages, BoundsChecks::Explicit] {
        let c = load(&text, strategy);
        for (a, b) in cases {
            let what = format!("{strategy:?} swap({a:#x}, {b:#x})");
            check_against_model(&what, &c, ("swap", &[a, b]), |mem| {
                swap_reference(mem, a, b)
            });
        }
    }
}

/// The builds a versioned loop is checked under, at `opt_level`: both
/// strategies, and guard pages with interruption checks (whose versioned
/// copies run in chunks).
fn versioning_builds(
    text: &str,
    opt_level: wasmo_compiler::OptLevel,
) -> Vec<(&'static str, wasmo_tests::Compiled)> {
    let config = |bounds_checks, instrumentation| wasmo_compiler::CompileConfig {
        opt_level,
        bounds_checks,
        instrumentation: wasmo_artifact_format::Instrumentation(instrumentation),
        ..wasmo_compiler::CompileConfig::default()
    };
    let epoch = wasmo_artifact_format::Instrumentation::EPOCH_INTERRUPTION;
    [
        ("guard pages", config(BoundsChecks::GuardPages, 0)),
        ("explicit", config(BoundsChecks::Explicit, 0)),
        (
            "guard pages, epoch",
            config(BoundsChecks::GuardPages, epoch),
        ),
    ]
    .into_iter()
    .map(|(name, config)| (name, wasmo_tests::load_with(text, &config)))
    .collect()
}

/// Calls export `name` of `c` with `args` on a fresh instance whose
/// memory starts as a fixed pattern, and compares with `model`, which gets
/// the same memory and says whether the call traps: the same outcome (the
/// out-of-bounds trap or none) and the same memory after it.
fn check_against_model(
    what: &str,
    c: &wasmo_tests::Compiled,
    (name, args): (&str, &[u32]),
    model: impl FnOnce(&mut [u8]) -> bool,
) {
    let (mut store, inst, memory) = fresh_instance(c);
    for (i, byte) in memory.data_mut(&mut store).iter_mut().enumerate() {
        *byte = (i * 7 + i / 251) as u8;
    }
    let mut expected = memory.data(&store).to_vec();
    let traps = model(&mut expected);
    let vals: Vec<Val> = args.iter().map(|&a| Val::I32(a as i32)).collect();
    match (call_export(&mut store, &inst, name, &vals), traps) {
        (Ok(_), false) => {}
        (Err(CallError::Trap(t)), true) => {
            assert_eq!(t.code, TrapCode::MemoryOutOfBounds, "{what}");
        }
        (other, _) => panic!("{what}: {other:?}, expected a trap: {traps}"),
    }
    assert!(memory.data(&store) == expected.as_slice(), "{what}: memory");
}

/// `f(i, n, p)`: stores `i` at `p`, moves `p` on a word and `i` by `step`,
/// and goes round while `i cmp n` (`swap`: `n cmp i`) holds, `cmp` a wasm
/// compare (`i32.lt_u`, ...).
fn ordered_loop(step: i32, cmp: &str, swap: bool) -> String {
    let (a, b) = if swap { ("n", "i") } else { ("i", "n") };
    format!(
        r#"(module
        (memory (export "m") 1)
        (func (export "f") (param $i i32) (param $n i32) (param $p i32)
          (loop
            (i32.store (local.get $p) (local.get $i))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $i (i32.add (local.get $i) (i32.const {step})))
            (br_if 0 ({cmp} (local.get ${a}) (local.get ${b}))))))"#
    )
}

/// What [`ordered_loop`]'s `f(i, n, p)` does to `mem` (`go_on(i, n)` is
/// its test with `i` already stepped): whether it traps, at the first
/// store past the end.
fn ordered_reference(
    mem: &mut [u8],
    step: i32,
    go_on: fn(u32, u32) -> bool,
    [mut i, n, mut p]: [u32; 3],
) -> bool {
    loop {
        let at = p as usize;
        if at + 4 > mem.len() {
            return true;
        }
        mem[at..at + 4].copy_from_slice(&i.to_le_bytes());
        p = p.wrapping_add(4);
        i = i.wrapping_add(step as u32);
        if !go_on(i, n) {
            return false;
        }
    }
}

/// Issue 15 (wasi-libc's `memcpy`/`memmove`/`memset`, which count down
/// to an unsigned `>`): at `-O3` (only), loops whose exit test is an ordered compare,
/// signed or unsigned, strict or not, with the counted value on either
/// side, are versioned, and behave as the wasm does under every build: in
/// bounds they store what the loop stores; a loop whose last iteration
/// (or one before) is out of bounds traps there with every earlier store
/// made; and a loop whose count wraps round before the test ends it (`n
/// -= 32` from 20 while `n > 15`, `i <= u32::MAX`, `i += 7` past
/// `i32::MAX`) is not ended early by a copy that computed its trip count
/// without the wrap: it runs on until its stores leave memory.
#[test]
fn issue15_ordered_exit_loops_are_versioned_and_exact() {
    const END: u32 = 65536;
    /// Step, compare, operands swapped, the compare in Rust, calls.
    type Case = (
        i32,
        &'static str,
        bool,
        fn(u32, u32) -> bool,
        &'static [[u32; 3]],
    );
    let cases: [Case; 8] = [
        (
            1,
            "i32.lt_u",
            false,
            |i, n| i < n,
            &[
                [0, 100, 1000],
                [0, 15000, 0],
                [0, 100, END - 200],
                [0, 100, END - 400],
                [0, 100, END - 396],
                [5, 3, 1000],
                [u32::MAX - 15, u32::MAX, 1000],
            ],
        ),
        (
            1,
            "i32.le_u",
            false,
            |i, n| i <= n,
            &[
                [0, 99, 1000],
                [0, u32::MAX, END - 4000],
                [u32::MAX - 15, u32::MAX, 1000],
            ],
        ),
        (
            -32,
            "i32.gt_u",
            false,
            |i, n| i > n,
            &[
                [200, 15, 1000],
                [40, 15, 1000],
                [20, 15, 1000],
                [15 + 32 * 16000, 15, 0],
                [15 + 32 * 16000, 15, 1600],
            ],
        ),
        (
            -32,
            "i32.lt_u",
            true,
            |i, n| n < i,
            &[[200, 15, 1000], [20, 15, 1000]],
        ),
        (
            -3,
            "i32.ge_s",
            false,
            |i, n| i as i32 >= n as i32,
            &[
                [10, -20i32 as u32, 1000],
                [-5i32 as u32, -20i32 as u32, END - 8],
                [10, i32::MIN as u32, 1000],
                [10, 11, 1000],
            ],
        ),
        (
            7,
            "i32.lt_s",
            false,
            |i, n| (i as i32) < n as i32,
            &[
                [-100i32 as u32, 100, 1000],
                [-100i32 as u32, 100, END - 40],
                [i32::MAX as u32 - 10, i32::MAX as u32, 1000],
            ],
        ),
        (
            2,
            "i32.gt_s",
            true,
            |i, n| (n as i32) > i as i32,
            &[
                [-50i32 as u32, 60, 1000],
                [i32::MAX as u32 - 4, i32::MAX as u32, 1000],
                [i32::MAX as u32 - 3, i32::MAX as u32, 1000],
            ],
        ),
        (
            1,
            "i32.le_s",
            false,
            |i, n| i as i32 <= n as i32,
            &[[0, i32::MAX as u32, END - 4000], [-3i32 as u32, 40, 2000]],
        ),
    ];
    for (step, cmp, swap, go_on, args) in cases {
        let text = ordered_loop(step, cmp, swap);
        let ir = optimised_ir(&text, &["-O3"]);
        assert!(
            ir.lines().any(|l| l.starts_with("versioned")),
            "{cmp} by {step}: not versioned:\n{ir}"
        );
        let ir = optimised_ir(&text, &["-O2"]);
        assert!(
            !ir.lines().any(|l| l.starts_with("versioned")),
            "{cmp} by {step}: versioned at -O2:\n{ir}"
        );
        for (build, c) in versioning_builds(&text, wasmo_compiler::OptLevel::O3) {
            for &args in args {
                check_against_model(
                    &format!("{cmp} by {step} ({build}) f{args:?}"),
                    &c,
                    ("f", &args),
                    |mem| ordered_reference(mem, step, go_on, args),
                );
            }
        }
    }
}

/// Issue 15 (nbody's pair loop, which runs 1 to 4 times an entry): a
/// loop with an `!=` exit test and a trip count known only at run time is
/// versioned at `-O2` behind a first compare of its trip count
/// (`versioned_long`), which sends loops too short for the copy to pay
/// (fewer than 8 iterations) straight to the exact loop. Both sides of
/// that compare, for steps up and down, in and out of bounds, under
/// every build, store what the loop stores and trap where it traps.
#[test]
fn issue15_short_unequal_loops_skip_the_check() {
    const END: u32 = 65536;
    for step in [1i32, -3] {
        let text = ordered_loop(step, "i32.ne", false);
        let ir = optimised_ir(&text, &["-O2"]);
        assert!(
            ir.lines().any(|l| l.starts_with("versioned_long")),
            "by {step}: no trip-count compare before the check:\n{ir}"
        );
        let compiled = versioning_builds(&text, wasmo_compiler::OptLevel::O2);
        for trips in 1..=12u32 {
            let n = (trips as i32).wrapping_mul(step) as u32;
            let last_in = END - 4 * trips;
            for p in [1000, last_in, last_in + 4] {
                let args = [0, n, p];
                for (build, c) in &compiled {
                    check_against_model(
                        &format!("by {step}, {trips} trips ({build}) f{args:?}"),
                        c,
                        ("f", &args),
                        |mem| ordered_reference(mem, step, |i, n| i != n, args),
                    );
                }
            }
        }
    }
}

/// `f(d, s, n)`: wasi-libc's `memcpy` main loop, written out: 32 bytes
/// from `s` to `d` as four 8-byte loads and stores, then `n -= 32` while
/// `n > 15`.
const WORD_COPY: &str = r#"(module
    (memory (export "m") 1)
    (func (export "f") (param $d i32) (param $s i32) (param $n i32)
      (loop
        (i64.store (local.get $d) (i64.load (local.get $s)))
        (i64.store offset=8 (local.get $d) (i64.load offset=8 (local.get $s)))
        (i64.store offset=16 (local.get $d) (i64.load offset=16 (local.get $s)))
        (i64.store offset=24 (local.get $d) (i64.load offset=24 (local.get $s)))
        (local.set $d (i32.add (local.get $d) (i32.const 32)))
        (local.set $s (i32.add (local.get $s) (i32.const 32)))
        (local.set $n (i32.sub (local.get $n) (i32.const 32)))
        (br_if 0 (i32.gt_u (local.get $n) (i32.const 15))))))"#;

/// What [`WORD_COPY`]'s `f(d, s, n)` does to `mem`, access by access.
fn word_copy_reference(mem: &mut [u8], [mut d, mut s, mut n]: [u32; 3]) -> bool {
    loop {
        for offset in [0, 8, 16, 24] {
            let (from, to) = (u64::from(s) + offset, u64::from(d) + offset);
            if from + 8 > mem.len() as u64 {
                return true;
            }
            let word: [u8; 8] = mem[from as usize..from as usize + 8]
                .try_into()
                .unwrap_or_else(|e| panic!("{e}"));
            if to + 8 > mem.len() as u64 {
                return true;
            }
            mem[to as usize..to as usize + 8].copy_from_slice(&word);
        }
        d = d.wrapping_add(32);
        s = s.wrapping_add(32);
        n = n.wrapping_sub(32);
        if n <= 15 {
            return false;
        }
    }
}

/// Issue 15: [`WORD_COPY`], `memcpy`'s loop, is versioned at `-O3` and its
/// copy vectorised; it copies what the wasm copies, also where the ranges
/// overlap either way (as `memmove`'s forward copy does), traps at the
/// exact access when the destination or the source runs past the end,
/// and with a count that wraps (`n = 20`: 20 - 32 is above 15 unsigned)
/// runs on until it leaves memory.
#[test]
fn issue15_memcpy_loop_is_versioned_and_exact() {
    const END: u32 = 65536;
    let ir = optimised_ir(WORD_COPY, &["-O3"]);
    assert!(
        ir.lines().any(|l| l.starts_with("versioned")),
        "the copy loop is not versioned:\n{ir}"
    );
    assert!(
        ir.contains("load <") && ir.contains("store <"),
        "the versioned copy is not vectorised:\n{ir}"
    );
    assert!(
        ir.contains("store volatile i64"),
        "the exact loop is gone:\n{ir}"
    );
    let cases = [
        [0x1000, 0x3000, 1000],
        [0x1000, 0x3000, 16],
        [0x1000, 0x3000, 47],
        [0x1000, 0x1008, 4000],
        [0x1008, 0x1000, 4000],
        [0x1000, 0x1000, 4000],
        [END - 64, 0x1000, 200],
        [0x1000, END - 100, 200],
        [END - 1000, 0x1000, 1000],
        [0x1000, 0x3000, 20],
        [0x1000, 0x3000, 0],
    ];
    for (build, c) in versioning_builds(WORD_COPY, wasmo_compiler::OptLevel::O3) {
        for args in cases {
            check_against_model(
                &format!("memcpy ({build}) f{args:?}"),
                &c,
                ("f", &args),
                |mem| word_copy_reference(mem, args),
            );
        }
    }
}
