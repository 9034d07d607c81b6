//! A WASI program with a preopen: the guest writes a file into the
//! directory the host preopened for it (as fd 3, named `/out`), and
//! prints to stdout; the host then reads the file back.
//!
//! `cargo run -p wasmo --example wasi_preopen`

use wasmo::wasi::{Preopen, WasiConfig, WasiCtx};
use wasmo::{Engine, Linker, Module, Store};

/// What a store holds: the WASI context and whatever else the host needs.
struct Host {
    wasi: WasiCtx,
}

const WAT: &str = r#"
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "result.txt")
  (data (i32.const 16) "written by wasm\n")
  (data (i32.const 64) "\10\00\00\00\10\00\00\00")   ;; iov: 16 bytes at 16
  (data (i32.const 96) "\70\00\00\00\0d\00\00\00")   ;; iov: 13 bytes at 112
  (data (i32.const 112) "wasi says hi\n")
  (func $check (param $errno i32)
    (if (local.get $errno) (then (call $proc_exit (i32.add (i32.const 100) (local.get $errno))))))
  (func (export "_start")
    ;; path_open(fd 3, no dirflags, "result.txt", O_CREAT|O_TRUNC,
    ;;           rights FD_WRITE, no inheriting rights, no fdflags, &fd)
    (call $check (call $path_open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 10)
      (i32.const 9) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 80)))
    (call $check (call $fd_write (i32.load (i32.const 80)) (i32.const 64) (i32.const 1) (i32.const 84)))
    (call $check (call $fd_close (i32.load (i32.const 80))))
    (call $check (call $fd_write (i32.const 1) (i32.const 96) (i32.const 1) (i32.const 84)))))
"#;

fn main() -> wasmo::Result<()> {
    let dir = tempfile::tempdir().map_err(|source| wasmo::Error::Io {
        path: std::env::temp_dir(),
        source,
    })?;

    let engine = Engine::default();
    let module = Module::new(&engine, WAT)?;
    let mut linker = Linker::new(&engine);
    linker.define_wasi(|host: &mut Host| &mut host.wasi)?;

    // The host directory, seen by the guest as `/out` (fd 3).
    let preopen = Preopen {
        host: dir.path().to_owned(),
        guest: "/out".into(),
        read_only: false,
    };
    let wasi = WasiCtx::new(WasiConfig {
        args: vec!["wasi_preopen".into()],
        env: Vec::new(),
        preopens: vec![preopen],
    })?;
    let mut store = Store::new(&engine, Host { wasi });
    let instance = linker.instantiate(&mut store, &module)?;
    let start = instance.get_typed_func::<(), ()>(&store, "_start")?;
    match start.call(&mut store, ()) {
        Ok(()) => {}
        // `proc_exit(0)` is a normal end too.
        Err(wasmo::CallError::Exit(0)) => {}
        Err(e) => return Err(e.into()),
    }

    let path = dir.path().join("result.txt");
    let written = std::fs::read_to_string(&path).map_err(|source| wasmo::Error::Io {
        path: path.clone(),
        source,
    })?;
    print!("{} holds: {written}", path.display());
    assert_eq!(written, "written by wasm\n");
    Ok(())
}

#[test]
fn wasi_preopen_runs() -> wasmo::Result<()> {
    main()
}
