//! Resource limits of a store (issue 13): memory and table sizes and
//! counts ([`StoreLimits`]), fuel, interruption from another thread
//! ([`InterruptHandle`]) and the wasm stack size.
//!
//! Sizes and counts are enforced by the loader where memories and tables
//! are made and grown: past a limit, `memory.grow` (and the host's
//! `Memory::grow`) answers -1/`None` as the spec allows, and instantiation
//! fails with [`InstantiationError::Resource`](crate::InstantiationError)
//! naming the limit. Fuel and interruption need compiled-in checks
//! (`wasmoc build --consume-fuel`, `--epoch-interruption`) that read the
//! store's [`VMStoreLimits`] through every instance's VMContext.
//!
//! Rule: `VMStoreLimits` is shared with compiled code and other threads;
//! its layout is `artifact-format`'s (`vmctx::STORE_LIMITS_*`, checked at
//! compile time below) and it is only touched through atomics from Rust,
//! and only moved by its `Arc` (never: its address is in VMContexts).
//! Compiled interruption checks read each instance's copy of the interrupt
//! word (`VMOffsets::INTERRUPT`), so the store's word is only ever written
//! through [`SharedLimits::set_interrupt`], which writes every copy under
//! the same lock that registers them.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::store::{AsContext, AsContextMut};

use wasmo_artifact_format::vmctx::{
    STORE_LIMITS_FUEL_CONSUMED, STORE_LIMITS_INTERRUPT, STORE_LIMITS_SIZE,
};

/// Limits on what a store's instances may allocate. `None` is no limit
/// beyond the loader's own (`MAX_TABLE_ELEMENTS`, a 32-bit memory's 4 GiB).
///
/// ```
/// use wasmo_loader::{Store, StoreLimits};
/// let mut store = Store::new(());
/// store.set_limits(StoreLimits {
///     max_memory_size: Some(16 << 20),
///     max_table_elements: Some(10_000),
///     ..StoreLimits::default()
/// });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreLimits {
    /// Bytes each linear memory may have (`-W max-memory-size=N`): a
    /// memory whose minimum is larger is not created, `memory.grow` past
    /// it returns -1.
    pub max_memory_size: Option<u64>,
    /// Elements each table may have: a table whose minimum is larger is
    /// not created, growing past it fails.
    pub max_table_elements: Option<u64>,
    /// Linear memories the store may hold in all (defined by its instances
    /// and made by the host).
    pub max_memories: Option<u32>,
    /// Tables the store may hold in all.
    pub max_tables: Option<u32>,
    /// Instances the store may hold.
    pub max_instances: Option<u32>,
}

impl StoreLimits {
    /// The error when the store already holds `limit` of `what`.
    pub(crate) fn check_count(
        held: usize,
        limit: Option<u32>,
        what: &str,
    ) -> Result<(), crate::InstantiationError> {
        match limit {
            Some(max) if held >= max as usize => Err(crate::InstantiationError::Resource(format!(
                "the store's limit of {max} {what} is reached"
            ))),
            _ => Ok(()),
        }
    }
}

/// The block compiled code reads (layout: `artifact-format`'s
/// `vmctx::STORE_LIMITS_*`).
#[repr(C)]
#[derive(Debug)]
pub(crate) struct VMStoreLimits {
    /// Starts at minus the fuel; compiled code adds what it runs and traps
    /// once it is above zero.
    pub(crate) fuel_consumed: AtomicI64,
    /// Non-zero: compiled code traps "interrupt" at its next check.
    pub(crate) interrupt: AtomicU64,
}

impl Default for VMStoreLimits {
    /// Fuel unlimited (`i64::MAX` left) until `Store::set_fuel`, so code
    /// built with fuel counting runs in a store that does not meter it;
    /// not interrupted.
    fn default() -> Self {
        VMStoreLimits {
            fuel_consumed: AtomicI64::new(-i64::MAX),
            interrupt: AtomicU64::new(0),
        }
    }
}

/// A store's limits block and the interrupt words of its instances'
/// VMContexts, shared by the store and its [`InterruptHandle`]s.
#[derive(Debug, Default)]
pub(crate) struct SharedLimits {
    /// What compiled code reads through every VMContext's `limits`.
    pub(crate) vm: VMStoreLimits,
    /// Every instance's copy of `vm.interrupt`, kept equal to it.
    copies: Mutex<InterruptCopies>,
}

/// The `VMOffsets::INTERRUPT` words of a store's instances.
#[derive(Debug, Default)]
struct InterruptCopies(Vec<NonNull<AtomicU64>>);

