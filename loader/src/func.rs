//! Functions: wasm exports and host closures, calls into wasm, and the
//! array function through which wasm calls the host.
//!
//! Rule: every call into wasm goes through `traphandler::call_array`; a
//! host closure never unwinds through wasm frames (panics are caught and
//! become errors), and the host array function drops everything it owns
//! before it raises an unwind.

#![allow(
    unsafe_code,
    reason = "calls compiled code and is called by it with raw pointers"
)]

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use smallvec::SmallVec;
use wasmo_artifact_format::{FuncType, TrapCode, ValType};

use crate::error::{CallError, HostError, Trap};
use crate::instance::{func_from_funcref, InstanceInner};
use crate::traphandler::{self, ArrayCall, ArrayFn, RawBacktrace, Unwind};
use crate::values::Val;

/// The signature of a host closure.
type HostClosure =
    dyn Fn(&mut Caller<'_>, &[Val], &mut [Val]) -> Result<(), HostError> + Send + Sync;

/// A function: an instance's wasm function or a host closure.
#[derive(Clone)]
pub struct Func(pub(crate) FuncKind);

#[derive(Clone)]
pub(crate) enum FuncKind {
    /// Defined function `index` (function index space) of `instance`.
    Wasm {
        instance: Arc<InstanceInner>,
        index: u32,
    },
    /// A host function.
    Host(Arc<HostFunc>),
}

/// A host function's context; its address is what fills an import slot's
/// `vmctx`, so its first word must be the array function.
#[repr(C)]
pub(crate) struct HostFunc {
    array_fn: ArrayFn,
    ty: FuncType,
    func: Box<HostClosure>,
}

impl std::fmt::Debug for Func {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            FuncKind::Wasm { index, .. } => write!(f, "Func(wasm {index})"),
            FuncKind::Host(h) => write!(f, "Func(host {})", crate::types::func_type_text(&h.ty)),
        }
    }
}

/// What a host function sees of its caller.
pub struct Caller<'a> {
    instance: Option<&'a InstanceInner>,
}

impl std::fmt::Debug for Caller<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("has_instance", &self.instance.is_some())
            .finish()
    }
}

impl Caller<'_> {
    /// Memory 0 of the calling instance (`None` if it has none, or if the
    /// host called the function directly).
    pub fn memory(&mut self) -> Option<&mut [u8]> {
        let mem = self.instance?.memories.first()?;
        let len = usize::try_from(mem.0.len_bytes()).ok()?;
        let base = mem.0.res.accessible_base(len)?;
        // SAFETY: the first `len` bytes are mapped read-write; the calling
        // wasm code is suspended in this host call, and `&mut self` keeps a
        // second slice from this caller from coexisting; memories are not
        // shared between threads (no threads proposal).
        Some(unsafe { std::slice::from_raw_parts_mut(base, len) })
    }

    /// Memory 0 of the calling instance, as a handle.
    pub fn memory_handle(&self) -> Option<crate::externs::Memory> {
        self.instance?.memories.first().cloned()
    }
}

