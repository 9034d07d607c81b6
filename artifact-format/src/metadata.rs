//! The artifact's metadata: everything the loader needs to instantiate the
//! module besides the machine code, archived with rkyv and read zero-copy
//! (validated) from the mapped file.
//!
//! Rule: every offset stored here is relative to the start of the image (or
//! of its text) and is bounds-checked by the loader before use; nothing
//! here is trusted because the hash matched.

use crate::recgroup::RecGroup;
use crate::types::{
    FuncIndex, FuncType, GlobalIndex, GlobalType, MemoryIndex, MemoryType, TableIndex, TableType,
    TypeIndex,
};
use rkyv::{Archive, Deserialize, Serialize};

/// The module as the loader sees it.
#[derive(Debug, Clone, Default, PartialEq, Archive, Serialize, Deserialize)]
pub struct ModuleMetadata {
    /// The module's function types, by [`TypeIndex`].
    pub types: Vec<FuncType>,
    /// The explicit recursion groups of more than one type, in order
    /// (every other type is a singleton group; see `recgroup.rs` for what
    /// makes two types the same).
    pub rec_groups: Vec<RecGroup>,
    /// The types declared open to subtyping (`(sub (func ...))` without
    /// `final`), in order; every other type is final. None of them has a
    /// supertype (the compiler refuses declared supertypes).
    pub open_types: Vec<TypeIndex>,
    /// Imports in the order of the import section.
    pub imports: Vec<Import>,
    /// The type of every function of the index space, imports first.
    pub funcs: Vec<TypeIndex>,
    /// Code of each defined function, by `DefinedFuncIndex`.
    pub defined_funcs: Vec<DefinedFunc>,
    /// Per imported function, in import order: the wasm-to-array
    /// trampoline for its type (its start is what the import slot's
    /// `native_fn` is set to when a host function fills it).
    pub import_trampolines: Vec<CodeSpan>,
    /// Code the host never enters by name: LLVM's private functions (the
    /// trap stubs a dispatch array sends a call of the wrong type or a
    /// null slot to), by text offset. With `defined_funcs` and the
    /// trampolines they tile the text before the PLT, every other byte
    /// being `int3` padding (artifact-format's `code::check_tiling`).
    pub stubs: Vec<CodeSpan>,
    /// Tables the module defines.
    pub tables: Vec<TableType>,
    /// Per defined table, by `DefinedTableIndex`, its initialiser
    /// (function-references' `(table n (ref $t) expr)`): every element
    /// starts as its value. Absent (or shorter than `tables`): null.
    pub table_inits: Vec<Option<ConstExpr>>,
    /// Memories the module defines.
    pub memories: Vec<MemoryType>,
    /// Globals the module defines, with their initialisers.
    pub globals: Vec<GlobalDef>,
    /// Exports in the order of the export section.
    pub exports: Vec<Export>,
    /// The start function.
    pub start: Option<FuncIndex>,
    /// Element segments.
    pub elements: Vec<ElementSegment>,
    /// Data segments. A segment whose bytes live in the data image keeps
    /// its place here (segment indices do not change) as an active segment
    /// with no bytes.
    pub data: Vec<DataSegment>,
    /// The memory initialisation image, if the compiler made one: the
    /// artifact's data image holds the initial bytes of `memory` from
    /// `wasm_offset` on, and the loader maps it there instead of copying
    /// the segments it replaced.
    pub memory_image: Option<MemoryImage>,
    /// Load-time relocations into the image's relro part (GOT entries and
    /// absolute pointers), sorted by offset.
    pub relocations: Vec<Relocation>,
    /// The trap table: every call of the trap helper, by return address,
    /// with its trap code (see [`TrapTable`]).
    pub trap_sites: TrapTable,
    /// Names from the name section.
    pub names: Names,
    /// Size of this module's VMContext, as the compiler laid it out; the
    /// loader recomputes it and refuses a mismatch.
    pub vmctx_size: u32,
    /// The entity counts the compiler laid the VMContext out from (and so
    /// compiled every VMContext offset in the code for). The loader
    /// refuses an artifact whose entity lists give other counts, so
    /// counts cannot be traded against each other at a constant size.
    pub vm_counts: crate::VMCounts,
    /// Exception tags the module defines, each as the type whose
    /// parameters are its payload (imported tags come first in the tag
    /// index space, see `imports`).
    pub tags: Vec<TypeIndex>,
    /// The unwind tables (`.eh_frame`, zero-terminated) the loader
    /// registers with the system unwinder, as an image range inside
    /// rodata; empty when the compiler emitted none.
    pub eh_frame: EhFrame,
    /// Text offset of the PLT: [`crate::code::PLT_STUB_SIZE`]-byte stubs
    /// from here to the end of text (see [`crate::code`]). Every function
    /// and trampoline lies before it; the loader derives from the stubs
    /// which GOT slots must be relocated, and to what kind of target.
    pub plt_offset: u32,
}

