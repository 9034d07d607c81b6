//! Structured control flow: blocks, loops, ifs, branches, returns and the
//! parametric operators.
//!
//! Every block has an end block in LLVM; values that flow to it (fall
//! through, `br`, `br_if`, `br_table`, `return`) are recorded per incoming
//! edge and become phi nodes when the block ends. A `br` to a loop goes to
//! its header, whose phis (one per loop parameter, multi-value) get an
//! entry per branch. Block parameters stay on the operand stack; an `if`
//! keeps its parameter values for the `else` arm. Rule: an incoming edge
//! is recorded for every CFG edge, duplicates included (`br_table` with
//! repeated targets), because LLVM wants one phi entry per edge.

use super::FuncTranslator;
use crate::codegen::{build_wasm_return, llvm_type};
use crate::module_info::val_type;
use crate::{CompileError, OptLevel};
use inkwell::basic_block::BasicBlock;
use inkwell::types::BasicTypeEnum;
use inkwell::values::{BasicValue, BasicValueEnum, IntValue, PhiValue};
use inkwell::IntPredicate;
use wasmo_artifact_format::{TrapCode, TypeIndex, ValType};

/// What kind of construct a control frame is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FrameKind<'ctx> {
    /// The function body; its end returns.
    Function,
    /// `block`.
    Block,
    /// `loop`; branches go to its header.
    Loop {
        /// The loop header.
        header: BasicBlock<'ctx>,
    },
    /// `if`, with its else block until `else` (or `end`) consumes it.
    If {
        /// Where the false edge of the condition goes.
        else_block: Option<BasicBlock<'ctx>>,
    },
    /// `try_table`: a block whose landing pad is the innermost handler
    /// until its `end` (see `exception.rs`).
    TryTable,
    /// A legacy `try`: its landing pad is the innermost handler until its
    /// first `catch`/`catch_all`/`delegate`; the landing pad takes the
    /// exception (`exn`) and branches to `next`, where the next `catch`
    /// tests its tag (`None` once a `catch_all` took everything).
    LegacyTry {
        /// The exception, as the landing pad took it.
        exn: IntValue<'ctx>,
        /// Where the next catch clause's test goes.
        next: Option<BasicBlock<'ctx>>,
        /// Whether a catch clause has started (the body is over).
        in_catch: bool,
    },
}

/// A block type: parameter and result types (multi-value).
type BlockSig<'ctx> = (Vec<BasicTypeEnum<'ctx>>, Vec<BasicTypeEnum<'ctx>>);

/// An open block, loop, if or the function body.
#[derive(Debug)]
pub(crate) struct ControlFrame<'ctx> {
    pub(super) kind: FrameKind<'ctx>,
    /// The block after the construct.
    end: BasicBlock<'ctx>,
    /// Types of the values the construct leaves on the stack.
    results: Vec<BasicTypeEnum<'ctx>>,
    /// Operand stack height when the construct was entered, below its
    /// parameters.
    pub(super) height: usize,
    /// A loop's header phis, one per parameter: branches to the loop feed
    /// them.
    loop_phis: Vec<PhiValue<'ctx>>,
    /// An `if`'s parameter values, which its `else` arm starts from again.
    if_params: Vec<BasicValueEnum<'ctx>>,
    /// How many handlers (`FuncTranslator::handlers`) were open when the
    /// construct was entered, its own not counted.
    pub(super) handlers: usize,
    /// Every edge into `end` with the values it carries.
    incoming: Vec<(BasicBlock<'ctx>, Vec<BasicValueEnum<'ctx>>)>,
}

impl<'ctx> ControlFrame<'ctx> {
    /// The frame of a function body whose `return` block is `end`.
    pub(crate) fn function(end: BasicBlock<'ctx>, results: Vec<BasicTypeEnum<'ctx>>) -> Self {
        ControlFrame {
            kind: FrameKind::Function,
            end,
            results,
            height: 0,
            loop_phis: Vec::new(),
            if_params: Vec::new(),
            handlers: 0,
            incoming: Vec::new(),
        }
    }

