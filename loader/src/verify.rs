//! Checking an artifact against itself: the facts compiled code depends on
//! must follow from the code and the strategy it was compiled for, not from
//! a number the loader believes because the content hash matched.
//!
//! The content hash only shows the file is the one some writer meant; a
//! writer who rewrites an artifact can recompute it. So every check here
//! compares two parts of the artifact that the compiler makes agree, and
//! refuses what a rewrite of only one of them leaves behind:
//!
//! - the header's memory reservation and guard against the bounds-check
//!   strategy the code was compiled for ([`check_strategy`]);
//! - every constant expression against the type of its destination
//!   ([`check_const_exprs`]);
//! - the entity counts against the VMContext layout the code was compiled
//!   for ([`check_counts`]);
//! - the function address map and trampolines against the text's layout
//!   ([`check_code_map`]);
//! - the relocation list against the PLT stubs and trap calls in the text
//!   ([`check_relocations`]).
//!
//! Rule: every check here is on immutable module data and runs once, in
//! `Module::from_file`, before anything is mapped executable; a failure is
//! a [`LoadError::Invalid`] naming the check, never a panic. No unsafe code.

use std::collections::BTreeMap;

use wasmo_artifact_format::code::{self, FUNC_ALIGN, GOT_ENTRY_SIZE, PLT_STUB_SIZE};
use wasmo_artifact_format::metadata::{
    ConstExpr, ConstOp, DataMode, ElementItem, ElementMode, ImportKind, ModuleMetadata, RelocKind,
    RelocTarget,
};
use wasmo_artifact_format::{
    FuncIndex, GlobalType, Header, HeapType, Helper, RefType, VMOffsets, ValType,
};

use crate::error::LoadError;

fn invalid(section: &'static str, what: impl Into<String>) -> LoadError {
    LoadError::Invalid {
        section,
        what: what.into(),
    }
}

/// The header's memory layout must be the one the code's bounds-check
/// strategy was compiled for: guard-page code assumes a 4 GiB reservation
/// plus a 4 GiB guard and checks nothing, so a smaller reservation would
/// let guest accesses reach host memory.
pub(crate) fn check_strategy(h: &Header) -> Result<(), LoadError> {
    let s = h.bounds_checks;
    let (reservation, guard) = (s.memory_reservation(), s.guard_size());
    if h.memory_reservation != reservation || h.guard_size != guard {
        return Err(invalid(
            "header",
            format!(
                "memory reservation {} and guard {} do not match the {} bounds-check strategy the code was compiled for (reservation {reservation}, guard {guard})",
                h.memory_reservation,
                h.guard_size,
                s.name()
            ),
        ));
    }
    Ok(())
}

/// The counts the entity lists give must be the ones the compiler laid the
/// VMContext out from, and the layout's size the one it recorded.
pub(crate) fn check_counts(m: &ModuleMetadata) -> Result<(), LoadError> {
    let counts = m.vm_counts();
    if counts != m.vm_counts {
        return Err(invalid(
            "metadata",
            format!(
                "entity counts {counts:?} do not match the VMContext layout the code was compiled for ({:?})",
                m.vm_counts
            ),
        ));
    }
    let size = VMOffsets::new(counts).size();
    if size != m.vmctx_size {
        return Err(invalid(
            "metadata",
            format!(
                "vmctx size {} does not match this loader's layout ({size})",
                m.vmctx_size
            ),
        ));
    }
    Ok(())
}

/// What a constant expression evaluates to, for type checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConstType {
    Val(ValType),
    /// `ref.null`, which the metadata does not type: any reference type.
    Null,
}

impl ConstType {
    fn fits(self, want: ValType) -> bool {
        match self {
            ConstType::Val(t) => t.is_subtype_of(want),
            ConstType::Null => is_nullable_ref(want),
        }
    }
}

fn is_nullable_ref(t: ValType) -> bool {
    t.as_ref_type().is_some_and(|r| r.nullable)
}

/// The type of `ref.func f`: `(ref $t)` for `f` of type `$t`.
fn func_ref_type(m: &ModuleMetadata, f: FuncIndex) -> Option<ValType> {
    let t = *m.funcs.get(f.index())?;
    Some(ValType::reference(false, HeapType::Concrete(t)))
}

