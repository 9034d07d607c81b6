//! Typed function references (issue 12) through real compiled modules:
//! `call_ref` through a table of typed references with an initialiser,
//! `return_call_ref` in constant stack, `br_on_null`/`br_on_non_null`,
//! `ref.as_non_null`, non-nullable locals, typed globals, the null traps
//! with their exact codes, and the loader's typed-reference checks at the
//! host boundary and at import matching.
//!
//! Rule: a constant-stack test makes far more calls than the default wasm
//! stack (2 MiB) could hold frames for; a trap test checks the exact code.

use wasmo_artifact_format::{BoundsChecks, TrapCode};
use wasmo_loader::{CallError, Extern, ExternType, Imports, Instance, Store, Val};
use wasmo_tests::{call_export as call, expect_export, expect_trap, instantiate, load, Compiled};

fn expect(store: &mut Store<()>, instance: &Instance, name: &str, args: &[Val]) -> String {
    format!("{:?}", expect_export(store, instance, name, args))
}

/// Compiles and loads `text` under both bounds-check strategies and
/// instantiates each without imports in a new store.
fn each_strategy(text: &str) -> Vec<(Compiled, Store<()>, Instance)> {
    [BoundsChecks::GuardPages, BoundsChecks::Explicit]
        .into_iter()
        .map(|b| {
            let c = load(text, b);
            let mut store = Store::new(());
            let i = instantiate(&mut store, &c.module, &Imports::new());
            (c, store, i)
        })
        .collect()
}

/// A table of `(ref $binop)` whose every element starts as `$add` (the
/// initialiser), two of which an element segment overwrites; `call_ref`
/// through `table.get`, a typed global, and a non-nullable local.
const TYPED_TABLE: &str = r#"(module
  (type $binop (func (param i32 i32) (result i32)))
  (func $add (type $binop) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $binop) (i32.sub (local.get 0) (local.get 1)))
  (func $mul (type $binop) (i32.mul (local.get 0) (local.get 1)))
  (table $ops 8 (ref $binop) (ref.func $add))
  (elem (table $ops) (i32.const 1) (ref $binop) (ref.func $sub) (ref.func $mul))
  (global $g (ref $binop) (ref.func $mul))
  (global $m (mut (ref null $binop)) (ref.null $binop))
  (func (export "apply") (param $i i32) (param $a i32) (param $b i32) (result i32)
    (local $f (ref $binop))
    (local.set $f (table.get $ops (local.get $i)))
    (call_ref $binop (local.get $a) (local.get $b) (local.get $f)))
  (func (export "global") (param i32 i32) (result i32)
    (call_ref $binop (local.get 0) (local.get 1) (global.get $g)))
  (func (export "set_m") (param $i i32)
    (global.set $m (table.get $ops (local.get $i))))
  (func (export "call_m") (param i32 i32) (result i32)
    (call_ref $binop (local.get 0) (local.get 1) (global.get $m)))
  (func (export "size") (result i32) (table.size $ops))
)"#;

#[test]
fn issue12_call_ref_through_typed_table() {
    for (_c, mut store, i) in each_strategy(TYPED_TABLE) {
        let apply = |store: &mut Store<()>, idx, a, b| {
            expect(
                store,
                &i,
                "apply",
                &[Val::I32(idx), Val::I32(a), Val::I32(b)],
            )
        };
        assert_eq!(apply(&mut store, 0, 7, 5), "[I32(12)]", "initialiser");
        assert_eq!(apply(&mut store, 1, 7, 5), "[I32(2)]", "segment");
        assert_eq!(apply(&mut store, 2, 7, 5), "[I32(35)]", "segment");
        assert_eq!(apply(&mut store, 7, 7, 5), "[I32(12)]", "initialiser, last");
        assert_eq!(expect(&mut store, &i, "size", &[]), "[I32(8)]");
        let t = expect_trap(
            &mut store,
            &i,
            "apply",
            &[Val::I32(8), Val::I32(1), Val::I32(1)],
        );
        assert_eq!(t.code, TrapCode::TableOutOfBounds);
        assert_eq!(
            expect(&mut store, &i, "global", &[Val::I32(6), Val::I32(7)]),
            "[I32(42)]"
        );
    }
}

#[test]
fn issue12_call_ref_null_traps_null_function_reference() {
    for (_c, mut store, i) in each_strategy(TYPED_TABLE) {
        let t = expect_trap(&mut store, &i, "call_m", &[Val::I32(1), Val::I32(2)]);
        assert_eq!(t.code, TrapCode::NullFunctionReference);
        assert_eq!(t.code.message(), "null function reference");
        expect(&mut store, &i, "set_m", &[Val::I32(1)]);
        assert_eq!(
            expect(&mut store, &i, "call_m", &[Val::I32(9), Val::I32(2)]),
            "[I32(7)]"
        );
    }
}

