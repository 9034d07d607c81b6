//! The Store through real compiled modules: what instances share stays
//! valid as long as their store, whatever happened to the `Instance`
//! handles or to an instantiation that failed half-way (issue 9, defect 3).
//!
//! Rule: every test goes through the public API only, and every value it
//! checks is the exact one wasm or the host put there.

use wasmo_artifact_format::BoundsChecks;
use wasmo_loader::{
    CallError, Extern, Func, Imports, Instance, InstantiationError, Store, Table, TrapCode, Val,
};
use wasmo_tests::load;

const STRATEGIES: [BoundsChecks; 2] = [BoundsChecks::GuardPages, BoundsChecks::Explicit];

/// Calls `f` (one `i32` result) with `args`.
fn call_i32(store: &mut Store<()>, f: Func, args: &[Val]) -> Result<i32, CallError> {
    match wasmo_tests::call(store, f, args)?.as_slice() {
        [Val::I32(x)] => Ok(*x),
        other => panic!("expected an i32, got {other:?}"),
    }
}

fn export_func(store: &Store<()>, instance: &Instance, name: &str) -> Func {
    match instance.get_func(store, name) {
        Some(f) => f,
        None => panic!("no exported function `{name}`"),
    }
}

/// Exports a table whose element 0 is a function reading its memory.
const TABLE_OWNER: &str = r#"(module
  (memory 1)
  (data (i32.const 0) "\2a")
  (table (export "t") 2 funcref)
  (func $f (result i32) (i32.load8_u (i32.const 0)))
  (elem (i32.const 0) $f))"#;

/// Calls through an imported table.
const TABLE_USER: &str = r#"(module
  (type $r (func (result i32)))
  (import "a" "t" (table 2 funcref))
  (func (export "call") (param i32) (result i32)
    (call_indirect (type $r) (local.get 0))))"#;

#[test]
fn issue9_table_outlives_the_instance_handle_that_exported_it() {
    for strategy in STRATEGIES {
        let owner = load(TABLE_OWNER, strategy);
        let user = load(TABLE_USER, strategy);
        let mut store = Store::new(());
        let table: Table = {
            // The exporting instance's handle is gone after this block.
            let a = match Instance::new(&mut store, &owner.module, &Imports::new()) {
                Ok(i) => i,
                Err(e) => panic!("instantiating the owner: {e}"),
            };
            match a.get_table(&store, "t") {
                Some(t) => t,
                None => panic!("no exported table"),
            }
        };
        // `Table::get` returns the element that is set, not null.
        let f = match table.get(&store, 0) {
            Some(Val::FuncRef(Some(f))) => f,
            other => panic!("element 0 should be the owner's $f, got {other:?}"),
        };
        assert!(matches!(table.get(&store, 1), Some(Val::FuncRef(None))));
        assert_eq!(call_i32(&mut store, f, &[]).ok(), Some(42));
        // A call through the table from another instance still reaches the
        // owner's code, VMContext and memory.
        let mut imports = Imports::new();
        imports.define("a", "t", Extern::Table(table));
        let b = match Instance::new(&mut store, &user.module, &imports) {
            Ok(i) => i,
            Err(e) => panic!("instantiating the user: {e}"),
        };
        let call = export_func(&store, &b, "call");
        for _ in 0..3 {
            assert_eq!(call_i32(&mut store, call, &[Val::I32(0)]).ok(), Some(42));
        }
        match call_i32(&mut store, call, &[Val::I32(1)]) {
            Err(CallError::Trap(t)) => assert_eq!(t.code, TrapCode::IndirectCallToNull),
            other => panic!("expected a null-call trap, got {other:?}"),
        }
    }
}

/// Exports an empty table and calls through it.
const TABLE_HOST: &str = r#"(module
  (type $r (func (result i32)))
  (table (export "t") 2 funcref)
  (func (export "call") (param i32) (result i32)
    (call_indirect (type $r) (local.get 0))))"#;

/// Writes its own function into the imported table, then traps on its
/// second data segment (spec-legal: element segments first, then data
/// segments, in order, earlier writes kept).
const HALF_INITIALISED: &str = r#"(module
  (import "a" "t" (table 2 funcref))
  (memory 1)
  (func $g (result i32) (i32.add (i32.load8_u (i32.const 0)) (i32.const 100)))
  (elem (i32.const 1) $g)
  (data (i32.const 0) "\07")
  (data (i32.const 65535) "past the end"))"#;

