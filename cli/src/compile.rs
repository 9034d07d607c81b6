//! Compiling for `wasmo run`: spawns `wasmoc` on exactly the bytes given
//! (fed on its stdin, never a path it could read again after the caller
//! hashed it) and takes the artifact back on its stdout, into an unnamed
//! temporary file.
//!
//! Rule: nothing here leaves a name in the file system. The artifact file
//! has no directory entry (`O_TMPFILE`), so an interruption at any moment,
//! by any signal, leaves nothing behind; the cache (`cache.rs`) links a
//! copy in by rename when it wants one. `wasmoc` must be the build this
//! binary was built with (`--expect-build-id`), since the cache key names
//! that build.

use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsRawFd as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use anyhow::{anyhow, bail, Context as _};

use crate::{Failure, RunArgs};
use wasmo_artifact_format::Instrumentation;

/// The compiler build this binary pairs with (`cli/build_id.rs`).
pub const BUILD_ID: &str = env!("WASMO_COMPILER_BUILD_ID");

/// The environment variable whose words `wasmoc` passes to LLVM's option
/// parser (`compiler/src/target.rs`). `wasmoc` inherits it from `wasmo
/// run`, and it may change the generated code, so the cache key covers it.
pub const LLVM_OPTIONS_VAR: &str = "WASMO_LLVM_OPTIONS";

/// Compiles `wasm` (binary, or text `wasmoc` reports on) with the options
/// of `a`; messages call the module `input`. The artifact comes back as
/// an unnamed file; `Failure::Exit(1)` when `wasmoc` failed and has said
/// why.
pub fn compile(
    a: &RunArgs,
    input: &Path,
    wasm: &[u8],
    instrumentation: Instrumentation,
) -> Result<File, Failure> {
    let (wasmoc, mut cmd) = wasmoc_build(a, input, instrumentation)?;
    let artifact = tempfile::tempfile().context("cannot create a temporary file")?;
    cmd.stdout(
        artifact
            .try_clone()
            .context("cannot duplicate a file descriptor")?,
    );
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run `{}`", wasmoc.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // An error here means wasmoc exited without reading it all (a
        // usage error); its status says what happened.
        let _ = stdin.write_all(wasm);
    }
    let status = child
        .wait()
        .with_context(|| format!("cannot wait for `{}`", wasmoc.display()))?;
    if let Some(e) = status_error(status) {
        return Err(Failure::Error(e));
    }
    if !status.success() {
        // wasmoc has already printed its `error: ...` line.
        return Err(Failure::Exit(1));
    }
    Ok(artifact)
}

/// Compiles `wasm` as [`compile`] does, but takes the artifact back in
/// memory and `wasmoc`'s error as the result rather than on stderr: for a
/// `.wast` script, whose `assert_invalid` expects some modules to fail.
pub fn compile_quietly(
    a: &RunArgs,
    input: &Path,
    wasm: &[u8],
) -> Result<Vec<u8>, wasmo_wast::CompileFailure> {
    use wasmo_wast::CompileFailure;
    let other = |e: anyhow::Error| CompileFailure::Other(format!("{e:#}"));
    let (wasmoc, mut cmd) = wasmoc_build(a, input, Instrumentation::default()).map_err(other)?;
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run `{}`", wasmoc.display()))
        .map_err(other)?;
    if let Some(mut stdin) = child.stdin.take() {
        // wasmoc reads all of its input before it writes anything; an
        // error here means it exited early, and its status says why.
        let _ = stdin.write_all(wasm);
    }
    let out = child
        .wait_with_output()
        .with_context(|| format!("cannot wait for `{}`", wasmoc.display()))
        .map_err(other)?;
    if let Some(e) = status_error(out.status) {
        return Err(other(e));
    }
    if out.status.success() {
        return Ok(out.stdout);
    }
    // `error: cannot compile `NAME`: invalid module at byte offset ...`:
    // the compiler's own message, which says whether the module is invalid.
    let text = String::from_utf8_lossy(&out.stderr);
    let message = text.trim().strip_prefix("error: ").unwrap_or(text.trim());
    let prefix = format!("cannot compile `{}`: ", input.display());
    let message = message.strip_prefix(&prefix).unwrap_or(message).to_owned();
    if message.starts_with("invalid module at byte offset") {
        Err(CompileFailure::Invalid(message))
    } else {
        Err(CompileFailure::Other(message))
    }
}

/// The `wasmoc build` command for `a`'s options, reading the module on
/// stdin (a pipe) and writing the artifact to stdout (left for the caller
/// to set), with the path it was found at.
fn wasmoc_build(
    a: &RunArgs,
    input: &Path,
    instrumentation: Instrumentation,
) -> anyhow::Result<(PathBuf, Command)> {
    let wasmoc = find_wasmoc()?;
    let mut cmd = Command::new(&wasmoc);
    cmd.arg("build").arg(format!("-O{}", a.opt_level));
    if let Some(cpu) = &a.cpu {
        cmd.arg("--cpu").arg(cpu);
    }
    if let Some(b) = &a.bounds_checks {
        cmd.arg("--bounds-checks").arg(b);
    }
    if instrumentation.epoch_interruption() {
        cmd.arg("--epoch-interruption");
    }
    if instrumentation.consume_fuel() {
        cmd.arg("--consume-fuel");
    }
    cmd.arg("--expect-build-id")
        .arg(BUILD_ID)
        .arg("--input-name")
        .arg(input)
        .args(["-", "-o", "-"])
        .stdin(Stdio::piped());
    Ok((wasmoc, cmd))
}

/// `wasmo compile ARGS...`: runs `wasmoc build ARGS...` and exits as it
/// does (its output and errors are its own).
pub fn compile_alias(args: &[std::ffi::OsString]) -> Result<(), Failure> {
    let wasmoc = find_wasmoc()?;
    let status = Command::new(&wasmoc)
        .arg("build")
        .args(args)
        .status()
        .with_context(|| format!("cannot run `{}`", wasmoc.display()))?;
    if let Some(e) = status_error(status) {
        return Err(Failure::Error(e));
    }
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => Err(Failure::Exit(code)),
        None => Err(Failure::Exit(1)),
    }
}

/// A path that opens `file` again (a new open file description on the same
/// inode), for APIs that take a path. The caller keeps `file` open until
/// the path has been opened.
pub fn reopen_path(file: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// The error for a `wasmoc` killed by a signal (the OOM killer, a crash),
/// which prints nothing itself.
fn status_error(status: ExitStatus) -> Option<anyhow::Error> {
    let sig = status.signal()?;
    let hint = match sig {
        9 => "; the system may have run out of memory",
        _ => "",
    };
    let core = if status.core_dumped() {
        " (core dumped)"
    } else {
        ""
    };
    Some(anyhow!(
        "wasmoc was killed by signal {sig} ({}){core}{hint}",
        signal_name(sig)
    ))
}

/// The usual name of signal `sig` on Linux.
fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        31 => "SIGSYS",
        _ => "no common name",
    }
}

/// `wasmoc` next to this executable (how cargo and installers lay them
/// out), else the first one in `PATH`.
fn find_wasmoc() -> anyhow::Result<PathBuf> {
    let name = format!("wasmoc{}", std::env::consts::EXE_SUFFIX);
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        let candidate = dir.join(&name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(&name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "`wasmo run` needs the compiler `{name}`, which is neither next to this executable nor in \
         PATH; install it, or compile with `wasmoc build` and use `wasmo exec`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_are_named() {
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(64), "no common name");
    }
}
