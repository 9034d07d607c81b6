//! Traps through real compiled modules: each test compiles wat with
//! `wasmo_compiler::compile`, writes the artifact to a temporary file,
//! loads it with `wasmo_loader::Module::from_file` and calls into it.
//! Covered: backtraces (function indices and names, innermost first) for
//! helper traps, memory faults under both bounds-check strategies, bad
//! indirect calls, stack overflow and host-function traps; several
//! instances trapping at once in several threads; stack exhaustion on a
//! thread with a small Rust stack; and the artifact's trap table.
//!
//! Rule: every expectation names the exact trap code and the exact frames;
//! "it trapped somehow" is not a pass (runtimes that report the wrong kind
//! of trap are the bug this file exists to catch). Each test thread has
//! its own store ([`with_store`]); instantiate and call on the same thread.

use std::cell::RefCell;

use wasmo_artifact_format::{ArtifactRef, BoundsChecks, TrapCode};
use wasmo_compiler::CompileConfig;
use wasmo_loader::{
    CallError, Extern, Func, FuncType, HostError, Imports, Instance, Module, Store, Trap, Val,
};
use wasmo_tests::{aligned, frame_names as names, load, wat, Compiled};

fn config(bounds_checks: BoundsChecks) -> CompileConfig {
    CompileConfig {
        bounds_checks,
        ..CompileConfig::default()
    }
}

fn artifact(text: &str, bounds_checks: BoundsChecks) -> Vec<u8> {
    match wasmo_compiler::compile(&wat(text), &config(bounds_checks)) {
        Ok(a) => a,
        Err(e) => panic!("compile failed: {e}"),
    }
}

thread_local! {
    /// This thread's store: libtest runs each test on a thread of its own,
    /// and the worker threads a test spawns get theirs.
    static STORE: RefCell<Store<()>> = RefCell::new(Store::new(()));
}

/// Runs `f` with this thread's store (not re-entrantly: host functions
/// here use their `Caller`).
fn with_store<R>(f: impl FnOnce(&mut Store<()>) -> R) -> R {
    STORE.with(|s| f(&mut s.borrow_mut()))
}

fn instantiate(module: &Module, imports: &Imports) -> Instance {
    match with_store(|s| Instance::new(s, module, imports)) {
        Ok(i) => i,
        Err(e) => panic!("instantiation failed: {e}"),
    }
}

fn func(instance: &Instance, name: &str) -> Func {
    match with_store(|s| instance.get_func(&*s, name)) {
        Some(f) => f,
        None => panic!("no export `{name}`"),
    }
}

/// Calls `f` with `args`; its results.
fn call(f: Func, args: &[Val]) -> Result<Vec<Val>, CallError> {
    with_store(|s| wasmo_tests::call(s, f, args))
}

/// Calls `name` and returns its trap, failing the test on anything else.
fn expect_trap(instance: &Instance, name: &str, args: &[Val]) -> Trap {
    match call(func(instance, name), args) {
        Err(CallError::Trap(t)) => t,
        Err(e) => panic!("`{name}` failed without a trap: {e}"),
        Ok(v) => panic!("`{name}` returned {v:?} instead of trapping"),
    }
}

fn expect_i32(instance: &Instance, name: &str, args: &[Val]) -> i32 {
    match call(func(instance, name), args) {
        Ok(v) => match v.as_slice() {
            [Val::I32(x)] => *x,
            other => panic!("`{name}` returned {other:?}"),
        },
        Err(e) => panic!("`{name}` failed: {e}"),
    }
}

