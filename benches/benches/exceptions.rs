//! The cost of a wasm throw (issue 11), against the `wasmtime` crate's on
//! the same module:
//!
//! - `exceptions/throw caught 1 frame up`: an export whose `try_table`
//!   calls a function that throws at once;
//! - `exceptions/throw caught 100 frames up`: the same function recursing
//!   99 times before it throws, so the unwinder walks 100 wasm frames;
//! - `exceptions/return through N frames`: the same shapes with a function
//!   that returns instead of throwing, inside the same `try_table`: the
//!   baseline, what the calls cost without the throw;
//! - with `--features wasmtime`, `wasmtime_exceptions/...`: the same with
//!   Wasmtime (default configuration plus `wasm_exceptions(true)`).
//!
//! `cargo bench -p wasmo-benches --features wasmtime --bench exceptions`;
//! without the feature only wasmo's side is built. Rule: both engines run
//! the same wasm bytes and every result is checked before anything is
//! timed. Each wasmo throw leaves its exception object in the store until
//! the store is dropped (ARCHITECTURE.md, "Exceptions"), so the timed loop
//! starts a fresh store every `STORE_ROUNDS` calls, outside the timing.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

/// The module both engines run.
const WAT: &str = r#"
(module
  (tag $e (param i32))
  ;; Recurses `d` times, then throws 42; not a tail call, so every level
  ;; is a frame the unwinder walks.
  (func $thrower (param $d i32) (result i32)
    (if (i32.eqz (local.get $d))
      (then (throw $e (i32.const 42))))
    (i32.add (call $thrower (i32.sub (local.get $d) (i32.const 1))) (i32.const 1)))
  ;; The same shape, returning 42 at the bottom.
  (func $returner (param $d i32) (result i32)
    (if (i32.eqz (local.get $d))
      (then (return (i32.const 42))))
    (i32.add (call $returner (i32.sub (local.get $d) (i32.const 1))) (i32.const 1)))
  ;; Catches what $thrower throws and returns its payload.
  (func (export "throw") (param $d i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h)
        (return (call $thrower (local.get $d))))
      (unreachable)))
  (func (export "return") (param $d i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h)
        (return (call $returner (local.get $d))))
      (unreachable))))
"#;

/// Depth arguments: the catching frame is `d + 1` frames above the throw.
const DEPTHS: [(i32, &str); 2] = [(0, "1 frame"), (99, "100 frames")];

/// Calls made in one store before a fresh one is made (wasmo keeps each
/// thrown exception until its store is dropped).
const STORE_ROUNDS: u64 = 10_000;

/// What `return` gives at depth `d`, and `throw` (always the payload).
fn expected(export: &str, d: i32) -> i32 {
    if export == "return" {
        42 + d
    } else {
        42
    }
}

struct WasmoRun {
    module: wasmo::Module,
    store: wasmo::Store<()>,
    funcs: [wasmo::TypedFunc<i32, i32>; 2],
}

impl WasmoRun {
    fn new(module: wasmo::Module) -> wasmo::Result<Self> {
        let mut store = wasmo::Store::new(module.engine(), ());
        let instance = wasmo::Linker::new(module.engine()).instantiate(&mut store, &module)?;
        let funcs = [
            instance.get_typed_func::<i32, i32>(&store, "throw")?,
            instance.get_typed_func::<i32, i32>(&store, "return")?,
        ];
        for (f, export) in funcs.iter().zip(["throw", "return"]) {
            for (d, _) in DEPTHS {
                if f.call(&mut store, d)? != expected(export, d) {
                    return Err(wasmo::Error::Incompatible {
                        what: format!("wrong result from {export}({d})"),
                    });
                }
            }
        }
        Ok(WasmoRun {
            module,
            store,
            funcs,
        })
    }
}

fn wasmo_throws(c: &mut Criterion) {
    let setup = || -> wasmo::Result<_> {
        let engine = wasmo::Engine::default();
        WasmoRun::new(wasmo::Module::new(&engine, WAT)?)
    };
    let mut run = match setup() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("exceptions: wasmo setup failed, skipping: {e}");
            return;
        }
    };
    let mut group = c.benchmark_group("exceptions");
    for (which, verb) in [(0, "throw caught"), (1, "return through")] {
        for (d, frames) in DEPTHS {
            group.bench_function(format!("{verb} {frames} up"), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let n = left.min(STORE_ROUNDS);
                        left -= n;
                        let start = Instant::now();
                        for _ in 0..n {
                            let r = run.funcs[which].call(&mut run.store, black_box(d));
                            black_box(r.ok());
                        }
                        total += start.elapsed();
                        if left > 0 {
                            match WasmoRun::new(run.module.clone()) {
                                Ok(fresh) => run = fresh,
                                Err(e) => panic!("exceptions: a fresh wasmo store failed: {e}"),
                            }
                        }
                    }
                    total
                })
            });
        }
    }
    group.finish();
}

#[cfg(feature = "wasmtime")]
fn wasmtime_throws(c: &mut Criterion) {
    let setup = || -> wasmtime::Result<_> {
        let mut config = wasmtime::Config::new();
        config.wasm_exceptions(true);
        let engine = wasmtime::Engine::new(&config)?;
        let wasm = wat::parse_str(WAT)?;
        let module = wasmtime::Module::new(&engine, wasm)?;
        let mut store = wasmtime::Store::new(&engine, ());
        let instance = wasmtime::Instance::new(&mut store, &module, &[])?;
        let funcs = [
            instance.get_typed_func::<i32, i32>(&mut store, "throw")?,
            instance.get_typed_func::<i32, i32>(&mut store, "return")?,
        ];
        for (f, export) in funcs.iter().zip(["throw", "return"]) {
            for (d, _) in DEPTHS {
                if f.call(&mut store, d)? != expected(export, d) {
                    return Err(wasmtime::Error::msg(format!(
                        "wrong result from {export}({d})"
                    )));
                }
            }
        }
        Ok((store, funcs))
    };
    let (mut store, funcs) = match setup() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("exceptions: wasmtime setup failed, skipping: {e}");
            return;
        }
    };
    let mut group = c.benchmark_group("wasmtime_exceptions");
    for (f, verb) in funcs.iter().zip(["throw caught", "return through"]) {
        for (d, frames) in DEPTHS {
            group.bench_function(format!("{verb} {frames} up"), |b| {
                b.iter(|| f.call(&mut store, black_box(d)))
            });
        }
    }
    group.finish();
}

#[cfg(not(feature = "wasmtime"))]
fn wasmtime_throws(_: &mut Criterion) {}

criterion_group!(benches, wasmo_throws, wasmtime_throws);
criterion_main!(benches);
