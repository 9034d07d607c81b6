//! The `.wast` script interpreter: one for `wasmo run script.wast` and the
//! spec test runner (`tests/tests/spec.rs`), so that the two never disagree
//! on what a directive means. A [`Runner`] keeps one store for a whole
//! script (every module of it lives there, as the spec's embedding keeps
//! one), with the `spectest` module defined, and runs its directives one at
//! a time: `module`, `module definition`/`module instance`, `register`,
//! `invoke`, `get`, `assert_return` (NaN and `either` patterns included),
//! `assert_trap`, `assert_exhaustion`, `assert_exception`,
//! `assert_invalid`, `assert_malformed`, `assert_unlinkable` and
//! `assert_trap` of a module (`assert_uninstantiable`).
//!
//! Compiling is the caller's ([`Compile`]): the spec runner calls the
//! compiler in process, the `wasmo` command spawns `wasmoc`. Every module
//! goes the way users' modules go: wasm bytes, artifact file,
//! `Module::from_file`.
//!
//! Rule: this crate never links LLVM (the `wasmo` command depends on it),
//! and never decides an assertion passed without running it end to end:
//! anything it cannot do (an unsupported directive or value) is a failure
//! with a reason, never a skip.

use std::collections::HashMap;
use std::path::PathBuf;

use wasmo_artifact_format::{Limits, MemoryType, TableType};
use wasmo_loader::{
    CallError, Extern, ExternRef, Func, FuncType, Global, GlobalType, HostError, Imports, Instance,
    InstantiationError, Memory, Module, Store, Table, Val, ValType,
};
use wast::core::{AbstractHeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::{QuoteWat, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

pub use wast;

/// Compiles the wasm binaries of a script into artifacts: the one thing a
/// [`Runner`] cannot do itself, as it links no compiler.
pub trait Compile {
    /// The artifact bytes of `wasm`, or why there are none.
    fn compile(&mut self, wasm: &[u8]) -> Result<Vec<u8>, CompileFailure>;
}

/// Why a module did not compile: what `assert_invalid` and
/// `assert_malformed` expect, or anything else.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CompileFailure {
    /// The module is malformed or invalid (the message names the byte
    /// offset).
    #[error("{0}")]
    Invalid(String),
    /// Any other reason: an unsupported feature, a compiler that could not
    /// run.
    #[error("{0}")]
    Other(String),
}

/// Why a directive failed: a message that says what was expected and what
/// happened instead (the caller knows the directive's line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DirectiveFailed(pub String);

impl From<String> for DirectiveFailed {
    fn from(s: String) -> DirectiveFailed {
        DirectiveFailed(s)
    }
}

/// Why a script could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// Its text is not tokens of the text format.
    #[error("cannot lex the script: {0}")]
    Lex(wast::Error),
    /// Its tokens are not a script.
    #[error("cannot parse the script: {0}")]
    Parse(wast::Error),
}

impl ScriptError {
    /// The underlying error, which says where (line and column).
    pub fn inner(&self) -> &wast::Error {
        match self {
            ScriptError::Lex(e) | ScriptError::Parse(e) => e,
        }
    }
}

/// One directive of a script, with the line it starts on (1-based) and
/// its kind (as [`kind_of`] names it).
#[derive(Debug)]
pub struct Directive<'a> {
    /// The line its text starts on, from 1.
    pub line: u32,
    /// What it is: `module`, `assert_return`, ...
    pub kind: &'static str,
    /// The directive itself.
    pub directive: WastDirective<'a>,
}

