//! Tail calls (issue 11) through real compiled modules: `return_call` and
//! `return_call_indirect` in constant stack between functions of different
//! signatures (more parameters than the caller, stack-passed ones, results
//! in registers and through the return area), into imported functions (of
//! another instance, of the host), and the traps and backtraces around
//! them.
//!
//! Rule: a constant-stack test makes far more calls than the default wasm
//! stack (2 MiB) could hold frames for, so a tail call that grows the
//! stack fails it with "call stack exhausted"; a backtrace test names the
//! exact frames.

use wasmo_artifact_format::{BoundsChecks, TrapCode};
use wasmo_loader::{Extern, Func, FuncType, HostError, Imports, Instance, Store, Val, ValType};
use wasmo_tests::{
    expect_export as expect, expect_trap, frame_names as names, instantiate, load, Compiled,
};

/// Fails unless `got` are the values `want` (`Val` has no `PartialEq`:
/// references compare by identity, so compare what they print).
#[track_caller]
fn same_vals(got: &[Val], want: &[Val], what: &str) {
    assert_eq!(format!("{got:?}"), format!("{want:?}"), "{what}");
}

/// Compiles and loads `text` and instantiates it without imports in a
/// new store.
fn start(text: &str) -> (Compiled, Store<()>, Instance) {
    let c = load(text, BoundsChecks::GuardPages);
    let mut store = Store::new(());
    let i = instantiate(&mut store, &c.module, &Imports::new());
    (c, store, i)
}

/// Three functions that tail-call each other in a ring, each adding one
/// to the accumulator: `$a` (two parameters) calls `$b` (eighteen, the
/// last integers and floats passed on the stack) directly, `$b` calls `$c`
/// (three) through an exported table (every check at run time), `$c`
/// calls `$a` through a sealed table holding only `$a` (the constant
/// dispatch array). The stack parameters are checked on arrival.
const RING: &str = r#"(module
  (type $a_t (func (param i64 i64) (result i64)))
  (type $b_t (func (param i64 i64 i64 i64 i64 i64 i64 i64
                          f64 f64 f64 f64 f64 f64 f64 f64 f64 f64) (result i64)))
  (type $c_t (func (param i64 i64 f32) (result i64)))
  (table $open (export "table") funcref (elem $a $b $c))
  (table $only_a funcref (elem $a))
  (func $a (export "ring") (type $a_t)
    (if (i64.eqz (local.get 0)) (then (return (local.get 1))))
    (return_call $b
      (i64.sub (local.get 0) (i64.const 1)) (i64.add (local.get 1) (i64.const 1))
      (i64.const 2) (i64.const 3) (i64.const 4) (i64.const 5) (i64.const 6) (i64.const 7)
      (f64.const 1) (f64.const 2) (f64.const 3) (f64.const 4) (f64.const 5)
      (f64.const 6) (f64.const 7) (f64.const 8) (f64.const 9) (f64.const 10)))
  (func $b (type $b_t)
    (if (i64.ne (local.get 7) (i64.const 7)) (then unreachable))
    (if (f64.ne (local.get 17) (f64.const 10)) (then unreachable))
    (if (i64.eqz (local.get 0)) (then (return (local.get 1))))
    (return_call_indirect $open (type $c_t)
      (i64.sub (local.get 0) (i64.const 1)) (i64.add (local.get 1) (i64.const 1))
      (f32.const 1) (i32.const 2)))
  (func $c (type $c_t)
    (if (i64.eqz (local.get 0)) (then (return (local.get 1))))
    (return_call_indirect $only_a (type $a_t)
      (i64.sub (local.get 0) (i64.const 1))
      (i64.add (local.get 1) (i64.trunc_f32_s (local.get 2)))
      (i32.const 0)))
)"#;

/// The issue's constant-stack case: 10^8 calls around the ring.
#[test]
fn issue11_tail_call_constant_stack() {
    let (_c, mut store, i) = start(RING);
    let n = 100_000_000;
    let got = expect(&mut store, &i, "ring", &[Val::I64(n), Val::I64(0)]);
    same_vals(&got, &[Val::I64(n)], "ring");
}

