//! Wasmtime's `-W` (wasm) and `-S` (WASI) option groups, so that a
//! `wasmtime run` command line carries over to `wasmo run` unchanged.
//!
//! Syntax, as wasmtime-cli 48 accepts it: each flag takes one argument
//! `KEY[=VAL][,KEY[=VAL]...]` (`-W key=val`, `-Wkey=val`, `--wasm key=val`),
//! flags repeat, a later key overrides an earlier one. A boolean key alone
//! means yes; `=y|yes|true` and `=n|no|false` spell it out. Numbers may be
//! decimal or `0x` hex, with `_` separators; durations are plain seconds or
//! take an `s`, `ms`, `us` or `ns` suffix. `-W help` and `-S help` list the
//! keys wasmo knows.
//!
//! Rule: every key is parsed here into the typed [`WasmOptions`] or
//! [`WasiOptions`], and nowhere else; a key that is not in the tables below
//! is an error naming it (wasmtime's wording), a key wasmtime knows but
//! wasmo does not implement is an error saying so. Adding a key is one line
//! in a table and one field.

use std::time::Duration;

/// The `-W` options (wasm execution) wasmo understands.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WasmOptions {
    /// `unknown-imports-trap`: an import nobody provides becomes a function
    /// that traps when called.
    pub unknown_imports_trap: bool,
    /// `unknown-imports-default`: an import nobody provides becomes a
    /// function returning zeros.
    pub unknown_imports_default: bool,
    /// `max-wasm-stack=N`: usable wasm stack, in bytes.
    pub max_wasm_stack: Option<usize>,
    /// `max-memory-size=N`: the most bytes any linear memory may grow to.
    pub max_memory_size: Option<usize>,
    /// `timeout=D`: interrupt the program after this much wall time.
    pub timeout: Option<Duration>,
    /// `fuel=N`: the fuel the program starts with.
    pub fuel: Option<u64>,
    /// `max-table-elements=N`: the most elements a table may have.
    pub max_table_elements: Option<u64>,
    /// `max-instances=N`, `max-tables=N`, `max-memories=N`: how many the
    /// store may hold.
    pub max_instances: Option<u32>,
    /// See `max_instances`.
    pub max_tables: Option<u32>,
    /// See `max_instances`.
    pub max_memories: Option<u32>,
}

/// The `-S` options (WASI) wasmo understands.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WasiOptions {
    /// `inherit-env`: the program sees the host's whole environment (before
    /// any `--env`, which overrides).
    pub inherit_env: bool,
    /// `cli`: WASI's command-line interface (always on; `cli=n` is refused).
    pub cli: bool,
    /// `threads`: wasi-threads (`wasi.thread-spawn`) for modules that
    /// import it.
    pub threads: bool,
}

/// A `-W`/`-S` parse error; its text is what the user sees (the CLI's
/// errors are `anyhow`, so this only has to display).
#[derive(Debug)]
pub struct OptError(String);

impl std::fmt::Display for OptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OptError {}

fn err(msg: impl Into<String>) -> OptError {
    OptError(msg.into())
}

/// One key of a group: its name, the help for its value and its meaning,
/// and how its value is stored.
struct Key<T> {
    name: &'static str,
    val_help: &'static str,
    doc: &'static str,
    set: fn(&mut T, Option<&str>) -> Result<(), OptError>,
}