    /// How many values a branch to this frame carries.
    fn branch_arity(&self) -> usize {
        match self.kind {
            FrameKind::Loop { .. } => self.loop_phis.len(),
            _ => self.results.len(),
        }
    }
}

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    /// The parameter and result types of a block type.
    pub(super) fn block_sig(
        &self,
        blockty: wasmparser::BlockType,
    ) -> Result<BlockSig<'ctx>, CompileError> {
        let offset = self.offset as u64;
        match blockty {
            wasmparser::BlockType::Empty => Ok((Vec::new(), Vec::new())),
            wasmparser::BlockType::Type(t) => {
                Ok((Vec::new(), vec![llvm_type(self.cx, val_type(t, offset)?)?]))
            }
            wasmparser::BlockType::FuncType(index) => {
                let ty = self.env.info.type_at(TypeIndex(index))?;
                let types = |tys: &[ValType]| -> Result<Vec<_>, CompileError> {
                    tys.iter().map(|&t| llvm_type(self.cx, t)).collect()
                };
                Ok((types(&ty.params)?, types(&ty.results)?))
            }
        }
    }

    /// Opens a frame whose `params` values are the top of the stack (they
    /// stay there, above the frame's height).
    pub(super) fn push_frame(
        &mut self,
        kind: FrameKind<'ctx>,
        end: BasicBlock<'ctx>,
        (params, results): BlockSig<'ctx>,
    ) -> Result<&mut ControlFrame<'ctx>, CompileError> {
        let height = self
            .stack
            .len()
            .checked_sub(params.len())
            .ok_or_else(|| CompileError::Internal("block parameters underflow".into()))?;
        self.control.push(ControlFrame {
            kind,
            end,
            results,
            height,
            loop_phis: Vec::new(),
            if_params: Vec::new(),
            handlers: self.handlers.len(),
            incoming: Vec::new(),
        });
        self.top_frame_mut()
    }

    /// `block`.
    pub(crate) fn op_block(&mut self, blockty: wasmparser::BlockType) -> Result<(), CompileError> {
        let sig = self.block_sig(blockty)?;
        let end = self.new_block("block_end");
        self.push_frame(FrameKind::Block, end, sig)?;
        Ok(())
    }

    /// `loop`: its parameters become phis in the header, fed by the entry
    /// edge here and by every branch back.
    pub(crate) fn op_loop(&mut self, blockty: wasmparser::BlockType) -> Result<(), CompileError> {
        let sig = self.block_sig(blockty)?;
        let entry = self.current_block()?;
        let header = self.new_block("loop");
        let end = self.new_block("loop_end");
        self.builder.build_unconditional_branch(header)?;
        self.builder.position_at_end(header);
        let params = self.pop_n(sig.0.len())?;
        let mut phis = Vec::with_capacity(params.len());
        for v in params {
            let phi = self.builder.build_phi(v.get_type(), "loop_param")?;
            phi.add_incoming(&[(&v as &dyn BasicValue<'ctx>, entry)]);
            phis.push(phi);
        }
        self.stack
            .extend(phis.iter().map(|phi| phi.as_basic_value()));
        self.push_frame(FrameKind::Loop { header }, end, sig)?
            .loop_phis = phis;
        Ok(())
    }

    /// `if`.
    pub(crate) fn op_if(&mut self, blockty: wasmparser::BlockType) -> Result<(), CompileError> {
        let sig = self.block_sig(blockty)?;
        let cond = self.pop_condition()?;
        let then_block = self.new_block("then");
        let else_block = self.new_block("else");
        let end = self.new_block("if_end");
        self.builder
            .build_conditional_branch(cond, then_block, else_block)?;
        self.builder.position_at_end(then_block);
        let params_at = self
            .stack
            .len()
            .checked_sub(sig.0.len())
            .ok_or_else(|| CompileError::Internal("`if` parameters underflow".into()))?;
        let params = self.stack[params_at..].to_vec();
        self.push_frame(
            FrameKind::If {
                else_block: Some(else_block),
            },
            end,
            sig,
        )?
        .if_params = params;
        Ok(())
    }

    /// `else`.
    pub(crate) fn op_else(&mut self) -> Result<(), CompileError> {
        if self.reachable {
            self.fall_through_to_end()?;
        }
        let frame = self.top_frame_mut()?;
        let else_block = match &mut frame.kind {
            FrameKind::If { else_block } => else_block.take(),
            _ => None,
        }
        .ok_or_else(|| CompileError::Internal("`else` without `if`".into()))?;
        let height = frame.height;
        let params = frame.if_params.clone();
        self.stack.truncate(height);
        self.stack.extend(params);
        self.builder.position_at_end(else_block);
        self.reachable = true;
        Ok(())
    }

    /// `end` of a block, loop, if or the function body.
    pub(crate) fn op_end(&mut self) -> Result<(), CompileError> {
        if self.reachable {
            self.fall_through_to_end()?;
        }
        let frame = self
            .control
            .pop()
            .ok_or_else(|| CompileError::Internal("`end` without a block".into()))?;
        match frame.kind {
            FrameKind::TryTable => {
                self.handlers.pop();
            }
            FrameKind::LegacyTry {
                exn,
                next,
                in_catch,
            } => {
                self.end_legacy_try(exn, next, in_catch)?;
            }
            _ => {}
        }
        let mut incoming = frame.incoming;
        if let FrameKind::If {
            else_block: Some(else_block),
        } = frame.kind
        {
            // An `if` without `else`: the false edge passes the parameters
            // straight to the end (validation made their types the
            // results').
            if frame.results.len() != frame.if_params.len() {
                return Err(CompileError::Internal(
                    "`if` with results lacks `else`".into(),
                ));
            }
            self.builder.position_at_end(else_block);
            self.builder.build_unconditional_branch(frame.end)?;
            incoming.push((else_block, frame.if_params));
        }
        self.stack.truncate(frame.height);
        self.builder.position_at_end(frame.end);
        if incoming.is_empty() {
            // Nothing reaches the end: what follows is dead code.
            self.builder.build_unreachable()?;
            self.reachable = false;
            return Ok(());
        }
        let values = self.build_phis(&frame.results, &incoming)?;
        self.reachable = true;
        if let FrameKind::Function = frame.kind {
            build_wasm_return(self.builder, self.cx, self.function, &values)?;
            self.reachable = false;
            return Ok(());
        }
        self.stack.extend(values);
        Ok(())
    }

    /// One phi per result, fed by every incoming edge.
    fn build_phis(
        &mut self,
        types: &[BasicTypeEnum<'ctx>],
        incoming: &[(BasicBlock<'ctx>, Vec<BasicValueEnum<'ctx>>)],
    ) -> Result<Vec<BasicValueEnum<'ctx>>, CompileError> {
        let mut values = Vec::with_capacity(types.len());
        for (i, &ty) in types.iter().enumerate() {
            let phi = self.builder.build_phi(ty, "")?;
            for (block, edge_values) in incoming {
                let v = edge_values.get(i).ok_or_else(|| {
                    CompileError::Internal("branch carries too few values".into())
                })?;
                phi.add_incoming(&[(v as &dyn BasicValue<'ctx>, *block)]);
            }
            values.push(phi.as_basic_value());
        }
        Ok(values)
    }

    /// Falls off the end of the innermost frame (or the then-part of an
    /// `if` at `else`): records the edge and branches to its end block.
    pub(super) fn fall_through_to_end(&mut self) -> Result<(), CompileError> {
        let block = self.current_block()?;
        let arity = self.top_frame_mut()?.results.len();
        let values = self.pop_n(arity)?;
        let frame = self.top_frame_mut()?;
        frame.incoming.push((block, values));
        let end = frame.end;
        self.builder.build_unconditional_branch(end)?;
        Ok(())
    }

    pub(super) fn top_frame_mut(&mut self) -> Result<&mut ControlFrame<'ctx>, CompileError> {
        self.control
            .last_mut()
            .ok_or_else(|| CompileError::Internal("no open block".into()))
    }

    /// Records an edge from the current block to the frame `depth` levels
    /// out, carrying the top values of the stack (left in place), and
    /// returns the block to branch to.
    pub(super) fn branch_edge(&mut self, depth: u32) -> Result<BasicBlock<'ctx>, CompileError> {
        let block = self.current_block()?;
        let index = self
            .control
            .len()
            .checked_sub(1 + depth as usize)
            .ok_or_else(|| CompileError::Internal(format!("branch depth {depth} out of range")))?;
        let arity = self.control[index].branch_arity();
        let len = self.stack.len();
        let values = self
            .stack
            .get(len.saturating_sub(arity)..)
            .filter(|v| v.len() == arity)
            .ok_or_else(|| CompileError::Internal("operand stack underflow at branch".into()))?
            .to_vec();
        let frame = &mut self.control[index];
        match frame.kind {
            FrameKind::Loop { header } => {
                for (phi, v) in frame.loop_phis.iter().zip(&values) {
                    phi.add_incoming(&[(v as &dyn BasicValue<'ctx>, block)]);
                }
                Ok(header)
            }
            _ => {
                frame.incoming.push((block, values));
                Ok(frame.end)
            }
        }
    }

    /// Pops an `i32` condition and compares it with zero.
    fn pop_condition(&mut self) -> Result<IntValue<'ctx>, CompileError> {
        let v = self.pop_int()?;
        Ok(self.builder.build_int_compare(
            IntPredicate::NE,
            v,
            v.get_type().const_zero(),
            "cond",
        )?)
    }

    /// `br`.
    pub(crate) fn op_br(&mut self, depth: u32) -> Result<(), CompileError> {
        let target = self.branch_edge(depth)?;
        self.builder.build_unconditional_branch(target)?;
        self.reachable = false;
        Ok(())
    }

    /// `br_if`.
    pub(crate) fn op_br_if(&mut self, depth: u32) -> Result<(), CompileError> {
        let cond = self.pop_condition()?;
        let target = self.branch_edge(depth)?;
        let cont = self.new_block("br_if_else");
        self.builder.build_conditional_branch(cond, target, cont)?;
        self.builder.position_at_end(cont);
        Ok(())
    }

    /// `br_on_null`: pops a reference; branches without it when it is
    /// null, else pushes it back (now known non-null) and falls through.
    pub(crate) fn op_br_on_null(&mut self, depth: u32) -> Result<(), CompileError> {
        let r = self.pop_ref()?;
        let is_null = self.builder.build_is_null(r, "is_null")?;
        let target = self.branch_edge(depth)?;
        let cont = self.new_block("br_on_null_else");
        self.builder
            .build_conditional_branch(is_null, target, cont)?;
        self.builder.position_at_end(cont);
        self.push(r);
        Ok(())
    }

    /// `br_on_non_null`: branches with the reference (the last value the
    /// label takes) when it is not null, else drops it and falls through.
    pub(crate) fn op_br_on_non_null(&mut self, depth: u32) -> Result<(), CompileError> {
        let r = self.pop_ref()?;
        self.push(r);
        let is_null = self.builder.build_is_null(r, "is_null")?;
        let target = self.branch_edge(depth)?;
        let cont = self.new_block("br_on_non_null_else");
        self.builder
            .build_conditional_branch(is_null, cont, target)?;
        self.builder.position_at_end(cont);
        self.pop()?;
        Ok(())
    }

    /// `br_table`, as an LLVM `switch`; at `-O0` as compares
    /// ([`Self::br_table_compares`]).
    pub(crate) fn op_br_table(
        &mut self,
        targets: &wasmparser::BrTable<'_>,
    ) -> Result<(), CompileError> {
        let index = self.pop_int()?;
        if self.env.config.opt_level == OptLevel::O0 {
            self.br_table_compares(index, targets)?;
            self.reachable = false;
            return Ok(());
        }
        let mut cases = Vec::with_capacity(targets.len() as usize);
        for (i, depth) in targets.targets().enumerate() {
            let block = self.branch_edge(depth?)?;
            cases.push((index.get_type().const_int(i as u64, false), block));
        }
        let default = self.branch_edge(targets.default())?;
        self.builder.build_switch(index, default, &cases)?;
        self.reachable = false;
        Ok(())
    }

    /// `br_table` at `-O0`, as a balanced tree of unsigned `index < bound`
    /// compares. LLVM's fast instruction selector has no `switch` (nor
    /// `indirectbr`): it hands the whole block that ends in one to
    /// SelectionDAG, whose fixed cost per block is what `-O0` avoids. Runs
    /// of indices with the same target share one range (the default is
    /// the range from the table's length up), so a dispatch takes at most
    /// `ceil(log2(ranges))` compares; the tree has `ranges - 1` compares,
    /// each in a new block but the first. Every leaf is one CFG edge to
    /// its target, recorded as such ([`Self::branch_edge`]).
    fn br_table_compares(
        &mut self,
        index: IntValue<'ctx>,
        targets: &wasmparser::BrTable<'_>,
    ) -> Result<(), CompileError> {
        // (first index, depth), first indices increasing from 0.
        let mut ranges: Vec<(u64, u32)> = Vec::new();
        for (i, depth) in targets.targets().enumerate() {
            let depth = depth?;
            if ranges.last().map(|&(_, d)| d) != Some(depth) {
                ranges.push((i as u64, depth));
            }
        }
        let default = targets.default();
        if ranges.last().map(|&(_, d)| d) != Some(default) {
            ranges.push((u64::from(targets.len()), default));
        }
        self.compare_tree(index, &ranges)
    }

    /// Branches from the current block to the target of `index`, which
    /// lies in `ranges` (see [`Self::br_table_compares`]).
    fn compare_tree(
        &mut self,
        index: IntValue<'ctx>,
        ranges: &[(u64, u32)],
    ) -> Result<(), CompileError> {
        let (low, high) = match ranges {
            [] => return Err(CompileError::Internal("br_table without a target".into())),
            [(_, depth)] => {
                let target = self.branch_edge(*depth)?;
                self.builder.build_unconditional_branch(target)?;
                return Ok(());
            }
            _ => ranges.split_at(ranges.len() / 2),
        };
        let bound = index.get_type().const_int(high[0].0, false);
        let cond =
            self.builder
                .build_int_compare(IntPredicate::ULT, index, bound, "br_table_lt")?;
        let low_block = self.tree_child(low)?;
        let high_block = self.tree_child(high)?;
        self.builder
            .build_conditional_branch(cond, low_block, high_block)?;
        for (block, rest) in [(low_block, low), (high_block, high)] {
            if rest.len() > 1 {
                self.builder.position_at_end(block);
                self.compare_tree(index, rest)?;
            }
        }
        Ok(())
    }

    /// Where the current block's branch for `ranges` goes: a single
    /// range's target (its edge recorded now, from the current block), or
    /// a new block for the subtree of several.
    fn tree_child(&mut self, ranges: &[(u64, u32)]) -> Result<BasicBlock<'ctx>, CompileError> {
        match ranges {
            [(_, depth)] => self.branch_edge(*depth),
            _ => Ok(self.new_block("br_table")),
        }
    }

    /// `return`: a branch to the function body's frame.
    pub(crate) fn op_return(&mut self) -> Result<(), CompileError> {
        let depth = self
            .control
            .len()
            .checked_sub(1)
            .ok_or_else(|| CompileError::Internal("`return` outside a function".into()))?;
        self.op_br(depth as u32)
    }

    /// `unreachable`.
    pub(crate) fn op_unreachable(&mut self) -> Result<(), CompileError> {
        self.trap(TrapCode::UnreachableCodeReached)?;
        self.builder.build_unreachable()?;
        self.reachable = false;
        Ok(())
    }

    /// `drop`.
    pub(crate) fn op_drop(&mut self) -> Result<(), CompileError> {
        self.pop()?;
        Ok(())
    }

    /// `select`.
    pub(crate) fn op_select(&mut self) -> Result<(), CompileError> {
        let cond = self.pop_condition()?;
        let if_false = self.pop()?;
        let if_true = self.pop()?;
        let v = self
            .builder
            .build_select(cond, if_true, if_false, "select")?;
        self.push(v);
        Ok(())
    }
}
