//! Compiles one function per numeric, sign-extension, conversion and
//! saturating-truncation operator at every optimisation level, so each
//! operator's translation builds IR that LLVM verifies (debug builds of the
//! compiler verify every function) and lowers to x86-64 code.
//!
//! Rule: this file checks that operators compile; their results are checked
//! against the spec `.wast` files by the end-to-end runner in the `tests`
//! crate. Add a row to the tables below when adding an operator.

use wasmo_compiler::{compile, CompileConfig, CpuSelection, OptLevel};

/// `(operator, params, result)` for every operator `numeric_visitors!`
/// covers, except the constants (see [`CONSTANTS`]).
const OPERATORS: &[(&str, &str, &str)] = &[
    // i32 comparisons and arithmetic.
    ("i32.eqz", "i32", "i32"),
    ("i32.eq", "i32 i32", "i32"),
    ("i32.ne", "i32 i32", "i32"),
    ("i32.lt_s", "i32 i32", "i32"),
    ("i32.lt_u", "i32 i32", "i32"),
    ("i32.gt_s", "i32 i32", "i32"),
    ("i32.gt_u", "i32 i32", "i32"),
    ("i32.le_s", "i32 i32", "i32"),
    ("i32.le_u", "i32 i32", "i32"),
    ("i32.ge_s", "i32 i32", "i32"),
    ("i32.ge_u", "i32 i32", "i32"),
    ("i32.clz", "i32", "i32"),
    ("i32.ctz", "i32", "i32"),
    ("i32.popcnt", "i32", "i32"),
    ("i32.add", "i32 i32", "i32"),
    ("i32.sub", "i32 i32", "i32"),
    ("i32.mul", "i32 i32", "i32"),
    ("i32.div_s", "i32 i32", "i32"),
    ("i32.div_u", "i32 i32", "i32"),
    ("i32.rem_s", "i32 i32", "i32"),
    ("i32.rem_u", "i32 i32", "i32"),
    ("i32.and", "i32 i32", "i32"),
    ("i32.or", "i32 i32", "i32"),
    ("i32.xor", "i32 i32", "i32"),
    ("i32.shl", "i32 i32", "i32"),
    ("i32.shr_s", "i32 i32", "i32"),
    ("i32.shr_u", "i32 i32", "i32"),
    ("i32.rotl", "i32 i32", "i32"),
    ("i32.rotr", "i32 i32", "i32"),
    // i64 comparisons and arithmetic.
    ("i64.eqz", "i64", "i32"),
    ("i64.eq", "i64 i64", "i32"),
    ("i64.ne", "i64 i64", "i32"),
    ("i64.lt_s", "i64 i64", "i32"),
    ("i64.lt_u", "i64 i64", "i32"),
    ("i64.gt_s", "i64 i64", "i32"),
    ("i64.gt_u", "i64 i64", "i32"),
    ("i64.le_s", "i64 i64", "i32"),
    ("i64.le_u", "i64 i64", "i32"),
    ("i64.ge_s", "i64 i64", "i32"),
    ("i64.ge_u", "i64 i64", "i32"),
    ("i64.clz", "i64", "i64"),
    ("i64.ctz", "i64", "i64"),
    ("i64.popcnt", "i64", "i64"),
    ("i64.add", "i64 i64", "i64"),
    ("i64.sub", "i64 i64", "i64"),
    ("i64.mul", "i64 i64", "i64"),
    ("i64.div_s", "i64 i64", "i64"),
    ("i64.div_u", "i64 i64", "i64"),
    ("i64.rem_s", "i64 i64", "i64"),
    ("i64.rem_u", "i64 i64", "i64"),
    ("i64.and", "i64 i64", "i64"),
    ("i64.or", "i64 i64", "i64"),
    ("i64.xor", "i64 i64", "i64"),
    ("i64.shl", "i64 i64", "i64"),
    ("i64.shr_s", "i64 i64", "i64"),
    ("i64.shr_u", "i64 i64", "i64"),
    ("i64.rotl", "i64 i64", "i64"),
    ("i64.rotr", "i64 i64", "i64"),
    // f32.
    ("f32.eq", "f32 f32", "i32"),
    ("f32.ne", "f32 f32", "i32"),
    ("f32.lt", "f32 f32", "i32"),
    ("f32.gt", "f32 f32", "i32"),
    ("f32.le", "f32 f32", "i32"),
    ("f32.ge", "f32 f32", "i32"),
    ("f32.abs", "f32", "f32"),
    ("f32.neg", "f32", "f32"),
    ("f32.ceil", "f32", "f32"),
    ("f32.floor", "f32", "f32"),
    ("f32.trunc", "f32", "f32"),
    ("f32.nearest", "f32", "f32"),
    ("f32.sqrt", "f32", "f32"),
    ("f32.add", "f32 f32", "f32"),
    ("f32.sub", "f32 f32", "f32"),
    ("f32.mul", "f32 f32", "f32"),
    ("f32.div", "f32 f32", "f32"),
    ("f32.min", "f32 f32", "f32"),
    ("f32.max", "f32 f32", "f32"),
    ("f32.copysign", "f32 f32", "f32"),
    // f64.
    ("f64.eq", "f64 f64", "i32"),
    ("f64.ne", "f64 f64", "i32"),
    ("f64.lt", "f64 f64", "i32"),
    ("f64.gt", "f64 f64", "i32"),
    ("f64.le", "f64 f64", "i32"),
    ("f64.ge", "f64 f64", "i32"),
    ("f64.abs", "f64", "f64"),
    ("f64.neg", "f64", "f64"),
    ("f64.ceil", "f64", "f64"),
    ("f64.floor", "f64", "f64"),
    ("f64.trunc", "f64", "f64"),
    ("f64.nearest", "f64", "f64"),
    ("f64.sqrt", "f64", "f64"),
    ("f64.add", "f64 f64", "f64"),
    ("f64.sub", "f64 f64", "f64"),
    ("f64.mul", "f64 f64", "f64"),
    ("f64.div", "f64 f64", "f64"),
    ("f64.min", "f64 f64", "f64"),
    ("f64.max", "f64 f64", "f64"),
    ("f64.copysign", "f64 f64", "f64"),
    // Conversions.
    ("i32.wrap_i64", "i64", "i32"),
    ("i32.trunc_f32_s", "f32", "i32"),
    ("i32.trunc_f32_u", "f32", "i32"),
    ("i32.trunc_f64_s", "f64", "i32"),
    ("i32.trunc_f64_u", "f64", "i32"),
    ("i64.extend_i32_s", "i32", "i64"),
    ("i64.extend_i32_u", "i32", "i64"),
    ("i64.trunc_f32_s", "f32", "i64"),
    ("i64.trunc_f32_u", "f32", "i64"),
    ("i64.trunc_f64_s", "f64", "i64"),
    ("i64.trunc_f64_u", "f64", "i64"),
    ("f32.convert_i32_s", "i32", "f32"),
    ("f32.convert_i32_u", "i32", "f32"),
    ("f32.convert_i64_s", "i64", "f32"),
    ("f32.convert_i64_u", "i64", "f32"),
    ("f32.demote_f64", "f64", "f32"),
    ("f64.convert_i32_s", "i32", "f64"),
    ("f64.convert_i32_u", "i32", "f64"),
    ("f64.convert_i64_s", "i64", "f64"),
    ("f64.convert_i64_u", "i64", "f64"),
    ("f64.promote_f32", "f32", "f64"),
    ("i32.reinterpret_f32", "f32", "i32"),
    ("i64.reinterpret_f64", "f64", "i64"),
    ("f32.reinterpret_i32", "i32", "f32"),
    ("f64.reinterpret_i64", "i64", "f64"),
    // Sign extension.
    ("i32.extend8_s", "i32", "i32"),
    ("i32.extend16_s", "i32", "i32"),
    ("i64.extend8_s", "i64", "i64"),
    ("i64.extend16_s", "i64", "i64"),
    ("i64.extend32_s", "i64", "i64"),
    // Saturating truncation.
    ("i32.trunc_sat_f32_s", "f32", "i32"),
    ("i32.trunc_sat_f32_u", "f32", "i32"),
    ("i32.trunc_sat_f64_s", "f64", "i32"),
    ("i32.trunc_sat_f64_u", "f64", "i32"),
    ("i64.trunc_sat_f32_s", "f32", "i64"),
    ("i64.trunc_sat_f32_u", "f32", "i64"),
    ("i64.trunc_sat_f64_s", "f64", "i64"),
    ("i64.trunc_sat_f64_u", "f64", "i64"),
];

