//! The proposal gate. A module wasmo's own feature set does not validate is
//! validated again with every proposal wasmparser knows
//! (`WasmFeatures::all()`), so a valid module is never called invalid; if
//! that accepts it, this gate refuses it, naming the proposal and the byte
//! offset: [`check`] the module-level constructs (types, imports, tables,
//! memories, tags, globals, exports, segments, locals, constant
//! expressions), [`check_operators`] the operators and block types. The
//! translator's stubs (`translate/visit.rs`) refuse the same operators
//! again, as a second line.
//!
//! Rule: what passes this gate is exactly what `module_info` and the
//! translator handle (WebAssembly 1.0 with sign extension, saturating
//! conversions, multi-value, bulk memory's `memory.copy`/`memory.fill`,
//! `memory.init`/`data.drop`, `table.init`/`table.copy`/`elem.drop` and
//! segment forms, reference types (`funcref` and `externref` values,
//! tables and segments, `ref.*`, `table.*`, typed `select`), SIMD, tail
//! calls, relaxed SIMD, extended-const, threads' shared memories and
//! atomic operators, several memories, 64-bit memories and tables,
//! typed function references (`(ref null? $t)`, `(ref func)`, `(ref
//! extern)` values, `call_ref`, `return_call_ref`, `ref.as_non_null`,
//! `br_on_null`, `br_on_non_null`, table initialisers), and exception
//! handling, both forms, with `exnref` values); implementing a proposal
//! means removing its refusal here in the same change.

use wasmparser::{
    AbstractHeapType, CompositeInnerType, ConstExpr, DataKind, ElementItems, ElementKind, Encoding,
    ExternalKind, GlobalType, HeapType, MemoryType, Operator, Parser, Payload, RecGroup, RefType,
    TableInit, TableType, TypeRef, ValType,
};

use crate::CompileError;

/// `Unsupported` for `what`, a construct of `proposal`, at `offset`.
fn refuse(what: &str, proposal: &str, offset: u64) -> CompileError {
    CompileError::Unsupported {
        feature: format!("{what} ({proposal} proposal)"),
        offset,
    }
}

/// Counts kept across sections.
#[derive(Default)]
struct Gate {
    imported_globals: u32,
}

/// Refuses the first module-level construct of an unsupported proposal in
/// `wasm`, which the validator has accepted.
pub(crate) fn check(wasm: &[u8]) -> Result<(), CompileError> {
    let mut gate = Gate::default();
    for payload in Parser::new(0).parse_all(wasm) {
        gate.payload(payload?)?;
    }
    Ok(())
}

