//! Memories, tables and globals: handles (store id and index) and the data
//! their store keeps, whether a module defined them (their definitions live
//! in its VMContext) or the host made them (in a small block of their own).
//!
//! Rule: a definition never moves and lives as long as its store; every
//! method takes the store, so linear-memory bytes are borrowed from it and
//! the borrow checker keeps them from outliving a call into wasm. A handle
//! used with another store panics where the method returns no `Result`
//! (as in Wasmtime) and is an error where it does. The only unsafe code
//! turns a memory into a slice under that borrow, and declares a
//! [`SharedMemory`] (the one memory no store owns: several stores on
//! several threads import it) `Send + Sync`; its bytes are never lent as
//! a slice.

#![expect(
    unsafe_code,
    reason = "lends linear memory as slices under a borrow of the store"
)]

use wasmo_artifact_format::vmctx::{
    MEMORY_DEF_BASE, MEMORY_DEF_CURRENT_LENGTH, TABLE_DEF_BASE, TABLE_DEF_CURRENT_ELEMENTS,
};
use wasmo_artifact_format::{GlobalType, Limits, MemoryType, TableType, TrapCode, WASM_PAGE_SIZE};

use crate::error::{CallError, InstantiationError, Trap};
use crate::func::{val_from_raw, val_to_raw};
use crate::limits::StoreLimits;
use crate::store::{AsContext, AsContextMut, StoreId, StoreOpaque};
use crate::values::Val;
use crate::vm::{Block, Reservation, Slot};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

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

/// A linear memory of a [`Store`](crate::Store).
///
/// Methods that return no `Result` panic when given another store than the
/// one the memory belongs to (as in Wasmtime); the others return
/// [`CallError::WrongStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Memory {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

/// What a store keeps of a memory.
pub(crate) struct MemoryData {
    ty: MemoryType,
    backing: Backing,
    max_pages: u64,
}

/// Where a memory's definition and bytes live.
enum Backing {
    /// In this store: made by the host or defined by one of its instances.
    Owned { def: Slot, res: Reservation },
    /// A [`SharedMemory`], owned jointly by every store it is attached to.
    Shared(Arc<SharedMemoryInner>),
}

/// A shared linear memory (`(memory min max shared)`) that belongs to no
/// store: every store it is [attached](SharedMemory::attach) to keeps it
/// alive, and instances of those stores, running on several threads at
/// once, import the same bytes. Cheap to clone (an `Arc`).
///
/// Its bytes are never lent as a slice: [`Memory::data`] and
/// [`Memory::data_mut`] give an empty slice for it, since another thread
/// may write it at any time. [`Memory::read`] and [`Memory::write`] copy,
/// without atomicity; synchronise with the program (its atomics) first.
#[derive(Clone)]
pub struct SharedMemory {
    inner: Arc<SharedMemoryInner>,
}

impl std::fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedMemory")
            .field("ty", &self.inner.ty)
            .field("pages", &self.size())
            .finish()
    }
}

pub(crate) struct SharedMemoryInner {
    ty: MemoryType,
    max_pages: u64,
    res: Reservation,
    /// The memory definition compiled code reads (`MEMORY_DEF_BASE`,
    /// `MEMORY_DEF_CURRENT_LENGTH`), one for every instance of every store.
    def: Box<SharedDef>,
    /// Held across a whole `memory.grow`, so concurrent grows are atomic.
    grow: Mutex<()>,
}

/// A memory definition shared across threads, laid out as compiled code
/// expects (checked below).
#[repr(C)]
struct SharedDef {
    base: AtomicU64,
    current_length: AtomicU64,
}

const _: () = assert!(MEMORY_DEF_BASE == 0 && MEMORY_DEF_CURRENT_LENGTH == 8);

// SAFETY: the fields that are not `Send + Sync` by themselves are the
// reservation's base pointer, which never changes and points into a
// mapping this value owns (unmapped only when the last `Arc` goes), and
// its accessible size, behind its own `Mutex`. The definition is atomics;
// `memory.grow` is serialised by `grow`. Nothing else is mutable.
unsafe impl Send for SharedMemoryInner {}
// SAFETY: as above: every shared access is to atomics, a `Mutex`, or the
// immutable base pointer and type.
unsafe impl Sync for SharedMemoryInner {}

