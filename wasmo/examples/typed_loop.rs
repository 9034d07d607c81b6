//! A typed call loop: the host calls an exported wasm function many times
//! through a `TypedFunc`, whose signature was checked once, so each call
//! only moves raw values.
//!
//! `cargo run -p wasmo --example typed_loop`

use wasmo::{Engine, Linker, Module, Store};

const WAT: &str = r#"
(module
  (func (export "collatz_steps") (param $n i64) (result i32)
    (local $steps i32)
    (block $done
      (loop $step
        (br_if $done (i64.le_u (local.get $n) (i64.const 1)))
        (local.set $n
          (if (result i64) (i64.eqz (i64.and (local.get $n) (i64.const 1)))
            (then (i64.shr_u (local.get $n) (i64.const 1)))
            (else (i64.add (i64.mul (local.get $n) (i64.const 3)) (i64.const 1)))))
        (local.set $steps (i32.add (local.get $steps) (i32.const 1)))
        (br $step)))
    (local.get $steps)))
"#;

/// The same function in Rust, to check the wasm one against.
fn collatz_steps(mut n: u64) -> u32 {
    let mut steps = 0;
    while n > 1 {
        n = if n.is_multiple_of(2) {
            n / 2
        } else {
            3 * n + 1
        };
        steps += 1;
    }
    steps
}

fn main() -> wasmo::Result<()> {
    let engine = Engine::default();
    let module = Module::new(&engine, WAT)?;
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &module)?;
    let steps = instance.get_typed_func::<u64, u32>(&store, "collatz_steps")?;

    let mut longest = (0, 0);
    for n in 1..10_000u64 {
        let s = steps.call(&mut store, n)?;
        assert_eq!(s, collatz_steps(n), "n = {n}");
        if s > longest.1 {
            longest = (n, s);
        }
    }
    println!(
        "below 10000, {} takes the most steps: {}",
        longest.0, longest.1
    );
    assert_eq!(longest, (6171, 261));
    Ok(())
}

#[test]
fn typed_loop_runs() -> wasmo::Result<()> {
    main()
}
