//! Loop versioning: vectorisable copies of loops over linear memory that
//! stay exact under guard pages.
//!
//! Under guard pages every linear-memory access that may fault is
//! `volatile` (see `translate/memory.rs`), which keeps traps exact and stops
//! LLVM from vectorising. [`version_loops`] runs on optimised IR, where a
//! simple wasm loop has become one basic block that branches back to itself
//! (rotated, its induction variables and exit test canonical). For such a
//! loop it proves, from the loop's own instructions, where every volatile
//! access of every iteration lands:
//!
//! - each induction variable is an `i32` phi stepped by a constant;
//! - the exit test is `iv == W` or `iv.next == W` against a loop-invariant
//!   `W`, or (at `-O3` only, see [`Ordered`]) an ordered compare (`<`,
//!   `<=`, `>`, `>=`, signed or unsigned) of an `i32` affine in the
//!   induction variables against `W`, in the direction the value moves,
//!   in a loop that carries no other value, so the trip count `T` is
//!   computable before the loop (and the test that `T` is what the loop
//!   runs, in particular that an ordered compare's value does not wrap
//!   before the test ends the loop, is part of the check);
//! - each access's address is `base + s * zext(X) + C` with `base` memory
//!   0's base, `X` an `i32` affine in the induction variables plus
//!   loop-invariant values, so `X` moves by a constant `d` per iteration;
//!   plus, optionally, zero extensions of narrower integers (a table
//!   indexed by a byte), bounded whatever they are, which the check adds
//!   at their largest.
//!
//! Before the loop it then computes `X` at the first iteration (`A0`), at
//! the last (`A0 + (T - 1) * d`, in 64 bits), and branches to a copy of the
//! loop with ordinary accesses when both ends lie in `[0, 2^32)` (so the
//! 32-bit `X` never wrapped and every iteration's address lies between the
//! two ends) and the highest `s * X + C + size` is within memory 0's
//! current length, and the byte ranges of groups that move and that
//! one of them writes do not overlap ([`apart_pairs`], said to LLVM by
//! scoped `noalias` metadata); otherwise to the original, volatile loop.
//! The copy of a loop with an ordered exit test counts its `T` iterations
//! instead of repeating the test (LLVM's scalar evolution computes no trip
//! count from `n -= 32; n > 15`, which `n` could wrap, and the vectoriser
//! needs one). A second, short pipeline ([`VECTORISE_PIPELINE`]) then
//! vectorises the copies.
//!
//! Rule (why traps stay exact): the copy runs only when no access of any of
//! its iterations can fault, memories never shrink, and the copy contains
//! nothing else that can trap (no calls but intrinsics, no atomics), so no
//! trap can happen while it runs and the order of its accesses is not
//! observable. Any loop the analysis does not understand is left as it was.

use crate::{CompileError, OptLevel};
use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::targets::TargetData;
use inkwell::types::{AnyType, AnyTypeEnum, BasicTypeEnum};
use inkwell::values::{
    AnyValueEnum, AsValueRef, BasicMetadataValueEnum, BasicValue, BasicValueEnum, CallSiteValue,
    FunctionValue, InstructionOpcode, InstructionValue, IntValue, MetadataValue, PhiValue,
    PointerValue,
};
use inkwell::{AtomicOrdering, IntPredicate};
use llvm_sys::prelude::LLVMValueRef;
use std::collections::HashMap;
use wasmo_artifact_format::vmctx::MEMORY_DEF_CURRENT_LENGTH;
use wasmo_artifact_format::{TrapCode, VMOffsets};

/// What runs after [`version_loops`] when it versioned a loop: the
/// vectorisation and clean-up tail of LLVM's `-O2` pipeline.
///
/// Rule: every `instcombine` here says `no-verify-fixpoint`, as LLVM's own
/// `-O2` pipeline does. A bare `instcombine` in a pipeline string verifies
/// that one iteration reached a fixpoint and, when it did not, aborts the
/// whole process (`LLVM ERROR: Instruction Combining did not reach a
/// fixpoint`); yosys's 69 MB module hit that at `-O2`.
pub(crate) const VECTORISE_PIPELINE: &str =
    "function(loop-vectorize,loop-load-elim,instcombine<no-verify-fixpoint>,\
     simplifycfg,vector-combine,instcombine<no-verify-fixpoint>,loop-unroll<O2>,\
     instcombine<no-verify-fixpoint>,simplifycfg)";

/// Largest per-iteration movement of an address (`|d|`) and coefficient
/// the analysis accepts, so that no 64-bit sum it emits can overflow.
const MAX_STRIDE: i64 = 1 << 24;

/// Instructions of a loop body that a chunk of a versioned copy may run
/// between two interruption checks (see [`chunk_iterations`]).
const CHECK_BUDGET: u64 = 1 << 16;

/// Versions every loop of `module` that the module documentation
/// describes; returns how many it versioned. With `log`, adds a line per
/// candidate loop to it: versioned, or why not (`WASMO_DUMP_LLVM` writes
/// them beside the IR, a developer aid).
pub(crate) fn version_loops<'ctx>(
    cx: &'ctx Context,
    module: &Module<'ctx>,
    target_data: &TargetData,
    opt_level: OptLevel,
    mut log: Option<&mut Vec<String>>,
) -> Result<usize, CompileError> {
    let ordered = opt_level == OptLevel::O3;
    let builder = cx.create_builder();
    let mut versioned = 0;
    for function in module.get_functions() {
        let Some(memory0_base) = memory0_base(function) else {
            continue;
        };
        let shapes = || -> Vec<Shape<'_>> {
            function
                .get_basic_block_iter()
                .filter_map(loop_shape)
                .collect()
        };
        // First every preheader, since a new one changes where the loop
        // before it exits to.
        for shape in shapes() {
            dedicate_preheader(cx, &builder, shape.lp)?;
        }
        for shape in shapes() {
            let outcome = analyse(shape, memory0_base, target_data, ordered);
            if let Some(log) = log.as_deref_mut() {
                log.push(format!(
                    "{} {}: {}",
                    function.get_name().to_string_lossy(),
                    shape.lp.header.get_name().to_string_lossy(),
                    outcome.as_ref().map_or_else(
                        |why| *why,
                        |plan| match plan.test {
                            ExitTest::Unequal { .. } => "versioned",
                            ExitTest::Ordered(_) => "versioned (ordered exit test)",
                        }
                    )
                ));
            }
            if let Ok(plan) = outcome {
                transform(cx, &builder, module, function, &plan)?;
                versioned += 1;
            }
        }
    }
    Ok(versioned)
}

/// Gives `lp` a preheader of its own when the block it is entered from
/// also branches elsewhere (the latch of a loop before it, typically), by
/// putting a block that only branches to the header on that edge: the
/// check [`transform`] adds goes there. Without one the loop is not
/// versioned; the block is empty and code generation folds it away.
fn dedicate_preheader<'ctx>(
    cx: &'ctx Context,
    builder: &Builder<'ctx>,
    lp: Loop<'ctx>,
) -> Result<(), CompileError> {
    let internal = |what: &str| CompileError::Internal(format!("loop versioning: {what}"));
    let preds = predecessors(lp.header);
    let [a, b] = preds[..] else {
        return Ok(());
    };
    let from = if a == lp.latch { b } else { a };
    let Some((branch, f, t)) = cond_branch(from) else {
        return Ok(());
    };
    if from == lp.latch || (f == lp.header) == (t == lp.header) {
        return Ok(());
    }
    let pre = cx.insert_basic_block_after(from, "preheader");
    builder.position_at_end(pre);
    builder.build_unconditional_branch(lp.header)?;
    let cond = operand_value(branch, 0)
        .ok_or_else(|| internal("branch condition"))?
        .into_int_value();
    let (f, t) = if f == lp.header { (pre, t) } else { (f, pre) };
    builder.position_before(&branch);
    let br = builder.build_conditional_branch(cond, t, f)?;
    let prof = cx.get_kind_id("prof");
    if let Some(weights) = branch.get_metadata(prof) {
        br.set_metadata(weights, prof)
            .map_err(|e| internal(&e.to_string()))?;
    }
    branch.erase_from_basic_block();
    // The header's phis take what came from `from` from `pre`.
    let phis: Vec<PhiValue<'ctx>> = lp
        .header
        .get_instructions()
        .take_while(|i| i.get_opcode() == InstructionOpcode::Phi)
        .filter_map(|i| PhiValue::try_from(i).ok())
        .collect();
    for old in phis {
        builder.position_before(&old.as_instruction());
        let new = builder.build_phi(old.as_basic_value().get_type(), "")?;
        for (v, bb) in old.get_incomings() {
            new.add_incoming(&[(&v, if bb == from { pre } else { bb })]);
        }
        let old = old.as_instruction();
        old.replace_all_uses_with(&new.as_instruction());
        let name = old.get_name().map(|n| n.to_owned());
        old.erase_from_basic_block();
        if let Some(name) = name.as_ref().and_then(|n| n.to_str().ok()) {
            new.as_basic_value().set_name(name);
        }
    }
    Ok(())
}

/// The `memory0_base` load of a wasm function's entry block: a pointer
/// loaded from its first parameter, the VMContext, at `MEMORY0_BASE`.
fn memory0_base(function: FunctionValue<'_>) -> Option<InstructionValue<'_>> {
    const { assert!(VMOffsets::MEMORY0_BASE == 0) };
    // Declarations first: an intrinsic's parameter may be `metadata`, a
    // type inkwell cannot hand back as a value (versioning declares one).
    let entry = function.get_first_basic_block()?;
    let vmctx = function.get_first_param()?;
    if !vmctx.is_pointer_value() {
        return None;
    }
    entry.get_instructions().find(|i| {
        i.get_opcode() == InstructionOpcode::Load
            && matches!(i.get_type(), AnyTypeEnum::PointerType(_))
            && operand_ref(*i, 0) == Some(vmctx.as_value_ref())
    })
}

/// The blocks of a loop the analysis reads: one block that branches to
/// itself (`header == latch`), or a chain of blocks from the header (which
/// holds the loop's phis) to the latch (which holds the exit test), each
/// but the latch ending in an interruption check ([`Check`]) whose other
/// successor is the next, the only way into it. (`translate/limits.rs`
/// checks at each loop header; `-O2` unrolls a loop by copying its body,
/// check included, so an unrolled loop has a check every copy.)
#[derive(Clone, Copy, PartialEq, Eq)]
struct Loop<'ctx> {
    header: BasicBlock<'ctx>,
    latch: BasicBlock<'ctx>,
}

/// Blocks a chain of checks may have (a loop unrolled this many times).
const MAX_CHAIN: usize = 16;

impl<'ctx> Loop<'ctx> {
    /// The chain of blocks from the header to the latch (at most
    /// `MAX_CHAIN + 1` of them), walked without collecting.
    fn chain(self) -> impl Iterator<Item = BasicBlock<'ctx>> {
        std::iter::successors(Some(self.header), move |&bb| {
            if bb == self.latch {
                None
            } else {
                interrupt_check(bb).map(|(_, next)| next)
            }
        })
        .take(MAX_CHAIN + 1)
    }

    /// [`Loop::chain`], collected.
    fn blocks(self) -> Vec<BasicBlock<'ctx>> {
        self.chain().collect()
    }

    /// Whether `bb` is one of the loop's blocks (asked for every use of
    /// every instruction the analysis reads, so it allocates nothing).
    fn contains(self, bb: BasicBlock<'ctx>) -> bool {
        self.chain().any(|b| b == bb)
    }

    /// The loop's instructions in order, but its checks and every
    /// terminator before the latch's.
    fn instructions(self) -> Vec<InstructionValue<'ctx>> {
        let mut insts = Vec::new();
        for bb in self.blocks() {
            let check = interrupt_check(bb).map(|(c, _)| c);
            insts.extend(
                bb.get_instructions()
                    .filter(|i| check.is_none_or(|c| ![c.load, c.compare, c.branch].contains(i))),
            );
        }
        insts
    }

    /// The header's check, when the loop has checks.
    fn check(self) -> Option<Check<'ctx>> {
        if self.header == self.latch {
            return None;
        }
        interrupt_check(self.header).map(|(c, _)| c)
    }
}

