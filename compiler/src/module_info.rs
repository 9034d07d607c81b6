//! Reading a wasm module: validation and everything but the function bodies'
//! code, turned into the artifact's [`ModuleMetadata`].
//!
//! Rule: everything but the function bodies is validated (with exactly
//! the features in [`wasm_features`]) before anything else reads it, and
//! each body is validated by its chunk's worker before it is translated
//! ([`DeferredBodies`]), so later stages may rely on validity; they still
//! return errors, never panic, on surprises. Any failure on that path
//! sends the module through [`read_module_serial`], the whole-module
//! validation that decides what the error is, so the verdict never depends
//! on which worker failed first. A module valid only under another
//! proposal is refused by the proposal gate (`proposals.rs`) with the
//! proposal's name.

use crate::CompileError;
use std::collections::HashMap;
use wasmo_artifact_format::metadata::{
    ConstExpr, ConstOp, DataMode, DataSegment, ElementItem, ElementMode, ElementSegment, Export,
    ExternKind, GlobalDef, Import, ImportKind, ModuleMetadata, Names,
};
use wasmo_artifact_format::{
    FuncIndex, FuncType, GlobalIndex, GlobalType, HeapType, Limits, MemoryIndex, MemoryType,
    TableIndex, TableType, TypeIndex, VMOffsets, ValType, WasmFeatures,
};
use wasmo_artifact_format::{RecGroup, RecGroupKey};
use wasmparser::{FunctionBody, Parser, Payload};

/// The wasm features wasmo compiles: WebAssembly 2.0 (1.0, sign extension,
/// saturating conversions, multi-value, bulk memory, reference types,
/// SIMD), and the overlong encoding of
/// `call_indirect`'s table index (table 0 only), which clang 19 and rustc
/// emit by default because they enable reference types; Wasmtime accepts it
/// too. It changes decoding only, not generated code. A module this set
/// does not validate is validated again with every proposal wasmparser
/// knows, so that one valid under a proposal wasmo lacks is reported as
/// that proposal, never as invalid (see `proposals.rs`).
pub(crate) fn wasm_features() -> wasmparser::WasmFeatures {
    wasmparser::WasmFeatures::WASM1
        | wasmparser::WasmFeatures::SIGN_EXTENSION
        | wasmparser::WasmFeatures::SATURATING_FLOAT_TO_INT
        | wasmparser::WasmFeatures::MULTI_VALUE
        | wasmparser::WasmFeatures::BULK_MEMORY
        | wasmparser::WasmFeatures::REFERENCE_TYPES
        | wasmparser::WasmFeatures::CALL_INDIRECT_OVERLONG
        | wasmparser::WasmFeatures::SIMD
        | wasmparser::WasmFeatures::TAIL_CALL
        | wasmparser::WasmFeatures::EXTENDED_CONST
        | wasmparser::WasmFeatures::RELAXED_SIMD
        | wasmparser::WasmFeatures::THREADS
        | wasmparser::WasmFeatures::MULTI_MEMORY
        | wasmparser::WasmFeatures::MEMORY64
        | wasmparser::WasmFeatures::FUNCTION_REFERENCES
}

/// What wasmo compiles (what passes the proposal gate), as the artifact
/// records it.
pub(crate) fn artifact_wasm_features() -> WasmFeatures {
    WasmFeatures(
        WasmFeatures::MVP
            | WasmFeatures::SIGN_EXTENSION
            | WasmFeatures::SATURATING_FLOAT_TO_INT
            | WasmFeatures::MULTI_VALUE
            | WasmFeatures::BULK_MEMORY
            | WasmFeatures::REFERENCE_TYPES
            | WasmFeatures::SIMD
            | WasmFeatures::TAIL_CALL
            | WasmFeatures::EXTENDED_CONST
            | WasmFeatures::RELAXED_SIMD
            | WasmFeatures::THREADS
            | WasmFeatures::EXCEPTIONS
            | WasmFeatures::MULTI_MEMORY
            | WasmFeatures::MEMORY64
            | WasmFeatures::FUNCTION_REFERENCES,
    )
}

/// A validated module, ready to translate.
#[derive(Debug)]
pub(crate) struct ModuleInfo<'w> {
    /// Metadata without the code-dependent parts (defined function offsets,
    /// trampolines, relocations), which linking fills in.
    pub(crate) metadata: ModuleMetadata,
    /// The body of each defined function, by `DefinedFuncIndex`.
    pub(crate) bodies: Vec<FunctionBody<'w>>,
    /// Imported functions (they come first in the function index space).
    pub(crate) imported_funcs: u32,
    /// Imported tables.
    pub(crate) imported_tables: u32,
    /// Imported globals.
    pub(crate) imported_globals: u32,
    /// The type of every global of the index space, imports first.
    pub(crate) global_types: Vec<GlobalType>,
    /// The type of every tag of the index space, imports first (its
    /// parameters are the payload).
    pub(crate) tag_types: Vec<TypeIndex>,
    /// Per type, the first type of the section that is the same type
    /// (iso-recursive identity); `funcs` and function imports already
    /// name these.
    pub(crate) type_canon: Vec<TypeIndex>,
    /// The VMContext layout.
    pub(crate) offsets: VMOffsets,
    /// What is known of each table (index space, imports first) that
    /// nothing outside this module can reach; `None` for the others.
    pub(crate) sealed_tables: Vec<Option<SealedTable>>,
    /// Per table (index space), whether its base and length stay as
    /// instantiation left them: defined here, not exported, and never the
    /// target of a `table.grow` of this module. Only such a table's
    /// definition may be loaded as invariant; every other table's base
    /// can move when it grows (see `vmctx.rs`).
    pub(crate) fixed_tables: Vec<bool>,
    /// Per defined function, whether it takes the wasm calling convention
    /// every caller can rely on ([`CallConv::Tail`]) or the cheaper one only
    /// this module's direct calls reach ([`CallConv::Plain`]); see
    /// [`call_conventions`].
    pub(crate) call_convs: Vec<CallConv>,
    /// Per defined function, whether the host may call it: exported, its
    /// address taken (a funcref the host can read and call), or the start
    /// function. Only these get an array-call trampoline; the host has no
    /// way to name any other.
    pub(crate) host_entries: Vec<bool>,
    /// The checks of the function bodies still to be made, by the chunk
    /// workers; `None` once [`read_module_serial`] has made them all.
    pub(crate) deferred: Option<DeferredBodies>,
    /// (table, canonical type) of every `call_indirect` and
    /// `return_call_indirect` of the module, dead code included, through
    /// a sealed table whose contents are known: every dispatch array a
    /// chunk can ask for, so that at `-O0` the object defining them
    /// compiles beside the chunks instead of after them.
    pub(crate) dispatch_keys: std::collections::BTreeSet<(u32, TypeIndex)>,
}

