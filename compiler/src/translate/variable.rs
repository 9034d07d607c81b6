//! Locals and globals.
//!
//! Locals live in entry-block allocas (mem2reg turns them into SSA values).
//! Within one basic block, a `local.get` after a `local.get`, `local.set`
//! or `local.tee` of the same local takes the value that one loaded or
//! stored instead of loading the slot again: nothing else writes a local's
//! slot (it is never address-taken), and a value defined earlier in the
//! same block is available there. At `-O0`, where no mem2reg runs, that is
//! a load fewer for LLVM to select, allocate and encode each time; at
//! `-O2` mem2reg would have made the same SSA values of both.
//! A defined global lives in the VMContext; an imported one behind a
//! pointer stored there. Rule: addresses come from `VMOffsets` only.

use super::{FuncTranslator, Mutability, Region};
use crate::codegen::llvm_type;
use crate::CompileError;
use inkwell::types::BasicTypeEnum;
use inkwell::values::{BasicValueEnum, PointerValue};

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    fn local(&self, index: u32) -> Result<(PointerValue<'ctx>, BasicTypeEnum<'ctx>), CompileError> {
        self.locals
            .get(index as usize)
            .copied()
            .ok_or_else(|| CompileError::Internal(format!("local {index} out of range")))
    }

    /// `local.get`.
    pub(crate) fn op_local_get(&mut self, index: u32) -> Result<(), CompileError> {
        let (slot, ty) = self.local(index)?;
        let here = self.builder.get_insert_block();
        let known = self.local_values.get(index as usize).copied().flatten();
        if let (Some((bb, v)), Some(here)) = (known, here) {
            if bb == here {
                self.push(v);
                return Ok(());
            }
        }
        let v = self.builder.build_load(ty, slot, "local")?;
        self.remember_local(index, v);
        self.push(v);
        Ok(())
    }

    /// `local.set`.
    pub(crate) fn op_local_set(&mut self, index: u32) -> Result<(), CompileError> {
        let (slot, _) = self.local(index)?;
        let v = self.pop()?;
        self.builder.build_store(slot, v)?;
        self.remember_local(index, v);
        Ok(())
    }

    /// `local.tee`.
    pub(crate) fn op_local_tee(&mut self, index: u32) -> Result<(), CompileError> {
        let (slot, _) = self.local(index)?;
        let v = self.pop()?;
        self.builder.build_store(slot, v)?;
        self.remember_local(index, v);
        self.push(v);
        Ok(())
    }

    /// Records `v` as local `index`'s value in the current block.
    fn remember_local(&mut self, index: u32, v: BasicValueEnum<'ctx>) {
        let here = self.builder.get_insert_block();
        if let Some(entry) = self.local_values.get_mut(index as usize) {
            *entry = here.map(|bb| (bb, v));
        }
    }

    /// The address of global `index`'s value, its type, and whether it
    /// can change.
    fn global(
        &self,
        index: u32,
    ) -> Result<(PointerValue<'ctx>, BasicTypeEnum<'ctx>, Mutability), CompileError> {
        let info = self.env.info;
        let ty = info
            .global_types
            .get(index as usize)
            .ok_or_else(|| CompileError::Internal(format!("global {index} out of range")))?;
        let lty = llvm_type(self.cx, ty.content)?;
        let offsets = self.env.offsets();
        let ptr = if index < info.imported_globals {
            self.load_invariant_ptr(self.vmctx, offsets.imported_global(index), "global_ptr")?
        } else {
            self.vmctx_field(offsets.defined_global(index - info.imported_globals))?
        };
        let mutability = if ty.mutable {
            Mutability::Mutable
        } else {
            Mutability::Invariant
        };
        Ok((ptr, lty, mutability))
    }

    /// `global.get`.
    pub(crate) fn op_global_get(&mut self, index: u32) -> Result<(), CompileError> {
        let (ptr, ty, mutability) = self.global(index)?;
        let v = self.load_runtime(ty, ptr, "global", mutability)?;
        self.push(v);
        Ok(())
    }

    /// `global.set`.
    pub(crate) fn op_global_set(&mut self, index: u32) -> Result<(), CompileError> {
        let (ptr, _, _) = self.global(index)?;
        let v = self.pop()?;
        let store = self.builder.build_store(ptr, v)?;
        self.tag(Some(store), Region::Runtime)?;
        if self.orders_side_effects() {
            super::memory::set_volatile(Some(store))?;
        }
        Ok(())
    }
}
