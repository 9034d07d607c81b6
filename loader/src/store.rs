//! The [`Store`]: the owner of every instance, memory, table, global, host
//! function and `externref` an embedder creates, and of the host state `T`.
//! Handles ([`Func`](crate::Func), [`Memory`](crate::Memory), ...) are a
//! store id plus an index; every operation on one goes through the store.
//!
//! Rule: a store frees what it owns only when it is dropped, all together,
//! so whatever compiled code can reach from a live store (a table element
//! naming another instance's function, a partly initialised instance, a
//! host function's context) stays valid. The `StoreInner` is reached only
//! through one raw pointer made when the store is created (kept by
//! [`Store`], by each instance's runtime block and by each host function);
//! references into it are made from that pointer for as long as a
//! [`StoreContext`]/[`StoreContextMut`] borrow lasts and never across a
//! call into wasm, so a host function re-entering the store from wasm
//! (host → wasm → host) makes its own reference while no other is in use.

#![expect(
    unsafe_code,
    reason = "the store is shared with compiled code and host calls through one raw pointer"
)]

use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::externs::{GlobalData, MemoryData, TableData};
use crate::func::{HostFuncHeader, HostFuncRef};
use crate::instance::InstanceData;
use crate::limits::{SharedLimits, StoreLimits};
use crate::values::ExternRef;
use wasmo_artifact_format::VMOffsets;

/// Identifies a store for the process's lifetime (never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct StoreId(u64);

