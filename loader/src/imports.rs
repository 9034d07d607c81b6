//! External values and the set of them an instance imports from.
//!
//! Rule: an `Extern` is a handle (store id and index); defining it in
//! `Imports` or importing it never copies the entity, so an instance sees
//! the exporter's memory, table, global or function itself, and only an
//! instance of the same store may import it. No unsafe code here.

use std::collections::HashMap;

use crate::externs::{Global, Memory, Table};
use crate::func::Func;
use crate::store::{AsContext, StoreId, StoreOpaque};
use crate::types::ExternType;

/// An external value: what an import is filled with or an export yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A table.
    Table(Table),
    /// A memory.
    Memory(Memory),
    /// A global.
    Global(Global),
    /// An exception tag.
    Tag(crate::exception::Tag),
}

impl Extern {
    /// Its type.
    pub fn ty(&self, store: impl AsContext) -> ExternType {
        self.ty_in(store.as_context().opaque())
    }

    pub(crate) fn ty_in(&self, o: &StoreOpaque) -> ExternType {
        match self {
            Extern::Func(f) => {
                o.assert_owns(f.store, "function");
                ExternType::Func(f.ty_in(o).cloned().unwrap_or_default())
            }
            Extern::Table(t) => ExternType::Table(t.ty_in(o)),
            Extern::Memory(m) => ExternType::Memory(m.ty_in(o)),
            Extern::Global(g) => ExternType::Global(g.data_of(o).ty()),
            Extern::Tag(t) => {
                o.assert_owns(t.store, "tag");
                ExternType::Tag(o.tags[t.index as usize].ty.clone())
            }
        }
    }

    /// The store it belongs to.
    pub(crate) fn store_id(&self) -> StoreId {
        match self {
            Extern::Func(f) => f.store,
            Extern::Table(t) => t.store,
            Extern::Memory(m) => m.store,
            Extern::Global(g) => g.store,
            Extern::Tag(t) => t.store,
        }
    }

    /// The function, if it is one.
    pub fn into_func(self) -> Option<Func> {
        match self {
            Extern::Func(f) => Some(f),
            _ => None,
        }
    }

    /// The memory, if it is one.
    pub fn into_memory(self) -> Option<Memory> {
        match self {
            Extern::Memory(m) => Some(m),
            _ => None,
        }
    }

    /// The global, if it is one.
    pub fn into_global(self) -> Option<Global> {
        match self {
            Extern::Global(g) => Some(g),
            _ => None,
        }
    }

    /// The tag, if it is one.
    pub fn into_tag(self) -> Option<crate::exception::Tag> {
        match self {
            Extern::Tag(t) => Some(t),
            _ => None,
        }
    }

    /// The table, if it is one.
    pub fn into_table(self) -> Option<Table> {
        match self {
            Extern::Table(t) => Some(t),
            _ => None,
        }
    }
}

macro_rules! extern_from {
    ($($t:ident),*) => {$(
        impl From<$t> for Extern {
            fn from(v: $t) -> Extern {
                Extern::$t(v)
            }
        }
    )*};
}

extern_from!(Func, Table, Memory, Global);

/// Named external values, by `(module, name)`.
#[derive(Default, Clone, Debug)]
pub struct Imports {
    map: HashMap<(String, String), Extern>,
}

impl Imports {
    /// An empty set.
    pub fn new() -> Self {
        Imports::default()
    }

    /// Defines (or redefines) `module.name`.
    pub fn define(&mut self, module: &str, name: &str, ext: Extern) {
        self.map.insert((module.to_owned(), name.to_owned()), ext);
    }

    /// Looks `module.name` up.
    pub fn get(&self, module: &str, name: &str) -> Option<&Extern> {
        self.map.get(&(module.to_owned(), name.to_owned()))
    }
}
