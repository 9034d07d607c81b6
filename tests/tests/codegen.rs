//! Issue 15: rewrites of optimised IR that change how code is selected,
//! never what it computes. Each case checks both: the rewrite shows in the
//! `WASMO_DUMP_LLVM` dump of a real `wasmoc build -O2`, and the compiled
//! function returns what the wasm semantics say, at the edges where the
//! rewrite could go wrong.

use wasmo_artifact_format::{BoundsChecks, TrapCode};
use wasmo_loader::{Imports, Instance, Store, Val};
use wasmo_tests::{call, expect_export, expect_trap, instantiate, load, optimised_ir};

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

/// A sealed table with known contents (a dispatch array): `$add` and
/// `$sub`, a null at 2 and `$neg` (another type) at 3, and `apply`, which
/// calls through it; a module's opening, for [`apply_module`].
const DISPATCH_HEAD: &str = r#"(module
    (type $bin (func (param i32 i32) (result i32)))
    (type $un (func (param i32) (result i32)))
    (table 4 funcref)
    (elem (i32.const 0) func $add $sub)
    (elem (i32.const 3) func $neg)
    (func $add (type $bin) (i32.add (local.get 0) (local.get 1)))
    (func $sub (type $bin) (i32.sub (local.get 0) (local.get 1)))
    (func $neg (type $un) (i32.sub (i32.const 0) (local.get 0)))
    (func (export "apply") (param $i i32) (param $a i32) (param $b i32) (result i32)
      (call_indirect (type $bin) (local.get $a) (local.get $b) (local.get $i)))"#;

/// [`DISPATCH_HEAD`] with `rest` after `apply`.
fn apply_module(rest: &str) -> String {
    format!("{DISPATCH_HEAD}\n{rest})")
}

/// `name`, a function like `apply`, in `inst`: entries 0 and 1 are called
/// with their arguments, 2 traps as a null entry, 3 as a signature
/// mismatch, 4 as out of bounds.
fn check_apply(store: &mut Store<()>, inst: &Instance, name: &str) {
    for (i, want) in [(0, 10), (1, 4)] {
        let v = expect_export(store, inst, name, &[Val::I32(i), Val::I32(7), Val::I32(3)]);
        assert!(
            matches!(v.as_slice(), [Val::I32(got)] if *got == want),
            "{name}({i}, 7, 3) = {v:?}, want {want}"
        );
    }
    for (i, code) in [
        (2, TrapCode::IndirectCallToNull),
        (3, TrapCode::BadSignature),
        (4, TrapCode::TableOutOfBounds),
    ] {
        let t = expect_trap(store, inst, name, &[Val::I32(i), Val::I32(7), Val::I32(3)]);
        assert_eq!(t.code, code, "{name}({i}, 7, 3)");
    }
}

/// The second argument (the caller's vmctx) of a wasm call in the IR: the
/// one after the `swiftself` callee vmctx.
fn caller_vmctx_arg(call: &str) -> Option<&str> {
    call.split_once("swiftself ")?.1.split(", ").nth(1)
}

/// `translate/call.rs`: a call through a dispatch array, and a direct call
/// of a defined function, pass `poison` as the caller's vmctx (no entry
/// reads it), and still compute and trap as before: entries 0 and 1 are
/// called with their arguments, 2 traps as a null entry, 3 as a signature
/// mismatch, 4 as out of bounds.
#[test]
fn issue15_defined_callees_get_no_caller_vmctx() {
    // `twice` calls `$add` directly.
    let dispatch = apply_module(
        r#"(func (export "twice") (param $a i32) (result i32)
      (call $add (local.get $a) (call $add (local.get $a) (local.get $a))))"#,
    );
    let ir = optimised_ir(&dispatch, &["-O2"]);
    for (callee, what) in [("%dispatch_fn(", "dispatch"), ("@wasm_func_0(", "direct")] {
        let calls: Vec<&str> = ir
            .lines()
            .filter(|l| l.contains("call ") && l.contains(callee))
            .collect();
        assert!(!calls.is_empty(), "no {what} call:\n{ir}");
        for l in &calls {
            assert_eq!(
                caller_vmctx_arg(l),
                Some("ptr poison"),
                "a {what} call passes the caller's vmctx: {l}"
            );
        }
    }

    let c = load(&dispatch, BoundsChecks::GuardPages);
    let mut store = Store::new(());
    let inst = instantiate(&mut store, &c.module, &Imports::new());
    check_apply(&mut store, &inst, "apply");
    let v = expect_export(&mut store, &inst, "twice", &[Val::I32(5)]);
    assert!(matches!(v.as_slice(), [Val::I32(15)]), "twice(5) = {v:?}");
}

