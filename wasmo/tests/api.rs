//! The embedding API end to end: modules compiled at run time, loaded back
//! from their artifacts, linked, and called through typed and untyped
//! paths. Each test is named after the issue it covers.

use wasmo::{
    BoundsChecks, CallError, Caller, Config, Engine, Error, ExternRef, Func, HostError, Linker,
    Memory, MemoryType, Module, Store, TrapCode, Val, ValType, V128,
};

const VALUES: &str = r#"
(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "swap") (param i64 f64) (result f64 i64) (local.get 1) (local.get 0))
  (func (export "f32_id") (param f32) (result f32) (local.get 0))
  (func (export "v128_id") (param v128) (result v128) (local.get 0))
  (func (export "many") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 9)))
  (func (export "trap") (unreachable)))
"#;

fn values(engine: &Engine) -> wasmo::Result<(Store<()>, wasmo::Instance)> {
    let module = Module::new(engine, VALUES)?;
    let mut store = Store::new(engine, ());
    let instance = Linker::new(engine).instantiate(&mut store, &module)?;
    Ok((store, instance))
}

#[test]
fn issue14_typed_calls_move_every_value_type() -> wasmo::Result<()> {
    let engine = Engine::default();
    let (mut store, instance) = values(&engine)?;
    let add = instance.get_typed_func::<(i32, i32), i32>(&store, "add")?;
    assert_eq!(add.call(&mut store, (i32::MAX, 1))?, i32::MIN);
    let swap = instance.get_typed_func::<(i64, f64), (f64, i64)>(&store, "swap")?;
    assert_eq!(swap.call(&mut store, (-7, 2.5))?, (2.5, -7));
    // NaN payloads survive: floats travel as bits.
    let f32_id = instance.get_typed_func::<f32, f32>(&store, "f32_id")?;
    let nan = f32::from_bits(0x7fa0_0001);
    assert_eq!(f32_id.call(&mut store, nan)?.to_bits(), 0x7fa0_0001);
    let v128_id = instance.get_typed_func::<V128, V128>(&store, "v128_id")?;
    let v = V128::from(0x0011_2233_4455_6677_8899_aabb_ccdd_eeffu128);
    assert_eq!(v128_id.call(&mut store, v)?, v);
    let many = instance.get_typed_func::<(i32, i32, i32, i32, i32, i32, i32, i32, i32, i32), i32>(
        &store, "many",
    )?;
    assert_eq!(many.call(&mut store, (1, 0, 0, 0, 0, 0, 0, 0, 0, 41))?, 42);
    Ok(())
}

#[test]
fn issue14_typed_signature_is_checked_once_at_typed() -> wasmo::Result<()> {
    let engine = Engine::default();
    let (store, instance) = values(&engine)?;
    let err = instance
        .get_typed_func::<(i32, i64), i32>(&store, "add")
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("function has type (func (param i32 i32) (result i32)), not the requested (func (param i32 i64) (result i32))")
    );
    let missing = instance.get_typed_func::<(), ()>(&store, "nope").err();
    assert!(matches!(missing, Some(CallError::UnknownExport(n)) if n == "nope"));
    Ok(())
}

#[test]
fn issue14_typed_calls_trap_and_check_the_store() -> wasmo::Result<()> {
    let engine = Engine::default();
    let (mut store, instance) = values(&engine)?;
    let trap = instance.get_typed_func::<(), ()>(&store, "trap")?;
    match trap.call(&mut store, ()) {
        Err(CallError::Trap(t)) => assert_eq!(t.code, TrapCode::UnreachableCodeReached),
        other => panic!("expected a trap, got {other:?}"),
    }
    // The instance stays usable.
    let add = instance.get_typed_func::<(i32, i32), i32>(&store, "add")?;
    assert_eq!(add.call(&mut store, (1, 2))?, 3);
    let mut other = Store::new(&engine, ());
    assert!(matches!(
        add.call(&mut other, (1, 2)),
        Err(CallError::WrongStore("function"))
    ));
    Ok(())
}

