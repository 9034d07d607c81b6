//! Linear memory: loads, stores, `memory.size`, `memory.grow` and the
//! bulk operators (`memory.copy`/`memory.fill` inline, `memory.init` and
//! `data.drop` through runtime helpers, since segments and their dropped
//! state live in the instance).
//!
//! Any memory of the index space (multi-memory), 32- or 64-bit (memory64).
//! The effective address is `base + zext(addr) + offset`, computed in 64
//! bits, `base` loaded once per function ([`FuncTranslator::
//! load_memory_pointers`]). With guard pages (the default) an access to a
//! 32-bit memory is unchecked: the loader reserves `4 GiB + guard` bytes
//! per memory, so any access whose `offset + size` fits in the guard
//! faults instead of touching foreign memory, and the fault becomes the
//! out-of-bounds trap. Rule: an access that could reach past the guard (a
//! huge static offset), every access under the explicit strategy and
//! every access to a 64-bit memory (no guard covers 2^64) compare
//! `addr + offset + size` with the current length first, overflow-safe
//! for 64-bit addresses. Every load and store, scalar, SIMD or atomic,
//! gets its address from [`FuncTranslator::effective_address`].
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
    BasicMetadataValueEnum, BasicValue, BasicValueEnum, InstructionValue, IntValue, PointerValue,
};
use inkwell::IntPredicate;
use wasmo_artifact_format::metadata::ImportKind;
use wasmo_artifact_format::vmctx::{MEMORY_DEF_BASE, MEMORY_DEF_CURRENT_LENGTH};
use wasmo_artifact_format::{
    BoundsChecks, Helper, MemoryType, TrapCode, VMOffsets, WASM_PAGE_SIZE,
};

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
    /// Loads every memory's base and definition pointer once, in the
    /// entry block: both are constant for the instance's life (memories
    /// never move), so they are `!invariant.load` and LLVM deletes the ones
    /// a function never uses. Memory 0's come straight from the VMContext's
    /// fixed fields; another memory's definition is inside the VMContext
    /// (defined) or behind its import slot (imported), and its base is the
    /// definition's first word.
    pub(crate) fn load_memory_pointers(&mut self) -> Result<(), CompileError> {
        let meta = &self.env.info.metadata;
        let types: Vec<MemoryType> = meta
            .imports
            .iter()
            .filter_map(|i| match &i.kind {
                ImportKind::Memory(m) => Some(*m),
                _ => None,
            })
            .chain(meta.memories.iter().copied())
            .collect();
        let imported = meta.vm_counts().imported_memories;
        let offsets = self.env.info.offsets;
        let mut memories = Vec::with_capacity(types.len());
        for (i, ty) in (0u32..).zip(types) {
            let (base, def) = if i == 0 {
                let base =
                    self.load_invariant_ptr(self.vmctx, VMOffsets::MEMORY0_BASE, "memory0_base")?;
                let def =
                    self.load_invariant_ptr(self.vmctx, VMOffsets::MEMORY0_DEF, "memory0_def")?;
                (base, def)
            } else {
                let def = if i < imported {
                    self.load_invariant_ptr(self.vmctx, offsets.imported_memory(i), "memory_def")?
                } else {
                    self.vmctx_field(offsets.defined_memory(i - imported))?
                };
                let base = self.load_invariant_ptr(def, MEMORY_DEF_BASE, "memory_base")?;
                (base, def)
            };
            self.set_base_align(base)?;
            memories.push(MemoryRef {
                base,
                def,
                memory64: ty.memory64,
                shared: ty.shared,
                min_bytes: ty.limits.min.saturating_mul(WASM_PAGE_SIZE),
            });
        }
        self.memories = memories;
        Ok(())
    }

    /// Tells LLVM a memory base is page-aligned (`!align` on its load).
    fn set_base_align(&self, base: PointerValue<'ctx>) -> Result<(), CompileError> {
        if let Some(load) = base.as_instruction() {
            let align = self
                .cx
                .i64_type()
                .const_int(VMOffsets::MEMORY_BASE_ALIGN, false);
            let node = self.cx.metadata_node(&[align.into()]);
            load.set_metadata(node, self.cx.get_kind_id("align"))
                .map_err(|e| CompileError::Internal(format!("align: {e}")))?;
        }
        Ok(())
    }

    /// What this function knows of memory `index`.
    pub(crate) fn memory(&self, index: u32) -> Result<MemoryRef<'ctx>, CompileError> {
        self.memories.get(index as usize).copied().ok_or_else(|| {
            CompileError::Internal(format!(
                "access to memory {index}, which the module lacks, at {:#x}",
                self.offset
            ))
        })
    }

    /// The memory a load, store or atomic `memarg` names.
    pub(crate) fn memarg_memory(
        &self,
        memarg: &wasmparser::MemArg,
    ) -> Result<MemoryRef<'ctx>, CompileError> {
        let wasmparser::MemArgTarget::Memory(index) = memarg.target else {
            return Err(self.unsupported("array accesses (gc proposal)"));
        };
        self.memory(index)
    }

    /// A memory's current length in bytes (reloaded: `memory.grow` changes
    /// it). A shared memory's length is written by other threads' grows,
    /// so it is loaded `monotonic` (a plain `mov` on x86-64 all the same).
    fn memory_length(&self, mem: MemoryRef<'ctx>) -> Result<IntValue<'ctx>, CompileError> {
        let addr = self.field(mem.def, MEMORY_DEF_CURRENT_LENGTH)?;
        let len = self.load_runtime(
            self.cx.i64_type().into(),
            addr,
            "memory_length",
            Mutability::Mutable,
        )?;
        if let Some(load) = len.as_instruction_value().filter(|_| mem.shared) {
            load.set_alignment(8)
                .and_then(|()| load.set_atomic_ordering(inkwell::AtomicOrdering::Monotonic))
                .map_err(|e| CompileError::Internal(format!("shared memory length: {e}")))?;
        }
        Ok(len.into_int_value())
    }

    /// An address operand of `mem` as an `i64`: zero-extended from a
    /// 32-bit memory's `i32`, as it is from a 64-bit one's.
    fn address_i64(
        &self,
        mem: MemoryRef<'ctx>,
        addr: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>, CompileError> {
        if mem.memory64 {
            return Ok(addr);
        }
        Ok(self
            .builder
            .build_int_z_extend(addr, self.cx.i64_type(), "addr")?)
    }

    /// `i1`: whether `start + len` (both `i64`) lies past `mem`'s current
    /// length. For a 64-bit memory the sum may wrap, and a wrapped sum is
    /// out of bounds; for a 32-bit one both are zero-extended 32-bit
    /// values (or a constant below 2^33) and cannot.
    fn range_out_of_bounds(
        &self,
        mem: MemoryRef<'ctx>,
        start: IntValue<'ctx>,
        len: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>, CompileError> {
        let i64t = self.cx.i64_type();
        let memory_len = self.memory_length(mem)?;
        if !mem.memory64 {
            let end = self.builder.build_int_nuw_add(start, len, "end")?;
            return Ok(self.builder.build_int_compare(
                IntPredicate::UGT,
                end,
                memory_len,
                "oob",
            )?);
        }
        let add = self.intrinsic("llvm.uadd.with.overflow", &[i64t.into()])?;
        let sum = self
            .builder
            .build_call(add, &[start.into(), len.into()], "end")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| CompileError::Internal("uadd.with.overflow returns nothing".into()))?
            .into_struct_value();
        let end = self
            .builder
            .build_extract_value(sum, 0, "end")?
            .into_int_value();
        let wrapped = self
            .builder
            .build_extract_value(sum, 1, "wrapped")?
            .into_int_value();
        let past = self
            .builder
            .build_int_compare(IntPredicate::UGT, end, memory_len, "past")?;
        Ok(self.builder.build_or(wrapped, past, "oob")?)
    }

    /// Pops an address and returns the host pointer of an access of `size`
    /// bytes at `memarg`, bounds-checked as the strategy requires, and
    /// whether the access itself may fault (see the module docs). The one
    /// address computation of every load and store, scalar, SIMD or atomic.
    pub(crate) fn effective_address(
        &mut self,
        memarg: &wasmparser::MemArg,
        size: u32,
    ) -> Result<Access<'ctx>, CompileError> {
        let mem = self.memarg_memory(memarg)?;
        let i64t = self.cx.i64_type();
        let addr = self.pop_int()?;
        let in_bounds = addr
            .get_zero_extended_constant()
            .and_then(|a| a.checked_add(memarg.offset))
            .and_then(|a| a.checked_add(u64::from(size)))
            .is_some_and(|end| end <= mem.min_bytes);
        let addr = self.address_i64(mem, addr)?;
        let offset = i64t.const_int(memarg.offset, false);
        // Guard pages cannot cover a 64-bit space: 64-bit memories are
        // always checked.
        let needs_check = mem.memory64
            || self.env.config.bounds_checks == BoundsChecks::Explicit
            || memarg.offset.saturating_add(u64::from(size)) > GUARD_SIZE;
        if needs_check && !in_bounds {
            let Some(end) = memarg.offset.checked_add(u64::from(size)) else {
                // No address of a 64-bit space reaches this access.
                self.trap(TrapCode::MemoryOutOfBounds)?;
                return Ok(Access {
                    ptr: mem.base,
                    may_fault: false,
                });
            };
            let oob = self.range_out_of_bounds(mem, addr, i64t.const_int(end, false))?;
            self.trap_if(oob, TrapCode::MemoryOutOfBounds)?;
        }
        // In bounds (checked, or under the guard), so the sum cannot wrap.
        // No add for offset 0: at `-O0` nothing folds it, and it was a
        // machine instruction on a third of boolector's accesses.
        let index = if memarg.offset == 0 {
            addr
        } else {
            self.builder.build_int_nuw_add(addr, offset, "index")?
        };
        Ok(Access {
            ptr: self.byte_offset(mem.base, index)?,
            may_fault: !needs_check && !in_bounds,
        })
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

    /// `memory.size`: the current length in pages (`i64` for a 64-bit
    /// memory).
    pub(crate) fn op_memory_size(&mut self, index: u32) -> Result<(), CompileError> {
        let mem = self.memory(index)?;
        let len = self.memory_length(mem)?;
        let shift = self
            .cx
            .i64_type()
            .const_int(WASM_PAGE_SIZE.trailing_zeros().into(), false);
        let pages = self.builder.build_right_shift(len, shift, false, "pages")?;
        let pages = self.address_width(mem, pages)?;
        self.push(pages);
        Ok(())
    }

    /// `memory.grow`, through the runtime helper (old size or -1).
    pub(crate) fn op_memory_grow(&mut self, index: u32) -> Result<(), CompileError> {
        let mem = self.memory(index)?;
        let delta = self.pop_int()?;
        let delta = self.address_i64(mem, delta)?;
        let index = self.cx.i32_type().const_int(u64::from(index), false);
        let old = self.call_helper(
            Helper::MemoryGrow,
            &[self.vmctx.into(), index.into(), delta.into()],
        )?;
        let old = self.address_width(mem, old)?;
        self.push(old);
        Ok(())
    }

    /// An `i64` as `mem`'s address type (truncated for a 32-bit memory).
    fn address_width(
        &self,
        mem: MemoryRef<'ctx>,
        v: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>, CompileError> {
        if mem.memory64 {
            return Ok(v);
        }
        Ok(self
            .builder
            .build_int_truncate(v, self.cx.i32_type(), "narrow")?)
    }
}

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    /// Pops a length and one start address per memory of `mems` (pushed in
    /// that order before it), traps unless every range lies inside its
    /// memory, and returns the host pointers and the length (`i64`). Bulk
    /// operations check once, up front, as WebAssembly 2.0 says: an
    /// out-of-bounds range writes nothing, under either strategy. The
    /// length has the narrowest address type of the memories, so it is
    /// zero-extended when any of them is 32-bit.
    fn bulk_ranges(
        &mut self,
        mems: &[u32],
    ) -> Result<(Vec<PointerValue<'ctx>>, IntValue<'ctx>), CompileError> {
        let len = self.pop_int()?;
        let len = self.zext_i64(len)?;
        let addrs = self.pop_n(mems.len())?;
        let mut ptrs = Vec::with_capacity(mems.len());
        for (&index, addr) in mems.iter().zip(addrs) {
            let mem = self.memory(index)?;
            let addr = self.address_i64(mem, addr.into_int_value())?;
            let oob = self.range_out_of_bounds(mem, addr, len)?;
            self.trap_if(oob, TrapCode::MemoryOutOfBounds)?;
            ptrs.push(self.byte_offset(mem.base, addr)?);
        }
        Ok((ptrs, len))
    }

    /// `memory.copy`, within one memory or between two: one bounds check
    /// per range, then `memmove` (the ranges may overlap).
    pub(crate) fn op_memory_copy(
        &mut self,
        dst_mem: u32,
        src_mem: u32,
    ) -> Result<(), CompileError> {
        let (ptrs, len) = self.bulk_ranges(&[dst_mem, src_mem])?;
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
    /// non-zero, having written nothing, when either is out of bounds. The
    /// destination goes to it as an `i64` (zero-extended for a 32-bit
    /// memory); source and length are `i32` for every memory.
    pub(crate) fn op_memory_init(&mut self, data: u32, index: u32) -> Result<(), CompileError> {
        let mem = self.memory(index)?;
        let [dst, src, len] = self.pop_n(3)?[..] else {
            return Err(CompileError::Internal(
                "memory.init takes three operands".into(),
            ));
        };
        let dst = self.address_i64(mem, dst.into_int_value())?;
        self.push(dst);
        self.push(src);
        self.push(len);
        self.checked_segment_helper(
            Helper::MemoryInit,
            [index, data],
            TrapCode::MemoryOutOfBounds,
        )
    }

    /// `data.drop`, through the helper (the instance keeps the state).
    pub(crate) fn op_data_drop(&mut self, data: u32) -> Result<(), CompileError> {
        let index = self.cx.i32_type().const_int(u64::from(data), false);
        self.call_helper_void(Helper::DataDrop, &[self.vmctx.into(), index.into()])
    }

    /// `memory.fill`: one bounds check, then `memset`.
    pub(crate) fn op_memory_fill(&mut self, index: u32) -> Result<(), CompileError> {
        let len = self.pop_int()?;
        let value = self.pop_int()?;
        let byte = self
            .builder
            .build_int_truncate(value, self.cx.i8_type(), "fill_byte")?;
        self.push(len);
        let (ptrs, len) = self.bulk_ranges(&[index])?;
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

/// What a function knows of one memory of the module's index space.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemoryRef<'ctx> {
    /// Its base, loaded once in the entry block (memories never move).
    base: PointerValue<'ctx>,
    /// Its `VMMemoryDefinition` (the current length).
    def: PointerValue<'ctx>,
    /// Whether addresses are `i64` (always bounds-checked).
    memory64: bool,
    /// Whether it is shared (its length is then loaded atomically).
    pub(crate) shared: bool,
    /// Its minimum size in bytes: no access below it can fault.
    min_bytes: u64,
}
