//! Issue 13's resource limits through the loader API: per-store memory
//! and table limits, fuel, interruption from another thread and the
//! per-store wasm stack size. Each bomb is stopped by its limit and the
//! test (the process) goes on to check what the store says afterwards.
//!
//! Rule: every limit is shown to bite (the same module runs further, or
//! without a trap, when the limit is lifted), so no test passes because
//! the limit did nothing.

use std::time::Duration;

use wasmo_artifact_format::{BoundsChecks, Instrumentation};
use wasmo_compiler::CompileConfig;
use wasmo_loader::{
    CallError, Extern, Func, FuncType, HostError, Imports, Instance, InstantiationError, Store,
    StoreLimits, TrapCode, Val,
};
use wasmo_tests::{load, load_with, Compiled};

const STRATEGIES: [BoundsChecks; 2] = [BoundsChecks::GuardPages, BoundsChecks::Explicit];

fn instrumented(text: &str, bits: u8) -> Compiled {
    load_with(
        text,
        &CompileConfig {
            instrumentation: Instrumentation(bits),
            ..CompileConfig::default()
        },
    )
}

fn instance(store: &mut Store<()>, c: &Compiled) -> Instance {
    match Instance::new(&mut *store, &c.module, &Imports::new()) {
        Ok(i) => i,
        Err(e) => panic!("instantiation failed: {e}"),
    }
}

fn func(store: &Store<()>, i: &Instance, name: &str) -> Func {
    match i.get_func(store, name) {
        Some(f) => f,
        None => panic!("no export `{name}`"),
    }
}

fn call(store: &mut Store<()>, f: Func, args: &[Val]) -> Result<Vec<Val>, CallError> {
    wasmo_tests::call(store, f, args)
}

fn trap_code(r: Result<Vec<Val>, CallError>) -> TrapCode {
    match r {
        Err(CallError::Trap(t)) => t.code,
        other => panic!("expected a trap, got {other:?}"),
    }
}

fn i32_of(r: Result<Vec<Val>, CallError>) -> i32 {
    match r.as_deref() {
        Ok([Val::I32(x)]) => *x,
        other => panic!("expected one i32, got {other:?}"),
    }
}

fn i64_of(r: Result<Vec<Val>, CallError>) -> i64 {
    match r.as_deref() {
        Ok([Val::I64(x)]) => *x,
        other => panic!("expected one i64, got {other:?}"),
    }
}

/// Grows memory 0 by a page at a time until `memory.grow` fails; returns
/// the size reached in pages.
const MEMORY_BOMB: &str = r#"(module
  (memory (export "m") 1)
  (func (export "bomb") (result i32)
    (block $done
      (loop $more
        (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $more)))
    (memory.size)))"#;

#[test]
fn issue13_memory_bomb_stopped_by_max_memory_size() {
    for strategy in STRATEGIES {
        let c = load(MEMORY_BOMB, strategy);
        let mut store = Store::new(());
        store.set_limits(StoreLimits {
            max_memory_size: Some(16 << 20),
            ..StoreLimits::default()
        });
        let i = instance(&mut store, &c);
        let bomb = func(&store, &i, "bomb");
        assert_eq!(i32_of(call(&mut store, bomb, &[])), 256, "{strategy:?}");
        let m = match i.get_memory(&store, "m") {
            Some(m) => m,
            None => panic!("no memory export"),
        };
        assert_eq!(m.grow(&mut store, 1), None, "host grow past the limit");
        assert_eq!(m.data(&store).len(), 16 << 20);
        // Without the limit the same module grows further.
        let mut free = Store::new(());
        free.set_limits(StoreLimits {
            max_memory_size: Some(32 << 20),
            ..StoreLimits::default()
        });
        let i = instance(&mut free, &c);
        let bomb = func(&free, &i, "bomb");
        assert_eq!(i32_of(call(&mut free, bomb, &[])), 512);
    }
}

/// Grows a table by 100 elements at a time until `table.grow` fails;
/// returns the size reached.
const TABLE_BOMB: &str = r#"(module
  (table (export "t") 0 funcref)
  (func (export "bomb") (result i32)
    (block $done
      (loop $more
        (br_if $done (i32.eq (table.grow (ref.null func) (i32.const 100)) (i32.const -1)))
        (br $more)))
    (table.size)))"#;