impl SharedMemory {
    /// A new shared memory of type `ty`, which must be `shared` and have
    /// a maximum (as the threads proposal requires of shared memories).
    pub fn new(ty: MemoryType) -> Result<SharedMemory, InstantiationError> {
        if !ty.shared || ty.limits.max.is_none() {
            return Err(InstantiationError::Resource(
                "a shared memory must be declared shared, with a maximum".into(),
            ));
        }
        let (res, max_pages) = reserve(ty, MemoryConfig::default(), None)?;
        let def = Box::new(SharedDef {
            base: AtomicU64::new(res.base() as u64),
            current_length: AtomicU64::new(ty.limits.min * WASM_PAGE_SIZE),
        });
        Ok(SharedMemory {
            inner: Arc::new(SharedMemoryInner {
                ty,
                max_pages,
                res,
                def,
                grow: Mutex::new(()),
            }),
        })
    }

    /// Its type, with its current size as minimum.
    pub fn ty(&self) -> MemoryType {
        MemoryType {
            limits: Limits {
                min: self.size(),
                max: self.inner.ty.limits.max,
            },
            ..self.inner.ty
        }
    }

    /// Current size in 64 KiB pages.
    pub fn size(&self) -> u64 {
        self.inner.len_bytes() / WASM_PAGE_SIZE
    }

    /// Grows by `delta` pages (atomically with respect to every other
    /// grow, from any thread); the old size, or `None`.
    pub fn grow(&self, delta: u64) -> Option<u64> {
        self.inner.grow_pages(delta)
    }

    /// Current size in bytes.
    pub fn data_size(&self) -> u64 {
        self.inner.len_bytes()
    }

    /// Copies bytes out of the memory, from `offset`; `false` (nothing
    /// read) when the range leaves the current size. Not atomic: other
    /// threads' wasm may write the bytes meanwhile, as a plain wasm load
    /// racing with a store would see.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> bool {
        let fits = offset
            .checked_add(buf.len() as u64)
            .is_some_and(|end| end <= self.inner.len_bytes());
        fits && self.inner.res.read(offset as usize, buf)
    }

    /// Copies `data` into the memory at `offset`; `false` (nothing
    /// written) when the range leaves the current size. Not atomic, as
    /// [`SharedMemory::read`].
    pub fn write(&self, offset: u64, data: &[u8]) -> bool {
        let fits = offset
            .checked_add(data.len() as u64)
            .is_some_and(|end| end <= self.inner.len_bytes());
        fits && self.inner.res.write(offset as usize, data)
    }

    /// This memory as a memory of `store`, to import into its instances.
    pub fn attach(&self, mut store: impl AsContextMut) -> Memory {
        let mut ctx = store.as_context_mut();
        let store = ctx.opaque_mut();
        let index = store.memories.len() as u32;
        store.memories.push(MemoryData {
            ty: self.inner.ty,
            backing: Backing::Shared(Arc::clone(&self.inner)),
            max_pages: self.inner.max_pages,
        });
        Memory {
            store: store.id,
            index,
        }
    }
}

impl SharedMemoryInner {
    fn len_bytes(&self) -> u64 {
        self.def.current_length.load(Ordering::SeqCst)
    }

    fn grow_pages(&self, delta: u64) -> Option<u64> {
        let _held = self.grow.lock().unwrap_or_else(PoisonError::into_inner);
        let old_bytes = self.len_bytes();
        let new_bytes = grown_bytes(old_bytes, delta, self.max_pages)?;
        self.res
            .make_accessible(usize::try_from(new_bytes).ok()?)
            .ok()?;
        // Published only once the pages are accessible.
        self.def.current_length.store(new_bytes, Ordering::SeqCst);
        Some(old_bytes / WASM_PAGE_SIZE)
    }
}

/// The size in bytes after growing `old_bytes` by `delta` pages, if
/// `max_pages` allows it.
fn grown_bytes(old_bytes: u64, delta: u64, max_pages: u64) -> Option<u64> {
    let new = (old_bytes / WASM_PAGE_SIZE).checked_add(delta)?;
    if new > max_pages {
        return None;
    }
    new.checked_mul(WASM_PAGE_SIZE)
}

