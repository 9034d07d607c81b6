//! Running wasm and catching its traps: the loader's one module of stack
//! switching and signal handling.
//!
//! How it works:
//! - Every host-to-wasm entry ([`call_array`]) runs the array trampoline on
//!   a wasm stack, a mapping with a guard page below it, switched to by a
//!   few lines of assembly (`wasmo_enter`: the callee-saved registers and
//!   the host stack pointer saved, the stack pointer set to the wasm
//!   stack's top, the trampoline called). Nothing stays on a wasm stack
//!   between calls, so a stack is reused as is (one idle stack and a small
//!   pool per thread, [`WasmStack`]) and an entry costs no set-up. An
//!   [`Activation`] on the host stack, linked from the thread-local
//!   `CURRENT`, describes the entry: the saved host stack pointer, the
//!   stack bounds, and the slots a trap leaves its cause in. Nested
//!   entries (wasm -> host -> wasm) push further activations, each on a
//!   stack of its own.
//! - A trap raised by code (`wasmo_helper_trap`, a host function's error)
//!   calls [`raise`], which leaves its [`Unwind`] in the activation and
//!   jumps to `wasmo_leave`: the host stack pointer and callee-saved
//!   registers come back and `wasmo_enter` returns, abandoning the wasm
//!   frames without running anything on them (setjmp/longjmp, with the
//!   host frame as the jump buffer). The trap helper takes no code: it
//!   looks its return address up in the module's trap table, registered
//!   here with the module's text.
//! - A hardware fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE) is caught by one
//!   process-wide handler (installed once, SA_ONSTACK, an alternate signal
//!   stack per thread). If the thread is inside wasm, the stack pointer is in
//!   the current wasm stack and the faulting PC is in registered wasm text
//!   (or the fault hit the stack's guard page), the handler walks the frame
//!   pointers into a fixed array (see [`frameless_return`] for faults
//!   before a function's frame is set up), records the trap in the
//!   activation and makes the interrupted context continue in
//!   `wasmo_leave`. A fault in wasm text that no check explains (a
//!   wild access, `int3` padding, a jump from wasm to an address that is
//!   not code) becomes the `UnexpectedFault` trap: compiled code never
//!   takes the process down. Any other fault is passed on to the previous
//!   handler (or the default action), so a genuine host crash stays a
//!   crash.
//!
//! Rule: nothing that needs `Drop` may live on a wasm stack when a trap
//! can discard it, and the signal handler must stay async-signal-safe: no
//! allocation, no blocking lock (it spins on `try_read`), no panics.

#![allow(
    unsafe_code,
    reason = "stack switching, signal handling and calls into compiled code"
)]

use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Once, OnceLock, PoisonError, RwLock, RwLockReadGuard, TryLockError, Weak};

use std::mem::MaybeUninit;

use corosensei::stack::{DefaultStack, Stack};
use wasmo_artifact_format::TrapCode;

use crate::error::FrameInfo;
use crate::module::ModuleInner;

/// Usable bytes of each wasm stack (the guard page comes on top).
pub(crate) const DEFAULT_WASM_STACK_SIZE: usize = 2 << 20;
/// The usable size of stacks made from now on (see [`set_wasm_stack_size`]).
static WASM_STACK_SIZE: AtomicUsize = AtomicUsize::new(DEFAULT_WASM_STACK_SIZE);
/// A host function is only called from wasm with at least this much stack
/// left; otherwise the call traps with "call stack exhausted".
pub(crate) const HOST_STACK_RESERVE: usize = 128 << 10;
/// Frames kept in a trap's backtrace.
pub(crate) const MAX_FRAMES: usize = 64;
/// Size of the alternate signal stack made for threads that have none.
const ALT_STACK_SIZE: usize = 64 << 10;
/// Stacks kept per thread for reuse.
const STACK_POOL: usize = 4;

/// A trap's raw backtrace: PCs (inside the instruction that trapped or
/// called) of the wasm frames, innermost first. Fixed-size so the signal
/// handler can fill it without allocating.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawBacktrace {
    pcs: [usize; MAX_FRAMES],
    len: usize,
}

impl RawBacktrace {
    const EMPTY: RawBacktrace = RawBacktrace {
        pcs: [0; MAX_FRAMES],
        len: 0,
    };

    /// No frames.
    pub(crate) fn empty() -> RawBacktrace {
        RawBacktrace::EMPTY
    }

    fn push(&mut self, pc: usize) -> bool {
        if self.len == MAX_FRAMES {
            return false;
        }
        self.pcs[self.len] = pc;
        self.len += 1;
        true
    }

    /// The frames, symbolised with the registered modules' names.
    pub(crate) fn symbolize(&self) -> Vec<FrameInfo> {
        let reg = read_registry();
        self.pcs[..self.len]
            .iter()
            .filter_map(|&pc| {
                let (start, entry) = reg.code_at(pc)?;
                let module = entry.module.upgrade()?;
                module.frame_info(pc - start)
            })
            .collect()
    }
}

/// Why wasm code stopped before returning.
#[derive(Debug)]
pub(crate) enum Unwind {
    /// A trap.
    Trap {
        code: TrapCode,
        backtrace: Box<RawBacktrace>,
    },
    /// A host function asked to exit.
    Exit(i32),
    /// A host function failed with a message.
    Host(String),
    /// A wasm exception (its `exnref`) no wasm frame caught.
    Exception(u64),
}

/// Signature of an array-call trampoline and of a host array function.
pub(crate) type ArrayFn = unsafe extern "C" fn(*mut u8, *mut u8, *mut u8, usize);

