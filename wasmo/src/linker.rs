//! The linker: host functions and other instances' exports by module and
//! name, resolved against a module's imports when it is instantiated.
//!
//! Rule: a linker belongs to no store. Host functions are kept as
//! store-independent definitions ([`HostFuncDef`]) and made into
//! functions of a store only when an instance of that store imports them;
//! externs (memories, globals, other instances' exports) belong to the
//! store they came from, and using them with another store is the
//! loader's link error.

use std::collections::HashMap;

use wasmo_loader::{
    AsContext, AsContextMut, Caller, Extern, FuncType, HostError, HostFuncDef, Imports, Instance,
    IntoFunc, Val,
};
use wasmo_wasi::WasiCtx;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::module::Module;

/// One name's definition.
enum Definition<T> {
    /// An extern of some store.
    Extern(Extern),
    /// A host function, made in each store that needs it.
    Host(HostFuncDef<T>),
}

impl<T> Clone for Definition<T> {
    fn clone(&self) -> Self {
        match self {
            Definition::Extern(e) => Definition::Extern(*e),
            Definition::Host(h) => Definition::Host(h.clone()),
        }
    }
}

/// Definitions by `(module, name)`, for instantiating modules whose
/// imports they satisfy; `T` is the data type of the stores it is used
/// with. Cheap to clone (host closures are shared).
///
/// ```
/// use wasmo::{Caller, Engine, Linker, Module, Store};
///
/// # fn main() -> wasmo::Result<()> {
/// let engine = Engine::default();
/// let module = Module::new(&engine, r#"
///     (module
///       (import "host" "log" (func $log (param i32)))
///       (func (export "run") (call $log (i32.const 42))))
/// "#)?;
/// let mut linker = Linker::new(&engine);
/// linker.func_wrap("host", "log", |mut caller: Caller<'_, Vec<i32>>, v: i32| {
///     caller.data_mut().push(v);
/// })?;
/// let mut store = Store::new(&engine, Vec::new());
/// let instance = linker.instantiate(&mut store, &module)?;
/// let run = instance.get_typed_func::<(), ()>(&store, "run")?;
/// run.call(&mut store, ())?;
/// assert_eq!(store.data(), &[42]);
/// # Ok(())
/// # }
/// ```
pub struct Linker<T> {
    engine: Engine,
    defs: HashMap<(String, String), Definition<T>>,
    allow_shadowing: bool,
}

impl<T> Clone for Linker<T> {
    fn clone(&self) -> Self {
        Linker {
            engine: self.engine.clone(),
            defs: self.defs.clone(),
            allow_shadowing: self.allow_shadowing,
        }
    }
}

impl<T> std::fmt::Debug for Linker<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linker")
            .field("definitions", &self.defs.len())
            .finish_non_exhaustive()
    }
}

