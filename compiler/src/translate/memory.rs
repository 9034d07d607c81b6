//! Linear memory: loads, stores, `memory.size` and `memory.grow`.
//!
//! The effective address is `memory0_base + zext(addr) + offset`, computed
//! in 64 bits so it cannot wrap. With guard pages (the default) the access
//! is unchecked: the loader reserves `4 GiB + guard` bytes per memory, so
//! any access whose `offset + size` fits in the guard faults instead of
//! touching foreign memory, and the fault becomes the out-of-bounds trap.
//! Rule: an access that could reach past the guard (a huge static offset)
//! and every access under the explicit strategy compare
//! `zext(addr) + offset + size` with the current length first.

use super::{FuncTranslator, Mutability, Region};
use crate::CompileError;
use inkwell::types::{BasicType, BasicTypeEnum, IntType};
use inkwell::values::{
    BasicValue, BasicValueEnum, InstructionOpcode, InstructionValue, Operand, PointerValue,
};
use inkwell::IntPredicate;
use wasmo_artifact_format::vmctx::MEMORY_DEF_CURRENT_LENGTH;
use wasmo_artifact_format::{BoundsChecks, TrapCode, VMOffsets, WASM_PAGE_SIZE};

/// Guard region after each 32-bit memory's 4 GiB reservation (guard-page
/// strategy). Must match what the artifact records as `guard_size`.
pub(crate) const GUARD_SIZE: u64 = 4 << 30;