/// One host-to-wasm entry on this thread.
struct Activation {
    prev: *const Activation,
    /// The host stack pointer [`wasmo_enter`] saved, which
    /// [`wasmo_leave`] goes back to.
    host_sp: UnsafeCell<usize>,
    /// Why [`raise`] abandoned the call (uninitialised unless it did, so
    /// a call that returns drops nothing).
    unwind: UnsafeCell<MaybeUninit<Unwind>>,
    /// The trap the signal handler found (it cannot allocate, so the
    /// entry boxes the backtrace).
    fault: UnsafeCell<MaybeUninit<Fault>>,
    /// Lowest address of the stack mapping (start of the guard page).
    stack_limit: usize,
    /// End of the guard page.
    guard_end: usize,
    /// Highest address of the stack.
    stack_base: usize,
}

/// A trap the signal handler recorded in the activation.
struct Fault {
    code: TrapCode,
    backtrace: RawBacktrace,
}

/// How [`wasmo_enter`] came back: the call returned, [`raise`] abandoned
/// it, or the signal handler did.
const RETURNED: u32 = 0;
const RAISED: u32 = 1;
const FAULTED: u32 = 2;

/// A wasm stack: a mapping with a guard page below it. Nothing lives on
/// it between calls (each entry starts at its top and a trap just leaves
/// it), so it is reused as is after a trap.
struct WasmStack {
    /// Owns the mapping.
    _stack: DefaultStack,
    /// The usable size it was made for (a store's `wasm_stack_size`).
    requested: usize,
    /// Lowest address of the mapping (start of the guard page).
    stack_limit: usize,
    /// End of the guard page.
    guard_end: usize,
    /// Highest address of the stack.
    stack_base: usize,
}

impl WasmStack {
    fn new(stack: DefaultStack, requested: usize) -> WasmStack {
        let stack_limit = stack.limit().get();
        let stack_base = stack.base().get();
        WasmStack {
            _stack: stack,
            requested,
            stack_limit,
            guard_end: stack_limit + crate::vm::host_page_size(),
            stack_base,
        }
    }

    /// A wasm stack of `requested` usable bytes: this thread's idle one
    /// (the last one given back), else one of that size from the pool, or
    /// a new one. Boxed, so that the common case (`IDLE`) moves one
    /// pointer.
    #[inline]
    fn take(requested: usize) -> std::io::Result<Box<WasmStack>> {
        let idle = IDLE
            .try_with(|c| c.replace(std::ptr::null_mut()))
            .unwrap_or(std::ptr::null_mut());
        // SAFETY: a pointer in `IDLE` other than null and `GONE` is a
        // stack `give_back` leaked there, which this thread owns alone;
        // it was taken out above, so nothing else frees or uses it.
        if idle.addr() > GONE.addr() && unsafe { (*idle).requested } == requested {
            // SAFETY: as above; made by `Box::into_raw` in `give_back`.
            return Ok(unsafe { Box::from_raw(idle) });
        }
        WasmStack::take_other(idle, requested)
    }

    /// [`WasmStack::take`] when the idle stack is missing (a nested entry,
    /// the thread's first), of another store's size (kept for that
    /// store's next call), or the thread is exiting (`GONE`).
    #[cold]
    #[inline(never)]
    fn take_other(idle: *mut WasmStack, requested: usize) -> std::io::Result<Box<WasmStack>> {
        if idle == GONE {
            let _ = IDLE.try_with(|c| c.set(GONE));
        } else if !idle.is_null() {
            // SAFETY: as in `take`: a stack `give_back` leaked, taken out
            // of `IDLE`, owned here alone.
            unsafe { Box::from_raw(idle) }.keep();
        }
        let pooled = STACKS
            .try_with(|s| {
                let mut s = s.borrow_mut();
                let i = s.0.iter().rposition(|w| w.requested == requested)?;
                Some(s.0.swap_remove(i))
            })
            .ok()
            .flatten();
        if let Some(ws) = pooled {
            return Ok(Box::new(ws));
        }
        install_signal_handlers();
        ensure_alt_stack();
        DefaultStack::new(requested).map(|s| Box::new(WasmStack::new(s, requested)))
    }

    /// Makes this the thread's idle stack for its next entry.
    #[inline]
    fn give_back(self: Box<Self>) {
        let ws = Box::into_raw(self);
        match IDLE.try_with(|c| c.replace(ws)) {
            Ok(older) if older.is_null() => {}
            Ok(older) => WasmStack::give_back_other(older),
            // SAFETY: `ws` came from `Box::into_raw` above and went
            // nowhere (the thread-local is unreachable).
            Err(_) => drop(unsafe { Box::from_raw(ws) }),
        }
    }

    /// [`WasmStack::give_back`] when `IDLE` held `older`: another stack
    /// (nested entries each had one), which goes to the pool, or `GONE`
    /// (the thread is exiting), when the stack just given back is freed.
    #[cold]
    #[inline(never)]
    fn give_back_other(older: *mut WasmStack) {
        if older == GONE {
            if let Ok(ws) = IDLE.try_with(|c| c.replace(GONE)) {
                if ws.addr() > GONE.addr() {
                    // SAFETY: the stack `give_back` just leaked into
                    // `IDLE`, taken out again, owned here alone.
                    drop(unsafe { Box::from_raw(ws) });
                }
            }
        } else {
            // SAFETY: a stack `give_back` leaked into `IDLE` earlier,
            // replaced there (so taken out), owned here alone.
            unsafe { Box::from_raw(older) }.keep();
        }
    }

