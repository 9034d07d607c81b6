//! `WASMO_PERF_MAP=1`: `wasmo exec` writes `/tmp/perf-<pid>.map`, one line
//! per wasm function (`START SIZE NAME`, hex), so that `perf report` names
//! wasm functions (issue 15).

use std::process::Command;

use wasmo_tests::{bin_path, example};

#[test]
fn perf_map_names_every_function() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let artifact = dir.path().join("fib.wasmo");
    let bin = |name: &str| bin_path(name).unwrap_or_else(|e| panic!("{e}"));
    let built = Command::new(bin("wasmoc"))
        .arg("build")
        .arg(example("fib.wat"))
        .arg("-o")
        .arg(&artifact)
        .status()
        .unwrap_or_else(|e| panic!("wasmoc: {e}"));
    assert!(built.success());
    let child = Command::new(bin("wasmo"))
        .args(["exec", "--invoke", "fib"])
        .arg(&artifact)
        .arg("10")
        .env("WASMO_PERF_MAP", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("wasmo: {e}"));
    let path = std::path::PathBuf::from(format!("/tmp/perf-{}.map", child.id()));
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wasmo: {e}"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "55\n");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let _ = std::fs::remove_file(&path);
    let names: Vec<&str> = text.lines().filter_map(|l| l.split(' ').nth(2)).collect();
    assert!(
        names.iter().any(|n| n.ends_with("::fib")),
        "no `fib` in the perf map:\n{text}"
    );
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields.len(), 3, "{line}");
        assert!(
            u64::from_str_radix(fields[0], 16).is_ok_and(|a| a > 0),
            "{line}"
        );
        assert!(
            u64::from_str_radix(fields[1], 16).is_ok_and(|s| s > 0),
            "{line}"
        );
    }
}