impl<T: 'static> Linker<T> {
    /// An empty linker for modules of `engine`.
    pub fn new(engine: &Engine) -> Linker<T> {
        Linker {
            engine: engine.clone(),
            defs: HashMap::new(),
            allow_shadowing: false,
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether a later definition of a name replaces an earlier one
    /// (otherwise it is [`Error::AlreadyDefined`]).
    pub fn allow_shadowing(&mut self, allow: bool) -> &mut Linker<T> {
        self.allow_shadowing = allow;
        self
    }

    fn insert(&mut self, module: &str, name: &str, def: Definition<T>) -> Result<&mut Linker<T>> {
        let key = (module.to_owned(), name.to_owned());
        if !self.allow_shadowing && self.defs.contains_key(&key) {
            return Err(Error::AlreadyDefined {
                module: key.0,
                name: key.1,
            });
        }
        self.defs.insert(key, def);
        Ok(self)
    }

    /// Defines `module.name` as a host function from a Rust closure of
    /// typed parameters and results, with or without a leading
    /// [`Caller`] (see [`Func::wrap`](crate::Func::wrap)).
    pub fn func_wrap<Params, Results>(
        &mut self,
        module: &str,
        name: &str,
        f: impl IntoFunc<T, Params, Results>,
    ) -> Result<&mut Linker<T>> {
        self.insert(module, name, Definition::Host(HostFuncDef::wrap(f)))
    }

    /// Defines `module.name` as a host function of type `ty` over
    /// [`Val`]s (see [`Func::new`](crate::Func::new)).
    pub fn func_new<F>(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        f: F,
    ) -> Result<&mut Linker<T>>
    where
        F: Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), HostError> + Send + Sync + 'static,
    {
        self.insert(module, name, Definition::Host(HostFuncDef::new(ty, f)))
    }

    /// Defines `module.name` as `item`, an extern of `store` (a memory,
    /// table, global or function made by the host or exported by an
    /// instance). Only instances of the same store can import it.
    pub fn define(
        &mut self,
        store: impl AsContext<Data = T>,
        module: &str,
        name: &str,
        item: impl Into<Extern>,
    ) -> Result<&mut Linker<T>> {
        let _ = store;
        self.insert(module, name, Definition::Extern(item.into()))
    }

    /// Defines all of WASI preview1 (`wasi_snapshot_preview1`), each
    /// function reaching the store's [`WasiCtx`] through `get` (as
    /// `wasmtime_wasi::preview1::add_to_linker_sync` does).
    ///
    /// ```no_run
    /// use wasmo::wasi::{Preopen, WasiConfig, WasiCtx};
    /// # fn main() -> wasmo::Result<()> {
    /// let engine = wasmo::Engine::default();
    /// let module = wasmo::Module::from_file(&engine, "app.wasmo")?;
    /// let mut linker = wasmo::Linker::new(&engine);
    /// linker.define_wasi(|ctx: &mut WasiCtx| ctx)?;
    /// let cfg = WasiConfig {
    ///     args: vec!["app".into()],
    ///     env: vec![],
    ///     preopens: vec![Preopen::parse("./data::/data")],
    /// };
    /// let mut store = wasmo::Store::new(&engine, WasiCtx::new(cfg)?);
    /// let instance = linker.instantiate(&mut store, &module)?;
    /// instance.get_typed_func::<(), ()>(&store, "_start")?.call(&mut store, ())?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn define_wasi(&mut self, get: fn(&mut T) -> &mut WasiCtx) -> Result<&mut Linker<T>> {
        for name in wasmo_wasi::function_names() {
            if let Some(def) = wasmo_wasi::func_def(name, get) {
                self.insert(wasmo_wasi::MODULE, name, Definition::Host(def))?;
            }
        }
        Ok(self)
    }

    /// Defines every export of `instance` under `module`, so that later
    /// instances (of the same store) can import them: two instances
    /// linked together.
    pub fn instance(
        &mut self,
        store: impl AsContext<Data = T>,
        module: &str,
        instance: Instance,
    ) -> Result<&mut Linker<T>> {
        for (name, ext) in instance.exports(&store) {
            self.insert(module, &name, Definition::Extern(ext))?;
        }
        Ok(self)
    }

    /// Instantiates `module` in `store`, runs its `_initialize` export if
    /// it has one (a WASI reactor), and defines its exports under `name`.
    ///
    /// Unlike Wasmtime's, a command module (one exporting `_start`) is not
    /// re-instantiated for each call of its exports: it is instantiated
    /// once, like a reactor.
    pub fn module(
        &mut self,
        mut store: impl AsContextMut<Data = T>,
        name: &str,
        module: &Module,
    ) -> Result<&mut Linker<T>> {
        let instance = self.instantiate(&mut store, module)?;
        if let Some(init) = instance.get_func(&store, "_initialize") {
            init.call(&mut store, &[], &mut [])?;
        }
        self.instance(&store, name, instance)
    }

    /// Looks up `module.name`, making a host function definition a
    /// function of `store`.
    pub fn get(
        &self,
        mut store: impl AsContextMut<Data = T>,
        module: &str,
        name: &str,
    ) -> Option<Extern> {
        match self.defs.get(&(module.to_owned(), name.to_owned()))? {
            Definition::Extern(e) => Some(*e),
            Definition::Host(h) => Some(Extern::Func(h.to_func(&mut store))),
        }
    }

    /// Instantiates `module` in `store` with this linker's definitions
    /// of its imports (runs its start function, not `_start` or
    /// `_initialize`). An import the linker does not define is the
    /// loader's "unknown import" error, naming it.
    pub fn instantiate(
        &self,
        mut store: impl AsContextMut<Data = T>,
        module: &Module,
    ) -> Result<Instance> {
        if !Engine::same(&self.engine, module.engine()) {
            let (a, b) = (
                self.engine.config().bounds_checks,
                module.engine().config().bounds_checks,
            );
            if a != b {
                return Err(Error::Incompatible {
                    what: format!(
                        "module was loaded for an engine with {b:?} bounds checks, the linker's uses {a:?}"
                    ),
                });
            }
        }
        let mut imports = Imports::new();
        for import in module.imports() {
            let key = (import.module, import.name);
            let ext = match self.defs.get(&key) {
                Some(Definition::Extern(e)) => *e,
                Some(Definition::Host(h)) => Extern::Func(h.to_func(&mut store)),
                None => continue,
            };
            imports.define(&key.0, &key.1, ext);
        }
        Ok(Instance::new(&mut store, module, &imports)?)
    }
}
