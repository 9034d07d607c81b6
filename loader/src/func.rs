//! Functions: handles to wasm functions and host closures of a store,
//! calls into wasm, and the array function through which wasm calls the
//! host.
//!
//! Rule: every call into wasm goes through `traphandler::call_array`, and
//! holds no reference into the store while wasm runs (only the store's raw
//! pointer, see `store.rs`); a host closure never unwinds through wasm
//! frames (panics are caught and become errors), and the host array
//! function drops everything it owns before it raises an unwind.

#![expect(
    unsafe_code,
    reason = "calls compiled code and is called by it with raw pointers"
)]

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

use smallvec::SmallVec;
use wasmo_artifact_format::{FuncType, HeapType, TrapCode, ValType};

use crate::error::{CallError, HostError, Trap};
use crate::externs::Memory;
use crate::imports::Extern;
use crate::store::{
    AsContext, AsContextMut, StoreContext, StoreContextMut, StoreId, StoreInner, StoreOpaque,
};
use crate::traphandler::{self, ArrayCall, ArrayFn, RawBacktrace, Unwind};
use crate::values::Val;

/// A function of a [`Store`](crate::Store): an instance's wasm function or
/// a host closure. Two handles name the same function exactly when they
/// are equal (an imported function is the function that fills the
/// import).
///
/// [`Func::ty`] panics when given another store than the function's;
/// [`Func::call`] returns [`CallError::WrongStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Func {
    pub(crate) store: StoreId,
    pub(crate) kind: FuncKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum FuncKind {
    /// Defined function `index` (function index space) of the store's
    /// instance `instance`.
    Wasm { instance: u32, index: u32 },
    /// The store's host function `0`.
    Host(u32),
}

/// How [`Func::call`] runs a host function: `(header, null caller
/// vmctx, values, len)`.
type InvokeFn = unsafe fn(NonNull<HostFuncHeader>, *mut u8, *mut u8, usize) -> Result<(), Unwind>;

/// How wasm runs a host function (`host_array_call` jumps to it after the
/// stack check): `(header, caller_vmctx, values, len, ret, fp)`, `ret` and
/// `fp` the calling trampoline's return address and frame pointer for a
/// failure's backtrace. It returns only when the call succeeded; a
/// failure leaves wasm from inside it.
type FromWasmFn =
    unsafe extern "C-unwind" fn(NonNull<HostFuncHeader>, *mut u8, *mut u8, usize, usize, usize);

/// The untyped head of a host function's context; its address is what
/// fills an import slot's `vmctx`, so its first word must be the array
/// function (`vmctx::HOST_CTX_ARRAY_FN`).
#[repr(C)]
pub(crate) struct HostFuncHeader {
    array_fn: ArrayFn,
    /// `invoke_raw::<T, F>` for this function's store data and closure
    /// types.
    invoke: InvokeFn,
    /// `invoke_from_wasm::<T, F>`, what `host_array_call` jumps to.
    from_wasm: FromWasmFn,
    /// Frees the whole `HostFunc<T, F>`.
    drop_fn: unsafe fn(NonNull<HostFuncHeader>),
    /// The owning store's `StoreInner<T>`.
    store: NonNull<u8>,
    pub(crate) ty: FuncType,
}

/// A host function's context: header, then the closure.
#[repr(C)]
struct HostFunc<T, F> {
    header: HostFuncHeader,
    func: F,
    _data: std::marker::PhantomData<fn(T)>,
}

impl HostFuncHeader {
    /// Frees a context made by [`Func::new`].
    ///
    /// # Safety
    ///
    /// `h` must be a live context made by `Func::new`, freed only here and
    /// only once, and never used afterwards.
    pub(crate) unsafe fn free(h: NonNull<HostFuncHeader>) {
        // SAFETY: `drop_fn` is read from the live context; the contract
        // passes on.
        unsafe { (h.as_ref().drop_fn)(h) }
    }

    /// Host function `i` of `store`, as the pointer that owns it (whose
    /// provenance covers the whole context, closure included).
    pub(crate) fn ptr(store: &StoreOpaque, i: u32) -> NonNull<HostFuncHeader> {
        store.host_funcs[i as usize]
    }

    /// Host function `i` of `store`.
    pub(crate) fn get(store: &StoreOpaque, i: u32) -> &HostFuncHeader {
        let h = store.host_funcs[i as usize];
        // SAFETY: every entry of `host_funcs` is a live context, freed only
        // when the store drops (after this borrow of it ends); a header is
        // never written after `Func::new` (the closure is only ever called
        // through `&`).
        unsafe { h.as_ref() }
    }
}