/// Reserves the address space of a memory of type `ty`: its reservation,
/// with the minimum accessible, and the most pages it may grow to.
/// Reserves a memory of type `ty`: its bytes and the most pages it may
/// grow to (its maximum, the reservation's and `max_bytes`, the store's
/// `max-memory-size`, whichever is least).
fn reserve(
    ty: MemoryType,
    cfg: MemoryConfig,
    max_bytes: Option<u64>,
) -> Result<(Reservation, u64), InstantiationError> {
    let limit = if ty.memory64 {
        u64::MAX / WASM_PAGE_SIZE
    } else {
        65536
    };
    let declared_max = ty.limits.max.unwrap_or(limit).min(limit);
    let mut max_pages = declared_max.min(cfg.reservation / WASM_PAGE_SIZE);
    if let Some(max_bytes) = max_bytes {
        if ty.limits.min.saturating_mul(WASM_PAGE_SIZE) > max_bytes {
            return Err(InstantiationError::Resource(format!(
                "memory minimum of {} bytes exceeds the store's limit of {max_bytes} bytes per memory (max-memory-size)",
                ty.limits.min.saturating_mul(WASM_PAGE_SIZE)
            )));
        }
        max_pages = max_pages.min(max_bytes / WASM_PAGE_SIZE);
    }
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
    let total =
        total.ok_or_else(|| InstantiationError::Resource("memory reservation too large".into()))?;
    let initial = usize::try_from(ty.limits.min * WASM_PAGE_SIZE)
        .map_err(|_| InstantiationError::Resource("memory too large".into()))?;
    let res = Reservation::new(total, initial).map_err(InstantiationError::Resource)?;
    Ok((res, max_pages))
}

impl Memory {
    /// A host-made memory of type `ty` (with the default reservation, so
    /// any module may import it).
    pub fn new(mut store: impl AsContextMut, ty: MemoryType) -> Result<Memory, InstantiationError> {
        let block = Block::new(16).map_err(InstantiationError::Resource)?;
        Memory::new_at(
            store.as_context_mut().opaque_mut(),
            ty,
            Slot { block, off: 0 },
            MemoryConfig::default(),
        )
    }

    /// A memory whose definition lives at `def`.
    pub(crate) fn new_at(
        store: &mut StoreOpaque,
        ty: MemoryType,
        def: Slot,
        cfg: MemoryConfig,
    ) -> Result<Memory, InstantiationError> {
        StoreLimits::check_count(store.memories.len(), store.limits.max_memories, "memories")?;
        let (res, max_pages) = reserve(ty, cfg, store.limits.max_memory_size)?;
        def.write_u64(MEMORY_DEF_BASE, res.base() as u64);
        def.write_u64(MEMORY_DEF_CURRENT_LENGTH, ty.limits.min * WASM_PAGE_SIZE);
        let index = store.memories.len() as u32;
        store.memories.push(MemoryData {
            ty,
            backing: Backing::Owned { def, res },
            max_pages,
        });
        Ok(Memory {
            store: store.id,
            index,
        })
    }

