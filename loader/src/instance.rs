//! Instantiation: resolving imports, laying out the VMContext, creating
//! memories, tables and globals, running the segment initialisers and the
//! start function; and finding exports.
//!
//! Rule: the VMContext is written only through `VMOffsets` and `vm::Block`'s
//! checked accessors, and an instance keeps alive everything its VMContext
//! points to (its module, its imports). Segment initialisation follows the
//! wasm 2.0 order: all element segments, then all data segments, in order,
//! stopping at the first out-of-bounds one with earlier writes kept; a
//! data image (see `image.rs`) is put in where the data segments start. No
//! unsafe code here.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use wasmo_artifact_format::metadata::{
    ConstExpr, ConstOp, DataMode, ElementItem, ElementMode, ExternKind, ImportKind,
};
use wasmo_artifact_format::vmctx::{
    FUNC_IMPORT_NATIVE_FN, FUNC_IMPORT_VMCTX, FUNC_REF_NATIVE_FN, FUNC_REF_TYPE_ID, FUNC_REF_VMCTX,
};
use wasmo_artifact_format::{BoundsChecks, TrapCode, VMOffsets};

use crate::error::{InstantiationError, Trap};
use crate::externs::{Global, Memory, MemoryConfig, Table};
use crate::func::{Func, FuncKind};
use crate::imports::{Extern, Imports};
use crate::module::Module;
use crate::types::extern_type_matches;
use crate::vm::{Block, Slot};

/// An instantiated module. Cheap to clone.
#[derive(Clone)]
pub struct Instance {
    pub(crate) inner: Arc<InstanceInner>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("module", &self.inner.module)
            .finish_non_exhaustive()
    }
}

/// The state of an instance.
pub(crate) struct InstanceInner {
    pub(crate) module: Module,
    pub(crate) vmctx: Arc<Block>,
    offsets: VMOffsets,
    /// The functions filling the function imports, in order.
    imported_funcs: Vec<Func>,
    /// Every table, imports first.
    pub(crate) tables: Vec<Table>,
    /// Every memory, imports first.
    pub(crate) memories: Vec<Memory>,
    /// Every global, imports first.
    pub(crate) globals: Vec<Global>,
}

impl Drop for InstanceInner {
    fn drop(&mut self) {
        let mut reg = INSTANCES.lock().unwrap_or_else(PoisonError::into_inner);
        reg.remove(&(self.vmctx.base() as usize));
    }
}

/// Live instances by VMContext address, to map a funcref back to a `Func`.
static INSTANCES: Mutex<BTreeMap<usize, (usize, Weak<InstanceInner>)>> =
    Mutex::new(BTreeMap::new());