/// Constants, including the edge cases whose bits must survive exactly.
const CONSTANTS: &[(&str, &str)] = &[
    ("i32.const -2147483648", "i32"),
    ("i32.const -1", "i32"),
    ("i64.const -9223372036854775808", "i64"),
    ("i64.const 0xffff_ffff_ffff_ffff", "i64"),
    ("f32.const nan:0x200000", "f32"),
    ("f32.const -nan:0x1", "f32"),
    ("f32.const -0x0p+0", "f32"),
    ("f32.const 0x1p-149", "f32"),
    ("f64.const nan:0x4000000000000", "f64"),
    ("f64.const -nan:0x1", "f64"),
    ("f64.const -0x0p+0", "f64"),
    ("f64.const 0x0.0000000000001p-1022", "f64"),
];

/// A module with one exported function per operator (operands from the
/// parameters, so nothing constant-folds), one per constant, and each
/// trapping operator again with constant operands that make it trap, so
/// the optimiser sees the trap paths too.
fn all_operators_module() -> String {
    let mut wat = String::from("(module\n");
    for (i, (op, params, result)) in OPERATORS.iter().enumerate() {
        let gets: String = (0..params.split(' ').count())
            .map(|p| format!("(local.get {p}) "))
            .collect();
        wat.push_str(&format!(
            "  (func (export \"op{i}\") (param {params}) (result {result}) ({op} {gets}))\n"
        ));
    }
    for (i, (constant, ty)) in CONSTANTS.iter().enumerate() {
        wat.push_str(&format!(
            "  (func (export \"const{i}\") (result {ty}) ({constant}))\n"
        ));
    }
    wat.push_str(
        r#"  (func (export "div_by_zero") (result i32) (i32.div_s (i32.const 1) (i32.const 0)))
  (func (export "div_overflow") (result i64)
    (i64.div_s (i64.const -9223372036854775808) (i64.const -1)))
  (func (export "rem_min_minus_one") (result i32)
    (i32.rem_s (i32.const -2147483648) (i32.const -1)))
  (func (export "rem_u_by_zero") (result i64) (i64.rem_u (i64.const 7) (i64.const 0)))
  (func (export "trunc_nan") (result i32) (i32.trunc_f32_s (f32.const nan)))
  (func (export "trunc_overflow") (result i64) (i64.trunc_f64_u (f64.const 1e30)))
  (func (export "trunc_sat_nan") (result i64) (i64.trunc_sat_f32_s (f32.const nan)))
  (func (export "dead_code") (result i32)
    (unreachable)
    (i32.div_s (i32.const 1) (i32.const 0))
    (drop)
    (f32.trunc (f32.const 1))
    (i32.trunc_f32_u))
)
"#,
    );
    wat
}

