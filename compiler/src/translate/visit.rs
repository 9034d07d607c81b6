//! `wasmparser::VisitOperator` for [`FuncTranslator`]: one short method per
//! operator, delegating to the category files.
//!
//! Dead code (after `br`, `return`, `unreachable`, ...) is skipped: every
//! visitor returns at once while `!self.reachable`, except the structured
//! ones, which count the blocks opened in dead code (`dead_depth`) so the
//! `else`/`end` that closes live code is still found. Rule: numeric
//! operators come from `numeric_visitors!` (numeric.rs), SIMD ones from
//! `simd_visitors!` (simd.rs), atomic ones from `atomic_visitors!`
//! (atomic.rs), operators of proposals we do not support
//! from the `unsupported_visitors!` stubs (whole proposals, or single
//! operators of a proposal already built, such as bulk memory's
//! `memory.copy` and `memory.fill`); the other operators are written here
//! by hand.

use super::atomic::atomic_visitors;
use super::call::CallKind;
use super::memory::Extend;
use super::numeric::numeric_visitors;
use super::simd::prelude::*;
use super::simd::simd_visitors;
use super::FuncTranslator;
use crate::CompileError;
use inkwell::types::{BasicTypeEnum, IntType};
use inkwell::AtomicRMWBinOp;
use wasmparser::{MemArg, VisitOperator, VisitSimdOperator};

/// Returns `Ok(())` from the visitor when the current code is dead.
macro_rules! skip_if_dead {
    ($self:ident) => {
        if !$self.reachable {
            return Ok(());
        }
    };
}

/// Expands wasmparser's operator list to an `Unsupported` stub for every
/// operator outside the MVP, sign-extension, saturating-conversion and
/// multi-value sets and the bulk-memory operators already translated.
macro_rules! unsupported_visitors {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*) )*) => {
        $( unsupported_visitors!(one @$proposal $op $({ $($arg: $argty),* })? => $visit); )*
    };
    (one @mvp $($rest:tt)*) => {};
    (one @sign_extension $($rest:tt)*) => {};
    (one @saturating_float_to_int $($rest:tt)*) => {};
    (one @bulk_memory MemoryCopy $($rest:tt)*) => {};
    (one @bulk_memory MemoryFill $($rest:tt)*) => {};
    (one @bulk_memory MemoryInit $($rest:tt)*) => {};
    (one @bulk_memory DataDrop $($rest:tt)*) => {};
    (one @bulk_memory TableInit $($rest:tt)*) => {};
    (one @bulk_memory TableCopy $($rest:tt)*) => {};
    (one @bulk_memory ElemDrop $($rest:tt)*) => {};
    (one @reference_types TypedSelect $($rest:tt)*) => {};
    (one @reference_types RefNull $($rest:tt)*) => {};
    (one @reference_types RefIsNull $($rest:tt)*) => {};
    (one @reference_types RefFunc $($rest:tt)*) => {};
    (one @reference_types TableFill $($rest:tt)*) => {};
    (one @reference_types TableGet $($rest:tt)*) => {};
    (one @reference_types TableSet $($rest:tt)*) => {};
    (one @reference_types TableGrow $($rest:tt)*) => {};
    (one @reference_types TableSize $($rest:tt)*) => {};
    (one @exceptions $($rest:tt)*) => {};
    (one @legacy_exceptions $($rest:tt)*) => {};
    (one @function_references $($rest:tt)*) => {};
    (one @simd $($rest:tt)*) => {};
    (one @tail_call $($rest:tt)*) => {};
    (one @relaxed_simd $($rest:tt)*) => {};
    (one @threads $($rest:tt)*) => {};
    (one @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident) => {
        fn $visit(&mut self $($(, $arg: $argty)*)?) -> Self::Output {
            $($(let _ = $arg;)*)?
            if !self.reachable {
                return Ok(());
            }
            Err(self.unsupported(&format!(
                "operator `{}` ({} proposal)",
                stringify!($op),
                // `reference_types` as proposals are written: reference-types.
                stringify!($proposal).replace('_', "-")
            )))
        }
    };
}

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    fn i32(&self) -> BasicTypeEnum<'ctx> {
        self.cx.i32_type().into()
    }
    fn i64(&self) -> BasicTypeEnum<'ctx> {
        self.cx.i64_type().into()
    }
    fn int(&self, bits: u32) -> IntType<'ctx> {
        match bits {
            8 => self.cx.i8_type(),
            16 => self.cx.i16_type(),
            32 => self.cx.i32_type(),
            _ => self.cx.i64_type(),
        }
    }

    /// A narrow integer load.
    fn load_int(
        &mut self,
        memarg: &MemArg,
        bits: u32,
        result: BasicTypeEnum<'ctx>,
        extend: Extend,
    ) -> Result<(), CompileError> {
        let mem_ty = self.int(bits).into();
        self.op_load(memarg, mem_ty, result, extend)
    }

    /// A full-width load.
    fn load_full(&mut self, memarg: &MemArg, ty: BasicTypeEnum<'ctx>) -> Result<(), CompileError> {
        self.op_load(memarg, ty, ty, Extend::None)
    }

    /// A narrow integer store.
    fn store_int(&mut self, memarg: &MemArg, bits: u32) -> Result<(), CompileError> {
        let t = self.int(bits);
        self.op_store(memarg, Some(t))
    }

    /// Opens a block in dead code: only its nesting matters.
    fn enter_dead_block(&mut self) {
        self.dead_depth += 1;
    }
}

