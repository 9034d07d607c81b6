//! Relaxed SIMD: every operator of the relaxed-simd proposal, each with one
//! deterministic behaviour, the one x86's SSE instructions (the `x86-64-v2`
//! baseline) give. The same wasm gives the same bits on every CPU wasmo
//! compiles for: where a CPU lacks the instruction (plain `x86-64` has no
//! SSSE3 or SSE4.1), a portable sequence computes the same result, never
//! the other result the proposal would allow.
//!
//! | operator | behaviour | x86 |
//! |---|---|---|
//! | `i8x16.relaxed_swizzle` | index with top bit set gives 0, else `a[i & 15]` | `pshufb` |
//! | `i32x4.relaxed_trunc_f32x4_s`, `_f64x2_s_zero` | NaN and out of range give `i32::MIN` | `cvttps2dq`, `cvttpd2dq` |
//! | `i32x4.relaxed_trunc_f32x4_u`, `_f64x2_u_zero` | saturating, as `trunc_sat` (SSE has no unsigned conversion) | clamp, `cvttps2dq` |
//! | `f32x4/f64x2.relaxed_madd`, `_nmadd` | unfused: `a * b` rounded, then `± + c` rounded | `mulps`, `addps` |
//! | `i8x16.relaxed_laneselect` | top bit of each byte of the mask | `pblendvb` |
//! | `i16x8.relaxed_laneselect` | bitwise, as `v128.bitselect` (no 16-bit blend) | `pand`/`pandn`/`por` |
//! | `i32x4`/`i64x2.relaxed_laneselect` | top bit of each lane of the mask | `blendvps`, `blendvpd` |
//! | `f32x4/f64x2.relaxed_min` | `a < b ? a : b` (NaN or `±0` pair: `b`) | `minps`, `minpd` |
//! | `f32x4/f64x2.relaxed_max` | `a > b ? a : b` (NaN or `±0` pair: `b`) | `maxps`, `maxpd` |
//! | `i16x8.relaxed_q15mulr_s` | `0x8000 * 0x8000` gives `0x8000` | `pmulhrsw` |
//! | `i16x8.relaxed_dot_i8x16_i7x16_s` | `b` unsigned, `a` signed, pair sums saturate | `pmaddubsw b, a` |
//! | `i32x4.relaxed_dot_i8x16_i7x16_add_s` | the above, pairs of it added, plus `c` | `pmaddubsw`, `pmaddwd` ones, `paddd` |
//!
//! Rule: changing any row changes generated code's meaning, so it changes
//! `wasmo_artifact_format::RELAXED_SIMD_SEMANTICS`, which the
//! compatibility hash covers. `madd` stays unfused with `--cpu native` on
//! an FMA machine, for the same reason.

use super::super::conversion::Sign;
use super::super::numeric::{FloatPredicate, IntPredicate};
use super::super::FuncTranslator;
use super::Shape;
use crate::CompileError;
use inkwell::types::VectorType;
use inkwell::values::VectorValue;
use wasmo_artifact_format::X86Feature;