/// An interruption check that ends a block (what `translate/limits.rs`
/// emits at a loop header, after `-O2`): an atomic load of the interrupt
/// word, a compare with zero, and a branch to the function's `interrupt`
/// trap block or on.
#[derive(Clone, Copy)]
struct Check<'ctx> {
    load: InstructionValue<'ctx>,
    compare: InstructionValue<'ctx>,
    trap: BasicBlock<'ctx>,
    /// Whether the branch traps when the compare is true.
    trap_on_true: bool,
    branch: InstructionValue<'ctx>,
}

/// A candidate loop: its blocks and where it exits to.
#[derive(Clone, Copy)]
struct Shape<'ctx> {
    lp: Loop<'ctx>,
    exit: BasicBlock<'ctx>,
}

/// The conditional branch ending `bb`, as (branch, false successor, true
/// successor).
fn cond_branch(
    bb: BasicBlock<'_>,
) -> Option<(InstructionValue<'_>, BasicBlock<'_>, BasicBlock<'_>)> {
    let br = bb.get_terminator()?;
    if br.get_opcode() != InstructionOpcode::Br || br.get_num_operands() != 3 {
        return None;
    }
    Some((br, operand_block(br, 1)?, operand_block(br, 2)?))
}

/// `latch` as the block of a loop that ends in its exit test: a block
/// branching to itself, or to a header from which a chain of checks
/// ([`Loop`]) leads back to `latch`.
fn loop_shape(latch: BasicBlock<'_>) -> Option<Shape<'_>> {
    let (_, f, t) = cond_branch(latch)?;
    if f == t {
        return None;
    }
    [(f, t), (t, f)].into_iter().find_map(|(header, exit)| {
        let lp = Loop { header, latch };
        (header == latch || check_chain(lp)).then_some(Shape { lp, exit })
    })
}

/// Whether the checks from `lp.header` lead to `lp.latch`, each block
/// after the header entered only from the one before it and without phis.
fn check_chain(lp: Loop<'_>) -> bool {
    let blocks = lp.blocks();
    blocks.last() == Some(&lp.latch)
        && blocks.len() > 1
        && blocks.windows(2).all(|w| {
            predecessors(w[1]) == [w[0]]
                && w[1]
                    .get_first_instruction()
                    .is_some_and(|i| i.get_opcode() != InstructionOpcode::Phi)
        })
        && blocks[1..].iter().all(|&bb| bb != lp.header)
}

/// The interruption check ending `bb`, and its successor other than the
/// trap.
fn interrupt_check(bb: BasicBlock<'_>) -> Option<(Check<'_>, BasicBlock<'_>)> {
    let (branch, f, t) = cond_branch(bb)?;
    let (trap, next, trap_on_true) = if is_interrupt_trap(t) {
        (t, f, true)
    } else if is_interrupt_trap(f) {
        (f, t, false)
    } else {
        return None;
    };
    let compare = branch.get_previous_instruction()?;
    let load = compare.get_previous_instruction()?;
    let is_check = load.get_opcode() == InstructionOpcode::Load
        && load.get_volatile().ok()?
        && load.get_atomic_ordering().ok()? == AtomicOrdering::NotAtomic
        && compare.get_opcode() == InstructionOpcode::ICmp
        && operand_ref(compare, 0) == Some(load.as_value_ref())
        && operand_value(compare, 1)?
            .into_int_value()
            .get_zero_extended_constant()
            == Some(0)
        && operand_ref(branch, 0) == Some(compare.as_value_ref())
        && load.get_first_use()?.get_next_use().is_none()
        && compare.get_first_use()?.get_next_use().is_none();
    is_check.then_some((
        Check {
            load,
            compare,
            trap,
            trap_on_true,
            branch,
        },
        next,
    ))
}

/// Whether `bb` is a trap block of the `interrupt` trap:
/// `call wasmo_trap_Interrupt(vmctx)`, `unreachable`.
fn is_interrupt_trap(bb: BasicBlock<'_>) -> bool {
    let Some(call) = bb.get_first_instruction() else {
        return false;
    };
    let name = CallSiteValue::try_from(call)
        .ok()
        .and_then(|c| c.get_called_fn_value())
        .map(|f| f.get_name().to_string_lossy().into_owned());
    name.as_deref().and_then(TrapCode::from_trap_symbol) == Some(TrapCode::Interrupt)
        && call
            .get_next_instruction()
            .is_some_and(|i| i.get_opcode() == InstructionOpcode::Unreachable)
}

fn operand_ref(inst: InstructionValue<'_>, i: u32) -> Option<LLVMValueRef> {
    Some(inst.get_operand(i)?.value()?.as_value_ref())
}

fn operand_value(inst: InstructionValue<'_>, i: u32) -> Option<BasicValueEnum<'_>> {
    inst.get_operand(i)?.value()
}

fn operand_block(inst: InstructionValue<'_>, i: u32) -> Option<BasicBlock<'_>> {
    inst.get_operand(i)?.block()
}

/// An induction variable: an `i32` phi of the loop stepped by a constant.
struct Induction<'ctx> {
    phi: PhiValue<'ctx>,
    start: IntValue<'ctx>,
    step: i64,
    next: LLVMValueRef,
}

/// One volatile access: `base + scale * zext(x) + offset + b`, `size`
/// bytes, with `b` in `[0, slack]` (bounded terms, see [`Index`]).
struct Access<'ctx> {
    x: IntValue<'ctx>,
    /// `x` as an affine expression (coefficients indexed like `Plan::ivs`).
    expr: Affine,
    scale: u64,
    offset: u64,
    size: u64,
    /// Largest value of the bounded terms; an access with any keeps its
    /// own address computation in the copy.
    slack: u64,
    /// Whether it writes (a store), which decides the groups that must be
    /// apart (see [`apart_pairs`]).
    store: bool,
}

/// Everything [`transform`] needs, found by [`analyse`].
struct Plan<'ctx> {
    /// Memory 0's base.
    base: PointerValue<'ctx>,
    lp: Loop<'ctx>,
    /// The header's interruption check, kept once per chunk of
    /// iterations in the copy.
    check: Option<Check<'ctx>>,
    preheader: BasicBlock<'ctx>,
    exit: BasicBlock<'ctx>,
    /// Whether `exit` has the loop as its only predecessor.
    exit_dedicated: bool,
    ivs: Vec<Induction<'ctx>>,
    /// How the loop's exit test ends it.
    test: ExitTest<'ctx>,
    accesses: Vec<Access<'ctx>>,
    /// Loop instructions that are used after the loop (not only by the
    /// exit block's phis), with each such use (user, operand index).
    escaping: Vec<(LLVMValueRef, Vec<(InstructionValue<'ctx>, u32)>)>,
}

/// Distinct predecessor blocks of `bb` (from the uses of the block, which
/// are its predecessors' terminators).
fn predecessors(bb: BasicBlock<'_>) -> Vec<BasicBlock<'_>> {
    let mut preds = Vec::new();
    let mut use_ = bb.get_first_use();
    while let Some(u) = use_ {
        if let Some(i) = user_instruction(u.get_user()) {
            if let Some(p) = i.get_parent() {
                if !preds.contains(&p) {
                    preds.push(p);
                }
            }
        }
        use_ = u.get_next_use();
    }
    preds
}

/// The instruction a use belongs to (inkwell types a user by its result).
fn user_instruction(user: AnyValueEnum<'_>) -> Option<InstructionValue<'_>> {
    match user {
        AnyValueEnum::InstructionValue(i) => Some(i),
        other => BasicValueEnum::try_from(other).ok()?.as_instruction_value(),
    }
}

fn in_block(v: LLVMValueRef, bb: BasicBlock<'_>) -> bool {
    bb.get_instructions().any(|i| i.as_value_ref() == v)
}

fn as_instruction(v: BasicValueEnum<'_>) -> Option<InstructionValue<'_>> {
    v.as_instruction_value()
}

/// The plan for versioning `shape`, or why it is not versioned (shown in
/// `WASMO_DUMP_LLVM`'s `chunkN.versioning.txt`, see [`version_loops`]).
fn analyse<'ctx>(
    shape: Shape<'ctx>,
    memory0_base: InstructionValue<'ctx>,
    target_data: &TargetData,
    ordered: bool,
) -> Result<Plan<'ctx>, &'static str> {
    const SHAPE: &str = "not a loop of the expected shape";
    let Shape { lp, exit } = shape;
    let check = lp.check();
    for bb in lp.blocks() {
        if let Some((c, _)) = interrupt_check(bb) {
            if !invariant(operand_value(c.load, 0).ok_or(SHAPE)?, lp) {
                return Err("an interruption check reads a loop value");
            }
        }
    }
    let preds = predecessors(lp.header);
    if preds.len() != 2 || !preds.contains(&lp.latch) {
        return Err("the header has other predecessors");
    }
    let preheader = preds.into_iter().find(|&p| p != lp.latch).ok_or(SHAPE)?;
    let pre_term = preheader.get_terminator().ok_or(SHAPE)?;
    if pre_term.get_opcode() != InstructionOpcode::Br || pre_term.get_num_operands() != 1 {
        return Err("no preheader of its own");
    }
    let exit_preds = predecessors(exit);
    let exit_dedicated = exit_preds == [lp.latch];

    // Induction variables. Other phis of the loop (sums) are cloned like
    // any instruction; no address may depend on them (`affine`).
    let ivs: Vec<Induction<'ctx>> = lp
        .header
        .get_instructions()
        .take_while(|i| i.get_opcode() == InstructionOpcode::Phi)
        .filter_map(|i| induction(PhiValue::try_from(i).ok()?, lp, preheader))
        .collect();

    // The exit test.
    let br = lp.latch.get_terminator().ok_or(SHAPE)?;
    let cond = operand_value(br, 0).and_then(as_instruction).ok_or(SHAPE)?;
    if cond.get_opcode() != InstructionOpcode::ICmp || !in_block(cond.as_value_ref(), lp.latch) {
        return Err("the exit test is not an icmp of the latch");
    }
    let continue_on_true = operand_block(br, 2).ok_or(SHAPE)? == lp.header;
    let test = exit_test(cond, continue_on_true, lp, &ivs)?;
    if matches!(test, ExitTest::Ordered(_)) && !ordered {
        return Err("an ordered exit test (versioned at -O3 only)");
    }
    let phis = lp
        .header
        .get_instructions()
        .take_while(|i| i.get_opcode() == InstructionOpcode::Phi)
        .count();
    if matches!(test, ExitTest::Ordered(_)) && phis != ivs.len() {
        return Err("an ordered exit test in a loop that carries a value");
    }

    // Every instruction: what may trap, and the volatile accesses.
    let mut accesses = Vec::new();
    for inst in lp.instructions() {
        if inst.get_opcode() != InstructionOpcode::Phi
            && !inst.is_terminator()
            && !matches!(
                inst.get_type(),
                AnyTypeEnum::IntType(_)
                    | AnyTypeEnum::FloatType(_)
                    | AnyTypeEnum::PointerType(_)
                    | AnyTypeEnum::VoidType(_)
            )
        {
            return Err("a value of a vector or aggregate type");
        }
        match inst.get_opcode() {
            InstructionOpcode::Call => {
                let callee = CallSiteValue::try_from(inst)
                    .ok()
                    .and_then(|c| c.get_called_fn_value())
                    .ok_or("an indirect call")?;
                let name = callee.get_name().to_str().unwrap_or("");
                if !name.starts_with("llvm.") || name.contains("trap") {
                    return Err("a call");
                }
            }
            InstructionOpcode::Load | InstructionOpcode::Store => {
                if inst.get_atomic_ordering() != Ok(AtomicOrdering::NotAtomic) {
                    return Err("an atomic access");
                }
                if !inst.get_volatile().map_err(|_| SHAPE)? {
                    continue;
                }
                let operands = if inst.get_opcode() == InstructionOpcode::Load {
                    operand_value(inst, 0).map(|p| (p, inst.get_type()))
                } else {
                    operand_value(inst, 0)
                        .zip(operand_value(inst, 1))
                        .map(|(v, p)| (p, v.get_type().as_any_type_enum()))
                };
                let (ptr, ty) = operands.ok_or(SHAPE)?;
                let size = target_data.get_store_size(&ty);
                let mut a = access(ptr, size, memory0_base, lp, &ivs, target_data)
                    .ok_or("an access that is not affine")?;
                a.store = inst.get_opcode() == InstructionOpcode::Store;
                accesses.push(a);
            }
            InstructionOpcode::AtomicRMW
            | InstructionOpcode::AtomicCmpXchg
            | InstructionOpcode::Fence
            | InstructionOpcode::Invoke
            | InstructionOpcode::CallBr => return Err("an atomic, a fence or an invoke"),
            _ => {}
        }
    }
    if accesses.is_empty() {
        return Err("no volatile access");
    }

    // Values used after the loop.
    let exit_phis: Vec<LLVMValueRef> = exit
        .get_instructions()
        .take_while(|i| i.get_opcode() == InstructionOpcode::Phi)
        .map(|i| i.as_value_ref())
        .collect();
    let mut escaping = Vec::new();
    for inst in lp.instructions() {
        let mut uses = Vec::new();
        let mut use_ = inst.get_first_use();
        while let Some(u) = use_ {
            use_ = u.get_next_use();
            let user = user_instruction(u.get_user()).ok_or(SHAPE)?;
            if user.get_parent().is_some_and(|bb| lp.contains(bb))
                || exit_phis.contains(&user.as_value_ref())
            {
                continue;
            }
            for k in 0..user.get_num_operands() {
                if operand_ref(user, k) == Some(inst.as_value_ref()) {
                    uses.push((user, k));
                }
            }
        }
        if !uses.is_empty() {
            if !exit_dedicated {
                return Err("a value used after a shared exit");
            }
            escaping.push((inst.as_value_ref(), uses));
        }
    }
    Ok(Plan {
        base: PointerValue::try_from(memory0_base).map_err(|()| SHAPE)?,
        lp,
        check,
        preheader,
        exit,
        exit_dedicated,
        ivs,
        test,
        accesses,
        escaping,
    })
}

/// How a loop's exit test ends it, read from the latch's compare `cond`.
#[derive(Clone, Copy)]
enum ExitTest<'ctx> {
    /// Goes on while `iv != bound` (`iv.next != bound` when `on_next`),
    /// `iv` indexing `Plan::ivs`.
    Unequal {
        iv: usize,
        on_next: bool,
        bound: IntValue<'ctx>,
    },
    /// Goes on while an affine `x` rising towards `bound` stays below it,
    /// or one falling stays above it.
    Ordered(Ordered<'ctx>),
}

/// An ordered exit test: the loop goes on while `x < bound` (`x <= bound`
/// when `inclusive`) for a rising `x` (`d > 0`), or while `x > bound` (`x
/// >= bound`) for a falling one (`d < 0`), compared signed or unsigned.
/// wasi-libc's `memcpy`, `memmove` and `memset` count their length down
/// this way (`n -= 32; while (n > 15)`).
///
/// Versioned at `-O3` only. At `-O2` it made whole programs slower in
/// callgrind instructions (sqlite +0.5%, zstd +2.5%), though a 4 KiB
/// `memcpy` took 3 times fewer: most of their loops run a few times, and
/// the check plus the vectoriser's own run-time checks raise register
/// pressure in the whole function (`memcpy`, a leaf that needed no
/// callee-saved register, saved three on every call, 13-15 instructions
/// more per short copy), and zstd's `ZSTD_decompress` grew 46 checked
/// copies of inlined `ZSTD_wildcopy`. A loop that carries a value from one
/// iteration to the next (`memcpy`'s unaligned loops, which shift words
/// together) is left alone: its copy did not vectorise and its check
/// alone cost the registers. The copy's groups that move are required
/// apart ([`apart_pairs`]), as in tiny loops: LLVM's own checks of the
/// eight accesses of `memcpy`'s loop were 28 pairwise compares and 8 wrap
/// checks, which let only copies of 41 iterations and more into its
/// vector loop (a 4 KiB copy: 1,661 instructions fewer per call with the
/// groups proven apart, 679 without); the price is that `memmove`'s own
/// loops, which run only where the ranges overlap, pay the check and run
/// exactly (about 40 instructions more per 1,000-byte call).
#[derive(Clone, Copy)]
struct Ordered<'ctx> {
    /// The compared `i32`, affine in the induction variables.
    x: IntValue<'ctx>,
    /// How much `x` moves per iteration (not 0, at most [`MAX_STRIDE`]).
    d: i64,
    /// The loop-invariant `i32` it is compared with.
    bound: IntValue<'ctx>,
    signed: bool,
    inclusive: bool,
}

/// The exit test that `cond` (an `icmp` whose result goes on to the
/// header when it is `continue_on_true`) makes, if the trip count follows
/// from it: `!=` on an induction variable against an invariant (or `==`
/// when the loop goes on while false), or an ordered compare of an affine
/// `i32` against an invariant in the direction it moves ([`Ordered`]).
/// A compare that would have the loop run until its value wrapped (a
/// rising value that must stay above the bound) is none; the error says
/// why there is none.
fn exit_test<'ctx>(
    cond: InstructionValue<'ctx>,
    continue_on_true: bool,
    lp: Loop<'ctx>,
    ivs: &[Induction<'ctx>],
) -> Result<ExitTest<'ctx>, &'static str> {
    let operands = operand_value(cond, 0).zip(operand_value(cond, 1));
    let (a, b) = operands.ok_or("an exit test without operands")?;
    let predicate = cond
        .get_icmp_predicate()
        .ok_or("an exit test without a predicate")?;
    if matches!(predicate, IntPredicate::EQ | IntPredicate::NE) {
        if (predicate == IntPredicate::NE) != continue_on_true {
            return Err("the loop goes on while its value equals the bound");
        }
        let find = |v: BasicValueEnum<'ctx>| {
            ivs.iter().enumerate().find_map(|(k, iv)| {
                if v.as_value_ref() == iv.next {
                    Some((k, true))
                } else if v.as_value_ref() == iv.phi.as_value_ref() {
                    Some((k, false))
                } else {
                    None
                }
            })
        };
        let ((iv, on_next), bound) = match (find(a), find(b)) {
            (Some(f), None) => (f, b),
            (None, Some(f)) => (f, a),
            _ => return Err("an equality exit test not on one induction variable"),
        };
        if !invariant(bound, lp) {
            return Err("an equality exit test against a loop value");
        }
        return Ok(ExitTest::Unequal {
            iv,
            on_next,
            bound: bound.into_int_value(),
        });
    }
    // `x P bound` with the loop going on while it holds.
    let (x, bound, predicate) = match (invariant(a, lp), invariant(b, lp)) {
        (false, true) => (a, b, predicate),
        (true, false) => (b, a, swapped(predicate)),
        _ => return Err("an ordered exit test not against an invariant"),
    };
    let predicate = if continue_on_true {
        predicate
    } else {
        inverse(predicate)
    };
    use IntPredicate::*;
    const SHAPE: &str = "an exit test of the wrong kind";
    let (signed, rising, inclusive) = match predicate {
        ULT => (false, true, false),
        ULE => (false, true, true),
        UGT => (false, false, false),
        UGE => (false, false, true),
        SLT => (true, true, false),
        SLE => (true, true, true),
        SGT => (true, false, false),
        SGE => (true, false, true),
        EQ | NE => return Err(SHAPE),
    };
    if !matches!(x.get_type(), BasicTypeEnum::IntType(t) if t.get_bit_width() == 32) {
        return Err("an ordered exit test not on an i32");
    }
    let e = affine(x, lp, ivs, 0).ok_or("an ordered exit test on a value that is not affine")?;
    let d = e
        .coefs
        .iter()
        .zip(ivs)
        .try_fold(0i64, |d, (c, iv)| d.checked_add(c.checked_mul(iv.step)?))
        .filter(|d| *d != 0 && d.abs() <= MAX_STRIDE)
        .ok_or("an ordered exit test on a value that stays or moves too far")?;
    if (d > 0) != rising {
        return Err("an ordered exit test that only a wrap can end");
    }
    Ok(ExitTest::Ordered(Ordered {
        x: x.into_int_value(),
        d,
        bound: bound.into_int_value(),
        signed,
        inclusive,
    }))
}

/// `p` with its operands swapped: `a P b` is `b swapped(P) a`.
fn swapped(p: IntPredicate) -> IntPredicate {
    use IntPredicate::*;
    match p {
        ULT => UGT,
        UGT => ULT,
        ULE => UGE,
        UGE => ULE,
        SLT => SGT,
        SGT => SLT,
        SLE => SGE,
        SGE => SLE,
        EQ | NE => p,
    }
}

/// `p` negated: `!(a P b)` is `a inverse(P) b`.
fn inverse(p: IntPredicate) -> IntPredicate {
    use IntPredicate::*;
    match p {
        ULT => UGE,
        UGE => ULT,
        UGT => ULE,
        ULE => UGT,
        SLT => SGE,
        SGE => SLT,
        SGT => SLE,
        SLE => SGT,
        EQ => NE,
        NE => EQ,
    }
}

/// Whether `v` is defined outside the loop (a constant, an argument or an
/// instruction of another block).
fn invariant(v: BasicValueEnum<'_>, lp: Loop<'_>) -> bool {
    match v.as_instruction_value() {
        Some(i) => !i.get_parent().is_some_and(|bb| lp.contains(bb)),
        None => true,
    }
}

/// `phi` as an induction variable: `[start, preheader], [phi + c, latch]`.
fn induction<'ctx>(
    phi: PhiValue<'ctx>,
    lp: Loop<'ctx>,
    preheader: BasicBlock<'ctx>,
) -> Option<Induction<'ctx>> {
    if phi.count_incoming() != 2 {
        return None;
    }
    let ty = phi.as_basic_value().get_type();
    if !matches!(ty, BasicTypeEnum::IntType(t) if t.get_bit_width() == 32) {
        return None;
    }
    let (mut start, mut next) = (None, None);
    for (v, bb) in phi.get_incomings() {
        if bb == preheader {
            start = Some(v.into_int_value());
        } else if bb == lp.latch {
            next = Some(v);
        }
    }
    let next = as_instruction(next?)?;
    if !next.get_parent().is_some_and(|bb| lp.contains(bb)) {
        return None;
    }
    let (a, b) = (operand_value(next, 0)?, operand_value(next, 1)?);
    let phi_ref = phi.as_value_ref();
    let constant = |v: BasicValueEnum<'ctx>| v.into_int_value().get_sign_extended_constant();
    let step = match next.get_opcode() {
        InstructionOpcode::Add if a.as_value_ref() == phi_ref => constant(b)?,
        InstructionOpcode::Add if b.as_value_ref() == phi_ref => constant(a)?,
        InstructionOpcode::Sub if a.as_value_ref() == phi_ref => constant(b)?.checked_neg()?,
        _ => return None,
    };
    if step == 0 || step.abs() > MAX_STRIDE {
        return None;
    }
    Some(Induction {
        phi,
        start: start?,
        step,
        next: next.as_value_ref(),
    })
}

