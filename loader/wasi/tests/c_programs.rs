//! End-to-end WASI tests: every `tests/c/NAME.c` is compiled with
//! `clang-19 --target=wasm32-wasi -O2`, then by the wasmo compiler, and run
//! by the loader with this crate's WASI in a child process (this same
//! binary, re-executed), so that its real stdin, stdout, stderr and exit
//! status can be checked against `NAME.stdout`, `NAME.stderr` and
//! `NAME.status` beside the source (`NAME.stdin`, if present, is fed to
//! it; if `NAME.stdout-closed` exists, its stdout is closed at once, to
//! test writes to a broken pipe). `BLESS=1` rewrites the goldens.
//!
//! Rule: the guest's world is fixed here and nowhere else (arguments,
//! environment, the sandbox layout), so the goldens stay deterministic;
//! programs must not print times, random bytes or host paths.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use libtest_mimic::{Arguments, Failed, Trial};
use wasmo_loader::{CallError, Imports, Instance, Module, Store};
use wasmo_wasi::{Preopen, WasiConfig, WasiCtx};

/// Set in the child: the artifact to run.
const CHILD_ARTIFACT: &str = "WASMO_WASI_TEST_ARTIFACT";
/// Set in the child: the scratch directory holding `sandbox/` and `ro/`.
const CHILD_ROOT: &str = "WASMO_WASI_TEST_ROOT";
/// Exit status of the child when the guest trapped or failed to start.
const TRAP_STATUS: i32 = 134;

