//! Instantiation: resolving imports, laying out the VMContext, creating
//! memories, tables and globals, running the segment initialisers and the
//! start function; and finding exports.
//!
//! Rule: the VMContext is written only through `VMOffsets` and `vm::Block`'s
//! checked accessors. An instance, and everything it creates, belongs to
//! its store from the moment it exists, before any segment runs, so a
//! failed instantiation leaves nothing dangling (its functions may already
//! sit in an imported table). Segment initialisation follows the wasm 2.0
//! order: all element segments, then all data segments, in order, stopping
//! at the first out-of-bounds one with earlier writes kept; a data image
//! (see `image.rs`) is put in where the data segments start. No unsafe
//! code here.

use std::cell::Cell;
use std::rc::Rc;

use wasmo_artifact_format::metadata::{
    ConstExpr, ConstOp, DataMode, ElementItem, ElementMode, ExternKind, ImportKind,
};
use wasmo_artifact_format::vmctx::{
    FUNC_IMPORT_NATIVE_FN, FUNC_IMPORT_VMCTX, FUNC_REF_NATIVE_FN, FUNC_REF_SIZE, FUNC_REF_TYPE_ID,
    FUNC_REF_VMCTX,
};
use wasmo_artifact_format::{BoundsChecks, TrapCode, VMOffsets};

use crate::error::{InstantiationError, Trap};
use crate::externs::{Global, Memory, MemoryConfig, Table};
use crate::func::{Func, FuncKind};
use crate::imports::{Extern, Imports};
use crate::module::Module;
use crate::store::{AsContext, AsContextMut, StoreId, StoreOpaque};
use crate::types::{extern_type_matches, ExternType};
use crate::vm::{Block, Slot};

/// An instance of a module in a [`Store`](crate::Store).
///
/// Its methods panic when given another store than the instance's. The
/// instance lives as long as its store, whatever happens to the handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Instance {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

/// What a store keeps of an instance.
pub(crate) struct InstanceData {
    /// This instance's index in its store.
    index: u32,
    pub(crate) module: Module,
    pub(crate) vmctx: Rc<Block>,
    /// What the VMContext's `runtime` field points at (see
    /// [`crate::helpers::runtime_of`]).
    _runtime: Rc<Block>,
    offsets: VMOffsets,
    /// The functions filling the function imports, in order.
    imported_funcs: Vec<Func>,
    /// Every table, imports first.
    pub(crate) tables: Vec<Table>,
    /// Every memory, imports first.
    pub(crate) memories: Vec<Memory>,
    /// Every global, imports first.
    pub(crate) globals: Vec<Global>,
    /// Every tag, imports first (an import is the exporter's tag).
    pub(crate) tags: Vec<crate::exception::Tag>,
    /// Per data segment, whether it is dropped (`data.drop`, or active:
    /// wasm 2.0 drops an active segment once instantiation applied it).
    /// A dropped segment has length 0. Set by compiled code through the
    /// `data.drop` helper while only a shared borrow of the store exists,
    /// hence the cells.
    pub(crate) dropped_data: Box<[Cell<bool>]>,
    /// Per element segment, whether it is dropped (`elem.drop`, or active
    /// or declared: wasm 2.0 drops both at instantiation). Cells for the
    /// same reason.
    pub(crate) dropped_elems: Box<[Cell<bool>]>,
}

fn link(module: &str, name: &str, reason: String) -> InstantiationError {
    InstantiationError::Link {
        module: module.to_owned(),
        name: name.to_owned(),
        reason,
    }
}

fn trap(code: TrapCode) -> InstantiationError {
    InstantiationError::Trap(Trap::new(code))
}

/// What constant expressions may refer to.
struct EvalEnv<'a> {
    store: &'a StoreOpaque,
    globals: &'a [Global],
    vmctx: &'a Block,
    offsets: &'a VMOffsets,
}

