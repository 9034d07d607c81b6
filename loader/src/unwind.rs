//! Wasm exceptions on the system unwinder: the loader's one module of
//! unwinding (see ARCHITECTURE.md, "Exceptions").
//!
//! - [`EhFrameRegistration`] registers a module's `.eh_frame` with
//!   libgcc's unwinder (`__register_frame`) while the module's image is
//!   mapped, and deregisters it before the image goes.
//! - The throw helpers (naked shims that pass the wasm caller's return
//!   address and frame pointer on, for the backtrace) make an exception
//!   object in the caller's store, record where it was thrown, and raise
//!   a [`WasmException`] (the Itanium ABI's `_Unwind_Exception` header,
//!   then the `exnref`) with `_Unwind_RaiseException`.
//! - [`personality`] is the personality routine compiled code names: it
//!   reads the LSDA's call-site table (as Rust std's and Wasmer's do) and
//!   answers "handler found" at the first call site with a landing pad,
//!   for wasmo's exception class only.
//! - The landing pad takes the exception back ([`exn_take`]), and the one
//!   in every array-call trampoline ends the host's call with it
//!   ([`uncaught`]), so the unwinder never walks past the trampoline.
//!
//! Rule: a Rust frame the unwinder walks through is `extern "C-unwind"`
//! (or plain Rust), never `extern "C"` (which aborts on unwinding), and
//! holds nothing the exception should not drop.

#![expect(
    unsafe_code,
    reason = "the unwinder's C interface, raw exception objects and LSDA reads"
)]

use std::ffi::{c_int, c_void};

use crate::exception::Exception;
use crate::helpers::caller_instance;
use crate::image::Image;
use crate::traphandler::{self, Unwind};
use wasmo_artifact_format::metadata::EhFrame;

/// The Itanium C++ ABI's `_Unwind_Exception` (x86-64: class, cleanup
/// function, two words private to the unwinder).
#[repr(C)]
struct UnwindException {
    class: u64,
    cleanup: Option<unsafe extern "C" fn(c_int, *mut UnwindException)>,
    private: [usize; 2],
}

/// What wasmo throws: the unwinder's header first, then the `exnref`.
#[repr(C)]
struct WasmException {
    header: UnwindException,
    exnref: u64,
}

/// wasmo's exception class ("WASMOexn"); other classes pass through wasm
/// frames untouched.
const CLASS: u64 = u64::from_be_bytes(*b"WASMOexn");

const URC_FATAL_PHASE1_ERROR: c_int = 3;
const URC_HANDLER_FOUND: c_int = 6;
const URC_INSTALL_CONTEXT: c_int = 7;
const URC_CONTINUE_UNWIND: c_int = 8;
const UA_SEARCH_PHASE: c_int = 1;
const UA_FORCE_UNWIND: c_int = 8;
/// DWARF numbers of the registers a landing pad receives the exception
/// and the selector in (rax and rdx on x86-64, x0 and x1 on AArch64).
const EH_DATA_REGS: [c_int; 2] = [0, 1];

unsafe extern "C-unwind" {
    fn _Unwind_RaiseException(e: *mut UnwindException) -> c_int;
}

unsafe extern "C" {
    fn _Unwind_GetLanguageSpecificData(ctx: *mut c_void) -> *const u8;
    fn _Unwind_GetRegionStart(ctx: *mut c_void) -> usize;
    fn _Unwind_GetIPInfo(ctx: *mut c_void, ip_before_insn: *mut c_int) -> usize;
    fn _Unwind_SetGR(ctx: *mut c_void, reg: c_int, value: usize);
    fn _Unwind_SetIP(ctx: *mut c_void, value: usize);
    fn __register_frame(begin: *const u8);
    fn __deregister_frame(begin: *const u8);
}

/// A module's unwind tables, registered with the system unwinder for as
/// long as this lives.
/// Holds the address as an integer: the image it points into is `Send`
/// and `Sync`, and so is this.
#[derive(Debug)]
pub(crate) struct EhFrameRegistration(usize);