/// Which of the wasm conventions a defined function takes (see
/// `vmctx.rs`: [`WASM_CALL_CONV`], [`PRIVATE_CALL_CONV`] and
/// [`PRIVATE_O0_CALL_CONV`]).
///
/// [`WASM_CALL_CONV`]: wasmo_artifact_format::vmctx::WASM_CALL_CONV
/// [`PRIVATE_CALL_CONV`]: wasmo_artifact_format::vmctx::PRIVATE_CALL_CONV
/// [`PRIVATE_O0_CALL_CONV`]: wasmo_artifact_format::vmctx::PRIVATE_O0_CALL_CONV
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallConv {
    /// `swifttailcc`: what every call through a pointer (import slot,
    /// table, funcref) assumes, and what `return_call` needs on both
    /// sides.
    Tail,
    /// `swiftcc`: for a function nothing but a plain direct `call` of its
    /// own module reaches, which makes no tail call itself.
    Plain,
    /// The C convention, the vmctx an ordinary first argument: what a
    /// `Plain` function takes at `-O0` (`codegen::ModuleEnv::call_conv`),
    /// where selecting its calls, returns and arguments fast matters more
    /// than keeping the vmctx in a callee-saved register. LLVM's fast
    /// instruction selector gives up on every Swift-convention call,
    /// return and `swiftself` argument, and hands the block to the slow
    /// one.
    PlainC,
}

/// Validation of the function bodies, left to the chunk workers: what
/// `Validator::validate_all` does to a body, with the module's validated
/// sections as context, and the proposal gate's operator check when the
/// module needed the exception feature set. A body that fails is not
/// reported from here: the compile starts again through
/// [`read_module_serial`], which names the module's first error.
pub(crate) struct DeferredBodies {
    /// The validated sections (shared by every body; `None` without any).
    resources: Option<wasmparser::ValidatorResources>,
    features: wasmparser::WasmFeatures,
    /// Per defined function, its function index and type index.
    funcs: Vec<(u32, u32)>,
    /// Whether each body also goes through the proposal gate.
    gate: bool,
}

impl std::fmt::Debug for DeferredBodies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeferredBodies")
            .field("features", &self.features)
            .field("funcs", &self.funcs.len())
            .field("gate", &self.gate)
            .finish()
    }
}

impl DeferredBodies {
    /// Validates defined function `def`'s `body`, reusing `allocations`.
    pub(crate) fn check(
        &self,
        def: u32,
        body: &FunctionBody<'_>,
        allocations: &mut wasmparser::FuncValidatorAllocations,
    ) -> Result<(), CompileError> {
        let &(index, ty) = self
            .funcs
            .get(def as usize)
            .ok_or_else(|| CompileError::Internal(format!("no validator for body {def}")))?;
        let resources = self
            .resources
            .clone()
            .ok_or_else(|| CompileError::Internal(format!("no validator for body {def}")))?;
        let mut validator = wasmparser::FuncToValidate {
            resources,
            index,
            ty,
            features: self.features,
        }
        .into_validator(std::mem::take(allocations));
        let result = validator.validate(body);
        *allocations = validator.into_allocations();
        result?;
        if self.gate {
            crate::proposals::check_body_operators(body)?;
        }
        Ok(())
    }
}

/// A table defined here and not exported. Nothing but this module's
/// active element segments ever writes it, and nothing grows it. Rule:
/// a table that `table.init`, `table.copy`, `table.set`, `table.grow` or
/// `table.fill` writes is not sealed ([`scan_bodies`]).
#[derive(Debug)]
pub(crate) struct SealedTable {
    /// Its length, for the instance's whole life.
    pub(crate) len: u64,
    /// The type of every function an element segment may put in it.
    pub(crate) func_types: Vec<TypeIndex>,
    /// Its contents, element by element, for the instance's whole life,
    /// when they are known here: every active segment writing it has an
    /// `i32.const` offset, lies inside it and holds only functions this
    /// module defines (a null element is `None`). `None` otherwise, or
    /// when the table is longer than [`STATIC_TABLE_MAX`].
    pub(crate) contents: Option<Vec<Option<FuncIndex>>>,
}

/// The longest sealed table whose contents are tracked (see
/// [`SealedTable::contents`]); `call_indirect` through one compiles to a
/// constant dispatch array of `len` pointers per signature.
pub(crate) const STATIC_TABLE_MAX: u64 = 4096;

impl<'w> ModuleInfo<'w> {
    /// Whether every function `table` can hold has type `ty`, so a
    /// `call_indirect` through it needs no signature check (an empty slot
    /// still traps as null).
    pub(crate) fn table_holds_only(&self, table: u32, ty: TypeIndex) -> bool {
        let ty = self.canonical_type(ty);
        self.sealed_table(table)
            .is_some_and(|t| t.func_types.iter().all(|&held| held == ty))
    }

    /// The first type of the section that is the same type as `t` (equal
    /// function types are not the same type when their recursion groups
    /// differ, see `recgroup.rs`).
    pub(crate) fn canonical_type(&self, t: TypeIndex) -> TypeIndex {
        self.type_canon.get(t.index()).copied().unwrap_or(t)
    }

    /// Whether function `f` of the index space has type `t`.
    pub(crate) fn func_has_type(&self, f: FuncIndex, t: TypeIndex) -> bool {
        self.metadata
            .funcs
            .get(f.index())
            .is_some_and(|&ft| self.canonical_type(ft) == self.canonical_type(t))
    }