/// What a host function sees of its caller: the store (its data, its
/// other functions, memories ...) and the calling instance.
pub struct Caller<'a, T> {
    store: StoreContextMut<'a, T>,
    /// The calling instance's VMContext (null when the host called): its
    /// index is looked up only when asked for, so a host call whose
    /// closure never asks costs nothing for it.
    vmctx: *mut u8,
}

impl<T> std::fmt::Debug for Caller<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("instance", &self.instance())
            .finish_non_exhaustive()
    }
}

impl<'a, T> Caller<'a, T> {
    /// The caller of a host function of `store` called by the instance
    /// whose VMContext is `vmctx` (null: by the host).
    ///
    /// # Safety
    ///
    /// `vmctx` must be null or the VMContext of a live instance of
    /// `store` (which keeps it as long as the store lives).
    pub(crate) unsafe fn new(store: StoreContextMut<'a, T>, vmctx: *mut u8) -> Caller<'a, T> {
        Caller { store, vmctx }
    }

    /// A shorter borrow of the same caller, to hand to a closure while
    /// keeping this one.
    pub(crate) fn reborrow(&mut self) -> Caller<'_, T> {
        Caller {
            store: self.store.reborrow(),
            vmctx: self.vmctx,
        }
    }

    /// The calling instance's index in the store (`None` if the host
    /// called).
    fn instance(&self) -> Option<u32> {
        if self.vmctx.is_null() {
            return None;
        }
        // SAFETY: a non-null `vmctx` is a live instance's VMContext of
        // this caller's store (`Caller::new`'s contract), which outlives
        // the caller.
        Some(unsafe { crate::helpers::runtime_of(self.vmctx) }.instance)
    }

    /// The store's untyped part, where references are encoded.
    pub(crate) fn opaque_mut(&mut self) -> &mut StoreOpaque {
        self.store.opaque_mut()
    }

    /// The store's host data.
    pub fn data(&self) -> &T {
        self.store.data()
    }

    /// The store's host data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        self.store.data_mut()
    }

    /// Memory 0 of the calling instance, exported or not (`None` if it has
    /// none, or if the host called the function directly).
    pub fn memory(&self) -> Option<Memory> {
        let o = self.store.opaque();
        o.instances
            .get(self.instance()? as usize)?
            .memories
            .first()
            .copied()
    }

    /// The calling instance's export `name` (`None` if the host called the
    /// function directly).
    pub fn get_export(&self, name: &str) -> Option<Extern> {
        let o = self.store.opaque();
        o.instances.get(self.instance()? as usize)?.export(o, name)
    }
}

impl<T> AsContext for Caller<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        self.store.as_context()
    }
}

impl<T> AsContextMut for Caller<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        self.store.reborrow()
    }
}

