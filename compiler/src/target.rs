//! Choosing the target: triple normalisation, CPU name and features, and
//! the LLVM target machine built from them.
//!
//! Rule: the CPU features recorded in the artifact are a superset of what
//! the code may use. For a named CPU we only accept names whose feature set
//! we know (the x86-64 micro-architecture levels, or the host's own CPU),
//! because LLVM's C API cannot tell us the features a CPU name implies.

use crate::{CompileConfig, CompileError, CpuSelection};
use inkwell::targets::{
    CodeModel, InitializationConfig, RelocMode, Target, TargetMachine, TargetTriple,
};
use inkwell::OptimizationLevel;
use std::sync::Once;
use wasmo_artifact_format::CpuFeatures;

/// The architectures the compiler can generate code for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arch {
    /// x86-64.
    X86_64,
    /// AArch64 (code generation only; linking is not supported yet).
    Aarch64,
}

/// Everything needed to make target machines for one compilation.
#[derive(Debug, Clone)]
pub(crate) struct TargetSetup {
    /// Normalised triple.
    pub(crate) triple: String,
    /// Architecture.
    pub(crate) arch: Arch,
    /// CPU name passed to LLVM.
    pub(crate) cpu_name: String,
    /// Feature string passed to LLVM (may be empty: the CPU implies them).
    pub(crate) llvm_features: String,
    /// The features the code may use, as recorded in the artifact.
    pub(crate) cpu_features: CpuFeatures,
    /// LLVM's code-generation optimisation level.
    pub(crate) codegen_level: OptimizationLevel,
    /// The CPU to tune for, when it is not `cpu_name` (every function gets
    /// it as its `tune-cpu` attribute, as clang's `-mtune` does).
    pub(crate) tune_cpu: Option<&'static str>,
}

/// Features of the x86-64 micro-architecture levels (x86-64 psABI), beyond
/// SSE2, restricted to those [`CpuFeatures`] knows.
const X86_64_V2: &str = "+sse3,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16";
const X86_64_V3: &str = "+avx,+avx2,+bmi,+bmi2,+f16c,+fma,+lzcnt,+movbe";
const X86_64_V4: &str = "+avx512f,+avx512bw,+avx512cd,+avx512dq,+avx512vl";

/// Tuning flags added to every x86-64 feature string (they change no
/// instruction set, so [`CpuFeatures`] ignores them).
///
/// - No gathers or scatters: a wasm access is `base + zext(i32 address)`,
///   and when LLVM cannot prove the 32-bit address never wraps it treats
///   even a contiguous loop's lanes as unrelated addresses. With AVX2 or
///   AVX-512 it then vectorises through `vpgather`/`vpscatter`, which are
///   microcoded on AMD cores: the memory-bound kernel ran at half speed
///   with `--cpu native` on Zen 4. Scalar or contiguous code is faster
///   everywhere we measured.
const X86_TUNING: &str = "+prefer-no-gather,+prefer-no-scatter";

/// Tuning flags added where wasmo tunes for the `generic` core (the
/// `x86-64-vN` targets) rather than a named CPU, whose own tuning stays.
///
/// - Three-operand `lea`s stay whole (`-slow-3ops-lea`): a wasm address
///   that steps back from a scaled index (`stack[sp - 1]`) is a 32-bit
///   `base + 8 * sp - 8`, which must wrap at 2^32 and so cannot fold its
///   `- 8` into the 64-bit access as native code does. Generic tuning
///   splits such an `lea` into an `lea` and an `add` (for Intel cores
///   before Ice Lake, where it took 3 cycles); on AMD Zen and current
///   Intel cores it is one micro-op of 1-2 cycles, so the split only adds
///   an instruction to every such access.
const X86_GENERIC_TUNING: &str = "-slow-3ops-lea";

/// The normalised form of `triple` (`None`: the host's).
pub fn normalise_triple(triple: Option<&str>) -> String {
    let t = match triple {
        Some(t) => TargetTriple::create(t),
        None => TargetMachine::get_default_triple(),
    };
    TargetMachine::normalize_triple(&t)
        .as_str()
        .to_string_lossy()
        .into_owned()
}

