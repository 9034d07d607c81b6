//! The differential oracle: one module run by wasmo (compiled, written,
//! loaded) and by the `wasmi` interpreter, export by export, with the same
//! arguments; results, traps and their codes, and afterwards every
//! exported memory and global must agree.
//!
//! Two comparisons per module: wasmo against the interpreter, and wasmo at
//! `-O0` against wasmo at `-O2`, bit for bit (wasmo computes the same bits
//! at every optimisation level, NaNs included: `compiler/src/nan.rs`).
//!
//! Rule: a difference the spec allows is never a finding, and nothing
//! else is let through. Two are possible against the interpreter: NaN
//! bits, and where the call stack runs out (the engines' limits differ,
//! and so do wasmo's frames at each level, so a call that exhausts it on
//! either side ends the comparison as inconclusive). Generated modules
//! have no open NaN bits (`gen::close_nans`), so everything is compared
//! bit for bit; a module with open NaNs (a saved finding, see
//! [`Nans`]) has its float results compared with every NaN as one value.

use std::fmt::Write as _;
use std::path::Path;

use wasmo_artifact_format::{BoundsChecks, TrapCode};
use wasmo_compiler::{CompileConfig, CompileError, OptLevel};

use crate::gen::{arg_bits, Rng};

/// A wasm value as bits; a reference as whether it is null (the engines'
/// references cannot be compared otherwise, and arguments are null).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bits {
    /// `funcref`: `true` when not null.
    FuncRef(bool),
    /// `externref`: `true` when not null.
    ExternRef(bool),
    /// `exnref`: `true` when not null (wasmo only: wasmi has no exnref,
    /// and the generator makes none).
    ExnRef(bool),
    /// `i32`
    I32(u32),
    /// `i64`
    I64(u64),
    /// `f32`
    F32(u32),
    /// `f64`
    F64(u64),
    /// `v128`
    V128(u128),
}

impl Bits {
    /// The value with any NaN replaced by the canonical positive NaN: the
    /// spec leaves NaN sign and payload to the engine.
    fn canonical(self) -> Bits {
        match self {
            Bits::F32(b) if f32::from_bits(b).is_nan() => Bits::F32(0x7fc0_0000),
            Bits::F64(b) if f64::from_bits(b).is_nan() => Bits::F64(0x7ff8_0000_0000_0000),
            other => other,
        }
    }
}

impl std::fmt::Display for Bits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Bits::I32(b) => write!(f, "i32:{:#x} ({})", b, b as i32),
            Bits::I64(b) => write!(f, "i64:{:#x} ({})", b, b as i64),
            Bits::F32(b) => write!(f, "f32:{:#x} ({})", b, f32::from_bits(b)),
            Bits::F64(b) => write!(f, "f64:{:#x} ({})", b, f64::from_bits(b)),
            Bits::V128(b) => write!(f, "v128:{b:#034x}"),
            Bits::FuncRef(set) => f.write_str(if set { "funcref" } else { "ref.null func" }),
            Bits::ExternRef(set) => f.write_str(if set { "externref" } else { "ref.null extern" }),
            Bits::ExnRef(set) => f.write_str(if set { "exnref" } else { "ref.null exn" }),
        }
    }
}

/// How one step (instantiation or a call) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Returned these values.
    Values(Vec<Bits>),
    /// Trapped with this code.
    Trap(TrapCode),
    /// Failed in a way that is neither (an engine error).
    Error(String),
}

impl Outcome {
    fn canonical(&self, nans: Nans) -> Outcome {
        match self {
            Outcome::Values(v) if nans == Nans::OneValue => {
                Outcome::Values(v.iter().map(|b| b.canonical()).collect())
            }
            other => other.clone(),
        }
    }

    fn stack_exhausted(&self) -> bool {
        matches!(
            self,
            Outcome::Trap(TrapCode::StackOverflow | TrapCode::HostStackExhausted)
        )
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Values(v) => {
                f.write_str("returned [")?;
                for (i, b) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{b}")?;
                }
                f.write_str("]")
            }
            Outcome::Trap(c) => write!(f, "trap: {}", c.message()),
            Outcome::Error(e) => write!(f, "error: {e}"),
        }
    }
}

/// Value types of parameters and results, as both engines see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `f32`
    F32,
    /// `f64`
    F64,
    /// `v128`
    V128,
    /// `funcref`
    FuncRef,
    /// `externref`
    ExternRef,
}

