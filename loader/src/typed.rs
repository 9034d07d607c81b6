//! Typed functions: host closures of typed Rust parameters and results
//! ([`Func::wrap`], [`HostFuncDef`]) and typed calls into wasm
//! ([`TypedFunc`]), both without `Val` boxing.
//!
//! Rule: a Rust type maps to exactly one wasm value type ([`WasmTy`],
//! sealed: only this crate says how a type is encoded in a `ValRaw`
//! slot), and a signature is checked once, when a [`TypedFunc`] is made
//! or a host function is defined; calls then move raw slots only. The
//! only unsafe code passes a stack array of slots to a checked entry.
//! References (`Option<Func>`, `Option<ExternRef>`) are encoded through
//! the store, exactly as `Val`s are (`func::val_to_raw`), so the two
//! paths can never disagree on what a reference slot holds.

#![expect(
    unsafe_code,
    reason = "calls a function's entry with a stack array of raw slots"
)]

use std::marker::PhantomData;
use std::sync::Arc;

use wasmo_artifact_format::{FuncType, ValType};

use crate::error::{CallError, HostError};
use crate::func::{val_from_raw, val_to_raw, Caller, Entry, Func};
use crate::store::{AsContext, AsContextMut, StoreId, StoreOpaque};
use crate::values::{ExternRef, Val};

/// A `v128` value, as [`Func::wrap`] closures and [`TypedFunc`] take and
/// give it (little-endian lanes: lane 0 is the low bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct V128(u128);

impl V128 {
    /// The 128 bits.
    pub fn as_u128(self) -> u128 {
        self.0
    }
}

impl From<u128> for V128 {
    fn from(v: u128) -> V128 {
        V128(v)
    }
}

impl From<V128> for u128 {
    fn from(v: V128) -> u128 {
        v.0
    }
}

mod sealed {
    /// Only this crate implements the typed-value traits.
    pub trait Sealed {}
}

/// The store a typed value is encoded for: where references live (a
/// `funcref` is the address of a `VMFuncRef` of one of its instances, an
/// `externref` an index into its roots).
#[doc(hidden)]
pub struct RawStore<'a>(&'a mut StoreOpaque);

impl std::fmt::Debug for RawStore<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawStore").finish_non_exhaustive()
    }
}

/// A Rust type that is one wasm value: `i32`, `u32` (as `i32`), `i64`,
/// `u64` (as `i64`), `f32`, `f64`, [`V128`], `Option<Func>` (`funcref`,
/// `None` the null reference) and `Option<ExternRef>` (`externref`).
/// Floats keep their bits, so NaN payloads survive. A host function
/// becomes a `funcref` only once an instance of the store imports a
/// function of its type (else the call fails, saying so), as with
/// [`Func::call`].
pub trait WasmTy: sealed::Sealed + Send + 'static {
    /// Its wasm type.
    const TYPE: ValType;
    #[doc(hidden)]
    fn from_raw(store: &mut RawStore<'_>, raw: u128) -> Self;
    #[doc(hidden)]
    fn into_raw(self, store: &mut RawStore<'_>) -> Result<u128, String>;
}

/// What a [`Func::wrap`] closure returns: its results ([`WasmResults`]),
/// or `Result` of them with a [`HostError`] (to trap or exit).
pub trait WasmRet: Send + 'static {
    /// The results' types.
    type Results: WasmResults;
    #[doc(hidden)]
    fn into_results(self) -> Result<Self::Results, HostError>;
}

macro_rules! wasm_ret {
    ([$($g:tt)*] $t:ty) => {
        impl<$($g)*> WasmRet for $t {
            type Results = $t;
            #[inline]
            fn into_results(self) -> Result<$t, HostError> {
                Ok(self)
            }
        }
        impl<$($g)*> WasmRet for Result<$t, HostError> {
            type Results = $t;
            #[inline]
            fn into_results(self) -> Result<$t, HostError> {
                self
            }
        }
    };
}

macro_rules! wasm_ty {
    ($($t:ty => $vt:ident, |$r:ident| $from:expr, |$v:ident| $into:expr;)*) => {$(
        impl sealed::Sealed for $t {}
        impl WasmTy for $t {
            const TYPE: ValType = ValType::$vt;
            #[inline]
            fn from_raw(_: &mut RawStore<'_>, $r: u128) -> Self {
                $from
            }
            #[inline]
            fn into_raw(self, _: &mut RawStore<'_>) -> Result<u128, String> {
                let $v = self;
                Ok($into)
            }
        }
    )*};
}

