//! Issue 9: the compile cache of `wasmo run` and the command-line defects
//! around it, through the built `wasmo` and `wasmoc` binaries.
//!
//! Each test is named after the defect it pins down and failed on the code
//! before the fix. Fake `wasmoc` scripts sit next to a copy of `wasmo`
//! (which looks there first).

use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmo_tests::{bin_path, wat};

/// A module whose export `f` returns `n`.
fn module(n: i32) -> Vec<u8> {
    wat(&format!(
        r#"(module (func (export "f") (result i32) (i32.const {n})))"#
    ))
}

fn wasmo() -> PathBuf {
    bin_path("wasmo").expect("the wasmo binary")
}

fn wasmoc() -> PathBuf {
    bin_path("wasmoc").expect("the wasmoc binary")
}

/// Waits for `child` at most `limit`, killing it if it takes longer.
fn wait_output(mut child: Child, limit: Duration) -> Result<Output, String> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().map_err(|e| e.to_string()),
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("still running after {limit:?}: it hangs"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// `wasmo run --cache-dir cache --invoke f module`, at most a minute.
fn run_f(cache: &Path, module: &Path) -> Output {
    let child = Command::new(wasmo())
        .args(["run", "--cache-dir"])
        .arg(cache)
        .args(["--invoke", "f"])
        .arg(module)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wasmo");
    wait_output(child, Duration::from_secs(60)).unwrap_or_else(|e| panic!("wasmo run: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The regular files in `dir` (cache entries), by name.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Defect 9: a module file swapped between `wasmo run` hashing it and
/// `wasmoc` reading it left B's code under A's key. Every run here races a
/// thread that keeps swapping the file; afterwards each fresh cache must
/// give A's result for A and B's for B, with no entry found poisoned.
#[test]
fn issue9_cache_race_never_poisons_an_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a.wasm"), tmp.path().join("b.wasm"));
    std::fs::write(&a, module(1)).unwrap();
    std::fs::write(&b, module(2)).unwrap();
    let swapped = tmp.path().join("m.wasm");
    std::fs::copy(&a, &swapped).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (a, b, swapped, stop) = (a.clone(), b.clone(), swapped.clone(), Arc::clone(&stop));
        let staging = tmp.path().join("staging.wasm");
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let src = if i.is_multiple_of(2) { &b } else { &a };
                let _ = std::fs::remove_file(&staging);
                if std::fs::hard_link(src, &staging).is_ok() {
                    let _ = std::fs::rename(&staging, &swapped);
                }
                i += 1;
                std::thread::sleep(Duration::from_micros(500));
            }
        })
    };
    let caches: Vec<PathBuf> = (0..12)
        .map(|i| tmp.path().join(format!("cache{i}")))
        .collect();
    for cache in &caches {
        let out = run_f(cache, &swapped);
        assert!(out.status.success(), "racing run: {}", text(&out.stderr));
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    let mut failures = Vec::new();
    for cache in &caches {
        for (file, want) in [(&a, "1\n"), (&b, "2\n")] {
            let out = run_f(cache, file);
            let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
            if stdout != want || stderr.contains("unusable") {
                failures.push(format!(
                    "{}: {} printed {stdout:?}, stderr {stderr:?}",
                    cache.display(),
                    file.display()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "poisoned entries:\n{}",
        failures.join("\n")
    );
}

/// Defect 9: a cache hit never compared the artifact's source hash with
/// the module, so an entry holding another module's artifact ran it.
#[test]
fn issue9_planted_poisoned_entry_is_recompiled() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let (a, b) = (tmp.path().join("a.wasm"), tmp.path().join("b.wasm"));
    std::fs::write(&a, module(1)).unwrap();
    std::fs::write(&b, module(2)).unwrap();
    assert_eq!(text(&run_f(&cache, &a).stdout), "1\n");
    let entry_a = entries(&cache).pop().expect("A's entry");
    assert_eq!(text(&run_f(&cache, &b).stdout), "2\n");
    let entry_b = entries(&cache)
        .into_iter()
        .find(|e| *e != entry_a)
        .expect("B's entry");
    // B's artifact, intact (its hashes are right), under A's key.
    std::fs::copy(&entry_b, &entry_a).unwrap();
    let out = run_f(&cache, &a);
    let stderr = text(&out.stderr);
    assert_eq!(text(&out.stdout), "1\n", "ran the planted artifact");
    let prefix = format!("wasmo: cached artifact for {} is unusable (", a.display());
    assert!(
        stderr.starts_with(&prefix) && stderr.contains("source hash"),
        "{stderr}"
    );
    assert!(stderr.ends_with("); recompiling\n"), "{stderr}");
    let again = run_f(&cache, &a);
    assert_eq!(
        (text(&again.stdout), text(&again.stderr)),
        ("1\n".into(), String::new())
    );
}

/// Defect 10: an entry that is a FIFO hung `wasmo run`; a directory or a
/// symlink to /dev/zero made every later run fail. Each must be replaced
/// with the README's line.
#[test]
fn issue9_non_regular_entries_are_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let a = tmp.path().join("a.wasm");
    std::fs::write(&a, module(7)).unwrap();
    assert_eq!(text(&run_f(&cache, &a).stdout), "7\n");
    let entry = entries(&cache).pop().expect("an entry");
    type Plant = fn(&Path);
    let plants: [(&str, Plant); 3] = [
        ("fifo", |p| {
            let ok = Command::new("mkfifo").arg(p).status().unwrap().success();
            assert!(ok, "mkfifo");
        }),
        ("directory", |p| {
            std::fs::create_dir_all(p.join("inside")).unwrap();
        }),
        ("symlink to /dev/zero", |p| {
            std::os::unix::fs::symlink("/dev/zero", p).unwrap();
        }),
    ];
    for (what, plant) in plants {
        std::fs::remove_file(&entry).unwrap();
        plant(&entry);
        let out = run_f(&cache, &a);
        let stderr = text(&out.stderr);
        assert_eq!(text(&out.stdout), "7\n", "{what}: {stderr}");
        let prefix = format!("wasmo: cached artifact for {} is unusable (", a.display());
        assert!(
            stderr.starts_with(&prefix)
                && stderr.contains("not a regular file")
                && stderr.ends_with("); recompiling\n")
                && stderr.lines().count() == 1,
            "{what}: {stderr}"
        );
        let meta = std::fs::symlink_metadata(&entry).unwrap();
        assert!(meta.is_file(), "{what}: not replaced by an artifact");
        let again = run_f(&cache, &a);
        assert_eq!(text(&again.stderr), "", "{what}: the new entry is not used");
    }
}

/// A directory holding a copy of `wasmo` and, next to it, a `wasmoc`
/// shell script with `body`.
fn fake_wasmoc(dir: &Path, body: &str) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let lone = bin.join("wasmo");
    std::fs::copy(wasmo(), &lone).unwrap();
    let script = bin.join("wasmoc");
    std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    lone
}

/// Defect 15: a `wasmoc` killed by a signal (the OOM killer) made `wasmo
/// run` exit 1 with no message at all.
#[test]
fn issue9_wasmoc_killed_by_a_signal_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let lone = fake_wasmoc(tmp.path(), "kill -9 $$");
    let a = tmp.path().join("a.wasm");
    std::fs::write(&a, module(1)).unwrap();
    let out = Command::new(&lone)
        .args(["run", "--no-cache", "--invoke", "f"])
        .arg(&a)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: wasmoc was killed by signal 9 (SIGKILL)"),
        "{stderr}"
    );
}