/// Two functions of different signatures tail-calling each other
/// through references (a local and a global), counting down.
const TAIL: &str = r#"(module
  (type $even_t (func (param i64 i64) (result i64)))
  (type $odd_t (func (param i64 i64 i64 f64 f64 f64 f64 f64 f64 f64 f64 f64) (result i64)))
  (global $odd (ref $odd_t) (ref.func $odd))
  (elem declare func $even)
  (func $even (export "even") (type $even_t)
    (if (result i64) (i64.eqz (local.get 0))
      (then (local.get 1))
      (else
        (return_call_ref $odd_t
          (i64.sub (local.get 0) (i64.const 1)) (i64.add (local.get 1) (i64.const 1))
          (i64.const 7) (f64.const 1) (f64.const 2) (f64.const 3) (f64.const 4)
          (f64.const 5) (f64.const 6) (f64.const 7) (f64.const 8) (f64.const 9)
          (global.get $odd)))))
  (func $odd (type $odd_t)
    (local $next (ref $even_t))
    (local.set $next (ref.func $even))
    (if (f64.ne (local.get 11) (f64.const 9)) (then unreachable))
    (return_call_ref $even_t (local.get 0) (i64.add (local.get 1) (local.get 2))
      (local.get $next)))
  (func (export "null_tail") (result i64)
    (return_call_ref $even_t (i64.const 0) (i64.const 0) (ref.null $even_t)))
)"#;

#[test]
fn issue12_return_call_ref_constant_stack() {
    for (_c, mut store, i) in each_strategy(TAIL) {
        // 2 * 10^6 round trips, each adding 1 and 7: far more frames
        // than the wasm stack holds.
        let n: i64 = 2_000_000;
        let got = expect(&mut store, &i, "even", &[Val::I64(n), Val::I64(0)]);
        assert_eq!(got, format!("[I64({})]", n * 8));
        let t = expect_trap(&mut store, &i, "null_tail", &[]);
        assert_eq!(t.code, TrapCode::NullFunctionReference);
    }
}

/// `br_on_null` and `br_on_non_null` with values carried past the
/// reference, and `ref.as_non_null`.
const BRANCHES: &str = r#"(module
  (type $t (func (result i32)))
  (func $seven (type $t) (i32.const 7))
  (elem declare func $seven)
  (func $pick (param $null i32) (result (ref null $t))
    (if (result (ref null $t)) (local.get $null)
      (then (ref.null $t)) (else (ref.func $seven))))
  ;; 100 + the call's result, or 200 when null (the i32 below the
  ;; reference rides along on the branch).
  (func (export "on_null_value") (param i32) (result i32)
    (block $is_null (result i32)
      (i32.const 200)
      (br_on_null $is_null (call $pick (local.get 0)))
      (call_ref $t)
      (i32.const 100)
      (i32.add)
      (return))
    (return))
  ;; the call's result, or -1 when null.
  (func (export "on_non_null") (param i32) (result i32)
    (block $has (result i32 (ref $t))
      (i32.const 1000)
      (br_on_non_null $has (call $pick (local.get 0)))
      (drop)
      (return (i32.const -1)))
    (call_ref $t)
    (i32.add))
  (func (export "as_non_null") (param i32) (result i32)
    (call_ref $t (ref.as_non_null (call $pick (local.get 0)))))
)"#;

#[test]
fn issue12_br_on_null_and_br_on_non_null() {
    for (_c, mut store, i) in each_strategy(BRANCHES) {
        assert_eq!(
            expect(&mut store, &i, "on_null_value", &[Val::I32(0)]),
            "[I32(107)]"
        );
        assert_eq!(
            expect(&mut store, &i, "on_null_value", &[Val::I32(1)]),
            "[I32(200)]"
        );
        assert_eq!(
            expect(&mut store, &i, "on_non_null", &[Val::I32(0)]),
            "[I32(1007)]"
        );
        assert_eq!(
            expect(&mut store, &i, "on_non_null", &[Val::I32(1)]),
            "[I32(-1)]"
        );
        assert_eq!(
            expect(&mut store, &i, "as_non_null", &[Val::I32(0)]),
            "[I32(7)]"
        );
    }
}

#[test]
fn issue12_ref_as_non_null_traps_null_reference() {
    for (_c, mut store, i) in each_strategy(BRANCHES) {
        let t = expect_trap(&mut store, &i, "as_non_null", &[Val::I32(1)]);
        assert_eq!(t.code, TrapCode::NullReference);
        assert_eq!(t.code.message(), "null reference");
    }
}

/// An exporter of a typed global and a typed table; importers that name
/// the same types at other indices (so only canonical types match), a
/// wider type (`funcref`, subtyping), and a different type.
const EXPORTER: &str = r#"(module
  (type $u (func (param f32)))
  (type $t (func (param i32) (result i32)))
  (func $inc (type $t) (i32.add (local.get 0) (i32.const 1)))
  (global (export "g") (ref $t) (ref.func $inc))
  (table (export "tab") 2 (ref null $t) (ref.func $inc))
)"#;

