//! Conversions between numeric types: wrap, extend, sign-extend, truncate
//! (trapping and saturating), convert, demote, promote and reinterpret.
//!
//! Rule: a trapping truncation traps with `invalid conversion to integer`
//! for NaN and `integer overflow` for out-of-range values, as the spec says,
//! and only then runs `fptosi`/`fptoui` (which give poison out of range);
//! the range bounds in [`trunc_bounds`] are exact and must not be
//! "simplified".

use super::numeric::expect_int;
use super::FuncTranslator;
use crate::CompileError;
use inkwell::types::{FloatType, IntType};
use inkwell::values::BasicMetadataValueEnum;
use inkwell::FloatPredicate;
use wasmo_artifact_format::TrapCode;

/// Signed or unsigned interpretation of an integer operand or result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sign {
    Signed,
    Unsigned,
}

/// A wasm integer type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntWidth {
    I32,
    I64,
}

/// A wasm float type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FloatWidth {
    F32,
    F64,
}

/// The narrow type an `extendN_s` operator sign-extends from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExtendFrom {
    I8,
    I16,
    I32,
}

/// The range a trapping truncation accepts, for a non-NaN input `x`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct TruncBounds {
    /// Lower bound, exactly representable in the source float type.
    lower: f64,
    /// Whether `x == lower` is accepted (`x >= lower`) or not (`x > lower`).
    lower_inclusive: bool,
    /// Exclusive upper bound (`x < upper`), a power of two.
    upper: f64,
}