/// Parses `text` and hands its directives, in order, to `f` (they borrow
/// the parse buffer, which lives only for this call).
pub fn with_directives<R>(
    text: &str,
    f: impl FnOnce(Vec<Directive<'_>>) -> R,
) -> Result<R, ScriptError> {
    let mut lexer = wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let buf = wast::parser::ParseBuffer::new_with_lexer(lexer).map_err(ScriptError::Lex)?;
    let wast = wast::parser::parse::<wast::Wast<'_>>(&buf).map_err(ScriptError::Parse)?;
    let line_of = |span: wast::token::Span| span.linecol_in(text).0 as u32 + 1;
    let directives = wast
        .directives
        .into_iter()
        .map(|d| Directive {
            line: line_of(d.span()),
            kind: kind_of(&d),
            directive: d,
        })
        .collect();
    Ok(f(directives))
}

/// The name of a directive's kind, as failures and summaries print it; a
/// module that must trap while it starts is `assert_uninstantiable`.
pub fn kind_of(d: &WastDirective<'_>) -> &'static str {
    match d {
        WastDirective::Module(_) => "module",
        WastDirective::ModuleDefinition(_) => "module_definition",
        WastDirective::ModuleInstance { .. } => "module_instance",
        WastDirective::AssertMalformed { .. } => "assert_malformed",
        WastDirective::AssertInvalid { .. } => "assert_invalid",
        WastDirective::Register { .. } => "register",
        WastDirective::Invoke(_) => "invoke",
        WastDirective::AssertTrap {
            exec: WastExecute::Wat(_),
            ..
        } => "assert_uninstantiable",
        WastDirective::AssertTrap { .. } => "assert_trap",
        WastDirective::AssertReturn { .. } => "assert_return",
        WastDirective::AssertExhaustion { .. } => "assert_exhaustion",
        WastDirective::AssertUnlinkable { .. } => "assert_unlinkable",
        _ => "unsupported",
    }
}

/// A module that compiled, or why it did not; later directives that use a
/// failed module fail with its reason.
type Slot<T> = Result<T, String>;

/// Runs the directives of one script, in order, in one store.
pub struct Runner<C> {
    compiler: C,
    dir: PathBuf,
    artifacts: usize,
    /// One store per script: every module of it lives here, as the
    /// spec's embedding keeps one store.
    store: Store<()>,
    imports: Imports,
    current: Option<Slot<Instance>>,
    named: HashMap<String, Slot<Instance>>,
    definitions: HashMap<String, Slot<Module>>,
}

impl<C> std::fmt::Debug for Runner<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("dir", &self.dir)
            .field("artifacts", &self.artifacts)
            .finish_non_exhaustive()
    }
}

impl<C: Compile> Runner<C> {
    /// A runner that compiles with `compiler` and writes each artifact
    /// into `dir` (removing it once loaded), with the `spectest` module's
    /// functions, globals, table and memories defined.
    pub fn new(compiler: C, dir: PathBuf) -> Runner<C> {
        let mut store = Store::new(());
        let mut imports = Imports::new();
        define_spectest(&mut store, &mut imports);
        Runner {
            compiler,
            dir,
            artifacts: 0,
            store,
            imports,
            current: None,
            named: HashMap::new(),
            definitions: HashMap::new(),
        }
    }

    /// Runs one directive: `Ok` when it did what the script says it does
    /// (an assertion holds, a module instantiates), else why not. A
    /// module that fails makes later directives that use it fail with
    /// its reason.
    pub fn directive(&mut self, d: WastDirective<'_>) -> Result<(), DirectiveFailed> {
        self.run(d).map_err(DirectiveFailed)
    }

