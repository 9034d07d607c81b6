//! `wasmo-fuzz`: the stable-toolchain driver (issue 13).
//!
//! ```text
//! wasmo-fuzz [--seconds N | --cases N] [--seed S] [--kinds diff,compile,artifact]
//!            [--findings DIR] [--timeout SECS]
//! wasmo-fuzz prepare KIND SEED DIR  # write a case's inputs
//! wasmo-fuzz case KIND SEED DIR     # run a prepared case (what each child does)
//! wasmo-fuzz replay DIR...          # re-run saved cases (fuzz/regressions/*)
//! ```
//!
//! The driver loops over seeds from `--seed` (default 0); for each seed it
//! runs every kind as a child process of itself with a time bound (and,
//! for compiles, an address-space limit), and turns a nonzero exit, a
//! signal or a timeout into a finding: `DIR/<hash>/` with the inputs, the
//! seed, and `outcome.txt`. It exits 1 if anything was found.
//!
//! Rule: the driver itself never runs a case in-process, so nothing a case
//! does can take the run down.

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use wasmo_fuzz::case::{self, Kind, Stats, FOUND};
use wasmo_fuzz::diff::REFERENCE_RUNNING;

/// Address space a compile case may use: LLVM on a small module needs a
/// few hundred MiB; a mutated module must not be able to take the machine.
const COMPILE_ADDRESS_SPACE: u64 = 4 << 30;

struct Options {
    seconds: Option<u64>,
    cases: Option<u64>,
    seed: u64,
    kinds: Vec<Kind>,
    findings: PathBuf,
    timeout: Duration,
}

fn usage() -> String {
    "usage: wasmo-fuzz [--seconds N | --cases N] [--seed S] [--kinds diff,compile,artifact] \
     [--findings DIR] [--timeout SECS]\n       wasmo-fuzz prepare|case KIND SEED DIR\n       \
     wasmo-fuzz replay DIR..."
        .to_owned()
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        seconds: None,
        cases: None,
        seed: 0,
        kinds: Kind::ALL.to_vec(),
        findings: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("findings"),
        timeout: Duration::from_secs(60),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n{}", usage()))
        };
        let number = |s: String, name: &str| {
            s.parse::<u64>()
                .map_err(|_| format!("{name}: not a number: {s}"))
        };
        match a.as_str() {
            "--seconds" => o.seconds = Some(number(value(a)?, a)?),
            "--cases" => o.cases = Some(number(value(a)?, a)?),
            "--seed" => o.seed = number(value(a)?, a)?,
            "--timeout" => o.timeout = Duration::from_secs(number(value(a)?, a)?),
            "--findings" => o.findings = PathBuf::from(value(a)?),
            "--kinds" => {
                o.kinds = value(a)?
                    .split(',')
                    .map(|k| Kind::parse(k).ok_or_else(|| format!("unknown kind {k}")))
                    .collect::<Result<_, _>>()?
            }
            "-h" | "--help" => return Err(usage()),
            other => return Err(format!("unknown argument {other}\n{}", usage())),
        }
    }
    if o.seconds.is_none() && o.cases.is_none() {
        o.seconds = Some(60);
    }
    Ok(o)
}

/// How a child case ended, as the driver saw it.
enum Ended {
    Status(i32),
    Signal(i32),
    TimedOut,
}

/// Runs `wasmo-fuzz case KIND SEED DIR`, waiting at most `timeout`.
fn run_child(
    kind: Kind,
    seed: u64,
    dir: &Path,
    timeout: Duration,
) -> Result<(Ended, String, String), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
    let out_path = dir.join("stdout.txt");
    let err_path = dir.join("stderr.txt");
    let out = fs::File::create(&out_path).map_err(|e| e.to_string())?;
    let err = fs::File::create(&err_path).map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .arg("case")
        .arg(kind.name())
        .arg(seed.to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot spawn a case: {e}"))?;
    let start = Instant::now();
    let ended = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => {
                use std::os::unix::process::ExitStatusExt as _;
                break match (status.code(), status.signal()) {
                    (Some(c), _) => Ended::Status(c),
                    (None, Some(s)) => Ended::Signal(s),
                    (None, None) => Ended::Status(-1),
                };
            }
            None if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break Ended::TimedOut;
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let read = |p: &Path| {
        let mut s = String::new();
        if let Ok(mut f) = fs::File::open(p) {
            let _ = f.read_to_string(&mut s);
        }
        s
    };
    Ok((ended, read(&out_path), read(&err_path)))
}

