//! Shared helpers for wasmo's integration tests: finding the `wasmo` and
//! `wasmoc` binaries, compiling text modules and loading artifacts.
//!
//! Rule: the tests exercise the same path users take (wasm bytes ->
//! `wasmo_compiler::compile` -> a file on disk -> `wasmo_loader::Module::from_file`),
//! never an in-memory shortcut the CLI does not have.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root (the directory above this crate).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// Path of a binary of this workspace (`wasmo`, `wasmoc`) built with the
/// same profile as the running test, freshly built.
///
/// The binaries belong to other packages, so `env!("CARGO_BIN_EXE_...")`
/// cannot name them: they are found beside the test executable's `deps`
/// directory. `cargo test --workspace` builds them before it runs any test;
/// so that `cargo test -p wasmo-tests` never runs stale binaries, the first
/// call also runs `cargo build --workspace --bins` for this profile and
/// target directory (a no-op when everything is fresh; cargo does not hold
/// its build lock while tests run).
///
/// `WASMO_TEST_BIN_DIR=dir` takes the binaries from `dir` instead and
/// builds nothing: that is how a regression test is shown to fail on an
/// older build.
pub fn bin_path(name: &str) -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("WASMO_TEST_BIN_DIR") {
        return Ok(Path::new(&dir).join(format!("{name}{}", std::env::consts::EXE_SUFFIX)));
    }
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find the test executable: {e}"))?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("unexpected test executable location {}", exe.display()))?;
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    BUILT.get_or_init(|| build_binaries(profile_dir)).clone()?;
    let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: build the binaries first (`cargo test --workspace` does, or \
             `cargo build -p wasmo-cli -p wasmoc`)",
            path.display()
        ))
    }
}

fn build_binaries(profile_dir: &Path) -> Result<(), String> {
    let Some(cargo) = std::env::var_os("CARGO").or_else(|| option_env!("CARGO").map(Into::into))
    else {
        return Ok(());
    };
    let Some(target_dir) = profile_dir.parent() else {
        return Ok(());
    };
    let mut cmd = Command::new(cargo);
    // `cargo test --workspace` builds the real binaries only because their
    // packages have integration tests; build them explicitly so a narrower
    // `cargo test -p wasmo-tests` works from a clean tree too.
    cmd.args([
        "build",
        "--workspace",
        "--bins",
        "--quiet",
        "--manifest-path",
    ])
    .arg(workspace_root().join("Cargo.toml"))
    .arg("--target-dir")
    .arg(target_dir);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.arg("--profile").arg(other);
        }
        None => return Ok(()),
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo to build the binaries: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "building the workspace (for wasmo and wasmoc) failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Text to wasm binary, panicking on a syntax error (test inputs are ours).
pub fn wat(text: &str) -> Vec<u8> {
    match wat::parse_str(text) {
        Ok(b) => b,
        Err(e) => panic!("test module does not parse: {e}"),
    }
}

/// The optimised LLVM IR (`chunk0.post.ll`) of `wasmoc build FLAGS` of
/// wat `text`, dumped through `WASMO_DUMP_LLVM`; panics on any failure.
/// For tests of what the optimiser made of a loop (vectorised or not):
/// small modules, one chunk.
pub fn optimised_ir(text: &str, flags: &[&str]) -> String {
    match ir_dumps(text, flags).remove("chunk0.post.ll") {
        Some(ir) => ir,
        None => panic!("no chunk0.post.ll in the IR dump"),
    }
}

/// Every file `WASMO_DUMP_LLVM` writes for `wasmoc build FLAGS` of wat
/// `text` (`chunkN.pre.ll`, `chunkN.post.ll`, ...), by name; panics on any
/// failure.
pub fn ir_dumps(text: &str, flags: &[&str]) -> std::collections::BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let dumps = dir.path().join("ir");
    std::fs::create_dir(&dumps).unwrap_or_else(|e| panic!("creating the dump directory: {e}"));
    let wat = dir.path().join("app.wat");
    std::fs::write(&wat, text).unwrap_or_else(|e| panic!("writing app.wat: {e}"));
    let out = Command::new(bin_path("wasmoc").unwrap_or_else(|e| panic!("{e}")))
        .arg("build")
        .args(flags)
        .arg(&wat)
        .arg("-o")
        .arg(dir.path().join("app.wasmo"))
        .env("WASMO_DUMP_LLVM", &dumps)
        .output()
        .unwrap_or_else(|e| panic!("running wasmoc: {e}"));
    assert!(
        out.status.success(),
        "wasmoc build {flags:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_dir(&dumps)
        .unwrap_or_else(|e| panic!("listing the IR dump: {e}"))
        .map(|entry| {
            let path = entry
                .unwrap_or_else(|e| panic!("listing the IR dump: {e}"))
                .path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let ir = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            (name, ir)
        })
        .collect()
}

/// The artifact's bytes at a 16-byte aligned address, as `ArtifactRef`
/// needs: the buffer and the offset in it where they start.
pub fn aligned(bytes: &[u8]) -> (Vec<u8>, usize) {
    let mut buf = vec![0u8; bytes.len() + 16];
    let at = buf.as_ptr().align_offset(16);
    buf[at..at + bytes.len()].copy_from_slice(bytes);
    (buf, at)
}

