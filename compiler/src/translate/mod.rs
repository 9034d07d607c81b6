//! Translation of one function body from wasm operators to LLVM IR.
//!
//! [`FuncTranslator`] implements `wasmparser::VisitOperator` (in `visit.rs`):
//! one short `visit_*` method per opcode that delegates to typed helpers in
//! the category files (`numeric.rs`, `conversion.rs`, `memory.rs`,
//! `control.rs`, `call.rs`, `variable.rs`, `simd.rs`; resource-limit
//! checks around them in `limits.rs`). Rule: no giant `match` on
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

mod atomic;
mod call;
mod control;
mod conversion;
mod exception;
mod limits;
mod memory;
mod numeric;
mod reference;
mod simd;
mod table;
mod variable;
mod visit;

pub(crate) use control::ControlFrame;
pub(crate) use memory::GUARD_SIZE;

use crate::codegen::ModuleEnv;
use crate::CompileError;
use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::types::BasicTypeEnum;
use inkwell::values::{
    BasicMetadataValueEnum, BasicValue, BasicValueEnum, FloatValue, FunctionValue,
    InstructionValue, IntValue, MetadataValue, PointerValue,
};
use wasmo_artifact_format::{Helper, TrapCode};

/// The two kinds of memory compiled code touches. Rule: they never
/// overlap: linear memory is its own reservation, and the runtime's
/// structures (VMContext, memory/table/global definitions, function
/// references) live outside every reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Region {
    /// A wasm memory's bytes.
    Linear,
    /// The runtime's structures.
    Runtime,
}

/// The TBAA access tags of the two [`Region`]s and the `tbaa` metadata
/// kind, made once per chunk (building the nodes again for every access
/// cost 2% of an `-O0` compile).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TbaaTags<'ctx> {
    linear: MetadataValue<'ctx>,
    runtime: MetadataValue<'ctx>,
    kind: u32,
}

