//! WASI programs under the `wasmo` command line. Every `tests/wasi/NAME.c`
//! is compiled with `clang-19 --target=wasm32-wasi -O2` and run twice, as
//! `run::NAME` (`wasmo run`, compile cache in a temporary directory) and
//! `exec::NAME` (`wasmoc build` then `wasmo exec`), each checked against
//! `NAME.stdout`, `NAME.stderr` and `NAME.status` beside the source.
//! `NAME.cflags` (optional) holds extra clang flags for the wasm build
//! (`-msimd128`), `NAME.cc` (optional) another compiler for it (`clang-22`); `NAME.args` (optional) holds the arguments, one per line; `NAME.stdin`
//! (optional) is fed to stdin; if `NAME.pipe` exists, the reading end of
//! stdout is closed at once (`wasmo exec app.wasmo | head -0`) and there is
//! no `.stdout`. `BLESS=1` rewrites the goldens.
//!
//! Every program sees the same world: `/sandbox` (read-write, holding a
//! symlink `link` to `secret.txt` outside it), `/ro` (read-only, holding
//! `data.txt`), `GREETING=hello` and `WASMO_TEST_PASS` passed through.
//!
//! Further trials: the compile cache (a hit starts no `wasmoc`, a corrupt
//! entry is recompiled with one line on stderr, the directory precedence)
//! and `compare::transform`, byte-identical output files natively, under
//! Wasmtime (the PyPI `wasmtime` package) and under `wasmo exec`.
//!
//! Rule: a missing tool (clang-19, wasi-libc, python3's `wasmtime`) fails
//! the test with what to install; nothing here is skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output, Stdio};

use libtest_mimic::{Arguments, Failed, Trial};
use wasmo_tests::bin_path;

const INSTALL_HINT: &str = "run .ci/setup (Debian packages clang-19 lld-19 wasi-libc \
                            libclang-rt-19-dev-wasm32 clang-22 lld-22 libclang-rt-22-dev-wasm32; \
                            `pip install wasmtime==48.0.0`)";

fn wasi_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("wasi")
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let mut sources: Vec<PathBuf> = std::fs::read_dir(wasi_dir())
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    sources.retain(|p| p.extension().is_some_and(|e| e == "c"));
    sources.sort();
    let mut trials = Vec::new();
    for src in sources {
        let name = src
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        for mode in [Mode::Run, Mode::Exec] {
            let src = src.clone();
            trials.push(Trial::test(format!("{}::{name}", mode.name()), move || {
                golden(&src, mode)
            }));
        }
    }
    trials.push(Trial::test(
        "cache::hit_starts_no_wasmoc",
        cache_hit_without_wasmoc,
    ));
    trials.push(Trial::test(
        "cache::corrupt_entry_recompiled",
        corrupt_entry,
    ));
    trials.push(Trial::test("cache::directory_precedence", cache_precedence));
    trials.push(Trial::test("compare::transform", compare_transform));
    libtest_mimic::run(&args, trials).exit_code()
}

#[derive(Clone, Copy)]
enum Mode {
    Run,
    Exec,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Run => "run",
            Mode::Exec => "exec",
        }
    }
}

/// `clang-19 --target=wasm32-wasi -O2 SRC -o OUT` (or a native build when
/// `target` is `None`).
fn clang(src: &Path, out: &Path, target: Option<&str>) -> Result<(), Failed> {
    // `NAME.cc` names another compiler for the wasm build (clang-22, whose
    // wasm defaults are today's: bulk memory, multi-value, reference
    // types, non-trapping conversions); the native build stays clang-19.
    let compiler = match target {
        Some(_) => read_opt(&src.with_extension("cc"))
            .map(|c| c.trim().to_owned())
            .unwrap_or_else(|| "clang-19".to_owned()),
        None => "clang-19".to_owned(),
    };
    let mut cmd = Command::new(&compiler);
    if let Some(t) = target {
        cmd.arg(format!("--target={t}"));
        let flags = read_opt(&src.with_extension("cflags")).unwrap_or_default();
        cmd.args(flags.split_whitespace());
    }
    // The programs share the errno-naming helpers of wasmo-wasi's tests.
    let common = Path::new(env!("CARGO_MANIFEST_DIR")).join("../loader/wasi/tests/c");
    cmd.arg("-O2")
        .arg("-I")
        .arg(common)
        .arg(src)
        .arg("-o")
        .arg(out);
    let o = cmd
        .output()
        .map_err(|e| format!("cannot run {compiler} ({e}); {INSTALL_HINT}"))?;
    if !o.status.success() {
        return Err(format!(
            "{compiler} failed on {} ({INSTALL_HINT}):\n{}",
            src.display(),
            String::from_utf8_lossy(&o.stderr)
        )
        .into());
    }
    Ok(())
}