/// How a narrow load is widened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extend {
    /// Full-width load, no extension.
    None,
    /// Sign-extend.
    Signed,
    /// Zero-extend.
    Unsigned,
}

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    /// Loads `memory0_base` and `memory0_def` once, in the entry block: both
    /// are constant for the instance's life.
    pub(crate) fn load_memory_pointers(&mut self) -> Result<(), CompileError> {
        let has_memory = !self.env.info.metadata.memories.is_empty()
            || self.env.info.metadata.imports.iter().any(|i| {
                matches!(
                    i.kind,
                    wasmo_artifact_format::metadata::ImportKind::Memory(_)
                )
            });
        if !has_memory {
            return Ok(());
        }
        let base = self.load_invariant_ptr(self.vmctx, VMOffsets::MEMORY0_BASE, "memory0_base")?;
        if let Some(load) = base.as_instruction() {
            let align = self
                .cx
                .i64_type()
                .const_int(VMOffsets::MEMORY_BASE_ALIGN, false);
            let node = self.cx.metadata_node(&[align.into()]);
            load.set_metadata(node, self.cx.get_kind_id("align"))
                .map_err(|e| CompileError::Internal(format!("align: {e}")))?;
        }
        let def = self.load_invariant_ptr(self.vmctx, VMOffsets::MEMORY0_DEF, "memory0_def")?;
        self.memory_base = Some(base);
        self.memory_def = Some(def);
        Ok(())
    }

    fn memory_pointers(&self) -> Result<(PointerValue<'ctx>, PointerValue<'ctx>), CompileError> {
        match (self.memory_base, self.memory_def) {
            (Some(b), Some(d)) => Ok((b, d)),
            _ => Err(CompileError::Internal(format!(
                "memory access without a memory at {:#x}",
                self.offset
            ))),
        }
    }

    /// Memory 0's current length in bytes (reloaded: `memory.grow` changes it).
    fn memory_length(&self) -> Result<inkwell::values::IntValue<'ctx>, CompileError> {
        let (_, def) = self.memory_pointers()?;
        let addr = self.field(def, MEMORY_DEF_CURRENT_LENGTH)?;
        Ok(self
            .load_runtime(
                self.cx.i64_type().into(),
                addr,
                "memory_length",
                Mutability::Mutable,
            )?
            .into_int_value())
    }

    /// Pops an address and returns the host pointer of an access of `size`
    /// bytes at `memarg`, bounds-checked as the strategy requires.
    pub(crate) fn effective_address(
        &mut self,
        memarg: &wasmparser::MemArg,
        size: u32,
    ) -> Result<PointerValue<'ctx>, CompileError> {
        if memarg.target != wasmparser::MemArgTarget::Memory(0) {
            return Err(self.unsupported("multiple memories"));
        }
        let (base, _) = self.memory_pointers()?;
        let i64t = self.cx.i64_type();
        let addr = self.pop_int()?;
        let addr = self.builder.build_int_z_extend(addr, i64t, "addr")?;
        let offset = i64t.const_int(memarg.offset, false);
        let index = self.builder.build_int_nuw_add(addr, offset, "index")?;
        let needs_check = self.env.config.bounds_checks == BoundsChecks::Explicit
            || memarg.offset.saturating_add(u64::from(size)) > GUARD_SIZE;
        if needs_check {
            let end = self.builder.build_int_nuw_add(
                index,
                i64t.const_int(u64::from(size), false),
                "end",
            )?;
            let len = self.memory_length()?;
            let oob = self
                .builder
                .build_int_compare(IntPredicate::UGT, end, len, "oob")?;
            self.trap_if(oob, TrapCode::MemoryOutOfBounds)?;
        }
        self.byte_offset(base, index)
    }

    /// A load of `mem_ty` widened to `result_ty` as `extend` says.
    pub(crate) fn op_load(
        &mut self,
        memarg: &wasmparser::MemArg,
        mem_ty: BasicTypeEnum<'ctx>,
        result_ty: BasicTypeEnum<'ctx>,
        extend: Extend,
    ) -> Result<(), CompileError> {
        let size = self.store_size(mem_ty)?;
        let ptr = self.effective_address(memarg, size)?;
        let v = self.linear_load(mem_ty, ptr)?;
        let v = match (extend, v, result_ty) {
            (Extend::Signed, BasicValueEnum::IntValue(i), BasicTypeEnum::IntType(t)) => {
                self.builder.build_int_s_extend(i, t, "sext")?.into()
            }
            (Extend::Unsigned, BasicValueEnum::IntValue(i), BasicTypeEnum::IntType(t)) => {
                self.builder.build_int_z_extend(i, t, "zext")?.into()
            }
            (Extend::None, v, _) => v,
            _ => return Err(CompileError::Internal("bad load extension".into())),
        };
        self.push(v);
        Ok(())
    }

    /// A store of the popped value, truncated to `narrow` bits if given.
    pub(crate) fn op_store(
        &mut self,
        memarg: &wasmparser::MemArg,
        narrow: Option<IntType<'ctx>>,
    ) -> Result<(), CompileError> {
        let value = self.pop()?;
        let value: BasicValueEnum<'ctx> = match (narrow, value) {
            (Some(t), BasicValueEnum::IntValue(i)) => {
                self.builder.build_int_truncate(i, t, "narrow")?.into()
            }
            (None, v) => v,
            _ => return Err(CompileError::Internal("bad store truncation".into())),
        };
        let size = self.store_size(value.get_type())?;
        let ptr = self.effective_address(memarg, size)?;
        self.linear_store(value, ptr)
    }

    /// Loads a `ty` from linear memory at `ptr` (from
    /// [`Self::effective_address`]): unaligned, tagged as linear memory.
    pub(crate) fn linear_load(
        &self,
        ty: BasicTypeEnum<'ctx>,
        ptr: PointerValue<'ctx>,
    ) -> Result<BasicValueEnum<'ctx>, CompileError> {
        let v = self.builder.build_load(ty, ptr, "load")?;
        set_unaligned(v.as_instruction_value())?;
        self.tag(v.as_instruction_value(), Region::Linear)?;
        Ok(v)
    }

    /// Stores `value` to linear memory at `ptr` (from
    /// [`Self::effective_address`]): unaligned, tagged as linear memory.
    pub(crate) fn linear_store(
        &self,
        value: BasicValueEnum<'ctx>,
        ptr: PointerValue<'ctx>,
    ) -> Result<(), CompileError> {
        let store = self.builder.build_store(ptr, value)?;
        set_unaligned(Some(store))?;
        self.tag(Some(store), Region::Linear)?;
        Ok(())
    }

    /// The size in bytes of an access of type `ty` (scalar or vector).
    pub(crate) fn store_size(&self, ty: BasicTypeEnum<'ctx>) -> Result<u32, CompileError> {
        let bits = match ty {
            BasicTypeEnum::IntType(t) => t.get_bit_width(),
            BasicTypeEnum::FloatType(t) if t == self.cx.f32_type() => 32,
            BasicTypeEnum::FloatType(_) => 64,
            BasicTypeEnum::VectorType(v) => {
                return Ok(v.get_size() * self.store_size(v.get_element_type())?)
            }
            other => {
                return Err(CompileError::Internal(format!(
                    "memory access of type {}",
                    other.as_basic_type_enum()
                )))
            }
        };
        Ok(bits / 8)
    }

    /// `memory.size`: the current length in pages.
    pub(crate) fn op_memory_size(&mut self, mem: u32) -> Result<(), CompileError> {
        if mem != 0 {
            return Err(self.unsupported("multiple memories"));
        }
        let len = self.memory_length()?;
        let shift = self
            .cx
            .i64_type()
            .const_int(WASM_PAGE_SIZE.trailing_zeros().into(), false);
        let pages = self.builder.build_right_shift(len, shift, false, "pages")?;
        let pages = self
            .builder
            .build_int_truncate(pages, self.cx.i32_type(), "pages32")?;
        self.push(pages);
        Ok(())
    }

    /// `memory.grow`, through the runtime helper (old size or -1).
    pub(crate) fn op_memory_grow(&mut self, mem: u32) -> Result<(), CompileError> {
        if mem != 0 {
            return Err(self.unsupported("multiple memories"));
        }
        let delta = self.pop_int()?;
        let delta = self
            .builder
            .build_int_z_extend(delta, self.cx.i64_type(), "delta")?;
        let index = self.cx.i32_type().const_int(u64::from(mem), false);
        let old = self
            .builder
            .build_call(
                self.env.helper_memory_grow,
                &[self.vmctx.into(), index.into(), delta.into()],
                "grow",
            )?
            .try_as_basic_value();
        let old = match old {
            inkwell::values::ValueKind::Basic(BasicValueEnum::IntValue(v)) => v,
            _ => {
                return Err(CompileError::Internal(
                    "memory.grow helper returns no value".into(),
                ))
            }
        };
        let old = self
            .builder
            .build_int_truncate(old, self.cx.i32_type(), "old_pages")?;
        self.push(old);
        Ok(())
    }
}

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    /// Keeps a load whose value is dropped: with guard pages its only
    /// effect may be the out-of-bounds trap, and LLVM deletes unused
    /// ordinary loads. Marking it volatile keeps the access (and so the
    /// fault). Loads that become dead only after optimisation are not
    /// covered; explicit bounds checks have no such gap.
    pub(crate) fn keep_dropped_load(
        &self,
        dropped: BasicValueEnum<'ctx>,
    ) -> Result<(), CompileError> {
        if self.env.config.bounds_checks != BoundsChecks::GuardPages {
            return Ok(());
        }
        // Through what a load's value passes before it is pushed: an
        // extension, and for SIMD loads a bitcast to `v128`, the lane
        // `insertelement` (operand 1) and the splat shuffle (operand 0).
        let mut inst = dropped.as_instruction_value();
        while let Some(wrapper) = inst {
            let operand = match wrapper.get_opcode() {
                InstructionOpcode::SExt
                | InstructionOpcode::ZExt
                | InstructionOpcode::BitCast
                | InstructionOpcode::ShuffleVector => 0,
                InstructionOpcode::InsertElement => 1,
                _ => break,
            };
            inst = match wrapper.get_operand(operand) {
                Some(Operand::Value(v)) => v.as_instruction_value(),
                _ => None,
            };
        }
        if let Some(load) = inst.filter(|i| i.get_opcode() == InstructionOpcode::Load) {
            load.set_volatile(true)
                .map_err(|e| CompileError::Internal(format!("volatile load: {e}")))?;
        }
        Ok(())
    }
}

/// Wasm accesses may be unaligned; the alignment hint is not a promise.
fn set_unaligned(inst: Option<InstructionValue<'_>>) -> Result<(), CompileError> {
    if let Some(inst) = inst {
        inst.set_alignment(1)
            .map_err(|e| CompileError::Internal(format!("access alignment: {e}")))?;
    }
    Ok(())
}