/// Three-deep chains `$a -> $b -> $c` (function indices 1, 2, 3 after the
/// import at index 0), one per way `$c` can trap. Each `$c` takes an i32
/// so no constant folding can see the trap coming.
const CHAINS: &str = r#"(module
  (import "host" "fail" (func $fail))
  (type $v_i (func (result i32)))
  (type $i_i (func (param i32) (result i32)))
  (memory 1)
  (table 2 funcref)
  (elem (i32.const 1) $helper)
  (func $helper (param i32) (result i32) (local.get 0))

  (func $a_unreachable (export "unreachable") (param i32) (result i32)
    (call $b_unreachable (local.get 0)))
  (func $b_unreachable (param i32) (result i32)
    (i32.add (call $c_unreachable (local.get 0)) (i32.const 1)))
  (func $c_unreachable (param i32) (result i32)
    (if (i32.eqz (local.get 0)) (then unreachable))
    (local.get 0))

  (func $a_div (export "div") (param i32) (result i32)
    (call $b_div (local.get 0)))
  (func $b_div (param i32) (result i32)
    (i32.add (call $c_div (local.get 0)) (i32.const 1)))
  (func $c_div (param i32) (result i32)
    (i32.div_u (i32.const 100) (local.get 0)))

  (func $a_oob (export "oob") (param i32) (result i32)
    (call $b_oob (local.get 0)))
  (func $b_oob (param i32) (result i32)
    (i32.add (call $c_oob (local.get 0)) (i32.const 1)))
  (func $c_oob (param i32) (result i32)
    (i32.load (local.get 0)))

  (func $a_null (export "null") (param i32) (result i32)
    (call $b_null (local.get 0)))
  (func $b_null (param i32) (result i32)
    (i32.add (call $c_null (local.get 0)) (i32.const 1)))
  (func $c_null (param i32) (result i32)
    (call_indirect (type $v_i) (local.get 0)))

  (func $a_sig (export "sig") (param i32) (result i32)
    (call $b_sig (local.get 0)))
  (func $b_sig (param i32) (result i32)
    (i32.add (call $c_sig (local.get 0)) (i32.const 1)))
  (func $c_sig (param i32) (result i32)
    (call_indirect (type $v_i) (local.get 0)))

  (func $a_host (export "host") (param i32) (result i32)
    (call $b_host (local.get 0)))
  (func $b_host (param i32) (result i32)
    (i32.add (call $c_host (local.get 0)) (i32.const 1)))
  (func $c_host (param i32) (result i32)
    (call $fail)
    (local.get 0))

  (func $a_deep (export "deep") (param i32) (result i32)
    (call $b_deep (local.get 0)))
  (func $b_deep (param i32) (result i32)
    (i32.add (call $recurse (local.get 0)) (i32.const 1)))
  (func $recurse (param i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))

  (func (export "ok") (param i32) (result i32)
    (i32.add (i32.load (i32.const 0)) (local.get 0)))
)"#;

fn host_imports() -> Imports {
    let mut imports = Imports::new();
    let ty = FuncType {
        params: vec![],
        results: vec![],
    };
    let fail = with_store(|s| {
        Func::new(s, ty, |_caller, _args, _results| {
            Err(HostError::Trap(TrapCode::IntegerOverflow))
        })
    });
    imports.define("host", "fail", Extern::Func(fail));
    imports
}

fn chains(bounds_checks: BoundsChecks) -> (Compiled, Instance) {
    let compiled = load(CHAINS, bounds_checks);
    let instance = instantiate(&compiled.module, &host_imports());
    (compiled, instance)
}

/// Checks that calling `export` with `arg` traps with `code` and the
/// backtrace `$c_<suffix>, $b_<suffix>, $a_<suffix>` with their indices.
fn check_chain(instance: &Instance, export: &str, arg: i32, code: TrapCode, suffix: &str) {
    let trap = expect_trap(instance, export, &[Val::I32(arg)]);
    assert_eq!(trap.code, code, "`{export}` trapped with the wrong code");
    let want: Vec<String> = ["c", "b", "a"]
        .iter()
        .map(|p| format!("{p}_{suffix}"))
        .collect();
    assert_eq!(names(&trap), want, "backtrace of `{export}`");
    let indices: Vec<u32> = trap.backtrace.iter().map(|f| f.func_index).collect();
    let a = trap.backtrace[2].func_index;
    assert_eq!(indices, vec![a + 2, a + 1, a], "indices of `{export}`");
    // The instance stays usable after the trap.
    assert_eq!(expect_i32(instance, "ok", &[Val::I32(5)]), 5);
}

#[test]
fn backtrace_of_unreachable() {
    let (_c, instance) = chains(BoundsChecks::GuardPages);
    check_chain(
        &instance,
        "unreachable",
        0,
        TrapCode::UnreachableCodeReached,
        "unreachable",
    );
    assert_eq!(trap_free_call(&instance, "unreachable"), 2);
}

/// Calls `export` with an argument that does not trap.
fn trap_free_call(instance: &Instance, export: &str) -> i32 {
    expect_i32(instance, export, &[Val::I32(1)])
}