impl<'w, 'a, 'ctx> VisitOperator<'w> for FuncTranslator<'a, 'ctx> {
    type Output = Result<(), CompileError>;

    numeric_visitors!();
    atomic_visitors!();
    wasmparser::for_each_visit_operator!(unsupported_visitors);

    fn simd_visitor(&mut self) -> Option<&mut dyn VisitSimdOperator<'w, Output = Self::Output>> {
        Some(self)
    }

    fn visit_unreachable(&mut self) -> Self::Output {
        skip_if_dead!(self);
        self.op_unreachable()
    }
    fn visit_nop(&mut self) -> Self::Output {
        Ok(())
    }
    fn visit_block(&mut self, blockty: wasmparser::BlockType) -> Self::Output {
        if !self.reachable {
            self.enter_dead_block();
            return Ok(());
        }
        self.op_block(blockty)
    }
    fn visit_loop(&mut self, blockty: wasmparser::BlockType) -> Self::Output {
        if !self.reachable {
            self.enter_dead_block();
            return Ok(());
        }
        self.op_loop(blockty)
    }
    fn visit_if(&mut self, blockty: wasmparser::BlockType) -> Self::Output {
        if !self.reachable {
            self.enter_dead_block();
            return Ok(());
        }
        self.op_if(blockty)
    }
    fn visit_try_table(&mut self, try_table: wasmparser::TryTable) -> Self::Output {
        if !self.reachable {
            self.enter_dead_block();
            return Ok(());
        }
        self.op_try_table(&try_table)
    }
    fn visit_try(&mut self, blockty: wasmparser::BlockType) -> Self::Output {
        if !self.reachable {
            self.enter_dead_block();
            return Ok(());
        }
        self.op_try(blockty)
    }
    fn visit_catch(&mut self, tag_index: u32) -> Self::Output {
        if !self.reachable && self.dead_depth > 0 {
            return Ok(());
        }
        self.op_legacy_catch(Some(tag_index))
    }
    fn visit_catch_all(&mut self) -> Self::Output {
        if !self.reachable && self.dead_depth > 0 {
            return Ok(());
        }
        self.op_legacy_catch(None)
    }
    fn visit_rethrow(&mut self, relative_depth: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_rethrow(relative_depth)
    }
    fn visit_delegate(&mut self, relative_depth: u32) -> Self::Output {
        if !self.reachable && self.dead_depth > 0 {
            self.dead_depth -= 1;
            return Ok(());
        }
        self.op_delegate(relative_depth)
    }
    fn visit_throw(&mut self, tag_index: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_throw(tag_index)
    }
    fn visit_throw_ref(&mut self) -> Self::Output {
        skip_if_dead!(self);
        self.op_throw_ref()
    }
    fn visit_else(&mut self) -> Self::Output {
        if !self.reachable && self.dead_depth > 0 {
            return Ok(());
        }
        self.op_else()
    }
    fn visit_end(&mut self) -> Self::Output {
        if !self.reachable && self.dead_depth > 0 {
            self.dead_depth -= 1;
            return Ok(());
        }
        self.op_end()
    }
    fn visit_br(&mut self, relative_depth: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_br(relative_depth)
    }
    fn visit_br_if(&mut self, relative_depth: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_br_if(relative_depth)
    }
    fn visit_br_table(&mut self, targets: wasmparser::BrTable<'w>) -> Self::Output {
        skip_if_dead!(self);
        self.op_br_table(&targets)
    }
    fn visit_return(&mut self) -> Self::Output {
        skip_if_dead!(self);
        self.op_return()
    }
    fn visit_call(&mut self, function_index: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_call(function_index, CallKind::Plain)
    }
    fn visit_call_indirect(&mut self, type_index: u32, table_index: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_call_indirect(type_index, table_index, CallKind::Plain)
    }
    fn visit_return_call(&mut self, function_index: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_call(function_index, CallKind::Tail)
    }
    fn visit_return_call_indirect(&mut self, type_index: u32, table_index: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_call_indirect(type_index, table_index, CallKind::Tail)
    }
    fn visit_drop(&mut self) -> Self::Output {
        skip_if_dead!(self);
        self.op_drop()
    }
    fn visit_select(&mut self) -> Self::Output {
        skip_if_dead!(self);
        self.op_select()
    }
    fn visit_local_get(&mut self, local_index: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_local_get(local_index)
    }
    fn visit_local_set(&mut self, local_index: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_local_set(local_index)
    }
    fn visit_local_tee(&mut self, local_index: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_local_tee(local_index)
    }
    fn visit_global_get(&mut self, global_index: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_global_get(global_index)
    }
    fn visit_global_set(&mut self, global_index: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_global_set(global_index)
    }
    fn visit_i32_load(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        let t = self.i32();
        self.load_full(&memarg, t)
    }
    fn visit_i64_load(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        let t = self.i64();
        self.load_full(&memarg, t)
    }
    fn visit_f32_load(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        let t = self.cx.f32_type().into();
        self.load_full(&memarg, t)
    }
    fn visit_f64_load(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        let t = self.cx.f64_type().into();
        self.load_full(&memarg, t)
    }
    fn visit_i32_load8_s(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        let t = self.i32();
        self.load_int(&memarg, 8, t, Extend::Signed)
    }
    fn visit_i32_load8_u(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        let t = self.i32();
        self.load_int(&memarg, 8, t, Extend::Unsigned)
    }
    fn visit_i32_load16_s(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        let t = self.i32();
        self.load_int(&memarg, 16, t, Extend::Signed)
    }
    fn visit_i32_load16_u(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        let t = self.i32();
        self.load_int(&memarg, 16, t, Extend::Unsigned)
    }
    fn visit_i64_load8_s(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        let t = self.i64();
        self.load_int(&memarg, 8, t, Extend::Signed)
    }
    fn visit_i64_load8_u(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        let t = self.i64();
        self.load_int(&memarg, 8, t, Extend::Unsigned)
    }
    fn visit_i64_load16_s(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        let t = self.i64();
        self.load_int(&memarg, 16, t, Extend::Signed)
    }
    fn visit_i64_load16_u(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        let t = self.i64();
        self.load_int(&memarg, 16, t, Extend::Unsigned)
    }
    fn visit_i64_load32_s(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        let t = self.i64();
        self.load_int(&memarg, 32, t, Extend::Signed)
    }
    fn visit_i64_load32_u(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        let t = self.i64();
        self.load_int(&memarg, 32, t, Extend::Unsigned)
    }
    fn visit_i32_store(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        self.op_store(&memarg, None)
    }
    fn visit_i64_store(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        self.op_store(&memarg, None)
    }
    fn visit_f32_store(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        self.op_store(&memarg, None)
    }
    fn visit_f64_store(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        self.op_store(&memarg, None)
    }
    fn visit_i32_store8(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        self.store_int(&memarg, 8)
    }
    fn visit_i32_store16(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        self.store_int(&memarg, 16)
    }
    fn visit_i64_store8(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        self.store_int(&memarg, 8)
    }
    fn visit_i64_store16(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        self.store_int(&memarg, 16)
    }
    fn visit_i64_store32(&mut self, memarg: MemArg) -> Self::Output {
        skip_if_dead!(self);
        self.store_int(&memarg, 32)
    }
    fn visit_memory_size(&mut self, mem: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_memory_size(mem)
    }
    fn visit_memory_grow(&mut self, mem: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_memory_grow(mem)
    }
    fn visit_memory_copy(&mut self, dst_mem: u32, src_mem: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_memory_copy(dst_mem, src_mem)
    }
    fn visit_memory_fill(&mut self, mem: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_memory_fill(mem)
    }
    fn visit_memory_init(&mut self, data_index: u32, mem: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_memory_init(data_index, mem)
    }
    fn visit_data_drop(&mut self, data_index: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_data_drop(data_index)
    }
    fn visit_table_init(&mut self, elem_index: u32, table: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_table_init(elem_index, table)
    }
    fn visit_table_copy(&mut self, dst_table: u32, src_table: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_table_copy(dst_table, src_table)
    }
    fn visit_elem_drop(&mut self, elem_index: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_elem_drop(elem_index)
    }
    fn visit_typed_select(&mut self, _ty: wasmparser::ValType) -> Self::Output {
        skip_if_dead!(self);
        self.op_select()
    }
    fn visit_ref_null(&mut self, _hty: wasmparser::HeapType) -> Self::Output {
        skip_if_dead!(self);
        self.op_ref_null()
    }
    fn visit_ref_is_null(&mut self) -> Self::Output {
        skip_if_dead!(self);
        self.op_ref_is_null()
    }
    fn visit_ref_func(&mut self, function_index: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_ref_func(function_index)
    }
    fn visit_call_ref(&mut self, type_index: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_call_ref(type_index, CallKind::Plain)
    }
    fn visit_return_call_ref(&mut self, type_index: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_call_ref(type_index, CallKind::Tail)
    }
    fn visit_ref_as_non_null(&mut self) -> Self::Output {
        skip_if_dead!(self);
        self.op_ref_as_non_null()
    }
    fn visit_br_on_null(&mut self, relative_depth: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_br_on_null(relative_depth)
    }
    fn visit_br_on_non_null(&mut self, relative_depth: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_br_on_non_null(relative_depth)
    }
    fn visit_table_get(&mut self, table: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_table_get(table)
    }
    fn visit_table_set(&mut self, table: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_table_set(table)
    }
    fn visit_table_size(&mut self, table: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_table_size(table)
    }
    fn visit_table_grow(&mut self, table: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_table_grow(table)
    }
    fn visit_table_fill(&mut self, table: u32) -> Self::Output {
        skip_if_dead!(self);
        self.op_table_fill(table)
    }
}

/// The SIMD and relaxed SIMD operators (`simd.rs`).
impl<'w, 'a, 'ctx> VisitSimdOperator<'w> for FuncTranslator<'a, 'ctx> {
    simd_visitors!();
    wasmparser::for_each_visit_simd_operator!(unsupported_visitors);
}
