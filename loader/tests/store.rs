//! The Store's public API without compiled code: externrefs keep their
//! identity through host functions, globals and tables (issue 9, defect
//! 5), and handles refuse other stores.
//!
//! Rule: only the public API; every check compares the exact host object
//! (by `ExternRef::ptr_eq` and by its contents).

use std::sync::Arc;

use wasmo_loader::{
    CallError, ExternRef, Func, FuncType, Global, GlobalType, Limits, Store, Table, TableType, Val,
    ValType,
};

fn host_object(v: &Val) -> &ExternRef {
    match v {
        Val::ExternRef(Some(r)) => r,
        other => panic!("expected a non-null externref, got {other:?}"),
    }
}

#[test]
fn issue9_externref_comes_back_as_the_same_host_object() {
    let mut store = Store::new(());
    let obj = ExternRef::new(String::from("host data"));

    // Through a host function's parameter and result: both cross the raw
    // (`ValRaw`) encoding wasm uses.
    let ty = FuncType {
        params: vec![ValType::ExternRef],
        results: vec![ValType::ExternRef],
    };
    let identity = Func::new(&mut store, ty, |_, args, results| {
        results[0] = args[0].clone();
        Ok(())
    });
    let mut out = [Val::I32(0)];
    match identity.call(&mut store, &[Val::ExternRef(Some(obj.clone()))], &mut out) {
        Ok(()) => {}
        Err(e) => panic!("calling: {e}"),
    }
    let back = host_object(&out[0]);
    assert!(back.ptr_eq(&obj));
    assert_eq!(
        back.data().downcast_ref::<String>().map(String::as_str),
        Some("host data")
    );
    match identity.call(&mut store, &[Val::ExternRef(None)], &mut out) {
        Ok(()) => assert!(matches!(out[0], Val::ExternRef(None))),
        Err(e) => panic!("calling with null: {e}"),
    }

    // Through a global.
    let gty = GlobalType {
        content: ValType::ExternRef,
        mutable: true,
    };
    let g = match Global::new(&mut store, gty, Val::ExternRef(Some(obj.clone()))) {
        Ok(g) => g,
        Err(e) => panic!("global: {e}"),
    };
    assert!(host_object(&g.get(&store)).ptr_eq(&obj));
    let other = ExternRef::from_arc(Arc::new(7u64));
    if let Err(e) = g.set(&mut store, Val::ExternRef(Some(other.clone()))) {
        panic!("setting the global: {e}");
    }
    assert!(host_object(&g.get(&store)).ptr_eq(&other));
    assert!(matches!(
        g.set(&mut store, Val::FuncRef(None)),
        Err(CallError::ArgumentType { .. })
    ));

    // Through a table.
    let tty = TableType {
        element: ValType::ExternRef,
        limits: Limits { min: 3, max: None },
        table64: false,
    };
    let t = match Table::new(&mut store, tty) {
        Ok(t) => t,
        Err(e) => panic!("table: {e}"),
    };
    assert!(matches!(t.get(&store, 0), Some(Val::ExternRef(None))));
    for (i, r) in [(0, &obj), (2, &other)] {
        if let Err(e) = t.set(&mut store, i, Val::ExternRef(Some(r.clone()))) {
            panic!("setting element {i}: {e}");
        }
    }
    assert!(t
        .get(&store, 0)
        .is_some_and(|v| host_object(&v).ptr_eq(&obj)));
    assert!(t
        .get(&store, 2)
        .is_some_and(|v| host_object(&v).ptr_eq(&other)));
    assert!(matches!(t.get(&store, 1), Some(Val::ExternRef(None))));

    // The store keeps what it has seen alive: the caller's copies can go.
    drop((obj, other));
    let v = t.get(&store, 2);
    assert_eq!(
        v.as_ref()
            .and_then(|v| host_object(v).data().downcast_ref::<u64>().copied()),
        Some(7)
    );
}

#[test]
fn issue9_handles_refuse_other_stores() {
    let mut a = Store::new(());
    let mut b = Store::new(());
    let gty = GlobalType {
        content: ValType::I32,
        mutable: true,
    };
    let g = match Global::new(&mut a, gty, Val::I32(1)) {
        Ok(g) => g,
        Err(e) => panic!("global: {e}"),
    };
    assert!(matches!(
        g.set(&mut b, Val::I32(2)),
        Err(CallError::WrongStore("global"))
    ));
    let f = Func::new(&mut a, FuncType::default(), |_, _, _| Ok(()));
    assert!(matches!(
        f.call(&mut b, &[], &mut []),
        Err(CallError::WrongStore("function"))
    ));
    // A funcref of store `a` cannot go into a table of store `b`.
    let tty = TableType {
        element: ValType::FuncRef,
        limits: Limits { min: 1, max: None },
        table64: false,
    };
    let t = match Table::new(&mut b, tty) {
        Ok(t) => t,
        Err(e) => panic!("table: {e}"),
    };
    assert!(matches!(
        t.set(&mut b, 0, Val::FuncRef(Some(f))),
        Err(CallError::Host(m)) if m.contains("another store")
    ));
    // Handle methods without a `Result` panic (documented), never touch
    // the other store's memory.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.get(&b)));
    assert!(r.is_err());
}
