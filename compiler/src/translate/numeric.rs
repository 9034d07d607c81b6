//! Integer and floating-point constants, arithmetic, comparison and bit
//! operators, plus [`numeric_visitors`], the `VisitOperator` methods for
//! every numeric and conversion operator (the conversions live in
//! `conversion.rs`).
//!
//! Rule: every operator has the spec's exact semantics with no fast-math
//! flags: division traps before LLVM could see undefined behaviour (a zero
//! divisor, `MIN / -1`), shift counts are masked, float constants keep their
//! exact bits and `abs`/`neg`/`copysign` are pure bit operations that keep
//! NaN payloads, while every arithmetic result that may be NaN goes through
//! [`FuncTranslator::quiet_nan`] (LLVM's folds would otherwise leak
//! signalling NaNs). Each `visit_*` item only checks reachability and
//! delegates.

use super::FuncTranslator;
use crate::CompileError;
use inkwell::types::BasicTypeEnum;
use inkwell::values::{BasicMetadataValueEnum, BasicValueEnum, FloatValue, IntValue};
pub(crate) use inkwell::{FloatPredicate, IntPredicate};
use wasmo_artifact_format::TrapCode;

/// Expands (inside `impl VisitOperator for FuncTranslator`) to one `visit_*`
/// method per numeric, sign-extension, conversion and saturating-truncation
/// operator. Each entry reads `visit_name(args) => op_helper(Enum::Variant,
/// ...)`; enum paths are resolved in this module.
macro_rules! numeric_visitors {
    () => {
        $crate::translate::numeric::numeric_visitors! { @items
            visit_i32_const(value: i32) => op_i32_const(),
            visit_i64_const(value: i64) => op_i64_const(),
            visit_f32_const(value: ::wasmparser::Ieee32) => op_f32_const(),
            visit_f64_const(value: ::wasmparser::Ieee64) => op_f64_const(),

            visit_i32_eqz => op_int_eqz(), visit_i64_eqz => op_int_eqz(),
            visit_i32_eq => op_int_compare(IntPredicate::EQ),
            visit_i32_ne => op_int_compare(IntPredicate::NE),
            visit_i32_lt_s => op_int_compare(IntPredicate::SLT),
            visit_i32_lt_u => op_int_compare(IntPredicate::ULT),
            visit_i32_gt_s => op_int_compare(IntPredicate::SGT),
            visit_i32_gt_u => op_int_compare(IntPredicate::UGT),
            visit_i32_le_s => op_int_compare(IntPredicate::SLE),
            visit_i32_le_u => op_int_compare(IntPredicate::ULE),
            visit_i32_ge_s => op_int_compare(IntPredicate::SGE),
            visit_i32_ge_u => op_int_compare(IntPredicate::UGE),
            visit_i64_eq => op_int_compare(IntPredicate::EQ),
            visit_i64_ne => op_int_compare(IntPredicate::NE),
            visit_i64_lt_s => op_int_compare(IntPredicate::SLT),
            visit_i64_lt_u => op_int_compare(IntPredicate::ULT),
            visit_i64_gt_s => op_int_compare(IntPredicate::SGT),
            visit_i64_gt_u => op_int_compare(IntPredicate::UGT),
            visit_i64_le_s => op_int_compare(IntPredicate::SLE),
            visit_i64_le_u => op_int_compare(IntPredicate::ULE),
            visit_i64_ge_s => op_int_compare(IntPredicate::SGE),
            visit_i64_ge_u => op_int_compare(IntPredicate::UGE),

            visit_f32_eq => op_float_compare(FloatPredicate::OEQ),
            visit_f32_ne => op_float_compare(FloatPredicate::UNE),
            visit_f32_lt => op_float_compare(FloatPredicate::OLT),
            visit_f32_gt => op_float_compare(FloatPredicate::OGT),
            visit_f32_le => op_float_compare(FloatPredicate::OLE),
            visit_f32_ge => op_float_compare(FloatPredicate::OGE),
            visit_f64_eq => op_float_compare(FloatPredicate::OEQ),
            visit_f64_ne => op_float_compare(FloatPredicate::UNE),
            visit_f64_lt => op_float_compare(FloatPredicate::OLT),
            visit_f64_gt => op_float_compare(FloatPredicate::OGT),
            visit_f64_le => op_float_compare(FloatPredicate::OLE),
            visit_f64_ge => op_float_compare(FloatPredicate::OGE),

            visit_i32_clz => op_int_unary(IntUnary::Clz),
            visit_i32_ctz => op_int_unary(IntUnary::Ctz),
            visit_i32_popcnt => op_int_unary(IntUnary::Popcnt),
            visit_i64_clz => op_int_unary(IntUnary::Clz),
            visit_i64_ctz => op_int_unary(IntUnary::Ctz),
            visit_i64_popcnt => op_int_unary(IntUnary::Popcnt),

            visit_i32_add => op_int_binary(IntBinary::Add),
            visit_i32_sub => op_int_binary(IntBinary::Sub),
            visit_i32_mul => op_int_binary(IntBinary::Mul),
            visit_i32_and => op_int_binary(IntBinary::And),
            visit_i32_or => op_int_binary(IntBinary::Or),
            visit_i32_xor => op_int_binary(IntBinary::Xor),
            visit_i32_shl => op_int_binary(IntBinary::Shl),
            visit_i32_shr_s => op_int_binary(IntBinary::ShrS),
            visit_i32_shr_u => op_int_binary(IntBinary::ShrU),
            visit_i32_rotl => op_int_binary(IntBinary::Rotl),
            visit_i32_rotr => op_int_binary(IntBinary::Rotr),
            visit_i64_add => op_int_binary(IntBinary::Add),
            visit_i64_sub => op_int_binary(IntBinary::Sub),
            visit_i64_mul => op_int_binary(IntBinary::Mul),
            visit_i64_and => op_int_binary(IntBinary::And),
            visit_i64_or => op_int_binary(IntBinary::Or),
            visit_i64_xor => op_int_binary(IntBinary::Xor),
            visit_i64_shl => op_int_binary(IntBinary::Shl),
            visit_i64_shr_s => op_int_binary(IntBinary::ShrS),
            visit_i64_shr_u => op_int_binary(IntBinary::ShrU),
            visit_i64_rotl => op_int_binary(IntBinary::Rotl),
            visit_i64_rotr => op_int_binary(IntBinary::Rotr),

            visit_i32_div_s => op_int_div_rem(IntDivRem::DivS),
            visit_i32_div_u => op_int_div_rem(IntDivRem::DivU),
            visit_i32_rem_s => op_int_div_rem(IntDivRem::RemS),
            visit_i32_rem_u => op_int_div_rem(IntDivRem::RemU),
            visit_i64_div_s => op_int_div_rem(IntDivRem::DivS),
            visit_i64_div_u => op_int_div_rem(IntDivRem::DivU),
            visit_i64_rem_s => op_int_div_rem(IntDivRem::RemS),
            visit_i64_rem_u => op_int_div_rem(IntDivRem::RemU),

            visit_f32_abs => op_float_unary(FloatUnary::Abs),
            visit_f32_neg => op_float_unary(FloatUnary::Neg),
            visit_f32_ceil => op_float_unary(FloatUnary::Ceil),
            visit_f32_floor => op_float_unary(FloatUnary::Floor),
            visit_f32_trunc => op_float_unary(FloatUnary::Trunc),
            visit_f32_nearest => op_float_unary(FloatUnary::Nearest),
            visit_f32_sqrt => op_float_unary(FloatUnary::Sqrt),
            visit_f64_abs => op_float_unary(FloatUnary::Abs),
            visit_f64_neg => op_float_unary(FloatUnary::Neg),
            visit_f64_ceil => op_float_unary(FloatUnary::Ceil),
            visit_f64_floor => op_float_unary(FloatUnary::Floor),
            visit_f64_trunc => op_float_unary(FloatUnary::Trunc),
            visit_f64_nearest => op_float_unary(FloatUnary::Nearest),
            visit_f64_sqrt => op_float_unary(FloatUnary::Sqrt),

            visit_f32_add => op_float_binary(FloatBinary::Add),
            visit_f32_sub => op_float_binary(FloatBinary::Sub),
            visit_f32_mul => op_float_binary(FloatBinary::Mul),
            visit_f32_div => op_float_binary(FloatBinary::Div),
            visit_f32_min => op_float_binary(FloatBinary::Min),
            visit_f32_max => op_float_binary(FloatBinary::Max),
            visit_f32_copysign => op_float_binary(FloatBinary::Copysign),
            visit_f64_add => op_float_binary(FloatBinary::Add),
            visit_f64_sub => op_float_binary(FloatBinary::Sub),
            visit_f64_mul => op_float_binary(FloatBinary::Mul),
            visit_f64_div => op_float_binary(FloatBinary::Div),
            visit_f64_min => op_float_binary(FloatBinary::Min),
            visit_f64_max => op_float_binary(FloatBinary::Max),
            visit_f64_copysign => op_float_binary(FloatBinary::Copysign),

            visit_i32_wrap_i64 => op_wrap(),
            visit_i64_extend_i32_s => op_extend_i32(Sign::Signed),
            visit_i64_extend_i32_u => op_extend_i32(Sign::Unsigned),
            visit_i32_extend8_s => op_sign_extend(ExtendFrom::I8),
            visit_i32_extend16_s => op_sign_extend(ExtendFrom::I16),
            visit_i64_extend8_s => op_sign_extend(ExtendFrom::I8),
            visit_i64_extend16_s => op_sign_extend(ExtendFrom::I16),
            visit_i64_extend32_s => op_sign_extend(ExtendFrom::I32),

            visit_i32_trunc_f32_s => op_trunc(FloatWidth::F32, IntWidth::I32, Sign::Signed),
            visit_i32_trunc_f32_u => op_trunc(FloatWidth::F32, IntWidth::I32, Sign::Unsigned),
            visit_i32_trunc_f64_s => op_trunc(FloatWidth::F64, IntWidth::I32, Sign::Signed),
            visit_i32_trunc_f64_u => op_trunc(FloatWidth::F64, IntWidth::I32, Sign::Unsigned),
            visit_i64_trunc_f32_s => op_trunc(FloatWidth::F32, IntWidth::I64, Sign::Signed),
            visit_i64_trunc_f32_u => op_trunc(FloatWidth::F32, IntWidth::I64, Sign::Unsigned),
            visit_i64_trunc_f64_s => op_trunc(FloatWidth::F64, IntWidth::I64, Sign::Signed),
            visit_i64_trunc_f64_u => op_trunc(FloatWidth::F64, IntWidth::I64, Sign::Unsigned),

            visit_i32_trunc_sat_f32_s => op_trunc_sat(IntWidth::I32, Sign::Signed),
            visit_i32_trunc_sat_f32_u => op_trunc_sat(IntWidth::I32, Sign::Unsigned),
            visit_i32_trunc_sat_f64_s => op_trunc_sat(IntWidth::I32, Sign::Signed),
            visit_i32_trunc_sat_f64_u => op_trunc_sat(IntWidth::I32, Sign::Unsigned),
            visit_i64_trunc_sat_f32_s => op_trunc_sat(IntWidth::I64, Sign::Signed),
            visit_i64_trunc_sat_f32_u => op_trunc_sat(IntWidth::I64, Sign::Unsigned),
            visit_i64_trunc_sat_f64_s => op_trunc_sat(IntWidth::I64, Sign::Signed),
            visit_i64_trunc_sat_f64_u => op_trunc_sat(IntWidth::I64, Sign::Unsigned),

            visit_f32_convert_i32_s => op_convert(FloatWidth::F32, Sign::Signed),
            visit_f32_convert_i32_u => op_convert(FloatWidth::F32, Sign::Unsigned),
            visit_f32_convert_i64_s => op_convert(FloatWidth::F32, Sign::Signed),
            visit_f32_convert_i64_u => op_convert(FloatWidth::F32, Sign::Unsigned),
            visit_f64_convert_i32_s => op_convert(FloatWidth::F64, Sign::Signed),
            visit_f64_convert_i32_u => op_convert(FloatWidth::F64, Sign::Unsigned),
            visit_f64_convert_i64_s => op_convert(FloatWidth::F64, Sign::Signed),
            visit_f64_convert_i64_u => op_convert(FloatWidth::F64, Sign::Unsigned),
            visit_f32_demote_f64 => op_demote(),
            visit_f64_promote_f32 => op_promote(),

            visit_i32_reinterpret_f32 => op_reinterpret_float(),
            visit_i64_reinterpret_f64 => op_reinterpret_float(),
            visit_f32_reinterpret_i32 => op_reinterpret_int(),
            visit_f64_reinterpret_i64 => op_reinterpret_int(),
        }
    };
    (@items $(
        $visit:ident $( ( $arg:ident : $argty:ty ) )?
            => $op:ident ( $( $kind:ident :: $variant:ident ),* )
    ),* $(,)?) => {
        $(
            fn $visit(&mut self $(, $arg: $argty)?) -> Self::Output {
                if !self.reachable {
                    return Ok(());
                }
                self.$op($($arg,)? $( $crate::translate::numeric::$kind::$variant ),*)
            }
        )*
    };
}
pub(crate) use numeric_visitors;

