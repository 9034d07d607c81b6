//! Recursion groups of function types (issue 11, `tag.wast`'s link-time
//! typing): iso-recursive type identity through real compiled modules.
//! `(rec (type $t1 (func)) (type $t2 (func)))` has two types that are
//! neither each other nor a lone `(type (func))`, so `call_indirect`
//! traps between them on every path the compiler has for it (the runtime
//! id compare, a sealed table's dispatch array, a sealed table whose
//! contents it does not track), and import matching refuses them across
//! instances, while an equal group in another module is the same type.
//! Several cases come from the GC proposal's `type-equivalence.wast` and
//! `type-rec.wast`, with their struct members left out.
//!
//! Rule: every trap test checks the exact code; every refused import the
//! message's `incompatible import type`.

use wasmo_artifact_format::{BoundsChecks, FuncType, TrapCode, ValType};
use wasmo_loader::{Extern, Func, Imports, Instance, Store, Val};
use wasmo_tests::{call_export, expect_export, expect_trap, instantiate, load};

/// Functions of `$t1` (returns 1), `$t2` (2), the lone `$s` (3) and `$u1`
/// (4), whose group equals `$t1`'s; `call` and `tail` dispatch through
/// `$tab` (declared by `table`, filled by the segment `fill`) as `$t1`.
fn module(table: &str, fill: &str) -> String {
    format!(
        r#"(module
  (rec (type $t1 (func (result i32))) (type $t2 (func (result i32))))
  (type $s (func (result i32)))
  (rec (type $u1 (func (result i32))) (type $u2 (func (result i32))))
  (func $f1 (type $t1) (i32.const 1))
  (func $f2 (type $t2) (i32.const 2))
  (func $fs (type $s) (i32.const 3))
  (func $fu (type $u1) (i32.const 4))
  {table}
  {fill}
  (func (export "call") (param i32) (result i32)
    (call_indirect $tab (type $t1) (local.get 0)))
  (func (export "tail") (param i32) (result i32)
    (return_call_indirect $tab (type $t1) (local.get 0)))
)"#
    )
}

/// Runs `call`/`tail` through the table: `$t1` and its equal `$u1` run,
/// `$t2` and `$s` trap as a signature mismatch.
fn check_dispatch(text: &str, what: &str) {
    for bounds in [BoundsChecks::GuardPages, BoundsChecks::Explicit] {
        let c = load(text, bounds);
        let mut store = Store::new(());
        let i = instantiate(&mut store, &c.module, &Imports::new());
        for export in ["call", "tail"] {
            for (index, want) in [(0, Some(1)), (3, Some(4)), (1, None), (2, None)] {
                let args = [Val::I32(index)];
                match want {
                    Some(v) => assert_eq!(
                        format!("{:?}", expect_export(&mut store, &i, export, &args)),
                        format!("[I32({v})]"),
                        "{what}: {export} {index}"
                    ),
                    None => assert_eq!(
                        expect_trap(&mut store, &i, export, &args).code,
                        TrapCode::BadSignature,
                        "{what}: {export} {index}"
                    ),
                }
            }
        }
    }
}

#[test]
fn issue11_call_indirect_compares_rec_group_identity() {
    let segment = "(elem (table $tab) (i32.const 0) func $f1 $f2 $fs $fu)";
    // Exported: the runtime compare of type ids.
    check_dispatch(
        &module(r#"(table $tab (export "tab") 4 funcref)"#, segment),
        "exported table",
    );
    // Sealed with known contents: the compiler's dispatch array.
    check_dispatch(&module("(table $tab 4 funcref)", segment), "sealed table");
    // Sealed, too long for its contents to be tracked: the compiler
    // decides from the types its segments put in it whether a check is
    // needed.
    check_dispatch(
        &module("(table $tab 5000 funcref)", segment),
        "long sealed table",
    );
}

/// A sealed table that holds only `$t2` functions: structurally every one
/// fits `$t1`, but the check must stay.
#[test]
fn issue11_table_of_one_type_still_checks_another_of_its_group() {
    let text = r#"(module
      (rec (type $t1 (func (result i32))) (type $t2 (func (result i32))))
      (func $f2 (type $t2) (i32.const 2))
      (table $tab 5000 funcref)
      (elem (table $tab) (i32.const 0) func $f2)
      (func (export "call") (param i32) (result i32)
        (call_indirect $tab (type $t1) (local.get 0)))
      (func (export "call2") (param i32) (result i32)
        (call_indirect $tab (type $t2) (local.get 0))))"#;
    let c = load(text, BoundsChecks::GuardPages);
    let mut store = Store::new(());
    let i = instantiate(&mut store, &c.module, &Imports::new());
    let t = expect_trap(&mut store, &i, "call", &[Val::I32(0)]);
    assert_eq!(t.code, TrapCode::BadSignature);
    assert_eq!(
        format!(
            "{:?}",
            expect_export(&mut store, &i, "call2", &[Val::I32(0)])
        ),
        "[I32(2)]"
    );
}