#[test]
fn issue13_table_bomb_stopped_by_max_table_elements() {
    let c = load(TABLE_BOMB, STRATEGIES[0]);
    let mut store = Store::new(());
    store.set_limits(StoreLimits {
        max_table_elements: Some(1000),
        ..StoreLimits::default()
    });
    let i = instance(&mut store, &c);
    let bomb = func(&store, &i, "bomb");
    assert_eq!(i32_of(call(&mut store, bomb, &[])), 1000);
    let t = match i.get_table(&store, "t") {
        Some(t) => t,
        None => panic!("no table export"),
    };
    assert!(
        t.grow(&mut store, 1, Val::FuncRef(None)).is_err(),
        "host grow past the limit"
    );
    assert_eq!(t.size(&store), 1000);
    let mut free = Store::new(());
    free.set_limits(StoreLimits {
        max_table_elements: Some(5000),
        ..StoreLimits::default()
    });
    let i = instance(&mut free, &c);
    let bomb = func(&free, &i, "bomb");
    assert_eq!(i32_of(call(&mut free, bomb, &[])), 5000);
}

#[test]
fn issue13_instantiation_past_a_limit_fails_with_its_name() {
    let big = load("(module (memory 300))", BoundsChecks::GuardPages);
    let mut store = Store::new(());
    store.set_limits(StoreLimits {
        max_memory_size: Some(16 << 20),
        ..StoreLimits::default()
    });
    match Instance::new(&mut store, &big.module, &Imports::new()) {
        Err(InstantiationError::Resource(msg)) => {
            assert!(msg.contains("max-memory-size"), "{msg}");
            assert!(msg.contains(&(300u64 << 16).to_string()), "{msg}");
        }
        other => panic!("expected a resource error, got {other:?}"),
    }

    let table = load("(module (table 100 funcref))", BoundsChecks::GuardPages);
    let mut store = Store::new(());
    store.set_limits(StoreLimits {
        max_table_elements: Some(10),
        ..StoreLimits::default()
    });
    match Instance::new(&mut store, &table.module, &Imports::new()) {
        Err(InstantiationError::Resource(msg)) => {
            assert!(msg.contains("100 elements"), "{msg}")
        }
        other => panic!("expected a resource error, got {other:?}"),
    }
    store.set_limits(StoreLimits {
        max_table_elements: Some(100),
        ..StoreLimits::default()
    });
    instance(&mut store, &table);
}

#[test]
fn issue13_store_counts_of_instances_memories_and_tables() {
    let c = load(
        "(module (memory 1) (table 1 funcref))",
        BoundsChecks::GuardPages,
    );
    for (limits, what) in [
        (
            StoreLimits {
                max_instances: Some(2),
                ..StoreLimits::default()
            },
            "2 instances",
        ),
        (
            StoreLimits {
                max_memories: Some(2),
                ..StoreLimits::default()
            },
            "2 memories",
        ),
        (
            StoreLimits {
                max_tables: Some(2),
                ..StoreLimits::default()
            },
            "2 tables",
        ),
    ] {
        let mut store = Store::new(());
        store.set_limits(limits);
        instance(&mut store, &c);
        instance(&mut store, &c);
        match Instance::new(&mut store, &c.module, &Imports::new()) {
            Err(InstantiationError::Resource(msg)) => assert!(msg.contains(what), "{msg}"),
            other => panic!("third instance under {limits:?}: {other:?}"),
        }
    }
}

const SPIN: &str = r#"(module
  (func (export "spin") (loop $l (br $l)))
  (func (export "add") (result i32) (i32.add (i32.const 1) (i32.const 2))))"#;

#[test]
fn issue13_infinite_loop_stopped_by_fuel() {
    let c = instrumented(SPIN, Instrumentation::CONSUME_FUEL);
    let mut store = Store::new(());
    // Until the store meters fuel, counting code runs unbounded.
    assert_eq!(store.get_fuel(), i64::MAX as u64);
    let i = instance(&mut store, &c);
    let add = func(&store, &i, "add");
    assert_eq!(i32_of(call(&mut store, add, &[])), 3);
    assert_eq!(store.get_fuel(), i64::MAX as u64 - 4);
    store.set_fuel(1_000_000);
    let i = instance(&mut store, &c);
    let spin = func(&store, &i, "spin");
    assert_eq!(trap_code(call(&mut store, spin, &[])), TrapCode::OutOfFuel);
    assert_eq!(store.get_fuel(), 0);
    // Out of fuel, even a short function traps at its entry; refuelled,
    // it runs and costs exactly its four operators (two constants, `add`
    // and `end`).
    let add = func(&store, &i, "add");
    assert_eq!(trap_code(call(&mut store, add, &[])), TrapCode::OutOfFuel);
    store.set_fuel(100);
    assert_eq!(i32_of(call(&mut store, add, &[])), 3);
    assert_eq!(store.get_fuel(), 96);
}

