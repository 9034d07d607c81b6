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
