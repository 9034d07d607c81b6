//! `wasmo`: runs `.wasmo` artifacts (`wasmo exec`) and, through the separate
//! `wasmoc` binary, WebAssembly modules (`wasmo run`).
//!
//! Modules importing `wasi_snapshot_preview1` get WASI (`wasmo-wasi`) with
//! the preopens and environment given by `--dir`, `--dir-ro` and `--env`;
//! with `-S threads`, modules importing `wasi.thread-spawn` get
//! wasi-threads (`wasmo_wasi::threads`), one OS thread and store per
//! spawned thread.
//!
//! Rule: this binary never links LLVM. It depends on the loader only;
//! `wasmo run` compiles by spawning `wasmoc` (found next to this executable,
//! then in `PATH`) into the compile cache (`cache.rs`) and runs the cached
//! artifact like `wasmo exec`; a cache hit spawns nothing. Exit status: the
//! program's `proc_exit` code (0 when it returns), 1 on any error of wasmo's
//! own, 134 on a trap.

mod args;
mod cache;
mod compile;
mod emscripten;
mod script;
mod values;
mod wasmtime_opts;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context as _};
use clap::{Parser, Subcommand};
use wasmo_artifact_format::Instrumentation;
use wasmo_loader::StoreLimits;
use wasmo_loader::{
    CallError, Exception, Extern, Func, HostError, Imports, Instance, InstantiationError, Module,
    Store, Trap, Val,
};
use wasmo_wasi::{Preopen, WasiConfig, WasiCtx};

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
    /// Compile a module into an artifact: `wasmoc build` under another
    /// name (`wasmo compile --help` shows its options).
    #[command(disable_help_flag = true)]
    Compile {
        /// Arguments for `wasmoc build`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

#[derive(Debug, clap::Args)]
struct RunOptions {
    /// Call this exported function with ARGS and print its results, instead
    /// of running `_start` or `main`.
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,
    /// Wasmtime's wasm options, e.g. `-W unknown-imports-trap,max-wasm-stack=N`
    /// (`-W help` lists them).
    #[arg(short = 'W', long = "wasm", value_name = "KEY[=VAL[,..]]")]
    wasm: Vec<String>,
    /// The program's `argv[0]` (default: the module path as given).
    #[arg(long, value_name = "NAME")]
    argv0: Option<String>,
    /// Instantiate MODULE first and link its exports under the import
    /// module name NAME (an artifact for `exec`, a module for `run`).
    #[arg(long = "preload", value_name = "NAME=MODULE")]
    preloads: Vec<String>,
}

/// What a WASI program sees of the host (ignored by modules that do not
/// import `wasi_snapshot_preview1`).
#[derive(Debug, clap::Args)]
struct WasiArgs {
    /// Give the program the host directory HOST, read-write, under the name
    /// GUEST (default: HOST itself).
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,
    /// Like --dir, but the program may only read.
    #[arg(long = "dir-ro", value_name = "HOST[::GUEST]")]
    dirs_ro: Vec<String>,
    /// Set an environment variable for the program, or with NAME alone pass
    /// the host's value through (nothing else of the host environment is
    /// visible).
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    env: Vec<String>,
    /// Wasmtime's WASI options, e.g. `-S inherit-env` (`-S help` lists them).
    #[arg(short = 'S', long = "wasi", value_name = "KEY[=VAL[,..]]")]
    wasi: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct ExecArgs {
    #[command(flatten)]
    opts: RunOptions,
    #[command(flatten)]
    wasi: WasiArgs,
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
    #[command(flatten)]
    wasi: WasiArgs,
    /// Compile cache directory (default: $WASMO_CACHE_DIR, else
    /// $XDG_CACHE_HOME/wasmo, else ~/.cache/wasmo).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile into a temporary directory, neither reading nor writing the
    /// cache.
    #[arg(long)]
    no_cache: bool,
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
    /// The module to compile and run (.wasm or .wat), or a .wast script
    /// to run the modules and assertions of.
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
    /// A wasm exception no wasm frame caught (its description and the
    /// frames it was thrown from): exit status 134 with the backtrace, as
    /// a native C++ program's uncaught exception (`std::terminate`, abort).
    Exception(String, Vec<wasmo_loader::FrameInfo>),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Error(e)
    }
}

fn main() -> ExitCode {
    let cli: Cli = match args::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = match &cli.command {
        Cmd::Exec(a) => Options::parse(&a.opts, &a.wasi).and_then(|o| {
            let Some(o) = o else { return Ok(()) };
            let preloads = load_preloads(&o, load_artifact)?;
            load_artifact(&a.app).and_then(|m| exec(&m, &a.app, &o, &preloads, &a.args))
        }),
        Cmd::Run(a) => run(a),
        Cmd::Compile { args } => compile::compile_alias(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => ExitCode::from(report(failure)),
    }
}

/// Prints what ended the run, if anything is to be said, and answers the
/// process's exit status.
fn report(failure: Failure) -> u8 {
    match failure {
        Failure::Error(e) => {
            eprintln!("error: {e:#}");
            1
        }
        Failure::Trap(trap) => {
            eprintln!("error: {trap}");
            print_backtrace(&trap.backtrace);
            TRAP_EXIT
        }
        Failure::Exception(message, backtrace) => {
            eprintln!("error: {message}");
            print_backtrace(&backtrace);
            TRAP_EXIT
        }
        // As a native process's exit(): the status is the low 8 bits.
        Failure::Exit(code) => code.to_le_bytes()[0],
    }
}

/// One line per frame, innermost first (`  0: func[3] name`); a run of
/// identical frames (deep recursion) prints once with a count.
fn print_backtrace(backtrace: &[wasmo_loader::FrameInfo]) {
    if backtrace.is_empty() {
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
    let frames: Vec<String> = backtrace.iter().map(text).collect();
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

/// The options of `exec` and `run` once `-W` and `-S` are parsed.
struct Options<'a> {
    run: &'a RunOptions,
    wasi: &'a WasiArgs,
    wasm_opts: wasmtime_opts::WasmOptions,
    wasi_opts: wasmtime_opts::WasiOptions,
}

impl<'a> Options<'a> {
    /// Parses `-W` and `-S`; `None` when one of them asked for help, which
    /// is then printed.
    fn parse(run: &'a RunOptions, wasi: &'a WasiArgs) -> Result<Option<Self>, Failure> {
        use wasmtime_opts::Parsed;
        let wasm_opts = match wasmtime_opts::parse_wasm(&run.wasm).map_err(anyhow::Error::from)? {
            Parsed::Options(o) => o,
            Parsed::Help(h) => {
                print!("{h}");
                return Ok(None);
            }
        };
        let wasi_opts = match wasmtime_opts::parse_wasi(&wasi.wasi).map_err(anyhow::Error::from)? {
            Parsed::Options(o) => o,
            Parsed::Help(h) => {
                print!("{h}");
                return Ok(None);
            }
        };
        Ok(Some(Options {
            run,
            wasi,
            wasm_opts,
            wasi_opts,
        }))
    }
}

/// The checks `-W` options need compiled in: `timeout` needs
/// interruption checks, `fuel` fuel counting. `wasmo run` compiles with
/// them; `wasmo exec` refuses an artifact built without them.
fn instrumentation_for(o: &wasmtime_opts::WasmOptions) -> Instrumentation {
    let mut bits = 0;
    if o.timeout.is_some() {
        bits |= Instrumentation::EPOCH_INTERRUPTION;
    }
    if o.fuel.is_some() {
        bits |= Instrumentation::CONSUME_FUEL;
    }
    Instrumentation(bits)
}

/// Refuses `module` (at `path`) when it lacks a check a `-W` option needs,
/// naming the `wasmoc` flag to rebuild it with.
fn check_instrumentation(
    module: &Module,
    path: &Path,
    o: &wasmtime_opts::WasmOptions,
) -> anyhow::Result<()> {
    let has = module.header().instrumentation;
    let missing = [
        (
            "timeout",
            o.timeout.is_some() && !has.epoch_interruption(),
            "--epoch-interruption",
        ),
        (
            "fuel",
            o.fuel.is_some() && !has.consume_fuel(),
            "--consume-fuel",
        ),
    ];
    match missing.iter().find(|(_, lacks, _)| *lacks) {
        Some((key, _, flag)) => Err(anyhow!(
            "-W {key} needs an artifact built with `wasmoc build {flag}`, and `{}` was built without it; rebuild it with that flag (`wasmo run` does so itself)",
            path.display()
        )),
        None => Ok(()),
    }
}

/// Applies the per-store limits of `-W` to `store`, and starts the
/// `timeout` timer: a thread that interrupts the store's wasm when the
/// time is up, unless the returned guard is dropped first.
fn apply_limits(
    store: &mut Store<WasiCtx>,
    o: &wasmtime_opts::WasmOptions,
) -> Option<std::sync::mpsc::Sender<()>> {
    if let Some(bytes) = o.max_wasm_stack {
        store.set_wasm_stack_size(bytes);
    }
    store.set_limits(StoreLimits {
        max_memory_size: o.max_memory_size.map(|b| b as u64),
        max_table_elements: o.max_table_elements,
        max_memories: o.max_memories,
        max_tables: o.max_tables,
        max_instances: o.max_instances,
    });
    if let Some(fuel) = o.fuel {
        store.set_fuel(fuel);
    }
    let timeout = o.timeout?;
    let handle = store.interrupt_handle();
    let (done, wait) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(timeout) {
            handle.interrupt();
        }
    });
    Some(done)
}

/// Fills every function import nobody provides as `-W unknown-imports-trap`
/// or `-W unknown-imports-default` asks (the first wins when both are
/// given, as in wasmtime); other unknown imports stay unknown.
fn define_unknown_imports(
    store: &mut Store<WasiCtx>,
    imports: &mut Imports,
    module: &Module,
    o: &wasmtime_opts::WasmOptions,
) {
    if !o.unknown_imports_trap && !o.unknown_imports_default {
        return;
    }
    for import in module.imports() {
        let wasmo_loader::ExternType::Func(ty) = &import.ty else {
            continue;
        };
        if imports.get(&import.module, &import.name).is_some() {
            continue;
        }
        let func = if o.unknown_imports_trap {
            let msg = format!(
                "unknown import: `{}::{}` has not been defined",
                import.module, import.name
            );
            Func::new(&mut *store, ty.clone(), move |_, _, _| {
                Err(HostError::Message(msg.clone()))
            })
        } else {
            let result_types = ty.results.clone();
            Func::new(&mut *store, ty.clone(), move |_, _, results| {
                for (r, &t) in results.iter_mut().zip(&result_types) {
                    *r = Val::default_for(t);
                }
                Ok(())
            })
        };
        imports.define(&import.module, &import.name, Extern::Func(func));
    }
}

/// Instantiates `module` (with WASI when it or a preloaded module imports
/// it, and the exports of the `--preload` modules under their names) and
/// runs it: `_initialize` first when it exports one (a reactor, as
/// `wasmtime run` does), then `--invoke`'s function or the entry point.
/// `app` is the path given on the command line, the program's `argv[0]`
/// unless `--argv0` says otherwise.
fn exec(
    module: &Module,
    app: &Path,
    o: &Options<'_>,
    preloads: &[(String, Module)],
    args: &[String],
) -> Result<(), Failure> {
    check_instrumentation(module, app, &o.wasm_opts)?;
    for (name, preload) in preloads {
        check_instrumentation(preload, Path::new(name), &o.wasm_opts)?;
    }
    let mut imports = Imports::new();
    let imports_wasi = |m: &Module| m.imports().iter().any(|i| i.module == wasmo_wasi::MODULE);
    let is_emscripten = emscripten::is_emscripten(module);
    let emscripten_env = emscripten::wants_env(module);
    let uses_wasi =
        emscripten_env || imports_wasi(module) || preloads.iter().any(|(_, m)| imports_wasi(m));
    // The store's data is the WASI context (an empty one, never reached,
    // when no module imports WASI or every thread shares one).
    let mut store = if o.wasi_opts.threads && spawns_threads(module) {
        let ctx = std::sync::Arc::new(std::sync::Mutex::new(wasi_ctx(app, o, args)?));
        let mut store = Store::new(WasiCtx::default());
        with_threads(module, ctx, &o.wasm_opts)?.add_to_imports(&mut store, &mut imports);
        store
    } else if uses_wasi {
        let mut store = Store::new(wasi_ctx(app, o, args)?);
        wasmo_wasi::add_to_imports(&mut store, &mut imports, |ctx| ctx);
        if emscripten_env {
            wasmo_wasi::emscripten::add_to_imports(&mut store, &mut imports, module, |ctx| ctx);
        }
        if is_emscripten {
            wasmo_wasi::emscripten::add_legalized_wasi(&mut store, &mut imports, module, |ctx| ctx);
        }
        store
    } else {
        Store::new(WasiCtx::new(WasiConfig::default()).map_err(anyhow::Error::from)?)
    };
    // Dropped when this returns, which stops the timer.
    let _timer = apply_limits(&mut store, &o.wasm_opts);
    for (name, preload) in preloads {
        let instance = instantiate(&mut store, &mut imports, preload, o)?;
        for (export, ext) in instance.exports(&store) {
            imports.define(name, &export, ext);
        }
    }
    let instance = instantiate(&mut store, &mut imports, module, o)?;
    match &o.run.invoke {
        Some(name) => invoke(&mut store, &instance, name, args),
        None if is_emscripten => {
            let argv: Vec<String> = std::iter::once(argv0(app, o))
                .chain(args.iter().cloned())
                .collect();
            emscripten::run(&mut store, &instance, &argv)
        }
        None => run_entry(&mut store, &instance, imports_wasi(module), args),
    }
}

/// Whether `module` imports `wasi.thread-spawn` (wasi-threads).
fn spawns_threads(module: &Module) -> bool {
    module
        .imports()
        .iter()
        .any(|i| i.module == wasmo_wasi::threads::MODULE && i.name == wasmo_wasi::threads::SPAWN)
}

/// wasi-threads for `module` (`-S threads`): every spawned thread gets a
/// store with the limits of `-W` (but `timeout`, which interrupts the main
/// thread only) and shares the WASI context `ctx`; a thread that traps,
/// exits or cannot start ends the process as the main thread would
/// (`wasmtime run` does the same).
fn with_threads(
    module: &Module,
    ctx: std::sync::Arc<std::sync::Mutex<WasiCtx>>,
    wasm_opts: &wasmtime_opts::WasmOptions,
) -> Result<std::sync::Arc<wasmo_wasi::threads::WasiThreads<WasiCtx>>, Failure> {
    use wasmo_wasi::threads::{ThreadFailure, WasiThreads};
    let opts = wasmtime_opts::WasmOptions {
        timeout: None,
        ..wasm_opts.clone()
    };
    let new_store = move || {
        let mut store = Store::new(WasiCtx::default());
        apply_limits(&mut store, &opts);
        store
    };
    let on_failure = |tid: u32, failure: ThreadFailure| {
        let failure = match failure {
            ThreadFailure::Call(CallError::Trap(t))
            | ThreadFailure::Instantiate(InstantiationError::Trap(t)) => Failure::Trap(t),
            ThreadFailure::Call(CallError::Exit(code)) => Failure::Exit(code),
            ThreadFailure::Call(e) => Failure::Error(anyhow!("wasi thread {tid}: {e}")),
            ThreadFailure::Instantiate(e) => Failure::Error(anyhow!(
                "wasi thread {tid}: cannot instantiate the module: {e}"
            )),
            ThreadFailure::NoStart => Failure::Error(anyhow!(
                "wasi thread {tid}: the module exports no `{}` of type [i32 i32] -> []",
                wasmo_wasi::threads::START
            )),
        };
        std::process::exit(i32::from(report(failure)));
    };
    Ok(WasiThreads::new(module, ctx, new_store, on_failure).map_err(anyhow::Error::from)?)
}

/// Instantiates `module` against `imports` (plus whatever `-W
/// unknown-imports-*` fills in) and runs its `_initialize` if it exports
/// one.
fn instantiate(
    store: &mut Store<WasiCtx>,
    imports: &mut Imports,
    module: &Module,
    o: &Options<'_>,
) -> Result<Instance, Failure> {
    define_unknown_imports(store, imports, module, &o.wasm_opts);
    if let Some(import) = module
        .imports()
        .iter()
        .find(|i| imports.get(&i.module, &i.name).is_none())
    {
        if import.module == wasmo_wasi::threads::MODULE && import.name == wasmo_wasi::threads::SPAWN
        {
            return Err(anyhow!(
                "unresolvable import `{}.{}`: wasi-threads needs `-S threads`",
                import.module,
                import.name
            )
            .into());
        }
        let provided = if emscripten::wants_env(module) {
            format!("`{}`, Emscripten's `env` functions", wasmo_wasi::MODULE)
        } else {
            format!("`{}`", wasmo_wasi::MODULE)
        };
        return Err(anyhow!(
            "unresolvable import `{}.{}`: wasmo provides only {provided} and the `--preload` \
             modules (-W unknown-imports-trap or -W unknown-imports-default stub unknown \
             functions)",
            import.module,
            import.name,
        )
        .into());
    }
    let instance = Instance::new(&mut *store, module, imports).map_err(|e| match e {
        InstantiationError::Trap(t) => Failure::Trap(t),
        other => Failure::Error(anyhow!("cannot instantiate the module: {other}")),
    })?;
    if let Some(init) = instance.get_func(&*store, "_initialize") {
        let ty = init.ty(&*store);
        if !ty.params.is_empty() || !ty.results.is_empty() {
            return Err(anyhow!("exported `_initialize` has type {ty}, expected [] -> []").into());
        }
        call(store, &instance, &init, &[], &mut [])?;
    }
    Ok(instance)
}

/// The `--preload NAME=MODULE` modules, in order, each loaded by `load`.
fn load_preloads(
    o: &Options<'_>,
    load: impl Fn(&Path) -> Result<Module, Failure>,
) -> Result<Vec<(String, Module)>, Failure> {
    let mut preloads = Vec::new();
    for spec in &o.run.preloads {
        match spec.split_once('=') {
            Some((name, path)) if !name.is_empty() && !path.is_empty() => {
                preloads.push((name.to_owned(), load(Path::new(path))?));
            }
            _ => return Err(anyhow!("invalid --preload `{spec}`: expected NAME=MODULE").into()),
        }
    }
    Ok(preloads)
}

fn wasi_ctx(app: &Path, o: &Options<'_>, args: &[String]) -> anyhow::Result<WasiCtx> {
    let wasi = o.wasi;
    let mut preopens: Vec<Preopen> = wasi.dirs.iter().map(|d| Preopen::parse(d)).collect();
    preopens.extend(wasi.dirs_ro.iter().map(|d| Preopen {
        read_only: true,
        ..Preopen::parse(d)
    }));
    let mut env: Vec<(String, std::ffi::OsString)> = Vec::new();
    if o.wasi_opts.inherit_env {
        // A variable whose name is not UTF-8 cannot be named by a WASI
        // program's `getenv` either; it is left out.
        env.extend(std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))));
    }
    for spec in &wasi.env {
        if let Some((key, value)) = wasmo_wasi::parse_env(spec)? {
            // `--env` overrides an inherited (or earlier) value.
            env.retain(|(k, _)| *k != key);
            env.push((key, value));
        }
    }
    let cfg = WasiConfig {
        args: std::iter::once(argv0(app, o))
            .chain(args.iter().cloned())
            .collect(),
        env,
        preopens,
    };
    Ok(WasiCtx::new(cfg)?)
}