/// One exported function to call, with its arguments.
#[derive(Debug, Clone)]
pub struct Call {
    /// Export name.
    pub name: String,
    /// Arguments.
    pub args: Vec<Bits>,
    /// Result types.
    pub results: Vec<Ty>,
}

/// How float results are compared with the interpreter's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Nans {
    /// Bit for bit: the module canonicalises every NaN whose bits the spec
    /// leaves to the engine (`gen::nans_closed`), so the bits are defined.
    #[default]
    Bits,
    /// Every NaN as one value (sign and payload are the engine's choice).
    /// Vectors, memory and integers are still compared bit for bit: the
    /// oracle cannot tell which of their bits came from a float.
    OneValue,
}

/// What to do with a module: the calls, in export order.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// How float results compare with the interpreter's.
    pub nans: Nans,
    /// Exported functions with their arguments.
    pub calls: Vec<Call>,
    /// Exported memories, by name.
    pub memories: Vec<String>,
    /// Exported globals, by name.
    pub globals: Vec<String>,
}

impl Plan {
    /// The calls and arguments for `wasm`'s exports, arguments drawn from
    /// `seed`. Every function is called twice (state carried over).
    pub fn new(wasm: &[u8], seed: u64) -> Result<Plan, String> {
        let engine = reference_engine();
        let module = wasmi::Module::new(&engine, wasm).map_err(|e| format!("wasmi: {e}"))?;
        let mut rng = Rng::new(seed, 2);
        let mut plan = Plan {
            nans: if crate::gen::nans_closed(wasm) {
                Nans::Bits
            } else {
                Nans::OneValue
            },
            ..Plan::default()
        };
        let mut funcs = Vec::new();
        for export in module.exports() {
            match export.ty() {
                wasmi::ExternType::Func(ft) => {
                    let params = ft
                        .params()
                        .iter()
                        .map(|t| ty(*t))
                        .collect::<Result<Vec<_>, _>>()?;
                    let results = ft
                        .results()
                        .iter()
                        .map(|t| ty(*t))
                        .collect::<Result<Vec<_>, _>>()?;
                    funcs.push((export.name().to_owned(), params, results));
                }
                wasmi::ExternType::Memory(_) => plan.memories.push(export.name().to_owned()),
                wasmi::ExternType::Global(_) => plan.globals.push(export.name().to_owned()),
                _ => {}
            }
        }
        for _round in 0..2 {
            for (name, params, results) in &funcs {
                let args = params.iter().map(|t| arg(&mut rng, *t)).collect();
                plan.calls.push(Call {
                    name: name.clone(),
                    args,
                    results: results.clone(),
                });
            }
        }
        Ok(plan)
    }

    /// The plan as text, one call a line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for c in &self.calls {
            let args: Vec<String> = c.args.iter().map(|a| a.to_string()).collect();
            let _ = writeln!(out, "{}({})", c.name, args.join(", "));
        }
        out
    }
}

fn ty(t: wasmi::ValType) -> Result<Ty, String> {
    Ok(match t {
        wasmi::ValType::I32 => Ty::I32,
        wasmi::ValType::I64 => Ty::I64,
        wasmi::ValType::F32 => Ty::F32,
        wasmi::ValType::F64 => Ty::F64,
        wasmi::ValType::V128 => Ty::V128,
        wasmi::ValType::FuncRef => Ty::FuncRef,
        wasmi::ValType::ExternRef => Ty::ExternRef,
    })
}

fn arg(rng: &mut Rng, t: Ty) -> Bits {
    match t {
        Ty::I32 => Bits::I32(arg_bits(rng, false, 32) as u32),
        Ty::I64 => Bits::I64(arg_bits(rng, false, 64) as u64),
        Ty::F32 => Bits::F32(arg_bits(rng, true, 32) as u32),
        Ty::F64 => Bits::F64(arg_bits(rng, true, 64) as u64),
        Ty::V128 => {
            let float = rng.below(2) == 0;
            let lo = arg_bits(rng, float, 64);
            let hi = arg_bits(rng, float, 64);
            Bits::V128(lo | (hi << 64))
        }
        Ty::FuncRef => Bits::FuncRef(false),
        Ty::ExternRef => Bits::ExternRef(false),
    }
}