fn eval(e: &ConstExpr, env: &EvalEnv<'_>) -> Result<[u8; 16], InstantiationError> {
    let bad =
        |what: &str| InstantiationError::Resource(format!("invalid constant expression: {what}"));
    let mut stack: Vec<[u8; 16]> = Vec::new();
    let from_u64 = |v: u64| {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&v.to_le_bytes());
        b
    };
    let lo32 = |b: [u8; 16]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let lo64 = |b: [u8; 16]| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    for op in &e.ops {
        let v = match *op {
            ConstOp::I32Const(x) => from_u64(u64::from(x as u32)),
            ConstOp::I64Const(x) => from_u64(x as u64),
            ConstOp::F32Const(x) => from_u64(u64::from(x)),
            ConstOp::F64Const(x) => from_u64(x),
            ConstOp::V128Const(b) => b,
            ConstOp::GlobalGet(g) => env
                .globals
                .get(g.index())
                .ok_or_else(|| bad("global out of range"))?
                .data_of(env.store)
                .raw(),
            ConstOp::RefNull => [0; 16],
            ConstOp::RefFunc(f) => {
                from_u64(env.vmctx.base() as u64 + u64::from(env.offsets.func_ref(f.0)))
            }
            ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                let b = lo32(stack.pop().ok_or_else(|| bad("stack underflow"))?);
                let a = lo32(stack.pop().ok_or_else(|| bad("stack underflow"))?);
                let r = match op {
                    ConstOp::I32Add => a.wrapping_add(b),
                    ConstOp::I32Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                };
                from_u64(u64::from(r))
            }
            ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                let b = lo64(stack.pop().ok_or_else(|| bad("stack underflow"))?);
                let a = lo64(stack.pop().ok_or_else(|| bad("stack underflow"))?);
                let r = match op {
                    ConstOp::I64Add => a.wrapping_add(b),
                    ConstOp::I64Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                };
                from_u64(r)
            }
        };
        stack.push(v);
    }
    match stack.as_slice() {
        [v] => Ok(*v),
        _ => Err(bad("does not leave exactly one value")),
    }
}

impl Instance {
    /// Instantiates `module` in `store` with `imports` (which must belong
    /// to the same store): links, initialises, and runs the start function.
    ///
    /// If a segment or the start function traps, the error is returned
    /// but the instance stays in the store, as its writes into imported
    /// tables and memories do.
    pub fn new(
        mut store: impl AsContextMut,
        module: &Module,
        imports: &Imports,
    ) -> Result<Instance, InstantiationError> {
        let mut ctx = store.as_context_mut();
        let store_ptr = ctx.raw().as_ptr() as u64;
        let instance = instantiate(ctx.opaque_mut(), store_ptr, module, imports)?;
        init_segments(ctx.opaque_mut(), instance.index)?;
        if let Some(start) = module.inner.meta.start {
            let f = ctx.opaque().instances[instance.index as usize].func(instance.store, start.0);
            f.call(ctx.reborrow(), &[], &mut []).map_err(|e| match e {
                crate::error::CallError::Trap(t) => InstantiationError::Trap(t),
                other => InstantiationError::Resource(format!("start function failed: {other}")),
            })?;
        }
        Ok(instance)
    }

    fn data_of<'a>(&self, store: &'a StoreOpaque) -> &'a InstanceData {
        store.assert_owns(self.store, "instance");
        &store.instances[self.index as usize]
    }

    /// The export `name`.
    pub fn get_export(&self, store: impl AsContext, name: &str) -> Option<Extern> {
        let ctx = store.as_context();
        let o = ctx.opaque();
        self.data_of(o).export(o, name)
    }

    /// Every export, in export-section order.
    pub fn exports(&self, store: impl AsContext) -> Vec<(String, Extern)> {
        let ctx = store.as_context();
        let o = ctx.opaque();
        let inst = self.data_of(o);
        inst.module
            .inner
            .meta
            .exports
            .iter()
            .filter_map(|e| Some((e.name.clone(), inst.extern_of(o, e.kind, e.index)?)))
            .collect()
    }

    /// The exported function `name`.
    pub fn get_func(&self, store: impl AsContext, name: &str) -> Option<Func> {
        self.get_export(store, name)?.into_func()
    }

    /// The exported memory `name`.
    pub fn get_memory(&self, store: impl AsContext, name: &str) -> Option<Memory> {
        self.get_export(store, name)?.into_memory()
    }

    /// The exported table `name`.
    pub fn get_table(&self, store: impl AsContext, name: &str) -> Option<Table> {
        self.get_export(store, name)?.into_table()
    }

    /// The exported global `name`.
    pub fn get_global(&self, store: impl AsContext, name: &str) -> Option<Global> {
        self.get_export(store, name)?.into_global()
    }

    /// The module this is an instance of.
    pub fn module(&self, store: impl AsContext) -> Module {
        self.data_of(store.as_context().opaque()).module.clone()
    }
}