fn config(opt_level: OptLevel, cpu: CpuSelection) -> CompileConfig {
    CompileConfig {
        opt_level,
        cpu,
        ..CompileConfig::default()
    }
}

fn compile_all(config: &CompileConfig) {
    let wasm = match wat::parse_str(all_operators_module()) {
        Ok(w) => w,
        Err(e) => panic!("bad test wat: {e}"),
    };
    if let Err(e) = compile(&wasm, config) {
        panic!("compiling every numeric operator with {config:?} failed: {e}");
    }
}

#[test]
fn every_numeric_operator_compiles_at_o0() {
    compile_all(&config(OptLevel::O0, CpuSelection::Baseline));
}

#[test]
fn every_numeric_operator_compiles_at_o2() {
    compile_all(&config(OptLevel::O2, CpuSelection::Baseline));
}

#[test]
fn every_numeric_operator_compiles_at_o3_for_x86_64_v3() {
    // AVX2/FMA/BMI: other lowerings of min/max, rotates, lzcnt/tzcnt.
    compile_all(&config(
        OptLevel::O3,
        CpuSelection::Named("x86-64-v3".into()),
    ));
}

#[test]
fn every_numeric_operator_compiles_for_plain_x86_64() {
    // No SSE4.1: ceil/floor/trunc/nearest become libcalls or bit tricks.
    compile_all(&config(OptLevel::O2, CpuSelection::Named("x86-64".into())));
}