/// LLVM's process-wide options that wasmo's code generation relies on.
/// LLVM reads them only through its command-line parser, which the C API
/// exposes as `LLVMParseCommandLineOptions`.
///
/// - `-indvars-widen-indvars=false`: wasm addresses are
///   `base + zext(i32 index)`. Widening a 32-bit induction variable to 64
///   bits turns every such address into `(iv + c) & 0xffff_fff8`, which no
///   loop pass can analyse, so nothing vectorised. Left 32-bit, the zext of
///   an affine index stays affine (scalar evolution proves it does not
///   wrap from the trip count) and the vectorisers widen the loop.
/// - `-vectorize-slp=false`: no SLP vectoriser (the loop vectoriser stays).
///   It would run while every float result is still wrapped in
///   `llvm.canonicalize` (`nan.rs`), and its cost model counts each of
///   those as an instruction that pairing two into one vector call saves,
///   though they lower to nothing. So it packed scalar recurrences into
///   `<2 x double>` with an insert and an extract around every step
///   (issue 15: a Mandelbrot escape-time loop, SLP cost -3 with the calls
///   and 0, left scalar, without them, as native clang leaves it). The
///   pass checks this flag itself, so it cannot be run later, after
///   `nan::lower_canonicalize`, instead; and `PassBuilderOptions`'s switch
///   for it does not take it out of LLVM 19's `default<O2>`. See
///   ARCHITECTURE.md, "Decisions", for what it changed.
/// - `-instcombine-lower-dbg-declare=0`: each InstCombine run first walks
///   every instruction of the function looking for `llvm.dbg.declare`
///   to lower. wasmo emits no debug information, so the walk never finds
///   one (no generated byte changes); it was 0.4% of boolector's `-O2`
///   compile (perf).
const LLVM_OPTIONS: &[&str] = &[
    "wasmo",
    "-indvars-widen-indvars=false",
    "-vectorize-slp=false",
    "-instcombine-lower-dbg-declare=0",
];

fn initialise_llvm() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let config = InitializationConfig::default();
        Target::initialize_x86(&config);
        Target::initialize_aarch64(&config);
        set_llvm_options();
    });
}

/// Passes [`LLVM_OPTIONS`] to LLVM's option parser, once per process,
/// followed by the whitespace-separated words of `WASMO_LLVM_OPTIONS` (a
/// developer aid: `WASMO_LLVM_OPTIONS=-time-passes wasmoc build -j1 ...`
/// prints LLVM's per-pass timings of each chunk to stderr). An option LLVM
/// does not know is ignored without a word: the C API hands the parser a
/// null error stream, and the parser's verdict is not returned, so a
/// misspelt option in the environment silently does nothing.
fn set_llvm_options() {
    let extra = std::env::var("WASMO_LLVM_OPTIONS").unwrap_or_default();
    let args: Vec<std::ffi::CString> = LLVM_OPTIONS
        .iter()
        .copied()
        .chain(extra.split_whitespace())
        .map(|a| std::ffi::CString::new(a).unwrap_or_default())
        .collect();
    let argv: Vec<*const std::ffi::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    let argc = std::ffi::c_int::try_from(argv.len()).unwrap_or(0);
    #[expect(
        unsafe_code,
        reason = "LLVM's option parser is reachable only through the raw C API"
    )]
    // SAFETY: `argv` holds `argc` pointers to NUL-terminated strings that
    // `args` keeps alive for the whole call, and the overview may be null.
    // The call runs inside `INIT.call_once`, before this process creates
    // any LLVM context or pass, so no other thread reads the options while
    // the parser writes them. Every option in `LLVM_OPTIONS` is one LLVM 19
    // defines; an unknown one from the environment is skipped by the
    // parser (its error goes to a null stream), not a memory-safety issue.
    unsafe {
        llvm_sys::support::LLVMParseCommandLineOptions(argc, argv.as_ptr(), std::ptr::null());
    }
}

