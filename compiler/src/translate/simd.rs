//! 128-bit SIMD (`v128`): every operator of the fixed-width SIMD proposal
//! (WebAssembly 2.0) and of relaxed SIMD (`relaxed.rs`, one fixed
//! behaviour each), plus [`simd_visitors`], the `VisitSimdOperator`
//! methods that delegate here.
//!
//! A `v128` is `<4 x i32>` wherever it is stored or passed
//! ([`crate::codegen::v128_type`]); each operator bitcasts its operands to
//! the lane shape it works on ([`Shape`]) and its result back, which LLVM
//! folds away. Operators are written as portable IR that LLVM's x86 back
//! end selects single instructions for (saturating arithmetic, `pavg`,
//! `pack*`, `pmovmskb`, `ptest`, `pmaddwd`, ...). Where it does not, x86
//! instructions are called by name, each behind a check of the target
//! (`on_x86`) or CPU feature and with a portable fallback: `pshufb`
//! (swizzle), `pmulhrsw` (q15mulr), `pmaddubsw`/`pmaddwd`
//! (extadd_pairwise), `minps`/`maxps` (min, max, pmin, pmax).
//!
//! Rule: exact wasm semantics lane by lane and no fast-math: float
//! arithmetic results go through [`FuncTranslator::quiet_nan_v`] like the
//! scalar ones (min/max blend in the canonical NaN themselves), `abs`/`neg`,
//! `pmin`/`pmax` and lane moves keep NaN payloads, shift counts are taken
//! modulo the lane width, and every
//! linear-memory access goes through `effective_address` plus
//! `linear_load`/`linear_store` (memory.rs).

use super::conversion::Sign;
use super::memory::Extend;
use super::numeric::{FloatPredicate, FloatUnary, IntPredicate};
use super::FuncTranslator;
use crate::codegen::v128_type;
use crate::CompileError;
use inkwell::types::{BasicTypeEnum, IntType, VectorType};
use inkwell::values::{BasicMetadataValueEnum, BasicValueEnum, IntValue, VectorValue};
use wasmo_artifact_format::X86Feature;
use wasmparser::MemArg;

mod relaxed;