/// The machine code of defined function `def` in the artifact of wat
/// `text` compiled with `config`: for tests of what instruction selection
/// made of a pattern. Panics on any failure (test inputs are ours).
pub fn function_code(text: &str, config: &wasmo_compiler::CompileConfig, def: usize) -> Vec<u8> {
    let bytes = match wasmo_compiler::compile(&wat(text), config) {
        Ok(a) => a,
        Err(e) => panic!("compile failed: {e}"),
    };
    // The metadata is read in place, which needs 16-byte alignment.
    let (buf, at) = aligned(&bytes);
    let art = match wasmo_artifact_format::ArtifactRef::parse(&buf[at..at + bytes.len()]) {
        Ok(a) => a,
        Err(e) => panic!("parse: {e}"),
    };
    let f = match art.metadata.defined_funcs.get(def) {
        Some(f) => f,
        None => panic!("no defined function {def}"),
    };
    let start = f.offset.to_native() as usize;
    art.image()[start..start + f.len.to_native() as usize].to_vec()
}

/// `fib.wat` from `examples/`.
pub fn example(name: &str) -> PathBuf {
    workspace_root().join("examples").join(name)
}

/// A loaded module and the temporary directory its artifact lives in.
#[derive(Debug)]
pub struct Compiled {
    /// The module, loaded from the artifact file.
    pub module: wasmo_loader::Module,
    _dir: tempfile::TempDir,
}

/// Compiles wat `text` with `bounds_checks`, writes the artifact to a
/// temporary file and loads it, as `wasmoc build` + `wasmo exec` would;
/// panics on any failure (test inputs are ours).
pub fn load(text: &str, bounds_checks: wasmo_artifact_format::BoundsChecks) -> Compiled {
    let config = wasmo_compiler::CompileConfig {
        bounds_checks,
        ..wasmo_compiler::CompileConfig::default()
    };
    load_with(text, &config)
}

/// [`load`] with any compile configuration.
pub fn load_with(text: &str, config: &wasmo_compiler::CompileConfig) -> Compiled {
    let bytes = match wasmo_compiler::compile(&wat(text), config) {
        Ok(a) => a,
        Err(e) => panic!("compile failed: {e}"),
    };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let path = dir.path().join("module.wasmo");
    if let Err(e) = std::fs::write(&path, bytes) {
        panic!("writing the artifact: {e}");
    }
    match wasmo_loader::Module::from_file(&path) {
        Ok(module) => Compiled { module, _dir: dir },
        Err(e) => panic!("loading the artifact: {e}"),
    }
}

/// Calls `f` with `args` and returns its results (as many as its type
/// has).
pub fn call(
    mut store: impl wasmo_loader::AsContextMut,
    f: wasmo_loader::Func,
    args: &[wasmo_loader::Val],
) -> Result<Vec<wasmo_loader::Val>, wasmo_loader::CallError> {
    let mut results: Vec<wasmo_loader::Val> = f
        .ty(&store)
        .results
        .iter()
        .map(|&t| wasmo_loader::Val::default_for(t))
        .collect();
    f.call(&mut store, args, &mut results)?;
    Ok(results)
}

/// Instantiates `module` in `store` with `imports`; panics (a test
/// failure) if that fails.
pub fn instantiate<T>(
    store: &mut wasmo_loader::Store<T>,
    module: &wasmo_loader::Module,
    imports: &wasmo_loader::Imports,
) -> wasmo_loader::Instance {
    match wasmo_loader::Instance::new(store, module, imports) {
        Ok(i) => i,
        Err(e) => panic!("instantiation failed: {e}"),
    }
}

/// Calls `instance`'s exported function `name` (which must exist) with
/// `args`, as [`call`].
pub fn call_export<T>(
    store: &mut wasmo_loader::Store<T>,
    instance: &wasmo_loader::Instance,
    name: &str,
    args: &[wasmo_loader::Val],
) -> Result<Vec<wasmo_loader::Val>, wasmo_loader::CallError> {
    let Some(f) = instance.get_func(&*store, name) else {
        panic!("no export `{name}`")
    };
    call(store, f, args)
}

/// [`call_export`] that must succeed; panics (a test failure) if not.
pub fn expect_export<T>(
    store: &mut wasmo_loader::Store<T>,
    instance: &wasmo_loader::Instance,
    name: &str,
    args: &[wasmo_loader::Val],
) -> Vec<wasmo_loader::Val> {
    match call_export(store, instance, name, args) {
        Ok(v) => v,
        Err(e) => panic!("`{name}{args:?}` failed: {e}"),
    }
}

/// [`call_export`] that must trap: the trap; panics (a test failure) if
/// the call returns or fails otherwise.
pub fn expect_trap<T>(
    store: &mut wasmo_loader::Store<T>,
    instance: &wasmo_loader::Instance,
    name: &str,
    args: &[wasmo_loader::Val],
) -> wasmo_loader::Trap {
    match call_export(store, instance, name, args) {
        Err(wasmo_loader::CallError::Trap(t)) => t,
        Err(e) => panic!("`{name}{args:?}` failed without a trap: {e}"),
        Ok(v) => panic!("`{name}{args:?}` returned {v:?} instead of trapping"),
    }
}

/// The names of a trap's frames, innermost first (`<func N>` for a
/// function without a name).
pub fn frame_names(trap: &wasmo_loader::Trap) -> Vec<String> {
    trap.backtrace
        .iter()
        .map(|f| match &f.func_name {
            Some(n) => n.clone(),
            None => format!("<func {}>", f.func_index),
        })
        .collect()
}
