//! A host function with state: the guest logs numbers and strings through
//! host functions that keep them in the store's data, reading strings out
//! of the calling instance's memory.
//!
//! `cargo run -p wasmo --example host_state`

use wasmo::{Caller, Engine, HostError, Linker, Module, Store};

/// The host's state, one per store.
#[derive(Debug, Default)]
struct Log {
    numbers: Vec<i64>,
    lines: Vec<String>,
}

const WAT: &str = r#"
(module
  (import "log" "number" (func $number (param i64)))
  (import "log" "text" (func $text (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from wasm")
  (func (export "run") (param $n i32)
    (local $i i32)
    (loop $next
      (call $number (i64.extend_i32_u (i32.mul (local.get $i) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (local.get $n))))
    (call $text (i32.const 16) (i32.const 15))))
"#;

fn main() -> wasmo::Result<()> {
    let engine = Engine::default();
    let module = Module::new(&engine, WAT)?;

    let mut linker = Linker::new(&engine);
    linker.func_wrap("log", "number", |mut caller: Caller<'_, Log>, v: i64| {
        caller.data_mut().numbers.push(v);
    })?;
    linker.func_wrap(
        "log",
        "text",
        |mut caller: Caller<'_, Log>, ptr: u32, len: u32| -> Result<(), HostError> {
            let memory = caller
                .memory()
                .ok_or_else(|| HostError::Message("the caller has no memory".into()))?;
            let (bytes, log) = memory.data_and_store_mut(&mut caller);
            let text = bytes
                .get(ptr as usize..ptr as usize + len as usize)
                .ok_or(HostError::Trap(wasmo::TrapCode::MemoryOutOfBounds))?;
            log.lines.push(String::from_utf8_lossy(text).into_owned());
            Ok(())
        },
    )?;

    let mut store = Store::new(&engine, Log::default());
    let instance = linker.instantiate(&mut store, &module)?;
    let run = instance.get_typed_func::<i32, ()>(&store, "run")?;
    run.call(&mut store, 5)?;

    let log = store.into_data();
    println!("numbers: {:?}", log.numbers);
    println!("lines: {:?}", log.lines);
    assert_eq!(log.numbers, [0, 1, 4, 9, 16]);
    assert_eq!(log.lines, ["hello from wasm"]);
    Ok(())
}

#[test]
fn host_state_runs() -> wasmo::Result<()> {
    main()
}
