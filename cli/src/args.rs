//! Command-line parsing shared by `wasmo` and `wasmoc` (which includes this
//! file by path, as the two binaries share no library crate).
//!
//! Rule: a usage error exits with status 1, as every other error of ours
//! does (the README promises it; clap's own default is 2); `--help` and
//! `--version` print to stdout and exit 0.

use std::process::ExitCode;

/// Parses this process's arguments, or returns the exit code after clap
/// has printed its help, version or usage error.
pub fn parse<T: clap::Parser>() -> Result<T, ExitCode> {
    T::try_parse().map_err(|e| {
        // Nothing more to say if even stderr is gone.
        let _ = e.print();
        if e.use_stderr() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    })
}