/// The program's `argv[0]`: `--argv0`, else the path given.
fn argv0(app: &Path, o: &Options<'_>) -> String {
    match &o.run.argv0 {
        Some(name) => name.clone(),
        None => app.to_string_lossy().into_owned(),
    }
}

fn invoke(
    store: &mut Store<WasiCtx>,
    instance: &Instance,
    name: &str,
    args: &[String],
) -> Result<(), Failure> {
    let Some(func) = instance.get_func(&*store, name) else {
        let funcs: Vec<String> = instance
            .exports(&*store)
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
    let ty = func.ty(&*store);
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
    let mut results: Vec<Val> = ty.results.iter().map(|&t| Val::default_for(t)).collect();
    call(store, instance, &func, &vals, &mut results)?;
    let mut out = std::io::stdout().lock();
    for v in results {
        match writeln!(out, "{}", values::format_value(&v)) {
            // A closed pipe (`| head -1`) ends the output quietly.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            r => r.context("cannot write the results")?,
        }
    }
    Ok(())
}

/// Runs `_start`, else a parameterless exported `main`. A WASI program gets
/// `args` through WASI; any other entry point takes none.
fn run_entry(
    store: &mut Store<WasiCtx>,
    instance: &Instance,
    uses_wasi: bool,
    args: &[String],
) -> Result<(), Failure> {
    let (name, func) = if let Some(f) = instance.get_func(&*store, "_start") {
        ("_start", f)
    } else if let Some(f) = instance.get_func(&*store, "main") {
        ("main", f)
    } else {
        return Err(
            anyhow!("the module exports neither `_start` nor `main`; use --invoke NAME").into(),
        );
    };
    let ty = func.ty(&*store);
    if !ty.params.is_empty() {
        return Err(anyhow!(
            "exported `{name}` takes parameters {ty}; only a parameterless entry point can be run \
             (for `main(argc, argv)`, build the program for WASI)"
        )
        .into());
    }
    if !args.is_empty() && !uses_wasi {
        return Err(anyhow!(
            "arguments were given but `{name}` takes none and the module does not import WASI; \
             use --invoke NAME to pass arguments to a function"
        )
        .into());
    }
    let mut results: Vec<Val> = ty.results.iter().map(|&t| Val::default_for(t)).collect();
    call(store, instance, &func, &[], &mut results)?;
    Ok(())
}

fn call(
    store: &mut Store<WasiCtx>,
    instance: &Instance,
    func: &Func,
    args: &[Val],
    results: &mut [Val],
) -> Result<(), Failure> {
    func.call(&mut *store, args, results).map_err(|e| match e {
        CallError::Trap(t) => Failure::Trap(t),
        CallError::Exit(code) => Failure::Exit(code),
        CallError::Exception(exn) => Failure::Exception(
            describe_exception(store, instance, exn),
            exn.backtrace(&*store),
        ),
        other => Failure::Error(anyhow!("{other}")),
    })
}

/// `uncaught wasm exception`, with the tag's export name when the
/// instance exports it, and the payload.
fn describe_exception(store: &Store<WasiCtx>, instance: &Instance, exn: Exception) -> String {
    let tag = exn.tag(store);
    let name = instance
        .exports(store)
        .into_iter()
        .find(|(_, ext)| matches!(ext, Extern::Tag(t) if *t == tag))
        .map(|(name, _)| format!(" (tag `{name}`)"))
        .unwrap_or_default();
    let payload: Vec<String> = exn
        .payload(store)
        .iter()
        .map(values::format_value)
        .collect();
    format!(
        "uncaught wasm exception{name}, payload [{}]",
        payload.join(", ")
    )
}

fn run(a: &RunArgs) -> Result<(), Failure> {
    if script::is_script(&a.input) {
        return script::run(a);
    }
    let Some(o) = Options::parse(&a.opts, &a.wasi)? else {
        return Ok(());
    };
    let instr = instrumentation_for(&o.wasm_opts);
    let preloads = load_preloads(&o, |path| cache::module_for(a, path, instr))?;
    let module = cache::module_for(a, &a.input, instr)?;
    exec(&module, &a.input, &o, &preloads, &a.args)
}

/// `wasmo exec`'s artifact; a directory is named as such (mapping one
/// fails with the puzzling "No such device").
fn load_artifact(path: &Path) -> Result<Module, Failure> {
    if path.is_dir() {
        return Err(anyhow!("`{}` is a directory, not an artifact", path.display()).into());
    }
    Module::from_file(path).map_err(|e| Failure::Error(anyhow!("{e}")))
}