    /// Whether `table`'s base and length never change (see
    /// [`ModuleInfo::fixed_tables`]).
    pub(crate) fn table_is_fixed(&self, table: u32) -> bool {
        self.fixed_tables
            .get(table as usize)
            .copied()
            .unwrap_or(false)
    }

    /// The calling convention of defined function `def`
    /// ([`ModuleInfo::call_convs`]; `Tail` for an index out of range).
    pub(crate) fn call_conv(&self, def: u32) -> CallConv {
        self.call_convs
            .get(def as usize)
            .copied()
            .unwrap_or(CallConv::Tail)
    }

    /// Whether defined function `def` needs an array-call trampoline
    /// ([`ModuleInfo::host_entries`]; `true` for an index out of range).
    pub(crate) fn host_entry(&self, def: u32) -> bool {
        self.host_entries.get(def as usize).copied().unwrap_or(true)
    }

    /// Whether `table` (index space) is indexed by `i64` (memory64's
    /// `table64`): its indices, sizes and lengths are `i64` operands.
    pub(crate) fn table64(&self, table: u32) -> bool {
        let imported = self.metadata.imports.iter().filter_map(|i| match &i.kind {
            ImportKind::Table(t) => Some(t),
            _ => None,
        });
        imported
            .chain(&self.metadata.tables)
            .nth(table as usize)
            .is_some_and(|t| t.table64)
    }

    /// [`SealedTable`] facts of `table`, if it is sealed.
    pub(crate) fn sealed_table(&self, table: u32) -> Option<&SealedTable> {
        self.sealed_tables.get(table as usize)?.as_ref()
    }

    /// The type of function `f` of the index space.
    pub(crate) fn func_type(&self, f: FuncIndex) -> Result<&FuncType, CompileError> {
        let ty = self
            .metadata
            .funcs
            .get(f.index())
            .ok_or_else(|| CompileError::Internal(format!("function {} out of range", f.0)))?;
        self.type_at(*ty)
    }

    /// Type `t` of the type section.
    pub(crate) fn type_at(&self, t: TypeIndex) -> Result<&FuncType, CompileError> {
        self.metadata
            .types
            .get(t.index())
            .ok_or_else(|| CompileError::Internal(format!("type {} out of range", t.0)))
    }

    /// Number of defined functions.
    pub(crate) fn defined_funcs(&self) -> u32 {
        u32::try_from(self.bodies.len()).unwrap_or(u32::MAX)
    }
}

/// Validates all of `wasm` but its function bodies and reads it; the
/// bodies' checks are left to the chunk workers
/// ([`ModuleInfo::deferred`]). A module this cannot accept goes through
/// [`read_module_serial`], which gives the verdict.
pub(crate) fn read_module(
    wasm: &[u8],
    version: crate::WasmVersion,
) -> Result<ModuleInfo<'_>, CompileError> {
    match read_sections_first(wasm, version) {
        Some(info) => Ok(info),
        None => read_module_serial(wasm, version),
    }
}

/// The sections of `wasm` validated with `version`'s features, or with
/// the exception feature set and the proposal gate where
/// [`read_module_serial`] would use them, then read; `None` on any
/// failure (the serial path then says what it is).
fn read_sections_first(wasm: &[u8], version: crate::WasmVersion) -> Option<ModuleInfo<'_>> {
    let features = version_features(version);
    let deferred = match validate_sections(wasm, features, false) {
        Ok(deferred) => deferred,
        Err(_) if version == crate::WasmVersion::Latest => {
            let deferred = validate_sections(wasm, exception_features(features), true).ok()?;
            crate::proposals::check(wasm).ok()?;
            deferred
        }
        Err(_) => return None,
    };
    let mut info = read_validated(wasm).ok()?;
    info.deferred = Some(deferred);
    Some(info)
}

/// Validates every payload of `wasm` with `features` but the function
/// bodies, which it returns to be checked later (with the proposal gate if
/// `gate`). With the bodies checked too, this is `validate_all`.
fn validate_sections(
    wasm: &[u8],
    features: wasmparser::WasmFeatures,
    gate: bool,
) -> Result<DeferredBodies, CompileError> {
    let mut validator = wasmparser::Validator::new_with_features(features);
    let mut resources = None;
    let mut funcs = Vec::new();
    // Decoding depends on the features too (a 32-bit memory's limits are
    // overlong LEBs without memory64), as in `validate_all`.
    let mut parser = Parser::new(0);
    parser.set_features(features);
    for payload in parser.parse_all(wasm) {
        if let wasmparser::ValidPayload::Func(func, _) = validator.payload(&payload?)? {
            funcs.push((func.index, func.ty));
            resources.get_or_insert(func.resources);
        }
    }
    Ok(DeferredBodies {
        resources,
        features,
        funcs,
        gate,
    })
}

/// The features `version` validates with.
fn version_features(version: crate::WasmVersion) -> wasmparser::WasmFeatures {
    match version {
        crate::WasmVersion::Latest => wasm_features(),
        crate::WasmVersion::V1 => wasmparser::WasmFeatures::WASM1,
        crate::WasmVersion::V2 => wasmparser::WasmFeatures::WASM2,
        crate::WasmVersion::Memory64Proposal => {
            wasm_features() - wasmparser::WasmFeatures::MULTI_MEMORY
        }
        crate::WasmVersion::ThreadsProposal => {
            wasm_features()
                - wasmparser::WasmFeatures::MULTI_MEMORY
                - wasmparser::WasmFeatures::REFERENCE_TYPES
                - wasmparser::WasmFeatures::FUNCTION_REFERENCES
        }
    }
}

/// `features` with exception handling, new and legacy, and GC's recursion
/// groups of function types: wasmo compiles them, but they are not among
/// [`wasm_features`], so that the gate still refuses what they bring that
/// wasmo lacks (`nullexnref`, non-nullable `(ref exn)`, struct and array
/// types, declared supertypes, GC operators): a module that needs them to
/// validate passes the gate first.
fn exception_features(features: wasmparser::WasmFeatures) -> wasmparser::WasmFeatures {
    features
        | wasmparser::WasmFeatures::EXCEPTIONS
        | wasmparser::WasmFeatures::LEGACY_EXCEPTIONS
        | wasmparser::WasmFeatures::GC
}