/// Links `module` with `imports` and builds its VMContext, memories,
/// tables and globals in `o`; the new instance is in the store when this
/// returns, before any segment runs.
fn instantiate(
    o: &mut StoreOpaque,
    store_ptr: u64,
    module: &Module,
    imports: &Imports,
) -> Result<Instance, InstantiationError> {
    let m = &module.inner;
    let meta = &m.meta;
    crate::limits::check_instantiation(o, &m.header, meta.memories.len(), meta.tables.len())?;
    let offsets = VMOffsets::new(meta.vm_counts());
    let vmctx = Block::new(offsets.size() as usize).map_err(InstantiationError::Resource)?;

    let mut imported_funcs = Vec::new();
    let mut tables = Vec::new();
    let mut memories = Vec::new();
    let mut globals = Vec::new();
    let mut tags = Vec::new();
    for imp in &meta.imports {
        let (mname, name) = (imp.module.as_str(), imp.name.as_str());
        let declared = m.import_type(&imp.kind);
        let ext = imports
            .get(mname, name)
            .ok_or_else(|| link(mname, name, format!("unknown import `{mname}.{name}`")))?;
        if ext.store_id() != o.id {
            return Err(link(
                mname,
                name,
                format!("import `{mname}.{name}` belongs to another store"),
            ));
        }
        let provided = ext.ty_in(o);
        if !extern_type_matches(&provided, &declared) {
            return Err(link(
                mname,
                name,
                format!("incompatible import type for `{mname}.{name}`: expected {declared}, found {provided}"),
            ));
        }
        // Functions and tags match by type identity (equal structures of
        // different recursion groups are different types, see `typereg`).
        let same_identity = match (&imp.kind, ext) {
            (ImportKind::Func(t), Extern::Func(f)) => f.type_id_in(o) == m.type_id(*t),
            (ImportKind::Tag(t), Extern::Tag(tag)) => tag.type_id_in(o) == m.type_id(*t),
            _ => true,
        };
        if !same_identity {
            return Err(link(
                mname,
                name,
                format!("incompatible import type for `{mname}.{name}`: expected {declared}, found {provided} of a different recursion group (function types are the same only when their groups are)"),
            ));
        }
        match *ext {
            Extern::Func(f) => {
                let i = imported_funcs.len() as u32;
                let tramp = m.text as u64 + u64::from(meta.import_trampolines[i as usize].offset);
                let (native, ctx) = f.import_slot(o, tramp);
                vmctx.write_u64(offsets.imported_func(i) + FUNC_IMPORT_NATIVE_FN, native);
                vmctx.write_u64(offsets.imported_func(i) + FUNC_IMPORT_VMCTX, ctx);
                imported_funcs.push(f);
            }
            Extern::Table(t) => {
                vmctx.write_u64(
                    offsets.imported_table(tables.len() as u32),
                    t.data_of(o).def.addr() as u64,
                );
                tables.push(t);
            }
            Extern::Memory(mem) => {
                let h = &m.header;
                let needed = h.memory_reservation.saturating_add(h.guard_size);
                let memory64 = matches!(provided, ExternType::Memory(t) if t.memory64);
                if h.bounds_checks == BoundsChecks::GuardPages
                    && !memory64
                    && mem.reserved_bytes(o) < needed
                {
                    return Err(link(mname, name, format!(
                        "incompatible import type for `{mname}.{name}`: the memory reserves {} bytes, the module's guard-page code needs {needed}",
                        mem.reserved_bytes(o)
                    )));
                }
                vmctx.write_u64(
                    offsets.imported_memory(memories.len() as u32),
                    mem.data_of(o).def_addr() as u64,
                );
                memories.push(mem);
            }
            Extern::Global(g) => {
                vmctx.write_u64(
                    offsets.imported_global(globals.len() as u32),
                    g.data_of(o).slot.addr() as u64,
                );
                globals.push(g);
            }
            Extern::Tag(t) => tags.push(t),
        }
    }
    for t in &meta.tags {
        let ty = meta.types.get(t.index()).cloned().unwrap_or_default();
        tags.push(crate::exception::Tag::new_in(o, ty, m.type_id(*t)));
    }

    let cfg = MemoryConfig {
        reservation: if m.header.memory_reservation == 0 {
            MemoryConfig::default().reservation
        } else {
            m.header.memory_reservation
        },
        guard: m.header.guard_size,
    };
    for (d, ty) in meta.memories.iter().enumerate() {
        let slot = Slot {
            block: vmctx.clone(),
            off: offsets.defined_memory(d as u32),
        };
        memories.push(Memory::new_at(o, *ty, slot, cfg)?);
    }
    if let Some(mem0) = memories.first() {
        let d = mem0.data_of(o);
        vmctx.write_u64(VMOffsets::MEMORY0_BASE, d.base() as u64);
        vmctx.write_u64(VMOffsets::MEMORY0_DEF, d.def_addr() as u64);
    }
    for (d, ty) in meta.tables.iter().enumerate() {
        let slot = Slot {
            block: vmctx.clone(),
            off: offsets.defined_table(d as u32),
        };
        tables.push(Table::new_at(o, *ty, slot)?);
    }
    for (t, &id) in m.type_ids.iter().enumerate() {
        vmctx.write_u32(offsets.type_id(t as u32), id);
    }
    for (f, ty) in meta.funcs.iter().enumerate() {
        let f = f as u32;
        let (native, ctx) = if f < m.num_imported_funcs {
            let slot = offsets.imported_func(f);
            (
                vmctx.read_u64(slot + FUNC_IMPORT_NATIVE_FN),
                vmctx.read_u64(slot + FUNC_IMPORT_VMCTX),
            )
        } else {
            let def = &meta.defined_funcs[(f - m.num_imported_funcs) as usize];
            (m.text as u64 + u64::from(def.offset), vmctx.base() as u64)
        };
        let at = offsets.func_ref(f);
        vmctx.write_u64(at + FUNC_REF_NATIVE_FN, native);
        vmctx.write_u32(
            at + FUNC_REF_TYPE_ID,
            m.type_ids.get(ty.index()).copied().unwrap_or(0),
        );
        vmctx.write_u64(at + FUNC_REF_VMCTX, ctx);
    }
    for (d, g) in meta.globals.iter().enumerate() {
        let value = eval(
            &g.init,
            &EvalEnv {
                store: o,
                globals: &globals,
                vmctx: &vmctx,
                offsets: &offsets,
            },
        )?;
        let slot = Slot {
            block: vmctx.clone(),
            off: offsets.defined_global(d as u32),
        };
        slot.write_16(value);
        globals.push(Global::new_at(o, g.ty, slot));
    }
    // function-references' table initialisers: every element starts as
    // the value (the table section precedes the globals, so only
    // imported globals are visible, as the verifier checked).
    let imported_tables = tables.len() - meta.tables.len();
    for (d, init) in meta.table_inits.iter().enumerate() {
        let Some(init) = init else { continue };
        let env = EvalEnv {
            store: o,
            globals: &globals,
            vmctx: &vmctx,
            offsets: &offsets,
        };
        let value = eval(init, &env)?;
        let raw = u64::from_le_bytes([
            value[0], value[1], value[2], value[3], value[4], value[5], value[6], value[7],
        ]);
        let table = tables[imported_tables + d].data_of(o);
        table.fill_raw(0, raw, table.size());
    }

    let index = o.instances.len() as u32;
    let runtime = Block::new(16).map_err(InstantiationError::Resource)?;
    runtime.write_u64(crate::helpers::RUNTIME_STORE, store_ptr);
    runtime.write_u32(crate::helpers::RUNTIME_INSTANCE, index);
    vmctx.write_u64(VMOffsets::RUNTIME, runtime.base() as u64);
    vmctx.write_u64(VMOffsets::LIMITS, o.vm_limits.vm_ptr() as u64);
    o.register_vmctx(&vmctx, index);
    o.instances.push(InstanceData {
        index,
        module: module.clone(),
        vmctx,
        _runtime: runtime,
        offsets,
        imported_funcs,
        tables,
        memories,
        globals,
        tags,
        dropped_data: meta
            .data
            .iter()
            .map(|seg| Cell::new(matches!(seg.mode, DataMode::Active { .. })))
            .collect(),
        dropped_elems: meta
            .elements
            .iter()
            .map(|seg| Cell::new(!matches!(seg.mode, ElementMode::Passive)))
            .collect(),
    });
    Ok(Instance { store: o.id, index })
}