/// The inputs a trapping truncation accepts: exactly those whose value
/// truncated toward zero fits the integer type.
///
/// Upper bound: `2^(N-1)` (signed) or `2^N` (unsigned), a power of two and
/// so exact in both float types; `x < upper`.
///
/// Lower bound: unsigned accepts `x > -1.0` (so `-0.9` truncates to 0).
/// Signed accepts `x > MIN - 1` when `MIN - 1` is representable in the
/// source type (only `f64` -> `i32`: `-2147483649.0`); otherwise the float
/// just below `MIN` is already below `MIN - 1`, so the test is `x >= MIN`.
///
/// | from | to  | sign | accepts                                        |
/// |------|-----|------|------------------------------------------------|
/// | f32  | i32 | s    | `-2147483648.0 <= x < 2147483648.0`            |
/// | f64  | i32 | s    | `-2147483649.0 <  x < 2147483648.0`            |
/// | f32  | i64 | s    | `-9223372036854775808.0 <= x < 9223372036854775808.0` |
/// | f64  | i64 | s    | `-9223372036854775808.0 <= x < 9223372036854775808.0` |
/// | f32  | i32 | u    | `-1.0 < x < 4294967296.0`                      |
/// | f64  | i32 | u    | `-1.0 < x < 4294967296.0`                      |
/// | f32  | i64 | u    | `-1.0 < x < 18446744073709551616.0`            |
/// | f64  | i64 | u    | `-1.0 < x < 18446744073709551616.0`            |
///
/// Spot checks from the spec tests: `i32.trunc_f32_s(-2147483904.0)` (the
/// f32 below `-2^31`) traps, `i32.trunc_f64_s(-2147483648.9)` is
/// `-2147483648`, `i64.trunc_f64_u(18446744073709549568.0)` (the largest
/// f64 below `2^64`) is `u64::MAX - 2047`, `i32.trunc_f64_u(-0.9)` is 0.
fn trunc_bounds(from: FloatWidth, to: IntWidth, sign: Sign) -> TruncBounds {
    const TWO_31: f64 = 2147483648.0;
    const TWO_32: f64 = 4294967296.0;
    const TWO_63: f64 = 9223372036854775808.0;
    const TWO_64: f64 = 18446744073709551616.0;
    match (sign, to, from) {
        (Sign::Signed, IntWidth::I32, FloatWidth::F64) => TruncBounds {
            lower: -TWO_31 - 1.0,
            lower_inclusive: false,
            upper: TWO_31,
        },
        (Sign::Signed, IntWidth::I32, FloatWidth::F32) => TruncBounds {
            lower: -TWO_31,
            lower_inclusive: true,
            upper: TWO_31,
        },
        (Sign::Signed, IntWidth::I64, _) => TruncBounds {
            lower: -TWO_63,
            lower_inclusive: true,
            upper: TWO_63,
        },
        (Sign::Unsigned, IntWidth::I32, _) => TruncBounds {
            lower: -1.0,
            lower_inclusive: false,
            upper: TWO_32,
        },
        (Sign::Unsigned, IntWidth::I64, _) => TruncBounds {
            lower: -1.0,
            lower_inclusive: false,
            upper: TWO_64,
        },
    }
}

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    fn int_type(&self, width: IntWidth) -> IntType<'ctx> {
        match width {
            IntWidth::I32 => self.cx.i32_type(),
            IntWidth::I64 => self.cx.i64_type(),
        }
    }

    fn float_type(&self, width: FloatWidth) -> FloatType<'ctx> {
        match width {
            FloatWidth::F32 => self.cx.f32_type(),
            FloatWidth::F64 => self.cx.f64_type(),
        }
    }

    /// `i32.wrap_i64`.
    pub(crate) fn op_wrap(&mut self) -> Result<(), CompileError> {
        let x = self.pop_int()?;
        let v = self
            .builder
            .build_int_truncate(x, self.cx.i32_type(), "wrap")?;
        self.push(v);
        Ok(())
    }

    /// `i64.extend_i32_s` / `i64.extend_i32_u`.
    pub(crate) fn op_extend_i32(&mut self, sign: Sign) -> Result<(), CompileError> {
        let x = self.pop_int()?;
        let i64_type = self.cx.i64_type();
        let v = match sign {
            Sign::Signed => self.builder.build_int_s_extend(x, i64_type, "extend_s")?,
            Sign::Unsigned => self.builder.build_int_z_extend(x, i64_type, "extend_u")?,
        };
        self.push(v);
        Ok(())
    }

    /// `iNN.extendM_s`: sign-extends the low `M` bits in place.
    pub(crate) fn op_sign_extend(&mut self, from: ExtendFrom) -> Result<(), CompileError> {
        let x = self.pop_int()?;
        let narrow = match from {
            ExtendFrom::I8 => self.cx.i8_type(),
            ExtendFrom::I16 => self.cx.i16_type(),
            ExtendFrom::I32 => self.cx.i32_type(),
        };
        let b = self.builder;
        let low = b.build_int_truncate(x, narrow, "low")?;
        let v = b.build_int_s_extend(low, x.get_type(), "extend_s")?;
        self.push(v);
        Ok(())
    }

    /// Trapping `iNN.trunc_fMM_s/u`: NaN traps `BadConversionToInteger`,
    /// anything outside [`trunc_bounds`] traps `IntegerOverflow`.
    pub(crate) fn op_trunc(
        &mut self,
        from: FloatWidth,
        to: IntWidth,
        sign: Sign,
    ) -> Result<(), CompileError> {
        let x = self.pop_float()?;
        let b = self.builder;
        let is_nan = b.build_float_compare(FloatPredicate::UNO, x, x, "is_nan")?;
        self.trap_if(is_nan, TrapCode::BadConversionToInteger)?;

        let bounds = trunc_bounds(from, to, sign);
        let float_type = self.float_type(from);
        let lower = float_type.const_float(bounds.lower);
        let upper = float_type.const_float(bounds.upper);
        let below = if bounds.lower_inclusive {
            FloatPredicate::OLT
        } else {
            FloatPredicate::OLE
        };
        let b = self.builder;
        let too_low = b.build_float_compare(below, x, lower, "too_low")?;
        let too_high = b.build_float_compare(FloatPredicate::OGE, x, upper, "too_high")?;
        let overflow = b.build_or(too_low, too_high, "overflow")?;
        self.trap_if(overflow, TrapCode::IntegerOverflow)?;

        let int_type = self.int_type(to);
        let b = self.builder;
        let v = match sign {
            Sign::Signed => b.build_float_to_signed_int(x, int_type, "trunc_s")?,
            Sign::Unsigned => b.build_float_to_unsigned_int(x, int_type, "trunc_u")?,
        };
        self.push(v);
        Ok(())
    }

    /// Saturating `iNN.trunc_sat_fMM_s/u`: LLVM's `fpto[su]i.sat` clamp to
    /// the integer range and give 0 for NaN, exactly the wasm semantics.
    pub(crate) fn op_trunc_sat(&mut self, to: IntWidth, sign: Sign) -> Result<(), CompileError> {
        let x = self.pop_float()?;
        let name = match sign {
            Sign::Signed => "llvm.fptosi.sat",
            Sign::Unsigned => "llvm.fptoui.sat",
        };
        let types = [self.int_type(to).into(), x.get_type().into()];
        let args: [BasicMetadataValueEnum<'ctx>; 1] = [x.into()];
        let v = self.call_int_intrinsic(name, &types, &args)?;
        self.push(v);
        Ok(())
    }

    /// `fNN.convert_iMM_s/u`: LLVM's conversions round to nearest, ties to
    /// even, as wasm requires (including `u64` -> `f32`).
    pub(crate) fn op_convert(&mut self, to: FloatWidth, sign: Sign) -> Result<(), CompileError> {
        let x = self.pop_int()?;
        let float_type = self.float_type(to);
        let b = self.builder;
        let v = match sign {
            Sign::Signed => b.build_signed_int_to_float(x, float_type, "convert_s")?,
            Sign::Unsigned => b.build_unsigned_int_to_float(x, float_type, "convert_u")?,
        };
        self.push(v);
        Ok(())
    }

    /// `f32.demote_f64`; the NaN result is canonicalised because LLVM folds
    /// `demote(promote(x))` to `x`, which would keep a signalling NaN.
    pub(crate) fn op_demote(&mut self) -> Result<(), CompileError> {
        let x = self.pop_float()?;
        let v = self
            .builder
            .build_float_trunc(x, self.cx.f32_type(), "demote")?;
        let v = self.quiet_nan(v)?;
        self.push(v);
        Ok(())
    }

    /// `f64.promote_f32`; NaN canonicalised like [`Self::op_demote`].
    pub(crate) fn op_promote(&mut self) -> Result<(), CompileError> {
        let x = self.pop_float()?;
        let v = self
            .builder
            .build_float_ext(x, self.cx.f64_type(), "promote")?;
        let v = self.quiet_nan(v)?;
        self.push(v);
        Ok(())
    }

    /// `i32.reinterpret_f32` / `i64.reinterpret_f64`: the same bits as an
    /// integer of the same width.
    pub(crate) fn op_reinterpret_float(&mut self) -> Result<(), CompileError> {
        let x = self.pop_float()?;
        let int_type = if x.get_type() == self.cx.f32_type() {
            self.cx.i32_type()
        } else {
            self.cx.i64_type()
        };
        let v = expect_int(self.builder.build_bit_cast(x, int_type, "reinterpret")?)?;
        self.push(v);
        Ok(())
    }

    /// `f32.reinterpret_i32` / `f64.reinterpret_i64`.
    pub(crate) fn op_reinterpret_int(&mut self) -> Result<(), CompileError> {
        let x = self.pop_int()?;
        let float_type = match x.get_type().get_bit_width() {
            32 => self.cx.f32_type(),
            64 => self.cx.f64_type(),
            bits => {
                return Err(CompileError::Internal(format!(
                    "reinterpret of an i{bits} at {:#x}",
                    self.offset
                )))
            }
        };
        let v = self.builder.build_bit_cast(x, float_type, "reinterpret")?;
        self.push(v);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bounds are exactly representable in the source type (a rounded
    /// bound would silently move the trap boundary).
    #[test]
    fn trunc_bounds_are_exact_in_source_type() {
        for from in [FloatWidth::F32, FloatWidth::F64] {
            for to in [IntWidth::I32, IntWidth::I64] {
                for sign in [Sign::Signed, Sign::Unsigned] {
                    let b = trunc_bounds(from, to, sign);
                    if from == FloatWidth::F32 {
                        assert_eq!(f64::from(b.lower as f32), b.lower);
                        assert_eq!(f64::from(b.upper as f32), b.upper);
                    }
                }
            }
        }
    }

    /// Checks each bound against the definition: `trunc(x)` fits the
    /// integer range, for the floats right at and next to each bound.
    #[test]
    fn trunc_bounds_match_definition() {
        fn fits(x: f64, to: IntWidth, sign: Sign) -> bool {
            let t = x.trunc();
            let (min, max_plus_one) = match (to, sign) {
                (IntWidth::I32, Sign::Signed) => (-2f64.powi(31), 2f64.powi(31)),
                (IntWidth::I32, Sign::Unsigned) => (0.0, 2f64.powi(32)),
                (IntWidth::I64, Sign::Signed) => (-2f64.powi(63), 2f64.powi(63)),
                (IntWidth::I64, Sign::Unsigned) => (0.0, 2f64.powi(64)),
            };
            t >= min && t < max_plus_one
        }
        fn accepts(b: TruncBounds, x: f64) -> bool {
            let low_ok = if b.lower_inclusive {
                x >= b.lower
            } else {
                x > b.lower
            };
            low_ok && x < b.upper
        }
        fn neighbours(x: f64, from: FloatWidth) -> Vec<f64> {
            match from {
                FloatWidth::F64 => vec![x.next_down(), x, x.next_up()],
                FloatWidth::F32 => {
                    let x = x as f32;
                    vec![x.next_down(), x, x.next_up()]
                        .into_iter()
                        .map(f64::from)
                        .collect()
                }
            }
        }
        for from in [FloatWidth::F32, FloatWidth::F64] {
            for to in [IntWidth::I32, IntWidth::I64] {
                for sign in [Sign::Signed, Sign::Unsigned] {
                    let b = trunc_bounds(from, to, sign);
                    let probes = [b.lower, b.upper, -1.0, 0.0, -2f64.powi(31), -2f64.powi(63)];
                    for probe in probes {
                        for x in neighbours(probe, from) {
                            assert_eq!(
                                accepts(b, x),
                                fits(x, to, sign),
                                "{from:?} -> {to:?} {sign:?} at {x}"
                            );
                        }
                    }
                }
            }
        }
    }
}