/// [`DISPATCH_HEAD`]'s table, called through from two chunks at `-O0`:
/// `$pad` (over 32 KiB of wasm) ends the first chunk, so `apply` and
/// `apply2` lie in different ones.
fn dispatch_across_chunks() -> String {
    let pad = "i32.const 1 drop ".repeat(12 * 1024);
    apply_module(&format!(
        r#"(func $pad {pad})
    (func (export "apply2") (param $i i32) (param $a i32) (param $b i32) (result i32)
      (call_indirect (type $bin) (local.get $a) (local.get $b) (local.get $i)))"#
    ))
}

/// At `-O0` a dispatch array is defined once, in an object of its own
/// (`dispatch.pre.ll`), and the chunks that call through it only declare
/// it; calls from both chunks still reach the right entries and trap as
/// null, signature mismatch and out of bounds.
#[test]
fn issue15_o0_chunks_share_one_dispatch_array() {
    let wat = dispatch_across_chunks();
    let dumps = wasmo_tests::ir_dumps(&wat, &["-O0"]);
    let array = "@wasmo_dispatch_t0_ty0 = ";
    let lines = |file: &str| -> Vec<&str> {
        dumps
            .get(file)
            .map(|ir| ir.lines().filter(|l| l.starts_with(array)).collect())
            .unwrap_or_default()
    };
    let defined = lines("dispatch.pre.ll");
    assert!(
        matches!(defined.as_slice(), [l] if l.contains("hidden constant [4 x ptr] [")),
        "the dispatch object does not define the array once: {defined:?}"
    );
    let declaring: Vec<&String> = dumps
        .keys()
        .filter(|f| f.starts_with("chunk") && f.ends_with(".pre.ll"))
        .filter(|f| {
            let l = lines(f);
            assert!(
                l.iter()
                    .all(|l| l.contains("external hidden constant [4 x ptr]")),
                "{f} defines its own copy: {l:?}"
            );
            !l.is_empty()
        })
        .collect();
    assert_eq!(
        declaring.len(),
        2,
        "chunks declaring the array: {declaring:?}"
    );

    let config = wasmo_compiler::CompileConfig {
        opt_level: wasmo_compiler::OptLevel::O0,
        ..wasmo_compiler::CompileConfig::default()
    };
    let c = wasmo_tests::load_with(&wat, &config);
    let mut store = Store::new(());
    let inst = instantiate(&mut store, &c.module, &Imports::new());
    for name in ["apply", "apply2"] {
        check_apply(&mut store, &inst, name);
    }
}

/// At `-O0` the dispatch object compiles beside the chunks, from the
/// arrays the operator scan found before any chunk was translated
/// (`ModuleInfo::dispatch_keys`): every `call_indirect` and
/// `return_call_indirect` through a sealed table, dead code included. So
/// it defines `$un`'s array, which only dead code and a tail call no
/// dispatch array serves ask for, beside `$bin`'s; the chunks declare only
/// what they use; the bytes do not depend on the thread count.
#[test]
fn issue15_o0_dispatch_object_covers_every_scanned_call_indirect() {
    let wat = apply_module(
        r#"(func (export "dead") (param $x i32) (result i32)
      unreachable
      (call_indirect (type $un) (local.get $x) (i32.const 3)))
    (func (export "tail") (param $i i32) (param $x i32) (result i32)
      (return_call_indirect (type $un) (local.get $x) (local.get $i)))"#,
    );
    let dumps = wasmo_tests::ir_dumps(&wat, &["-O0"]);
    let defines = |file: &str, array: &str| {
        dumps.get(file).is_some_and(|ir| {
            ir.lines()
                .any(|l| l.starts_with(array) && l.contains(" hidden constant [4 x ptr] ["))
        })
    };
    for array in ["@wasmo_dispatch_t0_ty0 = ", "@wasmo_dispatch_t0_ty1 = "] {
        assert!(
            defines("dispatch.pre.ll", array),
            "the dispatch object does not define {array}"
        );
    }
    let chunk = dumps.get("chunk0.pre.ll").map(String::as_str).unwrap_or("");
    assert!(chunk.contains("@wasmo_dispatch_t0_ty0 = external hidden constant"));
    assert!(!chunk.contains("@wasmo_dispatch_t0_ty1"), "{chunk}");

    let config = wasmo_compiler::CompileConfig {
        opt_level: wasmo_compiler::OptLevel::O0,
        ..wasmo_compiler::CompileConfig::default()
    };
    let wasm = match wat::parse_str(&wat) {
        Ok(w) => w,
        Err(e) => panic!("bad wat: {e}"),
    };
    let artifacts: Vec<Vec<u8>> = [Some(1), Some(3), None]
        .into_iter()
        .map(|threads| {
            let session = wasmo_compiler::Session {
                threads,
                progress: None,
            };
            match wasmo_compiler::compile_with(&wasm, &config, &session) {
                Ok(a) => a,
                Err(e) => panic!("compile on {threads:?} threads: {e}"),
            }
        })
        .collect();
    assert!(artifacts.windows(2).all(|w| w[0] == w[1]));

    let c = wasmo_tests::load_with(&wat, &config);
    let mut store = Store::new(());
    let inst = instantiate(&mut store, &c.module, &Imports::new());
    check_apply(&mut store, &inst, "apply");
    let v = expect_export(&mut store, &inst, "tail", &[Val::I32(3), Val::I32(5)]);
    assert!(matches!(v.as_slice(), [Val::I32(-5)]), "tail(3, 5) = {v:?}");
    let t = expect_trap(&mut store, &inst, "tail", &[Val::I32(0), Val::I32(5)]);
    assert_eq!(t.code, TrapCode::BadSignature);
    let t = expect_trap(&mut store, &inst, "dead", &[Val::I32(5)]);
    assert_eq!(t.code, TrapCode::UnreachableCodeReached);
}