fn main() -> ExitCode {
    if let (Some(artifact), Some(root)) = (
        std::env::var_os(CHILD_ARTIFACT),
        std::env::var_os(CHILD_ROOT),
    ) {
        return child(Path::new(&artifact), Path::new(&root));
    }
    let args = Arguments::from_args();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    sources.retain(|p| p.extension().is_some_and(|e| e == "c"));
    sources.sort();
    let trials = sources
        .into_iter()
        .map(|src| {
            let name = src
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Trial::test(name, move || run_test(&src))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

/// The guest's arguments after `argv[0]` (the test's name).
const GUEST_ARGS: &[&str] = &["alpha", "beta gamma", ""];
/// The guest's environment.
const GUEST_ENV: &[(&str, &str)] = &[
    ("WASMO_TEST", "1"),
    ("EMPTY", ""),
    ("GREETING", "hello world"),
];

/// Runs the artifact with WASI and exits with the guest's status.
fn child(artifact: &Path, root: &Path) -> ExitCode {
    let name = artifact
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cfg = WasiConfig {
        args: std::iter::once(name)
            .chain(GUEST_ARGS.iter().map(|s| s.to_string()))
            .collect(),
        env: GUEST_ENV
            .iter()
            .map(|(k, v)| (k.to_string(), v.into()))
            .collect(),
        preopens: vec![
            Preopen {
                host: root.join("sandbox"),
                guest: "/sandbox".into(),
                read_only: false,
            },
            Preopen {
                host: root.join("ro"),
                guest: "/ro".into(),
                read_only: true,
            },
        ],
    };
    let status = match run_guest(artifact, cfg) {
        Ok(()) => 0,
        Err(CallError::Exit(code)) => code,
        Err(e) => {
            eprintln!("error: {e}");
            TRAP_STATUS
        }
    };
    ExitCode::from(u8::try_from(status & 0xff).unwrap_or(1))
}

fn run_guest(artifact: &Path, cfg: WasiConfig) -> Result<(), CallError> {
    let host = |e: &dyn std::fmt::Display| CallError::Host(e.to_string());
    let module = Module::from_file(artifact).map_err(|e| host(&e))?;
    let mut store = Store::new(WasiCtx::new(cfg).map_err(|e| host(&e))?);
    let mut imports = Imports::new();
    wasmo_wasi::add_to_imports(&mut store, &mut imports, |ctx| ctx);
    let instance = Instance::new(&mut store, &module, &imports).map_err(|e| host(&e))?;
    let start = instance
        .get_func(&store, "_start")
        .ok_or_else(|| host(&"no `_start` export"))?;
    start.call(&mut store, &[], &mut [])
}

/// The scratch tree the guest sees: `sandbox/` (writable, with
/// `sandbox/input.txt`), `ro/` (read-only, with `ro/data.txt`) and
/// `outside.txt`, which no guest path may reach.
fn make_root(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir(dir.join("sandbox"))?;
    std::fs::create_dir(dir.join("ro"))?;
    std::fs::write(dir.join("sandbox/input.txt"), "line one\nline two\n")?;
    std::fs::write(dir.join("ro/data.txt"), "read-only data\n")?;
    std::fs::write(dir.join("outside.txt"), "secret\n")?;
    Ok(())
}

fn compile_c(src: &Path, wasm: &Path) -> Result<(), Failed> {
    let out = Command::new("clang-19")
        .args(["--target=wasm32-wasi", "-O2", "-Wall", "-Werror"])
        .arg(src)
        .arg("-o")
        .arg(wasm)
        .output()
        .map_err(|e| format!("cannot run clang-19 (install clang-19, lld-19, wasi-libc): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "clang-19 failed on {}:\n{}",
            src.display(),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

fn run_test(src: &Path) -> Result<(), Failed> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let name = src
        .file_stem()
        .ok_or("source without a name")?
        .to_string_lossy()
        .into_owned();
    let wasm_path = tmp.path().join(format!("{name}.wasm"));
    compile_c(src, &wasm_path)?;
    let wasm = std::fs::read(&wasm_path).map_err(|e| e.to_string())?;
    let artifact = wasmo_compiler::compile(&wasm, &wasmo_compiler::CompileConfig::default())
        .map_err(|e| format!("wasmo compile failed: {e}"))?;
    let artifact_path = tmp.path().join(format!("{name}.wasmo"));
    std::fs::write(&artifact_path, artifact).map_err(|e| e.to_string())?;
    let root = tmp.path().join("root");
    std::fs::create_dir(&root)
        .and_then(|()| make_root(&root))
        .map_err(|e| e.to_string())?;

    let stdin = std::fs::read(src.with_extension("stdin")).unwrap_or_default();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .env(CHILD_ARTIFACT, &artifact_path)
        .env(CHILD_ROOT, &root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    if src.with_extension("stdout-closed").exists() {
        drop(child.stdout.take());
    }
    if let Some(mut pipe) = child.stdin.take() {
        // The guest may exit without reading; a broken pipe is fine.
        let _ = pipe.write_all(&stdin);
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let status = match out.status.code() {
        Some(c) => c.to_string(),
        None => format!("killed: {:?}", out.status),
    };
    let mut errors = Vec::new();
    check(src, "stdout", &out.stdout, &mut errors);
    check(src, "stderr", &out.stderr, &mut errors);
    check(src, "status", format!("{status}\n").as_bytes(), &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n").into())
    }
}

/// Compares `actual` with the golden `src.EXT` (missing = empty), or
/// rewrites it under `BLESS=1` (an empty golden is removed).
fn check(src: &Path, ext: &str, actual: &[u8], errors: &mut Vec<String>) {
    let golden = src.with_extension(ext);
    if std::env::var_os("BLESS").is_some() {
        let r = if actual.is_empty() && ext != "status" {
            std::fs::remove_file(&golden).or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            })
        } else {
            std::fs::write(&golden, actual)
        };
        if let Err(e) = r {
            errors.push(format!("cannot bless {}: {e}", golden.display()));
        }
        return;
    }
    let expected = std::fs::read(&golden).unwrap_or_default();
    if expected != actual {
        errors.push(format!(
            "{ext} differs from {}:\n--- expected\n{}\n--- actual\n{}",
            golden.display(),
            String::from_utf8_lossy(&expected),
            String::from_utf8_lossy(actual)
        ));
    }
}
