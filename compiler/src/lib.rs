//! The wasmo compiler: WebAssembly bytes in, `.wasmo` artifact bytes out.
//!
//! ```text
//! wasm ──▶ validate + read module (wasmparser) ──▶ translate each function to LLVM IR
//!      ──▶ optimise (new pass manager) ──▶ emit ELF object ──▶ link into an image
//!      ──▶ ArtifactBuilder (wasmo-artifact-format) ──▶ bytes
//! ```
//!
//! Module map: `module_info` (validation, metadata), `target` (triple, CPU,
//! target machine), `codegen` (one LLVM module per chunk of functions,
//! trampolines, optimisation, object emission), `pipeline` (the `-O2`
//! pass list), `translate` (function bodies), `link` (ELF objects to text/rodata/relro, PLT and GOT),
//! `memory_image` (active data segments to the artifact's data image).
//!
//! Chunks of about `CHUNK_CODE_BYTES` of wasm code (`CHUNK_CODE_BYTES_O0`
//! at `-O0`; smaller at a module's end, `TAIL_CHUNKS`) compile in parallel
//! on rayon's pool, largest first, each in
//! its own LLVM context; they are cut by size, never by thread count, and
//! linked in module order, so the output is the same on every machine.
//!
//! Rule: the compiler never touches the file system and never depends on the
//! loader; everything the loader needs goes through
//! `wasmo_artifact_format`. Same input and [`CompileConfig`] give the same
//! bytes.

mod codegen;
mod link;
mod loop_version;
mod memory_image;
mod module_info;
mod nan;
mod pipeline;
mod proposals;
mod target;
mod translate;
mod wide_phis;

use rayon::prelude::*;
use wasmo_artifact_format::metadata::{CodeSpan, DefinedFunc, ModuleMetadata};
use wasmo_artifact_format::{ArtifactBuilder, BoundsChecks, BuildFacts, CompatFacts};

pub use wasmo_artifact_format::Instrumentation;

pub use target::normalise_triple;

/// LLVM optimisation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptLevel {
    /// `-O0`
    O0,
    /// `-O1`
    O1,
    /// `-O2` (the default)
    #[default]
    O2,
    /// `-O3`
    O3,
}

impl OptLevel {
    /// From the number after `-O`.
    pub fn from_number(n: u8) -> Option<OptLevel> {
        match n {
            0 => Some(OptLevel::O0),
            1 => Some(OptLevel::O1),
            2 => Some(OptLevel::O2),
            3 => Some(OptLevel::O3),
            _ => None,
        }
    }

    /// The number after `-O`.
    pub fn as_number(self) -> u8 {
        match self {
            OptLevel::O0 => 0,
            OptLevel::O1 => 1,
            OptLevel::O2 => 2,
            OptLevel::O3 => 3,
        }
    }
}

/// Which CPU to generate code for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CpuSelection {
    /// The documented baseline for shipped artifacts: `x86-64-v2` on
    /// x86-64 (SSE4.2, POPCNT), `generic` elsewhere.
    #[default]
    Baseline,
    /// The CPU this compiler runs on, with all its features.
    Native,
    /// A CPU by LLVM's name (`x86-64-v3`, `znver3`, `skylake`, ...).
    Named(String),
}

/// How to compile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompileConfig {
    /// Optimisation level.
    pub opt_level: OptLevel,
    /// Target triple; `None` for the host. Normalised before use.
    pub target: Option<String>,
    /// CPU.
    pub cpu: CpuSelection,
    /// Bounds-check strategy for linear memory.
    pub bounds_checks: BoundsChecks,
    /// Which WebAssembly a module is validated against.
    pub wasm: WasmVersion,
    /// Resource-limit checks to compile in (interruption, fuel); in the
    /// header and the compatibility hash.
    pub instrumentation: Instrumentation,
}