/// Runs the active element and data segments of instance `index`.
fn init_segments(o: &mut StoreOpaque, index: u32) -> Result<(), InstantiationError> {
    let o: &StoreOpaque = o;
    let inner = &o.instances[index as usize];
    let meta = &inner.module.inner.meta;
    let env = EvalEnv {
        store: o,
        globals: &inner.globals,
        vmctx: &inner.vmctx,
        offsets: &inner.offsets,
    };
    let lo64 = |b: [u8; 16]| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    for seg in &meta.elements {
        let ElementMode::Active { table, offset } = &seg.mode else {
            continue;
        };
        let table = inner.tables[table.index()].data_of(o);
        let raw = lo64(eval(offset, &env)?);
        let start = if table.table64() {
            raw
        } else {
            raw & 0xffff_ffff
        };
        let n = seg.items.len() as u64;
        if start.checked_add(n).is_none_or(|end| end > table.size()) {
            return Err(trap(TrapCode::TableOutOfBounds));
        }
        for (i, item) in seg.items.iter().enumerate() {
            table.set_raw(start + i as u64, inner.elem_item_raw(o, item)?);
        }
    }
    // The data image stands for active segments the compiler proved
    // cannot trap (and left here without bytes), so putting it in
    // first, where they would have been copied, changes nothing
    // observable. It goes into a memory this instance just created:
    // nothing has written there yet.
    if let Some(image) = &inner.module.inner.data_image {
        let mem = inner.memories.get(image.memory as usize).ok_or_else(|| {
            InstantiationError::Resource("data image for a missing memory".into())
        })?;
        image
            .apply(mem.data_of(o).res())
            .map_err(|e| InstantiationError::Resource(format!("data image: {e}")))?;
    }
    for seg in &meta.data {
        let DataMode::Active { memory, offset } = &seg.mode else {
            continue;
        };
        let mem = inner.memories[memory.index()].data_of(o);
        let raw = lo64(eval(offset, &env)?);
        let start = if mem.memory64() {
            raw
        } else {
            raw & 0xffff_ffff
        };
        let fits = start
            .checked_add(seg.bytes.len() as u64)
            .is_some_and(|end| end <= mem.len_bytes());
        if !fits || !mem.res().write(start as usize, &seg.bytes) {
            return Err(trap(TrapCode::MemoryOutOfBounds));
        }
    }
    Ok(())
}