    fn run(&mut self, d: WastDirective<'_>) -> Result<(), String> {
        match d {
            WastDirective::Module(mut m) => {
                let name = m.name().map(|id| id.name().to_owned());
                let inst = self.instantiate_quote(&mut m);
                let result = inst.as_ref().map(|_| ()).map_err(Clone::clone);
                if let Some(name) = name {
                    self.named.insert(name, inst.clone());
                }
                self.current = Some(inst);
                result
            }
            WastDirective::ModuleDefinition(mut m) => {
                let name = m.name().map(|id| id.name().to_owned());
                let module = self.load(&mut m);
                let result = module.as_ref().map(|_| ()).map_err(Clone::clone);
                if let Some(name) = name {
                    self.definitions.insert(name, module);
                }
                result
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                let def = module.map(|id| id.name().to_owned()).unwrap_or_default();
                let inst = match self.definitions.get(&def) {
                    Some(Ok(m)) => {
                        Instance::new(&mut self.store, m, &self.imports).map_err(|e| e.to_string())
                    }
                    Some(Err(e)) => Err(format!("module definition failed: {e}")),
                    None => Err(format!("no module definition `{def}`")),
                };
                let result = inst.as_ref().map(|_| ()).map_err(Clone::clone);
                if let Some(id) = instance {
                    self.named.insert(id.name().to_owned(), inst.clone());
                }
                self.current = Some(inst);
                result
            }
            WastDirective::Register { name, module, .. } => {
                let inst = self.instance(module.map(|id| id.name()))?;
                for (export, ext) in inst.exports(&self.store) {
                    self.imports.define(name, &export, ext);
                }
                Ok(())
            }
            WastDirective::Invoke(invoke) => self.invoke(&invoke).map(drop),
            WastDirective::AssertReturn { exec, results, .. } => {
                let got = self.execute(exec)?;
                check_results(&got, &results)
            }
            WastDirective::AssertTrap { exec, message, .. } => match self.execute(exec) {
                Ok(vals) => Err(format!("expected trap `{message}`, got {vals:?}")),
                Err(e) => expect_message(&e, message),
            },
            WastDirective::AssertException { exec, .. } => match self.execute(exec) {
                Ok(vals) => Err(format!("expected an uncaught exception, got {vals:?}")),
                Err(e) if e.ends_with("uncaught wasm exception") => Ok(()),
                Err(e) => Err(format!("expected an uncaught exception, got `{e}`")),
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call) {
                Ok(vals) => Err(format!("expected `{message}`, got {vals:?}")),
                Err(e) => expect_message(&e, message),
            },
            WastDirective::AssertInvalid {
                mut module,
                message,
                ..
            }
            | WastDirective::AssertMalformed {
                mut module,
                message,
                ..
            } => {
                let wasm = match module.encode() {
                    Ok(w) => w,
                    // Malformed text: the text parser rejected it.
                    Err(_) => return Ok(()),
                };
                match self.compiler.compile(&wasm) {
                    Ok(_) => Err(format!("module compiled, expected an error `{message}`")),
                    Err(CompileFailure::Invalid(_)) => Ok(()),
                    Err(e) => Err(format!("wrong error for `{message}`: {e}")),
                }
            }
            WastDirective::AssertUnlinkable {
                mut module,
                message,
                ..
            } => {
                let module = self.load_wat(&mut module)?;
                match Instance::new(&mut self.store, &module, &self.imports) {
                    Ok(_) => Err(format!("module linked, expected `{message}`")),
                    Err(e @ InstantiationError::Link { .. }) => {
                        expect_message(&e.to_string(), message)
                    }
                    Err(e) => Err(format!("expected a link error `{message}`, got: {e}")),
                }
            }
            other => Err(format!("unsupported directive `{}`", kind_of(&other))),
        }
    }

    /// Compiles, writes and loads a module, as `wasmoc build` + `wasmo exec`
    /// would.
    fn load(&mut self, m: &mut QuoteWat<'_>) -> Slot<Module> {
        let wasm = m
            .encode()
            .map_err(|e| format!("cannot encode module: {e}"))?;
        self.load_bytes(&wasm)
    }

    fn load_wat(&mut self, m: &mut Wat<'_>) -> Slot<Module> {
        let wasm = m
            .encode()
            .map_err(|e| format!("cannot encode module: {e}"))?;
        self.load_bytes(&wasm)
    }