/// Which version of WebAssembly a module is validated against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WasmVersion {
    /// Everything wasmo compiles; a valid module that uses a proposal
    /// wasmo lacks is [`CompileError::Unsupported`], naming it.
    #[default]
    Latest,
    /// WebAssembly 1.0 alone: anything a later version added is invalid,
    /// as the 1.0 spec suite expects (several memories, a `shared` global,
    /// an overlong table index in `call_indirect`, ...).
    V1,
    /// What wasmo compiles but several memories: the memory64 proposal's
    /// own suite predates multi-memory and expects a second memory, or a
    /// non-zero memory index byte, to be refused. Generated code is the
    /// same as under [`WasmVersion::Latest`].
    Memory64Proposal,
    /// WebAssembly 2.0 alone (wasmparser's 2.0 feature set), as its spec
    /// suite expects: a module that needs a later proposal (several
    /// memories, a memory index byte, 64-bit limits flags, ...) is invalid
    /// or malformed rather than unsupported.
    V2,
    /// What wasmo compiles but several memories and several tables: the
    /// threads proposal's own suite predates reference types and
    /// multi-memory and expects a second table or memory to be refused.
    /// Generated code is the same as under [`WasmVersion::Latest`].
    ThreadsProposal,
}

/// Why a module could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The module is malformed or invalid.
    #[error("invalid module at byte offset {offset:#x}: {message}")]
    Invalid {
        /// Byte offset in the wasm binary.
        offset: u64,
        /// What is wrong (wasmparser's message).
        message: String,
    },
    /// The module uses a feature this compiler does not support yet.
    #[error("unsupported feature at byte offset {offset:#x}: {feature}")]
    Unsupported {
        /// What is unsupported.
        feature: String,
        /// Byte offset in the wasm binary.
        offset: u64,
    },
    /// The target triple or CPU is unknown or unsupported.
    #[error("unsupported target: {0}")]
    Target(String),
    /// LLVM failed; a bug in wasmo.
    #[error("internal compiler error: {0}")]
    Internal(String),
}

impl From<inkwell::builder::BuilderError> for CompileError {
    fn from(e: inkwell::builder::BuilderError) -> Self {
        CompileError::Internal(format!("LLVM builder: {e}"))
    }
}

impl From<wasmparser::BinaryReaderError> for CompileError {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        CompileError::Invalid {
            offset: e.offset(),
            message: e.message().to_owned(),
        }
    }
}

impl CompileConfig {
    /// The normalised target triple this configuration compiles for.
    pub fn normalised_target(&self) -> String {
        normalise_triple(self.target.as_deref())
    }
}

/// Bytes each 32-bit memory reserves (both strategies); artifact-format's
/// number, which the loader checks the header against.
pub const MEMORY_RESERVATION: u64 = wasmo_artifact_format::MEMORY_RESERVATION;

/// Guard bytes after each memory's reservation for `bounds_checks`
/// (artifact-format's [`BoundsChecks::guard_size`], which the loader checks
/// the header against).
pub fn guard_size(bounds_checks: BoundsChecks) -> u64 {
    bounds_checks.guard_size()
}

// The translator elides bounds checks for offsets inside this guard.
const _: () = assert!(translate::GUARD_SIZE == wasmo_artifact_format::GUARD_PAGES_GUARD_SIZE);

/// Roughly how many bytes of wasm code go into one LLVM module. Chunks are
/// cut by this fixed budget, never by the number of threads, so the output
/// does not depend on the machine.
const CHUNK_CODE_BYTES: u64 = 128 * 1024;

/// [`CHUNK_CODE_BYTES`] at `-O0`: a chunk there compiles about five times
/// faster, and smaller chunks keep every core busy to the end of a
/// compile. Their dispatch arrays are not copied into each chunk
/// ([`codegen::DispatchHome::Declared`]), which made this cost more than
/// it saved.
const CHUNK_CODE_BYTES_O0: u64 = 32 * 1024;