impl<'ctx> TbaaTags<'ctx> {
    /// The tags in `cx`: two scalar types under one root, "wasmo regions".
    pub(crate) fn new(cx: &'ctx Context) -> TbaaTags<'ctx> {
        let i64t = cx.i64_type();
        let root = cx.metadata_node(&[cx.metadata_string("wasmo regions").into()]);
        let tag = |name: &str| {
            let ty = cx.metadata_node(&[
                cx.metadata_string(name).into(),
                root.into(),
                i64t.const_zero().into(),
            ]);
            cx.metadata_node(&[ty.into(), ty.into(), i64t.const_zero().into()])
        };
        TbaaTags {
            linear: tag("linear memory"),
            runtime: tag("runtime"),
            kind: cx.get_kind_id("tbaa"),
        }
    }
}

/// Whether a runtime value may change while the instance lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mutability {
    /// A mutable global, a memory's length, a table element, the base and
    /// length of a table that can grow (reloaded after every call and
    /// `table.grow`, since LLVM keeps no ordinary load across a call).
    Mutable,
    /// Fixed at instantiation: memory bases, import slots, type ids,
    /// function references, immutable globals, and the base and length of
    /// a table nothing can grow (`ModuleInfo::table_is_fixed`). LLVM may
    /// then hoist and merge these loads freely (`!invariant.load`).
    Invariant,
}

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
    /// Module-wide declarations and facts.
    pub(crate) env: &'a ModuleEnv<'a, 'ctx>,
    /// The callee vmctx (the function's first parameter).
    pub(crate) vmctx: PointerValue<'ctx>,
    /// Each local's entry-block slot and type.
    pub(crate) locals: Vec<(PointerValue<'ctx>, BasicTypeEnum<'ctx>)>,
    /// Each local's value as last loaded or stored, and the block that
    /// happened in: a `local.get` in that same block reuses it instead of
    /// loading the slot again (`variable.rs`).
    pub(crate) local_values: Vec<Option<(BasicBlock<'ctx>, BasicValueEnum<'ctx>)>>,
    /// Open blocks, loops and ifs; the function body is the outermost.
    pub(crate) control: Vec<ControlFrame<'ctx>>,
    /// How many blocks were opened inside dead code and not closed yet, so
    /// `else`/`end` of dead code are told apart from live ones.
    pub(crate) dead_depth: u32,
    /// The shared trap block of each trap code, created on first use.
    trap_blocks: Vec<Option<BasicBlock<'ctx>>>,
    /// Every memory's base and definition, loaded once in the entry block
    /// (memories never move), imports first.
    pub(crate) memories: Vec<memory::MemoryRef<'ctx>>,
    /// Resource-limit instrumentation's state (`limits.rs`).
    limits: limits::LimitsState,
    /// Landing pads of the open `try_table`s, innermost last.
    pub(crate) handlers: Vec<BasicBlock<'ctx>>,
}

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {
    /// A translator for `function`, whose entry block the builder is
    /// positioned in, after the locals' allocas.
    pub(crate) fn new(
        env: &'a ModuleEnv<'a, 'ctx>,
        builder: &'a Builder<'ctx>,
        function: FunctionValue<'ctx>,
        vmctx: PointerValue<'ctx>,
        locals: Vec<(PointerValue<'ctx>, BasicTypeEnum<'ctx>)>,
    ) -> Self {
        FuncTranslator {
            cx: env.cx,
            builder,
            module: env.module,
            function,
            offset: 0,
            stack: Vec::new(),
            reachable: true,
            env,
            vmctx,
            local_values: vec![None; locals.len()],
            locals,
            control: Vec::new(),
            dead_depth: 0,
            trap_blocks: vec![None; TrapCode::ALL.len()],
            memories: Vec::new(),
            limits: limits::LimitsState::default(),
            handlers: Vec::new(),
        }
    }

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

    /// Pops the top `n` operands, in stack order (deepest first).
    /// An index or length operand as an `i64`: zero-extended from an
    /// `i32` (a 32-bit memory's or table's), unchanged if already `i64`.
    pub(crate) fn zext_i64(&self, v: IntValue<'ctx>) -> Result<IntValue<'ctx>, CompileError> {
        let i64t = self.cx.i64_type();
        if v.get_type() == i64t {
            return Ok(v);
        }
        Ok(self.builder.build_int_z_extend(v, i64t, "zext_i64")?)
    }

    pub(crate) fn pop_n(&mut self, n: usize) -> Result<Vec<BasicValueEnum<'ctx>>, CompileError> {
        let len = self.stack.len();
        if n > len {
            return Err(CompileError::Internal(format!(
                "operand stack underflow at {:#x}",
                self.offset
            )));
        }
        Ok(self.stack.split_off(len - n))
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

    /// The block the builder appends to.
    pub(crate) fn current_block(&self) -> Result<BasicBlock<'ctx>, CompileError> {
        self.builder
            .get_insert_block()
            .ok_or_else(|| CompileError::Internal("builder has no insertion block".into()))
    }

    /// Appends a new block to the function.
    pub(crate) fn new_block(&self, name: &str) -> BasicBlock<'ctx> {
        self.cx.append_basic_block(self.function, name)
    }

    /// Branches to a trap with `code` when `cond` (an `i1`) is true and
    /// continues translating on the false edge.
    pub(crate) fn trap_if(
        &mut self,
        cond: IntValue<'ctx>,
        code: TrapCode,
    ) -> Result<(), CompileError> {
        let trap = self.trap_block(code)?;
        let cont = self.new_block("no_trap");
        let br = self.builder.build_conditional_branch(cond, trap, cont)?;
        self.mark_unlikely_true(br)?;
        self.builder.position_at_end(cont);
        Ok(())
    }

    /// Calls runtime helper `h`, which returns an integer.
    pub(crate) fn call_helper(
        &mut self,
        h: Helper,
        args: &[BasicMetadataValueEnum<'ctx>],
    ) -> Result<IntValue<'ctx>, CompileError> {
        let call = self
            .builder
            .build_call(self.env.helper(h), args, h.symbol())?;
        match call.try_as_basic_value() {
            inkwell::values::ValueKind::Basic(BasicValueEnum::IntValue(v)) => Ok(v),
            _ => Err(CompileError::Internal(format!(
                "{} returns no integer",
                h.symbol()
            ))),
        }
    }

    /// Pops `dst, src, len` and calls bulk helper `h` with the vmctx,
    /// `indices` (two of: memory or table, segment or source table) and
    /// them; traps with `code` when it answers non-zero (a range out of
    /// bounds: the helper wrote nothing).
    pub(crate) fn checked_segment_helper(
        &mut self,
        h: Helper,
        indices: [u32; 2],
        code: TrapCode,
    ) -> Result<(), CompileError> {
        let operands = self.pop_n(3)?;
        let i32t = self.cx.i32_type();
        let mut args: Vec<BasicMetadataValueEnum<'ctx>> = vec![self.vmctx.into()];
        args.extend(
            indices.map(|i| BasicMetadataValueEnum::from(i32t.const_int(u64::from(i), false))),
        );
        args.extend(operands.into_iter().map(BasicMetadataValueEnum::from));
        let status = self.call_helper(h, &args)?;
        let failed = self.builder.build_int_compare(
            inkwell::IntPredicate::NE,
            status,
            i32t.const_zero(),
            "bulk_oob",
        )?;
        self.trap_if(failed, code)
    }

    /// Calls runtime helper `h`, which returns nothing.
    pub(crate) fn call_helper_void(
        &mut self,
        h: Helper,
        args: &[BasicMetadataValueEnum<'ctx>],
    ) -> Result<(), CompileError> {
        self.builder.build_call(self.env.helper(h), args, "")?;
        Ok(())
    }

    /// Emits an unconditional trap with `code`; the insertion point is left
    /// in a fresh unreachable block.
    pub(crate) fn trap(&mut self, code: TrapCode) -> Result<(), CompileError> {
        let trap = self.trap_block(code)?;
        self.builder.build_unconditional_branch(trap)?;
        let dead = self.new_block("after_trap");
        self.builder.position_at_end(dead);
        Ok(())
    }

    /// The function's cold block that raises `code`, made on first use:
    /// `wasmo_trap_<code>(vmctx)` then `unreachable`. The alias resolves to
    /// the trap helper and the linker records the call's return address
    /// with `code` in the trap table, so no code argument is passed. One
    /// block per code keeps the hot path short and the code small.
    fn trap_block(&mut self, code: TrapCode) -> Result<BasicBlock<'ctx>, CompileError> {
        let slot = code.as_u32() as usize;
        if let Some(Some(block)) = self.trap_blocks.get(slot) {
            return Ok(*block);
        }
        let resume = self.current_block()?;
        let block = self.new_block(&format!("trap_{}", code.name()));
        self.builder.position_at_end(block);
        self.builder
            .build_call(self.env.trap_fn(code), &[self.vmctx.into()], "")?;
        self.builder.build_unreachable()?;
        self.builder.position_at_end(resume);
        if let Some(entry) = self.trap_blocks.get_mut(slot) {
            *entry = Some(block);
        }
        Ok(block)
    }

    /// Attaches branch weights saying the true edge of `br` is cold.
    fn mark_unlikely_true(
        &self,
        br: inkwell::values::InstructionValue<'ctx>,
    ) -> Result<(), CompileError> {
        let i32t = self.cx.i32_type();
        let weights = self.cx.metadata_node(&[
            BasicMetadataValueEnum::MetadataValue(self.cx.metadata_string("branch_weights")),
            i32t.const_int(1, false).into(),
            i32t.const_int(1 << 20, false).into(),
        ]);
        br.set_metadata(weights, self.cx.get_kind_id("prof"))
            .map_err(|e| CompileError::Internal(format!("branch weights: {e}")))
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

    /// `base + offset` bytes, as an `i8` GEP.
    pub(crate) fn byte_offset(
        &self,
        base: PointerValue<'ctx>,
        offset: IntValue<'ctx>,
    ) -> Result<PointerValue<'ctx>, CompileError> {
        crate::codegen::byte_gep(self.builder, self.cx, base, offset)
    }

    /// `vmctx + offset`, for a constant VMContext offset.
    pub(crate) fn vmctx_field(&self, offset: u32) -> Result<PointerValue<'ctx>, CompileError> {
        let off = self.cx.i64_type().const_int(u64::from(offset), false);
        self.byte_offset(self.vmctx, off)
    }

    /// Loads a pointer the runtime stores at `base + offset` and never
    /// changes while the instance lives (see [`Mutability::Invariant`]).
    pub(crate) fn load_invariant_ptr(
        &self,
        base: PointerValue<'ctx>,
        offset: u32,
        name: &str,
    ) -> Result<PointerValue<'ctx>, CompileError> {
        let addr = self.field(base, offset)?;
        Ok(self
            .load_runtime(self.env.ptr.into(), addr, name, Mutability::Invariant)?
            .into_pointer_value())
    }

    /// `base + offset` for a constant offset into a runtime structure.
    pub(crate) fn field(
        &self,
        base: PointerValue<'ctx>,
        offset: u32,
    ) -> Result<PointerValue<'ctx>, CompileError> {
        let off = self.cx.i64_type().const_int(u64::from(offset), false);
        self.byte_offset(base, off)
    }

    /// Loads a `ty` from the runtime's structures (VMContext, definitions,
    /// function references), tagged so LLVM knows linear-memory stores
    /// leave it alone, and marked invariant if it is.
    pub(crate) fn load_runtime(
        &self,
        ty: BasicTypeEnum<'ctx>,
        addr: PointerValue<'ctx>,
        name: &str,
        mutability: Mutability,
    ) -> Result<BasicValueEnum<'ctx>, CompileError> {
        let v = self.builder.build_load(ty, addr, name)?;
        let inst = v.as_instruction_value();
        self.tag(inst, Region::Runtime)?;
        if mutability == Mutability::Invariant {
            if let Some(load) = inst {
                let node = self.cx.metadata_node(&[]);
                load.set_metadata(node, self.cx.get_kind_id("invariant.load"))
                    .map_err(|e| CompileError::Internal(format!("invariant.load: {e}")))?;
            }
        }
        Ok(v)
    }

    /// Tags a load or store with the region it touches (LLVM's type-based
    /// alias analysis: accesses to different regions never alias, so a
    /// global stays in a register across linear-memory stores).
    pub(crate) fn tag(
        &self,
        access: Option<InstructionValue<'ctx>>,
        region: Region,
    ) -> Result<(), CompileError> {
        let Some(access) = access else {
            return Ok(());
        };
        let tags = &self.env.tbaa;
        let tag = match region {
            Region::Linear => tags.linear,
            Region::Runtime => tags.runtime,
        };
        access
            .set_metadata(tag, tags.kind)
            .map_err(|e| CompileError::Internal(format!("tbaa: {e}")))
    }

    /// The error for an operator of a proposal this compiler does not
    /// support.
    pub(crate) fn unsupported(&self, feature: &str) -> CompileError {
        CompileError::Unsupported {
            feature: feature.to_owned(),
            offset: self.offset as u64,
        }
    }
}