fn wasm32(src: &Path, out: &Path) -> Result<(), Failed> {
    clang(src, out, Some("wasm32-wasi"))
}

fn wasmoc_build(wasm: &Path, out: &Path) -> Result<(), Failed> {
    let o = Command::new(bin_path("wasmoc")?)
        .arg("build")
        .arg(wasm)
        .arg("-o")
        .arg(out)
        .output()
        .map_err(|e| e.to_string())?;
    if !o.status.success() {
        return Err(format!("wasmoc failed: {}", String::from_utf8_lossy(&o.stderr)).into());
    }
    Ok(())
}

/// The guest's world under `root`: `sandbox/` (with `link` ->
/// `../secret.txt`), `ro/data.txt`, `secret.txt`.
fn make_world(root: &Path) -> Result<(), Failed> {
    let io = |e: std::io::Error| e.to_string();
    std::fs::create_dir_all(root.join("sandbox")).map_err(io)?;
    std::fs::create_dir_all(root.join("ro")).map_err(io)?;
    std::fs::write(root.join("ro/data.txt"), "read only data\n").map_err(io)?;
    std::fs::write(root.join("secret.txt"), "secret\n").map_err(io)?;
    std::os::unix::fs::symlink("../secret.txt", root.join("sandbox/link")).map_err(io)?;
    Ok(())
}

/// The WASI flags every golden run gets.
fn world_flags(root: &Path) -> Vec<String> {
    vec![
        "--dir".into(),
        format!("{}::/sandbox", root.join("sandbox").display()),
        "--dir-ro".into(),
        format!("{}::/ro", root.join("ro").display()),
        "--env".into(),
        "GREETING=hello".into(),
        "--env".into(),
        "WASMO_TEST_PASS".into(),
    ]
}

fn read_opt(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn golden(src: &Path, mode: Mode) -> Result<(), Failed> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = tmp.path();
    make_world(root)?;
    let wasm = root.join("app.wasm");
    wasm32(src, &wasm)?;
    let mut cmd = Command::new(bin_path("wasmo")?);
    match mode {
        Mode::Run => {
            cmd.arg("run").arg("--cache-dir").arg(root.join("cache"));
        }
        Mode::Exec => {
            wasmoc_build(&wasm, &root.join("app.wasmo"))?;
            cmd.arg("exec");
        }
    }
    cmd.args(world_flags(root));
    cmd.arg(match mode {
        Mode::Run => root.join("app.wasm"),
        Mode::Exec => root.join("app.wasmo"),
    });
    let args = read_opt(&src.with_extension("args")).unwrap_or_default();
    cmd.args(args.lines());
    cmd.env("WASMO_TEST_PASS", "passed through");
    cmd.stdin(match std::fs::File::open(src.with_extension("stdin")) {
        Ok(f) => Stdio::from(f),
        Err(_) => Stdio::null(),
    });
    let pipe = src.with_extension("pipe").exists();
    let out = if pipe {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        drop(child.stdout.take());
        child.wait_with_output().map_err(|e| e.to_string())?
    } else {
        cmd.output().map_err(|e| e.to_string())?
    };
    let mut expected = vec![
        ("stderr", String::from_utf8_lossy(&out.stderr).into_owned()),
        ("status", format!("{}\n", status_text(&out))),
    ];
    if !pipe {
        expected.push(("stdout", String::from_utf8_lossy(&out.stdout).into_owned()));
    }
    let bless = std::env::var_os("BLESS").is_some();
    let mut diffs = Vec::new();
    for (ext, actual) in expected {
        let path = src.with_extension(ext);
        if bless {
            std::fs::write(&path, &actual).map_err(|e| e.to_string())?;
            continue;
        }
        let want = read_opt(&path).unwrap_or_default();
        if want != actual {
            diffs.push(format!(
                "{}: expected\n{want}\n--- got ---\n{actual}",
                path.display()
            ));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("\n").into())
    }
}

fn status_text(out: &Output) -> String {
    match out.status.code() {
        Some(c) => c.to_string(),
        None => format!("{}", out.status),
    }
}

/// `wasmo run --cache-dir CACHE hello.wasm`, with `wasmo` being `exe`.
fn run_cached(
    exe: &Path,
    cache: &Path,
    wasm: &Path,
    path_var: Option<&Path>,
) -> Result<Output, Failed> {
    let mut cmd = Command::new(exe);
    cmd.arg("run").arg("--cache-dir").arg(cache).arg(wasm);
    if let Some(p) = path_var {
        cmd.env("PATH", p);
    }
    cmd.stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string().into())
}