    /// Puts an idle stack in the pool (or frees it when the pool is full).
    fn keep(self) {
        let _ = STACKS.try_with(|s| {
            let mut s = s.borrow_mut();
            if s.0.len() < STACK_POOL {
                s.0.push(self);
            }
        });
    }
}

/// A thread's pool of idle wasm stacks; dropping it (at thread exit)
/// also frees the stack in `IDLE` and leaves `GONE` there, so that a
/// stack given back later (wasm run by another thread-local's
/// destructor) is freed, not leaked.
struct Pool(Vec<WasmStack>);

impl Drop for Pool {
    fn drop(&mut self) {
        if let Ok(ws) = IDLE.try_with(|c| c.replace(GONE)) {
            if ws.addr() > GONE.addr() {
                // SAFETY: a stack `give_back` leaked into `IDLE`, taken
                // out above, owned here alone.
                drop(unsafe { Box::from_raw(ws) });
            }
        }
    }
}

/// In `IDLE` once the thread's pool is gone: idle stacks are no longer
/// kept.
const GONE: *mut WasmStack = std::ptr::without_provenance_mut(1);

thread_local! {
    static CURRENT: Cell<*const Activation> = const { Cell::new(std::ptr::null()) };
    /// The thread's idle wasm stack, leaked from its `Box` (null when
    /// there is none, `GONE` after the pool): a raw pointer, so the
    /// thread-local has no destructor and an access is a plain
    /// thread-local load, without the lazy registration check a `Drop`
    /// value costs. The pool's destructor frees it. Every stack reaches
    /// `IDLE` after a `take_other`, which made the pool (and registered
    /// its destructor) first.
    static IDLE: Cell<*mut WasmStack> = const { Cell::new(std::ptr::null_mut()) };
    static STACKS: RefCell<Pool> = const { RefCell::new(Pool(Vec::new())) };
    static ALT_STACK: RefCell<Option<AltStack>> = const { RefCell::new(None) };
}

#[inline]
fn current() -> *const Activation {
    CURRENT.try_with(Cell::get).unwrap_or(std::ptr::null())
}

#[inline]
fn set_current(act: *const Activation) {
    let _ = CURRENT.try_with(|c| c.set(act));
}

/// An array call into wasm: `func(callee_vmctx, caller_vmctx, values, len)`.
/// `repr(C)`: [`wasmo_enter`] reads the first five fields by offset.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct ArrayCall {
    /// The array-call trampoline (or host array function).
    pub(crate) func: ArrayFn,
    pub(crate) callee_vmctx: *mut u8,
    pub(crate) caller_vmctx: *mut u8,
    pub(crate) values: *mut u8,
    pub(crate) len: usize,
    /// Usable bytes of the stack to run on (the store's size).
    pub(crate) stack_size: usize,
    /// The store's `host_stack_limit`: set to this entry's stack for the
    /// call, then given its outer value back.
    pub(crate) host_stack_limit: *mut usize,
}

const _: () = {
    assert!(std::mem::offset_of!(ArrayCall, func) == 0);
    assert!(std::mem::offset_of!(ArrayCall, callee_vmctx) == 8);
    assert!(std::mem::offset_of!(ArrayCall, caller_vmctx) == 16);
    assert!(std::mem::offset_of!(ArrayCall, values) == 24);
    assert!(std::mem::offset_of!(ArrayCall, len) == 32);
};

/// Runs `call` on a wasm stack and returns how it ended.
///
/// # Safety
///
/// `call.func` must be an array-call trampoline of a loaded, live module (or
/// a host array function), `callee_vmctx`/`caller_vmctx` live VMContexts (or
/// host contexts) it expects, and `values` must point at `len` writable
/// `ValRaw` slots holding the arguments. Everything they reference must
/// stay alive until this returns. `host_stack_limit` must point at the
/// `StoreOpaque::host_stack_limit` of the store whose code this runs,
/// reached through the store's raw pointer (no reference into the store
/// may be live during the call).
#[inline]
pub(crate) unsafe fn call_array(call: ArrayCall) -> Result<(), Unwind> {
    let ws = WasmStack::take(call.stack_size).map_err(no_stack)?;
    // Host functions called from wasm during this entry check the stack
    // pointer against this (`func::host_array_call`); an outer entry of
    // the same store gets its own back below, however this one ends.
    // SAFETY: per the contract, a valid field of the live store, which
    // no reference covers while wasm runs.
    let outer_limit = unsafe {
        call.host_stack_limit
            .replace(ws.guard_end + HOST_STACK_RESERVE)
    };
    let act = Activation {
        prev: current(),
        host_sp: UnsafeCell::new(0),
        unwind: UnsafeCell::new(MaybeUninit::uninit()),
        fault: UnsafeCell::new(MaybeUninit::uninit()),
        stack_limit: ws.stack_limit,
        guard_end: ws.guard_end,
        stack_base: ws.stack_base,
    };
    set_current(&act);
    // SAFETY: `ws` is a mapped stack no one else uses (taken from this
    // thread's idle slot or pool, or new) whose top is 16-byte aligned
    // (a page boundary); `act.host_sp` outlives the call; `call` is
    // vouched for by our caller. `CURRENT` names `act`, so `raise` and the
    // signal handler return here through it.
    let how = unsafe { wasmo_enter(&call, ws.stack_base, act.host_sp.get()) };
    set_current(act.prev);
    // SAFETY: as above; the entry is over, nothing else writes it.
    unsafe { call.host_stack_limit.write(outer_limit) };
    ws.give_back();
    if how == RETURNED {
        Ok(())
    } else {
        Err(abandoned(how, &act))
    }
}

