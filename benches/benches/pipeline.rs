//! Micro-benchmarks of the pipeline (issue 5):
//!
//! - `compile/*`: compile throughput (wasm bytes per second) of a generated
//!   module of about 245 KiB of code (two of the compiler's 128 KiB
//!   chunks) at -O0/-O2/-O3, "serial" (inside a one-thread rayon pool, so
//!   the chunks compile one after another) and "parallel" (rayon's default
//!   pool); plus `compile fib.wat -O0/-O2` for a tiny module.
//! - `load/*`: `Module::from_file` (mmap, format and metadata checks,
//!   relocations/GOT) of a small and a large artifact.
//! - `instantiate/*`: `Instance::new` with and without imports, memory,
//!   table, globals; `instantiate_1mib`: a loaded module whose memory has a
//!   1 MiB active data segment (benches/run.sh greps criterion's output for
//!   this exact name and reports it in BENCHMARKS.md).
//! - `call/host_to_wasm`: `Func::call` of a trivial export;
//!   `call/wasm_to_host`: a wasm loop calling an imported host function,
//!   per call (`Throughput::Elements`).
//! - `memory_grow/*`: `memory.grow 1` from wasm on a fresh instance, and
//!   a run of single-page grows inside one call.
//! - `load+instantiate+call fib(20)`: the whole path once.
//!
//! Rule: keep every benchmark self-contained (no network, no files outside
//! the temp dir, inputs generated here or read from `examples/`), and never
//! rename `instantiate_1mib`. A benchmark whose setup fails prints why and
//! is skipped rather than measuring something else.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tempfile::TempDir;
use wasmo_compiler::{CompileConfig, OptLevel};
use wasmo_loader::{Extern, Func, FuncType, Imports, Instance, Module, Store, Val, ValType};

fn fib_wasm() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/fib.wat");
    match wat::parse_file(&path) {
        Ok(w) => w,
        Err(e) => panic!("examples/fib.wat: {e}"),
    }
}

/// Functions in the generated compile-throughput module; about 360 bytes
/// of code each, so roughly 245 KiB: two nearly equal 128 KiB chunks of
/// the compiler, so "parallel" can use two cores. More would be better for
/// bigger machines but -O2 runs at only ~30 KiB/s (measured), and
/// criterion takes at least 10 samples per benchmark.
const GEN_FUNCS: usize = 700;