#[expect(
    unsafe_code,
    reason = "VMContext words are written from the interrupting thread"
)]
// SAFETY: the pointers are only dereferenced with the mutex around this
// held, and each is valid while it is in the list (`SharedLimits::register`'s
// contract: the store clears the list before it frees any VMContext). What
// they point at is an `AtomicU64`, which any thread may write.
unsafe impl Send for InterruptCopies {}

impl SharedLimits {
    /// The address compiled code reads as the VMContext's `limits`.
    pub(crate) fn vm_ptr(&self) -> *const VMStoreLimits {
        &self.vm
    }

    fn copies(&self) -> std::sync::MutexGuard<'_, InterruptCopies> {
        // A panic while holding the lock cannot leave the list half
        // written (pushes and clears are whole), so poisoning is ignored.
        self.copies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the store's interrupt word and every instance's copy to
    /// `value`, under the lock, so a concurrent `register` or another
    /// `set_interrupt` never leaves a copy different from the word.
    pub(crate) fn set_interrupt(&self, value: u64) {
        let copies = self.copies();
        self.vm.interrupt.store(value, Ordering::Relaxed);
        for word in &copies.0 {
            // SAFETY: registered words stay valid until `clear`, which
            // needs the lock held here.
            #[expect(unsafe_code, reason = "writes a VMContext's interrupt word")]
            unsafe { word.as_ref() }.store(value, Ordering::Relaxed);
        }
    }

    /// Adds a new instance's interrupt word, set to the store's word
    /// first (under the lock: an interrupt before or after this reaches it).
    ///
    /// # Safety
    /// `word` must stay valid, and be accessed only atomically from Rust,
    /// until [`SharedLimits::clear`] is called.
    #[expect(unsafe_code, reason = "keeps a pointer into a VMContext")]
    pub(crate) unsafe fn register(&self, word: NonNull<AtomicU64>) {
        let mut copies = self.copies();
        // SAFETY: valid per the caller's contract.
        #[expect(unsafe_code, reason = "writes a VMContext's interrupt word")]
        unsafe { word.as_ref() }
            .store(self.vm.interrupt.load(Ordering::Relaxed), Ordering::Relaxed);
        copies.0.push(word);
    }

    /// Forgets every registered word (the store is about to free its
    /// VMContexts); waits for an `interrupt` writing them to finish.
    pub(crate) fn clear(&self) {
        self.copies().0.clear();
    }
}

const _: () = {
    assert!(std::mem::size_of::<VMStoreLimits>() == STORE_LIMITS_SIZE as usize);
    assert!(
        std::mem::offset_of!(VMStoreLimits, fuel_consumed) == STORE_LIMITS_FUEL_CONSUMED as usize
    );
    assert!(std::mem::offset_of!(VMStoreLimits, interrupt) == STORE_LIMITS_INTERRUPT as usize);
};

/// Interrupts a store's running wasm from any thread: code built with
/// `wasmoc build --epoch-interruption` traps with "interrupt"
/// ([`TrapCode::Interrupt`](crate::TrapCode::Interrupt)) at its next
/// function entry or loop header. Get one with
/// [`Store::interrupt_handle`](crate::Store::interrupt_handle).
///
/// The store stays interrupted (every later call traps at its first
/// check) until [`Store::reset_interrupt`](crate::Store::reset_interrupt).
/// Code built without the checks is not stopped. The handle keeps only
/// the store's limits block alive, not the store.
#[derive(Debug, Clone)]
pub struct InterruptHandle {
    pub(crate) limits: Arc<SharedLimits>,
}

impl InterruptHandle {
    /// Asks the store's running (or next) wasm code to trap.
    pub fn interrupt(&self) {
        self.limits.set_interrupt(1);
    }

    /// Whether the store is interrupted.
    pub fn is_interrupted(&self) -> bool {
        self.limits.vm.interrupt.load(Ordering::Relaxed) != 0
    }
}

/// Fuel as the store keeps it: remaining = `-fuel_consumed`, never
/// below zero.
pub(crate) fn remaining_fuel(limits: &VMStoreLimits) -> u64 {
    let consumed = limits.fuel_consumed.load(Ordering::Relaxed);
    if consumed >= 0 {
        0
    } else {
        consumed.unsigned_abs()
    }
}

