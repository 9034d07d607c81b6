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
///
/// `funcref` and `externref` (`(ref null func)`, `(ref null extern)`) are
/// always [`ValType::FuncRef`] and [`ValType::ExternRef`], never
/// [`ValType::Ref`], so that each type has one spelling and `==` is type
/// equality; [`ValType::reference`] builds a reference type that way.
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
    /// Any other reference type of the function-references proposal:
    /// `(ref func)`, `(ref extern)`, `(ref $t)`, `(ref null $t)`. One
    /// pointer word, as `funcref`: null or a `*const VMFuncRef`.
    Ref(RefType),
    /// `exnref` (exceptions): the store's exception index plus one, null 0
    ExnRef,
}

/// A reference type of the function-references proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Archive, Serialize, Deserialize)]
#[rkyv(derive(Debug, Clone, Copy, PartialEq, Eq))]
pub struct RefType {
    /// Whether null is a value of the type (`ref null`).
    pub nullable: bool,
    /// What it refers to.
    pub heap: HeapType,
}

/// What a reference refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Archive, Serialize, Deserialize)]
#[rkyv(derive(Debug, Clone, Copy, PartialEq, Eq))]
pub enum HeapType {
    /// Any function.
    Func,
    /// Any host reference.
    Extern,
    /// Any exception: `(ref exn)`; `(ref null exn)` is
    /// [`ValType::ExnRef`]. A value is the store's exception index plus one.
    Exn,
    /// A function of this type of the module's type section. In an
    /// artifact the index is the module's own; the loader's types that
    /// cross modules (imports, host-visible function types) use
    /// [`HeapType::Canonical`] instead.
    Concrete(TypeIndex),
    /// A function of the type with this process-wide canonical id (the
    /// loader's type registry): what the loader turns `Concrete` into so
    /// that modules compare types they define separately. Never in an
    /// artifact.
    Canonical(u32),
}

impl ValType {
    /// The reference type `(ref null? heap)`, spelled canonically
    /// (`funcref` and `externref` as their own variants).
    pub fn reference(nullable: bool, heap: HeapType) -> ValType {
        match (nullable, heap) {
            (true, HeapType::Func) => ValType::FuncRef,
            (true, HeapType::Extern) => ValType::ExternRef,
            (true, HeapType::Exn) => ValType::ExnRef,
            _ => ValType::Ref(RefType { nullable, heap }),
        }
    }

    /// The type as a reference type, `None` for numbers and vectors.
    pub fn as_ref_type(self) -> Option<RefType> {
        match self {
            ValType::FuncRef => Some(RefType {
                nullable: true,
                heap: HeapType::Func,
            }),
            ValType::ExternRef => Some(RefType {
                nullable: true,
                heap: HeapType::Extern,
            }),
            ValType::ExnRef => Some(RefType {
                nullable: true,
                heap: HeapType::Exn,
            }),
            ValType::Ref(r) => Some(r),
            _ => None,
        }
    }

    /// Whether values of this type are references.
    pub fn is_ref(self) -> bool {
        self.as_ref_type().is_some()
    }

    /// Whether a value of this type is a value of `sup` (the
    /// function-references subtyping: `(ref $t)` <: `(ref null $t)` <:
    /// `funcref`, `(ref func)` <: `funcref`, `(ref extern)` <:
    /// `externref`). Concrete types compare by index, so both types must
    /// come from the same module (or both be canonical).
    pub fn is_subtype_of(self, sup: ValType) -> bool {
        if self == sup {
            return true;
        }
        let (Some(a), Some(b)) = (self.as_ref_type(), sup.as_ref_type()) else {
            return false;
        };
        if a.nullable && !b.nullable {
            return false;
        }
        match (a.heap, b.heap) {
            (HeapType::Concrete(_) | HeapType::Canonical(_), HeapType::Func) => true,
            (x, y) => x == y,
        }
    }

    /// The text-format name (`ref` for [`ValType::Ref`]; its
    /// [`Display`](std::fmt::Display) spells the whole type).
    pub fn name(self) -> &'static str {
        match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
            ValType::Ref(_) => "ref",
            ValType::ExnRef => "exnref",
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
            ArchivedValType::Ref(r) => ValType::Ref(RefType {
                nullable: r.nullable,
                heap: match r.heap {
                    ArchivedHeapType::Func => HeapType::Func,
                    ArchivedHeapType::Extern => HeapType::Extern,
                    ArchivedHeapType::Exn => HeapType::Exn,
                    ArchivedHeapType::Concrete(t) => HeapType::Concrete(t.get()),
                    ArchivedHeapType::Canonical(id) => HeapType::Canonical(id.to_native()),
                },
            }),
            ArchivedValType::ExnRef => ValType::ExnRef,
        }
    }
}

impl std::fmt::Display for ValType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ValType::Ref(r) = self else {
            return f.write_str(self.name());
        };
        f.write_str(if r.nullable { "(ref null " } else { "(ref " })?;
        match r.heap {
            HeapType::Func => f.write_str("func)"),
            HeapType::Extern => f.write_str("extern)"),
            HeapType::Exn => f.write_str("exn)"),
            HeapType::Concrete(t) => write!(f, "{})", t.0),
            HeapType::Canonical(id) => write!(f, "canon {id})"),
        }
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
        let list = |v: &[ValType]| {
            v.iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
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
    /// Element type (a reference type).
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