#[test]
fn issue9_half_initialised_instance_stays_callable_through_a_table() {
    for strategy in STRATEGIES {
        let host = load(TABLE_HOST, strategy);
        let half = load(HALF_INITIALISED, strategy);
        let mut store = Store::new(());
        let a = match Instance::new(&mut store, &host.module, &Imports::new()) {
            Ok(i) => i,
            Err(e) => panic!("instantiating the table's owner: {e}"),
        };
        let table = match a.get_table(&store, "t") {
            Some(t) => t,
            None => panic!("no exported table"),
        };
        let mut imports = Imports::new();
        imports.define("a", "t", Extern::Table(table));
        match Instance::new(&mut store, &half.module, &imports) {
            Err(InstantiationError::Trap(t)) => assert_eq!(t.code, TrapCode::MemoryOutOfBounds),
            other => panic!("expected an out-of-bounds trap, got {other:?}"),
        }
        // The failed instance's function is in the table, with its
        // VMContext and memory (first data segment applied).
        let call = export_func(&store, &a, "call");
        for _ in 0..3 {
            assert_eq!(call_i32(&mut store, call, &[Val::I32(1)]).ok(), Some(107));
        }
        let g = match table.get(&store, 1) {
            Some(Val::FuncRef(Some(g))) => g,
            other => panic!("element 1 should be the failed instance's $g, got {other:?}"),
        };
        assert_eq!(call_i32(&mut store, g, &[]).ok(), Some(107));
    }
}

#[test]
fn issue9_memory_is_borrowed_from_the_store() {
    let c = load(
        r#"(module (memory (export "m") 1 2)
             (func (export "get") (result i32) (i32.load8_u (i32.const 3)))
             (func (export "grow") (result i32) (memory.grow (i32.const 1))))"#,
        BoundsChecks::GuardPages,
    );
    let mut store = Store::new(());
    let i = match Instance::new(&mut store, &c.module, &Imports::new()) {
        Ok(i) => i,
        Err(e) => panic!("instantiating: {e}"),
    };
    let mem = match i.get_memory(&store, "m") {
        Some(m) => m,
        None => panic!("no exported memory"),
    };
    mem.data_mut(&mut store)[3] = 9;
    let get = export_func(&store, &i, "get");
    assert_eq!(call_i32(&mut store, get, &[]).ok(), Some(9));
    let grow = export_func(&store, &i, "grow");
    assert_eq!(call_i32(&mut store, grow, &[]).ok(), Some(1));
    // A slice taken after the grow sees the new length; one taken before
    // cannot still be alive (the call needed `&mut store`).
    assert_eq!(mem.data(&store).len(), 2 << 16);
    assert_eq!(mem.data(&store)[3], 9);
}

/// A host function that writes the caller's memory, keeps count in the
/// store's data and calls back into the same instance (host -> wasm ->
/// host -> wasm on one store).
const REENTRANT: &str = r#"(module
  (import "host" "poke" (func $poke (param i32) (result i32)))
  (memory (export "m") 1)
  (func (export "get") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "run") (param i32) (result i32) (call $poke (local.get 0))))"#;