/// Everything one engine did with a module.
#[derive(Debug, Clone)]
pub struct Run {
    /// Instantiation (start function, segments): `Values([])` on success.
    pub instantiate: Outcome,
    /// One outcome per planned call (fewer if instantiation failed).
    pub calls: Vec<Outcome>,
    /// Exported memories' bytes after the calls.
    pub memories: Vec<(String, Vec<u8>)>,
    /// Exported globals' values after the calls.
    pub globals: Vec<(String, Bits)>,
}

/// The interpreter's engine: every proposal wasmo's generator uses, and a
/// recursion limit far above what the termination fuel allows, so that
/// it runs out of stack no earlier than wasmo.
fn reference_engine() -> wasmi::Engine {
    let mut config = wasmi::Config::default();
    config
        .wasm_simd(true)
        .wasm_bulk_memory(true)
        .wasm_multi_value(true)
        .wasm_reference_types(true)
        .wasm_tail_call(true)
        .wasm_multi_memory(true)
        .wasm_memory64(true)
        .set_max_recursion_depth(100_000)
        .set_max_stack_height(64 << 20);
    wasmi::Engine::new(&config)
}

fn wasmi_trap(e: &wasmi::Error) -> Outcome {
    use wasmi::errors::{MemoryError, TableError};
    use wasmi::TrapCode as W;
    match e.as_trap_code() {
        Some(code) => Outcome::Trap(match code {
            W::UnreachableCodeReached => TrapCode::UnreachableCodeReached,
            W::MemoryOutOfBounds => TrapCode::MemoryOutOfBounds,
            W::TableOutOfBounds => TrapCode::TableOutOfBounds,
            W::IndirectCallToNull => TrapCode::IndirectCallToNull,
            W::IntegerDivisionByZero => TrapCode::IntegerDivisionByZero,
            W::IntegerOverflow => TrapCode::IntegerOverflow,
            W::BadConversionToInteger => TrapCode::BadConversionToInteger,
            W::StackOverflow => TrapCode::StackOverflow,
            W::BadSignature => TrapCode::BadSignature,
            other => return Outcome::Error(format!("wasmi trap {other:?}")),
        }),
        // Active segments that do not fit trap at instantiation (spec
        // 2.0); wasmi reports them as table and memory errors.
        None => match e.kind() {
            wasmi::errors::ErrorKind::Table(
                TableError::InitOutOfBounds
                | TableError::SetOutOfBounds
                | TableError::CopyOutOfBounds
                | TableError::FillOutOfBounds,
            )
            | wasmi::errors::ErrorKind::Instantiation(
                wasmi::errors::InstantiationError::ElementSegmentDoesNotFit { .. },
            ) => Outcome::Trap(TrapCode::TableOutOfBounds),
            wasmi::errors::ErrorKind::Memory(MemoryError::OutOfBoundsAccess) => {
                Outcome::Trap(TrapCode::MemoryOutOfBounds)
            }
            _ => Outcome::Error(format!("wasmi: {e}")),
        },
    }
}

fn to_wasmi(b: Bits) -> wasmi::Val {
    match b {
        Bits::I32(v) => wasmi::Val::I32(v as i32),
        Bits::I64(v) => wasmi::Val::I64(v as i64),
        Bits::F32(v) => wasmi::Val::F32(wasmi::F32::from_bits(v)),
        Bits::F64(v) => wasmi::Val::F64(wasmi::F64::from_bits(v)),
        Bits::V128(v) => wasmi::Val::V128(wasmi::V128::from(v)),
        Bits::FuncRef(_) => wasmi::Val::FuncRef(wasmi::Nullable::Null),
        // wasmi has no exnref; the generator never makes one.
        Bits::ExternRef(_) | Bits::ExnRef(_) => wasmi::Val::ExternRef(wasmi::Nullable::Null),
    }
}

fn from_wasmi(v: &wasmi::Val) -> Bits {
    match v {
        wasmi::Val::I32(v) => Bits::I32(*v as u32),
        wasmi::Val::I64(v) => Bits::I64(*v as u64),
        wasmi::Val::F32(v) => Bits::F32(v.to_bits()),
        wasmi::Val::F64(v) => Bits::F64(v.to_bits()),
        wasmi::Val::V128(v) => Bits::V128(v.as_u128()),
        wasmi::Val::FuncRef(r) => Bits::FuncRef(!r.is_null()),
        wasmi::Val::ExternRef(r) => Bits::ExternRef(!r.is_null()),
    }
}

