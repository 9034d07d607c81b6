//! The fuzzer in CI (issue 13): a bounded, deterministic run of the
//! driver over fixed seeds, and every case it ever found, replayed from
//! `fuzz/regressions/`. Both go through the `wasmo-fuzz` binary, so each
//! case runs in its own child process as in a long run.
//!
//! Rule: the bounded run's seeds never change silently (a different seed
//! range is a different test); regressions are only ever added.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Cases of the bounded run: three kinds per seed, about a minute on two
/// cores in a test build.
const CI_CASES: &str = "1050";

fn driver() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wasmo-fuzz"))
}

fn show(out: &std::process::Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn bounded_run_finds_nothing() {
    let findings = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let out = match driver()
        .args(["--cases", CI_CASES, "--seed", "1000", "--findings"])
        .arg(findings.path())
        .output()
    {
        Ok(o) => o,
        Err(e) => panic!("cannot run wasmo-fuzz: {e}"),
    };
    let text = show(&out);
    assert!(out.status.success(), "{text}");
    // The run must have compared something, not skipped everything.
    assert!(text.contains(" 0 findings"), "{text}");
    assert!(
        !text.contains(" 0 runs,") && !text.contains(" 0 calls "),
        "{text}"
    );
}

fn regression_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut dirs: Vec<PathBuf> = match std::fs::read_dir(&root) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("kind").is_file())
            .collect(),
        Err(e) => panic!("cannot read {}: {e}", root.display()),
    };
    dirs.sort();
    dirs
}

#[test]
fn regressions_stay_fixed() {
    let dirs = regression_dirs();
    if dirs.is_empty() {
        return;
    }
    let out = match driver().arg("replay").args(&dirs).output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run wasmo-fuzz: {e}"),
    };
    assert!(out.status.success(), "{}", show(&out));
}