    pub(crate) fn data_of<'a>(&self, store: &'a StoreOpaque) -> &'a MemoryData {
        store.assert_owns(self.store, "memory");
        &store.memories[self.index as usize]
    }

    fn data_of_mut<'a>(&self, store: &'a mut StoreOpaque) -> &'a mut MemoryData {
        store.assert_owns(self.store, "memory");
        &mut store.memories[self.index as usize]
    }

    /// The memory's type, with its current size as minimum.
    pub fn ty(&self, store: impl AsContext) -> MemoryType {
        self.ty_in(store.as_context().opaque())
    }

    pub(crate) fn ty_in(&self, o: &StoreOpaque) -> MemoryType {
        let m = self.data_of(o);
        MemoryType {
            limits: Limits {
                min: m.len_bytes() / WASM_PAGE_SIZE,
                max: m.ty.limits.max,
            },
            ..m.ty
        }
    }

    /// Current size in 64 KiB pages.
    pub fn size(&self, store: impl AsContext) -> u64 {
        self.data_size(store) / WASM_PAGE_SIZE
    }

    /// Current size in bytes.
    pub fn data_size(&self, store: impl AsContext) -> u64 {
        self.data_of(store.as_context().opaque()).len_bytes()
    }

    /// Grows by `delta` pages; returns the old size, or `None` if the
    /// maximum or the reservation does not allow it.
    pub fn grow(&self, mut store: impl AsContextMut, delta: u64) -> Option<u64> {
        self.data_of(store.as_context_mut().opaque_mut())
            .grow_pages(delta)
    }

    /// Copies bytes out of the memory, from `offset`.
    pub fn read(
        &self,
        store: impl AsContext,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), CallError> {
        let ctx = store.as_context();
        let m = self.checked(ctx.opaque())?;
        m.check(offset, buf.len())?;
        if m.res().read(offset as usize, buf) {
            Ok(())
        } else {
            Err(oob())
        }
    }

    /// Copies `data` into the memory at `offset`.
    pub fn write(
        &self,
        mut store: impl AsContextMut,
        offset: u64,
        data: &[u8],
    ) -> Result<(), CallError> {
        let mut ctx = store.as_context_mut();
        let m = self.checked(ctx.opaque_mut())?;
        m.check(offset, data.len())?;
        if m.res().write(offset as usize, data) {
            Ok(())
        } else {
            Err(oob())
        }
    }

    fn checked<'a>(&self, store: &'a StoreOpaque) -> Result<&'a MemoryData, CallError> {
        if self.store != store.id {
            return Err(CallError::WrongStore("memory"));
        }
        Ok(&store.memories[self.index as usize])
    }

    /// The memory's bytes, borrowed from the store: no wasm can run (nor
    /// grow the memory) while they are borrowed.
    pub fn data<'a, S: AsContext>(&self, store: &'a S) -> &'a [u8] {
        let m = self.data_of(store.as_context().opaque());
        let Backing::Owned { res, .. } = &m.backing else {
            return &[];
        };
        let len = usize::try_from(m.len_bytes()).unwrap_or(0);
        // SAFETY: `store` is borrowed for `'a`, and wasm of this store runs
        // only under an exclusive borrow of it, so compiled code does not
        // write the memory while the slice lives; host writes need
        // `&mut` too. The memory is this store's own (not shared), so no
        // other store's wasm can write it either.
        unsafe { res.bytes(len) }.unwrap_or(&[])
    }

    /// The memory's bytes, mutably, borrowed from the store.
    pub fn data_mut<'a, S: AsContextMut>(&self, store: &'a mut S) -> &'a mut [u8] {
        self.data_and_store_mut(store).0
    }

    /// The [`SharedMemory`] this memory of `store` is, if it is one
    /// attached with [`SharedMemory::attach`] (whose bytes are reached by
    /// copying, never as a slice).
    pub fn shared(&self, store: impl AsContext) -> Option<SharedMemory> {
        match &self.data_of(store.as_context().opaque()).backing {
            Backing::Shared(inner) => Some(SharedMemory {
                inner: Arc::clone(inner),
            }),
            Backing::Owned { .. } => None,
        }
    }

    /// The memory's bytes and the store's host data, both mutably (what a
    /// host function needs to work on guest memory with its own state).
    pub fn data_and_store_mut<'a, S: AsContextMut>(
        &self,
        store: &'a mut S,
    ) -> (&'a mut [u8], &'a mut S::Data) {
        let inner = store.as_context_mut().into_inner_mut();
        let m = self.data_of_mut(&mut inner.opaque);
        let len = usize::try_from(m.len_bytes()).unwrap_or(0);
        let bytes = match &mut m.backing {
            // SAFETY: `store` is borrowed exclusively for `'a`: no wasm of
            // the store runs and no other slice of this memory exists while
            // this one lives (`m` is borrowed exclusively from it); the
            // memory is the store's own, so no other store's wasm runs on it.
            Backing::Owned { res, .. } => unsafe { res.bytes_mut(len) }.unwrap_or(&mut []),
            Backing::Shared(_) => &mut [],
        };
        (bytes, &mut inner.data)
    }

    /// The bytes of the memory's address space (reservation and guard), as
    /// a guard-page artifact importing it needs.
    pub(crate) fn reserved_bytes(&self, store: &StoreOpaque) -> u64 {
        self.data_of(store).res().len() as u64
    }
}

fn oob() -> CallError {
    CallError::Trap(Trap::new(TrapCode::MemoryOutOfBounds))
}

impl MemoryData {
    /// Whether the memory has 64-bit addresses.
    pub(crate) fn memory64(&self) -> bool {
        self.ty.memory64
    }

    pub(crate) fn len_bytes(&self) -> u64 {
        match &self.backing {
            Backing::Owned { def, .. } => def.read_u64(MEMORY_DEF_CURRENT_LENGTH),
            Backing::Shared(s) => s.len_bytes(),
        }
    }