/// Keeps a failed case's directory as `findings/<hash>/`, `hash` being
/// BLAKE3 of its inputs (so one input is one finding however often hit).
fn keep_finding(work: &Path, findings: &Path, what: &str) -> Result<PathBuf, String> {
    let mut h = blake3::Hasher::new();
    for name in ["kind", "input.wasm", "hostile.wasmo"] {
        if let Ok(b) = fs::read(work.join(name)) {
            h.update(&b);
        }
    }
    let hash = h.finalize().to_hex();
    let dest = findings.join(&hash.as_str()[..16]);
    fs::create_dir_all(findings)
        .map_err(|e| format!("cannot create {}: {e}", findings.display()))?;
    let mut outcome = fs::read_to_string(work.join("outcome.txt")).unwrap_or_default();
    outcome.push_str(what);
    fs::write(work.join("outcome.txt"), outcome).map_err(|e| e.to_string())?;
    if dest.exists() {
        let _ = fs::remove_dir_all(&dest);
    }
    copy_dir(work, &dest)?;
    Ok(dest)
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    for entry in fs::read_dir(from).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        fs::copy(entry.path(), to.join(entry.file_name())).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// Whether a case that ended as `ended` failed in the reference
/// interpreter rather than in wasmo: it ended abnormally (a signal, a
/// panic's exit status, a time-out) while the marker that exists only
/// while the interpreter runs was still there. wasmi 2.0.0 both crashes
/// (some out-of-bounds `v128.store*_lane`) and panics (`unreachable!` in
/// its translator's `choose_store_op_vt`, on an `i32.store16`).
fn reference_failed(ended: &Ended, marker_exists: bool) -> bool {
    marker_exists && !matches!(ended, Ended::Status(0))
}

/// Runs one case in a child and returns its stats, or the finding's
/// directory.
fn one_case(
    kind: Kind,
    seed: u64,
    work: &Path,
    o: &Options,
) -> Result<(Stats, Option<PathBuf>), String> {
    let (ended, stdout, stderr) = run_child(kind, seed, work, o.timeout)?;
    if reference_failed(&ended, work.join(REFERENCE_RUNNING).exists()) {
        eprintln!(
            "wasmo-fuzz: {} seed {seed}: the reference interpreter crashed (not counted as a finding)",
            kind.name()
        );
        return Ok((Stats::default(), None));
    }
    let what = match ended {
        Ended::Status(0) => return Ok((Stats::parse(&stdout).unwrap_or_default(), None)),
        Ended::Status(c) if c == FOUND => String::new(),
        Ended::Status(c) => format!(
            "the case exited with status {c}\nstderr (tail):\n{}\n",
            tail(&stderr, 4000)
        ),
        Ended::Signal(s) => format!(
            "the case was killed by signal {s}\nstderr (tail):\n{}\n",
            tail(&stderr, 4000)
        ),
        Ended::TimedOut => format!("the case did not finish within {:?}\n", o.timeout),
    };
    let stats = Stats::parse(&stdout).unwrap_or_default();
    Ok((stats, Some(keep_finding(work, &o.findings, &what)?)))
}

fn drive(o: &Options) -> Result<bool, String> {
    let start = Instant::now();
    let scratch = std::env::temp_dir().join(format!("wasmo-fuzz-{}", std::process::id()));
    let mut total = Stats::default();
    let mut found = Vec::new();
    let mut cases = 0u64;
    let mut seed = o.seed;
    'seeds: loop {
        for &kind in &o.kinds {
            if o.cases.is_some_and(|n| cases >= n)
                || o.seconds
                    .is_some_and(|s| start.elapsed() >= Duration::from_secs(s))
            {
                break 'seeds;
            }
            let work = scratch.join(format!("{}-{seed}", kind.name()));
            fs::create_dir_all(&work)
                .map_err(|e| format!("cannot create {}: {e}", work.display()))?;
            cases += 1;
            let prepared = case::prepare(kind, seed, &work);
            let result = match prepared {
                Ok(false) => Ok((Stats::default(), None)),
                Ok(true) => one_case(kind, seed, &work, o),
                Err(e) => Err(e),
            };
            let _ = fs::remove_dir_all(&work);
            let (stats, finding) = result?;
            total.add(&stats);
            if let Some(dir) = finding {
                eprintln!(
                    "wasmo-fuzz: {} seed {seed}: finding in {}",
                    kind.name(),
                    dir.display()
                );
                found.push(dir);
            }
        }
        seed += 1;
    }
    let _ = fs::remove_dir_all(&scratch);
    println!(
        "wasmo-fuzz: seeds {}..{seed}, {cases} cases in {:.0?}: {}",
        o.seed,
        start.elapsed(),
        total.summary()
    );
    println!("wasmo-fuzz: {} findings", found.len());
    for f in &found {
        println!("  {}", f.display());
    }
    Ok(found.is_empty())
}

