//! The official WASI test suite's prebuilt wasm32-wasip1 programs
//! (`tests/wasi-testsuite/`, see its README) under `wasmo run`, as the
//! suite's own runner drives an engine: each program's JSON specification
//! gives its arguments, environment, the directory preopened as `/`
//! (`root`), and the exit code and output it must produce. One trial per
//! program; each runs in a fresh copy of its language's directory, so the
//! files a program creates never reach the source tree or another trial.
//!
//! Rule: all 72 pass; a program that starts failing is a regression, never
//! a known failure.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use libtest_mimic::{Arguments, Failed, Trial};
use wasmo_tests::{bin_path, workspace_root};

/// How many programs the suite has; finding fewer is a failure.
const PROGRAMS: usize = 72;

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let root = workspace_root().join("tests/wasi-testsuite");
    let mut programs = Vec::new();
    for lang in ["assemblyscript", "c", "rust"] {
        let dir = root.join(lang);
        let entries = std::fs::read_dir(&dir).map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
                .collect::<Vec<_>>()
        });
        programs.extend(entries.unwrap_or_default());
    }
    programs.sort();
    let cache = tempfile::tempdir().map(|d| d.keep()).ok();
    let count = programs.len();
    let mut trials: Vec<Trial> = programs
        .into_iter()
        .map(|wasm| {
            let lang = wasm
                .parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = wasm
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let cache = cache.clone();
            Trial::test(format!("{lang}::{name}"), move || {
                run_program(&wasm, cache.as_deref())
            })
        })
        .collect();
    trials.push(Trial::test("all_programs_found", move || {
        if count == PROGRAMS {
            Ok(())
        } else {
            Err(format!("found {count} programs, expected {PROGRAMS}").into())
        }
    }));
    let conclusion = libtest_mimic::run(&args, trials);
    if let Some(c) = cache {
        let _ = std::fs::remove_dir_all(c);
    }
    conclusion.exit_code()
}

/// A program's specification, with the suite's defaults.
#[derive(Debug, Default)]
struct Spec {
    args: Vec<String>,
    env: Vec<(String, String)>,
    root: Option<String>,
    exit_code: i32,
    stdout: Option<String>,
}

fn read_spec(wasm: &Path) -> Result<Spec, String> {
    let path = wasm.with_extension("json");
    let mut spec = Spec::default();
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(spec);
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    spec.args = json["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if let Some(env) = json["env"].as_object() {
        spec.env = env
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
    }
    spec.root = json["root"].as_str().map(str::to_owned);
    spec.exit_code = json["exit_code"].as_i64().unwrap_or(0) as i32;
    spec.stdout = json["stdout"].as_str().map(str::to_owned);
    Ok(spec)
}

/// Copies directory `from` to `to`, recursively.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn run_program(wasm: &Path, cache: Option<&Path>) -> Result<(), Failed> {
    let spec = read_spec(wasm)?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(bin_path("wasmo")?);
    cmd.arg("run");
    match cache {
        Some(dir) => cmd.arg("--cache-dir").arg(dir),
        None => cmd.arg("--no-cache"),
    };
    if let Some(root) = &spec.root {
        let source = wasm.parent().unwrap_or(Path::new(".")).join(root);
        let copy: PathBuf = work.path().join(root);
        copy_tree(&source, &copy).map_err(|e| format!("copying {}: {e}", source.display()))?;
        cmd.arg("--dir").arg(format!("{}::/", copy.display()));
    }
    for (k, v) in &spec.env {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    cmd.arg(wasm).args(&spec.args).current_dir(work.path());
    let out = cmd.output().map_err(|e| format!("running wasmo: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut problems = Vec::new();
    if out.status.code() != Some(spec.exit_code) {
        problems.push(format!(
            "exit status {:?}, expected {}",
            out.status.code(),
            spec.exit_code
        ));
    }
    if let Some(want) = &spec.stdout {
        if *want != stdout {
            problems.push(format!("stdout {stdout:?}, expected {want:?}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\nstderr:\n{stderr}", problems.join("\n")).into())
    }
}