/// Where the image's unwind tables lie: `len` bytes at image offset
/// `offset`, a sequence of DWARF CIE and FDE records ending in a zero
/// length word, as `__register_frame` wants it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct EhFrame {
    /// Image offset of the first record.
    pub offset: u64,
    /// Length in bytes, terminator included (0: none).
    pub len: u64,
}

/// Where a defined function's code lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct DefinedFunc {
    /// Text offset of the function's entry.
    pub offset: u32,
    /// Length of the function's code in bytes.
    pub len: u32,
    /// The array-call trampoline for this function; `None` for a function
    /// the host cannot name (not exported, address never taken, not the
    /// start function), which gets none.
    pub array_trampoline: Option<CodeSpan>,
}

/// A run of code in text that is not a defined function: a trampoline or
/// a stub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct CodeSpan {
    /// Text offset of its entry.
    pub offset: u32,
    /// Length of its code in bytes.
    pub len: u32,
}

/// An import.
#[derive(Debug, Clone, PartialEq, Archive, Serialize, Deserialize)]
pub struct Import {
    /// Module name.
    pub module: String,
    /// Field name.
    pub name: String,
    /// What is imported.
    pub kind: ImportKind,
}

/// What an import is, with its type.
#[derive(Debug, Clone, PartialEq, Archive, Serialize, Deserialize)]
pub enum ImportKind {
    /// A function of this type.
    Func(TypeIndex),
    /// A table.
    Table(TableType),
    /// A memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
    /// An exception tag whose payload is this function type's parameters
    /// (exception handling).
    Tag(TypeIndex),
}

/// A kind of export (or external value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Archive, Serialize, Deserialize)]
#[rkyv(derive(Debug, Clone, Copy, PartialEq, Eq))]
pub enum ExternKind {
    /// A function.
    Func,
    /// A table.
    Table,
    /// A memory.
    Memory,
    /// A global.
    Global,
    /// An exception tag.
    Tag,
}

/// An export.
#[derive(Debug, Clone, PartialEq, Archive, Serialize, Deserialize)]
pub struct Export {
    /// Export name.
    pub name: String,
    /// Kind of the exported entity.
    pub kind: ExternKind,
    /// Index in the kind's index space (imports first).
    pub index: u32,
}

/// A global defined by the module.
#[derive(Debug, Clone, PartialEq, Archive, Serialize, Deserialize)]
pub struct GlobalDef {
    /// Its type.
    pub ty: GlobalType,
    /// Its initialiser.
    pub init: ConstExpr,
}

/// A constant expression, as a stack program the loader evaluates.
#[derive(Debug, Clone, PartialEq, Default, Archive, Serialize, Deserialize)]
pub struct ConstExpr {
    /// Operators in order.
    pub ops: Vec<ConstOp>,
}

/// One operator of a constant expression.
#[derive(Debug, Clone, Copy, PartialEq, Archive, Serialize, Deserialize)]
pub enum ConstOp {
    /// `i32.const`
    I32Const(i32),
    /// `i64.const`
    I64Const(i64),
    /// `f32.const`, as bits.
    F32Const(u32),
    /// `f64.const`, as bits.
    F64Const(u64),
    /// `v128.const`, little-endian bytes.
    V128Const([u8; 16]),
    /// `global.get`
    GlobalGet(GlobalIndex),
    /// `ref.null`
    RefNull,
    /// `ref.func`
    RefFunc(FuncIndex),
    /// `i32.add` (extended-const)
    I32Add,
    /// `i32.sub`
    I32Sub,
    /// `i32.mul`
    I32Mul,
    /// `i64.add`
    I64Add,
    /// `i64.sub`
    I64Sub,
    /// `i64.mul`
    I64Mul,
}

/// An element segment.
#[derive(Debug, Clone, PartialEq, Archive, Serialize, Deserialize)]
pub struct ElementSegment {
    /// Active (with its table and offset), passive or declared.
    pub mode: ElementMode,
    /// The elements; `None` is `ref.null`.
    pub items: Vec<ElementItem>,
}

/// How an element segment is used.
#[derive(Debug, Clone, PartialEq, Archive, Serialize, Deserialize)]
pub enum ElementMode {
    /// Copied into `table` at `offset` during instantiation.
    Active {
        /// The table.
        table: TableIndex,
        /// Where in the table.
        offset: ConstExpr,
    },
    /// Used by `table.init`.
    Passive,
    /// Only declares functions for `ref.func`.
    Declared,
}