impl EhFrameRegistration {
    /// Registers the image's unwind tables (`eh` inside it, zero-terminated;
    /// `None` if not). The owner must drop the registration before the
    /// image (`ModuleInner` does, in its `Drop`).
    pub(crate) fn new(image: &Image, eh: EhFrame) -> Option<EhFrameRegistration> {
        let start = usize::try_from(eh.offset).ok()?;
        let len = usize::try_from(eh.len).ok()?;
        let bytes = image.bytes().get(start..start.checked_add(len)?)?;
        if len < 4 || bytes[len - 4..] != [0; 4] {
            return None;
        }
        // SAFETY: the records lie in the image's rodata (checked at load
        // and above), read-only and mapped until the owner drops this
        // registration first; they end in a zero word (checked); their
        // contents are the compiler's, trusted with the rest of the code
        // (see the loader's trust list in ARCHITECTURE.md).
        unsafe { __register_frame(bytes.as_ptr()) };
        Some(EhFrameRegistration(bytes.as_ptr() as usize))
    }
}

impl Drop for EhFrameRegistration {
    fn drop(&mut self) {
        // SAFETY: registered by `new` with this address; the image is still
        // mapped (the module drops this before unmapping it).
        unsafe { __deregister_frame(self.0 as *const u8) };
    }
}

/// Frees a `WasmException` the unwinder is done with (only called when
/// foreign code catches and deletes it).
unsafe extern "C" fn cleanup(_reason: c_int, e: *mut UnwindException) {
    // SAFETY: every exception of our class is a leaked `Box<WasmException>`
    // whose header is its first field.
    drop(unsafe { Box::from_raw(e.cast::<WasmException>()) });
}

/// Raises `exnref` from a helper called by wasm: unwinds to the nearest
/// landing pad (at worst the array-call trampoline's). Returns only if no
/// wasm frame above has unwind tables, then ends the call with the
/// exception as the trampoline's landing pad would.
fn raise_exnref(exnref: u64) -> ! {
    // The unwinder runs on the wasm stack and takes locks: it must not
    // hit the guard page (the trap would discard its frames with a lock
    // held), so a throw too close to it is "call stack exhausted".
    if traphandler::stack_left().is_some_and(|left| left < traphandler::HOST_STACK_RESERVE) {
        traphandler::raise(Unwind::Trap {
            code: wasmo_artifact_format::TrapCode::StackOverflow,
            backtrace: Box::new(traphandler::RawBacktrace::empty()),
        });
    }
    let e = Box::into_raw(Box::new(WasmException {
        header: UnwindException {
            class: CLASS,
            cleanup: Some(cleanup),
            private: [0; 2],
        },
        exnref,
    }));
    // SAFETY: `e` is a valid exception object of our class, which only our
    // personality catches; the frames above are wasm frames with
    // registered tables, up to an array-call trampoline's landing pad.
    unsafe { _Unwind_RaiseException(e.cast()) };
    // SAFETY: the unwinder did not take it (it returned), so it is ours.
    drop(unsafe { Box::from_raw(e) });
    traphandler::raise(Unwind::Exception(exnref))
}

/// `wasmo_helper_throw(vmctx, tag, payload)`: `tag` is the caller's tag
/// index, `payload` its parameters as `ValRaw` slots. Records the caller's
/// return address and frame pointer (for the backtrace) and continues in
/// [`throw_impl`]; a tail jump, so the unwinder sees `throw_impl` called
/// straight from wasm.
///
/// # Safety
///
/// Called by compiled wasm only, with its own vmctx and a payload of the
/// tag's parameter count.
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
pub(crate) unsafe extern "C-unwind" fn throw(_vmctx: *mut u8, _tag: i32, _payload: *const u8) {
    // rcx = return address into wasm, r8 = the wasm caller's frame pointer.
    core::arch::naked_asm!("mov rcx, [rsp]", "mov r8, rbp", "jmp {imp}", imp = sym throw_impl)
}

