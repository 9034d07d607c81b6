//! `wasmo` options whose effect depends on the host's environment, which
//! the golden files of `cli.rs` cannot pin: `-S inherit-env` and `--env`
//! inheritance, run with a cleared environment (issue 14).
//!
//! Rule: each test controls the whole environment of the `wasmo` it
//! starts (`env_clear`), so nothing of the machine running them leaks in.

use std::path::Path;
use std::process::Command;

use wasmo_tests::bin_path;

/// Runs `tests/cli/argv0.wat` (prints its arguments, `--`, then its
/// environment) with `flags` and the host environment `env`; returns the
/// environment it printed, sorted (the order of a host's variables is the
/// C library's business).
fn print_env(flags: &[&str], env: &[(&str, &str)]) -> String {
    let wat = Path::new(env!("CARGO_MANIFEST_DIR")).join("cli/argv0.wat");
    let out = Command::new(bin_path("wasmo").unwrap())
        .args(["run", "--no-cache"])
        .args(flags)
        .arg(&wat)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let (_, env) = text.split_once("--\n").unwrap();
    let mut lines: Vec<&str> = env.lines().collect();
    lines.sort_unstable();
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn issue14_inherit_env_passes_the_whole_host_environment() {
    let host = [("FOO", "host"), ("BAR", "b")];
    assert_eq!(print_env(&[], &host), "");
    assert_eq!(
        print_env(&["-S", "inherit-env"], &host),
        "BAR=b\nFOO=host\n"
    );
    // `--env` overrides an inherited variable, keeps the rest.
    assert_eq!(
        print_env(&["-Sinherit-env", "--env", "FOO=mine"], &host),
        "BAR=b\nFOO=mine\n"
    );
    assert_eq!(print_env(&["-S", "inherit-env=n"], &host), "");
}

#[test]
fn issue14_env_without_value_takes_the_hosts() {
    let host = [("FOO", "host")];
    assert_eq!(
        print_env(&["--env", "FOO", "--env", "MISSING", "--env", "X=1"], &host),
        "FOO=host\nX=1\n"
    );
}