impl StoreId {
    fn next() -> StoreId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        StoreId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// Owns instances, memories, tables, globals, host functions, externrefs
/// and the host's data `T`; everything is freed together when the store is
/// dropped.
///
/// Threading: `Store<T>` is `Send` when `T` is, and never `Sync`; wasm runs
/// only with `&mut Store` (or a [`Caller`](crate::Caller) lent by one), so
/// at most one thread runs a store's wasm at a time. Handles are plain
/// indices (`Send + Sync + Copy`) and useless without their store.
///
/// ```compile_fail
/// fn assert_sync<S: Sync>() {}
/// assert_sync::<wasmo_loader::Store<()>>();
/// ```
///
/// Linear memory bytes are borrowed from the store, so the borrow checker
/// rules out holding them across a call into wasm or a `memory.grow`:
///
/// ```compile_fail
/// # fn f(mut store: wasmo_loader::Store<()>, mem: wasmo_loader::Memory, func: wasmo_loader::Func) {
/// let bytes = mem.data_mut(&mut store);
/// func.call(&mut store, &[], &mut []).ok(); // second `&mut store` while `bytes` lives
/// bytes[0] = 1;
/// # }
/// ```
pub struct Store<T> {
    /// Made by `Box::into_raw` in [`Store::new`], freed in `Drop`.
    inner: NonNull<StoreInner<T>>,
    _owns: PhantomData<Box<StoreInner<T>>>,
}

// SAFETY: a store owns everything its raw pointers point to (its
// `StoreInner`, the blocks and reservations compiled code uses, host
// function contexts) and every `Rc` to a block; none of it is reachable
// from outside the store except through `&Store`/`&mut Store` (handles are
// indices), so moving the store to another thread moves all of it, and
// no reference count is ever touched by two threads. Host closures are `Send + Sync` and
// externrefs `Send + Sync` by their bounds, and `T: Send` is required.
// `Sync` is deliberately not implemented: `&Store` gives access to linear
// memory bytes that compiled code writes without synchronisation.
unsafe impl<T: Send> Send for Store<T> {}

/// The heap part of a store; `opaque` first, so that a pointer to a
/// `StoreInner<T>` is also one to its `StoreOpaque` (compiled code's
/// helpers know no `T`).
#[repr(C)]
pub(crate) struct StoreInner<T> {
    pub(crate) opaque: StoreOpaque,
    pub(crate) data: T,
}

/// Everything of a store but its data: what the loader's untyped code
/// works on.
pub(crate) struct StoreOpaque {
    pub(crate) id: StoreId,
    pub(crate) instances: Vec<InstanceData>,
    pub(crate) memories: Vec<MemoryData>,
    pub(crate) tables: Vec<TableData>,
    pub(crate) globals: Vec<GlobalData>,
    /// Host function contexts (`Box::into_raw`), freed by their own
    /// `drop_fn` when the store drops.
    pub(crate) host_funcs: Vec<NonNull<HostFuncHeader>>,
    /// Every externref this store has seen; wasm holds `index + 1`.
    externrefs: Vec<ExternRef>,
    /// `externrefs` by the address of their host object.
    externref_ids: HashMap<usize, u32>,
    /// The `VMFuncRef` of each host function that became a funcref value,
    /// by host function index (see `Func::funcref`); boxed, so its address
    /// is stable until the store drops.
    host_funcrefs: HashMap<u32, Box<HostFuncRef>>,
    /// `host_funcrefs` by address, to map such a funcref back.
    host_funcref_owners: HashMap<u64, u32>,
    /// Instance VMContexts by start address: `(end, instance index)`, to
    /// map a funcref back to its function.
    vmctxs: BTreeMap<usize, (usize, u32)>,
    /// Size and count limits (`limits.rs`).
    pub(crate) limits: StoreLimits,
    /// Fuel and interrupt words every instance's VMContext points at, and
    /// the instances' copies of the interrupt word.
    pub(crate) vm_limits: Arc<SharedLimits>,
    /// Whether fuel is metered (set by `Store::set_fuel`): then only
    /// modules built with fuel counting may be instantiated.
    pub(crate) fuel_enabled: bool,
    /// Usable bytes of the native stack each call into wasm runs on.
    pub(crate) wasm_stack_size: usize,
    /// While wasm of this store runs: the lowest stack pointer at which a
    /// host function may still be called from wasm (the innermost
    /// entry's wasm stack, its guard page's end plus
    /// `traphandler::HOST_STACK_RESERVE`); 0 otherwise. Kept here, where
    /// the host-call stub finds it through the host function's store
    /// pointer, so a host call needs no thread-local lookup;
    /// `traphandler::call_array` sets it for each entry and puts the
    /// outer entry's back when it returns (or traps). Written and read
    /// only through raw pointers (`ArrayCall::host_stack_limit`, the
    /// stub), as wasm may be running.
    pub(crate) host_stack_limit: usize,
    /// Every exception tag made in this store (defined by instances or
    /// the host).
    pub(crate) tags: Vec<crate::exception::TagData>,
    /// Every exception object thrown in this store; wasm holds `index +
    /// 1` (see `exception.rs`). A cell because the throw helpers hold only
    /// a shared borrow of the store.
    pub(crate) exceptions: std::cell::RefCell<Vec<crate::exception::ExnData>>,
    /// The `exnref` wasm threw last and the wasm frames it was thrown
    /// from, kept until it escapes to the host (see `exception.rs`).
    pub(crate) last_throw: std::cell::RefCell<Option<crate::exception::ThrowSite>>,
}

impl<T> Store<T> {
    /// An empty store holding the host data `data`.
    pub fn new(data: T) -> Store<T> {
        let inner = Box::new(StoreInner {
            opaque: StoreOpaque {
                id: StoreId::next(),
                instances: Vec::new(),
                memories: Vec::new(),
                tables: Vec::new(),
                globals: Vec::new(),
                host_funcs: Vec::new(),
                externrefs: Vec::new(),
                externref_ids: HashMap::new(),
                host_funcrefs: HashMap::new(),
                host_funcref_owners: HashMap::new(),
                vmctxs: BTreeMap::new(),
                limits: StoreLimits::default(),
                vm_limits: Arc::default(),
                fuel_enabled: false,
                wasm_stack_size: crate::traphandler::default_wasm_stack_size(),
                host_stack_limit: 0,
                tags: Vec::new(),
                exceptions: std::cell::RefCell::new(Vec::new()),
                last_throw: std::cell::RefCell::new(None),
            },
            data,
        });
        Store {
            inner: NonNull::from(Box::leak(inner)),
            _owns: PhantomData,
        }
    }

    /// The host data.
    pub fn data(&self) -> &T {
        &self.as_context().inner().data
    }

    /// The host data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.as_context_mut().into_inner_mut().data
    }

