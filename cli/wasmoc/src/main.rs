//! `wasmoc`: compiles a WebAssembly module (binary `.wasm` or text
//! `.wat`/`.wast`) into a `.wasmo` artifact.
//!
//! Rule: the output file appears whole or not at all. The artifact is written
//! to a temporary file in the output's directory and renamed over the target,
//! so a failed or interrupted build never leaves a partial artifact behind
//! (except for a special file such as `/dev/null`, written in place: a
//! rename would replace the device node).
//! The output is never the input: `-o` naming the input file (by any
//! spelling, hard link or symlink) is an error and the source stays as it
//! was. `-` as the input reads stdin, `-` as the output writes stdout; that
//! is how `wasmo run` hands over exactly the bytes it hashed and gets the
//! artifact back.
//! This binary is the only command that links LLVM; `wasmo run` spawns it.

#[path = "../../src/args.rs"]
mod args;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand, ValueEnum};
use wasmo_artifact_format::{BoundsChecks, Instrumentation};
use wasmo_compiler::{CompileConfig, CpuSelection, OptLevel, Session};

mod progress;

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
    /// Check the store's interrupt flag at function entries and loop
    /// headers, so `wasmo exec -W timeout=...` and the API's interrupt
    /// handle can stop the code.
    #[arg(long)]
    epoch_interruption: bool,
    /// Count executed operators against the store's fuel, so `wasmo exec
    /// -W fuel=N` can bound the work the code does.
    #[arg(long)]
    consume_fuel: bool,
    /// Threads to compile with (default: all cores).
    #[arg(short = 'j', long = "jobs", value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// No progress bar (one is drawn only when stderr is a terminal and
    /// the compile takes over a second).
    #[arg(short = 'q', long)]
    quiet: bool,
    /// The module to compile (.wasm binary or .wat/.wast text); `-` reads
    /// stdin.
    input: PathBuf,
    /// Where to write the artifact; `-` writes stdout.
    #[arg(short = 'o', value_name = "OUT.wasmo")]
    output: PathBuf,
    /// The name messages give the input (`wasmo run` passes the module's
    /// path while it feeds the bytes on stdin).
    #[arg(long, value_name = "NAME", hide = true)]
    input_name: Option<PathBuf>,
    /// Fail unless this wasmoc's compiler build id is ID (`wasmo run` keys
    /// its cache by the id it was built with).
    #[arg(long, value_name = "ID", hide = true)]
    expect_build_id: Option<String>,
}

/// This build's compiler identity (see `cli/build_id.rs`).
const BUILD_ID: &str = env!("WASMO_COMPILER_BUILD_ID");

/// A path that means stdin or stdout.
fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
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
    let cli: Cli = match args::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
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
    if let Some(want) = &args.expect_build_id {
        if want != BUILD_ID {
            bail!(
                "this wasmoc is compiler build {BUILD_ID}, but the caller was built with {want}; \
                 install wasmo and wasmoc from the same build"
            );
        }
    }
    let name = args.input_name.as_deref().unwrap_or(&args.input);
    refuse_overwriting_input(&args.input, &args.output)?;
    let wasm = read_module(&args.input, name)?;
    let config = CompileConfig {
        opt_level: OptLevel::from_number(args.opt_level).unwrap_or_default(),
        target: args.target.clone(),
        cpu: match args.cpu.as_deref() {
            None => CpuSelection::Baseline,
            Some("native") => CpuSelection::Native,
            Some(name) => CpuSelection::Named(name.to_owned()),
        },
        bounds_checks: args.bounds_checks.into(),
        instrumentation: Instrumentation(
            if args.epoch_interruption {
                Instrumentation::EPOCH_INTERRUPTION
            } else {
                0
            } | if args.consume_fuel {
                Instrumentation::CONSUME_FUEL
            } else {
                0
            },
        ),
        ..CompileConfig::default()
    };
    let bar = (!args.quiet).then(progress::Bar::start);
    let report = |p: wasmo_compiler::Progress| {
        if let Some(bar) = &bar {
            bar.report(p);
        }
    };
    let session = Session {
        threads: args.jobs.map(usize::from),
        progress: Some(&report),
    };
    let artifact = wasmo_compiler::compile_with(&wasm, &config, &session);
    if let Some(bar) = bar {
        bar.finish();
    }
    let artifact = artifact.with_context(|| format!("cannot compile `{}`", name.display()))?;
    if is_stdio(&args.output) {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(&artifact)
            .and_then(|()| out.flush())
            .context("cannot write the artifact to stdout");
    }
    write_atomically(&args.output, &artifact)
}

/// Refuses an output that is the input file itself: the same path, another
/// spelling of it, a hard link or a symlink to it (same device and inode).
fn refuse_overwriting_input(input: &Path, output: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    if is_stdio(input) || is_stdio(output) {
        return Ok(());
    }
    let (Ok(i), Ok(o)) = (fs::metadata(input), fs::metadata(output)) else {
        return Ok(());
    };
    if (i.dev(), i.ino()) == (o.dev(), o.ino()) {
        bail!(
            "the output `{}` is the input file `{}`; writing the artifact would destroy the \
             source, so nothing was written (choose another -o path)",
            output.display(),
            input.display()
        );
    }
    Ok(())
}

/// Reads a module (`-`: stdin), telling binary from text by the `\0asm`
/// magic rather than by the file name; `name` is what messages call it.
fn read_module(path: &Path, name: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = if is_stdio(path) {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
            .context("cannot read the module from stdin")?;
        bytes
    } else {
        fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?
    };
    let path = name;
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
        anyhow::anyhow!(
            "cannot parse `{}` as WebAssembly text: {}",
            path.display(),
            shorten_excerpt(&e.to_string())
        )
    })
}

/// Characters of a source line shown on each side of the error column.
const EXCERPT_HALF: usize = 50;

/// The text parser's message quotes the whole source line and marks the
/// column with `^` on the line below; a minified module has megabyte
/// lines. Keeps about `2 * EXCERPT_HALF` characters around the column,
/// with `...` where it cut, and moves the marker to match.
fn shorten_excerpt(message: &str) -> String {
    const SEP: &str = " | ";
    let lines: Vec<&str> = message.lines().collect();
    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    for i in 0..lines.len().saturating_sub(1) {
        let (src, marker) = (lines[i], lines[i + 1]);
        let (Some(s), Some(m)) = (src.find(SEP), marker.find('|')) else {
            continue;
        };
        let Some(caret) = marker.find('^') else {
            continue;
        };
        // Columns count characters after `| `, as the parser wrote them.
        let col = marker[m + 1..caret].chars().count().saturating_sub(1);
        let text: Vec<char> = src[s + SEP.len()..].chars().collect();
        if text.len() <= 2 * EXCERPT_HALF {
            continue;
        }
        let start = col.saturating_sub(EXCERPT_HALF).min(text.len());
        let end = (col + EXCERPT_HALF).min(text.len());
        let lead = if start > 0 { "..." } else { "" };
        let tail = if end < text.len() { "..." } else { "" };
        let excerpt: String = text[start..end].iter().collect();
        out[i] = format!("{}{SEP}{lead}{excerpt}{tail}", &src[..s]);
        let pad = lead.len() + col - start;
        out[i + 1] = format!("{}| {:pad$}^", &marker[..m], "");
    }
    out.join("\n")
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
