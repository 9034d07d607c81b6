//! The process-wide registry of function types: the same type gets the
//! same id in every module, so `call_indirect` and import matching compare
//! ids across instances.
//!
//! Identity is iso-recursive (`wasmo_artifact_format::recgroup`): whole
//! recursion groups are interned, by their [`RecGroupKey`], and a group's
//! members get consecutive ids, so `(rec (type (func)) (type (func)))`
//! gives two ids, neither of them that of a lone `(type (func))`. A
//! module's singleton final types intern exactly as a host function's
//! [`FuncType`] does ([`intern`]), so a host function has the type of
//! every module's structurally equal singleton type.
//!
//! Typed references (`(ref $t)`) name a type of their own module's type
//! section; [`canonicalize`] rewrites a loaded module's metadata so that
//! they name the process-wide id instead (`HeapType::Canonical`), which
//! makes types of different modules comparable: import matching and the
//! types the embedding API shows are canonical. A reference of a
//! singleton type to itself is `Canonical(0)`, "this type" (so that the
//! type as shown, given back to [`intern`], is the same type); one into a
//! larger group names the member's id.
//!
//! Rule: ids are never reused or removed (the set of distinct types a
//! process sees is small), and id 0 is never handed out, so a zeroed
//! `VMFuncRef` never matches a type. No unsafe code here.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use wasmo_artifact_format::metadata::{ImportKind, ModuleMetadata};
use wasmo_artifact_format::{FuncType, HeapType, RecGroupKey, RefType, TypeIndex, ValType};

/// Every group seen, with its first member's id; and the next free id.
struct Registry {
    groups: HashMap<RecGroupKey, u32>,
    next: u32,
}

static TYPES: Mutex<Option<Registry>> = Mutex::new(None);

/// The id of the first member of the group `key` (the others follow it).
fn intern_group(key: RecGroupKey) -> u32 {
    let mut guard = TYPES.lock().unwrap_or_else(PoisonError::into_inner);
    let reg = guard.get_or_insert_with(|| Registry {
        groups: HashMap::new(),
        next: 1,
    });
    let len = u32::try_from(key.0.len()).unwrap_or(u32::MAX);
    let next = &mut reg.next;
    *reg.groups.entry(key).or_insert_with(|| {
        let id = *next;
        *next = next.saturating_add(len);
        id
    })
}

/// The canonical id of `ty` as a singleton final group: a host
/// function's or tag's type. Its references name canonical ids,
/// `Canonical(0)` itself.
pub(crate) fn intern(ty: &FuncType) -> u32 {
    let this = |t: &ValType| match *t {
        ValType::Ref(RefType {
            nullable,
            heap: HeapType::Canonical(0),
        }) => ValType::Ref(RefType {
            nullable,
            heap: HeapType::Concrete(TypeIndex(0)),
        }),
        other => other,
    };
    let ty = FuncType {
        params: ty.params.iter().map(this).collect(),
        results: ty.results.iter().map(this).collect(),
    };
    intern_group(RecGroupKey::new([(&ty, true)], 0, |_| 0))
}

/// Interns `meta`'s recursion groups in order and rewrites every typed
/// reference in it (types, imports, tables, globals) to name canonical
/// ids; returns the ids by type index. The verifier has checked the
/// groups and that every concrete reference names a type of an earlier
/// group or its own.
pub(crate) fn canonicalize(meta: &mut ModuleMetadata) -> Vec<u32> {
    let mut ids: Vec<u32> = vec![0; meta.types.len()];
    for range in meta.type_groups() {
        let key = meta.group_key(range.clone(), |i| ids.get(i.index()).copied().unwrap_or(0));
        let first = intern_group(key);
        for (k, i) in range.clone().enumerate() {
            ids[i] = first.saturating_add(k as u32);
        }
        let singleton = range.len() == 1;
        for i in range.clone() {
            let own = |t: ValType| match t {
                ValType::Ref(RefType {
                    heap: HeapType::Concrete(j),
                    ..
                }) if singleton && j.index() == i => with_heap(t, HeapType::Canonical(0)),
                _ => canonical(t, &ids),
            };
            let ty = &mut meta.types[i];
            ty.params.iter_mut().for_each(|t| *t = own(*t));
            ty.results.iter_mut().for_each(|t| *t = own(*t));
        }
    }
    let canon = |t: &mut ValType| *t = canonical(*t, &ids);
    for imp in &mut meta.imports {
        match &mut imp.kind {
            ImportKind::Table(t) => canon(&mut t.element),
            ImportKind::Global(g) => canon(&mut g.content),
            ImportKind::Func(_) | ImportKind::Memory(_) | ImportKind::Tag(_) => {}
        }
    }
    meta.tables.iter_mut().for_each(|t| canon(&mut t.element));
    meta.globals
        .iter_mut()
        .for_each(|g| canon(&mut g.ty.content));
    ids
}

