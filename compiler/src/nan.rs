//! NaN quieting: how arithmetic results keep the spec's NaN rules without
//! costing an instruction per operator.
//!
//! Wasm requires every arithmetic operator to return an arithmetic (quiet)
//! NaN when its result is NaN. x86's SSE/AVX arithmetic already does: a
//! signalling NaN input comes out quiet. What breaks the rule is LLVM's
//! folding (`x * 1.0`, `x - 0.0`, `x / -1.0` to `-x`, `min(x, x)` to `x`,
//! `demote(promote(x))` to `x`), which passes a signalling NaN through.
//!
//! So the translator wraps every such result in `llvm.canonicalize`, which
//! the optimiser keeps through its folds (`canonicalize(x * 1.0)` becomes
//! `canonicalize(x)`) and which the loop vectoriser widens (the SLP
//! vectoriser is off: these calls mislead its cost model, see
//! `target.rs`). LLVM 19's x86 back end cannot select `canonicalize`, so
//! [`lower_canonicalize`] runs after optimisation and before code
//! generation:
//! - `canonicalize(v)` where `v` is an instruction the hardware quiets by
//!   itself (float add, sub, mul, div, sqrt, promote, demote) becomes `v`:
//!   free, which is the common case.
//! - any other operand (one left bare by a fold, a `minimum`/`maximum`)
//!   becomes `isnan(v) ? v | quiet bit : v`, scalar or vector: the NaN
//!   x86 arithmetic would have returned for it (sign and payload kept,
//!   quiet bit set).
//!
//! Quieting exactly as the hardware does, never substituting one fixed
//! NaN, is what makes the result independent of the optimisation level:
//! LLVM's folds move bitwise operators across conversions
//! (`fptrunc(fneg x)` to `fneg(fptrunc x)`) and drop identities
//! (`x * 1.0` to `x`), which changes which value reaches the
//! `canonicalize`, but not what x86 quieting of it gives. A fixed NaN
//! there made `-O0` and `-O2` disagree on a NaN's sign (issue 13,
//! `fuzz/regressions/issue13_o2_v128_nan_sign`).
//!
//! Rule: nothing between [`lower_canonicalize`] and instruction selection
//! may fold float arithmetic again; only the back end runs in between, and
//! its combines fold nothing the IR optimiser left.

use crate::CompileError;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::types::{BasicTypeEnum, FloatType, IntType};
use inkwell::values::{
    BasicValue, BasicValueEnum, CallSiteValue, InstructionOpcode, InstructionValue,
};
use inkwell::FloatPredicate;

/// The intrinsic the translator wraps arithmetic results in.
pub(crate) const CANONICALIZE: &str = "llvm.canonicalize";

/// Replaces every `llvm.canonicalize` call in `module` as the module
/// documentation says.
pub(crate) fn lower_canonicalize(cx: &Context, module: &Module<'_>) -> Result<(), CompileError> {
    let mut calls = Vec::new();
    for f in module.get_functions() {
        for bb in f.get_basic_block_iter() {
            for inst in bb.get_instructions() {
                if is_canonicalize(inst) {
                    calls.push(inst);
                }
            }
        }
    }
    if calls.is_empty() {
        return Ok(());
    }
    let builder = cx.create_builder();
    for call in calls {
        let operand = call
            .get_operand(0)
            .and_then(|o| o.value())
            .ok_or_else(|| CompileError::Internal("llvm.canonicalize without operand".into()))?;
        let replacement = if is_quiet(operand, &mut { QUIET_SEARCH_BUDGET }) {
            operand
        } else {
            builder.position_before(&call);
            quiet_select(cx, &builder, operand)?
        };
        let result = CallSiteValue::try_from(call)
            .ok()
            .and_then(|c| c.try_as_basic_value().basic());
        match (result, replacement) {
            (Some(BasicValueEnum::FloatValue(r)), BasicValueEnum::FloatValue(v)) => {
                r.replace_all_uses_with(v)
            }
            (Some(BasicValueEnum::VectorValue(r)), BasicValueEnum::VectorValue(v)) => {
                r.replace_all_uses_with(v)
            }
            _ => {
                return Err(CompileError::Internal(
                    "llvm.canonicalize of a non-float value".into(),
                ))
            }
        }
        call.erase_from_basic_block();
    }
    Ok(())
}

fn is_canonicalize_name(name: &[u8]) -> bool {
    name.starts_with(CANONICALIZE.as_bytes())
}

fn is_canonicalize(inst: InstructionValue<'_>) -> bool {
    if inst.get_opcode() != InstructionOpcode::Call {
        return false;
    }
    CallSiteValue::try_from(inst)
        .ok()
        .and_then(|c| c.get_called_fn_value())
        .is_some_and(|f| is_canonicalize_name(f.get_name().to_bytes()))
}