/// Checks the recursion groups (in order, disjoint, inside the type
/// section) and every typed reference of the metadata (function types,
/// imports, tables, globals): it names a type of the type section, an
/// earlier one (or, in a function type, one of its own recursion group),
/// and never a canonical id, which only the loader makes.
pub(crate) fn check_ref_types(m: &ModuleMetadata) -> Result<(), LoadError> {
    let ok = |t: ValType, limit: usize| match t {
        ValType::Ref(RefType {
            heap: HeapType::Concrete(i),
            ..
        }) => i.index() < limit,
        ValType::Ref(RefType {
            heap: HeapType::Canonical(_),
            ..
        }) => false,
        _ => true,
    };
    let mut next = 0;
    for g in &m.rec_groups {
        let r = g.range();
        if g.len < 2 || r.start < next || r.end > m.types.len() {
            return Err(invalid(
                "types",
                format!(
                    "recursion group of {} types at type {} overlaps another or the end",
                    g.len, g.start.0
                ),
            ));
        }
        next = r.end;
    }
    if let Some(t) = m.open_types.iter().find(|t| t.index() >= m.types.len()) {
        return Err(invalid("types", format!("open type {} is unknown", t.0)));
    }
    for range in m.type_groups() {
        for i in range.clone() {
            let ty = &m.types[i];
            if !ty
                .params
                .iter()
                .chain(&ty.results)
                .all(|&t| ok(t, range.end))
            {
                return Err(invalid(
                    "types",
                    format!("type {i}: a reference names a later or unknown type"),
                ));
            }
        }
    }
    let n = m.types.len();
    let mut places = m
        .tables
        .iter()
        .map(|t| t.element)
        .chain(m.globals.iter().map(|g| g.ty.content));
    let mut imports = m.imports.iter().filter_map(|imp| match &imp.kind {
        ImportKind::Table(t) => Some(t.element),
        ImportKind::Global(g) => Some(g.content),
        _ => None,
    });
    if !places.all(|t| ok(t, n)) || !imports.all(|t| ok(t, n)) {
        return Err(invalid(
            "types",
            "a table or global names an unknown type".to_owned(),
        ));
    }
    if m.table_inits.len() > m.tables.len() {
        return Err(invalid(
            "tables",
            format!(
                "{} initialisers for {} tables",
                m.table_inits.len(),
                m.tables.len()
            ),
        ));
    }
    Ok(())
}

/// The module's index spaces, as the constant-expression checks need them.
struct Spaces<'m> {
    m: &'m ModuleMetadata,
    /// Type of every global, imports first.
    globals: Vec<GlobalType>,
    imported_globals: usize,
    /// Element type of every table, imports first.
    tables: Vec<ValType>,
    /// Whether each table, imports first, is 64-bit.
    tables64: Vec<bool>,
    /// Whether each memory, imports first, is 64-bit.
    memories64: Vec<bool>,
}