/// Expands (inside `impl VisitSimdOperator for FuncTranslator`) to one
/// `visit_*` method per SIMD operator. Each entry reads
/// `visit_name(args) => op_helper(expr, ...)`; the expressions resolve
/// where the macro expands, which imports this module's [`prelude`].
macro_rules! simd_visitors {
    () => {
        $crate::translate::simd::simd_visitors! { @items
            visit_v128_load(memarg: MemArg) => op_v128_load(&memarg);
            visit_v128_store(memarg: MemArg) => op_store(&memarg, None);
            visit_v128_load8x8_s(memarg: MemArg) => op_load_extend(&memarg, I8x16, Signed);
            visit_v128_load8x8_u(memarg: MemArg) => op_load_extend(&memarg, I8x16, Unsigned);
            visit_v128_load16x4_s(memarg: MemArg) => op_load_extend(&memarg, I16x8, Signed);
            visit_v128_load16x4_u(memarg: MemArg) => op_load_extend(&memarg, I16x8, Unsigned);
            visit_v128_load32x2_s(memarg: MemArg) => op_load_extend(&memarg, I32x4, Signed);
            visit_v128_load32x2_u(memarg: MemArg) => op_load_extend(&memarg, I32x4, Unsigned);
            visit_v128_load8_splat(memarg: MemArg) => op_load_splat(&memarg, I8x16);
            visit_v128_load16_splat(memarg: MemArg) => op_load_splat(&memarg, I16x8);
            visit_v128_load32_splat(memarg: MemArg) => op_load_splat(&memarg, I32x4);
            visit_v128_load64_splat(memarg: MemArg) => op_load_splat(&memarg, I64x2);
            visit_v128_load32_zero(memarg: MemArg) => op_load_zero(&memarg, I32x4);
            visit_v128_load64_zero(memarg: MemArg) => op_load_zero(&memarg, I64x2);
            visit_v128_load8_lane(memarg: MemArg, lane: u8) => op_load_lane(&memarg, I8x16, lane);
            visit_v128_load16_lane(memarg: MemArg, lane: u8) => op_load_lane(&memarg, I16x8, lane);
            visit_v128_load32_lane(memarg: MemArg, lane: u8) => op_load_lane(&memarg, I32x4, lane);
            visit_v128_load64_lane(memarg: MemArg, lane: u8) => op_load_lane(&memarg, I64x2, lane);
            visit_v128_store8_lane(memarg: MemArg, lane: u8) => op_store_lane(&memarg, I8x16, lane);
            visit_v128_store16_lane(memarg: MemArg, lane: u8) => op_store_lane(&memarg, I16x8, lane);
            visit_v128_store32_lane(memarg: MemArg, lane: u8) => op_store_lane(&memarg, I32x4, lane);
            visit_v128_store64_lane(memarg: MemArg, lane: u8) => op_store_lane(&memarg, I64x2, lane);

            visit_v128_const(value: ::wasmparser::V128) => op_v128_const(&value);
            visit_i8x16_shuffle(lanes: [u8; 16]) => op_shuffle(&lanes);
            visit_i8x16_swizzle() => op_swizzle();
            visit_i8x16_extract_lane_s(lane: u8) => op_extract_lane(I8x16, lane, Extend::Signed);
            visit_i8x16_extract_lane_u(lane: u8) => op_extract_lane(I8x16, lane, Extend::Unsigned);
            visit_i16x8_extract_lane_s(lane: u8) => op_extract_lane(I16x8, lane, Extend::Signed);
            visit_i16x8_extract_lane_u(lane: u8) => op_extract_lane(I16x8, lane, Extend::Unsigned);
            visit_i32x4_extract_lane(lane: u8) => op_extract_lane(I32x4, lane, Extend::None);
            visit_i64x2_extract_lane(lane: u8) => op_extract_lane(I64x2, lane, Extend::None);
            visit_f32x4_extract_lane(lane: u8) => op_extract_lane(F32x4, lane, Extend::None);
            visit_f64x2_extract_lane(lane: u8) => op_extract_lane(F64x2, lane, Extend::None);
            visit_i8x16_replace_lane(lane: u8) => op_replace_lane(I8x16, lane);
            visit_i16x8_replace_lane(lane: u8) => op_replace_lane(I16x8, lane);
            visit_i32x4_replace_lane(lane: u8) => op_replace_lane(I32x4, lane);
            visit_i64x2_replace_lane(lane: u8) => op_replace_lane(I64x2, lane);
            visit_f32x4_replace_lane(lane: u8) => op_replace_lane(F32x4, lane);
            visit_f64x2_replace_lane(lane: u8) => op_replace_lane(F64x2, lane);
            visit_i8x16_splat() => op_splat(I8x16);
            visit_i16x8_splat() => op_splat(I16x8);
            visit_i32x4_splat() => op_splat(I32x4);
            visit_i64x2_splat() => op_splat(I64x2);
            visit_f32x4_splat() => op_splat(F32x4);
            visit_f64x2_splat() => op_splat(F64x2);

            visit_i8x16_eq() => op_v_int_compare(I8x16, IntPredicate::EQ);
            visit_i8x16_ne() => op_v_int_compare(I8x16, IntPredicate::NE);
            visit_i8x16_lt_s() => op_v_int_compare(I8x16, IntPredicate::SLT);
            visit_i8x16_lt_u() => op_v_int_compare(I8x16, IntPredicate::ULT);
            visit_i8x16_gt_s() => op_v_int_compare(I8x16, IntPredicate::SGT);
            visit_i8x16_gt_u() => op_v_int_compare(I8x16, IntPredicate::UGT);
            visit_i8x16_le_s() => op_v_int_compare(I8x16, IntPredicate::SLE);
            visit_i8x16_le_u() => op_v_int_compare(I8x16, IntPredicate::ULE);
            visit_i8x16_ge_s() => op_v_int_compare(I8x16, IntPredicate::SGE);
            visit_i8x16_ge_u() => op_v_int_compare(I8x16, IntPredicate::UGE);
            visit_i16x8_eq() => op_v_int_compare(I16x8, IntPredicate::EQ);
            visit_i16x8_ne() => op_v_int_compare(I16x8, IntPredicate::NE);
            visit_i16x8_lt_s() => op_v_int_compare(I16x8, IntPredicate::SLT);
            visit_i16x8_lt_u() => op_v_int_compare(I16x8, IntPredicate::ULT);
            visit_i16x8_gt_s() => op_v_int_compare(I16x8, IntPredicate::SGT);
            visit_i16x8_gt_u() => op_v_int_compare(I16x8, IntPredicate::UGT);
            visit_i16x8_le_s() => op_v_int_compare(I16x8, IntPredicate::SLE);
            visit_i16x8_le_u() => op_v_int_compare(I16x8, IntPredicate::ULE);
            visit_i16x8_ge_s() => op_v_int_compare(I16x8, IntPredicate::SGE);
            visit_i16x8_ge_u() => op_v_int_compare(I16x8, IntPredicate::UGE);
            visit_i32x4_eq() => op_v_int_compare(I32x4, IntPredicate::EQ);
            visit_i32x4_ne() => op_v_int_compare(I32x4, IntPredicate::NE);
            visit_i32x4_lt_s() => op_v_int_compare(I32x4, IntPredicate::SLT);
            visit_i32x4_lt_u() => op_v_int_compare(I32x4, IntPredicate::ULT);
            visit_i32x4_gt_s() => op_v_int_compare(I32x4, IntPredicate::SGT);
            visit_i32x4_gt_u() => op_v_int_compare(I32x4, IntPredicate::UGT);
            visit_i32x4_le_s() => op_v_int_compare(I32x4, IntPredicate::SLE);
            visit_i32x4_le_u() => op_v_int_compare(I32x4, IntPredicate::ULE);
            visit_i32x4_ge_s() => op_v_int_compare(I32x4, IntPredicate::SGE);
            visit_i32x4_ge_u() => op_v_int_compare(I32x4, IntPredicate::UGE);
            visit_i64x2_eq() => op_v_int_compare(I64x2, IntPredicate::EQ);
            visit_i64x2_ne() => op_v_int_compare(I64x2, IntPredicate::NE);
            visit_i64x2_lt_s() => op_v_int_compare(I64x2, IntPredicate::SLT);
            visit_i64x2_gt_s() => op_v_int_compare(I64x2, IntPredicate::SGT);
            visit_i64x2_le_s() => op_v_int_compare(I64x2, IntPredicate::SLE);
            visit_i64x2_ge_s() => op_v_int_compare(I64x2, IntPredicate::SGE);
            visit_f32x4_eq() => op_v_float_compare(F32x4, FloatPredicate::OEQ);
            visit_f32x4_ne() => op_v_float_compare(F32x4, FloatPredicate::UNE);
            visit_f32x4_lt() => op_v_float_compare(F32x4, FloatPredicate::OLT);
            visit_f32x4_gt() => op_v_float_compare(F32x4, FloatPredicate::OGT);
            visit_f32x4_le() => op_v_float_compare(F32x4, FloatPredicate::OLE);
            visit_f32x4_ge() => op_v_float_compare(F32x4, FloatPredicate::OGE);
            visit_f64x2_eq() => op_v_float_compare(F64x2, FloatPredicate::OEQ);
            visit_f64x2_ne() => op_v_float_compare(F64x2, FloatPredicate::UNE);
            visit_f64x2_lt() => op_v_float_compare(F64x2, FloatPredicate::OLT);
            visit_f64x2_gt() => op_v_float_compare(F64x2, FloatPredicate::OGT);
            visit_f64x2_le() => op_v_float_compare(F64x2, FloatPredicate::OLE);
            visit_f64x2_ge() => op_v_float_compare(F64x2, FloatPredicate::OGE);

            visit_v128_not() => op_v128_not();
            visit_v128_and() => op_v128_bitwise(Bitwise::And);
            visit_v128_andnot() => op_v128_bitwise(Bitwise::AndNot);
            visit_v128_or() => op_v128_bitwise(Bitwise::Or);
            visit_v128_xor() => op_v128_bitwise(Bitwise::Xor);
            visit_v128_bitselect() => op_v128_bitselect();
            visit_v128_any_true() => op_v128_any_true();

            visit_i8x16_abs() => op_v_int_unary(I8x16, VIntUnary::Abs);
            visit_i8x16_neg() => op_v_int_unary(I8x16, VIntUnary::Neg);
            visit_i8x16_popcnt() => op_v_int_unary(I8x16, VIntUnary::Popcnt);
            visit_i16x8_abs() => op_v_int_unary(I16x8, VIntUnary::Abs);
            visit_i16x8_neg() => op_v_int_unary(I16x8, VIntUnary::Neg);
            visit_i32x4_abs() => op_v_int_unary(I32x4, VIntUnary::Abs);
            visit_i32x4_neg() => op_v_int_unary(I32x4, VIntUnary::Neg);
            visit_i64x2_abs() => op_v_int_unary(I64x2, VIntUnary::Abs);
            visit_i64x2_neg() => op_v_int_unary(I64x2, VIntUnary::Neg);
            visit_i8x16_all_true() => op_all_true(I8x16);
            visit_i16x8_all_true() => op_all_true(I16x8);
            visit_i32x4_all_true() => op_all_true(I32x4);
            visit_i64x2_all_true() => op_all_true(I64x2);
            visit_i8x16_bitmask() => op_bitmask(I8x16);
            visit_i16x8_bitmask() => op_bitmask(I16x8);
            visit_i32x4_bitmask() => op_bitmask(I32x4);
            visit_i64x2_bitmask() => op_bitmask(I64x2);
            visit_i8x16_narrow_i16x8_s() => op_narrow(I16x8, Signed);
            visit_i8x16_narrow_i16x8_u() => op_narrow(I16x8, Unsigned);
            visit_i16x8_narrow_i32x4_s() => op_narrow(I32x4, Signed);
            visit_i16x8_narrow_i32x4_u() => op_narrow(I32x4, Unsigned);

            visit_i8x16_shl() => op_v_shift(I8x16, Shift::Shl);
            visit_i8x16_shr_s() => op_v_shift(I8x16, Shift::ShrS);
            visit_i8x16_shr_u() => op_v_shift(I8x16, Shift::ShrU);
            visit_i16x8_shl() => op_v_shift(I16x8, Shift::Shl);
            visit_i16x8_shr_s() => op_v_shift(I16x8, Shift::ShrS);
            visit_i16x8_shr_u() => op_v_shift(I16x8, Shift::ShrU);
            visit_i32x4_shl() => op_v_shift(I32x4, Shift::Shl);
            visit_i32x4_shr_s() => op_v_shift(I32x4, Shift::ShrS);
            visit_i32x4_shr_u() => op_v_shift(I32x4, Shift::ShrU);
            visit_i64x2_shl() => op_v_shift(I64x2, Shift::Shl);
            visit_i64x2_shr_s() => op_v_shift(I64x2, Shift::ShrS);
            visit_i64x2_shr_u() => op_v_shift(I64x2, Shift::ShrU);

            visit_i8x16_add() => op_v_int_binary(I8x16, VIntBinary::Add);
            visit_i8x16_add_sat_s() => op_v_int_binary(I8x16, VIntBinary::AddSatS);
            visit_i8x16_add_sat_u() => op_v_int_binary(I8x16, VIntBinary::AddSatU);
            visit_i8x16_sub() => op_v_int_binary(I8x16, VIntBinary::Sub);
            visit_i8x16_sub_sat_s() => op_v_int_binary(I8x16, VIntBinary::SubSatS);
            visit_i8x16_sub_sat_u() => op_v_int_binary(I8x16, VIntBinary::SubSatU);
            visit_i8x16_min_s() => op_v_int_binary(I8x16, VIntBinary::MinS);
            visit_i8x16_min_u() => op_v_int_binary(I8x16, VIntBinary::MinU);
            visit_i8x16_max_s() => op_v_int_binary(I8x16, VIntBinary::MaxS);
            visit_i8x16_max_u() => op_v_int_binary(I8x16, VIntBinary::MaxU);
            visit_i8x16_avgr_u() => op_v_int_binary(I8x16, VIntBinary::AvgrU);
            visit_i16x8_add() => op_v_int_binary(I16x8, VIntBinary::Add);
            visit_i16x8_add_sat_s() => op_v_int_binary(I16x8, VIntBinary::AddSatS);
            visit_i16x8_add_sat_u() => op_v_int_binary(I16x8, VIntBinary::AddSatU);
            visit_i16x8_sub() => op_v_int_binary(I16x8, VIntBinary::Sub);
            visit_i16x8_sub_sat_s() => op_v_int_binary(I16x8, VIntBinary::SubSatS);
            visit_i16x8_sub_sat_u() => op_v_int_binary(I16x8, VIntBinary::SubSatU);
            visit_i16x8_mul() => op_v_int_binary(I16x8, VIntBinary::Mul);
            visit_i16x8_min_s() => op_v_int_binary(I16x8, VIntBinary::MinS);
            visit_i16x8_min_u() => op_v_int_binary(I16x8, VIntBinary::MinU);
            visit_i16x8_max_s() => op_v_int_binary(I16x8, VIntBinary::MaxS);
            visit_i16x8_max_u() => op_v_int_binary(I16x8, VIntBinary::MaxU);
            visit_i16x8_avgr_u() => op_v_int_binary(I16x8, VIntBinary::AvgrU);
            visit_i32x4_add() => op_v_int_binary(I32x4, VIntBinary::Add);
            visit_i32x4_sub() => op_v_int_binary(I32x4, VIntBinary::Sub);
            visit_i32x4_mul() => op_v_int_binary(I32x4, VIntBinary::Mul);
            visit_i32x4_min_s() => op_v_int_binary(I32x4, VIntBinary::MinS);
            visit_i32x4_min_u() => op_v_int_binary(I32x4, VIntBinary::MinU);
            visit_i32x4_max_s() => op_v_int_binary(I32x4, VIntBinary::MaxS);
            visit_i32x4_max_u() => op_v_int_binary(I32x4, VIntBinary::MaxU);
            visit_i64x2_add() => op_v_int_binary(I64x2, VIntBinary::Add);
            visit_i64x2_sub() => op_v_int_binary(I64x2, VIntBinary::Sub);
            visit_i64x2_mul() => op_v_int_binary(I64x2, VIntBinary::Mul);
            visit_i16x8_q15mulr_sat_s() => op_q15mulr_sat();
            visit_i32x4_dot_i16x8_s() => op_dot();

            visit_i16x8_extadd_pairwise_i8x16_s() => op_extadd_pairwise(I8x16, Signed);
            visit_i16x8_extadd_pairwise_i8x16_u() => op_extadd_pairwise(I8x16, Unsigned);
            visit_i32x4_extadd_pairwise_i16x8_s() => op_extadd_pairwise(I16x8, Signed);
            visit_i32x4_extadd_pairwise_i16x8_u() => op_extadd_pairwise(I16x8, Unsigned);
            visit_i16x8_extend_low_i8x16_s() => op_extend(I8x16, Half::Low, Signed);
            visit_i16x8_extend_high_i8x16_s() => op_extend(I8x16, Half::High, Signed);
            visit_i16x8_extend_low_i8x16_u() => op_extend(I8x16, Half::Low, Unsigned);
            visit_i16x8_extend_high_i8x16_u() => op_extend(I8x16, Half::High, Unsigned);
            visit_i32x4_extend_low_i16x8_s() => op_extend(I16x8, Half::Low, Signed);
            visit_i32x4_extend_high_i16x8_s() => op_extend(I16x8, Half::High, Signed);
            visit_i32x4_extend_low_i16x8_u() => op_extend(I16x8, Half::Low, Unsigned);
            visit_i32x4_extend_high_i16x8_u() => op_extend(I16x8, Half::High, Unsigned);
            visit_i64x2_extend_low_i32x4_s() => op_extend(I32x4, Half::Low, Signed);
            visit_i64x2_extend_high_i32x4_s() => op_extend(I32x4, Half::High, Signed);
            visit_i64x2_extend_low_i32x4_u() => op_extend(I32x4, Half::Low, Unsigned);
            visit_i64x2_extend_high_i32x4_u() => op_extend(I32x4, Half::High, Unsigned);
            visit_i16x8_extmul_low_i8x16_s() => op_extmul(I8x16, Half::Low, Signed);
            visit_i16x8_extmul_high_i8x16_s() => op_extmul(I8x16, Half::High, Signed);
            visit_i16x8_extmul_low_i8x16_u() => op_extmul(I8x16, Half::Low, Unsigned);
            visit_i16x8_extmul_high_i8x16_u() => op_extmul(I8x16, Half::High, Unsigned);
            visit_i32x4_extmul_low_i16x8_s() => op_extmul(I16x8, Half::Low, Signed);
            visit_i32x4_extmul_high_i16x8_s() => op_extmul(I16x8, Half::High, Signed);
            visit_i32x4_extmul_low_i16x8_u() => op_extmul(I16x8, Half::Low, Unsigned);
            visit_i32x4_extmul_high_i16x8_u() => op_extmul(I16x8, Half::High, Unsigned);
            visit_i64x2_extmul_low_i32x4_s() => op_extmul(I32x4, Half::Low, Signed);
            visit_i64x2_extmul_high_i32x4_s() => op_extmul(I32x4, Half::High, Signed);
            visit_i64x2_extmul_low_i32x4_u() => op_extmul(I32x4, Half::Low, Unsigned);
            visit_i64x2_extmul_high_i32x4_u() => op_extmul(I32x4, Half::High, Unsigned);

            visit_f32x4_ceil() => op_v_float_unary(F32x4, FloatUnary::Ceil);
            visit_f32x4_floor() => op_v_float_unary(F32x4, FloatUnary::Floor);
            visit_f32x4_trunc() => op_v_float_unary(F32x4, FloatUnary::Trunc);
            visit_f32x4_nearest() => op_v_float_unary(F32x4, FloatUnary::Nearest);
            visit_f32x4_abs() => op_v_float_unary(F32x4, FloatUnary::Abs);
            visit_f32x4_neg() => op_v_float_unary(F32x4, FloatUnary::Neg);
            visit_f32x4_sqrt() => op_v_float_unary(F32x4, FloatUnary::Sqrt);
            visit_f64x2_ceil() => op_v_float_unary(F64x2, FloatUnary::Ceil);
            visit_f64x2_floor() => op_v_float_unary(F64x2, FloatUnary::Floor);
            visit_f64x2_trunc() => op_v_float_unary(F64x2, FloatUnary::Trunc);
            visit_f64x2_nearest() => op_v_float_unary(F64x2, FloatUnary::Nearest);
            visit_f64x2_abs() => op_v_float_unary(F64x2, FloatUnary::Abs);
            visit_f64x2_neg() => op_v_float_unary(F64x2, FloatUnary::Neg);
            visit_f64x2_sqrt() => op_v_float_unary(F64x2, FloatUnary::Sqrt);
            visit_f32x4_add() => op_v_float_binary(F32x4, VFloatBinary::Add);
            visit_f32x4_sub() => op_v_float_binary(F32x4, VFloatBinary::Sub);
            visit_f32x4_mul() => op_v_float_binary(F32x4, VFloatBinary::Mul);
            visit_f32x4_div() => op_v_float_binary(F32x4, VFloatBinary::Div);
            visit_f32x4_min() => op_v_float_binary(F32x4, VFloatBinary::Min);
            visit_f32x4_max() => op_v_float_binary(F32x4, VFloatBinary::Max);
            visit_f32x4_pmin() => op_v_float_binary(F32x4, VFloatBinary::PMin);
            visit_f32x4_pmax() => op_v_float_binary(F32x4, VFloatBinary::PMax);
            visit_f64x2_add() => op_v_float_binary(F64x2, VFloatBinary::Add);
            visit_f64x2_sub() => op_v_float_binary(F64x2, VFloatBinary::Sub);
            visit_f64x2_mul() => op_v_float_binary(F64x2, VFloatBinary::Mul);
            visit_f64x2_div() => op_v_float_binary(F64x2, VFloatBinary::Div);
            visit_f64x2_min() => op_v_float_binary(F64x2, VFloatBinary::Min);
            visit_f64x2_max() => op_v_float_binary(F64x2, VFloatBinary::Max);
            visit_f64x2_pmin() => op_v_float_binary(F64x2, VFloatBinary::PMin);
            visit_f64x2_pmax() => op_v_float_binary(F64x2, VFloatBinary::PMax);

            visit_i32x4_trunc_sat_f32x4_s() => op_v_trunc_sat(F32x4, Signed);
            visit_i32x4_trunc_sat_f32x4_u() => op_v_trunc_sat(F32x4, Unsigned);
            visit_i32x4_trunc_sat_f64x2_s_zero() => op_v_trunc_sat(F64x2, Signed);
            visit_i32x4_trunc_sat_f64x2_u_zero() => op_v_trunc_sat(F64x2, Unsigned);
            visit_f32x4_convert_i32x4_s() => op_v_convert(F32x4, Signed);
            visit_f32x4_convert_i32x4_u() => op_v_convert(F32x4, Unsigned);
            visit_f64x2_convert_low_i32x4_s() => op_v_convert(F64x2, Signed);
            visit_f64x2_convert_low_i32x4_u() => op_v_convert(F64x2, Unsigned);
            visit_f32x4_demote_f64x2_zero() => op_demote_zero();
            visit_f64x2_promote_low_f32x4() => op_promote_low();

            visit_i8x16_relaxed_swizzle() => op_relaxed_swizzle();
            visit_i32x4_relaxed_trunc_f32x4_s() => op_relaxed_trunc(F32x4, Signed);
            visit_i32x4_relaxed_trunc_f32x4_u() => op_relaxed_trunc(F32x4, Unsigned);
            visit_i32x4_relaxed_trunc_f64x2_s_zero() => op_relaxed_trunc(F64x2, Signed);
            visit_i32x4_relaxed_trunc_f64x2_u_zero() => op_relaxed_trunc(F64x2, Unsigned);
            visit_f32x4_relaxed_madd() => op_relaxed_madd(F32x4, Madd::Madd);
            visit_f32x4_relaxed_nmadd() => op_relaxed_madd(F32x4, Madd::Nmadd);
            visit_f64x2_relaxed_madd() => op_relaxed_madd(F64x2, Madd::Madd);
            visit_f64x2_relaxed_nmadd() => op_relaxed_madd(F64x2, Madd::Nmadd);
            visit_i8x16_relaxed_laneselect() => op_relaxed_laneselect(I8x16);
            visit_i16x8_relaxed_laneselect() => op_relaxed_laneselect(I16x8);
            visit_i32x4_relaxed_laneselect() => op_relaxed_laneselect(I32x4);
            visit_i64x2_relaxed_laneselect() => op_relaxed_laneselect(I64x2);
            visit_f32x4_relaxed_min() => op_relaxed_min_max(F32x4, FloatPredicate::OLT);
            visit_f32x4_relaxed_max() => op_relaxed_min_max(F32x4, FloatPredicate::OGT);
            visit_f64x2_relaxed_min() => op_relaxed_min_max(F64x2, FloatPredicate::OLT);
            visit_f64x2_relaxed_max() => op_relaxed_min_max(F64x2, FloatPredicate::OGT);
            visit_i16x8_relaxed_q15mulr_s() => op_relaxed_q15mulr();
            visit_i16x8_relaxed_dot_i8x16_i7x16_s() => op_relaxed_dot();
            visit_i32x4_relaxed_dot_i8x16_i7x16_add_s() => op_relaxed_dot_add();
        }
    };
    (@items $(
        $visit:ident ( $( $arg:ident : $argty:ty ),* ) => $op:ident ( $( $e:expr ),* );
    )*) => {
        $(
            fn $visit(&mut self $(, $arg: $argty)*) -> Self::Output {
                if !self.reachable {
                    return Ok(());
                }
                self.$op($($e),*)
            }
        )*
    };
}
pub(crate) use simd_visitors;

