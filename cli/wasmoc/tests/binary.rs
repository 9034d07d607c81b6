//! Smoke test of the `wasmoc` binary itself. Having an integration test also
//! makes `cargo test --workspace` build the real `wasmoc` executable before
//! any test runs, which the end-to-end tests in `tests/` use.

use std::process::Command;

#[test]
fn version_and_missing_input() {
    let exe = env!("CARGO_BIN_EXE_wasmoc");
    let out = Command::new(exe)
        .arg("--version")
        .output()
        .expect("run wasmoc");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("wasmoc "));
    let dir = std::env::temp_dir().join(format!("wasmoc-smoke-{}", std::process::id()));
    let out_file = dir.join("out.wasmo");
    let out = Command::new(exe)
        .args(["build", "/nonexistent/app.wasm", "-o"])
        .arg(&out_file)
        .output()
        .expect("run wasmoc");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!out_file.exists());
}

/// `-j N` picks the thread count without changing a byte of the artifact;
/// `-j 0` is an error naming the option; off a terminal nothing but the
/// artifact is written (no progress bar), with or without `--quiet`.
#[test]
fn jobs_and_quiet() {
    let exe = env!("CARGO_BIN_EXE_wasmoc");
    let dir = std::env::temp_dir().join(format!("wasmoc-jobs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let input = dir.join("m.wat");
    let funcs = "(func (export \"f\") (result i32) i32.const 7)".to_owned()
        + &"(func (param i32) (result i32) local.get 0 i32.const 1 i32.add)".repeat(50);
    std::fs::write(&input, format!("(module {funcs})")).expect("write wat");
    let mut artifacts = Vec::new();
    for extra in [
        &["-j", "1"][..],
        &["-j", "2", "--quiet"],
        &["--jobs=3", "-q"],
        &[],
    ] {
        let out_file = dir.join(format!("out{}.wasmo", artifacts.len()));
        let out = Command::new(exe)
            .arg("build")
            .args(extra)
            .arg(&input)
            .arg("-o")
            .arg(&out_file)
            .output()
            .expect("run wasmoc");
        assert!(out.status.success(), "{extra:?}: {out:?}");
        assert!(out.stderr.is_empty(), "{extra:?}: {out:?}");
        artifacts.push(std::fs::read(&out_file).expect("artifact"));
    }
    assert!(artifacts.windows(2).all(|w| w[0] == w[1]));
    let out = Command::new(exe)
        .args(["build", "-j", "0"])
        .arg(&input)
        .arg("-o")
        .arg(dir.join("zero.wasmo"))
        .output()
        .expect("run wasmoc");
    // Usage errors exit 1 like every other error (cli/src/args.rs).
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--jobs"), "{stderr}");
    assert!(!dir.join("zero.wasmo").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
