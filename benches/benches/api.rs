//! Call overhead through the embedding API (issue 14), against the
//! `wasmtime` crate's equivalents on the same module:
//!
//! - `api/host_to_wasm TypedFunc add(i32,i32)`: `TypedFunc::call` of a
//!   trivial export (`Func::call` with `Val`s beside it, for the cost of
//!   boxing);
//! - `api/wasm_to_host Func::wrap xN`: a wasm loop calling an imported
//!   `Func::wrap` host function N times, per call
//!   (`Throughput::Elements`), the function defined through a `Linker`;
//! - with `--features wasmtime`, `wasmtime/...`: the same with
//!   `wasmtime::TypedFunc` and `wasmtime::Linker::func_wrap` (Wasmtime's
//!   default configuration: Cranelift, host CPU features).
//!
//! `cargo bench -p wasmo-benches --features wasmtime --bench api`; without
//! the feature only wasmo's side is built. Rule: both engines run the
//! same wasm bytes and their results are checked before anything is
//! timed.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Host calls per iteration of `wasm_to_host`.
const HOST_CALLS: i32 = 1000;

fn wasmo_calls(c: &mut Criterion) {
    let (mut store, add, call_host) = match wasmo_benches::WasmoApi::new() {
        Ok(api) => (api.store, api.add, api.call_host),
        Err(e) => {
            eprintln!("api: wasmo setup failed, skipping: {e}");
            return;
        }
    };
    let mut group = c.benchmark_group("api");
    group.bench_function("host_to_wasm TypedFunc add(i32,i32)", |b| {
        b.iter(|| add.call(&mut store, (black_box(40), black_box(2))))
    });
    let untyped = *add.func();
    let mut r = [wasmo::Val::I32(0)];
    group.bench_function("host_to_wasm Func::call add(i32,i32)", |b| {
        b.iter(|| {
            untyped.call(
                &mut store,
                &[wasmo::Val::I32(black_box(40)), wasmo::Val::I32(2)],
                &mut r,
            )
        })
    });
    group.throughput(Throughput::Elements(HOST_CALLS as u64));
    group.bench_function(format!("wasm_to_host Func::wrap x{HOST_CALLS}"), |b| {
        b.iter(|| call_host.call(&mut store, black_box(HOST_CALLS)))
    });
    group.finish();
}

#[cfg(feature = "wasmtime")]
fn wasmtime_calls(c: &mut Criterion) {
    let (mut store, add, call_host) = match wasmo_benches::WasmtimeApi::new() {
        Ok(api) => (api.store, api.add, api.call_host),
        Err(e) => {
            eprintln!("api: wasmtime setup failed, skipping: {e}");
            return;
        }
    };
    let mut group = c.benchmark_group("wasmtime");
    group.bench_function("host_to_wasm TypedFunc add(i32,i32)", |b| {
        b.iter(|| add.call(&mut store, (black_box(40), black_box(2))))
    });
    let untyped = *add.func();
    let mut r = [wasmtime::Val::I32(0)];
    group.bench_function("host_to_wasm Func::call add(i32,i32)", |b| {
        b.iter(|| {
            untyped.call(
                &mut store,
                &[wasmtime::Val::I32(black_box(40)), wasmtime::Val::I32(2)],
                &mut r,
            )
        })
    });
    group.throughput(Throughput::Elements(HOST_CALLS as u64));
    group.bench_function(format!("wasm_to_host Func::wrap x{HOST_CALLS}"), |b| {
        b.iter(|| call_host.call(&mut store, black_box(HOST_CALLS)))
    });
    group.finish();
}

#[cfg(not(feature = "wasmtime"))]
fn wasmtime_calls(_: &mut Criterion) {}

criterion_group!(benches, wasmo_calls, wasmtime_calls);
criterion_main!(benches);