/// The chunks at the end of a module shrink: a chunk's budget is the
/// code still to be cut divided by this, between a [`TAIL_SHRINK`]th of
/// the full budget and the full budget. Workers take the largest chunks
/// first, so the small ones come last and the cores finish together.
/// The cuts depend on the module only. ARCHITECTURE.md ("Chunks shrink
/// at the end of a module") has the measurements.
const TAIL_CHUNKS: u64 = 8;

/// How far the chunks at the end of a module shrink ([`TAIL_CHUNKS`]).
const TAIL_SHRINK: u64 = 4;

/// A function body larger than this is optimised at most at `-O1`.
const GIANT_FUNC_BYTES: u64 = 1024 * 1024;

/// Compiles a WebAssembly binary into the bytes of a `.wasmo` artifact, on
/// all cores and without progress reports.
pub fn compile(wasm: &[u8], config: &CompileConfig) -> Result<Vec<u8>, CompileError> {
    compile_with(wasm, config, &Session::default())
}

/// How a compile runs, as opposed to what it produces ([`CompileConfig`]):
/// nothing here changes the artifact's bytes.
#[derive(Default)]
pub struct Session<'a> {
    /// Worker threads for the chunks; `None` uses all cores.
    pub threads: Option<usize>,
    /// Called from the workers each time a chunk of functions is done.
    pub progress: Option<&'a (dyn Fn(Progress) + Sync)>,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("threads", &self.threads)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// How far a compile has got, in defined functions and bytes of their
/// wasm code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Functions compiled so far.
    pub funcs_done: u32,
    /// Functions the module defines.
    pub funcs_total: u32,
    /// Bytes of function bodies compiled so far.
    pub code_bytes_done: u64,
    /// Bytes of all function bodies.
    pub code_bytes_total: u64,
}

/// Compiles as [`compile`] does, with the threads and progress reports of
/// `session`.
pub fn compile_with(
    wasm: &[u8],
    config: &CompileConfig,
    session: &Session<'_>,
) -> Result<Vec<u8>, CompileError> {
    match session.threads {
        None => compile_on_pool(wasm, config, session.progress),
        Some(threads) => rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .build()
            .map_err(|e| CompileError::Internal(format!("starting {threads} threads: {e}")))?
            .install(|| compile_on_pool(wasm, config, session.progress)),
    }
}

/// [`compile_with`] on the current rayon pool.
fn compile_on_pool(
    wasm: &[u8],
    config: &CompileConfig,
    progress: Option<&(dyn Fn(Progress) + Sync)>,
) -> Result<Vec<u8>, CompileError> {
    let mut info = module_info::read_module(wasm, config.wasm)?;
    let target = target::TargetSetup::new(config)?;
    check_linkable(&target)?;
    let objects = match compile_chunks(&info, config, &target, progress) {
        Ok(objects) => objects,
        // The workers validate the bodies as they go, so which error came
        // first is a race; whole-module validation says what the module's
        // first problem is, as it would have before any code was made. If
        // it accepts the module, the compile runs again on what it read: a
        // body may have needed the exception feature set that the sections
        // alone did not ask for (a `try_table` with only `catch_all`); an
        // error of code generation itself just comes again.
        Err(_) if info.deferred.is_some() => {
            info = module_info::read_module_serial(wasm, config.wasm)?;
            compile_chunks(&info, config, &target, progress)?
        }
        Err(e) => return Err(e),
    };
    let image = link::link(&objects)?;
    let mut metadata = finish_metadata(info.metadata.clone(), &info, &image)?;
    let data_image = memory_image::extract(&mut metadata, link::PAGE_ALIGN);
    let builder = ArtifactBuilder {
        facts: BuildFacts {
            compat: CompatFacts {
                target_triple: target.triple.clone(),
                cpu_features: target.cpu_features,
                bounds_checks: config.bounds_checks,
                memory_reservation: config.bounds_checks.memory_reservation(),
                guard_size: config.bounds_checks.guard_size(),
                wasm_features: module_info::artifact_wasm_features(),
                page_align: link::PAGE_ALIGN as u32,
                instrumentation: config.instrumentation,
            },
            cpu_name: target.cpu_name.clone(),
            opt_level: config.opt_level.as_number(),
            source_hash: *blake3::hash(wasm).as_bytes(),
        },
        metadata,
        text: image.text,
        rodata: image.rodata,
        relro: image.relro,
    };
    builder
        .build_with_data_image(&data_image)
        .map_err(|e| CompileError::Internal(format!("writing the artifact: {e}")))
}