impl InstanceData {
    /// Element `item` of one of this instance's segments in a table's raw
    /// form (a `*const VMFuncRef`, 0 for null).
    pub(crate) fn elem_item_raw(
        &self,
        o: &StoreOpaque,
        item: &ElementItem,
    ) -> Result<u64, InstantiationError> {
        Ok(match item {
            ElementItem::Func(f) => self.func_ref_addr(f.0),
            ElementItem::Expr(e) => {
                let env = EvalEnv {
                    store: o,
                    globals: &self.globals,
                    vmctx: &self.vmctx,
                    offsets: &self.offsets,
                };
                let b = eval(e, &env)?;
                u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            }
        })
    }

    /// The items of element segment `index` as `table.init` sees them:
    /// none once dropped; `None` for an index the module does not have.
    pub(crate) fn elem_segment(&self, index: u32) -> Option<&[ElementItem]> {
        let i = index as usize;
        let seg = self.module.inner.meta.elements.get(i)?;
        if self.dropped_elems.get(i)?.get() {
            Some(&[])
        } else {
            Some(&seg.items)
        }
    }

    /// The bytes of data segment `index` as `memory.init` sees them: empty
    /// once dropped; `None` for an index the module does not have.
    pub(crate) fn data_segment(&self, index: u32) -> Option<&[u8]> {
        let i = index as usize;
        let seg = self.module.inner.meta.data.get(i)?;
        if self.dropped_data.get(i)?.get() {
            Some(&[])
        } else {
            Some(&seg.bytes)
        }
    }