#[test]
fn backtrace_of_divide_by_zero() {
    let (_c, instance) = chains(BoundsChecks::GuardPages);
    check_chain(&instance, "div", 0, TrapCode::IntegerDivisionByZero, "div");
    assert_eq!(trap_free_call(&instance, "div"), 101);
}

#[test]
fn backtrace_of_memory_fault_with_guard_pages() {
    let (_c, instance) = chains(BoundsChecks::GuardPages);
    check_chain(&instance, "oob", 65536, TrapCode::MemoryOutOfBounds, "oob");
    check_chain(&instance, "oob", -4, TrapCode::MemoryOutOfBounds, "oob");
}

#[test]
fn backtrace_of_memory_fault_with_explicit_checks() {
    let (_c, instance) = chains(BoundsChecks::Explicit);
    check_chain(&instance, "oob", 65536, TrapCode::MemoryOutOfBounds, "oob");
    check_chain(&instance, "oob", -4, TrapCode::MemoryOutOfBounds, "oob");
}

#[test]
fn backtrace_of_indirect_call_to_null() {
    let (_c, instance) = chains(BoundsChecks::GuardPages);
    check_chain(&instance, "null", 0, TrapCode::IndirectCallToNull, "null");
    check_chain(&instance, "null", 7, TrapCode::TableOutOfBounds, "null");
}

#[test]
fn backtrace_of_indirect_call_type_mismatch() {
    let (_c, instance) = chains(BoundsChecks::GuardPages);
    check_chain(&instance, "sig", 1, TrapCode::BadSignature, "sig");
}

#[test]
fn backtrace_of_host_function_trap() {
    let (_c, instance) = chains(BoundsChecks::GuardPages);
    check_chain(&instance, "host", 0, TrapCode::IntegerOverflow, "host");
}

#[test]
fn backtrace_of_stack_overflow() {
    for bounds_checks in [BoundsChecks::GuardPages, BoundsChecks::Explicit] {
        let (_c, instance) = chains(bounds_checks);
        let trap = expect_trap(&instance, "deep", &[Val::I32(0)]);
        assert_eq!(trap.code, TrapCode::StackOverflow);
        let frames = names(&trap);
        assert_eq!(frames.first().map(String::as_str), Some("recurse"));
        assert!(frames.len() > 1, "only {} frames", frames.len());
        assert!(frames.iter().all(|f| f == "recurse"), "{frames:?}");
        assert_eq!(expect_i32(&instance, "ok", &[Val::I32(3)]), 3);
    }
}

/// What one iteration of a worker makes trap, and the code it must get.
const MIXED: [(&str, i32, TrapCode); 5] = [
    ("oob", 1 << 20, TrapCode::MemoryOutOfBounds),
    ("div", 0, TrapCode::IntegerDivisionByZero),
    ("deep", 0, TrapCode::StackOverflow),
    ("null", 0, TrapCode::IndirectCallToNull),
    ("unreachable", 0, TrapCode::UnreachableCodeReached),
];

#[test]
fn concurrent_traps_in_many_threads() {
    const THREADS: usize = 8;
    const ITERATIONS: usize = 200;
    let compiled = load(CHAINS, BoundsChecks::GuardPages);
    let module = compiled.module.clone();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let module = module.clone();
            std::thread::spawn(move || {
                let instance = instantiate(&module, &host_imports());
                for i in 0..ITERATIONS {
                    let (export, arg, code) = MIXED[(t + i) % MIXED.len()];
                    let trap = expect_trap(&instance, export, &[Val::I32(arg)]);
                    assert_eq!(trap.code, code, "thread {t} iteration {i} (`{export}`)");
                    let innermost = names(&trap).into_iter().next();
                    let want = if export == "deep" {
                        "recurse".to_owned()
                    } else {
                        format!("c_{export}")
                    };
                    assert_eq!(innermost.as_deref(), Some(want.as_str()));
                    let arg = (t * ITERATIONS + i) as i32;
                    assert_eq!(expect_i32(&instance, "ok", &[Val::I32(arg)]), arg);
                }
            })
        })
        .collect();
    for (t, w) in workers.into_iter().enumerate() {
        if w.join().is_err() {
            panic!("worker {t} failed");
        }
    }
}

