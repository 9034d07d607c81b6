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

/// Calls export `name`, which must return normally.
fn call_ok(store: &mut Store<()>, i: &Instance, name: &str, args: &[Val]) -> Vec<Val> {
    let f = func(store, i, name);
    match wasmo_tests::call(store, f, args) {
        Ok(v) => v,
        Err(e) => panic!("{name}: {e}"),
    }
}

fn exported_tag(store: &Store<()>, instance: &Instance, name: &str) -> Tag {
    match instance.get_export(store, name).and_then(Extern::into_tag) {
        Some(t) => t,
        None => panic!("no exported tag `{name}`"),
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
        let call = |store: &mut Store<()>, name: &str, args: &[Val]| call_ok(store, &i, name, args);
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
        let tag = exported_tag(&store, &i, "e");
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

/// `exnref` values: caught with `catch_ref`/`catch_all_ref`, passed
/// through params and results, kept in a global and a table, chosen by
/// `select`, and rethrown with `throw_ref`.
const EXNREFS: &str = r#"(module
  (tag $e (export "e") (param i32))
  (global $g (export "g") (mut exnref) (ref.null exn))
  (table $t (export "t") 2 exnref)
  (func $catch (export "catch") (param i32) (result exnref)
    (local $x exnref)
    (block $h (result i32 exnref)
      (try_table (catch_ref $e $h) (throw $e (local.get 0)))
      (unreachable))
    (local.set $x)
    (drop)
    (local.get $x))
  (func $id (param exnref) (result exnref) (local.get 0))
  (func (export "through") (param i32) (result exnref)
    (call $id (call $catch (local.get 0))))
  (func (export "stash") (param i32)
    (global.set $g (call $catch (local.get 0)))
    (table.set $t (i32.const 1) (global.get $g)))
  (func (export "rethrow_table") (result i32)
    (block $h (result i32)
      (try_table (catch $e $h) (throw_ref (table.get $t (i32.const 1))))
      (unreachable)))
  (func (export "recatch") (param exnref) (result exnref)
    (block $h (result exnref)
      (try_table (catch_all_ref $h) (throw_ref (local.get 0)))
      (unreachable)))
  (func (export "rethrow") (param exnref) (throw_ref (local.get 0)))
  (func (export "pick") (param exnref exnref i32) (result exnref)
    (select (result exnref) (local.get 0) (local.get 1) (local.get 2)))
  (func (export "is_null") (param exnref) (result i32)
    (ref.is_null (local.get 0)))
  (func (export "throw_null") (throw_ref (ref.null exn))))"#;

/// The exception in `v`, a non-null `exnref`.
fn exn_of(v: &[Val]) -> Exception {
    match v {
        [Val::ExnRef(Some(e))] => *e,
        other => panic!("expected one non-null exnref, got {other:?}"),
    }
}

#[test]
fn issue11_exnref_through_params_results_globals_and_tables() {
    for strategy in STRATEGIES {
        let mut store = Store::new(());
        let i = instantiate(&mut store, EXNREFS, strategy, &Imports::new());
        let tag = exported_tag(&store, &i, "e");
        let e = exn_of(&call_ok(&mut store, &i, "through", &[Val::I32(9)]));
        assert_eq!(e.tag(&store), tag);
        assert_eq!(
            format!("{:?}", e.payload(&store)),
            format!("{:?}", [Val::I32(9)])
        );

        call_ok(&mut store, &i, "stash", &[Val::I32(11)]);
        let global = match i.get_global(&store, "g") {
            Some(g) => g,
            None => panic!("no exported global"),
        };
        let in_global = exn_of(&[global.get(&store)]);
        let table = match i.get_table(&store, "t") {
            Some(t) => t,
            None => panic!("no exported table"),
        };
        assert!(matches!(table.get(&store, 0), Some(Val::ExnRef(None))));
        match table.get(&store, 1) {
            Some(Val::ExnRef(Some(in_table))) => assert_eq!(in_table, in_global),
            other => panic!("expected the stashed exnref in the table, got {other:?}"),
        }
        assert!(matches!(
            call_ok(&mut store, &i, "rethrow_table", &[]).as_slice(),
            [Val::I32(11)]
        ));

        let other = exn_of(&call_ok(&mut store, &i, "catch", &[Val::I32(1)]));
        for (c, want) in [(1, e), (0, other)] {
            let args = [Val::ExnRef(Some(e)), Val::ExnRef(Some(other)), Val::I32(c)];
            assert_eq!(exn_of(&call_ok(&mut store, &i, "pick", &args)), want);
        }
        assert!(matches!(
            call_ok(&mut store, &i, "is_null", &[Val::ExnRef(None)]).as_slice(),
            [Val::I32(1)]
        ));
        assert!(matches!(
            call_ok(&mut store, &i, "is_null", &[Val::ExnRef(Some(e))]).as_slice(),
            [Val::I32(0)]
        ));
    }
}

#[test]
fn issue11_throw_ref_rethrows_the_same_exception_object() {
    for strategy in STRATEGIES {
        let mut store = Store::new(());
        let i = instantiate(&mut store, EXNREFS, strategy, &Imports::new());
        let e = exn_of(&call_ok(&mut store, &i, "catch", &[Val::I32(3)]));
        // Through wasm and back: catch_all_ref receives the object itself.
        let again = exn_of(&call_ok(&mut store, &i, "recatch", &[Val::ExnRef(Some(e))]));
        assert_eq!(again, e);
        // Escaping to the host: the same object again.
        let f = func(&store, &i, "rethrow");
        match wasmo_tests::call(&mut store, f, &[Val::ExnRef(Some(e))]) {
            Err(CallError::Exception(x)) => assert_eq!(x, e),
            other => panic!("expected the exception back, got {other:?}"),
        }
    }
}

#[test]
fn issue11_throw_ref_of_null_traps() {
    for strategy in STRATEGIES {
        let mut store = Store::new(());
        let i = instantiate(&mut store, EXNREFS, strategy, &Imports::new());
        let f = func(&store, &i, "throw_null");
        match wasmo_tests::call(&mut store, f, &[]) {
            Err(CallError::Trap(t)) => {
                assert_eq!(t.code, TrapCode::NullExceptionReference);
                assert_eq!(t.code.message(), "null exception reference");
            }
            other => panic!("expected a trap, got {other:?}"),
        }
        let f = func(&store, &i, "rethrow");
        assert!(matches!(
            wasmo_tests::call(&mut store, f, &[Val::ExnRef(None)]),
            Err(CallError::Trap(t)) if t.code == TrapCode::NullExceptionReference
        ));
    }
}

#[test]
fn issue11_host_made_exnref_is_thrown_by_wasm() {
    for strategy in STRATEGIES {
        let mut store = Store::new(());
        let i = instantiate(&mut store, EXNREFS, strategy, &Imports::new());
        let tag = exported_tag(&store, &i, "e");
        let e = match Exception::new(&mut store, tag, &[Val::I32(77)]) {
            Ok(e) => e,
            Err(err) => panic!("making an exception: {err}"),
        };
        if let Some(table) = i.get_table(&store, "t") {
            if let Err(err) = table.set(&mut store, 1, Val::ExnRef(Some(e))) {
                panic!("table.set: {err}");
            }
        }
        assert!(matches!(
            call_ok(&mut store, &i, "rethrow_table", &[]).as_slice(),
            [Val::I32(77)]
        ));
    }
}

#[test]
fn issue11_tag_import_of_the_wrong_type_is_refused() {
    for strategy in STRATEGIES {
        let mut store = Store::new(());
        let a = instantiate(&mut store, EXNREFS, strategy, &Imports::new());
        let mut imports = Imports::new();
        match a.get_export(&store, "e") {
            Some(ext) => imports.define("a", "e", ext),
            None => panic!("no exported tag"),
        }
        let compiled = load(r#"(module (import "a" "e" (tag (param i64))))"#, strategy);
        match Instance::new(&mut store, &compiled.module, &imports) {
            Ok(_) => panic!("a tag of the wrong type was accepted"),
            Err(e) => assert!(e.to_string().contains("incompatible import type"), "{e}"),
        }
    }
}

/// The function indices of an uncaught exception's backtrace.
fn backtrace_of(store: &mut Store<()>, f: Func, args: &[Val]) -> Vec<u32> {
    match wasmo_tests::call(&mut *store, f, args) {
        Err(CallError::Exception(exn)) => exn
            .backtrace(&*store)
            .iter()
            .map(|frame| frame.func_index)
            .collect(),
        other => panic!("expected an uncaught exception, got {other:?}"),
    }
}

#[test]
fn issue11_uncaught_exception_has_a_backtrace() {
    for strategy in STRATEGIES {
        let mut store = Store::new(());
        let i = instantiate(&mut store, THROWER, strategy, &Imports::new());
        // `$deep` is function 0, `uncaught` function 5.
        let f = func(&store, &i, "uncaught");
        assert_eq!(backtrace_of(&mut store, f, &[Val::I32(3)]), [0, 0, 0, 0, 5]);

        let i = instantiate(&mut store, EXNREFS, strategy, &Imports::new());
        let first = exn_of(&call_ok(&mut store, &i, "catch", &[Val::I32(1)]));
        call_ok(&mut store, &i, "catch", &[Val::I32(2)]);
        // `throw_ref` of an older exception: thrown anew from `rethrow`
        // (function 6).
        let f = func(&store, &i, "rethrow");
        assert_eq!(
            backtrace_of(&mut store, f, &[Val::ExnRef(Some(first))]),
            [6]
        );
        // The exception thrown last, caught and rethrown by `recatch`
        // (function 5): its frames stay those of `$catch` (function 0).
        let last = exn_of(&call_ok(&mut store, &i, "catch", &[Val::I32(3)]));
        call_ok(&mut store, &i, "recatch", &[Val::ExnRef(Some(last))]);
        assert_eq!(backtrace_of(&mut store, f, &[Val::ExnRef(Some(last))]), [0]);
    }
}

/// Throws caught through a direct call, `call_indirect` and a host
/// function that calls back into wasm, and one that escapes to the host;
/// the payloads say which path and argument produced them.
const CONCURRENT: &str = r#"(module
  (import "h" "callback" (func $callback (param i32) (result i32)))
  (tag $e (export "e") (param i32))
  (type $t (func (param i32 i32) (result i32)))
  (table 1 funcref)
  (elem (i32.const 0) $deep)
  ;; Recurses `n` times (not a tail call), adding 3 to `v` each time,
  ;; then throws `v`: called with v = 1000 the payload is 1000 + 3n.
  (func $deep (export "deep") (param $n i32) (param $v i32) (result i32)
    (if (i32.eqz (local.get $n))
      (then (throw $e (local.get $v))))
    (i32.add
      (call $deep (i32.sub (local.get $n) (i32.const 1))
                  (i32.add (local.get $v) (i32.const 3)))
      (i32.const 1)))
  (func $thrower (param $n i32) (result i32)
    (drop (call $deep (local.get $n) (i32.const 1000)))
    (unreachable))
  (func (export "direct") (param $n i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h)
        (return (call $thrower (local.get $n))))
      (unreachable))
    (i32.add (local.get $n)))
  (func (export "indirect") (param $n i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h)
        (return (call_indirect (type $t) (local.get $n) (i32.const 1000) (i32.const 0))))
      (unreachable))
    (i32.add (i32.mul (local.get $n) (i32.const 2))))
  (func (export "via_host") (param $n i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h)
        (return (call $callback (local.get $n))))
      (unreachable))
    (i32.add (i32.mul (local.get $n) (i32.const 3))))
  (func (export "uncaught") (param $n i32) (result i32)
    (call $deep (local.get $n) (i32.const 1000))))"#;