impl<'m> Spaces<'m> {
    fn new(m: &'m ModuleMetadata) -> Spaces<'m> {
        let mut s = Spaces {
            m,
            globals: Vec::new(),
            imported_globals: 0,
            tables: Vec::new(),
            tables64: Vec::new(),
            memories64: Vec::new(),
        };
        for imp in &m.imports {
            match &imp.kind {
                ImportKind::Global(g) => s.globals.push(*g),
                ImportKind::Table(t) => {
                    s.tables.push(t.element);
                    s.tables64.push(t.table64);
                }
                ImportKind::Memory(mt) => s.memories64.push(mt.memory64),
                ImportKind::Func(_) | ImportKind::Tag(_) => {}
            }
        }
        s.imported_globals = s.globals.len();
        s.globals.extend(m.globals.iter().map(|g| g.ty));
        s.tables.extend(m.tables.iter().map(|t| t.element));
        s.tables64.extend(m.tables.iter().map(|t| t.table64));
        s.memories64.extend(m.memories.iter().map(|t| t.memory64));
        s
    }

    /// Type-checks `e` as a stack program reading the first `visible`
    /// globals, and returns its one result.
    fn expr_type(&self, e: &ConstExpr, visible: usize, what: &str) -> Result<ConstType, String> {
        let mut stack: Vec<ConstType> = Vec::new();
        let binary = |stack: &mut Vec<ConstType>, t: ValType, op: &ConstOp| {
            let b = stack.pop();
            let a = stack.pop();
            if a != Some(ConstType::Val(t)) || b != Some(ConstType::Val(t)) {
                return Err(format!("{what}: {op:?} needs two {t:?} operands"));
            }
            stack.push(ConstType::Val(t));
            Ok(())
        };
        for op in &e.ops {
            match *op {
                ConstOp::I32Const(_) => stack.push(ConstType::Val(ValType::I32)),
                ConstOp::I64Const(_) => stack.push(ConstType::Val(ValType::I64)),
                ConstOp::F32Const(_) => stack.push(ConstType::Val(ValType::F32)),
                ConstOp::F64Const(_) => stack.push(ConstType::Val(ValType::F64)),
                ConstOp::V128Const(_) => stack.push(ConstType::Val(ValType::V128)),
                ConstOp::GlobalGet(g) => {
                    let ty = self
                        .globals
                        .get(g.index())
                        .filter(|_| g.index() < visible)
                        .ok_or_else(|| format!("{what}: global.get {} out of range", g.0))?;
                    if ty.mutable {
                        return Err(format!("{what}: global.get {} of a mutable global", g.0));
                    }
                    stack.push(ConstType::Val(ty.content));
                }
                ConstOp::RefNull => stack.push(ConstType::Null),
                ConstOp::RefFunc(f) => {
                    let Some(t) = func_ref_type(self.m, f) else {
                        return Err(format!("{what}: ref.func {} out of range", f.0));
                    };
                    stack.push(ConstType::Val(t));
                }
                ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                    binary(&mut stack, ValType::I32, op)?
                }
                ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                    binary(&mut stack, ValType::I64, op)?
                }
            }
        }
        match stack.as_slice() {
            [t] => Ok(*t),
            _ => Err(format!(
                "{what}: leaves {} values instead of one",
                stack.len()
            )),
        }
    }

    /// Checks that `e` evaluates to a `want`.
    fn expect(
        &self,
        e: &ConstExpr,
        visible: usize,
        want: ValType,
        section: &'static str,
        what: &str,
    ) -> Result<(), LoadError> {
        let t = self
            .expr_type(e, visible, what)
            .map_err(|m| invalid(section, format!("constant expression type check: {m}")))?;
        if !t.fits(want) {
            return Err(invalid(
                section,
                format!("constant expression type check: {what} is {t:?}, expected {want:?}"),
            ));
        }
        Ok(())
    }
}