#[test]
fn stack_overflow_on_a_thread_with_a_small_stack() {
    let compiled = load(CHAINS, BoundsChecks::GuardPages);
    let module = compiled.module.clone();
    let worker = std::thread::Builder::new()
        .name("small-stack".into())
        .stack_size(256 << 10)
        .spawn(move || {
            let instance = instantiate(&module, &host_imports());
            for _ in 0..3 {
                let trap = expect_trap(&instance, "deep", &[Val::I32(0)]);
                assert_eq!(trap.code, TrapCode::StackOverflow);
                assert_eq!(expect_i32(&instance, "ok", &[Val::I32(9)]), 9);
            }
        });
    match worker.map(|w| w.join()) {
        Ok(Ok(())) => {}
        Ok(Err(_)) => panic!("the small-stack thread failed"),
        Err(e) => panic!("spawning: {e}"),
    }
}

#[test]
fn trap_table_is_sorted_and_names_known_codes() {
    for bounds_checks in [BoundsChecks::GuardPages, BoundsChecks::Explicit] {
        let bytes = artifact(CHAINS, bounds_checks);
        let (buf, at) = aligned(&bytes);
        let art = match ArtifactRef::parse(&buf[at..at + bytes.len()]) {
            Ok(a) => a,
            Err(e) => panic!("parse: {e}"),
        };
        let table = &art.metadata.trap_sites;
        assert!(!table.offsets.is_empty(), "no trap sites");
        assert_eq!(table.offsets.len(), table.codes.len());
        assert!(
            table.offsets.windows(2).all(|w| w[0] < w[1]),
            "trap table not strictly sorted"
        );
        let funcs: Vec<(u32, u32)> = art
            .metadata
            .defined_funcs
            .iter()
            .map(|f| {
                (
                    f.offset.to_native(),
                    f.offset.to_native() + f.len.to_native(),
                )
            })
            .collect();
        let mut codes = std::collections::BTreeSet::new();
        for (off, &code) in table.offsets.iter().zip(table.codes.iter()) {
            let off = off.to_native();
            let code = match TrapCode::from_u8(code) {
                Some(c) => c,
                None => panic!("unknown trap code {code} at {off:#x}"),
            };
            // A site is a return address: the call is just before it,
            // inside some function, or, for the two traps a sealed table's
            // dispatch array decides, inside one of its trap stubs, which
            // are text but no wasm function.
            let in_func = funcs.iter().any(|&(s, e)| off > s && off <= e);
            let stub_code = matches!(code, TrapCode::IndirectCallToNull | TrapCode::BadSignature);
            assert!(
                in_func || (stub_code && u64::from(off) <= art.header.text_len),
                "trap site {off:#x} ({code:?}) outside every function"
            );
            codes.insert(code);
        }
        for code in [
            TrapCode::UnreachableCodeReached,
            TrapCode::IntegerDivisionByZero,
            TrapCode::IndirectCallToNull,
            TrapCode::TableOutOfBounds,
            TrapCode::BadSignature,
        ] {
            assert!(codes.contains(&code), "no site for {code:?}: {codes:?}");
        }
        assert_eq!(
            codes.contains(&TrapCode::MemoryOutOfBounds),
            bounds_checks == BoundsChecks::Explicit,
            "explicit checks call the trap helper, guard pages fault"
        );
    }
}

#[test]
fn a_module_that_cannot_trap_has_an_empty_trap_table() {
    let bytes = artifact(
        "(module (func (export \"add\") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))",
        BoundsChecks::GuardPages,
    );
    let (buf, at) = aligned(&bytes);
    match ArtifactRef::parse(&buf[at..at + bytes.len()]) {
        Ok(a) => assert!(a.metadata.trap_sites.offsets.is_empty()),
        Err(e) => panic!("parse: {e}"),
    }
}

