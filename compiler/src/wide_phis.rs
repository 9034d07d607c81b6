//! Carries 32-bit wasm addresses through phis as 64-bit values, so the
//! x86 back end stops zero-extending them again at every use.
//!
//! Every linear-memory access addresses `base + zext(addr)` (`i32` wasm
//! address, `i64` host offset). x86 zero-extends for free when the `i32`
//! comes from a 32-bit instruction in the same block (writing `eax` clears
//! the top of `rax`), but the instruction selector works one block at a
//! time, and for a value that arrives from a phi (a loop's pointer, a
//! pointer set on two paths) it cannot see that, so it emits a
//! `mov r32, r32` before the access: a loop walking two pointers pays two
//! such moves per iteration (sqlite's `vdbeSorterCompareInt`, musl's
//! `memcpy`). Static count in sqlite's artifact: 6.6% of instructions are
//! 32-bit register moves, 2.8% in native clang's build.
//!
//! [`widen_address_phis`] runs on optimised IR, after the last IR pass,
//! and rewrites each `i32` phi `p` that some `zext p to i64` uses into an
//! `i64` phi `w` of the zero-extended incoming values (each `zext` placed
//! at the end of its predecessor, where the value was computed and the
//! extension is free); the `zext`s become `w`, every other use of `p`
//! becomes `trunc w` (a subregister, free). Both are identities, so the
//! rewrite changes no value.
//!
//! Rule: it runs after every IR optimisation pass (`instcombine` narrows
//! such phis back to `i32`); only the back end runs after it.

use crate::CompileError;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::values::{
    AnyValue, AnyValueEnum, BasicValue, BasicValueEnum, InstructionOpcode, InstructionValue,
    PhiValue,
};

/// Rewrites every `i32` phi of `module` that feeds a `zext` to `i64`, as
/// the module documentation says. Returns how many phis it widened.
pub(crate) fn widen_address_phis(cx: &Context, module: &Module<'_>) -> Result<usize, CompileError> {
    let builder = cx.create_builder();
    let mut widened = 0;
    for f in module.get_functions() {
        let mut phis = Vec::new();
        for bb in f.get_basic_block_iter() {
            phis.extend(
                bb.get_instructions()
                    .take_while(|i| i.get_opcode() == InstructionOpcode::Phi)
                    .filter_map(|i| PhiValue::try_from(i).ok())
                    .filter(|p| eligible(*p)),
            );
        }
        for phi in phis {
            widen(cx, &builder, phi)?;
            widened += 1;
        }
    }
    Ok(widened)
}

/// An `i32` phi that a `zext` to `i64` uses, whose block has room for the
/// `trunc` after its phis (not an exception pad, which must come first),
/// and none of whose incoming values is its predecessor's terminator (an
/// `invoke` result exists only on the edge, not before the terminator
/// where the `zext` goes). An incoming `select` is widened with the phi
/// (see [`widen_incoming`]) if the phi is all that uses it: a `select`
/// that stays would leave two `cmov`s where there was one (hashtab's
/// probe loop carries its `select` chain in an `i32` phi and leaves with
/// it: widened, the exit phi's `i64` `select` and its extensions ran on
/// every iteration, +5.5% instructions).
fn eligible(phi: PhiValue<'_>) -> bool {
    if !is_i32(phi.as_basic_value()) || zext_users(phi).is_empty() {
        return false;
    }
    let Some(block) = phi.as_instruction().get_parent() else {
        return false;
    };
    let pad = block
        .get_instructions()
        .find(|i| i.get_opcode() != InstructionOpcode::Phi)
        .is_none_or(|i| {
            matches!(
                i.get_opcode(),
                InstructionOpcode::LandingPad
                    | InstructionOpcode::CatchPad
                    | InstructionOpcode::CleanupPad
                    | InstructionOpcode::CatchSwitch
            )
        });
    !pad && (0..phi.count_incoming()).all(|i| {
        phi.get_incoming(i).is_some_and(|(v, pred)| {
            v.as_instruction_value().is_none_or(|inst| {
                Some(inst) != pred.get_terminator()
                    && (inst.get_opcode() != InstructionOpcode::Select || only_user(inst, phi))
            })
        })
    })
}

/// Whether `phi` is the only user of `inst`.
fn only_user(inst: InstructionValue<'_>, phi: PhiValue<'_>) -> bool {
    let phi = phi.as_instruction().as_any_value_enum();
    users(inst).all(|user| user == phi)
}

/// Every user of `inst`, once per use.
fn users<'ctx>(inst: InstructionValue<'ctx>) -> impl Iterator<Item = AnyValueEnum<'ctx>> {
    std::iter::successors(inst.get_first_use(), |u| u.get_next_use()).map(|u| u.get_user())
}

fn is_i32(v: BasicValueEnum<'_>) -> bool {
    matches!(v, BasicValueEnum::IntValue(i) if i.get_type().get_bit_width() == 32)
}

/// The `zext ... to i64` instructions that use `phi`.
fn zext_users<'ctx>(phi: PhiValue<'ctx>) -> Vec<InstructionValue<'ctx>> {
    users(phi.as_instruction())
        .filter_map(|user| match user {
            AnyValueEnum::IntValue(v) if v.get_type().get_bit_width() == 64 => v
                .as_instruction()
                .filter(|inst| inst.get_opcode() == InstructionOpcode::ZExt),
            _ => None,
        })
        .collect()
}

