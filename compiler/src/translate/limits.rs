//! Resource-limit instrumentation (issue 13): interruption checks and fuel
//! counting, compiled in only when [`CompileConfig::instrumentation`]
//! asks for them (`wasmoc build --epoch-interruption`, `--consume-fuel`).
//!
//! Fuel reads the store's `VMStoreLimits`, reached through the VMContext's
//! `limits` pointer (an invariant load, so LLVM loads it once per
//! function); interruption reads the instance's copy of the interrupt
//! word in the VMContext itself (`VMOffsets::INTERRUPT`), one load.
//! The translator calls three hooks around each operator
//! (`codegen::translate_function`): [`FuncTranslator::limits_at_entry`]
//! once (with the body, which it scans for calls), then
//! [`FuncTranslator::limits_before`] and [`FuncTranslator::limits_after`]
//! around every operator.
//!
//! - **Interruption**: at every loop header, and at the entry of every
//!   function that may call (see [`may_call`]), so every cycle of
//!   execution, recursion or loop, passes one: one volatile load of the
//!   interrupt word, a compare with zero and a branch, marked cold, to
//!   the function's `interrupt` trap block. The load is volatile so LLVM
//!   never hoists it out of a loop (see `check_interrupt` for why not
//!   atomic). Loop versioning (`loop_version.rs`) may copy a counted loop
//!   with this check into one that checks once per chunk of iterations.
//!   A loop whose every iteration first
//!   calls such a checking function ([`covered_loops`]) gets no header
//!   check: the callee's entry check is passed once per iteration anyway.
//!   A function that calls nothing gets no
//!   entry check (it ends on its own); the loader refuses to enter wasm
//!   from the host while the store is interrupted, so such a function
//!   still never runs in an interrupted store.
//! - **Fuel**: each reachable operator costs one unit. The count of a
//!   straight-line run is kept at compile time and charged
//!   (`fuel_consumed += n`) just before the next operator that transfers
//!   control (branches, calls, `if`/`else`/`end`, `loop`, `return`,
//!   `unreachable`, exception operators), so every unit charged belongs to
//!   an operator that ran, on every path, and the total is the same on
//!   every run. Function entries and loop headers check
//!   `fuel_consumed > 0` and trap "all fuel consumed".
//!
//! Rule: the hooks only ever add code at those points; they never change
//! what the operators themselves translate to, so an artifact built
//! without instrumentation is exactly what it was before.
//!
//! [`CompileConfig::instrumentation`]: crate::CompileConfig::instrumentation

use super::{FuncTranslator, Mutability, Region};
use crate::CompileError;
use inkwell::values::{BasicValue, IntValue, PointerValue};
use wasmo_artifact_format::vmctx::STORE_LIMITS_FUEL_CONSUMED;
use wasmo_artifact_format::{Instrumentation, TrapCode, VMOffsets};
use wasmparser::Operator;

/// What the limit hooks remember while translating one function.
#[derive(Debug, Default)]
pub(crate) struct LimitsState {
    /// Operators counted since fuel was last charged.
    pending_fuel: u64,
    /// Per `loop` of the body, in order: whether every iteration calls a
    /// function with an interruption check before anything else can
    /// branch (see [`covered_loops`]), so the header needs none.
    covered_loops: Vec<bool>,
    /// `loop` operators translated so far, reachable or not.
    loops_seen: usize,
}

/// Whether `op` may transfer control, so the fuel counted so far must be
/// charged before it. Operators of proposals wasmo does not translate are
/// listed too, so the rule holds as they arrive.
fn transfers_control(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::Else
            | Operator::End
            | Operator::Br { .. }
            | Operator::BrIf { .. }
            | Operator::BrTable { .. }
            | Operator::Return
            | Operator::Unreachable
            | Operator::Call { .. }
            | Operator::CallIndirect { .. }
            | Operator::CallRef { .. }
            | Operator::ReturnCall { .. }
            | Operator::ReturnCallIndirect { .. }
            | Operator::ReturnCallRef { .. }
            | Operator::BrOnNull { .. }
            | Operator::BrOnNonNull { .. }
            | Operator::BrOnCast { .. }
            | Operator::BrOnCastFail { .. }
            | Operator::Try { .. }
            | Operator::Catch { .. }
            | Operator::CatchAll
            | Operator::Delegate { .. }
            | Operator::Rethrow { .. }
            | Operator::Throw { .. }
            | Operator::ThrowRef
            | Operator::TryTable { .. }
    )
}