/// What the entries of [`simd_visitors`] name.
pub(crate) mod prelude {
    pub(crate) use super::super::conversion::Sign::{Signed, Unsigned};
    pub(crate) use super::super::numeric::{FloatPredicate, FloatUnary, IntPredicate};
    pub(crate) use super::relaxed::Madd;
    pub(crate) use super::Shape::{F32x4, F64x2, I16x8, I32x4, I64x2, I8x16};
    pub(crate) use super::{Bitwise, Half, Shift, VFloatBinary, VIntBinary, VIntUnary};
}

/// How an operator sees the 128 bits: lane type and count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    I8x16,
    I16x8,
    I32x4,
    I64x2,
    F32x4,
    F64x2,
}

impl Shape {
    fn lanes(self) -> u32 {
        128 / self.lane_bits()
    }

    fn lane_bits(self) -> u32 {
        match self {
            Shape::I8x16 => 8,
            Shape::I16x8 => 16,
            Shape::I32x4 | Shape::F32x4 => 32,
            Shape::I64x2 | Shape::F64x2 => 64,
        }
    }

    /// The integer shape with twice as wide (half as many) lanes.
    fn widened(self) -> Result<Shape, CompileError> {
        match self {
            Shape::I8x16 => Ok(Shape::I16x8),
            Shape::I16x8 => Ok(Shape::I32x4),
            Shape::I32x4 => Ok(Shape::I64x2),
            other => Err(CompileError::Internal(format!(
                "no shape wider than {other:?}"
            ))),
        }
    }
}

