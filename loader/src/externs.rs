//! Memories, tables and globals as the host sees them, whether a module
//! defined them (their definitions live in its VMContext) or the host made
//! them (their definitions live in a small block of their own).
//!
//! Rule: a definition never moves, and an object that compiled code can
//! reach keeps alive whatever its definition points into (see `vm.rs`).
//! No unsafe code here: raw access goes through `vm.rs`.

use std::any::Any;
use std::sync::{Arc, Mutex, PoisonError};

use wasmo_artifact_format::vmctx::{
    MEMORY_DEF_BASE, MEMORY_DEF_CURRENT_LENGTH, TABLE_DEF_BASE, TABLE_DEF_CURRENT_ELEMENTS,
};
use wasmo_artifact_format::{GlobalType, Limits, MemoryType, TableType, WASM_PAGE_SIZE};

use crate::error::{CallError, InstantiationError};
use crate::func::{val_from_raw, val_to_raw};
use crate::values::Val;
use crate::vm::{Block, Reservation, Slot};

/// Default address-space reservation of a 32-bit memory.
pub const DEFAULT_MEMORY_RESERVATION: u64 = 4 << 30;
/// Default guard region after a memory's reservation.
pub const DEFAULT_GUARD_SIZE: u64 = 4 << 30;
/// Largest table this loader creates, in elements.
pub const MAX_TABLE_ELEMENTS: u64 = 10_000_000;

/// How a linear memory's address space is laid out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemoryConfig {
    /// Bytes the memory may grow to (at most).
    pub(crate) reservation: u64,
    /// Inaccessible bytes after the reservation.
    pub(crate) guard: u64,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            reservation: DEFAULT_MEMORY_RESERVATION,
            guard: DEFAULT_GUARD_SIZE,
        }
    }
}

/// A linear memory.
#[derive(Clone)]
pub struct Memory(pub(crate) Arc<MemoryInner>);

pub(crate) struct MemoryInner {
    ty: MemoryType,
    pub(crate) def: Slot,
    pub(crate) res: Reservation,
    max_pages: u64,
    grow_lock: Mutex<()>,
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memory")
            .field("ty", &self.0.ty)
            .field("pages", &self.size_pages())
            .finish()
    }
}

impl Memory {
    /// A host-made memory of type `ty` (with the default reservation, so
    /// any module may import it).
    pub fn new(ty: MemoryType) -> Result<Memory, InstantiationError> {
        let block = Block::new(16).map_err(InstantiationError::Resource)?;
        Memory::new_at(ty, Slot { block, off: 0 }, MemoryConfig::default())
    }

    /// A memory whose definition lives at `def`.
    pub(crate) fn new_at(
        ty: MemoryType,
        def: Slot,
        cfg: MemoryConfig,
    ) -> Result<Memory, InstantiationError> {
        let limit = if ty.memory64 {
            u64::MAX / WASM_PAGE_SIZE
        } else {
            65536
        };
        let declared_max = ty.limits.max.unwrap_or(limit).min(limit);
        let max_pages = declared_max.min(cfg.reservation / WASM_PAGE_SIZE);
        if ty.limits.min > max_pages {
            return Err(InstantiationError::Resource(format!(
                "memory minimum of {} pages exceeds the maximum this loader can reserve ({max_pages} pages)",
                ty.limits.min
            )));
        }
        let total = cfg
            .reservation
            .checked_add(cfg.guard)
            .and_then(|t| usize::try_from(t).ok());
        let total = total
            .ok_or_else(|| InstantiationError::Resource("memory reservation too large".into()))?;
        let initial = usize::try_from(ty.limits.min * WASM_PAGE_SIZE)
            .map_err(|_| InstantiationError::Resource("memory too large".into()))?;
        let res = Reservation::new(total, initial).map_err(InstantiationError::Resource)?;
        def.write_u64(MEMORY_DEF_BASE, res.base() as u64);
        def.write_u64(MEMORY_DEF_CURRENT_LENGTH, ty.limits.min * WASM_PAGE_SIZE);
        Ok(Memory(Arc::new(MemoryInner {
            ty,
            def,
            res,
            max_pages,
            grow_lock: Mutex::new(()),
        })))
    }

