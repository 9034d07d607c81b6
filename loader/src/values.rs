//! Wasm values as the host passes them to and receives them from calls,
//! and `externref`s, host objects that wasm can hold but not look into
//! (an `exnref` is an [`Exception`] handle, see `exception.rs`).
//!
//! Rule: floats travel as their bit patterns, so NaN payloads survive a
//! round trip. A reference value is only meaningful with the store it came
//! from. No unsafe code here.

use std::any::Any;
use std::sync::Arc;

use wasmo_artifact_format::{HeapType, ValType};

use crate::exception::Exception;
use crate::func::Func;

/// A wasm value.
#[derive(Clone, Debug)]
pub enum Val {
    /// `i32`
    I32(i32),
    /// `i64`
    I64(i64),
    /// `f32`, as bits.
    F32(u32),
    /// `f64`, as bits.
    F64(u64),
    /// `v128`
    V128(u128),
    /// `funcref`; `None` is `ref.null func`.
    FuncRef(Option<Func>),
    /// `externref`; `None` is `ref.null extern`.
    ExternRef(Option<ExternRef>),
    /// `exnref`; `None` is `ref.null exn`. An exception object of the
    /// store, the same one wasm caught or threw (identity is `==`).
    ExnRef(Option<Exception>),
}

impl Val {
    /// The value's type.
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FuncRef,
            Val::ExternRef(_) => ValType::ExternRef,
            Val::ExnRef(_) => ValType::ExnRef,
        }
    }

    /// Whether the value is of type `ty`: its own type, or for a
    /// reference any type it belongs to (null: a nullable one; a
    /// function: `(ref func)`, and `(ref $t)` of its canonical type).
    pub(crate) fn is_of(&self, o: &crate::store::StoreOpaque, ty: ValType) -> bool {
        let Some(r) = ty.as_ref_type() else {
            return self.ty() == ty;
        };
        match (self, r.heap) {
            (Val::ExternRef(None), HeapType::Extern) => r.nullable,
            (Val::ExternRef(Some(_)), HeapType::Extern) => true,
            (Val::ExnRef(None), HeapType::Exn) => r.nullable,
            (Val::ExnRef(Some(_)), HeapType::Exn) => true,
            (Val::FuncRef(None), HeapType::Extern | HeapType::Exn)
            | (Val::ExternRef(_) | Val::ExnRef(_), _) => false,
            (Val::FuncRef(None), _) => r.nullable,
            (Val::FuncRef(Some(_)), HeapType::Func) => true,
            (Val::FuncRef(Some(f)), HeapType::Canonical(id)) => f.type_id_in(o) == id,
            _ => false,
        }
    }

    /// The zero value of `ty` (null for references, also for a
    /// non-nullable one, which has no default: the caller must not store
    /// it where the type forbids null).
    pub fn default_for(ty: ValType) -> Val {
        match ty {
            ValType::Ref(r) if r.heap == HeapType::Extern => Val::ExternRef(None),
            ValType::Ref(r) if r.heap == HeapType::Exn => Val::ExnRef(None),
            ValType::Ref(_) => Val::FuncRef(None),
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::FuncRef => Val::FuncRef(None),
            ValType::ExternRef => Val::ExternRef(None),
            ValType::ExnRef => Val::ExnRef(None),
        }
    }

    /// The `i32`, if it is one.
    pub fn i32(&self) -> Option<i32> {
        match self {
            Val::I32(v) => Some(*v),
            _ => None,
        }
    }

    /// The `i64`, if it is one.
    pub fn i64(&self) -> Option<i64> {
        match self {
            Val::I64(v) => Some(*v),
            _ => None,
        }
    }
}

impl From<i32> for Val {
    fn from(v: i32) -> Val {
        Val::I32(v)
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::I64(v)
    }
}

/// A host object that wasm holds as an `externref`. Cheap to clone (an
/// `Arc`); two `ExternRef`s are the same reference when
/// [`ExternRef::ptr_eq`] says so.
///
/// Rooting rule: a store keeps every externref that enters it (as an
/// argument, a global or table value, a host function's result) until the
/// store is dropped; wasm holds a small index into that list, never a
/// pointer. Nothing wasm can do makes one dangle; a long-lived store that
/// keeps creating new host objects grows until it is dropped.
#[derive(Clone)]
pub struct ExternRef(Arc<dyn Any + Send + Sync>);

impl ExternRef {
    /// Wraps `value`.
    pub fn new(value: impl Any + Send + Sync) -> ExternRef {
        ExternRef(Arc::new(value))
    }

    /// Wraps an existing shared host object.
    pub fn from_arc(value: Arc<dyn Any + Send + Sync>) -> ExternRef {
        ExternRef(value)
    }

    /// The host object (downcast it to use it).
    pub fn data(&self) -> &(dyn Any + Send + Sync) {
        &*self.0
    }

    /// Whether both wrap the same host object.
    pub fn ptr_eq(&self, other: &ExternRef) -> bool {
        self.addr() == other.addr()
    }

    /// The host object's address: its identity.
    pub(crate) fn addr(&self) -> usize {
        Arc::as_ptr(&self.0).cast::<u8>() as usize
    }
}

impl std::fmt::Debug for ExternRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExternRef({:#x})", self.addr())
    }
}
