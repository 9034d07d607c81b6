#!/usr/bin/env bash
# Whole-program benchmark suite: builds wasmo (release), every kernel in
# benches/kernels/*.c natively (clang-19 -O2) and to wasm32-wasi (-O2), the
# wasmo artifacts (default CPU and --cpu native) and Wasmtime's precompiled
# modules (`wasmtime compile`), then runs benches/harness.py, which times all
# engines interleaved as whole processes, checks checksums first, and writes
# BENCHMARKS.md.
# Rule: never time anything whose checksum was not compared across engines.
# Wasmtime is wasmtime-cli 48.0.0 (Wasmtime 50 needs a newer rustc than 1.95):
# $WASMTIME if set, else target/wasmtime-cli/bin/wasmtime, which the first
# run builds with `cargo install --locked` (about 40 minutes on 2 cores).
# Env: BENCH_RUNS (default 7), BENCH_STARTUP_RUNS (default 30),
#      BENCH_KERNELS="nbody sort" to run a subset, BENCH_SKIP_CRITERION=1,
#      BENCH_COMPILE=0 (criterion without compile throughput),
#      BENCH_COMPILE_TIME=0 (no compile-time table of real modules),
#      BENCH_COMPILE_MODULES=boolector (a subset of them, by name),
#      WASMTIME=/path/to/wasmtime (48.x).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="$root/target/benches"

die() { echo "error: $*" >&2; exit 1; }
command -v clang-19 >/dev/null || die "clang-19 not found (run .ci/setup, or apt-get install clang-19)"
command -v node >/dev/null || echo "warning: node not found; its column stays empty (node >= 20 has node:wasi)" >&2
command -v python3 >/dev/null || die "python3 not found"
command -v cargo >/dev/null || die "cargo not found (export PATH=\"\$HOME/.cargo/bin:\$PATH\")"
# A real output file: clang runs binaryen's wasm-opt on it when one is on
# PATH, and wasm-opt cannot read /dev/null.
probe="$(mktemp --suffix=.wasm)"
echo 'int main(void){return 0;}' | clang-19 --target=wasm32-wasi -O2 -x c - -o "$probe" 2>/dev/null \
  || { rm -f "$probe"; die "clang-19 cannot build for wasm32-wasi (install wasi-libc and libclang-rt-19-dev-wasm32)"; }
rm -f "$probe"

wasmtime="${WASMTIME:-$root/target/wasmtime-cli/bin/wasmtime}"
if [[ ! -x "$wasmtime" ]]; then
  [[ -z "${WASMTIME:-}" ]] || die "WASMTIME=$WASMTIME is not an executable"
  echo "== building wasmtime-cli 48.0.0 once, into target/wasmtime-cli (about 40 minutes on 2 cores)"
  cargo install wasmtime-cli --version 48.0.0 --locked --root "$root/target/wasmtime-cli"
fi
"$wasmtime" --version | grep -q '^wasmtime 48\.' || die "$wasmtime is not wasmtime 48.x: $("$wasmtime" --version)"
export WASMTIME="$wasmtime"

echo "== building wasmo and wasmoc (release)"
cargo build --release -p wasmo-cli -p wasmoc
wasmoc="$root/target/release/wasmoc"

mkdir -p "$out"
kernels=()
for src in benches/kernels/*.c; do
  k="$(basename "$src" .c)"
  if [[ -n "${BENCH_KERNELS:-}" && " $BENCH_KERNELS " != *" $k "* && "$k" != hello ]]; then continue; fi
  echo "== building $k"
  clang-19 -O2 -o "$out/$k" "$src" -lm
  clang-19 --target=wasm32-wasi -O2 -o "$out/$k.wasm" "$src" -lm
  "$wasmoc" build -O2 "$out/$k.wasm" -o "$out/$k.wasmo"
  "$wasmoc" build -O2 --cpu native "$out/$k.wasm" -o "$out/$k.native.wasmo"
  "$wasmtime" compile "$out/$k.wasm" -o "$out/$k.cwasm"
  # The SIMD build (issue 10): clang's defaults plus -msimd128.
  clang-19 --target=wasm32-wasi -O2 -msimd128 -o "$out/$k.simd.wasm" "$src" -lm
  "$wasmoc" build -O2 "$out/$k.simd.wasm" -o "$out/$k.simd.wasmo"
  "$wasmtime" compile "$out/$k.simd.wasm" -o "$out/$k.simd.cwasm"
  # The cost of resource limits (issue 13): the same wasm with
  # interruption checks, and with fuel counting.
  "$wasmoc" build -O2 --epoch-interruption "$out/$k.wasm" -o "$out/$k.epoch.wasmo"
  "$wasmoc" build -O2 --consume-fuel "$out/$k.wasm" -o "$out/$k.fuel.wasmo"
  [[ "$k" == hello ]] || kernels+=("$k")
done

# Criterion micro-benchmarks: load, instantiate (instantiate_1mib among
# them), calls, memory.grow, and compile throughput unless BENCH_COMPILE=0
# (about 6 minutes of it); the embedding API against the wasmtime crate
# (its first build takes about 10 minutes); a throw caught 1 and 100
# frames up, against the same crate; memories and atomics. The
# harness turns the log into a table.
rm -f "$out/criterion.log"
if [[ -z "${BENCH_SKIP_CRITERION:-}" ]]; then
  filter='load|instantiate|call/|memory_grow|bulk_memory'
  [[ "${BENCH_COMPILE:-1}" == 0 ]] || filter="$filter|compile"
  echo "== criterion micro-benchmarks ($filter)"
  cargo bench -p wasmo-benches --bench pipeline -- "$filter" 2>&1 | tee "$out/criterion.log"
  echo "== criterion: embedding-API call overhead, wasmo and the wasmtime crate (issue 14)"
  cargo bench -p wasmo-benches --features wasmtime --bench api 2>&1 | tee -a "$out/criterion.log"
  echo "== criterion: throw and catch, wasmo and the wasmtime crate (issue 11)"
  cargo bench -p wasmo-benches --features wasmtime --bench exceptions 2>&1 | tee -a "$out/criterion.log"
  echo "== criterion: memories and atomics (issue 12)"
  cargo bench -p wasmo-benches --bench memories 2>&1 | tee -a "$out/criterion.log"
fi

# Compile time of real modules (issue 15): wheels from PyPI, pinned; the
# yosys module is 69 MB, so this takes a while (BENCH_COMPILE_TIME=0 skips).
rm -f "$out/compile-time.json"
if [[ "${BENCH_COMPILE_TIME:-1}" != 0 ]]; then
  python3 benches/compile_time.py
fi

echo "== timing ${#kernels[@]} kernels, ${BENCH_RUNS:-5} interleaved rounds"
python3 benches/harness.py "${kernels[@]}"