/// References, through the store as `Val`s go (`$variant` is both the
/// `Val` variant and the `ValType`).
macro_rules! wasm_ref_ty {
    ($($t:ty => $variant:ident;)*) => {$(
        impl sealed::Sealed for Option<$t> {}
        impl WasmTy for Option<$t> {
            const TYPE: ValType = ValType::$variant;
            #[inline]
            fn from_raw(store: &mut RawStore<'_>, raw: u128) -> Self {
                match val_from_raw(store.0, ValType::$variant, raw.to_le_bytes()) {
                    Val::$variant(r) => r,
                    _ => None,
                }
            }
            #[inline]
            fn into_raw(self, store: &mut RawStore<'_>) -> Result<u128, String> {
                val_to_raw(store.0, &Val::$variant(self)).map(u128::from_le_bytes)
            }
        }
        wasm_ret!([] Option<$t>);
    )*};
}

wasm_ty! {
    i32 => I32, |r| r as u32 as i32, |v| u128::from(v as u32);
    u32 => I32, |r| r as u32, |v| u128::from(v);
    i64 => I64, |r| r as u64 as i64, |v| u128::from(v as u64);
    u64 => I64, |r| r as u64, |v| u128::from(v);
    f32 => F32, |r| f32::from_bits(r as u32), |v| u128::from(v.to_bits());
    f64 => F64, |r| f64::from_bits(r as u64), |v| u128::from(v.to_bits());
    V128 => V128, |r| V128(r), |v| v.0;
}

wasm_ret!([] i32);
wasm_ret!([] u32);
wasm_ret!([] i64);
wasm_ret!([] u64);
wasm_ret!([] f32);
wasm_ret!([] f64);
wasm_ret!([] V128);

wasm_ref_ty! {
    Func => FuncRef;
    ExternRef => ExternRef;
}

/// The parameters of a typed function: `()`, one [`WasmTy`], or a tuple
/// of up to 16 of them.
pub trait WasmParams: sealed::Sealed + Send + Sized + 'static {
    /// How many values.
    const LEN: usize;
    /// Their wasm types.
    fn valtypes() -> Vec<ValType>;
    #[doc(hidden)]
    fn store_raw(self, slots: &mut [[u8; 16]], store: &mut RawStore<'_>) -> Result<(), String>;
    #[doc(hidden)]
    fn load_raw(slots: &[[u8; 16]], store: &mut RawStore<'_>) -> Self;
}

/// The results of a typed function: as [`WasmParams`] (`()` for none, a
/// tuple for several).
pub trait WasmResults: WasmParams {}

impl<P: WasmParams> WasmResults for P {}

impl<T: WasmTy> WasmParams for T {
    const LEN: usize = 1;
    fn valtypes() -> Vec<ValType> {
        vec![T::TYPE]
    }
    #[inline]
    fn store_raw(self, slots: &mut [[u8; 16]], store: &mut RawStore<'_>) -> Result<(), String> {
        slots[0] = self.into_raw(store)?.to_le_bytes();
        Ok(())
    }
    #[inline]
    fn load_raw(slots: &[[u8; 16]], store: &mut RawStore<'_>) -> Self {
        T::from_raw(store, u128::from_le_bytes(slots[0]))
    }
}

/// Invokes `$m!(A0 0, ...)` for every tuple arity from 1 to 16.
macro_rules! for_each_arity {
    ($m:ident) => {
        $m!(A0 0);
        $m!(A0 0, A1 1);
        $m!(A0 0, A1 1, A2 2);
        $m!(A0 0, A1 1, A2 2, A3 3);
        $m!(A0 0, A1 1, A2 2, A3 3, A4 4);
        $m!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5);
        $m!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6);
        $m!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6, A7 7);
        $m!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6, A7 7, A8 8);
        $m!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6, A7 7, A8 8, A9 9);
        $m!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6, A7 7, A8 8, A9 9, A10 10);
        $m!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6, A7 7, A8 8, A9 9, A10 10, A11 11);
        $m!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6, A7 7, A8 8, A9 9, A10 10, A11 11, A12 12);
        $m!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6, A7 7, A8 8, A9 9, A10 10, A11 11, A12 12, A13 13);
        $m!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6, A7 7, A8 8, A9 9, A10 10, A11 11, A12 12, A13 13, A14 14);
        $m!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6, A7 7, A8 8, A9 9, A10 10, A11 11, A12 12, A13 13, A14 14, A15 15);
    };
}

macro_rules! count {
    () => { 0 };
    ($h:ident $($t:ident)*) => { 1 + count!($($t)*) };
}