#[test]
fn issue14_func_wrap_host_functions_with_state_traps_and_panics() -> wasmo::Result<()> {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
             (import "h" "acc" (func $acc (param i64 f32) (result i64)))
             (import "h" "fail" (func $fail (param i32)))
             (func (export "run") (param i64) (result i64)
               (call $acc (local.get 0) (f32.const 1.5)))
             (func (export "fail") (param i32) (call $fail (local.get 0))))"#,
    )?;
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("h", "acc", |mut c: Caller<'_, i64>, v: i64, f: f32| {
            *c.data_mut() += v;
            *c.data() + f as i64
        })?
        .func_wrap("h", "fail", |how: i32| -> Result<(), HostError> {
            match how {
                0 => Err(HostError::Trap(TrapCode::IntegerDivisionByZero)),
                1 => Err(HostError::Exit(3)),
                _ => panic!("host panic {how}"),
            }
        })?;
    let mut store = Store::new(&engine, 10i64);
    let instance = linker.instantiate(&mut store, &module)?;
    let run = instance.get_typed_func::<i64, i64>(&store, "run")?;
    assert_eq!(run.call(&mut store, 5)?, 16);
    assert_eq!(*store.data(), 15);
    let fail = instance.get_typed_func::<i32, ()>(&store, "fail")?;
    match fail.call(&mut store, 0) {
        Err(CallError::Trap(t)) => {
            assert_eq!(t.code, TrapCode::IntegerDivisionByZero);
            assert!(!t.backtrace.is_empty(), "a host trap has the wasm frames");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(matches!(fail.call(&mut store, 1), Err(CallError::Exit(3))));
    match fail.call(&mut store, 2) {
        Err(CallError::Host(m)) => assert_eq!(m, "host function panicked: host panic 2"),
        other => panic!("expected a host error, got {other:?}"),
    }
    assert_eq!(run.call(&mut store, 1)?, 17);
    Ok(())
}

#[test]
fn issue14_func_wrap_called_from_the_host_and_reentrantly() -> wasmo::Result<()> {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
             (import "h" "again" (func $again (param i32) (result i32)))
             (func (export "down") (param i32) (result i32)
               (if (result i32) (i32.eqz (local.get 0))
                 (then (i32.const 0))
                 (else (i32.add (i32.const 1)
                   (call $again (i32.sub (local.get 0) (i32.const 1))))))))"#,
    )?;
    let mut store = Store::new(&engine, None::<wasmo::TypedFunc<i32, i32>>);
    // host -> wasm -> host -> wasm ...: each host frame makes its own
    // borrow of the store from the caller.
    let again = Func::wrap(
        &mut store,
        |mut c: Caller<'_, Option<wasmo::TypedFunc<i32, i32>>>, n: i32| match *c.data() {
            Some(down) => down
                .call(&mut c, n)
                .map_err(|e| HostError::Message(e.to_string())),
            None => Err(HostError::Message("not linked".into())),
        },
    );
    assert_eq!(again.ty(&store).params, [ValType::I32]);
    let mut linker = Linker::new(&engine);
    linker.define(&store, "h", "again", again)?;
    let instance = linker.instantiate(&mut store, &module)?;
    let down = instance.get_typed_func::<i32, i32>(&store, "down")?;
    *store.data_mut() = Some(down);
    assert_eq!(down.call(&mut store, 50)?, 50);
    // The host function called directly, without wasm below it.
    let mut results = [Val::I32(0)];
    again.call(&mut store, &[Val::I32(3)], &mut results)?;
    assert!(matches!(results[0], Val::I32(3)));
    Ok(())
}

