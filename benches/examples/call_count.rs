//! A fixed number of calls through the embedding API, for instruction
//! counts: `valgrind --tool=callgrind` of two runs that differ only in
//! the count gives the cost of one call, free of set-up and of timing
//! noise (the machine's cores are shared). Module and set-up are
//! `api.rs`'s ([`wasmo_benches::WasmoApi`]).
//!
//! `cargo build --release -p wasmo-benches --example call_count`, then
//! `call_count typed|untyped|wrap N`: `N` calls of `add(i32, i32)`
//! through `TypedFunc::call` or `Func::call`, or one call of a wasm loop
//! making `N` calls of a `Func::wrap` host function.

use std::hint::black_box;

fn main() -> wasmo::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(kind), Some(Ok(n))) = (args.get(1), args.get(2).map(|n| n.parse::<i32>())) else {
        eprintln!("usage: call_count typed|untyped|wrap N");
        std::process::exit(2);
    };
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