#[cold]
#[inline(never)]
fn no_stack(e: std::io::Error) -> Unwind {
    Unwind::Host(format!("cannot allocate a wasm stack: {e}"))
}

/// Why the entry of `act` came back with `how` other than `RETURNED`.
#[cold]
#[inline(never)]
fn abandoned(how: u32, act: &Activation) -> Unwind {
    match how {
        FAULTED => {
            // SAFETY: the signal handler wrote `fault` before it made
            // `wasmo_enter` return `FAULTED`, and it is read only here.
            let f = unsafe { (*act.fault.get()).assume_init_read() };
            Unwind::Trap {
                code: f.code,
                backtrace: Box::new(f.backtrace),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        UNSUPPORTED => Unwind::Host(
            "running wasm needs an x86-64 host: the stack switch has no port to this \
             architecture yet"
                .into(),
        ),
        // SAFETY: `raise` wrote `unwind` before it made `wasmo_enter`
        // return `RAISED`, and it is read only here.
        RAISED => unsafe { (*act.unwind.get()).assume_init_read() },
        _ => Unwind::Host(format!("wasm call ended with unknown code {how}")),
    }
}

// `wasmo_enter(call: *const ArrayCall, stack_top: usize, host_sp: *mut
// usize) -> u32`: saves the callee-saved registers on the host stack and
// the host stack pointer at `host_sp`, switches to `stack_top` and calls
// `call.func(call.callee_vmctx, call.caller_vmctx, call.values,
// call.len)`; returns `RETURNED` when that returns. `rbp` stays the host
// frame's through the call (the callee saves it), which is how the normal
// return finds the host stack again, and what the CFI says, so debuggers
// and the unwinder see the host frames above the wasm ones.
//
// `wasmo_leave(host_sp: *const usize, how: u32) -> !`: abandons whatever
// runs on the wasm stack and returns `how` from the `wasmo_enter` that
// saved `host_sp`. [`raise`] calls it; the signal handler makes the
// interrupted context continue in it.
#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".text",
    ".p2align 4",
    // Global (hidden: not exported from a shared object), since an entry
    // inlined into another crate calls it.
    ".globl wasmo_enter",
    ".hidden wasmo_enter",
    ".type wasmo_enter, @function",
    "wasmo_enter:",
    ".cfi_startproc",
    "push rbp",
    ".cfi_def_cfa_offset 16",
    ".cfi_offset rbp, -16",
    "mov rbp, rsp",
    ".cfi_def_cfa_register rbp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    ".cfi_offset rbx, -24",
    ".cfi_offset r12, -32",
    ".cfi_offset r13, -40",
    ".cfi_offset r14, -48",
    ".cfi_offset r15, -56",
    "mov [rdx], rsp",
    "mov rax, rdi",
    "mov rsp, rsi",
    "mov rdi, [rax + 8]",
    "mov rsi, [rax + 16]",
    "mov rdx, [rax + 24]",
    "mov rcx, [rax + 32]",
    "call [rax]",
    "lea rsp, [rbp - 40]",
    "xor eax, eax",
    // `wasmo_leave` joins here with its `how` in eax.
    "2:",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    ".cfi_def_cfa rsp, 8",
    "ret",
    ".cfi_endproc",
    ".size wasmo_enter, . - wasmo_enter",
    "",
    ".globl wasmo_leave",
    ".hidden wasmo_leave",
    ".type wasmo_leave, @function",
    "wasmo_leave:",
    "mov rsp, [rdi]",
    "mov eax, esi",
    "jmp 2b",
    ".size wasmo_leave, . - wasmo_leave",
);

#[cfg(target_arch = "x86_64")]
unsafe extern "C" {
    /// See the `global_asm!` above.
    fn wasmo_enter(call: *const ArrayCall, stack_top: usize, host_sp: *mut usize) -> u32;
    /// See the `global_asm!` above.
    fn wasmo_leave(host_sp: *const usize, how: u32) -> !;
}

/// No stack switch on this architecture yet: every call into wasm fails.
///
/// # Safety
///
/// None needed; `unsafe` to match the x86-64 version.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn wasmo_enter(_call: *const ArrayCall, _top: usize, _host_sp: *mut usize) -> u32 {
    UNSUPPORTED
}

/// [`wasmo_enter`] on an architecture it has no port to.
#[cfg(not(target_arch = "x86_64"))]
const UNSUPPORTED: u32 = 3;

/// Never reached on this architecture: nothing runs on a wasm stack.
///
/// # Safety
///
/// None needed.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn wasmo_leave(_host_sp: *const usize, _how: u32) -> ! {
    std::process::abort()
}

/// Sets the default usable stack size of stores made from now on (see
/// [`clamp_wasm_stack_size`]).
pub(crate) fn set_wasm_stack_size(bytes: usize) {
    WASM_STACK_SIZE.store(clamp_wasm_stack_size(bytes), Ordering::Relaxed);
}

/// The default usable stack size of a new store.
pub(crate) fn default_wasm_stack_size() -> usize {
    WASM_STACK_SIZE.load(Ordering::Relaxed)
}

/// A usable stack size as entries use it: at least twice
/// [`HOST_STACK_RESERVE`], so a host function can always be called from
/// the first wasm frame.
pub(crate) fn clamp_wasm_stack_size(bytes: usize) -> usize {
    bytes.max(2 * HOST_STACK_RESERVE)
}