/// Type-checks every constant expression against its destination: global
/// initialisers against the global's type, element offsets and items
/// against the table, data offsets against the memory's index type.
pub(crate) fn check_const_exprs(m: &ModuleMetadata) -> Result<(), LoadError> {
    let s = Spaces::new(m);
    let all = s.globals.len();
    for (d, init) in m.table_inits.iter().enumerate() {
        if let (Some(e), Some(t)) = (init, m.tables.get(d)) {
            // The table section precedes the globals: imported ones only.
            let what = format!("initialiser of defined table {d}");
            s.expect(e, s.imported_globals, t.element, "tables", &what)?;
        }
    }
    for (i, g) in m.globals.iter().enumerate() {
        let what = format!("initialiser of global {}", s.imported_globals + i);
        s.expect(
            &g.init,
            s.imported_globals + i,
            g.ty.content,
            "globals",
            &what,
        )?;
    }
    for (n, seg) in m.elements.iter().enumerate() {
        // The table's element type for an active segment; otherwise the
        // items' own (one reference type for the whole segment).
        let mut want = match &seg.mode {
            ElementMode::Active { table, offset } => {
                let Some(&elem) = s.tables.get(table.index()) else {
                    return Err(invalid(
                        "elements",
                        format!("segment {n}: table {} out of range", table.0),
                    ));
                };
                let is64 = s.tables64.get(table.index()).copied().unwrap_or(false);
                let want = if is64 { ValType::I64 } else { ValType::I32 };
                let what = format!("offset of element segment {n}");
                s.expect(offset, all, want, "elements", &what)?;
                Some(elem)
            }
            ElementMode::Passive | ElementMode::Declared => None,
        };
        for (k, item) in seg.items.iter().enumerate() {
            let what = format!("item {k} of element segment {n}");
            let t = match item {
                ElementItem::Func(f) => match func_ref_type(m, *f) {
                    Some(t) => ConstType::Val(t),
                    None => {
                        return Err(invalid(
                            "elements",
                            format!("{what}: function {} out of range", f.0),
                        ))
                    }
                },
                ElementItem::Expr(e) => s.expr_type(e, all, &what).map_err(|msg| {
                    invalid("elements", format!("constant expression type check: {msg}"))
                })?,
            };
            // A passive segment's items take the first item's type, made
            // nullable and untyped (`funcref`) for functions: the
            // metadata does not record a segment's declared type.
            let ok = match (t, want) {
                (ConstType::Null, Some(w)) => is_nullable_ref(w),
                (ConstType::Null, None) => true,
                (ConstType::Val(v), Some(w)) => v.is_subtype_of(w),
                (ConstType::Val(v), None) => {
                    let top = match v.as_ref_type().map(|r| r.heap) {
                        Some(HeapType::Extern) => ValType::ExternRef,
                        Some(HeapType::Exn) => ValType::ExnRef,
                        _ => ValType::FuncRef,
                    };
                    want = Some(top);
                    v.is_ref()
                }
            };
            if !ok {
                let expected = want.map_or("a reference".to_owned(), |w| format!("{w:?}"));
                return Err(invalid(
                    "elements",
                    format!("constant expression type check: {what} is {t:?}, expected {expected}"),
                ));
            }
        }
    }
    for (n, seg) in m.data.iter().enumerate() {
        if let DataMode::Active { memory, offset } = &seg.mode {
            let Some(&is64) = s.memories64.get(memory.index()) else {
                return Err(invalid(
                    "data",
                    format!("segment {n}: memory {} out of range", memory.0),
                ));
            };
            let want = if is64 { ValType::I64 } else { ValType::I32 };
            let what = format!("offset of data segment {n}");
            s.expect(offset, all, want, "data", &what)?;
        }
    }
    Ok(())
}

/// Checks the function address map (defined functions, their array
/// trampolines, the import trampolines and the stubs) against the text:
/// the entries tile it up to the PLT, each starting on a [`FUNC_ALIGN`]
/// boundary with something other than `int3`, none overlapping another,
/// and every byte between them is `int3` padding
/// ([`code::check_tiling`], the rule the compiler's linker lays text out
/// by). An entry moved onto another's start, into its own body or onto
/// padding, a shortened or a dropped one, is refused.
fn check_code_map(h: &Header, m: &ModuleMetadata, image: &[u8]) -> Result<(), LoadError> {
    let text = image
        .get(..usize::try_from(h.text_len).unwrap_or(usize::MAX))
        .ok_or_else(|| invalid("function map", "the text lies beyond the image".to_owned()))?;
    code::check_tiling(&mut m.code_entries(), m.plt_offset, text)
        .map_err(|e| invalid("function map", e))
}

/// Checks the metadata against the image's bytes as the file holds them:
/// the function address map ([`check_code_map`]) and the relocations
/// ([`check_relocations`]).
pub(crate) fn check_image(h: &Header, m: &ModuleMetadata, image: &[u8]) -> Result<(), LoadError> {
    check_code_map(h, m, image)?;
    check_relocations(h, m, image)
}

