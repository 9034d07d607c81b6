//! The engine: the configuration modules are compiled and loaded with.
//!
//! Rule: what an engine configures either goes into the artifacts it
//! compiles (bounds-check strategy, optimisation level, CPU: recorded in
//! the header and the compatibility hash, and checked when an artifact is
//! loaded into an engine) or is applied to each store made with it (the
//! wasm stack size); an engine never holds a store or an instance.

use std::sync::Arc;

pub use wasmo_artifact_format::BoundsChecks;

/// How an [`Engine`] compiles and loads modules. Builder methods take
/// and return `&mut Config`, as Wasmtime's do.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub(crate) bounds_checks: BoundsChecks,
    pub(crate) max_wasm_stack: Option<usize>,
    #[cfg(feature = "compiler")]
    pub(crate) opt_level: Option<wasmo_compiler::OptLevel>,
    #[cfg(feature = "compiler")]
    pub(crate) native_cpu: bool,
}

impl Config {
    /// The defaults: guard pages, `-O2`, the baseline CPU, the loader's
    /// default wasm stack.
    pub fn new() -> Config {
        Config::default()
    }

    /// How linear-memory accesses are kept in bounds: guard pages (the
    /// default: a 4 GiB reservation per 32-bit memory, no checks in code)
    /// or explicit checks (for small address spaces). Artifacts record it,
    /// and an engine loads only artifacts built with its strategy.
    pub fn bounds_checks(&mut self, strategy: BoundsChecks) -> &mut Config {
        self.bounds_checks = strategy;
        self
    }

    /// The native stack each call into wasm runs on, in bytes (at least
    /// 256 KiB); deeper recursion traps with "call stack exhausted".
    /// Each [`Store`](crate::Store) made with the engine starts with it
    /// (a store can change its own with `set_wasm_stack_size`).
    pub fn max_wasm_stack(&mut self, bytes: usize) -> &mut Config {
        self.max_wasm_stack = Some(bytes);
        self
    }

    /// The optimisation level `Module::new` compiles at, 0 to 3 (values
    /// above 3 mean 3). The default is 2.
    #[cfg(feature = "compiler")]
    pub fn opt_level(&mut self, level: u8) -> &mut Config {
        self.opt_level = wasmo_compiler::OptLevel::from_number(level.min(3));
        self
    }

    /// Whether `Module::new` compiles for this machine's CPU with all its
    /// features (`--cpu native`) instead of the shippable baseline
    /// (`x86-64-v2`). Artifacts built so run only on CPUs with the same
    /// features.
    #[cfg(feature = "compiler")]
    pub fn native_cpu(&mut self, native: bool) -> &mut Config {
        self.native_cpu = native;
        self
    }

    /// The compiler's configuration for this engine.
    #[cfg(feature = "compiler")]
    pub(crate) fn compile_config(&self) -> wasmo_compiler::CompileConfig {
        wasmo_compiler::CompileConfig {
            opt_level: self.opt_level.unwrap_or_default(),
            cpu: if self.native_cpu {
                wasmo_compiler::CpuSelection::Native
            } else {
                wasmo_compiler::CpuSelection::Baseline
            },
            bounds_checks: self.bounds_checks,
            ..wasmo_compiler::CompileConfig::default()
        }
    }
}

/// A configuration to compile and load modules with. Cheap to clone (an
/// `Arc`); every [`Module`](crate::Module) keeps the engine it was made
/// with.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    config: Arc<Config>,
}

impl Engine {
    /// An engine with `config`.
    pub fn new(config: &Config) -> Engine {
        Engine {
            config: Arc::new(config.clone()),
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether both are the same engine (clones of one).
    pub fn same(a: &Engine, b: &Engine) -> bool {
        Arc::ptr_eq(&a.config, &b.config)
    }
}