/// One element.
#[derive(Debug, Clone, PartialEq, Archive, Serialize, Deserialize)]
pub enum ElementItem {
    /// A function.
    Func(FuncIndex),
    /// A constant expression (reference-types).
    Expr(ConstExpr),
}

/// A data segment.
#[derive(Debug, Clone, PartialEq, Archive, Serialize, Deserialize)]
pub struct DataSegment {
    /// Active (with its memory and offset) or passive.
    pub mode: DataMode,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Where the artifact's data image goes (see the artifact module docs).
///
/// The compiler makes one only for a defined memory whose active segments
/// all have constant offsets inside its initial size, so that applying
/// them can never trap; the loader still checks that `wasm_offset..+len`
/// lies inside the memory's initial size before it maps anything there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct MemoryImage {
    /// The memory, in the memory index space (imports first); must be a
    /// defined memory.
    pub memory: MemoryIndex,
    /// Wasm address of the image's first byte; a multiple of the artifact's
    /// page alignment.
    pub wasm_offset: u64,
    /// Length in bytes; equals the header's data image length.
    pub len: u64,
}

/// How a data segment is used.
#[derive(Debug, Clone, PartialEq, Archive, Serialize, Deserialize)]
pub enum DataMode {
    /// Copied into `memory` at `offset` during instantiation.
    Active {
        /// The memory.
        memory: MemoryIndex,
        /// Where in the memory.
        offset: ConstExpr,
    },
    /// Used by `memory.init`.
    Passive,
}

/// A load-time relocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct Relocation {
    /// Image offset of the patched word; must lie in the relro part.
    pub offset: u64,
    /// How to patch it.
    pub kind: RelocKind,
    /// What it points at.
    pub target: RelocTarget,
}

/// The relocation kinds the loader applies. The compiler resolves every
/// PC-relative relocation itself; only these remain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub enum RelocKind {
    /// Write the 64-bit absolute address of the target (plus addend).
    Abs64 {
        /// Added to the target's address.
        addend: i64,
    },
}

/// What a relocation points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub enum RelocTarget {
    /// A runtime helper, by [`crate::Helper`] number.
    Helper(u32),
    /// A libcall, by [`crate::Libcall`] number.
    Libcall(u32),
    /// An offset in the image itself.
    Image(u64),
}

/// The trap table: which trap each call of the `trap` helper raises.
///
/// Compiled code raises trap code `C` by calling `wasmo_trap_<C>`, an alias
/// the linker resolves to the one `wasmo_helper_trap` PLT stub; for each
/// such call it records the call's *return address* (the text offset just
/// past the call instruction, which is what the helper finds on its stack)
/// together with `C`. The helper takes no code argument: the loader
/// binary-searches the return address here.
///
/// The table is two parallel arrays, sorted by offset with no duplicates,
/// so a lookup is one binary search over `offsets` and a site costs five
/// bytes:
///
/// ```text
/// offsets: | ret_0: u32 | ret_1: u32 | ... | ret_{n-1}: u32 |   ascending text offsets
/// codes:   | c_0: u8 | c_1: u8 | ... | c_{n-1}: u8 |            TrapCode numbers
///             ^ codes[i] is the trap raised by the call returning to offsets[i]
/// ```
///
/// Sites are few: a function has at most one trap block per code, so this
/// grows with functions times distinct trap kinds, not with instructions.
///
/// Faulting instructions (guard-page memory accesses, stack probes) are not
/// listed: LLVM does not say which instructions may fault, so the loader
/// classifies a fault by its address instead. Never match a faulting PC
/// against this table: a return address may equal the start of the next
/// instruction, which could be one that faults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Archive, Serialize, Deserialize)]
pub struct TrapTable {
    /// Return-address text offsets, strictly ascending.
    pub offsets: Vec<u32>,
    /// `codes[i]` is the [`crate::TrapCode`] number of `offsets[i]`.
    pub codes: Vec<u8>,
}

impl TrapTable {
    /// Builds the table from `(return offset, code)` pairs in any order;
    /// `None` if two sites share an offset with different codes.
    pub fn from_sites(
        sites: impl IntoIterator<Item = (u32, crate::TrapCode)>,
    ) -> Option<TrapTable> {
        let mut sites: Vec<(u32, u8)> = sites.into_iter().map(|(o, c)| (o, c.as_u8())).collect();
        sites.sort_unstable();
        sites.dedup();
        if sites.windows(2).any(|w| w[0].0 == w[1].0) {
            return None;
        }
        Some(TrapTable {
            offsets: sites.iter().map(|s| s.0).collect(),
            codes: sites.iter().map(|s| s.1).collect(),
        })
    }