impl Func {
    /// A host function of type `ty`. `f` gets the arguments and fills the
    /// results (pre-set to zeros of the result types).
    pub fn new_host(
        ty: FuncType,
        f: impl Fn(&mut Caller<'_>, &[Val], &mut [Val]) -> Result<(), HostError> + Send + Sync + 'static,
    ) -> Func {
        Func(FuncKind::Host(Arc::new(HostFunc {
            array_fn: host_array_call,
            ty,
            func: Box::new(f),
        })))
    }

    /// The function's type.
    pub fn ty(&self) -> FuncType {
        self.ty_ref().cloned().unwrap_or_default()
    }

    /// The function's type, borrowed (`None` only for a function index
    /// the module does not have, which `Func` never holds).
    fn ty_ref(&self) -> Option<&FuncType> {
        match &self.0 {
            FuncKind::Wasm { instance, index } => instance.module.inner.func_type(*index),
            FuncKind::Host(h) => Some(&h.ty),
        }
    }

    /// Calls the function.
    pub fn call(&self, args: &[Val]) -> Result<Vec<Val>, CallError> {
        let default_ty = FuncType::default();
        let ty = self.ty_ref().unwrap_or(&default_ty);
        if args.len() != ty.params.len() {
            return Err(CallError::ArgumentCount {
                expected: ty.params.len(),
                got: args.len(),
            });
        }
        for (index, (a, &t)) in args.iter().zip(&ty.params).enumerate() {
            if a.ty() != t {
                return Err(CallError::ArgumentType {
                    index,
                    expected: t,
                    got: a.ty(),
                });
            }
        }
        match &self.0 {
            FuncKind::Host(h) => {
                let mut results: Vec<Val> =
                    ty.results.iter().map(|&t| Val::default_for(t)).collect();
                let mut caller = Caller { instance: None };
                match catch_unwind(AssertUnwindSafe(|| {
                    (h.func)(&mut caller, args, &mut results)
                })) {
                    Ok(Ok(())) => {
                        check_results(ty, &results).map_err(CallError::Host)?;
                        Ok(results)
                    }
                    Ok(Err(e)) => Err(host_error_to_call(e)),
                    Err(p) => Err(CallError::Host(panic_message(p.as_ref()))),
                }
            }
            FuncKind::Wasm { instance, index } => {
                let len = ty.params.len().max(ty.results.len()).max(1);
                let mut values: SmallVec<[u128; 8]> = smallvec::smallvec![0u128; len];
                for (slot, a) in values.iter_mut().zip(args) {
                    let (raw, _owner) = val_to_raw(a).map_err(CallError::Host)?;
                    *slot = u128::from_le_bytes(raw);
                }
                let addr = instance
                    .array_trampoline_addr(*index)
                    .ok_or_else(|| CallError::Host(format!("function {index} has no code")))?;
                // SAFETY: `addr` is an array-call trampoline in the mapped,
                // executable text of the instance's module (offset checked
                // at load), which has the `ArrayFn` signature by the ABI.
                let tramp: ArrayFn = unsafe { std::mem::transmute::<usize, ArrayFn>(addr) };
                let vmctx = instance.vmctx.base();
                // SAFETY: `tramp` is the array-call trampoline of a defined
                // function of `instance`'s module (bounds-checked at load),
                // whose code stays mapped while `instance` (held here) lives;
                // `values` holds `len >= max(params, results)` slots.
                let r = unsafe {
                    traphandler::call_array(ArrayCall {
                        func: tramp,
                        callee_vmctx: vmctx,
                        caller_vmctx: vmctx,
                        values: values.as_mut_ptr().cast(),
                        len,
                    })
                };
                r.map_err(unwind_to_call)?;
                Ok(ty
                    .results
                    .iter()
                    .zip(&values)
                    .map(|(&t, &raw)| val_from_raw(t, raw.to_le_bytes()))
                    .collect())
            }
        }
    }

    /// The address of this function's `VMFuncRef`, and what keeps it alive.
    pub(crate) fn funcref(&self) -> Result<(u64, Arc<dyn Any + Send + Sync>), String> {
        match &self.0 {
            FuncKind::Wasm { instance, index } => Ok((
                instance.func_ref_addr(*index),
                instance.vmctx.clone() as Arc<dyn Any + Send + Sync>,
            )),
            FuncKind::Host(_) => Err(
                "a host function can only reach wasm as an import, not as a funcref value".into(),
            ),
        }
    }

    /// `(native_fn, vmctx)` for an import slot of a module whose wasm-to-array
    /// trampoline for this type is at `host_trampoline`; and what must be
    /// kept alive.
    pub(crate) fn import_slot(
        &self,
        host_trampoline: u64,
    ) -> (u64, u64, Arc<dyn Any + Send + Sync>) {
        match &self.0 {
            FuncKind::Wasm { instance, index } => (
                instance.code_addr(*index),
                instance.vmctx.base() as u64,
                instance.clone() as Arc<dyn Any + Send + Sync>,
            ),
            FuncKind::Host(h) => (
                host_trampoline,
                Arc::as_ptr(h) as u64,
                h.clone() as Arc<dyn Any + Send + Sync>,
            ),
        }
    }

    /// Whether two handles name the same function.
    pub fn same(&self, other: &Func) -> bool {
        match (&self.0, &other.0) {
            (
                FuncKind::Wasm {
                    instance: a,
                    index: i,
                },
                FuncKind::Wasm {
                    instance: b,
                    index: j,
                },
            ) => Arc::ptr_eq(a, b) && i == j,
            (FuncKind::Host(a), FuncKind::Host(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

fn check_results(ty: &FuncType, results: &[Val]) -> Result<(), String> {
    for (i, (r, &t)) in results.iter().zip(&ty.results).enumerate() {
        if r.ty() != t {
            return Err(format!(
                "host function result {i} has type {}, expected {t}",
                r.ty()
            ));
        }
    }
    Ok(())
}

fn panic_message(p: &(dyn Any + Send)) -> String {
    let msg = p
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("host function panicked: {msg}")
}

fn host_error_to_call(e: HostError) -> CallError {
    match e {
        HostError::Trap(code) => CallError::Trap(Trap::new(code)),
        HostError::Exit(n) => CallError::Exit(n),
        HostError::Message(m) => CallError::Host(m),
    }
}

pub(crate) fn unwind_to_call(u: Unwind) -> CallError {
    match u {
        Unwind::Trap { code, backtrace } => CallError::Trap(Trap {
            code,
            backtrace: backtrace.symbolize(),
        }),
        Unwind::Exit(n) => CallError::Exit(n),
        Unwind::Host(m) => CallError::Host(m),
    }
}

/// A value as a `ValRaw`, and what its reference (if any) keeps alive.
pub(crate) type RawVal = ([u8; 16], Option<Arc<dyn Any + Send + Sync>>);

/// Encodes a value as a `ValRaw`.
pub(crate) fn val_to_raw(v: &Val) -> Result<RawVal, String> {
    let mut b = [0u8; 16];
    match v {
        Val::I32(x) => b[..4].copy_from_slice(&x.to_le_bytes()),
        Val::I64(x) => b[..8].copy_from_slice(&x.to_le_bytes()),
        Val::F32(x) => b[..4].copy_from_slice(&x.to_le_bytes()),
        Val::F64(x) => b[..8].copy_from_slice(&x.to_le_bytes()),
        Val::V128(x) => b = x.to_le_bytes(),
        Val::FuncRef(None) => {}
        Val::FuncRef(Some(f)) => {
            let (addr, owner) = f.funcref()?;
            b[..8].copy_from_slice(&addr.to_le_bytes());
            return Ok((b, Some(owner)));
        }
    }
    Ok((b, None))
}

/// Decodes a `ValRaw` of type `ty`.
pub(crate) fn val_from_raw(ty: ValType, b: [u8; 16]) -> Val {
    let u32_at = || u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let u64_at = || u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    match ty {
        ValType::I32 => Val::I32(u32_at() as i32),
        ValType::I64 => Val::I64(u64_at() as i64),
        ValType::F32 => Val::F32(u32_at()),
        ValType::F64 => Val::F64(u64_at()),
        ValType::V128 => Val::V128(u128::from_le_bytes(b)),
        ValType::FuncRef | ValType::ExternRef => match u64_at() {
            0 => Val::FuncRef(None),
            addr => Val::FuncRef(func_from_funcref(addr)),
        },
    }
}

/// The array function of every host function: how wasm calls the host.
/// It records the return address into the calling trampoline and that
/// trampoline's frame pointer (for backtraces of host traps) and continues
/// in [`host_array_impl`].
///
/// # Safety
///
/// Called only by a compiled wasm-to-array trampoline, with `ctx` a live
/// `HostFunc`, `caller_vmctx` the calling instance's VMContext and `values`
/// `len >= max(params, results)` slots.
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
unsafe extern "C" fn host_array_call(
    _ctx: *mut u8,
    _caller_vmctx: *mut u8,
    _values: *mut u8,
    _len: usize,
) {
    // r8 = return address, r9 = the caller's frame pointer; a tail jump
    // keeps the stack as the call left it.
    core::arch::naked_asm!("mov r8, [rsp]", "mov r9, rbp", "jmp {imp}", imp = sym host_array_impl)
}

/// As the x86-64 version, without a backtrace.
///
/// # Safety
///
/// As the x86-64 version.
#[cfg(not(target_arch = "x86_64"))]
unsafe extern "C" fn host_array_call(
    ctx: *mut u8,
    caller_vmctx: *mut u8,
    values: *mut u8,
    len: usize,
) {
    // SAFETY: forwarded from our own contract.
    unsafe { host_array_impl(ctx, caller_vmctx, values, len, 0, 0) }
}

/// # Safety
///
/// As for [`host_array_call`]; `ret` and `fp` are the caller's return
/// address and frame pointer (or zero).
unsafe extern "C" fn host_array_impl(
    ctx: *mut u8,
    caller_vmctx: *mut u8,
    values: *mut u8,
    len: usize,
    ret: usize,
    fp: usize,
) {
    if traphandler::stack_left().is_some_and(|left| left < traphandler::HOST_STACK_RESERVE) {
        traphandler::raise(Unwind::Trap {
            code: TrapCode::StackOverflow,
            backtrace: Box::new(traphandler::backtrace_from(ret, fp)),
        });
    }
    // SAFETY: forwarded from our own contract.
    let outcome = unsafe { invoke_host(ctx, caller_vmctx, values, len) };
    // Everything `invoke_host` owned has been dropped; nothing on this
    // frame needs dropping, so discarding the stack is fine.
    let unwind = match outcome {
        Ok(()) => return,
        Err(Unwind::Trap { code, backtrace }) => {
            drop(backtrace);
            Unwind::Trap {
                code,
                backtrace: Box::new(traphandler::backtrace_from(ret, fp)),
            }
        }
        Err(unwind) => unwind,
    };
    traphandler::raise(unwind)
}

/// # Safety
///
/// As for [`host_array_call`].
unsafe fn invoke_host(
    ctx: *mut u8,
    caller_vmctx: *mut u8,
    values: *mut u8,
    len: usize,
) -> Result<(), Unwind> {
    // SAFETY: `ctx` is the address of a live `HostFunc` (the import slot's
    // owner keeps it alive).
    let host = unsafe { &*ctx.cast::<HostFunc>() };
    let n = host.ty.params.len().max(host.ty.results.len());
    if len < n {
        return Err(Unwind::Host("host call with too few value slots".into()));
    }
    // SAFETY: the trampoline passes `len` 16-byte slots.
    let slots = unsafe { std::slice::from_raw_parts_mut(values.cast::<[u8; 16]>(), len) };
    // Inline buffers, filled in place: a host call from wasm allocates
    // nothing (two heap vectors were most of its cost) and copies nothing
    // (`collect` built them elsewhere and memcpy'd them over).
    let mut args: SmallVec<[Val; 4]> = SmallVec::new();
    for (&t, &raw) in host.ty.params.iter().zip(slots.iter()) {
        args.push(val_from_raw(t, raw));
    }
    let mut results: SmallVec<[Val; 2]> = SmallVec::new();
    for &t in &host.ty.results {
        results.push(Val::default_for(t));
    }
    let instance = if caller_vmctx.is_null() {
        None
    } else {
        // SAFETY: compiled code passes its own (live) VMContext as caller.
        Some(unsafe { crate::helpers::instance_of(caller_vmctx) })
    };
    let r = catch_unwind(AssertUnwindSafe(|| {
        let mut caller = Caller { instance };
        (host.func)(&mut caller, &args, &mut results)
    }));
    match r {
        Ok(Ok(())) => {
            check_results(&host.ty, &results).map_err(Unwind::Host)?;
            for (slot, v) in slots.iter_mut().zip(&results) {
                let (raw, _owner) = val_to_raw(v).map_err(Unwind::Host)?;
                *slot = raw;
            }
            Ok(())
        }
        Ok(Err(HostError::Trap(code))) => Err(Unwind::Trap {
            code,
            backtrace: Box::new(RawBacktrace::empty()),
        }),
        Ok(Err(HostError::Exit(n))) => Err(Unwind::Exit(n)),
        Ok(Err(HostError::Message(m))) => Err(Unwind::Host(m)),
        Err(p) => Err(Unwind::Host(panic_message(p.as_ref()))),
    }
}