/// One generated function `$f{i}`: two loops of mixed i32/i64/f64
/// arithmetic with loads and stores (addresses masked into the first
/// page), an if/else, a `br_table`, a global update, and a direct and an
/// indirect call to earlier functions (bounded by `$n`, so it terminates).
/// Constants vary with `i` so no two bodies are identical.
fn gen_func(wat: &mut String, i: usize) {
    let k1 = 2 * i + 7;
    let k2 = 6_364_136_223_846_793_005_u64.wrapping_add(i as u64 * 2) as i64;
    let s = 7 + i % 23;
    let prev = i.saturating_sub(1);
    let slot = i % 16;
    let _ = write!(
        wat,
        r#"
  (func $f{i} (type $t) (param $n i32) (param $x i64) (result i64)
    (local $i i32) (local $acc i64) (local $t f64) (local $p i32) (local $q i32)
    (local.set $acc (local.get $x))
    (block $done
      (loop $top
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $p (i32.and (i32.mul (local.get $i) (i32.const {k1})) (i32.const 0xfff0)))
        (local.set $acc (i64.add (i64.mul (local.get $acc) (i64.const {k2}))
                                 (i64.load (local.get $p))))
        (local.set $acc (i64.xor (local.get $acc) (i64.shr_u (local.get $acc) (i64.const {s}))))
        (if (i32.and (local.get $i) (i32.const 1))
          (then (local.set $t (f64.add (local.get $t) (f64.convert_i64_s (local.get $acc)))))
          (else (local.set $t (f64.mul (local.get $t) (f64.const 0.{k1})))))
        (block $b2 (block $b1 (block $b0
          (br_table $b0 $b1 $b2 (i32.and (local.get $i) (i32.const 3))))
          (local.set $q (i32.add (local.get $q) (i32.const {k1})))
          (br $b2))
          (local.set $q (i32.rotl (local.get $q) (i32.const {s}))))
        (i64.store offset=8 (local.get $p) (local.get $acc))
        (i32.store (i32.and (i32.add (local.get $p) (local.get $q)) (i32.const 0xfffc))
                   (i32.wrap_i64 (local.get $acc)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $top)))
    (local.set $i (i32.const 0))
    (block $done2
      (loop $top2
        (br_if $done2 (i32.ge_s (local.get $i) (i32.shr_u (local.get $n) (i32.const 1))))
        (local.set $t (f64.sqrt (f64.add (f64.abs (local.get $t))
                                         (f64.convert_i32_u (local.get $q)))))
        (local.set $q (i32.xor (i32.mul (local.get $q) (i32.const 0x9e3779b1))
                               (i32.load8_u (i32.and (local.get $q) (i32.const 0xffff)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $top2)))
    (global.set $g (i64.add (global.get $g) (local.get $acc)))
    (if (i32.gt_u (local.get $n) (i32.const 64))
      (then
        (local.set $acc (i64.add (local.get $acc)
          (call $f{prev} (i32.shr_u (local.get $n) (i32.const 2)) (local.get $acc))))
        (local.set $acc (i64.sub (local.get $acc)
          (call_indirect (type $t) (i32.shr_u (local.get $n) (i32.const 3)) (local.get $acc)
                         (i32.const {slot}))))))
    (i64.add (local.get $acc) (i64.trunc_sat_f64_s (local.get $t))))"#
    );
}

/// The compile-throughput module: `GEN_FUNCS` generated functions, one
/// memory page, a 16-entry table filled with the first functions, a
/// mutable global and a small data segment. Exports `run` (the last
/// function) and `memory`.
fn generated_wat() -> String {
    let mut wat = String::from(
        "(module\n  (type $t (func (param i32 i64) (result i64)))\n  (memory (export \"memory\") 1)\n  (global $g (mut i64) (i64.const 0))\n  (table 16 funcref)\n  (elem (i32.const 0)",
    );
    for i in 0..16 {
        let _ = write!(wat, " $f{i}");
    }
    wat.push_str(")\n  (data (i32.const 0) \"wasmo benchmark data segment, sixty-four bytes long.............\")");
    for i in 0..GEN_FUNCS {
        gen_func(&mut wat, i);
    }
    let _ = write!(wat, "\n  (export \"run\" (func $f{}))\n)", GEN_FUNCS - 1);
    wat
}

/// The generated module's wasm and its artifact at the default config,
/// built once per process: compiling it takes seconds, and several groups
/// need it (test mode, which CI runs unoptimised, included).
struct Generated {
    wasm: Vec<u8>,
    artifact: Vec<u8>,
}

fn generated() -> Option<&'static Generated> {
    static GENERATED: OnceLock<Option<Generated>> = OnceLock::new();
    GENERATED
        .get_or_init(|| {
            let wasm = match wat::parse_str(generated_wat()) {
                Ok(w) => w,
                Err(e) => {
                    eprintln!("the generated module does not parse ({e}); skipping");
                    return None;
                }
            };
            match wasmo_compiler::compile(&wasm, &CompileConfig::default()) {
                Ok(artifact) => Some(Generated { wasm, artifact }),
                Err(e) => {
                    eprintln!("the generated module does not compile ({e}); skipping");
                    None
                }
            }
        })
        .as_ref()
}

/// Writes an artifact into `dir/name`, or says why not.
fn write_artifact(artifact: &[u8], dir: &TempDir, name: &str) -> Option<PathBuf> {
    let path = dir.path().join(name);
    if let Err(e) = std::fs::write(&path, artifact) {
        eprintln!("{name}: cannot write the artifact ({e}); skipping");
        return None;
    }
    Some(path)
}

/// Compiles `wasm` (default config) into `dir/name`, or says why not.
fn compile_to_file(wasm: &[u8], dir: &TempDir, name: &str) -> Option<PathBuf> {
    let artifact = match wasmo_compiler::compile(wasm, &CompileConfig::default()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{name}: does not compile ({e}); skipping");
            return None;
        }
    };
    write_artifact(&artifact, dir, name)
}

/// Compiles and loads a WAT module, or says why not.
fn load_wat(text: &str, dir: &TempDir, name: &str) -> Option<Module> {
    let wasm = match wat::parse_str(text) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{name}: does not parse ({e}); skipping");
            return None;
        }
    };
    let path = compile_to_file(&wasm, dir, name)?;
    match Module::from_file(&path) {
        Ok(m) => Some(m),
        Err(e) => {
            eprintln!("{name}: does not load ({e}); skipping");
            None
        }
    }
}

