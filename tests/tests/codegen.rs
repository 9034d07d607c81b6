//! Issue 15: rewrites of optimised IR that change how code is selected,
//! never what it computes. Each case checks both: the rewrite shows in the
//! `WASMO_DUMP_LLVM` dump of a real `wasmoc build -O2`, and the compiled
//! function returns what the wasm semantics say, at the edges where the
//! rewrite could go wrong.

use wasmo_artifact_format::BoundsChecks;
use wasmo_loader::{Imports, Instance, Store, Val};
use wasmo_tests::{call, load, optimised_ir};

/// A loop walking a pointer that wraps past 2^32 (it reads only below 64):
/// its pointer is a phi that every access zero-extends.
const WALK: &str = r#"(module
    (memory 1)
    (data (i32.const 0) "\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10\11\12\13\14\15\16\17\18\19\1a\1b\1c\1d\1e\1f\20\21\22\23\24\25\26\27\28\29\2a\2b\2c\2d\2e\2f\30\31\32\33\34\35\36\37\38\39\3a\3b\3c\3d\3e\3f\40")
    (func (export "sum") (param $p i32) (param $n i32) (result i32) (local $s i32)
      (loop
        (if (i32.lt_u (local.get $p) (i32.const 64))
          (then (local.set $s (i32.add (local.get $s) (i32.load8_u (local.get $p))))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br_if 0 (local.get $n)))
      (local.get $s)))"#;

/// `wide_phis.rs`: the loop's `i32` pointer phi is carried as an `i64`
/// (`zext`ed where it is computed), and the pointer still wraps at 2^32:
/// from 2^32 - 2 the loop reads bytes 0, 1, 2 and 3 after two skipped
/// addresses, never 2^32 or above (which would trap).
#[test]
fn issue15_address_phis_are_carried_wide_and_still_wrap() {
    let ir = optimised_ir(WALK, &["-O2"]);
    assert!(ir.contains("phi i64"), "no widened phi:\n{ir}");
    expect_sums(
        WALK,
        "sum",
        &[
            (-2, 6, 1 + 2 + 3 + 4),
            (0, 64, 2080),
            (60, 10, 61 + 62 + 63 + 64),
        ],
    );
}

/// A loop whose pointer moves by a `select` (`p + 1` on odd counts, `p << 1`
/// on even ones), reading byte `p` (which holds `p + 1`) while `p < 64`,
/// until the count runs out or the sum reaches 100 (a second exit, so that
/// LLVM does not unroll it and the `select` feeds the pointer's phi alone).
const HOP: &str = r#"(module
    (memory 1)
    (data (i32.const 0) "\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10\11\12\13\14\15\16\17\18\19\1a\1b\1c\1d\1e\1f\20\21\22\23\24\25\26\27\28\29\2a\2b\2c\2d\2e\2f\30\31\32\33\34\35\36\37\38\39\3a\3b\3c\3d\3e\3f\40")
    (func (export "hop") (param $p i32) (param $n i32) (result i32) (local $s i32) (local $b i32)
      (block
        (loop
          (local.set $b (i32.const 0))
          (if (i32.lt_u (local.get $p) (i32.const 64))
            (then (local.set $b (i32.load8_u (local.get $p)))))
          (local.set $s (i32.add (local.get $s) (local.get $b)))
          (br_if 1 (i32.ge_u (local.get $s) (i32.const 100)))
          (local.set $p
            (select (i32.add (local.get $p) (i32.const 1)) (i32.shl (local.get $p) (i32.const 1))
              (i32.and (local.get $n) (i32.const 1))))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br_if 0 (local.get $n))))
      (local.get $s)))"#;

/// `wide_phis.rs`: a pointer phi fed by a `select` that nothing else uses
/// is carried as an `i64` through an `i64` `select` of the extended arms,
/// and both arms still wrap at 2^32: `p + 1` from 2^32 - 1 and `p << 1`
/// from 2^31 reach 0. `hop(0, 20)` leaves by the sum's exit.
#[test]
fn issue15_select_fed_address_phis_are_carried_wide_and_still_wrap() {
    let ir = optimised_ir(HOP, &["-O2"]);
    assert!(
        ir.lines()
            .any(|l| l.contains("= select i1 ") && l.contains(", i64 ")),
        "no widened select:\n{ir}"
    );
    expect_sums(
        HOP,
        "hop",
        &[
            (-1, 3, 1 + 1),
            (i32::MIN, 2, 1),
            (0, 20, 120),
            (1, 7, 62),
            (0, 6, 18),
        ],
    );
}

/// Calls `name(p, n)` of `text` (guard pages) for each `(p, n, want)`.
fn expect_sums(text: &str, name: &str, cases: &[(i32, i32, i32)]) {
    let c = load(text, BoundsChecks::GuardPages);
    let mut store = Store::new(());
    let inst = Instance::new(&mut store, &c.module, &Imports::new())
        .unwrap_or_else(|e| panic!("instantiation failed: {e}"));
    let f = inst
        .get_func(&store, name)
        .unwrap_or_else(|| panic!("no export `{name}`"));
    for &(p, n, want) in cases {
        match call(&mut store, f, &[Val::I32(p), Val::I32(n)]) {
            Ok(v) => assert!(
                matches!(v.as_slice(), [Val::I32(got)] if *got == want),
                "{name}({p}, {n}) = {v:?}, want {want}"
            ),
            Err(e) => panic!("{name}({p}, {n}): {e:?}"),
        }
    }
}