#[test]
fn issue13_fuel_counts_the_same_on_every_run() {
    // Branches, calls and a data-dependent loop.
    let text = r#"(module
      (func $collatz (param $n i32) (result i32) (local $steps i32)
        (block $done
          (loop $next
            (br_if $done (i32.le_u (local.get $n) (i32.const 1)))
            (if (i32.and (local.get $n) (i32.const 1))
              (then (local.set $n (i32.add (i32.mul (local.get $n) (i32.const 3)) (i32.const 1))))
              (else (local.set $n (i32.shr_u (local.get $n) (i32.const 1)))))
            (local.set $steps (i32.add (local.get $steps) (i32.const 1)))
            (br $next)))
        (local.get $steps))
      (func (export "run") (param $k i32) (result i32) (local $sum i32)
        (loop $l
          (local.set $sum (i32.add (local.get $sum) (call $collatz (local.get $k))))
          (local.set $k (i32.sub (local.get $k) (i32.const 1)))
          (br_if $l (local.get $k)))
        (local.get $sum)))"#;
    let c = instrumented(text, Instrumentation::CONSUME_FUEL);
    let used = |k: i32| {
        let mut store = Store::new(());
        store.set_fuel(u64::MAX / 2);
        let i = instance(&mut store, &c);
        let run = func(&store, &i, "run");
        let r = i32_of(call(&mut store, run, &[Val::I32(k)]));
        (r, u64::MAX / 2 - store.get_fuel())
    };
    let first = used(200);
    assert_eq!(first, used(200));
    assert_eq!(first, used(200));
    // More work costs more.
    assert!(used(300).1 > first.1, "{first:?}");
    // Exactly that much fuel is enough; half of it is not (checks sit at
    // function entries and loop headers, so the last straight run may
    // overdraw, but no loop iteration or call does).
    let mut store = Store::new(());
    store.set_fuel(first.1);
    let i = instance(&mut store, &c);
    let run = func(&store, &i, "run");
    assert_eq!(i32_of(call(&mut store, run, &[Val::I32(200)])), first.0);
    assert_eq!(store.get_fuel(), 0);
    let mut store = Store::new(());
    store.set_fuel(first.1 / 2);
    let i = instance(&mut store, &c);
    let run = func(&store, &i, "run");
    assert_eq!(
        trap_code(call(&mut store, run, &[Val::I32(200)])),
        TrapCode::OutOfFuel
    );
}

#[test]
fn issue13_fuel_store_refuses_code_that_cannot_count() {
    let c = load(SPIN, BoundsChecks::GuardPages);
    let mut store = Store::new(());
    store.set_fuel(10);
    match Instance::new(&mut store, &c.module, &Imports::new()) {
        Err(InstantiationError::Resource(msg)) => {
            assert!(msg.contains("--consume-fuel"), "{msg}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Interrupts `store` from another thread after 100 ms.
fn interrupt_soon(store: &Store<()>) -> std::thread::JoinHandle<()> {
    let handle = store.interrupt_handle();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        handle.interrupt();
    })
}

#[test]
fn issue13_infinite_loop_interrupted_from_another_thread() {
    let c = instrumented(SPIN, Instrumentation::EPOCH_INTERRUPTION);
    let mut store = Store::new(());
    let i = instance(&mut store, &c);
    let spin = func(&store, &i, "spin");
    let add = func(&store, &i, "add");
    let timer = interrupt_soon(&store);
    let r = call(&mut store, spin, &[]);
    let _ = timer.join();
    match r {
        Err(CallError::Trap(t)) => {
            assert_eq!(t.code, TrapCode::Interrupt);
            assert!(!t.backtrace.is_empty(), "the interrupt is a trap site");
        }
        other => panic!("expected an interrupt, got {other:?}"),
    }
    // Interrupted stays interrupted until reset.
    assert_eq!(trap_code(call(&mut store, add, &[])), TrapCode::Interrupt);
    store.reset_interrupt();
    assert_eq!(i32_of(call(&mut store, add, &[])), 3);
}

#[test]
fn issue13_interrupt_stops_recursion_without_loops() {
    // Every function entry checks, so a call cycle is stopped too.
    let text = r#"(module
      (func $ping (export "ping") (param i32) (result i32)
        (if (result i32) (local.get 0)
          (then (call $ping (i32.sub (local.get 0) (i32.const 1))))
          (else (i32.const 7)))))"#;
    let c = instrumented(
        text,
        Instrumentation::EPOCH_INTERRUPTION | Instrumentation::CONSUME_FUEL,
    );
    let mut store = Store::new(());
    store.set_fuel(1 << 40);
    let i = instance(&mut store, &c);
    let ping = func(&store, &i, "ping");
    assert_eq!(i32_of(call(&mut store, ping, &[Val::I32(1000)])), 7);
    store.interrupt_handle().interrupt();
    assert_eq!(
        trap_code(call(&mut store, ping, &[Val::I32(1000)])),
        TrapCode::Interrupt
    );
}

/// An endless loop without a `loop` and without stack growth: two functions
/// tail-calling each other, one directly and one through the table.
const TAIL_SPIN: &str = r#"(module
  (type $t (func (param i64) (result i64)))
  (table 2 funcref)
  (elem (i32.const 0) $a $b)
  (func $a (export "spin") (param i64) (result i64)
    (return_call $b (i64.add (local.get 0) (i64.const 1))))
  (func $b (param i64) (result i64)
    (return_call_indirect (type $t) (local.get 0) (i32.const 0)))
  (func (export "leaf") (param i64) (result i64)
    (i64.mul (local.get 0) (i64.const 3))))"#;

