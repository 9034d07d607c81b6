//! Modules as an embedder sees them: an artifact loaded (or, with the
//! `compiler` feature, compiled at run time) for an [`Engine`].
//!
//! Rule: a `Module` is the loader's module plus the engine it belongs to;
//! every way of making one ends in the loader's checks
//! ([`wasmo_loader::Module::deserialize`] or `from_file`), so an artifact
//! given here is verified exactly as `wasmo exec` verifies it, and then
//! checked against the engine's configuration.

use std::path::Path;

use wasmo_artifact_format::MAGIC;
use wasmo_loader::{ExportType, ImportType};

use crate::engine::Engine;
use crate::error::{Error, Result};

/// A compiled module, ready to instantiate in any store. Cheap to clone
/// (the code is shared, mapped once).
///
/// It dereferences to the loader's [`wasmo_loader::Module`], so that
/// `Instance::new(&mut store, &module, &imports)` takes it as it is.
#[derive(Debug, Clone)]
pub struct Module {
    engine: Engine,
    inner: wasmo_loader::Module,
}

impl Module {
    /// Compiles a module from its wasm binary or text (the `compiler`
    /// feature; links LLVM), with the engine's configuration.
    ///
    /// ```
    /// # fn main() -> wasmo::Result<()> {
    /// let engine = wasmo::Engine::default();
    /// let module = wasmo::Module::new(&engine, r#"(module (func (export "f")))"#)?;
    /// assert_eq!(module.exports().next().map(|e| e.name), Some("f".to_owned()));
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "compiler")]
    pub fn new(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module> {
        let wasm = wat::parse_bytes(bytes.as_ref())?;
        let artifact = wasmo_compiler::compile(&wasm, &engine.config().compile_config())?;
        Module::deserialize(engine, &artifact)
    }

    /// Loads a module from a file: a `.wasmo` artifact (made by `wasmoc
    /// build` or [`Module::serialize`]), or, with the `compiler` feature, a
    /// wasm binary or text file, which is compiled.
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let mut magic = [0u8; MAGIC.len()];
        let n = {
            use std::io::Read;
            let mut f = std::fs::File::open(path).map_err(io)?;
            let mut n = 0;
            while n < magic.len() {
                match f.read(&mut magic[n..]).map_err(io)? {
                    0 => break,
                    k => n += k,
                }
            }
            n
        };
        if n == MAGIC.len() && magic == MAGIC {
            return Module::checked(engine, wasmo_loader::Module::from_file(path)?);
        }
        #[cfg(feature = "compiler")]
        {
            let bytes = std::fs::read(path).map_err(io)?;
            Module::new(engine, bytes)
        }
        #[cfg(not(feature = "compiler"))]
        Err(Error::NotAnArtifact(path.display().to_string()))
    }

    /// Loads a module from artifact bytes (what [`Module::serialize`]
    /// gave, or a `.wasmo` file's contents), with every check the loader
    /// makes (hash, target, CPU features, compatibility, metadata).
    ///
    /// Unlike Wasmtime's, this is not `unsafe`: the loader verifies the
    /// artifact's content hash and checks its metadata against its code.
    /// An artifact is still native code: load only artifacts you trust
    /// (a rewritten artifact with a recomputed hash can run any code).
    pub fn deserialize(engine: &Engine, bytes: &[u8]) -> Result<Module> {
        Module::checked(engine, wasmo_loader::Module::deserialize(bytes)?)
    }

    /// Loads a module from an artifact file; as [`Module::deserialize`].
    pub fn deserialize_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        Module::checked(engine, wasmo_loader::Module::from_file(path.as_ref())?)
    }

    /// Refuses an artifact built for another configuration than the
    /// engine's.
    fn checked(engine: &Engine, inner: wasmo_loader::Module) -> Result<Module> {
        let built = inner.header().bounds_checks;
        let want = engine.config().bounds_checks;
        if built != want {
            return Err(Error::Incompatible {
                what: format!(
                    "artifact was built with {built:?} bounds checks, the engine uses {want:?}; rebuild it or configure the engine to match"
                ),
            });
        }
        Ok(Module {
            engine: engine.clone(),
            inner,
        })
    }

    /// The artifact's bytes: [`Module::deserialize`] loads them back, in
    /// this process or another with the same wasmo build.
    pub fn serialize(&self) -> Result<Vec<u8>> {
        self.inner.serialize().map_err(|source| Error::Io {
            path: "<module>".into(),
            source,
        })
    }

    /// The engine the module was made with.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The module's name from its name section.
    pub fn name(&self) -> Option<&str> {
        self.inner.name()
    }

    /// What the module imports, with types, in import-section order.
    pub fn imports(&self) -> impl ExactSizeIterator<Item = ImportType> {
        self.inner.imports().into_iter()
    }

    /// What the module exports, with types, in export-section order.
    pub fn exports(&self) -> impl ExactSizeIterator<Item = ExportType> {
        self.inner.exports().into_iter()
    }

    /// The loader's module.
    pub fn as_loader(&self) -> &wasmo_loader::Module {
        &self.inner
    }
}

impl std::ops::Deref for Module {
    type Target = wasmo_loader::Module;
    fn deref(&self) -> &wasmo_loader::Module {
        &self.inner
    }
}