impl Gate {
    fn payload(&mut self, payload: Payload<'_>) -> Result<(), CompileError> {
        match payload {
            Payload::Version {
                encoding: Encoding::Component,
                range,
                ..
            } => return Err(refuse("a component", "component-model", range.start)),
            Payload::TypeSection(s) => {
                for group in s.into_iter_with_offsets() {
                    let (offset, group) = group?;
                    rec_group(&group, offset)?;
                }
            }
            Payload::ImportSection(s) => {
                for import in s.into_imports_with_offsets() {
                    let (offset, import) = import?;
                    match import.ty {
                        TypeRef::Func(_) => {}
                        TypeRef::FuncExact(_) => {
                            return Err(refuse(
                                "exact function imports",
                                "custom-descriptors",
                                offset,
                            ))
                        }
                        TypeRef::Table(t) => self.table(&t, offset)?,
                        TypeRef::Memory(m) => self.memory(&m, offset)?,
                        TypeRef::Global(g) => {
                            self.imported_globals += 1;
                            global_type(&g, offset)?;
                        }
                        TypeRef::Tag(_) => {}
                    }
                }
            }
            Payload::TableSection(s) => {
                for table in s.into_iter_with_offsets() {
                    let (offset, table) = table?;
                    self.table(&table.ty, offset)?;
                    if let TableInit::Expr(e) = &table.init {
                        self.const_expr(e)?;
                    }
                }
            }
            Payload::MemorySection(s) => {
                for memory in s.into_iter_with_offsets() {
                    let (offset, memory) = memory?;
                    self.memory(&memory, offset)?;
                }
            }
            Payload::GlobalSection(s) => {
                for global in s.into_iter_with_offsets() {
                    let (offset, global) = global?;
                    global_type(&global.ty, offset)?;
                    self.const_expr(&global.init_expr)?;
                }
            }
            Payload::ExportSection(s) => {
                for export in s.into_iter_with_offsets() {
                    let (offset, export) = export?;
                    if export.kind == ExternalKind::FuncExact {
                        return Err(refuse(
                            "exact function exports",
                            "custom-descriptors",
                            offset,
                        ));
                    }
                }
            }
            Payload::ElementSection(s) => {
                for element in s {
                    let element = element?;
                    let offset = element.range.start;
                    match element.kind {
                        ElementKind::Passive | ElementKind::Declared => {}
                        ElementKind::Active { offset_expr, .. } => self.const_expr(&offset_expr)?,
                    }
                    if let ElementItems::Expressions(ty, exprs) = element.items {
                        if !is_reference_type(ty) {
                            let what = format!("element segments of `{ty}`");
                            return Err(refuse(&what, ref_proposal(ty), offset));
                        }
                        for expr in exprs {
                            self.const_expr(&expr?)?;
                        }
                    }
                }
            }
            Payload::DataSection(s) => {
                for data in s {
                    if let DataKind::Active { offset_expr, .. } = data?.kind {
                        self.const_expr(&offset_expr)?;
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut locals = body.get_locals_reader()?;
                for _ in 0..locals.get_count() {
                    let offset = locals.original_position();
                    let (_, ty) = locals.read()?;
                    val_type(ty, "locals", offset)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn table(&mut self, t: &TableType, offset: u64) -> Result<(), CompileError> {
        if t.shared {
            return Err(refuse("shared tables", "shared-everything-threads", offset));
        }
        if !is_reference_type(t.element_type) {
            let what = format!("tables of `{}`", t.element_type);
            return Err(refuse(&what, ref_proposal(t.element_type), offset));
        }
        Ok(())
    }

    fn memory(&mut self, m: &MemoryType, offset: u64) -> Result<(), CompileError> {
        if m.page_size_log2.is_some() {
            return Err(refuse("custom page sizes", "custom-page-sizes", offset));
        }
        Ok(())
    }

    /// Constant expressions: constants, `ref.null`, `ref.func`,
    /// `global.get` of an imported global, and extended-const's `i32`/`i64`
    /// `add`, `sub`, `mul`.
    fn const_expr(&self, expr: &ConstExpr<'_>) -> Result<(), CompileError> {
        let mut reader = expr.get_operators_reader();
        while !reader.eof() {
            let offset = reader.original_position();
            match reader.read()? {
                Operator::I32Const { .. }
                | Operator::I64Const { .. }
                | Operator::F32Const { .. }
                | Operator::F64Const { .. }
                | Operator::V128Const { .. }
                | Operator::End => {}
                Operator::GlobalGet { global_index } if global_index < self.imported_globals => {}
                Operator::GlobalGet { .. } => {
                    return Err(refuse(
                        "`global.get` of a defined global in a constant expression",
                        "gc",
                        offset,
                    ))
                }
                Operator::RefNull { .. } | Operator::RefFunc { .. } => {}
                // extended-const
                Operator::I32Add
                | Operator::I32Sub
                | Operator::I32Mul
                | Operator::I64Add
                | Operator::I64Sub
                | Operator::I64Mul => {}
                _ => return Err(refuse("this constant expression operator", "gc", offset)),
            }
        }
        Ok(())
    }
}

/// Function types only, in groups of any size (`rec`), final or open
/// (`sub`) but without a declared supertype: declared subtyping would
/// need `call_indirect` and import matching to test a supertype chain
/// rather than compare identities.
fn rec_group(group: &RecGroup, offset: u64) -> Result<(), CompileError> {
    for sub in group.types() {
        if !sub.supertype_idxs.is_empty() {
            return Err(refuse("declared supertypes", "gc", offset));
        }
        let composite = &sub.composite_type;
        if composite.shared {
            return Err(refuse("shared types", "shared-everything-threads", offset));
        }
        if composite.descriptor_idx.is_some() || composite.describes_idx.is_some() {
            return Err(refuse("type descriptors", "custom-descriptors", offset));
        }
        let func = match &composite.inner {
            CompositeInnerType::Func(f) => f,
            CompositeInnerType::Array(_) => return Err(refuse("array types", "gc", offset)),
            CompositeInnerType::Struct(_) => return Err(refuse("struct types", "gc", offset)),
            CompositeInnerType::Cont(_) => {
                return Err(refuse("continuation types", "stack-switching", offset))
            }
        };
        for &ty in func.params() {
            val_type(ty, "function parameters", offset)?;
        }
        for &ty in func.results() {
            val_type(ty, "function results", offset)?;
        }
    }
    Ok(())
}

fn global_type(g: &GlobalType, offset: u64) -> Result<(), CompileError> {
    if g.shared {
        return Err(refuse(
            "shared globals",
            "shared-everything-threads",
            offset,
        ));
    }
    val_type(g.content_type, "globals", offset)
}

/// A number or vector value type; `place` says where the type was found.
fn val_type(ty: ValType, place: &str, offset: u64) -> Result<(), CompileError> {
    match ty {
        ValType::I32 | ValType::I64 | ValType::F32 | ValType::F64 | ValType::V128 => Ok(()),
        ValType::Ref(r) if is_reference_type(r) => Ok(()),
        ValType::Ref(r) => {
            let what = match r.heap_type() {
                HeapType::Concrete(_) | HeapType::Exact(_) => {
                    format!("typed references in {place}")
                }
                _ => format!("`{r}` {place}"),
            };
            Err(refuse(&what, ref_proposal(r), offset))
        }
    }
}

/// Whether `r` is one of the reference types wasmo implements: `funcref`
/// and `externref`, function-references' `(ref func)`, `(ref extern)`
/// and `(ref null? $t)`, and `exnref` and `(ref exn)` (none shared).
fn is_reference_type(r: RefType) -> bool {
    matches!(
        r.heap_type(),
        HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Func | AbstractHeapType::Extern | AbstractHeapType::Exn,
        } | HeapType::Concrete(_)
    )
}

/// The proposal that introduced reference type `r`.
fn ref_proposal(r: RefType) -> &'static str {
    match r.heap_type() {
        HeapType::Abstract { shared: true, .. } => "shared-everything-threads",
        HeapType::Abstract {
            ty: AbstractHeapType::Exn | AbstractHeapType::NoExn,
            ..
        } => "exceptions",
        HeapType::Abstract {
            ty: AbstractHeapType::Cont | AbstractHeapType::NoCont,
            ..
        } => "stack-switching",
        HeapType::Abstract {
            ty: AbstractHeapType::Func | AbstractHeapType::Extern,
            ..
        } if r.is_nullable() => "reference-types",
        HeapType::Abstract {
            ty: AbstractHeapType::Func | AbstractHeapType::Extern,
            ..
        }
        | HeapType::Concrete(_) => "function-references",
        HeapType::Exact(_) => "custom-descriptors",
        HeapType::Abstract { .. } => "gc",
    }
}

/// The proposal each operator belongs to (wasmparser's list), `None` for
/// the ones wasmo translates.
struct OperatorProposal;

macro_rules! proposal_of {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*) )*) => {
        $(
            fn $visit(&mut self $($(, $arg: $argty)*)?) -> Self::Output {
                $($(let _ = $arg;)*)?
                proposal_of!(one @$proposal $op)
            }
        )*
    };
    (one @mvp $op:ident) => { None };
    (one @sign_extension $op:ident) => { None };
    (one @saturating_float_to_int $op:ident) => { None };
    (one @bulk_memory MemoryCopy) => { None };
    (one @simd $op:ident) => { None };
    (one @tail_call $op:ident) => { None };
    (one @relaxed_simd $op:ident) => { None };
    (one @threads $op:ident) => { None };
    (one @bulk_memory MemoryFill) => { None };
    (one @bulk_memory MemoryInit) => { None };
    (one @bulk_memory DataDrop) => { None };
    (one @bulk_memory TableInit) => { None };
    (one @bulk_memory TableCopy) => { None };
    (one @bulk_memory ElemDrop) => { None };
    (one @reference_types TypedSelect) => { None };
    (one @reference_types RefNull) => { None };
    (one @reference_types RefIsNull) => { None };
    (one @reference_types RefFunc) => { None };
    (one @reference_types TableFill) => { None };
    (one @reference_types TableGet) => { None };
    (one @reference_types TableSet) => { None };
    (one @reference_types TableGrow) => { None };
    (one @reference_types TableSize) => { None };
    (one @exceptions $op:ident) => { None };
    (one @function_references $op:ident) => { None };
    (one @legacy_exceptions $op:ident) => { None };
    (one @$proposal:ident $op:ident) => {
        Some((stringify!($op), stringify!($proposal)))
    };
}

impl<'a> wasmparser::VisitOperator<'a> for OperatorProposal {
    type Output = Option<(&'static str, &'static str)>;