    fn load_bytes(&mut self, wasm: &[u8]) -> Slot<Module> {
        let artifact = self
            .compiler
            .compile(wasm)
            .map_err(|e| format!("compile: {e}"))?;
        self.artifacts += 1;
        let path = self.dir.join(format!("m{}.wasmo", self.artifacts));
        std::fs::write(&path, artifact).map_err(|e| format!("cannot write artifact: {e}"))?;
        let module = Module::from_file(&path).map_err(|e| format!("load: {e}"));
        let _ = std::fs::remove_file(&path);
        module
    }

    fn instantiate_quote(&mut self, m: &mut QuoteWat<'_>) -> Slot<Instance> {
        let module = self.load(m)?;
        Instance::new(&mut self.store, &module, &self.imports)
            .map_err(|e| format!("instantiate: {e}"))
    }

    fn instance(&self, name: Option<&str>) -> Result<Instance, String> {
        let slot = match name {
            Some(n) => self
                .named
                .get(n)
                .ok_or_else(|| format!("no module named `{n}`"))?,
            None => self.current.as_ref().ok_or("no current module")?,
        };
        slot.clone().map_err(|e| format!("module failed: {e}"))
    }

    fn invoke(&mut self, inv: &WastInvoke<'_>) -> Result<Vec<Val>, String> {
        let inst = self.instance(inv.module.map(|id| id.name()))?;
        let func = inst
            .get_func(&self.store, inv.name)
            .ok_or_else(|| format!("no exported function `{}`", inv.name))?;
        let args = inv
            .args
            .iter()
            .map(arg_val)
            .collect::<Result<Vec<_>, _>>()?;
        let mut results: Vec<Val> = func
            .ty(&self.store)
            .results
            .iter()
            .map(|&t| Val::default_for(t))
            .collect();
        func.call(&mut self.store, &args, &mut results)
            .map_err(|e| match e {
                CallError::Trap(t) => t.to_string(),
                other => format!("call failed: {other}"),
            })?;
        Ok(results)
    }

    /// Runs an action; a trap or error becomes `Err(message)`.
    fn execute(&mut self, exec: WastExecute<'_>) -> Result<Vec<Val>, String> {
        match exec {
            WastExecute::Invoke(inv) => self.invoke(&inv),
            WastExecute::Get { module, global, .. } => {
                let inst = self.instance(module.map(|id| id.name()))?;
                match inst.get_export(&self.store, global) {
                    Some(Extern::Global(g)) => Ok(vec![g.get(&self.store)]),
                    _ => Err(format!("no exported global `{global}`")),
                }
            }
            WastExecute::Wat(mut w) => {
                let module = self
                    .load_wat(&mut w)
                    .map_err(|e| format!("module failed: {e}"))?;
                match Instance::new(&mut self.store, &module, &self.imports) {
                    Ok(_) => Ok(Vec::new()),
                    Err(InstantiationError::Trap(t)) => Err(t.to_string()),
                    Err(e) => Err(format!("instantiate: {e}")),
                }
            }
        }
    }
}

/// The actual message matches when it contains the expected text, or when
/// the expected text starts with the bare trap message (the suite writes
/// `uninitialized element 7` where runtimes report `uninitialized element`).
fn expect_message(actual: &str, expected: &str) -> Result<(), String> {
    let bare = actual.strip_prefix("wasm trap: ").unwrap_or(actual).trim();
    if actual.contains(expected) || (!bare.is_empty() && expected.starts_with(bare)) {
        Ok(())
    } else {
        Err(format!("expected `{expected}`, got `{actual}`"))
    }
}