#[test]
fn host_functions_reach_their_store_and_reenter_it() {
    use wasmo_loader::{FuncType, HostError, ValType};
    for strategy in STRATEGIES {
        let c = load(REENTRANT, strategy);
        let mut store: Store<u32> = Store::new(0);
        let ty = FuncType {
            params: vec![ValType::I32],
            results: vec![ValType::I32],
        };
        let poke = Func::new(&mut store, ty, |mut caller, args, results| {
            let at = args[0].i32().unwrap_or(0);
            let mem = caller
                .get_export("m")
                .and_then(Extern::into_memory)
                .ok_or(HostError::Message("no memory".into()))?;
            assert_eq!(caller.memory(), Some(mem));
            mem.data_mut(&mut caller)[at as usize] = 5;
            *caller.data_mut() += 1;
            let get = caller
                .get_export("get")
                .and_then(Extern::into_func)
                .ok_or(HostError::Message("no get".into()))?;
            let mut r = [Val::I32(0)];
            get.call(&mut caller, &[Val::I32(at)], &mut r)
                .map_err(|e| HostError::Message(e.to_string()))?;
            results[0] = Val::I32(r[0].i32().unwrap_or(0) + 1);
            Ok(())
        });
        let mut imports = Imports::new();
        imports.define("host", "poke", Extern::Func(poke));
        let i = match Instance::new(&mut store, &c.module, &imports) {
            Ok(i) => i,
            Err(e) => panic!("instantiating: {e}"),
        };
        let run = match i.get_func(&store, "run") {
            Some(f) => f,
            None => panic!("no `run`"),
        };
        let mut r = [Val::I32(0)];
        for n in 1..=3 {
            match run.call(&mut store, &[Val::I32(10 * n)], &mut r) {
                Ok(()) => assert!(matches!(r, [Val::I32(6)])),
                Err(e) => panic!("run: {e}"),
            }
            assert_eq!(*store.data(), n as u32);
        }
        // The store moves to another thread whole, and works there.
        let moved = std::thread::spawn(move || {
            let r = run.call(&mut store, &[Val::I32(7)], &mut [Val::I32(0)]);
            (store, r.is_ok())
        })
        .join();
        match moved {
            Ok((store, true)) => assert_eq!(*store.data(), 4),
            _ => panic!("the call on another thread failed"),
        }
    }
}

/// Instantiates `text` (compiled for `strategy`) with no imports.
fn instantiate(store: &mut Store<()>, text: &str, strategy: BoundsChecks) -> Instance {
    let c = load(text, strategy);
    match Instance::new(&mut *store, &c.module, &Imports::new()) {
        Ok(i) => i,
        Err(e) => panic!("instantiating: {e}"),
    }
}

/// A table that neither `table.init` nor `table.copy` writes, defined and
/// not exported, whose contents an element segment sets: before issue 10
/// it was sealed and `call_indirect` went through a constant dispatch
/// array, which `table.set` must not leave stale.
const SET_THEN_CALL: &str = r#"(module
  (type $r (func (result i32)))
  (table 2 funcref)
  (func $a (result i32) (i32.const 1))
  (func $b (result i32) (i32.const 2))
  (elem (i32.const 0) $a)
  (elem declare func $b)
  (func (export "set") (table.set (i32.const 0) (ref.func $b)))
  (func (export "clear") (table.set (i32.const 0) (ref.null func)))
  (func (export "call") (param i32) (result i32)
    (call_indirect (type $r) (local.get 0))))"#;

#[test]
fn issue10_call_indirect_after_table_set_reaches_the_new_function() {
    for strategy in STRATEGIES {
        let mut store = Store::new(());
        let i = instantiate(&mut store, SET_THEN_CALL, strategy);
        let call = export_func(&store, &i, "call");
        assert_eq!(call_i32(&mut store, call, &[Val::I32(0)]).ok(), Some(1));
        let set = export_func(&store, &i, "set");
        assert!(wasmo_tests::call(&mut store, set, &[]).is_ok());
        assert_eq!(call_i32(&mut store, call, &[Val::I32(0)]).ok(), Some(2));
        let clear = export_func(&store, &i, "clear");
        assert!(wasmo_tests::call(&mut store, clear, &[]).is_ok());
        match call_i32(&mut store, call, &[Val::I32(0)]) {
            Err(CallError::Trap(t)) => assert_eq!(t.code, TrapCode::IndirectCallToNull),
            other => panic!("expected a null-call trap, got {other:?}"),
        }
    }
}