/// `$c` faults on its fast path, which LLVM's shrink-wrapping leaves
/// without a frame (the prologue only runs on the cold `unreachable` path),
/// reached by a direct call and by `call_indirect`: the backtrace must
/// still name `$b`.
#[test]
fn backtrace_of_memory_fault_before_the_frame_is_set_up() {
    let text = r#"(module (memory 1)
      (type $i_i (func (param i32) (result i32)))
      (table funcref (elem $c))
      (func $a (export "a") (param i32) (result i32) (call $b (local.get 0)))
      (func $b (param i32) (result i32) (i32.add (call $c (local.get 0)) (i32.const 1)))
      (func $c (param i32) (result i32)
        (if (i32.eq (local.get 0) (i32.const 3)) (then unreachable))
        (i32.load (local.get 0)))
      (func $a_ind (export "a_ind") (param i32) (result i32) (call $b_ind (local.get 0)))
      (func $b_ind (param i32) (result i32)
        (i32.add (call_indirect (type $i_i) (local.get 0) (i32.const 0)) (i32.const 1))))"#;
    for bounds_checks in [BoundsChecks::GuardPages, BoundsChecks::Explicit] {
        let compiled = load(text, bounds_checks);
        let instance = instantiate(&compiled.module, &Imports::new());
        for (export, want) in [("a", ["c", "b", "a"]), ("a_ind", ["c", "b_ind", "a_ind"])] {
            for (arg, code) in [
                (-8, TrapCode::MemoryOutOfBounds),
                (3, TrapCode::UnreachableCodeReached),
            ] {
                let trap = expect_trap(&instance, export, &[Val::I32(arg)]);
                assert_eq!(trap.code, code);
                assert_eq!(names(&trap), want, "`{export}({arg})`");
            }
        }
    }
}

/// `call_indirect` through sealed tables: with contents known at compile
/// time (dispatch arrays), and the fallbacks (an imported function in the
/// table, an offset from a global). Each case names the element it hits.
const SEALED_KNOWN: &str = r#"(module
  (type $ii (func (param i32) (result i32)))
  (type $ii_again (func (param i32) (result i32)))
  (type $v (func))
  (table 5 funcref)
  (elem (i32.const 0) $double $nothing)
  (elem (i32.const 2) $triple)
  ;; Overwrites element 1: segments apply in order.
  (elem (i32.const 1) $negate $triple $nothing)
  (func $double (type $ii) (i32.mul (local.get 0) (i32.const 2)))
  (func $triple (type $ii_again) (i32.mul (local.get 0) (i32.const 3)))
  (func $negate (param i32) (result i32) (i32.sub (i32.const 0) (local.get 0)))
  (func $nothing (type $v))
  (func $call_known (export "known") (param i32 i32) (result i32)
    (call_indirect (type $ii) (local.get 1) (local.get 0)))
  (func $call_known_again (export "known_again") (param i32 i32) (result i32)
    (call_indirect (type $ii_again) (local.get 1) (local.get 0)))
  (func $call_known_v (export "known_v") (param i32)
    (call_indirect (type $v) (local.get 0)))
  (func $call_const_null (export "const_null") (result i32)
    (call_indirect (type $ii) (i32.const 5) (i32.const 4)))
  (func $call_const_sig (export "const_sig") (result i32)
    (call_indirect (type $ii) (i32.const 5) (i32.const 3)))
  (func $call_const_ok (export "const_ok") (result i32)
    (call_indirect (type $ii) (i32.const 5) (i32.const 2)))
)"#;

const SEALED_WITH_IMPORT: &str = r#"(module
  (import "host" "seven" (func $seven (param i32) (result i32)))
  (type $ii (func (param i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $double $seven)
  (func $double (type $ii) (i32.mul (local.get 0) (i32.const 2)))
  (func $call_with_import (export "with_import") (param i32 i32) (result i32)
    (call_indirect (type $ii) (local.get 1) (local.get 0)))
)"#;

const SEALED_FROM_GLOBAL: &str = r#"(module
  (import "host" "base" (global $base i32))
  (type $ii (func (param i32) (result i32)))
  (table 3 funcref)
  (elem (global.get $base) $triple)
  (func $triple (type $ii) (i32.mul (local.get 0) (i32.const 3)))
  (func $call_from_global (export "from_global") (param i32 i32) (result i32)
    (call_indirect (type $ii) (local.get 1) (local.get 0)))
)"#;

fn sealed_imports() -> Imports {
    let mut imports = Imports::new();
    let ty = FuncType {
        params: vec![wasmo_loader::ValType::I32],
        results: vec![wasmo_loader::ValType::I32],
    };
    let seven = with_store(|s| {
        Func::new(s, ty, |_caller, args, results| {
            let x = match args {
                [Val::I32(x)] => *x,
                _ => 0,
            };
            results[0] = Val::I32(x + 7);
            Ok(())
        })
    });
    imports.define("host", "seven", Extern::Func(seven));
    let gty = wasmo_loader::GlobalType {
        content: wasmo_loader::ValType::I32,
        mutable: false,
    };
    match with_store(|s| wasmo_loader::Global::new(s, gty, Val::I32(1))) {
        Ok(g) => imports.define("host", "base", Extern::Global(g)),
        Err(e) => panic!("global: {e}"),
    }
    imports
}