/// Checks the relocation list against the image: every relocation is an
/// 8-byte slot inside relro, sorted and not overlapping another, over bytes
/// the linker left zero, with a target that exists; every PLT stub is well
/// formed and jumps through a slot filled by exactly one relocation naming
/// a helper or libcall; every trap site returns from a call of the trap
/// helper. An emptied or thinned list leaves a stub or a trap call without
/// its slot and is refused.
///
/// `image` is the image's bytes as the file holds them.
fn check_relocations(h: &Header, m: &ModuleMetadata, image: &[u8]) -> Result<(), LoadError> {
    let bad = |what: String| Err(invalid("relocations", what));
    let relro = h.relro;
    let relro_end = relro.end().unwrap_or(0);
    let slot = u64::from(GOT_ENTRY_SIZE);
    // Slot offset -> target, for the PLT and trap-call checks.
    let mut slots: BTreeMap<u64, (RelocTarget, i64)> = BTreeMap::new();
    let mut prev_end = relro.offset;
    for r in &m.relocations {
        let RelocKind::Abs64 { addend } = r.kind;
        let end = r.offset.checked_add(slot);
        if r.offset < prev_end
            || end.is_none_or(|e| e > relro_end)
            || !r.offset.is_multiple_of(slot)
        {
            return bad(format!(
                "relocation at image offset {} is unsorted, overlaps another, is unaligned or lies outside relro ({}..{relro_end})",
                r.offset, relro.offset
            ));
        }
        let ok_target = match r.target {
            RelocTarget::Helper(n) => Helper::from_u32(n).is_some(),
            RelocTarget::Libcall(n) => wasmo_artifact_format::Libcall::from_u32(n).is_some(),
            RelocTarget::Image(off) => off < h.image.len,
        };
        if !ok_target {
            return bad(format!(
                "relocation at image offset {} has an unknown target ({:?})",
                r.offset, r.target
            ));
        }
        let (s, e) = (r.offset as usize, (r.offset + slot) as usize);
        if image.get(s..e).is_none_or(|b| b.iter().any(|&x| x != 0)) {
            return bad(format!(
                "relocation at image offset {} patches bytes the linker did not leave for it",
                r.offset
            ));
        }
        slots.insert(r.offset, (r.target, addend));
        prev_end = r.offset + slot;
    }

    // The PLT: stubs from `plt_offset` to the end of text.
    let text_len = h.text_len;
    let plt = u64::from(m.plt_offset);
    if h.image.len > 0
        && (plt > text_len
            || !plt.is_multiple_of(u64::from(FUNC_ALIGN))
            || !(text_len - plt).is_multiple_of(u64::from(PLT_STUB_SIZE)))
    {
        return Err(invalid(
            "plt",
            format!("PLT at text offset {plt} is not a whole number of stubs ending the text ({text_len} bytes)"),
        ));
    }
    // GOT slot -> stub, so that each slot has one stub.
    let mut stub_of_slot: BTreeMap<u64, u64> = BTreeMap::new();
    let mut stub = plt;
    while stub < text_len {
        let bytes = image.get(stub as usize..(stub + u64::from(PLT_STUB_SIZE)) as usize);
        let got = bytes.and_then(|b| code::plt_stub_target(stub as u32, b));
        let Some(got) = got else {
            return Err(invalid(
                "plt",
                format!("bytes at text offset {stub} are not a PLT stub"),
            ));
        };
        match slots.get(&got) {
            Some((RelocTarget::Helper(_) | RelocTarget::Libcall(_), 0)) => {}
            other => {
                return bad(format!(
                    "PLT stub at text offset {stub} jumps through image offset {got}, which {}",
                    match other {
                        None => "no relocation fills".to_owned(),
                        Some(t) => format!("holds {t:?}, not a helper or libcall"),
                    }
                ));
            }
        }
        if let Some(first) = stub_of_slot.insert(got, stub) {
            return Err(invalid(
                "plt",
                format!("PLT stubs at text offsets {first} and {stub} share a GOT slot"),
            ));
        }
        stub += u64::from(PLT_STUB_SIZE);
    }

    // Every trap site returns from a call of the trap helper: `call rel32`
    // to a stub whose slot names it, or `call *disp32(%rip)` through such
    // a slot.
    let trap = RelocTarget::Helper(Helper::Trap as u32);
    let names_trap = |got: u64| slots.get(&got) == Some(&(trap, 0));
    for &ret in &m.trap_sites.offsets {
        let ret64 = u64::from(ret);
        let call = ret
            .checked_sub(5)
            .and_then(|at| image.get(at as usize..ret as usize));
        let direct = call.is_some_and(|b| {
            let rel = i32::from_le_bytes([b[1], b[2], b[3], b[4]]);
            let target = ret64 as i64 + i64::from(rel);
            b[0] == 0xe8
                && u64::try_from(target).is_ok_and(|t| {
                    t >= plt
                        && t < text_len
                        && (t - plt).is_multiple_of(u64::from(PLT_STUB_SIZE))
                        && stub_of_slot
                            .iter()
                            .any(|(&got, &s)| s == t && names_trap(got))
                })
        });
        let indirect = ret
            .checked_sub(6)
            .and_then(|at| image.get(at as usize..ret as usize))
            .is_some_and(|b| {
                let rel = i32::from_le_bytes([b[2], b[3], b[4], b[5]]);
                b[..2] == [0xff, 0x15]
                    && u64::try_from(ret64 as i64 + i64::from(rel)).is_ok_and(names_trap)
            });
        if !direct && !indirect {
            return Err(invalid(
                "trap sites",
                format!("trap site at text offset {ret} does not return from a call of the trap helper through a relocated GOT slot"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmo_artifact_format::metadata::{ElementSegment, GlobalDef};
    use wasmo_artifact_format::{FuncIndex, GlobalIndex, Limits, TableIndex, TableType, TypeIndex};

    fn expr(ops: Vec<ConstOp>) -> ConstExpr {
        ConstExpr { ops }
    }

    /// One function, one `element` table, one immutable and one mutable
    /// i32 global, and an active segment holding `items`.
    fn module(element: ValType, items: Vec<ElementItem>) -> ModuleMetadata {
        let global = |mutable| GlobalDef {
            ty: GlobalType {
                content: ValType::I32,
                mutable,
            },
            init: expr(vec![ConstOp::I32Const(1)]),
        };
        ModuleMetadata {
            types: vec![Default::default()],
            funcs: vec![TypeIndex(0)],
            tables: vec![TableType {
                element,
                limits: Limits { min: 4, max: None },
                table64: false,
            }],
            globals: vec![global(false), global(true)],
            elements: vec![ElementSegment {
                mode: ElementMode::Active {
                    table: TableIndex(0),
                    offset: expr(vec![ConstOp::I32Const(0)]),
                },
                items,
            }],
            ..Default::default()
        }
    }

    fn refused(m: &ModuleMetadata) -> String {
        match check_const_exprs(m) {
            Err(e) => e.to_string(),
            Ok(()) => panic!("accepted: {m:?}"),
        }
    }

    #[test]
    fn element_items_must_have_the_table_type() {
        let f = ElementItem::Func(FuncIndex(0));
        let null = ElementItem::Expr(expr(vec![ConstOp::RefNull]));
        assert!(
            check_const_exprs(&module(ValType::FuncRef, vec![f.clone(), null.clone()])).is_ok()
        );
        assert!(check_const_exprs(&module(ValType::ExternRef, vec![null])).is_ok());
        assert!(refused(&module(ValType::ExternRef, vec![f])).contains("expected ExternRef"));
        let i64_item = ElementItem::Expr(expr(vec![ConstOp::I64Const(0x4141_4141_4141)]));
        assert!(refused(&module(ValType::FuncRef, vec![i64_item])).contains("type check"));
    }

    #[test]
    fn stack_programs_are_typed() {
        let item = |ops| vec![ElementItem::Expr(expr(ops))];
        let cases = [
            (
                vec![ConstOp::I32Const(1), ConstOp::I64Const(2), ConstOp::I32Add],
                "two I32",
            ),
            (vec![ConstOp::RefNull, ConstOp::RefNull], "leaves 2 values"),
            (vec![], "leaves 0 values"),
            (
                vec![ConstOp::RefFunc(FuncIndex(1))],
                "ref.func 1 out of range",
            ),
            (vec![ConstOp::GlobalGet(GlobalIndex(1))], "mutable global"),
            (vec![ConstOp::GlobalGet(GlobalIndex(0))], "expected FuncRef"),
        ];
        for (ops, needle) in cases {
            let msg = refused(&module(ValType::FuncRef, item(ops)));
            assert!(msg.contains(needle), "{needle}: {msg}");
        }
        // A global initialiser sees only the globals before it.
        let mut m = module(ValType::FuncRef, vec![]);
        m.globals[0].init = expr(vec![ConstOp::GlobalGet(GlobalIndex(0))]);
        assert!(refused(&m).contains("global.get 0 out of range"));
        let mut m = module(ValType::FuncRef, vec![]);
        m.globals[1].init = expr(vec![
            ConstOp::GlobalGet(GlobalIndex(0)),
            ConstOp::I32Const(2),
            ConstOp::I32Mul,
        ]);
        assert!(check_const_exprs(&m).is_ok());
    }
}