fn widen<'ctx>(
    cx: &'ctx Context,
    builder: &Builder<'ctx>,
    phi: PhiValue<'ctx>,
) -> Result<(), CompileError> {
    let i64t = cx.i64_type();
    let old = phi.as_instruction();
    let block = old
        .get_parent()
        .ok_or_else(|| CompileError::Internal("phi outside a block".into()))?;
    // Built first: a `select` in a loop may use the phi itself.
    builder.position_before(&old);
    let wide = builder.build_phi(i64t, "wide")?;
    // The extended incoming values, one per predecessor (a switch may list
    // one predecessor several times, with the same value).
    let mut incoming: Vec<(BasicValueEnum<'ctx>, inkwell::basic_block::BasicBlock<'ctx>)> =
        Vec::new();
    let mut selects = Vec::new();
    for i in 0..phi.count_incoming() {
        let (value, pred) = phi
            .get_incoming(i)
            .ok_or_else(|| CompileError::Internal("phi incoming out of range".into()))?;
        if let Some(&(wide, _)) = incoming.iter().find(|(_, b)| *b == pred) {
            incoming.push((wide, pred));
            continue;
        }
        // At the end of the predecessor (a constant folds to one).
        let term = pred
            .get_terminator()
            .ok_or_else(|| CompileError::Internal("predecessor without terminator".into()))?;
        builder.position_before(&term);
        let value = widen_incoming(cx, builder, phi, wide, value.into_int_value(), &mut selects)?;
        incoming.push((value, pred));
    }
    let refs: Vec<(
        &dyn BasicValue<'ctx>,
        inkwell::basic_block::BasicBlock<'ctx>,
    )> = incoming
        .iter()
        .map(|(v, b)| (v as &dyn BasicValue<'ctx>, *b))
        .collect();
    wide.add_incoming(&refs);
    for zext in zext_users(phi) {
        zext.replace_all_uses_with(&wide.as_instruction());
        zext.erase_from_basic_block();
    }
    let mut narrow = None;
    if old.get_first_use().is_some() {
        let first = block
            .get_instructions()
            .find(|i| i.get_opcode() != InstructionOpcode::Phi)
            .ok_or_else(|| CompileError::Internal("block of phis only".into()))?;
        builder.position_before(&first);
        let trunc = builder.build_int_truncate(
            wide.as_basic_value().into_int_value(),
            cx.i32_type(),
            "narrow",
        )?;
        phi.as_basic_value()
            .into_int_value()
            .replace_all_uses_with(trunc);
        narrow = trunc.as_instruction();
    }
    old.erase_from_basic_block();
    // The `i32` selects the phi alone used, and a `trunc` only they used.
    for select in selects {
        if select.get_first_use().is_none() {
            select.erase_from_basic_block();
        }
    }
    if let Some(trunc) = narrow.filter(|t| t.get_first_use().is_none()) {
        trunc.erase_from_basic_block();
    }
    Ok(())
}

/// The `i64` form of `value`, an incoming value of `phi` (whose widened
/// phi is `wide`), built at the builder's position (the end of the
/// predecessor). A `select` becomes an `i64` `select` of its extended
/// operands (`phi` itself standing as `wide`), so the `cmov` is 64-bit and
/// needs no extension after it (a `zext` of the 32-bit `select` cost a
/// register copy per iteration in hashtab). Anything else is zero-extended
/// where it was computed (a 32-bit x86 instruction clears the top half,
/// so that is free). The `select`s replaced are pushed on `selects`, to
/// be erased once nothing uses them.
fn widen_incoming<'ctx>(
    cx: &'ctx Context,
    builder: &Builder<'ctx>,
    phi: PhiValue<'ctx>,
    wide: PhiValue<'ctx>,
    value: inkwell::values::IntValue<'ctx>,
    selects: &mut Vec<InstructionValue<'ctx>>,
) -> Result<BasicValueEnum<'ctx>, CompileError> {
    let i64t = cx.i64_type();
    let Some(select) = value
        .as_instruction()
        .filter(|i| i.get_opcode() == InstructionOpcode::Select)
    else {
        return Ok(builder.build_int_z_extend(value, i64t, "wide")?.into());
    };
    let operand = |i: u32| {
        select
            .get_operand(i)
            .and_then(|o| o.value())
            .ok_or_else(|| CompileError::Internal("select without operand".into()))
    };
    let (cond, arms) = (operand(0)?, [operand(1)?, operand(2)?]);
    let mut wide_arms = Vec::with_capacity(2);
    for arm in arms {
        wide_arms.push(if arm == phi.as_basic_value() {
            wide.as_basic_value().into_int_value()
        } else {
            builder.build_int_z_extend(arm.into_int_value(), i64t, "wide")?
        });
    }
    if !selects.contains(&select) {
        selects.push(select);
    }
    Ok(builder.build_select(cond.into_int_value(), wide_arms[0], wide_arms[1], "wide")?)
}