fn define_spectest(store: &mut Store<()>, imports: &mut Imports) {
    let mut func = |params: &[ValType]| {
        let ty = FuncType {
            params: params.to_vec(),
            results: Vec::new(),
        };
        Extern::Func(Func::new(
            &mut *store,
            ty,
            |_, _, _| Ok::<(), HostError>(()),
        ))
    };
    use ValType::{F32, F64, I32, I64};
    for (name, params) in [
        ("print", &[][..]),
        ("print_i32", &[I32][..]),
        ("print_i64", &[I64][..]),
        ("print_f32", &[F32][..]),
        ("print_f64", &[F64][..]),
        ("print_i32_f32", &[I32, F32][..]),
        ("print_f64_f64", &[F64, F64][..]),
    ] {
        imports.define("spectest", name, func(params));
    }
    let globals = [
        ("global_i32", I32, Val::I32(666)),
        ("global_i64", I64, Val::I64(666)),
        ("global_f32", F32, Val::F32(666.6f32.to_bits())),
        ("global_f64", F64, Val::F64(666.6f64.to_bits())),
    ];
    for (name, content, v) in globals {
        if let Ok(g) = Global::new(
            &mut *store,
            GlobalType {
                content,
                mutable: false,
            },
            v,
        ) {
            imports.define("spectest", name, Extern::Global(g));
        }
    }
    let table_ty = TableType {
        element: ValType::FuncRef,
        limits: Limits {
            min: 10,
            max: Some(20),
        },
        table64: false,
    };
    if let Ok(t) = Table::new(&mut *store, table_ty) {
        imports.define("spectest", "table", Extern::Table(t));
    }
    let mem_ty = MemoryType {
        limits: Limits {
            min: 1,
            max: Some(2),
        },
        memory64: false,
        shared: false,
    };
    if let Ok(m) = Memory::new(&mut *store, mem_ty) {
        imports.define("spectest", "memory", Extern::Memory(m));
    }
    let shared_ty = MemoryType {
        shared: true,
        ..mem_ty
    };
    if let Ok(m) = Memory::new(&mut *store, shared_ty) {
        imports.define("spectest", "shared_memory", Extern::Memory(m));
    }
}

fn arg_val(a: &WastArg<'_>) -> Result<Val, String> {
    match a {
        WastArg::Core(WastArgCore::I32(i)) => Ok(Val::I32(*i)),
        WastArg::Core(WastArgCore::I64(i)) => Ok(Val::I64(*i)),
        WastArg::Core(WastArgCore::F32(f)) => Ok(Val::F32(f.bits)),
        WastArg::Core(WastArgCore::F64(f)) => Ok(Val::F64(f.bits)),
        WastArg::Core(WastArgCore::V128(v)) => Ok(Val::V128(u128::from_le_bytes(v.to_le_bytes()))),
        WastArg::Core(WastArgCore::RefNull(ht)) if heap_type_is(ht, AbstractHeapType::Func) => {
            Ok(Val::FuncRef(None))
        }
        WastArg::Core(WastArgCore::RefNull(ht)) if heap_type_is(ht, AbstractHeapType::Extern) => {
            Ok(Val::ExternRef(None))
        }
        // `ref.extern N`: a host object holding N, which results are
        // compared by (2.0 has no reference identity wasm could observe).
        WastArg::Core(WastArgCore::RefExtern(n)) => Ok(Val::ExternRef(Some(ExternRef::new(*n)))),
        other => Err(format!("unsupported argument {other:?}")),
    }
}

fn check_results(got: &[Val], expected: &[WastRet<'_>]) -> Result<(), String> {
    if got.len() != expected.len() {
        return Err(format!("expected {} results, got {got:?}", expected.len()));
    }
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        let WastRet::Core(e) = e else {
            return Err(format!("unsupported expected result {e:?}"));
        };
        if !matches_ret(g, e) {
            return Err(format!(
                "result {i}: expected {}, got {}",
                show_ret(e),
                show_val(g)
            ));
        }
    }
    Ok(())
}

