//! The process-wide registry of function types: equal types get equal ids
//! in every module, so `call_indirect` can compare ids across instances.
//!
//! Typed references (`(ref $t)`) name a type of their own module's type
//! section; [`canonicalize`] rewrites a loaded module's metadata so that
//! they name the process-wide id instead (`HeapType::Canonical`), which
//! makes types of different modules comparable: import matching and the
//! types the embedding API shows are canonical. A type is interned with
//! its references already canonical, so two modules' structurally equal
//! types get one id; a reference of a type to itself (a singleton
//! recursion group) is `Canonical(0)`, "this type".
//!
//! Rule: ids are never reused or removed (the set of distinct types a
//! process sees is small), and id 0 is never handed out, so a zeroed
//! `VMFuncRef` never matches a type. No unsafe code here.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use wasmo_artifact_format::metadata::{ImportKind, ModuleMetadata};
use wasmo_artifact_format::{FuncType, HeapType, RefType, ValType};

static TYPES: Mutex<Option<HashMap<FuncType, u32>>> = Mutex::new(None);

/// The canonical id of `ty`.
pub(crate) fn intern(ty: &FuncType) -> u32 {
    let mut guard = TYPES.lock().unwrap_or_else(PoisonError::into_inner);
    let map = guard.get_or_insert_with(HashMap::new);
    if let Some(&id) = map.get(ty) {
        return id;
    }
    let id = u32::try_from(map.len() + 1).unwrap_or(u32::MAX);
    map.insert(ty.clone(), id);
    id
}

/// Interns `meta`'s types in order and rewrites every typed reference in
/// it (types, imports, tables, globals) to name canonical ids; returns
/// the ids by type index. The verifier has checked that every concrete
/// reference names an earlier type or its own.
pub(crate) fn canonicalize(meta: &mut ModuleMetadata) -> Vec<u32> {
    let mut ids: Vec<u32> = Vec::with_capacity(meta.types.len());
    for (i, ty) in meta.types.iter_mut().enumerate() {
        let own = |t: ValType| canonical(t, &ids, Some(i));
        ty.params.iter_mut().for_each(|t| *t = own(*t));
        ty.results.iter_mut().for_each(|t| *t = own(*t));
        ids.push(intern(ty));
    }
    let canon = |t: &mut ValType| *t = canonical(*t, &ids, None);
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
/// by index); the type being interned (`own`) is id 0.
fn canonical(t: ValType, ids: &[u32], own: Option<usize>) -> ValType {
    match t {
        ValType::Ref(RefType {
            nullable,
            heap: HeapType::Concrete(i),
        }) => {
            let id = if Some(i.index()) == own {
                0
            } else {
                ids.get(i.index()).copied().unwrap_or(0)
            };
            ValType::Ref(RefType {
                nullable,
                heap: HeapType::Canonical(id),
            })
        }
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
}