/// The exporter of `type-equivalence.wast`'s link-time section, with a
/// table too, for dispatch across instances.
const EXPORTER: &str = r#"(module
  (rec (type $t1 (func (result i32))) (type $t2 (func (result i32))))
  (func $f1 (export "f1") (type $t1) (i32.const 1))
  (func $f2 (export "f2") (type $t2) (i32.const 2))
  (table (export "tab") 2 funcref)
  (elem (i32.const 0) func $f1 $f2)
  (global (export "g2") (ref $t2) (ref.func $f2))
  (rec (type $e1 (func (param i32))) (type $e2 (func (param i32))))
  (tag (export "tag1") (type $e1))
)"#;

fn link(store: &mut Store<()>, importer: &str, imports: &Imports) -> Result<Instance, String> {
    let c = load(importer, BoundsChecks::GuardPages);
    Instance::new(store, &c.module, imports).map_err(|e| e.to_string())
}

#[test]
fn issue11_imports_match_rec_group_identity_across_instances() {
    let exporter = load(EXPORTER, BoundsChecks::GuardPages);
    let mut store = Store::new(());
    let e = instantiate(&mut store, &exporter.module, &Imports::new());
    let mut imports = Imports::new();
    for name in ["f1", "f2", "tab", "g2", "tag1"] {
        let Some(ext) = e.get_export(&store, name) else {
            panic!("no export `{name}`")
        };
        imports.define("m", name, ext);
    }
    let group = "(rec (type $t1 (func (result i32))) (type $t2 (func (result i32))))
                 (rec (type $e1 (func (param i32))) (type $e2 (func (param i32))))";

    // The same group in another module is the same type: links, and
    // `call_indirect` across the instances compares equal ids.
    let same = format!(
        r#"(module {group}
          (import "m" "f1" (func (type $t1)))
          (import "m" "f2" (func (type $t2)))
          (import "m" "tab" (table 2 funcref))
          (import "m" "g2" (global (ref $t2)))
          (import "m" "tag1" (tag (type $e1)))
          (func (export "call") (param i32) (result i32)
            (call_indirect (type $t2) (local.get 0))))"#
    );
    let i = match link(&mut store, &same, &imports) {
        Ok(i) => i,
        Err(e) => panic!("the same group must link: {e}"),
    };
    assert_eq!(
        format!(
            "{:?}",
            expect_export(&mut store, &i, "call", &[Val::I32(1)])
        ),
        "[I32(2)]"
    );
    let t = expect_trap(&mut store, &i, "call", &[Val::I32(0)]);
    assert_eq!(t.code, TrapCode::BadSignature);

    for (import, what) in [
        (
            format!(r#"{group} (import "m" "f1" (func (type $t2)))"#),
            "a function as the other member of its group",
        ),
        (
            r#"(type (func (result i32))) (import "m" "f1" (func (type 0)))"#.to_owned(),
            "a group member as a lone type",
        ),
        (
            r#"(rec (type (func (result i32))) (type (func (result i32))) (type (func (result i32))))
               (import "m" "f1" (func (type 0)))"#
                .to_owned(),
            "a member of a larger group",
        ),
        (
            format!(r#"{group} (import "m" "g2" (global (ref $t1)))"#),
            "a typed global of the other member",
        ),
        (
            format!(r#"{group} (import "m" "tag1" (tag (type $e2)))"#),
            "a tag of the other member",
        ),
        (
            r#"(rec (type (sub (func (result i32)))) (type (func (result i32))))
               (import "m" "f1" (func (type 0)))"#
                .to_owned(),
            "an open type for a final one",
        ),
    ] {
        match link(&mut store, &format!("(module {import})"), &imports) {
            Ok(_) => panic!("{what} must not link"),
            Err(e) => assert!(e.contains("incompatible import type"), "{what}: {e}"),
        }
    }
}

/// A host function has a lone final type: it fills an import of
/// `(type (func (result i32)))` and of no group member.
#[test]
fn issue11_host_functions_are_singleton_types() {
    let mut store = Store::new(());
    let ty = FuncType {
        params: vec![],
        results: vec![ValType::I32],
    };
    let host = Func::new(&mut store, ty, |_, _, results| {
        results[0] = Val::I32(7);
        Ok(())
    });
    let mut imports = Imports::new();
    imports.define("h", "f", Extern::Func(host));
    let lone = r#"(module (type (func (result i32))) (import "h" "f" (func $f (type 0)))
      (func (export "run") (result i32) (call $f)))"#;
    let i = match link(&mut store, lone, &imports) {
        Ok(i) => i,
        Err(e) => panic!("a lone type must link: {e}"),
    };
    assert_eq!(
        format!("{:?}", call_export(&mut store, &i, "run", &[])),
        "Ok([I32(7)])"
    );
    let member = r#"(module (rec (type (func (result i32))) (type (func)))
      (import "h" "f" (func (type 0))))"#;
    match link(&mut store, member, &imports) {
        Ok(_) => panic!("a host function must not fill a group member's import"),
        Err(e) => assert!(e.contains("incompatible import type"), "{e}"),
    }
}