/// An `i32` expression of the loop: `sum(coefs[j] * iv[j]) + sum(m * v) +
/// konst` modulo 2^32, each `v` loop-invariant.
#[derive(Clone, PartialEq, Eq)]
struct Affine {
    coefs: Vec<i64>,
    terms: Vec<(LLVMValueRef, u32)>,
    konst: u32,
}

impl Affine {
    fn plus(mut self, other: Affine, sign: i64) -> Option<Affine> {
        for (p, q) in self.coefs.iter_mut().zip(&other.coefs) {
            *p = p.checked_add(q.checked_mul(sign)?)?;
        }
        let m = if sign < 0 { u32::MAX } else { 1 };
        for (v, k) in other.terms {
            match self.terms.iter_mut().find(|(w, _)| *w == v) {
                Some((_, j)) => *j = j.wrapping_add(k.wrapping_mul(m)),
                None => self.terms.push((v, k.wrapping_mul(m))),
            }
        }
        self.terms.retain(|&(_, k)| k != 0);
        self.terms.sort_unstable_by_key(|&(v, _)| v as usize);
        self.konst = self.konst.wrapping_add(other.konst.wrapping_mul(m));
        Some(self)
    }

    fn times(mut self, k: i64) -> Option<Affine> {
        for c in &mut self.coefs {
            *c = c.checked_mul(k)?;
        }
        for (_, m) in &mut self.terms {
            *m = m.wrapping_mul(k as u32);
        }
        self.terms.retain(|&(_, m)| m != 0);
        self.konst = self.konst.wrapping_mul(k as u32);
        Some(self)
    }

