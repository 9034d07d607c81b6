//! Reproducible builds: the same wasm and options give byte-identical
//! artifacts, whatever the number of compiler threads.
//!
//! Rule: compare whole files, never a hash of "the parts that matter"; any
//! difference (a timestamp, a path, a hash-map order) is a bug.

use std::path::Path;
use std::process::Command;

use wasmo_compiler::{CompileConfig, OptLevel};
use wasmo_tests::{bin_path, example, wat};

/// A module with enough functions to be split across compiler threads.
fn many_functions() -> Vec<u8> {
    let mut text = String::from("(module (memory 1)\n");
    for i in 0..64 {
        text.push_str(&format!(
            "(func (export \"f{i}\") (param i32) (result i32)
               (i32.add (i32.load (local.get 0)) (i32.mul (local.get 0) (i32.const {i}))))\n"
        ));
    }
    text.push(')');
    wat(&text)
}

#[test]
fn library_builds_are_identical() {
    let fib = wat(&std::fs::read_to_string(example("fib.wat")).unwrap_or_default());
    for wasm in [fib, many_functions()] {
        for opt in [OptLevel::O0, OptLevel::O2] {
            let config = CompileConfig {
                opt_level: opt,
                ..CompileConfig::default()
            };
            let a = wasmo_compiler::compile(&wasm, &config);
            let b = wasmo_compiler::compile(&wasm, &config);
            match (a, b) {
                (Ok(a), Ok(b)) => assert!(a == b, "two -O{} builds differ", opt.as_number()),
                (a, b) => panic!("compile failed: {:?} / {:?}", a.err(), b.err()),
            }
        }
    }
}

#[test]
fn cli_builds_are_identical_across_thread_counts() {
    let wasmoc = match bin_path("wasmoc") {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let input = dir.path().join("many.wasm");
    if let Err(e) = std::fs::write(&input, many_functions()) {
        panic!("{e}");
    }
    let build = |threads: &str, out: &Path| {
        let o = Command::new(&wasmoc)
            .env("RAYON_NUM_THREADS", threads)
            .arg("build")
            .arg(&input)
            .arg("-o")
            .arg(out)
            .output();
        match o {
            Ok(o) if o.status.success() => std::fs::read(out).unwrap_or_default(),
            Ok(o) => panic!("wasmoc failed: {}", String::from_utf8_lossy(&o.stderr)),
            Err(e) => panic!("{e}"),
        }
    };
    let one = build("1", &dir.path().join("one.wasmo"));
    let four = build("4", &dir.path().join("four.wasmo"));
    assert!(!one.is_empty());
    assert!(one == four, "artifacts built with 1 and 4 threads differ");
}
