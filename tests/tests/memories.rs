//! Several memories and 64-bit memories (issue 12) through real compiled
//! modules, under both bounds-check strategies: what the spec suite's
//! `multi-memory` and `memory64` groups do not pin down on their own.
//!
//! Rule: every out-of-bounds case names its exact trap and checks that
//! nothing was written; each in-bounds case checks the bytes.

use wasmo_artifact_format::{BoundsChecks, TrapCode};
use wasmo_loader::{CallError, Extern, Func, FuncType, Imports, Instance, Memory, Store, Val};
use wasmo_tests::{call, load, Compiled};

const STRATEGIES: [BoundsChecks; 2] = [BoundsChecks::GuardPages, BoundsChecks::Explicit];

fn instantiate(store: &mut Store<()>, compiled: &Compiled, imports: &Imports) -> Instance {
    match Instance::new(store, &compiled.module, imports) {
        Ok(i) => i,
        Err(e) => panic!("instantiation failed: {e}"),
    }
}

fn export(store: &Store<()>, instance: &Instance, name: &str) -> Func {
    match instance.get_func(store, name) {
        Some(f) => f,
        None => panic!("no export `{name}`"),
    }
}

fn memory(store: &Store<()>, instance: &Instance, name: &str) -> Memory {
    match instance.get_memory(store, name) {
        Some(m) => m,
        None => panic!("no memory `{name}`"),
    }
}

/// Calls `name`; its results, or the trap code it raised.
fn run(
    store: &mut Store<()>,
    instance: &Instance,
    name: &str,
    args: &[Val],
) -> Result<Vec<Val>, TrapCode> {
    let f = export(store, instance, name);
    match call(&mut *store, f, args) {
        Ok(v) => Ok(v),
        Err(CallError::Trap(t)) => Err(t.code),
        Err(e) => panic!("`{name}` failed without a trap: {e}"),
    }
}

fn expect_i64(result: Result<Vec<Val>, TrapCode>, what: &str) -> i64 {
    match result.as_deref() {
        Ok([Val::I64(x)]) => *x,
        other => panic!("{what}: {other:?}"),
    }
}

/// A 64-bit address plus a static offset that wraps past 2^64 must trap,
/// not reach the low addresses it wraps to; so must an offset no address
/// can reach.
#[test]
fn issue12_memory64_wrapping_address_traps() {
    const WAT: &str = r#"(module
      (memory i64 1)
      (data (i64.const 24) "\2a")
      (func (export "load16") (param i64) (result i64)
        (i64.load8_u offset=16 (local.get 0)))
      (func (export "load_max") (param i64) (result i64)
        (i64.load8_u offset=0xffffffffffffffff (local.get 0))))"#;
    for bounds in STRATEGIES {
        let compiled = load(WAT, bounds);
        let mut store = Store::new(());
        let instance = instantiate(&mut store, &compiled, &Imports::new());
        let ok = run(&mut store, &instance, "load16", &[Val::I64(-8)]);
        assert_eq!(
            ok.err(),
            Some(TrapCode::MemoryOutOfBounds),
            "{bounds:?}: -8 + 16 wraps to 8"
        );
        let ok = run(&mut store, &instance, "load16", &[Val::I64(-16)]);
        assert_eq!(
            ok.err(),
            Some(TrapCode::MemoryOutOfBounds),
            "{bounds:?}: -16 + 16 wraps to 0"
        );
        let fine = expect_i64(
            run(&mut store, &instance, "load16", &[Val::I64(8)]),
            "load16(8)",
        );
        assert_eq!(fine, 0x2a, "{bounds:?}: address 8 + 16");
        for addr in [0, 1, -1] {
            let r = run(&mut store, &instance, "load_max", &[Val::I64(addr)]);
            assert_eq!(
                r.err(),
                Some(TrapCode::MemoryOutOfBounds),
                "{bounds:?}: offset 2^64-1 at {addr}"
            );
        }
    }
}