    /// Whether `self` and `other` differ by a constant only.
    fn same_but_constant(&self, other: &Affine) -> bool {
        self.coefs == other.coefs && self.terms == other.terms
    }
}

/// `x` (an `i32`) as an [`Affine`] expression of the induction variables
/// and loop-invariant values, if it is one.
fn affine<'ctx>(
    x: BasicValueEnum<'ctx>,
    lp: Loop<'ctx>,
    ivs: &[Induction<'ctx>],
    depth: u32,
) -> Option<Affine> {
    let mut e = Affine {
        coefs: vec![0; ivs.len()],
        terms: Vec::new(),
        konst: 0,
    };
    if let Some(c) = x.into_int_value().get_zero_extended_constant() {
        e.konst = c as u32;
        return Some(e);
    }
    if invariant(x, lp) {
        e.terms.push((x.as_value_ref(), 1));
        return Some(e);
    }
    if depth > 16 {
        return None;
    }
    if let Some(k) = ivs
        .iter()
        .position(|iv| iv.phi.as_value_ref() == x.as_value_ref())
    {
        e.coefs[k] = 1;
        return Some(e);
    }
    let inst = x.as_instruction_value()?;
    let (a, b) = (operand_value(inst, 0)?, operand_value(inst, 1)?);
    let konst = |v: BasicValueEnum<'ctx>| v.into_int_value().get_sign_extended_constant();
    let e = match inst.get_opcode() {
        // `or disjoint` is an add whose operands share no bits.
        InstructionOpcode::Or if !inst.get_disjoint_flag().ok()? => return None,
        InstructionOpcode::Add | InstructionOpcode::Or => {
            affine(a, lp, ivs, depth + 1)?.plus(affine(b, lp, ivs, depth + 1)?, 1)?
        }
        InstructionOpcode::Sub => {
            affine(a, lp, ivs, depth + 1)?.plus(affine(b, lp, ivs, depth + 1)?, -1)?
        }
        InstructionOpcode::Mul => match (konst(a), konst(b)) {
            (_, Some(k)) => affine(a, lp, ivs, depth + 1)?.times(k)?,
            (Some(k), _) => affine(b, lp, ivs, depth + 1)?.times(k)?,
            _ => return None,
        },
        InstructionOpcode::Shl => {
            let k = konst(b).filter(|k| (0..24).contains(k))?;
            affine(a, lp, ivs, depth + 1)?.times(1 << k)?
        }
        _ => return None,
    };
    e.coefs.iter().all(|c| c.abs() <= MAX_STRIDE).then_some(e)
}

/// A volatile access at `ptr` of `size` bytes, if its address has the
/// shape the module documentation says.
fn access<'ctx>(
    ptr: BasicValueEnum<'ctx>,
    size: u64,
    memory0_base: InstructionValue<'ctx>,
    lp: Loop<'ctx>,
    ivs: &[Induction<'ctx>],
    target_data: &TargetData,
) -> Option<Access<'ctx>> {
    let mut index = Index::default();
    let mut p = ptr;
    loop {
        if p.as_value_ref() == memory0_base.as_value_ref() {
            break;
        }
        let gep = p.as_instruction_value()?;
        if gep.get_opcode() != InstructionOpcode::GetElementPtr || gep.get_num_operands() != 2 {
            return None;
        }
        let elem = gep.get_gep_source_element_type().ok()?;
        let scale = target_data.get_abi_size(&elem);
        index.add(operand_value(gep, 1)?.into_int_value(), scale, 0)?;
        p = operand_value(gep, 0)?;
    }
    // No `zext(X)` term: the address is constant but for its bounded part,
    // as if `X` were 0.
    let (scale, x) = match index.term {
        Some(t) => t,
        None => (
            1,
            ptr.into_pointer_value()
                .get_type()
                .get_context()
                .i32_type()
                .const_zero(),
        ),
    };
    let expr = affine(x.as_basic_value_enum(), lp, ivs, 0)?;
    if scale > 16 || index.offset > (8 << 30) || index.slack > (8 << 30) {
        return None;
    }
    Some(Access {
        x,
        expr,
        scale,
        offset: index.offset,
        size,
        slack: index.slack,
        store: false,
    })
}

/// A GEP index split into a constant (`offset`), at most one `scale *
/// zext(x)` term with `x` an `i32`, and bounded terms: zero extensions of
/// narrower integers (a byte used to index a table), whatever their value,
/// at most `slack` in all.
#[derive(Default)]
struct Index<'ctx> {
    offset: u64,
    term: Option<(u64, IntValue<'ctx>)>,
    slack: u64,
}

impl<'ctx> Index<'ctx> {
    /// Adds `index` (an `i64`) times `scale`.
    fn add(&mut self, index: IntValue<'ctx>, scale: u64, depth: u32) -> Option<()> {
        if depth > 8 || index.get_type().get_bit_width() != 64 {
            return None;
        }
        if let Some(c) = index.get_zero_extended_constant() {
            self.offset = self.offset.checked_add(c.checked_mul(scale)?)?;
            return (self.offset < (8 << 30)).then_some(());
        }
        let inst = index.as_instruction_value()?;
        let operand = |k| operand_value(inst, k).map(BasicValueEnum::into_int_value);
        match inst.get_opcode() {
            InstructionOpcode::ZExt => {
                let x = operand(0)?;
                let bits = x.get_type().get_bit_width();
                if bits < 32 {
                    let max = (1u64 << bits) - 1;
                    self.slack = self.slack.checked_add(max.checked_mul(scale)?)?;
                    return (self.slack < (8 << 30)).then_some(());
                }
                if bits != 32 || self.term.is_some() {
                    return None;
                }
                self.term = Some((scale, x));
                Some(())
            }
            InstructionOpcode::Add => {
                self.add(operand(0)?, scale, depth + 1)?;
                self.add(operand(1)?, scale, depth + 1)
            }
            InstructionOpcode::Or if inst.get_disjoint_flag().ok()? => {
                self.add(operand(0)?, scale, depth + 1)?;
                self.add(operand(1)?, scale, depth + 1)
            }
            InstructionOpcode::Shl => {
                let k = operand(1)?
                    .get_zero_extended_constant()
                    .filter(|&k| k < 5)?;
                self.add(operand(0)?, scale << k, depth + 1)
            }
            InstructionOpcode::Mul => {
                let k = operand(1)?
                    .get_zero_extended_constant()
                    .filter(|&k| k <= 16)?;
                self.add(operand(0)?, scale * k, depth + 1)
            }
            _ => None,
        }
    }
}

/// Emits, before the preheader's branch, `x` with every induction
/// variable replaced by its start value.
fn emit_at_start<'ctx>(
    builder: &Builder<'ctx>,
    x: IntValue<'ctx>,
    plan: &Plan<'ctx>,
) -> Result<IntValue<'ctx>, CompileError> {
    if invariant(x.as_basic_value_enum(), plan.lp) {
        return Ok(x);
    }
    if let Some(iv) = plan
        .ivs
        .iter()
        .find(|iv| iv.phi.as_value_ref() == x.as_value_ref())
    {
        return Ok(iv.start);
    }
    let inst = x
        .as_instruction_value()
        .ok_or_else(|| CompileError::Internal("loop versioning: not affine".into()))?;
    let operand = |k| {
        operand_value(inst, k)
            .map(BasicValueEnum::into_int_value)
            .ok_or_else(|| CompileError::Internal("loop versioning: missing operand".into()))
    };
    let a = emit_at_start(builder, operand(0)?, plan)?;
    let b = emit_at_start(builder, operand(1)?, plan)?;
    Ok(match inst.get_opcode() {
        // Disjoint (`affine` admits no other `or`): the sum, which the
        // first iteration computes too.
        InstructionOpcode::Add | InstructionOpcode::Or => builder.build_int_add(a, b, "vx")?,
        InstructionOpcode::Sub => builder.build_int_sub(a, b, "vx")?,
        InstructionOpcode::Mul => builder.build_int_mul(a, b, "vx")?,
        InstructionOpcode::Shl => builder.build_left_shift(a, b, "vx")?,
        _ => return Err(CompileError::Internal("loop versioning: not affine".into())),
    })
}

/// For an [`ExitTest::Unequal`] on `iv` against `bound`, emitted at the
/// builder's position: the distance the induction variable moves from its
/// start to the bound, in the direction of its step, zero-extended to 64
/// bits (`bound - start` for a rising one, modulo 2^32).
fn unequal_distance<'ctx>(
    builder: &Builder<'ctx>,
    cx: &'ctx Context,
    iv: &Induction<'ctx>,
    bound: IntValue<'ctx>,
) -> Result<IntValue<'ctx>, CompileError> {
    let diff = if iv.step > 0 {
        builder.build_int_sub(bound, iv.start, "vdiff")?
    } else {
        builder.build_int_sub(iv.start, bound, "vdiff")?
    };
    Ok(builder.build_int_z_extend(diff, cx.i64_type(), "vdiff")?)
}

/// For an [`ExitTest::Unequal`] on `iv`, from [`unequal_distance`]'s
/// `diff`: the index of the loop's last iteration, and whether the test
/// does end the loop there, emitted at the builder's position. `n` steps
/// of `|step|` lead from the start to the bound, without a remainder (or
/// the loop would wrap round until it met the bound).
fn unequal_last<'ctx>(
    builder: &Builder<'ctx>,
    cx: &'ctx Context,
    iv: &Induction<'ctx>,
    on_next: bool,
    diff: IntValue<'ctx>,
) -> Result<(IntValue<'ctx>, IntValue<'ctx>), CompileError> {
    let i64t = cx.i64_type();
    let step = iv.step.unsigned_abs();
    let step = i64t.const_int(step, false);
    let rem = builder.build_int_unsigned_rem(diff, step, "vrem")?;
    let n = builder.build_int_unsigned_div(diff, step, "vn")?;
    let ok = builder.build_int_compare(IntPredicate::EQ, rem, i64t.const_zero(), "vok")?;
    if !on_next {
        return Ok((ok, n));
    }
    let nonzero = builder.build_int_compare(IntPredicate::NE, n, i64t.const_zero(), "vok")?;
    let ok = builder.build_and(ok, nonzero, "vok")?;
    Ok((
        ok,
        builder.build_int_sub(n, i64t.const_int(1, false), "vlast")?,
    ))
}

/// Fewest iterations for which a loop with an [`ExitTest::Unequal`] runs
/// its copy; one that runs fewer goes to its exact loop straight from the
/// preheader, after one compare with a constant ([`short_to_exact`]).
/// Below it the copy cannot pay for its check (about 30 instructions):
/// no vector iteration runs (the vectoriser's own minimum is its vector
/// width times its unroll factor, 4 or more for every element type at
/// the default CPU), and the scalar copy saves a few instructions an
/// iteration (6 in nbody's pair loop, which runs 1 to 4 times an entry).
const UNEQUAL_MIN_TRIPS: u64 = 8;

