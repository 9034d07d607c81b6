//! Several memories, 64-bit memories and 64-bit tables (issue 12) through
//! real compiled modules, under both bounds-check strategies: what the spec
//! suite's `multi-memory` and `memory64` groups do not pin down on their
//! own (its `memory64` files have no 64-bit table at all).
//!
//! Rule: every out-of-bounds case names its exact trap and checks that
//! nothing was written; each in-bounds case checks the bytes.

use wasmo_artifact_format::{BoundsChecks, TrapCode};
use wasmo_loader::{
    CallError, Extern, Func, FuncType, Imports, Instance, InstantiationError, Memory, Store, Val,
};
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

/// Every table operator and `call_indirect` through a 64-bit table
/// (memory64's `table64`), with a 32-bit table beside it for `table.copy`
/// in both directions. Indices past 2^32 must trap, not wrap to their low
/// 32 bits; sizes the table or the loader cannot reach answer -1.
const TABLE64_WAT: &str = r#"(module
  (type $ii (func (param i32) (result i32)))
  (table $t i64 3 10 funcref)
  (table $s 2 funcref)
  (table $big i64 0 funcref)
  (elem (table $t) (i64.const 1) func $double $inc)
  (elem (table $s) (i32.const 0) func $inc $double)
  (elem $p func $double $inc)
  (func $double (type $ii) (i32.mul (local.get 0) (i32.const 2)))
  (func $inc (type $ii) (i32.add (local.get 0) (i32.const 1)))
  (func (export "call") (param i64 i32) (result i32)
    (call_indirect $t (type $ii) (local.get 1) (local.get 0)))
  (func (export "tail") (param i64 i32) (result i32)
    (return_call_indirect $t (type $ii) (local.get 1) (local.get 0)))
  (func (export "call32") (param i32 i32) (result i32)
    (call_indirect $s (type $ii) (local.get 1) (local.get 0)))
  (func (export "size") (result i64) (table.size $t))
  (func (export "grow") (param i64) (result i64)
    (table.grow $t (ref.null func) (local.get 0)))
  (func (export "grow_big") (param i64) (result i64)
    (table.grow $big (ref.null func) (local.get 0)))
  (func (export "is_null") (param i64) (result i32)
    (ref.is_null (table.get $t (local.get 0))))
  (func (export "set_inc") (param i64)
    (table.set $t (local.get 0) (ref.func $inc)))
  (func (export "fill") (param i64 i64)
    (table.fill $t (local.get 0) (ref.func $double) (local.get 1)))
  (func (export "init") (param i64 i32 i32)
    (table.init $t $p (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy") (param i64 i64 i64)
    (table.copy $t $t (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy_to_64") (param i64 i32 i32)
    (table.copy $t $s (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy_to_32") (param i32 i64 i32)
    (table.copy $s $t (local.get 0) (local.get 1) (local.get 2))))"#;

/// Calls an export by name: its results, or the trap code it raised.
type Runner<'a> = dyn FnMut(&str, &[Val]) -> Result<Vec<Val>, TrapCode> + 'a;

/// 2^32 + 1: its low 32 bits name an element that exists.
const PAST_4G: i64 = 0x1_0000_0001;

fn expect_i32(result: Result<Vec<Val>, TrapCode>, what: &str) -> i32 {
    match result.as_deref() {
        Ok([Val::I32(x)]) => *x,
        other => panic!("{what}: {other:?}"),
    }
}

#[test]
fn issue12_table64_every_operator() {
    let oob = Some(TrapCode::TableOutOfBounds);
    for bounds in STRATEGIES {
        let compiled = load(TABLE64_WAT, bounds);
        let mut store = Store::new(());
        let instance = instantiate(&mut store, &compiled, &Imports::new());
        let mut r = |name: &str, args: &[Val]| run(&mut store, &instance, name, args);
        let call = |r: &mut Runner<'_>, i: i64| r("call", &[Val::I64(i), Val::I32(5)]);

        // The element segment's i64 offset; call_indirect and its tail form.
        assert_eq!(expect_i32(call(&mut r, 1), "call 1"), 10, "{bounds:?}");
        assert_eq!(expect_i32(call(&mut r, 2), "call 2"), 6, "{bounds:?}");
        let tail = r("tail", &[Val::I64(2), Val::I32(5)]);
        assert_eq!(expect_i32(tail, "tail 2"), 6, "{bounds:?}");
        assert_eq!(
            call(&mut r, 0).err(),
            Some(TrapCode::IndirectCallToNull),
            "{bounds:?}"
        );
        for i in [3, PAST_4G, -1] {
            assert_eq!(call(&mut r, i).err(), oob, "{bounds:?}: call {i}");
            let tail = r("tail", &[Val::I64(i), Val::I32(5)]);
            assert_eq!(tail.err(), oob, "{bounds:?}: tail {i}");
        }

        // table.get / table.set.
        assert_eq!(expect_i32(r("is_null", &[Val::I64(0)]), "is_null"), 1);
        assert_eq!(r("is_null", &[Val::I64(PAST_4G)]).err(), oob);
        assert_eq!(r("set_inc", &[Val::I64(PAST_4G)]).err(), oob);
        assert!(r("set_inc", &[Val::I64(0)]).is_ok());
        assert_eq!(expect_i32(call(&mut r, 0), "call 0 after set"), 6);

        // table.size / table.grow: i64 answers; past the declared maximum,
        // past 2^32 and past the loader's limit, -1 and nothing changes.
        assert_eq!(expect_i64(r("size", &[]), "size"), 3, "{bounds:?}");
        assert_eq!(expect_i64(r("grow", &[Val::I64(2)]), "grow 2"), 3);
        assert_eq!(expect_i64(r("grow", &[Val::I64(6)]), "grow 6"), -1);
        assert_eq!(expect_i64(r("grow", &[Val::I64(1 << 32)]), "grow 2^32"), -1);
        assert_eq!(expect_i64(r("grow", &[Val::I64(-1)]), "grow -1"), -1);
        assert_eq!(expect_i64(r("size", &[]), "size"), 5, "{bounds:?}");
        let past_limit = wasmo_loader::MAX_TABLE_ELEMENTS as i64 + 1;
        let g = r("grow_big", &[Val::I64(past_limit)]);
        assert_eq!(expect_i64(g, "grow_big past the limit"), -1);
        let g = r("grow_big", &[Val::I64(1 << 32)]);
        assert_eq!(expect_i64(g, "grow_big 2^32"), -1);
        assert_eq!(expect_i64(r("grow_big", &[Val::I64(4)]), "grow_big 4"), 0);

        // table.fill: an out-of-bounds range (also one that wraps) writes
        // nothing.
        assert_eq!(r("fill", &[Val::I64(4), Val::I64(2)]).err(), oob);
        assert_eq!(r("fill", &[Val::I64(-1), Val::I64(2)]).err(), oob);
        assert_eq!(expect_i32(r("is_null", &[Val::I64(4)]), "fill oob"), 1);
        assert!(r("fill", &[Val::I64(3), Val::I64(2)]).is_ok());
        assert_eq!(expect_i32(call(&mut r, 4), "call 4 after fill"), 10);

        // table.init: an i64 destination, i32 source and length.
        let init = |r: &mut Runner<'_>, d: i64| r("init", &[Val::I64(d), Val::I32(1), Val::I32(1)]);
        assert_eq!(init(&mut r, PAST_4G).err(), oob, "{bounds:?}");
        assert!(init(&mut r, 3).is_ok());
        assert_eq!(expect_i32(call(&mut r, 3), "call 3 after init"), 6);

        // table.copy within the 64-bit table: i64 operands throughout; an
        // empty range still has to lie inside the table.
        let copy = r("copy", &[Val::I64(0), Val::I64(PAST_4G), Val::I64(0)]);
        assert_eq!(copy.err(), oob, "{bounds:?}");
        assert!(r("copy", &[Val::I64(0), Val::I64(3), Val::I64(2)]).is_ok());
        assert_eq!(expect_i32(call(&mut r, 0), "call 0 after copy"), 6);
        assert_eq!(expect_i32(call(&mut r, 1), "call 1 after copy"), 10);

        // table.copy between a 32- and a 64-bit table: each index has its
        // table's type, the length the 32-bit one's.
        let c = r("copy_to_64", &[Val::I64(PAST_4G), Val::I32(0), Val::I32(1)]);
        assert_eq!(c.err(), oob, "{bounds:?}");
        assert!(r("copy_to_64", &[Val::I64(0), Val::I32(1), Val::I32(1)]).is_ok());
        assert_eq!(expect_i32(call(&mut r, 0), "call 0 after copy_to_64"), 10);
        let c = r("copy_to_32", &[Val::I32(0), Val::I64(PAST_4G), Val::I32(1)]);
        assert_eq!(c.err(), oob, "{bounds:?}");
        assert!(r("copy_to_32", &[Val::I32(1), Val::I64(2), Val::I32(1)]).is_ok());
        let c = r("call32", &[Val::I32(1), Val::I32(5)]);
        assert_eq!(expect_i32(c, "call32 1 after copy_to_32"), 6, "{bounds:?}");
    }
}

/// An active element segment's `i64` offset is used whole: 2^32 + 1 is
/// out of bounds for a three-element table (its low 32 bits are not), and
/// instantiation fails with the table trap.
#[test]
fn issue12_table64_segment_offset_past_4g_traps() {
    const WAT: &str = r#"(module
      (table $t i64 3 funcref)
      (elem (table $t) (i64.const 0x100000001) func $f)
      (func $f))"#;
    let compiled = load(WAT, BoundsChecks::GuardPages);
    let mut store = Store::new(());
    match Instance::new(&mut store, &compiled.module, &Imports::new()) {
        Err(InstantiationError::Trap(t)) => assert_eq!(t.code, TrapCode::TableOutOfBounds),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("instantiated"),
    }
}

/// A 64-bit table only fills a 64-bit table import, and a 32-bit one only
/// a 32-bit import.
#[test]
fn issue12_table64_import_index_type_must_match() {
    let exporter = load(
        r#"(module (table (export "t64") i64 2 funcref) (table (export "t32") 2 funcref))"#,
        BoundsChecks::GuardPages,
    );
    let mut store = Store::new(());
    let exports = instantiate(&mut store, &exporter, &Imports::new());
    let mut imports = Imports::new();
    for name in ["t64", "t32"] {
        let Some(t) = exports.get_table(&store, name) else {
            panic!("no export `{name}`");
        };
        imports.define("m", name, Extern::Table(t));
    }
    for (import, ok) in [
        (r#"(import "m" "t64" (table i64 1 funcref))"#, true),
        (r#"(import "m" "t32" (table 1 funcref))"#, true),
        (r#"(import "m" "t64" (table 1 funcref))"#, false),
        (r#"(import "m" "t32" (table i64 1 funcref))"#, false),
    ] {
        let importer = load(&format!("(module {import})"), BoundsChecks::GuardPages);
        let got = Instance::new(&mut store, &importer.module, &imports);
        assert_eq!(got.is_ok(), ok, "{import}: {:?}", got.err());
    }
}
