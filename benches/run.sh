#!/usr/bin/env bash
# Whole-program benchmark suite: builds wasmo (release), every kernel in
# benches/kernels/*.c natively (clang-19 -O2) and to wasm32-wasi (-O2), the
# wasmo artifacts (default CPU and --cpu native) and Wasmtime's precompiled
# modules (`wasmtime compile`), then runs benches/harness.py, which times all
# engines interleaved as whole processes, checks checksums first, and writes
# BENCHMARKS.md. The widened suite of issue 15 is built the same way:
# benches/suite2/*.c (kernels for the code classes the first twelve missed),
# benches/programs.py (Lua, SQLite, zstd: C sources from crates.io, fetched
# by cargo at pinned versions) and benches/real.py (boolector and yosys
# from PyPI, wasm only, on real inputs).
# Rule: never time anything whose checksum was not compared across engines.
# Wasmtime is wasmtime-cli 48.0.0 (Wasmtime 50 needs a newer rustc than 1.95):
# $WASMTIME if set, else target/wasmtime-cli/bin/wasmtime, which the first
# run builds with `cargo install --locked` (about 40 minutes on 2 cores).
# Env: BENCH_RUNS (default 7), BENCH_STARTUP_RUNS (default 30),
#      BENCH_GROUPS="kernels suite2 programs real" (the default: all four;
#        name fewer to run fewer; roughly 5, 5, 3 and 6 minutes of timing
#        at 7 runs on an idle 2-core machine, plus first builds: SQLite's
#        amalgamation about 2 minutes, yosys' 69 MB module at -O2 several),
#      BENCH_KERNELS="nbody sort mandel lua" to run a subset of any group,
#      BENCH_SKIP_CRITERION=1,
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

groups=" ${BENCH_GROUPS:-kernels suite2 programs real} "
wanted() { [[ -z "${BENCH_KERNELS:-}" || " $BENCH_KERNELS " == *" $1 "* ]]; }

# The engines' artifacts of $out/$1.wasm and $out/$1.simd.wasm.
artifacts() {
  local k="$1"
  "$wasmoc" build -O2 "$out/$k.wasm" -o "$out/$k.wasmo"
  "$wasmoc" build -O2 --cpu native "$out/$k.wasm" -o "$out/$k.native.wasmo"
  "$wasmtime" compile "$out/$k.wasm" -o "$out/$k.cwasm"
  # The SIMD build (issue 10): clang's defaults plus -msimd128.
  "$wasmoc" build -O2 "$out/$k.simd.wasm" -o "$out/$k.simd.wasmo"
  "$wasmtime" compile "$out/$k.simd.wasm" -o "$out/$k.simd.cwasm"
}

# A single-file C kernel natively, for wasm and for wasm with SIMD.
build_c() {
  local src="$1" k
  k="$(basename "$src" .c)"
  echo "== building $k"
  clang-19 -O2 -o "$out/$k" "$src" -lm
  clang-19 --target=wasm32-wasi -O2 -o "$out/$k.wasm" "$src" -lm
  clang-19 --target=wasm32-wasi -O2 -msimd128 -o "$out/$k.simd.wasm" "$src" -lm
  artifacts "$k"
}

mkdir -p "$out"
progs=()
# hello is always built: the start-up figures use it.
for src in benches/kernels/*.c; do
  k="$(basename "$src" .c)"
  if [[ "$k" != hello ]] && { [[ "$groups" != *" kernels "* ]] || ! wanted "$k"; }; then continue; fi
  build_c "$src"
  # The cost of resource limits (issue 13): the same wasm with
  # interruption checks, and with fuel counting.
  "$wasmoc" build -O2 --epoch-interruption "$out/$k.wasm" -o "$out/$k.epoch.wasmo"
  "$wasmoc" build -O2 --consume-fuel "$out/$k.wasm" -o "$out/$k.fuel.wasmo"
  [[ "$k" == hello ]] || progs+=("kernels/$k")
done
if [[ "$groups" == *" suite2 "* ]]; then
  for src in benches/suite2/*.c; do
    k="$(basename "$src" .c)"
    wanted "$k" || continue
    build_c "$src"
    progs+=("suite2/$k")
  done
fi
if [[ "$groups" == *" programs "* ]]; then
  names=()
  for k in lua sqlite zstd; do wanted "$k" && names+=("$k"); done
  if [[ ${#names[@]} -gt 0 ]]; then
    python3 benches/programs.py "${names[@]}"
    for k in "${names[@]}"; do artifacts "$k"; progs+=("programs/$k"); done
  fi
fi
if [[ "$groups" == *" real "* ]]; then
  names=()
  for k in boolector yosys; do wanted "$k" && names+=("$k"); done
  if [[ ${#names[@]} -gt 0 ]]; then
    python3 benches/real.py "${names[@]}"
    for k in "${names[@]}"; do progs+=("real/$k"); done
  fi
fi

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

echo "== timing ${#progs[@]} programs, ${BENCH_RUNS:-7} interleaved rounds"
python3 benches/harness.py "${progs[@]}"
