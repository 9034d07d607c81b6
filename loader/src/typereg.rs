//! The process-wide registry of function types: equal types get equal ids
//! in every module, so `call_indirect` can compare ids across instances.
//!
//! Rule: ids are never reused or removed (the set of distinct types a
//! process sees is small), and id 0 is never handed out, so a zeroed
//! `VMFuncRef` never matches a type. No unsafe code here.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use wasmo_artifact_format::FuncType;

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
}