const WASM_KEYS: &[Key<WasmOptions>] = &[
    Key {
        name: "unknown-imports-trap",
        val_help: "[=y|n]",
        doc: "an unknown imported function traps when called",
        set: |o, v| {
            o.unknown_imports_trap = parse_bool(v)?;
            Ok(())
        },
    },
    Key {
        name: "unknown-imports-default",
        val_help: "[=y|n]",
        doc: "an unknown imported function returns zeros",
        set: |o, v| {
            o.unknown_imports_default = parse_bool(v)?;
            Ok(())
        },
    },
    Key {
        name: "max-wasm-stack",
        val_help: "=N",
        doc: "the usable wasm stack, in bytes",
        set: |o, v| {
            o.max_wasm_stack = Some(parse_usize(v)?);
            Ok(())
        },
    },
    Key {
        name: "max-memory-size",
        val_help: "=N",
        doc: "the most bytes a linear memory may grow to",
        set: |o, v| {
            o.max_memory_size = Some(parse_usize(v)?);
            Ok(())
        },
    },
    Key {
        name: "timeout",
        val_help: "=N|Ns|Nms|..",
        doc: "interrupt the program after this much wall time",
        set: |o, v| {
            o.timeout = Some(parse_duration(v)?);
            Ok(())
        },
    },
    Key {
        name: "fuel",
        val_help: "=N",
        doc: "the fuel the program starts with",
        set: |o, v| {
            o.fuel = Some(parse_u64(v)?);
            Ok(())
        },
    },
    Key {
        name: "max-table-elements",
        val_help: "=N",
        doc: "the most elements a table may have",
        set: |o, v| {
            o.max_table_elements = Some(parse_u64(v)?);
            Ok(())
        },
    },
    Key {
        name: "max-instances",
        val_help: "=N",
        doc: "the most instances the program may make",
        set: |o, v| {
            o.max_instances = Some(parse_count(v)?);
            Ok(())
        },
    },
    Key {
        name: "max-tables",
        val_help: "=N",
        doc: "the most tables the program may make",
        set: |o, v| {
            o.max_tables = Some(parse_count(v)?);
            Ok(())
        },
    },
    Key {
        name: "max-memories",
        val_help: "=N",
        doc: "the most linear memories the program may make",
        set: |o, v| {
            o.max_memories = Some(parse_count(v)?);
            Ok(())
        },
    },
];

/// A count that fits a `u32`.
fn parse_count(v: Option<&str>) -> Result<u32, OptError> {
    let n = parse_u64(v)?;
    u32::try_from(n).map_err(|_| err(format!("{n} is too large")))
}

const WASI_KEYS: &[Key<WasiOptions>] = &[
    Key {
        name: "inherit-env",
        val_help: "[=y|n]",
        doc: "pass the host's whole environment to the program",
        set: |o, v| {
            o.inherit_env = parse_bool(v)?;
            Ok(())
        },
    },
    Key {
        name: "cli",
        val_help: "[=y|n]",
        doc: "WASI's command-line interface (always on)",
        set: |o, v| {
            o.cli = parse_bool(v)?;
            if o.cli {
                Ok(())
            } else {
                Err(err("wasmo always provides WASI's command-line interface"))
            }
        },
    },
    Key {
        name: "threads",
        val_help: "[=y|n]",
        doc: "wasi-threads: `wasi.thread-spawn` starts a thread",
        set: |o, v| {
            o.threads = parse_bool(v)?;
            Ok(())
        },
    },
];

/// Keys wasmtime-cli 48 accepts under `-W` that wasmo does not implement:
/// refused as unsupported rather than unknown, so the user learns the
/// option is real but has no effect here.
const WASMTIME_ONLY_WASM: &[&str] = &[
    "nan-canonicalization",
    "epoch-interruption",
    "async-stack-size",
    "async-stack-zeroing",
    "unknown-exports-allow",
    "wmemcheck",
    "trap-on-grow-failure",
    "all-proposals",
    "bulk-memory",
    "multi-memory",
    "multi-value",
    "reference-types",
    "simd",
    "relaxed-simd",
    "relaxed-simd-deterministic",
    "tail-call",
    "threads",
    "shared-memory",
    "shared-everything-threads",
    "component-model",
    "function-references",
    "stack-switching",
    "gc",
    "custom-page-sizes",
    "wide-arithmetic",
    "branch-hinting",
    "extended-const",
    "exceptions",
    "gc-support",
    "concurrency-support",
];

/// Keys wasmtime-cli 48 accepts under `-S` that wasmo does not implement.
const WASMTIME_ONLY_WASI: &[&str] = &[
    "cli-exit-with-code",
    "common",
    "nn",
    "http",
    "config",
    "keyvalue",
    "listenfd",
    "tcplisten",
    "tls",
    "nn-graph",
    "inherit-network",
    "allow-ip-name-lookup",
    "tcp",
    "udp",
    "network-error-code",
    "inherit-stdin",
    "inherit-stdout",
    "inherit-stderr",
    "cwd",
    "config-var",
    "keyvalue-in-memory-data",
    "max-resources",
    "preview2",
];

/// What `-W help` / `-S help` asks for instead of options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// The options.
    Options(T),
    /// The help text, for stdout.
    Help(String),
}