    /// Drops everything but the host data, which is returned.
    pub fn into_data(self) -> T {
        let ptr = self.inner;
        std::mem::forget(self);
        // SAFETY: `ptr` came from `Box::into_raw` (via `Box::leak`) in
        // `new` and `self`, its only owner, was forgotten, so this frees it
        // exactly once; no call into wasm is running (it would hold
        // `&mut self`).
        let inner = unsafe { Box::from_raw(ptr.as_ptr()) };
        let StoreInner { opaque, data } = *inner;
        drop(opaque);
        data
    }
}

impl<T> Drop for Store<T> {
    fn drop(&mut self) {
        // SAFETY: as in `into_data`: the pointer came from `Box::leak` in
        // `new` and is freed here once; `&mut self` proves no borrow of the
        // store and no call into wasm is live.
        drop(unsafe { Box::from_raw(self.inner.as_ptr()) });
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let o = self.as_context().inner();
        f.debug_struct("Store")
            .field("instances", &o.opaque.instances.len())
            .field("data", &o.data)
            .finish_non_exhaustive()
    }
}

impl Drop for StoreOpaque {
    fn drop(&mut self) {
        // Before any VMContext is freed (the fields drop after this), so
        // an `InterruptHandle` that outlives the store writes none of them.
        self.vm_limits.clear();
        for h in self.host_funcs.drain(..) {
            // SAFETY: `h` is a live host function context made by
            // `Func::new`, whose `drop_fn` frees it with the type it was
            // made with; it is dropped once (drained). Nothing can call it
            // any more: the instances importing it belong to this store,
            // which is being dropped.
            unsafe { HostFuncHeader::free(h) };
        }
    }
}

impl StoreOpaque {
    /// Panics unless a handle of store `id` may be used here (the
    /// documented misuse of every handle method without a `Result`).
    pub(crate) fn assert_owns(&self, id: StoreId, what: &str) {
        assert!(
            id == self.id,
            "{what} used with a store it does not belong to"
        );
    }

    /// Registers an instance's VMContext: its range, and its interrupt
    /// word with the store's limits (which sets it).
    pub(crate) fn register_vmctx(&mut self, vmctx: &crate::vm::Block, instance: u32) {
        let start = vmctx.base() as usize;
        self.vmctxs.insert(start, (start + vmctx.size(), instance));
        let word = vmctx.addr(VMOffsets::INTERRUPT).cast::<AtomicU64>();
        if let Some(word) = NonNull::new(word) {
            // SAFETY: the word lies in `vmctx` (`addr` checked the offset;
            // the fixed part is in every VMContext) and is 8-byte aligned
            // (blocks are 16-byte aligned, the offset a multiple of 8);
            // the block belongs to this store, which frees it only when it
            // drops, after `Drop for StoreOpaque` cleared the list. Rust
            // touches the word only through `SharedLimits`' atomics.
            unsafe { self.vm_limits.register(word) };
        }
    }

    /// The instance whose VMContext contains `addr`, and `addr - start`.
    pub(crate) fn vmctx_at(&self, addr: usize) -> Option<(u32, usize)> {
        let (&start, &(end, instance)) = self.vmctxs.range(..=addr).next_back()?;
        (addr < end).then_some((instance, addr - start))
    }

    /// The address of host function `h`'s `VMFuncRef`, made by `make` the
    /// first time (`None`: it cannot be made).
    pub(crate) fn host_funcref(
        &mut self,
        h: u32,
        make: impl FnOnce(&StoreOpaque) -> Option<HostFuncRef>,
    ) -> Option<u64> {
        if let Some(r) = self.host_funcrefs.get(&h) {
            return Some(&**r as *const HostFuncRef as u64);
        }
        let r = Box::new(make(self)?);
        let addr = &*r as *const HostFuncRef as u64;
        self.host_funcrefs.insert(h, r);
        self.host_funcref_owners.insert(addr, h);
        Some(addr)
    }

    /// The host function whose `VMFuncRef` is at `addr`, if any.
    pub(crate) fn host_funcref_owner(&self, addr: u64) -> Option<u32> {
        self.host_funcref_owners.get(&addr).copied()
    }

    /// The raw form (`index + 1`) of `r`, rooting it in this store until
    /// the store is dropped.
    pub(crate) fn root_externref(&mut self, r: &ExternRef) -> u64 {
        let key = r.addr();
        let i = match self.externref_ids.get(&key) {
            Some(&i) => i,
            None => {
                let i = self.externrefs.len() as u32;
                self.externrefs.push(r.clone());
                self.externref_ids.insert(key, i);
                i
            }
        };
        u64::from(i) + 1
    }

