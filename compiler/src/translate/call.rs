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
//! `return_call` and `return_call_indirect` are the same calls made
//! `musttail` (`codegen::tail_call_wasm`): the callee replaces the
//! caller's frame, whatever its signature, because the wasm convention
//! (`swifttailcc`) has the callee pop its stack arguments. Calls through
//! an import slot are tail calls too: into the exporting instance's
//! function, or into the wasm-to-array trampoline of a host function,
//! whose frame then replaces the caller's while the host runs. A tail call
//! takes a sealed table's dispatch array only when the array holds no
//! trap stub, so that a failing `return_call_indirect` traps in its own
//! frame.
//! `call_ref` and `return_call_ref` (function-references) call through
//! the reference itself, after a null check only: its type is static.
//! Inside a `try_table` or legacy `try` a plain call is an `invoke` to the
//! innermost handler's landing pad; a tail call never is (it leaves the
//! function, and its handlers with it).
//! Rule: the caller's vmctx is passed as the second argument wherever the
//! callee may be an import's trampoline (which hands it to the host); a
//! direct call of a defined function, and one through a dispatch array
//! (entries all defined here or trap stubs), pass `poison` instead: no
//! function body reads it, and an indirect call saves the register move.

use super::{FuncTranslator, Mutability};
use crate::codegen::{call_wasm, tail_call_wasm, Callee};
use crate::CompileError;
use inkwell::values::{BasicMetadataValueEnum, PointerValue};
use inkwell::IntPredicate;
use wasmo_artifact_format::vmctx::{
    FUNC_IMPORT_NATIVE_FN, FUNC_IMPORT_VMCTX, FUNC_REF_NATIVE_FN, FUNC_REF_TYPE_ID, FUNC_REF_VMCTX,
    TABLE_DEF_BASE, TABLE_DEF_CURRENT_ELEMENTS,
};
use wasmo_artifact_format::{FuncIndex, FuncType, TrapCode, TypeIndex};

/// What a call passes as its second argument, the caller's vmctx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallerVmctx {
    /// The caller's vmctx: the callee may be an import, which reads it.
    Passed,
    /// `poison`: the callee is known to be a function defined in this
    /// module or a trap stub, and neither reads it.
    Unread,
}

