"""Wasmtime runner for benches/run.sh (PyPI `wasmtime`, the same engine as
wasmtime-cli 48). `run_wasmtime.py compile APP.wasm OUT.cwasm` compiles once
and serializes; `run_wasmtime.py run OUT.cwasm [TIMEFILE]` deserializes the
precompiled module (no compilation), runs `_start` with inherited stdio and,
if TIMEFILE is given, writes there the seconds spent from deserialize to the
end of `_start`, so Python's own start-up can be excluded.

Rule: never compile in `run` (compile time must stay excluded, as it is for
wasmo's prebuilt artifacts)."""
import sys
import time

import wasmtime


def main():
    cmd = sys.argv[1]
    engine = wasmtime.Engine()
    if cmd == "compile":
        module = wasmtime.Module.from_file(engine, sys.argv[2])
        with open(sys.argv[3], "wb") as f:
            f.write(module.serialize())
        return
    t0 = time.perf_counter()
    module = wasmtime.Module.deserialize_file(engine, sys.argv[2])
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    store = wasmtime.Store(engine)
    cfg = wasmtime.WasiConfig()
    cfg.argv = ["app"]
    cfg.inherit_stdout()
    cfg.inherit_stderr()
    store.set_wasi(cfg)
    instance = linker.instantiate(store, module)
    code = 0
    try:
        instance.exports(store)["_start"](store)
    except wasmtime.ExitTrap as e:
        code = e.code
    sys.stdout.flush()
    elapsed = time.perf_counter() - t0
    if len(sys.argv) > 3:
        with open(sys.argv[3], "w") as f:
            f.write(f"{elapsed}\n")
    sys.exit(code)


if __name__ == "__main__":
    main()
