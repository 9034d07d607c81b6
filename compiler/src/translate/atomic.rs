//! The threads proposal's operators: atomic loads, stores,
//! read-modify-write and compare-exchange (all `seq_cst`, as wasm's are),
//! `atomic.fence`, and `memory.atomic.wait32`/`wait64`/`notify`, on shared
//! and unshared memories alike.
//!
//! Every access checks alignment first (`(addr + offset) % size != 0`
//! traps `unaligned atomic`; memory bases are page-aligned, so the host
//! address is then aligned too), then goes through `memory.rs`'s
//! `effective_address` like any load or store, so bounds checks (or guard
//! pages) are exactly the ordinary ones. Waiting and notifying go through
//! the loader's helpers (`wasmo_helper_atomic_wait`/`_notify`), which keep
//! a parking table keyed by host address; on an unshared memory `wait`
//! traps (`atomic wait on non-shared memory`) and `notify` wakes nobody,
//! both decided here, since whether memory 0 is shared is part of its type.
//!
//! Rule: an atomic access is never split, widened or merged: it carries
//! its natural alignment (LLVM would turn a less aligned one into a
//! libcall) and, when it may fault under guard pages, `volatile`, like the
//! ordinary accesses (see `memory.rs`).

use super::memory::{set_volatile, Access};
use super::{FuncTranslator, Region};
use crate::CompileError;
use inkwell::types::IntType;
use inkwell::values::{BasicValue as _, InstructionOpcode, InstructionValue, IntValue};
use inkwell::{AtomicOrdering, AtomicRMWBinOp, IntPredicate};
use wasmo_artifact_format::{Helper, TrapCode};
use wasmparser::MemArg;