/// Functions whose five integer results do not fit the convention's
/// return registers and go through the return area, tail-calling each
/// other (the area is passed on), called plainly, and from the host.
const RETURN_AREA: &str = r#"(module
  (type $five (func (param i64 i64) (result i64 i64 i64 i64 i64)))
  (type $mixed (func (param i64) (result f64 i32 f64 i64 f32 f64 v128 i32 i64 i64)))
  (func $m1 (export "m1") (param i64 i64) (result i64 i64 i64 i64 i64)
    (if (i64.eqz (local.get 0))
      (then (return (local.get 1) (i64.const 2) (i64.const 3) (i64.const 4) (i64.const 5))))
    (return_call $m2 (i64.sub (local.get 0) (i64.const 1)) (i64.const 1) (i64.const 1)
      (i64.const 1) (i64.const 1) (i64.const 1) (i64.const 1) (local.get 1)))
  (func $m2 (param i64 i64 i64 i64 i64 i64 i64 i64) (result i64 i64 i64 i64 i64)
    (return_call_indirect (type $five)
      (local.get 0) (i64.add (local.get 7) (local.get 6)) (i32.const 0)))
  (table funcref (elem $m1))
  (func (export "plain") (param i64) (result i64)
    (local i64 i64 i64 i64)
    (call $m1 (local.get 0) (i64.const 0))
    (local.set 4) (local.set 3) (local.set 2) (local.set 1)
    (i64.mul (i64.const 1000))
    (i64.add (local.get 1) (i64.add (local.get 2) (i64.add (local.get 3) (local.get 4))))
    (i64.add))
  (func $mixed (export "mixed") (type $mixed)
    (return_call $mixed_b (local.get 0) (i32.const 7)))
  (func $mixed_b (param i64 i32) (result f64 i32 f64 i64 f32 f64 v128 i32 i64 i64)
    (f64.const 1.5) (local.get 1) (f64.const 2.5) (local.get 0) (f32.const 3.5) (f64.const 4.5)
    (v128.const i64x2 6 7) (i32.const 8) (i64.const 9) (i64.const 10))
)"#;

#[test]
fn issue11_tail_call_return_area() {
    let (_c, mut store, i) = start(RETURN_AREA);
    // 10^6 calls, each keeping a return area: far more than the stack
    // holds if either the frames or the areas piled up.
    let n = 1_000_000;
    let got = expect(&mut store, &i, "m1", &[Val::I64(n), Val::I64(0)]);
    same_vals(
        &got,
        &[n, 2, 3, 4, 5].map(Val::I64),
        "results through the return area",
    );
    let got = expect(&mut store, &i, "plain", &[Val::I64(10)]);
    same_vals(&got, &[Val::I64(10 * 1000 + 2 + 3 + 4 + 5)], "plain");
    let got = expect(&mut store, &i, "mixed", &[Val::I64(5)]);
    let want = [
        Val::F64(1.5f64.to_bits()),
        Val::I32(7),
        Val::F64(2.5f64.to_bits()),
        Val::I64(5),
        Val::F32(3.5f32.to_bits()),
        Val::F64(4.5f64.to_bits()),
        Val::V128(6 | (7 << 64)),
        Val::I32(8),
        Val::I64(9),
        Val::I64(10),
    ];
    same_vals(&got, &want, "mixed");
}

/// Exports a tail-calling step and the table it calls through, for
/// [`CALLER`] to import.
const CALLEE: &str = r#"(module
  (type $loop_t (func (param i64 i64) (result i64)))
  (table (export "table") 1 funcref)
  (func (export "step") (param i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)
    (return_call_indirect (type $loop_t)
      (local.get 0) (i64.add (local.get 1) (local.get 8)) (i32.const 0)))
  (func (export "five") (param i64) (result i64 i64 i64 i64 i64)
    (local.get 0) (i64.const 2) (i64.const 3) (i64.const 4) (i64.const 5))
)"#;

