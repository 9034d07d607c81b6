//! The VMContext: the per-instance block of memory every compiled function
//! receives as its first argument, and the value and call ABI around it.
//!
//! Rule: the compiler computes addresses only through [`VMOffsets`], and the
//! loader lays out memory only through it; neither writes an offset by hand.
//! Any change here changes [`VMOffsets::LAYOUT_VERSION`]'s meaning and must
//! bump it (it is part of the compatibility hash).
//!
//! ```text
//! VMContext (8-byte aligned, all pointers native-width, little-endian)
//! +------------------------------+ 0
//! | memory0_base: *mut u8        |  base of memory 0 (defined or imported), null if none;
//! |                              |  constant for the instance's life (memories never move)
//! | memory0_def: *mut VMMemoryDefinition | memory 0's definition (its current length)
//! | runtime: *mut ()             |  the loader's instance; only helpers read it
//! | limits: *mut VMStoreLimits   |  the store's fuel and interrupt words (see below);
//! |                              |  constant for the instance's life
//! | interrupt: u64               |  this instance's copy of the store's interrupt word
//! | (reserved)                   |
//! +------------------------------+ imported_funcs() (48)
//! | VMFuncImport  x N_imp_funcs  |  { native_fn, vmctx }            16 bytes each
//! +------------------------------+ imported_tables()
//! | *mut VMTableDefinition  x N  |
//! +------------------------------+ imported_memories()
//! | *mut VMMemoryDefinition x N  |
//! +------------------------------+ imported_globals()
//! | *mut VMGlobalDefinition x N  |
//! +------------------------------+ defined_tables()
//! | VMTableDefinition x N        |  { base: *mut u64 (one word per element), current_elements: u64 };
//! |                              |  `base` moves when the table grows (see below)
//! +------------------------------+ defined_memories()
//! | VMMemoryDefinition x N       |  { base: *mut u8, current_length: u64 (bytes) }
//! +------------------------------+ defined_globals() (16-byte aligned)
//! | VMGlobalDefinition x N       |  16 bytes each, value little-endian at offset 0
//! +------------------------------+ func_refs()
//! | VMFuncRef x N_funcs          |  { native_fn, type_id: u32 (+pad), vmctx } 24 bytes each,
//! |                              |  one per function of the index space, imports first
//! +------------------------------+ type_ids()
//! | u32 x N_types                |  process-wide canonical id of each module type
//! +------------------------------+ size()
//! ```
//!
//! # Calling conventions
//!
//! - A wasm function: `fn(callee_vmctx, caller_vmctx, params...) -> result`,
//!   `result` absent for no results, the value for one, and a literal
//!   LLVM struct of them all for several (multi-value), in the convention
//!   [`WASM_CALL_CONV`] names: LLVM's `swifttailcc` with `callee_vmctx` as
//!   the `swiftself` parameter (r13 on x86-64, caller-saved under this
//!   convention), the rest as in the C ABI but that the callee pops its
//!   stack arguments (an area padded to 16n+8 bytes on x86-64), which is
//!   what lets `return_call` replace its frame with a callee's of any
//!   signature. Results that do not fit the return registers (more than
//!   four integers or more than four floats and vectors) go through a
//!   return area instead: `fn(callee_vmctx, caller_vmctx, params...,
//!   return_area)` returning nothing, the struct stored at `return_area`
//!   (memory of the caller's; a tail call passes its own on). Only
//!   compiled code calls wasm functions; the host enters through
//!   array-call trampolines.
//! - A wasm function that nothing but its own module's plain direct
//!   `call`s can reach takes [`PRIVATE_CALL_CONV`] instead: the same
//!   arguments and results under `swiftcc` (r13 callee-saved, stack
//!   arguments popped by the caller), which plain calls find cheaper.
//!   Every call through a pointer (import slot, table, funcref) and every
//!   `return_call` reaches a [`WASM_CALL_CONV`] function only. At `-O0`
//!   such a function takes [`PRIVATE_O0_CALL_CONV`], the C convention,
//!   whose calls, returns and arguments LLVM's fast instruction selector
//!   handles (it refuses both Swift conventions').
//! - Everything else below, and every helper and libcall, is the C ABI.
//! - An array-call trampoline, the host's way in:
//!   `fn(callee_vmctx, caller_vmctx, values: *mut ValRaw, len: usize)`; it
//!   reads the parameters from `values[0..]` and writes the results to
//!   `values[0..]`, one per slot. `len` is `max(params, results)`.
//! - A host function behind an import slot: the slot's `vmctx` points at a
//!   loader-owned context whose first word is its array-call function
//!   `fn(host_ctx, caller_vmctx, values: *mut ValRaw, len: usize)`; the slot's
//!   `native_fn` is the compiler's wasm-to-array trampoline for the import's
//!   type, which spills the arguments to a `ValRaw` array on its stack and
//!   calls that function.
//! - [`ValRaw`] is 16 bytes; a value is stored little-endian from byte 0
//!   (`i32`/`f32` in the low 4 bytes; floats as their bits), a reference
//!   as one pointer-sized word (below).
//!
//! # References
//!
//! Every reference value is one 8-byte word, 0 for `ref.null`, in locals,
//! globals, `ValRaw` slots and table elements alike:
//! - a `funcref` is a `*const VMFuncRef`: the function's entry in the
//!   `func_refs` of the instance whose index space names it (an imported
//!   function's entry there holds the import slot's code and vmctx);
//! - an `externref` is `index + 1` into its store's list of externrefs,
//!   every one of which the store keeps alive until it is dropped (the
//!   loader's rooting rule), so wasm can neither forge one (the validator
//!   types references) nor make one dangle. Compiled code never looks
//!   inside it.
//!
//! A table element is such a word. `call_indirect` compares the element's
//! `type_id` with `type_ids[expected type]`. A table grows by moving its
//! elements: `table.grow` (and the host) may replace `base`, so compiled
//! code loads `base` and `current_elements` afresh after every call and
//! `table.grow`, and caches them only for a table defined and not exported
//! by its module that no `table.grow` of the module names (nothing else
//! can reach it).
//!
//! # The store's limits block
//!
//! Every instance of a store points at the same `VMStoreLimits`, which
//! the store owns and never moves; compiled code built with
//! [`Instrumentation`](crate::compat::Instrumentation) reads it:
//!
//! ```text
//! +------------------------------+ 0
//! | fuel_consumed: i64           |  starts at -fuel; code adds each block's cost and
//! |                              |  traps "all fuel consumed" once it is above zero
//! | interrupt: u64 (atomic)      |  non-zero: the store is interrupted; the loader
//! |                              |  refuses to enter wasm; set from any thread
//! +------------------------------+ 16
//! ```
//!
//! Compiled interruption checks do not read the block's `interrupt` but
//! the VMContext's own copy ([`VMOffsets::INTERRUPT`]), one load from the
//! vmctx register instead of two dependent ones. The loader keeps the
//! copies equal to the store's word: interrupting and resetting write the
//! store's word and every instance's copy under one lock, and a new
//! instance copies the store's word under that lock as it registers, so
//! an interrupt racing with an instantiation reaches the new instance
//! either way.