/// Compiles every chunk on the current rayon pool, reporting each one done
/// to `progress`: the objects in module order, then (at `-O0`) the one
/// that defines the dispatch arrays the chunks declare, compiled as one
/// more task beside them.
fn compile_chunks(
    info: &module_info::ModuleInfo<'_>,
    config: &CompileConfig,
    target: &target::TargetSetup,
    progress: Option<&(dyn Fn(Progress) + Sync)>,
) -> Result<Vec<Vec<u8>>, CompileError> {
    use std::sync::atomic::Ordering;
    let chunks = plan_chunks(info, config.opt_level);
    let code_bytes = |funcs: &std::ops::Range<u32>| code_bytes(info, funcs);
    let funcs_total = info.defined_funcs();
    let code_bytes_total = code_bytes(&(0..funcs_total));
    // Functions done above bit `FUNCS_SHIFT`, bytes below: one add moves
    // both, so a report never pairs one chunk's functions with another's
    // bytes. Wasm caps a module at 10^6 functions (2^20) and a
    // module's bytes stay far below 2^40.
    const FUNCS_SHIFT: u32 = 40;
    let done = std::sync::Mutex::new(0u64);
    if let Some(report) = progress {
        report(Progress {
            funcs_done: 0,
            funcs_total,
            code_bytes_done: 0,
            code_bytes_total,
        });
    }
    // Largest chunks first, each worker taking the next one when it is
    // done, so that the last to finish is a small one and no core idles
    // long at the end. Objects are linked in module order all the same.
    let mut order: Vec<usize> = (0..chunks.len()).collect();
    order.sort_by_key(|&c| std::cmp::Reverse(code_bytes(&chunks[c].funcs)));
    // At `-O0` the chunks only declare the dispatch arrays, and the
    // object that defines them is one more task, a small one, so last:
    // its arrays are known before any chunk is translated
    // (`ModuleInfo::dispatch_keys`). It is linked after the chunks.
    let dispatch = config.opt_level == OptLevel::O0 && !info.dispatch_keys.is_empty();
    if dispatch {
        order.push(chunks.len());
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let workers = rayon::current_num_threads().clamp(1, order.len().max(1));
    let compile_one = |chunk: &codegen::Chunk| {
        let object = codegen::compile_chunk(info, config, target, chunk)?;
        if let Some(report) = progress {
            let funcs = u64::from(chunk.funcs.end - chunk.funcs.start);
            let step = (funcs << FUNCS_SHIFT) | code_bytes(&chunk.funcs);
            // Added and reported under one lock, so that reports arrive in
            // the order of their totals (two workers finishing together
            // could otherwise report a larger total before a smaller one).
            let mut total = done.lock().unwrap_or_else(|e| e.into_inner());
            *total += step;
            let now = *total;
            report(Progress {
                funcs_done: (now >> FUNCS_SHIFT) as u32,
                funcs_total,
                code_bytes_done: now & ((1 << FUNCS_SHIFT) - 1),
                code_bytes_total,
            });
            drop(total);
        }
        Ok(object)
    };
    let mut results: Vec<(usize, Result<codegen::ChunkObject, CompileError>)> = (0..workers)
        .into_par_iter()
        .flat_map_iter(|_| {
            let mut mine = Vec::new();
            while !failed.load(Ordering::Relaxed) {
                let Some(&c) = order.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    break;
                };
                let result = match chunks.get(c) {
                    Some(chunk) => compile_one(chunk),
                    None => {
                        codegen::compile_dispatch_arrays(info, config, target, &info.dispatch_keys)
                            .map(|object| codegen::ChunkObject {
                                object,
                                dispatch_arrays: std::collections::BTreeSet::new(),
                            })
                    }
                };
                if result.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                mine.push((c, result));
            }
            mine
        })
        .collect();
    results.sort_by_key(|&(c, _)| c);
    let mut objects = Vec::with_capacity(results.len());
    for (_, result) in results {
        let chunk = result?;
        // The scan saw every `call_indirect`, so a chunk declares only
        // arrays the dispatch object defines; else linking would fail.
        if let Some(key) = chunk
            .dispatch_arrays
            .iter()
            .find(|key| !info.dispatch_keys.contains(key))
        {
            return Err(CompileError::Internal(format!(
                "dispatch array {key:?} was not found by the operator scan"
            )));
        }
        objects.push(chunk.object);
    }
    if objects.len() != order.len() {
        return Err(CompileError::Internal("a chunk was not compiled".into()));
    }
    Ok(objects)
}