/// Loops through another instance's function (`step`, which calls back
/// through a table this module fills) and tail-calls host functions.
const CALLER: &str = r#"(module
  (type $loop_t (func (param i64 i64) (result i64)))
  (import "callee" "table" (table 1 funcref))
  (import "callee" "step" (func $step (param i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)))
  (import "callee" "five" (func $five (param i64) (result i64 i64 i64 i64 i64)))
  (import "host" "add" (func $add (param i64 i64) (result i64)))
  (import "host" "seven" (func $seven (param i32) (result i32 i64 f32 f64 i32 i64 i32)))
  (import "host" "fail" (func $fail (param i64) (result i64)))
  (elem (i32.const 0) $loop)
  (func $loop (export "loop") (type $loop_t)
    (if (i64.eqz (local.get 0)) (then (return (local.get 1))))
    (return_call $step (i64.sub (local.get 0) (i64.const 1)) (local.get 1)
      (i64.const 0) (i64.const 0) (i64.const 0) (i64.const 0) (i64.const 0) (i64.const 0)
      (i64.const 1)))
  (func (export "to_five") (param i64) (result i64 i64 i64 i64 i64)
    (return_call $five (i64.mul (local.get 0) (i64.const 2))))
  (func (export "to_host") (param i64) (result i64)
    (return_call $add (local.get 0) (i64.const 1)))
  (func (export "to_seven") (param i32) (result i32 i64 f32 f64 i32 i64 i32)
    (return_call $seven (local.get 0)))
  (func $outer (export "host_trap") (param i64) (result i64)
    (i64.add (call $middle (local.get 0)) (i64.const 1)))
  (func $middle (param i64) (result i64)
    (return_call $fail (local.get 0)))
)"#;

fn host_imports(store: &mut Store<()>) -> Imports {
    let mut imports = Imports::new();
    let add_ty = FuncType {
        params: vec![ValType::I64, ValType::I64],
        results: vec![ValType::I64],
    };
    let add = Func::new(&mut *store, add_ty, |_caller, args, results| {
        if let [Val::I64(a), Val::I64(b)] = args {
            results[0] = Val::I64(a + b);
        }
        Ok(())
    });
    imports.define("host", "add", Extern::Func(add));
    let seven_ty = FuncType {
        params: vec![ValType::I32],
        results: vec![
            ValType::I32,
            ValType::I64,
            ValType::F32,
            ValType::F64,
            ValType::I32,
            ValType::I64,
            ValType::I32,
        ],
    };
    let seven = Func::new(&mut *store, seven_ty, |_caller, args, results| {
        let x = match args {
            [Val::I32(x)] => *x,
            _ => 0,
        };
        results.clone_from_slice(&[
            Val::I32(x),
            Val::I64(2),
            Val::F32(3.0f32.to_bits()),
            Val::F64(4.0f64.to_bits()),
            Val::I32(5),
            Val::I64(6),
            Val::I32(7),
        ]);
        Ok(())
    });
    imports.define("host", "seven", Extern::Func(seven));
    let fail_ty = FuncType {
        params: vec![ValType::I64],
        results: vec![ValType::I64],
    };
    let fail = Func::new(&mut *store, fail_ty, |_caller, _args, _results| {
        Err(HostError::Trap(TrapCode::IntegerOverflow))
    });
    imports.define("host", "fail", Extern::Func(fail));
    imports
}

#[test]
fn issue11_tail_calls_to_imported_functions() {
    let callee = load(CALLEE, BoundsChecks::GuardPages);
    let caller = load(CALLER, BoundsChecks::Explicit);
    let mut store = Store::new(());
    let a = instantiate(&mut store, &callee.module, &Imports::new());
    let mut imports = host_imports(&mut store);
    for (name, e) in a.exports(&store) {
        imports.define("callee", &name, e);
    }
    let b = instantiate(&mut store, &caller.module, &imports);

    // Across instances both ways, 10^6 round trips: constant stack.
    let n = 1_000_000;
    let got = expect(&mut store, &b, "loop", &[Val::I64(n), Val::I64(0)]);
    same_vals(&got, &[Val::I64(n)], "loop");

    let got = expect(&mut store, &b, "to_five", &[Val::I64(21)]);
    same_vals(&got, &[42, 2, 3, 4, 5].map(Val::I64), "to_five");
    let got = expect(&mut store, &b, "to_host", &[Val::I64(41)]);
    same_vals(&got, &[Val::I64(42)], "to_host");
    let got = expect(&mut store, &b, "to_seven", &[Val::I32(1)]);
    let want = [
        Val::I32(1),
        Val::I64(2),
        Val::F32(3.0f32.to_bits()),
        Val::F64(4.0f64.to_bits()),
        Val::I32(5),
        Val::I64(6),
        Val::I32(7),
    ];
    same_vals(&got, &want, "to_seven");

    // A host function reached by a tail call traps: the frame it replaced
    // (`$middle`) is gone, the one below it is not.
    let trap = expect_trap(&mut store, &b, "host_trap", &[Val::I64(1)]);
    assert_eq!(trap.code, TrapCode::IntegerOverflow);
    assert_eq!(names(&trap), ["outer"]);
}

