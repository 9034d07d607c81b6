//! wasmo's micro-benchmarks live in `benches/`; this library is empty.
//!
//! Rule: benchmarks measure, they do not test; CI builds them but never
//! times them, so nothing here may be needed for correctness.