/// How many values [`is_quiet`] may visit for one `llvm.canonicalize`
/// (phis and selects branch; the budget keeps the search linear).
const QUIET_SEARCH_BUDGET: u32 = 32;

/// Whether `v` can never be a signalling NaN once compiled: the result of
/// an instruction x86 quiets (see [`quiets_in_hardware`]), a pending
/// `llvm.canonicalize`, a constant that is not NaN, undef, or lanes,
/// selects and phis made only of such values, found within `budget` visits.
fn is_quiet(v: BasicValueEnum<'_>, budget: &mut u32) -> bool {
    if is_undef(v) {
        return true;
    }
    if let BasicValueEnum::FloatValue(x) = v {
        if x.is_const() {
            return constant_fp(x).is_some_and(|f| !f.is_nan());
        }
    }
    let Some(inst) = v.as_instruction_value() else {
        return false;
    };
    if quiets_in_hardware(inst) || is_canonicalize(inst) {
        return true;
    }
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    let operand = |i: u32| inst.get_operand(i).and_then(|o| o.value());
    let mut quiet = |i: u32| operand(i).is_some_and(|o| is_quiet(o, budget));
    match inst.get_opcode() {
        InstructionOpcode::ExtractElement => quiet(0),
        InstructionOpcode::InsertElement | InstructionOpcode::ShuffleVector => quiet(0) && quiet(1),
        InstructionOpcode::Select => quiet(1) && quiet(2),
        InstructionOpcode::Phi => (0..inst.get_num_operands()).all(&mut quiet),
        _ => false,
    }
}

/// The number a float constant holds, if it is a plain number
/// (`ConstantFP`). inkwell's `get_constant` asks only `is_const`, and
/// LLVM's `LLVMConstRealGetDouble` crashes on the other float constants:
/// a constant expression (`extractelement (<2 x double> bitcast (<4 x
/// i32> ...)), i32 1)`, which `f64x2.extract_lane` of a `v128.const`
/// leaves at `-O0`), `undef` or `poison`. Found by the fuzzer (issue 13).
/// inkwell offers no safe `isa<ConstantFP>`; the printed form tells them
/// apart without an `unsafe` block: a `ConstantFP` prints as its type and
/// a number (`double 0x5555555555555555`, `float 1.000000e+00`), the
/// others as their type and a word.
fn constant_fp(x: inkwell::values::FloatValue<'_>) -> Option<f64> {
    use inkwell::values::AnyValue as _;
    if !x.is_const() || x.is_undef() {
        return None;
    }
    let text = x.print_to_string().to_string();
    let number = text.split_once(' ').is_some_and(|(_, rest)| {
        rest.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
    });
    if !number {
        return None;
    }
    x.get_constant().map(|(f, _)| f)
}

fn is_undef(v: BasicValueEnum<'_>) -> bool {
    match v {
        BasicValueEnum::FloatValue(x) => x.is_undef(),
        BasicValueEnum::VectorValue(x) => x.is_undef(),
        _ => false,
    }
}

/// Whether x86 returns a quiet NaN from `inst` whatever its NaN inputs,
/// and the back end cannot fold `inst` away. The back end's combines fold
/// an identity with a constant operand (`x * 1.0`, `x * -1.0` to `-x`,
/// `x - 0.0`; at `-O0` nothing folded them earlier) and `demote(promote(x))`
/// to `x`, so arithmetic with a constant ±0 or ±1 where it is an identity,
/// and a conversion of a conversion, do not count. Other constants
/// (`x * 0.5`, `1.0 / x`) fold to no identity and the instruction stays.
fn quiets_in_hardware(inst: InstructionValue<'_>) -> bool {
    let operands: Vec<_> = (0..inst.get_num_operands())
        .filter_map(|i| inst.get_operand(i).and_then(|o| o.value()))
        .collect();
    let of_conversion = || {
        operands.iter().any(|v| {
            v.as_instruction_value().is_some_and(|d| {
                matches!(
                    d.get_opcode(),
                    InstructionOpcode::FPExt | InstructionOpcode::FPTrunc
                )
            })
        })
    };
    let zero = |f: f64| f == 0.0;
    let one = |f: f64| f.abs() == 1.0;
    let operand_is = |i: usize, identity: &dyn Fn(f64) -> bool| {
        operands.get(i).is_some_and(|v| may_be(*v, identity))
    };
    match inst.get_opcode() {
        // x + -0, x - 0, -0 - x: either side of add and sub.
        InstructionOpcode::FAdd | InstructionOpcode::FSub => {
            !(operand_is(0, &zero) || operand_is(1, &zero))
        }
        // x * 1, x * -1 (to -x), on either side.
        InstructionOpcode::FMul => !(operand_is(0, &one) || operand_is(1, &one)),
        // x / 1, x / -1; `1 / x` folds to nothing.
        InstructionOpcode::FDiv => !operand_is(1, &one),
        InstructionOpcode::FPExt | InstructionOpcode::FPTrunc => !of_conversion(),
        InstructionOpcode::Call => CallSiteValue::try_from(inst)
            .ok()
            .and_then(|c| c.get_called_fn_value())
            .is_some_and(|f| f.get_name().to_bytes().starts_with(b"llvm.sqrt.")),
        _ => false,
    }
}