/// `relaxed_madd` or `relaxed_nmadd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Madd {
    /// `a * b + c`
    Madd,
    /// `-(a * b) + c`
    Nmadd,
}

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    /// `i8x16.relaxed_swizzle`: `pshufb` as it is.
    pub(crate) fn op_relaxed_swizzle(&mut self) -> Result<(), CompileError> {
        let s = self.pop_v(Shape::I8x16)?;
        let a = self.pop_v(Shape::I8x16)?;
        let v = self.swizzle(a, s, 0x80)?;
        self.push_v(v)
    }

    /// `i32x4.relaxed_trunc_*`: `cvttps2dq`/`cvttpd2dq` for signed
    /// (`i32::MIN` for NaN and out of range), `trunc_sat` for unsigned.
    pub(crate) fn op_relaxed_trunc(&mut self, from: Shape, sign: Sign) -> Result<(), CompileError> {
        if sign == Sign::Unsigned {
            return self.op_v_trunc_sat(from, sign);
        }
        let x = self.pop_v(from)?;
        if self.on_x86() {
            let name = if from == Shape::F32x4 {
                "llvm.x86.sse2.cvttps2dq"
            } else {
                "llvm.x86.sse2.cvttpd2dq"
            };
            let v = self.call_vector_intrinsic(name, &[], &[x.into()])?;
            return self.push_v(v);
        }
        let n = from.lanes();
        let elem = self.vec_type(from).get_element_type().into_float_type();
        let fsplat = |v: f64| VectorType::const_vector(&vec![elem.const_float(v); n as usize]);
        let b = self.builder;
        let ge =
            b.build_float_compare(FloatPredicate::OGE, x, fsplat(-2_147_483_648.0), "ge_min")?;
        let lt =
            b.build_float_compare(FloatPredicate::OLT, x, fsplat(2_147_483_648.0), "lt_end")?;
        let ok = b.build_and(ge, lt, "in_range")?;
        let safe = b
            .build_select(ok, x, fsplat(0.0), "safe")?
            .into_vector_value();
        let i32t = self.cx.i32_type();
        let ret = i32t.vec_type(n);
        let r = b.build_float_to_signed_int(safe, ret, "trunc")?;
        let min = VectorType::const_vector(&vec![i32t.const_int(0x8000_0000, false); n as usize]);
        let v = b.build_select(ok, r, min, "cvtt")?.into_vector_value();
        let v = if n == 2 {
            self.shuffle(v, ret.const_zero(), 0..4)?
        } else {
            v
        };
        self.push_v(v)
    }

    /// `relaxed_madd`/`relaxed_nmadd`: unfused, two roundings.
    pub(crate) fn op_relaxed_madd(&mut self, s: Shape, op: Madd) -> Result<(), CompileError> {
        let c = self.pop_v(s)?;
        let rhs = self.pop_v(s)?;
        let lhs = self.pop_v(s)?;
        let b = self.builder;
        let p = b.build_float_mul(lhs, rhs, "mul")?;
        let p = match op {
            Madd::Madd => p,
            Madd::Nmadd => b.build_float_neg(p, "neg")?,
        };
        let r = b.build_float_add(p, c, "madd")?;
        let v = self.quiet_nan_v(r)?;
        self.push_v(v)
    }

    /// `relaxed_laneselect`: the mask's top bit per lane (`pblendvb`,
    /// `blendvps`, `blendvpd`), but bitwise for 16-bit lanes.
    pub(crate) fn op_relaxed_laneselect(&mut self, s: Shape) -> Result<(), CompileError> {
        if s == Shape::I16x8 {
            return self.op_v128_bitselect();
        }
        let m = self.pop_v(s)?;
        let c = self.pop_v(s)?;
        let a = self.pop_v(s)?;
        let b = self.builder;
        let zero = self.vec_type(s).const_zero();
        let top = b.build_int_compare(IntPredicate::SLT, m, zero, "top_bit")?;
        let v = b.build_select(top, a, c, "laneselect")?.into_vector_value();
        self.push_v(v)
    }

    /// `relaxed_min` (`pred` OLT) and `relaxed_max` (OGT): `minps`/`maxps`
    /// as they are; no NaN is made, so none is quieted.
    pub(crate) fn op_relaxed_min_max(
        &mut self,
        s: Shape,
        pred: FloatPredicate,
    ) -> Result<(), CompileError> {
        let rhs = self.pop_v(s)?;
        let lhs = self.pop_v(s)?;
        let v = self.x86_min_max(s, lhs, rhs, pred)?;
        self.push_v(v)
    }

    /// `i16x8.relaxed_q15mulr_s`: `pmulhrsw`.
    pub(crate) fn op_relaxed_q15mulr(&mut self) -> Result<(), CompileError> {
        let v = self.pop_q15mulr()?;
        self.push_v(v)
    }

    /// `i16x8.relaxed_dot_i8x16_i7x16_s`.
    pub(crate) fn op_relaxed_dot(&mut self) -> Result<(), CompileError> {
        let v = self.pop_relaxed_dot()?;
        self.push_v(v)
    }

    /// `i32x4.relaxed_dot_i8x16_i7x16_add_s`: the 16-bit dot product, its
    /// pairs added (`extadd_pairwise`, `pmaddwd` with ones), plus `c`.
    pub(crate) fn op_relaxed_dot_add(&mut self) -> Result<(), CompileError> {
        let c = self.pop_v(Shape::I32x4)?;
        let dot = self.pop_relaxed_dot()?;
        self.push_v(dot)?;
        self.op_extadd_pairwise(Shape::I16x8, Sign::Signed)?;
        let sums = self.pop_v(Shape::I32x4)?;
        let v = self.builder.build_int_add(sums, c, "dot_add")?;
        self.push_v(v)
    }

    /// Pops `b` then `a` and gives `pmaddubsw b, a`: bytes of `b` unsigned
    /// times bytes of `a` signed, adjacent products added with signed
    /// saturation (each product fits 16 bits; only their sum can
    /// overflow, and only when `b` has its top bit set).
    fn pop_relaxed_dot(&mut self) -> Result<VectorValue<'ctx>, CompileError> {
        let rhs = self.pop_v(Shape::I8x16)?;
        let lhs = self.pop_v(Shape::I8x16)?;
        if self.env.cpu_features.contains(X86Feature::Ssse3) {
            return self.call_vector_intrinsic(
                "llvm.x86.ssse3.pmadd.ub.sw.128",
                &[],
                &[rhs.into(), lhs.into()],
            );
        }
        let wide16 = self.lanes_type(Shape::I16x8, 16);
        let a = self.extend_lanes(lhs, wide16, Sign::Signed)?;
        let c = self.extend_lanes(rhs, wide16, Sign::Unsigned)?;
        let prod = self.builder.build_int_mul(a, c, "product")?;
        let even = self.shuffle(prod, prod, (0..8).map(|i| 2 * i))?;
        let odd = self.shuffle(prod, prod, (0..8).map(|i| 2 * i + 1))?;
        self.lanewise("llvm.sadd.sat", &[even, odd])
    }
}