#[test]
fn issue13_interrupt_stops_a_tail_call_loop() {
    let c = instrumented(TAIL_SPIN, Instrumentation::EPOCH_INTERRUPTION);
    let mut store = Store::new(());
    let i = instance(&mut store, &c);
    let spin = func(&store, &i, "spin");
    let leaf = func(&store, &i, "leaf");
    // `leaf` calls nothing and has no loop, so it compiles without a
    // check; it runs, and an interrupted store still refuses to enter it.
    assert_eq!(i64_of(call(&mut store, leaf, &[Val::I64(5)])), 15);
    let timer = interrupt_soon(&store);
    let r = call(&mut store, spin, &[Val::I64(0)]);
    let _ = timer.join();
    assert_eq!(trap_code(r), TrapCode::Interrupt);
    assert_eq!(
        trap_code(call(&mut store, leaf, &[Val::I64(5)])),
        TrapCode::Interrupt
    );
    store.reset_interrupt();
    assert_eq!(i64_of(call(&mut store, leaf, &[Val::I64(5)])), 15);
}

/// Loops whose only check may be in a callee: `spin_calls` calls, first
/// thing each iteration, a function that calls (so checks at entry) and
/// compiles without a header check; `spin_leaf` calls a function without
/// a check, so its header keeps one.
const CALL_SPIN: &str = r#"(module
  (func $tick (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (call $tick (i32.const 0)))))
  (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func (export "spin_calls") (loop $l (drop (call $tick (i32.const 1))) (br $l)))
  (func (export "spin_leaf") (loop $l (drop (call $leaf (i32.const 1))) (br $l))))"#;

#[test]
fn issue13_interrupt_stops_loops_checked_by_their_callees() {
    let c = instrumented(CALL_SPIN, Instrumentation::EPOCH_INTERRUPTION);
    for name in ["spin_calls", "spin_leaf"] {
        let mut store = Store::new(());
        let i = instance(&mut store, &c);
        let spin = func(&store, &i, name);
        let timer = interrupt_soon(&store);
        let r = call(&mut store, spin, &[]);
        let _ = timer.join();
        assert_eq!(trap_code(r), TrapCode::Interrupt, "{name}");
    }
}

/// An instance that calls a host function and then what its table's
/// slot 0 holds; the host function may put a new instance's function there.
const CALL_SLOT: &str = r#"(module
  (import "h" "hook" (func $hook))
  (type $v (func (result i32)))
  (table (export "t") 1 funcref)
  (func (export "run") (result i32)
    (call $hook)
    (call_indirect (type $v) (i32.const 0)))
  (func (export "again") (result i32)
    (call_indirect (type $v) (i32.const 0))))"#;

/// Counts to 100 million in a loop (a checked header, no calls) and puts
/// itself into the imported table's slot 0.
const COUNT_INTO_SLOT: &str = r#"(module
  (import "a" "t" (table 1 funcref))
  (elem (i32.const 0) $count)
  (func $count (result i32) (local i32)
    (loop $l
      (local.set 0 (i32.add (local.get 0) (i32.const 1)))
      (br_if $l (i32.ne (local.get 0) (i32.const 100000000))))
    (local.get 0)))"#;