    pub(crate) fn base(&self) -> *mut u8 {
        self.res().base()
    }

    /// The reservation holding the bytes.
    pub(crate) fn res(&self) -> &Reservation {
        match &self.backing {
            Backing::Owned { res, .. } => res,
            Backing::Shared(s) => &s.res,
        }
    }

    /// The address of the definition compiled code reads.
    pub(crate) fn def_addr(&self) -> *mut u8 {
        match &self.backing {
            Backing::Owned { def, .. } => def.addr(),
            Backing::Shared(s) => std::ptr::from_ref::<SharedDef>(&s.def).cast_mut().cast(),
        }
    }

    fn check(&self, offset: u64, len: usize) -> Result<(), CallError> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.len_bytes() => Ok(()),
            _ => Err(oob()),
        }
    }

    /// memory.grow: the old size in pages, or `None`.
    pub(crate) fn grow_pages(&self, delta: u64) -> Option<u64> {
        let (def, res) = match &self.backing {
            Backing::Owned { def, res } => (def, res),
            Backing::Shared(s) => return s.grow_pages(delta),
        };
        let old_bytes = self.len_bytes();
        let new_bytes = grown_bytes(old_bytes, delta, self.max_pages)?;
        res.make_accessible(usize::try_from(new_bytes).ok()?).ok()?;
        def.write_u64(MEMORY_DEF_CURRENT_LENGTH, new_bytes);
        Some(old_bytes / WASM_PAGE_SIZE)
    }
}

/// A table of a [`Store`](crate::Store).
///
/// Methods that return no `Result` panic when given another store than the
/// one the table belongs to; the others return [`CallError::WrongStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Table {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

/// What a store keeps of a table.
///
/// Its elements live in a block that `grow` may replace with a larger one
/// (copying them over): the definition's `base` and `current_elements`
/// are the truth, which compiled code reloads after every call and
/// `table.grow` (see `vmctx.rs`). Grown by compiled code under a shared
/// borrow of the store, hence the cell.
pub(crate) struct TableData {
    ty: TableType,
    pub(crate) def: Slot,
    elems: RefCell<Rc<Block>>,
}

impl Table {
    /// A host-made table of type `ty`, every element null.
    pub fn new(mut store: impl AsContextMut, ty: TableType) -> Result<Table, InstantiationError> {
        let block = Block::new(16).map_err(InstantiationError::Resource)?;
        Table::new_at(
            store.as_context_mut().opaque_mut(),
            ty,
            Slot { block, off: 0 },
        )
    }

    pub(crate) fn new_at(
        store: &mut StoreOpaque,
        ty: TableType,
        def: Slot,
    ) -> Result<Table, InstantiationError> {
        let size = ty.limits.min;
        if size > MAX_TABLE_ELEMENTS {
            return Err(InstantiationError::Resource(format!(
                "table of {size} elements exceeds this loader's limit of {MAX_TABLE_ELEMENTS}"
            )));
        }
        StoreLimits::check_count(store.tables.len(), store.limits.max_tables, "tables")?;
        if let Some(max) = store.limits.max_table_elements {
            if size > max {
                return Err(InstantiationError::Resource(format!(
                    "table minimum of {size} elements exceeds the store's limit of {max} elements per table"
                )));
            }
        }
        let elems = Block::new(size as usize * 8).map_err(InstantiationError::Resource)?;
        def.write_u64(TABLE_DEF_BASE, elems.base() as u64);
        def.write_u64(TABLE_DEF_CURRENT_ELEMENTS, size);
        let index = store.tables.len() as u32;
        store.tables.push(TableData {
            ty,
            def,
            elems: RefCell::new(elems),
        });
        Ok(Table {
            store: store.id,
            index,
        })
    }