/// `br_table`s whose targets repeat, run into the default, carry a value
/// to a block and to a loop header, or have no cases at all.
const BR_TABLES: &str = r#"(module
    (func (export "pick") (param $i i32) (result i32)
      (block $d3 (result i32)
        (block $d2 (result i32)
          (block $d1 (result i32)
            (block $d0 (result i32)
              i32.const 100
              local.get $i
              br_table $d0 $d0 $d1 $d2 $d2 $d2 $d0 $d3 $d1)
            i32.const 1
            i32.add
            return)
          i32.const 2
          i32.add
          return)
        i32.const 3
        i32.add
        return)
      i32.const 4
      i32.add)
    (func (export "tail") (param $i i32) (result i32)
      (block $b
        (block $a
          local.get $i
          br_table $a $b $b $b)
        i32.const 10
        return)
      i32.const 20)
    (func (export "only") (param $i i32) (result i32)
      (block $a
        local.get $i
        br_table $a)
      i32.const 7)
    (func (export "sum") (param $n i32) (result i32)
      (block $out (result i32)
        i32.const 0
        (loop $top (param i32) (result i32)
          local.get $n
          i32.add
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (select (i32.const 2) (i32.and (local.get $n) (i32.const 1))
            (i32.eqz (local.get $n)))
          br_table $top $top $out $out))))"#;

/// At `-O0` a `br_table` is a tree of compares, not a `switch` (which the
/// fast instruction selector hands to SelectionDAG whole), and it goes
/// where the `switch` of `-O2` goes for every index: inside the table, at
/// its end, far past it and at the top of the unsigned range.
#[test]
fn issue15_o0_br_table_is_compares_and_agrees_with_o2() {
    let ir = optimised_ir(BR_TABLES, &["-O0"]);
    assert!(!ir.contains("switch "), "a switch at -O0:\n{ir}");
    assert!(ir.contains("icmp ult"), "no compare tree at -O0:\n{ir}");
    let pick = [101, 101, 102, 103, 103, 103, 101, 104];
    let indices = (0..12).chain([i32::MAX, i32::MIN, -2, -1]);
    let mut want: Vec<(&str, i32, i32)> = Vec::new();
    for i in indices {
        let fallback = |n: i32, table: &[i32], default: i32| match usize::try_from(i) {
            Ok(k) if k < n as usize => table[k],
            _ => default,
        };
        want.push(("pick", i, fallback(8, &pick, 102)));
        want.push(("tail", i, fallback(1, &[10], 20)));
        want.push(("only", i, 7));
    }
    for n in [1, 2, 3, 4, 9] {
        want.push(("sum", n, n * (n + 1) / 2));
    }
    for opt_level in [wasmo_compiler::OptLevel::O0, wasmo_compiler::OptLevel::O2] {
        let config = wasmo_compiler::CompileConfig {
            opt_level,
            ..wasmo_compiler::CompileConfig::default()
        };
        let c = wasmo_tests::load_with(BR_TABLES, &config);
        let mut store = Store::new(());
        let inst = Instance::new(&mut store, &c.module, &Imports::new())
            .unwrap_or_else(|e| panic!("instantiation failed: {e}"));
        for &(name, arg, expected) in &want {
            let got = wasmo_tests::expect_export(&mut store, &inst, name, &[Val::I32(arg)]);
            assert!(
                matches!(got.as_slice(), [Val::I32(v)] if *v == expected),
                "{opt_level:?} {name}({arg}) = {got:?}, want {expected}"
            );
        }
    }
}