/// For an [`ExitTest::Unequal`], from [`unequal_distance`]'s `diff`:
/// whether the loop runs at least [`UNEQUAL_MIN_TRIPS`] times, by one
/// compare with a constant (a distance that is no multiple of the step
/// fails the check anyway, whichever way this goes).
fn unequal_long<'ctx>(
    builder: &Builder<'ctx>,
    cx: &'ctx Context,
    iv: &Induction<'ctx>,
    on_next: bool,
    diff: IntValue<'ctx>,
) -> Result<IntValue<'ctx>, CompileError> {
    // `on_next`: `diff / step` iterations; otherwise one more.
    let steps = if on_next {
        UNEQUAL_MIN_TRIPS
    } else {
        UNEQUAL_MIN_TRIPS - 1
    };
    let reach = steps * iv.step.unsigned_abs();
    let reach = cx.i64_type().const_int(reach, false);
    Ok(builder.build_int_compare(IntPredicate::UGE, diff, reach, "vlong")?)
}

/// For an [`ExitTest::Ordered`], emitted at the builder's position: `w0`,
/// the compared value's first value extended to 64 bits as the compare
/// reads it (zero-extended for an unsigned compare, sign-extended for a
/// signed one), and `lim`, what the loop goes on while `w(k)` stays below
/// (rising) or above (falling): the bound, moved by 1 when the compare is
/// inclusive. See [`ordered_last`].
fn ordered_start<'ctx>(
    builder: &Builder<'ctx>,
    cx: &'ctx Context,
    plan: &Plan<'ctx>,
    test: Ordered<'ctx>,
) -> Result<(IntValue<'ctx>, IntValue<'ctx>), CompileError> {
    let i64t = cx.i64_type();
    let extend = |v: IntValue<'ctx>, name: &str| {
        if test.signed {
            builder.build_int_s_extend(v, i64t, name)
        } else {
            builder.build_int_z_extend(v, i64t, name)
        }
    };
    let x0 = emit_at_start(builder, test.x, plan)?;
    let w0 = extend(x0, "vw0")?;
    let bound = extend(test.bound, "vlim")?;
    let lim = match (test.inclusive, test.d > 0) {
        (false, _) => bound,
        (true, true) => builder.build_int_add(bound, i64t.const_int(1, false), "vlim")?,
        (true, false) => builder.build_int_sub(bound, i64t.const_int(1, false), "vlim")?,
    };
    Ok((w0, lim))
}

/// For an [`ExitTest::Ordered`] from `w0` and `lim` ([`ordered_start`]):
/// the index of the loop's last iteration, and whether the test does end
/// the loop there, emitted at the builder's position.
///
/// In 64 bits, `w(k) = w0 + k * d` is what the compared value would be in
/// iteration `k` if it never wrapped. The loop goes on while `w(k) < lim`
/// (rising) or `w(k) > lim` (falling), so the last iteration is the first
/// `k` where that fails: `ceil(max(0, gap) / |d|)`, `gap` the distance
/// from `w0` to `lim`. That is the real last iteration when no value
/// wrapped on the way: `w0` lies in the compare's 32-bit range (it is one
/// extended), and the check requires `w(last)` to lie there too, so every
/// `w(k)` between them does, each equals the 32-bit value read as the
/// compare reads it, and the compare answers as for `w(k)`. A loop whose
/// value would wrap first (`n -= 32; while (n > 15)` entered with `n =
/// 40`: 8, then 2^32 - 24) fails the check and runs its exact copy.
/// Nothing overflows: `w0` and `lim` lie within 2^33 of 0, `|d|` is at
/// most [`MAX_STRIDE`], so `last * d` is below 2^58.
fn ordered_last<'ctx>(
    builder: &Builder<'ctx>,
    cx: &'ctx Context,
    test: Ordered<'ctx>,
    w0: IntValue<'ctx>,
    lim: IntValue<'ctx>,
) -> Result<(IntValue<'ctx>, IntValue<'ctx>), CompileError> {
    let i64t = cx.i64_type();
    let rising = test.d > 0;
    let gap = if rising {
        builder.build_int_sub(lim, w0, "vgap")?
    } else {
        builder.build_int_sub(w0, lim, "vgap")?
    };
    let zero = i64t.const_zero();
    let positive = builder.build_int_compare(IntPredicate::SGT, gap, zero, "vgap")?;
    let gap = builder
        .build_select(positive, gap, zero, "vgap")?
        .into_int_value();
    let step = test.d.unsigned_abs();
    let gap = builder.build_int_add(gap, i64t.const_int(step - 1, false), "vgap")?;
    let last = builder.build_int_unsigned_div(gap, i64t.const_int(step, false), "vlast")?;
    let moved = builder.build_int_mul(last, i64t.const_int(test.d as u64, true), "vwlast")?;
    let w_last = builder.build_int_add(w0, moved, "vwlast")?;
    let (low, high) = if test.signed {
        (-(1i64 << 31), 1i64 << 31)
    } else {
        (0, 1i64 << 32)
    };
    let above = builder.build_int_compare(
        IntPredicate::SGE,
        w_last,
        i64t.const_int(low as u64, true),
        "vok",
    )?;
    let below = builder.build_int_compare(
        IntPredicate::SLT,
        w_last,
        i64t.const_int(high as u64, true),
        "vok",
    )?;
    Ok((builder.build_and(above, below, "vok")?, last))
}

/// Fewest iterations after the first (`last`) for which a loop with an
/// ordered exit test runs its copy: one that runs fewer goes to its exact
/// loop straight from the preheader, after one compare (with a constant,
/// when the bound is one), before the rest of the check. Such short loops
/// gain nothing from the copy: the vectoriser's own run-time checks let
/// only longer ones into its vector loop (41 iterations and more for
/// wasi-libc's `memcpy` without groups proven apart), while the whole
/// check costs about 30 instructions. With it, a 300-byte `memcpy` (9
/// iterations) paid 13-15 instructions more per call, a 600-byte one 66
/// fewer (callgrind, a loop of 100,000 calls).
const ORDERED_MIN_LAST: u64 = 15;

/// For an [`ExitTest::Ordered`], from [`ordered_start`]'s `w0` and `lim`:
/// whether the loop's last iteration comes at or after
/// [`ORDERED_MIN_LAST`] (by [`ordered_last`]'s formula: the gap from `w0`
/// to `lim` is more than `(ORDERED_MIN_LAST - 1) * |d|`; one compare with
/// a constant when the bound is one).
fn ordered_long<'ctx>(
    cx: &'ctx Context,
    builder: &Builder<'ctx>,
    test: Ordered<'ctx>,
    (w0, lim): (IntValue<'ctx>, IntValue<'ctx>),
) -> Result<IntValue<'ctx>, CompileError> {
    let i64t = cx.i64_type();
    let reach = (ORDERED_MIN_LAST - 1) * test.d.unsigned_abs();
    Ok(if test.d > 0 {
        let below = builder.build_int_sub(lim, i64t.const_int(reach, false), "vlong")?;
        builder.build_int_compare(IntPredicate::SLT, w0, below, "vlong")?
    } else {
        let above = builder.build_int_add(lim, i64t.const_int(reach, false), "vlong")?;
        builder.build_int_compare(IntPredicate::SGT, w0, above, "vlong")?
    })
}

/// Ends `pre_term`'s block (the preheader) with a branch to the exact loop
/// unless `long` (a loop too short for its copy to pay: see
/// [`ORDERED_MIN_LAST`] and [`UNEQUAL_MIN_TRIPS`]), else to a new block,
/// where the builder is left to emit the rest of the check; returns that
/// block. ([`transform`] has the loop's header take the same values from
/// it as from the preheader, once the copy, which copies the header's
/// phis, is built.)
fn short_to_exact<'ctx>(
    cx: &'ctx Context,
    builder: &Builder<'ctx>,
    plan: &Plan<'ctx>,
    pre_term: InstructionValue<'ctx>,
    long: IntValue<'ctx>,
) -> Result<BasicBlock<'ctx>, CompileError> {
    let check = cx.insert_basic_block_after(plan.preheader, "versioned_long");
    builder.build_conditional_branch(long, check, plan.lp.header)?;
    pre_term.erase_from_basic_block();
    builder.position_at_end(check);
    Ok(check)
}

