//! Real threads on one shared memory (issue 12): several host threads,
//! each with its own `Store` and its own instance of one module, all
//! importing the same [`SharedMemory`], hammer it with atomics and block
//! in `memory.atomic.wait32` until notified; the results are checked
//! exactly. Run under both bounds-check strategies.
//!
//! Rule: every count is checked against the exact number of operations
//! the threads performed, so a lost update, a lost wake-up or a torn
//! critical section fails the test.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wasmo_artifact_format::{BoundsChecks, Limits, MemoryType};
use wasmo_loader::{Extern, Func, Imports, Instance, SharedMemory, Store, Val};
use wasmo_tests::{load, Compiled};

const STRATEGIES: [BoundsChecks; 2] = [BoundsChecks::GuardPages, BoundsChecks::Explicit];

/// Counters at 0 (atomic add) and 20 (plain, under the spin lock at 16);
/// the wait cell at 8.
const MODULE: &str = r#"(module
  (import "env" "mem" (memory 1 4 shared))
  (func (export "add") (param $n i32)
    (loop $l
      (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "locked_add") (param $n i32)
    (loop $l
      ;; spin until the lock word goes 0 -> 1
      (loop $spin
        (br_if $spin (i32.atomic.rmw.cmpxchg (i32.const 16) (i32.const 0) (i32.const 1))))
      (i32.store (i32.const 20) (i32.add (i32.load (i32.const 20)) (i32.const 1)))
      (i32.atomic.store (i32.const 16) (i32.const 0))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "get") (param i32) (result i32) (i32.atomic.load (local.get 0)))
  (func (export "wait") (result i32)
    (memory.atomic.wait32 (i32.const 8) (i32.const 0) (i64.const -1)))
  (func (export "wake") (result i32)
    (i32.atomic.store (i32.const 8) (i32.const 1))
    (memory.atomic.notify (i32.const 8) (i32.const -1)))
  (func (export "grow") (result i32) (memory.grow (i32.const 1)))
  (func (export "oob") (result i32) (i32.load (i32.const 0x7fff_fff0))))"#;

const THREADS: usize = 4;
const ITERATIONS: i32 = 20_000;

fn shared_memory() -> SharedMemory {
    let ty = MemoryType {
        limits: Limits {
            min: 1,
            max: Some(4),
        },
        memory64: false,
        shared: true,
    };
    match SharedMemory::new(ty) {
        Ok(m) => m,
        Err(e) => panic!("shared memory: {e}"),
    }
}

/// A store of this thread's own with an instance importing `mem`.
fn instantiate(compiled: &Compiled, mem: &SharedMemory) -> (Store<()>, Instance) {
    let mut store = Store::new(());
    let memory = mem.attach(&mut store);
    let mut imports = Imports::new();
    imports.define("env", "mem", Extern::Memory(memory));
    match Instance::new(&mut store, &compiled.module, &imports) {
        Ok(i) => (store, i),
        Err(e) => panic!("instantiating: {e}"),
    }
}

fn func(store: &Store<()>, instance: &Instance, name: &str) -> Func {
    match instance.get_func(store, name) {
        Some(f) => f,
        None => panic!("no export {name}"),
    }
}

fn call(store: &mut Store<()>, instance: &Instance, name: &str, args: &[Val]) -> Vec<Val> {
    let f = func(store, instance, name);
    match wasmo_tests::call(store, f, args) {
        Ok(r) => r,
        Err(e) => panic!("{name}: {e}"),
    }
}

fn get(store: &mut Store<()>, instance: &Instance, addr: i32) -> i32 {
    match call(store, instance, "get", &[Val::I32(addr)]).as_slice() {
        [Val::I32(v)] => *v,
        other => panic!("get: {other:?}"),
    }
}

