//! Bulk memory's table operators: `table.init`, `table.copy` and
//! `elem.drop`, each a runtime helper call, since element segments (with
//! their dropped state) and tables other than sealed ones live in the
//! instance and its store.
//!
//! Rule: a table these write is not sealed (`module_info::written_tables`),
//! so no `call_indirect` keeps a length or contents known at compile time
//! for it.

use super::FuncTranslator;
use crate::CompileError;
use wasmo_artifact_format::{Helper, TrapCode};

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    /// `table.init`: the helper checks both ranges against the table and
    /// the segment (a dropped one has length 0) before writing anything.
    pub(crate) fn op_table_init(&mut self, segment: u32, table: u32) -> Result<(), CompileError> {
        self.checked_segment_helper(
            Helper::TableInit,
            [table, segment],
            TrapCode::TableOutOfBounds,
        )
    }

    /// `table.copy` (the ranges may overlap).
    pub(crate) fn op_table_copy(&mut self, dst: u32, src: u32) -> Result<(), CompileError> {
        self.checked_segment_helper(Helper::TableCopy, [dst, src], TrapCode::TableOutOfBounds)
    }

    /// `elem.drop`, through the helper (the instance keeps the state).
    pub(crate) fn op_elem_drop(&mut self, segment: u32) -> Result<(), CompileError> {
        let index = self.cx.i32_type().const_int(u64::from(segment), false);
        self.call_helper_void(Helper::ElemDrop, &[self.vmctx.into(), index.into()])
    }
}