    /// Number of sites.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Whether the table has no sites.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// The sites, in offset order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u8)> + '_ {
        self.offsets.iter().copied().zip(self.codes.iter().copied())
    }

    /// The code of the call returning to text offset `ret`.
    pub fn lookup(&self, ret: u32) -> Option<crate::TrapCode> {
        let i = self.offsets.binary_search(&ret).ok()?;
        crate::TrapCode::from_u8(*self.codes.get(i)?)
    }
}

/// Names from the name section, for backtraces.
#[derive(Debug, Clone, PartialEq, Default, Archive, Serialize, Deserialize)]
pub struct Names {
    /// The module's name.
    pub module: Option<String>,
    /// Function names, sorted by index.
    pub funcs: Vec<(FuncIndex, String)>,
}

impl ModuleMetadata {
    /// Every run of code the map names, for `code::check_tiling`: each
    /// defined function and its array trampoline, the import trampolines,
    /// the stubs.
    pub fn code_entries(&self) -> Vec<crate::code::CodeEntry> {
        use crate::code::{CodeEntry, CodeKind};
        let entry = |kind, index: usize, offset, len| CodeEntry {
            kind,
            index: index as u32,
            offset,
            len,
        };
        let mut entries = Vec::with_capacity(
            2 * self.defined_funcs.len() + self.import_trampolines.len() + self.stubs.len(),
        );
        for (i, f) in self.defined_funcs.iter().enumerate() {
            entries.push(entry(CodeKind::Function, i, f.offset, f.len));
            if let Some(t) = f.array_trampoline {
                entries.push(entry(CodeKind::ArrayTrampoline, i, t.offset, t.len));
            }
        }
        for (i, t) in self.import_trampolines.iter().enumerate() {
            entries.push(entry(CodeKind::ImportTrampoline, i, t.offset, t.len));
        }
        for (i, t) in self.stubs.iter().enumerate() {
            entries.push(entry(CodeKind::Stub, i, t.offset, t.len));
        }
        entries
    }

    /// Whether type `t` is final (not listed in `open_types`).
    pub fn type_is_final(&self, t: TypeIndex) -> bool {
        !self.open_types.contains(&t)
    }

    /// The recursion groups of the type section, in order, as index
    /// ranges (see [`crate::recgroup::group_ranges`]).
    pub fn type_groups(&self) -> Vec<std::ops::Range<usize>> {
        crate::recgroup::group_ranges(&self.rec_groups, self.types.len())
    }

    /// The identity key of the group `range` of the type section, with
    /// references out of it named by `outside`.
    pub fn group_key(
        &self,
        range: std::ops::Range<usize>,
        outside: impl FnMut(TypeIndex) -> u32,
    ) -> crate::recgroup::RecGroupKey {
        let start = range.start;
        let members = self.types.get(range.clone()).unwrap_or_default();
        crate::recgroup::RecGroupKey::new(
            members
                .iter()
                .zip(range)
                .map(|(t, i)| (t, self.type_is_final(TypeIndex(i as u32)))),
            start,
            outside,
        )
    }

    /// The counts [`crate::VMOffsets`] lays the VMContext out from.
    pub fn vm_counts(&self) -> crate::VMCounts {
        let mut c = crate::VMCounts::default();
        for imp in &self.imports {
            match imp.kind {
                ImportKind::Func(_) => c.imported_funcs += 1,
                ImportKind::Table(_) => c.imported_tables += 1,
                ImportKind::Memory(_) => c.imported_memories += 1,
                ImportKind::Global(_) => c.imported_globals += 1,
                ImportKind::Tag(_) => {}
            }
        }
        c.defined_tables = count(self.tables.len());
        c.defined_memories = count(self.memories.len());
        c.defined_globals = count(self.globals.len());
        c.funcs = count(self.funcs.len());
        c.types = count(self.types.len());
        c
    }
}

fn count(n: usize) -> u32 {
    // Validation bounds every index space far below u32::MAX.
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TrapCode;

    #[test]
    fn trap_table_sorts_and_looks_up() {
        let t = TrapTable::from_sites([
            (40, TrapCode::IntegerDivisionByZero),
            (8, TrapCode::UnreachableCodeReached),
            (40, TrapCode::IntegerDivisionByZero),
        ]);
        let Some(t) = t else {
            panic!("consistent sites refused");
        };
        assert_eq!(t.offsets, vec![8, 40]);
        assert_eq!(t.lookup(8), Some(TrapCode::UnreachableCodeReached));
        assert_eq!(t.lookup(40), Some(TrapCode::IntegerDivisionByZero));
        assert_eq!(t.lookup(9), None);
        assert!(TrapTable::from_sites([
            (4, TrapCode::IntegerOverflow),
            (4, TrapCode::UnreachableCodeReached)
        ])
        .is_none());
    }
}