/// `memory.init` into a 64-bit memory gets the whole destination: one past
/// 4 GiB must trap, not land at its low 32 bits.
#[test]
fn issue12_memory_init_64bit_destination() {
    const WAT: &str = r#"(module
      (memory (export "mem") i64 1)
      (data $d "xyz")
      (func (export "init") (param i64)
        (memory.init $d (local.get 0) (i32.const 0) (i32.const 3))))"#;
    for bounds in STRATEGIES {
        let compiled = load(WAT, bounds);
        let mut store = Store::new(());
        let instance = instantiate(&mut store, &compiled, &Imports::new());
        let r = run(&mut store, &instance, "init", &[Val::I64(0x1_0000_0010)]);
        assert_eq!(r.err(), Some(TrapCode::MemoryOutOfBounds), "{bounds:?}");
        let mem = memory(&store, &instance, "mem");
        assert_eq!(
            &mem.data(&store)[0x10..0x13],
            &[0, 0, 0],
            "{bounds:?}: nothing written"
        );
        assert!(run(&mut store, &instance, "init", &[Val::I64(0x20)]).is_ok());
        assert_eq!(&mem.data(&store)[0x20..0x23], b"xyz", "{bounds:?}");
    }
}

/// `memory.copy` from a 32-bit memory 0 into a 64-bit memory 1 (an `i32`
/// length): an out-of-bounds destination writes nothing, an in-bounds one
/// copies.
#[test]
fn issue12_memory_copy_between_32_and_64_bit_memories() {
    const WAT: &str = r#"(module
      (memory $m0 1)
      (memory $m1 (export "m1") i64 1)
      (data (memory $m0) (i32.const 4) "abcd")
      (func (export "copy") (param i64)
        (memory.copy $m1 $m0 (local.get 0) (i32.const 4) (i32.const 4))))"#;
    for bounds in STRATEGIES {
        let compiled = load(WAT, bounds);
        let mut store = Store::new(());
        let instance = instantiate(&mut store, &compiled, &Imports::new());
        let r = run(&mut store, &instance, "copy", &[Val::I64(0x1_0000_0000)]);
        assert_eq!(r.err(), Some(TrapCode::MemoryOutOfBounds), "{bounds:?}");
        let r = run(&mut store, &instance, "copy", &[Val::I64(65536 - 3)]);
        assert_eq!(
            r.err(),
            Some(TrapCode::MemoryOutOfBounds),
            "{bounds:?}: one byte past"
        );
        let m1 = memory(&store, &instance, "m1");
        assert!(
            m1.data(&store).iter().all(|&b| b == 0),
            "{bounds:?}: nothing written"
        );
        assert!(run(&mut store, &instance, "copy", &[Val::I64(100)]).is_ok());
        assert_eq!(&m1.data(&store)[100..104], b"abcd", "{bounds:?}");
    }
}

/// Memory 1's base is loaded once per function; a host call that grows it
/// in the middle of the function must still be seen (the length is
/// reloaded, the base does not move), and the new page must be usable.
#[test]
fn issue12_memory1_grown_by_host_mid_function() {
    const WAT: &str = r#"(module
      (import "host" "grow" (func $grow))
      (memory $m0 1)
      (memory $m1 (export "m1") 1 4)
      (func (export "run") (param i32) (result i64)
        (i64.store $m1 (i32.const 8) (i64.const 7))
        (call $grow)
        (i64.store $m1 (local.get 0) (i64.const 5))
        (i64.add (i64.load $m1 (i32.const 8)) (i64.load $m1 (local.get 0)))))"#;
    for bounds in STRATEGIES {
        let compiled = load(WAT, bounds);
        let mut store = Store::new(());
        let ty = FuncType {
            params: vec![],
            results: vec![],
        };
        let grow = Func::new(&mut store, ty, |mut caller, _args, _results| {
            let Some(Extern::Memory(m1)) = caller.get_export("m1") else {
                panic!("no m1 export");
            };
            m1.grow(&mut caller, 1);
            Ok(())
        });
        let mut imports = Imports::new();
        imports.define("host", "grow", Extern::Func(grow));
        let instance = instantiate(&mut store, &compiled, &imports);
        let v = expect_i64(
            run(&mut store, &instance, "run", &[Val::I32(65536 + 16)]),
            "run",
        );
        assert_eq!(v, 12, "{bounds:?}");
        let m1 = memory(&store, &instance, "m1");
        assert_eq!(m1.size(&store), 2, "{bounds:?}");
        // Grown to 3 pages now; the fourth is still out of bounds.
        let r = run(&mut store, &instance, "run", &[Val::I32(3 * 65536)]);
        assert_eq!(r.err(), Some(TrapCode::MemoryOutOfBounds), "{bounds:?}");
        assert_eq!(m1.size(&store), 3, "{bounds:?}");
    }
}
