//! Wasm exceptions end to end (issue 11): `throw` and `try_table` through
//! wasm frames, instances and host functions, and what reaches the host.
//!
//! Rule: every test goes through the public API only, under both
//! bounds-check strategies, and checks the exact values thrown.

use wasmo_artifact_format::BoundsChecks;
use wasmo_loader::{
    CallError, Exception, Extern, Func, FuncType, HostError, Imports, Instance, Store, Tag,
    TrapCode, Val, ValType,
};
use wasmo_tests::load;

const STRATEGIES: [BoundsChecks; 2] = [BoundsChecks::GuardPages, BoundsChecks::Explicit];

/// Throws through several frames; catches by tag, by catch-all, and
/// rethrows from a `try_table` whose clauses do not match.
const THROWER: &str = r#"(module
  (tag $e (export "e") (param i32 i64))
  (tag $other (param f64))
  (func $deep (param i32)
    (if (i32.eqz (local.get 0))
      (then (throw $e (i32.const 7) (i64.const 35))))
    (call $deep (i32.sub (local.get 0) (i32.const 1))))
  (func (export "catch_here") (result i32)
    (block $h (result i32 i64)
      (try_table (catch $e $h)
        (throw $e (i32.const 1) (i64.const 2)))
      (return (i32.const -1)))
    (drop)
    (i32.const 100)
    (i32.add))
  (func (export "catch_deep") (param i32) (result i64)
    (local $x i64)
    (block $h (result i32 i64)
      (try_table (catch $e $h)
        (call $deep (local.get 0)))
      (return (i64.const -1)))
    (local.set $x)
    (i64.extend_i32_u)
    (local.get $x)
    (i64.add))
  (func (export "catch_all") (param i32) (result i32)
    (block $h
      (try_table (catch_all $h)
        (call $deep (local.get 0)))
      (return (i32.const 0)))
    (i32.const 1))
  (func (export "nested") (result i32)
    (block $outer (result i32 i64)
      (try_table (catch $e $outer)
        (block $inner (result f64)
          (try_table (catch $other $inner)
            (call $deep (i32.const 3)))
          (return (i32.const -1)))
        (return (i32.const -2)))
      (return (i32.const -3)))
    (drop))
  (func (export "uncaught") (param i32)
    (call $deep (local.get 0)))
  (func (export "trap_in_try") (result i32)
    (block $h
      (try_table (catch_all $h)
        (unreachable)))
    (i32.const 5)))"#;

/// Imports the tag and a function that throws it; catches it by the
/// imported tag (identity across instances).
const IMPORTER: &str = r#"(module
  (import "a" "e" (tag $e (param i32 i64)))
  (import "a" "uncaught" (func $throw (param i32)))
  (tag $mine (param i32 i64))
  (func (export "catch_imported") (result i64)
    (local $x i64)
    (block $h (result i32 i64)
      (try_table (catch $mine 0) (catch $e $h)
        (call $throw (i32.const 2)))
      (return (i64.const -1)))
    (local.set $x)
    (i64.extend_i32_u)
    (local.get $x)
    (i64.add)))"#;

/// Calls a host function that throws, and catches what it threw.
const HOST_CALLER: &str = r#"(module
  (import "h" "e" (tag $e (param i32)))
  (import "h" "throw" (func $throw (param i32)))
  (func (export "run") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h)
        (call $throw (local.get 0)))
      (return (i32.const -1)))))"#;

fn func(store: &Store<()>, instance: &Instance, name: &str) -> Func {
    match instance.get_func(store, name) {
        Some(f) => f,
        None => panic!("no exported function `{name}`"),
    }
}

fn instantiate(
    store: &mut Store<()>,
    text: &str,
    strategy: BoundsChecks,
    imports: &Imports,
) -> Instance {
    let compiled = load(text, strategy);
    match Instance::new(store, &compiled.module, imports) {
        Ok(i) => i,
        Err(e) => panic!("instantiating: {e}"),
    }
}