#[test]
fn issue13_instance_made_in_an_interrupted_store_is_interrupted() {
    // Compiled checks read each instance's copy of the interrupt word: a
    // copy made after the interrupt must start set, and a reset must
    // clear it. The host hook interrupts the store and then makes the
    // instance whose loop `run` goes on to call; wasm already running
    // is not stopped by the loader's check at entry from the host.
    let epoch = Instrumentation::EPOCH_INTERRUPTION;
    let a = instrumented(CALL_SLOT, epoch);
    let b = instrumented(COUNT_INTO_SLOT, epoch);
    let mut store = Store::new(());
    let handle = store.interrupt_handle();
    let b_module = b.module.clone();
    let table: std::sync::Arc<std::sync::Mutex<Option<Extern>>> = Default::default();
    let slot = table.clone();
    let ty = FuncType {
        params: vec![],
        results: vec![],
    };
    let hook = Func::new(&mut store, ty, move |mut caller, _, _| {
        handle.interrupt();
        let mut imports = Imports::new();
        let t = slot.lock().map_err(|e| HostError::Message(e.to_string()))?;
        if let Some(t) = *t {
            imports.define("a", "t", t);
        }
        Instance::new(&mut caller, &b_module, &imports)
            .map_err(|e| HostError::Message(e.to_string()))?;
        Ok(())
    });
    let mut imports = Imports::new();
    imports.define("h", "hook", Extern::Func(hook));
    let i = match Instance::new(&mut store, &a.module, &imports) {
        Ok(i) => i,
        Err(e) => panic!("instantiation failed: {e}"),
    };
    *table
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = i.get_export(&store, "t");
    let run = func(&store, &i, "run");
    let again = func(&store, &i, "again");
    assert_eq!(trap_code(call(&mut store, run, &[])), TrapCode::Interrupt);
    // The reset clears the new instance's copy too: its loop runs to the end.
    store.reset_interrupt();
    assert_eq!(i32_of(call(&mut store, again, &[])), 100_000_000);
}

#[test]
fn issue13_interrupt_reaches_every_instance_and_outlives_the_store() {
    // Each instance has its own copy of the word: an interrupt from
    // another thread must reach the one that runs, not only the first.
    let c = instrumented(SPIN, Instrumentation::EPOCH_INTERRUPTION);
    let mut store = Store::new(());
    let _first = instance(&mut store, &c);
    let second = instance(&mut store, &c);
    let spin = func(&store, &second, "spin");
    let timer = interrupt_soon(&store);
    let r = call(&mut store, spin, &[]);
    let _ = timer.join();
    assert_eq!(trap_code(r), TrapCode::Interrupt);
    // A handle kept after its store is gone writes no freed VMContext.
    let handle = store.interrupt_handle();
    drop(store);
    handle.interrupt();
    assert!(handle.is_interrupted());
}

#[test]
fn issue13_fuel_stops_a_tail_call_loop() {
    let c = instrumented(TAIL_SPIN, Instrumentation::CONSUME_FUEL);
    let mut store = Store::new(());
    store.set_fuel(100_000);
    let i = instance(&mut store, &c);
    let spin = func(&store, &i, "spin");
    assert_eq!(
        trap_code(call(&mut store, spin, &[Val::I64(0)])),
        TrapCode::OutOfFuel
    );
}

/// Recurses until the stack runs out, counting the depth in a global.
const DEEP: &str = r#"(module
  (global $depth (export "depth") (mut i32) (i32.const 0))
  (func $down (export "down") (param i64 i64 i64 i64) (result i64)
    (global.set $depth (i32.add (global.get $depth) (i32.const 1)))
    (i64.add (local.get 0)
      (call $down (local.get 1) (local.get 2) (local.get 3) (local.get 0)))))"#;

fn depth_reached(c: &Compiled, stack: usize) -> i32 {
    let mut store = Store::new(());
    store.set_wasm_stack_size(stack);
    assert!(store.wasm_stack_size() >= stack);
    let i = instance(&mut store, c);
    let down = func(&store, &i, "down");
    let args = [Val::I64(1), Val::I64(2), Val::I64(3), Val::I64(4)];
    assert_eq!(
        trap_code(call(&mut store, down, &args)),
        TrapCode::StackOverflow
    );
    match i.get_global(&store, "depth").map(|g| g.get(&store)) {
        Some(Val::I32(d)) => d,
        other => panic!("depth global: {other:?}"),
    }
}

