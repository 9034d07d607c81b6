//! Table operators: `table.get`, `table.set` and `table.size` inline (one
//! bounds check against the definition's length, then the element), and
//! `table.grow`, `table.fill`, `table.init`, `table.copy` and `elem.drop`
//! as runtime helper calls, since growing moves a table's elements and
//! element segments (with their dropped state) live in the instance.
//! A 64-bit table (memory64's `table64`) takes and answers `i64` indices
//! and sizes; the helpers take every index and length as `i64`, each
//! zero-extended where its wasm type is `i32` (for `table.copy` the length
//! is `i32` when either table is 32-bit, the spec's min rule).
//!
//! Rule: a table any of these writes is not sealed
//! (`module_info::scan_bodies`), so no `call_indirect` keeps a length or
//! contents known at compile time for it; and the base and length of a
//! table that can grow are loaded as [`Mutability::Mutable`], never cached
//! across a call or `table.grow` (see `ModuleInfo::table_is_fixed`).

use super::{FuncTranslator, Mutability, Region};
use crate::CompileError;
use inkwell::values::{BasicMetadataValueEnum, IntValue, PointerValue};
use inkwell::IntPredicate;
use wasmo_artifact_format::vmctx::{TABLE_DEF_BASE, TABLE_DEF_CURRENT_ELEMENTS};
use wasmo_artifact_format::{Helper, TrapCode};

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    /// How loads of `table`'s base and length may be treated.
    pub(crate) fn table_mutability(&self, table: u32) -> Mutability {
        if self.env.info.table_is_fixed(table) {
            Mutability::Invariant
        } else {
            Mutability::Mutable
        }
    }

    /// Table `table`'s current length (`i64`).
    fn table_len(&self, table: u32) -> Result<IntValue<'ctx>, CompileError> {
        let def = self.table_definition(table)?;
        let addr = self.field(def, TABLE_DEF_CURRENT_ELEMENTS)?;
        let i64t = self.cx.i64_type();
        Ok(self
            .load_runtime(i64t.into(), addr, "table_len", self.table_mutability(table))?
            .into_int_value())
    }

    /// The address of element `index` (the table's index type) of `table`,
    /// after trapping with `TableOutOfBounds` when it is not below the
    /// length.
    fn table_elem_addr(
        &mut self,
        table: u32,
        index: IntValue<'ctx>,
    ) -> Result<PointerValue<'ctx>, CompileError> {
        let i64t = self.cx.i64_type();
        let index = self.zext_i64(index)?;
        let len = self.table_len(table)?;
        let oob = self
            .builder
            .build_int_compare(IntPredicate::UGE, index, len, "table_oob")?;
        self.trap_if(oob, TrapCode::TableOutOfBounds)?;
        let def = self.table_definition(table)?;
        let base_addr = self.field(def, TABLE_DEF_BASE)?;
        let base = self
            .load_runtime(
                self.env.ptr.into(),
                base_addr,
                "table_base",
                self.table_mutability(table),
            )?
            .into_pointer_value();
        let offset = self
            .builder
            .build_int_mul(index, i64t.const_int(8, false), "elem_offset")?;
        self.byte_offset(base, offset)
    }

    /// `table.get`.
    pub(crate) fn op_table_get(&mut self, table: u32) -> Result<(), CompileError> {
        let index = self.pop_int()?;
        let addr = self.table_elem_addr(table, index)?;
        let v = self.load_runtime(self.env.ptr.into(), addr, "elem", Mutability::Mutable)?;
        self.push(v);
        Ok(())
    }

    /// `table.set`: a side effect an embedder sees after a trap, so ordered
    /// like `global.set`.
    pub(crate) fn op_table_set(&mut self, table: u32) -> Result<(), CompileError> {
        let value = self.pop()?;
        let index = self.pop_int()?;
        let addr = self.table_elem_addr(table, index)?;
        let store = self.builder.build_store(addr, value)?;
        self.tag(Some(store), Region::Runtime)?;
        if self.orders_side_effects() {
            super::memory::set_volatile(Some(store))?;
        }
        Ok(())
    }

    /// An `i64` size as `table`'s index type (truncated for a 32-bit
    /// table: sizes are at most `MAX_TABLE_ELEMENTS`, and -1 stays -1).
    fn table_index_width(
        &self,
        table: u32,
        v: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>, CompileError> {
        if self.env.info.table64(table) {
            return Ok(v);
        }
        Ok(self
            .builder
            .build_int_truncate(v, self.cx.i32_type(), "table_size")?)
    }

    /// `table.size`.
    pub(crate) fn op_table_size(&mut self, table: u32) -> Result<(), CompileError> {
        let len = self.table_len(table)?;
        let v = self.table_index_width(table, len)?;
        self.push(v);
        Ok(())
    }

    /// `table.grow`: the helper answers the old size or -1.
    pub(crate) fn op_table_grow(&mut self, table: u32) -> Result<(), CompileError> {
        let delta = self.pop_int()?;
        let delta = self.zext_i64(delta)?;
        let init = self.pop()?;
        let index = self.cx.i32_type().const_int(u64::from(table), false);
        let old = self.call_helper(
            Helper::TableGrow,
            &[self.vmctx.into(), index.into(), init.into(), delta.into()],
        )?;
        let old = self.table_index_width(table, old)?;
        self.push(old);
        Ok(())
    }

    /// `table.fill`: the helper checks the range before writing anything.
    pub(crate) fn op_table_fill(&mut self, table: u32) -> Result<(), CompileError> {
        let [dst, value, len]: [_; 3] = self
            .pop_n(3)?
            .try_into()
            .map_err(|_| CompileError::Internal("table.fill operands".into()))?;
        let dst = self.zext_i64(dst.into_int_value())?;
        let len = self.zext_i64(len.into_int_value())?;
        let i32t = self.cx.i32_type();
        let index = i32t.const_int(u64::from(table), false);
        let args: [BasicMetadataValueEnum<'ctx>; 5] = [
            self.vmctx.into(),
            index.into(),
            dst.into(),
            value.into(),
            len.into(),
        ];
        let status = self.call_helper(Helper::TableFill, &args)?;
        let failed = self.builder.build_int_compare(
            IntPredicate::NE,
            status,
            i32t.const_zero(),
            "fill_oob",
        )?;
        self.trap_if(failed, TrapCode::TableOutOfBounds)
    }

    /// `table.init`: the helper checks both ranges against the table and
    /// the segment (a dropped one has length 0) before writing anything.
    pub(crate) fn op_table_init(&mut self, segment: u32, table: u32) -> Result<(), CompileError> {
        self.widen_bulk_operands([true, false, false])?;
        self.checked_segment_helper(
            Helper::TableInit,
            [table, segment],
            TrapCode::TableOutOfBounds,
        )
    }

    /// `table.copy` (the ranges may overlap).
    pub(crate) fn op_table_copy(&mut self, dst: u32, src: u32) -> Result<(), CompileError> {
        self.widen_bulk_operands([true; 3])?;
        self.checked_segment_helper(Helper::TableCopy, [dst, src], TrapCode::TableOutOfBounds)
    }

    /// Zero-extends to `i64` those of the top three operands (`dst`, `src`,
    /// `len`, in push order) that `which` picks, for a bulk helper.
    fn widen_bulk_operands(&mut self, which: [bool; 3]) -> Result<(), CompileError> {
        let operands = self.pop_n(3)?;
        for (v, widen) in operands.into_iter().zip(which) {
            if widen {
                let v = self.zext_i64(v.into_int_value())?;
                self.push(v);
            } else {
                self.push(v);
            }
        }
        Ok(())
    }

    /// `elem.drop`, through the helper (the instance keeps the state).
    pub(crate) fn op_elem_drop(&mut self, segment: u32) -> Result<(), CompileError> {
        let index = self.cx.i32_type().const_int(u64::from(segment), false);
        self.call_helper_void(Helper::ElemDrop, &[self.vmctx.into(), index.into()])
    }
}