/// The host side of `via_host`: calls the instance's `deep` (with 1000)
/// and passes the
/// exception it throws (which stops at that inner entry) on into the calling
/// wasm.
fn callback(store: &mut Store<()>) -> Func {
    let ty = FuncType {
        params: vec![ValType::I32],
        results: vec![ValType::I32],
    };
    Func::new(store, ty, |mut caller, args, results| {
        let Some(deep) = caller.get_export("deep").and_then(Extern::into_func) else {
            return Err(HostError::Message("no export `deep`".into()));
        };
        let args = [args[0].clone(), Val::I32(1000)];
        match deep.call(&mut caller, &args, results) {
            Err(CallError::Exception(exn)) => Err(HostError::Exception(exn)),
            Ok(()) => Err(HostError::Message("`deep` returned".into())),
            Err(e) => Err(HostError::Message(e.to_string())),
        }
    })
}

/// One worker: its own store and instance of `module`, `rounds` times
/// every path, each result checked.
fn throw_rounds(module: &wasmo_loader::Module, worker: usize, rounds: usize) {
    let mut store = Store::new(());
    let cb = callback(&mut store);
    let mut imports = Imports::new();
    imports.define("h", "callback", Extern::Func(cb));
    let i = match Instance::new(&mut store, module, &imports) {
        Ok(i) => i,
        Err(e) => panic!("worker {worker}: instantiating: {e}"),
    };
    let tag = exported_tag(&store, &i, "e");
    for round in 0..rounds {
        let n = ((worker * 7 + round) % 60) as i32;
        let payload = n * 3 + 1000;
        for (export, want) in [
            ("direct", payload + n),
            ("indirect", payload + 2 * n),
            ("via_host", payload + 3 * n),
        ] {
            let got = call_ok(&mut store, &i, export, &[Val::I32(n)]);
            assert_eq!(
                format!("{got:?}"),
                format!("{:?}", [Val::I32(want)]),
                "worker {worker} round {round}: {export}({n})"
            );
        }
        let f = func(&store, &i, "uncaught");
        match wasmo_tests::call(&mut store, f, &[Val::I32(n)]) {
            Err(CallError::Exception(exn)) => {
                assert_eq!(exn.tag(&store), tag, "worker {worker} round {round}");
                assert_eq!(
                    format!("{:?}", exn.payload(&store)),
                    format!("{:?}", [Val::I32(payload)]),
                    "worker {worker} round {round}: uncaught({n})"
                );
                // `deep` n + 1 times, then `uncaught`.
                assert_eq!(exn.backtrace(&store).len(), (n as usize + 2).min(64));
            }
            other => panic!("worker {worker} round {round}: expected an exception, got {other:?}"),
        }
    }
}