#[test]
fn issue14_modules_serialize_and_deserialize() -> wasmo::Result<()> {
    let engine = Engine::default();
    let module = Module::new(&engine, VALUES)?;
    let bytes = module.serialize()?;
    let back = Module::deserialize(&engine, &bytes)?;
    assert_eq!(back.serialize()?, bytes);
    assert_eq!(
        back.exports().map(|e| e.name).collect::<Vec<_>>(),
        ["add", "swap", "f32_id", "v128_id", "many", "trap"]
    );
    // From a file: an artifact, or wasm text compiled on the way.
    let dir = tempfile::tempdir().map_err(|source| Error::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let art = dir.path().join("values.wasmo");
    let wat = dir.path().join("values.wat");
    for (path, bytes) in [(&art, &bytes[..]), (&wat, VALUES.as_bytes())] {
        std::fs::write(path, bytes).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
    }
    for path in [&art, &wat] {
        let m = Module::from_file(&engine, path)?;
        let mut store = Store::new(&engine, ());
        let i = Linker::new(&engine).instantiate(&mut store, &m)?;
        let add = i.get_typed_func::<(i32, i32), i32>(&store, "add")?;
        assert_eq!(add.call(&mut store, (2, 2))?, 4);
    }
    // A corrupted artifact is the loader's error, not a crash.
    let mut bad = bytes.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(matches!(
        Module::deserialize(&engine, &bad),
        Err(Error::Load(_))
    ));
    assert!(matches!(
        Module::deserialize(&engine, &bytes[..10]),
        Err(Error::Load(_))
    ));
    Ok(())
}

#[test]
fn issue14_engine_configuration_reaches_artifacts() -> wasmo::Result<()> {
    let explicit = Engine::new(
        Config::new()
            .bounds_checks(BoundsChecks::Explicit)
            .opt_level(0),
    );
    let module = Module::new(&explicit, VALUES)?;
    assert_eq!(module.header().bounds_checks, BoundsChecks::Explicit);
    assert_eq!(module.header().opt_level, 0);
    let bytes = module.serialize()?;
    match Module::deserialize(&Engine::default(), &bytes) {
        Err(Error::Incompatible { what }) => assert!(what.contains("Explicit"), "{what}"),
        other => panic!("expected an incompatible-engine error, got {other:?}"),
    }
    Ok(())
}

#[test]
fn issue14_store_takes_its_engine_and_its_stack_size() {
    let deep = Engine::new(Config::new().max_wasm_stack(8 << 20));
    let store = Store::new(&deep, ());
    assert!(Engine::same(store.engine(), &deep));
    assert_eq!(store.wasm_stack_size(), 8 << 20);
    // Per engine, not process-wide: a default engine's store keeps the
    // loader's default.
    let plain = Store::new(&Engine::default(), ());
    assert_eq!(
        plain.wasm_stack_size(),
        wasmo_loader::DEFAULT_WASM_STACK_SIZE
    );
    assert_eq!(store.into_data(), ());
}

#[test]
fn issue14_linker_definitions_and_errors() -> wasmo::Result<()> {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module (import "env" "f" (func)) (import "env" "mem" (memory 1)))"#,
    )?;
    let imports: Vec<String> = module
        .imports()
        .map(|i| format!("{}.{}: {}", i.module, i.name, i.ty))
        .collect();
    assert_eq!(imports, ["env.f: (func)", "env.mem: (memory 1)"]);
    let mut linker: Linker<()> = Linker::new(&engine);
    linker.func_wrap("env", "f", || {})?;
    assert!(matches!(
        linker.func_wrap("env", "f", || {}),
        Err(Error::AlreadyDefined { .. })
    ));
    linker.allow_shadowing(true).func_wrap("env", "f", || {})?;
    let mut store = Store::new(&engine, ());
    // The memory is missing: the loader's error names the import.
    let err = linker
        .instantiate(&mut store, &module)
        .err()
        .map(|e| e.to_string());
    assert_eq!(err.as_deref(), Some("unknown import `env.mem`"));
    let mem = Memory::new(
        &mut store,
        MemoryType {
            limits: wasmo::Limits {
                min: 1,
                max: Some(3),
            },
            memory64: false,
            shared: false,
        },
    )?;
    linker.define(&store, "env", "mem", mem)?;
    linker.instantiate(&mut store, &module)?;
    assert!(matches!(
        linker.get(&mut store, "env", "f"),
        Some(wasmo::Extern::Func(_))
    ));
    assert!(linker.get(&mut store, "env", "g").is_none());
    Ok(())
}

#[test]
fn issue14_memory_access_stays_sound_across_growth() -> wasmo::Result<()> {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module (memory (export "m") 1 4)
             (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
             (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0))))"#,
    )?;
    let mut store = Store::new(&engine, ());
    let i = Linker::new(&engine).instantiate(&mut store, &module)?;
    let m = i
        .get_memory(&store, "m")
        .ok_or(CallError::UnknownExport("m".into()))?;
    assert_eq!(m.data(&store).len(), 65536);
    let grow = i.get_typed_func::<i32, i32>(&store, "grow")?;
    assert_eq!(grow.call(&mut store, 1)?, 1);
    // A slice taken after the growth sees the new length; one taken
    // before cannot be used across the call (the borrow checker refuses
    // it: compile_fail doctest on `Store`).
    let bytes = m.data_mut(&mut store);
    assert_eq!(bytes.len(), 2 * 65536);
    bytes[65536 + 7] = 99;
    let load = i.get_typed_func::<i32, i32>(&store, "load")?;
    assert_eq!(load.call(&mut store, 65536 + 7)?, 99);
    assert_eq!(m.grow(&mut store, 2), Some(2));
    assert_eq!(m.grow(&mut store, 1), None);
    m.write(&mut store, 4 * 65536 - 1, &[5])?;
    assert!(m.write(&mut store, 4 * 65536, &[5]).is_err());
    Ok(())
}