/// Bytes of wasm stack left below the current point, if running on one.
pub(crate) fn stack_left() -> Option<usize> {
    let act = current();
    if act.is_null() {
        return None;
    }
    let marker = 0u8;
    let sp = &marker as *const u8 as usize;
    // SAFETY: a non-null `CURRENT` points at a live activation (it is reset
    // before the activation's frame ends).
    let act = unsafe { &*act };
    if sp < act.guard_end || sp >= act.stack_base {
        return None;
    }
    Some(sp - act.guard_end)
}

/// Abandons the running wasm code, returning `unwind` from the innermost
/// [`call_array`]. Must be called on that entry's wasm stack (from a helper
/// or host function called by wasm); aborts otherwise.
pub(crate) fn raise(unwind: Unwind) -> ! {
    let act = current();
    if act.is_null() || stack_left().is_none() {
        // Not inside wasm: there is nothing to unwind to.
        std::process::abort();
    }
    // SAFETY: non-null `CURRENT` points at a live activation, whose
    // `wasmo_enter` is running below us on this thread (we are on its
    // stack, checked above). The frames `wasmo_leave` abandons are wasm
    // frames, trampolines and `raise`'s callers, none of which holds
    // anything that needs dropping (the module rule); `unwind` has moved
    // into the activation.
    unsafe {
        (*act).unwind.get().write(MaybeUninit::new(unwind));
        wasmo_leave((*act).host_sp.get(), RAISED)
    }
}

/// Builds the backtrace of a trap at `pc` with frame pointer `fp`;
/// `frameless_ret` is the return address into the caller when the
/// innermost function had not set up its frame yet (see
/// [`frameless_return`]), so `fp` is still the caller's.
fn walk(
    reg: &Registry,
    act: &Activation,
    first_pc: usize,
    frameless_ret: Option<usize>,
    mut fp: usize,
) -> RawBacktrace {
    let mut bt = RawBacktrace::EMPTY;
    if reg.code_at(first_pc).is_some() {
        bt.push(first_pc);
    }
    if let Some(ret) = frameless_ret {
        bt.push(ret - 1);
    }
    while fp >= act.guard_end
        && fp.is_multiple_of(8)
        && fp.checked_add(16).is_some_and(|e| e <= act.stack_base)
    {
        // SAFETY: `fp..fp + 16` lies in the mapped part of the current
        // wasm stack (checked above), so the reads cannot fault.
        let (next, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
        if reg.code_at(ret).is_none() || !bt.push(ret - 1) || next <= fp {
            break;
        }
        fp = next;
    }
    bt
}

/// `wasmo_helper_trap(vmctx)`: records the caller's return address and
/// frame pointer and continues in [`trap_helper`], which finds the trap
/// code by the return address in the module's trap table.
///
/// # Safety
///
/// Only compiled wasm calls this, on a wasm stack, per the helper ABI.
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
pub(crate) unsafe extern "C" fn wasmo_helper_trap(_vmctx: *mut u8) -> ! {
    // rsi = return address into wasm, rdx = the wasm caller's frame
    // pointer; a tail jump keeps the stack as the call left it.
    core::arch::naked_asm!("mov rsi, [rsp]", "mov rdx, rbp", "jmp {imp}", imp = sym trap_helper)
}

/// `wasmo_helper_trap(vmctx)` where the return address cannot be captured
/// (no artifact for such a target links yet).
///
/// # Safety
///
/// Only compiled wasm calls this, on a wasm stack, per the helper ABI.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) unsafe extern "C" fn wasmo_helper_trap(vmctx: *mut u8) -> ! {
    trap_helper(vmctx, 0, 0)
}

extern "C" fn trap_helper(_vmctx: *mut u8, ret: usize, fp: usize) -> ! {
    let code = {
        let reg = read_registry();
        reg.code_at(ret.wrapping_sub(1)).and_then(|(start, entry)| {
            let off = u32::try_from(ret - start).ok()?;
            let i = entry.tables.trap_offsets.binary_search(&off).ok()?;
            TrapCode::from_u8(*entry.tables.trap_codes.get(i)?)
        })
    };
    let Some(code) = code else {
        // The artifact's trap table does not list this call: a broken
        // artifact or compiler bug, not something to guess a code for.
        raise(Unwind::Host(format!(
            "trap helper called from {ret:#x}, which is not in any module's trap table"
        )))
    };
    raise(Unwind::Trap {
        code,
        backtrace: Box::new(backtrace_from(ret, fp)),
    })
}

/// For a fault at `pc` with stack pointer `sp`: the return address into
/// the caller if the faulting wasm function has not pushed its frame yet.
///
/// Compiled code keeps frame pointers, but LLVM's shrink-wrapping may
/// place a function's prologue (`push rbp; mov rbp, rsp`) in a cold block
/// only (typically the one calling a trap helper), so its fast path runs
/// with `rbp` still the caller's and the return address at `[rsp]`, with
/// nothing else pushed. A plain `rbp` walk would then skip the caller. We
/// take the frameless reading only when the function does not begin with
/// the prologue (or the fault is the prologue's first instruction) and
/// `[rsp]` is a return address into registered text just past a `call`
/// that could have reached this function: an indirect call, or a direct
/// call to the entry of any function, since the function called may have
/// tail-called this one (`return_call`), which leaves the return address
/// as the call left it. The worst a misreading can do (a framed function
/// whose `[rsp]` slot happens to hold such an address) is one extra frame.
fn frameless_return(reg: &Registry, act: &Activation, pc: usize, sp: usize) -> Option<usize> {
    let (start, entry) = reg.code_at(pc)?;
    let func = start + entry.func_start(pc - start)?;
    let read_code = |from: usize, len: usize| reg.code_bytes(from, len);
    const PROLOGUE: [u8; 4] = [0x55, 0x48, 0x89, 0xe5];
    if pc != func && read_code(func, 4) == Some(&PROLOGUE[..]) {
        return None;
    }
    let ret = stack_word(act, sp)?;
    reg.code_at(ret.checked_sub(1)?)?;
    let direct = read_code(ret.checked_sub(5)?, 5).is_some_and(|b| {
        let rel = i32::from_le_bytes([b[1], b[2], b[3], b[4]]);
        b[0] == 0xe8 && reg.is_func_start(ret.wrapping_add_signed(rel as isize))
    });
    (direct || is_indirect_call_before(ret, read_code)).then_some(ret)
}

