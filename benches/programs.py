"""C programs of realistic size for benches/run.sh (issue 15): Lua 5.4
running benches/programs/bench.lua, SQLite running a query workload, zstd
compressing and decompressing a generated input. Their sources come from
crates.io `-sys` crates, pinned to exact versions and fetched at bench time
by cargo (which checks each crate's checksum against the registry index)
into cargo's own cache; nothing of them is vendored here. Licences: Lua
MIT, SQLite public domain, zstd BSD-3-Clause (dual GPLv2); each crate
keeps its licence files beside the sources it ships.

`python3 benches/programs.py NAME...` builds each program natively
(`clang-19 -O2`), for wasm32-wasi (`-O2`) and for wasm with `-msimd128`,
into target/benches/NAME, NAME.wasm and NAME.simd.wasm, with the same
source files and the same defines in all three builds (`-O2`, as the
kernels). A build whose outputs are newer than its inputs is skipped.

Rule: native and wasm compile the same C code paths: no assembly, no
intrinsics, no CPU dispatch on either side (see the defines below), so the
ratio measures the compilers and runtimes, not two different programs."""
import glob
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "target", "benches")
HERE = os.path.join(ROOT, "benches", "programs")
# crate -> exact version; cargo verifies the checksum of each download.
CRATES = {
    "lua-src": "547.0.0",
    "libsqlite3-sys": "0.30.1",
    "zstd-sys": "2.0.13+zstd.1.5.6",
}


def lua(src):
    d = os.path.join(src["lua-src"], "lua-5.4.7")
    # The core and the libraries lua_main.c opens; not lua.c/luac.c (their
    # own mains), nor the io, os, package, debug and coroutine libraries.
    skip = {"lua.c", "luac.c", "linit.c", "liolib.c", "loslib.c", "loadlib.c", "ldblib.c", "lcorolib.c"}
    files = sorted(f for f in glob.glob(os.path.join(d, "*.c")) if os.path.basename(f) not in skip)
    return {
        "files": files + [os.path.join(HERE, "lua_main.c")],
        "inputs": [os.path.join(HERE, "bench.lua")],
        "flags": ["-I", d, "-I", os.path.join(OUT, "programs"),
                  # No setjmp/longjmp on wasm32-wasi: errors abort (see lua_main.c).
                  "-DLUAI_THROW(L,c)=abort()", "-DLUAI_TRY(L,c,a)={a}", "-Dluai_jmpbuf=int",
                  # table.sort's pivot randomisation reads clock() and time():
                  # off on both sides, for a deterministic run.
                  "-Dl_randomizePivot()=0"],
        # lstate.h needs sig_atomic_t from <signal.h>, which wasi-libc
        # declares only on request; ldo.c includes <setjmp.h>, which
        # wasi-libc lacks, for the jmp_buf that the defines above replace:
        # an empty one stands in (stub_include()).
        "wasm_flags": ["-D_WASI_EMULATED_SIGNAL", "-lwasi-emulated-signal", "-I", stub_include()],
    }


def stub_include():
    """A directory holding an empty setjmp.h, for the wasm build of Lua."""
    d = os.path.join(OUT, "programs", "wasi-stub")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "setjmp.h"), "w") as f:
        f.write("/* empty: Lua's LUAI_THROW/LUAI_TRY are defined to need no jmp_buf */\n")
    return d


def sqlite(src):
    d = os.path.join(src["libsqlite3-sys"], "sqlite3")
    return {
        "files": [os.path.join(d, "sqlite3.c"), os.path.join(d, "wasm32-wasi-vfs.c"),
                  os.path.join(HERE, "sqlite_main.c")],
        "inputs": [],
        "flags": ["-I", d, "-DSQLITE_OS_OTHER=1", "-DSQLITE_THREADSAFE=0", "-DSQLITE_OMIT_LOAD_EXTENSION",
                  "-DSQLITE_TEMP_STORE=3", "-DSQLITE_DEFAULT_MEMSTATUS=0",
                  # wasm32's long double is a 128-bit soft float and x86's
                  # an 80-bit x87 one: both builds use double instead, as
                  # libsqlite3-sys does for wasm32-wasi.
                  "-DLONGDOUBLE_TYPE=double", "-w"],
    }


def zstd(src):
    d = os.path.join(src["zstd-sys"], "zstd", "lib")
    files = []
    for sub in ("common", "compress", "decompress"):
        files += sorted(glob.glob(os.path.join(d, sub, "*.c")))
    return {
        "files": files + [os.path.join(HERE, "zstd_main.c")],
        "inputs": [],
        "flags": ["-I", d, "-I", os.path.join(d, "common"), "-DZSTD_DISABLE_ASM", "-DZSTD_NO_INTRINSICS",
                  "-DDYNAMIC_BMI2=0", "-w"],
    }


PROGRAMS = {"lua": lua, "sqlite": sqlite, "zstd": zstd}