    /// The export `name`.
    pub(crate) fn export(&self, o: &StoreOpaque, name: &str) -> Option<Extern> {
        let e = self
            .module
            .inner
            .meta
            .exports
            .iter()
            .find(|e| e.name == name)?;
        self.extern_of(o, e.kind, e.index)
    }

    fn extern_of(&self, o: &StoreOpaque, kind: ExternKind, index: u32) -> Option<Extern> {
        let i = index as usize;
        Some(match kind {
            ExternKind::Func => {
                if index as usize >= self.module.inner.meta.funcs.len() {
                    return None;
                }
                Extern::Func(self.func(o.id, index))
            }
            ExternKind::Table => Extern::Table(*self.tables.get(i)?),
            ExternKind::Memory => Extern::Memory(*self.memories.get(i)?),
            ExternKind::Global => Extern::Global(*self.globals.get(i)?),
            ExternKind::Tag => Extern::Tag(*self.tags.get(i)?),
        })
    }

    /// Function `index` of the index space of this instance (of store
    /// `store`); an import is returned as the function that fills it, so
    /// identity survives re-export.
    pub(crate) fn func(&self, store: StoreId, index: u32) -> Func {
        match self.imported_funcs.get(index as usize) {
            Some(f) => *f,
            None => Func {
                store,
                kind: FuncKind::Wasm {
                    instance: self.index,
                    index,
                },
            },
        }
    }

    /// The function whose `VMFuncRef` is `off` bytes into the VMContext.
    pub(crate) fn func_at_vmctx_offset(&self, off: usize) -> Option<u32> {
        let nfuncs = self.offsets.counts().funcs;
        let first = self.offsets.func_ref(0) as usize;
        let rel = off.checked_sub(first)?;
        let size = FUNC_REF_SIZE as usize;
        if nfuncs == 0 || !rel.is_multiple_of(size) {
            return None;
        }
        u32::try_from(rel / size).ok().filter(|&i| i < nfuncs)
    }

    /// The address of a wasm-to-array trampoline of this instance's
    /// module for a function of canonical type `type_id` (one exists per
    /// imported function), if it imports one of that type.
    pub(crate) fn import_trampoline_for(&self, type_id: u32) -> Option<u64> {
        let m = &self.module.inner;
        let i = (0..m.num_imported_funcs).find(|&f| {
            m.meta
                .funcs
                .get(f as usize)
                .and_then(|ty| m.type_ids.get(ty.index()))
                == Some(&type_id)
        })?;
        let t = m.meta.import_trampolines.get(i as usize)?;
        Some(m.text as u64 + u64::from(t.offset))
    }

    /// Address of function `index`'s `VMFuncRef`.
    pub(crate) fn func_ref_addr(&self, index: u32) -> u64 {
        self.vmctx.base() as u64 + u64::from(self.offsets.func_ref(index))
    }

    /// Address of defined function `index`'s code.
    pub(crate) fn code_addr(&self, index: u32) -> u64 {
        let m = &self.module.inner;
        let def = index
            .checked_sub(m.num_imported_funcs)
            .and_then(|d| m.meta.defined_funcs.get(d as usize));
        def.map_or(0, |d| m.text as u64 + u64::from(d.offset))
    }

    /// Address of defined function `index`'s array-call trampoline; `None`
    /// for a function the compiler made none for (the host cannot name it).
    pub(crate) fn array_trampoline_addr(&self, index: u32) -> Option<usize> {
        let m = &self.module.inner;
        let d = m
            .meta
            .defined_funcs
            .get(index.checked_sub(m.num_imported_funcs)? as usize)?;
        Some(m.text + d.array_trampoline?.offset as usize)
    }
}