/// (name, length, mtime) of every file in `dir`, sorted.
fn listing(dir: &Path) -> Result<Vec<(String, u64, std::time::SystemTime)>, Failed> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let e = e.map_err(|e| e.to_string())?;
        let m = e.metadata().map_err(|e| e.to_string())?;
        let mtime = m.modified().map_err(|e| e.to_string())?;
        v.push((e.file_name().to_string_lossy().into_owned(), m.len(), mtime));
    }
    v.sort();
    Ok(v)
}

fn expect_ok(what: &str, out: &Output, stdout_prefix: &str) -> Result<(), Failed> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !stdout.starts_with(stdout_prefix) {
        return Err(format!(
            "{what}: status {}, stdout {stdout:?}, stderr {:?}",
            status_text(out),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

/// A second `wasmo run` of the same module succeeds with no `wasmoc`
/// anywhere it could be found (a copy of `wasmo` alone in a directory,
/// PATH set to that directory) and leaves the cache untouched.
fn cache_hit_without_wasmoc() -> Result<(), Failed> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let wasm = tmp.path().join("hello.wasm");
    wasm32(&wasi_dir().join("hello.c"), &wasm)?;
    let cache = tmp.path().join("cache");
    let first = run_cached(&bin_path("wasmo")?, &cache, &wasm, None)?;
    expect_ok("first run", &first, "hello, world\n")?;
    let before = listing(&cache)?;
    if before.len() != 1 {
        return Err(format!("expected one cache entry, found {before:?}").into());
    }
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).map_err(|e| e.to_string())?;
    let lone = bin.join("wasmo");
    std::fs::copy(bin_path("wasmo")?, &lone).map_err(|e| e.to_string())?;
    // The copy really cannot compile: without the cache it must fail.
    let uncached = Command::new(&lone)
        .args(["run", "--no-cache"])
        .arg(&wasm)
        .env("PATH", &bin)
        .output()
        .map_err(|e| e.to_string())?;
    if uncached.status.success()
        || !String::from_utf8_lossy(&uncached.stderr).contains("needs the compiler")
    {
        return Err("the lone wasmo copy found a wasmoc; the test proves nothing".into());
    }
    let second = run_cached(&lone, &cache, &wasm, Some(&bin))?;
    expect_ok("cached run without wasmoc", &second, "hello, world\n")?;
    if !second.stderr.starts_with(b"to stderr\n") || second.stderr.len() != 10 {
        return Err(format!(
            "cached run printed more on stderr: {:?}",
            String::from_utf8_lossy(&second.stderr)
        )
        .into());
    }
    let after = listing(&cache)?;
    if before != after {
        return Err(format!("the cache changed on a hit: {before:?} -> {after:?}").into());
    }
    Ok(())
}

/// A damaged entry (a flipped byte, then a truncated file) is recompiled
/// with exactly one line on stderr; the run after that is quiet again.
fn corrupt_entry() -> Result<(), Failed> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let wasm = tmp.path().join("hello.wasm");
    wasm32(&wasi_dir().join("hello.c"), &wasm)?;
    let cache = tmp.path().join("cache");
    let wasmo = bin_path("wasmo")?;
    expect_ok(
        "first run",
        &run_cached(&wasmo, &cache, &wasm, None)?,
        "hello",
    )?;
    let entry = listing(&cache)?
        .into_iter()
        .next()
        .map(|(n, _, _)| cache.join(n))
        .ok_or("no cache entry")?;
    type Damage = fn(&mut Vec<u8>);
    let damage: [(&str, Damage); 2] = [
        ("flipped byte", |b| {
            let mid = b.len() / 2;
            b[mid] ^= 0x40;
        }),
        ("truncated", |b| b.truncate(b.len() / 3)),
    ];
    for (what, f) in damage {
        let mut bytes = std::fs::read(&entry).map_err(|e| e.to_string())?;
        f(&mut bytes);
        std::fs::write(&entry, &bytes).map_err(|e| e.to_string())?;
        let out = run_cached(&wasmo, &cache, &wasm, None)?;
        expect_ok(what, &out, "hello, world\n")?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let prefix = format!(
            "wasmo: cached artifact for {} is unusable (",
            wasm.display()
        );
        let mut lines = stderr.lines();
        let ok = lines
            .next()
            .is_some_and(|l| l.starts_with(&prefix) && l.ends_with("); recompiling"))
            && lines.next() == Some("to stderr")
            && lines.next().is_none();
        if !ok {
            return Err(format!("{what}: unexpected stderr {stderr:?}").into());
        }
        let again = run_cached(&wasmo, &cache, &wasm, None)?;
        if again.stderr != b"to stderr\n" {
            return Err(format!(
                "{what}: the recompiled entry is not used: {:?}",
                String::from_utf8_lossy(&again.stderr)
            )
            .into());
        }
    }
    Ok(())
}

