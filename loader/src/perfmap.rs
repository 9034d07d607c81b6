//! Opt-in perf map: with `WASMO_PERF_MAP=1` in the environment, every
//! module the loader maps appends one line per defined function to
//! `/tmp/perf-<pid>.map` (`START SIZE NAME`, hex, the format `perf report`
//! reads for JIT code), so profiles of `wasmo exec` name wasm functions
//! instead of raw offsets into an anonymous mapping.
//!
//! perf reads such a map only for anonymous executable memory, so with the
//! map on, `image.rs` copies each image into anonymous memory instead of
//! mapping the artifact snapshot (a private copy per process: fine for
//! profiling).
//!
//! Rule: nothing here can fail a load; a perf map that cannot be written
//! is skipped with one line on stderr.

use std::io::Write as _;
use std::sync::{Mutex, OnceLock};

/// The open map, if `WASMO_PERF_MAP` asked for one (opened on first use).
fn map_file() -> Option<&'static Mutex<std::fs::File>> {
    static FILE: OnceLock<Option<Mutex<std::fs::File>>> = OnceLock::new();
    FILE.get_or_init(|| {
        let on = std::env::var_os("WASMO_PERF_MAP").is_some_and(|v| v != "0" && !v.is_empty());
        if !on {
            return None;
        }
        let path = format!("/tmp/perf-{}.map", std::process::id());
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            Ok(f) => Some(Mutex::new(f)),
            Err(e) => {
                eprintln!("wasmo: cannot write the perf map {path}: {e}");
                None
            }
        }
    })
    .as_ref()
}

/// Whether a perf map was asked for (and could be opened).
pub(crate) fn enabled() -> bool {
    map_file().is_some()
}

/// Records the functions of a module whose text starts at `text`:
/// `(start offset, end offset, function index)` each, named by `name`.
pub(crate) fn record(text: usize, ranges: &[(u32, u32, u32)], name: impl Fn(u32) -> String) {
    let Some(file) = map_file() else { return };
    let mut lines = String::new();
    for &(start, end, index) in ranges {
        let addr = text.saturating_add(start as usize);
        let size = end.saturating_sub(start);
        lines.push_str(&format!("{addr:x} {size:x} {}\n", name(index)));
    }
    let mut f = match file.lock() {
        Ok(f) => f,
        Err(p) => p.into_inner(),
    };
    // One write per module, so concurrent loads never interleave lines.
    if let Err(e) = f.write_all(lines.as_bytes()) {
        eprintln!("wasmo: cannot write the perf map: {e}");
    }
}