/// A private table that grows from inside a loop through a call, so its
/// elements move while `run` is in the middle of calling through it.
const GROW_WHILE_CALLING: &str = r#"(module
  (type $r (func (result i32)))
  (table $t 1 100000 funcref)
  (func $seven (result i32) (i32.const 7))
  (elem declare func $seven)
  (func $grow (result i32)
    (table.grow $t (ref.func $seven) (i32.const 1000)))
  (func (export "run") (param $n i32) (result i32)
    (local $sum i32)
    (loop $l
      (drop (call $grow))
      (local.set $sum
        (i32.add (local.get $sum)
          (call_indirect (type $r) (i32.sub (table.size $t) (i32.const 1)))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $sum))
  (func (export "size") (result i32) (table.size $t))
  (func (export "grow") (param i32) (result i32)
    (table.grow $t (ref.null func) (local.get 0)))
  (func (export "first_is_null") (result i32) (ref.is_null (table.get $t (i32.const 0)))))"#;

#[test]
fn issue10_table_grow_moves_elements_and_calls_follow() {
    for strategy in STRATEGIES {
        let mut store = Store::new(());
        let i = instantiate(&mut store, GROW_WHILE_CALLING, strategy);
        let run = export_func(&store, &i, "run");
        assert_eq!(call_i32(&mut store, run, &[Val::I32(50)]).ok(), Some(350));
        let size = export_func(&store, &i, "size");
        assert_eq!(call_i32(&mut store, size, &[]).ok(), Some(50_001));
        // Past the maximum: -1, and nothing changes.
        let grow = export_func(&store, &i, "grow");
        assert_eq!(
            call_i32(&mut store, grow, &[Val::I32(50_000)]).ok(),
            Some(-1)
        );
        assert_eq!(
            call_i32(&mut store, grow, &[Val::I32(49_999)]).ok(),
            Some(50_001)
        );
        assert_eq!(call_i32(&mut store, size, &[]).ok(), Some(100_000));
        // Element 0 was never written: still null after every move.
        let first = export_func(&store, &i, "first_is_null");
        assert_eq!(call_i32(&mut store, first, &[]).ok(), Some(1));
    }
}

/// Externrefs through an exported table and global, and wasm functions.
const EXTERNREFS: &str = r#"(module
  (table $t (export "t") 2 10 externref)
  (global $g (export "g") (mut externref) (ref.null extern))
  (func (export "put") (param i32 externref) (table.set $t (local.get 0) (local.get 1)))
  (func (export "take") (param i32) (result externref) (table.get $t (local.get 0)))
  (func (export "keep") (param externref) (global.set $g (local.get 0)))
  (func (export "fill") (param i32 externref i32)
    (table.fill $t (local.get 0) (local.get 1) (local.get 2)))
  (func (export "is_null") (param externref) (result i32) (ref.is_null (local.get 0))))"#;

#[test]
fn issue10_externrefs_round_trip_through_tables_and_globals() {
    use wasmo_loader::ExternRef;
    let is = |v: &Val, r: &ExternRef| matches!(v, Val::ExternRef(Some(x)) if x.ptr_eq(r));
    for strategy in STRATEGIES {
        let mut store = Store::new(());
        let i = instantiate(&mut store, EXTERNREFS, strategy);
        let f = |store: &Store<()>, name| export_func(store, &i, name);
        let (put, take, keep, fill, is_null) = (
            f(&store, "put"),
            f(&store, "take"),
            f(&store, "keep"),
            f(&store, "fill"),
            f(&store, "is_null"),
        );
        let a = ExternRef::new(String::from("a"));
        let b = ExternRef::new(17u64);
        let args = [Val::I32(1), Val::ExternRef(Some(a.clone()))];
        assert!(wasmo_tests::call(&mut store, put, &args).is_ok());
        match wasmo_tests::call(&mut store, take, &[Val::I32(1)]) {
            Ok(v) => assert!(is(&v[0], &a), "{v:?}"),
            Err(e) => panic!("take: {e}"),
        }
        assert_eq!(
            call_i32(&mut store, is_null, &[Val::ExternRef(Some(b.clone()))]).ok(),
            Some(0)
        );
        assert_eq!(
            call_i32(&mut store, is_null, &[Val::ExternRef(None)]).ok(),
            Some(1)
        );
        let table = match i.get_table(&store, "t") {
            Some(t) => t,
            None => panic!("no exported table"),
        };
        assert!(matches!(table.get(&store, 1), Some(ref v) if is(v, &a)));
        assert!(matches!(table.get(&store, 0), Some(Val::ExternRef(None))));
        // The host grows the table; wasm sees the new elements.
        assert_eq!(
            table
                .grow(&mut store, 3, Val::ExternRef(Some(b.clone())))
                .ok(),
            Some(2)
        );
        assert!(table.grow(&mut store, 6, Val::ExternRef(None)).is_err());
        assert_eq!(table.size(&store), 5);
        match wasmo_tests::call(&mut store, take, &[Val::I32(4)]) {
            Ok(v) => assert!(is(&v[0], &b), "{v:?}"),
            Err(e) => panic!("take: {e}"),
        }
        // table.fill checks its range first: nothing is written.
        let args = [Val::I32(3), Val::ExternRef(None), Val::I32(3)];
        match wasmo_tests::call(&mut store, fill, &args) {
            Err(CallError::Trap(t)) => assert_eq!(t.code, TrapCode::TableOutOfBounds),
            other => panic!("expected an out-of-bounds trap, got {other:?}"),
        }
        assert!(matches!(table.get(&store, 3), Some(ref v) if is(v, &b)));
        let args = [Val::I32(2), Val::ExternRef(None), Val::I32(3)];
        assert!(wasmo_tests::call(&mut store, fill, &args).is_ok());
        assert!(matches!(table.get(&store, 4), Some(Val::ExternRef(None))));
        // Globals: set by wasm, read and written by the host.
        assert!(wasmo_tests::call(&mut store, keep, &[Val::ExternRef(Some(b.clone()))]).is_ok());
        let g = match i.get_global(&store, "g") {
            Some(g) => g,
            None => panic!("no exported global"),
        };
        assert!(is(&g.get(&store), &b));
        assert!(g.set(&mut store, Val::ExternRef(Some(a.clone()))).is_ok());
        assert!(is(&g.get(&store), &a));
        // The host objects are alive: downcasts still work.
        assert_eq!(
            a.data().downcast_ref::<String>().map(String::as_str),
            Some("a")
        );
    }
}