/// The function whose `VMFuncRef` is at `addr`, if it belongs to a live
/// instance.
pub(crate) fn func_from_funcref(addr: u64) -> Option<Func> {
    let addr = usize::try_from(addr).ok()?;
    let inst = {
        let reg = INSTANCES.lock().unwrap_or_else(PoisonError::into_inner);
        let (&start, (end, weak)) = reg.range(..=addr).next_back()?;
        if addr >= *end {
            return None;
        }
        let _ = start;
        weak.upgrade()?
    };
    let base = inst.vmctx.base() as usize;
    let nfuncs = inst.offsets.counts().funcs;
    let first = base + inst.offsets.func_ref(0).min(inst.vmctx.size() as u32) as usize;
    if nfuncs == 0 || addr < first {
        return None;
    }
    let size = wasmo_artifact_format::vmctx::FUNC_REF_SIZE as usize;
    if !(addr - first).is_multiple_of(size) {
        return None;
    }
    let index = u32::try_from((addr - first) / size)
        .ok()
        .filter(|&i| i < nfuncs)?;
    Some(inst.func(index))
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
    /// Instantiates `module` with `imports`: links, initialises, and runs
    /// the start function.
    pub fn new(module: &Module, imports: &Imports) -> Result<Instance, InstantiationError> {
        let m = &module.inner;
        let meta = &m.meta;
        let offsets = VMOffsets::new(meta.vm_counts());
        let vmctx = Block::new(offsets.size() as usize).map_err(InstantiationError::Resource)?;
        vmctx.keep_alive(m.clone() as Arc<dyn Any + Send + Sync>);

        let mut imported_funcs = Vec::new();
        let mut tables = Vec::new();
        let mut memories = Vec::new();
        let mut globals = Vec::new();
        for imp in &meta.imports {
            let (mname, name) = (imp.module.as_str(), imp.name.as_str());
            let declared = match &imp.kind {
                ImportKind::Func(t) => crate::types::ExternType::Func(
                    meta.types.get(t.index()).cloned().unwrap_or_default(),
                ),
                ImportKind::Table(t) => crate::types::ExternType::Table(*t),
                ImportKind::Memory(t) => crate::types::ExternType::Memory(*t),
                ImportKind::Global(t) => crate::types::ExternType::Global(*t),
            };
            let ext = imports
                .get(mname, name)
                .ok_or_else(|| link(mname, name, format!("unknown import `{mname}.{name}`")))?;
            let provided = ext.ty();
            if !extern_type_matches(&provided, &declared) {
                return Err(link(
                    mname,
                    name,
                    format!("incompatible import type for `{mname}.{name}`: expected {declared}, found {provided}"),
                ));
            }
            match ext {
                Extern::Func(f) => {
                    let i = imported_funcs.len() as u32;
                    let tramp = m.text as u64 + u64::from(meta.import_trampolines[i as usize]);
                    let (native, ctx, owner) = f.import_slot(tramp);
                    vmctx.write_u64(offsets.imported_func(i) + FUNC_IMPORT_NATIVE_FN, native);
                    vmctx.write_u64(offsets.imported_func(i) + FUNC_IMPORT_VMCTX, ctx);
                    vmctx.keep_alive(owner);
                    imported_funcs.push(f.clone());
                }
                Extern::Table(t) => {
                    vmctx.write_u64(
                        offsets.imported_table(tables.len() as u32),
                        t.0.def.addr() as u64,
                    );
                    tables.push(t.clone());
                }
                Extern::Memory(mem) => {
                    let h = &m.header;
                    let needed = h.memory_reservation.saturating_add(h.guard_size);
                    if h.bounds_checks == BoundsChecks::GuardPages
                        && !mem.ty().memory64
                        && mem.reserved_bytes() < needed
                    {
                        return Err(link(mname, name, format!(
                            "incompatible import type for `{mname}.{name}`: the memory reserves {} bytes, the module's guard-page code needs {needed}",
                            mem.reserved_bytes()
                        )));
                    }
                    vmctx.write_u64(
                        offsets.imported_memory(memories.len() as u32),
                        mem.0.def.addr() as u64,
                    );
                    memories.push(mem.clone());
                }
                Extern::Global(g) => {
                    vmctx.write_u64(
                        offsets.imported_global(globals.len() as u32),
                        g.0.slot.addr() as u64,
                    );
                    globals.push(g.clone());
                }
            }
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
            memories.push(Memory::new_at(*ty, slot, cfg)?);
        }
        if let Some(mem0) = memories.first() {
            vmctx.write_u64(VMOffsets::MEMORY0_BASE, mem0.0.base() as u64);
            vmctx.write_u64(VMOffsets::MEMORY0_DEF, mem0.0.def.addr() as u64);
        }
        for (d, ty) in meta.tables.iter().enumerate() {
            let slot = Slot {
                block: vmctx.clone(),
                off: offsets.defined_table(d as u32),
            };
            tables.push(Table::new_at(*ty, slot)?);
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
            globals.push(Global::new_at(g.ty, slot));
        }

        let inner = Arc::new(InstanceInner {
            module: module.clone(),
            vmctx: vmctx.clone(),
            offsets,
            imported_funcs,
            tables,
            memories,
            globals,
        });
        vmctx.write_u64(VMOffsets::RUNTIME, Arc::as_ptr(&inner) as u64);
        INSTANCES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                vmctx.base() as usize,
                (vmctx.base() as usize + vmctx.size(), Arc::downgrade(&inner)),
            );
        let instance = Instance { inner };
        instance.init_segments()?;
        if let Some(start) = meta.start {
            instance
                .inner
                .func(start.0)
                .call(&[])
                .map_err(|e| match e {
                    crate::error::CallError::Trap(t) => InstantiationError::Trap(t),
                    other => {
                        InstantiationError::Resource(format!("start function failed: {other}"))
                    }
                })?;
        }
        Ok(instance)
    }

    fn init_segments(&self) -> Result<(), InstantiationError> {
        let inner = &self.inner;
        let meta = &inner.module.inner.meta;
        let env = EvalEnv {
            globals: &inner.globals,
            vmctx: &inner.vmctx,
            offsets: &inner.offsets,
        };
        let lo64 =
            |b: [u8; 16]| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        for seg in &meta.elements {
            let ElementMode::Active { table, offset } = &seg.mode else {
                continue;
            };
            let table = &inner.tables[table.index()];
            let start = lo64(eval(offset, &env)?) & 0xffff_ffff;
            let n = seg.items.len() as u64;
            if start.checked_add(n).is_none_or(|end| end > table.size()) {
                return Err(trap(TrapCode::TableOutOfBounds));
            }
            let owner: Arc<dyn Any + Send + Sync> = inner.vmctx.clone();
            let mut owner = Some(owner);
            for (i, item) in seg.items.iter().enumerate() {
                let ptr = match item {
                    ElementItem::Func(f) => inner.func_ref_addr(f.0),
                    ElementItem::Expr(e) => lo64(eval(e, &env)?),
                };
                table.set_raw(start + i as u64, ptr, owner.take());
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
                .apply(&mem.0.res)
                .map_err(|e| InstantiationError::Resource(format!("data image: {e}")))?;
        }
        for seg in &meta.data {
            let DataMode::Active { memory, offset } = &seg.mode else {
                continue;
            };
            let mem = &inner.memories[memory.index()];
            let raw = lo64(eval(offset, &env)?);
            let start = if mem.ty().memory64 {
                raw
            } else {
                raw & 0xffff_ffff
            };
            mem.write(start, &seg.bytes)
                .map_err(|_| trap(TrapCode::MemoryOutOfBounds))?;
        }
        Ok(())
    }

    /// The export `name`.
    pub fn get_export(&self, name: &str) -> Option<Extern> {
        let e = self
            .inner
            .module
            .inner
            .meta
            .exports
            .iter()
            .find(|e| e.name == name)?;
        self.inner.extern_of(e.kind, e.index)
    }

    /// Every export, in export-section order.
    pub fn exports(&self) -> Vec<(String, Extern)> {
        let meta = &self.inner.module.inner.meta;
        meta.exports
            .iter()
            .filter_map(|e| Some((e.name.clone(), self.inner.extern_of(e.kind, e.index)?)))
            .collect()
    }

    /// The exported function `name`.
    pub fn get_func(&self, name: &str) -> Option<Func> {
        self.get_export(name)?.into_func()
    }

    /// The exported memory `name`.
    pub fn get_memory(&self, name: &str) -> Option<Memory> {
        self.get_export(name)?.into_memory()
    }

    /// The exported global `name`.
    pub fn get_global(&self, name: &str) -> Option<Global> {
        self.get_export(name)?.into_global()
    }

    /// The module this is an instance of.
    pub fn module(&self) -> &Module {
        &self.inner.module
    }
}