/// Parses every `-W` argument, in order.
pub fn parse_wasm(args: &[String]) -> Result<Parsed<WasmOptions>, OptError> {
    let mut opts = WasmOptions::default();
    parse_group(
        ('W', "wasm"),
        WASM_KEYS,
        WASMTIME_ONLY_WASM,
        args,
        &mut opts,
    )?
    .map_or(Ok(Parsed::Options(opts)), |h| Ok(Parsed::Help(h)))
}

/// Parses every `-S` argument, in order.
pub fn parse_wasi(args: &[String]) -> Result<Parsed<WasiOptions>, OptError> {
    let mut opts = WasiOptions {
        cli: true,
        ..WasiOptions::default()
    };
    parse_group(
        ('S', "wasi"),
        WASI_KEYS,
        WASMTIME_ONLY_WASI,
        args,
        &mut opts,
    )?
    .map_or(Ok(Parsed::Options(opts)), |h| Ok(Parsed::Help(h)))
}

/// Applies `args` to `opts`; returns the help text when one of them is
/// `help`.
fn parse_group<T>(
    (short, long): (char, &str),
    keys: &[Key<T>],
    wasmtime_only: &[&str],
    args: &[String],
    opts: &mut T,
) -> Result<Option<String>, OptError> {
    for arg in args {
        if arg == "help" || arg == "help-long" {
            return Ok(Some(help(short, long, keys)));
        }
        for item in arg.split(',') {
            let (key, val) = match item.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (item, None),
            };
            match keys.iter().find(|k| k.name == key) {
                Some(k) => (k.set)(opts, val)
                    .map_err(|e| err(format!("failed to parse -{short} option `{item}`: {e}")))?,
                None if wasmtime_only.contains(&key) => {
                    return Err(err(format!(
                        "-{short} / --{long} option `{key}` is not supported by wasmo \
                         (see `-{short} help`)"
                    )))
                }
                None => {
                    return Err(err(format!(
                        "unknown -{short} / --{long} option: {key} (see `-{short} help`)"
                    )))
                }
            }
        }
    }
    Ok(None)
}

fn help<T>(short: char, long: &str, keys: &[Key<T>]) -> String {
    let width = keys
        .iter()
        .map(|k| k.name.len() + k.val_help.len())
        .max()
        .unwrap_or(0);
    let mut out = format!("Available {long} options:\n\n");
    for k in keys {
        let spec = format!("{}{}", k.name, k.val_help);
        out.push_str(&format!("  -{short} {spec:<width$} -- {}\n", k.doc));
    }
    out
}

fn parse_bool(v: Option<&str>) -> Result<bool, OptError> {
    match v {
        None | Some("y" | "yes" | "true") => Ok(true),
        Some("n" | "no" | "false") => Ok(false),
        Some(s) => Err(err(format!(
            "unknown boolean flag `{s}`, only yes,no,<nothing> accepted"
        ))),
    }
}

fn required(v: Option<&str>) -> Result<&str, OptError> {
    v.ok_or_else(|| err("value must be specified with `key=val` syntax"))
}

fn parse_u64(v: Option<&str>) -> Result<u64, OptError> {
    let text = required(v)?.replace('_', "");
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    }
    .map_err(|e| err(format!("`{text}`: {e}")))
}

fn parse_usize(v: Option<&str>) -> Result<usize, OptError> {
    let n = parse_u64(v)?;
    usize::try_from(n).map_err(|_| err(format!("{n} does not fit this host's address space")))
}