/// The word at `sp`, if it lies in the mapped part of `act`'s stack.
fn stack_word(act: &Activation, sp: usize) -> Option<usize> {
    if sp < act.guard_end
        || sp.checked_add(8).is_none_or(|e| e > act.stack_base)
        || !sp.is_multiple_of(8)
    {
        return None;
    }
    // SAFETY: `sp..sp + 8` lies in the mapped part of the current
    // wasm stack (checked above).
    Some(unsafe { *(sp as *const usize) })
}

/// Whether the bytes just before `ret` are an indirect `call` (`ff /2`,
/// any ModRM form: register, `[reg]`, `[reg + disp8/32]`, SIB, RIP-relative),
/// possibly after a REX prefix, ending exactly at `ret`.
fn is_indirect_call_before<'a>(
    ret: usize,
    read_code: impl Fn(usize, usize) -> Option<&'a [u8]>,
) -> bool {
    (2..=7).any(|len| {
        let Some(b) = ret.checked_sub(len).and_then(|at| read_code(at, len)) else {
            return false;
        };
        let (op, modrm) = (b[0], b[1]);
        if op != 0xff || (modrm >> 3) & 7 != 2 {
            return false;
        }
        let (md, rm) = (modrm >> 6, modrm & 7);
        let sib = md != 3 && rm == 4;
        let base_disp32 = sib && md == 0 && b.get(2).is_some_and(|s| s & 7 == 5);
        let disp = match md {
            0 if rm == 5 || base_disp32 => 4,
            1 => 1,
            2 => 4,
            _ => 0,
        };
        2 + usize::from(sib) + disp == len
    })
}

/// The wasm frames above a call from wasm that returns to `ret` with the
/// caller's frame pointer `fp` (empty when not on a wasm stack).
pub(crate) fn backtrace_from(ret: usize, fp: usize) -> RawBacktrace {
    let act = current();
    if act.is_null() || stack_left().is_none() {
        return RawBacktrace::EMPTY;
    }
    let reg = read_registry();
    // SAFETY: non-null `CURRENT` points at a live activation.
    walk(&reg, unsafe { &*act }, ret.wrapping_sub(1), None, fp)
}

// ---------------------------------------------------------------------------
// The registry of wasm text and linear-memory reservations.

/// A registered range of wasm text.
pub(crate) struct CodeEntry {
    end: usize,
    tables: CodeTables,
    module: Weak<ModuleInner>,
}

/// What the trap helper and the signal handler need to know about a
/// module's text, copied out of its metadata so that no lookup touches the
/// module itself (the signal handler must not upgrade a `Weak`).
pub(crate) struct CodeTables {
    /// The trap table's return-address text offsets, ascending.
    pub(crate) trap_offsets: Box<[u32]>,
    /// The trap code of each offset.
    pub(crate) trap_codes: Box<[u8]>,
    /// Text offset of each defined function's entry, ascending.
    pub(crate) func_starts: Box<[u32]>,
}

impl CodeEntry {
    /// The entry of the function containing text offset `off`.
    fn func_start(&self, off: usize) -> Option<usize> {
        let starts = &self.tables.func_starts;
        let i = starts
            .partition_point(|&s| s as usize <= off)
            .checked_sub(1)?;
        Some(starts[i] as usize)
    }
}

struct Registry {
    code: BTreeMap<usize, CodeEntry>,
    /// Memory reservation start -> end.
    memories: BTreeMap<usize, usize>,
}

impl Registry {
    fn code_at(&self, pc: usize) -> Option<(usize, &CodeEntry)> {
        let (&start, e) = self.code.range(..=pc).next_back()?;
        (pc < e.end).then_some((start, e))
    }

    /// Whether `addr` is the entry of a function of registered text.
    fn is_func_start(&self, addr: usize) -> bool {
        self.code_at(addr)
            .is_some_and(|(start, e)| e.func_start(addr - start) == Some(addr - start))
    }

    /// The bytes `from..from + len`, if they lie in one registered text.
    fn code_bytes(&self, from: usize, len: usize) -> Option<&[u8]> {
        let (s, e) = self.code_at(from)?;
        let end = from.checked_add(len)?;
        (end <= e.end && from >= s).then(|| {
            // SAFETY: `from..end` lies in registered text, which stays
            // mapped readable while registered (the caller holds the
            // registry, so it cannot be unregistered meanwhile).
            unsafe { std::slice::from_raw_parts(from as *const u8, len) }
        })
    }

    fn in_memory(&self, addr: usize) -> bool {
        self.memories
            .range(..=addr)
            .next_back()
            .is_some_and(|(_, &end)| addr < end)
    }
}

static REGISTRY: RwLock<Registry> = RwLock::new(Registry {
    code: BTreeMap::new(),
    memories: BTreeMap::new(),
});

fn read_registry() -> RwLockReadGuard<'static, Registry> {
    REGISTRY.read().unwrap_or_else(PoisonError::into_inner)
}