/// Recursion the optimiser cannot turn into a loop (the store after the
/// call), a trap of each kind, and a host function that calls back in.
const REENTRY: &str = r#"(module
  (import "host" "back" (func $back (param i32) (result i32)))
  (memory 1)
  (func $rec (export "rec") (param i32) (result i32)
    (local $r i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else
        (local.set $r (call $rec (i32.sub (local.get 0) (i32.const 1))))
        (i32.store (i32.const 0) (local.get 0))
        (i32.add (local.get $r) (i32.const 1)))))
  (func (export "boom") (result i32) (unreachable))
  (func (export "oob") (result i32) (i32.load (i32.const 70000)))
  (func (export "nest") (param i32) (result i32) (call $back (local.get 0))))"#;

/// Calls into wasm reuse one suspended coroutine per thread (issue 14):
/// each way a call can end (a helper's trap, a fault, a guard-page stack
/// overflow, a host error from a nested entry) must leave the next call a
/// working stack, nested entries must get stacks of their own, and a
/// store's stack size must be the one its calls run on.
#[test]
fn issue14_wasm_stacks_survive_traps_nesting_and_size_changes() {
    use wasmo_loader::HostError;
    for strategy in STRATEGIES {
        let compiled = load(REENTRY, strategy);
        let mut store = Store::new(());
        let back = Func::wrap(
            &mut store,
            |mut caller: wasmo_loader::Caller<'_, ()>, x: i32| -> Result<i32, HostError> {
                let Some(Extern::Func(f)) = caller.get_export(if x == 1 { "boom" } else { "rec" })
                else {
                    return Err(HostError::Message("no export".into()));
                };
                match x {
                    0 => Ok(7),
                    1 => {
                        let boom = f
                            .typed::<(), i32>(&caller)
                            .map_err(|e| HostError::Message(e.to_string()))?;
                        match boom.call(&mut caller, ()) {
                            Err(CallError::Trap(t)) => {
                                Err(HostError::Message(format!("inner {:?}", t.code)))
                            }
                            other => Ok(1000 + i32::from(other.is_ok())),
                        }
                    }
                    n => {
                        let rec = f
                            .typed::<i32, i32>(&caller)
                            .map_err(|e| HostError::Message(e.to_string()))?;
                        rec.call(&mut caller, 10 * n)
                            .map(|r| r + 100)
                            .map_err(|e| HostError::Message(e.to_string()))
                    }
                }
            },
        );
        let mut imports = Imports::new();
        imports.define("host", "back", Extern::Func(back));
        let instance = match Instance::new(&mut store, &compiled.module, &imports) {
            Ok(i) => i,
            Err(e) => panic!("instantiating: {e}"),
        };
        let rec = export_func(&store, &instance, "rec");
        let nest = export_func(&store, &instance, "nest");
        let trap_of = |r: Result<i32, CallError>| match r {
            Err(CallError::Trap(t)) => t.code,
            other => panic!("expected a trap, got {other:?}"),
        };
        assert_eq!(call_i32(&mut store, rec, &[Val::I32(10)]).ok(), Some(10));
        for (name, code) in [
            ("boom", TrapCode::UnreachableCodeReached),
            ("oob", TrapCode::MemoryOutOfBounds),
        ] {
            let f = export_func(&store, &instance, name);
            assert_eq!(trap_of(call_i32(&mut store, f, &[])), code, "{name}");
            assert_eq!(call_i32(&mut store, rec, &[Val::I32(10)]).ok(), Some(10));
        }
        // Too deep for the default 2 MiB stack, not for 64 MiB.
        let deep = [Val::I32(400_000)];
        assert_eq!(
            trap_of(call_i32(&mut store, rec, &deep)),
            TrapCode::StackOverflow
        );
        assert_eq!(call_i32(&mut store, rec, &[Val::I32(10)]).ok(), Some(10));
        store.set_wasm_stack_size(64 << 20);
        assert_eq!(call_i32(&mut store, rec, &deep).ok(), Some(400_000));
        store.set_wasm_stack_size(wasmo_loader::DEFAULT_WASM_STACK_SIZE);
        assert_eq!(
            trap_of(call_i32(&mut store, rec, &deep)),
            TrapCode::StackOverflow
        );
        // Nested entries: wasm -> host -> wasm, ending well or in a trap.
        for _ in 0..3 {
            assert_eq!(call_i32(&mut store, nest, &[Val::I32(0)]).ok(), Some(7));
            assert_eq!(call_i32(&mut store, nest, &[Val::I32(2)]).ok(), Some(120));
            match call_i32(&mut store, nest, &[Val::I32(1)]) {
                Err(CallError::Host(m)) => assert!(m.contains("UnreachableCodeReached"), "{m}"),
                other => panic!("expected the host's error, got {other:?}"),
            }
            assert_eq!(call_i32(&mut store, rec, &[Val::I32(10)]).ok(), Some(10));
        }
    }
}