impl Func {
    /// A host function of type `ty` in `store`. `f` gets the caller, the
    /// arguments and the results to fill (pre-set to zeros of the result
    /// types).
    pub fn new<T: 'static, F>(mut store: impl AsContextMut<Data = T>, ty: FuncType, f: F) -> Func
    where
        F: Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), HostError> + Send + Sync + 'static,
    {
        let ctx = store.as_context_mut();
        Func::new_raw(ctx, ty.clone(), move |caller: Caller<'_, T>, slots| {
            call_val_closure(&ty, &f, caller, slots)
        })
    }

    /// A host function of type `ty` in `store` whose closure works on the
    /// raw value slots (`ValRaw`s, little-endian; at least `max(params,
    /// results)` of them), with no `Val` boxing: what [`Func::wrap`] and
    /// [`HostFuncDef`](crate::HostFuncDef) build on. The closure must read
    /// and write only values of `ty`'s types (not references: their raw
    /// form is the store's business).
    pub(crate) fn new_raw<T: 'static, G>(ctx: StoreContextMut<'_, T>, ty: FuncType, g: G) -> Func
    where
        G: Fn(Caller<'_, T>, &mut [[u8; 16]]) -> Result<(), HostError> + Send + Sync + 'static,
    {
        let mut ctx = ctx;
        let host = Box::new(HostFunc::<T, G> {
            header: HostFuncHeader {
                array_fn: host_array_call,
                invoke: invoke_raw::<T, G>,
                from_wasm: invoke_from_wasm::<T, G>,
                drop_fn: drop_host_func::<T, G>,
                store: ctx.raw().cast(),
                ty,
            },
            func: g,
            _data: std::marker::PhantomData,
        });
        let ptr = NonNull::from(Box::leak(host)).cast::<HostFuncHeader>();
        let o = ctx.opaque_mut();
        let index = o.host_funcs.len() as u32;
        o.host_funcs.push(ptr);
        Func {
            store: o.id,
            kind: FuncKind::Host(index),
        }
    }

    /// The function's type.
    pub fn ty(&self, store: impl AsContext) -> FuncType {
        let ctx = store.as_context();
        let o = ctx.opaque();
        o.assert_owns(self.store, "function");
        self.ty_in(o).cloned().unwrap_or_default()
    }

    /// The function's type, borrowed from its store (`None` only for a
    /// function index the module does not have, which `Func` never holds).
    pub(crate) fn ty_in<'a>(&self, o: &'a StoreOpaque) -> Option<&'a FuncType> {
        match self.kind {
            FuncKind::Wasm { instance, index } => {
                o.instances[instance as usize].module.inner.func_type(index)
            }
            FuncKind::Host(h) => Some(&HostFuncHeader::get(o, h).ty),
        }
    }

    /// The canonical id of the function's type (`typereg`): what
    /// `call_indirect`, typed references and import matching compare.
    pub(crate) fn type_id_in(&self, o: &StoreOpaque) -> u32 {
        match self.kind {
            FuncKind::Wasm { instance, index } => o.instances[instance as usize]
                .module
                .inner
                .func_type_id(index),
            FuncKind::Host(h) => crate::typereg::intern(&HostFuncHeader::get(o, h).ty),
        }
    }

    /// Calls the function with `params`, writing its results to `results`
    /// (exactly as many as it has). Allocates nothing for up to eight
    /// parameters and results (but to root an externref the store has not
    /// seen before).
    pub fn call(
        &self,
        mut store: impl AsContextMut,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<(), CallError> {
        let mut ctx = store.as_context_mut();
        if self.store != ctx.opaque().id {
            return Err(CallError::WrongStore("function"));
        }
        let len = {
            let o = ctx.opaque();
            let default_ty = FuncType::default();
            let ty = self.ty_in(o).unwrap_or(&default_ty);
            check_args(o, ty, params)?;
            if results.len() != ty.results.len() {
                return Err(CallError::ResultCount {
                    expected: ty.results.len(),
                    got: results.len(),
                });
            }
            ty.params.len().max(ty.results.len()).max(1)
        };
        let mut values: SmallVec<[u128; 8]> = smallvec::smallvec![0u128; len];
        {
            let o = ctx.opaque_mut();
            for (slot, a) in values.iter_mut().zip(params) {
                *slot = u128::from_le_bytes(val_to_raw(o, a).map_err(CallError::Host)?);
            }
        }
        let entry = self.entry(ctx.opaque())?;
        // SAFETY: the entry is this function's, of this store (checked
        // above); `values` holds `len >= max(params, results)` slots, the
        // arguments encoded for the function's parameter types.
        unsafe { entry.call(&mut ctx, values.as_mut_ptr(), len) }?;
        let o = ctx.opaque();
        let default_ty = FuncType::default();
        let ty = self.ty_in(o).unwrap_or(&default_ty);
        for ((r, &t), &raw) in results.iter_mut().zip(&ty.results).zip(&values) {
            *r = val_from_raw(o, t, raw.to_le_bytes());
        }
        Ok(())
    }

    /// How to enter this function of `store` (which must be its own):
    /// fixed for the store's life, so a [`TypedFunc`](crate::TypedFunc)
    /// finds it once.
    pub(crate) fn entry(&self, o: &StoreOpaque) -> Result<Entry, CallError> {
        Ok(match self.kind {
            FuncKind::Host(h) => Entry::Host(HostFuncHeader::ptr(o, h)),
            FuncKind::Wasm { instance, index } => {
                let inst = &o.instances[instance as usize];
                let addr = inst
                    .array_trampoline_addr(index)
                    .ok_or_else(|| {
                        CallError::Host(format!(
                            "function {index} has no array-call trampoline (only exported, address-taken and start functions have one)"
                        ))
                    })?;
                // SAFETY: `addr` is an array-call trampoline in the mapped,
                // executable text of the instance's module (offset checked
                // at load), which has the `ArrayFn` signature by the ABI.
                let tramp: ArrayFn = unsafe { std::mem::transmute::<usize, ArrayFn>(addr) };
                Entry::Wasm {
                    tramp,
                    vmctx: inst.vmctx.base(),
                }
            }
        })
    }

    /// The address of this function's `VMFuncRef` in `store`. A host
    /// function gets one of its own, in the store, the first time: its
    /// code is the wasm-to-array trampoline of its type that an instance
    /// of the store has for a function import (artifacts carry one per
    /// imported function), its VMContext the host context, as in an
    /// import slot.
    pub(crate) fn funcref(&self, store: &mut StoreOpaque) -> Result<u64, String> {
        if self.store != store.id {
            return Err("function reference belongs to another store".into());
        }
        match self.kind {
            FuncKind::Wasm { instance, index } => {
                Ok(store.instances[instance as usize].func_ref_addr(index))
            }
            FuncKind::Host(h) => store
                .host_funcref(h, |o| {
                    let header = HostFuncHeader::get(o, h);
                    let type_id = crate::typereg::intern(&header.ty);
                    let native_fn = o
                        .instances
                        .iter()
                        .find_map(|i| i.import_trampoline_for(type_id))?;
                    Some(HostFuncRef {
                        native_fn,
                        type_id,
                        _pad: 0,
                        vmctx: HostFuncHeader::ptr(o, h).as_ptr() as u64,
                    })
                })
                .ok_or_else(|| {
                    let ty = self.ty_in(store).cloned().unwrap_or_default();
                    format!(
                        "a host function of type {} can become a funcref value only once a \
                         module importing a function of that type is instantiated in the store",
                        crate::types::func_type_text(&ty)
                    )
                }),
        }
    }

    /// `(native_fn, vmctx)` for an import slot of a module whose
    /// wasm-to-array trampoline for this type is at `host_trampoline`.
    pub(crate) fn import_slot(&self, store: &StoreOpaque, host_trampoline: u64) -> (u64, u64) {
        match self.kind {
            FuncKind::Wasm { instance, index } => {
                let inst = &store.instances[instance as usize];
                (inst.code_addr(index), inst.vmctx.base() as u64)
            }
            FuncKind::Host(h) => (
                host_trampoline,
                HostFuncHeader::ptr(store, h).as_ptr() as u64,
            ),
        }
    }
}