/// The child side: runs one prepared case and exits.
fn child(kind: &str, seed: &str, dir: &str) -> Result<i32, String> {
    let kind = Kind::parse(kind).ok_or_else(|| format!("unknown kind {kind}"))?;
    let seed: u64 = seed.parse().map_err(|_| format!("bad seed {seed}"))?;
    let dir = Path::new(dir);
    // Recursion within the termination fuel must not exhaust wasmo's stack
    // where the interpreter's limit is far away.
    wasmo_loader::set_wasm_stack_size(64 << 20);
    if kind == Kind::Compile {
        let limit = rustix::process::Rlimit {
            current: Some(COMPILE_ADDRESS_SPACE),
            maximum: Some(COMPILE_ADDRESS_SPACE),
        };
        rustix::process::setrlimit(rustix::process::Resource::As, limit)
            .map_err(|e| format!("setrlimit: {e}"))?;
    }
    let c = case::run(kind, seed, dir)?;
    println!("{}", c.stats.line());
    if c.findings.is_empty() {
        return Ok(0);
    }
    let text = c.findings.concat();
    fs::write(dir.join("outcome.txt"), &text).map_err(|e| e.to_string())?;
    eprint!("{text}");
    Ok(FOUND)
}

/// Writes a case's inputs into a directory, to look at or to run with
/// `wasmo-fuzz case`.
fn prepare(kind: &str, seed: &str, dir: &str) -> Result<bool, String> {
    let kind = Kind::parse(kind).ok_or_else(|| format!("unknown kind {kind}"))?;
    let seed: u64 = seed.parse().map_err(|_| format!("bad seed {seed}"))?;
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {dir}: {e}"))?;
    case::prepare(kind, seed, Path::new(dir))
}

/// Re-runs saved cases (each a directory with `kind`, `seed` and inputs)
/// in children; fails if any of them still finds something.
fn replay(dirs: &[String], timeout: Duration) -> Result<bool, String> {
    let scratch = std::env::temp_dir().join(format!("wasmo-fuzz-replay-{}", std::process::id()));
    let o = Options {
        seconds: None,
        cases: None,
        seed: 0,
        kinds: Vec::new(),
        findings: scratch.join("findings"),
        timeout,
    };
    let mut ok = true;
    for (i, d) in dirs.iter().enumerate() {
        let d = Path::new(d);
        let kind_text =
            fs::read_to_string(d.join("kind")).map_err(|e| format!("{}: {e}", d.display()))?;
        let kind =
            Kind::parse(&kind_text).ok_or_else(|| format!("{}: unknown kind", d.display()))?;
        let seed: u64 = fs::read_to_string(d.join("seed"))
            .map_err(|e| format!("{}: {e}", d.display()))?
            .trim()
            .parse()
            .map_err(|_| format!("{}: bad seed", d.display()))?;
        // A hostile artifact is bytes of one format version: replayed by a
        // loader of another, it is refused for its version and proves
        // nothing. Such a case must be remade (fuzz/regressions/README.md).
        if kind == Kind::Artifact {
            let made_for = fs::read_to_string(d.join("format")).unwrap_or_default();
            let now = wasmo_artifact_format::FORMAT_VERSION.to_string();
            if made_for.trim() != now {
                ok = false;
                println!(
                    "replay {}: STALE: hostile.wasmo was made for artifact format `{}`, this loader reads {now}; remake it",
                    d.display(),
                    made_for.trim()
                );
                continue;
            }
        }
        let work = scratch.join(i.to_string());
        fs::create_dir_all(&work).map_err(|e| e.to_string())?;
        for name in [
            "kind",
            "seed",
            "input.wasm",
            "hostile.wasmo",
            "hostility",
            "format",
        ] {
            if d.join(name).exists() {
                fs::copy(d.join(name), work.join(name)).map_err(|e| e.to_string())?;
            }
        }
        let (stats, finding) = one_case(kind, seed, &work, &o)?;
        match finding {
            None => println!("replay {}: ok ({})", d.display(), stats.summary()),
            Some(f) => {
                ok = false;
                let outcome = fs::read_to_string(f.join("outcome.txt")).unwrap_or_default();
                println!("replay {}: FAILED\n{outcome}", d.display());
            }
        }
    }
    let _ = fs::remove_dir_all(&scratch);
    Ok(ok)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("case") if args.len() == 4 => match child(&args[1], &args[2], &args[3]) {
            Ok(code) => std::process::exit(code),
            Err(e) => Err(e),
        },
        Some("prepare") if args.len() == 4 => prepare(&args[1], &args[2], &args[3]),
        Some("replay") => replay(&args[1..], Duration::from_secs(120)),
        _ => parse_options(&args).and_then(|o| drive(&o)),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{reference_failed, Ended, FOUND};

    #[test]
    fn only_abnormal_ends_while_the_reference_runs_are_its_failures() {
        for ended in [Ended::Signal(11), Ended::Status(101), Ended::TimedOut] {
            assert!(reference_failed(&ended, true));
            assert!(!reference_failed(&ended, false));
        }
        assert!(!reference_failed(&Ended::Status(0), true));
        assert!(!reference_failed(&Ended::Status(FOUND), false));
    }
}
