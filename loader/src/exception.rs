//! Exception tags and exception objects: store objects, as globals are
//! (see ARCHITECTURE.md, "Exceptions").
//!
//! A [`Tag`] is a handle (store id, index into the store's tag list); an
//! instance's defined tags are made at instantiation, and an imported tag
//! is the exporter's own, so tag identity (what `catch` compares) holds
//! across instances. An [`Exception`] is a handle to an exception object
//! (tag and payload) in the store's exception list; compiled code holds
//! an `exnref` as its index plus one. Rule: the store owns every tag and
//! exception object until it is dropped, so no handle or `exnref` can
//! dangle. No unsafe code here: the unwinding is in `unwind.rs`.

use crate::func::val_from_raw;
use crate::store::{AsContext, StoreId, StoreOpaque};
use crate::values::Val;
use wasmo_artifact_format::FuncType;

/// An exception tag: the identity a `catch` clause matches, with the type
/// whose parameters are the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tag {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

/// What a store keeps of a tag.
#[derive(Debug)]
pub(crate) struct TagData {
    pub(crate) ty: FuncType,
}

/// A thrown wasm exception that reached the host (see
/// [`CallError::Exception`](crate::CallError::Exception)): its tag and
/// payload stay readable as long as the store lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Exception {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

/// What a store keeps of an exception object.
#[derive(Debug)]
pub(crate) struct ExnData {
    /// The tag's index in the store.
    pub(crate) tag: u32,
    /// The payload as `ValRaw` slots, at a stable address (compiled code
    /// reads it through `wasmo_helper_exn_payload`).
    pub(crate) payload: Box<[[u8; 16]]>,
}

impl Tag {
    /// A new tag in `store` whose payload is `ty`'s parameters (`ty` must
    /// have no results).
    pub fn new(mut store: impl crate::store::AsContextMut, ty: FuncType) -> Tag {
        Tag::new_in(store.as_context_mut().opaque_mut(), ty)
    }

    pub(crate) fn new_in(o: &mut StoreOpaque, ty: FuncType) -> Tag {
        let index = o.tags.len() as u32;
        o.tags.push(TagData { ty });
        Tag { store: o.id, index }
    }

    /// Its type: the payload is the parameters.
    pub fn ty(&self, store: impl AsContext) -> FuncType {
        let ctx = store.as_context();
        let o = ctx.opaque();
        o.assert_owns(self.store, "tag");
        o.tags[self.index as usize].ty.clone()
    }
}

impl Exception {
    /// The exception's tag.
    pub fn tag(&self, store: impl AsContext) -> Tag {
        let ctx = store.as_context();
        let o = ctx.opaque();
        o.assert_owns(self.store, "exception");
        Tag {
            store: self.store,
            index: o.exceptions.borrow()[self.index as usize].tag,
        }
    }

    /// The payload values, in the order of the tag's parameters.
    pub fn payload(&self, store: impl AsContext) -> Vec<Val> {
        let ctx = store.as_context();
        let o = ctx.opaque();
        o.assert_owns(self.store, "exception");
        let exns = o.exceptions.borrow();
        let e = &exns[self.index as usize];
        let ty = &o.tags[e.tag as usize].ty;
        ty.params
            .iter()
            .zip(e.payload.iter())
            .map(|(&t, &raw)| val_from_raw(o, t, raw))
            .collect()
    }

    /// A new exception of `tag` with `payload` (of the tag's parameter
    /// types), for a host function to throw
    /// ([`HostError::Exception`](crate::HostError::Exception)).
    pub fn new(
        mut store: impl crate::store::AsContextMut,
        tag: Tag,
        payload: &[Val],
    ) -> Result<Exception, crate::CallError> {
        let mut ctx = store.as_context_mut();
        let o = ctx.opaque_mut();
        if tag.store != o.id {
            return Err(crate::CallError::WrongStore("tag"));
        }
        let ty = o.tags[tag.index as usize].ty.clone();
        if payload.len() != ty.params.len() {
            return Err(crate::CallError::ArgumentCount {
                expected: ty.params.len(),
                got: payload.len(),
            });
        }
        let mut slots = Vec::with_capacity(payload.len());
        for (index, (v, &expected)) in payload.iter().zip(&ty.params).enumerate() {
            if v.ty() != expected {
                return Err(crate::CallError::ArgumentType {
                    index,
                    expected,
                    got: v.ty(),
                });
            }
            slots.push(crate::func::val_to_raw(o, v).map_err(crate::CallError::Host)?);
        }
        let exnref = Exception::alloc(o, tag.index, slots.into_boxed_slice());
        Ok(Exception {
            store: o.id,
            index: (exnref - 1) as u32,
        })
    }

    /// The `exnref` compiled code holds for this exception in `store`.
    pub(crate) fn exnref(&self, store: &StoreOpaque) -> Result<u64, String> {
        if self.store != store.id {
            return Err("exception reference belongs to another store".into());
        }
        Ok(u64::from(self.index) + 1)
    }

    /// A new exception object of `tag` with `payload` (values of the tag's
    /// parameter types, checked by the caller), as an `exnref`.
    pub(crate) fn alloc(o: &StoreOpaque, tag: u32, payload: Box<[[u8; 16]]>) -> u64 {
        let mut exns = o.exceptions.borrow_mut();
        exns.push(ExnData { tag, payload });
        exns.len() as u64
    }
}

impl StoreOpaque {
    /// The exception an `exnref` from compiled code names (`None` for
    /// null, or an index the store never made).
    pub(crate) fn exception(&self, exnref: u64) -> Option<Exception> {
        let i = u32::try_from(exnref.checked_sub(1)?).ok()?;
        ((i as usize) < self.exceptions.borrow().len()).then_some(Exception {
            store: self.id,
            index: i,
        })
    }

    /// The exception object of a non-null `exnref`.
    pub(crate) fn exn_tag(&self, exnref: u64) -> Option<u32> {
        let i = usize::try_from(exnref.checked_sub(1)?).ok()?;
        Some(self.exceptions.borrow().get(i)?.tag)
    }

    /// The address of the payload of a non-null `exnref` (stable: a boxed
    /// slice never moves, and the store never frees it while it lives).
    pub(crate) fn exn_payload(&self, exnref: u64) -> Option<*const u8> {
        let i = usize::try_from(exnref.checked_sub(1)?).ok()?;
        Some(self.exceptions.borrow().get(i)?.payload.as_ptr().cast())
    }
}

impl std::fmt::Display for Exception {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "uncaught wasm exception")
    }
}