/// Registers a module's text `start..start + len`.
///
/// `tables` come from the artifact's metadata, checked (sorted, in the
/// text) by the module loader.
pub(crate) fn register_code(
    start: usize,
    len: usize,
    tables: CodeTables,
    module: Weak<ModuleInner>,
) {
    let mut reg = REGISTRY.write().unwrap_or_else(PoisonError::into_inner);
    reg.code.insert(
        start,
        CodeEntry {
            end: start + len,
            tables,
            module,
        },
    );
}

/// Forgets the text registered at `start`.
pub(crate) fn unregister_code(start: usize) {
    let mut reg = REGISTRY.write().unwrap_or_else(PoisonError::into_inner);
    reg.code.remove(&start);
}

/// Registers a linear memory's reservation.
pub(crate) fn register_memory(start: usize, len: usize) {
    let mut reg = REGISTRY.write().unwrap_or_else(PoisonError::into_inner);
    reg.memories.insert(start, start + len);
}

/// Forgets a linear memory's reservation.
pub(crate) fn unregister_memory(start: usize) {
    let mut reg = REGISTRY.write().unwrap_or_else(PoisonError::into_inner);
    reg.memories.remove(&start);
}

/// The registry from a signal handler: spins briefly on a writer (another
/// thread registering a module or a memory), then yields the CPU to it
/// (`sched_yield` is async-signal-safe; on a loaded machine the writer may
/// have been descheduled inside its short critical section), and gives up
/// after a while (this thread might be the writer, in which case the
/// fault is not in wasm).
fn try_read_registry() -> Option<RwLockReadGuard<'static, Registry>> {
    for round in 0..1_100_000u32 {
        match REGISTRY.try_read() {
            Ok(g) => return Some(g),
            Err(TryLockError::Poisoned(p)) => return Some(p.into_inner()),
            Err(TryLockError::WouldBlock) if round < 1_000_000 => std::hint::spin_loop(),
            Err(TryLockError::WouldBlock) => {
                // SAFETY: sched_yield has no preconditions and is
                // async-signal-safe.
                unsafe { libc::sched_yield() };
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Signals.

/// Every signal compiled code can raise by faulting: memory faults,
/// `ud2` (SIGILL), division (SIGFPE) and `int3` padding (SIGTRAP).
const SIGNALS: [libc::c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGTRAP,
];
static PREVIOUS: [OnceLock<libc::sigaction>; 5] = [
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
];
static INSTALL: Once = Once::new();

fn install_signal_handlers() {
    INSTALL.call_once(|| {
        for (i, &sig) in SIGNALS.iter().enumerate() {
            // SAFETY: a zeroed sigaction is a valid "default" value; we fill
            // in the fields that matter before installing it.
            let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
            new.sa_sigaction = signal_handler as *const () as usize;
            new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            // SAFETY: sa_mask is a valid sigset_t to initialise.
            unsafe { libc::sigemptyset(&mut new.sa_mask) };
            // SAFETY: as above, overwritten by sigaction.
            let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: both pointers are valid; the handler is async-signal-safe.
            if unsafe { libc::sigaction(sig, &new, &mut old) } == 0 {
                let _ = PREVIOUS[i].set(old);
            }
        }
    });
}

/// An alternate signal stack this module made for the thread.
struct AltStack {
    mapping: *mut libc::c_void,
    len: usize,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        if self.mapping.is_null() {
            return;
        }
        // SAFETY: disabling the thread's alternate stack before unmapping it;
        // a zeroed stack_t with SS_DISABLE is valid.
        unsafe {
            let mut ss: libc::stack_t = std::mem::zeroed();
            ss.ss_flags = libc::SS_DISABLE;
            libc::sigaltstack(&ss, std::ptr::null_mut());
            libc::munmap(self.mapping, self.len);
        }
    }
}

fn ensure_alt_stack() {
    let _ = ALT_STACK.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_some() {
            return;
        }
        // SAFETY: querying the current alternate stack into a valid stack_t.
        let mut old: libc::stack_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        unsafe { libc::sigaltstack(std::ptr::null(), &mut old) };
        if old.ss_flags & libc::SS_DISABLE == 0 && old.ss_size >= 16 << 10 {
            *slot = Some(AltStack {
                mapping: std::ptr::null_mut(),
                len: 0,
            });
            return;
        }
        let page = crate::vm::host_page_size();
        let len = ALT_STACK_SIZE + page;
        // SAFETY: a fresh anonymous mapping; the lowest page becomes a guard.
        let mapping = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if mapping == libc::MAP_FAILED {
            return;
        }
        // SAFETY: the mapping is ours; protect its first page and hand the
        // rest to the kernel as this thread's signal stack.
        unsafe {
            libc::mprotect(mapping, page, libc::PROT_NONE);
            let ss = libc::stack_t {
                ss_sp: mapping.cast::<u8>().add(page).cast(),
                ss_flags: 0,
                ss_size: ALT_STACK_SIZE,
            };
            libc::sigaltstack(&ss, std::ptr::null_mut());
        }
        *slot = Some(AltStack { mapping, len });
    });
}

unsafe extern "C" fn signal_handler(
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) {
    // SAFETY: the kernel passes valid `info` and `ctx` to a SA_SIGINFO handler.
    if unsafe { handle_trap(sig, info, ctx) } {
        return;
    }
    // SAFETY: as above.
    unsafe { chain(sig, info, ctx) }
}

