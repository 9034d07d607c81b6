//! Micro-benchmarks of the pipeline on `examples/fib.wat`: compile at -O0
//! and -O2, and load + instantiate + call of its artifact; and
//! `instantiate_1mib`: `Instance::new` of a loaded module whose memory has a
//! 1 MiB active data segment (benches/run.sh reports it in BENCHMARKS.md).
//!
//! Rule: a placeholder for the later performance milestone; keep every
//! benchmark self-contained (no network, no files outside the temp dir).

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use wasmo_compiler::{CompileConfig, OptLevel};
use wasmo_loader::{Imports, Instance, Module, Val};

fn fib_wasm() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/fib.wat");
    match wat::parse_file(&path) {
        Ok(w) => w,
        Err(e) => panic!("examples/fib.wat: {e}"),
    }
}

fn compile(c: &mut Criterion) {
    let wasm = fib_wasm();
    for opt in [OptLevel::O0, OptLevel::O2] {
        let config = CompileConfig {
            opt_level: opt,
            ..CompileConfig::default()
        };
        c.bench_function(&format!("compile fib.wat -O{}", opt.as_number()), |b| {
            b.iter(|| wasmo_compiler::compile(&wasm, &config))
        });
    }
}

fn load_and_call(c: &mut Criterion) {
    let Ok(artifact) = wasmo_compiler::compile(&fib_wasm(), &CompileConfig::default()) else {
        eprintln!("fib.wat does not compile yet; skipping the load benchmark");
        return;
    };
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("fib.wasmo");
    if std::fs::write(&path, artifact).is_err() {
        return;
    }
    c.bench_function("load+instantiate+call fib(20)", |b| {
        b.iter(|| {
            let module = Module::from_file(&path).ok()?;
            let instance = Instance::new(&module, &Imports::new()).ok()?;
            instance.get_func("fib")?.call(&[Val::I32(20)]).ok()
        })
    });
}

/// A module with one memory (17 pages) and a 1 MiB active data segment.
fn data_1mib_wat() -> String {
    let mut wat = String::from("(module (memory (export \"memory\") 17) (data (i32.const 0) \"");
    wat.extend(std::iter::repeat_n('w', 1 << 20));
    wat.push_str("\"))");
    wat
}

fn instantiate_1mib(c: &mut Criterion) {
    let Ok(wasm) = wat::parse_str(data_1mib_wat()) else {
        eprintln!("the 1 MiB data-segment module does not parse; skipping");
        return;
    };
    let Ok(artifact) = wasmo_compiler::compile(&wasm, &CompileConfig::default()) else {
        eprintln!("the 1 MiB data-segment module does not compile; skipping");
        return;
    };
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("data1mib.wasmo");
    if std::fs::write(&path, artifact).is_err() {
        return;
    }
    let Ok(module) = Module::from_file(&path) else {
        eprintln!("the 1 MiB data-segment artifact does not load; skipping");
        return;
    };
    c.bench_function("instantiate_1mib", |b| {
        b.iter(|| Instance::new(&module, &Imports::new()).ok())
    });
}

criterion_group!(benches, compile, load_and_call, instantiate_1mib);
criterion_main!(benches);
