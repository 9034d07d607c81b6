//! Translation of one function body from wasm operators to LLVM IR.
//!
//! [`FuncTranslator`] implements `wasmparser::VisitOperator` (in `visit.rs`):
//! one short `visit_*` method per opcode that delegates to typed helpers in
//! the category files (`numeric.rs`, `conversion.rs`, `memory.rs`,
//! `control.rs`, `call.rs`, `variable.rs`). Rule: no giant `match` on
//! operators; no `.unwrap()` on builder calls (`?` them); every trap goes
//! through [`FuncTranslator::trap_if`] or [`FuncTranslator::trap`] with its
//! exact [`TrapCode`].
//!
//! Core API the category files use:
//! - `self.cx: &'ctx Context`, `self.builder: &'a Builder<'ctx>`,
//!   `self.module: &'a Module<'ctx>`, `self.offset` (current operator's byte
//!   offset, for errors);
//! - `pop`, `pop_int`, `pop_float`, `push` for the operand stack;
//! - `trap_if(cond, code)` branches to a shared cold trap block;
//! - `intrinsic(name, types)` declares/returns an LLVM intrinsic.

mod conversion;
mod numeric;

use crate::CompileError;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::types::BasicTypeEnum;
use inkwell::values::{BasicValue, BasicValueEnum, FloatValue, FunctionValue, IntValue};
use wasmo_artifact_format::TrapCode;

/// Translates one function body into an LLVM function.
pub(crate) struct FuncTranslator<'a, 'ctx> {
    /// The LLVM context (one per worker thread).
    pub(crate) cx: &'ctx Context,
    /// Positioned at the current insertion point.
    pub(crate) builder: &'a Builder<'ctx>,
    /// The module being built.
    pub(crate) module: &'a Module<'ctx>,
    /// The function being built.
    pub(crate) function: FunctionValue<'ctx>,
    /// Byte offset of the operator being translated.
    pub(crate) offset: usize,
    /// The wasm operand stack.
    pub(crate) stack: Vec<BasicValueEnum<'ctx>>,
    /// False while translating dead code after `br`, `return`,
    /// `unreachable` and the like; visitors then do nothing (control
    /// operators still track nesting).
    pub(crate) reachable: bool,
}

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    /// Pops the top operand.
    pub(crate) fn pop(&mut self) -> Result<BasicValueEnum<'ctx>, CompileError> {
        self.stack.pop().ok_or_else(|| {
            CompileError::Internal(format!("operand stack underflow at {:#x}", self.offset))
        })
    }

    /// Pops an `i32`/`i64` operand.
    pub(crate) fn pop_int(&mut self) -> Result<IntValue<'ctx>, CompileError> {
        match self.pop()? {
            BasicValueEnum::IntValue(v) => Ok(v),
            other => Err(self.type_error("integer", other)),
        }
    }

    /// Pops an `f32`/`f64` operand.
    pub(crate) fn pop_float(&mut self) -> Result<FloatValue<'ctx>, CompileError> {
        match self.pop()? {
            BasicValueEnum::FloatValue(v) => Ok(v),
            other => Err(self.type_error("float", other)),
        }
    }

    /// Pushes an operand.
    pub(crate) fn push(&mut self, v: impl BasicValue<'ctx>) {
        self.stack.push(v.as_basic_value_enum());
    }

    fn type_error(&self, wanted: &str, got: BasicValueEnum<'ctx>) -> CompileError {
        CompileError::Internal(format!(
            "expected {wanted} operand at {:#x}, found {}",
            self.offset,
            got.get_type()
        ))
    }

    /// Branches to a trap with `code` when `cond` (an `i1`) is true and
    /// continues translating on the false edge.
    pub(crate) fn trap_if(&mut self, cond: IntValue<'ctx>, code: TrapCode) -> Result<(), CompileError> {
        let _ = (cond, code);
        Err(CompileError::Internal("trap_if not written yet".into()))
    }

    /// Emits an unconditional trap with `code`; the insertion point is left
    /// in a fresh unreachable block.
    pub(crate) fn trap(&mut self, code: TrapCode) -> Result<(), CompileError> {
        let _ = code;
        Err(CompileError::Internal("trap not written yet".into()))
    }

    /// Declares (once) and returns the LLVM intrinsic `name` overloaded on
    /// `types`, e.g. `intrinsic("llvm.ctlz", &[i32.into()])`.
    pub(crate) fn intrinsic(
        &self,
        name: &str,
        types: &[BasicTypeEnum<'ctx>],
    ) -> Result<FunctionValue<'ctx>, CompileError> {
        let intr = inkwell::intrinsics::Intrinsic::find(name)
            .ok_or_else(|| CompileError::Internal(format!("unknown LLVM intrinsic {name}")))?;
        intr.get_declaration(self.module, types)
            .ok_or_else(|| CompileError::Internal(format!("cannot declare LLVM intrinsic {name}")))
    }
}