/// Expands (inside `impl VisitOperator for FuncTranslator`) to one
/// `visit_*` method per atomic operator: `visit_name => op(args)`, every
/// one taking a `memarg`.
macro_rules! atomic_visitors {
    () => {
        $crate::translate::atomic::atomic_visitors! { @items
            visit_i32_atomic_load => op_atomic_load(32, 32),
            visit_i64_atomic_load => op_atomic_load(64, 64),
            visit_i32_atomic_load8_u => op_atomic_load(8, 32),
            visit_i32_atomic_load16_u => op_atomic_load(16, 32),
            visit_i64_atomic_load8_u => op_atomic_load(8, 64),
            visit_i64_atomic_load16_u => op_atomic_load(16, 64),
            visit_i64_atomic_load32_u => op_atomic_load(32, 64),
            visit_i32_atomic_store => op_atomic_store(32),
            visit_i64_atomic_store => op_atomic_store(64),
            visit_i32_atomic_store8 => op_atomic_store(8),
            visit_i32_atomic_store16 => op_atomic_store(16),
            visit_i64_atomic_store8 => op_atomic_store(8),
            visit_i64_atomic_store16 => op_atomic_store(16),
            visit_i64_atomic_store32 => op_atomic_store(32),
            visit_i32_atomic_rmw_add => op_atomic_rmw(AtomicRMWBinOp::Add, 32),
            visit_i64_atomic_rmw_add => op_atomic_rmw(AtomicRMWBinOp::Add, 64),
            visit_i32_atomic_rmw8_add_u => op_atomic_rmw(AtomicRMWBinOp::Add, 8),
            visit_i32_atomic_rmw16_add_u => op_atomic_rmw(AtomicRMWBinOp::Add, 16),
            visit_i64_atomic_rmw8_add_u => op_atomic_rmw(AtomicRMWBinOp::Add, 8),
            visit_i64_atomic_rmw16_add_u => op_atomic_rmw(AtomicRMWBinOp::Add, 16),
            visit_i64_atomic_rmw32_add_u => op_atomic_rmw(AtomicRMWBinOp::Add, 32),
            visit_i32_atomic_rmw_sub => op_atomic_rmw(AtomicRMWBinOp::Sub, 32),
            visit_i64_atomic_rmw_sub => op_atomic_rmw(AtomicRMWBinOp::Sub, 64),
            visit_i32_atomic_rmw8_sub_u => op_atomic_rmw(AtomicRMWBinOp::Sub, 8),
            visit_i32_atomic_rmw16_sub_u => op_atomic_rmw(AtomicRMWBinOp::Sub, 16),
            visit_i64_atomic_rmw8_sub_u => op_atomic_rmw(AtomicRMWBinOp::Sub, 8),
            visit_i64_atomic_rmw16_sub_u => op_atomic_rmw(AtomicRMWBinOp::Sub, 16),
            visit_i64_atomic_rmw32_sub_u => op_atomic_rmw(AtomicRMWBinOp::Sub, 32),
            visit_i32_atomic_rmw_and => op_atomic_rmw(AtomicRMWBinOp::And, 32),
            visit_i64_atomic_rmw_and => op_atomic_rmw(AtomicRMWBinOp::And, 64),
            visit_i32_atomic_rmw8_and_u => op_atomic_rmw(AtomicRMWBinOp::And, 8),
            visit_i32_atomic_rmw16_and_u => op_atomic_rmw(AtomicRMWBinOp::And, 16),
            visit_i64_atomic_rmw8_and_u => op_atomic_rmw(AtomicRMWBinOp::And, 8),
            visit_i64_atomic_rmw16_and_u => op_atomic_rmw(AtomicRMWBinOp::And, 16),
            visit_i64_atomic_rmw32_and_u => op_atomic_rmw(AtomicRMWBinOp::And, 32),
            visit_i32_atomic_rmw_or => op_atomic_rmw(AtomicRMWBinOp::Or, 32),
            visit_i64_atomic_rmw_or => op_atomic_rmw(AtomicRMWBinOp::Or, 64),
            visit_i32_atomic_rmw8_or_u => op_atomic_rmw(AtomicRMWBinOp::Or, 8),
            visit_i32_atomic_rmw16_or_u => op_atomic_rmw(AtomicRMWBinOp::Or, 16),
            visit_i64_atomic_rmw8_or_u => op_atomic_rmw(AtomicRMWBinOp::Or, 8),
            visit_i64_atomic_rmw16_or_u => op_atomic_rmw(AtomicRMWBinOp::Or, 16),
            visit_i64_atomic_rmw32_or_u => op_atomic_rmw(AtomicRMWBinOp::Or, 32),
            visit_i32_atomic_rmw_xor => op_atomic_rmw(AtomicRMWBinOp::Xor, 32),
            visit_i64_atomic_rmw_xor => op_atomic_rmw(AtomicRMWBinOp::Xor, 64),
            visit_i32_atomic_rmw8_xor_u => op_atomic_rmw(AtomicRMWBinOp::Xor, 8),
            visit_i32_atomic_rmw16_xor_u => op_atomic_rmw(AtomicRMWBinOp::Xor, 16),
            visit_i64_atomic_rmw8_xor_u => op_atomic_rmw(AtomicRMWBinOp::Xor, 8),
            visit_i64_atomic_rmw16_xor_u => op_atomic_rmw(AtomicRMWBinOp::Xor, 16),
            visit_i64_atomic_rmw32_xor_u => op_atomic_rmw(AtomicRMWBinOp::Xor, 32),
            visit_i32_atomic_rmw_xchg => op_atomic_rmw(AtomicRMWBinOp::Xchg, 32),
            visit_i64_atomic_rmw_xchg => op_atomic_rmw(AtomicRMWBinOp::Xchg, 64),
            visit_i32_atomic_rmw8_xchg_u => op_atomic_rmw(AtomicRMWBinOp::Xchg, 8),
            visit_i32_atomic_rmw16_xchg_u => op_atomic_rmw(AtomicRMWBinOp::Xchg, 16),
            visit_i64_atomic_rmw8_xchg_u => op_atomic_rmw(AtomicRMWBinOp::Xchg, 8),
            visit_i64_atomic_rmw16_xchg_u => op_atomic_rmw(AtomicRMWBinOp::Xchg, 16),
            visit_i64_atomic_rmw32_xchg_u => op_atomic_rmw(AtomicRMWBinOp::Xchg, 32),
            visit_i32_atomic_rmw_cmpxchg => op_atomic_cmpxchg(32),
            visit_i64_atomic_rmw_cmpxchg => op_atomic_cmpxchg(64),
            visit_i32_atomic_rmw8_cmpxchg_u => op_atomic_cmpxchg(8),
            visit_i32_atomic_rmw16_cmpxchg_u => op_atomic_cmpxchg(16),
            visit_i64_atomic_rmw8_cmpxchg_u => op_atomic_cmpxchg(8),
            visit_i64_atomic_rmw16_cmpxchg_u => op_atomic_cmpxchg(16),
            visit_i64_atomic_rmw32_cmpxchg_u => op_atomic_cmpxchg(32),
            visit_memory_atomic_wait32 => op_atomic_wait(32),
            visit_memory_atomic_wait64 => op_atomic_wait(64),
            visit_memory_atomic_notify => op_atomic_notify(),
        }

        fn visit_atomic_fence(&mut self, ordering: ::wasmparser::Ordering) -> Self::Output {
            // Only shared-everything-threads' fences are not `seq_cst`.
            let _ = ordering;
            if !self.reachable {
                return Ok(());
            }
            self.op_atomic_fence()
        }
    };
    (@items $( $visit:ident => $op:ident ( $( $e:expr ),* ), )*) => {
        $(
            fn $visit(&mut self, memarg: ::wasmparser::MemArg) -> Self::Output {
                if !self.reachable {
                    return Ok(());
                }
                self.$op(&memarg $(, $e)*)
            }
        )*
    };
}
pub(crate) use atomic_visitors;

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    /// Pops an address and returns the access of `bits / 8` bytes at
    /// `memarg`: trapping `unaligned atomic` first, then checked as any
    /// access is.
    fn atomic_address(&mut self, memarg: &MemArg, bits: u32) -> Result<Access<'ctx>, CompileError> {
        let size = u64::from(bits / 8);
        let addr = self.pop_int()?;
        let aligned = addr
            .get_zero_extended_constant()
            .and_then(|a| a.checked_add(memarg.offset))
            .is_some_and(|ea| ea % size == 0);
        if !aligned {
            let i64t = self.cx.i64_type();
            let b = self.builder;
            let wide = b.build_int_z_extend(addr, i64t, "addr")?;
            let ea = b.build_int_add(wide, i64t.const_int(memarg.offset, false), "ea")?;
            let low = b.build_and(ea, i64t.const_int(size - 1, false), "misaligned")?;
            let bad = b.build_int_compare(IntPredicate::NE, low, i64t.const_zero(), "unaligned")?;
            self.trap_if(bad, TrapCode::UnalignedAtomic)?;
        }
        self.push(addr);
        self.effective_address(memarg, bits / 8)
    }

    /// Alignment, region and (where the access may fault) `volatile` for
    /// an atomic access of `bits`.
    fn finish_atomic(
        &self,
        inst: Option<InstructionValue<'ctx>>,
        bits: u32,
        access: &Access<'ctx>,
    ) -> Result<(), CompileError> {
        // Loads and stores get their natural alignment here; the builder
        // gives `atomicrmw` and `cmpxchg` their type's, which is the same.
        if let Some(i) = inst.filter(|i| {
            matches!(
                i.get_opcode(),
                InstructionOpcode::Load | InstructionOpcode::Store
            )
        }) {
            i.set_alignment(bits / 8)
                .map_err(|e| CompileError::Internal(format!("atomic alignment: {e}")))?;
        }
        self.tag(inst, Region::Linear)?;
        if access.may_fault || self.orders_side_effects() {
            set_volatile(inst)?;
        }
        Ok(())
    }

    /// The integer type of `bits`.
    fn atomic_int(&self, bits: u32) -> IntType<'ctx> {
        match bits {
            8 => self.cx.i8_type(),
            16 => self.cx.i16_type(),
            32 => self.cx.i32_type(),
            _ => self.cx.i64_type(),
        }
    }

    /// Pops an operand and wraps it to `bits`.
    fn pop_wrapped(&mut self, bits: u32) -> Result<(IntValue<'ctx>, IntType<'ctx>), CompileError> {
        let v = self.pop_int()?;
        let ty = v.get_type();
        if ty.get_bit_width() == bits {
            return Ok((v, ty));
        }
        let narrow = self
            .builder
            .build_int_truncate(v, self.atomic_int(bits), "wrap")?;
        Ok((narrow, ty))
    }

    /// Zero-extends `v` to `ty` (a no-op at full width).
    fn push_extended(&mut self, v: IntValue<'ctx>, ty: IntType<'ctx>) -> Result<(), CompileError> {
        let v = if v.get_type() == ty {
            v
        } else {
            self.builder.build_int_z_extend(v, ty, "zext")?
        };
        self.push(v);
        Ok(())
    }

    /// `iN.atomic.load[M_u]`: `bits` read, zero-extended to `result_bits`.
    pub(crate) fn op_atomic_load(
        &mut self,
        memarg: &MemArg,
        bits: u32,
        result_bits: u32,
    ) -> Result<(), CompileError> {
        let access = self.atomic_address(memarg, bits)?;
        let ty = self.atomic_int(bits);
        let v = self.builder.build_load(ty, access.ptr, "atomic_load")?;
        let inst = v.as_instruction_value();
        if let Some(i) = inst {
            i.set_atomic_ordering(AtomicOrdering::SequentiallyConsistent)
                .map_err(|e| CompileError::Internal(format!("atomic load: {e}")))?;
        }
        self.finish_atomic(inst, bits, &access)?;
        let result = self.atomic_int(result_bits);
        self.push_extended(v.into_int_value(), result)
    }

    /// `iN.atomic.store[M]`.
    pub(crate) fn op_atomic_store(
        &mut self,
        memarg: &MemArg,
        bits: u32,
    ) -> Result<(), CompileError> {
        let (v, _) = self.pop_wrapped(bits)?;
        let access = self.atomic_address(memarg, bits)?;
        let store = self.builder.build_store(access.ptr, v)?;
        store
            .set_atomic_ordering(AtomicOrdering::SequentiallyConsistent)
            .map_err(|e| CompileError::Internal(format!("atomic store: {e}")))?;
        self.finish_atomic(Some(store), bits, &access)
    }

    /// `iN.atomic.rmw[M].op[_u]`: the old value, zero-extended.
    pub(crate) fn op_atomic_rmw(
        &mut self,
        memarg: &MemArg,
        op: AtomicRMWBinOp,
        bits: u32,
    ) -> Result<(), CompileError> {
        let (v, ty) = self.pop_wrapped(bits)?;
        let access = self.atomic_address(memarg, bits)?;
        let old = self.builder.build_atomicrmw(
            op,
            access.ptr,
            v,
            AtomicOrdering::SequentiallyConsistent,
        )?;
        self.finish_atomic(old.as_instruction_value(), bits, &access)?;
        self.push_extended(old, ty)
    }

    /// `iN.atomic.rmw[M].cmpxchg[_u]`: both operands wrapped; the old
    /// value, zero-extended.
    pub(crate) fn op_atomic_cmpxchg(
        &mut self,
        memarg: &MemArg,
        bits: u32,
    ) -> Result<(), CompileError> {
        let (replacement, _) = self.pop_wrapped(bits)?;
        let (expected, ty) = self.pop_wrapped(bits)?;
        let access = self.atomic_address(memarg, bits)?;
        let pair = self.builder.build_cmpxchg(
            access.ptr,
            expected,
            replacement,
            AtomicOrdering::SequentiallyConsistent,
            AtomicOrdering::SequentiallyConsistent,
        )?;
        self.finish_atomic(pair.as_instruction_value(), bits, &access)?;
        let old = self
            .builder
            .build_extract_value(pair, 0, "old")?
            .into_int_value();
        self.push_extended(old, ty)
    }

    /// `atomic.fence`.
    pub(crate) fn op_atomic_fence(&mut self) -> Result<(), CompileError> {
        self.builder
            .build_fence(AtomicOrdering::SequentiallyConsistent, false, "fence")?;
        Ok(())
    }

    /// `memory.atomic.wait32/64`: 0 woken, 1 not equal, 2 timed out
    /// (the helper blocks); a trap on an unshared memory.
    pub(crate) fn op_atomic_wait(
        &mut self,
        memarg: &MemArg,
        bits: u32,
    ) -> Result<(), CompileError> {
        let timeout = self.pop_int()?;
        let expected = self.pop_int()?;
        let access = self.atomic_address(memarg, bits)?;
        if !self.memarg_memory(memarg)?.shared {
            self.trap(TrapCode::AtomicWaitNonShared)?;
            self.builder.build_unreachable()?;
            self.reachable = false;
            return Ok(());
        }
        let i64t = self.cx.i64_type();
        let expected = if bits == 32 {
            self.builder
                .build_int_z_extend(expected, i64t, "expected")?
        } else {
            expected
        };
        let width = self.cx.i32_type().const_int(u64::from(bits), false);
        let r = self.call_helper(
            Helper::AtomicWait,
            &[
                access.ptr.into(),
                expected.into(),
                timeout.into(),
                width.into(),
            ],
        )?;
        self.push(r);
        Ok(())
    }

    /// `memory.atomic.notify`: how many waiters were woken (none can wait
    /// on an unshared memory).
    pub(crate) fn op_atomic_notify(&mut self, memarg: &MemArg) -> Result<(), CompileError> {
        let count = self.pop_int()?;
        let access = self.atomic_address(memarg, 32)?;
        if !self.memarg_memory(memarg)?.shared {
            self.push(self.cx.i32_type().const_zero());
            return Ok(());
        }
        let r = self.call_helper(Helper::AtomicNotify, &[access.ptr.into(), count.into()])?;
        self.push(r);
        Ok(())
    }
}
