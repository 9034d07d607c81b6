//! wasmo's fuzzer (issue 13): differential runs against the `wasmi`
//! interpreter, mutated modules for `wasmoc`, hostile artifacts for the
//! loader. The driver (`main.rs`) runs each case in a child process of
//! its own (`wasmo-fuzz case KIND SEED`), so a crash, a hang or a memory
//! blow-up is a finding with a reproducer, not the end of the run.
//!
//! Rule: every case is a pure function of its kind and seed; the files a
//! case writes before it runs (`input.wasm`, `hostile.wasmo`) reproduce it
//! without the seed, and everything ever found is kept in
//! `fuzz/regressions/` and replayed by the crate's tests.

pub mod case;
pub mod diff;
pub mod gen;
pub mod mutate;