#[test]
fn issue13_deep_recursion_bounded_by_the_store_stack_size() {
    let c = load(DEEP, BoundsChecks::GuardPages);
    let small = depth_reached(&c, 256 << 10);
    let large = depth_reached(&c, 4 << 20);
    assert!(small > 100, "{small}");
    assert!(
        large > 8 * small,
        "4 MiB reached depth {large}, 256 KiB {small}"
    );
}

#[test]
fn issue13_host_function_near_the_stack_limit_fails_cleanly() {
    let text = r#"(module
      (import "host" "note" (func $note))
      (func $down (export "down") (param i32)
        (call $note)
        (call $down (i32.add (local.get 0) (i32.const 1)))))"#;
    let c = load(text, BoundsChecks::GuardPages);
    let mut store = Store::new(0u64);
    store.set_wasm_stack_size(256 << 10);
    let note = Func::new(
        &mut store,
        FuncType {
            params: vec![],
            results: vec![],
        },
        |mut caller: wasmo_loader::Caller<'_, u64>, _args: &[Val], _results: &mut [Val]| {
            *caller.data_mut() += 1;
            Ok(())
        },
    );
    let mut imports = Imports::new();
    imports.define("host", "note", wasmo_loader::Extern::Func(note));
    let i = match Instance::new(&mut store, &c.module, &imports) {
        Ok(i) => i,
        Err(e) => panic!("instantiation failed: {e}"),
    };
    let down = match i.get_func(&store, "down") {
        Some(f) => f,
        None => panic!("no export"),
    };
    let r = down.call(&mut store, &[Val::I32(0)], &mut []);
    match r {
        Err(CallError::Trap(t)) => assert!(
            matches!(
                t.code,
                TrapCode::StackOverflow | TrapCode::HostStackExhausted
            ),
            "{t:?}"
        ),
        other => panic!("expected stack exhaustion, got {other:?}"),
    }
    let calls = *store.data();
    assert!(calls > 10, "{calls} host calls");
}

fn bin(name: &str) -> std::path::PathBuf {
    match wasmo_tests::bin_path(name) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

/// `text` written to `app.wat` in a new temporary directory.
fn wat_file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let wat = dir.path().join("app.wat");
    if let Err(e) = std::fs::write(&wat, text) {
        panic!("writing the module: {e}");
    }
    (dir, wat)
}

/// `wasmoc build FLAGS` of `text`, then `wasmo exec ARGS... ARTIFACT` with
/// `--invoke spin`; returns the exit status and stderr. `spin` never ends
/// on its own, so a limit that does not stop it would hang the test: a
/// watchdog kills `wasmo` after [`LIMIT_WATCHDOG`] of its own run (the
/// build is not counted) and fails the test instead. This bounds
/// liveness, not speed: the limits under test fire within seconds.
fn exec_built(text: &str, build_flags: &[&str], exec_flags: &[&str]) -> (Option<i32>, String) {
    let (dir, wat) = wat_file(text);
    let artifact = dir.path().join("app.wasmo");
    let built = std::process::Command::new(bin("wasmoc"))
        .arg("build")
        .args(build_flags)
        .arg(&wat)
        .arg("-o")
        .arg(&artifact)
        .status();
    assert!(
        built.is_ok_and(|s| s.success()),
        "wasmoc build {build_flags:?}"
    );
    let child = std::process::Command::new(bin("wasmo"))
        .arg("exec")
        .args(exec_flags)
        .args(["--invoke", "spin"])
        .arg(&artifact)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => panic!("running wasmo: {e}"),
    };
    let started = std::time::Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < LIMIT_WATCHDOG => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("wasmo exec {exec_flags:?} still ran after {LIMIT_WATCHDOG:?}: the limit did not stop it");
            }
            Err(e) => panic!("waiting for wasmo: {e}"),
        }
    }
    match child.wait_with_output() {
        Ok(o) => (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ),
        Err(e) => panic!("running wasmo: {e}"),
    }
}

/// How long [`exec_built`] lets `wasmo exec` run before it counts a limit
/// as not working.
const LIMIT_WATCHDOG: Duration = Duration::from_secs(60);

