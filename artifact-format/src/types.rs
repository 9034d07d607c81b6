//! Index newtypes and the wasm types the artifact's metadata speaks of.
//!
//! Rule: no bare `u32` index crosses a crate boundary; use these. Function,
//! table, memory and global index spaces put imports first, as wasm does;
//! `Defined*Index` count only the module's own definitions.

#![expect(
    missing_debug_implementations,
    reason = "rkyv derives public resolver types for tuple structs without Debug"
)]

use rkyv::{Archive, Deserialize, Serialize};

macro_rules! index_types {
    ($($(#[$doc:meta])* $name:ident;)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Archive, Serialize, Deserialize)]
            #[rkyv(derive(Debug, Clone, Copy, PartialEq, Eq))]
            pub struct $name(pub u32);

            impl $name {
                /// The index as a `usize`, for indexing vectors.
                pub fn index(self) -> usize {
                    self.0 as usize
                }
            }

            impl $crate::types::ArchivedIndex for <$name as Archive>::Archived {
                type Native = $name;
                fn get(&self) -> $name {
                    $name(self.0.to_native())
                }
            }
        )*
    };
}

/// Reading an archived index back as its native newtype.
pub trait ArchivedIndex {
    /// The native index type.
    type Native;
    /// The index.
    fn get(&self) -> Self::Native;
}

index_types! {
    /// A function in the module's function index space (imports first).
    FuncIndex;
    /// A function defined (not imported) by the module.
    DefinedFuncIndex;
    /// A function type in the module's type section.
    TypeIndex;
    /// A global in the global index space (imports first).
    GlobalIndex;
    /// A global defined by the module.
    DefinedGlobalIndex;
    /// A table in the table index space (imports first).
    TableIndex;
    /// A table defined by the module.
    DefinedTableIndex;
    /// A memory in the memory index space (imports first).
    MemoryIndex;
    /// A memory defined by the module.
    DefinedMemoryIndex;
    /// An import, in the order of the import section; also the order of the
    /// import slots of its kind in the VMContext.
    ImportIndex;
}

/// A wasm value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Archive, Serialize, Deserialize)]
#[rkyv(derive(Debug, Clone, Copy, PartialEq, Eq))]
pub enum ValType {
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

impl ValType {
    /// The text-format name.
    pub fn name(self) -> &'static str {
        match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
        }
    }
}

impl ArchivedValType {
    /// The native value type.
    pub fn get(&self) -> ValType {
        match self {
            ArchivedValType::I32 => ValType::I32,
            ArchivedValType::I64 => ValType::I64,
            ArchivedValType::F32 => ValType::F32,
            ArchivedValType::F64 => ValType::F64,
            ArchivedValType::V128 => ValType::V128,
            ArchivedValType::FuncRef => ValType::FuncRef,
            ArchivedValType::ExternRef => ValType::ExternRef,
        }
    }
}

impl std::fmt::Display for ValType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A function type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Archive, Serialize, Deserialize)]
pub struct FuncType {
    /// Parameter types.
    pub params: Vec<ValType>,
    /// Result types.
    pub results: Vec<ValType>,
}

impl ArchivedFuncType {
    /// The native function type.
    pub fn get(&self) -> FuncType {
        FuncType {
            params: self.params.iter().map(|t| t.get()).collect(),
            results: self.results.iter().map(|t| t.get()).collect(),
        }
    }
}

impl std::fmt::Display for FuncType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |v: &[ValType]| v.iter().map(|t| t.name()).collect::<Vec<_>>().join(" ");
        write!(
            f,
            "(func (param {}) (result {}))",
            list(&self.params),
            list(&self.results)
        )
    }
}

/// Size limits of a table or memory, in elements or pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Archive, Serialize, Deserialize)]
#[rkyv(derive(Debug))]
pub struct Limits {
    /// Initial size.
    pub min: u64,
    /// Maximum size, if declared.
    pub max: Option<u64>,
}

impl ArchivedLimits {
    /// The native limits.
    pub fn get(&self) -> Limits {
        Limits {
            min: self.min.to_native(),
            max: self.max.as_ref().map(|m| m.to_native()),
        }
    }
}

/// A table's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Archive, Serialize, Deserialize)]
pub struct TableType {
    /// Element type (`funcref` or `externref`).
    pub element: ValType,
    /// Size limits in elements.
    pub limits: Limits,
    /// Indexed by `i64` (memory64's `table64`) rather than `i32`.
    pub table64: bool,
}

impl ArchivedTableType {
    /// The native table type.
    pub fn get(&self) -> TableType {
        TableType {
            element: self.element.get(),
            limits: self.limits.get(),
            table64: self.table64,
        }
    }
}

/// A linear memory's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Archive, Serialize, Deserialize)]
pub struct MemoryType {
    /// Size limits in 64 KiB pages.
    pub limits: Limits,
    /// Indexed by `i64` (memory64).
    pub memory64: bool,
    /// Shared between threads.
    pub shared: bool,
}

impl ArchivedMemoryType {
    /// The native memory type.
    pub fn get(&self) -> MemoryType {
        MemoryType {
            limits: self.limits.get(),
            memory64: self.memory64,
            shared: self.shared,
        }
    }
}

/// A global's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Archive, Serialize, Deserialize)]
pub struct GlobalType {
    /// Value type.
    pub content: ValType,
    /// Whether `global.set` may change it.
    pub mutable: bool,
}

impl ArchivedGlobalType {
    /// The native global type.
    pub fn get(&self) -> GlobalType {
        GlobalType {
            content: self.content.get(),
            mutable: self.mutable,
        }
    }
}

/// The size of one wasm page.
pub const WASM_PAGE_SIZE: u64 = 65536;
