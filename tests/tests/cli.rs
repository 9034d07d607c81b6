//! Golden tests of the `wasmoc` and `wasmo` commands over `tests/cli/*.wat`.
//!
//! Each `NAME.wat` says in a header comment which command to run:
//!
//! ```text
//! ;; run: wasmo exec --invoke fib {artifact} 30
//! ```
//!
//! `{wat}` is the `.wat` file, `{artifact}` a temporary artifact path,
//! `{dir}` the directory of the `.wat` files. For a
//! `wasmo` command the `.wat` is first compiled to `{artifact}` with
//! `wasmoc build` (which must succeed), but for `wasmo compile`. A `.wast`
//! script (`NAME.wast`, its header the same, `{wat}` the script) is run as
//! it is, by `wasmo run {wat}`. Beside it, `NAME.stdout`,
//! `NAME.stderr` and `NAME.status` hold what the command must print and its
//! exit status; paths in the output are written as `$DIR` (this directory)
//! and `$TMP` (the temporary directory). `BLESS=1` rewrites them.
//!
//! One more trial checks that the `wasmo` binary does not link LLVM.
//!
//! Rule: golden files are compared exactly; never loosen a comparison to
//! make a test pass, bless the new output and review the diff instead.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use libtest_mimic::{Arguments, Failed, Trial};
use wasmo_tests::{bin_path, example};

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("cli");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    cases.retain(|p| p.extension().is_some_and(|e| e == "wat" || e == "wast"));
    cases.sort();
    let mut trials: Vec<Trial> = cases
        .into_iter()
        .map(|path| {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Trial::test(format!("golden::{name}"), move || golden(&path))
        })
        .collect();
    trials.push(Trial::test("wasmo_does_not_link_llvm", no_llvm));
    trials.push(Trial::test("wasmoc_version", version));
    trials.push(Trial::test("examples_run", examples));
    trials.push(Trial::test(
        "wasmoc_writes_special_files_in_place",
        special_output,
    ));
    libtest_mimic::run(&args, trials).exit_code()
}