fn wasmi_zero(t: Ty) -> wasmi::Val {
    to_wasmi(match t {
        Ty::I32 => Bits::I32(0),
        Ty::I64 => Bits::I64(0),
        Ty::F32 => Bits::F32(0),
        Ty::F64 => Bits::F64(0),
        Ty::V128 => Bits::V128(0),
        Ty::FuncRef => Bits::FuncRef(false),
        Ty::ExternRef => Bits::ExternRef(false),
    })
}

/// Runs `plan` on the interpreter.
pub fn run_wasmi(wasm: &[u8], plan: &Plan) -> Run {
    let engine = reference_engine();
    let mut run = Run {
        instantiate: Outcome::Values(Vec::new()),
        calls: Vec::new(),
        memories: Vec::new(),
        globals: Vec::new(),
    };
    let module = match wasmi::Module::new(&engine, wasm) {
        Ok(m) => m,
        Err(e) => {
            run.instantiate = Outcome::Error(format!("wasmi: {e}"));
            return run;
        }
    };
    let mut store = wasmi::Store::new(&engine, ());
    let linker = wasmi::Linker::<()>::new(&engine);
    let instance = match linker.instantiate_and_start(&mut store, &module) {
        Ok(i) => i,
        Err(e) => {
            run.instantiate = wasmi_trap(&e);
            return run;
        }
    };
    for call in &plan.calls {
        let Some(func) = instance.get_func(&store, &call.name) else {
            run.calls
                .push(Outcome::Error(format!("no export {}", call.name)));
            continue;
        };
        let args: Vec<wasmi::Val> = call.args.iter().map(|a| to_wasmi(*a)).collect();
        let mut results: Vec<wasmi::Val> = call.results.iter().map(|t| wasmi_zero(*t)).collect();
        run.calls
            .push(match func.call(&mut store, &args, &mut results) {
                Ok(()) => Outcome::Values(results.iter().map(from_wasmi).collect()),
                Err(e) => wasmi_trap(&e),
            });
    }
    for name in &plan.memories {
        if let Some(m) = instance.get_memory(&store, name) {
            run.memories.push((name.clone(), m.data(&store).to_vec()));
        }
    }
    for name in &plan.globals {
        if let Some(g) = instance.get_global(&store, name) {
            run.globals.push((name.clone(), from_wasmi(&g.get(&store))));
        }
    }
    run
}

fn to_wasmo(b: Bits) -> wasmo_loader::Val {
    match b {
        Bits::I32(v) => wasmo_loader::Val::I32(v as i32),
        Bits::I64(v) => wasmo_loader::Val::I64(v as i64),
        Bits::F32(v) => wasmo_loader::Val::F32(v),
        Bits::F64(v) => wasmo_loader::Val::F64(v),
        Bits::V128(v) => wasmo_loader::Val::V128(v),
        Bits::FuncRef(_) => wasmo_loader::Val::FuncRef(None),
        Bits::ExternRef(_) => wasmo_loader::Val::ExternRef(None),
        Bits::ExnRef(_) => wasmo_loader::Val::ExnRef(None),
    }
}

fn from_wasmo(v: &wasmo_loader::Val) -> Bits {
    match v {
        wasmo_loader::Val::I32(v) => Bits::I32(*v as u32),
        wasmo_loader::Val::I64(v) => Bits::I64(*v as u64),
        wasmo_loader::Val::F32(v) => Bits::F32(*v),
        wasmo_loader::Val::F64(v) => Bits::F64(*v),
        wasmo_loader::Val::V128(v) => Bits::V128(*v),
        wasmo_loader::Val::FuncRef(r) => Bits::FuncRef(r.is_some()),
        wasmo_loader::Val::ExternRef(r) => Bits::ExternRef(r.is_some()),
        wasmo_loader::Val::ExnRef(r) => Bits::ExnRef(r.is_some()),
    }
}

fn wasmo_call_error(e: &wasmo_loader::CallError) -> Outcome {
    match e {
        wasmo_loader::CallError::Trap(t) => Outcome::Trap(t.code),
        other => Outcome::Error(other.to_string()),
    }
}