/// `type-rec.wast`'s syntax module, with functions of its types that
/// run: references into a group, forward within it, and to itself.
#[test]
fn issue11_references_within_groups_compile_and_run() {
    let text = r#"(module
      (type $a (func (param (ref 0)) (result (ref 0))))
      (rec
        (type $b (func (param (ref 2))))
        (type $c (func (result (ref 1)))))
      (rec)
      (rec (type (func)))
      (rec (type $g (func (param (ref $g)) (result (ref $g)))))
      (rec
        (type $h (func (param (ref $k))))
        (type $k (func (result (ref $h)))))
      (func $id (type $g) (local.get 0))
      (func $hh (type $h))
      (func $kk (type $k) (ref.func $hh))
      (elem declare func $id $hh $kk)
      (func (export "run") (result i32)
        (call_ref $h (ref.func $kk) (call_ref $k (ref.func $kk)))
        (ref.is_null (call_ref $g (ref.func $id) (ref.func $id)))))"#;
    let c = load(text, BoundsChecks::GuardPages);
    let mut store = Store::new(());
    let i = instantiate(&mut store, &c.module, &Imports::new());
    assert_eq!(
        format!("{:?}", expect_export(&mut store, &i, "run", &[])),
        "[I32(0)]"
    );
}

/// Two self-referential lone types of one module are the same type (both
/// refer to "position 0 of their group"): `call_indirect` between them
/// runs on every dispatch path, where structural comparison of their
/// types (each naming its own index) called them different.
#[test]
fn issue11_equal_self_referential_types_of_one_module_are_one_type() {
    for table in [
        r#"(table $tab (export "tab") 1 funcref)"#,
        "(table $tab 1 funcref)",
        "(table $tab 5000 funcref)",
    ] {
        let text = format!(
            r#"(module
              (type $a (func (param (ref null $a)) (result i32)))
              (type $b (func (param (ref null $b)) (result i32)))
              (func $fb (type $b) (i32.const 9))
              {table}
              (elem (table $tab) (i32.const 0) func $fb)
              (func (export "call") (result i32)
                (call_indirect $tab (type $a) (ref.null $a) (i32.const 0))))"#
        );
        let c = load(&text, BoundsChecks::GuardPages);
        let mut store = Store::new(());
        let i = instantiate(&mut store, &c.module, &Imports::new());
        assert_eq!(
            format!("{:?}", expect_export(&mut store, &i, "call", &[])),
            "[I32(9)]",
            "{table}"
        );
    }
}