    wasmparser::for_each_visit_operator!(proposal_of);

    fn simd_visitor(
        &mut self,
    ) -> Option<&mut dyn wasmparser::VisitSimdOperator<'a, Output = Self::Output>> {
        Some(self)
    }
}

impl wasmparser::VisitSimdOperator<'_> for OperatorProposal {
    wasmparser::for_each_visit_simd_operator!(proposal_of);
}

/// For a module the validator accepts with every proposal but not with
/// wasmo's own set: the first operator of an unsupported proposal, as
/// `Unsupported`; `Ok` if there is none
/// (the module is valid only through an encoding a proposal relaxed).
pub(crate) fn check_operators(wasm: &[u8]) -> Result<(), CompileError> {
    for payload in Parser::new(0).parse_all(wasm) {
        if let Payload::CodeSectionEntry(body) = payload? {
            check_body_operators(&body)?;
        }
    }
    Ok(())
}

/// [`check_operators`] for one function body.
pub(crate) fn check_body_operators(
    body: &wasmparser::FunctionBody<'_>,
) -> Result<(), CompileError> {
    let mut reader = body.get_operators_reader()?;
    while !reader.eof() {
        let offset = reader.original_position();
        let op = reader.read()?;
        if let Operator::TryTable { try_table } = &op {
            if let wasmparser::BlockType::Type(ty) = try_table.ty {
                val_type(ty, "block results", offset)?;
            }
        }
        if let Operator::Block { blockty } | Operator::Loop { blockty } | Operator::If { blockty } =
            op
        {
            if let wasmparser::BlockType::Type(ty) = blockty {
                val_type(ty, "block results", offset)?;
            }
        }
        if let Some((name, proposal)) = op_proposal(&op) {
            let what = format!("operator `{name}`");
            return Err(refuse(&what, &proposal.replace('_', "-"), offset));
        }
    }
    Ok(())
}

/// The proposal of `op`, through [`OperatorProposal`].
fn op_proposal(op: &Operator<'_>) -> Option<(&'static str, &'static str)> {
    wasmparser::VisitOperator::visit_operator(&mut OperatorProposal, op)
}