const REFS: &str = r#"
(module
  (import "host" "keep" (func $keep (param externref) (result externref)))
  (import "host" "pick" (func $pick (param funcref i32) (result funcref)))
  (table $t 1 funcref)
  (elem declare func $double)
  (func $double (export "double") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func (export "ext_id") (param externref) (result externref) (call $keep (local.get 0)))
  (func (export "is_null") (param externref) (result i32) (ref.is_null (local.get 0)))
  (func (export "get_double") (result funcref) (ref.func $double))
  (func (export "call_ref") (param funcref i32) (result i32)
    (table.set $t (i32.const 0) (local.get 0))
    (call_indirect $t (param i32) (result i32) (local.get 1) (i32.const 0)))
  (func (export "through_host") (param funcref i32) (result funcref)
    (call $pick (local.get 0) (local.get 1))))
"#;

#[test]
fn issue14_typed_funcref_and_externref_values() -> wasmo::Result<()> {
    let engine = Engine::default();
    let module = Module::new(&engine, REFS)?;
    let mut linker = Linker::new(&engine);
    // Host closures take and return references as typed values; the store
    // counts the externrefs the host saw.
    linker.func_wrap(
        "host",
        "keep",
        |mut caller: Caller<'_, u32>, r: Option<ExternRef>| {
            if r.is_some() {
                *caller.data_mut() += 1;
            }
            r
        },
    )?;
    linker.func_wrap(
        "host",
        "pick",
        |f: Option<Func>, keep: i32| {
            if keep != 0 {
                f
            } else {
                None
            }
        },
    )?;
    let mut store = Store::new(&engine, 0u32);
    let instance = linker.instantiate(&mut store, &module)?;

    let ext_id =
        instance.get_typed_func::<Option<ExternRef>, Option<ExternRef>>(&store, "ext_id")?;
    let obj = ExternRef::new(42u32);
    let back = ext_id.call(&mut store, Some(obj.clone()))?;
    assert!(back.as_ref().is_some_and(|b| b.ptr_eq(&obj)));
    assert_eq!(
        back.and_then(|b| b.data().downcast_ref::<u32>().copied()),
        Some(42)
    );
    assert!(ext_id.call(&mut store, None)?.is_none());
    assert_eq!(*store.data(), 1);
    let is_null = instance.get_typed_func::<Option<ExternRef>, i32>(&store, "is_null")?;
    assert_eq!(is_null.call(&mut store, None)?, 1);
    assert_eq!(is_null.call(&mut store, Some(obj))?, 0);

    // A funcref from wasm is the exported function itself, callable typed.
    let double = instance.get_func(&store, "double");
    let get_double = instance.get_typed_func::<(), Option<Func>>(&store, "get_double")?;
    let f = get_double.call(&mut store, ())?;
    assert_eq!(f, double);
    let f = f.ok_or(Error::Call(CallError::Host("no funcref".into())))?;
    assert_eq!(f.typed::<i32, i32>(&store)?.call(&mut store, 21)?, 42);
    // And back into wasm, as an argument and through a host function.
    let call_ref = instance.get_typed_func::<(Option<Func>, i32), i32>(&store, "call_ref")?;
    assert_eq!(call_ref.call(&mut store, (Some(f), 5))?, 10);
    match call_ref.call(&mut store, (None, 5)) {
        Err(CallError::Trap(_)) => {}
        other => panic!("calling a null funcref must trap, got {other:?}"),
    }
    let through_host =
        instance.get_typed_func::<(Option<Func>, i32), Option<Func>>(&store, "through_host")?;
    assert_eq!(through_host.call(&mut store, (Some(f), 1))?, Some(f));
    assert_eq!(through_host.call(&mut store, (Some(f), 0))?, None);
    // The signature check sees reference types.
    assert!(instance
        .get_typed_func::<Option<ExternRef>, Option<Func>>(&store, "ext_id")
        .is_err());
    Ok(())
}

