//! A fixed number of calls through the embedding API, for instruction
//! counts: `valgrind --tool=callgrind` of two runs that differ only in
//! the count gives the cost of one call, free of set-up and of timing
//! noise (the machine's cores are shared). Module and set-up are
//! `api.rs`'s ([`wasmo_benches::WasmoApi`]).
//!
//! `cargo build --release -p wasmo-benches --example call_count`, then
//! `call_count typed|untyped|wrap N`: `N` calls of `add(i32, i32)`
//! through `TypedFunc::call` or `Func::call`, or one call of a wasm loop
//! making `N` calls of a `Func::wrap` host function. With `--features
//! wasmtime`, `wasmtime-typed|wasmtime-untyped|wasmtime-wrap N` make the
//! same calls through the `wasmtime` crate, on the same module.

use std::hint::black_box;

fn main() -> wasmo::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(kind), Some(Ok(n))) = (args.get(1), args.get(2).map(|n| n.parse::<i32>())) else {
        eprintln!("usage: call_count typed|untyped|wrap N");
        std::process::exit(2);
    };
    #[cfg(feature = "wasmtime")]
    if let Some(kind) = kind.strip_prefix("wasmtime-") {
        let sum = wasmtime_calls(kind, n).unwrap_or_else(|e| {
            eprintln!("wasmtime: {e}");
            std::process::exit(1);
        });
        println!("wasmtime-{kind} x{n}: {sum}");
        return Ok(());
    }
    let wasmo_benches::WasmoApi {
        mut store,
        add,
        call_host,
    } = wasmo_benches::WasmoApi::new()?;
    let mut sum = 0i32;
    match kind.as_str() {
        "typed" => {
            for i in 0..n {
                sum = sum.wrapping_add(add.call(&mut store, (black_box(i), 2))?);
            }
        }
        "untyped" => {
            let f = *add.func();
            let mut r = [wasmo::Val::I32(0)];
            for i in 0..n {
                f.call(
                    &mut store,
                    &[wasmo::Val::I32(black_box(i)), wasmo::Val::I32(2)],
                    &mut r,
                )?;
                sum = sum.wrapping_add(r[0].i32().unwrap_or(0));
            }
        }
        "wrap" => sum = call_host.call(&mut store, black_box(n))?,
        _ => {
            eprintln!("unknown kind {kind}: typed, untyped or wrap");
            std::process::exit(2);
        }
    }
    println!("{kind} x{n}: {sum}");
    Ok(())
}

/// The same calls through the `wasmtime` crate.
#[cfg(feature = "wasmtime")]
fn wasmtime_calls(kind: &str, n: i32) -> wasmtime::Result<i32> {
    let wasmo_benches::WasmtimeApi {
        mut store,
        add,
        call_host,
    } = wasmo_benches::WasmtimeApi::new()?;
    let mut sum = 0i32;
    match kind {
        "typed" => {
            for i in 0..n {
                sum = sum.wrapping_add(add.call(&mut store, (black_box(i), 2))?);
            }
        }
        "untyped" => {
            let f = *add.func();
            let mut r = [wasmtime::Val::I32(0)];
            for i in 0..n {
                f.call(
                    &mut store,
                    &[wasmtime::Val::I32(black_box(i)), wasmtime::Val::I32(2)],
                    &mut r,
                )?;
                sum = sum.wrapping_add(r[0].i32().unwrap_or(0));
            }
        }
        "wrap" => sum = call_host.call(&mut store, black_box(n))?,
        _ => {
            return Err(wasmtime::Error::msg(format!(
                "unknown kind wasmtime-{kind}"
            )))
        }
    }
    Ok(sum)
}
