//! Linear memory: loads, stores, `memory.size`, `memory.grow` and the
//! bulk operators (`memory.copy`/`memory.fill` inline, `memory.init` and
//! `data.drop` through runtime helpers, since segments and their dropped
//! state live in the instance).
//!
//! The effective address is `memory0_base + zext(addr) + offset`, computed
//! in 64 bits so it cannot wrap. With guard pages (the default) the access
//! is unchecked: the loader reserves `4 GiB + guard` bytes per memory, so
//! any access whose `offset + size` fits in the guard faults instead of
//! touching foreign memory, and the fault becomes the out-of-bounds trap.
//! Rule: an access that could reach past the guard (a huge static offset)
//! and every access under the explicit strategy compare
//! `zext(addr) + offset + size` with the current length first.
//!
//! Rule (exact traps): LLVM assumes an ordinary load or store never faults,
//! so it deletes loads whose value is unused, moves accesses past other side
//! effects, merges and vectorises them and turns store loops into `memset`
//! calls. Under guard pages the fault *is* the bounds check, so every access
//! that may fault is `volatile`: LLVM keeps each one, in order with every
//! other side effect, at its width, and never turns it into a libcall.
//! Only accesses that provably cannot fault (a constant address inside the
//! memory's minimum size, which memories never shrink below) stay ordinary.
//! Explicit checks need no such marking: the compare-and-trap branch is a
//! side effect LLVM already keeps in order, and an access after it cannot
//! fault.