/// Refuses, before any code is generated, a target whose objects the
/// linker cannot read: it links ELF for Linux, and x86-64 only so far.
fn check_linkable(target: &target::TargetSetup) -> Result<(), CompileError> {
    let linux = target
        .triple
        .split('-')
        .skip(1)
        .any(|part| part.starts_with("linux"));
    if !linux {
        return Err(CompileError::Target(format!(
            "{} (only ELF x86-64/aarch64 Linux)",
            target.triple
        )));
    }
    if target.arch != target::Arch::X86_64 {
        return Err(CompileError::Target(format!(
            "linking for {} is not supported yet",
            target.triple
        )));
    }
    Ok(())
}

/// Bytes of wasm code in a function body: what chunks are cut by and
/// progress is counted in.
fn body_bytes(body: &wasmparser::FunctionBody<'_>) -> u64 {
    let range = body.range();
    range.end.saturating_sub(range.start)
}

/// Bytes of wasm code in the defined functions `funcs`.
fn code_bytes(info: &module_info::ModuleInfo<'_>, funcs: &std::ops::Range<u32>) -> u64 {
    info.bodies[funcs.start as usize..funcs.end as usize]
        .iter()
        .map(body_bytes)
        .sum()
}

/// Splits the defined functions into chunks of about `CHUNK_CODE_BYTES`
/// (`CHUNK_CODE_BYTES_O0` at `-O0`) of wasm code, shrinking to a quarter
/// of that over the module's last eight budgets' worth ([`TAIL_CHUNKS`]);
/// the first chunk also holds the import trampolines. A giant
/// function (over `GIANT_FUNC_BYTES`) gets a chunk of its own optimised at
/// most at `-O1`: LLVM's O2 pipeline is superlinear on huge functions and
/// this is where "compiling takes minutes" comes from.
fn plan_chunks(info: &module_info::ModuleInfo<'_>, opt_level: OptLevel) -> Vec<codegen::Chunk> {
    let giant_level = match opt_level {
        OptLevel::O0 => OptLevel::O0,
        _ => OptLevel::O1,
    };
    let chunk_bytes = match opt_level {
        OptLevel::O0 => CHUNK_CODE_BYTES_O0,
        _ => CHUNK_CODE_BYTES,
    };
    // Code bytes not yet in a chunk (giant functions aside, which get
    // chunks of their own): the budget of the next chunk shrinks with it.
    let mut remaining: u64 = info
        .bodies
        .iter()
        .map(body_bytes)
        .filter(|&len| len <= GIANT_FUNC_BYTES)
        .sum();
    let budget =
        |remaining: u64| (remaining / TAIL_CHUNKS).clamp(chunk_bytes / TAIL_SHRINK, chunk_bytes);
    let mut chunks: Vec<(std::ops::Range<u32>, OptLevel)> = Vec::new();
    let mut start = 0u32;
    let mut bytes = 0u64;
    for (i, body) in info.bodies.iter().enumerate() {
        let i = i as u32;
        let len = body_bytes(body);
        if len > GIANT_FUNC_BYTES {
            if start < i {
                chunks.push((start..i, opt_level));
            }
            chunks.push((i..i + 1, giant_level));
            start = i + 1;
            remaining = remaining.saturating_sub(bytes);
            bytes = 0;
            continue;
        }
        bytes += len;
        if bytes >= budget(remaining) {
            chunks.push((start..i + 1, opt_level));
            start = i + 1;
            remaining = remaining.saturating_sub(bytes);
            bytes = 0;
        }
    }
    if start < info.defined_funcs() || chunks.is_empty() {
        chunks.push((start..info.defined_funcs(), opt_level));
    }
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, (funcs, opt_level))| codegen::Chunk {
            funcs,
            import_trampolines: i == 0,
            opt_level,
        })
        .collect()
}

