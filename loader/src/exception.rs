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

use crate::error::FrameInfo;
use crate::func::val_from_raw;
use crate::store::{AsContext, StoreId, StoreOpaque};
use crate::traphandler::RawBacktrace;
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
    /// `ty`'s canonical id (`typereg`): what import matching compares.
    pub(crate) type_id: u32,
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
    /// The wasm frames it was thrown from, once it has escaped to the host
    /// (empty for one the host made and nothing in wasm threw).
    pub(crate) backtrace: Option<Vec<FrameInfo>>,
}

/// Where wasm last threw: the `exnref` and the wasm frames above the throw
/// helper, innermost first. Only the last throw is kept (the store's
/// exception list grows with every throw; this does not), and it is
/// symbolised only when that exception escapes to the host.
#[derive(Debug)]
pub(crate) struct ThrowSite {
    pub(crate) exnref: u64,
    pub(crate) backtrace: Box<RawBacktrace>,
}

impl Tag {
    /// A new tag in `store` whose payload is `ty`'s parameters (`ty` must
    /// have no results).
    pub fn new(mut store: impl crate::store::AsContextMut, ty: FuncType) -> Tag {
        let type_id = crate::typereg::intern(&ty);
        Tag::new_in(store.as_context_mut().opaque_mut(), ty, type_id)
    }

    /// A new tag of the type `ty` with canonical id `type_id`.
    pub(crate) fn new_in(o: &mut StoreOpaque, ty: FuncType, type_id: u32) -> Tag {
        let index = o.tags.len() as u32;
        o.tags.push(TagData { ty, type_id });
        Tag { store: o.id, index }
    }

    /// Its type's canonical id.
    pub(crate) fn type_id_in(&self, o: &StoreOpaque) -> u32 {
        o.tags[self.index as usize].type_id
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

    /// The wasm frames the exception was thrown from when it first
    /// reached the host, innermost first: those of the `throw` or
    /// `throw_ref` that raised it, where a rethrow of the exception wasm
    /// threw last (a `try_table` whose clauses did not match, a
    /// `catch_ref` handler's `throw_ref`) keeps the frames of that throw.
    /// Empty for an exception the host made and wasm never threw, or one
    /// that has not reached the host.
    pub fn backtrace(&self, store: impl AsContext) -> Vec<FrameInfo> {
        let ctx = store.as_context();
        let o = ctx.opaque();
        o.assert_owns(self.store, "exception");
        let exns = o.exceptions.borrow();
        exns[self.index as usize]
            .backtrace
            .clone()
            .unwrap_or_default()
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
        exns.push(ExnData {
            tag,
            payload,
            backtrace: None,
        });
        exns.len() as u64
    }
}

impl StoreOpaque {
    /// Records that wasm (re)throws `exnref` from the frames `backtrace`
    /// gives; a rethrow of the exception thrown last keeps its frames.
    pub(crate) fn record_throw(&self, exnref: u64, backtrace: impl FnOnce() -> RawBacktrace) {
        let mut last = self.last_throw.borrow_mut();
        match &mut *last {
            Some(site) if site.exnref == exnref => {}
            Some(site) => {
                site.exnref = exnref;
                *site.backtrace = backtrace();
            }
            None => {
                *last = Some(ThrowSite {
                    exnref,
                    backtrace: Box::new(backtrace()),
                })
            }
        }
    }

    /// `exnref` escaped to the host: gives it the frames of its last
    /// throw, if it was thrown last and has none yet.
    pub(crate) fn keep_backtrace(&self, exnref: u64) {
        let last = self.last_throw.borrow();
        let Some(site) = last.as_ref().filter(|s| s.exnref == exnref) else {
            return;
        };
        let Some(i) = exnref.checked_sub(1).and_then(|i| usize::try_from(i).ok()) else {
            return;
        };
        if let Some(e) = self.exceptions.borrow_mut().get_mut(i) {
            if e.backtrace.is_none() {
                e.backtrace = Some(site.backtrace.symbolize());
            }
        }
    }

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