fn expect_trap_code(instance: &Instance, name: &str, args: &[Val], code: TrapCode, frame: &str) {
    let trap = expect_trap(instance, name, args);
    assert_eq!(
        trap.code, code,
        "`{name}{args:?}` trapped with the wrong code"
    );
    assert_eq!(
        names(&trap).first().map(String::as_str),
        Some(frame),
        "innermost frame of `{name}{args:?}`"
    );
}

#[test]
fn call_indirect_through_sealed_tables() {
    use TrapCode::{BadSignature, IndirectCallToNull, TableOutOfBounds};
    let args = |elem: i32| [Val::I32(elem), Val::I32(10)];
    for bounds_checks in [BoundsChecks::GuardPages, BoundsChecks::Explicit] {
        let c = load(SEALED_KNOWN, bounds_checks);
        let i = instantiate(&c.module, &Imports::new());
        let known = |elem: i32| expect_i32(&i, "known", &args(elem));
        assert_eq!(known(0), 20);
        assert_eq!(known(1), -10, "the later segment wins");
        assert_eq!(known(2), 30, "an equal type under another index matches");
        assert_eq!(expect_i32(&i, "known_again", &args(0)), 20);
        expect_trap_code(&i, "known", &args(3), BadSignature, "call_known");
        expect_trap_code(&i, "known", &args(4), IndirectCallToNull, "call_known");
        expect_trap_code(&i, "known", &args(5), TableOutOfBounds, "call_known");
        expect_trap_code(&i, "known", &args(-1), TableOutOfBounds, "call_known");
        // `$nothing` moved from element 1 (now `$negate`) to element 3.
        let v = |elem: i32| [Val::I32(elem)];
        expect_trap_code(&i, "known_v", &v(0), BadSignature, "call_known_v");
        expect_trap_code(&i, "known_v", &v(1), BadSignature, "call_known_v");
        assert!(call(func(&i, "known_v"), &v(3)).is_ok_and(|r| r.is_empty()));
        expect_trap_code(&i, "known_v", &v(4), IndirectCallToNull, "call_known_v");
        // Constant indices, which LLVM may fold into a direct call.
        expect_trap_code(&i, "const_null", &[], IndirectCallToNull, "call_const_null");
        expect_trap_code(&i, "const_sig", &[], BadSignature, "call_const_sig");
        assert_eq!(expect_i32(&i, "const_ok", &[]), 15);

        let c = load(SEALED_WITH_IMPORT, bounds_checks);
        let i = instantiate(&c.module, &sealed_imports());
        assert_eq!(expect_i32(&i, "with_import", &args(0)), 20);
        assert_eq!(expect_i32(&i, "with_import", &args(1)), 17);
        expect_trap_code(
            &i,
            "with_import",
            &args(2),
            TableOutOfBounds,
            "call_with_import",
        );

        let c = load(SEALED_FROM_GLOBAL, bounds_checks);
        let i = instantiate(&c.module, &sealed_imports());
        assert_eq!(expect_i32(&i, "from_global", &args(1)), 30);
        expect_trap_code(
            &i,
            "from_global",
            &args(0),
            IndirectCallToNull,
            "call_from_global",
        );
        expect_trap_code(
            &i,
            "from_global",
            &args(2),
            IndirectCallToNull,
            "call_from_global",
        );
    }
}