/// `stack[i - 1]`: `i64`s read at `base + 8 * (i - 1)`, a 32-bit address
/// that must wrap at 2^32, so its `- 8` cannot go into the 64-bit access.
/// `below` reads one; `fold` sums `stack[n - 1]` down to `stack[0]`.
const STEP_BACK: &str = r#"(module
    (memory 1)
    (data (i32.const 0) "\01\02\03\04\05\06\07\08\10\20\30\40\50\60\70\80")
    (func (export "below") (param $base i32) (param $i i32) (result i64)
      (i64.load (i32.add (local.get $base)
        (i32.shl (i32.sub (local.get $i) (i32.const 1)) (i32.const 3)))))
    (func (export "fold") (param $base i32) (param $n i32) (result i64) (local $acc i64)
      (loop
        (local.set $acc (i64.add (local.get $acc) (i64.load (i32.add (local.get $base)
          (i32.shl (i32.sub (local.get $n) (i32.const 1)) (i32.const 3))))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br_if 0 (local.get $n)))
      (local.get $acc)))"#;

/// Whether `code` holds a 32-bit `lea` of three operands, `base + 8 *
/// index - 8`: opcode 0x8d, no REX.W before it, a ModRM byte of an 8-bit
/// displacement and a SIB byte, scale 8, displacement -8.
fn has_32bit_lea_base_index8_minus8(code: &[u8]) -> bool {
    (0..code.len().saturating_sub(3)).any(|i| {
        let rex_w = i > 0 && code[i - 1] & 0xf8 == 0x48;
        code[i] == 0x8d
            && !rex_w
            && code[i + 1] & 0xc7 == 0x44
            && code[i + 2] >> 6 == 3
            && code[i + 3] == 0xf8
    })
}

/// Generic tuning keeps a three-operand `lea` whole (`target.rs`,
/// `X86_GENERIC_TUNING`): `fold`'s address is one 32-bit `lea`, where it
/// was an `lea` and an `add`. The address still wraps at 2^32 (`below(-16,
/// 3)` reads address 0) and traps exactly at both ends of the memory:
/// `0 + 8 * -1` is 2^32 - 8, `fold(-8, 2)` reaches it after reading 0, and
/// `fold(65528, 2)` starts at the end of the page.
#[test]
fn issue15_step_back_address_is_one_32bit_lea_and_still_wraps() {
    let config = wasmo_compiler::CompileConfig::default();
    let code = wasmo_tests::function_code(STEP_BACK, &config, 1);
    assert!(
        has_32bit_lea_base_index8_minus8(&code),
        "no 32-bit lea [base + 8 * index - 8] in {code:02x?}"
    );

    let c = load(STEP_BACK, BoundsChecks::GuardPages);
    let mut store = Store::new(());
    let inst = instantiate(&mut store, &c.module, &Imports::new());
    let first = 0x0807_0605_0403_0201_i64;
    let second = 0x8070_6050_4030_2010_u64 as i64;
    for (name, base, i, want) in [
        ("below", 8, 0, first),
        ("below", 0, 1, first),
        ("below", -16, 3, first),
        ("below", 65536, 0, 0),
        ("fold", 0, 2, first.wrapping_add(second)),
        ("fold", 65520, 2, 0),
    ] {
        let v = expect_export(&mut store, &inst, name, &[Val::I32(base), Val::I32(i)]);
        assert!(
            matches!(v.as_slice(), [Val::I64(got)] if *got == want),
            "{name}({base}, {i}) = {v:?}, want {want:#x}"
        );
    }
    for (name, base, i) in [
        ("below", 0, 0),
        ("below", 65536, 1),
        ("below", -8, 0),
        ("fold", -8, 2),
        ("fold", 65528, 2),
    ] {
        let t = expect_trap(&mut store, &inst, name, &[Val::I32(base), Val::I32(i)]);
        assert_eq!(t.code, TrapCode::MemoryOutOfBounds, "{name}({base}, {i})");
    }
}