macro_rules! tuple_params {
    ($($t:ident $i:tt),*) => {
        wasm_ret!([$($t: WasmTy),*] ($($t,)*));
        impl<$($t: WasmTy),*> sealed::Sealed for ($($t,)*) {}
        impl<$($t: WasmTy),*> WasmParams for ($($t,)*) {
            const LEN: usize = count!($($t)*);
            fn valtypes() -> Vec<ValType> {
                vec![$($t::TYPE),*]
            }
            #[inline]
            fn store_raw(
                self,
                slots: &mut [[u8; 16]],
                store: &mut RawStore<'_>,
            ) -> Result<(), String> {
                $(slots[$i] = self.$i.into_raw(store)?.to_le_bytes();)*
                Ok(())
            }
            #[inline]
            fn load_raw(slots: &[[u8; 16]], store: &mut RawStore<'_>) -> Self {
                ($($t::from_raw(store, u128::from_le_bytes(slots[$i])),)*)
            }
        }
    };
}

wasm_ret!([]());
impl sealed::Sealed for () {}
impl WasmParams for () {
    const LEN: usize = 0;
    fn valtypes() -> Vec<ValType> {
        Vec::new()
    }
    #[inline]
    fn store_raw(self, _: &mut [[u8; 16]], _: &mut RawStore<'_>) -> Result<(), String> {
        Ok(())
    }
    #[inline]
    fn load_raw(_: &[[u8; 16]], _: &mut RawStore<'_>) -> Self {}
}
for_each_arity!(tuple_params);

/// A Rust closure that can be a host function: `Fn(Caller<'_, T>, A1, A2,
/// ...) -> R` or `Fn(A1, A2, ...) -> R`, each `A` a [`WasmTy`] (up to 16
/// of them) and `R` a [`WasmRet`]. `Params` and `Results` only tell the
/// implementations apart; type inference fills them in.
pub trait IntoFunc<T, Params, Results>: Send + Sync + 'static {
    #[doc(hidden)]
    fn into_raw(self) -> (FuncType, impl RawHostFn<T>);
}