#[test]
fn issue14_typed_host_funcref_is_refused_with_a_message() -> wasmo::Result<()> {
    let engine = Engine::default();
    let module = Module::new(&engine, REFS)?;
    let mut linker = Linker::new(&engine);
    linker.func_wrap("host", "keep", |r: Option<ExternRef>| r)?;
    linker.func_wrap("host", "pick", |f: Option<Func>, _: i32| f)?;
    let mut store = Store::new(&engine, 0u32);
    let instance = linker.instantiate(&mut store, &module)?;
    let host = Func::wrap(&mut store, |x: i32| x);
    let call_ref = instance.get_typed_func::<(Option<Func>, i32), i32>(&store, "call_ref")?;
    match call_ref.call(&mut store, (Some(host), 5)) {
        Err(CallError::Host(m)) => assert!(m.contains("host function"), "{m}"),
        other => panic!("a host funcref must be refused, got {other:?}"),
    }
    // A host closure that returns a host function fails its call, also
    // from the host: its results go through raw slots.
    let give_host = Func::wrap(&mut store, move || Some(host));
    assert_eq!(give_host.ty(&store).results, [ValType::FuncRef]);
    match give_host
        .typed::<(), Option<Func>>(&store)?
        .call(&mut store, ())
    {
        Err(CallError::Host(m)) => assert!(m.contains("host function"), "{m}"),
        other => panic!("a host funcref result must be refused, got {other:?}"),
    }
    Ok(())
}

#[test]
fn issue14_host_function_as_funcref_value() -> wasmo::Result<()> {
    let engine = Engine::default();
    // Importing an (i32) -> i32 function gives the store a wasm-callable
    // entry for host functions of that type.
    let module = Module::new(
        &engine,
        r#"(module
          (import "host" "inc" (func (param i32) (result i32)))
          (table $t 1 funcref)
          (func (export "call_ref") (param funcref i32) (result i32)
            (table.set $t (i32.const 0) (local.get 0))
            (call_indirect $t (param i32) (result i32) (local.get 1) (i32.const 0)))
          (func (export "wrong_type") (param funcref) (result i64)
            (table.set $t (i32.const 0) (local.get 0))
            (call_indirect $t (result i64) (i32.const 0)))
          (func (export "id") (param funcref) (result funcref) (local.get 0)))"#,
    )?;
    let mut linker = Linker::new(&engine);
    linker.func_wrap("host", "inc", |x: i32| x + 1)?;
    let mut store = Store::new(&engine, 0u32);
    // Before any such module is instantiated, a host funcref is refused.
    let triple = Func::wrap(&mut store, |mut caller: Caller<'_, u32>, x: i32| {
        *caller.data_mut() += 1;
        x * 3
    });
    let table = wasmo::Table::new(
        &mut store,
        wasmo::TableType {
            element: ValType::FuncRef,
            limits: wasmo::Limits { min: 1, max: None },
            table64: false,
        },
    )?;
    let early = table.set(&mut store, 0, Val::FuncRef(Some(triple)));
    assert!(
        early
            .as_ref()
            .is_err_and(|e| e.to_string().contains("host function of type")),
        "{early:?}"
    );
    let instance = linker.instantiate(&mut store, &module)?;
    let call_ref = instance.get_typed_func::<(Option<Func>, i32), i32>(&store, "call_ref")?;
    assert_eq!(call_ref.call(&mut store, (Some(triple), 14))?, 42);
    assert_eq!(*store.data(), 1);
    // It comes back as the same function, typed and through a table.
    let id = instance.get_typed_func::<Option<Func>, Option<Func>>(&store, "id")?;
    assert_eq!(id.call(&mut store, Some(triple))?, Some(triple));
    table.set(&mut store, 0, Val::FuncRef(Some(triple)))?;
    assert!(matches!(table.get(&store, 0), Some(Val::FuncRef(Some(f))) if f == triple));
    // call_indirect checks its type like any other.
    let wrong = instance.get_typed_func::<Option<Func>, i64>(&store, "wrong_type")?;
    match wrong.call(&mut store, Some(triple)) {
        Err(CallError::Trap(t)) => assert_eq!(t.code, TrapCode::BadSignature),
        other => panic!("expected a signature trap, got {other:?}"),
    }
    Ok(())
}