/// Loads the artifact at `path` and runs `plan` on it. Also used for
/// hostile artifacts, whose exports need not match any plan: a missing
/// export or a wrong type is an `Error` outcome, not a failure.
pub fn run_wasmo(path: &Path, plan: &Plan) -> Result<Run, wasmo_loader::LoadError> {
    let module = wasmo_loader::Module::from_file(path)?;
    let mut store = wasmo_loader::Store::new(());
    let mut run = Run {
        instantiate: Outcome::Values(Vec::new()),
        calls: Vec::new(),
        memories: Vec::new(),
        globals: Vec::new(),
    };
    let instance =
        match wasmo_loader::Instance::new(&mut store, &module, &wasmo_loader::Imports::new()) {
            Ok(i) => i,
            Err(wasmo_loader::InstantiationError::Trap(t)) => {
                run.instantiate = Outcome::Trap(t.code);
                return Ok(run);
            }
            Err(e) => {
                run.instantiate = Outcome::Error(e.to_string());
                return Ok(run);
            }
        };
    for call in &plan.calls {
        let Some(func) = instance.get_func(&store, &call.name) else {
            run.calls
                .push(Outcome::Error(format!("no export {}", call.name)));
            continue;
        };
        let args: Vec<wasmo_loader::Val> = call.args.iter().map(|a| to_wasmo(*a)).collect();
        let ty = func.ty(&store);
        let mut results: Vec<wasmo_loader::Val> = ty
            .results
            .iter()
            .map(|t| wasmo_loader::Val::default_for(*t))
            .collect();
        run.calls
            .push(match func.call(&mut store, &args, &mut results) {
                Ok(()) => Outcome::Values(results.iter().map(from_wasmo).collect()),
                Err(e) => wasmo_call_error(&e),
            });
    }
    for name in &plan.memories {
        if let Some(m) = instance.get_memory(&store, name) {
            run.memories.push((name.clone(), m.data(&store).to_vec()));
        }
    }
    for name in &plan.globals {
        if let Some(g) = instance.get_global(&store, name) {
            run.globals.push((name.clone(), from_wasmo(&g.get(&store))));
        }
    }
    Ok(run)
}

/// How a comparison ended.
#[derive(Debug)]
pub enum Verdict {
    /// Everything agreed; this many calls were compared.
    Agree(usize),
    /// A stack ran out on one side; the first calls agreed.
    Inconclusive(usize),
    /// A difference, described.
    Differ(String),
}

/// Compares wasmo's run (`ours`) with the interpreter's (`reference`),
/// floats as `plan.nans` says.
pub fn compare(plan: &Plan, ours: &Run, reference: &Run) -> Verdict {
    compare_runs(plan, ["wasmo", "wasmi"], [ours, reference], plan.nans)
}

/// Compares wasmo's runs at `-O0` and `-O2`: bit for bit.
pub fn compare_levels(plan: &Plan, o0: &Run, o2: &Run) -> Verdict {
    compare_runs(plan, ["wasmo -O0", "wasmo -O2"], [o0, o2], Nans::Bits)
}

fn compare_runs(plan: &Plan, names: [&str; 2], runs: [&Run; 2], nans: Nans) -> Verdict {
    let [x, y] = names;
    let [ours, reference] = runs;
    if ours.instantiate.stack_exhausted() || reference.instantiate.stack_exhausted() {
        return Verdict::Inconclusive(0);
    }
    if ours.instantiate != reference.instantiate {
        return Verdict::Differ(format!(
            "instantiation\n  {x}: {}\n  {y}: {}\n",
            ours.instantiate, reference.instantiate
        ));
    }
    for (i, (a, b)) in ours.calls.iter().zip(&reference.calls).enumerate() {
        if a.stack_exhausted() || b.stack_exhausted() {
            return Verdict::Inconclusive(i);
        }
        if a.canonical(nans) != b.canonical(nans) {
            let call = &plan.calls[i];
            let args: Vec<String> = call.args.iter().map(|a| a.to_string()).collect();
            return Verdict::Differ(format!(
                "call {i}: {}({})\n  {x}: {a}\n  {y}: {b}\n",
                call.name,
                args.join(", ")
            ));
        }
    }
    if ours.calls.len() != reference.calls.len() {
        return Verdict::Differ(format!(
            "{x} made {} calls, {y} {}\n",
            ours.calls.len(),
            reference.calls.len()
        ));
    }
    for ((name, a), (_, b)) in ours.memories.iter().zip(&reference.memories) {
        if a != b {
            let first = a.iter().zip(b).position(|(x, y)| x != y);
            return Verdict::Differ(format!(
                "memory {name}: {x} {} bytes, {y} {} bytes, first difference at {first:?}\n",
                a.len(),
                b.len()
            ));
        }
    }
    if ours.memories.len() != reference.memories.len() {
        return Verdict::Differ("different exported memories\n".to_owned());
    }
    let same = |a: Bits, b: Bits| match nans {
        Nans::Bits => a == b,
        Nans::OneValue => a.canonical() == b.canonical(),
    };
    for ((name, a), (_, b)) in ours.globals.iter().zip(&reference.globals) {
        if !same(*a, *b) {
            return Verdict::Differ(format!("global {name}\n  {x}: {a}\n  {y}: {b}\n"));
        }
    }
    if ours.globals.len() != reference.globals.len() {
        return Verdict::Differ("different exported globals\n".to_owned());
    }
    Verdict::Agree(ours.calls.len())
}