    /// The memory's type, with its current size as minimum.
    pub fn ty(&self) -> MemoryType {
        MemoryType {
            limits: Limits {
                min: self.size_pages(),
                max: self.0.ty.limits.max,
            },
            ..self.0.ty
        }
    }

    /// Current size in 64 KiB pages.
    pub fn size_pages(&self) -> u64 {
        self.0.len_bytes() / WASM_PAGE_SIZE
    }

    /// Current size in bytes.
    pub fn data_size(&self) -> u64 {
        self.0.len_bytes()
    }

    /// Grows by `delta` pages; returns the old size, or `None` if the
    /// maximum or the reservation does not allow it.
    pub fn grow(&self, delta: u64) -> Option<u64> {
        self.0.grow_pages(delta)
    }

    /// Copies bytes out of the memory, from `offset`.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), CallError> {
        self.check(offset, buf.len())?;
        if self.0.res.read(offset as usize, buf) {
            Ok(())
        } else {
            Err(oob())
        }
    }

    /// Copies `data` into the memory at `offset`.
    pub fn write(&self, offset: u64, data: &[u8]) -> Result<(), CallError> {
        self.check(offset, data.len())?;
        if self.0.res.write(offset as usize, data) {
            Ok(())
        } else {
            Err(oob())
        }
    }

    fn check(&self, offset: u64, len: usize) -> Result<(), CallError> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.0.len_bytes() => Ok(()),
            _ => Err(oob()),
        }
    }

    /// Whether the memory's address space covers `bytes` (reservation and
    /// guard), as a guard-page artifact importing it needs.
    pub(crate) fn reserved_bytes(&self) -> u64 {
        self.0.res.len() as u64
    }
}

fn oob() -> CallError {
    CallError::Trap(crate::error::Trap::new(
        wasmo_artifact_format::TrapCode::MemoryOutOfBounds,
    ))
}

impl MemoryInner {
    pub(crate) fn len_bytes(&self) -> u64 {
        self.def.read_u64(MEMORY_DEF_CURRENT_LENGTH)
    }

    pub(crate) fn base(&self) -> *mut u8 {
        self.res.base()
    }

    /// memory.grow: the old size in pages, or `None`.
    pub(crate) fn grow_pages(&self, delta: u64) -> Option<u64> {
        let _g = self
            .grow_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let old_bytes = self.len_bytes();
        let old = old_bytes / WASM_PAGE_SIZE;
        let new = old.checked_add(delta)?;
        if new > self.max_pages {
            return None;
        }
        let new_bytes = new.checked_mul(WASM_PAGE_SIZE)?;
        self.res
            .make_accessible(usize::try_from(new_bytes).ok()?)
            .ok()?;
        self.def.write_u64(MEMORY_DEF_CURRENT_LENGTH, new_bytes);
        Some(old)
    }
}

/// A table of function references.
#[derive(Clone)]
pub struct Table(pub(crate) Arc<TableInner>);

pub(crate) struct TableInner {
    ty: TableType,
    pub(crate) def: Slot,
    elems: Arc<Block>,
    size: u64,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("ty", &self.0.ty).finish()
    }
}

impl Table {
    /// A host-made table of type `ty`, every element null.
    pub fn new(ty: TableType) -> Result<Table, InstantiationError> {
        let block = Block::new(16).map_err(InstantiationError::Resource)?;
        Table::new_at(ty, Slot { block, off: 0 })
    }

    pub(crate) fn new_at(ty: TableType, def: Slot) -> Result<Table, InstantiationError> {
        let size = ty.limits.min;
        if size > MAX_TABLE_ELEMENTS {
            return Err(InstantiationError::Resource(format!(
                "table of {size} elements exceeds this loader's limit of {MAX_TABLE_ELEMENTS}"
            )));
        }
        let elems = Block::new(size as usize * 8).map_err(InstantiationError::Resource)?;
        def.write_u64(TABLE_DEF_BASE, elems.base() as u64);
        def.write_u64(TABLE_DEF_CURRENT_ELEMENTS, size);
        Ok(Table(Arc::new(TableInner {
            ty,
            def,
            elems,
            size,
        })))
    }