/// How to enter a function: its array-call trampoline and VMContext, or
/// its host context. Valid while the store that gave it lives (a store
/// frees nothing before it drops).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Entry {
    /// A wasm function.
    Wasm {
        /// Its array-call trampoline.
        tramp: ArrayFn,
        /// Its instance's VMContext.
        vmctx: *mut u8,
    },
    /// A host function.
    Host(NonNull<HostFuncHeader>),
}

impl Entry {
    /// Calls the function on `values`, the arguments in, the results out.
    ///
    /// # Safety
    ///
    /// `self` must come from [`Func::entry`] with the store `ctx` lends;
    /// `values` must point at `len >= max(params, results, 1)` writable
    /// slots holding arguments of the function's parameter types.
    pub(crate) unsafe fn call<T>(
        self,
        ctx: &mut StoreContextMut<'_, T>,
        values: *mut u128,
        len: usize,
    ) -> Result<(), CallError> {
        // No reference into the store is live during the call (`ctx`
        // holds only its raw pointer), so host functions that wasm calls
        // may make their own.
        let stack_size = ctx.opaque().wasm_stack_size;
        let id = ctx.opaque().id;
        // An interrupted store stays interrupted: every call into wasm traps
        // here, before it runs, also into a function that calls nothing and
        // has no loop, which compiles without an interruption check (it ends
        // on its own; see the compiler's `translate/limits.rs`).
        if matches!(self, Entry::Wasm { .. })
            && ctx
                .opaque()
                .vm_limits
                .vm
                .interrupt
                .load(std::sync::atomic::Ordering::Relaxed)
                != 0
        {
            return Err(CallError::Trap(Trap::new(TrapCode::Interrupt)));
        }
        let r = match self {
            // SAFETY: `header` is a live host function of this store (per
            // the contract), whose `invoke` matches its types; no caller
            // instance; `values` holds enough slots.
            Entry::Host(header) => unsafe {
                (header.as_ref().invoke)(header, std::ptr::null_mut(), values.cast(), len)
            },
            // SAFETY: `tramp` is the array-call trampoline of a defined
            // function of a live instance of this store, whose module
            // (code) and VMContext the store keeps until it drops; `values`
            // holds enough slots.
            Entry::Wasm { tramp, vmctx } => unsafe {
                traphandler::call_array(ArrayCall {
                    func: tramp,
                    callee_vmctx: vmctx,
                    caller_vmctx: vmctx,
                    values: values.cast(),
                    len,
                    stack_size,
                    host_stack_limit: ctx.host_stack_limit_ptr(),
                })
            },
        };
        r.map_err(|u| abandoned_call(ctx.opaque(), u, id))
    }
}