/// Every kind of SIMD load whose value is dropped still traps out of
/// bounds under guard pages: the extend, splat, zero and lane loads wrap
/// the access in a conversion, `insertelement` or shuffle, which the
/// dropped-load rule must see through.
#[test]
fn issue10_dropped_simd_loads_trap() {
    let text = r#"(module
      (memory 1)
      (func $full (export "full") (param i32) (drop (v128.load (local.get 0))))
      (func $extend (export "extend") (param i32) (drop (v128.load8x8_s (local.get 0))))
      (func $splat (export "splat") (param i32) (drop (v128.load8_splat (local.get 0))))
      (func $zero (export "zero") (param i32) (drop (v128.load32_zero (local.get 0))))
      (func $lane (export "lane") (param i32)
        (drop (v128.load16_lane 3 (local.get 0) (v128.const i64x2 0 0)))))"#;
    for bounds in [BoundsChecks::GuardPages, BoundsChecks::Explicit] {
        let c = load(text, bounds);
        let instance = instantiate(&c.module, &Imports::new());
        for name in ["full", "extend", "splat", "zero", "lane"] {
            expect_trap_code(
                &instance,
                name,
                &[Val::I32(0x7fff_0000)],
                TrapCode::MemoryOutOfBounds,
                name,
            );
        }
    }
}

/// A passive segment, a second one, an active one (dropped once applied).
const SEGMENTS: &str = r#"
(module
  (memory 1)
  (data $p "\01\02\03\04")
  (data $q "\aa")
  (data $a (i32.const 100) "\ff")
  (func (export "init") (param i32 i32 i32)
    (memory.init $p (local.get 0) (local.get 1) (local.get 2)))
  (func (export "init_active") (param i32)
    (memory.init $a (i32.const 0) (i32.const 0) (local.get 0)))
  (func (export "drop") (data.drop $p))
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0))))
"#;

/// Issue 10: `memory.init` and `data.drop` were refused at build time.
/// Each range is checked before anything is written; a dropped segment
/// (by `data.drop`, or an active one after instantiation) has length 0;
/// the dropped state is the instance's, not the module's.
#[test]
fn issue10_memory_init_and_data_drop() {
    for strategy in [BoundsChecks::GuardPages, BoundsChecks::Explicit] {
        let compiled = load(SEGMENTS, strategy);
        let a = instantiate(&compiled.module, &Imports::new());
        let b = instantiate(&compiled.module, &Imports::new());
        let init = |inst: &Instance, d: i32, s: i32, n: i32| {
            call(func(inst, "init"), &[Val::I32(d), Val::I32(s), Val::I32(n)])
        };
        assert!(init(&a, 10, 1, 3).is_ok());
        let bytes: Vec<i32> = (9..14)
            .map(|i| expect_i32(&a, "load", &[Val::I32(i)]))
            .collect();
        assert_eq!(bytes, [0, 2, 3, 4, 0]);
        // Source past the segment's end: trap, nothing written.
        let trap = expect_trap(&a, "init", &[Val::I32(20), Val::I32(2), Val::I32(3)]);
        assert_eq!(trap.code, TrapCode::MemoryOutOfBounds);
        assert_eq!(expect_i32(&a, "load", &[Val::I32(20)]), 0);
        // Destination past the memory's end, even by one byte.
        let trap = expect_trap(&a, "init", &[Val::I32(65533), Val::I32(0), Val::I32(4)]);
        assert_eq!(trap.code, TrapCode::MemoryOutOfBounds);
        assert_eq!(expect_i32(&a, "load", &[Val::I32(65533)]), 0);
        assert!(init(&a, 65532, 0, 4).is_ok());
        // Length 0 at the very ends is fine; one past them is not.
        assert!(init(&a, 65536, 4, 0).is_ok());
        let trap = expect_trap(&a, "init", &[Val::I32(65537), Val::I32(0), Val::I32(0)]);
        assert_eq!(trap.code, TrapCode::MemoryOutOfBounds);
        // Dropped in `a` only.
        assert!(call(func(&a, "drop"), &[]).is_ok());
        let trap = expect_trap(&a, "init", &[Val::I32(0), Val::I32(0), Val::I32(1)]);
        assert_eq!(trap.code, TrapCode::MemoryOutOfBounds);
        assert!(init(&a, 0, 0, 0).is_ok());
        assert!(init(&b, 0, 0, 1).is_ok());
        assert_eq!(expect_i32(&b, "load", &[Val::I32(0)]), 1);
        // The active segment was applied, then dropped.
        assert_eq!(expect_i32(&b, "load", &[Val::I32(100)]), 255);
        let trap = expect_trap(&b, "init_active", &[Val::I32(1)]);
        assert_eq!(trap.code, TrapCode::MemoryOutOfBounds);
        assert!(call(func(&b, "init_active"), &[Val::I32(0)]).is_ok());
    }
}

