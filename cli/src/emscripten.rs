//! Programs built by Emscripten without `-sSTANDALONE_WASM`: how they are
//! recognised and started the way Emscripten's own JavaScript starts
//! them (constructors, `argc`/`argv` laid out through the module's
//! allocator, `main`, then exit with its result). Their `env` imports are
//! `wasmo_wasi::emscripten`.
//!
//! Rule: a module is treated as Emscripten's only when it has no
//! `_start` (a standalone or WASI build keeps the WASI start), exports
//! `__wasm_call_ctors` and a `main`, and imports from `env`.

use anyhow::anyhow;
use wasmo_loader::{Instance, Module, Store, Val, ValType};
use wasmo_wasi::WasiCtx;

use crate::{call, Failure};

/// Whether `module` gets Emscripten's `env` functions: a non-standalone
/// build, or one (standalone) that imports an `env.emscripten_*` function
/// (`-sSTANDALONE_WASM -sALLOW_MEMORY_GROWTH` imports
/// `emscripten_notify_memory_growth`).
pub fn wants_env(module: &Module) -> bool {
    is_emscripten(module)
        || module.imports().iter().any(|i| {
            i.module == wasmo_wasi::emscripten::MODULE && i.name.starts_with("emscripten_")
        })
}

/// Whether `module` is a non-standalone Emscripten build.
pub fn is_emscripten(module: &Module) -> bool {
    let exports = module.exports();
    let exports = |name: &str| exports.iter().any(|e| e.name == name);
    !exports("_start")
        && exports("__wasm_call_ctors")
        && (exports("main") || exports("__main_argc_argv"))
        && module
            .imports()
            .iter()
            .any(|i| i.module == wasmo_wasi::emscripten::MODULE)
}

/// Runs an Emscripten program as its JS would: `__wasm_call_ctors`, then
/// `main(argc, argv)` (or `__main_argc_argv`, or a `main` without
/// parameters) with `argv` (`argv[0]` first) copied into linear memory
/// through `stackAlloc` (or `malloc`), then exits with `main`'s result.
pub fn run(
    store: &mut Store<WasiCtx>,
    instance: &Instance,
    argv: &[String],
) -> Result<(), Failure> {
    let ctors = instance
        .get_func(&*store, "__wasm_call_ctors")
        .ok_or_else(|| anyhow!("the module exports no `__wasm_call_ctors`"))?;
    call(store, instance, &ctors, &[], &mut [])?;
    let (name, main) = ["__main_argc_argv", "main"]
        .into_iter()
        .find_map(|n| Some((n, instance.get_func(&*store, n)?)))
        .ok_or_else(|| anyhow!("the module exports no `main`"))?;
    let ty = main.ty(&*store);
    let args = match ty.params.as_slice() {
        [] => Vec::new(),
        [ValType::I32, ValType::I32] => {
            let argv_ptr = lay_out_argv(store, instance, argv)?;
            let argc = i32::try_from(argv.len()).map_err(|_| anyhow!("too many arguments"))?;
            vec![Val::I32(argc), Val::I32(argv_ptr)]
        }
        _ => {
            return Err(
                anyhow!("exported `{name}` has type {ty}, expected [i32 i32] -> [i32]").into(),
            )
        }
    };
    let mut results: Vec<Val> = ty.results.iter().map(|&t| Val::default_for(t)).collect();
    call(store, instance, &main, &args, &mut results)?;
    match results.first() {
        Some(Val::I32(0)) | None => Ok(()),
        Some(Val::I32(code)) => Err(Failure::Exit(*code)),
        Some(_) => Ok(()),
    }
}

/// Copies the strings of `argv` and a null-terminated array of pointers
/// to them into memory allocated by the module, returning the array's
/// address.
fn lay_out_argv(
    store: &mut Store<WasiCtx>,
    instance: &Instance,
    argv: &[String],
) -> Result<i32, Failure> {
    let memory = instance
        .get_memory(&*store, "memory")
        .ok_or_else(|| anyhow!("the module exports no `memory` to pass `argv` in"))?;
    let alloc = ["stackAlloc", "malloc"]
        .into_iter()
        .find_map(|n| instance.get_func(&*store, n))
        .ok_or_else(|| {
            anyhow!("the module exports neither `stackAlloc` nor `malloc` to pass `argv` with")
        })?;
    let alloc_bytes = |store: &mut Store<WasiCtx>, len: usize| -> Result<u32, Failure> {
        let len = i32::try_from(len).map_err(|_| anyhow!("the arguments are too long"))?;
        let mut out = [Val::I32(0)];
        call(store, instance, &alloc, &[Val::I32(len)], &mut out)?;
        match out[0] {
            Val::I32(p) if p != 0 => Ok(p.cast_unsigned()),
            _ => Err(anyhow!("the module cannot allocate memory for `argv`").into()),
        }
    };
    let mut pointers = Vec::with_capacity(argv.len() + 1);
    for arg in argv {
        let mut bytes = arg.as_bytes().to_vec();
        bytes.push(0);
        let ptr = alloc_bytes(store, bytes.len())?;
        memory
            .write(&mut *store, u64::from(ptr), &bytes)
            .map_err(|e| anyhow!("cannot copy `argv` into memory: {e}"))?;
        pointers.push(ptr);
    }
    pointers.push(0);
    let array: Vec<u8> = pointers.iter().flat_map(|p| p.to_le_bytes()).collect();
    let ptr = alloc_bytes(store, array.len())?;
    memory
        .write(&mut *store, u64::from(ptr), &array)
        .map_err(|e| anyhow!("cannot copy `argv` into memory: {e}"))?;
    Ok(ptr.cast_signed())
}
