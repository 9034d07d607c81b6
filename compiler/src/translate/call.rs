//! Direct and indirect calls.
//!
//! A defined function is called directly with `(vmctx, vmctx, args...)`; an
//! imported one through its `VMFuncImport` slot; `call_indirect` through a
//! table element (`*const VMFuncRef`) after three checks, in the spec's
//! order: index in bounds (`TableOutOfBounds`), element not null
//! (`IndirectCallToNull`), canonical type ids equal (`BadSignature`).
//! Through a sealed table (defined here, not exported: see
//! [`crate::module_info::SealedTable`]) the length is a constant, and the
//! signature check goes when every function the table can hold has the
//! expected type. When the sealed table's contents are known too, the
//! element is looked up in a constant dispatch array for the call's
//! signature instead (`ModuleEnv::dispatch_array`): one load and the call,
//! as a native indirect call, with the null and signature checks decided
//! at compile time and the traps moved into the stubs the array names.
//! Rule: the caller's vmctx is always passed as the second argument.

use super::exception::Callee;
use super::{FuncTranslator, Mutability};
use crate::codegen::{set_wasm_call_abi, unpack_results, wasm_fn_type};
use crate::CompileError;
use inkwell::types::FunctionType;
use inkwell::values::{BasicMetadataValueEnum, CallSiteValue, PointerValue};
use inkwell::IntPredicate;
use wasmo_artifact_format::vmctx::{
    FUNC_IMPORT_NATIVE_FN, FUNC_IMPORT_VMCTX, FUNC_REF_NATIVE_FN, FUNC_REF_TYPE_ID, FUNC_REF_VMCTX,
    TABLE_DEF_BASE, TABLE_DEF_CURRENT_ELEMENTS,
};
use wasmo_artifact_format::{FuncIndex, TrapCode, TypeIndex};

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    /// Pops `n` arguments and prepends the two vmctx arguments.
    fn call_args(
        &mut self,
        n: usize,
        callee_vmctx: PointerValue<'ctx>,
    ) -> Result<Vec<BasicMetadataValueEnum<'ctx>>, CompileError> {
        let args = self.pop_n(n)?;
        let mut all: Vec<BasicMetadataValueEnum<'ctx>> = Vec::with_capacity(n + 2);
        all.push(callee_vmctx.into());
        all.push(self.vmctx.into());
        all.extend(args.into_iter().map(BasicMetadataValueEnum::from));
        Ok(all)
    }

    /// Gives a call of a wasm function the wasm ABI and pushes its
    /// `count` results.
    fn push_call_results(
        &mut self,
        call: CallSiteValue<'ctx>,
        count: usize,
    ) -> Result<(), CompileError> {
        set_wasm_call_abi(self.cx, call);
        let results = unpack_results(self.builder, call.try_as_basic_value().basic(), count)?;
        self.stack.extend(results);
        Ok(())
    }

    /// `call`.
    pub(crate) fn op_call(&mut self, function_index: u32) -> Result<(), CompileError> {
        let info = self.env.info;
        let ty = info.func_type(FuncIndex(function_index))?;
        let nparams = ty.params.len();
        if function_index < info.imported_funcs {
            let fn_ty = wasm_fn_type(self.cx, ty)?;
            let slot = self.vmctx_field(self.env.offsets().imported_func(function_index))?;
            let native_fn = self.load_invariant_ptr(slot, FUNC_IMPORT_NATIVE_FN, "import_fn")?;
            let callee_vmctx = self.load_invariant_ptr(slot, FUNC_IMPORT_VMCTX, "import_vmctx")?;
            let args = self.call_args(nparams, callee_vmctx)?;
            let call =
                self.build_throwing_call(Callee::Indirect(fn_ty, native_fn), &args, "call")?;
            self.push_call_results(call, ty.results.len())?;
        } else {
            let callee = self
                .env
                .defined_func(function_index - info.imported_funcs)?;
            let args = self.call_args(nparams, self.vmctx)?;
            let call = self.build_throwing_call(Callee::Direct(callee), &args, "call")?;
            self.push_call_results(call, ty.results.len())?;
        }
        Ok(())
    }

    /// The address of table `table`'s `VMTableDefinition`.
    fn table_definition(&self, table: u32) -> Result<PointerValue<'ctx>, CompileError> {
        let info = self.env.info;
        let offsets = self.env.offsets();
        if table < info.imported_tables {
            self.load_invariant_ptr(self.vmctx, offsets.imported_table(table), "table_def")
        } else {
            self.vmctx_field(offsets.defined_table(table - info.imported_tables))
        }
    }

    /// `call_indirect`.
    pub(crate) fn op_call_indirect(
        &mut self,
        type_index: u32,
        table_index: u32,
    ) -> Result<(), CompileError> {
        let info = self.env.info;
        let ty = info.type_at(TypeIndex(type_index))?;
        let fn_ty: FunctionType<'ctx> = wasm_fn_type(self.cx, ty)?;
        let nparams = ty.params.len();
        let i64t = self.cx.i64_type();

        let index = self.pop_int()?;
        let index = self.builder.build_int_z_extend(index, i64t, "elem_index")?;
        let table = self.table_definition(table_index)?;
        let sealed = info.sealed_table(table_index);
        let len = match sealed {
            Some(t) => i64t.const_int(t.len, false),
            None => {
                let len_addr = self.field(table, TABLE_DEF_CURRENT_ELEMENTS)?;
                self.load_runtime(i64t.into(), len_addr, "table_len", Mutability::Invariant)?
                    .into_int_value()
            }
        };
        let oob = self
            .builder
            .build_int_compare(IntPredicate::UGE, index, len, "table_oob")?;
        self.trap_if(oob, TrapCode::TableOutOfBounds)?;

        // Both tables below hold one 8-byte pointer per element.
        let elem_offset =
            self.builder
                .build_int_mul(index, i64t.const_int(8, false), "elem_offset")?;
        if let Some(contents) = sealed.and_then(|t| t.contents.as_deref()) {
            let dispatch = self.env.dispatch_array(table_index, ty, contents)?;
            let elem_addr = self.byte_offset(dispatch.as_pointer_value(), elem_offset)?;
            let native_fn = self
                .builder
                .build_load(self.env.ptr, elem_addr, "dispatch_fn")?
                .into_pointer_value();
            let args = self.call_args(nparams, self.vmctx)?;
            let call = self.build_throwing_call(
                Callee::Indirect(fn_ty, native_fn),
                &args,
                "call_indirect",
            )?;
            self.push_call_results(call, ty.results.len())?;
            return Ok(());
        }

        let base = self.load_invariant_ptr(table, TABLE_DEF_BASE, "table_base")?;
        let elem_addr = self.byte_offset(base, elem_offset)?;
        let func_ref = self
            .load_runtime(
                self.env.ptr.into(),
                elem_addr,
                "func_ref",
                Mutability::Mutable,
            )?
            .into_pointer_value();
        let null = self.builder.build_is_null(func_ref, "is_null")?;
        self.trap_if(null, TrapCode::IndirectCallToNull)?;

        if !info.table_holds_only(table_index, ty) {
            let i32t = self.cx.i32_type();
            let actual_addr = self.field(func_ref, FUNC_REF_TYPE_ID)?;
            let actual = self
                .load_runtime(i32t.into(), actual_addr, "type_id", Mutability::Invariant)?
                .into_int_value();
            let expected_addr = self.vmctx_field(self.env.offsets().type_id(type_index))?;
            let expected = self
                .load_runtime(
                    i32t.into(),
                    expected_addr,
                    "expected_type_id",
                    Mutability::Invariant,
                )?
                .into_int_value();
            let mismatch =
                self.builder
                    .build_int_compare(IntPredicate::NE, actual, expected, "bad_sig")?;
            self.trap_if(mismatch, TrapCode::BadSignature)?;
        }

        let native_fn = self.load_invariant_ptr(func_ref, FUNC_REF_NATIVE_FN, "native_fn")?;
        let callee_vmctx = self.load_invariant_ptr(func_ref, FUNC_REF_VMCTX, "callee_vmctx")?;
        let args = self.call_args(nparams, callee_vmctx)?;
        let call =
            self.build_throwing_call(Callee::Indirect(fn_ty, native_fn), &args, "call_indirect")?;
        self.push_call_results(call, ty.results.len())?;
        Ok(())
    }
}