/// Recurses, calling the host at every level: `nest` once at the top
/// (which enters wasm again), then the stack-hungry `deep`.
const HOST_STACK_CHECK: &str = r#"(module
  (import "host" "deep" (func $deep))
  (import "host" "nest" (func $nest))
  (func $down (export "down") (param i32)
    (if (i32.eqz (local.get 0)) (then (call $nest)))
    (call $deep)
    (call $down (i32.add (local.get 0) (i32.const 1))))
  (func (export "inner") (call $deep) (call $deep) (call $deep)))"#;

/// A store of [`HOST_STACK_CHECK`] with a 256 KiB wasm stack, whose
/// `nest` calls `inner` and then `then` (with the store's data), and
/// its `down`.
fn host_stack_check_store(
    strategy: BoundsChecks,
    then: impl Fn() -> Result<(), String> + Send + Sync + 'static,
) -> (Store<u64>, wasmo_loader::TypedFunc<i32, ()>) {
    use wasmo_loader::{Caller, HostError};
    let c = load(HOST_STACK_CHECK, strategy);
    let mut store = Store::new(0u64);
    store.set_wasm_stack_size(256 << 10);
    // 96 KiB of stack: less than the reserve every host call is promised
    // (128 KiB), more than is left near the guard page, so a missing or
    // wrong check makes it fault there (`HostStackExhausted`).
    let deep = Func::wrap(&mut store, |mut caller: Caller<'_, u64>| {
        let buf = std::hint::black_box([1u8; 96 << 10]);
        *caller.data_mut() += u64::from(buf[0]);
    });
    let nest = Func::wrap(
        &mut store,
        move |mut caller: Caller<'_, u64>| -> Result<(), HostError> {
            let inner = caller
                .get_export("inner")
                .and_then(Extern::into_func)
                .ok_or(HostError::Message("no inner".into()))?;
            inner
                .call(&mut caller, &[], &mut [])
                .map_err(|e| HostError::Message(e.to_string()))?;
            then().map_err(HostError::Message)
        },
    );
    let mut imports = Imports::new();
    imports.define("host", "deep", Extern::Func(deep));
    imports.define("host", "nest", Extern::Func(nest));
    let i = match Instance::new(&mut store, &c.module, &imports) {
        Ok(i) => i,
        Err(e) => panic!("instantiating: {e}"),
    };
    let down = match i
        .get_func(&store, "down")
        .map(|f| f.typed::<i32, ()>(&store))
    {
        Some(Ok(f)) => f,
        _ => panic!("no `down` of type [i32] -> []"),
    };
    (store, down)
}