/// Several OS threads, each with its own store and instance of one module,
/// throw at once through every path; meanwhile others load, use and drop
/// their own copies of the module, registering and deregistering its
/// unwind tables with the system unwinder while the first throw.
#[test]
fn issue11_concurrent_throws_in_many_threads() {
    const THREADS: usize = 6;
    const CHURNERS: usize = 2;
    const ROUNDS: usize = 300;
    for strategy in STRATEGIES {
        let config = wasmo_compiler::CompileConfig {
            bounds_checks: strategy,
            ..wasmo_compiler::CompileConfig::default()
        };
        let bytes = match wasmo_compiler::compile(&wasmo_tests::wat(CONCURRENT), &config) {
            Ok(b) => std::sync::Arc::new(b),
            Err(e) => panic!("compile failed: {e}"),
        };
        let shared = match wasmo_loader::Module::deserialize(&bytes) {
            Ok(m) => m,
            Err(e) => panic!("loading: {e}"),
        };
        let mut workers = Vec::new();
        for worker in 0..THREADS {
            let module = shared.clone();
            workers.push(std::thread::spawn(move || {
                throw_rounds(&module, worker, ROUNDS)
            }));
        }
        for churner in 0..CHURNERS {
            let bytes = bytes.clone();
            workers.push(std::thread::spawn(move || {
                for round in 0..ROUNDS / 10 {
                    // A module of its own each time: registered on load,
                    // deregistered on drop, while the others unwind.
                    let module = match wasmo_loader::Module::deserialize(&bytes) {
                        Ok(m) => m,
                        Err(e) => panic!("churner {churner} round {round}: loading: {e}"),
                    };
                    throw_rounds(&module, THREADS + churner, 5);
                }
            }));
        }
        for (w, handle) in workers.into_iter().enumerate() {
            if handle.join().is_err() {
                panic!("worker {w} failed ({strategy:?})");
            }
        }
    }
}