/// Instantiates `module` in `store`, or says why not.
fn instantiate(
    store: &mut Store<()>,
    module: &Module,
    imports: &Imports,
    name: &str,
) -> Option<Instance> {
    match Instance::new(store, module, imports) {
        Ok(i) => Some(i),
        Err(e) => {
            eprintln!("{name}: does not instantiate ({e}); skipping");
            None
        }
    }
}

fn temp_dir() -> Option<TempDir> {
    match tempfile::tempdir() {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("cannot create a temp dir ({e}); skipping");
            None
        }
    }
}

fn compile(c: &mut Criterion) {
    let wasm = fib_wasm();
    for opt in [OptLevel::O0, OptLevel::O2] {
        let config = CompileConfig {
            opt_level: opt,
            ..CompileConfig::default()
        };
        c.bench_function(&format!("compile fib.wat -O{}", opt.as_number()), |b| {
            b.iter(|| wasmo_compiler::compile(&wasm, &config))
        });
    }
}

fn compile_throughput(c: &mut Criterion) {
    let Some(Generated { wasm, .. }) = generated() else {
        return;
    };
    // Serial: `compile`'s `par_iter` over chunks runs on the pool it is
    // called from, so one thread means one chunk at a time.
    let serial = match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot build a one-thread rayon pool ({e}); skipping");
            return;
        }
    };
    let mut group = c.benchmark_group("compile");
    group.throughput(Throughput::Bytes(wasm.len() as u64));
    // A compile takes seconds at -O2/-O3: criterion's minimum sample count.
    group.sample_size(10);
    for opt in [OptLevel::O0, OptLevel::O2, OptLevel::O3] {
        let config = CompileConfig {
            opt_level: opt,
            ..CompileConfig::default()
        };
        let n = opt.as_number();
        group.bench_function(format!("gen{}KiB -O{n} serial", wasm.len() >> 10), |b| {
            b.iter(|| serial.install(|| wasmo_compiler::compile(wasm, &config)))
        });
        group.bench_function(
            format!(
                "gen{}KiB -O{n} parallel({})",
                wasm.len() >> 10,
                rayon::current_num_threads()
            ),
            |b| b.iter(|| wasmo_compiler::compile(wasm, &config)),
        );
    }
    group.finish();
}

fn load(c: &mut Criterion) {
    let Some(dir) = temp_dir() else { return };
    let mut paths = Vec::new();
    paths.extend(compile_to_file(&fib_wasm(), &dir, "fib.wasmo").map(|p| ("fib.wasmo", p)));
    if let Some(gen) = generated() {
        paths.extend(write_artifact(&gen.artifact, &dir, "gen.wasmo").map(|p| ("gen.wasmo", p)));
    }
    let mut group = c.benchmark_group("load");
    for (name, path) in &paths {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if let Err(e) = Module::from_file(path) {
            eprintln!("{name}: does not load ({e}); skipping");
            continue;
        }
        group.bench_function(format!("{name} ({}KiB)", size >> 10), |b| {
            b.iter(|| Module::from_file(path).ok())
        });
    }
    group.finish();
}