#[test]
fn issue11_throw_is_caught_by_tag_across_frames() {
    for strategy in STRATEGIES {
        let mut store = Store::new(());
        let i = instantiate(&mut store, THROWER, strategy, &Imports::new());
        let call = |store: &mut Store<()>, name: &str, args: &[Val]| {
            let f = func(store, &i, name);
            match wasmo_tests::call(store, f, args) {
                Ok(v) => v,
                Err(e) => panic!("{name}: {e}"),
            }
        };
        assert_eq!(
            format!("{:?}", call(&mut store, "catch_here", &[])),
            format!("{:?}", [Val::I32(101)])
        );
        assert_eq!(
            format!("{:?}", call(&mut store, "catch_deep", &[Val::I32(50)])),
            format!("{:?}", [Val::I64(42)])
        );
        assert_eq!(
            format!("{:?}", call(&mut store, "catch_all", &[Val::I32(5)])),
            format!("{:?}", [Val::I32(1)])
        );
        assert_eq!(
            format!("{:?}", call(&mut store, "nested", &[])),
            format!("{:?}", [Val::I32(7)])
        );
    }
}

#[test]
fn issue11_uncaught_exception_reaches_the_host_with_tag_and_payload() {
    for strategy in STRATEGIES {
        let mut store = Store::new(());
        let i = instantiate(&mut store, THROWER, strategy, &Imports::new());
        let tag = match i.get_export(&store, "e").and_then(Extern::into_tag) {
            Some(t) => t,
            None => panic!("no exported tag"),
        };
        let f = func(&store, &i, "uncaught");
        match wasmo_tests::call(&mut store, f, &[Val::I32(10)]) {
            Err(CallError::Exception(exn)) => {
                assert_eq!(exn.tag(&store), tag);
                assert_eq!(
                    format!("{:?}", exn.payload(&store)),
                    format!("{:?}", [Val::I32(7), Val::I64(35)])
                );
            }
            other => panic!("expected an uncaught exception, got {other:?}"),
        }
        // The instance stays usable.
        let again = func(&store, &i, "catch_here");
        assert!(matches!(
            wasmo_tests::call(&mut store, again, &[]).as_deref(),
            Ok([Val::I32(101)])
        ));
    }
}

#[test]
fn issue11_catch_all_never_catches_a_trap() {
    for strategy in STRATEGIES {
        let mut store = Store::new(());
        let i = instantiate(&mut store, THROWER, strategy, &Imports::new());
        let f = func(&store, &i, "trap_in_try");
        match wasmo_tests::call(&mut store, f, &[]) {
            Err(CallError::Trap(t)) => assert_eq!(t.code, TrapCode::UnreachableCodeReached),
            other => panic!("expected a trap, got {other:?}"),
        }
    }
}

#[test]
fn issue11_imported_tag_is_the_exporters_tag() {
    for strategy in STRATEGIES {
        let mut store = Store::new(());
        let a = instantiate(&mut store, THROWER, strategy, &Imports::new());
        let mut imports = Imports::new();
        for name in ["e", "uncaught"] {
            match a.get_export(&store, name) {
                Some(ext) => imports.define("a", name, ext),
                None => panic!("no export {name}"),
            }
        }
        let b = instantiate(&mut store, IMPORTER, strategy, &imports);
        let f = func(&store, &b, "catch_imported");
        assert!(matches!(
            wasmo_tests::call(&mut store, f, &[]).as_deref(),
            Ok([Val::I64(42)])
        ));
    }
}

#[test]
fn issue11_host_function_throws_into_wasm() {
    for strategy in STRATEGIES {
        let mut store = Store::new(());
        let ty = FuncType {
            params: vec![ValType::I32],
            results: vec![],
        };
        let tag = Tag::new(&mut store, ty.clone());
        let throw = Func::new(&mut store, ty, move |mut caller, args, _| {
            let v = args[0].i32().unwrap_or(0);
            match Exception::new(&mut caller, tag, &[Val::I32(v * 2)]) {
                Ok(e) => Err(HostError::Exception(e)),
                Err(e) => Err(HostError::Message(e.to_string())),
            }
        });
        let mut imports = Imports::new();
        imports.define("h", "e", Extern::Tag(tag));
        imports.define("h", "throw", Extern::Func(throw));
        let i = instantiate(&mut store, HOST_CALLER, strategy, &imports);
        let f = func(&store, &i, "run");
        assert!(matches!(
            wasmo_tests::call(&mut store, f, &[Val::I32(21)]).as_deref(),
            Ok([Val::I32(42)])
        ));
    }
}