/// Whether `body` has an operator that calls: a direct, indirect or
/// reference call, or a tail call (an unreadable body counts as calling).
/// A function that calls nothing runs its loops (each checked at its
/// header) and otherwise each operator at most once, so it ends on its
/// own: only functions that call can be part of a call cycle, and every
/// unbounded run of calls enters one of them unboundedly often, so their
/// entry checks bound the time between checks. A host import that calls
/// back into wasm is reached by a call too.
fn may_call(body: &wasmparser::FunctionBody<'_>) -> Result<bool, CompileError> {
    for op in body.get_operators_reader()? {
        if matches!(
            op?,
            Operator::Call { .. }
                | Operator::CallIndirect { .. }
                | Operator::CallRef { .. }
                | Operator::ReturnCall { .. }
                | Operator::ReturnCallIndirect { .. }
                | Operator::ReturnCallRef { .. }
        ) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Bodies larger than this are not scanned for calls on a caller's behalf
/// (their callers' loops keep their checks), so compile time stays linear.
const CALLEE_SCAN_LIMIT: usize = 16 * 1024;

/// For each `loop` of `body`, in order: whether the first operator after
/// it that may transfer control ([`transfers_control`]) is a direct
/// `call` of a defined function that has an entry check ([`may_call`]).
/// Then every iteration reaches that call, straight-line, and passes the
/// callee's check: the header's own check would only repeat it. (Nothing
/// before the call can branch back to the header; a trap ends the run.)
fn covered_loops(
    info: &crate::module_info::ModuleInfo<'_>,
    body: &wasmparser::FunctionBody<'_>,
) -> Result<Vec<bool>, CompileError> {
    let ops = body
        .get_operators_reader()?
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let mut covered = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if !matches!(op, Operator::Loop { .. }) {
            continue;
        }
        let first = ops
            .get(i + 1..)
            .and_then(|rest| rest.iter().find(|o| transfers_control(o)));
        let callee = match first {
            Some(Operator::Call { function_index }) => function_index
                .checked_sub(info.imported_funcs)
                .and_then(|def| info.bodies.get(def as usize)),
            _ => None,
        };
        covered.push(match callee {
            Some(b) if b.as_bytes().len() <= CALLEE_SCAN_LIMIT => may_call(b)?,
            _ => false,
        });
    }
    Ok(covered)
}

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    fn instrumentation(&self) -> Instrumentation {
        self.env.config.instrumentation
    }

    /// The store's `VMStoreLimits`.
    fn store_limits(&self) -> Result<PointerValue<'ctx>, CompileError> {
        self.load_invariant_ptr(self.vmctx, VMOffsets::LIMITS, "store_limits")
    }

    /// At function entry, before the first operator: the fuel check, and
    /// the interruption check when `body` may call (see
    /// [`may_call`]).
    pub(crate) fn limits_at_entry(
        &mut self,
        body: &wasmparser::FunctionBody<'_>,
    ) -> Result<(), CompileError> {
        let instr = self.instrumentation();
        if instr.epoch_interruption() {
            self.limits.covered_loops = covered_loops(self.env.info, body)?;
            if may_call(body)? {
                self.check_interrupt()?;
            }
        }
        if instr.consume_fuel() {
            self.check_fuel()?;
        }
        Ok(())
    }

    /// Before operator `op`: counts it, and charges the run so far when
    /// it transfers control.
    pub(crate) fn limits_before(&mut self, op: &Operator<'_>) -> Result<(), CompileError> {
        if !self.instrumentation().consume_fuel() || !self.reachable {
            return Ok(());
        }
        self.limits.pending_fuel += 1;
        if transfers_control(op) {
            self.charge_fuel()?;
        }
        Ok(())
    }

    /// After operator `op`: a loop header gets the entry checks, so every
    /// iteration passes them.
    pub(crate) fn limits_after(&mut self, op: &Operator<'_>) -> Result<(), CompileError> {
        if matches!(op, Operator::Loop { .. }) {
            let covered = self.limits.covered_loops.get(self.limits.loops_seen) == Some(&true);
            self.limits.loops_seen += 1;
            if self.reachable {
                self.limit_checks(covered)?;
            }
        }
        Ok(())
    }

    /// The checks of a loop header, as configured; no interruption check
    /// when the loop is `covered` (see [`covered_loops`]).
    fn limit_checks(&mut self, covered: bool) -> Result<(), CompileError> {
        let instr = self.instrumentation();
        if instr.epoch_interruption() && !covered {
            self.check_interrupt()?;
        }
        if instr.consume_fuel() {
            self.check_fuel()?;
        }
        Ok(())
    }

    /// Charges the pending fuel and traps "all fuel consumed" when the
    /// store's fuel has run out.
    fn check_fuel(&mut self) -> Result<(), CompileError> {
        let consumed = self.charge_fuel()?;
        let out = self.builder.build_int_compare(
            inkwell::IntPredicate::SGT,
            consumed,
            self.cx.i64_type().const_zero(),
            "out_of_fuel",
        )?;
        self.trap_if(out, TrapCode::OutOfFuel)
    }

    /// Traps "interrupt" when the store's interrupt word is non-zero.
    fn check_interrupt(&mut self) -> Result<(), CompileError> {
        // The instance's own copy of the store's word, so the check is one
        // load off the vmctx register (see `VMOffsets::INTERRUPT`).
        let addr = self.field(self.vmctx, VMOffsets::INTERRUPT)?;
        let i64t = self.cx.i64_type();
        let word = self.builder.build_load(i64t, addr, "interrupt")?;
        if let Some(load) = word.as_instruction_value() {
            load.set_alignment(8)
                .map_err(|e| CompileError::Internal(format!("interrupt load: {e}")))?;
            // Volatile, not atomic: LLVM never hoists it out of the loop it
            // guards either, and x86 folds it into the compare (`cmpq $0,
            // 32(%vmctx)`), which it does not do for an atomic load. A
            // volatile load racing with the interrupting thread's store
            // reads what the target reads (LangRef: the result is
            // target-dependent), and an aligned 8-byte load is
            // single-copy atomic on x86-64 and AArch64.
            load.set_volatile(true)
                .map_err(|e| CompileError::Internal(format!("interrupt load: {e}")))?;
            self.tag(Some(load), Region::Runtime)?;
        }
        let set = self.builder.build_int_compare(
            inkwell::IntPredicate::NE,
            word.into_int_value(),
            i64t.const_zero(),
            "interrupted",
        )?;
        self.trap_if(set, TrapCode::Interrupt)
    }

    /// Adds the pending count to the store's `fuel_consumed` (a plain
    /// load and store when there is any) and returns the new value.
    fn charge_fuel(&mut self) -> Result<IntValue<'ctx>, CompileError> {
        let limits = self.store_limits()?;
        let addr = self.field(limits, STORE_LIMITS_FUEL_CONSUMED)?;
        let i64t = self.cx.i64_type();
        let old = self
            .load_runtime(i64t.into(), addr, "fuel", Mutability::Mutable)?
            .into_int_value();
        let pending = std::mem::take(&mut self.limits.pending_fuel);
        if pending == 0 {
            return Ok(old);
        }
        let new = self
            .builder
            .build_int_add(old, i64t.const_int(pending, false), "fuel")?;
        let store = self.builder.build_store(addr, new)?;
        self.tag(Some(store), Region::Runtime)?;
        Ok(new)
    }
}