/// Names the calling convention of wasm functions (see the module docs);
/// part of the ABI fingerprint, so artifacts that call each other's
/// functions through import slots always agree on it.
pub const WASM_CALL_CONV: &str = "swifttailcc-swiftself-vmctx-structret-retarea4x4-last";

/// Names the convention of a function only its own module's plain direct
/// `call`s reach (not exported, its address never taken, no `return_call`
/// naming it, none made by it): as [`WASM_CALL_CONV`] but LLVM's `swiftcc`,
/// under which the vmctx register (r13) is callee-saved and the caller
/// pops stack arguments. It never crosses a module boundary; it is part of
/// the ABI fingerprint because it changes the code of every artifact.
pub const PRIVATE_CALL_CONV: &str = "private-swiftcc-swiftself-vmctx-structret-retarea4x4-last";

/// Names the convention of such a private function in an `-O0` artifact:
/// the same arguments and results under LLVM's C convention, `callee_vmctx`
/// an ordinary first argument (rdi on x86-64). Never crosses a module
/// boundary either; part of the ABI fingerprint for the same reason.
pub const PRIVATE_O0_CALL_CONV: &str = "private-O0-ccc-vmctx-first-structret-retarea4x4-last";

/// Size of one `ValRaw` slot in array calls.
pub const VAL_RAW_SIZE: u32 = 16;

/// Size of `VMFuncImport`: `{ native_fn: *const (), vmctx: *mut () }`.
pub const FUNC_IMPORT_SIZE: u32 = 16;
/// Offset of `native_fn` in `VMFuncImport`.
pub const FUNC_IMPORT_NATIVE_FN: u32 = 0;
/// Offset of `vmctx` in `VMFuncImport`.
pub const FUNC_IMPORT_VMCTX: u32 = 8;

/// Size of `VMFuncRef`: `{ native_fn, type_id: u32, _pad: u32, vmctx }`.
pub const FUNC_REF_SIZE: u32 = 24;
/// Offset of `native_fn` in `VMFuncRef`.
pub const FUNC_REF_NATIVE_FN: u32 = 0;
/// Offset of `type_id` (`u32`) in `VMFuncRef`.
pub const FUNC_REF_TYPE_ID: u32 = 8;
/// Offset of `vmctx` in `VMFuncRef`.
pub const FUNC_REF_VMCTX: u32 = 16;