/// `wasmo_helper_throw` where the return address cannot be captured (no
/// artifact for such a target links yet): no backtrace.
///
/// # Safety
///
/// As for the x86-64 one.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) unsafe extern "C-unwind" fn throw(vmctx: *mut u8, tag: i32, payload: *const u8) {
    // SAFETY: forwarded from our contract.
    unsafe { throw_impl(vmctx, tag, payload, 0, 0) }
}

/// # Safety
///
/// As for [`throw`]; `ret` and `fp` are the wasm caller's return address
/// and frame pointer (or zero).
unsafe extern "C-unwind" fn throw_impl(
    vmctx: *mut u8,
    tag: i32,
    payload: *const u8,
    ret: usize,
    fp: usize,
) {
    let exnref = {
        // SAFETY: compiled code passes its own instance's vmctx.
        let Some((store, inst)) = (unsafe { caller_instance(vmctx) }) else {
            std::process::abort()
        };
        let Some(tag) = inst.tags.get(tag as u32 as usize) else {
            std::process::abort()
        };
        let n = store.tags[tag.index as usize].ty.params.len();
        let slots: Box<[[u8; 16]]> = (0..n)
            .map(|i| {
                // SAFETY: compiled code passes `n` 16-byte slots.
                unsafe { payload.add(i * 16).cast::<[u8; 16]>().read_unaligned() }
            })
            .collect();
        let exnref = Exception::alloc(store, tag.index, slots);
        store.record_throw(exnref, || traphandler::backtrace_from(ret, fp));
        exnref
    };
    raise_exnref(exnref)
}

/// `wasmo_helper_throw_ref(vmctx, exnref)`: rethrows (a landing pad whose
/// clauses did not match, or `throw_ref`). A null `exnref` traps. Records
/// the caller's return address and frame pointer, as [`throw`] does.
///
/// # Safety
///
/// Called by compiled wasm only, with its own vmctx.
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
pub(crate) unsafe extern "C-unwind" fn throw_ref(_vmctx: *mut u8, _exnref: i64) {
    // rdx = return address into wasm, rcx = the wasm caller's frame pointer.
    core::arch::naked_asm!("mov rdx, [rsp]", "mov rcx, rbp", "jmp {imp}", imp = sym throw_ref_impl)
}

/// `wasmo_helper_throw_ref` without a backtrace (see [`throw`]).
///
/// # Safety
///
/// As for the x86-64 one.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) unsafe extern "C-unwind" fn throw_ref(vmctx: *mut u8, exnref: i64) {
    // SAFETY: forwarded from our contract.
    unsafe { throw_ref_impl(vmctx, exnref, 0, 0) }
}

/// # Safety
///
/// As for [`throw_ref`]; `ret` and `fp` as for [`throw_impl`].
unsafe extern "C-unwind" fn throw_ref_impl(vmctx: *mut u8, exnref: i64, ret: usize, fp: usize) {
    if exnref == 0 {
        traphandler::raise(Unwind::Trap {
            code: wasmo_artifact_format::TrapCode::NullExceptionReference,
            backtrace: Box::new(traphandler::backtrace_from(ret, fp)),
        });
    }
    // SAFETY: compiled code passes its own instance's vmctx.
    if let Some((store, _)) = unsafe { caller_instance(vmctx) } {
        store.record_throw(exnref as u64, || traphandler::backtrace_from(ret, fp));
    }
    raise_exnref(exnref as u64)
}

/// Raises `exn` into the wasm that called the host function now
/// returning (see `func::host_array_impl`).
pub(crate) fn throw_from_host(exnref: u64) -> ! {
    raise_exnref(exnref)
}

