//! Exception handling: `throw`, `throw_ref`, and `try_table` with
//! `catch`, `catch_ref`, `catch_all` and `catch_all_ref`, and the legacy
//! form (see ARCHITECTURE.md, "Exceptions").
//!
//! A `try_table` opens a landing pad, made when the block opens and kept
//! on `FuncTranslator::handlers` until its `end`; while it is open, every
//! call that may throw (wasm calls and the throw helpers, through
//! [`FuncTranslator::build_throwing_call`]) is an `invoke` that unwinds to
//! it. The landing pad catches everything at the LLVM level, takes the
//! exception (`wasmo_helper_exn_take`), tests the catch clauses in order
//! with `wasmo_helper_exn_is` and branches to the first match's label
//! with the payload (and the `exnref`, for the `_ref` clauses, as a
//! pointer-sized reference like every other); when none matches it rethrows
//! (`wasmo_helper_throw_ref`). Rule: the landing pad's own code lies
//! outside the `try_table`, so it is built before the block's handler is
//! pushed, and its rethrow unwinds to the enclosing handler.

use super::control::FrameKind;
use super::FuncTranslator;
use crate::codegen::{call_or_invoke, llvm_type, CallTarget};
use crate::CompileError;
use inkwell::basic_block::BasicBlock;
use inkwell::values::{
    BasicMetadataValueEnum, BasicValue, BasicValueEnum, CallSiteValue, FunctionValue, IntValue,
    PointerValue,
};
use inkwell::IntPredicate;
use wasmo_artifact_format::vmctx::VAL_RAW_SIZE;
use wasmo_artifact_format::{Helper, TypeIndex};

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    /// A helper call that may throw: an `invoke` unwinding to the
    /// innermost open `try_table`'s landing pad, or a plain call outside
    /// every one (the exception then leaves the function); wasm calls take
    /// the same path through `codegen::call_wasm`.
    pub(crate) fn build_throwing_call(
        &mut self,
        callee: FunctionValue<'ctx>,
        args: &[BasicMetadataValueEnum<'ctx>],
        name: &str,
    ) -> Result<CallSiteValue<'ctx>, CompileError> {
        let unwind = self.handlers.last().copied();
        call_or_invoke(
            self.builder,
            self.cx,
            CallTarget::Direct(callee),
            args,
            unwind,
            name,
        )
    }

    /// The payload types of tag `tag`.
    fn tag_params(&self, tag: u32) -> Result<Vec<wasmo_artifact_format::ValType>, CompileError> {
        let info = self.env.info;
        let ty = info
            .tag_types
            .get(tag as usize)
            .copied()
            .ok_or_else(|| CompileError::Internal(format!("tag {tag} out of range")))?;
        Ok(info.type_at(TypeIndex(ty.0))?.params.clone())
    }

    /// A `ValRaw` array of `n` slots in the entry block (so a loop does
    /// not grow the stack).
    fn entry_val_raw_array(&self, n: usize) -> Result<PointerValue<'ctx>, CompileError> {
        let here = self.current_block()?;
        let entry = self
            .function
            .get_first_basic_block()
            .ok_or_else(|| CompileError::Internal("function without entry block".into()))?;
        match entry.get_first_instruction() {
            Some(first) => self.builder.position_before(&first),
            None => self.builder.position_at_end(entry),
        }
        let ty = self.cx.i8_type().array_type(n.max(1) as u32 * VAL_RAW_SIZE);
        let array = self.builder.build_alloca(ty, "payload");
        self.builder.position_at_end(here);
        let array = array?;
        if let Some(inst) = array.as_instruction() {
            inst.set_alignment(16)
                .map_err(|e| CompileError::Internal(format!("alloca alignment: {e}")))?;
        }
        Ok(array)
    }

    /// `ValRaw` slot `i` of `array`.
    fn val_raw_slot(
        &self,
        array: PointerValue<'ctx>,
        i: usize,
    ) -> Result<PointerValue<'ctx>, CompileError> {
        crate::codegen::val_raw_slot(self.env, self.builder, array, i)
    }

    /// `throw tag`: the payload goes into a `ValRaw` array and the helper
    /// unwinds.
    pub(crate) fn op_throw(&mut self, tag: u32) -> Result<(), CompileError> {
        let params = self.tag_params(tag)?;
        let values = self.pop_n(params.len())?;
        let array = self.entry_val_raw_array(values.len())?;
        for (i, v) in values.into_iter().enumerate() {
            let slot = self.val_raw_slot(array, i)?;
            self.builder.build_store(slot, v)?;
        }
        let tag = self.cx.i32_type().const_int(u64::from(tag), false);
        let throw = self.env.helper(Helper::Throw);
        self.build_throwing_call(throw, &[self.vmctx.into(), tag.into(), array.into()], "")?;
        self.builder.build_unreachable()?;
        self.reachable = false;
        Ok(())
    }

    /// A landing pad that catches everything and takes the exception;
    /// the builder is left at its end. Its code lies outside the
    /// construct it serves (built before that construct's handler is
    /// pushed).
    fn build_landing_pad(&mut self) -> Result<(BasicBlock<'ctx>, IntValue<'ctx>), CompileError> {
        let lpad = self.new_block("lpad");
        self.builder.position_at_end(lpad);
        let ptr = self.env.ptr;
        let lp_ty = self
            .cx
            .struct_type(&[ptr.into(), self.cx.i32_type().into()], false);
        let personality = self.env.helper(Helper::Personality);
        self.function.set_personality_function(personality);
        let lp = self.builder.build_landing_pad(
            lp_ty,
            personality,
            &[ptr.const_null().into()],
            false,
            "lp",
        )?;
        let unwind_exn =
            self.builder
                .build_extract_value(lp.into_struct_value(), 0, "unwind_exn")?;
        let exn = self.call_helper(Helper::ExnTake, &[self.vmctx.into(), unwind_exn.into()])?;
        Ok((lpad, exn))
    }

    /// Tests whether `exn`'s tag is `tag`: returns the block taken when it
    /// is (the builder is left there, the payload pushed on the stack) and
    /// the block taken when it is not.
    fn catch_tag(
        &mut self,
        exn: IntValue<'ctx>,
        tag: u32,
    ) -> Result<BasicBlock<'ctx>, CompileError> {
        let tag_value = self.cx.i32_type().const_int(u64::from(tag), false);
        let is = self.call_helper(
            Helper::ExnIs,
            &[self.vmctx.into(), exn.into(), tag_value.into()],
        )?;
        let matched = self.builder.build_int_compare(
            IntPredicate::NE,
            is,
            is.get_type().const_zero(),
            "tag_matches",
        )?;
        let take = self.new_block("catch");
        let next = self.new_block("catch_next");
        self.builder.build_conditional_branch(matched, take, next)?;
        self.builder.position_at_end(take);
        let params = self.tag_params(tag)?;
        let payload = self
            .builder
            .build_call(
                self.env.helper(Helper::ExnPayload),
                &[self.vmctx.into(), exn.into()],
                "payload",
            )?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| CompileError::Internal("exn_payload returns nothing".into()))?
            .into_pointer_value();
        for (i, &p) in params.iter().enumerate() {
            let slot = self.val_raw_slot(payload, i)?;
            let v = self.builder.build_load(llvm_type(self.cx, p)?, slot, "")?;
            if let Some(load) = v.as_instruction_value() {
                load.set_alignment(8)
                    .map_err(|e| CompileError::Internal(format!("payload alignment: {e}")))?;
            }
            self.stack.push(v);
        }
        Ok(next)
    }

    /// A matched catch clause of a `try_table`: branches to `label` with
    /// the payload already on the stack, plus `exn` as an `exnref` for
    /// `catch_ref` and `catch_all_ref` (the caller drops what the clause
    /// pushed).
    fn op_catch_clause(
        &mut self,
        label: u32,
        exn: Option<IntValue<'ctx>>,
    ) -> Result<(), CompileError> {
        if let Some(exn) = exn {
            let exnref = self.builder.build_int_to_ptr(
                exn,
                crate::codegen::reference_type(self.cx),
                "exnref",
            )?;
            self.stack.push(exnref.into());
        }
        let target = self.branch_edge(label);
        self.builder.build_unconditional_branch(target?)?;
        Ok(())
    }

    /// `throw_ref`: rethrows the `exnref` on the stack (a null one traps,
    /// in the helper, with "null exception reference").
    pub(crate) fn op_throw_ref(&mut self) -> Result<(), CompileError> {
        let exnref = match self.pop()? {
            BasicValueEnum::PointerValue(v) => v,
            other => {
                return Err(CompileError::Internal(format!(
                    "throw_ref of a {} at {:#x}",
                    other.get_type(),
                    self.offset
                )))
            }
        };
        let exn = self
            .builder
            .build_ptr_to_int(exnref, self.cx.i64_type(), "exn")?;
        self.rethrow_exn(exn)?;
        self.reachable = false;
        Ok(())
    }

    /// Rethrows `exn` to the innermost open handler (or out of the
    /// function); the builder is left in a dead block.
    fn rethrow_exn(&mut self, exn: IntValue<'ctx>) -> Result<(), CompileError> {
        let rethrow = self.env.helper(Helper::ThrowRef);
        self.build_throwing_call(rethrow, &[self.vmctx.into(), exn.into()], "")?;
        self.builder.build_unreachable()?;
        Ok(())
    }

    /// `try_table`: builds the landing pad, then opens the block with it
    /// as the innermost handler.
    pub(crate) fn op_try_table(
        &mut self,
        try_table: &wasmparser::TryTable,
    ) -> Result<(), CompileError> {
        let sig = self.block_sig(try_table.ty)?;
        let resume = self.current_block()?;
        let (lpad, exn) = self.build_landing_pad()?;
        let mut caught_all = false;
        for catch in &try_table.catches {
            let (tag, label, with_ref) = match *catch {
                wasmparser::Catch::One { tag, label } => (Some(tag), label, false),
                wasmparser::Catch::OneRef { tag, label } => (Some(tag), label, true),
                wasmparser::Catch::All { label } => (None, label, false),
                wasmparser::Catch::AllRef { label } => (None, label, true),
            };
            let height = self.stack.len();
            let next = match tag {
                Some(tag) => Some(self.catch_tag(exn, tag)?),
                None => None,
            };
            self.op_catch_clause(label, with_ref.then_some(exn))?;
            self.stack.truncate(height);
            match next {
                Some(next) => self.builder.position_at_end(next),
                None => {
                    caught_all = true;
                    break;
                }
            }
        }
        if !caught_all {
            self.rethrow_exn(exn)?;
        }
        self.builder.position_at_end(resume);
        let end = self.new_block("try_table_end");
        self.push_frame(FrameKind::TryTable, end, sig)?;
        self.handlers.push(lpad);
        Ok(())
    }

    /// Legacy `try`: like a block whose landing pad is the innermost
    /// handler until its first `catch`, `catch_all` or `delegate`. The
    /// landing pad goes to a dispatch block the catch clauses fill in as
    /// they come.
    pub(crate) fn op_try(&mut self, blockty: wasmparser::BlockType) -> Result<(), CompileError> {
        let sig = self.block_sig(blockty)?;
        let resume = self.current_block()?;
        let (lpad, exn) = self.build_landing_pad()?;
        let next = self.new_block("try_dispatch");
        self.builder.build_unconditional_branch(next)?;
        self.builder.position_at_end(resume);
        let end = self.new_block("try_end");
        let kind = FrameKind::LegacyTry {
            exn,
            next: Some(next),
            in_catch: false,
        };
        self.push_frame(kind, end, sig)?;
        self.handlers.push(lpad);
        Ok(())
    }

    /// Legacy `catch tag` (`Some`) or `catch_all` (`None`): ends the try
    /// body or the previous clause, and starts this clause at the
    /// dispatch block.
    pub(crate) fn op_legacy_catch(&mut self, tag: Option<u32>) -> Result<(), CompileError> {
        if self.reachable {
            self.fall_through_to_end()?;
        }
        let frame = self.top_frame_mut()?;
        let FrameKind::LegacyTry {
            exn,
            next,
            in_catch,
        } = frame.kind
        else {
            return Err(CompileError::Internal("`catch` outside `try`".into()));
        };
        let height = frame.height;
        let next =
            next.ok_or_else(|| CompileError::Internal("`catch` after `catch_all`".into()))?;
        if !in_catch {
            self.handlers.pop();
        }
        self.stack.truncate(height);
        self.builder.position_at_end(next);
        let next = match tag {
            Some(tag) => Some(self.catch_tag(exn, tag)?),
            None => None,
        };
        self.top_frame_mut()?.kind = FrameKind::LegacyTry {
            exn,
            next,
            in_catch: true,
        };
        self.reachable = true;
        Ok(())
    }

    /// The `end` of a legacy `try` (its frame already popped): an
    /// exception no clause took is rethrown to the enclosing handler.
    pub(super) fn end_legacy_try(
        &mut self,
        exn: IntValue<'ctx>,
        next: Option<BasicBlock<'ctx>>,
        in_catch: bool,
    ) -> Result<(), CompileError> {
        if !in_catch {
            self.handlers.pop();
        }
        if let Some(next) = next {
            self.builder.position_at_end(next);
            self.rethrow_exn(exn)?;
        }
        Ok(())
    }

    /// Legacy `rethrow depth`: the exception of the enclosing catch clause
    /// `depth` labels out.
    pub(crate) fn op_rethrow(&mut self, depth: u32) -> Result<(), CompileError> {
        let index = self
            .control
            .len()
            .checked_sub(1 + depth as usize)
            .ok_or_else(|| CompileError::Internal(format!("rethrow depth {depth} out of range")))?;
        let FrameKind::LegacyTry { exn, .. } = self.control[index].kind else {
            return Err(CompileError::Internal("`rethrow` outside a catch".into()));
        };
        self.rethrow_exn(exn)?;
        self.reachable = false;
        Ok(())
    }

    /// Legacy `delegate depth`: ends the `try`, and its landing pad
    /// rethrows to the handler in force inside the block `depth` labels out
    /// of the `try` (out of the function for the function's label).
    pub(crate) fn op_delegate(&mut self, depth: u32) -> Result<(), CompileError> {
        let len = self.control.len();
        let index = len.checked_sub(2 + depth as usize).ok_or_else(|| {
            CompileError::Internal(format!("delegate depth {depth} out of range"))
        })?;
        let target = &self.control[index];
        let active = target.handlers
            + match target.kind {
                FrameKind::TryTable
                | FrameKind::LegacyTry {
                    in_catch: false, ..
                } => 1,
                _ => 0,
            };
        let frame = self.top_frame_mut()?;
        let FrameKind::LegacyTry { exn, next, .. } = frame.kind else {
            return Err(CompileError::Internal("`delegate` outside `try`".into()));
        };
        frame.kind = FrameKind::LegacyTry {
            exn,
            next: None,
            in_catch: false,
        };
        if let Some(next) = next {
            let here = self.current_block()?;
            let saved = self.handlers.clone();
            self.handlers.truncate(active);
            self.builder.position_at_end(next);
            let r = self.rethrow_exn(exn);
            self.handlers = saved;
            self.builder.position_at_end(here);
            r?;
        }
        self.op_end()
    }
}