/// A host closure over raw value slots (what every typed or `Val`
/// closure becomes): reads its arguments from the slots, writes its
/// results over them. It gets the slots its caller passed (by the ABI at
/// least `max(params, results)`; nothing checks that before) and fails
/// with `func::too_few_slots` when they are fewer than its type needs.
#[doc(hidden)]
pub trait RawHostFn<T>:
    Fn(Caller<'_, T>, &mut [[u8; 16]]) -> Result<(), HostError> + Send + Sync + 'static
{
}

impl<T, G> RawHostFn<T> for G where
    G: Fn(Caller<'_, T>, &mut [[u8; 16]]) -> Result<(), HostError> + Send + Sync + 'static
{
}

/// The value slots of a host closure taking `P` and returning `R`: as many
/// as its type needs (a constant once monomorphised, so the closure's own
/// slot accesses need no further bounds check).
#[inline(always)]
fn raw_slots<P: WasmParams, R: WasmRet>(
    slots: &mut [[u8; 16]],
) -> Result<&mut [[u8; 16]], HostError> {
    slots
        .get_mut(..P::LEN.max(R::Results::LEN))
        .ok_or(crate::func::too_few_slots())
}

/// The wasm type of a host closure taking `P` and returning `R`.
fn host_type<P: WasmParams, R: WasmRet>() -> FuncType {
    FuncType {
        params: P::valtypes(),
        results: R::Results::valtypes(),
    }
}

macro_rules! into_func {
    ($($a:ident $i:tt),*) => {
        impl<T, F, $($a: WasmTy,)* R: WasmRet> IntoFunc<T, (Caller<'_, T>, $($a,)*), R> for F
        where
            F: Fn(Caller<'_, T>, $($a),*) -> R + Send + Sync + 'static,
        {
            fn into_raw(
                self,
            ) -> (
                FuncType,
                impl RawHostFn<T>,
            ) {
                (host_type::<($($a,)*), R>(), move |mut caller: Caller<'_, T>, slots: &mut [[u8; 16]]| {
                    let slots = raw_slots::<($($a,)*), R>(slots)?;
                    let _args = <($($a,)*)>::load_raw(slots, &mut RawStore(caller.opaque_mut()));
                    let r = self(caller.reborrow(), $(_args.$i),*);
                    r.into_results()?
                        .store_raw(slots, &mut RawStore(caller.opaque_mut()))
                        .map_err(HostError::Message)
                })
            }
        }

        impl<T, F, $($a: WasmTy,)* R: WasmRet> IntoFunc<T, ($($a,)*), R> for F
        where
            F: Fn($($a),*) -> R + Send + Sync + 'static,
        {
            fn into_raw(
                self,
            ) -> (
                FuncType,
                impl RawHostFn<T>,
            ) {
                (host_type::<($($a,)*), R>(), move |mut caller: Caller<'_, T>, slots: &mut [[u8; 16]]| {
                    let slots = raw_slots::<($($a,)*), R>(slots)?;
                    let _args = <($($a,)*)>::load_raw(slots, &mut RawStore(caller.opaque_mut()));
                    let r = self($(_args.$i),*);
                    r.into_results()?
                        .store_raw(slots, &mut RawStore(caller.opaque_mut()))
                        .map_err(HostError::Message)
                })
            }
        }
    };
}

into_func!();
for_each_arity!(into_func);

impl Func {
    /// A host function from a Rust closure of typed parameters and
    /// results, with or without a leading [`Caller`]; its wasm type
    /// follows from the Rust types. Arguments and results move between
    /// wasm and the closure without `Val` boxing.
    ///
    /// ```
    /// use wasmo_loader::{Caller, Func, Store, ValType};
    ///
    /// let mut store = Store::new(0u32);
    /// let add = Func::wrap(&mut store, |a: i32, b: i32| a.wrapping_add(b));
    /// let count = Func::wrap(&mut store, |mut caller: Caller<'_, u32>, n: u32| {
    ///     *caller.data_mut() += n;
    /// });
    /// assert_eq!(add.ty(&store).params, [ValType::I32, ValType::I32]);
    /// assert_eq!(add.typed::<(i32, i32), i32>(&store)?.call(&mut store, (2, 3))?, 5);
    /// count.typed::<u32, ()>(&store)?.call(&mut store, 7)?;
    /// assert_eq!(*store.data(), 7);
    /// # Ok::<(), wasmo_loader::CallError>(())
    /// ```
    pub fn wrap<T: 'static, Params, Results>(
        mut store: impl AsContextMut<Data = T>,
        f: impl IntoFunc<T, Params, Results>,
    ) -> Func {
        let (ty, raw) = f.into_raw();
        Func::new_raw(store.as_context_mut(), ty, raw)
    }

    /// This function as a [`TypedFunc`] with parameters `P` and results
    /// `R`, after checking that they are its type: calls through it check
    /// nothing more and box no values.
    pub fn typed<P: WasmParams, R: WasmResults>(
        &self,
        store: impl AsContext,
    ) -> Result<TypedFunc<P, R>, CallError> {
        let ctx = store.as_context();
        let o = ctx.opaque();
        if self.store != o.id {
            return Err(CallError::WrongStore("function"));
        }
        let ty = self.ty_in(o).cloned().unwrap_or_default();
        let want = FuncType {
            params: P::valtypes(),
            results: R::valtypes(),
        };
        if ty != want {
            return Err(CallError::Signature {
                expected: crate::types::func_type_text(&ty),
                got: crate::types::func_type_text(&want),
            });
        }
        Ok(TypedFunc {
            func: *self,
            store: o.id,
            entry: self.entry(o)?,
            _ty: PhantomData,
        })
    }
}

impl crate::Instance {
    /// The exported function `name` as a [`TypedFunc`] (see
    /// [`Func::typed`]).
    pub fn get_typed_func<P: WasmParams, R: WasmResults>(
        &self,
        store: impl AsContext,
        name: &str,
    ) -> Result<TypedFunc<P, R>, CallError> {
        let ctx = store.as_context();
        let f = self
            .get_func(&ctx, name)
            .ok_or_else(|| CallError::UnknownExport(name.to_owned()))?;
        f.typed(&ctx)
    }
}

/// A function whose type was checked once against `Params` and
/// `Results` ([`Func::typed`]); [`TypedFunc::call`] then passes its
/// arguments and results in a stack array of raw slots straight to the
/// function's array-call trampoline.
pub struct TypedFunc<Params, Results> {
    func: Func,
    store: StoreId,
    entry: Entry,
    _ty: PhantomData<fn(Params) -> Results>,
}

// SAFETY: `entry` holds addresses of a store's code and VMContext (or host
// context), which are only ever used through `call`, under an exclusive
// borrow of that same store (checked by id); the handle itself owns
// nothing, like `Func`.
unsafe impl<P, R> Send for TypedFunc<P, R> {}
// SAFETY: as for `Send`: shared access reads only the plain fields.
unsafe impl<P, R> Sync for TypedFunc<P, R> {}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P, R> Copy for TypedFunc<P, R> {}

impl<P, R> std::fmt::Debug for TypedFunc<P, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedFunc")
            .field("func", &self.func)
            .finish_non_exhaustive()
    }
}

