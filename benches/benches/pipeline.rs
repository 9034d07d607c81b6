//! Micro-benchmarks of the pipeline on `examples/fib.wat`: compile at -O0
//! and -O2, and load + instantiate + call of its artifact.
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

criterion_group!(benches, compile, load_and_call);
criterion_main!(benches);
