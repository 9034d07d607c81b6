//! Two linked instances: a "library" instance exports a memory, a global
//! and functions; a second module imports them through the linker and
//! works on the library's memory.
//!
//! `cargo run -p wasmo --example linked_instances`

use wasmo::{Engine, Linker, Module, Store, Val};

const LIBRARY: &str = r#"
(module
  (memory (export "memory") 1)
  (global $calls (export "calls") (mut i32) (i32.const 0))
  (func (export "store_square") (param $addr i32) (param $v i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.store (local.get $addr) (i32.mul (local.get $v) (local.get $v)))))
"#;

const APP: &str = r#"
(module
  (import "lib" "memory" (memory 1))
  (import "lib" "store_square" (func $store_square (param i32 i32)))
  (func (export "fill") (param $n i32) (result i32)
    (local $i i32) (local $sum i32)
    (loop $next
      (call $store_square (i32.mul (local.get $i) (i32.const 4)) (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (local.get $n))))
    (local.set $i (i32.const 0))
    (loop $add
      (local.set $sum (i32.add (local.get $sum) (i32.load (i32.mul (local.get $i) (i32.const 4)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $add (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $sum)))
"#;

fn main() -> wasmo::Result<()> {
    let engine = Engine::default();
    let library = Module::new(&engine, LIBRARY)?;
    let app = Module::new(&engine, APP)?;

    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let lib = linker.instantiate(&mut store, &library)?;
    linker.instance(&store, "lib", lib)?;
    let app = linker.instantiate(&mut store, &app)?;

    let fill = app.get_typed_func::<i32, i32>(&store, "fill")?;
    let sum = fill.call(&mut store, 10)?;
    println!("sum of squares below 10: {sum}");
    assert_eq!(sum, (0..10).map(|i| i * i).sum::<i32>());

    // The app wrote into the library's memory, and the library counted.
    let memory = lib
        .get_memory(&store, "memory")
        .ok_or(wasmo::CallError::UnknownExport("memory".into()))?;
    let mut word = [0u8; 4];
    memory.read(&store, 9 * 4, &mut word)?;
    assert_eq!(i32::from_le_bytes(word), 81);
    let calls = lib
        .get_global(&store, "calls")
        .ok_or(wasmo::CallError::UnknownExport("calls".into()))?;
    assert!(matches!(calls.get(&store), Val::I32(10)));
    Ok(())
}

#[test]
fn linked_instances_run() -> wasmo::Result<()> {
    main()
}