#[test]
fn issue13_exec_stops_an_instrumented_artifact_by_timeout_and_fuel() {
    let (status, stderr) = exec_built(SPIN, &["--epoch-interruption"], &["-W", "timeout=300ms"]);
    assert_eq!(status, Some(134), "{stderr}");
    assert!(stderr.contains("wasm trap: interrupt"), "{stderr}");
    let (status, stderr) = exec_built(SPIN, &["--consume-fuel"], &["-W", "fuel=100000"]);
    assert_eq!(status, Some(134), "{stderr}");
    assert!(stderr.contains("wasm trap: all fuel consumed"), "{stderr}");
    // Both checks in one artifact; either limit alone stops it.
    let both = ["--epoch-interruption", "--consume-fuel"];
    let (status, stderr) = exec_built(SPIN, &both, &["-W", "fuel=5000"]);
    assert_eq!(status, Some(134), "{stderr}");
    assert!(stderr.contains("all fuel consumed"), "{stderr}");
    // Plain seconds.
    let (status, stderr) = exec_built(SPIN, &both, &["-W", "timeout=1"]);
    assert_eq!(status, Some(134), "{stderr}");
    assert!(stderr.contains("wasm trap: interrupt"), "{stderr}");
}

/// Counted loops over memory 0 that loop versioning copies even with
/// an interruption check in their header: the copy checks once per chunk
/// of iterations. `fill` stores `i + 1` at `p + 4i` for `i` in `0..n` and
/// sums what it reads back; `fill_to` does the same for `i` in `0..=n`
/// (its exit test may read `i` before the step); `spin` runs `2^32 - 1` iterations of a
/// recurrence no optimiser shortens (seconds of work), reading `p`.
const VERSIONED: &str = r#"(module
  (memory (export "m") 1)
  (func (export "fill") (param $p i32) (param $n i32) (result i32) (local $i i32) (local $s i32)
    (loop
      (i32.store (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2)))
                 (i32.add (local.get $i) (i32.const 1)))
      (local.set $s (i32.add (local.get $s)
        (i32.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if 0 (i32.ne (local.get $i) (local.get $n))))
    (local.get $s))
  (func (export "fill_to") (param $p i32) (param $n i32) (result i32) (local $i i32) (local $j i32) (local $s i32)
    (loop
      (i32.store (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2)))
                 (i32.add (local.get $i) (i32.const 1)))
      (local.set $s (i32.add (local.get $s) (local.get $i)))
      (local.set $j (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if 0 (i32.ne (local.get $j) (local.get $n))))
    (local.get $s))
  (func (export "spin") (param $p i32) (result i32) (local $i i32) (local $s i32)
    (local.set $i (i32.const 1))
    (loop
      (local.set $s (i32.add (i32.mul (local.get $s) (i32.const 31))
                             (i32.load (local.get $p))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if 0 (local.get $i)))
    (local.get $s)))"#;

#[test]
fn issue13_loops_with_a_check_are_versioned_and_vectorised() {
    let ir = wasmo_tests::optimised_ir(VERSIONED, &["-O2", "--epoch-interruption"]);
    // Both loops have a chunked copy, `fill`'s vectorised; the exact
    // loops stay for when the check before them fails.
    let chunks = ir
        .lines()
        .filter_map(|l| l.split(':').next()?.strip_prefix("versioned_chunk"))
        .filter(|suffix| suffix.chars().all(|c| c.is_ascii_digit()))
        .count();
    assert_eq!(chunks, 3, "a chunked copy of each loop:\n{ir}");
    assert!(
        ir.contains("store <"),
        "no vector store in `fill`'s copy:\n{ir}"
    );
    assert!(
        ir.contains("store volatile i32"),
        "the exact loop is gone:\n{ir}"
    );
}

