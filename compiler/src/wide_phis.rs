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
    AnyValueEnum, BasicValue, BasicValueEnum, InstructionOpcode, InstructionValue, PhiValue,
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
/// where the `zext` goes) or a `select`: a loop carrying a chain of
/// `cmov`s (an open-addressing probe that remembers a slot) and
/// zero-extending its result only after the loop gained a register copy
/// per iteration when widened (hashtab: +0.2% instructions, 5-10% slower).
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
                    && inst.get_opcode() != InstructionOpcode::Select
            })
        })
    })
}

fn is_i32(v: BasicValueEnum<'_>) -> bool {
    matches!(v, BasicValueEnum::IntValue(i) if i.get_type().get_bit_width() == 32)
}

/// The `zext ... to i64` instructions that use `phi`.
fn zext_users<'ctx>(phi: PhiValue<'ctx>) -> Vec<InstructionValue<'ctx>> {
    let mut users = Vec::new();
    let mut use_ = phi.as_instruction().get_first_use();
    while let Some(u) = use_ {
        if let AnyValueEnum::IntValue(v) = u.get_user() {
            if let Some(inst) = v.as_instruction() {
                if inst.get_opcode() == InstructionOpcode::ZExt
                    && v.get_type().get_bit_width() == 64
                {
                    users.push(inst);
                }
            }
        }
        use_ = u.get_next_use();
    }
    users
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
    // The extended incoming values, one `zext` per predecessor (a switch
    // may list one predecessor several times, with the same value).
    let mut incoming: Vec<(BasicValueEnum<'ctx>, inkwell::basic_block::BasicBlock<'ctx>)> =
        Vec::new();
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
        let wide = builder.build_int_z_extend(value.into_int_value(), i64t, "wide")?;
        incoming.push((wide.into(), pred));
    }
    builder.position_before(&old);
    let wide = builder.build_phi(i64t, "wide")?;
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
    if old.get_first_use().is_some() {
        let first = block
            .get_instructions()
            .find(|i| i.get_opcode() != InstructionOpcode::Phi)
            .ok_or_else(|| CompileError::Internal("block of phis only".into()))?;
        builder.position_before(&first);
        let narrow = builder.build_int_truncate(
            wide.as_basic_value().into_int_value(),
            cx.i32_type(),
            "narrow",
        )?;
        phi.as_basic_value()
            .into_int_value()
            .replace_all_uses_with(narrow);
    }
    old.erase_from_basic_block();
    Ok(())
}
