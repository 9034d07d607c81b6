"""Measurement half of benches/run.sh (which builds everything first):
runs every kernel under every engine, interleaved round-robin, checks that
all engines print the same checksum before reporting any time, and writes
the table to stdout and BENCHMARKS.md.

Rule: no time is reported for a kernel whose outputs differ; a mismatch
fails the whole run (exit 1)."""
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "target", "benches")
WASMO = os.path.join(ROOT, "target", "release", "wasmo")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
STARTUP_RUNS = int(os.environ.get("BENCH_STARTUP_RUNS", "20"))
WT = os.path.join(ROOT, "benches", "run_wasmtime.py")
NODE = os.path.join(ROOT, "benches", "run_node.mjs")
CRASHES = []
ENGINES = ["native", "wasmo", "wasmo-native", "wasmtime", "node"]


def cmd_for(engine, k):
    b = os.path.join(OUT, k)
    return {
        "native": [b],
        "wasmo": [WASMO, "exec", b + ".wasmo"],
        "wasmo-native": [WASMO, "exec", b + ".native.wasmo"],
        "wasmtime": [sys.executable, WT, "run", b + ".cwasm", b + ".wt-time"],
        "node": ["node", "--no-warnings", NODE, b + ".wasm"],
    }[engine]


def run_once(engine, k):
    """Returns (stdout, seconds). Wasmtime's time is measured inside the
    runner (deserialize + instantiate + _start), without Python start-up."""
    cmd = cmd_for(engine, k)
    for attempt in range(3):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        dt = time.perf_counter() - t0
        if p.returncode >= 0:
            break
        # Killed by a signal (node has segfaulted here on the 64 MiB kernel
        # on the shared machine): retry, loudly, and note it in the report.
        print(f"warning: {k} under {engine} killed by signal {-p.returncode}; retrying", flush=True)
        CRASHES.append(f"{k} under {engine}: signal {-p.returncode}")
    if p.returncode != 0:
        sys.exit(f"error: {k} under {engine} exited {p.returncode}: {' '.join(cmd)}\n"
                 f"{p.stderr.decode(errors='replace')}")
    if engine == "wasmtime":
        with open(os.path.join(OUT, k + ".wt-time")) as f:
            dt = float(f.read())
    return p.stdout.decode(errors="replace"), dt


def gmean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT).stdout.decode().strip()
    except OSError:
        return "?"


def main():
    kernels = sys.argv[1:]
    # 1. Correctness first: one run per engine, all checksums equal.
    for k in kernels:
        outs = {e: run_once(e, k)[0] for e in ENGINES}
        ref = outs["native"]
        bad = [e for e, o in outs.items() if o != ref]
        if bad:
            msg = "\n".join(f"  {e}: {outs[e]!r}" for e in ENGINES)
            sys.exit(f"\n*** CHECKSUM MISMATCH in kernel {k} ({', '.join(bad)} differ from native) ***\n{msg}")
        print(f"checksum ok  {k:10s} {ref.strip()}", flush=True)
    # 2. Timing, interleaved round-robin: run r of every kernel x engine.
    times = {(k, e): [] for k in kernels for e in ENGINES}
    for r in range(RUNS):
        print(f"round {r + 1}/{RUNS}", flush=True)
        for k in kernels:
            for e in ENGINES:
                out, dt = run_once(e, k)
                if out != run_once.ref.setdefault(k, out):
                    sys.exit(f"*** CHECKSUM MISMATCH in kernel {k} under {e} in round {r + 1} ***")
                times[(k, e)].append(dt)
    med = {key: statistics.median(v) for key, v in times.items()}
    # 3. Start-up of hello-world, interleaved.
    st = {"native": [], "wasmo": [], "wasmtime": []}
    h = os.path.join(OUT, "hello")
    st_cmds = {
        "native": [h],
        "wasmo": [WASMO, "exec", h + ".wasmo"],
        "wasmtime": [sys.executable, WT, "run", h + ".cwasm"],
    }
    py_empty = []
    for _ in range(STARTUP_RUNS):
        for e, c in st_cmds.items():
            t0 = time.perf_counter()
            p = subprocess.run(c, stdout=subprocess.PIPE)
            st[e].append(time.perf_counter() - t0)
            if p.returncode != 0 or p.stdout != b"hello, world\n":
                sys.exit(f"error: hello-world under {e} failed")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import wasmtime"])
        py_empty.append(time.perf_counter() - t0)
    st_med = {e: statistics.median(v) for e, v in st.items()}
    py_med = statistics.median(py_empty)
    report(kernels, med, st_med, py_med)


run_once.ref = {}