fn parse_duration(v: Option<&str>) -> Result<Duration, OptError> {
    let s = required(v)?;
    let num = |suffix: &str| s.strip_suffix(suffix).and_then(|n| n.parse::<u64>().ok());
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    // `ms`, `us` and `ns` before `s`, which is a suffix of each.
    if let Some(n) = num("ms") {
        return Ok(Duration::from_millis(n));
    }
    if let Some(n) = num("us").or_else(|| num("μs")) {
        return Ok(Duration::from_micros(n));
    }
    if let Some(n) = num("ns") {
        return Ok(Duration::from_nanos(n));
    }
    if let Some(n) = num("s") {
        return Ok(Duration::from_secs(n));
    }
    Err(err(format!("failed to parse duration: {s}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(args: &[&str]) -> Result<WasmOptions, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse_wasm(&args).map_err(|e| e.to_string())? {
            Parsed::Options(o) => Ok(o),
            Parsed::Help(h) => Err(h),
        }
    }

    fn s(args: &[&str]) -> Result<WasiOptions, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse_wasi(&args).map_err(|e| e.to_string())? {
            Parsed::Options(o) => Ok(o),
            Parsed::Help(h) => Err(h),
        }
    }

    #[test]
    fn keys_commas_and_repeats() {
        let o = w(&[
            "unknown-imports-trap,max-wasm-stack=0x10_0000",
            "fuel=1_000",
        ])
        .unwrap();
        assert!(o.unknown_imports_trap);
        assert!(!o.unknown_imports_default);
        assert_eq!(o.max_wasm_stack, Some(1 << 20));
        assert_eq!(o.fuel, Some(1000));
        // A later key overrides an earlier one.
        let o = w(&["unknown-imports-default", "unknown-imports-default=n"]).unwrap();
        assert!(!o.unknown_imports_default);
        let o = w(&["max-memory-size=65536", "max-memory-size=131072"]).unwrap();
        assert_eq!(o.max_memory_size, Some(131072));
        assert_eq!(w(&[]).unwrap(), WasmOptions::default());
    }

    #[test]
    fn booleans_as_wasmtime_spells_them() {
        for yes in [
            "inherit-env",
            "inherit-env=y",
            "inherit-env=yes",
            "inherit-env=true",
        ] {
            assert!(s(&[yes]).unwrap().inherit_env, "{yes}");
        }
        for no in ["inherit-env=n", "inherit-env=no", "inherit-env=false"] {
            assert!(!s(&[no]).unwrap().inherit_env, "{no}");
        }
        assert_eq!(
            s(&["inherit-env=maybe"]).unwrap_err(),
            "failed to parse -S option `inherit-env=maybe`: unknown boolean flag `maybe`, \
             only yes,no,<nothing> accepted"
        );
    }

    #[test]
    fn durations() {
        let t = |d: &str| w(&[&format!("timeout={d}")]).map(|o| o.timeout.unwrap());
        assert_eq!(t("2"), Ok(Duration::from_secs(2)));
        assert_eq!(t("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(t("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(t("7us"), Ok(Duration::from_micros(7)));
        assert_eq!(t("9ns"), Ok(Duration::from_nanos(9)));
        assert_eq!(
            t("2m"),
            Err("failed to parse -W option `timeout=2m`: failed to parse duration: 2m".into())
        );
        assert_eq!(
            t("1.5s"),
            Err("failed to parse -W option `timeout=1.5s`: failed to parse duration: 1.5s".into())
        );
    }

    #[test]
    fn values_required_and_checked() {
        assert_eq!(
            w(&["fuel"]).unwrap_err(),
            "failed to parse -W option `fuel`: value must be specified with `key=val` syntax"
        );
        assert!(w(&["max-wasm-stack=-1"])
            .unwrap_err()
            .starts_with("failed to parse -W option `max-wasm-stack=-1`: `-1`: "));
    }

    #[test]
    fn unknown_and_unsupported_keys_are_named() {
        assert_eq!(
            w(&["fuel=1,frobnicate"]).unwrap_err(),
            "unknown -W / --wasm option: frobnicate (see `-W help`)"
        );
        assert_eq!(
            s(&["inherit-env", "tcp"]).unwrap_err(),
            "-S / --wasi option `tcp` is not supported by wasmo (see `-S help`)"
        );
        assert_eq!(
            w(&["epoch-interruption"]).unwrap_err(),
            "-W / --wasm option `epoch-interruption` is not supported by wasmo (see `-W help`)"
        );
        // A WASI key under -W is unknown there.
        assert_eq!(
            w(&["inherit-env"]).unwrap_err(),
            "unknown -W / --wasm option: inherit-env (see `-W help`)"
        );
        assert_eq!(
            s(&["cli=n"]).unwrap_err(),
            "failed to parse -S option `cli=n`: wasmo always provides WASI's command-line interface"
        );
    }

    #[test]
    fn help_lists_every_key() {
        let h = w(&["fuel=1", "help"]).unwrap_err();
        for k in WASM_KEYS {
            assert!(h.contains(&format!("-W {}", k.name)), "{h}");
        }
        let h = s(&["help"]).unwrap_err();
        assert!(h.contains("-S inherit-env[=y|n]"), "{h}");
    }
}