/// The compile configuration for a seed and optimisation level: the
/// bounds-check strategy alternates every two seeds (bulk memory alternates
/// every seed, see `gen::smith_config`, so both meet both strategies).
pub fn compile_config(seed: u64, opt_level: OptLevel) -> CompileConfig {
    CompileConfig {
        opt_level,
        bounds_checks: if (seed / 2).is_multiple_of(2) {
            BoundsChecks::GuardPages
        } else {
            BoundsChecks::Explicit
        },
        ..CompileConfig::default()
    }
}

/// What one differential case found.
#[derive(Debug, Default)]
pub struct DiffReport {
    /// Modules wasmo refused as unsupported (skipped).
    pub unsupported: u64,
    /// Modules run on both engines (per optimisation level).
    pub executed_modules: u64,
    /// Calls compared.
    pub calls: u64,
    /// Comparisons that ended inconclusive (stack exhausted).
    pub inconclusive: u64,
    /// Disagreements, each described, with the optimisation level.
    pub findings: Vec<String>,
}

/// The file that exists in a case's directory while the interpreter runs.
pub const REFERENCE_RUNNING: &str = "reference.running";

/// Runs `wasm` under wasmo at `-O0` and `-O2` and under the interpreter,
/// writing artifacts into `dir`.
pub fn differential(wasm: &[u8], seed: u64, dir: &Path) -> Result<DiffReport, String> {
    let plan = Plan::new(wasm, seed)?;
    // A crash while this marker exists is the interpreter's, not wasmo's
    // (wasmi 2.0.0 crashes on some out-of-bounds `v128.store*_lane`): the
    // driver counts it and does not call it a finding.
    let marker = dir.join(REFERENCE_RUNNING);
    std::fs::write(&marker, b"").map_err(|e| format!("write {}: {e}", marker.display()))?;
    let reference = run_wasmi(wasm, &plan);
    std::fs::remove_file(&marker).map_err(|e| format!("remove {}: {e}", marker.display()))?;
    let mut report = DiffReport::default();
    let mut levels = Vec::new();
    for opt in [OptLevel::O0, OptLevel::O2] {
        let config = compile_config(seed, opt);
        let artifact = match wasmo_compiler::compile(wasm, &config) {
            Ok(a) => a,
            Err(e @ CompileError::Unsupported { .. }) => {
                eprintln!("skipped: {e}");
                report.unsupported += 1;
                return Ok(report);
            }
            Err(e) => {
                report.findings.push(format!(
                    "-O{} {:?}: wasmoc refused a valid module: {e}\n",
                    opt.as_number(),
                    config.bounds_checks
                ));
                continue;
            }
        };
        let path = dir.join(format!("O{}.wasmo", opt.as_number()));
        std::fs::write(&path, &artifact).map_err(|e| format!("write {}: {e}", path.display()))?;
        let ours = match run_wasmo(&path, &plan) {
            Ok(r) => r,
            Err(e) => {
                report.findings.push(format!(
                    "-O{} {:?}: the loader refused wasmoc's artifact: {e}\n",
                    opt.as_number(),
                    config.bounds_checks
                ));
                continue;
            }
        };
        report.executed_modules += 1;
        let verdict = compare(&plan, &ours, &reference);
        levels.push(ours);
        match verdict {
            Verdict::Agree(n) => report.calls += n as u64,
            Verdict::Inconclusive(n) => {
                report.calls += n as u64;
                report.inconclusive += 1;
            }
            Verdict::Differ(what) => report.findings.push(format!(
                "-O{} {:?}: {what}",
                opt.as_number(),
                config.bounds_checks
            )),
        }
    }
    if let [o0, o2] = levels.as_slice() {
        if let Verdict::Differ(what) = compare_levels(&plan, o0, o2) {
            report.findings.push(format!(
                "-O0 and -O2 differ {:?}: {what}",
                compile_config(seed, OptLevel::O0).bounds_checks
            ));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(calls: Vec<Outcome>) -> Run {
        Run {
            instantiate: Outcome::Values(Vec::new()),
            calls,
            memories: vec![("m".to_owned(), vec![0; 4])],
            globals: vec![("g".to_owned(), Bits::I32(1))],
        }
    }

    fn plan(n: usize) -> Plan {
        Plan {
            nans: Nans::OneValue,
            calls: (0..n)
                .map(|i| Call {
                    name: format!("f{i}"),
                    args: vec![Bits::I32(i as u32)],
                    results: vec![Ty::I32],
                })
                .collect(),
            memories: vec!["m".to_owned()],
            globals: vec!["g".to_owned()],
        }
    }

    /// The oracle catches what it must and lets through what the spec
    /// allows: a fuzzer whose comparison is wrong finds nothing.
    #[test]
    fn oracle_catches_differences_only() {
        let p = plan(2);
        let base = run(vec![
            Outcome::Values(vec![Bits::I32(1)]),
            Outcome::Trap(TrapCode::MemoryOutOfBounds),
        ]);
        assert!(matches!(compare(&p, &base, &base), Verdict::Agree(2)));

        let mut other = base.clone();
        other.calls[0] = Outcome::Values(vec![Bits::I32(2)]);
        assert!(matches!(compare(&p, &other, &base), Verdict::Differ(_)));

        let mut other = base.clone();
        other.calls[1] = Outcome::Trap(TrapCode::IntegerOverflow);
        assert!(matches!(compare(&p, &other, &base), Verdict::Differ(_)));

        let mut other = base.clone();
        other.memories[0].1[3] = 1;
        assert!(matches!(compare(&p, &other, &base), Verdict::Differ(_)));

        let mut other = base.clone();
        other.globals[0].1 = Bits::I32(2);
        assert!(matches!(compare(&p, &other, &base), Verdict::Differ(_)));

        // NaN sign and payload are the engine's choice where the module
        // leaves them open,
        let a = run(vec![
            Outcome::Values(vec![Bits::F32(0xffc0_0001)]),
            Outcome::Values(vec![]),
        ]);
        let b = run(vec![
            Outcome::Values(vec![Bits::F32(0x7fc0_0000)]),
            Outcome::Values(vec![]),
        ]);
        assert!(matches!(compare(&p, &a, &b), Verdict::Agree(2)));
        let mut nan_global = base.clone();
        nan_global.globals[0].1 = Bits::F64(0xfff8_0000_0000_0000);
        let mut other = base.clone();
        other.globals[0].1 = Bits::F64(0x7ff8_0000_0000_0001);
        assert!(matches!(
            compare(&p, &nan_global, &other),
            Verdict::Agree(2)
        ));
        // but not in a module that canonicalises every open NaN, nor
        // between wasmo's optimisation levels (issue 13's -O2 NaN sign),
        // nor in a vector, whose lanes may not be floats.
        let closed = Plan {
            nans: Nans::Bits,
            ..p.clone()
        };
        assert!(matches!(compare(&closed, &a, &b), Verdict::Differ(_)));
        assert!(matches!(
            compare(&closed, &nan_global, &other),
            Verdict::Differ(_)
        ));
        assert!(matches!(compare_levels(&p, &a, &b), Verdict::Differ(_)));
        assert!(matches!(compare_levels(&p, &a, &a), Verdict::Agree(2)));
        let mut v = base.clone();
        v.globals[0].1 = Bits::V128(0xffc0_0000);
        let mut w = base.clone();
        w.globals[0].1 = Bits::V128(0x7fc0_0000);
        assert!(matches!(compare(&p, &v, &w), Verdict::Differ(_)));
        // But not a NaN for a number.
        let c = run(vec![
            Outcome::Values(vec![Bits::F32(0)]),
            Outcome::Values(vec![]),
        ]);
        assert!(matches!(compare(&p, &a, &c), Verdict::Differ(_)));

        // Where the stack runs out differs between engines.
        let mut other = base.clone();
        other.calls[1] = Outcome::Trap(TrapCode::StackOverflow);
        assert!(matches!(
            compare(&p, &other, &base),
            Verdict::Inconclusive(1)
        ));
    }
}