/// `v128.and`, `andnot`, `or`, `xor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bitwise {
    And,
    AndNot,
    Or,
    Xor,
}

/// Integer lane-wise unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VIntUnary {
    Abs,
    Neg,
    Popcnt,
}

/// Integer lane-wise binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VIntBinary {
    Add,
    Sub,
    Mul,
    AddSatS,
    AddSatU,
    SubSatS,
    SubSatU,
    MinS,
    MinU,
    MaxS,
    MaxU,
    AvgrU,
}

/// Lane-wise shifts by a scalar count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shift {
    Shl,
    ShrS,
    ShrU,
}

/// Float lane-wise binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VFloatBinary {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
    PMin,
    PMax,
}

/// The low or high half of the lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Half {
    Low,
    High,
}

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    // ------------------------------------------------------ shapes ---

    fn lane_type(&self, s: Shape) -> BasicTypeEnum<'ctx> {
        match s {
            Shape::I8x16 => self.cx.i8_type().into(),
            Shape::I16x8 => self.cx.i16_type().into(),
            Shape::I32x4 => self.cx.i32_type().into(),
            Shape::I64x2 => self.cx.i64_type().into(),
            Shape::F32x4 => self.cx.f32_type().into(),
            Shape::F64x2 => self.cx.f64_type().into(),
        }
    }

    /// The vector type of `n` lanes of shape `s`'s lane type.
    fn lanes_type(&self, s: Shape, n: u32) -> VectorType<'ctx> {
        match self.lane_type(s) {
            BasicTypeEnum::FloatType(t) => t.vec_type(n),
            BasicTypeEnum::IntType(t) => t.vec_type(n),
            _ => v128_type(self.cx),
        }
    }

    fn vec_type(&self, s: Shape) -> VectorType<'ctx> {
        self.lanes_type(s, s.lanes())
    }

    /// Reinterprets a 128-bit vector as shape `s` (a no-op bitcast).
    fn as_shape(&self, v: VectorValue<'ctx>, s: Shape) -> Result<VectorValue<'ctx>, CompileError> {
        let ty = self.vec_type(s);
        if v.get_type() == ty {
            return Ok(v);
        }
        Ok(self
            .builder
            .build_bit_cast(v, ty, "as")?
            .into_vector_value())
    }

    /// Pops a `v128` and views it as shape `s`.
    fn pop_v(&mut self, s: Shape) -> Result<VectorValue<'ctx>, CompileError> {
        match self.pop()? {
            BasicValueEnum::VectorValue(v) => self.as_shape(v, s),
            other => Err(CompileError::Internal(format!(
                "expected v128 operand at {:#x}, found {}",
                self.offset,
                other.get_type()
            ))),
        }
    }

    /// Pushes a 128-bit vector as the canonical `v128` type.
    fn push_v(&mut self, v: VectorValue<'ctx>) -> Result<(), CompileError> {
        let ty = v128_type(self.cx);
        let v = if v.get_type() == ty {
            v
        } else {
            self.builder
                .build_bit_cast(v, ty, "v128")?
                .into_vector_value()
        };
        self.push(v);
        Ok(())
    }

    fn lane_index(&self, lane: u32) -> IntValue<'ctx> {
        self.cx.i32_type().const_int(u64::from(lane), false)
    }

    /// A constant vector of shape `s` (an integer shape) with every lane
    /// `value` (truncated to the lane width).
    fn splat_const(&self, s: Shape, value: u64) -> VectorValue<'ctx> {
        let t = self.int_lane(s);
        let lanes: Vec<IntValue<'ctx>> =
            (0..s.lanes()).map(|_| t.const_int(value, false)).collect();
        VectorType::const_vector(&lanes)
    }

    fn int_lane(&self, s: Shape) -> IntType<'ctx> {
        match s.lane_bits() {
            8 => self.cx.i8_type(),
            16 => self.cx.i16_type(),
            32 => self.cx.i32_type(),
            _ => self.cx.i64_type(),
        }
    }

    /// The integer type of `bits` bits (a lane mask: 2 to 16 bits).
    fn int_bits(&self, bits: u32) -> Result<IntType<'ctx>, CompileError> {
        let bits = std::num::NonZeroU32::new(bits)
            .ok_or_else(|| CompileError::Internal("zero-width integer".into()))?;
        self.cx
            .custom_width_int_type(bits)
            .map_err(|e| CompileError::Internal(format!("{bits}-bit integer: {e}")))
    }

    /// `shufflevector a, b, indices` with constant indices.
    fn shuffle(
        &self,
        a: VectorValue<'ctx>,
        b: VectorValue<'ctx>,
        indices: impl IntoIterator<Item = u32>,
    ) -> Result<VectorValue<'ctx>, CompileError> {
        let mask: Vec<IntValue<'ctx>> = indices.into_iter().map(|i| self.lane_index(i)).collect();
        let mask = VectorType::const_vector(&mask);
        Ok(self.builder.build_shuffle_vector(a, b, mask, "shuffle")?)
    }

    /// The low or high half of `v`'s lanes.
    fn half(&self, v: VectorValue<'ctx>, half: Half) -> Result<VectorValue<'ctx>, CompileError> {
        let n = v.get_type().get_size() / 2;
        let start = if half == Half::Low { 0 } else { n };
        self.shuffle(v, v, start..start + n)
    }

    /// Sign- or zero-extends the integer lanes of `v` to `to`.
    fn extend_lanes(
        &self,
        v: VectorValue<'ctx>,
        to: VectorType<'ctx>,
        sign: Sign,
    ) -> Result<VectorValue<'ctx>, CompileError> {
        Ok(match sign {
            Sign::Signed => self.builder.build_int_s_extend(v, to, "sext")?,
            Sign::Unsigned => self.builder.build_int_z_extend(v, to, "zext")?,
        })
    }

    /// `v` with every lane `x` (one `insertelement` and a zero-mask
    /// shuffle, LLVM's splat idiom).
    fn splat(
        &self,
        x: BasicValueEnum<'ctx>,
        ty: VectorType<'ctx>,
    ) -> Result<VectorValue<'ctx>, CompileError> {
        let undef = ty.get_poison();
        let one = self
            .builder
            .build_insert_element(undef, x, self.lane_index(0), "splat")?;
        self.shuffle(one, undef, (0..ty.get_size()).map(|_| 0))
    }

    /// [`Self::call_intrinsic`] for an intrinsic returning a vector (the
    /// sibling of `call_int_intrinsic` and `call_float_intrinsic`).
    fn call_vector_intrinsic(
        &self,
        name: &str,
        types: &[BasicTypeEnum<'ctx>],
        args: &[BasicMetadataValueEnum<'ctx>],
    ) -> Result<VectorValue<'ctx>, CompileError> {
        match self.call_intrinsic(name, types, args)? {
            BasicValueEnum::VectorValue(v) => Ok(v),
            other => Err(CompileError::Internal(format!(
                "LLVM intrinsic {name} returned {} instead of a vector",
                other.get_type()
            ))),
        }
    }

    /// A lane-wise intrinsic overloaded on its operands' vector type.
    fn lanewise(
        &self,
        name: &str,
        args: &[VectorValue<'ctx>],
    ) -> Result<VectorValue<'ctx>, CompileError> {
        let ty = match args.first() {
            Some(v) => v.get_type().into(),
            None => return Err(CompileError::Internal(format!("{name} without operands"))),
        };
        let args: Vec<BasicMetadataValueEnum<'ctx>> = args.iter().map(|&a| a.into()).collect();
        self.call_vector_intrinsic(name, &[ty], &args)
    }

    /// [`Self::quiet_nan`] for a float vector: every NaN lane of an
    /// arithmetic result must be quiet (see `nan.rs`).
    pub(crate) fn quiet_nan_v(
        &self,
        v: VectorValue<'ctx>,
    ) -> Result<VectorValue<'ctx>, CompileError> {
        self.lanewise(crate::nan::CANONICALIZE, &[v])
    }

    // ------------------------------------------------------ memory ---

    /// `v128.load`.
    pub(crate) fn op_v128_load(&mut self, memarg: &MemArg) -> Result<(), CompileError> {
        let ty = v128_type(self.cx);
        let access = self.effective_address(memarg, 16)?;
        let v = self.linear_load(ty.into(), &access)?.into_vector_value();
        self.push_v(v)
    }

    /// `v128.loadNxM_s/u`: 8 bytes, `M` lanes of `from`'s lane type,
    /// each extended to twice its width.
    pub(crate) fn op_load_extend(
        &mut self,
        memarg: &MemArg,
        from: Shape,
        sign: Sign,
    ) -> Result<(), CompileError> {
        let mem_ty = self.lanes_type(from, from.lanes() / 2);
        let access = self.effective_address(memarg, 8)?;
        let v = self
            .linear_load(mem_ty.into(), &access)?
            .into_vector_value();
        let wide = self.vec_type(from.widened()?);
        let v = self.extend_lanes(v, wide, sign)?;
        self.push_v(v)
    }

    /// `v128.loadN_splat`.
    pub(crate) fn op_load_splat(&mut self, memarg: &MemArg, s: Shape) -> Result<(), CompileError> {
        let lane = self.lane_type(s);
        let access = self.effective_address(memarg, s.lane_bits() / 8)?;
        let x = self.linear_load(lane, &access)?;
        let v = self.splat(x, self.vec_type(s))?;
        self.push_v(v)
    }

    /// `v128.loadN_zero`: lane 0 from memory, the others zero.
    pub(crate) fn op_load_zero(&mut self, memarg: &MemArg, s: Shape) -> Result<(), CompileError> {
        let lane = self.lane_type(s);
        let access = self.effective_address(memarg, s.lane_bits() / 8)?;
        let x = self.linear_load(lane, &access)?;
        let zero = self.vec_type(s).const_zero();
        let v = self
            .builder
            .build_insert_element(zero, x, self.lane_index(0), "load_zero")?;
        self.push_v(v)
    }

    /// `v128.loadN_lane`: replaces one lane with memory's value.
    pub(crate) fn op_load_lane(
        &mut self,
        memarg: &MemArg,
        s: Shape,
        lane: u8,
    ) -> Result<(), CompileError> {
        let v = self.pop_v(s)?;
        let access = self.effective_address(memarg, s.lane_bits() / 8)?;
        let x = self.linear_load(self.lane_type(s), &access)?;
        let v =
            self.builder
                .build_insert_element(v, x, self.lane_index(lane.into()), "load_lane")?;
        self.push_v(v)
    }

    /// `v128.storeN_lane`.
    pub(crate) fn op_store_lane(
        &mut self,
        memarg: &MemArg,
        s: Shape,
        lane: u8,
    ) -> Result<(), CompileError> {
        let v = self.pop_v(s)?;
        let x =
            self.builder
                .build_extract_element(v, self.lane_index(lane.into()), "store_lane")?;
        let access = self.effective_address(memarg, s.lane_bits() / 8)?;
        self.linear_store(x, &access)
    }

    // ------------------------------------------------------- lanes ---

    /// `v128.const`, from its little-endian bytes.
    pub(crate) fn op_v128_const(&mut self, value: &wasmparser::V128) -> Result<(), CompileError> {
        let i32t = self.cx.i32_type();
        let lanes: Vec<IntValue<'ctx>> = value
            .bytes()
            .chunks_exact(4)
            .map(|c| {
                i32t.const_int(
                    u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                    false,
                )
            })
            .collect();
        self.push_v(VectorType::const_vector(&lanes))
    }

    /// `i8x16.shuffle`: a constant two-input byte shuffle.
    pub(crate) fn op_shuffle(&mut self, lanes: &[u8; 16]) -> Result<(), CompileError> {
        let b = self.pop_v(Shape::I8x16)?;
        let a = self.pop_v(Shape::I8x16)?;
        let v = self.shuffle(a, b, lanes.iter().map(|&l| u32::from(l)))?;
        self.push_v(v)
    }

    /// `i8x16.swizzle`: `a[s[i]]`, or 0 where `s[i] >= 16`. `pshufb`
    /// zeroes a lane only when its index has the top bit set, so indices
    /// are first added to 0x70 with unsigned saturation: 0..15 keep their
    /// low four bits with the top bit clear, and 16 and above reach 0x80
    /// or more.
    pub(crate) fn op_swizzle(&mut self) -> Result<(), CompileError> {
        let s = self.pop_v(Shape::I8x16)?;
        let a = self.pop_v(Shape::I8x16)?;
        let s = if self.env.cpu_features.contains(X86Feature::Ssse3) {
            let bias = self.splat_const(Shape::I8x16, 0x70);
            self.lanewise("llvm.uadd.sat", &[s, bias])?
        } else {
            s
        };
        let v = self.swizzle(a, s, 16)?;
        self.push_v(v)
    }

    /// `a[s[i] & 15]` where `s[i] < limit` (unsigned), else 0: `pshufb`
    /// itself with a limit of 0x80 (its behaviour for any index), which is
    /// what it computes with SSSE3; without, one lane at a time.
    fn swizzle(
        &self,
        a: VectorValue<'ctx>,
        s: VectorValue<'ctx>,
        limit: u64,
    ) -> Result<VectorValue<'ctx>, CompileError> {
        if self.env.cpu_features.contains(X86Feature::Ssse3) {
            return self.call_vector_intrinsic(
                "llvm.x86.ssse3.pshuf.b.128",
                &[],
                &[a.into(), s.into()],
            );
        }
        let i8t = self.cx.i8_type();
        let mut out = self.vec_type(Shape::I8x16).const_zero();
        for i in 0..16 {
            let b = self.builder;
            let idx = b
                .build_extract_element(s, self.lane_index(i), "idx")?
                .into_int_value();
            let in_range = b.build_int_compare(
                IntPredicate::ULT,
                idx,
                i8t.const_int(limit, false),
                "in_range",
            )?;
            let masked = b.build_and(idx, i8t.const_int(15, false), "masked")?;
            let x = b.build_extract_element(a, masked, "byte")?;
            let x = b.build_select(in_range, x, i8t.const_zero().into(), "lane")?;
            out = b.build_insert_element(out, x, self.lane_index(i), "swizzled")?;
        }
        Ok(out)
    }

    /// `*.extract_lane[_s|_u]`: narrow lanes are extended to `i32`.
    pub(crate) fn op_extract_lane(
        &mut self,
        s: Shape,
        lane: u8,
        extend: Extend,
    ) -> Result<(), CompileError> {
        let v = self.pop_v(s)?;
        let x = self
            .builder
            .build_extract_element(v, self.lane_index(lane.into()), "lane")?;
        let i32t = self.cx.i32_type();
        let x: BasicValueEnum<'ctx> = match extend {
            Extend::None => x,
            Extend::Signed => self
                .builder
                .build_int_s_extend(x.into_int_value(), i32t, "sext")?
                .into(),
            Extend::Unsigned => self
                .builder
                .build_int_z_extend(x.into_int_value(), i32t, "zext")?
                .into(),
        };
        self.push(x);
        Ok(())
    }

    /// The scalar operand of a splat or lane replacement, as `s`'s lane
    /// type (`i32` operands of narrow lanes are truncated).
    fn pop_lane_scalar(&mut self, s: Shape) -> Result<BasicValueEnum<'ctx>, CompileError> {
        let x = self.pop()?;
        Ok(match (s, x) {
            (Shape::I8x16 | Shape::I16x8, BasicValueEnum::IntValue(i)) => self
                .builder
                .build_int_truncate(i, self.int_lane(s), "lane")?
                .into(),
            (_, x) => x,
        })
    }

    /// `*.replace_lane`.
    pub(crate) fn op_replace_lane(&mut self, s: Shape, lane: u8) -> Result<(), CompileError> {
        let x = self.pop_lane_scalar(s)?;
        let v = self.pop_v(s)?;
        let v = self
            .builder
            .build_insert_element(v, x, self.lane_index(lane.into()), "replace")?;
        self.push_v(v)
    }

    /// `*.splat`.
    pub(crate) fn op_splat(&mut self, s: Shape) -> Result<(), CompileError> {
        let x = self.pop_lane_scalar(s)?;
        let v = self.splat(x, self.vec_type(s))?;
        self.push_v(v)
    }

    // -------------------------------------------------- comparisons ---

    /// Integer lane comparisons: all ones where true, zero where false.
    pub(crate) fn op_v_int_compare(
        &mut self,
        s: Shape,
        pred: IntPredicate,
    ) -> Result<(), CompileError> {
        let b = self.pop_v(s)?;
        let a = self.pop_v(s)?;
        let cond = self.builder.build_int_compare(pred, a, b, "icmp")?;
        let v = self
            .builder
            .build_int_s_extend(cond, self.vec_type(s), "mask")?;
        self.push_v(v)
    }

    /// Float lane comparisons, with the scalar predicates (`ne` unordered,
    /// the rest ordered).
    pub(crate) fn op_v_float_compare(
        &mut self,
        s: Shape,
        pred: FloatPredicate,
    ) -> Result<(), CompileError> {
        let b = self.pop_v(s)?;
        let a = self.pop_v(s)?;
        let cond = self.builder.build_float_compare(pred, a, b, "fcmp")?;
        let mask_ty = self.int_lane(s).vec_type(s.lanes());
        let v = self.builder.build_int_s_extend(cond, mask_ty, "mask")?;
        self.push_v(v)
    }

    // ------------------------------------------------------ bitwise ---

    /// `v128.not`.
    pub(crate) fn op_v128_not(&mut self) -> Result<(), CompileError> {
        let a = self.pop_v(Shape::I32x4)?;
        let v = self.builder.build_not(a, "not")?;
        self.push_v(v)
    }

    /// `v128.and`, `andnot` (`a & !b`), `or`, `xor`.
    pub(crate) fn op_v128_bitwise(&mut self, op: Bitwise) -> Result<(), CompileError> {
        let b = self.pop_v(Shape::I32x4)?;
        let a = self.pop_v(Shape::I32x4)?;
        let bld = self.builder;
        let v = match op {
            Bitwise::And => bld.build_and(a, b, "and")?,
            Bitwise::AndNot => {
                let nb = bld.build_not(b, "not")?;
                bld.build_and(a, nb, "andnot")?
            }
            Bitwise::Or => bld.build_or(a, b, "or")?,
            Bitwise::Xor => bld.build_xor(a, b, "xor")?,
        };
        self.push_v(v)
    }

    /// `v128.bitselect`: bits of `a` where `c` is 1, of `b` where 0.
    pub(crate) fn op_v128_bitselect(&mut self) -> Result<(), CompileError> {
        let c = self.pop_v(Shape::I32x4)?;
        let b = self.pop_v(Shape::I32x4)?;
        let a = self.pop_v(Shape::I32x4)?;
        let bld = self.builder;
        let x = bld.build_and(a, c, "a_bits")?;
        let nc = bld.build_not(c, "not_c")?;
        let y = bld.build_and(b, nc, "b_bits")?;
        let v = bld.build_or(x, y, "bitselect")?;
        self.push_v(v)
    }

    /// `v128.any_true`: whether any bit is set (`ptest` with SSE4.1).
    pub(crate) fn op_v128_any_true(&mut self) -> Result<(), CompileError> {
        let a = self.pop_v(Shape::I32x4)?;
        let i128t = self.cx.i128_type();
        let bits = self
            .builder
            .build_bit_cast(a, i128t, "bits")?
            .into_int_value();
        self.push_int_compare(IntPredicate::NE, bits, i128t.const_zero())
    }

    // -------------------------------------------- integer lane ops ---

    /// `abs` (the minimum value stays itself), `neg`, `popcnt`.
    pub(crate) fn op_v_int_unary(&mut self, s: Shape, op: VIntUnary) -> Result<(), CompileError> {
        let a = self.pop_v(s)?;
        let v = match op {
            VIntUnary::Abs => {
                let not_poison = self.cx.bool_type().const_zero();
                self.call_vector_intrinsic(
                    "llvm.abs",
                    &[a.get_type().into()],
                    &[a.into(), not_poison.into()],
                )?
            }
            VIntUnary::Neg => self.builder.build_int_neg(a, "neg")?,
            VIntUnary::Popcnt => self.lanewise("llvm.ctpop", &[a])?,
        };
        self.push_v(v)
    }

    /// `*.all_true`: 1 if no lane is zero.
    pub(crate) fn op_all_true(&mut self, s: Shape) -> Result<(), CompileError> {
        let bits = self.lane_bits_where(s, IntPredicate::NE)?;
        let all = bits.get_type().const_all_ones();
        self.push_int_compare(IntPredicate::EQ, bits, all)
    }

    /// `*.bitmask`: each lane's top bit, lane 0 in bit 0 (`pmovmskb`,
    /// `movmskps`, `movmskpd`).
    pub(crate) fn op_bitmask(&mut self, s: Shape) -> Result<(), CompileError> {
        let bits = self.lane_bits_where(s, IntPredicate::SLT)?;
        let v = self
            .builder
            .build_int_z_extend(bits, self.cx.i32_type(), "bitmask")?;
        self.push(v);
        Ok(())
    }

    /// Pops a vector of shape `s` and returns one bit per lane, lane 0 in
    /// bit 0: whether `lane <pred> 0`.
    fn lane_bits_where(
        &mut self,
        s: Shape,
        pred: IntPredicate,
    ) -> Result<IntValue<'ctx>, CompileError> {
        let a = self.pop_v(s)?;
        let zero = self.vec_type(s).const_zero();
        let lanes = self.builder.build_int_compare(pred, a, zero, "lanes")?;
        let bits_ty = self.int_bits(s.lanes())?;
        Ok(self
            .builder
            .build_bit_cast(lanes, bits_ty, "bits")?
            .into_int_value())
    }

    /// `narrow_s/u`: each signed lane of `from` saturated to the signed or
    /// unsigned range of half its width; `a`'s lanes then `b`'s (`packss*`,
    /// `packus*`).
    pub(crate) fn op_narrow(&mut self, from: Shape, sign: Sign) -> Result<(), CompileError> {
        let b = self.pop_v(from)?;
        let a = self.pop_v(from)?;
        let half = from.lane_bits() / 2;
        let (lo, hi) = match sign {
            Sign::Signed => ((-1i64 << (half - 1)) as u64, (1u64 << (half - 1)) - 1),
            Sign::Unsigned => (0, (1u64 << half) - 1),
        };
        let lo = self.splat_const(from, lo);
        let hi = self.splat_const(from, hi);
        let narrow_ty = self.int_bits(half)?.vec_type(from.lanes());
        let mut parts = Vec::with_capacity(2);
        for x in [a, b] {
            let x = self.lanewise("llvm.smax", &[x, lo])?;
            let x = self.lanewise("llvm.smin", &[x, hi])?;
            parts.push(self.builder.build_int_truncate(x, narrow_ty, "narrow")?);
        }
        let v = self.shuffle(parts[0], parts[1], 0..2 * from.lanes())?;
        self.push_v(v)
    }

    /// Shifts by `count mod lane width`.
    pub(crate) fn op_v_shift(&mut self, s: Shape, op: Shift) -> Result<(), CompileError> {
        let count = self.pop_int()?;
        let a = self.pop_v(s)?;
        let i32t = self.cx.i32_type();
        let count = self.builder.build_and(
            count,
            i32t.const_int(u64::from(s.lane_bits() - 1), false),
            "count",
        )?;
        let lane = self.int_lane(s);
        let count = match s.lane_bits() {
            8 | 16 => self.builder.build_int_truncate(count, lane, "count")?,
            64 => self.builder.build_int_z_extend(count, lane, "count")?,
            _ => count,
        };
        let count = self.splat(count.into(), self.vec_type(s))?;
        let b = self.builder;
        let v = match op {
            Shift::Shl => b.build_left_shift(a, count, "shl")?,
            Shift::ShrS => b.build_right_shift(a, count, true, "shr_s")?,
            Shift::ShrU => b.build_right_shift(a, count, false, "shr_u")?,
        };
        self.push_v(v)
    }

    /// Lane-wise integer arithmetic, wrapping unless saturating.
    pub(crate) fn op_v_int_binary(&mut self, s: Shape, op: VIntBinary) -> Result<(), CompileError> {
        let rhs = self.pop_v(s)?;
        let lhs = self.pop_v(s)?;
        let b = self.builder;
        let v = match op {
            VIntBinary::Add => b.build_int_add(lhs, rhs, "add")?,
            VIntBinary::Sub => b.build_int_sub(lhs, rhs, "sub")?,
            VIntBinary::Mul => b.build_int_mul(lhs, rhs, "mul")?,
            VIntBinary::AddSatS => self.lanewise("llvm.sadd.sat", &[lhs, rhs])?,
            VIntBinary::AddSatU => self.lanewise("llvm.uadd.sat", &[lhs, rhs])?,
            VIntBinary::SubSatS => self.lanewise("llvm.ssub.sat", &[lhs, rhs])?,
            VIntBinary::SubSatU => self.lanewise("llvm.usub.sat", &[lhs, rhs])?,
            VIntBinary::MinS => self.lanewise("llvm.smin", &[lhs, rhs])?,
            VIntBinary::MinU => self.lanewise("llvm.umin", &[lhs, rhs])?,
            VIntBinary::MaxS => self.lanewise("llvm.smax", &[lhs, rhs])?,
            VIntBinary::MaxU => self.lanewise("llvm.umax", &[lhs, rhs])?,
            VIntBinary::AvgrU => {
                // (a + b + 1) >> 1 without overflow, in lanes twice as
                // wide: the pattern LLVM selects `pavgb`/`pavgw` for.
                let wide = self.lanes_type(s.widened()?, s.lanes());
                let a = b.build_int_z_extend(lhs, wide, "a")?;
                let c = b.build_int_z_extend(rhs, wide, "b")?;
                let one_lane = self.int_lane(s.widened()?).const_int(1, false);
                let one = VectorType::const_vector(&vec![one_lane; s.lanes() as usize]);
                let sum = b.build_int_add(a, c, "sum")?;
                let sum = b.build_int_add(sum, one, "sum1")?;
                let avg = b.build_right_shift(sum, one, false, "avg")?;
                b.build_int_truncate(avg, self.vec_type(s), "avgr")?
            }
        };
        self.push_v(v)
    }

    /// `i16x8.q15mulr_sat_s`: `sat((a * b + 0x4000) >> 15)`; only
    /// `0x8000 * 0x8000` saturates, and [`Self::pop_q15mulr`] gives 0x8000
    /// for it, so lanes equal to 0x8000 are flipped to 0x7fff (no other
    /// product rounds to 0x8000).
    pub(crate) fn op_q15mulr_sat(&mut self) -> Result<(), CompileError> {
        let r = self.pop_q15mulr()?;
        let b = self.builder;
        let min = self.splat_const(Shape::I16x8, 0x8000);
        let is_min = b.build_int_compare(IntPredicate::EQ, r, min, "is_min")?;
        let flip = b.build_int_s_extend(is_min, r.get_type(), "flip")?;
        let v = b.build_xor(r, flip, "q15mulr")?;
        self.push_v(v)
    }

    /// Pops two `i16x8` and gives `pmulhrsw`: `(a * b + 0x4000) >> 15`,
    /// truncated to 16 bits (SSSE3; computed lane-wise without it).
    fn pop_q15mulr(&mut self) -> Result<VectorValue<'ctx>, CompileError> {
        if self.env.cpu_features.contains(X86Feature::Ssse3) {
            let rhs = self.pop_v(Shape::I16x8)?;
            let lhs = self.pop_v(Shape::I16x8)?;
            return self.call_vector_intrinsic(
                "llvm.x86.ssse3.pmul.hr.sw.128",
                &[],
                &[lhs.into(), rhs.into()],
            );
        }
        let prod = self.pop_wide_product(Shape::I16x8, None, Sign::Signed)?;
        let b = self.builder;
        let i32t = self.cx.i32_type();
        let splat8 = |x: u64| VectorType::const_vector(&[i32t.const_int(x, false); 8]);
        let rounded = b.build_int_add(prod, splat8(0x4000), "rounded")?;
        let shifted = b.build_right_shift(rounded, splat8(15), true, "shifted")?;
        Ok(b.build_int_truncate(shifted, self.vec_type(Shape::I16x8), "q15mulr")?)
    }

    /// `i32x4.dot_i16x8_s`: sums of adjacent signed products (`pmaddwd`).
    pub(crate) fn op_dot(&mut self) -> Result<(), CompileError> {
        let prod = self.pop_wide_product(Shape::I16x8, None, Sign::Signed)?;
        let even = self.shuffle(prod, prod, [0, 2, 4, 6])?;
        let odd = self.shuffle(prod, prod, [1, 3, 5, 7])?;
        let v = self.builder.build_int_add(even, odd, "dot")?;
        self.push_v(v)
    }

    /// `extadd_pairwise`: adjacent lanes extended and added. On x86 the
    /// multiply-add instructions with a vector of ones do it in one:
    /// `pmaddubsw` (SSSE3) for bytes, which multiplies unsigned bytes of
    /// its first operand by signed bytes of its second (sums of two bytes
    /// never saturate), and `pmaddwd` for signed halfwords.
    pub(crate) fn op_extadd_pairwise(
        &mut self,
        from: Shape,
        sign: Sign,
    ) -> Result<(), CompileError> {
        let a = self.pop_v(from)?;
        let ones = self.splat_const(from, 1);
        let madd = match (from, sign) {
            (Shape::I8x16, Sign::Signed) if self.env.cpu_features.contains(X86Feature::Ssse3) => {
                Some(("llvm.x86.ssse3.pmadd.ub.sw.128", ones, a))
            }
            (Shape::I8x16, Sign::Unsigned) if self.env.cpu_features.contains(X86Feature::Ssse3) => {
                Some(("llvm.x86.ssse3.pmadd.ub.sw.128", a, ones))
            }
            (Shape::I16x8, Sign::Signed) if self.on_x86() => {
                Some(("llvm.x86.sse2.pmadd.wd", a, ones))
            }
            _ => None,
        };
        if let Some((name, x, y)) = madd {
            let v = self.call_vector_intrinsic(name, &[], &[x.into(), y.into()])?;
            return self.push_v(v);
        }
        let n = from.lanes() / 2;
        let even = self.shuffle(a, a, (0..n).map(|i| 2 * i))?;
        let odd = self.shuffle(a, a, (0..n).map(|i| 2 * i + 1))?;
        let wide = self.vec_type(from.widened()?);
        let even = self.extend_lanes(even, wide, sign)?;
        let odd = self.extend_lanes(odd, wide, sign)?;
        let v = self.builder.build_int_add(even, odd, "extadd")?;
        self.push_v(v)
    }

    /// `extend_low/high`.
    pub(crate) fn op_extend(
        &mut self,
        from: Shape,
        half: Half,
        sign: Sign,
    ) -> Result<(), CompileError> {
        let a = self.pop_v(from)?;
        let h = self.half(a, half)?;
        let v = self.extend_lanes(h, self.vec_type(from.widened()?), sign)?;
        self.push_v(v)
    }

    /// `extmul_low/high`: the halves extended, then multiplied.
    pub(crate) fn op_extmul(
        &mut self,
        from: Shape,
        half: Half,
        sign: Sign,
    ) -> Result<(), CompileError> {
        let v = self.pop_wide_product(from, Some(half), sign)?;
        self.push_v(v)
    }

    /// Pops two vectors of shape `from` and multiplies their lanes (or
    /// one half of them) extended to twice their width, which cannot
    /// overflow.
    fn pop_wide_product(
        &mut self,
        from: Shape,
        half: Option<Half>,
        sign: Sign,
    ) -> Result<VectorValue<'ctx>, CompileError> {
        let rhs = self.pop_v(from)?;
        let lhs = self.pop_v(from)?;
        let (lhs, rhs) = match half {
            Some(h) => (self.half(lhs, h)?, self.half(rhs, h)?),
            None => (lhs, rhs),
        };
        let wide = self.lanes_type(from.widened()?, lhs.get_type().get_size());
        let a = self.extend_lanes(lhs, wide, sign)?;
        let c = self.extend_lanes(rhs, wide, sign)?;
        Ok(self.builder.build_int_mul(a, c, "product")?)
    }

    // ---------------------------------------------- float lane ops ---

    /// Float unary operators, lane-wise, as the scalar ones
    /// (`numeric.rs`): `abs`/`neg` touch only sign bits; `sqrt` quiets.
    pub(crate) fn op_v_float_unary(
        &mut self,
        s: Shape,
        op: FloatUnary,
    ) -> Result<(), CompileError> {
        let a = self.pop_v(s)?;
        let v = match op {
            FloatUnary::Neg => self.builder.build_float_neg(a, "neg")?,
            FloatUnary::Abs => self.lanewise("llvm.fabs", &[a])?,
            FloatUnary::Ceil => self.lanewise("llvm.ceil", &[a])?,
            FloatUnary::Floor => self.lanewise("llvm.floor", &[a])?,
            FloatUnary::Trunc => self.lanewise("llvm.trunc", &[a])?,
            FloatUnary::Nearest => self.lanewise("llvm.roundeven", &[a])?,
            FloatUnary::Sqrt => {
                let r = self.lanewise("llvm.sqrt", &[a])?;
                self.quiet_nan_v(r)?
            }
        };
        self.push_v(v)
    }

    /// Float binary operators, lane-wise. `min`/`max` propagate NaN and
    /// order `-0 < +0` ([`Self::float_min_max`]); `pmin` is exactly
    /// `b < a ? b : a` and `pmax` `a < b ? b : a`, which pass either
    /// input through unchanged (NaNs included), so they are not quieted.
    pub(crate) fn op_v_float_binary(
        &mut self,
        s: Shape,
        op: VFloatBinary,
    ) -> Result<(), CompileError> {
        let rhs = self.pop_v(s)?;
        let lhs = self.pop_v(s)?;
        let b = self.builder;
        let v = match op {
            VFloatBinary::Add => self.quiet_nan_v(b.build_float_add(lhs, rhs, "fadd")?)?,
            VFloatBinary::Sub => self.quiet_nan_v(b.build_float_sub(lhs, rhs, "fsub")?)?,
            VFloatBinary::Mul => self.quiet_nan_v(b.build_float_mul(lhs, rhs, "fmul")?)?,
            VFloatBinary::Div => self.quiet_nan_v(b.build_float_div(lhs, rhs, "fdiv")?)?,
            VFloatBinary::Min => self.float_min_max(s, lhs, rhs, FloatPredicate::OLT)?,
            VFloatBinary::Max => self.float_min_max(s, lhs, rhs, FloatPredicate::OGT)?,
            // b < a ? b : a
            VFloatBinary::PMin => self.x86_min_max(s, rhs, lhs, FloatPredicate::OLT)?,
            // a < b ? b : a, that is b > a ? b : a
            VFloatBinary::PMax => self.x86_min_max(s, rhs, lhs, FloatPredicate::OGT)?,
        };
        self.push_v(v)
    }

    /// `f32x4/f64x2.min` (`pred` OLT) and `max` (OGT). LLVM lowers
    /// `llvm.minimum`/`maximum` on x86 to about ten instructions before
    /// the NaN is quieted; this is five. `a pred b ? a : b` is x86's
    /// `minps`/`maxps`, which returns its second operand for NaN and for
    /// `±0` pairs; taking it both ways round and combining the bits (OR
    /// for min, so `-0` wins, AND for max, so `+0` wins) gives the right
    /// zero, and lanes where either input is NaN become the canonical NaN.
    fn float_min_max(
        &self,
        s: Shape,
        a: VectorValue<'ctx>,
        c: VectorValue<'ctx>,
        pred: FloatPredicate,
    ) -> Result<VectorValue<'ctx>, CompileError> {
        let b = self.builder;
        let m1 = self.x86_min_max(s, a, c, pred)?;
        let m2 = self.x86_min_max(s, c, a, pred)?;
        let int_shape = if s == Shape::F32x4 {
            Shape::I32x4
        } else {
            Shape::I64x2
        };
        let i1 = self.as_shape(m1, int_shape)?;
        let i2 = self.as_shape(m2, int_shape)?;
        let bits = if pred == FloatPredicate::OLT {
            b.build_or(i1, i2, "min_bits")?
        } else {
            b.build_and(i1, i2, "max_bits")?
        };
        let m = self.as_shape(bits, s)?;
        let nan = b.build_float_compare(FloatPredicate::UNO, a, c, "nan")?;
        let canonical = if s == Shape::F32x4 {
            self.splat_const(int_shape, 0x7fc0_0000)
        } else {
            self.splat_const(int_shape, 0x7ff8_0000_0000_0000)
        };
        let canonical = self.as_shape(canonical, s)?;
        Ok(b.build_select(nan, canonical, m, "min_max")?
            .into_vector_value())
    }

    /// Whether the target is x86-64, where SSE2 is always there.
    fn on_x86(&self) -> bool {
        self.module
            .get_triple()
            .as_str()
            .to_bytes()
            .starts_with(b"x86_64")
    }

    /// `a pred b ? a : b`, lane-wise (`pred` OLT or OGT): exactly x86's
    /// `minps`/`maxps` (`minpd`/`maxpd`), which LLVM will not select from
    /// the compare and select unless it may ignore the sign of zero, so
    /// the instruction is asked for by name on x86; the compare and select
    /// elsewhere.
    fn x86_min_max(
        &self,
        s: Shape,
        a: VectorValue<'ctx>,
        c: VectorValue<'ctx>,
        pred: FloatPredicate,
    ) -> Result<VectorValue<'ctx>, CompileError> {
        if self.on_x86() {
            let name = match (s, pred == FloatPredicate::OLT) {
                (Shape::F32x4, true) => "llvm.x86.sse.min.ps",
                (Shape::F32x4, false) => "llvm.x86.sse.max.ps",
                (_, true) => "llvm.x86.sse2.min.pd",
                (_, false) => "llvm.x86.sse2.max.pd",
            };
            return self.call_vector_intrinsic(name, &[], &[a.into(), c.into()]);
        }
        let b = self.builder;
        let cond = b.build_float_compare(pred, a, c, "cmp")?;
        Ok(b.build_select(cond, a, c, "min_max")?.into_vector_value())
    }

    /// `i32x4.trunc_sat_f32x4_s/u` (from `F32x4`) and
    /// `i32x4.trunc_sat_f64x2_s/u_zero` (from `F64x2`, upper lanes zero):
    /// NaN gives 0, out-of-range values saturate. LLVM scalarises its
    /// `llvm.fpto*i.sat` on x86, so the input is first clamped with
    /// compares and selects (`maxps`, blends) into the range where a plain
    /// `fptosi`/`fptoui` (`cvttps2dq`, `cvttpd2dq`) is exact, and lanes at
    /// or above the range's end get the maximum afterwards.
    pub(crate) fn op_v_trunc_sat(&mut self, from: Shape, sign: Sign) -> Result<(), CompileError> {
        let x = self.pop_v(from)?;
        let n = from.lanes();
        let fty = self.vec_type(from);
        let elem = fty.get_element_type().into_float_type();
        let fsplat = |v: f64| VectorType::const_vector(&vec![elem.const_float(v); n as usize]);
        let ret = self.cx.i32_type().vec_type(n);
        let (min, end, max) = match sign {
            Sign::Signed => (-2_147_483_648.0, 2_147_483_648.0, 0x7fff_ffff),
            Sign::Unsigned => (0.0, 4_294_967_296.0, 0xffff_ffff),
        };
        let b = self.builder;
        let in_low = b.build_float_compare(FloatPredicate::OGE, x, fsplat(min), "ge_min")?;
        let x1 = b
            .build_select(in_low, x, fsplat(min), "clamp_low")?
            .into_vector_value();
        let too_big = b.build_float_compare(FloatPredicate::OGE, x, fsplat(end), "too_big")?;
        let x2 = b
            .build_select(too_big, fsplat(0.0), x1, "clamp_high")?
            .into_vector_value();
        let r = match sign {
            Sign::Signed => {
                let nan = b.build_float_compare(FloatPredicate::UNO, x, x, "nan")?;
                let x3 = b
                    .build_select(nan, fsplat(0.0), x2, "no_nan")?
                    .into_vector_value();
                b.build_float_to_signed_int(x3, ret, "trunc_s")?
            }
            // NaN already failed `>= 0` and became 0.
            Sign::Unsigned => b.build_float_to_unsigned_int(x2, ret, "trunc_u")?,
        };
        let max =
            VectorType::const_vector(&vec![self.cx.i32_type().const_int(max, false); n as usize]);
        let v = b
            .build_select(too_big, max, r, "saturate")?
            .into_vector_value();
        let v = if n == 2 {
            self.shuffle(v, ret.const_zero(), 0..4)?
        } else {
            v
        };
        self.push_v(v)
    }

    /// `f32x4.convert_i32x4_s/u` (to `F32x4`) and
    /// `f64x2.convert_low_i32x4_s/u` (to `F64x2`, from the low lanes).
    pub(crate) fn op_v_convert(&mut self, to: Shape, sign: Sign) -> Result<(), CompileError> {
        let a = self.pop_v(Shape::I32x4)?;
        let a = if to.lanes() == 2 {
            self.half(a, Half::Low)?
        } else {
            a
        };
        let ty = self.vec_type(to);
        let b = self.builder;
        let v = match sign {
            Sign::Signed => b.build_signed_int_to_float(a, ty, "convert_s")?,
            Sign::Unsigned => b.build_unsigned_int_to_float(a, ty, "convert_u")?,
        };
        self.push_v(v)
    }

    /// `f32x4.demote_f64x2_zero`.
    pub(crate) fn op_demote_zero(&mut self) -> Result<(), CompileError> {
        let a = self.pop_v(Shape::F64x2)?;
        let narrow = self.lanes_type(Shape::F32x4, 2);
        let d = self.builder.build_float_trunc(a, narrow, "demote")?;
        let d = self.quiet_nan_v(d)?;
        let v = self.shuffle(d, narrow.const_zero(), 0..4)?;
        self.push_v(v)
    }

    /// `f64x2.promote_low_f32x4`.
    pub(crate) fn op_promote_low(&mut self) -> Result<(), CompileError> {
        let a = self.pop_v(Shape::F32x4)?;
        let low = self.half(a, Half::Low)?;
        let p = self
            .builder
            .build_float_ext(low, self.vec_type(Shape::F64x2), "promote")?;
        let p = self.quiet_nan_v(p)?;
        self.push_v(p)
    }
}