    pub(crate) fn data_of<'a>(&self, store: &'a StoreOpaque) -> &'a TableData {
        store.assert_owns(self.store, "table");
        &store.tables[self.index as usize]
    }

    /// The table's type, with its current size as minimum.
    pub fn ty(&self, store: impl AsContext) -> TableType {
        self.ty_in(store.as_context().opaque())
    }

    pub(crate) fn ty_in(&self, o: &StoreOpaque) -> TableType {
        let t = self.data_of(o);
        TableType {
            limits: Limits {
                min: t.size(),
                max: t.ty.limits.max,
            },
            ..t.ty
        }
    }

    /// Current number of elements.
    pub fn size(&self, store: impl AsContext) -> u64 {
        self.data_of(store.as_context().opaque()).size()
    }

    /// Grows the table by `delta` elements set to `init` (a reference of
    /// the table's element type from this store); returns the old size.
    /// Past the table's maximum, [`MAX_TABLE_ELEMENTS`] or the store's
    /// `max_table_elements` nothing changes and the error is a host error.
    pub fn grow(
        &self,
        mut store: impl AsContextMut,
        delta: u64,
        init: Val,
    ) -> Result<u64, CallError> {
        let mut ctx = store.as_context_mut();
        let o = ctx.opaque_mut();
        let raw = self.raw_element(o, &init)?;
        let limit = o.max_table_elements();
        o.tables[self.index as usize]
            .grow(delta, raw, limit)
            .ok_or_else(|| CallError::Host(format!("cannot grow the table by {delta} elements")))
    }

    /// `v` in a table element's raw form, after checking the store and
    /// the element type.
    fn raw_element(&self, o: &mut StoreOpaque, v: &Val) -> Result<u64, CallError> {
        if self.store != o.id {
            return Err(CallError::WrongStore("table"));
        }
        let element = o.tables[self.index as usize].ty.element;
        if !v.is_of(o, element) {
            return Err(CallError::ArgumentType {
                index: 0,
                expected: element,
                got: v.ty(),
            });
        }
        let raw = val_to_raw(o, v).map_err(CallError::Host)?;
        Ok(u64::from_le_bytes([
            raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7],
        ]))
    }

    /// Element `i`, if in bounds: the function (or externref) that is set
    /// there, or null.
    pub fn get(&self, store: impl AsContext, i: u64) -> Option<Val> {
        let ctx = store.as_context();
        let o = ctx.opaque();
        let t = self.data_of(o);
        let raw = t.get_raw(i)?;
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&raw.to_le_bytes());
        Some(val_from_raw(o, t.ty.element, bytes))
    }

    /// Sets element `i` to `v`, a reference of the table's element type
    /// from this store.
    pub fn set(&self, mut store: impl AsContextMut, i: u64, v: Val) -> Result<(), CallError> {
        let mut ctx = store.as_context_mut();
        let o = ctx.opaque_mut();
        let raw = self.raw_element(o, &v)?;
        if o.tables[self.index as usize].set_raw(i, raw) {
            Ok(())
        } else {
            Err(CallError::Trap(Trap::new(TrapCode::TableOutOfBounds)))
        }
    }
}

impl TableData {
    /// Current number of elements.
    pub(crate) fn size(&self) -> u64 {
        self.def.read_u64(TABLE_DEF_CURRENT_ELEMENTS)
    }

    /// Whether the table is indexed by `i64` (memory64's `table64`).
    pub(crate) fn table64(&self) -> bool {
        self.ty.table64
    }

    /// Element `i` (a `*const VMFuncRef`, or an externref's raw form) as
    /// an integer, 0 for null.
    pub(crate) fn get_raw(&self, i: u64) -> Option<u64> {
        (i < self.size()).then(|| self.elems.borrow().read_u64(i as u32 * 8))
    }

    /// Sets element `i`; the value must point into (or be rooted in) the
    /// table's own store, which keeps it valid as long as the table.
    pub(crate) fn set_raw(&self, i: u64, raw: u64) -> bool {
        if i >= self.size() {
            return false;
        }
        self.elems.borrow().write_u64(i as u32 * 8, raw);
        true
    }

    /// Sets `len` elements from `dst` to `raw`, or nothing (`false`) when
    /// the range leaves the table.
    pub(crate) fn fill_raw(&self, dst: u64, raw: u64, len: u64) -> bool {
        if dst.checked_add(len).is_none_or(|end| end > self.size()) {
            return false;
        }
        let elems = self.elems.borrow();
        for i in dst..dst + len {
            elems.write_u64(i as u32 * 8, raw);
        }
        true
    }

    /// The most elements this table may have: its declared maximum, at
    /// most [`MAX_TABLE_ELEMENTS`].
    fn max_elements(&self) -> u64 {
        self.ty
            .limits
            .max
            .unwrap_or(u64::MAX)
            .min(MAX_TABLE_ELEMENTS)
    }