fn golden(wat: &Path) -> Result<(), Failed> {
    let text = std::fs::read_to_string(wat).map_err(|e| format!("{}: {e}", wat.display()))?;
    let run = text
        .lines()
        .find_map(|l| l.trim().strip_prefix(";; run:"))
        .ok_or("missing `;; run: wasmo|wasmoc ...` header")?
        .trim()
        .to_owned();
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let artifact = tmp.path().join("app.wasmo");
    let mut words = run.split_whitespace();
    let program = words.next().ok_or("empty `;; run:` line")?;
    let dir = wat.parent().unwrap_or(Path::new("."));
    let args: Vec<String> = words
        .map(|w| {
            w.replace("{wat}", &wat.to_string_lossy())
                .replace("{artifact}", &artifact.to_string_lossy())
                .replace("{dir}", &dir.to_string_lossy())
        })
        .collect();
    // `wasmo compile` compiles by itself (and may be meant to fail), and
    // a script is no module.
    let script = wat.extension().is_some_and(|e| e == "wast");
    if program == "wasmo" && !script && args.first().is_none_or(|a| a != "compile") {
        let out = Command::new(bin_path("wasmoc")?)
            .arg("build")
            .arg(wat)
            .arg("-o")
            .arg(&artifact)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "wasmoc build failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
    } else if program != "wasmoc" && program != "wasmo" {
        return Err(format!("`;; run:` must start with wasmo or wasmoc, not `{program}`").into());
    }
    let out = Command::new(bin_path(program)?)
        .args(&args)
        .output()
        .map_err(|e| e.to_string())?;
    let normalize = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .replace(&*tmp.path().to_string_lossy(), "$TMP")
            .replace(&*dir.to_string_lossy(), "$DIR")
    };
    let actual = [
        ("stdout", normalize(&out.stdout)),
        ("stderr", normalize(&out.stderr)),
        (
            "status",
            format!(
                "{}\n",
                out.status
                    .code()
                    .map_or("signal".to_owned(), |c| c.to_string())
            ),
        ),
    ];
    let bless = std::env::var_os("BLESS").is_some();
    let mut diffs = Vec::new();
    for (ext, got) in actual {
        let golden = wat.with_extension(ext);
        if bless {
            std::fs::write(&golden, &got).map_err(|e| format!("{}: {e}", golden.display()))?;
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if want != got {
            diffs.push(format!(
                "{} differs\n--- expected\n{want}--- actual\n{got}---",
                golden.display()
            ));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        diffs.push(
            "(if the new output is right: BLESS=1 cargo test -p wasmo-tests --test cli)".into(),
        );
        Err(diffs.join("\n").into())
    }
}

/// The runtime binary must stay free of LLVM (`wasmo run` spawns `wasmoc`).
fn no_llvm() -> Result<(), Failed> {
    let wasmo = bin_path("wasmo")?;
    let out = match Command::new("ldd").arg(&wasmo).output() {
        Ok(o) => o,
        // The single check skipped where there is no ldd.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.to_string().into()),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    if text.to_lowercase().contains("libllvm") {
        return Err(format!("{} links LLVM:\n{text}", wasmo.display()).into());
    }
    // The compiler binary, for contrast, must: otherwise the check is vacuous.
    let wasmoc = bin_path("wasmoc")?;
    let out = Command::new("ldd")
        .arg(&wasmoc)
        .output()
        .map_err(|e| e.to_string())?;
    if !String::from_utf8_lossy(&out.stdout).contains("libLLVM") {
        return Err("ldd shows no libLLVM even for wasmoc; is LLVM linked statically?".into());
    }
    Ok(())
}

fn version() -> Result<(), Failed> {
    for bin in ["wasmoc", "wasmo"] {
        let out = Command::new(bin_path(bin)?)
            .arg("--version")
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || !text.starts_with(bin) {
            return Err(format!("`{bin} --version` printed `{text}`").into());
        }
    }
    Ok(())
}

/// The bundled examples do what their header comments (and the README) say.
fn examples() -> Result<(), Failed> {
    let cases: [(&str, &[&str], &str, i32); 3] = [
        ("fib.wat", &["--invoke", "fib"], "30", 0),
        ("fac.wat", &["--invoke", "fac"], "20", 0),
        ("hello_trap.wat", &[], "", 134),
    ];
    let expected_stdout = ["832040\n", "2432902008176640000\n", ""];
    for ((file, opts, arg, status), want) in cases.into_iter().zip(expected_stdout) {
        let mut cmd = Command::new(bin_path("wasmo")?);
        cmd.arg("run").args(opts).arg(example(file));
        if !arg.is_empty() {
            cmd.arg(arg);
        }
        let out = cmd.output().map_err(|e| e.to_string())?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.code() != Some(status) || stdout != want {
            return Err(format!(
                "wasmo run {file}: status {:?}, stdout `{stdout}`, stderr `{}`",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
    }
    Ok(())
}

/// `wasmoc -o FIFO` (like `-o /dev/null`) writes through the special file
/// instead of renaming a regular file over it: as root, an atomic rename
/// over `/dev/null` replaced the device node with a regular file.
fn special_output() -> Result<(), Failed> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let fifo = tmp.path().join("fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .map_err(|e| format!("cannot run mkfifo: {e}"))?;
    if !made.success() {
        return Err("mkfifo failed".into());
    }
    // The reader is a child process, so that it can be killed should
    // wasmoc never open the FIFO (a thread would block in open() forever).
    let mut reader = Command::new("cat")
        .arg(&fifo)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cat: {e}"))?;
    let out = Command::new(bin_path("wasmoc")?)
        .arg("build")
        .arg(example("fib.wat"))
        .arg("-o")
        .arg(&fifo)
        .output()
        .map_err(|e| e.to_string())?;
    for _ in 0..100 {
        if reader.try_wait().map_err(|e| e.to_string())?.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = reader.kill();
    let bytes = reader.wait_with_output().map_err(|e| e.to_string())?.stdout;
    if !out.status.success() {
        return Err(format!("wasmoc failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    use std::os::unix::fs::FileTypeExt as _;
    let still_fifo = std::fs::symlink_metadata(&fifo)
        .map(|m| m.file_type().is_fifo())
        .unwrap_or(false);
    if !still_fifo || !bytes.starts_with(b"\0wasmo") {
        return Err(format!(
            "fifo replaced or not written through (still a fifo: {still_fifo}, {} bytes)",
            bytes.len()
        )
        .into());
    }
    Ok(())
}