/// Defect 17: an interrupted `wasmo run --no-cache` left its temporary
/// directory behind: while `wasmoc` ran (Ctrl-C, which reaches the whole
/// process group, and SIGTERM to wasmo alone) and while the program ran.
#[test]
fn issue9_interrupted_no_cache_run_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let tmpdir = tmp.path().join("tmpdir");
    std::fs::create_dir(&tmpdir).unwrap();
    let marker = tmp.path().join("wasmoc-started");
    let lone = fake_wasmoc(
        tmp.path(),
        &format!("touch '{}'; exec sleep 5", marker.display()),
    );
    let a = tmp.path().join("a.wasm");
    std::fs::write(&a, module(1)).unwrap();
    let leftovers = |when: &str| {
        let left: Vec<_> = std::fs::read_dir(&tmpdir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "{when}: left behind {left:?}");
    };
    for signal in ["-INT", "-TERM"] {
        let _ = std::fs::remove_file(&marker);
        let child = Command::new(&lone)
            .args(["run", "--no-cache", "--invoke", "f"])
            .arg(&a)
            .env("TMPDIR", &tmpdir)
            .process_group(0)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !marker.exists() && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(marker.exists(), "the fake wasmoc never started");
        // Ctrl-C: the terminal signals the foreground process group.
        let target = if signal == "-INT" {
            format!("-{}", child.id())
        } else {
            child.id().to_string()
        };
        let ok = Command::new("kill")
            .args([signal, "--", &target])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {signal}");
        let out = wait_output(child, Duration::from_secs(30)).unwrap();
        assert!(!out.status.success());
        leftovers(&format!("{signal} while wasmoc runs"));
    }
    // While the program runs (the real wasmoc compiles an endless loop).
    let spin = tmp.path().join("spin.wasm");
    std::fs::write(
        &spin,
        wat(r#"(module (func (export "_start") (loop (br 0))))"#),
    )
    .unwrap();
    let mut child = Command::new(wasmo())
        .args(["run", "--no-cache"])
        .arg(&spin)
        .env("TMPDIR", &tmpdir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the endless program ended"
    );
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -TERM");
    let _ = child.wait();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(stderr.is_empty(), "{stderr}");
    leftovers("SIGTERM while the program runs");
}