    /// `table.grow`: adds `delta` elements set to `raw` and returns the old
    /// size, or `None` (nothing changed) past the maximum or `limit` (the
    /// store's, [`StoreOpaque::max_table_elements`]). When the block
    /// is too small the elements move to a new one (room for twice the
    /// size, amortising repeated growth) and the definition's base is
    /// updated; the old block is freed, since compiled code never keeps a
    /// base across a `table.grow` or a call.
    pub(crate) fn grow(&self, delta: u64, raw: u64, limit: u64) -> Option<u64> {
        let max = self.max_elements().min(limit);
        let old = self.size();
        let new = old.checked_add(delta).filter(|&n| n <= max)?;
        let capacity = (self.elems.borrow().size() / 8) as u64;
        if new > capacity {
            let room = new.max(old.saturating_mul(2)).min(max);
            let bigger = Block::new(usize::try_from(room * 8).ok()?).ok()?;
            {
                let elems = self.elems.borrow();
                for i in 0..old {
                    bigger.write_u64(i as u32 * 8, elems.read_u64(i as u32 * 8));
                }
            }
            self.def.write_u64(TABLE_DEF_BASE, bigger.base() as u64);
            *self.elems.borrow_mut() = bigger;
        }
        self.def.write_u64(TABLE_DEF_CURRENT_ELEMENTS, new);
        self.fill_raw(old, raw, delta);
        Some(old)
    }
}

/// A global variable of a [`Store`](crate::Store).
///
/// Methods that return no `Result` panic when given another store than the
/// one the global belongs to; the others return [`CallError::WrongStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Global {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

/// What a store keeps of a global.
pub(crate) struct GlobalData {
    ty: GlobalType,
    pub(crate) slot: Slot,
}

impl Global {
    /// A host-made global of type `ty` holding `v`.
    pub fn new(
        mut store: impl AsContextMut,
        ty: GlobalType,
        v: Val,
    ) -> Result<Global, InstantiationError> {
        let mut ctx = store.as_context_mut();
        let o = ctx.opaque_mut();
        if !v.is_of(o, ty.content) {
            return Err(InstantiationError::Resource(format!(
                "global of type {} cannot hold a {} value",
                ty.content,
                v.ty()
            )));
        }
        let block = Block::new(16).map_err(InstantiationError::Resource)?;
        let raw = val_to_raw(o, &v).map_err(InstantiationError::Resource)?;
        let slot = Slot { block, off: 0 };
        slot.write_16(raw);
        Ok(Global::new_at(o, ty, slot))
    }

    pub(crate) fn new_at(store: &mut StoreOpaque, ty: GlobalType, slot: Slot) -> Global {
        let index = store.globals.len() as u32;
        store.globals.push(GlobalData { ty, slot });
        Global {
            store: store.id,
            index,
        }
    }

    pub(crate) fn data_of<'a>(&self, store: &'a StoreOpaque) -> &'a GlobalData {
        store.assert_owns(self.store, "global");
        &store.globals[self.index as usize]
    }

    /// The global's type.
    pub fn ty(&self, store: impl AsContext) -> GlobalType {
        self.data_of(store.as_context().opaque()).ty
    }

    /// The current value.
    pub fn get(&self, store: impl AsContext) -> Val {
        let ctx = store.as_context();
        let o = ctx.opaque();
        let g = self.data_of(o);
        val_from_raw(o, g.ty.content, g.slot.read_16())
    }

    /// Sets the value (the global must be mutable and `v` of its type).
    pub fn set(&self, mut store: impl AsContextMut, v: Val) -> Result<(), CallError> {
        let mut ctx = store.as_context_mut();
        let o = ctx.opaque_mut();
        if self.store != o.id {
            return Err(CallError::WrongStore("global"));
        }
        let ty = o.globals[self.index as usize].ty;
        if !ty.mutable {
            return Err(CallError::Host("cannot set an immutable global".into()));
        }
        if !v.is_of(o, ty.content) {
            return Err(CallError::ArgumentType {
                index: 0,
                expected: ty.content,
                got: v.ty(),
            });
        }
        let raw = val_to_raw(o, &v).map_err(CallError::Host)?;
        o.globals[self.index as usize].slot.write_16(raw);
        Ok(())
    }
}

impl GlobalData {
    /// The global's type.
    pub(crate) fn ty(&self) -> GlobalType {
        self.ty
    }

    /// The raw 16 bytes, for constant expressions.
    pub(crate) fn raw(&self) -> [u8; 16] {
        self.slot.read_16()
    }
}
