//! `wasmo`: runs `.wasmo` artifacts (`wasmo exec`) and, through the separate
//! `wasmoc` binary, WebAssembly modules (`wasmo run`).
//!
//! Rule: this binary never links LLVM. It depends on the loader only;
//! `wasmo run` compiles by spawning `wasmoc` (found next to this executable,
//! then in `PATH`) into a temporary artifact and then runs that like
//! `wasmo exec`. Exit status: 0 on success, 1 on any error, 134 on a trap.

mod values;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{anyhow, bail, Context as _};
use clap::{Parser, Subcommand};
use wasmo_loader::{CallError, Func, Imports, Instance, InstantiationError, Module, Trap, Val};

/// Exit status for a wasm trap, as a shell reports SIGABRT (128 + 6).
const TRAP_EXIT: u8 = 134;

/// The wasmo WebAssembly runtime.
#[derive(Debug, Parser)]
#[command(name = "wasmo", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run a compiled .wasmo artifact.
    Exec(ExecArgs),
    /// Compile a .wasm or .wat module with wasmoc, then run it.
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
struct RunOptions {
    /// Call this exported function with ARGS and print its results, instead
    /// of running `_start` or `main`.
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,
}

#[derive(Debug, clap::Args)]
struct ExecArgs {
    #[command(flatten)]
    opts: RunOptions,
    /// The artifact to run.
    app: PathBuf,
    /// Arguments for the invoked function.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    opts: RunOptions,
    /// Optimisation level for wasmoc (0-3).
    #[arg(short = 'O', value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u8).range(0..=3))]
    opt_level: u8,
    /// CPU to compile for: an LLVM CPU name or `native`.
    #[arg(long, value_name = "NAME")]
    cpu: Option<String>,
    /// Bounds-check strategy for linear memory (guard-pages or explicit).
    #[arg(long, value_name = "STRATEGY")]
    bounds_checks: Option<String>,
    /// The module to compile and run (.wasm or .wat).
    input: PathBuf,
    /// Arguments for the invoked function.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// How a run ended, when not with success.
enum Failure {
    /// Any error before or around the call: exit status 1.
    Error(anyhow::Error),
    /// The wasm code trapped: exit status 134 with a backtrace.
    Trap(Trap),
    /// The program asked to exit with this status.
    Exit(i32),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Error(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Cmd::Exec(a) => exec(&a.app, &a.opts, &a.args),
        Cmd::Run(a) => run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Error(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
        Err(Failure::Trap(trap)) => {
            eprintln!("error: {trap}");
            print_backtrace(&trap);
            ExitCode::from(TRAP_EXIT)
        }
        Err(Failure::Exit(code)) => ExitCode::from(code.clamp(0, 255) as u8),
    }
}

/// One line per frame, innermost first (`  0: func[3] name`); a run of
/// identical frames (deep recursion) prints once with a count.
fn print_backtrace(trap: &Trap) {
    if trap.backtrace.is_empty() {
        return;
    }
    eprintln!("wasm backtrace:");
    let text = |f: &wasmo_loader::FrameInfo| {
        let name = match (&f.module_name, &f.func_name) {
            (Some(m), Some(n)) => format!(" {m}!{n}"),
            (None, Some(n)) => format!(" {n}"),
            _ => String::new(),
        };
        format!("func[{}]{name}", f.func_index)
    };
    let frames: Vec<String> = trap.backtrace.iter().map(text).collect();
    let mut i = 0;
    while i < frames.len() {
        eprintln!("  {i}: {}", frames[i]);
        let run = frames[i..].iter().take_while(|f| **f == frames[i]).count();
        if run > 2 {
            eprintln!("  ... the same frame {} more times", run - 1);
            i += run;
        } else {
            i += 1;
        }
    }
}

fn exec(app: &Path, opts: &RunOptions, args: &[String]) -> Result<(), Failure> {
    // Loader errors already name their causes; `{e}` only, so the
    // `{:#}` chain below does not repeat them.
    let module = Module::from_file(app).map_err(|e| anyhow!("{e}"))?;
    if let Some(import) = module.imports().first() {
        return Err(anyhow!(
            "unresolvable import `{}.{}`: wasmo provides no host functions yet",
            import.module,
            import.name
        )
        .into());
    }
    let instance = Instance::new(&module, &Imports::new()).map_err(|e| match e {
        InstantiationError::Trap(t) => Failure::Trap(t),
        other => Failure::Error(anyhow!("cannot instantiate the module: {other}")),
    })?;
    match &opts.invoke {
        Some(name) => invoke(&instance, name, args),
        None => run_entry(&instance, args),
    }
}

fn invoke(instance: &Instance, name: &str, args: &[String]) -> Result<(), Failure> {
    let Some(func) = instance.get_func(name) else {
        let funcs: Vec<String> = instance
            .exports()
            .into_iter()
            .filter(|(_, e)| matches!(e, wasmo_loader::Extern::Func(_)))
            .map(|(n, _)| format!("`{n}`"))
            .collect();
        let known = if funcs.is_empty() {
            "the module exports no functions".to_owned()
        } else {
            format!("exported functions: {}", funcs.join(", "))
        };
        return Err(anyhow!("no exported function `{name}` ({known})").into());
    };
    let ty = func.ty();
    if args.len() != ty.params.len() {
        let params: Vec<&str> = ty.params.iter().map(|t| t.name()).collect();
        return Err(anyhow!(
            "`{name}` takes {} argument{} ({}), got {}",
            ty.params.len(),
            if ty.params.len() == 1 { "" } else { "s" },
            params.join(", "),
            args.len()
        )
        .into());
    }
    let vals = args
        .iter()
        .zip(&ty.params)
        .enumerate()
        .map(|(i, (text, &t))| {
            values::parse_value(text, t)
                .map_err(|e| anyhow!("invalid argument for parameter {i} of `{name}`: {e}"))
        })
        .collect::<anyhow::Result<Vec<Val>>>()?;
    for v in call(&func, &vals)? {
        println!("{}", values::format_value(&v));
    }
    Ok(())
}

/// Runs `_start`, else a parameterless exported `main`.
fn run_entry(instance: &Instance, args: &[String]) -> Result<(), Failure> {
    let (name, func) = if let Some(f) = instance.get_func("_start") {
        ("_start", f)
    } else if let Some(f) = instance.get_func("main") {
        ("main", f)
    } else {
        return Err(
            anyhow!("the module exports neither `_start` nor `main`; use --invoke NAME").into(),
        );
    };
    let ty = func.ty();
    if !ty.params.is_empty() {
        return Err(anyhow!(
            "exported `{name}` takes parameters {ty}; only a parameterless entry point can be run \
             (`main(argc, argv)` needs WASI, which is not supported yet)"
        )
        .into());
    }
    if !args.is_empty() {
        return Err(anyhow!(
            "arguments were given but `{name}` takes none (WASI is not supported yet); \
             use --invoke NAME to pass arguments to a function"
        )
        .into());
    }
    call(&func, &[])?;
    Ok(())
}

fn call(func: &Func, args: &[Val]) -> Result<Vec<Val>, Failure> {
    func.call(args).map_err(|e| match e {
        CallError::Trap(t) => Failure::Trap(t),
        CallError::Exit(code) => Failure::Exit(code),
        other => Failure::Error(anyhow!("{other}")),
    })
}

fn run(a: &RunArgs) -> Result<(), Failure> {
    let wasmoc = find_wasmoc()?;
    let dir = tempfile::Builder::new()
        .prefix("wasmo-run-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let artifact = dir.path().join("app.wasmo");
    let mut cmd = Command::new(&wasmoc);
    cmd.arg("build").arg(format!("-O{}", a.opt_level));
    if let Some(cpu) = &a.cpu {
        cmd.arg("--cpu").arg(cpu);
    }
    if let Some(b) = &a.bounds_checks {
        cmd.arg("--bounds-checks").arg(b);
    }
    cmd.arg(&a.input).arg("-o").arg(&artifact);
    let status = cmd
        .status()
        .with_context(|| format!("cannot run `{}`", wasmoc.display()))?;
    if !status.success() {
        // wasmoc has already printed its `error: ...` line.
        return Err(Failure::Exit(1));
    }
    exec(&artifact, &a.opts, &a.args)
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