/// `wasmo_helper_exn_take(vmctx, e) -> exnref`: a landing pad's first
/// step; frees the unwinder's header.
///
/// # Safety
///
/// `e` is what the landing pad received: our personality installs landing
/// pads for exceptions of our class only, each a leaked `WasmException`.
pub(crate) unsafe extern "C" fn exn_take(_vmctx: *mut u8, e: *mut u8) -> i64 {
    // SAFETY: per the contract.
    let e = unsafe { Box::from_raw(e.cast::<WasmException>()) };
    e.exnref as i64
}

/// `wasmo_helper_exn_is(vmctx, exnref, tag) -> 1 | 0`: whether the
/// exception's tag is the caller's tag `tag` (the same store object).
///
/// # Safety
///
/// Called by compiled wasm only, with its own vmctx.
pub(crate) unsafe extern "C" fn exn_is(vmctx: *mut u8, exnref: i64, tag: i32) -> i32 {
    // SAFETY: compiled code passes its own instance's vmctx.
    let Some((store, inst)) = (unsafe { caller_instance(vmctx) }) else {
        return 0;
    };
    let want = inst.tags.get(tag as u32 as usize).map(|t| t.index);
    i32::from(want.is_some() && store.exn_tag(exnref as u64) == want)
}

/// `wasmo_helper_exn_payload(vmctx, exnref) -> *const ValRaw`.
///
/// # Safety
///
/// Called by compiled wasm only, with its own vmctx.
pub(crate) unsafe extern "C" fn exn_payload(vmctx: *mut u8, exnref: i64) -> *const u8 {
    // SAFETY: compiled code passes its own instance's vmctx.
    let Some((store, _)) = (unsafe { caller_instance(vmctx) }) else {
        return std::ptr::null();
    };
    store.exn_payload(exnref as u64).unwrap_or(std::ptr::null())
}

/// `wasmo_helper_uncaught(vmctx, e)`: the landing pad of an array-call
/// trampoline; ends the host's call with the exception.
///
/// # Safety
///
/// As for [`exn_take`]; called on the wasm stack of the entry.
pub(crate) unsafe extern "C" fn uncaught(vmctx: *mut u8, e: *mut u8) {
    // SAFETY: forwarded from our contract.
    let exnref = unsafe { exn_take(vmctx, e) } as u64;
    traphandler::raise(Unwind::Exception(exnref))
}

/// The personality routine of every compiled function with a landing
/// pad (`wasmo_helper_personality`).
///
/// # Safety
///
/// Called by the system unwinder only, per the Itanium ABI.
pub(crate) unsafe extern "C" fn personality(
    version: c_int,
    actions: c_int,
    class: u64,
    exception: *mut c_void,
    ctx: *mut c_void,
) -> c_int {
    if version != 1 {
        return URC_FATAL_PHASE1_ERROR;
    }
    if class != CLASS || actions & UA_FORCE_UNWIND != 0 {
        return URC_CONTINUE_UNWIND;
    }
    // SAFETY: `ctx` is the unwinder's context for a frame of compiled code.
    let Some(landing_pad) = (unsafe { find_landing_pad(ctx) }) else {
        return URC_CONTINUE_UNWIND;
    };
    if actions & UA_SEARCH_PHASE != 0 {
        return URC_HANDLER_FOUND;
    }
    // SAFETY: installing the landing pad the frame's LSDA names, with the
    // exception in the first data register and selector 1 (every wasm
    // landing pad has the one catch-all clause).
    unsafe {
        _Unwind_SetGR(ctx, EH_DATA_REGS[0], exception as usize);
        _Unwind_SetGR(ctx, EH_DATA_REGS[1], 1);
        _Unwind_SetIP(ctx, landing_pad);
    }
    URC_INSTALL_CONTEXT
}

const DW_EH_PE_OMIT: u8 = 0xff;

/// Reads the LSDA: bytes the compiler wrote into the image's rodata.
struct LsdaReader(*const u8);

