//! One case of each kind, as run inside the child process: what it
//! writes into its work directory, what it prints (one `stats` line), and
//! its exit status (0: nothing found, [`FOUND`]: a finding described in
//! `outcome.txt`).
//!
//! Rule: inputs are written before anything runs them, so that a crash
//! still leaves its reproducer behind.

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use wasmo_compiler::OptLevel;

use crate::diff::{self, compile_config, Plan};
use crate::gen::{self, Rng};
use crate::mutate::{self, Hostility};

/// Exit status of a case that found something (see `outcome.txt`).
pub const FOUND: i32 = 2;

/// The kinds of case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A generated module under wasmo and wasmi.
    Diff,
    /// A mutated module compiled by `wasmoc`.
    Compile,
    /// A mutated artifact loaded and run by the loader.
    Artifact,
}

impl Kind {
    /// Every kind, in the order the driver runs them per seed.
    pub const ALL: [Kind; 3] = [Kind::Diff, Kind::Compile, Kind::Artifact];

    /// Its name on the command line and in `kind` files.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Diff => "diff",
            Kind::Compile => "compile",
            Kind::Artifact => "artifact",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s.trim())
    }
}

/// Defines [`Stats`] from one list of counters, each with its doc and the
/// words the summary prints after it.
macro_rules! stats {
    ($($(#[doc = $doc:literal])* $field:ident, $label:literal;)*) => {
        /// Counters a case reports on its `stats` line; the driver adds
        /// them up.
        #[derive(Debug, Default, Clone, Copy)]
        pub struct Stats {
            $($(#[doc = $doc])* pub $field: u64,)*
        }

        const LABELS: &[&str] = &[$($label),*];

        impl Stats {
            fn fields(&self) -> Vec<u64> {
                vec![$(self.$field),*]
            }

            fn from_fields(f: &[u64]) -> Stats {
                let mut it = f.iter().copied();
                Stats { $($field: it.next().unwrap_or(0),)* }
            }
        }
    };
}

stats! {
    /// Modules generated (or read).
    modules, "modules";
    /// Module compilations by wasmo.
    compiles, "compiles";
    /// Compilations refused as unsupported (skipped).
    unsupported, "unsupported (skipped)";
    /// Instantiated-and-run modules (per optimisation level).
    runs, "runs";
    /// Export calls compared with the interpreter, or made on hostile
    /// artifacts.
    calls, "calls compared or made";
    /// Comparisons that ended inconclusive (a stack ran out).
    inconclusive, "inconclusive (stack)";
    /// Mutated modules `wasmoc` accepted.
    mutants_compiled, "mutated modules compiled";
    /// Hostile artifacts the loader refused.
    artifacts_refused, "hostile artifacts refused";
    /// Hostile artifacts that loaded.
    artifacts_loaded, "hostile artifacts loaded";
}

impl Stats {
    /// The machine-readable line a case prints.
    pub fn line(&self) -> String {
        let f: Vec<String> = self.fields().iter().map(u64::to_string).collect();
        format!("stats {}", f.join(" "))
    }

    /// Reads a `stats` line from a case's output.
    pub fn parse(output: &str) -> Option<Stats> {
        let line = output.lines().find_map(|l| l.strip_prefix("stats "))?;
        let f = line
            .split_whitespace()
            .map(|w| w.parse().ok())
            .collect::<Option<Vec<u64>>>()?;
        (f.len() == LABELS.len()).then(|| Stats::from_fields(&f))
    }

    /// Adds `other` to these counters.
    pub fn add(&mut self, other: &Stats) {
        let f: Vec<u64> = self
            .fields()
            .iter()
            .zip(other.fields())
            .map(|(a, b)| a + b)
            .collect();
        *self = Stats::from_fields(&f);
    }

    /// A summary for people: `N modules, N compiles, ...`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .fields()
            .iter()
            .zip(LABELS)
            .map(|(n, label)| format!("{n} {label}"))
            .collect();
        parts.join(", ")
    }
}

/// What a case concluded.
#[derive(Debug)]
pub struct Conclusion {
    /// Counters.
    pub stats: Stats,
    /// Findings, described (empty: nothing found).
    pub findings: Vec<String>,
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    let p = dir.join(name);
    fs::write(&p, bytes).map_err(|e| format!("cannot write {}: {e}", p.display()))
}

/// The inputs of a case, generated from its seed and written into `dir`:
/// `input.wasm` for every kind, `hostile.wasmo` for artifacts. `false`
/// when the generator gave up on the seed.
pub fn prepare(kind: Kind, seed: u64, dir: &Path) -> Result<bool, String> {
    let Some(wasm) = gen::module(seed) else {
        return Ok(false);
    };
    match kind {
        Kind::Diff => write(dir, "input.wasm", &wasm)?,
        Kind::Compile => {
            let mut bytes = wasm;
            let mut rng = Rng::new(seed, 3);
            let len = bytes.len();
            mutate::mutate(&mut bytes, &mut rng, 0..len, true);
            write(dir, "input.wasm", &bytes)?;
        }
        Kind::Artifact => {
            write(dir, "input.wasm", &wasm)?;
            let config = compile_config(seed, OptLevel::O2);
            let artifact = match wasmo_compiler::compile(&wasm, &config) {
                Ok(a) => a,
                // Unsupported: nothing to be hostile with.
                Err(_) => return Ok(false),
            };
            let (hostile, how) = mutate::hostile(&artifact, seed);
            write(dir, "hostile.wasmo", &hostile)?;
            let how = match how {
                Hostility::Corrupt => "corrupt",
                Hostility::Rehashed => "rehashed",
            };
            write(dir, "hostility", how.as_bytes())?;
            write(
                dir,
                "format",
                wasmo_artifact_format::FORMAT_VERSION.to_string().as_bytes(),
            )?;
        }
    }
    write(dir, "kind", kind.name().as_bytes())?;
    write(dir, "seed", seed.to_string().as_bytes())?;
    Ok(true)
}

/// Runs the case whose inputs are in `dir` (see [`prepare`]).
pub fn run(kind: Kind, seed: u64, dir: &Path) -> Result<Conclusion, String> {
    let read = |name: &str| {
        let p = dir.join(name);
        fs::read(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let wasm = read("input.wasm")?;
    let mut stats = Stats {
        modules: 1,
        ..Stats::default()
    };
    let mut findings = Vec::new();
    match kind {
        Kind::Diff => {
            let plan = Plan::new(&wasm, seed)?;
            fs::write(dir.join("calls.txt"), plan.text()).map_err(|e| e.to_string())?;
            let report = diff::differential(&wasm, seed, dir)?;
            stats.compiles = report.executed_modules + report.unsupported;
            stats.unsupported = report.unsupported;
            stats.runs = report.executed_modules;
            stats.calls = report.calls;
            stats.inconclusive = report.inconclusive;
            findings = report.findings;
        }
        Kind::Compile => {
            let opt = if (seed / 4).is_multiple_of(2) {
                OptLevel::O0
            } else {
                OptLevel::O2
            };
            let config = compile_config(seed, opt);
            stats.compiles = 1;
            match catch_unwind(AssertUnwindSafe(|| wasmo_compiler::compile(&wasm, &config))) {
                Ok(Ok(_)) => stats.mutants_compiled = 1,
                Ok(Err(_)) => {}
                Err(panic) => {
                    let msg = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_default();
                    findings.push(format!(
                        "wasmoc panicked at -O{} {:?}: {msg}\n",
                        opt.as_number(),
                        config.bounds_checks
                    ));
                }
            }
        }
        Kind::Artifact => {
            let how = String::from_utf8_lossy(&read("hostility")?).into_owned();
            let path = dir.join("hostile.wasmo");
            // Exports are called by the source module's plan; a rewritten
            // artifact's exports may differ, which is an error outcome.
            let plan = Plan::new(&wasm, seed).unwrap_or_default();
            match diff::run_wasmo(&path, &plan) {
                Err(_) => stats.artifacts_refused = 1,
                Ok(r) => {
                    stats.artifacts_loaded = 1;
                    stats.runs = 1;
                    stats.calls = r.calls.len() as u64;
                    if how.trim() == "corrupt" {
                        findings.push(
                            "an artifact whose content hash does not match loaded\n".to_owned(),
                        );
                    }
                }
            }
        }
    }
    Ok(Conclusion { stats, findings })
}
