//! `wasmo run script.wast`: runs a `.wast` script's modules, commands and
//! assertions with the interpreter the spec test suite uses
//! (`wasmo-wast`), compiling each module with `wasmoc` (`-O`, `--cpu` and
//! `--bounds-checks` apply). Each failed directive is reported on stderr
//! with its line, the summary goes to stdout, and the exit status is 0 only
//! when every directive did what the script says.
//!
//! Rule: a failure never stops the script (a failed module makes the
//! directives that use it fail with its reason), so one run lists every
//! failure; modules are compiled past the compile cache, since a script's
//! modules are many, small and rarely run again.

use std::path::Path;

use anyhow::{anyhow, Context as _};
use wasmo_wast::{with_directives, Compile, CompileFailure, Directive, Runner};

use crate::{Failure, RunArgs};

/// Whether `wasmo run` is given a script rather than a module.
pub fn is_script(input: &Path) -> bool {
    input.extension().is_some_and(|e| e == "wast")
}

/// Runs the script `a.input`.
pub fn run(a: &RunArgs) -> Result<(), Failure> {
    let path = &a.input;
    let unused = [
        ("--invoke", a.opts.invoke.is_some()),
        ("arguments", !a.args.is_empty()),
        ("--preload", !a.opts.preloads.is_empty()),
        ("-W", !a.opts.wasm.is_empty()),
        ("--argv0", a.opts.argv0.is_some()),
        ("-S", !a.wasi.wasi.is_empty()),
        (
            "--dir",
            !a.wasi.dirs.is_empty() || !a.wasi.dirs_ro.is_empty(),
        ),
        ("--env", !a.wasi.env.is_empty()),
    ];
    if let Some((what, _)) = unused.iter().find(|(_, given)| *given) {
        return Err(anyhow!(
            "{what} cannot be used with a .wast script `{}`: the script says what to run",
            path.display()
        )
        .into());
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let compiler = Wasmoc { args: a };
    let (passed, failed) = with_directives(&text, |directives| {
        let mut runner = Runner::new(compiler, dir.path().to_path_buf());
        let (mut passed, mut failed) = (0usize, 0usize);
        for Directive {
            line,
            kind,
            directive,
        } in directives
        {
            match runner.directive(directive) {
                Ok(()) => passed += 1,
                Err(why) => {
                    failed += 1;
                    eprintln!("{}:{line}: {kind} failed: {why}", path.display());
                }
            }
        }
        (passed, failed)
    })
    .map_err(|e| anyhow!("`{}`: {e}", path.display()))?;
    println!("{}: {passed} passed, {failed} failed", path.display());
    if failed == 0 {
        Ok(())
    } else {
        Err(Failure::Exit(1))
    }
}

/// Compiles with `wasmoc`, as `wasmo run` does a module.
struct Wasmoc<'a> {
    args: &'a RunArgs,
}

impl Compile for Wasmoc<'_> {
    fn compile(&mut self, wasm: &[u8]) -> Result<Vec<u8>, CompileFailure> {
        crate::compile::compile_quietly(self.args, &self.args.input, wasm)
    }
}