/// `t` with a concrete type index replaced by its canonical id (`ids`,
/// by index).
fn canonical(t: ValType, ids: &[u32]) -> ValType {
    match t {
        ValType::Ref(RefType {
            heap: HeapType::Concrete(i),
            ..
        }) => with_heap(
            t,
            HeapType::Canonical(ids.get(i.index()).copied().unwrap_or(0)),
        ),
        other => other,
    }
}

/// Reference type `t` with its heap type replaced.
fn with_heap(t: ValType, heap: HeapType) -> ValType {
    match t {
        ValType::Ref(r) => ValType::Ref(RefType {
            nullable: r.nullable,
            heap,
        }),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmo_artifact_format::ValType;

    #[test]
    fn equal_types_get_equal_ids() {
        let a = FuncType {
            params: vec![ValType::I32],
            results: vec![],
        };
        let b = FuncType {
            params: vec![ValType::I64],
            results: vec![],
        };
        assert_eq!(intern(&a), intern(&a.clone()));
        assert_ne!(intern(&a), intern(&b));
        assert_ne!(intern(&a), 0);
    }

    #[test]
    fn typed_references_compare_across_modules() {
        let r = |i| {
            ValType::Ref(RefType {
                nullable: false,
                heap: HeapType::Concrete(wasmo_artifact_format::TypeIndex(i)),
            })
        };
        let f = |params: Vec<ValType>| FuncType {
            params,
            results: vec![],
        };
        // Module one: [() -> (), (ref 0) -> ()]; module two has an extra
        // type first, so the same type is (ref 1) -> ().
        let mut one = ModuleMetadata {
            types: vec![f(vec![]), f(vec![r(0)])],
            ..Default::default()
        };
        let mut two = ModuleMetadata {
            types: vec![f(vec![ValType::F64]), f(vec![]), f(vec![r(1)])],
            ..Default::default()
        };
        let a = canonicalize(&mut one);
        let b = canonicalize(&mut two);
        assert_eq!(a[1], b[2]);
        assert_eq!(one.types[1], two.types[2]);
        assert_ne!(a[0], b[0]);
    }

    #[test]
    fn recursion_groups_are_types_of_their_own() {
        let f = FuncType::default();
        let group = |start: u32| wasmo_artifact_format::RecGroup {
            start: wasmo_artifact_format::TypeIndex(start),
            len: 2,
        };
        // [(func), (rec (func) (func))] and [(rec (func) (func)), (func)]
        let mut one = ModuleMetadata {
            types: vec![f.clone(), f.clone(), f.clone()],
            rec_groups: vec![group(1)],
            ..Default::default()
        };
        let mut two = ModuleMetadata {
            types: vec![f.clone(), f.clone(), f.clone()],
            rec_groups: vec![group(0)],
            ..Default::default()
        };
        let a = canonicalize(&mut one);
        let b = canonicalize(&mut two);
        assert_eq!(a[0], intern(&f));
        assert_eq!(b[2], intern(&f));
        assert_ne!(a[1], a[2]);
        assert_ne!(a[1], a[0]);
        assert_eq!((a[1], a[2]), (b[0], b[1]));
        // An open type is not the final one.
        let mut open = ModuleMetadata {
            types: vec![f.clone()],
            open_types: vec![wasmo_artifact_format::TypeIndex(0)],
            ..Default::default()
        };
        assert_ne!(canonicalize(&mut open)[0], intern(&f));
    }
}
