//! `wasmoc`: compiles a WebAssembly module (binary `.wasm` or text
//! `.wat`/`.wast`) into a `.wasmo` artifact.
//!
//! Rule: the output file appears whole or not at all. The artifact is written
//! to a temporary file in the output's directory and renamed over the target,
//! so a failed or interrupted build never leaves a partial artifact behind
//! (except for a special file such as `/dev/null`, written in place: a
//! rename would replace the device node).
//! This binary is the only command that links LLVM; `wasmo run` spawns it.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand, ValueEnum};
use wasmo_artifact_format::BoundsChecks;
use wasmo_compiler::{CompileConfig, CpuSelection, OptLevel};

/// The wasmo ahead-of-time WebAssembly compiler.
#[derive(Debug, Parser)]
#[command(name = "wasmoc", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile a .wasm or .wat module into a .wasmo artifact.
    Build(BuildArgs),
}

#[derive(Debug, clap::Args)]
struct BuildArgs {
    /// Optimisation level (0-3).
    #[arg(short = 'O', value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u8).range(0..=3))]
    opt_level: u8,
    /// Target triple (default: this host).
    #[arg(long, value_name = "TRIPLE")]
    target: Option<String>,
    /// CPU to generate code for: an LLVM CPU name or `native`
    /// (default: the documented baseline, x86-64-v2 on x86-64).
    #[arg(long, value_name = "NAME")]
    cpu: Option<String>,
    /// How linear-memory accesses are kept in bounds.
    #[arg(long, value_enum, default_value_t = BoundsArg::GuardPages)]
    bounds_checks: BoundsArg,
    /// The module to compile (.wasm binary or .wat/.wast text).
    input: PathBuf,
    /// Where to write the artifact.
    #[arg(short = 'o', value_name = "OUT.wasmo")]
    output: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BoundsArg {
    /// Reserve 4 GiB plus a guard region; faults become traps.
    GuardPages,
    /// Compare every access against the memory's current length.
    Explicit,
}

impl From<BoundsArg> for BoundsChecks {
    fn from(b: BoundsArg) -> Self {
        match b {
            BoundsArg::GuardPages => BoundsChecks::GuardPages,
            BoundsArg::Explicit => BoundsChecks::Explicit,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(args) => build(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn build(args: &BuildArgs) -> anyhow::Result<()> {
    let wasm = read_module(&args.input)?;
    let config = CompileConfig {
        opt_level: OptLevel::from_number(args.opt_level).unwrap_or_default(),
        target: args.target.clone(),
        cpu: match args.cpu.as_deref() {
            None => CpuSelection::Baseline,
            Some("native") => CpuSelection::Native,
            Some(name) => CpuSelection::Named(name.to_owned()),
        },
        bounds_checks: args.bounds_checks.into(),
    };
    let artifact = wasmo_compiler::compile(&wasm, &config)
        .with_context(|| format!("cannot compile `{}`", args.input.display()))?;
    write_atomically(&args.output, &artifact)
}

/// Reads a module, telling binary from text by the `\0asm` magic rather
/// than by the file name.
fn read_module(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    if bytes.starts_with(b"\0asm") {
        return Ok(bytes);
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        bail!(
            "`{}` is neither a wasm binary (no \\0asm magic) nor UTF-8 text",
            path.display()
        );
    };
    wat::parse_str(text).map_err(|mut e| {
        e.set_path(path);
        anyhow::anyhow!("cannot parse `{}` as WebAssembly text: {e}", path.display())
    })
}

fn write_atomically(out: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    // `-o /dev/null`, `-o /dev/stdout`, a FIFO: renaming over such a file
    // would replace the device node itself (as root, /dev/null would
    // become a regular file), so special files are written in place.
    if fs::metadata(out).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        return fs::write(out, bytes).with_context(|| format!("cannot write `{}`", out.display()));
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".wasmoc-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in `{}`", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write `{}`", tmp.path().display()))?;
    set_readable(tmp.as_file())?;
    tmp.persist(out)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write `{}`", out.display()))?;
    Ok(())
}

/// Temporary files are created 0600; an artifact is as readable as any
/// other build output.
#[cfg(unix)]
fn set_readable(f: &fs::File) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    f.set_permissions(fs::Permissions::from_mode(0o644))
        .context("cannot set the artifact's permissions")
}

#[cfg(not(unix))]
fn set_readable(_: &fs::File) -> anyhow::Result<()> {
    Ok(())
}