/// Whether a call returns to its caller or replaces it (`return_call`,
/// `return_call_indirect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    /// `call`, `call_indirect`: the results are pushed.
    Plain,
    /// A `musttail` call whose results the function returns.
    Tail,
}

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    /// Pops `n` arguments and prepends the two vmctx arguments.
    fn call_args(
        &mut self,
        n: usize,
        callee_vmctx: PointerValue<'ctx>,
        caller: CallerVmctx,
    ) -> Result<Vec<BasicMetadataValueEnum<'ctx>>, CompileError> {
        let args = self.pop_n(n)?;
        let mut all: Vec<BasicMetadataValueEnum<'ctx>> = Vec::with_capacity(n + 2);
        all.push(callee_vmctx.into());
        all.push(match caller {
            CallerVmctx::Passed => self.vmctx.into(),
            CallerVmctx::Unread => self.env.ptr.get_poison().into(),
        });
        all.extend(args.into_iter().map(BasicMetadataValueEnum::from));
        Ok(all)
    }

    /// Calls `callee` of type `ty`, with the callee vmctx
    /// `callee_vmctx` and its parameters popped from the stack, in the wasm
    /// ABI: a plain call pushes the results; a tail call returns them, and
    /// the code after it is dead.
    fn wasm_call(
        &mut self,
        kind: CallKind,
        callee: Callee<'ctx>,
        callee_vmctx: PointerValue<'ctx>,
        caller: CallerVmctx,
        ty: &FuncType,
    ) -> Result<(), CompileError> {
        let args = self.call_args(ty.params.len(), callee_vmctx, caller)?;
        match kind {
            CallKind::Plain => {
                // Inside a `try_table` (or legacy `try`) the call is an
                // `invoke` to the innermost handler's landing pad.
                let unwind = self.handlers.last().copied();
                let results = call_wasm(self.builder, self.cx, callee, ty, args, unwind)?;
                self.stack.extend(results);
            }
            CallKind::Tail => {
                tail_call_wasm(self.builder, self.cx, self.function, callee, ty, args)?;
                self.reachable = false;
            }
        }
        Ok(())
    }

    /// Calls the code and vmctx that `record` holds at `code` and `vmctx`
    /// (a `VMFuncImport` slot or a non-null `VMFuncRef`), passing the
    /// caller's vmctx: the function may be an import's.
    fn call_through(
        &mut self,
        kind: CallKind,
        record: PointerValue<'ctx>,
        (code, vmctx): (u32, u32),
        ty: &FuncType,
    ) -> Result<(), CompileError> {
        let native_fn = self.load_invariant_ptr(record, code, "native_fn")?;
        let callee_vmctx = self.load_invariant_ptr(record, vmctx, "callee_vmctx")?;
        self.wasm_call(
            kind,
            Callee::Indirect(native_fn),
            callee_vmctx,
            CallerVmctx::Passed,
            ty,
        )
    }

    /// `call` and `return_call`.
    pub(crate) fn op_call(
        &mut self,
        function_index: u32,
        kind: CallKind,
    ) -> Result<(), CompileError> {
        let info = self.env.info;
        let ty = info.func_type(FuncIndex(function_index))?;
        if function_index < info.imported_funcs {
            let slot = self.vmctx_field(self.env.offsets().imported_func(function_index))?;
            let fields = (FUNC_IMPORT_NATIVE_FN, FUNC_IMPORT_VMCTX);
            self.call_through(kind, slot, fields, ty)
        } else {
            let callee = self
                .env
                .defined_func(function_index - info.imported_funcs)?;
            self.wasm_call(
                kind,
                Callee::Direct(callee),
                self.vmctx,
                CallerVmctx::Unread,
                ty,
            )
        }
    }

    /// The address of table `table`'s `VMTableDefinition`.
    pub(crate) fn table_definition(&self, table: u32) -> Result<PointerValue<'ctx>, CompileError> {
        let info = self.env.info;
        let offsets = self.env.offsets();
        if table < info.imported_tables {
            self.load_invariant_ptr(self.vmctx, offsets.imported_table(table), "table_def")
        } else {
            self.vmctx_field(offsets.defined_table(table - info.imported_tables))
        }
    }

    /// `call_indirect` and `return_call_indirect`.
    pub(crate) fn op_call_indirect(
        &mut self,
        type_index: u32,
        table_index: u32,
        kind: CallKind,
    ) -> Result<(), CompileError> {
        let info = self.env.info;
        let ty = info.type_at(TypeIndex(type_index))?;
        let i64t = self.cx.i64_type();

        let index = self.pop_int()?;
        let index = self.zext_i64(index)?;
        let table = self.table_definition(table_index)?;
        let sealed = info.sealed_table(table_index);
        let len = match sealed {
            Some(t) => i64t.const_int(t.len, false),
            None => {
                let len_addr = self.field(table, TABLE_DEF_CURRENT_ELEMENTS)?;
                let mutability = self.table_mutability(table_index);
                self.load_runtime(i64t.into(), len_addr, "table_len", mutability)?
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
        let contents = sealed.and_then(|t| t.contents.as_deref()).filter(|c| {
            kind == CallKind::Plain || every_entry_has_type(info, c, TypeIndex(type_index))
        });
        if let Some(contents) = contents {
            let dispatch = self
                .env
                .dispatch_array(table_index, TypeIndex(type_index), contents)?;
            let elem_addr = self.byte_offset(dispatch.as_pointer_value(), elem_offset)?;
            let native_fn = self
                .builder
                .build_load(self.env.ptr, elem_addr, "dispatch_fn")?
                .into_pointer_value();
            // Every entry is a function defined here or a trap stub, and
            // neither reads the caller's vmctx (only an import's trampoline
            // does), so the call need not pass it.
            return self.wasm_call(
                kind,
                Callee::Indirect(native_fn),
                self.vmctx,
                CallerVmctx::Unread,
                ty,
            );
        }

        let base_addr = self.field(table, TABLE_DEF_BASE)?;
        let mutability = self.table_mutability(table_index);
        let base = self
            .load_runtime(self.env.ptr.into(), base_addr, "table_base", mutability)?
            .into_pointer_value();
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

        if !info.table_holds_only(table_index, TypeIndex(type_index)) {
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

        self.call_through(kind, func_ref, (FUNC_REF_NATIVE_FN, FUNC_REF_VMCTX), ty)
    }
}

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    /// `call_ref` and `return_call_ref`: the reference on top of the stack
    /// is a `*const VMFuncRef` of type `type_index` (validation proved it),
    /// so after the null check (`null function reference`) the call needs
    /// no signature check.
    pub(crate) fn op_call_ref(
        &mut self,
        type_index: u32,
        kind: CallKind,
    ) -> Result<(), CompileError> {
        let ty = self.env.info.type_at(TypeIndex(type_index))?;
        let func_ref = self.pop_ref()?;
        let null = self.builder.build_is_null(func_ref, "is_null")?;
        self.trap_if(null, TrapCode::NullFunctionReference)?;
        self.call_through(kind, func_ref, (FUNC_REF_NATIVE_FN, FUNC_REF_VMCTX), ty)
    }
}

/// Whether every element of a sealed table's `contents` is a function of
/// type `ty`, so a dispatch array for `ty` holds no trap stub. A tail call
/// uses the dispatch array only then: a stub reached by a tail call would
/// raise its trap after the calling frame is gone, and the backtrace would
/// lack the function whose `return_call_indirect` failed.
fn every_entry_has_type(
    info: &crate::module_info::ModuleInfo<'_>,
    contents: &[Option<FuncIndex>],
    ty: TypeIndex,
) -> bool {
    contents
        .iter()
        .all(|e| e.is_some_and(|f| info.func_has_type(f, ty)))
}