#[test]
fn issue13_versioned_loops_with_a_check_run_every_iteration() {
    // Trip counts around chunk boundaries (chunks have a power-of-two
    // length): every chunk starts where the last one ended.
    let c = instrumented(VERSIONED, Instrumentation::EPOCH_INTERRUPTION);
    let mut store = Store::new(());
    let i = instance(&mut store, &c);
    let fill = func(&store, &i, "fill");
    let fill_to = func(&store, &i, "fill_to");
    let p = 1000;
    for n in [
        1, 2, 3, 255, 256, 257, 1023, 1024, 1025, 2047, 2048, 2049, 4095, 4096, 4097, 8193, 16000,
    ] {
        let sum = i32_of(call(&mut store, fill, &[Val::I32(p), Val::I32(n)]));
        let expected = (1..=n).fold(0i32, |s, k| s.wrapping_add(k));
        assert_eq!(sum, expected, "fill({p}, {n})");
        let Some(memory) = i.get_memory(&store, "m") else {
            panic!("no exported memory `m`")
        };
        let start = usize::try_from(p).unwrap_or(0);
        let len = usize::try_from(n).unwrap_or(0) * 4;
        let words: Vec<i32> = memory.data(&store)[start..start + len]
            .chunks(4)
            .map(|w| i32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        assert_eq!(words, (1..=n).collect::<Vec<i32>>(), "fill({p}, {n})");
        let sum = i32_of(call(&mut store, fill_to, &[Val::I32(p), Val::I32(n)]));
        assert_eq!(sum, expected, "fill_to({p}, {n})");
        let data = memory.data(&store);
        let last = start + len;
        let after =
            i32::from_le_bytes([data[last], data[last + 1], data[last + 2], data[last + 3]]);
        assert_eq!(after, n + 1, "fill_to({p}, {n}) stores word n");
    }
}

#[test]
fn issue13_versioned_loop_with_a_check_is_interrupted() {
    let c = instrumented(VERSIONED, Instrumentation::EPOCH_INTERRUPTION);
    let mut store = Store::new(());
    let i = instance(&mut store, &c);
    let spin = func(&store, &i, "spin");
    let timer = interrupt_soon(&store);
    let r = call(&mut store, spin, &[Val::I32(64)]);
    let _ = timer.join();
    assert_eq!(trap_code(r), TrapCode::Interrupt);
}

/// `rows` adds `k` times the 256 words at 0 to each of `rows` rows of 256
/// words from 4096 on: an outer loop with a check around an inner loop of
/// a constant 128 iterations (unrolled twice by hand, so the row's words
/// form an interleaved group, as in matmul).
const ROWS: &str = r#"(module
  (memory (export "m") 1)
  (func (export "rows") (param $rows i32) (param $k i32)
    (local $r i32) (local $c i32) (local $j i32)
    (loop $outer
      (local.set $j (i32.const 0))
      (loop $inner
        (i32.store offset=4096 (i32.add (local.get $c) (local.get $j))
          (i32.add (i32.load offset=4096 (i32.add (local.get $c) (local.get $j)))
                   (i32.mul (local.get $k) (i32.load (local.get $j)))))
        (i32.store offset=4100 (i32.add (local.get $c) (local.get $j))
          (i32.add (i32.load offset=4100 (i32.add (local.get $c) (local.get $j)))
                   (i32.mul (local.get $k) (i32.load offset=4 (local.get $j)))))
        (local.set $j (i32.add (local.get $j) (i32.const 8)))
        (br_if $inner (i32.ne (local.get $j) (i32.const 1024))))
      (local.set $c (i32.add (local.get $c) (i32.const 1024)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if $outer (i32.ne (local.get $r) (local.get $rows))))))"#;

/// Issue 13, matmul at 1.83x in the epoch build: a checked loop whose
/// constant trip count fits in one chunk is copied whole after one check
/// (`versioned_check`), not chunked, so the vectoriser sees the loop of a
/// plain build and adds no run-time alias or wrap checks of its own
/// (chunked, it compared `c[j]` with `c[j+1]`, which always failed and
/// ran the scalar loop). The copy computes what the loop does.
#[test]
fn issue13_checked_loop_of_one_chunk_is_copied_whole() {
    let ir = wasmo_tests::optimised_ir(ROWS, &["-O2", "--epoch-interruption"]);
    let labels = |prefix: &str| ir.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(labels("versioned_check"), 1, "no whole copy:\n{ir}");
    assert_eq!(labels("versioned_chunk"), 0, "a chunked copy:\n{ir}");
    assert_eq!(
        labels("vector.memcheck") + labels("vector.scevcheck"),
        0,
        "the vectoriser checks the copy:\n{ir}"
    );
    assert!(ir.contains("store <"), "the copy is not vectorised:\n{ir}");

    let c = instrumented(ROWS, Instrumentation::EPOCH_INTERRUPTION);
    let mut store = Store::new(());
    let i = instance(&mut store, &c);
    let Some(memory) = i.get_memory(&store, "m") else {
        panic!("no exported memory `m`")
    };
    for j in 0..256u32 {
        let at = 4 * j as usize;
        memory.data_mut(&mut store)[at..at + 4].copy_from_slice(&(j * 3 + 1).to_le_bytes());
    }
    let rows = func(&store, &i, "rows");
    for k in [5, 7] {
        if let Err(e) = call(&mut store, rows, &[Val::I32(3), Val::I32(k)]) {
            panic!("rows(3, {k}): {e:?}");
        }
    }
    let data = memory.data(&store);
    for r in 0..4u32 {
        let words: Vec<u32> = data[4096 + 1024 * r as usize..][..1024]
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let expected: Vec<u32> = (0..256u32)
            .map(|j| if r < 3 { 12 * (j * 3 + 1) } else { 0 })
            .collect();
        assert_eq!(words, expected, "row {r}");
    }
}