fn load_and_call(c: &mut Criterion) {
    let Ok(artifact) = wasmo_compiler::compile(&fib_wasm(), &CompileConfig::default()) else {
        eprintln!("fib.wat does not compile yet; skipping the load benchmark");
        return;
    };
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("fib.wasmo");
    if std::fs::write(&path, artifact).is_err() {
        return;
    }
    c.bench_function("load+instantiate+call fib(20)", |b| {
        b.iter(|| {
            let module = Module::from_file(&path).ok()?;
            let mut store = Store::new(());
            let instance = Instance::new(&mut store, &module, &Imports::new()).ok()?;
            let mut r = [Val::I32(0)];
            instance
                .get_func(&store, "fib")?
                .call(&mut store, &[Val::I32(20)], &mut r)
                .ok()?;
            Some(r)
        })
    });
}

/// A host function `(i32) -> i32` that adds one.
fn host_inc(store: &mut Store<()>) -> Func {
    let ty = FuncType {
        params: vec![ValType::I32],
        results: vec![ValType::I32],
    };
    Func::new(store, ty, |_, args, results| {
        if let (Some(Val::I32(x)), Some(r)) = (args.first(), results.first_mut()) {
            *r = Val::I32(x.wrapping_add(1));
        }
        Ok(())
    })
}

fn host_imports(store: &mut Store<()>) -> Imports {
    let mut imports = Imports::new();
    imports.define("host", "inc", Extern::Func(host_inc(store)));
    imports
}

/// A fresh store with the host imports of `CALLS_WAT` in it.
fn store_with_imports() -> (Store<()>, Imports) {
    let mut store = Store::new(());
    let imports = host_imports(&mut store);
    (store, imports)
}

