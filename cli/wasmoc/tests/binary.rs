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
