//! The store as a Wasmtime user makes it: `Store::new(&engine, data)`.
//!
//! Rule: this is the loader's [`wasmo_loader::Store`] plus the engine it
//! was made with, nothing more. Everything a store does is the loader's
//! (reached through `Deref`), and what the engine configures per store
//! (the wasm stack size) is applied once, here, when the store is made.

use crate::Engine;

/// A store: host data `T`, and every instance, memory, table, global and
/// host function made in it, freed together when it drops (see
/// [`wasmo_loader::Store`], whose methods it has through `Deref`: limits,
/// fuel, the interrupt handle, the wasm stack size).
///
/// ```
/// use wasmo::{Engine, Store};
///
/// let engine = Engine::default();
/// let mut store = Store::new(&engine, 1u32);
/// *store.data_mut() += 1;
/// assert_eq!(store.into_data(), 2);
/// ```
pub struct Store<T> {
    inner: wasmo_loader::Store<T>,
    engine: Engine,
}

impl<T> Store<T> {
    /// An empty store of `engine` holding the host data `data`; calls into
    /// wasm run on a stack of the engine's
    /// [`max_wasm_stack`](crate::Config::max_wasm_stack) (the loader's
    /// default if unset).
    pub fn new(engine: &Engine, data: T) -> Store<T> {
        let mut inner = wasmo_loader::Store::new(data);
        if let Some(bytes) = engine.config().max_wasm_stack {
            inner.set_wasm_stack_size(bytes);
        }
        Store {
            inner,
            engine: engine.clone(),
        }
    }

    /// The engine the store was made with.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Drops everything but the host data, which is returned.
    pub fn into_data(self) -> T {
        self.inner.into_data()
    }
}

impl<T> std::ops::Deref for Store<T> {
    type Target = wasmo_loader::Store<T>;
    fn deref(&self) -> &wasmo_loader::Store<T> {
        &self.inner
    }
}

impl<T> std::ops::DerefMut for Store<T> {
    fn deref_mut(&mut self) -> &mut wasmo_loader::Store<T> {
        &mut self.inner
    }
}

impl<T> crate::AsContext for Store<T> {
    type Data = T;
    #[inline]
    fn as_context(&self) -> crate::StoreContext<'_, T> {
        self.inner.as_context()
    }
}

impl<T> crate::AsContextMut for Store<T> {
    #[inline]
    fn as_context_mut(&mut self) -> crate::StoreContextMut<'_, T> {
        self.inner.as_context_mut()
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}