/// Calls, instantiation with imports, and memory.grow all use this module.
const CALLS_WAT: &str = r#"(module
  (import "host" "inc" (func $inc (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (table 2 funcref)
  (elem (i32.const 0) $add1 $call_host)
  (func $add1 (export "add1") (param i32) (result i32)
    (i32.add (local.get 0) (i32.const 1)))
  ;; Calls the host `$n` times, threading a counter through it.
  (func $call_host (export "call_host") (param $n i32) (result i32)
    (local $acc i32)
    (block $done
      (loop $top
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (call $inc (local.get $acc)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $top)))
    (local.get $acc))
  (func (export "grow1") (result i32)
    (memory.grow (i32.const 1)))
  ;; Grows by one page `$n` times; returns the last old size.
  (func (export "grow_n") (param $n i32) (result i32)
    (local $r i32)
    (block $done
      (loop $top
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $r (memory.grow (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $top)))
    (local.get $r))
)"#;

fn instantiate_benches(c: &mut Criterion) {
    let Some(dir) = temp_dir() else { return };
    // A store owns its instances until it is dropped, so every iteration
    // instantiates into a fresh store (one small allocation), dropped in
    // the timing as the instance was before stores existed.
    let mut group = c.benchmark_group("instantiate");
    if let Some(module) = load_wat(
        "(module (func (export \"f\") (result i32) (i32.const 1)))",
        &dir,
        "empty",
    ) {
        if instantiate(&mut Store::new(()), &module, &Imports::new(), "empty").is_some() {
            group.bench_function("one func, no memory", |b| {
                b.iter(|| Instance::new(&mut Store::new(()), &module, &Imports::new()).ok())
            });
        }
    }
    if let Some(module) = load_wat(CALLS_WAT, &dir, "calls") {
        let (mut store, imports) = store_with_imports();
        if instantiate(&mut store, &module, &imports, "calls").is_some() {
            // The host function is made in the store first, untimed.
            group.bench_function("host import, memory, table, global", |b| {
                b.iter_batched(
                    store_with_imports,
                    |(mut store, imports)| {
                        let i = Instance::new(&mut store, &module, &imports).ok();
                        drop(store);
                        i
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    if let Some(gen) = generated() {
        if let Some(path) = write_artifact(&gen.artifact, &dir, "gen.wasmo") {
            match Module::from_file(&path) {
                Ok(module)
                    if instantiate(&mut Store::new(()), &module, &Imports::new(), "gen")
                        .is_some() =>
                {
                    group.bench_function(format!("gen ({GEN_FUNCS} funcs)"), |b| {
                        b.iter(|| Instance::new(&mut Store::new(()), &module, &Imports::new()).ok())
                    });
                }
                Ok(_) => {}
                Err(e) => eprintln!("gen.wasmo: does not load ({e}); skipping"),
            }
        }
    }
    group.finish();
}

/// Host calls per iteration of `call/wasm_to_host`.
const HOST_CALLS: i32 = 1000;

fn calls(c: &mut Criterion) {
    let Some(dir) = temp_dir() else { return };
    let Some(module) = load_wat(CALLS_WAT, &dir, "calls") else {
        return;
    };
    let (mut store, imports) = store_with_imports();
    let Some(instance) = instantiate(&mut store, &module, &imports, "calls") else {
        return;
    };
    let (Some(add1), Some(call_host)) = (
        instance.get_func(&store, "add1"),
        instance.get_func(&store, "call_host"),
    ) else {
        eprintln!("calls: missing exports; skipping");
        return;
    };
    let mut r = [Val::I32(0)];
    match call_host.call(&mut store, &[Val::I32(HOST_CALLS)], &mut r) {
        Ok(()) if matches!(r, [Val::I32(HOST_CALLS)]) => {}
        other => {
            eprintln!("calls: call_host({HOST_CALLS}) gave {other:?} {r:?}; skipping");
            return;
        }
    }
    let mut group = c.benchmark_group("call");
    group.bench_function("host_to_wasm add1(i32)", |b| {
        b.iter(|| add1.call(&mut store, &[Val::I32(black_box(41))], &mut r))
    });
    group.throughput(Throughput::Elements(HOST_CALLS as u64));
    group.bench_function(format!("wasm_to_host x{HOST_CALLS}"), |b| {
        b.iter(|| call_host.call(&mut store, &[Val::I32(black_box(HOST_CALLS))], &mut r))
    });
    group.finish();
}

/// Single-page grows per iteration of `memory_grow/1 page x{GROWS}`.
const GROWS: i32 = 256;

fn memory_grow(c: &mut Criterion) {
    let Some(dir) = temp_dir() else { return };
    let Some(module) = load_wat(CALLS_WAT, &dir, "calls") else {
        return;
    };
    let (mut store, imports) = store_with_imports();
    let Some(instance) = instantiate(&mut store, &module, &imports, "calls") else {
        return;
    };
    let mut r = [Val::I32(0)];
    match instance
        .get_func(&store, "grow1")
        .map(|f| f.call(&mut store, &[], &mut r))
    {
        Some(Ok(())) if matches!(r, [Val::I32(1)]) => {}
        other => {
            eprintln!("memory_grow: grow1 gave {other:?} {r:?}; skipping");
            return;
        }
    }
    let fresh = |export: &str| {
        let (mut store, imports) = store_with_imports();
        let instance = Instance::new(&mut store, &module, &imports).ok();
        let func = instance.and_then(|i| i.get_func(&store, export));
        (store, func)
    };
    let mut group = c.benchmark_group("memory_grow");
    // The instance is built in a fresh store outside the timing, and the
    // store returned so that its drop (unmapping the memory) is not timed
    // either.
    group.bench_function("1 page, fresh instance", |b| {
        b.iter_batched(
            || fresh("grow1"),
            |(mut store, func)| {
                let mut r = [Val::I32(0)];
                let ok = func.map(|f| f.call(&mut store, &[], &mut r));
                (store, ok, r)
            },
            BatchSize::SmallInput,
        )
    });
    group.throughput(Throughput::Elements(GROWS as u64));
    group.bench_function(format!("1 page x{GROWS}, fresh instance"), |b| {
        b.iter_batched(
            || fresh("grow_n"),
            |(mut store, func)| {
                let mut r = [Val::I32(0)];
                let ok = func.map(|f| f.call(&mut store, &[Val::I32(GROWS)], &mut r));
                (store, ok, r)
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// A module with one memory (17 pages) and a 1 MiB active data segment.
fn data_1mib_wat() -> String {
    let mut wat = String::from("(module (memory (export \"memory\") 17) (data (i32.const 0) \"");
    wat.extend(std::iter::repeat_n('w', 1 << 20));
    wat.push_str("\"))");
    wat
}

fn instantiate_1mib(c: &mut Criterion) {
    let Ok(wasm) = wat::parse_str(data_1mib_wat()) else {
        eprintln!("the 1 MiB data-segment module does not parse; skipping");
        return;
    };
    let Ok(artifact) = wasmo_compiler::compile(&wasm, &CompileConfig::default()) else {
        eprintln!("the 1 MiB data-segment module does not compile; skipping");
        return;
    };
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("data1mib.wasmo");
    if std::fs::write(&path, artifact).is_err() {
        return;
    }
    let Ok(module) = Module::from_file(&path) else {
        eprintln!("the 1 MiB data-segment artifact does not load; skipping");
        return;
    };
    c.bench_function("instantiate_1mib", |b| {
        b.iter(|| Instance::new(&mut Store::new(()), &module, &Imports::new()).ok())
    });
}

/// Bytes each `bulk_memory` iteration copies or fills.
const BULK_BYTES: i32 = 1 << 20;

/// `memory.copy` and `memory.fill` of 1 MiB inside wasm, beside the same
/// operation on a native buffer (`copy_within` is `memmove`, `fill` is
/// `memset`): the goal is within 1.1x of native (issue 10).
fn bulk_memory(c: &mut Criterion) {
    const BULK_WAT: &str = r#"(module
        (memory 33)
        (func (export "copy") (param i32)
          (memory.copy (i32.const 1048576) (i32.const 0) (local.get 0)))
        (func (export "fill") (param i32)
          (memory.fill (i32.const 0) (i32.const 7) (local.get 0)))
        (func (export "fill_at") (param i32 i32)
          (memory.fill (local.get 0) (i32.const 1) (local.get 1))))"#;
    let Some(dir) = temp_dir() else { return };
    let Some(module) = load_wat(BULK_WAT, &dir, "bulk") else {
        return;
    };
    let mut store = Store::new(());
    let Some(instance) = instantiate(&mut store, &module, &Imports::new(), "bulk") else {
        return;
    };
    let (Some(copy), Some(fill)) = (
        instance.get_func(&store, "copy"),
        instance.get_func(&store, "fill"),
    ) else {
        eprintln!("bulk_memory: missing exports; skipping");
        return;
    };
    // Touch both megabytes first, so that neither side reads the shared
    // zero page (which would flatter whichever ran on untouched memory).
    let touched = [0, BULK_BYTES].iter().all(|&at| {
        let f = instance.get_func(&store, "fill_at");
        f.is_some_and(|f| {
            f.call(&mut store, &[Val::I32(at), Val::I32(BULK_BYTES)], &mut [])
                .is_ok()
        })
    });
    if !touched {
        eprintln!("bulk_memory: fill_at failed; skipping");
        return;
    }
    let mut group = c.benchmark_group("bulk_memory");
    group.throughput(Throughput::Bytes(BULK_BYTES as u64));
    group.bench_function("memory.copy 1MiB", |b| {
        b.iter(|| copy.call(&mut store, &[Val::I32(black_box(BULK_BYTES))], &mut []))
    });
    group.bench_function("memory.fill 1MiB", |b| {
        b.iter(|| fill.call(&mut store, &[Val::I32(black_box(BULK_BYTES))], &mut []))
    });
    let mut native = vec![1u8; 2 << 20];
    let n = BULK_BYTES as usize;
    group.bench_function("native memmove 1MiB", |b| {
        b.iter(|| black_box(&mut native).copy_within(0..black_box(n), n))
    });
    group.bench_function("native memset 1MiB", |b| {
        b.iter(|| black_box(&mut native)[..black_box(n)].fill(7))
    });
    group.finish();
}

criterion_group!(
    benches,
    compile,
    compile_throughput,
    load,
    load_and_call,
    instantiate_benches,
    calls,
    memory_grow,
    instantiate_1mib,
    bulk_memory
);
criterion_main!(benches);
