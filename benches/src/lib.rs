//! wasmo's micro-benchmarks live in `benches/`; this library holds only
//! what several of them share.
//!
//! Rule: benchmarks measure, they do not test; CI builds them but never
//! times them, so nothing here may be needed for correctness.

/// The module of the call-overhead benchmarks (`benches/api.rs`, and
/// `examples/call_count.rs` for instruction counts): a trivial export
/// for host-to-wasm calls and a loop calling an imported host function
/// for wasm-to-host calls.
pub const API_WAT: &str = r#"
(module
  (import "host" "inc" (func $inc (param i32) (result i32)))
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))
  (func (export "call_host") (param $n i32) (result i32)
    (local $acc i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (call $inc (local.get $acc)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $acc)))
"#;

/// wasmo's side of the call-overhead benchmarks: a store with
/// [`API_WAT`] instantiated (`host.inc` a `Func::wrap` closure adding 1)
/// and its `add` and `call_host` exports, whose results are checked
/// before anything is measured.
#[derive(Debug)]
pub struct WasmoApi {
    pub store: wasmo::Store<()>,
    pub add: wasmo::TypedFunc<(i32, i32), i32>,
    pub call_host: wasmo::TypedFunc<i32, i32>,
}

impl WasmoApi {
    /// Compiles, links and instantiates [`API_WAT`].
    pub fn new() -> wasmo::Result<WasmoApi> {
        let engine = wasmo::Engine::default();
        let module = wasmo::Module::new(&engine, API_WAT)?;
        let mut linker = wasmo::Linker::new(&engine);
        linker.func_wrap("host", "inc", |x: i32| x.wrapping_add(1))?;
        let mut store = wasmo::Store::new(&engine, ());
        let instance = linker.instantiate(&mut store, &module)?;
        let add = instance.get_typed_func::<(i32, i32), i32>(&store, "add")?;
        let call_host = instance.get_typed_func::<i32, i32>(&store, "call_host")?;
        if add.call(&mut store, (40, 2))? != 42 || call_host.call(&mut store, 1000)? != 1000 {
            return Err(wasmo::Error::Incompatible {
                what: "wrong results".into(),
            });
        }
        Ok(WasmoApi {
            store,
            add,
            call_host,
        })
    }
}

/// The `wasmtime` crate's side of the call-overhead benchmarks, set up as
/// [`WasmoApi`] is: [`API_WAT`] instantiated through a `Linker` with
/// `host.inc` a `func_wrap` closure adding 1 (Wasmtime's default
/// configuration: Cranelift, host CPU features), results checked.
#[cfg(feature = "wasmtime")]
#[expect(
    missing_debug_implementations,
    reason = "wasmtime::TypedFunc has no Debug"
)]
pub struct WasmtimeApi {
    pub store: wasmtime::Store<()>,
    pub add: wasmtime::TypedFunc<(i32, i32), i32>,
    pub call_host: wasmtime::TypedFunc<i32, i32>,
}

#[cfg(feature = "wasmtime")]
impl WasmtimeApi {
    /// Compiles, links and instantiates [`API_WAT`] with Wasmtime.
    pub fn new() -> wasmtime::Result<WasmtimeApi> {
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, wat::parse_str(API_WAT)?)?;
        let mut linker = wasmtime::Linker::new(&engine);
        linker.func_wrap("host", "inc", |x: i32| x.wrapping_add(1))?;
        let mut store = wasmtime::Store::new(&engine, ());
        let instance = linker.instantiate(&mut store, &module)?;
        let add = instance.get_typed_func::<(i32, i32), i32>(&mut store, "add")?;
        let call_host = instance.get_typed_func::<i32, i32>(&mut store, "call_host")?;
        if add.call(&mut store, (40, 2))? != 42 || call_host.call(&mut store, 1000)? != 1000 {
            return Err(wasmtime::Error::msg("wrong results"));
        }
        Ok(WasmtimeApi {
            store,
            add,
            call_host,
        })
    }
}