/// Validates the whole of `wasm`, bodies included, on this thread, then
/// reads it: the verdict on a module [`read_module`]'s path could not
/// accept, and what the compile falls back to when a deferred body check
/// fails, so that the error is always the one of the module's first
/// problem in wasmo's order of checks.
pub(crate) fn read_module_serial(
    wasm: &[u8],
    version: crate::WasmVersion,
) -> Result<ModuleInfo<'_>, CompileError> {
    let features = version_features(version);
    let mut validator = wasmparser::Validator::new_with_features(features);
    if let Err(e) = validator.validate_all(wasm) {
        let mut exn = wasmparser::Validator::new_with_features(exception_features(features));
        let needs_exn = version == crate::WasmVersion::Latest && exn.validate_all(wasm).is_ok();
        if needs_exn {
            crate::proposals::check(wasm)?;
            crate::proposals::check_operators(wasm)?;
            return read_validated(wasm);
        }
        // Valid with some proposal? Then name it; else it is invalid, with
        // the message of wasmo's own feature set.
        // Every proposal but shared-everything-threads (phase 1), which
        // reads a global mutability byte of 0x02 as "shared": the standard
        // and the proposals' own tests call that malformed.
        let mut all = wasmparser::Validator::new_with_features(
            wasmparser::WasmFeatures::all() - wasmparser::WasmFeatures::SHARED_EVERYTHING_THREADS,
        );
        if version == crate::WasmVersion::Latest && all.validate_all(wasm).is_ok() {
            crate::proposals::check(wasm)?;
            crate::proposals::check_operators(wasm)?;
        }
        return Err(e.into());
    }
    read_validated(wasm)
}

/// Reads `wasm`, which was validated.
fn read_validated(wasm: &[u8]) -> Result<ModuleInfo<'_>, CompileError> {
    let mut reader = Reader::default();
    for payload in Parser::new(0).parse_all(wasm) {
        reader.payload(payload?)?;
    }
    Ok(reader.finish())
}

#[derive(Default)]
struct Reader<'w> {
    metadata: ModuleMetadata,
    bodies: Vec<FunctionBody<'w>>,
    imported_funcs: u32,
    imported_tables: u32,
    imported_globals: u32,
    global_types: Vec<GlobalType>,
    tag_types: Vec<TypeIndex>,
    /// Per type, the first type equal to it (iso-recursive identity, see
    /// `recgroup.rs`: equal groups, equal position).
    type_canon: Vec<TypeIndex>,
    /// Each distinct recursion group's key, with its first type.
    group_keys: HashMap<RecGroupKey, usize>,
}

impl<'w> Reader<'w> {
    /// One recursion group of the type section (the gate has refused
    /// every member that is not a function type without supertypes).
    fn rec_group(&mut self, group: wasmparser::RecGroup, offset: u64) -> Result<(), CompileError> {
        let start = self.metadata.types.len();
        for sub in group.into_types() {
            let wasmparser::CompositeInnerType::Func(f) = &sub.composite_type.inner else {
                return Err(unsupported("types other than function types", offset));
            };
            if !sub.supertype_idxs.is_empty() {
                return Err(unsupported("declared supertypes", offset));
            }
            let mut ty = FuncType {
                params: val_types(f.params(), offset)?,
                results: val_types(f.results(), offset)?,
            };
            // References out of the group name the first equal type; those
            // into it (not yet in `type_canon`) stay.
            for t in ty.params.iter_mut().chain(ty.results.iter_mut()) {
                *t = canonical_ref(*t, &self.type_canon);
            }
            if !sub.is_final {
                self.metadata
                    .open_types
                    .push(TypeIndex(self.metadata.types.len() as u32));
            }
            self.metadata.types.push(ty);
        }
        let end = self.metadata.types.len();
        if end - start > 1 {
            self.metadata.rec_groups.push(RecGroup {
                start: TypeIndex(start as u32),
                len: (end - start) as u32,
            });
        }
        let key = self.metadata.group_key(start..end, |i| i.0);
        let first = *self.group_keys.entry(key).or_insert(start);
        self.type_canon
            .extend((first..first + (end - start)).map(|i| TypeIndex(i as u32)));
        Ok(())
    }