/// `--cache-dir` beats `$WASMO_CACHE_DIR`, which beats `$XDG_CACHE_HOME`.
fn cache_precedence() -> Result<(), Failed> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let wasm = tmp.path().join("exit.wasm");
    wasm32(&wasi_dir().join("exit_code.c"), &wasm)?;
    let [flag, env, xdg] = ["flag", "env", "xdg"].map(|d| tmp.path().join(d));
    let run = |with_flag: bool, with_env: bool| -> Result<(), Failed> {
        let mut cmd = Command::new(bin_path("wasmo")?);
        cmd.arg("run");
        if with_flag {
            cmd.arg("--cache-dir").arg(&flag);
        }
        cmd.arg(&wasm)
            .env("XDG_CACHE_HOME", &xdg)
            .env_remove("WASMO_CACHE_DIR");
        if with_env {
            cmd.env("WASMO_CACHE_DIR", &env);
        }
        let out = cmd.output().map_err(|e| e.to_string())?;
        if out.status.code() != Some(42) {
            return Err(format!("status {}", status_text(&out)).into());
        }
        Ok(())
    };
    let count = |d: &Path| std::fs::read_dir(d).map(Iterator::count).unwrap_or(0);
    run(true, true)?;
    if (count(&flag), count(&env), count(&xdg.join("wasmo"))) != (1, 0, 0) {
        return Err("--cache-dir was not used".into());
    }
    run(false, true)?;
    if (count(&env), count(&xdg.join("wasmo"))) != (1, 0) {
        return Err("$WASMO_CACHE_DIR was not used".into());
    }
    run(false, false)?;
    if count(&xdg.join("wasmo")) != 1 {
        return Err("$XDG_CACHE_HOME/wasmo was not used".into());
    }
    Ok(())
}

/// `compare/transform.c` over real text (this repository's README and
/// ARCHITECTURE, concatenated, without a final newline) must write
/// byte-identical files natively, under Wasmtime and under `wasmo exec`.
fn compare_transform() -> Result<(), Failed> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = tmp.path();
    let src = wasi_dir().join("compare/transform.c");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut input = Vec::new();
    for f in ["README.md", "ARCHITECTURE.md"] {
        input.extend(std::fs::read(repo.join(f)).map_err(|e| e.to_string())?);
    }
    input.extend_from_slice(b"last line, no newline");
    let io = |e: std::io::Error| e.to_string();
    for d in ["native", "wasmtime", "wasmo"] {
        std::fs::create_dir(root.join(d)).map_err(io)?;
        std::fs::write(root.join(d).join("in.txt"), &input).map_err(io)?;
    }
    let native = root.join("transform");
    clang(&src, &native, None)?;
    let wasm = root.join("transform.wasm");
    wasm32(&src, &wasm)?;
    let artifact = root.join("transform.wasmo");
    wasmoc_build(&wasm, &artifact)?;

    let check = |who: &str, out: std::io::Result<Output>| -> Result<(), Failed> {
        let out = out.map_err(|e| format!("cannot run {who}: {e}; {INSTALL_HINT}"))?;
        if !out.status.success() {
            return Err(format!(
                "{who} failed ({}): {}{}",
                status_text(&out),
                String::from_utf8_lossy(&out.stderr),
                if who == "wasmtime" {
                    format!("; {INSTALL_HINT}")
                } else {
                    String::new()
                }
            )
            .into());
        }
        Ok(())
    };
    let nd = root.join("native");
    check(
        "native",
        Command::new(&native)
            .arg(nd.join("in.txt"))
            .arg(nd.join("out.txt"))
            .output(),
    )?;
    check(
        "wasmtime",
        Command::new("python3")
            .arg(wasi_dir().join("compare/run_wasmtime.py"))
            .arg(&wasm)
            .arg(root.join("wasmtime"))
            .arg("/data")
            .args(["/data/in.txt", "/data/out.txt"])
            .output(),
    )?;
    check(
        "wasmo",
        Command::new(bin_path("wasmo")?)
            .arg("exec")
            .arg("--dir")
            .arg(format!("{}::/data", root.join("wasmo").display()))
            .arg(&artifact)
            .args(["/data/in.txt", "/data/out.txt"])
            .output(),
    )?;
    let read =
        |d: &str| std::fs::read(root.join(d).join("out.txt")).map_err(|e| format!("{d}: {e}"));
    let (n, t, w) = (read("native")?, read("wasmtime")?, read("wasmo")?);
    if n.len() < 1000 {
        return Err(format!("suspiciously short output ({} bytes)", n.len()).into());
    }
    if n != t {
        return Err("wasmtime's output differs from the native build's".into());
    }
    if n != w {
        return Err("wasmo's output differs from the native build's".into());
    }
    Ok(())
}