impl InstanceInner {
    fn extern_of(self: &Arc<Self>, kind: ExternKind, index: u32) -> Option<Extern> {
        let i = index as usize;
        Some(match kind {
            ExternKind::Func => {
                if index as usize >= self.module.inner.meta.funcs.len() {
                    return None;
                }
                Extern::Func(self.func(index))
            }
            ExternKind::Table => Extern::Table(self.tables.get(i)?.clone()),
            ExternKind::Memory => Extern::Memory(self.memories.get(i)?.clone()),
            ExternKind::Global => Extern::Global(self.globals.get(i)?.clone()),
        })
    }

    /// Function `index` of the index space (an import is returned as the
    /// function that fills it, so identity survives re-export).
    pub(crate) fn func(self: &Arc<Self>, index: u32) -> Func {
        match self.imported_funcs.get(index as usize) {
            Some(f) => f.clone(),
            None => Func(FuncKind::Wasm {
                instance: self.clone(),
                index,
            }),
        }
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

    /// Address of defined function `index`'s array-call trampoline.
    pub(crate) fn array_trampoline_addr(&self, index: u32) -> Option<usize> {
        let m = &self.module.inner;
        let d = m
            .meta
            .defined_funcs
            .get(index.checked_sub(m.num_imported_funcs)? as usize)?;
        Some(m.text + d.array_trampoline as usize)
    }
}