use super::{FuncTranslator, Mutability, Region};
use crate::CompileError;
use inkwell::types::{BasicType, BasicTypeEnum, IntType};
use inkwell::values::{
    BasicMetadataValueEnum, BasicValue, BasicValueEnum, InstructionValue, PointerValue,
};
use inkwell::IntPredicate;
use wasmo_artifact_format::vmctx::MEMORY_DEF_CURRENT_LENGTH;
use wasmo_artifact_format::{BoundsChecks, Helper, TrapCode, VMOffsets, WASM_PAGE_SIZE};

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

    /// Memory 0's current length in bytes (reloaded: `memory.grow` changes
    /// it). A shared memory's length is written by other threads' grows,
    /// so it is loaded `monotonic` (a plain `mov` on x86-64 all the same).
    fn memory_length(&self) -> Result<inkwell::values::IntValue<'ctx>, CompileError> {
        let (_, def) = self.memory_pointers()?;
        let addr = self.field(def, MEMORY_DEF_CURRENT_LENGTH)?;
        let len = self.load_runtime(
            self.cx.i64_type().into(),
            addr,
            "memory_length",
            Mutability::Mutable,
        )?;
        if let Some(load) = len
            .as_instruction_value()
            .filter(|_| self.memory0_type().is_some_and(|m| m.shared))
        {
            load.set_alignment(8)
                .and_then(|()| load.set_atomic_ordering(inkwell::AtomicOrdering::Monotonic))
                .map_err(|e| CompileError::Internal(format!("shared memory length: {e}")))?;
        }
        Ok(len.into_int_value())
    }

    /// Pops an address and returns the host pointer of an access of `size`
    /// bytes at `memarg`, bounds-checked as the strategy requires, and
    /// whether the access itself may fault (see the module docs).
    pub(crate) fn effective_address(
        &mut self,
        memarg: &wasmparser::MemArg,
        size: u32,
    ) -> Result<Access<'ctx>, CompileError> {
        if memarg.target != wasmparser::MemArgTarget::Memory(0) {
            return Err(self.unsupported("multiple memories (multi-memory proposal)"));
        }
        let (base, _) = self.memory_pointers()?;
        let i64t = self.cx.i64_type();
        let addr = self.pop_int()?;
        let in_bounds = addr
            .get_zero_extended_constant()
            .and_then(|a| a.checked_add(memarg.offset))
            .and_then(|a| a.checked_add(u64::from(size)))
            .is_some_and(|end| end <= self.memory0_min_bytes());
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
        Ok(Access {
            ptr: self.byte_offset(base, index)?,
            may_fault: !needs_check && !in_bounds,
        })
    }

    /// Memory 0's minimum size in bytes: no access below it can fault.
    fn memory0_min_bytes(&self) -> u64 {
        self.memory0_type()
            .map_or(0, |m| m.limits.min.saturating_mul(WASM_PAGE_SIZE))
    }

    /// Memory 0's type, imported or defined.
    pub(super) fn memory0_type(&self) -> Option<&wasmo_artifact_format::MemoryType> {
        let meta = &self.env.info.metadata;
        let imported = meta.imports.iter().find_map(|i| match &i.kind {
            wasmo_artifact_format::metadata::ImportKind::Memory(m) => Some(m),
            _ => None,
        });
        imported.or_else(|| meta.memories.first())
    }

    /// Finishes a linear-memory access: any alignment, the TBAA region,
    /// and `volatile` as the exact-trap rule says.
    fn finish_access(
        &self,
        inst: Option<InstructionValue<'ctx>>,
        volatile: bool,
    ) -> Result<(), CompileError> {
        set_unaligned(inst)?;
        self.tag(inst, Region::Linear)?;
        if volatile {
            set_volatile(inst)?;
        }
        Ok(())
    }

    /// Whether every side effect an embedder can observe after a trap
    /// (stores to linear memory and globals, bulk operations) is volatile
    /// too: under guard pages, where the accesses that may fault are
    /// volatile loads and stores that LLVM would otherwise reorder ordinary
    /// stores around, or delete a store before them that a later one
    /// overwrites. Explicit checks trap through a call, which LLVM already
    /// keeps every store in order with.
    pub(crate) fn orders_side_effects(&self) -> bool {
        self.env.config.bounds_checks == BoundsChecks::GuardPages
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
        let access = self.effective_address(memarg, size)?;
        let v = self.linear_load(mem_ty, &access)?;
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
        let access = self.effective_address(memarg, size)?;
        self.linear_store(value, &access)
    }

    /// Loads a `ty` from linear memory at `access` (from
    /// [`Self::effective_address`]): unaligned, tagged as linear memory,
    /// volatile if it may fault (the exact-trap rule).
    pub(crate) fn linear_load(
        &self,
        ty: BasicTypeEnum<'ctx>,
        access: &Access<'ctx>,
    ) -> Result<BasicValueEnum<'ctx>, CompileError> {
        let v = self.builder.build_load(ty, access.ptr, "load")?;
        self.finish_access(v.as_instruction_value(), access.may_fault)?;
        Ok(v)
    }

    /// Stores `value` to linear memory at `access` (from
    /// [`Self::effective_address`]), as [`Self::linear_load`] loads.
    pub(crate) fn linear_store(
        &self,
        value: BasicValueEnum<'ctx>,
        access: &Access<'ctx>,
    ) -> Result<(), CompileError> {
        let store = self.builder.build_store(access.ptr, value)?;
        self.finish_access(Some(store), access.may_fault || self.orders_side_effects())?;
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
            return Err(self.unsupported("multiple memories (multi-memory proposal)"));
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
            return Err(self.unsupported("multiple memories (multi-memory proposal)"));
        }
        let delta = self.pop_int()?;
        let delta = self
            .builder
            .build_int_z_extend(delta, self.cx.i64_type(), "delta")?;
        let index = self.cx.i32_type().const_int(u64::from(mem), false);
        let old = self.call_helper(
            Helper::MemoryGrow,
            &[self.vmctx.into(), index.into(), delta.into()],
        )?;
        let old = self
            .builder
            .build_int_truncate(old, self.cx.i32_type(), "old_pages")?;
        self.push(old);
        Ok(())
    }
}

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    /// Pops a length and the start addresses of `starts` ranges of that
    /// length (pushed in that order before it), traps unless every range
    /// lies inside memory 0, and returns the host pointers and the length.
    /// Bulk operations check once, up front, as WebAssembly 2.0 says: an
    /// out-of-bounds range writes nothing, under either strategy.
    fn bulk_ranges(
        &mut self,
        starts: usize,
    ) -> Result<(Vec<PointerValue<'ctx>>, inkwell::values::IntValue<'ctx>), CompileError> {
        let i64t = self.cx.i64_type();
        let len = self.pop_int()?;
        let len = self.builder.build_int_z_extend(len, i64t, "bulk_len")?;
        let addrs = self.pop_n(starts)?;
        let (base, _) = self.memory_pointers()?;
        let memory_len = self.memory_length()?;
        let mut ptrs = Vec::with_capacity(starts);
        for addr in addrs {
            let addr = self
                .builder
                .build_int_z_extend(addr.into_int_value(), i64t, "bulk_addr")?;
            // Both are zero-extended 32-bit values: the sum cannot wrap.
            let end = self.builder.build_int_nuw_add(addr, len, "bulk_end")?;
            let oob =
                self.builder
                    .build_int_compare(IntPredicate::UGT, end, memory_len, "bulk_oob")?;
            self.trap_if(oob, TrapCode::MemoryOutOfBounds)?;
            ptrs.push(self.byte_offset(base, addr)?);
        }
        Ok((ptrs, len))
    }

    /// `memory.copy` within memory 0: one bounds check per range, then
    /// `memmove` (the ranges may overlap).
    pub(crate) fn op_memory_copy(
        &mut self,
        dst_mem: u32,
        src_mem: u32,
    ) -> Result<(), CompileError> {
        if dst_mem != 0 || src_mem != 0 {
            return Err(self.unsupported("multiple memories"));
        }
        let (ptrs, len) = self.bulk_ranges(2)?;
        let [dst, src] = ptrs[..] else {
            return Err(CompileError::Internal(
                "memory.copy takes two ranges".into(),
            ));
        };
        self.bulk_call("llvm.memmove", &[dst.into(), src.into(), len.into()])?;
        Ok(())
    }

    /// `memory.init`: the helper checks both ranges against the memory and
    /// the segment (a dropped one has length 0) and copies; it answers
    /// non-zero, having written nothing, when either is out of bounds.
    pub(crate) fn op_memory_init(&mut self, data: u32, mem: u32) -> Result<(), CompileError> {
        if mem != 0 {
            return Err(self.unsupported("multiple memories (multi-memory proposal)"));
        }
        self.checked_segment_helper(Helper::MemoryInit, [mem, data], TrapCode::MemoryOutOfBounds)
    }

    /// `data.drop`, through the helper (the instance keeps the state).
    pub(crate) fn op_data_drop(&mut self, data: u32) -> Result<(), CompileError> {
        let index = self.cx.i32_type().const_int(u64::from(data), false);
        self.call_helper_void(Helper::DataDrop, &[self.vmctx.into(), index.into()])
    }

    /// `memory.fill` of memory 0: one bounds check, then `memset`.
    pub(crate) fn op_memory_fill(&mut self, mem: u32) -> Result<(), CompileError> {
        if mem != 0 {
            return Err(self.unsupported("multiple memories"));
        }
        let len = self.pop_int()?;
        let value = self.pop_int()?;
        let byte = self
            .builder
            .build_int_truncate(value, self.cx.i8_type(), "fill_byte")?;
        self.push(len);
        let (ptrs, len) = self.bulk_ranges(1)?;
        let [dst] = ptrs[..] else {
            return Err(CompileError::Internal("memory.fill takes one range".into()));
        };
        self.bulk_call("llvm.memset", &[dst.into(), byte.into(), len.into()])?;
        Ok(())
    }
}

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    /// Calls `llvm.memmove`/`llvm.memset` with `args` (destination, source
    /// or byte, length), volatile when side effects must keep their order
    /// (see [`Self::orders_side_effects`]); the ranges were checked already.
    fn bulk_call(
        &mut self,
        name: &str,
        args: &[BasicMetadataValueEnum<'ctx>],
    ) -> Result<(), CompileError> {
        let types: Vec<BasicTypeEnum<'ctx>> = args
            .iter()
            .map(|a| match a {
                BasicMetadataValueEnum::PointerValue(p) => p.get_type().into(),
                BasicMetadataValueEnum::IntValue(i) => i.get_type().into(),
                _ => self.cx.i64_type().into(),
            })
            .collect();
        // memmove is overloaded on (dst, src, len), memset on (dst, len).
        let overload: Vec<BasicTypeEnum<'ctx>> = if name == "llvm.memset" {
            vec![types[0], types[2]]
        } else {
            types
        };
        let f = self.intrinsic(name, &overload)?;
        let volatile = self
            .cx
            .bool_type()
            .const_int(u64::from(self.orders_side_effects()), false);
        let mut all = args.to_vec();
        all.push(volatile.into());
        self.builder.build_call(f, &all, "")?;
        Ok(())
    }
}

/// The host address of a linear-memory access, and whether the access
/// itself may fault (guard pages, address not known to be in bounds).
pub(crate) struct Access<'ctx> {
    pub(super) ptr: PointerValue<'ctx>,
    pub(super) may_fault: bool,
}

/// Marks a load or store volatile.
pub(crate) fn set_volatile(inst: Option<InstructionValue<'_>>) -> Result<(), CompileError> {
    if let Some(inst) = inst {
        inst.set_volatile(true)
            .map_err(|e| CompileError::Internal(format!("volatile access: {e}")))?;
    }
    Ok(())
}

/// Wasm accesses may be unaligned; the alignment hint is not a promise.
fn set_unaligned(inst: Option<InstructionValue<'_>>) -> Result<(), CompileError> {
    if let Some(inst) = inst {
        inst.set_alignment(1)
            .map_err(|e| CompileError::Internal(format!("access alignment: {e}")))?;
    }
    Ok(())
}