/// Fills in what only linking knows: code offsets and relocations.
fn finish_metadata(
    mut metadata: ModuleMetadata,
    info: &module_info::ModuleInfo<'_>,
    image: &link::LinkedImage,
) -> Result<ModuleMetadata, CompileError> {
    // The loader refuses a function or trampoline that does not start on
    // a `FUNC_ALIGN` boundary (that is how it knows an offset is a start).
    let symbol = |name: String| -> Result<(u32, u32), CompileError> {
        let &(off, len) = image.symbols.get(&name).ok_or_else(|| {
            CompileError::Internal(format!("symbol {name} missing from the object"))
        })?;
        if !off.is_multiple_of(u64::from(wasmo_artifact_format::code::FUNC_ALIGN)) {
            return Err(CompileError::Internal(format!(
                "symbol {name} at text offset {off:#x} is not {}-byte aligned",
                wasmo_artifact_format::code::FUNC_ALIGN
            )));
        }
        let too_big = || CompileError::Internal("text larger than 4 GiB".into());
        Ok((
            u32::try_from(off).map_err(|_| too_big())?,
            u32::try_from(len).map_err(|_| too_big())?,
        ))
    };
    let span = |name: String| symbol(name).map(|(offset, len)| CodeSpan { offset, len });
    for def in 0..info.defined_funcs() {
        let (offset, len) = symbol(codegen::func_symbol(def))?;
        let array_trampoline = if info.host_entry(def) {
            Some(span(codegen::array_trampoline_symbol(def))?)
        } else {
            None
        };
        metadata.defined_funcs.push(DefinedFunc {
            offset,
            len,
            array_trampoline,
        });
    }
    for import in 0..info.imported_funcs {
        let t = span(codegen::import_trampoline_symbol(import))?;
        metadata.import_trampolines.push(t);
    }
    metadata.plt_offset = u32::try_from(image.plt_offset)
        .map_err(|_| CompileError::Internal("text larger than 4 GiB".into()))?;
    tile_code_map(&mut metadata, image)?;
    metadata.relocations = image.relocations.clone();
    metadata.trap_sites = image.trap_sites.clone();
    metadata.eh_frame = wasmo_artifact_format::metadata::EhFrame {
        offset: image.eh_frame.0,
        len: image.eh_frame.1,
    };
    Ok(metadata)
}