fn matches_ret(v: &Val, e: &WastRetCore<'_>) -> bool {
    match (v, e) {
        (Val::I32(a), WastRetCore::I32(b)) => a == b,
        (Val::I64(a), WastRetCore::I64(b)) => a == b,
        (Val::F32(a), WastRetCore::F32(p)) => f32_matches(*a, p),
        (Val::F64(a), WastRetCore::F64(p)) => f64_matches(*a, p),
        (Val::V128(a), WastRetCore::V128(p)) => v128_matches(*a, p),
        (Val::FuncRef(None), WastRetCore::RefNull(ht)) => ht
            .as_ref()
            .is_none_or(|ht| heap_type_is(ht, AbstractHeapType::Func)),
        (Val::ExternRef(None), WastRetCore::RefNull(ht)) => ht
            .as_ref()
            .is_none_or(|ht| heap_type_is(ht, AbstractHeapType::Extern)),
        (Val::FuncRef(Some(_)), WastRetCore::RefFunc(_)) => true,
        (Val::ExternRef(Some(_)), WastRetCore::RefExtern(None)) => true,
        (Val::ExternRef(Some(r)), WastRetCore::RefExtern(Some(n))) => {
            r.data().downcast_ref::<u32>() == Some(n)
        }
        (v, WastRetCore::Either(alts)) => alts.iter().any(|e| matches_ret(v, e)),
        _ => false,
    }
}

/// Whether `ht` is the abstract heap type `ty` (not shared).
fn heap_type_is(ht: &wast::core::HeapType<'_>, ty: AbstractHeapType) -> bool {
    matches!(ht, wast::core::HeapType::Abstract { shared: false, ty: t } if *t == ty)
}

fn f32_matches(bits: u32, p: &NanPattern<wast::token::F32>) -> bool {
    match p {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => bits & 0x7fc0_0000 == 0x7fc0_0000,
        NanPattern::Value(f) => bits == f.bits,
    }
}

fn f64_matches(bits: u64, p: &NanPattern<wast::token::F64>) -> bool {
    match p {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
        NanPattern::ArithmeticNan => bits & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        NanPattern::Value(f) => bits == f.bits,
    }
}

fn v128_matches(v: u128, p: &V128Pattern) -> bool {
    let b = v.to_le_bytes();
    let lane = |i: usize, n: usize| {
        let mut x = [0u8; 8];
        x[..n].copy_from_slice(&b[i * n..i * n + n]);
        u64::from_le_bytes(x)
    };
    match p {
        V128Pattern::I8x16(l) => l
            .iter()
            .enumerate()
            .all(|(i, x)| lane(i, 1) == u64::from(*x as u8)),
        V128Pattern::I16x8(l) => l
            .iter()
            .enumerate()
            .all(|(i, x)| lane(i, 2) == u64::from(*x as u16)),
        V128Pattern::I32x4(l) => l
            .iter()
            .enumerate()
            .all(|(i, x)| lane(i, 4) == u64::from(*x as u32)),
        V128Pattern::I64x2(l) => l.iter().enumerate().all(|(i, x)| lane(i, 8) == *x as u64),
        V128Pattern::F32x4(l) => l
            .iter()
            .enumerate()
            .all(|(i, p)| f32_matches(lane(i, 4) as u32, p)),
        V128Pattern::F64x2(l) => l
            .iter()
            .enumerate()
            .all(|(i, p)| f64_matches(lane(i, 8), p)),
    }
}

fn show_val(v: &Val) -> String {
    match v {
        Val::F32(b) => format!("f32 {} ({b:#010x})", f32::from_bits(*b)),
        Val::F64(b) => format!("f64 {} ({b:#018x})", f64::from_bits(*b)),
        other => format!("{other:?}"),
    }
}

fn show_ret(e: &WastRetCore<'_>) -> String {
    match e {
        WastRetCore::F32(NanPattern::Value(f)) => {
            format!("f32 {} ({:#010x})", f32::from_bits(f.bits), f.bits)
        }
        WastRetCore::F64(NanPattern::Value(f)) => {
            format!("f64 {} ({:#018x})", f64::from_bits(f.bits), f.bits)
        }
        other => format!("{other:?}"),
    }
}
