//! What an access costs on each kind of memory (issue 12): the same small
//! kernel (a load, a load at an offset and a store per 8 bytes, over 64 KiB)
//! on memory 0, on memory 1 of a two-memory module and on a 64-bit memory,
//! compiled under both bounds-check strategies.
//!
//! - `memories/<strategy>/memory0`: memory 0's fast path (base in the
//!   VMContext's fixed field, unchecked under guard pages);
//! - `memories/<strategy>/memory1`: a second defined memory (base loaded
//!   once per function from its definition, unchecked under guard pages);
//! - `memories/<strategy>/memory64`: a 64-bit memory (always checked,
//!   overflow-safe, whatever the strategy).
//!
//! - `atomics/<strategy>/{shared,unshared}`: `i32.atomic.rmw.add` in a
//!   loop on a shared and on an unshared memory, beside
//!   `atomics/native fetch_add`, `AtomicU32::fetch_add(SeqCst)` in the
//!   same loop in Rust (issue 12's "atomics against native").
//!
//! Rule: the three kernels differ only in the memory they touch; keep them
//! generated from one template. A benchmark whose setup fails prints why
//! and is skipped rather than measuring something else.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wasmo_artifact_format::BoundsChecks;
use wasmo_compiler::CompileConfig;
use wasmo_loader::{Func, Imports, Instance, Module, Store, Val};

/// Bytes the kernel walks (the last 8-byte step reads 8 bytes further).
const KERNEL_BYTES: u64 = 65536 - 16;

/// One kernel: its name, its memory declarations, the index type and the
/// memory immediate every access names.
const KERNELS: [(&str, &str, &str, &str); 3] = [
    ("memory0", "(memory 2)", "i32", ""),
    ("memory1", "(memory 1) (memory $m1 2)", "i32", "$m1"),
    ("memory64", "(memory i64 2)", "i64", ""),
];

/// The kernel's text for memories `mems`, index type `t`, memory `m`.
fn kernel_wat(mems: &str, t: &str, m: &str) -> String {
    format!(
        r#"(module {mems}
  (func (export "kernel") (param $n {t}) (result i64)
    (local $i {t}) (local $acc i64)
    (block $done
      (loop $top
        (br_if $done ({t}.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i64.add (local.get $acc) (i64.load {m} (local.get $i))))
        (i64.store {m} (local.get $i)
          (i64.add (i64.load {m} offset=8 (local.get $i)) (local.get $acc)))
        (local.set $i ({t}.add (local.get $i) ({t}.const 8)))
        (br $top)))
    (local.get $acc)))"#
    )
}

/// The kernel compiled under `bounds`, loaded and instantiated, or why not.
fn setup(text: &str, bounds: BoundsChecks) -> Result<(Store<()>, Func), String> {
    let wasm = wat::parse_str(text).map_err(|e| format!("does not parse ({e})"))?;
    let config = CompileConfig {
        bounds_checks: bounds,
        ..CompileConfig::default()
    };
    let artifact =
        wasmo_compiler::compile(&wasm, &config).map_err(|e| format!("does not compile ({e})"))?;
    let dir = tempfile::tempdir().map_err(|e| format!("no temp dir ({e})"))?;
    let path = dir.path().join("kernel.wasmo");
    std::fs::write(&path, artifact).map_err(|e| format!("cannot write ({e})"))?;
    let module = Module::from_file(&path).map_err(|e| format!("does not load ({e})"))?;
    let mut store = Store::new(());
    let instance = Instance::new(&mut store, &module, &Imports::new())
        .map_err(|e| format!("does not instantiate ({e})"))?;
    let kernel = instance
        .get_func(&store, "kernel")
        .ok_or("no `kernel` export")?;
    Ok((store, kernel))
}

fn memories(c: &mut Criterion) {
    let mut group = c.benchmark_group("memories");
    group.throughput(Throughput::Elements(KERNEL_BYTES / 8));
    for bounds in [BoundsChecks::GuardPages, BoundsChecks::Explicit] {
        for (name, mems, t, m) in KERNELS {
            let id = format!("{}/{name}", bounds.name());
            let (mut store, kernel) = match setup(&kernel_wat(mems, t, m), bounds) {
                Ok(s) => s,
                Err(why) => {
                    eprintln!("{id}: {why}; skipping");
                    continue;
                }
            };
            let n = if t == "i64" {
                Val::I64(KERNEL_BYTES as i64)
            } else {
                Val::I32(KERNEL_BYTES as i32)
            };
            let mut out = [Val::I64(0)];
            group.bench_function(&id, |b| {
                b.iter(|| kernel.call(&mut store, &[black_box(n.clone())], &mut out))
            });
        }
    }
    group.finish();
}

/// Atomic adds per call of the atomics kernel.
const ATOMIC_OPS: u64 = 10_000;

/// A loop of `ATOMIC_OPS` `i32.atomic.rmw.add`s on address 0 of a memory
/// declared `mem`.
fn atomic_wat(mem: &str) -> String {
    format!(
        r#"(module {mem}
  (func (export "kernel") (param $n i32) (result i64)
    (local $i i32)
    (block $done
      (loop $top
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (drop (i32.atomic.rmw.add (i32.const 0) (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $top)))
    (i64.extend_i32_u (i32.atomic.load (i32.const 0)))))"#
    )
}

fn atomics(c: &mut Criterion) {
    let mut group = c.benchmark_group("atomics");
    group.throughput(Throughput::Elements(ATOMIC_OPS));
    for bounds in [BoundsChecks::GuardPages, BoundsChecks::Explicit] {
        for (name, mem) in [
            ("shared", "(memory 1 1 shared)"),
            ("unshared", "(memory 1)"),
        ] {
            let id = format!("{}/{name}", bounds.name());
            let (mut store, kernel) = match setup(&atomic_wat(mem), bounds) {
                Ok(s) => s,
                Err(why) => {
                    eprintln!("{id}: {why}; skipping");
                    continue;
                }
            };
            let n = Val::I32(ATOMIC_OPS as i32);
            let mut out = [Val::I64(0)];
            group.bench_function(&id, |b| {
                b.iter(|| kernel.call(&mut store, &[black_box(n.clone())], &mut out))
            });
        }
    }
    let cell = std::sync::atomic::AtomicU32::new(0);
    group.bench_function("native fetch_add", |b| {
        b.iter(|| {
            for i in 0..black_box(ATOMIC_OPS as u32) {
                cell.fetch_add(i, std::sync::atomic::Ordering::SeqCst);
            }
            cell.load(std::sync::atomic::Ordering::SeqCst)
        })
    });
    group.finish();
}

criterion_group!(benches, memories, atomics);
criterion_main!(benches);