    fn payload(&mut self, payload: Payload<'w>) -> Result<(), CompileError> {
        match payload {
            Payload::TypeSection(s) => {
                for group in s.into_iter_with_offsets() {
                    let (offset, group) = group?;
                    self.rec_group(group, offset)?;
                }
            }
            Payload::ImportSection(s) => {
                for import in s.into_imports_with_offsets() {
                    let (offset, import) = import?;
                    self.import(import, offset)?;
                }
            }
            Payload::FunctionSection(s) => {
                for ty in s {
                    self.metadata.funcs.push(TypeIndex(ty?));
                }
            }
            Payload::TableSection(s) => {
                for table in s.into_iter_with_offsets() {
                    let (offset, table) = table?;
                    self.metadata.tables.push(table_type(&table.ty, offset)?);
                    self.metadata.table_inits.push(match &table.init {
                        wasmparser::TableInit::RefNull => None,
                        wasmparser::TableInit::Expr(e) => Some(const_expr(e)?),
                    });
                }
            }
            Payload::MemorySection(s) => {
                for memory in s {
                    self.metadata.memories.push(memory_type(&memory?));
                }
            }
            Payload::TagSection(s) => {
                for tag in s {
                    let t = TypeIndex(tag?.func_type_idx);
                    self.tag_types.push(t);
                    self.metadata.tags.push(t);
                }
            }
            Payload::GlobalSection(s) => {
                let offset = s.range().start;
                for global in s {
                    let global = global?;
                    let ty = global_type(&global.ty, offset)?;
                    self.global_types.push(ty);
                    self.metadata.globals.push(GlobalDef {
                        ty,
                        init: const_expr(&global.init_expr)?,
                    });
                }
            }
            Payload::ExportSection(s) => {
                let offset = s.range().start;
                for export in s {
                    let export = export?;
                    self.metadata.exports.push(Export {
                        name: export.name.to_owned(),
                        kind: extern_kind(export.kind, offset)?,
                        index: export.index,
                    });
                }
            }
            Payload::StartSection { func, .. } => self.metadata.start = Some(FuncIndex(func)),
            Payload::ElementSection(s) => {
                for element in s {
                    let element = element?;
                    self.metadata.elements.push(element_segment(element)?);
                }
            }
            Payload::DataSection(s) => {
                for data in s {
                    let data = data?;
                    self.metadata.data.push(data_segment(data)?);
                }
            }
            Payload::CodeSectionEntry(body) => self.bodies.push(body),
            Payload::CustomSection(c) => {
                if let wasmparser::KnownCustom::Name(names) = c.as_known() {
                    // A malformed name section is not an error (the spec
                    // says so); we just lose the names.
                    if let Some(n) = read_names(names) {
                        self.metadata.names = n;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn import(&mut self, import: wasmparser::Import<'_>, offset: u64) -> Result<(), CompileError> {
        let kind = match import.ty {
            wasmparser::TypeRef::Func(t) => {
                self.imported_funcs += 1;
                self.metadata.funcs.push(TypeIndex(t));
                ImportKind::Func(TypeIndex(t))
            }
            wasmparser::TypeRef::Table(t) => {
                self.imported_tables += 1;
                ImportKind::Table(table_type(&t, offset)?)
            }
            wasmparser::TypeRef::Memory(m) => ImportKind::Memory(memory_type(&m)),
            wasmparser::TypeRef::Global(g) => {
                self.imported_globals += 1;
                let ty = global_type(&g, offset)?;
                self.global_types.push(ty);
                ImportKind::Global(ty)
            }
            wasmparser::TypeRef::Tag(t) => {
                self.tag_types.push(TypeIndex(t.func_type_idx));
                ImportKind::Tag(TypeIndex(t.func_type_idx))
            }
            _ => return Err(unsupported("this kind of import", offset)),
        };
        self.metadata.imports.push(Import {
            module: import.module.to_owned(),
            name: import.name.to_owned(),
            kind,
        });
        Ok(())
    }

    fn finish(mut self) -> ModuleInfo<'w> {
        // Typed references name the first of equivalent types, so that
        // type equality is `==` here and in the loader's checks.
        let canon = &self.type_canon;
        let m = &mut self.metadata;
        for f in &mut m.funcs {
            *f = canon.get(f.index()).copied().unwrap_or(*f);
        }
        for imp in &mut m.imports {
            match &mut imp.kind {
                ImportKind::Table(t) => t.element = canonical_ref(t.element, canon),
                ImportKind::Global(g) => g.content = canonical_ref(g.content, canon),
                ImportKind::Func(f) => *f = canon.get(f.index()).copied().unwrap_or(*f),
                ImportKind::Memory(_) | ImportKind::Tag(_) => {}
            }
        }
        for t in &mut m.tables {
            t.element = canonical_ref(t.element, canon);
        }
        for g in &mut m.globals {
            g.ty.content = canonical_ref(g.ty.content, canon);
        }
        let counts = self.metadata.vm_counts();
        let offsets = VMOffsets::new(counts);
        self.metadata.vmctx_size = offsets.size();
        self.metadata.vm_counts = counts;
        let mut sealed_tables =
            sealed_tables(&self.metadata, self.imported_tables, self.imported_funcs);
        let mut fixed_tables: Vec<bool> = (0..sealed_tables.len())
            .map(|t| {
                t >= self.imported_tables as usize
                    && !self
                        .metadata
                        .exports
                        .iter()
                        .any(|e| e.kind == ExternKind::Table && e.index as usize == t)
            })
            .collect();
        let written = scan_bodies(&self.bodies);
        let escapes = escaping_functions(&self.metadata, self.imported_funcs, &written);
        let call_convs = call_conventions(self.imported_funcs, &written, &escapes);
        // The host enters a function only through an export, a funcref
        // (both make it escape) or as the start function.
        let mut host_entries = escapes;
        if let Some(e) = self
            .metadata
            .start
            .and_then(|f| f.0.checked_sub(self.imported_funcs))
            .and_then(|def| host_entries.get_mut(def as usize))
        {
            *e = true;
        }
        for &t in &written.written {
            if let Some(slot) = sealed_tables.get_mut(t as usize) {
                *slot = None;
            }
        }
        for &t in &written.grown {
            if let Some(fixed) = fixed_tables.get_mut(t as usize) {
                *fixed = false;
            }
        }
        let mut info = ModuleInfo {
            sealed_tables,
            fixed_tables,
            call_convs,
            host_entries,
            metadata: self.metadata,
            bodies: self.bodies,
            imported_funcs: self.imported_funcs,
            imported_tables: self.imported_tables,
            imported_globals: self.imported_globals,
            global_types: self.global_types,
            tag_types: self.tag_types,
            type_canon: self.type_canon,
            offsets,
            deferred: None,
            dispatch_keys: std::collections::BTreeSet::new(),
        };
        info.dispatch_keys = written
            .indirect
            .iter()
            .filter(|&&(t, _)| info.sealed_table(t).is_some_and(|s| s.contents.is_some()))
            .map(|&(t, ty)| (t, info.canonical_type(TypeIndex(ty))))
            .collect();
        info
    }
}

/// What the operators of a module's bodies do that module-wide decisions
/// (sealed tables, calling conventions) depend on; one pass over every
/// body, before the functions are split into chunks.
#[derive(Default)]
struct BodyFacts {
    /// Tables written by `table.init`, `table.copy`, `table.set`,
    /// `table.fill` or `table.grow`: not sealed.
    written: Vec<u32>,
    /// Tables grown by `table.grow`: base and length may change.
    grown: Vec<u32>,
    /// Functions (index space) that a `return_call` names.
    tail_called: Vec<u32>,
    /// Functions (index space) whose address a `ref.func` takes.
    taken: Vec<u32>,
    /// (table, type index) of every `call_indirect` and
    /// `return_call_indirect`.
    indirect: Vec<(u32, u32)>,
    /// Per body, whether it makes a tail call of any kind (or could not be
    /// read, which validation rules out; assumed then).
    makes_tail_calls: Vec<bool>,
}

/// [`BodyFacts`] of `bodies`, scanned in parallel on the current rayon
/// pool (a full decode of every body) and merged in body order. A body
/// that does not decode ends its own scan and counts as making tail calls
/// (the safe answer): it fails validation in a chunk worker, and the
/// compile starts again through [`read_module_serial`].
fn scan_bodies(bodies: &[FunctionBody<'_>]) -> BodyFacts {
    use rayon::prelude::*;
    let scans: Vec<BodyFacts> = bodies.par_iter().map(scan_body).collect();
    let mut w = BodyFacts::default();
    for scan in scans {
        w.written.extend(scan.written);
        w.grown.extend(scan.grown);
        w.tail_called.extend(scan.tail_called);
        w.taken.extend(scan.taken);
        w.indirect.extend(scan.indirect);
        w.makes_tail_calls.extend(scan.makes_tail_calls);
    }
    w
}

/// [`scan_bodies`] of one body: its `makes_tail_calls` has one entry.
fn scan_body(body: &FunctionBody<'_>) -> BodyFacts {
    use wasmparser::Operator;
    let mut w = BodyFacts::default();
    let Ok(mut reader) = body.get_operators_reader() else {
        w.makes_tail_calls.push(true);
        return w;
    };
    let mut tail = false;
    while !reader.eof() {
        match reader.read() {
            Ok(Operator::TableInit { table, .. })
            | Ok(Operator::TableSet { table })
            | Ok(Operator::TableFill { table })
            | Ok(Operator::TableCopy {
                dst_table: table, ..
            }) => w.written.push(table),
            Ok(Operator::TableGrow { table }) => {
                w.written.push(table);
                w.grown.push(table);
            }
            Ok(Operator::ReturnCall { function_index }) => {
                tail = true;
                w.tail_called.push(function_index);
            }
            Ok(Operator::RefFunc { function_index }) => w.taken.push(function_index),
            Ok(Operator::CallIndirect {
                type_index,
                table_index,
            }) => w.indirect.push((table_index, type_index)),
            Ok(Operator::ReturnCallIndirect {
                type_index,
                table_index,
            }) => {
                tail = true;
                w.indirect.push((table_index, type_index));
            }
            Ok(Operator::ReturnCallRef { .. }) => tail = true,
            Ok(_) => {}
            Err(_) => {
                tail = true;
                break;
            }
        }
    }
    w.makes_tail_calls.push(tail);
    w
}

/// Per defined function, whether its address can leave plain direct
/// calls: it is exported, or an element segment, global, table
/// initialiser or `ref.func` takes its address. An address, once taken,
/// can reach any module's `call_indirect`, `return_call_indirect` or
/// `call_ref` through tables, globals, exports and the host.
fn escaping_functions(m: &ModuleMetadata, imported_funcs: u32, facts: &BodyFacts) -> Vec<bool> {
    let mut escapes = vec![false; facts.makes_tail_calls.len()];
    let mut escape = |f: u32| {
        if let Some(e) = f
            .checked_sub(imported_funcs)
            .and_then(|def| escapes.get_mut(def as usize))
        {
            *e = true;
        }
    };
    for &f in &facts.taken {
        escape(f);
    }
    for e in &m.exports {
        if e.kind == ExternKind::Func {
            escape(e.index);
        }
    }
    let exprs = m
        .globals
        .iter()
        .map(|g| &g.init)
        .chain(m.table_inits.iter().flatten())
        .chain(m.elements.iter().flat_map(|seg| {
            seg.items.iter().filter_map(|item| match item {
                ElementItem::Expr(e) => Some(e),
                ElementItem::Func(_) => None,
            })
        }));
    for e in exprs {
        for op in &e.ops {
            if let ConstOp::RefFunc(f) = op {
                escape(f.0);
            }
        }
    }
    for seg in &m.elements {
        for item in &seg.items {
            if let ElementItem::Func(f) = item {
                escape(f.0);
            }
        }
    }
    escapes
}

/// The calling convention of each defined function. A function gets
/// [`CallConv::Plain`] only when nothing but a plain `call` of this module
/// can reach it and it makes no tail call itself (`musttail` needs caller
/// and callee on one convention): its address does not escape
/// ([`escaping_functions`]) and no `return_call` names it. Every other
/// function keeps [`CallConv::Tail`], which every call through a pointer
/// assumes. Computed once for the whole module before it is split into
/// chunks, so a call in one chunk agrees with the definition in another.
fn call_conventions(imported_funcs: u32, facts: &BodyFacts, escapes: &[bool]) -> Vec<CallConv> {
    let mut convs: Vec<CallConv> = facts
        .makes_tail_calls
        .iter()
        .zip(escapes)
        .map(|(&tail, &escapes)| {
            if tail || escapes {
                CallConv::Tail
            } else {
                CallConv::Plain
            }
        })
        .collect();
    for &f in &facts.tail_called {
        if let Some(c) = f
            .checked_sub(imported_funcs)
            .and_then(|def| convs.get_mut(def as usize))
        {
            *c = CallConv::Tail;
        }
    }
    convs
}

/// [`SealedTable`] facts for each table of the index space.
fn sealed_tables(
    m: &ModuleMetadata,
    imported: u32,
    imported_funcs: u32,
) -> Vec<Option<SealedTable>> {
    let total = imported as usize + m.tables.len();
    let mut sealed: Vec<Option<SealedTable>> = (0..total)
        .map(|t| {
            let defined = t.checked_sub(imported as usize)?;
            let exported = m
                .exports
                .iter()
                .any(|e| e.kind == ExternKind::Table && e.index as usize == t);
            let len = m.tables[defined].limits.min;
            // A table with an initialiser starts full of a value this
            // cannot type or know: not sealed.
            let initialised = m.table_inits.get(defined).is_some_and(Option::is_some);
            (!exported && !initialised).then(|| SealedTable {
                len,
                func_types: Vec::new(),
                contents: (len <= STATIC_TABLE_MAX).then(|| vec![None; len as usize]),
            })
        })
        .collect();
    for segment in &m.elements {
        let (table, offset) = match &segment.mode {
            ElementMode::Active { table, offset } => (table.index(), offset),
            // Passive and declared segments reach a table only through
            // `table.init`, whose tables are not sealed (see SealedTable).
            ElementMode::Passive | ElementMode::Declared => continue,
        };
        let Some(slot) = sealed.get_mut(table) else {
            continue;
        };
        if let Some(t) = slot.as_mut() {
            record_contents(t, offset, &segment.items, imported_funcs);
        }
        for item in &segment.items {
            let ty = match item {
                ElementItem::Func(f) => m.funcs.get(f.index()).copied(),
                ElementItem::Expr(_) => None,
            };
            match (ty, slot.as_mut()) {
                (Some(ty), Some(t)) if !t.func_types.contains(&ty) => t.func_types.push(ty),
                (Some(_), _) => {}
                // A reference this cannot type: give up on the table.
                (None, _) => *slot = None,
            }
        }
    }
    sealed
}

/// Writes an active segment's items into `t.contents`, in segment order
/// (a later segment overwrites an earlier one, as at instantiation), or
/// forgets the contents if this segment makes them unknowable. A segment
/// outside the table makes instantiation fail, so no code ever runs
/// against that table; forgetting is merely the simple choice.
fn record_contents(
    t: &mut SealedTable,
    offset: &ConstExpr,
    items: &[ElementItem],
    imported_funcs: u32,
) {
    let Some(contents) = t.contents.as_mut() else {
        return;
    };
    let start = match offset.ops.as_slice() {
        [ConstOp::I32Const(x)] => Some(*x as u32 as usize),
        [ConstOp::I64Const(x)] => usize::try_from(*x as u64).ok(),
        _ => None,
    };
    let fits = start.is_some_and(|s| {
        s.checked_add(items.len())
            .is_some_and(|e| e <= contents.len())
    });
    let (Some(start), true) = (start, fits) else {
        t.contents = None;
        return;
    };
    for (i, item) in items.iter().enumerate() {
        match item {
            ElementItem::Func(f) if f.0 >= imported_funcs => contents[start + i] = Some(*f),
            // An imported function runs with its own instance's vmctx,
            // which only the runtime knows.
            _ => {
                t.contents = None;
                return;
            }
        }
    }
}

fn unsupported(feature: &str, offset: u64) -> CompileError {
    CompileError::Unsupported {
        feature: feature.to_owned(),
        offset,
    }
}

pub(crate) fn val_type(ty: wasmparser::ValType, offset: u64) -> Result<ValType, CompileError> {
    Ok(match ty {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        wasmparser::ValType::Ref(r) => ref_type(r, offset)?,
    })
}

/// A reference type: `funcref`, `externref`, and function-references'
/// `(ref null? func)`, `(ref null? extern)` and `(ref null? $t)`; the
/// other heap types (GC, exceptions) are refused.
pub(crate) fn ref_type(r: wasmparser::RefType, offset: u64) -> Result<ValType, CompileError> {
    use wasmparser::{AbstractHeapType, HeapType as H};
    let heap = match r.heap_type() {
        H::Abstract {
            shared: false,
            ty: AbstractHeapType::Func,
        } => HeapType::Func,
        H::Abstract {
            shared: false,
            ty: AbstractHeapType::Extern,
        } => HeapType::Extern,
        H::Concrete(wasmparser::UnpackedIndex::Module(t)) => HeapType::Concrete(TypeIndex(t)),
        // `exnref`, `(ref null exn)`, is its own value type
        // (`ValType::reference` answers it).
        H::Abstract {
            shared: false,
            ty: AbstractHeapType::Exn,
        } => HeapType::Exn,
        _ => return Err(unsupported(&format!("reference type `{r}`"), offset)),
    };
    Ok(ValType::reference(r.is_nullable(), heap))
}

/// `t` with a concrete type index replaced by the first index of a type
/// equal to it (`canon`, by index; an index not yet there, the type's
/// own, stays).
fn canonical_ref(t: ValType, canon: &[TypeIndex]) -> ValType {
    match t {
        ValType::Ref(r) => match r.heap {
            HeapType::Concrete(i) => ValType::reference(
                r.nullable,
                HeapType::Concrete(canon.get(i.index()).copied().unwrap_or(i)),
            ),
            _ => t,
        },
        other => other,
    }
}

fn val_types(tys: &[wasmparser::ValType], offset: u64) -> Result<Vec<ValType>, CompileError> {
    tys.iter().map(|&t| val_type(t, offset)).collect()
}

fn table_type(t: &wasmparser::TableType, offset: u64) -> Result<TableType, CompileError> {
    Ok(TableType {
        element: val_type(wasmparser::ValType::Ref(t.element_type), offset)?,
        limits: Limits {
            min: t.initial,
            max: t.maximum,
        },
        table64: t.table64,
    })
}

fn memory_type(m: &wasmparser::MemoryType) -> MemoryType {
    MemoryType {
        limits: Limits {
            min: m.initial,
            max: m.maximum,
        },
        memory64: m.memory64,
        shared: m.shared,
    }
}

fn global_type(g: &wasmparser::GlobalType, offset: u64) -> Result<GlobalType, CompileError> {
    Ok(GlobalType {
        content: val_type(g.content_type, offset)?,
        mutable: g.mutable,
    })
}

fn extern_kind(kind: wasmparser::ExternalKind, offset: u64) -> Result<ExternKind, CompileError> {
    Ok(match kind {
        wasmparser::ExternalKind::Func => ExternKind::Func,
        wasmparser::ExternalKind::Table => ExternKind::Table,
        wasmparser::ExternalKind::Memory => ExternKind::Memory,
        wasmparser::ExternalKind::Global => ExternKind::Global,
        wasmparser::ExternalKind::Tag => ExternKind::Tag,
        _ => return Err(unsupported("this kind of export", offset)),
    })
}

/// Turns a constant expression into the loader's stack program.
fn const_expr(expr: &wasmparser::ConstExpr<'_>) -> Result<ConstExpr, CompileError> {
    let mut ops = Vec::new();
    let mut reader = expr.get_operators_reader();
    while !reader.eof() {
        let offset = reader.original_position();
        let op = match reader.read()? {
            wasmparser::Operator::I32Const { value } => ConstOp::I32Const(value),
            wasmparser::Operator::I64Const { value } => ConstOp::I64Const(value),
            wasmparser::Operator::F32Const { value } => ConstOp::F32Const(value.bits()),
            wasmparser::Operator::F64Const { value } => ConstOp::F64Const(value.bits()),
            wasmparser::Operator::V128Const { value } => ConstOp::V128Const(*value.bytes()),
            wasmparser::Operator::GlobalGet { global_index } => {
                ConstOp::GlobalGet(GlobalIndex(global_index))
            }
            wasmparser::Operator::RefNull { .. } => ConstOp::RefNull,
            wasmparser::Operator::RefFunc { function_index } => {
                ConstOp::RefFunc(FuncIndex(function_index))
            }
            wasmparser::Operator::I32Add => ConstOp::I32Add,
            wasmparser::Operator::I32Sub => ConstOp::I32Sub,
            wasmparser::Operator::I32Mul => ConstOp::I32Mul,
            wasmparser::Operator::I64Add => ConstOp::I64Add,
            wasmparser::Operator::I64Sub => ConstOp::I64Sub,
            wasmparser::Operator::I64Mul => ConstOp::I64Mul,
            wasmparser::Operator::End => continue,
            _ => return Err(unsupported("this constant expression operator", offset)),
        };
        ops.push(op);
    }
    Ok(ConstExpr { ops })
}

fn element_segment(element: wasmparser::Element<'_>) -> Result<ElementSegment, CompileError> {
    let mode = match element.kind {
        wasmparser::ElementKind::Passive => ElementMode::Passive,
        wasmparser::ElementKind::Declared => ElementMode::Declared,
        wasmparser::ElementKind::Active {
            table_index,
            offset_expr,
        } => ElementMode::Active {
            table: TableIndex(table_index.unwrap_or(0)),
            offset: const_expr(&offset_expr)?,
        },
    };
    let mut items = Vec::new();
    match element.items {
        wasmparser::ElementItems::Functions(funcs) => {
            for f in funcs {
                items.push(ElementItem::Func(FuncIndex(f?)));
            }
        }
        wasmparser::ElementItems::Expressions(_, exprs) => {
            for e in exprs {
                // `ref.func f` is the function itself, which keeps what
                // `sealed_tables` knows of the table.
                items.push(match const_expr(&e?)?.ops[..] {
                    [ConstOp::RefFunc(f)] => ElementItem::Func(f),
                    ref ops => ElementItem::Expr(ConstExpr { ops: ops.to_vec() }),
                });
            }
        }
    }
    Ok(ElementSegment { mode, items })
}

fn data_segment(data: wasmparser::Data<'_>) -> Result<DataSegment, CompileError> {
    let mode = match data.kind {
        wasmparser::DataKind::Passive => DataMode::Passive,
        wasmparser::DataKind::Active {
            memory_index,
            offset_expr,
        } => DataMode::Active {
            memory: MemoryIndex(memory_index),
            offset: const_expr(&offset_expr)?,
        },
    };
    Ok(DataSegment {
        mode,
        bytes: data.data.to_vec(),
    })
}

/// Reads the module and function names; `None` if the section is malformed.
fn read_names(reader: wasmparser::NameSectionReader<'_>) -> Option<Names> {
    let mut names = Names::default();
    for subsection in reader {
        match subsection.ok()? {
            wasmparser::Name::Module { name, .. } => names.module = Some(name.to_owned()),
            wasmparser::Name::Function(map) => {
                for naming in map {
                    let naming = naming.ok()?;
                    names
                        .funcs
                        .push((FuncIndex(naming.index), naming.name.to_owned()));
                }
            }
            _ => {}
        }
    }
    names.funcs.sort_by_key(|(index, _)| *index);
    names.funcs.dedup_by_key(|(index, _)| *index);
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way a function's address escapes, or a tail call reaches or
    /// leaves it, keeps it on the shared convention; only a function that
    /// plain direct calls alone reach gets the private one. The host can
    /// enter exactly the functions whose address escapes, and the start
    /// function.
    #[test]
    fn only_functions_plain_calls_alone_reach_get_the_private_convention() {
        let wat = r#"(module
          (type $v (func))
          (import "m" "f" (func $imp))
          (table $t 2 funcref (ref.func $in_table_init))
          (global $g funcref (ref.func $in_global))
          (elem (i32.const 0) func $in_elem)
          (elem declare func $ref_func_in_body)
          (func $private (call $imp))
          (func $exported (export "e") (call $private) (call $also_private))
          (func $in_elem)
          (func $in_global)
          (func $in_table_init)
          (func $tail_called)
          (func $tail_caller (return_call $tail_called))
          (func $indirect_tail_caller (return_call_indirect (type $v) (i32.const 0)))
          (func $ref_func_in_body (drop (ref.func $ref_func_in_body)))
          (func $also_private (call $tail_caller))
          (func $start)
          (start $start)
        )"#;
        let wasm = match wat::parse_str(wat) {
            Ok(w) => w,
            Err(e) => panic!("bad wat: {e}"),
        };
        let info = match read_module(&wasm, crate::WasmVersion::Latest) {
            Ok(i) => i,
            Err(e) => panic!("read: {e}"),
        };
        use CallConv::{Plain, Tail};
        assert_eq!(
            info.call_convs,
            vec![Plain, Tail, Tail, Tail, Tail, Tail, Tail, Tail, Tail, Plain, Plain]
        );
        assert_eq!(info.call_conv(100), Tail);
        assert_eq!(
            info.host_entries,
            vec![false, true, true, true, true, false, false, false, true, false, true]
        );
        assert!(info.host_entry(100));
    }
}