/// Defect 13: `wasmoc build app.wasm -o app.wasm` replaced the source with
/// the artifact; so did any other spelling or link of the same file.
#[test]
fn issue9_output_that_is_the_input_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("app.wasm");
    let bytes = module(3);
    std::fs::write(&src, &bytes).unwrap();
    std::fs::create_dir(tmp.path().join("sub")).unwrap();
    let hard = tmp.path().join("hard.wasm");
    std::fs::hard_link(&src, &hard).unwrap();
    let soft = tmp.path().join("soft.wasm");
    std::os::unix::fs::symlink(&src, &soft).unwrap();
    let spellings = [
        src.clone(),
        tmp.path().join("sub/../app.wasm"),
        tmp.path().join("./app.wasm"),
        hard,
        soft,
    ];
    for out in spellings {
        let o = Command::new(wasmoc())
            .arg("build")
            .arg(&src)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "-o {}: {stderr}", out.display());
        assert!(stderr.contains("is the input file"), "{stderr}");
        assert_eq!(std::fs::read(&src).unwrap(), bytes, "-o {}", out.display());
    }
}

/// Argument errors exit 1 as the README says (clap's default is 2);
/// `--help` and `--version` still exit 0.
#[test]
fn issue9_argument_errors_exit_1() {
    for (bin, args) in [
        (wasmo(), vec!["--no-such-flag"]),
        (wasmo(), vec!["run"]),
        (wasmoc(), vec!["build"]),
        (wasmoc(), vec!["build", "x.wasm", "-o", "y", "-O9"]),
    ] {
        let o = Command::new(&bin).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{} {args:?}", bin.display());
        assert!(text(&o.stderr).starts_with("error: "), "{args:?}");
    }
    for bin in [wasmo(), wasmoc()] {
        for flag in ["--help", "--version"] {
            let o = Command::new(&bin).arg(flag).output().unwrap();
            assert_eq!(o.status.code(), Some(0), "{} {flag}", bin.display());
            assert!(!o.stdout.is_empty());
        }
    }
}

/// A directory given as an artifact said "No such device".
#[test]
fn issue9_directory_artifact_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::new(wasmo())
        .arg("exec")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let stderr = text(&o.stderr);
    assert!(stderr.contains("is a directory"), "{stderr}");
}

/// A text parse error echoed its whole line, a megabyte for a minified
/// module; now about 100 characters around the column.
#[test]
fn issue9_parse_error_excerpt_is_short() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("long.wat");
    let line = format!(
        "(module (func (export \"f\") (bogus) {}))",
        "(nop) ".repeat(200_000)
    );
    std::fs::write(&src, line).unwrap();
    let o = Command::new(wasmoc())
        .arg("build")
        .arg(&src)
        .arg("-o")
        .arg(tmp.path().join("out.wasmo"))
        .output()
        .unwrap();
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr.len() < 1000, "{} bytes of stderr", stderr.len());
    assert!(
        stderr.contains("(bogus)") && stderr.contains("..."),
        "{stderr}"
    );
    // The marker still points at the error: the parser's column, `bogus`.
    let lines: Vec<&str> = stderr.lines().collect();
    let at = lines.iter().position(|l| l.contains("(bogus)")).unwrap();
    let caret = lines[at + 1].find('^').unwrap();
    assert_eq!(&lines[at][caret..caret + 5], "bogus", "{stderr}");
}

/// Defect 11: the cache key names the compiler build, so a `wasmoc` of
/// another build must refuse to fill it.
#[test]
fn issue9_wasmoc_of_another_build_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("a.wasm");
    std::fs::write(&src, module(1)).unwrap();
    let out = tmp.path().join("a.wasmo");
    let o = Command::new(wasmoc())
        .args(["build", "--expect-build-id", "0123"])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("install wasmo and wasmoc from the same build"),
        "{}",
        text(&o.stderr)
    );
    assert!(!out.exists());
}