/// Records as stubs the code no function or trampoline names (LLVM's
/// private functions), then checks the map by the loader's rule: its
/// entries tile the text before the PLT with only `int3` between them.
/// An honest layout that broke the rule would be refused at load, so it
/// is an internal error here.
fn tile_code_map(
    metadata: &mut ModuleMetadata,
    image: &link::LinkedImage,
) -> Result<(), CompileError> {
    let named: std::collections::BTreeSet<(u64, u64)> = metadata
        .code_entries()
        .iter()
        .map(|e| (u64::from(e.offset), u64::from(e.len)))
        .collect();
    for &(off, len) in image.code.iter().filter(|run| !named.contains(run)) {
        let too_big = || CompileError::Internal("text larger than 4 GiB".into());
        metadata.stubs.push(CodeSpan {
            offset: u32::try_from(off).map_err(|_| too_big())?,
            len: u32::try_from(len).map_err(|_| too_big())?,
        });
    }
    wasmo_artifact_format::code::check_tiling(
        &mut metadata.code_entries(),
        metadata.plt_offset,
        &image.text,
    )
    .map_err(|e| CompileError::Internal(format!("the function map does not tile the text: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on what `read_module` makes of a text module.
    fn with_module<R>(wat: &str, f: impl FnOnce(&module_info::ModuleInfo<'_>) -> R) -> R {
        let wasm = match wat::parse_str(wat) {
            Ok(w) => w,
            Err(e) => panic!("bad wat: {e}"),
        };
        match module_info::read_module(&wasm, WasmVersion::Latest) {
            Ok(info) => f(&info),
            Err(e) => panic!("read: {e}"),
        }
    }

    #[test]
    fn giant_functions_get_their_own_lower_level_chunk() {
        let giant = "nop ".repeat(GIANT_FUNC_BYTES as usize + 1);
        let wat = format!("(module (func) (func {giant}) (func) (func))");
        let plan: Vec<_> = with_module(&wat, |info| {
            plan_chunks(info, OptLevel::O3)
                .into_iter()
                .map(|c| (c.funcs, c.opt_level, c.import_trampolines))
                .collect()
        });
        assert_eq!(
            plan,
            vec![
                (0..1, OptLevel::O3, true),
                (1..2, OptLevel::O1, false),
                (2..4, OptLevel::O3, false),
            ]
        );
    }

    /// Chunks are full-sized until the last eight budgets' worth of code,
    /// then shrink to a quarter, so the last ones a worker takes are small;
    /// a small module is one chunk at `-O2`, as before.
    #[test]
    fn chunks_shrink_towards_the_end_of_a_module() {
        // 4 KiB functions (three bytes an operator pair, plus the body's
        // size, local count and `end`).
        let body = "i32.const 1 drop ".repeat(4096 / 3);
        let plan = |funcs: usize, opt_level: OptLevel| -> Vec<u64> {
            let wat = format!("(module {})", format!("(func {body})").repeat(funcs));
            with_module(&wat, |info| {
                let mut next = 0;
                plan_chunks(info, opt_level)
                    .iter()
                    .map(|c| {
                        assert_eq!(c.funcs.start, next, "chunks tile the functions");
                        next = c.funcs.end;
                        code_bytes(info, &c.funcs)
                    })
                    .collect()
            })
        };
        let full = CHUNK_CODE_BYTES;
        let smallest = full / TAIL_SHRINK;
        // 2 MiB at `-O2`: full chunks first, then shrinking ones.
        let sizes = plan(512, OptLevel::O2);
        assert!(sizes[0] >= full && sizes[0] < full + 4200, "{sizes:?}");
        let last = sizes.len() - 1;
        assert!(sizes[last - 1] < full / 2, "{sizes:?}");
        for (i, w) in sizes[..last].windows(2).enumerate() {
            assert!(w[1] <= w[0], "chunk {} grows: {sizes:?}", i + 1);
        }
        assert!(sizes[..last].iter().all(|&s| s >= smallest), "{sizes:?}");
        // Only the last eight budgets' worth is cut smaller.
        let tail: u64 = sizes.iter().filter(|&&s| s < full).sum();
        assert!(tail <= TAIL_CHUNKS * full, "{sizes:?}");
        // 28 KiB: one chunk at `-O2`, several at `-O0`.
        assert_eq!(plan(7, OptLevel::O2).len(), 1);
        let o0 = plan(7, OptLevel::O0);
        assert!(o0.len() >= 3, "{o0:?}");
        assert!(o0
            .iter()
            .all(|&s| s <= CHUNK_CODE_BYTES_O0 / TAIL_SHRINK + 4200));
    }

    /// Bodies are validated by the chunk workers, but with invalid bodies
    /// in two chunks the error is the whole-module validation's (the first
    /// body's), on any thread count.
    #[test]
    fn deferred_validation_reports_the_first_invalid_body() {
        let filler = "i32.const 1 drop ".repeat(CHUNK_CODE_BYTES as usize / 3 / 3 * 2);
        let good = format!("(func {filler})");
        let bad = format!("(func (result i32) {filler} i64.const 1)");
        let wat = format!("(module {good} {bad} {good} {good} {bad})");
        let wasm = match wat::parse_str(&wat) {
            Ok(w) => w,
            Err(e) => panic!("bad wat: {e}"),
        };
        let expected = match module_info::read_module_serial(&wasm, WasmVersion::Latest) {
            Err(e @ CompileError::Invalid { .. }) => e.to_string(),
            other => panic!("the serial path accepted it: {other:?}"),
        };
        for threads in [Some(1), Some(3), None] {
            let session = Session {
                threads,
                progress: None,
            };
            match compile_with(&wasm, &CompileConfig::default(), &session) {
                Err(e) => assert_eq!(e.to_string(), expected, "{threads:?} threads"),
                Ok(_) => panic!("an invalid module compiled on {threads:?} threads"),
            }
        }
    }

    /// A module of several chunks, compiled on one thread and on three,
    /// with progress reports: the same bytes either way, and the reports
    /// climb to every function and byte exactly once.
    #[test]
    fn threads_change_no_byte_and_progress_counts_everything() {
        // Three bytes an operator pair, a third of a chunk a function.
        let body = "i32.const 1 drop ".repeat(CHUNK_CODE_BYTES as usize / 3 / 3);
        let funcs = format!("(func {body})").repeat(10);
        let wasm = match wat::parse_str(format!("(module {funcs})")) {
            Ok(w) => w,
            Err(e) => panic!("bad wat: {e}"),
        };
        let config = CompileConfig {
            opt_level: OptLevel::O0,
            ..CompileConfig::default()
        };
        let reports = std::sync::Mutex::new(Vec::new());
        let record = |p: Progress| {
            if let Ok(mut r) = reports.lock() {
                r.push(p);
            }
        };
        let mut artifacts = Vec::new();
        for threads in [Some(1), Some(3), None] {
            let session = Session {
                threads,
                progress: Some(&record),
            };
            match compile_with(&wasm, &config, &session) {
                Ok(a) => artifacts.push(a),
                Err(e) => panic!("compile with {threads:?} threads: {e}"),
            }
        }
        assert!(artifacts.windows(2).all(|w| w[0] == w[1]));
        let reports = match reports.into_inner() {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        let total = reports[0].code_bytes_total;
        assert!(
            total > 2 * CHUNK_CODE_BYTES,
            "{total} bytes make too few chunks"
        );
        // Per compile: a first report of nothing done, then one per chunk,
        // the last of which is everything.
        let compiles: Vec<_> = reports
            .split_inclusive(|p| p.funcs_done == p.funcs_total)
            .collect();
        assert_eq!(compiles.len(), 3, "{reports:?}");
        for c in compiles {
            assert_eq!((c[0].funcs_done, c[0].code_bytes_done), (0, 0));
            assert!(c.len() > 3, "{c:?}");
            assert!(c
                .windows(2)
                .all(|w| w[0].code_bytes_done < w[1].code_bytes_done));
            let last = c[c.len() - 1];
            assert_eq!((last.funcs_done, last.code_bytes_done), (10, total));
        }
    }
}