/// Size of `VMTableDefinition`: `{ base: *mut u64, current_elements: u64 }`.
pub const TABLE_DEF_SIZE: u32 = 16;
/// Offset of `base` in `VMTableDefinition`.
pub const TABLE_DEF_BASE: u32 = 0;
/// Offset of `current_elements` in `VMTableDefinition`.
pub const TABLE_DEF_CURRENT_ELEMENTS: u32 = 8;

/// Size of `VMMemoryDefinition`: `{ base: *mut u8, current_length: u64 }`.
pub const MEMORY_DEF_SIZE: u32 = 16;
/// Offset of `base` in `VMMemoryDefinition`.
pub const MEMORY_DEF_BASE: u32 = 0;
/// Offset of `current_length` (bytes) in `VMMemoryDefinition`.
pub const MEMORY_DEF_CURRENT_LENGTH: u32 = 8;

/// Size of `VMGlobalDefinition` (room for a `v128`).
pub const GLOBAL_DEF_SIZE: u32 = 16;

/// Offset of the first word of a host function's context: its array-call
/// function pointer.
pub const HOST_CTX_ARRAY_FN: u32 = 0;

/// Size of `VMStoreLimits` (see the module docs).
pub const STORE_LIMITS_SIZE: u32 = 16;
/// Offset of `fuel_consumed` (`i64`) in `VMStoreLimits`.
pub const STORE_LIMITS_FUEL_CONSUMED: u32 = 0;
/// Offset of `interrupt` (`u64`) in `VMStoreLimits`: the store's own
/// interrupt word, read by the loader before every entry from the host;
/// compiled code reads each instance's copy ([`VMOffsets::INTERRUPT`]).
pub const STORE_LIMITS_INTERRUPT: u32 = 8;

/// How many of each entity a module has: all [`VMOffsets`] needs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct VMCounts {
    /// Imported functions.
    pub imported_funcs: u32,
    /// Imported tables.
    pub imported_tables: u32,
    /// Imported memories.
    pub imported_memories: u32,
    /// Imported globals.
    pub imported_globals: u32,
    /// Defined tables.
    pub defined_tables: u32,
    /// Defined memories.
    pub defined_memories: u32,
    /// Defined globals.
    pub defined_globals: u32,
    /// All functions (imported and defined).
    pub funcs: u32,
    /// Function types.
    pub types: u32,
}

/// Byte offsets of every VMContext field for one module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VMOffsets {
    counts: VMCounts,
    imported_funcs: u32,
    imported_tables: u32,
    imported_memories: u32,
    imported_globals: u32,
    defined_tables: u32,
    defined_memories: u32,
    defined_globals: u32,
    func_refs: u32,
    type_ids: u32,
    size: u32,
}

fn align(n: u32, to: u32) -> u32 {
    n.div_ceil(to) * to
}

impl VMOffsets {
    /// Names this layout; part of the ABI fingerprint. Bump on any change.
    pub const LAYOUT_VERSION: &'static str = "vmctx-4";

    /// Offset of `memory0_base`.
    pub const MEMORY0_BASE: u32 = 0;
    /// Every linear memory's base address is a multiple of this (memories
    /// are whole mappings). The compiler tells LLVM so, which lets it prove
    /// vector accesses at aligned wasm addresses aligned; the loader
    /// refuses to instantiate with a base that breaks it.
    pub const MEMORY_BASE_ALIGN: u64 = 4096;
    /// Offset of `memory0_def`.
    pub const MEMORY0_DEF: u32 = 8;
    /// Offset of `runtime`.
    pub const RUNTIME: u32 = 16;
    /// Offset of `limits`, the pointer to the store's `VMStoreLimits`.
    pub const LIMITS: u32 = 24;
    /// Offset of `interrupt` (`u64`): this instance's copy of its store's
    /// interrupt word, non-zero once the store is interrupted. Compiled
    /// interruption checks compare it with zero in one instruction
    /// (`cmpq $0, 32(%vmctx)`); the loader writes every instance's copy
    /// when the store is interrupted or reset, and a new instance's from
    /// the store's word.
    pub const INTERRUPT: u32 = 32;
    /// Size of the fixed part (the word after `interrupt` is reserved, so
    /// the imports start 16-byte aligned as before).
    const FIXED: u32 = 48;