    /// The table's type, with its current size as minimum.
    pub fn ty(&self) -> TableType {
        TableType {
            limits: Limits {
                min: self.0.size,
                max: self.0.ty.limits.max,
            },
            ..self.0.ty
        }
    }

    /// Current number of elements.
    pub fn size(&self) -> u64 {
        self.0.size
    }

    /// Element `i` (a `*const VMFuncRef`) as an address, 0 for null.
    pub(crate) fn get_raw(&self, i: u64) -> Option<u64> {
        (i < self.0.size).then(|| self.0.elems.read_u64(i as u32 * 8))
    }

    /// Sets element `i` to a `*const VMFuncRef`, keeping `owner` (what it
    /// points into) alive with the table.
    pub(crate) fn set_raw(
        &self,
        i: u64,
        ptr: u64,
        owner: Option<Arc<dyn Any + Send + Sync>>,
    ) -> bool {
        if i >= self.0.size {
            return false;
        }
        if let Some(o) = owner {
            self.0.elems.keep_alive(o);
        }
        self.0.elems.write_u64(i as u32 * 8, ptr);
        true
    }

    /// Element `i`, if in bounds.
    pub fn get(&self, i: u64) -> Option<Val> {
        let raw = self.get_raw(i)?;
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&raw.to_le_bytes());
        Some(val_from_raw(self.0.ty.element, bytes))
    }
}

/// A global variable.
#[derive(Clone)]
pub struct Global(pub(crate) Arc<GlobalInner>);

pub(crate) struct GlobalInner {
    ty: GlobalType,
    pub(crate) slot: Slot,
}

impl std::fmt::Debug for Global {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Global")
            .field("ty", &self.0.ty)
            .field("value", &self.get())
            .finish()
    }
}

impl Global {
    /// A host-made global of type `ty` holding `v`.
    pub fn new(ty: GlobalType, v: Val) -> Result<Global, InstantiationError> {
        if v.ty() != ty.content {
            return Err(InstantiationError::Resource(format!(
                "global of type {} cannot hold a {} value",
                ty.content,
                v.ty()
            )));
        }
        let block = Block::new(16).map_err(InstantiationError::Resource)?;
        let (raw, owner) = val_to_raw(&v).map_err(InstantiationError::Resource)?;
        if let Some(o) = owner {
            block.keep_alive(o);
        }
        let slot = Slot { block, off: 0 };
        slot.write_16(raw);
        Ok(Global(Arc::new(GlobalInner { ty, slot })))
    }

    pub(crate) fn new_at(ty: GlobalType, slot: Slot) -> Global {
        Global(Arc::new(GlobalInner { ty, slot }))
    }

    /// The global's type.
    pub fn ty(&self) -> GlobalType {
        self.0.ty
    }

    /// The current value.
    pub fn get(&self) -> Val {
        val_from_raw(self.0.ty.content, self.0.slot.read_16())
    }

    /// Sets the value (the global must be mutable and `v` of its type).
    pub fn set(&self, v: Val) -> Result<(), CallError> {
        if !self.0.ty.mutable {
            return Err(CallError::Host("cannot set an immutable global".into()));
        }
        if v.ty() != self.0.ty.content {
            return Err(CallError::ArgumentType {
                index: 0,
                expected: self.0.ty.content,
                got: v.ty(),
            });
        }
        let (raw, owner) = val_to_raw(&v).map_err(CallError::Host)?;
        if let Some(o) = owner {
            self.0.slot.block.keep_alive(o);
        }
        self.0.slot.write_16(raw);
        Ok(())
    }

    /// The raw 16 bytes, for constant expressions.
    pub(crate) fn raw(&self) -> [u8; 16] {
        self.0.slot.read_16()
    }
}