/// Emits the check in the preheader, clones the loop with ordinary
/// accesses, and joins both at the exit.
fn transform<'ctx>(
    cx: &'ctx Context,
    builder: &Builder<'ctx>,
    module: &Module<'ctx>,
    function: FunctionValue<'ctx>,
    plan: &Plan<'ctx>,
) -> Result<(), CompileError> {
    let i64t = cx.i64_type();
    let pre_term = plan
        .preheader
        .get_terminator()
        .ok_or_else(|| CompileError::Internal("loop versioning: no preheader branch".into()))?;
    builder.position_before(&pre_term);

    // The last iteration's index, and whether the loop runs that many;
    // and where the check ends and the copy is entered from: the
    // preheader when the trip count is a constant, else a block of its
    // own that only a loop running long enough reaches (`short_to_exact`).
    let (from, (mut ok, last)) = match plan.test {
        ExitTest::Unequal { iv, on_next, bound } => {
            let iv = &plan.ivs[iv];
            let diff = unequal_distance(builder, cx, iv, bound)?;
            let from = if diff.is_const() {
                plan.preheader
            } else {
                let long = unequal_long(builder, cx, iv, on_next, diff)?;
                short_to_exact(cx, builder, plan, pre_term, long)?
            };
            (from, unequal_last(builder, cx, iv, on_next, diff)?)
        }
        ExitTest::Ordered(test) => {
            let (w0, lim) = ordered_start(builder, cx, plan, test)?;
            let long = ordered_long(cx, builder, test, (w0, lim))?;
            let from = short_to_exact(cx, builder, plan, pre_term, long)?;
            (from, ordered_last(builder, cx, test, w0, lim)?)
        }
    };

    // Memory 0's current length.
    let ptr_t = cx.ptr_type(inkwell::AddressSpace::default());
    let vmctx = function
        .get_first_param()
        .ok_or_else(|| CompileError::Internal("loop versioning: no vmctx".into()))?
        .into_pointer_value();
    let def_slot = gep8(builder, cx, vmctx, u64::from(VMOffsets::MEMORY0_DEF))?;
    let def = builder
        .build_load(ptr_t, def_slot, "vdef")?
        .into_pointer_value();
    let len_slot = gep8(builder, cx, def, u64::from(MEMORY_DEF_CURRENT_LENGTH))?;
    let len = builder.build_load(i64t, len_slot, "vlen")?;
    if let Some(load) = len.as_instruction_value() {
        load.set_alignment(8)
            .and_then(|()| load.set_atomic_ordering(AtomicOrdering::Monotonic))
            .map_err(|e| CompileError::Internal(format!("loop versioning: {e}")))?;
    }
    let len = len.into_int_value();
    let limit = i64t.const_int(1 << 32, false);

    // Accesses whose `X` differ by a constant form a group with one
    // `zext(X)` at the first iteration (`A0`, of the group's first access)
    // and one step `d`; each access adds its `delta` (any representative
    // of the difference modulo 2^32: the range check below is on the sum).
    let mut groups: Vec<(usize, IntValue<'ctx>, i64)> = Vec::new();
    let mut members = Vec::with_capacity(plan.accesses.len());
    for (i, a) in plan.accesses.iter().enumerate() {
        let d: i64 = a
            .expr
            .coefs
            .iter()
            .zip(&plan.ivs)
            .map(|(c, iv)| c * iv.step)
            .sum();
        let group = match groups
            .iter()
            .position(|&(leader, _, _)| plan.accesses[leader].expr.same_but_constant(&a.expr))
        {
            Some(g) => g,
            None => {
                let x0 = emit_at_start(builder, a.x, plan)?;
                let a0 = builder.build_int_z_extend(x0, i64t, "va0")?;
                groups.push((i, a0, d));
                groups.len() - 1
            }
        };
        let leader = groups[group].0;
        let delta = i64::from(a.expr.konst.wrapping_sub(plan.accesses[leader].expr.konst) as i32);
        members.push((group, delta));
    }
    let mut spans = Vec::with_capacity(groups.len());
    // One check per group, on the lowest and highest `X` of any of its
    // accesses in any iteration: both in [0, 2^32) (no `X` wrapped, and
    // every access's `zext(X)` lies between them), and the highest times
    // the largest scale plus the largest `offset + size` within the memory.
    for (g, &(_, a0, d)) in groups.iter().enumerate() {
        let of_group = || {
            members
                .iter()
                .zip(&plan.accesses)
                .filter(move |((group, _), _)| *group == g)
        };
        let min_delta = of_group().map(|((_, delta), _)| *delta).min().unwrap_or(0);
        let max_delta = of_group().map(|((_, delta), _)| *delta).max().unwrap_or(0);
        let scale = of_group().map(|(_, a)| a.scale).max().unwrap_or(1);
        let min_scale = of_group().map(|(_, a)| a.scale).min().unwrap_or(1);
        let min_offset = of_group().map(|(_, a)| a.offset).min().unwrap_or(0);
        let reach = of_group()
            .map(|(_, a)| a.offset + a.size + a.slack)
            .max()
            .unwrap_or(0);
        let moved = builder.build_int_mul(last, i64t.const_int(d as u64, true), "vmove")?;
        let zero = i64t.const_zero();
        let (lo_moved, hi_moved) = if d >= 0 { (zero, moved) } else { (moved, zero) };
        let lo = builder.build_int_add(a0, i64t.const_int(min_delta as u64, true), "vlo")?;
        let lo = builder.build_int_add(lo, lo_moved, "vlo")?;
        let hi = builder.build_int_add(a0, i64t.const_int(max_delta as u64, true), "vhi")?;
        let hi = builder.build_int_add(hi, hi_moved, "vhi")?;
        let lo_ok = builder.build_int_compare(IntPredicate::SGE, lo, zero, "vok")?;
        let hi_ok = builder.build_int_compare(IntPredicate::ULT, hi, limit, "vok")?;
        let fits = builder.build_and(lo_ok, hi_ok, "vok")?;
        // `hi < 2^32` once `fits` holds, so nothing below overflows.
        let hi = builder
            .build_select(fits, hi, zero, "vhi")?
            .into_int_value();
        let end = builder.build_int_mul(hi, i64t.const_int(scale, false), "vend")?;
        let end = builder.build_int_add(end, i64t.const_int(reach, false), "vend")?;
        let inside = builder.build_int_compare(IntPredicate::ULE, end, len, "vok")?;
        ok = builder.build_and(ok, fits, "vok")?;
        ok = builder.build_and(ok, inside, "vok")?;
        // The group's bytes lie in `[low, end)`.
        let lo = builder
            .build_select(fits, lo, zero, "vlow")?
            .into_int_value();
        let low = builder.build_int_mul(lo, i64t.const_int(min_scale, false), "vlow")?;
        let low = builder.build_int_add(low, i64t.const_int(min_offset, false), "vlow")?;
        spans.push((low, end));
    }
    // Groups that must not overlap for the copy to run, so that its
    // accesses can say so to LLVM (`scopes`, below).
    let tiny = last
        .get_zero_extended_constant()
        .is_some_and(|l| l < TINY_TRIP_COUNT - 1);
    // (And in a loop with an ordered exit test: see `Ordered`.)
    let ordered = matches!(plan.test, ExitTest::Ordered(_));
    let pairs = if tiny || ordered {
        apart_pairs(plan, &groups, &members)
    } else {
        Vec::new()
    };
    for &(g, h) in &pairs {
        let ((low_g, end_g), (low_h, end_h)) = (spans[g], spans[h]);
        let below = builder.build_int_compare(IntPredicate::ULE, end_g, low_h, "vapart")?;
        let above = builder.build_int_compare(IntPredicate::ULE, end_h, low_g, "vapart")?;
        let apart = builder.build_or(below, above, "vapart")?;
        ok = builder.build_and(ok, apart, "vok")?;
    }
    let scopes = alias_scopes(cx, builder, module, groups.len(), &pairs)?;

    // The copy. Its accesses take their addresses from 64-bit induction
    // variables, one per group, `A0 + k * d (+ delta)`, which the check
    // proved equal to `zext(X)` in every iteration and which LLVM's
    // vectoriser reads as consecutive (and, within a group, as one
    // interleaved group) without a wrap check of its own.
    //
    // With an interruption check (`plan.check`), the copy runs in chunks
    // of at most `CHUNK` iterations, each after one copy of the check:
    // `chunk` (the check, the chunk's length) -> `fast` (the loop, counted
    // by `k`) -> `chunk_end` (iterations left, back to `chunk`).
    let fast = cx.insert_basic_block_after(plan.lp.latch, "versioned");
    //
    // A loop whose trip count is a constant that fits in one chunk gets
    // its copy whole, after one copy of the check (`single`): then the
    // copy starts from the preheader's values and runs to the loop's own
    // bound, as in a plain build, and LLVM's vectoriser proves what it
    // proves there. (Chunked, the copy starts each chunk from phis whose
    // range scalar evolution cannot bound, so the vectoriser guards it
    // with run-time alias and wrap checks; matmul's `c[j]` against
    // `c[j+1]` always failed them.)
    let mut single = None;
    let mut chunked = None;
    // An ordered exit test leaves the copy counting its iterations
    // instead (see below), to `trips` or to a chunk's length.
    let trips = if plan.check.is_some() || ordered {
        builder.build_int_add(last, i64t.const_int(1, false), "vtrips")?
    } else {
        last
    };
    if let Some(check) = plan.check {
        let fits = trips
            .get_zero_extended_constant()
            .is_some_and(|t| t <= chunk_iterations(plan.lp));
        if fits {
            single = Some(check_block(cx, builder, plan, check, fast)?);
        } else {
            chunked = Some(chunk_blocks(cx, builder, plan, check, fast, (trips, from))?);
        }
    }
    // Where the copy's loop is entered from and left from.
    let entry = chunked.map_or(single.unwrap_or(from), |c| c.chunk);
    let out = chunked.map_or(fast, |c| c.end);
    // The phis of `chunk` that take a value from the preheader once and
    // from the end of each chunk after, with that value.
    let mut carried: Vec<(PhiValue<'ctx>, BasicValueEnum<'ctx>)> = Vec::new();
    let enter = |start: BasicValueEnum<'ctx>, name: &str| {
        let Some(c) = chunked else {
            return Ok::<_, CompileError>((start, None));
        };
        let here = builder.get_insert_block();
        builder.position_before(&c.first);
        let phi = builder.build_phi(start.get_type(), name)?;
        phi.add_incoming(&[(&start, from)]);
        if let Some(bb) = here {
            builder.position_at_end(bb);
        }
        Ok((phi.as_basic_value(), Some(phi)))
    };

    builder.position_at_end(fast);
    let mut map: HashMap<LLVMValueRef, BasicValueEnum<'ctx>> = HashMap::new();
    let mut phis = Vec::new();
    let mut addresses: Vec<PhiValue<'ctx>> = Vec::new();
    let mut counter: Option<PhiValue<'ctx>> = None;
    let mut access_index = 0;
    for inst in plan.lp.instructions() {
        if inst.get_opcode() == InstructionOpcode::Phi {
            let phi = PhiValue::try_from(inst)
                .map_err(|()| CompileError::Internal("loop versioning: phi".into()))?;
            let copy = builder.build_phi(phi.as_basic_value().get_type(), "v")?;
            map.insert(inst.as_value_ref(), copy.as_basic_value());
            phis.push((phi, copy));
            continue;
        }
        if inst.is_terminator() {
            for (phi, &(_, a0, d)) in addresses.iter().zip(&groups) {
                let next = builder.build_int_nsw_add(
                    phi.as_basic_value().into_int_value(),
                    i64t.const_int(d as u64, true),
                    "vaddr",
                )?;
                let (start, outer) = enter(a0.into(), "vaddr")?;
                phi.add_incoming(&[(&start, entry), (&next, fast)]);
                if let Some(outer) = outer {
                    carried.push((outer, next.into()));
                }
            }
            let latch = match counter {
                // The check proved that the ordered test ends the loop after
                // `trips` iterations; the copy counts them instead, which
                // scalar evolution reads as its trip count (it computes
                // none for `n -= 32; while (n > 15)`, so the vectoriser
                // would leave the copy alone), and a chunk counts its own
                // length.
                Some(counter) => {
                    let count = chunked.map_or(trips, |c| c.len);
                    let k = counter.as_basic_value().into_int_value();
                    let next = builder.build_int_nuw_add(k, i64t.const_int(1, false), "vcount")?;
                    counter.add_incoming(&[(&i64t.const_zero(), entry), (&next, fast)]);
                    let done = builder.build_int_compare(IntPredicate::EQ, next, count, "vdone")?;
                    let leave = chunked.map_or(plan.exit, |c| c.end);
                    builder.build_conditional_branch(done, leave, fast)?
                }
                None => {
                    let cond = operand_value(inst, 0)
                        .and_then(|c| map.get(&c.as_value_ref()).copied())
                        .ok_or_else(|| {
                            CompileError::Internal("loop versioning: exit test".into())
                        })?;
                    let succ = |k| {
                        let bb = operand_block(inst, k).ok_or_else(|| {
                            CompileError::Internal("loop versioning: successor".into())
                        })?;
                        Ok::<_, CompileError>(match (bb == plan.lp.header, chunked) {
                            (true, _) => fast,
                            (false, Some(c)) => c.end,
                            (false, None) => bb,
                        })
                    };
                    // A chunk's exit test gets its own copy, whose bound changes
                    // below.
                    let cond = match (chunked, cond.as_instruction_value()) {
                        (Some(_), Some(test)) => {
                            let own = test.explicit_clone();
                            builder.insert_instruction(&own, None);
                            basic_value(own).ok_or_else(|| {
                                CompileError::Internal("loop versioning: exit test".into())
                            })?
                        }
                        _ => cond,
                    };
                    builder.build_conditional_branch(cond.into_int_value(), succ(2)?, succ(1)?)?
                }
            };
            if only_gathers(plan, &groups, &members) {
                forbid_vectorising(cx, latch)?;
            }
            break;
        }
        if addresses.is_empty() {
            for _ in &groups {
                addresses.push(builder.build_phi(i64t, "vaddr")?);
            }
            if ordered {
                counter = Some(builder.build_phi(i64t, "vcount")?);
            }
        }
        let copy = inst.explicit_clone();
        builder.insert_instruction(&copy, None);
        remap(copy, &map);
        let is_access = matches!(
            copy.get_opcode(),
            InstructionOpcode::Load | InstructionOpcode::Store
        );
        if is_access && copy.get_volatile().unwrap_or(false) {
            copy.set_volatile(false)
                .map_err(|e| CompileError::Internal(format!("loop versioning: {e}")))?;
            let (a, &(group, delta)) = plan
                .accesses
                .get(access_index)
                .zip(members.get(access_index))
                .ok_or_else(|| CompileError::Internal("loop versioning: accesses".into()))?;
            let phi = addresses
                .get(group)
                .ok_or_else(|| CompileError::Internal("loop versioning: groups".into()))?;
            access_index += 1;
            if let Some(scope) = scopes.get(group) {
                scope.mark(cx, copy)?;
            }
            if a.slack > 0 {
                // Not affine: its own address (the check bounded it).
                if let Some(v) = basic_value(copy) {
                    map.insert(inst.as_value_ref(), v);
                }
                continue;
            }
            builder.position_before(&copy);
            let x = builder.build_int_nsw_add(
                phi.as_basic_value().into_int_value(),
                i64t.const_int(delta as u64, true),
                "vaddr",
            )?;
            let scaled = builder.build_int_nuw_mul(x, i64t.const_int(a.scale, false), "vaddr")?;
            let index =
                builder.build_int_nuw_add(scaled, i64t.const_int(a.offset, false), "vaddr")?;
            let ptr = crate::codegen::byte_gep(builder, cx, plan.base, index)?;
            let operand = if copy.get_opcode() == InstructionOpcode::Load {
                0
            } else {
                1
            };
            copy.set_operand(operand, ptr);
            builder.position_at_end(fast);
        }
        if let Some(v) = basic_value(copy) {
            map.insert(inst.as_value_ref(), v);
        }
    }
    let mapped = |v: BasicValueEnum<'ctx>| map.get(&v.as_value_ref()).copied().unwrap_or(v);
    let mut exit_iv_start = None;
    for (phi, copy) in &phis {
        for (v, bb) in phi.get_incomings() {
            if bb == plan.lp.latch {
                copy.add_incoming(&[(&mapped(v), fast)]);
            } else {
                let (start, outer) = enter(v, "v")?;
                copy.add_incoming(&[(&start, entry)]);
                if let ExitTest::Unequal { iv, .. } = plan.test {
                    if phi.as_value_ref() == plan.ivs[iv].phi.as_value_ref() {
                        exit_iv_start = Some(start.into_int_value());
                    }
                }
                if let Some(outer) = outer {
                    let next = phi
                        .get_incomings()
                        .find(|&(_, b)| b == plan.lp.latch)
                        .map(|(v, _)| mapped(v))
                        .ok_or_else(|| CompileError::Internal("loop versioning: phi".into()))?;
                    carried.push((outer, next));
                }
            }
        }
    }

    // Each chunk starts with the values the last one ended with, and its
    // copy of the exit test compares with where the chunk ends: the exit
    // induction variable `len` steps on (`len - 1` when the test reads its
    // value before the step). The check bounded every step count of the
    // loop below 2^32, so the test first holds on the chunk's last
    // iteration. (The same test as the loop's, with another bound, so
    // LLVM's analyses see the loop they saw in a plain build.)
    if let Some(c) = chunked {
        for (outer, next) in &carried {
            outer.add_incoming(&[(next, c.end)]);
        }
    }
    // (An ordered test's copy counts its chunk's length instead.)
    if let (Some(c), ExitTest::Unequal { iv, on_next, bound }) = (chunked, plan.test) {
        let internal = |what: &str| CompileError::Internal(format!("loop versioning: {what}"));
        let iv = &plan.ivs[iv];
        let iv_start = exit_iv_start.ok_or_else(|| internal("exit iv"))?;
        let i32t = cx.i32_type();
        let term = c
            .chunk
            .get_terminator()
            .ok_or_else(|| internal("chunk branch"))?;
        builder.position_before(&term);
        let mut steps = builder.build_int_truncate(c.len, i32t, "vsteps")?;
        if !on_next {
            steps = builder.build_int_sub(steps, i32t.const_int(1, false), "vsteps")?;
        }
        let moved = builder.build_int_mul(steps, i32t.const_int(iv.step as u64, true), "vbound")?;
        let chunk_bound = builder.build_int_add(iv_start, moved, "vbound")?;
        let test = fast
            .get_terminator()
            .and_then(|br| operand_value(br, 0))
            .and_then(as_instruction)
            .ok_or_else(|| internal("copy exit test"))?;
        let k = if operand_ref(test, 0) == Some(bound.as_value_ref()) {
            0
        } else {
            1
        };
        test.set_operand(k, chunk_bound);
    }

    // The exit's phis take the copy's values from the copy.
    for inst in plan.exit.get_instructions() {
        if inst.get_opcode() != InstructionOpcode::Phi {
            break;
        }
        let phi = PhiValue::try_from(inst)
            .map_err(|()| CompileError::Internal("loop versioning: exit phi".into()))?;
        let from_loop = phi.get_incomings().find(|&(_, bb)| bb == plan.lp.latch);
        if let Some((v, _)) = from_loop {
            let v = mapped(v);
            phi.add_incoming(&[(&v, out)]);
        }
    }
    // Other uses after the loop read a phi of both versions.
    if !plan.escaping.is_empty() {
        debug_assert!(plan.exit_dedicated);
        let first = plan
            .exit
            .get_first_instruction()
            .ok_or_else(|| CompileError::Internal("loop versioning: empty exit".into()))?;
        for (v, uses) in &plan.escaping {
            let copy = map
                .get(v)
                .copied()
                .ok_or_else(|| CompileError::Internal("loop versioning: escaping".into()))?;
            let orig = plan
                .lp
                .instructions()
                .into_iter()
                .find(|i| i.as_value_ref() == *v)
                .and_then(basic_value)
                .ok_or_else(|| CompileError::Internal("loop versioning: escaping".into()))?;
            builder.position_before(&first);
            let join = builder.build_phi(orig.get_type(), "vjoin")?;
            join.add_incoming(&[(&orig, plan.lp.latch), (&copy, out)]);
            for (user, k) in uses {
                user.set_operand(*k, join.as_basic_value());
            }
        }
    }

    // Choose.
    let copy = chunked.map_or(single.unwrap_or(fast), |c| c.chunk);
    if from == plan.preheader {
        builder.position_before(&pre_term);
        builder.build_conditional_branch(ok, copy, plan.lp.header)?;
        pre_term.erase_from_basic_block();
    } else {
        builder.position_at_end(from);
        builder.build_conditional_branch(ok, copy, plan.lp.header)?;
        for inst in plan.lp.header.get_instructions() {
            let Ok(phi) = PhiValue::try_from(inst) else {
                break;
            };
            let start = phi.get_incomings().find(|&(_, bb)| bb == plan.preheader);
            if let Some((v, _)) = start {
                phi.add_incoming(&[(&v, from)]);
            }
        }
    }
    Ok(())
}