    /// Lays out a VMContext for a module with these counts.
    pub fn new(counts: VMCounts) -> VMOffsets {
        let imported_funcs = Self::FIXED;
        let imported_tables = imported_funcs + counts.imported_funcs * FUNC_IMPORT_SIZE;
        let imported_memories = imported_tables + counts.imported_tables * 8;
        let imported_globals = imported_memories + counts.imported_memories * 8;
        let defined_tables = imported_globals + counts.imported_globals * 8;
        let defined_memories = defined_tables + counts.defined_tables * TABLE_DEF_SIZE;
        let defined_globals = align(
            defined_memories + counts.defined_memories * MEMORY_DEF_SIZE,
            16,
        );
        let func_refs = defined_globals + counts.defined_globals * GLOBAL_DEF_SIZE;
        let type_ids = func_refs + counts.funcs * FUNC_REF_SIZE;
        let size = align(type_ids + counts.types * 4, 16);
        VMOffsets {
            counts,
            imported_funcs,
            imported_tables,
            imported_memories,
            imported_globals,
            defined_tables,
            defined_memories,
            defined_globals,
            func_refs,
            type_ids,
            size,
        }
    }

    /// The counts this layout was made for.
    pub fn counts(&self) -> VMCounts {
        self.counts
    }

    /// Total size in bytes; the loader allocates it 16-byte aligned.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Offset of imported function `i`'s `VMFuncImport`.
    pub fn imported_func(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.imported_funcs);
        self.imported_funcs + i * FUNC_IMPORT_SIZE
    }

    /// Offset of the pointer to imported table `i`'s definition.
    pub fn imported_table(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.imported_tables);
        self.imported_tables + i * 8
    }

    /// Offset of the pointer to imported memory `i`'s definition.
    pub fn imported_memory(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.imported_memories);
        self.imported_memories + i * 8
    }

    /// Offset of the pointer to imported global `i`'s definition.
    pub fn imported_global(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.imported_globals);
        self.imported_globals + i * 8
    }

    /// Offset of defined table `i`'s `VMTableDefinition`.
    pub fn defined_table(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.defined_tables);
        self.defined_tables + i * TABLE_DEF_SIZE
    }

    /// Offset of defined memory `i`'s `VMMemoryDefinition`.
    pub fn defined_memory(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.defined_memories);
        self.defined_memories + i * MEMORY_DEF_SIZE
    }

    /// Offset of defined global `i`'s value.
    pub fn defined_global(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.defined_globals);
        self.defined_globals + i * GLOBAL_DEF_SIZE
    }

    /// Offset of function `i`'s `VMFuncRef` (function index space).
    pub fn func_ref(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.funcs);
        self.func_refs + i * FUNC_REF_SIZE
    }

    /// Offset of type `i`'s canonical id (`u32`).
    pub fn type_id(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.types);
        self.type_ids + i * 4
    }

    /// A stable description of the layout rules, for the ABI fingerprint.
    pub fn layout_fingerprint() -> String {
        format!(
            "{} cc={} private_cc={} private_o0_cc={} fixed={} limits={}@{}/{}/{} interrupt={} import={} funcref={}/{}/{}/{} table={}/{}/{} memory={}/{}/{} global={} val={} host={}",
            Self::LAYOUT_VERSION,
            WASM_CALL_CONV,
            PRIVATE_CALL_CONV,
            PRIVATE_O0_CALL_CONV,
            Self::FIXED,
            STORE_LIMITS_SIZE,
            Self::LIMITS,
            STORE_LIMITS_FUEL_CONSUMED,
            STORE_LIMITS_INTERRUPT,
            Self::INTERRUPT,
            FUNC_IMPORT_SIZE,
            FUNC_REF_SIZE,
            FUNC_REF_NATIVE_FN,
            FUNC_REF_TYPE_ID,
            FUNC_REF_VMCTX,
            TABLE_DEF_SIZE,
            TABLE_DEF_BASE,
            TABLE_DEF_CURRENT_ELEMENTS,
            MEMORY_DEF_SIZE,
            MEMORY_DEF_BASE,
            MEMORY_DEF_CURRENT_LENGTH,
            GLOBAL_DEF_SIZE,
            VAL_RAW_SIZE,
            HOST_CTX_ARRAY_FN,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_ordered_and_aligned() {
        let o = VMOffsets::new(VMCounts {
            imported_funcs: 2,
            imported_tables: 1,
            imported_memories: 1,
            imported_globals: 3,
            defined_tables: 1,
            defined_memories: 1,
            defined_globals: 2,
            funcs: 5,
            types: 3,
        });
        assert_eq!(o.imported_func(0), 48);
        assert_eq!(o.imported_func(1), 64);
        assert_eq!(o.imported_table(0), 80);
        assert_eq!(o.imported_memory(0), 88);
        assert_eq!(o.imported_global(2), 112);
        assert_eq!(o.defined_table(0), 120);
        assert_eq!(o.defined_memory(0), 136);
        assert_eq!(o.defined_global(0) % 16, 0);
        assert!(o.func_ref(0) >= o.defined_global(1) + 16);
        assert_eq!(o.type_id(0), o.func_ref(4) + FUNC_REF_SIZE);
        assert_eq!(o.size() % 16, 0);
        assert!(o.size() >= o.type_id(2) + 4);
    }
}