/// Traps in tail-called functions and in failing `return_call_indirect`s,
/// each below a plain call from `$outer_*`, so the backtrace shows whether
/// the right frames survive: the tail caller is replaced, everything below
/// it stays.
const TRAPS: &str = r#"(module
  (memory 1)
  (type $i_i (func (param i32) (result i32)))
  (type $v_i (func (result i32)))
  (table $open (export "table") 4 funcref)
  (elem (table $open) (i32.const 0) func $target $other_type)
  (table $sealed 3 funcref)
  (elem (table $sealed) (i32.const 0) func $target $other_type)
  (func $target (param i32) (result i32)
    (if (i32.eq (local.get 0) (i32.const 3)) (then unreachable))
    (i32.load (local.get 0)))
  (func $other_type (result i32) (i32.const 0))

  (func $outer_direct (export "direct") (param i32) (result i32)
    (i32.add (call $tail_direct (local.get 0)) (i32.const 1)))
  (func $tail_direct (param i32) (result i32)
    (return_call $target (local.get 0)))

  (func $outer_open (export "open") (param i32 i32) (result i32)
    (i32.add (call $tail_open (local.get 0) (local.get 1)) (i32.const 1)))
  (func $tail_open (param i32 i32) (result i32)
    (return_call_indirect $open (type $i_i) (local.get 0) (local.get 1)))

  (func $outer_sealed (export "sealed") (param i32 i32) (result i32)
    (i32.add (call $tail_sealed (local.get 0) (local.get 1)) (i32.const 1)))
  (func $tail_sealed (param i32 i32) (result i32)
    (return_call_indirect $sealed (type $i_i) (local.get 0) (local.get 1)))
)"#;

#[test]
fn issue11_traps_and_backtraces_around_tail_calls() {
    use TrapCode::{
        BadSignature, IndirectCallToNull, MemoryOutOfBounds, TableOutOfBounds,
        UnreachableCodeReached,
    };
    for bounds_checks in [BoundsChecks::GuardPages, BoundsChecks::Explicit] {
        let c: Compiled = load(TRAPS, bounds_checks);
        let mut store = Store::new(());
        let i = instantiate(&mut store, &c.module, &Imports::new());
        let ok = expect(&mut store, &i, "direct", &[Val::I32(0)]);
        same_vals(&ok, &[Val::I32(1)], "direct(0)");

        // In the tail-called function: `$tail_*` is replaced by `$target`.
        // A memory fault may come before `$target` has set up its frame.
        for (arg, code) in [(3, UnreachableCodeReached), (-8, MemoryOutOfBounds)] {
            let trap = expect_trap(&mut store, &i, "direct", &[Val::I32(arg)]);
            assert_eq!(trap.code, code, "direct({arg})");
            assert_eq!(names(&trap), ["target", "outer_direct"], "direct({arg})");
            for table in ["open", "sealed"] {
                let trap = expect_trap(&mut store, &i, table, &[Val::I32(arg), Val::I32(0)]);
                assert_eq!(trap.code, code, "{table}({arg})");
                let want = ["target".to_owned(), format!("outer_{table}")];
                assert_eq!(names(&trap), want, "{table}({arg})");
            }
        }

        // A failing `return_call_indirect` traps in the function making it,
        // before its frame is replaced.
        for table in ["open", "sealed"] {
            for (elem, code) in [
                (1, BadSignature),
                (2, IndirectCallToNull),
                (7, TableOutOfBounds),
            ] {
                let trap = expect_trap(&mut store, &i, table, &[Val::I32(0), Val::I32(elem)]);
                assert_eq!(trap.code, code, "{table} element {elem}");
                let want = [format!("tail_{table}"), format!("outer_{table}")];
                assert_eq!(names(&trap), want, "{table} element {elem}");
            }
            let ok = expect(&mut store, &i, table, &[Val::I32(4), Val::I32(0)]);
            same_vals(&ok, &[Val::I32(1)], &format!("{table} after the traps"));
        }
    }
}
