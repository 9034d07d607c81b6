//! Smoke test of the `wasmo` binary itself. Having an integration test also
//! makes `cargo test --workspace` build the real `wasmo` executable before
//! any test runs, which the end-to-end tests in `tests/` use.

use std::process::Command;

#[test]
fn version_and_usage_errors() {
    let exe = env!("CARGO_BIN_EXE_wasmo");
    let out = Command::new(exe)
        .arg("--version")
        .output()
        .expect("run wasmo");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("wasmo "));
    let out = Command::new(exe)
        .args(["exec", "/nonexistent/app.wasmo"])
        .output()
        .expect("run wasmo");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