/// What a call that did not return (a trap, an exit, an exception ...)
/// returns to the host.
#[cold]
#[inline(never)]
fn abandoned_call(o: &StoreOpaque, u: Unwind, id: StoreId) -> CallError {
    if let Unwind::Exception(exnref) = &u {
        o.keep_backtrace(*exnref);
    }
    unwind_to_call(u, id)
}

fn check_args(o: &StoreOpaque, ty: &FuncType, args: &[Val]) -> Result<(), CallError> {
    if args.len() != ty.params.len() {
        return Err(CallError::ArgumentCount {
            expected: ty.params.len(),
            got: args.len(),
        });
    }
    for (index, (a, &t)) in args.iter().zip(&ty.params).enumerate() {
        if !a.is_of(o, t) {
            return Err(CallError::ArgumentType {
                index,
                expected: t,
                got: a.ty(),
            });
        }
    }
    Ok(())
}

fn check_results(o: &StoreOpaque, ty: &FuncType, results: &[Val]) -> Result<(), String> {
    for (i, (r, &t)) in results.iter().zip(&ty.results).enumerate() {
        // A typed reference result must be of the type (wasm relies on
        // it: `call_ref` through it makes no signature check).
        if !r.is_of(o, t) {
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

pub(crate) fn unwind_to_call(u: Unwind, store: crate::store::StoreId) -> CallError {
    match u {
        Unwind::Trap { code, backtrace } => CallError::Trap(Trap {
            code,
            backtrace: backtrace.symbolize(),
        }),
        Unwind::Exit(n) => CallError::Exit(n),
        Unwind::Host(m) => CallError::Host(m),
        Unwind::Exception(exnref) => CallError::Exception(crate::Exception {
            store,
            index: exnref.saturating_sub(1) as u32,
        }),
    }
}

/// Encodes a value as a `ValRaw` for `store`, rooting an externref in it.
pub(crate) fn val_to_raw(store: &mut StoreOpaque, v: &Val) -> Result<[u8; 16], String> {
    let mut b = [0u8; 16];
    match v {
        Val::I32(x) => b[..4].copy_from_slice(&x.to_le_bytes()),
        Val::I64(x) => b[..8].copy_from_slice(&x.to_le_bytes()),
        Val::F32(x) => b[..4].copy_from_slice(&x.to_le_bytes()),
        Val::F64(x) => b[..8].copy_from_slice(&x.to_le_bytes()),
        Val::V128(x) => b = x.to_le_bytes(),
        Val::FuncRef(None) | Val::ExternRef(None) | Val::ExnRef(None) => {}
        Val::FuncRef(Some(f)) => b[..8].copy_from_slice(&f.funcref(store)?.to_le_bytes()),
        Val::ExternRef(Some(r)) => b[..8].copy_from_slice(&store.root_externref(r).to_le_bytes()),
        Val::ExnRef(Some(e)) => b[..8].copy_from_slice(&e.exnref(store)?.to_le_bytes()),
    }
    Ok(b)
}

/// Decodes a `ValRaw` of type `ty` that wasm of `store` produced.
pub(crate) fn val_from_raw(store: &StoreOpaque, ty: ValType, b: [u8; 16]) -> Val {
    let u32_at = || u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let u64_at = || u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    match ty {
        ValType::I32 => Val::I32(u32_at() as i32),
        ValType::I64 => Val::I64(u64_at() as i64),
        ValType::F32 => Val::F32(u32_at()),
        ValType::F64 => Val::F64(u64_at()),
        ValType::V128 => Val::V128(u128::from_le_bytes(b)),
        ValType::ExternRef => Val::ExternRef(store.externref(u64_at())),
        ValType::FuncRef | ValType::Ref(_) => {
            match ty.as_ref_type().map(|r| r.heap) {
                Some(HeapType::Extern) => return Val::ExternRef(store.externref(u64_at())),
                Some(HeapType::Exn) => return Val::ExnRef(store.exception(u64_at())),
                _ => {}
            }
            Val::FuncRef(match u64_at() {
                0 => None,
                addr => func_from_funcref(store, addr),
            })
        }
        ValType::ExnRef => Val::ExnRef(store.exception(u64_at())),
    }
}

/// A host function's `VMFuncRef` (`wasmo_artifact_format::vmctx`'s
/// layout, checked below), owned by its store.
#[repr(C)]
pub(crate) struct HostFuncRef {
    native_fn: u64,
    type_id: u32,
    _pad: u32,
    vmctx: u64,
}

const _: () = {
    use wasmo_artifact_format::vmctx::{
        FUNC_REF_NATIVE_FN, FUNC_REF_SIZE, FUNC_REF_TYPE_ID, FUNC_REF_VMCTX,
    };
    assert!(std::mem::size_of::<HostFuncRef>() == FUNC_REF_SIZE as usize);
    assert!(std::mem::offset_of!(HostFuncRef, native_fn) == FUNC_REF_NATIVE_FN as usize);
    assert!(std::mem::offset_of!(HostFuncRef, type_id) == FUNC_REF_TYPE_ID as usize);
    assert!(std::mem::offset_of!(HostFuncRef, vmctx) == FUNC_REF_VMCTX as usize);
};

/// The function whose `VMFuncRef` is at `addr`, if it belongs to an
/// instance of `store` or is a host function's (`Func::funcref`).
fn func_from_funcref(store: &StoreOpaque, addr: u64) -> Option<Func> {
    if let Some(h) = store.host_funcref_owner(addr) {
        return Some(Func {
            store: store.id,
            kind: FuncKind::Host(h),
        });
    }
    let (instance, off) = store.vmctx_at(usize::try_from(addr).ok()?)?;
    let index = store.instances[instance as usize].func_at_vmctx_offset(off)?;
    Some(store.instances[instance as usize].func(store.id, index))
}

/// Frees a `HostFunc<T, F>`.
///
/// # Safety
///
/// `h` must come from `Func::new::<T, F>` and be freed only once.
unsafe fn drop_host_func<T, F>(h: NonNull<HostFuncHeader>) {
    // SAFETY: `Func::new::<T, F>` made `h` by leaking a `Box<HostFunc<T, F>>`
    // (whose header is its first field, `repr(C)`); freed once per contract.
    drop(unsafe { Box::from_raw(h.cast::<HostFunc<T, F>>().as_ptr()) });
}

/// Runs a closure over `Val`s (a [`Func::new`] closure) on raw value
/// slots: decodes the arguments into inline buffers, runs it, checks and
/// encodes its results. A host call from wasm allocates nothing here.
pub(crate) fn call_val_closure<T, F>(
    ty: &FuncType,
    f: &F,
    mut caller: Caller<'_, T>,
    slots: &mut [[u8; 16]],
) -> Result<(), HostError>
where
    F: Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), HostError>,
{
    if slots.len() < ty.params.len().max(ty.results.len()) {
        return Err(too_few_slots());
    }
    let mut args: SmallVec<[Val; 4]> = SmallVec::new();
    let mut results: SmallVec<[Val; 2]> = SmallVec::new();
    {
        let o = caller.store.opaque();
        for (&t, &raw) in ty.params.iter().zip(slots.iter()) {
            args.push(val_from_raw(o, t, raw));
        }
    }
    for &t in &ty.results {
        results.push(Val::default_for(t));
    }
    f(caller.reborrow(), &args, &mut results)?;
    check_results(caller.store.opaque(), ty, &results).map_err(HostError::Message)?;
    let o = caller.store.opaque_mut();
    for (slot, v) in slots.iter_mut().zip(&results) {
        *slot = val_to_raw(o, v).map_err(HostError::Message)?;
    }
    Ok(())
}

/// How a host function's error leaves wasm (`ctx` is the function's
/// store).
#[cold]
#[inline(never)]
fn host_unwind<T>(e: HostError, ctx: StoreContextMut<'_, T>) -> Unwind {
    let store = ctx.opaque().id;
    match e {
        HostError::Trap(code) => Unwind::Trap {
            code,
            backtrace: Box::new(RawBacktrace::empty()),
        },
        HostError::Exit(n) => Unwind::Exit(n),
        HostError::Message(m) => Unwind::Host(m),
        HostError::Exception(e) if e.store == store => Unwind::Exception(u64::from(e.index) + 1),
        HostError::Exception(_) => {
            Unwind::Host("a host function threw an exception of another store".into())
        }
    }
}

/// Runs raw host function `h` (a `HostFunc<T, G>` made by
/// [`Func::new_raw`]) on the value slots.
///
/// # Safety
///
/// `h` must be a live context made by `Func::new_raw::<T, G>`;
/// `caller_vmctx` null or the VMContext of a live instance of the same
/// store; `values` `len` writable 16-byte slots holding the arguments;
/// and the store must be lent to this call: nothing else uses it until
/// this returns.
#[inline(always)]
unsafe fn invoke_raw<T, G>(
    h: NonNull<HostFuncHeader>,
    caller_vmctx: *mut u8,
    values: *mut u8,
    len: usize,
) -> Result<(), Unwind>
where
    G: Fn(Caller<'_, T>, &mut [[u8; 16]]) -> Result<(), HostError>,
{
    // SAFETY: per the contract `h` is a live `HostFunc<T, G>`, a separate
    // allocation from the store, only ever read.
    let host = unsafe { h.cast::<HostFunc<T, G>>().as_ref() };
    // SAFETY: the caller passes `len` 16-byte slots, which nothing else
    // touches during the call. (The closure checks that they are enough
    // for its type: see `RawHostFn`.)
    let slots = unsafe { std::slice::from_raw_parts_mut(values.cast::<[u8; 16]>(), len) };
    let store = host.header.store.cast::<StoreInner<T>>();
    // SAFETY: `header.store` is the `StoreInner<T>` of the store that made
    // this function (T is the store's data type: `Func::new_raw` took it
    // from that store's context), lent to this call per the contract.
    let ctx = unsafe { StoreContextMut::<T>::from_raw(store) };
    // SAFETY: per the contract, `caller_vmctx` is null or a live
    // VMContext of this store.
    let caller = unsafe { Caller::new(ctx, caller_vmctx) };
    match catch_unwind(AssertUnwindSafe(|| (host.func)(caller, slots))) {
        Ok(Ok(())) => Ok(()),
        // SAFETY: the closure has returned, so nothing uses the store; it
        // is still lent to this call.
        Ok(Err(e)) => Err(host_unwind(e, unsafe { StoreContextMut::from_raw(store) })),
        Err(p) => Err(host_panicked(p)),
    }
}

/// A panic caught in a host closure, as the unwind that ends the call.
#[cold]
#[inline(never)]
fn host_panicked(p: Box<dyn Any + Send>) -> Unwind {
    Unwind::Host(panic_message(p.as_ref()))
}

/// What a host closure given fewer value slots than its type needs
/// returns (the check is the closures' own, see `RawHostFn`). Compiled
/// trampolines and calls from the host always pass enough, so only a
/// defect of compiled code gets here: the trap says so. It calls nothing
/// (no allocation), so a closure that cannot otherwise panic or fail has
/// no landing pad and its host call no stack frame.
pub(crate) const fn too_few_slots() -> HostError {
    HostError::Trap(TrapCode::UnexpectedFault)
}

/// [`invoke_raw`] as wasm calls it, through [`host_array_call`]: a failure
/// leaves wasm from here (a trap gets the wasm frames' backtrace from
/// `ret` and `fp`, the calling trampoline's return address and frame
/// pointer; an exception unwinds into the calling wasm).
///
/// # Safety
///
/// As for [`invoke_raw`], called by [`host_array_call`] on the wasm stack
/// of an entry of `h`'s store.
unsafe extern "C-unwind" fn invoke_from_wasm<T, G>(
    h: NonNull<HostFuncHeader>,
    caller_vmctx: *mut u8,
    values: *mut u8,
    len: usize,
    ret: usize,
    fp: usize,
) where
    G: Fn(Caller<'_, T>, &mut [[u8; 16]]) -> Result<(), HostError>,
{
    // SAFETY: forwarded from our own contract.
    let outcome = unsafe { invoke_raw::<T, G>(h, caller_vmctx, values, len) };
    // Everything `invoke_raw` owned has been dropped; nothing on this
    // frame needs dropping, so discarding the stack is fine.
    if let Err(unwind) = outcome {
        host_call_failed(unwind, ret, fp)
    }
}

/// The array function of every host function: how wasm calls the host.
/// It checks that [`traphandler::HOST_STACK_RESERVE`] bytes of stack are
/// left (against the store's `host_stack_limit`, which the entry into
/// wasm set: found through the context's store pointer, with no
/// thread-local lookup), then jumps to the function's own
/// [`invoke_from_wasm`], passing the return address into the calling
/// trampoline and that trampoline's frame pointer (for backtraces of host
/// traps). Jumps keep the stack as the call left it, so neither it nor a
/// failing check adds a frame.
///
/// # Safety
///
/// Called only by a compiled wasm-to-array trampoline, on the wasm stack
/// of an entry of the context's store, with `ctx` a live
/// `HostFuncHeader`, `caller_vmctx` the calling instance's VMContext and
/// `values` `len >= max(params, results)` slots.
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
unsafe extern "C" fn host_array_call(
    _ctx: *mut u8,
    _caller_vmctx: *mut u8,
    _values: *mut u8,
    _len: usize,
) {
    core::arch::naked_asm!(
        "mov rax, [rdi + {store}]",
        "cmp rsp, [rax + {limit}]",
        "jb 2f",
        "mov r8, [rsp]",
        "mov r9, rbp",
        "jmp [rdi + {from_wasm}]",
        "2:",
        "mov rdi, [rsp]",
        "mov rsi, rbp",
        "jmp {exhausted}",
        store = const std::mem::offset_of!(HostFuncHeader, store),
        limit = const std::mem::offset_of!(StoreInner<()>, opaque)
            + std::mem::offset_of!(StoreOpaque, host_stack_limit),
        from_wasm = const std::mem::offset_of!(HostFuncHeader, from_wasm),
        exhausted = sym host_stack_exhausted,
    )
}

/// As the x86-64 version, without a backtrace (unreached: no wasm runs on
/// other hosts yet).
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
    if traphandler::stack_left().is_some_and(|left| left < traphandler::HOST_STACK_RESERVE) {
        host_stack_exhausted(0, 0)
    }
    let Some(header) = NonNull::new(ctx.cast::<HostFuncHeader>()) else {
        traphandler::raise(Unwind::Host("host call without a context".into()))
    };
    // SAFETY: forwarded from our own contract.
    unsafe { (header.as_ref().from_wasm)(header, caller_vmctx, values, len, 0, 0) }
}

/// A host call from wasm with less than [`traphandler::HOST_STACK_RESERVE`]
/// left: the call stack is exhausted. Out of line, so that the host-call
/// path keeps a small frame.
#[cold]
#[inline(never)]
extern "C" fn host_stack_exhausted(ret: usize, fp: usize) -> ! {
    traphandler::raise(Unwind::Trap {
        code: TrapCode::StackOverflow,
        backtrace: Box::new(traphandler::backtrace_from(ret, fp)),
    })
}

/// Leaves wasm with a host function's `unwind` (a trap gets the wasm
/// frames' backtrace; an exception unwinds into the calling wasm).
#[cold]
#[inline(never)]
fn host_call_failed(unwind: Unwind, ret: usize, fp: usize) -> ! {
    let unwind = match unwind {
        Unwind::Trap { code, backtrace } => {
            drop(backtrace);
            Unwind::Trap {
                code,
                backtrace: Box::new(traphandler::backtrace_from(ret, fp)),
            }
        }
        // Unwinds through this frame and `host_array_impl` (`C-unwind`,
        // owning nothing) into the calling wasm.
        Unwind::Exception(exnref) => crate::unwind::throw_from_host(exnref),
        unwind => unwind,
    };
    traphandler::raise(unwind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AsContextMut, Store};
    use crate::values::ExternRef;

    #[test]
    fn issue9_val_from_raw_decodes_externref_as_externref() {
        let mut store = Store::new(());
        let mut ctx = store.as_context_mut();
        let o = ctx.opaque_mut();
        let obj = ExternRef::new(5i32);
        let raw = match val_to_raw(o, &Val::ExternRef(Some(obj.clone()))) {
            Ok(raw) => raw,
            Err(e) => panic!("encoding: {e}"),
        };
        match val_from_raw(o, ValType::ExternRef, raw) {
            Val::ExternRef(Some(back)) => assert!(back.ptr_eq(&obj)),
            other => panic!("expected the externref back, got {other:?}"),
        }
        assert!(matches!(
            val_from_raw(o, ValType::ExternRef, [0; 16]),
            Val::ExternRef(None)
        ));
        assert!(matches!(
            val_from_raw(o, ValType::FuncRef, [0; 16]),
            Val::FuncRef(None)
        ));
    }
}