/// Sets the remaining fuel (at most `i64::MAX`).
pub(crate) fn set_fuel(limits: &VMStoreLimits, fuel: u64) {
    let fuel = i64::try_from(fuel).unwrap_or(i64::MAX);
    limits.fuel_consumed.store(-fuel, Ordering::Relaxed);
}

impl<T> crate::Store<T> {
    /// Replaces the store's size and count limits. They apply to what is
    /// created and grown from now on.
    pub fn set_limits(&mut self, limits: StoreLimits) {
        self.as_context_mut().opaque_mut().limits = limits;
    }

    /// The store's size and count limits.
    pub fn limits(&self) -> StoreLimits {
        self.as_context().opaque().limits
    }

    /// Sets the fuel the store's wasm may still use: one unit per operator
    /// executed by code built with `wasmoc build --consume-fuel`; when it
    /// runs out the code traps with "all fuel consumed"
    /// ([`TrapCode::OutOfFuel`](crate::TrapCode::OutOfFuel)). From then
    /// on the store only instantiates modules built with fuel counting
    /// (others could run without bound).
    pub fn set_fuel(&mut self, fuel: u64) {
        let mut ctx = self.as_context_mut();
        let o = ctx.opaque_mut();
        o.fuel_enabled = true;
        set_fuel(&o.vm_limits.vm, fuel);
    }

    /// The fuel left (0 once it ran out; `i64::MAX` until
    /// [`Store::set_fuel`](crate::Store::set_fuel) is first called, which
    /// is as good as unlimited). The count is deterministic: the
    /// same calls with the same arguments leave the same fuel.
    pub fn get_fuel(&self) -> u64 {
        remaining_fuel(&self.as_context().opaque().vm_limits.vm)
    }

    /// A handle that interrupts this store's wasm from another thread.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        InterruptHandle {
            limits: Arc::clone(&self.as_context().opaque().vm_limits),
        }
    }

    /// Ends an interruption: calls run again until the next
    /// [`InterruptHandle::interrupt`].
    pub fn reset_interrupt(&mut self) {
        self.as_context_mut()
            .opaque_mut()
            .vm_limits
            .set_interrupt(0);
    }

    /// Sets the usable native stack size of this store's calls into wasm
    /// (rounded up to pages, at least 256 KiB; `-W max-wasm-stack=N`).
    /// Recursion deeper than it allows traps with "call stack exhausted",
    /// and a host function called with less than 128 KiB of it left fails
    /// the same way instead of running.
    pub fn set_wasm_stack_size(&mut self, bytes: usize) {
        self.as_context_mut().opaque_mut().wasm_stack_size =
            crate::traphandler::clamp_wasm_stack_size(bytes);
    }

    /// The usable native stack size of this store's calls into wasm.
    pub fn wasm_stack_size(&self) -> usize {
        self.as_context().opaque().wasm_stack_size
    }
}

/// What instantiating a module with `header`, defining `memories`
/// memories and `tables` tables, must satisfy in store `o`: the count
/// limits, and fuel counting in the code when the store meters fuel.
/// Checked before anything is created, so a refused instantiation
/// leaves the store as it was.
pub(crate) fn check_instantiation(
    o: &crate::store::StoreOpaque,
    header: &wasmo_artifact_format::Header,
    memories: usize,
    tables: usize,
) -> Result<(), crate::InstantiationError> {
    let l = &o.limits;
    StoreLimits::check_count(o.instances.len(), l.max_instances, "instances")?;
    // `check_count` refuses when `held >= max`: with `n` to add, the
    // last one is added when `held + n - 1` are held.
    if memories > 0 {
        StoreLimits::check_count(o.memories.len() + memories - 1, l.max_memories, "memories")?;
    }
    if tables > 0 {
        StoreLimits::check_count(o.tables.len() + tables - 1, l.max_tables, "tables")?;
    }
    if o.fuel_enabled && !header.instrumentation.consume_fuel() {
        return Err(crate::InstantiationError::Resource(
            "the store meters fuel but the module was built without fuel counting; \
             rebuild it with `wasmoc build --consume-fuel`"
                .into(),
        ));
    }
    Ok(())
}

impl crate::store::StoreOpaque {
    /// The most elements any table of this store may grow to: the
    /// loader's `MAX_TABLE_ELEMENTS`, or the store's limit if lower.
    /// (`table.grow` and `Table::grow` must answer -1/failure past it.)
    pub(crate) fn max_table_elements(&self) -> u64 {
        let loader = crate::MAX_TABLE_ELEMENTS;
        self.limits
            .max_table_elements
            .map_or(loader, |l| l.min(loader))
    }
}