/// Turns a fault in wasm into a trap; false if the fault is not ours.
///
/// # Safety
///
/// Only from the signal handler, with the kernel's `info` and `ctx`.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
unsafe fn handle_trap(
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) -> bool {
    let act = current();
    if act.is_null() || info.is_null() || ctx.is_null() {
        return false;
    }
    // SAFETY: non-null `CURRENT` points at a live activation.
    let act = unsafe { &*act };
    let uc = ctx.cast::<libc::ucontext_t>();
    // SAFETY: `ctx` is the interrupted thread's ucontext_t.
    let gregs = unsafe { &mut (*uc).uc_mcontext.gregs };
    let pc = gregs[libc::REG_RIP as usize] as usize;
    let sp = gregs[libc::REG_RSP as usize] as usize;
    let fp = gregs[libc::REG_RBP as usize] as usize;
    // SAFETY: `info` is valid; si_addr is meaningful for these signals.
    let addr = unsafe { (*info).si_addr() } as usize;
    if sp < act.stack_limit || sp >= act.stack_base {
        return false;
    }
    let Some(reg) = try_read_registry() else {
        return false;
    };
    let on_guard = matches!(sig, libc::SIGSEGV | libc::SIGBUS)
        && addr >= act.stack_limit
        && addr < act.guard_end;
    // `int3` reports the PC after itself.
    let fault_pc = if sig == libc::SIGTRAP {
        pc.wrapping_sub(1)
    } else {
        pc
    };
    // The trap table lists return addresses of trap-helper calls, never
    // faulting instructions (see `TrapTable`), so a fault is classified by
    // what it hit. A fault in wasm text that no check explains (int3
    // padding, a wild access, a division the compiler should have checked)
    // still ends the call, as an unexpected fault: compiled code never
    // takes the process down.
    let code = match reg.code_at(fault_pc) {
        Some(_) if on_guard => TrapCode::StackOverflow,
        Some(_) => match sig {
            libc::SIGSEGV | libc::SIGBUS if reg.in_memory(addr) => TrapCode::MemoryOutOfBounds,
            libc::SIGILL => TrapCode::UnreachableCodeReached,
            libc::SIGFPE => TrapCode::IntegerDivisionByZero,
            _ => TrapCode::UnexpectedFault,
        },
        None if on_guard => TrapCode::HostStackExhausted,
        // A jump or call from wasm to an address outside any text (a GOT
        // slot no relocation filled, a corrupt function pointer): the
        // return address the call left is in wasm text.
        None if addr == pc && called_from_wasm(&reg, act, sp) => TrapCode::UnexpectedFault,
        None => return false,
    };
    let frameless_ret = frameless_return(&reg, act, pc, sp);
    let backtrace = walk(&reg, act, pc, frameless_ret, fp);
    drop(reg);
    // SAFETY: `fault` is the activation's own slot, which nothing else
    // touches until its entry returns `FAULTED` (only then is it read).
    unsafe {
        act.fault
            .get()
            .write(MaybeUninit::new(Fault { code, backtrace }))
    };
    // The interrupted code (on the activation's wasm stack, checked above)
    // continues in `wasmo_leave`, which returns to the entry: the wasm
    // frames, or a host function's about to be discarded by the trap, are
    // abandoned. `sigreturn` restores the signal mask.
    gregs[libc::REG_RIP as usize] = wasmo_leave as *const () as i64;
    gregs[libc::REG_RDI as usize] = act.host_sp.get() as i64;
    gregs[libc::REG_RSI as usize] = i64::from(FAULTED);
    true
}

/// Whether a fault fetching the instruction at a PC outside registered
/// text is the first instruction reached by an indirect call from wasm:
/// `[sp]` (inside the wasm stack) is a return address into wasm text just
/// past an indirect `call`.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn called_from_wasm(reg: &Registry, act: &Activation, sp: usize) -> bool {
    let Some(ret) = stack_word(act, sp) else {
        return false;
    };
    let read_code = |from: usize, len: usize| reg.code_bytes(from, len);
    reg.code_at(ret.wrapping_sub(1)).is_some() && is_indirect_call_before(ret, read_code)
}

/// Faults are not turned into traps on this platform yet.
///
/// # Safety
///
/// Only from the signal handler.
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
unsafe fn handle_trap(
    _sig: libc::c_int,
    _info: *mut libc::siginfo_t,
    _ctx: *mut libc::c_void,
) -> bool {
    false
}

/// Hands a fault that is not a wasm trap to whoever handled it before us.
///
/// # Safety
///
/// Only from the signal handler, with the kernel's arguments.
unsafe fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let prev = SIGNALS
        .iter()
        .position(|&s| s == sig)
        .and_then(|i| PREVIOUS[i].get());
    match prev {
        Some(p) if p.sa_sigaction != libc::SIG_DFL && p.sa_sigaction != libc::SIG_IGN => {
            if p.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous handler was installed with SA_SIGINFO,
                // so it has this signature.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(p.sa_sigaction) };
                f(sig, info, ctx);
            } else {
                // SAFETY: a handler installed without SA_SIGINFO takes the
                // signal number only.
                let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(p.sa_sigaction) };
                f(sig);
            }
        }
        _ => {
            // Restore the default action and raise the signal again: it is
            // blocked while we run, so it is delivered as we return and
            // kills the process as it would have without us. (Returning
            // alone would re-execute a faulting instruction, but not an
            // `int3`, nor repeat a signal sent by `kill`.)
            // SAFETY: a zeroed sigaction with SIG_DFL is the default action;
            // `sigaction` and `raise` are async-signal-safe.
            unsafe {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &dfl, std::ptr::null_mut());
                libc::raise(sig);
            }
        }
    }
}