/// The blocks around a chunked copy (see [`chunk_blocks`]).
#[derive(Clone, Copy)]
struct Chunks<'ctx> {
    /// The check and the chunk's length; entered from the preheader and
    /// from `end`.
    chunk: BasicBlock<'ctx>,
    /// `chunk`'s first instruction after its phis, where the copy's
    /// carried values get their phis.
    first: InstructionValue<'ctx>,
    /// The chunk's length, at most [`chunk_iterations`].
    len: IntValue<'ctx>,
    /// After a chunk: subtracts its length from the iterations left, and
    /// leaves for the exit when none are.
    end: BasicBlock<'ctx>,
}

/// Builds `chunk` (before `fast`, the copy's loop block) and `end`
/// (after it) for a copy that runs `trips` iterations in chunks: `chunk`
/// repeats the loop's interruption `check`, then runs at most
/// [`chunk_iterations`] iterations of the copy; `end` subtracts them from
/// what is left and goes back to `chunk` or on to the exit.
fn chunk_blocks<'ctx>(
    cx: &'ctx Context,
    builder: &Builder<'ctx>,
    plan: &Plan<'ctx>,
    check: Check<'ctx>,
    fast: BasicBlock<'ctx>,
    (trips, from): (IntValue<'ctx>, BasicBlock<'ctx>),
) -> Result<Chunks<'ctx>, CompileError> {
    let i64t = cx.i64_type();
    let chunk = cx.insert_basic_block_after(plan.lp.latch, "versioned_chunk");
    let end = cx.insert_basic_block_after(fast, "versioned_next");

    builder.position_at_end(chunk);
    let left = builder.build_phi(i64t, "vleft")?;
    let (load, trap_if) = clone_check(builder, check)?;
    let left_v = left.as_basic_value().into_int_value();
    let max = i64t.const_int(chunk_iterations(plan.lp), false);
    let short = builder.build_int_compare(IntPredicate::ULT, left_v, max, "vshort")?;
    let len = builder
        .build_select(short, left_v, max, "vchunk")?
        .into_int_value();
    check_branch(cx, builder, check, trap_if, fast)?;

    builder.position_at_end(end);
    let rest = builder.build_int_nuw_sub(left_v, len, "vleft")?;
    left.add_incoming(&[(&trips, from), (&rest, end)]);
    let finished =
        builder.build_int_compare(IntPredicate::EQ, rest, i64t.const_zero(), "vfinished")?;
    builder.build_conditional_branch(finished, plan.exit, chunk)?;
    Ok(Chunks {
        chunk,
        first: load,
        len,
        end,
    })
}

/// A block (after the loop's latch) that repeats the loop's interruption
/// `check` once and goes on to `fast`, the copy of a loop that runs in
/// one chunk.
fn check_block<'ctx>(
    cx: &'ctx Context,
    builder: &Builder<'ctx>,
    plan: &Plan<'ctx>,
    check: Check<'ctx>,
    fast: BasicBlock<'ctx>,
) -> Result<BasicBlock<'ctx>, CompileError> {
    let block = cx.insert_basic_block_after(plan.lp.latch, "versioned_check");
    let here = builder.get_insert_block();
    builder.position_at_end(block);
    let (_, trap_if) = clone_check(builder, check)?;
    check_branch(cx, builder, check, trap_if, fast)?;
    if let Some(bb) = here {
        builder.position_at_end(bb);
    }
    Ok(block)
}

/// Copies of `check`'s load and compare at the builder's position: the
/// load, and whether to trap.
fn clone_check<'ctx>(
    builder: &Builder<'ctx>,
    check: Check<'ctx>,
) -> Result<(InstructionValue<'ctx>, IntValue<'ctx>), CompileError> {
    let internal = |what: &str| CompileError::Internal(format!("loop versioning: {what}"));
    let load = check.load.explicit_clone();
    builder.insert_instruction(&load, None);
    let compare = check.compare.explicit_clone();
    builder.insert_instruction(&compare, None);
    compare.set_operand(0, basic_value(load).ok_or_else(|| internal("check load"))?);
    let trap_if = basic_value(compare)
        .map(BasicValueEnum::into_int_value)
        .ok_or_else(|| internal("check compare"))?;
    Ok((load, trap_if))
}

/// The branch of a copied check: to `check`'s trap block when `trap_if`
/// holds (weighted as the original), else to `on`.
fn check_branch<'ctx>(
    cx: &'ctx Context,
    builder: &Builder<'ctx>,
    check: Check<'ctx>,
    trap_if: IntValue<'ctx>,
    on: BasicBlock<'ctx>,
) -> Result<(), CompileError> {
    let (t, f) = if check.trap_on_true {
        (check.trap, on)
    } else {
        (on, check.trap)
    };
    let br = builder.build_conditional_branch(trap_if, t, f)?;
    let prof = cx.get_kind_id("prof");
    if let Some(weights) = check.branch.get_metadata(prof) {
        br.set_metadata(weights, prof)
            .map_err(|e| CompileError::Internal(format!("loop versioning: {e}")))?;
    }
    Ok(())
}

/// Iterations of a chunk of the copy of `lp`, between two interruption
/// checks: enough that the check costs little, few enough that the time
/// between checks stays short whatever the body, since it is bounded by
/// `CHECK_BUDGET` of the loop's instructions.
fn chunk_iterations(lp: Loop<'_>) -> u64 {
    let size = lp.instructions().len().max(1) as u64;
    let n = (CHECK_BUDGET / size).max(1);
    // A power of two, a multiple of any vector width and unroll factor.
    1 << n.ilog2()
}

/// Largest interleave group LLVM's loop vectoriser forms (its
/// `max-interleave-group-factor`, 8 in LLVM 19): a group of accesses that
/// spans more elements per iteration is no group to it, so it widens each
/// member as a strided access, which (with `prefer-no-gather`,
/// `target.rs`) means one scalar load or store per lane.
const MAX_INTERLEAVE_FACTOR: u64 = 8;