pub(crate) use super::conversion::{ExtendFrom, FloatWidth, IntWidth, Sign};

/// `clz`, `ctz`, `popcnt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntUnary {
    Clz,
    Ctz,
    Popcnt,
}

/// Integer binary operators that cannot trap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntBinary {
    Add,
    Sub,
    Mul,
    And,
    Or,
    Xor,
    Shl,
    ShrS,
    ShrU,
    Rotl,
    Rotr,
}

/// Integer division and remainder (they trap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntDivRem {
    DivS,
    DivU,
    RemS,
    RemU,
}

/// Float unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FloatUnary {
    Abs,
    Neg,
    Ceil,
    Floor,
    Trunc,
    Nearest,
    Sqrt,
}

/// Float binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FloatBinary {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
    Copysign,
}

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    /// `i32.const`.
    pub(crate) fn op_i32_const(&mut self, value: i32) -> Result<(), CompileError> {
        let bits = u64::from(value as u32);
        self.push(self.cx.i32_type().const_int(bits, false));
        Ok(())
    }

    /// `i64.const`.
    pub(crate) fn op_i64_const(&mut self, value: i64) -> Result<(), CompileError> {
        self.push(self.cx.i64_type().const_int(value as u64, false));
        Ok(())
    }

    /// `f32.const`: built from the bit pattern so NaN payloads (including
    /// signalling NaNs) survive exactly.
    pub(crate) fn op_f32_const(&mut self, value: wasmparser::Ieee32) -> Result<(), CompileError> {
        let bits = self.cx.i32_type().const_int(u64::from(value.bits()), false);
        let v = self
            .builder
            .build_bit_cast(bits, self.cx.f32_type(), "f32.const")?;
        self.push(v);
        Ok(())
    }

    /// `f64.const`, from the bit pattern like `f32.const`.
    pub(crate) fn op_f64_const(&mut self, value: wasmparser::Ieee64) -> Result<(), CompileError> {
        let bits = self.cx.i64_type().const_int(value.bits(), false);
        let v = self
            .builder
            .build_bit_cast(bits, self.cx.f64_type(), "f64.const")?;
        self.push(v);
        Ok(())
    }

    /// `iNN.eqz`.
    pub(crate) fn op_int_eqz(&mut self) -> Result<(), CompileError> {
        let x = self.pop_int()?;
        let zero = x.get_type().const_zero();
        let cond = self
            .builder
            .build_int_compare(IntPredicate::EQ, x, zero, "eqz")?;
        self.push_bool(cond)
    }

    /// Integer comparisons; the `i1` result is zero-extended to `i32`.
    pub(crate) fn op_int_compare(&mut self, pred: IntPredicate) -> Result<(), CompileError> {
        let rhs = self.pop_int()?;
        let lhs = self.pop_int()?;
        self.push_int_compare(pred, lhs, rhs)
    }

    /// Pushes `lhs <pred> rhs` as the wasm `i32` 0 or 1.
    pub(crate) fn push_int_compare(
        &mut self,
        pred: IntPredicate,
        lhs: IntValue<'ctx>,
        rhs: IntValue<'ctx>,
    ) -> Result<(), CompileError> {
        let cond = self.builder.build_int_compare(pred, lhs, rhs, "icmp")?;
        self.push_bool(cond)
    }

    /// Float comparisons: `eq`/`lt`/`gt`/`le`/`ge` use ordered predicates
    /// (false on NaN), `ne` the unordered one (true on NaN).
    pub(crate) fn op_float_compare(&mut self, pred: FloatPredicate) -> Result<(), CompileError> {
        let rhs = self.pop_float()?;
        let lhs = self.pop_float()?;
        let cond = self.builder.build_float_compare(pred, lhs, rhs, "fcmp")?;
        self.push_bool(cond)
    }

    /// Pushes an `i1` as the wasm `i32` 0 or 1.
    fn push_bool(&mut self, cond: IntValue<'ctx>) -> Result<(), CompileError> {
        let v = self
            .builder
            .build_int_z_extend(cond, self.cx.i32_type(), "bool")?;
        self.push(v);
        Ok(())
    }

    /// `clz`, `ctz` (both defined for 0: the bit width) and `popcnt`.
    pub(crate) fn op_int_unary(&mut self, op: IntUnary) -> Result<(), CompileError> {
        let x = self.pop_int()?;
        let ty = x.get_type().into();
        let zero_is_poison = self.cx.bool_type().const_zero();
        let v = match op {
            IntUnary::Clz => {
                self.call_int_intrinsic("llvm.ctlz", &[ty], &[x.into(), zero_is_poison.into()])?
            }
            IntUnary::Ctz => {
                self.call_int_intrinsic("llvm.cttz", &[ty], &[x.into(), zero_is_poison.into()])?
            }
            IntUnary::Popcnt => self.call_int_intrinsic("llvm.ctpop", &[ty], &[x.into()])?,
        };
        self.push(v);
        Ok(())
    }

    /// Non-trapping integer binary operators. Shift counts are taken modulo
    /// the bit width (LLVM's shifts give poison for counts >= the width);
    /// `fshl`/`fshr` with both inputs equal are rotates and already take the
    /// count modulo the width.
    pub(crate) fn op_int_binary(&mut self, op: IntBinary) -> Result<(), CompileError> {
        let rhs = self.pop_int()?;
        let lhs = self.pop_int()?;
        let b = self.builder;
        let v = match op {
            IntBinary::Add => b.build_int_add(lhs, rhs, "add")?,
            IntBinary::Sub => b.build_int_sub(lhs, rhs, "sub")?,
            IntBinary::Mul => b.build_int_mul(lhs, rhs, "mul")?,
            IntBinary::And => b.build_and(lhs, rhs, "and")?,
            IntBinary::Or => b.build_or(lhs, rhs, "or")?,
            IntBinary::Xor => b.build_xor(lhs, rhs, "xor")?,
            IntBinary::Shl => b.build_left_shift(lhs, self.shift_count(rhs)?, "shl")?,
            IntBinary::ShrS => b.build_right_shift(lhs, self.shift_count(rhs)?, true, "shr_s")?,
            IntBinary::ShrU => b.build_right_shift(lhs, self.shift_count(rhs)?, false, "shr_u")?,
            IntBinary::Rotl => self.rotate("llvm.fshl", lhs, rhs)?,
            IntBinary::Rotr => self.rotate("llvm.fshr", lhs, rhs)?,
        };
        self.push(v);
        Ok(())
    }

    /// `count & (width - 1)`.
    fn shift_count(&self, count: IntValue<'ctx>) -> Result<IntValue<'ctx>, CompileError> {
        let ty = count.get_type();
        let mask = ty.const_int(u64::from(ty.get_bit_width() - 1), false);
        Ok(self.builder.build_and(count, mask, "count")?)
    }

    fn rotate(
        &self,
        funnel: &str,
        x: IntValue<'ctx>,
        count: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>, CompileError> {
        let ty = x.get_type().into();
        self.call_int_intrinsic(funnel, &[ty], &[x.into(), x.into(), count.into()])
    }

    /// Division and remainder.
    ///
    /// | operator | divisor 0 | `MIN` and `-1`        |
    /// |----------|-----------|-----------------------|
    /// | `div_u`  | trap      | (no special case)     |
    /// | `rem_u`  | trap      | (no special case)     |
    /// | `div_s`  | trap      | trap `integer overflow` |
    /// | `rem_s`  | trap      | result 0              |
    ///
    /// The divide-by-zero check comes first, so `MIN / 0` reports divide by
    /// zero. `rem_s` divides by 1 instead of -1 (`x % -1 == x % 1 == 0`)
    /// so neither LLVM (undefined behaviour) nor x86 `idiv` (a fault) ever
    /// sees `MIN % -1`.
    pub(crate) fn op_int_div_rem(&mut self, op: IntDivRem) -> Result<(), CompileError> {
        let rhs = self.pop_int()?;
        let lhs = self.pop_int()?;
        let ty = rhs.get_type();
        let is_zero = self.builder.build_int_compare(
            IntPredicate::EQ,
            rhs,
            ty.const_zero(),
            "div_by_zero",
        )?;
        self.trap_if(is_zero, TrapCode::IntegerDivisionByZero)?;
        let minus_one = ty.const_all_ones();
        let v = match op {
            IntDivRem::DivU => self.builder.build_int_unsigned_div(lhs, rhs, "div_u")?,
            IntDivRem::RemU => self.builder.build_int_unsigned_rem(lhs, rhs, "rem_u")?,
            IntDivRem::DivS => {
                let min = ty.const_int(1u64 << (ty.get_bit_width() - 1), false);
                let b = self.builder;
                let lhs_min = b.build_int_compare(IntPredicate::EQ, lhs, min, "lhs_min")?;
                let rhs_m1 = b.build_int_compare(IntPredicate::EQ, rhs, minus_one, "rhs_m1")?;
                let overflow = b.build_and(lhs_min, rhs_m1, "overflow")?;
                self.trap_if(overflow, TrapCode::IntegerOverflow)?;
                self.builder.build_int_signed_div(lhs, rhs, "div_s")?
            }
            IntDivRem::RemS => {
                let b = self.builder;
                let rhs_m1 = b.build_int_compare(IntPredicate::EQ, rhs, minus_one, "rhs_m1")?;
                let one = ty.const_int(1, false);
                let divisor = expect_int(b.build_select(rhs_m1, one, rhs, "divisor")?)?;
                b.build_int_signed_rem(lhs, divisor, "rem_s")?
            }
        };
        self.push(v);
        Ok(())
    }

    /// Float unary operators. `abs` and `neg` only touch the sign bit; the
    /// rounding operators are LLVM's exact intrinsics (`nearest` rounds half
    /// to even).
    pub(crate) fn op_float_unary(&mut self, op: FloatUnary) -> Result<(), CompileError> {
        let x = self.pop_float()?;
        let v = match op {
            FloatUnary::Neg => self.builder.build_float_neg(x, "neg")?,
            FloatUnary::Abs => self.float_intrinsic("llvm.fabs", &[x])?,
            FloatUnary::Ceil => self.float_intrinsic("llvm.ceil", &[x])?,
            FloatUnary::Floor => self.float_intrinsic("llvm.floor", &[x])?,
            FloatUnary::Trunc => self.float_intrinsic("llvm.trunc", &[x])?,
            FloatUnary::Nearest => self.float_intrinsic("llvm.roundeven", &[x])?,
            FloatUnary::Sqrt => self.float_intrinsic("llvm.sqrt", &[x])?,
        };
        self.push(v);
        Ok(())
    }

    /// Float binary operators. `min`/`max` are `llvm.minimum`/`maximum`:
    /// NaN if either input is NaN, and `-0 < +0`.
    pub(crate) fn op_float_binary(&mut self, op: FloatBinary) -> Result<(), CompileError> {
        let rhs = self.pop_float()?;
        let lhs = self.pop_float()?;
        let b = self.builder;
        let v = match op {
            FloatBinary::Add => self.quiet_nan(b.build_float_add(lhs, rhs, "fadd")?)?,
            FloatBinary::Sub => self.quiet_nan(b.build_float_sub(lhs, rhs, "fsub")?)?,
            FloatBinary::Mul => self.quiet_nan(b.build_float_mul(lhs, rhs, "fmul")?)?,
            FloatBinary::Div => self.quiet_nan(b.build_float_div(lhs, rhs, "fdiv")?)?,
            FloatBinary::Min => {
                let v = self.float_intrinsic("llvm.minimum", &[lhs, rhs])?;
                self.quiet_nan(v)?
            }
            FloatBinary::Max => {
                let v = self.float_intrinsic("llvm.maximum", &[lhs, rhs])?;
                self.quiet_nan(v)?
            }
            FloatBinary::Copysign => self.float_intrinsic("llvm.copysign", &[lhs, rhs])?,
        };
        self.push(v);
        Ok(())
    }

    /// Marks an arithmetic result whose NaN must be quiet: wraps it in
    /// `llvm.canonicalize`, which survives LLVM's folds (`x * 1.0`,
    /// `x - 0.0`, `x / -1.0` to `-x`, `demote(promote(x))`) and costs
    /// nothing once [`crate::nan::lower_canonicalize`] has seen that x86
    /// quiets the result anyway. Bit operators (`abs`, `neg`, `copysign`,
    /// reinterpret) must not come here: they keep NaN payloads as they are.
    pub(crate) fn quiet_nan(&self, v: FloatValue<'ctx>) -> Result<FloatValue<'ctx>, CompileError> {
        self.float_intrinsic(crate::nan::CANONICALIZE, &[v])
    }

    /// Calls the float intrinsic `name` overloaded on the type of its
    /// (same-typed) arguments.
    fn float_intrinsic(
        &self,
        name: &str,
        args: &[FloatValue<'ctx>],
    ) -> Result<FloatValue<'ctx>, CompileError> {
        let ty = match args.first() {
            Some(x) => x.get_type().into(),
            None => {
                return Err(CompileError::Internal(format!(
                    "{name} called without arguments"
                )))
            }
        };
        let args: Vec<BasicMetadataValueEnum<'ctx>> = args.iter().map(|&a| a.into()).collect();
        self.call_float_intrinsic(name, &[ty], &args)
    }

    /// Calls the intrinsic `name` overloaded on `types` and returns its value.
    pub(crate) fn call_intrinsic(
        &self,
        name: &str,
        types: &[BasicTypeEnum<'ctx>],
        args: &[BasicMetadataValueEnum<'ctx>],
    ) -> Result<BasicValueEnum<'ctx>, CompileError> {
        let function = self.intrinsic(name, types)?;
        self.builder
            .build_call(function, args, name)?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| CompileError::Internal(format!("LLVM intrinsic {name} returned void")))
    }

    /// [`Self::call_intrinsic`] for an intrinsic returning an integer.
    pub(crate) fn call_int_intrinsic(
        &self,
        name: &str,
        types: &[BasicTypeEnum<'ctx>],
        args: &[BasicMetadataValueEnum<'ctx>],
    ) -> Result<IntValue<'ctx>, CompileError> {
        expect_int(self.call_intrinsic(name, types, args)?)
    }

    /// [`Self::call_intrinsic`] for an intrinsic returning a float.
    pub(crate) fn call_float_intrinsic(
        &self,
        name: &str,
        types: &[BasicTypeEnum<'ctx>],
        args: &[BasicMetadataValueEnum<'ctx>],
    ) -> Result<FloatValue<'ctx>, CompileError> {
        match self.call_intrinsic(name, types, args)? {
            BasicValueEnum::FloatValue(v) => Ok(v),
            other => Err(CompileError::Internal(format!(
                "LLVM intrinsic {name} returned {} instead of a float",
                other.get_type()
            ))),
        }
    }
}

/// The integer inside `v`, or an internal error.
pub(crate) fn expect_int(v: BasicValueEnum<'_>) -> Result<IntValue<'_>, CompileError> {
    match v {
        BasicValueEnum::IntValue(v) => Ok(v),
        other => Err(CompileError::Internal(format!(
            "expected an LLVM integer value, found {}",
            other.get_type()
        ))),
    }
}