/// Two tables, neither exported: $t0 has an active segment (without
/// `table.copy`/`table.init` it would be sealed, its contents known at
/// compile time), $t1 is filled from a passive segment of expressions.
const TABLES: &str = r#"
(module
  (type $r (func (result i32)))
  (table $t0 4 funcref)
  (table $t1 4 funcref)
  (func $one (result i32) (i32.const 1))
  (func $two (result i32) (i32.const 2))
  (func $three (result i32) (i32.const 3))
  (elem (table $t0) (i32.const 0) func $one $one)
  (elem $p funcref (ref.func $two) (ref.null func) (ref.func $three))
  (elem declare func $one)
  (func (export "init") (param i32 i32 i32)
    (table.init $t1 $p (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy") (param i32 i32 i32)
    (table.copy $t0 $t1 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy_within") (param i32 i32 i32)
    (table.copy $t0 $t0 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "drop") (elem.drop $p))
  (func (export "call0") (param i32) (result i32)
    (call_indirect $t0 (type $r) (local.get 0)))
  (func (export "call1") (param i32) (result i32)
    (call_indirect $t1 (type $r) (local.get 0))))
"#;

/// Issue 10: several tables, `table.init`, `table.copy`, `elem.drop` and
/// element segments of `ref.func`/`ref.null` were refused at build time.
/// A table `table.copy` writes is no longer sealed, so `call_indirect`
/// sees what was copied; out-of-bounds ranges write nothing.
#[test]
fn issue10_table_init_copy_and_elem_drop() {
    for strategy in [BoundsChecks::GuardPages, BoundsChecks::Explicit] {
        let compiled = load(TABLES, strategy);
        let inst = instantiate(&compiled.module, &Imports::new());
        let run = |name: &str, a: i32, b: i32, n: i32| {
            call(func(&inst, name), &[Val::I32(a), Val::I32(b), Val::I32(n)])
        };
        let trap_of = |name: &str, args: &[i32]| {
            let args: Vec<Val> = args.iter().map(|&a| Val::I32(a)).collect();
            expect_trap(&inst, name, &args).code
        };
        assert_eq!(trap_of("call1", &[0]), TrapCode::IndirectCallToNull);
        assert!(run("init", 1, 0, 3).is_ok());
        assert_eq!(expect_i32(&inst, "call1", &[Val::I32(1)]), 2);
        assert_eq!(trap_of("call1", &[2]), TrapCode::IndirectCallToNull);
        assert_eq!(expect_i32(&inst, "call1", &[Val::I32(3)]), 3);
        // Source range past the segment: trap, nothing written.
        assert_eq!(trap_of("init", &[0, 1, 3]), TrapCode::TableOutOfBounds);
        assert_eq!(trap_of("call1", &[0]), TrapCode::IndirectCallToNull);
        // $t1 -> $t0: the sealed-looking table now holds `$three`.
        assert!(run("copy", 0, 3, 1).is_ok());
        assert_eq!(expect_i32(&inst, "call0", &[Val::I32(0)]), 3);
        assert_eq!(expect_i32(&inst, "call0", &[Val::I32(1)]), 1);
        // Overlapping copy within $t0, both directions.
        assert!(run("copy_within", 1, 0, 2).is_ok());
        let t0: Vec<i32> = (0..3)
            .map(|i| expect_i32(&inst, "call0", &[Val::I32(i)]))
            .collect();
        assert_eq!(t0, [3, 3, 1]);
        assert!(run("copy_within", 0, 1, 2).is_ok());
        let t0: Vec<i32> = (0..2)
            .map(|i| expect_i32(&inst, "call0", &[Val::I32(i)]))
            .collect();
        assert_eq!(t0, [3, 1]);
        // Destination one past the end: trap, nothing written.
        assert_eq!(trap_of("copy", &[2, 0, 3]), TrapCode::TableOutOfBounds);
        assert_eq!(expect_i32(&inst, "call0", &[Val::I32(2)]), 1);
        assert!(run("copy", 4, 0, 0).is_ok());
        assert_eq!(trap_of("copy", &[5, 0, 0]), TrapCode::TableOutOfBounds);
        // A dropped segment has length 0.
        assert!(call(func(&inst, "drop"), &[]).is_ok());
        assert!(run("init", 0, 0, 0).is_ok());
        assert_eq!(trap_of("init", &[0, 0, 1]), TrapCode::TableOutOfBounds);
    }
}