/// `down` must end in the host-call stack check (`StackOverflow`, many
/// levels deep), never in a host function faulting on the guard page.
fn expect_checked_overflow(r: Result<(), CallError>, calls: u64) -> Result<(), String> {
    match r {
        Err(CallError::Trap(t)) if t.code == TrapCode::StackOverflow && calls > 1000 => Ok(()),
        other => Err(format!(
            "expected the host-call stack check after > 1000 calls, got {other:?} after {calls}"
        )),
    }
}

/// The host-call stack check reads a limit each entry into wasm sets in
/// its store (no thread-local, issue 14): it must be the innermost
/// entry's, and come back to the outer entry's when a nested entry (of
/// the same store, or of another store on the same thread) ends.
#[test]
fn issue14_host_stack_check_follows_nested_entries() {
    use std::sync::{Arc, Mutex};
    for strategy in STRATEGIES {
        // Another store, entered from inside the first one's host call.
        let other = Arc::new(Mutex::new(host_stack_check_store(strategy, || Ok(()))));
        let nested = Arc::clone(&other);
        let (mut store, down) = host_stack_check_store(strategy, move || {
            let mut guard = nested.lock().map_err(|_| "poisoned".to_string())?;
            let (store, down) = &mut *guard;
            let r = down.call(&mut *store, 0);
            expect_checked_overflow(r, *store.data())
        });
        let r = down.call(&mut store, 0);
        let calls = *store.data();
        if let Err(e) = expect_checked_overflow(r, calls) {
            panic!("{strategy:?}: {e}");
        }
        // And the other store alone, after being entered nested.
        let mut guard = match other.lock() {
            Ok(g) => g,
            Err(_) => panic!("poisoned"),
        };
        let (other_store, other_down) = &mut *guard;
        *other_store.data_mut() = 0;
        let r = other_down.call(&mut *other_store, 0);
        if let Err(e) = expect_checked_overflow(r, *other_store.data()) {
            panic!("{strategy:?}, other store: {e}");
        }
    }
}

/// A thread's idle wasm stack is freed with its pool at thread exit;
/// wasm that a later thread-local destructor runs still gets a stack (a
/// new one, freed when it comes back).
#[test]
fn issue14_wasm_runs_from_a_thread_local_destructor() {
    use std::cell::RefCell;
    use std::sync::mpsc;
    struct RunOnDrop(Option<(Store<()>, Func, mpsc::Sender<Option<i32>>)>);
    impl Drop for RunOnDrop {
        fn drop(&mut self) {
            if let Some((mut store, f, tx)) = self.0.take() {
                let _ = tx.send(call_i32(&mut store, f, &[Val::I32(5)]).ok());
            }
        }
    }
    thread_local! {
        static LATE: RefCell<RunOnDrop> = const { RefCell::new(RunOnDrop(None)) };
    }
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let mut store = Store::new(());
        let instance = instantiate(&mut store, REENTRY_FREE, BoundsChecks::GuardPages);
        let rec = export_func(&store, &instance, "rec");
        // Registered before the stack pool, so destroyed after it.
        LATE.with(|l| l.borrow_mut().0 = None);
        let first = call_i32(&mut store, rec, &[Val::I32(3)]).ok();
        LATE.with(|l| l.borrow_mut().0 = Some((store, rec, tx.clone())));
        let _ = tx.send(first);
    });
    if worker.join().is_err() {
        panic!("the worker panicked");
    }
    assert_eq!(rx.recv().ok(), Some(Some(3)), "the call before thread exit");
    assert_eq!(
        rx.recv().ok(),
        Some(Some(5)),
        "the call from the destructor"
    );
}

/// Counts down recursively, with no imports.
const REENTRY_FREE: &str = r#"(module
  (func $rec (export "rec") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $rec (i32.sub (local.get 0) (i32.const 1))))))))"#;
