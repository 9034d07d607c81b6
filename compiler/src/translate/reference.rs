//! Reference values: `ref.null`, `ref.is_null`, `ref.func`, and
//! function-references' `ref.as_non_null`.
//!
//! Every reference is one pointer-sized word (`codegen::reference_type`),
//! null for `ref.null`: a funcref is the address of a `VMFuncRef`, an
//! externref the store's opaque `index + 1`, which compiled code only
//! moves and compares with null. Rule: a `ref.func` is the function's own
//! `VMFuncRef` in this instance's VMContext, so the loader maps it back to
//! the function (and an imported one to the function filling the import).

use super::FuncTranslator;
use crate::codegen::reference_type;
use crate::CompileError;
use inkwell::values::{BasicValueEnum, PointerValue};
use wasmo_artifact_format::TrapCode;

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    /// `ref.null`, of any reference type.
    pub(crate) fn op_ref_null(&mut self) -> Result<(), CompileError> {
        self.push(reference_type(self.cx).const_null());
        Ok(())
    }

    /// Pops a reference operand.
    pub(crate) fn pop_ref(&mut self) -> Result<PointerValue<'ctx>, CompileError> {
        match self.pop()? {
            BasicValueEnum::PointerValue(v) => Ok(v),
            other => Err(CompileError::Internal(format!(
                "expected a reference operand at {:#x}, found {}",
                self.offset,
                other.get_type()
            ))),
        }
    }

    /// `ref.is_null`.
    pub(crate) fn op_ref_is_null(&mut self) -> Result<(), CompileError> {
        let v = self.pop_ref()?;
        let is_null = self.builder.build_is_null(v, "is_null")?;
        let v = self
            .builder
            .build_int_z_extend(is_null, self.cx.i32_type(), "is_null_i32")?;
        self.push(v);
        Ok(())
    }

    /// `ref.func`: the address of the function's `VMFuncRef`.
    pub(crate) fn op_ref_func(&mut self, function_index: u32) -> Result<(), CompileError> {
        let funcs = self.env.offsets().counts().funcs;
        if function_index >= funcs {
            return Err(CompileError::Internal(format!(
                "ref.func of function {function_index} out of range at {:#x}",
                self.offset
            )));
        }
        let addr = self.vmctx_field(self.env.offsets().func_ref(function_index))?;
        self.push(addr);
        Ok(())
    }

    /// `ref.as_non_null`: traps `null reference` on null, else passes the
    /// reference on unchanged.
    pub(crate) fn op_ref_as_non_null(&mut self) -> Result<(), CompileError> {
        let v = self.pop_ref()?;
        let is_null = self.builder.build_is_null(v, "is_null")?;
        self.trap_if(is_null, TrapCode::NullReference)?;
        self.push(v);
        Ok(())
    }
}