def fetch():
    """{crate: source directory}, fetching the pinned crates once."""
    d = os.path.join(OUT, "programs", "sources")
    os.makedirs(d, exist_ok=True)
    # Build metadata (`+zstd.1.5.6`) is not part of a version requirement.
    deps = "\n".join(f'{c} = {{ version = "={v.partition("+")[0]}", default-features = false }}'
                     for c, v in CRATES.items())
    manifest = (
        '[package]\nname = "wasmo-bench-sources"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n'
        '[lib]\npath = "lib.rs"\n\n[dependencies]\n' + deps +
        # Its own workspace, not a member of wasmo's.
        "\n\n[workspace]\n")
    path = os.path.join(d, "Cargo.toml")
    if not os.path.exists(path) or open(path).read() != manifest:
        with open(path, "w") as f:
            f.write(manifest)
    open(os.path.join(d, "lib.rs"), "a").close()
    subprocess.run(["cargo", "fetch", "--manifest-path", path], check=True)
    meta = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1", "--manifest-path", path],
                                     check=True, stdout=subprocess.PIPE).stdout)
    found = {p["name"]: os.path.dirname(p["manifest_path"]) for p in meta["packages"]
             if CRATES.get(p["name"]) == p["version"]}
    missing = set(CRATES) - set(found)
    if missing:
        sys.exit(f"error: cargo did not fetch {', '.join(sorted(missing))}")
    return found


def embed_lua_script():
    """bench.lua as a C string in target/benches/programs/bench_lua.h."""
    with open(os.path.join(HERE, "bench.lua"), "rb") as f:
        data = f.read()
    body = ",".join(str(b) for b in data)
    text = f"static const char bench_lua[] = {{{body},0}};\n"
    path = os.path.join(OUT, "programs", "bench_lua.h")
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)


def build(name, spec):
    deps = spec["files"] + spec["inputs"] + [__file__]
    newest = max(os.path.getmtime(p) for p in deps)
    base = os.path.join(OUT, name)
    wasm = ["--target=wasm32-wasi", *spec.get("wasm_flags", [])]
    for out, target in [(base, []), (base + ".wasm", wasm), (base + ".simd.wasm", wasm + ["-msimd128"])]:
        if os.path.exists(out) and os.path.getmtime(out) > newest:
            continue
        print(f"== building {os.path.relpath(out, ROOT)}", flush=True)
        if target:
            build_wasm(target, spec, out)
        else:
            subprocess.run(["clang-19", "-O2", *spec["flags"], *spec["files"], "-o", out, "-lm"], check=True)


def build_wasm(target, spec, out):
    """What `clang-19 -O2 ... -o out` gives (clang runs binaryen's `wasm-opt
    -O2` on its output when one is on PATH), plus a name section, so that
    profiles (`WASMO_PERF_MAP`, Wasmtime's perfmap) name functions.

    wasm-opt drops the name section unless given `-g`, and `-g` changes the
    code it emits (it keeps the libc's DWARF and optimises around it), so the
    names come from its `--symbolmap` instead, which leaves the code
    byte-identical to clang's own pipeline. Without wasm-opt on PATH this is
    clang's output as it is. clang-19's `--no-wasm-opt` also skips the link,
    hence the separate compile and link (without `-O`, which is what makes
    clang run wasm-opt)."""
    tmp = out + ".objs"
    os.makedirs(tmp, exist_ok=True)
    # Libraries go to the link only, everything else to the compiles only.
    libs = [a for a in target if a.startswith("-l")]
    cflags = [a for a in target if not a.startswith("-l")]
    objs = []
    for i, f in enumerate(spec["files"]):
        obj = os.path.join(tmp, f"{i}.o")
        subprocess.run(["clang-19", *cflags, "-O2", *spec["flags"], "-c", f, "-o", obj], check=True)
        objs.append(obj)
    raw = os.path.join(tmp, "linked.wasm")
    subprocess.run(["clang-19", "--target=wasm32-wasi", *objs, "-o", raw, *libs, "-lm"], check=True)
    wasm_opt = shutil.which("wasm-opt")
    if wasm_opt is None:
        shutil.move(raw, out)
    else:
        symbols = os.path.join(tmp, "symbols.txt")
        subprocess.run([wasm_opt, raw, "-O2", f"--symbolmap={symbols}", "-o", out], check=True)
        with open(symbols) as f:
            names = [line.rstrip("\n").split(":", 1) for line in f if line.strip()]
        with open(out, "ab") as f:
            f.write(name_section((int(i), n) for i, n in names))
    shutil.rmtree(tmp)


def leb128(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def name_section(functions):
    """A custom section "name" holding only the function-names subsection."""
    def vec_name(s):
        b = s.encode()
        return leb128(len(b)) + b
    entries = sorted(functions)
    sub = leb128(len(entries)) + b"".join(leb128(i) + vec_name(n) for i, n in entries)
    body = vec_name("name") + bytes([1]) + leb128(len(sub)) + sub
    return bytes([0]) + leb128(len(body)) + body


def main():
    names = sys.argv[1:] or list(PROGRAMS)
    unknown = [n for n in names if n not in PROGRAMS]
    if unknown:
        sys.exit(f"error: unknown program {', '.join(unknown)} (known: {', '.join(PROGRAMS)})")
    src = fetch()
    embed_lua_script()
    for n in names:
        build(n, PROGRAMS[n](src))


if __name__ == "__main__":
    main()