/// Value slots on the stack, aligned as a `ValRaw` array.
#[repr(C, align(16))]
struct Slots<const N: usize>([[u8; 16]; N]);

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// The untyped function.
    pub fn func(&self) -> &Func {
        &self.func
    }

    /// Calls the function. Allocates nothing (unless a trap's backtrace
    /// is made) and checks only that `store` is the function's.
    #[inline]
    pub fn call(&self, mut store: impl AsContextMut, params: P) -> Result<R, CallError> {
        let n = P::LEN.max(R::LEN);
        if n <= 2 {
            self.call_with::<2>(store.as_context_mut(), params)
        } else if n <= 4 {
            self.call_with::<4>(store.as_context_mut(), params)
        } else {
            self.call_with::<16>(store.as_context_mut(), params)
        }
    }

    #[inline]
    fn call_with<const N: usize>(
        &self,
        mut ctx: crate::StoreContextMut<'_, impl Sized>,
        params: P,
    ) -> Result<R, CallError> {
        if ctx.opaque().id != self.store {
            return Err(CallError::WrongStore("function"));
        }
        let mut slots = Slots::<N>([[0u8; 16]; N]);
        params
            .store_raw(&mut slots.0, &mut RawStore(ctx.opaque_mut()))
            .map_err(CallError::Host)?;
        // SAFETY: `entry` came from `Func::entry` with this store (same
        // id, and ids are never reused, so it is the same live store);
        // the slots hold `N >= max(params, results, 1)` values (tuples
        // have at most 16), the arguments of the parameter types
        // `Func::typed` checked.
        unsafe {
            self.entry
                .call(&mut ctx, slots.0.as_mut_ptr().cast::<u128>(), N)
        }?;
        Ok(R::load_raw(&slots.0, &mut RawStore(ctx.opaque_mut())))
    }
}

/// A host function that belongs to no store yet: its type and its
/// closure, shared. [`HostFuncDef::to_func`] makes it a function of a
/// store, as often as needed, each store getting its own [`Func`] (a
/// [`Linker`]-style definition, made once and used with many stores).
pub struct HostFuncDef<T> {
    ty: FuncType,
    call: Arc<dyn MakeFunc<T>>,
}

/// A shared raw closure that can become a function of a store. Only
/// `to_func` goes through the `dyn`: the function it makes calls the
/// closure statically (one monomorphic `invoke` per closure type), so a
/// linker-defined host function costs no virtual call per call from wasm.
trait MakeFunc<T>: Send + Sync + 'static {
    fn make(self: Arc<Self>, ctx: crate::StoreContextMut<'_, T>, ty: FuncType) -> Func;
}

impl<T: 'static, G: RawHostFn<T>> MakeFunc<T> for G {
    fn make(self: Arc<Self>, ctx: crate::StoreContextMut<'_, T>, ty: FuncType) -> Func {
        Func::new_raw(
            ctx,
            ty,
            move |caller: Caller<'_, T>, slots: &mut [[u8; 16]]| (*self)(caller, slots),
        )
    }
}

impl<T> Clone for HostFuncDef<T> {
    fn clone(&self) -> Self {
        HostFuncDef {
            ty: self.ty.clone(),
            call: Arc::clone(&self.call),
        }
    }
}

impl<T> std::fmt::Debug for HostFuncDef<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostFuncDef")
            .field("ty", &self.ty)
            .finish_non_exhaustive()
    }
}

impl<T: 'static> HostFuncDef<T> {
    /// A definition from a typed closure, as [`Func::wrap`] takes.
    pub fn wrap<Params, Results>(f: impl IntoFunc<T, Params, Results>) -> HostFuncDef<T> {
        let (ty, raw) = f.into_raw();
        HostFuncDef {
            ty,
            call: Arc::new(raw),
        }
    }

    /// A definition from a closure over `Val`s, as [`Func::new`] takes.
    pub fn new<F>(ty: FuncType, f: F) -> HostFuncDef<T>
    where
        F: Fn(Caller<'_, T>, &[crate::Val], &mut [crate::Val]) -> Result<(), HostError>
            + Send
            + Sync
            + 'static,
    {
        HostFuncDef {
            ty: ty.clone(),
            call: Arc::new(move |caller: Caller<'_, T>, slots: &mut [[u8; 16]]| {
                crate::func::call_val_closure(&ty, &f, caller, slots)
            }),
        }
    }

    /// Its type.
    pub fn ty(&self) -> &FuncType {
        &self.ty
    }

    /// A function of `store` that runs this definition's closure.
    pub fn to_func(&self, mut store: impl AsContextMut<Data = T>) -> Func {
        Arc::clone(&self.call).make(store.as_context_mut(), self.ty.clone())
    }
}