/// Whether `v` is a constant of which some lane may satisfy `identity`.
/// A constant this cannot read lane by lane (a constant expression,
/// `zeroinitializer`, `undef`, `poison`) counts.
fn may_be(v: BasicValueEnum<'_>, identity: &dyn Fn(f64) -> bool) -> bool {
    let lane = |x: inkwell::values::FloatValue<'_>| constant_fp(x).is_none_or(identity);
    match v {
        BasicValueEnum::FloatValue(x) if x.is_const() => lane(x),
        BasicValueEnum::VectorValue(x) if x.is_const() => {
            !x.is_constant_data_vector()
                || (0..x.get_type().get_size()).any(|i| match x.get_element_as_constant(i) {
                    BasicValueEnum::FloatValue(l) => lane(l),
                    _ => true,
                })
        }
        _ => false,
    }
}

/// `isnan(v) ? v | quiet bit : v`, for a float or a vector of floats (a
/// constant when `v` is one: the builder folds it).
fn quiet_select<'ctx>(
    cx: &'ctx Context,
    builder: &Builder<'ctx>,
    v: BasicValueEnum<'ctx>,
) -> Result<BasicValueEnum<'ctx>, CompileError> {
    let (elem, lanes) = match v {
        BasicValueEnum::FloatValue(x) => (x.get_type(), None),
        BasicValueEnum::VectorValue(x) => match x.get_type().get_element_type() {
            BasicTypeEnum::FloatType(t) => (t, Some(x.get_type().get_size())),
            other => {
                return Err(CompileError::Internal(format!(
                    "llvm.canonicalize of a vector of {other}"
                )))
            }
        },
        other => {
            return Err(CompileError::Internal(format!(
                "llvm.canonicalize of {}",
                other.get_type()
            )))
        }
    };
    let quiet = quiet_bit(cx, elem)?;
    let (int_ty, quiet): (BasicTypeEnum<'ctx>, BasicValueEnum<'ctx>) = match lanes {
        None => (quiet.get_type().into(), quiet.into()),
        Some(n) => (
            quiet.get_type().vec_type(n).into(),
            inkwell::types::VectorType::const_vector(&vec![quiet; n as usize]).into(),
        ),
    };
    let bits = builder.build_bit_cast(v, int_ty, "nan_bits")?;
    let quieted = match (bits, quiet) {
        (BasicValueEnum::IntValue(b), BasicValueEnum::IntValue(q)) => {
            builder.build_or(b, q, "quieted")?.as_basic_value_enum()
        }
        (BasicValueEnum::VectorValue(b), BasicValueEnum::VectorValue(q)) => {
            builder.build_or(b, q, "quieted")?.as_basic_value_enum()
        }
        _ => {
            return Err(CompileError::Internal(
                "NaN quieting of mixed shapes".into(),
            ))
        }
    };
    let quieted = builder.build_bit_cast(quieted, v.get_type(), "quiet_nan")?;
    Ok(match v {
        BasicValueEnum::FloatValue(x) => {
            let is_nan = builder.build_float_compare(FloatPredicate::UNO, x, x, "is_nan")?;
            builder.build_select(is_nan, quieted, v, "quiet")?
        }
        BasicValueEnum::VectorValue(x) => {
            let is_nan = builder.build_float_compare(FloatPredicate::UNO, x, x, "is_nan")?;
            builder.build_select(is_nan, quieted, v, "quiet")?
        }
        _ => return Err(CompileError::Internal("NaN quieting of a non-float".into())),
    })
}

/// The quiet bit of `ty`'s NaNs (the top bit of the payload) as an
/// integer constant of its width.
fn quiet_bit<'ctx>(
    cx: &'ctx Context,
    ty: FloatType<'ctx>,
) -> Result<inkwell::values::IntValue<'ctx>, CompileError> {
    let (int, bit): (IntType<'ctx>, u64) = if ty == cx.f32_type() {
        (cx.i32_type(), 0x0040_0000)
    } else if ty == cx.f64_type() {
        (cx.i64_type(), 0x0008_0000_0000_0000)
    } else {
        return Err(CompileError::Internal(format!("NaN of type {ty}")));
    };
    Ok(int.const_int(bit, false))
}