    /// The externref whose raw form is `raw` (0 is null; so is an index this
    /// store never gave out, which wasm cannot forge).
    pub(crate) fn externref(&self, raw: u64) -> Option<ExternRef> {
        let i = usize::try_from(raw.checked_sub(1)?).ok()?;
        self.externrefs.get(i).cloned()
    }
}

/// A shared borrow of a store: what read-only operations take.
pub struct StoreContext<'a, T> {
    inner: NonNull<StoreInner<T>>,
    _borrow: PhantomData<&'a StoreInner<T>>,
}

/// An exclusive borrow of a store: what calls and mutations take.
pub struct StoreContextMut<'a, T> {
    inner: NonNull<StoreInner<T>>,
    _borrow: PhantomData<&'a mut StoreInner<T>>,
}

impl<T> std::fmt::Debug for StoreContext<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreContext").finish_non_exhaustive()
    }
}

impl<T> std::fmt::Debug for StoreContextMut<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreContextMut").finish_non_exhaustive()
    }
}

impl<'a, T> StoreContext<'a, T> {
    fn new(inner: NonNull<StoreInner<T>>) -> StoreContext<'a, T> {
        StoreContext {
            inner,
            _borrow: PhantomData,
        }
    }

    /// The store's heap part, for `'a`.
    pub(crate) fn inner(&self) -> &'a StoreInner<T> {
        // SAFETY: a `StoreContext<'a>` exists only while a shared borrow of
        // the store (or of a context or caller lent by it) lasts for `'a`,
        // during which nothing makes a `&mut` to the `StoreInner` and no
        // wasm runs (both need an exclusive borrow).
        unsafe { self.inner.as_ref() }
    }

    /// The untyped part.
    pub(crate) fn opaque(&self) -> &'a StoreOpaque {
        &self.inner().opaque
    }

    /// The host data.
    pub fn data(&self) -> &'a T {
        &self.inner().data
    }
}

impl<'a, T> StoreContextMut<'a, T> {
    /// A context for the store at `inner`.
    ///
    /// # Safety
    ///
    /// `inner` must be a live store's pointer (the one `Store::new` made),
    /// and for `'a` nothing else may use the store except through this
    /// context and contexts borrowed from it: the caller holds the store
    /// exclusively, or is a host function that wasm (lent the store by such
    /// a holder, which does not touch it until the call returns) called.
    pub(crate) unsafe fn from_raw(inner: NonNull<StoreInner<T>>) -> StoreContextMut<'a, T> {
        StoreContextMut {
            inner,
            _borrow: PhantomData,
        }
    }

    /// The store's pointer, to lend to wasm for the length of a call.
    pub(crate) fn raw(&self) -> NonNull<StoreInner<T>> {
        self.inner
    }

    /// The store's `host_stack_limit`, as the raw pointer a call into
    /// wasm writes it through (no reference into the store is made).
    pub(crate) fn host_stack_limit_ptr(&mut self) -> *mut usize {
        // SAFETY: `inner` is the live store's pointer (the type's
        // invariant); `&raw mut` projects to the field without making a
        // reference.
        unsafe { &raw mut (*self.inner.as_ptr()).opaque.host_stack_limit }
    }

    /// The store's heap part, for as long as this context is borrowed.
    pub(crate) fn inner_mut(&mut self) -> &mut StoreInner<T> {
        // SAFETY: per `from_raw`'s contract (and `Store::as_context_mut`'s
        // `&mut self`), this context is the only user of the store now; the
        // reference lives no longer than the borrow of `self`, so it is
        // gone before any call into wasm this context makes.
        unsafe { self.inner.as_mut() }
    }

    /// The store's heap part, for `'a` (consumes the context).
    pub(crate) fn into_inner_mut(mut self) -> &'a mut StoreInner<T> {
        // SAFETY: as in `inner_mut`; the context is consumed, so this is
        // the only reference made from it for `'a`.
        unsafe { self.inner.as_mut() }
    }

    /// The untyped part.
    pub(crate) fn opaque(&self) -> &StoreOpaque {
        // SAFETY: as in `inner_mut`, shared.
        unsafe { &self.inner.as_ref().opaque }
    }

    /// The untyped part, mutably.
    pub(crate) fn opaque_mut(&mut self) -> &mut StoreOpaque {
        &mut self.inner_mut().opaque
    }

    /// A shorter exclusive borrow of the same store.
    pub fn reborrow(&mut self) -> StoreContextMut<'_, T> {
        // SAFETY: `&mut self` lends this context's exclusive borrow for
        // the shorter lifetime.
        unsafe { StoreContextMut::from_raw(self.inner) }
    }

    /// The host data.
    pub fn data(&self) -> &T {
        // SAFETY: as in `inner_mut`, shared.
        unsafe { &self.inner.as_ref().data }
    }

    /// The host data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.inner_mut().data
    }
}

