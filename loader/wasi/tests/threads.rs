//! wasi-threads through the API (issue 12): a module importing a shared
//! memory and `wasi.thread-spawn` starts threads, each an OS thread with
//! its own store and instance, which hammer one counter with atomics; the
//! spawning thread blocks in `memory.atomic.wait32` until they are all
//! done. Counts and thread ids are checked exactly; a trapping thread is
//! reported to the embedder.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmo_compiler::{compile, CompileConfig};
use wasmo_loader::{CallError, Imports, Instance, Module, Store, TrapCode, Val};
use wasmo_wasi::threads::{ThreadFailure, WasiThreads};
use wasmo_wasi::WasiCtx;

/// Additions per thread.
const ITERATIONS: i32 = 20_000;

/// Cells: 0 the counter, 4 threads done, 8 the sum of the thread ids seen.
/// A thread started with argument 0 traps at once.
const WAT: &str = r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "env" "memory" (memory 1 1 shared))
  (func (export "wasi_thread_start") (param $tid i32) (param $arg i32)
    (local $i i32)
    (if (i32.eqz (local.get $arg)) (then unreachable))
    (drop (i32.atomic.rmw.add (i32.const 8) (local.get $tid)))
    (loop $l
      (drop (i32.atomic.rmw.add (i32.const 0) (local.get $arg)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 20000))))
    (drop (i32.atomic.rmw.add (i32.const 4) (i32.const 1)))
    (drop (memory.atomic.notify (i32.const 4) (i32.const -1))))
  ;; Spawns `n` threads with argument `arg`; -1 if a spawn failed.
  (func (export "spawn") (param $n i32) (param $arg i32) (result i32)
    (loop $s
      (if (i32.le_s (call $spawn (local.get $arg)) (i32.const 0))
        (then (return (i32.const -1))))
      (br_if $s (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32.const 0))
  ;; Waits until `n` threads are done; the counter.
  (func (export "join") (param $n i32) (result i32)
    (local $done i32)
    (block $all
      (loop $w
        (local.set $done (i32.atomic.load (i32.const 4)))
        (br_if $all (i32.ge_u (local.get $done) (local.get $n)))
        (drop (memory.atomic.wait32 (i32.const 4) (local.get $done) (i64.const -1)))
        (br $w)))
    (i32.atomic.load (i32.const 0)))
  (func (export "tid_sum") (result i32) (i32.atomic.load (i32.const 8))))"#;

fn module() -> Module {
    let wasm = match wat::parse_str(WAT) {
        Ok(w) => w,
        Err(e) => panic!("bad test wat: {e}"),
    };
    let artifact = match compile(&wasm, &CompileConfig::default()) {
        Ok(a) => a,
        Err(e) => panic!("compile: {e}"),
    };
    match Module::deserialize(&artifact) {
        Ok(m) => m,
        Err(e) => panic!("load: {e}"),
    }
}

/// The main thread's store and instance, and the failures reported.
fn start(
    module: &Module,
) -> (
    Store<WasiCtx>,
    Instance,
    mpsc::Receiver<(u32, ThreadFailure)>,
) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let on_failure = move |tid, failure| {
        if let Ok(tx) = tx.lock() {
            let _ = tx.send((tid, failure));
        }
    };
    let ctx = Arc::new(Mutex::new(WasiCtx::default()));
    let new_store = || Store::new(WasiCtx::default());
    let threads = match WasiThreads::new(module, ctx, new_store, on_failure) {
        Ok(t) => t,
        Err(e) => panic!("wasi-threads: {e}"),
    };
    let mut store = Store::new(WasiCtx::default());
    let mut imports = Imports::new();
    threads.add_to_imports(&mut store, &mut imports);
    let instance = match Instance::new(&mut store, module, &imports) {
        Ok(i) => i,
        Err(e) => panic!("instantiate: {e}"),
    };
    (store, instance, rx)
}

fn call_i32(store: &mut Store<WasiCtx>, instance: &Instance, name: &str, args: &[Val]) -> i32 {
    let Some(f) = instance.get_func(&*store, name) else {
        panic!("no export `{name}`");
    };
    let mut out = [Val::I32(0)];
    match f.call(&mut *store, args, &mut out) {
        Ok(()) => {}
        Err(e) => panic!("`{name}`: {e}"),
    }
    match out {
        [Val::I32(v)] => v,
        other => panic!("`{name}` answered {other:?}"),
    }
}

#[test]
fn issue12_wasi_threads_share_memory_and_count_exactly() {
    const THREADS: i32 = 6;
    let module = module();
    let (mut store, instance, failures) = start(&module);
    let spawned = call_i32(
        &mut store,
        &instance,
        "spawn",
        &[Val::I32(THREADS), Val::I32(1)],
    );
    assert_eq!(spawned, 0, "every spawn gave a thread id");
    let total = call_i32(&mut store, &instance, "join", &[Val::I32(THREADS)]);
    assert_eq!(total, THREADS * ITERATIONS);
    // Ids are 1, 2, ..., each thread's own.
    let tids = call_i32(&mut store, &instance, "tid_sum", &[]);
    assert_eq!(tids, THREADS * (THREADS + 1) / 2);
    assert!(failures.try_recv().is_err(), "no thread failed");
}

#[test]
fn issue12_wasi_thread_trap_is_reported() {
    let module = module();
    let (mut store, instance, failures) = start(&module);
    assert_eq!(
        call_i32(&mut store, &instance, "spawn", &[Val::I32(1), Val::I32(0)]),
        0
    );
    match failures.recv_timeout(Duration::from_secs(60)) {
        Ok((tid, ThreadFailure::Call(CallError::Trap(t)))) => {
            assert_eq!(tid, 1);
            assert_eq!(t.code, TrapCode::UnreachableCodeReached);
        }
        Ok((tid, other)) => panic!("thread {tid}: {other:?}"),
        Err(e) => panic!("no failure reported: {e}"),
    }
}