/// Whether the vectoriser could only gather the copy's accesses: a group
/// of several accesses (a loop unrolled before versioning: clang's for
/// wasm, then `-O2`'s) that moves more than [`MAX_INTERLEAVE_FACTOR`] of
/// its smallest access per iteration. `-O2` unrolls by what the CPU's cost
/// model says, so this happens on some CPUs only: for `--cpu native` on
/// Zen 5 it unrolled saxpy's already unrolled `idot` loop by 4 more (16
/// accesses of each array per iteration), and the vectoriser turned the
/// copy into 64-lane vectors of scalar loads and `insertelement`s, three
/// times slower than the loop it replaced; on the default CPU the same
/// loop has 4 per array and becomes wide loads and shuffles. (One strided
/// access alone, a matrix column, stays the cost model's choice, as in a
/// plain build.)
fn only_gathers(
    plan: &Plan<'_>,
    groups: &[(usize, IntValue<'_>, i64)],
    members: &[(usize, i64)],
) -> bool {
    groups.iter().enumerate().any(|(g, &(_, _, d))| {
        let of_group = || {
            members
                .iter()
                .zip(&plan.accesses)
                .filter(move |((group, _), _)| *group == g)
                .map(|(_, a)| a)
        };
        let scale = of_group().map(|a| a.scale).max().unwrap_or(1);
        let size = of_group().map(|a| a.size).min().unwrap_or(1).max(1);
        of_group().count() > 1
            && d.unsigned_abs().saturating_mul(scale) > MAX_INTERLEAVE_FACTOR * size
    })
}

/// LLVM's `vectorizer-min-trip-count`: the vectoriser adds no run-time
/// checks to a loop known to run fewer times than this, so only there are
/// groups proven apart ([`apart_pairs`]).
const TINY_TRIP_COUNT: u64 = 16;

/// Most pairs of groups [`apart_pairs`] has the check compare; a loop
/// whose groups would need more keeps them unproven (the vectoriser then
/// checks what it needs itself, as before).
const MAX_APART_PAIRS: usize = 10;

/// The pairs of access groups `(g, h)`, `g < h`, that the check requires
/// not to overlap: those where both move (`d != 0`) and at least one of
/// the two writes (two groups that only read may share bytes). Groups are
/// apart when the bytes one touches in all iterations lie wholly below the
/// other's.
///
/// Why: within a group LLVM sees how far apart the accesses are (they
/// differ by constants); across groups it cannot, so the vectoriser guards
/// the copy with run-time alias checks of its own, and refuses outright
/// where it may not add them: a loop with a known trip count under 16
/// (LLVM's `vectorizer-min-trip-count`), such as a 32-byte
/// `swap_bytes(a, b, 32)`, which clang's wasm build unrolled by 4 into 8
/// iterations. Proving the groups apart in the check, and saying so with
/// scoped `noalias` metadata ([`alias_scopes`]), removes the need. Only
/// there: elsewhere the vectoriser's own checks are better, since they
/// test the distance between two groups, not their whole ranges, and so
/// still pass where a `memmove` shifts bytes within a page (sqlite's
/// `memmove` took 85% more instructions when every copy needed its groups
/// apart, its overlapping calls falling back to the exact loop).
///
/// A group that stays put (a field of one struct updated in every
/// iteration) gains nothing from it: the vectoriser does not widen a loop
/// that stores to one address, and it checks a fixed location against a
/// moving one itself where it needs to. There the comparison would only
/// cost every entry to the loop: nbody's inner loop, which runs one to
/// four times per entry, took 6.4% more instructions with it.
fn apart_pairs(
    plan: &Plan<'_>,
    groups: &[(usize, IntValue<'_>, i64)],
    members: &[(usize, i64)],
) -> Vec<(usize, usize)> {
    let writes: Vec<bool> = (0..groups.len())
        .map(|g| {
            members
                .iter()
                .zip(&plan.accesses)
                .any(|((group, _), a)| *group == g && a.store)
        })
        .collect();
    let moves = |g: usize| groups[g].2 != 0;
    let pairs: Vec<(usize, usize)> = (0..groups.len())
        .flat_map(|g| (g + 1..groups.len()).map(move |h| (g, h)))
        .filter(|&(g, h)| (writes[g] || writes[h]) && moves(g) && moves(h))
        .collect();
    if pairs.len() > MAX_APART_PAIRS {
        Vec::new()
    } else {
        pairs
    }
}

/// What the copy's accesses of one group say to LLVM's alias analysis.
struct GroupScope<'ctx> {
    /// `!alias.scope`: the group's own scope.
    scope: MetadataValue<'ctx>,
    /// `!noalias`: the scopes of the groups the check proved apart from
    /// this one, if any.
    noalias: Option<MetadataValue<'ctx>>,
}

impl<'ctx> GroupScope<'ctx> {
    fn mark(&self, cx: &'ctx Context, access: InstructionValue<'ctx>) -> Result<(), CompileError> {
        let err = |e| CompileError::Internal(format!("loop versioning: alias scope: {e}"));
        access
            .set_metadata(self.scope, cx.get_kind_id("alias.scope"))
            .map_err(err)?;
        if let Some(noalias) = self.noalias {
            access
                .set_metadata(noalias, cx.get_kind_id("noalias"))
                .map_err(err)?;
        }
        Ok(())
    }
}

/// One alias scope per group, in a domain of their own, when `pairs` is
/// not empty; each scope declared at the builder's position (the
/// preheader, before the branch to the copy) by
/// `llvm.experimental.noalias.scope.decl`.
///
/// Rule: the scopes say something only about accesses of one run of the
/// copy, since the check proves the groups apart for that run alone. The
/// declaration is what makes them per run: a pass that duplicates the
/// preheader with the copy (unrolling a loop around it) gives each copy
/// scopes of its own, and LLVM's loop access analysis drops scopes
/// declared inside the loop it analyses; metadata alone would claim the
/// groups apart across runs, with other addresses.
fn alias_scopes<'ctx>(
    cx: &'ctx Context,
    builder: &Builder<'ctx>,
    module: &Module<'ctx>,
    groups: usize,
    pairs: &[(usize, usize)],
) -> Result<Vec<GroupScope<'ctx>>, CompileError> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    const DECL: &str = "llvm.experimental.noalias.scope.decl";
    let decl = inkwell::intrinsics::Intrinsic::find(DECL)
        .and_then(|i| i.get_declaration(module, &[]))
        .ok_or_else(|| CompileError::Internal(format!("loop versioning: no {DECL}")))?;
    let domain = distinct_node(cx, &[cx.metadata_string("wasmo versioned loop").into()]);
    let nodes: Vec<MetadataValue<'ctx>> = (0..groups)
        .map(|_| distinct_node(cx, &[domain.into()]))
        .collect();
    let scopes: Vec<MetadataValue<'ctx>> = nodes
        .iter()
        .map(|&node| cx.metadata_node(&[node.into()]))
        .collect();
    for &scope in &scopes {
        builder.build_call(decl, &[scope.into()], "")?;
    }
    Ok((0..groups)
        .map(|g| {
            let apart: Vec<BasicMetadataValueEnum<'ctx>> = pairs
                .iter()
                .filter_map(|&(a, b)| match (a == g, b == g) {
                    (true, _) => Some(b),
                    (_, true) => Some(a),
                    _ => None,
                })
                .map(|h| nodes[h].into())
                .collect();
            GroupScope {
                scope: scopes[g],
                noalias: (!apart.is_empty()).then(|| cx.metadata_node(&apart)),
            }
        })
        .collect())
}

/// Marks the loop that `latch` (its back-edge branch) closes as one the
/// loop vectoriser leaves alone: `!llvm.loop !{self,
/// !{!"llvm.loop.vectorize.enable", i1 false}}`.
fn forbid_vectorising<'ctx>(
    cx: &'ctx Context,
    latch: InstructionValue<'ctx>,
) -> Result<(), CompileError> {
    let option = cx.metadata_node(&[
        cx.metadata_string("llvm.loop.vectorize.enable").into(),
        cx.bool_type().const_zero().into(),
    ]);
    let id = distinct_node(cx, &[option.into()]);
    latch
        .set_metadata(id, cx.get_kind_id("llvm.loop"))
        .map_err(|e| CompileError::Internal(format!("loop versioning: loop ID: {e}")))
}

/// A distinct metadata node `!{self, ops...}`: a loop ID, an alias scope
/// or an alias domain, whose identity is the node itself.
fn distinct_node<'ctx>(
    cx: &'ctx Context,
    ops: &[BasicMetadataValueEnum<'ctx>],
) -> MetadataValue<'ctx> {
    use llvm_sys::core::{LLVMMDNodeInContext2, LLVMMetadataAsValue, LLVMValueAsMetadata};
    use llvm_sys::debuginfo::{LLVMMetadataReplaceAllUsesWith, LLVMTemporaryMDNode};
    #[expect(
        unsafe_code,
        reason = "a node that refers to itself is built only by the raw C API"
    )]
    // SAFETY: every reference passed is live: the context is `cx`, and each
    // of `ops` is metadata or a constant of `cx` (a node wrapped as a value,
    // which `LLVMValueAsMetadata` unwraps, or a constant, which it wraps).
    // The temporary node is made with no operands (a null array with count
    // 0), used as the node's first operand, and then replaced by the node
    // itself and deleted by `LLVMMetadataReplaceAllUsesWith` (LLVM's
    // `MDNode::replaceAllUsesWith` plus `deleteTemporary`), which makes the
    // uniqued node self-referential and so distinct; nothing refers to the
    // temporary afterwards. The array passed to `LLVMMDNodeInContext2` has
    // the length passed with it, and LLVM copies it. `MetadataValue::new`
    // gets a metadata-as-value of `cx` (it asserts exactly that).
    unsafe {
        let ctx = cx.raw();
        let temp = LLVMTemporaryMDNode(ctx, std::ptr::null_mut(), 0);
        let mut raw = vec![temp];
        raw.extend(ops.iter().map(|op| LLVMValueAsMetadata(op.as_value_ref())));
        let node = LLVMMDNodeInContext2(ctx, raw.as_mut_ptr(), raw.len());
        LLVMMetadataReplaceAllUsesWith(temp, node);
        MetadataValue::new(LLVMMetadataAsValue(ctx, node))
    }
}

/// Points `copy`'s operands that are loop instructions at their copies.
fn remap<'ctx>(copy: InstructionValue<'ctx>, map: &HashMap<LLVMValueRef, BasicValueEnum<'ctx>>) {
    for k in 0..copy.get_num_operands() {
        if let Some(v) = operand_value(copy, k) {
            if let Some(&c) = map.get(&v.as_value_ref()) {
                copy.set_operand(k, c);
            }
        }
    }
}

/// An instruction's result as a value (the types [`analyse`] admits).
fn basic_value(inst: InstructionValue<'_>) -> Option<BasicValueEnum<'_>> {
    match inst.get_type() {
        AnyTypeEnum::IntType(_) => IntValue::try_from(inst).ok().map(Into::into),
        AnyTypeEnum::FloatType(_) => inkwell::values::FloatValue::try_from(inst)
            .ok()
            .map(Into::into),
        AnyTypeEnum::PointerType(_) => PointerValue::try_from(inst).ok().map(Into::into),
        _ => None,
    }
}

fn gep8<'ctx>(
    builder: &Builder<'ctx>,
    cx: &'ctx Context,
    base: PointerValue<'ctx>,
    offset: u64,
) -> Result<PointerValue<'ctx>, CompileError> {
    crate::codegen::byte_gep(builder, cx, base, cx.i64_type().const_int(offset, false))
}

#[cfg(test)]
mod tests {
    /// The rule of [`super::VECTORISE_PIPELINE`]: no `instcombine` in it
    /// verifies its fixpoint (which aborts the process when it fails).
    #[test]
    fn no_instcombine_verifies_its_fixpoint() {
        let pipeline = super::VECTORISE_PIPELINE;
        let all = pipeline.matches("instcombine").count();
        assert!(all > 0, "{pipeline}");
        assert_eq!(
            all,
            pipeline.matches("instcombine<no-verify-fixpoint>").count(),
            "{pipeline}"
        );
    }
}