#[test]
fn issue12_typed_imports_match_canonical_types_and_subtypes() {
    let exporter = load(EXPORTER, BoundsChecks::GuardPages);
    let mut store = Store::new(());
    let e = instantiate(&mut store, &exporter.module, &Imports::new());
    let mut imports = Imports::new();
    for name in ["g", "tab"] {
        let Some(ext) = e.get_export(&store, name) else {
            panic!("no export `{name}`")
        };
        imports.define("m", name, ext);
    }
    let same = load(
        r#"(module
          (type $t (func (param i32) (result i32)))
          (import "m" "g" (global $g (ref $t)))
          (import "m" "tab" (table $tab 2 (ref null $t)))
          (func (export "run") (param i32) (result i32)
            (call_ref $t (call_ref $t (local.get 0) (global.get $g))
              (table.get $tab (i32.const 1)))))"#,
        BoundsChecks::GuardPages,
    );
    let i = instantiate(&mut store, &same.module, &imports);
    assert_eq!(expect(&mut store, &i, "run", &[Val::I32(40)]), "[I32(42)]");

    let wider = load(
        r#"(module (import "m" "g" (global funcref)))"#,
        BoundsChecks::GuardPages,
    );
    instantiate(&mut store, &wider.module, &imports);

    for (text, what) in [
        (
            r#"(module (type (func (param i64) (result i32))) (import "m" "g" (global (ref 0))))"#,
            "another function type",
        ),
        (
            r#"(module (import "m" "tab" (table 2 funcref)))"#,
            "a table of another element type",
        ),
    ] {
        let other = load(text, BoundsChecks::GuardPages);
        let got = Instance::new(&mut store, &other.module, &imports);
        assert!(got.is_err(), "{what} must not match");
    }
}

/// A host call passing a function of the wrong type, or null, for a
/// `(ref $t)` parameter is refused before any wasm runs.
#[test]
fn issue12_host_arguments_checked_against_typed_references() {
    let text = r#"(module
      (type $t (func (result i32)))
      (type $u (func (result i64)))
      (func $five (export "five") (type $t) (i32.const 5))
      (func $wide (export "wide") (type $u) (i64.const 5))
      (func (export "call") (param (ref $t)) (result i32) (call_ref $t (local.get 0))))"#;
    let (_c, mut store, i) = each_strategy(text).remove(0);
    let get = |store: &Store<()>, name| match i.get_export(store, name) {
        Some(Extern::Func(f)) => f,
        _ => panic!("no function `{name}`"),
    };
    let five = get(&store, "five");
    let wide = get(&store, "wide");
    assert_eq!(
        expect(&mut store, &i, "call", &[Val::FuncRef(Some(five))]),
        "[I32(5)]"
    );
    for (arg, what) in [
        (Val::FuncRef(Some(wide)), "wrong type"),
        (Val::FuncRef(None), "null"),
    ] {
        match call(&mut store, &i, "call", &[arg]) {
            Err(CallError::ArgumentType { .. }) => {}
            other => panic!("{what}: expected an argument type error, got {other:?}"),
        }
    }
}

/// A host function whose declared result is `(ref $t)` (its type taken
/// from the module's import, so canonical) must return a function of
/// that type: wasm calls the result with `call_ref`, which makes no
/// signature check.
#[test]
fn issue12_host_results_checked_against_typed_references() {
    let c = load(
        r#"(module
          (type $t (func (result i32)))
          (import "h" "get" (func $get (result (ref $t))))
          (func $five (export "five") (type $t) (i32.const 5))
          (func $wide (export "wide") (result i64) (i64.const 5))
          (func (export "run") (result i32) (call_ref $t (call $get))))"#,
        BoundsChecks::GuardPages,
    );
    let Some(ExternType::Func(ty)) = c.module.imports().into_iter().next().map(|i| i.ty) else {
        panic!("the import is a function")
    };
    for (export, good) in [("five", true), ("wide", false)] {
        let mut store = Store::new(());
        let slot: std::sync::Arc<std::sync::Mutex<Option<wasmo_loader::Func>>> =
            std::sync::Arc::default();
        let chosen = slot.clone();
        let get = wasmo_loader::Func::new(&mut store, ty.clone(), move |_, _, results| {
            let f = *chosen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            results[0] = Val::FuncRef(f);
            Ok(())
        });
        let mut imports = Imports::new();
        imports.define("h", "get", Extern::Func(get));
        let i = instantiate(&mut store, &c.module, &imports);
        let Some(Extern::Func(f)) = i.get_export(&store, export) else {
            panic!("no function `{export}`")
        };
        *slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(f);
        match call(&mut store, &i, "run", &[]) {
            Ok(v) if good => assert_eq!(format!("{v:?}"), "[I32(5)]"),
            Err(CallError::Host(m)) if !good => {
                assert!(m.contains("result 0"), "{m}")
            }
            other => panic!("{export}: unexpected {other:?}"),
        }
    }
}