#[test]
fn issue12_threads_hammer_shared_memory_atomics() {
    for strategy in STRATEGIES {
        let compiled = load(MODULE, strategy);
        let mem = shared_memory();
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    let (mut store, instance) = instantiate(&compiled, &mem);
                    call(&mut store, &instance, "add", &[Val::I32(ITERATIONS)]);
                    call(&mut store, &instance, "locked_add", &[Val::I32(ITERATIONS)]);
                });
            }
        });
        let (mut store, instance) = instantiate(&compiled, &mem);
        let want = THREADS as i32 * ITERATIONS;
        assert_eq!(
            get(&mut store, &instance, 0),
            want,
            "{strategy:?}: atomic adds"
        );
        assert_eq!(
            get(&mut store, &instance, 20),
            want,
            "{strategy:?}: locked adds"
        );
        assert_eq!(
            get(&mut store, &instance, 16),
            0,
            "{strategy:?}: lock left taken"
        );
    }
}

#[test]
fn issue12_threads_wait_until_notified() {
    for strategy in STRATEGIES {
        let compiled = load(MODULE, strategy);
        let mem = shared_memory();
        let returned = AtomicUsize::new(0);
        let woken_by_wait = AtomicUsize::new(0);
        let mut woken_by_notify = 0;
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    let (mut store, instance) = instantiate(&compiled, &mem);
                    let r = call(&mut store, &instance, "wait", &[]);
                    match r.as_slice() {
                        // Woken, or the value had already changed.
                        [Val::I32(0)] => {
                            woken_by_wait.fetch_add(1, Ordering::SeqCst);
                        }
                        [Val::I32(1)] => {}
                        other => panic!("wait returned {other:?}"),
                    }
                    returned.fetch_add(1, Ordering::SeqCst);
                });
            }
            let (mut store, instance) = instantiate(&compiled, &mem);
            // Wake until every waiter has returned; a waiter that arrives
            // after the store sees 1 and does not block.
            let deadline = Instant::now() + Duration::from_secs(60);
            while returned.load(Ordering::SeqCst) < THREADS {
                assert!(
                    Instant::now() < deadline,
                    "{strategy:?}: waiters never woke"
                );
                match call(&mut store, &instance, "wake", &[]).as_slice() {
                    [Val::I32(n)] => woken_by_notify += *n as usize,
                    other => panic!("wake returned {other:?}"),
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        assert_eq!(
            woken_by_notify,
            woken_by_wait.load(Ordering::SeqCst),
            "{strategy:?}: notify's count and the waiters woken disagree"
        );
    }
}

#[test]
fn issue12_threads_grow_a_shared_memory_concurrently() {
    for strategy in STRATEGIES {
        let compiled = load(MODULE, strategy);
        let mem = shared_memory();
        let grown = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    let (mut store, instance) = instantiate(&compiled, &mem);
                    if let [Val::I32(old)] = call(&mut store, &instance, "grow", &[]).as_slice() {
                        if *old >= 0 {
                            grown.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        // From 1 page to the maximum of 4: exactly three grows succeed.
        assert_eq!(grown.load(Ordering::SeqCst), 3, "{strategy:?}");
        assert_eq!(mem.size(), 4, "{strategy:?}");
    }
}

#[test]
fn issue12_threads_trap_while_others_register_memories() {
    for strategy in STRATEGIES {
        let compiled = load(MODULE, strategy);
        let mem = shared_memory();
        let done = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    let (mut store, instance) = instantiate(&compiled, &mem);
                    let f = func(&store, &instance, "oob");
                    for _ in 0..300 {
                        match wasmo_tests::call(&mut store, f, &[]) {
                            Err(wasmo_loader::CallError::Trap(t)) => assert_eq!(
                                t.code,
                                wasmo_loader::TrapCode::MemoryOutOfBounds,
                                "{strategy:?}"
                            ),
                            other => panic!("{strategy:?}: expected a trap, got {other:?}"),
                        }
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                });
            }
            // Meanwhile: reservations registered and unregistered with the
            // trap handler, under its write lock.
            s.spawn(|| {
                while done.load(Ordering::SeqCst) < 2 {
                    drop(shared_memory());
                }
            });
        });
    }
}