impl LsdaReader {
    /// # Safety
    ///
    /// The reader must point into a well-formed LSDA.
    unsafe fn u8(&mut self) -> u8 {
        // SAFETY: per the contract.
        let b = unsafe { self.0.read() };
        // SAFETY: still inside the LSDA while it is well-formed.
        self.0 = unsafe { self.0.add(1) };
        b
    }

    /// # Safety
    ///
    /// As for [`LsdaReader::u8`].
    unsafe fn uleb(&mut self) -> u64 {
        let (mut v, mut shift) = (0u64, 0u32);
        loop {
            // SAFETY: per the contract.
            let b = unsafe { self.u8() };
            if shift < 64 {
                v |= u64::from(b & 0x7f) << shift;
            }
            shift += 7;
            if b & 0x80 == 0 {
                return v;
            }
        }
    }

    /// A value in DWARF pointer encoding `enc`, as an offset (call-site
    /// fields); `None` for an encoding LLVM does not emit there.
    ///
    /// # Safety
    ///
    /// As for [`LsdaReader::u8`].
    unsafe fn encoded(&mut self, enc: u8) -> Option<u64> {
        Some(match enc & 0x0f {
            // SAFETY: per the contract.
            0x01 => unsafe { self.uleb() },
            // SAFETY: per the contract.
            0x02 => u64::from(u16::from_le_bytes(unsafe { self.bytes() })),
            // SAFETY: per the contract.
            0x03 => u64::from(u32::from_le_bytes(unsafe { self.bytes() })),
            // SAFETY: per the contract.
            0x0b => i64::from(i32::from_le_bytes(unsafe { self.bytes() })) as u64,
            // SAFETY: per the contract.
            0x04 | 0x0c => u64::from_le_bytes(unsafe { self.bytes() }),
            _ => return None,
        })
    }

    /// # Safety
    ///
    /// As for [`LsdaReader::u8`].
    unsafe fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        for slot in &mut b {
            // SAFETY: per the contract.
            *slot = unsafe { self.u8() };
        }
        b
    }
}

/// The landing pad covering the frame's call site, if any.
///
/// # Safety
///
/// `ctx` must be the unwinder's context for a frame whose LSDA (if any)
/// the compiler wrote.
unsafe fn find_landing_pad(ctx: *mut c_void) -> Option<usize> {
    // SAFETY: per the contract.
    let lsda = unsafe { _Unwind_GetLanguageSpecificData(ctx) };
    if lsda.is_null() {
        return None;
    }
    let mut before = 0;
    // SAFETY: per the contract.
    let ip = unsafe { _Unwind_GetIPInfo(ctx, &mut before) };
    // The return address may already be past the call's range.
    let ip = if before == 0 { ip.checked_sub(1)? } else { ip } as u64;
    // SAFETY: per the contract.
    let func_start = unsafe { _Unwind_GetRegionStart(ctx) } as u64;
    let mut r = LsdaReader(lsda);
    // SAFETY: `lsda` is a well-formed LSDA per the contract, and each
    // read below stays within its header and call-site table.
    unsafe {
        let lp_start_enc = r.u8();
        let lp_start = if lp_start_enc == DW_EH_PE_OMIT {
            func_start
        } else {
            r.encoded(lp_start_enc)?
        };
        if r.u8() != DW_EH_PE_OMIT {
            r.uleb();
        }
        let cs_enc = r.u8();
        let cs_len = r.uleb();
        let end = r.0.add(usize::try_from(cs_len).ok()?);
        while r.0 < end {
            let start = r.encoded(cs_enc)?;
            let len = r.encoded(cs_enc)?;
            let pad = r.encoded(cs_enc)?;
            let _action = r.uleb();
            if ip < func_start + start {
                return None;
            }
            if ip < func_start + start + len {
                return (pad != 0).then(|| (lp_start + pad) as usize);
            }
        }
    }
    None
}