impl TargetSetup {
    /// Resolves `config`'s target and CPU.
    pub(crate) fn new(config: &CompileConfig) -> Result<TargetSetup, CompileError> {
        initialise_llvm();
        let triple = normalise_triple(config.target.as_deref());
        let arch = match triple.split('-').next() {
            Some("x86_64") => Arch::X86_64,
            Some("aarch64") => Arch::Aarch64,
            _ => {
                return Err(CompileError::Target(format!(
                    "target {triple} is not supported (x86_64 and aarch64 are)"
                )))
            }
        };
        let host_triple = normalise_triple(None);
        let (cpu_name, mut llvm_features) = cpu_for(arch, &config.cpu, triple == host_triple)?;
        let cpu_features = match arch {
            Arch::X86_64 => CpuFeatures::from_llvm_feature_string(&llvm_features),
            Arch::Aarch64 => CpuFeatures::EMPTY,
        };
        if arch == Arch::X86_64 {
            if !llvm_features.is_empty() {
                llvm_features.push(',');
            }
            llvm_features.push_str(X86_TUNING);
        }
        // The x86-64 psABI levels are feature sets, not machines; LLVM's
        // models of them tune for old cores (x86-64-v2 rotates with SHLD,
        // slow on AMD). Tune for a generic current core, like clang.
        let tune_cpu = cpu_name.starts_with("x86-64").then_some("generic");
        if arch == Arch::X86_64 && tune_cpu.is_some() {
            llvm_features.push(',');
            llvm_features.push_str(X86_GENERIC_TUNING);
        }
        let codegen_level = match config.opt_level {
            crate::OptLevel::O0 => OptimizationLevel::None,
            crate::OptLevel::O1 => OptimizationLevel::Less,
            crate::OptLevel::O2 => OptimizationLevel::Default,
            crate::OptLevel::O3 => OptimizationLevel::Aggressive,
        };
        let setup = TargetSetup {
            triple,
            arch,
            tune_cpu,
            cpu_name,
            llvm_features,
            cpu_features,
            codegen_level,
        };
        // Fail early (and once) on a triple LLVM does not know.
        setup.machine()?;
        Ok(setup)
    }

    /// A fresh target machine (one per worker thread).
    pub(crate) fn machine(&self) -> Result<TargetMachine, CompileError> {
        let triple = TargetTriple::create(&self.triple);
        let target = Target::from_triple(&triple)
            .map_err(|e| CompileError::Target(format!("{}: {e}", self.triple)))?;
        target
            .create_target_machine(
                &triple,
                &self.cpu_name,
                &self.llvm_features,
                self.codegen_level,
                RelocMode::PIC,
                CodeModel::Small,
            )
            .ok_or_else(|| {
                CompileError::Target(format!(
                    "LLVM cannot make a target machine for {} (cpu {})",
                    self.triple, self.cpu_name
                ))
            })
    }
}

/// The CPU name and the full feature string for a CPU selection.
fn cpu_for(
    arch: Arch,
    cpu: &CpuSelection,
    is_host_triple: bool,
) -> Result<(String, String), CompileError> {
    let host_name = || TargetMachine::get_host_cpu_name().to_string();
    let host_features = || TargetMachine::get_host_cpu_features().to_string();
    match (arch, cpu) {
        (_, CpuSelection::Native) if !is_host_triple => Err(CompileError::Target(
            "--cpu native needs the host's target triple".into(),
        )),
        (_, CpuSelection::Native) => Ok((host_name(), host_features())),
        (Arch::X86_64, CpuSelection::Baseline) => Ok(("x86-64-v2".into(), X86_64_V2.into())),
        (Arch::Aarch64, CpuSelection::Baseline) => Ok(("generic".into(), String::new())),
        (Arch::X86_64, CpuSelection::Named(name)) => match name.as_str() {
            "x86-64" => Ok((name.clone(), String::new())),
            "x86-64-v2" => Ok((name.clone(), X86_64_V2.into())),
            "x86-64-v3" => Ok((name.clone(), format!("{X86_64_V2},{X86_64_V3}"))),
            "x86-64-v4" => Ok((name.clone(), format!("{X86_64_V2},{X86_64_V3},{X86_64_V4}"))),
            n if is_host_triple && n == host_name() => Ok((name.clone(), host_features())),
            _ => Err(CompileError::Target(format!(
                "cannot tell which CPU features `{name}` has; use x86-64, x86-64-v2, x86-64-v3, \
                 x86-64-v4 or native"
            ))),
        },
        (Arch::Aarch64, CpuSelection::Named(name)) => Ok((name.clone(), String::new())),
    }
}