/// Something that can lend a shared borrow of a store: [`Store`],
/// [`StoreContext`], [`StoreContextMut`], [`Caller`](crate::Caller) and
/// references to them.
pub trait AsContext {
    /// The store's host data type.
    type Data;
    /// The borrow.
    fn as_context(&self) -> StoreContext<'_, Self::Data>;
}

/// Something that can lend an exclusive borrow of a store.
pub trait AsContextMut: AsContext {
    /// The borrow.
    fn as_context_mut(&mut self) -> StoreContextMut<'_, Self::Data>;
}

impl<T> AsContext for Store<T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext::new(self.inner)
    }
}

impl<T> AsContextMut for Store<T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        // SAFETY: `&mut self` holds the store exclusively for the
        // context's lifetime.
        unsafe { StoreContextMut::from_raw(self.inner) }
    }
}

impl<T> AsContext for StoreContext<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext::new(self.inner)
    }
}

impl<T> AsContext for StoreContextMut<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext::new(self.inner)
    }
}

impl<T> AsContextMut for StoreContextMut<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        self.reborrow()
    }
}

impl<S: AsContext + ?Sized> AsContext for &S {
    type Data = S::Data;
    fn as_context(&self) -> StoreContext<'_, S::Data> {
        (**self).as_context()
    }
}

impl<S: AsContext + ?Sized> AsContext for &mut S {
    type Data = S::Data;
    fn as_context(&self) -> StoreContext<'_, S::Data> {
        (**self).as_context()
    }
}

impl<S: AsContextMut + ?Sized> AsContextMut for &mut S {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, S::Data> {
        (**self).as_context_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<S: Send>() {}
    fn assert_send_sync_copy<H: Send + Sync + Copy>() {}

    /// Implemented twice for `Sync` types, so naming `some_item` with an
    /// inferred `A` compiles only for a type that is not `Sync`.
    trait AmbiguousIfSync<A> {
        fn some_item() {}
    }
    impl<T: ?Sized> AmbiguousIfSync<()> for T {}
    struct IsSync;
    impl<T: ?Sized + Sync> AmbiguousIfSync<IsSync> for T {}

    #[test]
    fn issue9_threading_rules() {
        assert_send::<Store<()>>();
        assert_send::<Store<String>>();
        assert_send_sync_copy::<crate::Func>();
        assert_send_sync_copy::<crate::Memory>();
        assert_send_sync_copy::<crate::Table>();
        assert_send_sync_copy::<crate::Global>();
        assert_send_sync_copy::<crate::Instance>();
        // A store is never `Sync` (also a compile_fail doctest on `Store`),
        // so two threads cannot run wasm or borrow memory of one store.
        <Store<()> as AmbiguousIfSync<_>>::some_item();
        <Store<String> as AmbiguousIfSync<_>>::some_item();
    }

    #[test]
    fn externrefs_are_rooted_once_and_come_back() {
        let mut store = Store::new(());
        let r = ExternRef::new(42u32);
        let o = store.as_context_mut().into_inner_mut();
        let a = o.opaque.root_externref(&r);
        let b = o.opaque.root_externref(&r.clone());
        assert_eq!(a, b);
        assert_ne!(a, 0);
        let back = o
            .opaque
            .externref(a)
            .map(|r| r.data().downcast_ref::<u32>().copied());
        assert_eq!(back, Some(Some(42)));
        assert!(o.opaque.externref(0).is_none());
        assert!(o.opaque.externref(99).is_none());
    }
}
