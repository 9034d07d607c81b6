//! Recursion groups of function types and their iso-recursive identity.
//!
//! A type's identity is its recursion group's shape plus its position in
//! the group: two groups are the same when they have as many members,
//! each with the same finality and the same function type, where a
//! reference into the group is compared by its position there and a
//! reference out of it by the identity of the type it names. A singleton
//! final group (every type of a module without `rec`) so compares
//! structurally, as function types always did. [`RecGroupKey`] is that
//! shape as a value: equal keys are the same group. The compiler builds
//! keys over type indices (to find equal types of one module), the
//! loader over its process-wide canonical ids.
//!
//! Rule: everything that decides whether two function types are the same
//! (import matching, `call_indirect`, typed references, the compiler's
//! static dispatch) goes through a key built here, never `FuncType ==`,
//! which cannot tell `(rec (type (func)) (type (func)))`'s two members
//! apart.

use std::ops::Range;

use rkyv::{Archive, Deserialize, Serialize};

use crate::types::{FuncType, HeapType, TypeIndex, ValType};

/// A recursion group of the type section that is not a lone final type:
/// an explicit `(rec ...)` of several types. Types outside every listed
/// group are each their own singleton group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Archive, Serialize, Deserialize)]
#[rkyv(derive(Debug))]
pub struct RecGroup {
    /// Its first type.
    pub start: TypeIndex,
    /// How many types it has (at least two).
    pub len: u32,
}

impl RecGroup {
    /// Its type indices.
    pub fn range(self) -> Range<usize> {
        let start = self.start.index();
        start..start.saturating_add(self.len as usize)
    }
}

/// Where a reference inside a group key points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyRef {
    /// The member at this position of the same group.
    Inside(u32),
    /// A type outside the group, by the identity the key's builder uses
    /// (a canonical type index in the compiler, a canonical id in the
    /// loader).
    Outside(u32),
}

/// A value type as a group key spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyVal {
    /// Any type but a reference to a concrete type.
    Plain(ValType),
    /// `(ref null? $t)`.
    Ref {
        /// Whether null is a value of the type.
        nullable: bool,
        /// The type it names.
        to: KeyRef,
    },
}

/// One member of a group key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyMember {
    /// Whether the type is final (`(type (func))`, `(sub final ...)`)
    /// rather than open (`(sub (func))`).
    pub is_final: bool,
    /// Parameter types.
    pub params: Vec<KeyVal>,
    /// Result types.
    pub results: Vec<KeyVal>,
}

/// The shape of a recursion group: equal keys are the same group, so the
/// types at equal positions of equal keys are the same type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecGroupKey(pub Vec<KeyMember>);

impl RecGroupKey {
    /// The key of the group `members` (with their finality), which start
    /// at type index `start`. A reference `HeapType::Concrete(i)` with `i`
    /// inside the group is [`KeyRef::Inside`], any other is
    /// `KeyRef::Outside(outside(i))`; `HeapType::Canonical(id)` is
    /// `KeyRef::Outside(id)`.
    pub fn new<'a>(
        members: impl IntoIterator<Item = (&'a FuncType, bool)>,
        start: usize,
        mut outside: impl FnMut(TypeIndex) -> u32,
    ) -> RecGroupKey {
        let members: Vec<_> = members.into_iter().collect();
        let end = start + members.len();
        let mut val = |t: ValType| match t {
            ValType::Ref(r) => {
                let to = match r.heap {
                    HeapType::Concrete(i) if (start..end).contains(&i.index()) => {
                        KeyRef::Inside((i.index() - start) as u32)
                    }
                    HeapType::Concrete(i) => KeyRef::Outside(outside(i)),
                    HeapType::Canonical(id) => KeyRef::Outside(id),
                    _ => return KeyVal::Plain(t),
                };
                KeyVal::Ref {
                    nullable: r.nullable,
                    to,
                }
            }
            _ => KeyVal::Plain(t),
        };
        RecGroupKey(
            members
                .into_iter()
                .map(|(ty, is_final)| KeyMember {
                    is_final,
                    params: ty.params.iter().map(|&t| val(t)).collect(),
                    results: ty.results.iter().map(|&t| val(t)).collect(),
                })
                .collect(),
        )
    }
}

/// The recursion groups of a type section of `count` types, in order,
/// as index ranges: `groups` (sorted, disjoint, checked by the loader's
/// verifier) and a singleton for every type outside them.
pub fn group_ranges(groups: &[RecGroup], count: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut next = 0;
    for g in groups {
        let r = g.range();
        out.extend((next..r.start.min(count)).map(|i| i..i + 1));
        next = next.max(r.end);
        out.push(r);
    }
    out.extend((next..count).map(|i| i..i + 1));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::RefType;

    fn r(i: u32) -> ValType {
        ValType::Ref(RefType {
            nullable: false,
            heap: HeapType::Concrete(TypeIndex(i)),
        })
    }

    fn f(params: Vec<ValType>) -> FuncType {
        FuncType {
            params,
            results: vec![],
        }
    }

    #[test]
    fn references_into_the_group_compare_by_position() {
        // (rec (type (func (param (ref 1)))) (type (func))) at 0 and at 5
        let a = [f(vec![r(1)]), f(vec![])];
        let b = [f(vec![r(6)]), f(vec![])];
        let key =
            |ts: &[FuncType], start| RecGroupKey::new(ts.iter().map(|t| (t, true)), start, |i| i.0);
        assert_eq!(key(&a, 0), key(&b, 5));
        // The same types outside a group are outside references.
        assert_ne!(key(&a, 0), key(&a, 7));
    }

    #[test]
    fn finality_and_position_matter() {
        let t = f(vec![]);
        let single = RecGroupKey::new([(&t, true)], 0, |i| i.0);
        let open = RecGroupKey::new([(&t, false)], 0, |i| i.0);
        let pair = RecGroupKey::new([(&t, true), (&t, true)], 0, |i| i.0);
        assert_ne!(single, open);
        assert_ne!(single, pair);
    }

    #[test]
    fn ranges_cover_every_type_once() {
        let g = [RecGroup {
            start: TypeIndex(2),
            len: 3,
        }];
        assert_eq!(group_ranges(&g, 6), vec![0..1, 1..2, 2..5, 5..6],);
        assert_eq!(group_ranges(&[], 2), vec![0..1, 1..2]);
    }
}