def report(kernels, med, st_med, py_med):
    inst = ""
    ipath = os.path.join(OUT, "instantiate_1mib.txt")
    if os.path.exists(ipath):
        with open(ipath) as f:
            inst = f.read().strip()
    lines = []
    w = lines.append
    w("# wasmo benchmarks\n")
    w("Written by `benches/run.sh` (do not edit by hand); rerun it to refresh.\n")
    w("## Machine and versions\n")
    cpu = sh("lscpu | sed -n 's/^Model name: *//p' | head -1")
    w(f"- CPU: {cpu}, "
      f"{os.cpu_count()} logical cores (shared, noisy machine); {platform.system()} {platform.release()}")
    w(f"- wasmo: git {sh('git -C ' + ROOT + ' rev-parse --short HEAD')}"
      f"{' (+ uncommitted changes)' if sh('git -C ' + ROOT + ' status --porcelain') else ''}, `-O2`, guard-pages bounds checks")
    w(f"- clang: {sh('clang-19 --version | head -1')}")
    try:
        import importlib.metadata
        wt_version = importlib.metadata.version("wasmtime")
    except Exception:  # noqa: BLE001 - any failure just means "unknown"
        wt_version = "?"
    w(f"- Wasmtime: PyPI `wasmtime` {wt_version} "
      "(the wasmtime-cli 48 engine via its C API; not a cargo-built `wasmtime-cli`)")
    w(f"- node: {sh('node --version')} (`node:wasi`, preview1)")
    w(f"- runs: {RUNS} per kernel and engine, interleaved round-robin; medians reported\n")
    w("## What is timed\n")
    w("- native, wasmo, wasmo-native (artifact built with `--cpu native`), node: whole-process wall time.")
    w("  wasmo runs a prebuilt `.wasmo` artifact, so compile time is excluded; node compiles at run time (included).")
    w("- Wasmtime: the module is precompiled once (`Module.serialize`); the runner times deserialize + instantiate +")
    w("  `_start` inside the Python process, so compile time AND Python's start-up are excluded")
    w("  (which slightly favours Wasmtime over whole-process wasmo times: a few ms per run).")
    w("- wasm built with `clang-19 --target=wasm32-wasi -O2 -mno-reference-types` (wasmo's decoder is")
    w("  WebAssembly 1.0 only and rejects clang-19's default padded call_indirect table index); native with `clang-19 -O2`.")
    w("- Every engine's stdout (the kernel's checksum) is compared with native's before any time is reported.\n")
    w("## Kernels (seconds, median)\n")
    w("| kernel | native | wasmo | wasmo --cpu native | Wasmtime | node | wasmo/native | wasmo/Wasmtime | wasmo-native/native |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    rn, rw, rnn, rnode = [], [], [], []
    for k in kernels:
        n, wm, wn, wt, nd = (med[(k, e)] for e in ENGINES)
        rn.append(wm / n); rw.append(wm / wt); rnn.append(wn / n); rnode.append(nd / n)
        w(f"| {k} | {n:.3f} | {wm:.3f} | {wn:.3f} | {wt:.3f} | {nd:.3f} | {wm / n:.2f} | {wm / wt:.2f} | {wn / n:.2f} |")
    gw = gmean([med[(k, 'wasmtime')] / med[(k, 'native')] for k in kernels])
    w(f"| **geomean** | | | | | | **{gmean(rn):.2f}** | **{gmean(rw):.2f}** | **{gmean(rnn):.2f}** |\n")
    w(f"Other geometric means vs native: Wasmtime {gw:.2f}, node {gmean(rnode):.2f}.\n")
    w(f"## Start-up (hello-world, whole process, median of {STARTUP_RUNS}, interleaved)\n")
    w("| native | `wasmo exec hello.wasmo` | Wasmtime via Python (precompiled .cwasm) | of which `python3 -c 'import wasmtime'` |")
    w("|---:|---:|---:|---:|")
    w(f"| {st_med['native'] * 1e3:.2f} ms | {st_med['wasmo'] * 1e3:.2f} ms | {st_med['wasmtime'] * 1e3:.2f} ms | {py_med * 1e3:.2f} ms |\n")
    w("The Wasmtime figure is dominated by Python start-up and `import wasmtime`; it is NOT comparable to")
    w("`wasmtime run --allow-precompiled` (not available here). wasmo/native start-up ratio: "
      f"{st_med['wasmo'] / st_med['native']:.2f}.\n")
    if CRASHES:
        w("Runs killed by a signal and retried: " + "; ".join(CRASHES) + ".\n")
    w("## Instantiation of a module with a 1 MiB data segment\n")
    w(inst + "\n" if inst else "not measured (run `cargo bench -p wasmo-benches --bench pipeline -- instantiate_1mib`)\n")
    w("## Targets of issue 5 (default CPU)\n")
    slower = [k for k, r in zip(kernels, rw) if r >= 1.0]
    def yn(b):
        return "MET" if b else "NOT MET"
    w(f"- geomean wasmo/native <= 1.10: {gmean(rn):.2f} -> {yn(gmean(rn) <= 1.10)}")
    w(f"- wasmo faster than Wasmtime on every kernel: {yn(not slower)}"
      + (f" (slower or equal on: {', '.join(slower)})" if slower else ""))
    w(f"- wasmo >= 20% faster than Wasmtime in geomean (ratio <= 0.80): {gmean(rw):.2f} -> {yn(gmean(rw) <= 0.80)}")
    w(f"- hello-world `wasmo exec` <= 2x native: {st_med['wasmo'] / st_med['native']:.2f}x -> "
      f"{yn(st_med['wasmo'] <= 2 * st_med['native'])}")
    w(f"- hello-world faster than `wasmtime run` of a .cwasm: not measurable without wasmtime-cli "
      f"(vs the Python runner: {yn(st_med['wasmo'] < st_med['wasmtime'])}, an unfair comparison)")
    m = re.search(r"\[\S+ \S+ (\S+) (\S+) ", inst)
    if m:
        scale = {"ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3, "s": 1e6}.get(m.group(2))
        us = float(m.group(1)) * scale if scale else float("nan")
        w(f"- instantiation with 1 MiB data segment < 50 us: {us:.1f} us -> {yn(us < 50)}")
    else:
        w("- instantiation with 1 MiB data segment < 50 us: not measured")
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
