//! Exception handling: `throw` and `try_table` with `catch` and
//! `catch_all` (see ARCHITECTURE.md, "Exceptions").
//!
//! A `try_table` opens a landing pad, made when the block opens and kept
//! on `FuncTranslator::handlers` until its `end`; while it is open, every
//! call that may throw (wasm calls and the throw helpers, through
//! [`FuncTranslator::build_throwing_call`]) is an `invoke` that unwinds to
//! it. The landing pad catches everything at the LLVM level, takes the
//! exception (`wasmo_helper_exn_take`), tests the catch clauses in order
//! with `wasmo_helper_exn_is` and branches to the first match's label
//! with the payload; when none matches it rethrows
//! (`wasmo_helper_throw_ref`). Rule: the landing pad's own code lies
//! outside the `try_table`, so it is built before the block's handler is
//! pushed, and its rethrow unwinds to the enclosing handler.

use super::control::FrameKind;
use super::FuncTranslator;
use crate::codegen::llvm_type;
use crate::CompileError;
use inkwell::types::FunctionType;
use inkwell::values::{
    BasicMetadataValueEnum, BasicValue, BasicValueEnum, CallSiteValue, FunctionValue, PointerValue,
};
use inkwell::IntPredicate;
use wasmo_artifact_format::vmctx::VAL_RAW_SIZE;
use wasmo_artifact_format::{Helper, TypeIndex};

/// What a call that may throw calls.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Callee<'ctx> {
    /// A function declared in the module.
    Direct(FunctionValue<'ctx>),
    /// A function pointer of this type.
    Indirect(FunctionType<'ctx>, PointerValue<'ctx>),
}

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    /// A call that may throw: an `invoke` unwinding to the innermost open
    /// `try_table`'s landing pad, or a plain call outside every one (the
    /// exception then leaves the function).
    pub(crate) fn build_throwing_call(
        &mut self,
        callee: Callee<'ctx>,
        args: &[BasicMetadataValueEnum<'ctx>],
        name: &str,
    ) -> Result<CallSiteValue<'ctx>, CompileError> {
        let Some(&lpad) = self.handlers.last() else {
            return Ok(match callee {
                Callee::Direct(f) => self.builder.build_call(f, args, name)?,
                Callee::Indirect(ty, p) => self.builder.build_indirect_call(ty, p, args, name)?,
            });
        };
        let args = args
            .iter()
            .map(|&a| {
                BasicValueEnum::try_from(a)
                    .map_err(|_| CompileError::Internal("metadata argument to an invoke".into()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cont = self.new_block("invoke_cont");
        let call = match callee {
            Callee::Direct(f) => self
                .builder
                .build_direct_invoke(f, &args, cont, lpad, name)?,
            Callee::Indirect(ty, p) => self
                .builder
                .build_indirect_invoke(ty, p, &args, cont, lpad, name)?,
        };
        self.builder.position_at_end(cont);
        Ok(call)
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
        self.build_throwing_call(
            Callee::Direct(throw),
            &[self.vmctx.into(), tag.into(), array.into()],
            "",
        )?;
        self.builder.build_unreachable()?;
        self.reachable = false;
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
        let mut caught_all = false;
        for catch in &try_table.catches {
            match *catch {
                wasmparser::Catch::One { tag, label } => {
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
                        .ok_or_else(|| {
                            CompileError::Internal("exn_payload returns nothing".into())
                        })?
                        .into_pointer_value();
                    let height = self.stack.len();
                    for (i, &p) in params.iter().enumerate() {
                        let slot = self.val_raw_slot(payload, i)?;
                        let v = self.builder.build_load(llvm_type(self.cx, p)?, slot, "")?;
                        if let Some(load) = v.as_instruction_value() {
                            load.set_alignment(8).map_err(|e| {
                                CompileError::Internal(format!("payload alignment: {e}"))
                            })?;
                        }
                        self.stack.push(v);
                    }
                    let target = self.branch_edge(label);
                    self.stack.truncate(height);
                    self.builder.build_unconditional_branch(target?)?;
                    self.builder.position_at_end(next);
                }
                wasmparser::Catch::All { label } => {
                    let target = self.branch_edge(label)?;
                    self.builder.build_unconditional_branch(target)?;
                    caught_all = true;
                    break;
                }
                wasmparser::Catch::OneRef { .. } | wasmparser::Catch::AllRef { .. } => {
                    return Err(
                        self.unsupported("`catch_ref` and `catch_all_ref` (exceptions proposal)")
                    );
                }
            }
        }
        if !caught_all {
            let rethrow = self.env.helper(Helper::ThrowRef);
            self.build_throwing_call(
                Callee::Direct(rethrow),
                &[self.vmctx.into(), exn.into()],
                "",
            )?;
            self.builder.build_unreachable()?;
        }
        self.builder.position_at_end(resume);
        let end = self.new_block("try_table_end");
        self.push_frame(FrameKind::TryTable, end, sig)?;
        self.handlers.push(lpad);
        Ok(())
    }
}
