"""Runs a WASI command under Wasmtime (PyPI `wasmtime`, pinned in .ci/setup)
for tests/tests/wasi_cli.rs: `run_wasmtime.py APP.wasm HOSTDIR GUESTDIR
ARGS...` preopens HOSTDIR as GUESTDIR, passes argv = ["transform", *ARGS],
inherits stdout/stderr and exits with the program's exit code."""
import sys

import wasmtime


def main():
    wasm, host_dir, guest_dir, *args = sys.argv[1:]
    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, wasm)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    store = wasmtime.Store(engine)
    cfg = wasmtime.WasiConfig()
    cfg.argv = ["transform", *args]
    cfg.preopen_dir(host_dir, guest_dir)
    cfg.inherit_stdout()
    cfg.inherit_stderr()
    store.set_wasi(cfg)
    instance = linker.instantiate(store, module)
    try:
        instance.exports(store)["_start"](store)
    except wasmtime.ExitTrap as e:
        sys.exit(e.code)


if __name__ == "__main__":
    main()
