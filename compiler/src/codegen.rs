//! Building one LLVM module for a chunk of defined functions: declarations,
//! function bodies (through [`crate::translate`]), trampolines, then
//! optimisation and emission of an ELF object.
//!
//! Symbol names are the linker's only handle on the code: `wasm_func_N`
//! (defined function N, `DefinedFuncIndex`), `wasm_array_N` (its array-call
//! trampoline) and `wasm_import_tramp_N` (the wasm-to-array trampoline of
//! imported function N). Rule: they have external linkage and hidden
//! visibility, so LLVM neither deletes nor renames them and calls between
//! them stay direct; every other symbol LLVM makes is internal.

use crate::module_info::{CallConv, ModuleInfo};
use crate::target::TargetSetup;
use crate::translate::{ControlFrame, FuncTranslator, TbaaTags};
use crate::{CompileConfig, CompileError, OptLevel};
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::{Linkage, Module};
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::FileType;
use inkwell::types::{
    BasicMetadataTypeEnum, BasicType, BasicTypeEnum, FunctionType, PointerType, StructType,
};
use inkwell::values::{
    BasicMetadataValueEnum, BasicValue, BasicValueEnum, CallSiteValue, FunctionValue, GlobalValue,
    IntValue, PointerValue,
};
use inkwell::{AddressSpace, GlobalVisibility};
use std::cell::RefCell;
use std::collections::BTreeSet;
use wasmo_artifact_format::vmctx::{HOST_CTX_ARRAY_FN, VAL_RAW_SIZE};
use wasmo_artifact_format::{
    AbiType, BoundsChecks, FuncIndex, FuncType, Helper, TrapCode, TypeIndex, VMOffsets, ValType,
};

/// Symbol of defined function `n`.
pub(crate) fn func_symbol(n: u32) -> String {
    format!("wasm_func_{n}")
}

/// Symbol of defined function `n`'s array-call trampoline.
pub(crate) fn array_trampoline_symbol(n: u32) -> String {
    format!("wasm_array_{n}")
}

/// Symbol of imported function `n`'s wasm-to-array trampoline.
pub(crate) fn import_trampoline_symbol(n: u32) -> String {
    format!("wasm_import_tramp_{n}")
}

/// Symbol of the dispatch array of sealed table `table` for `call_indirect`s
/// of the canonical type `canon`.
fn dispatch_symbol(table: u32, canon: TypeIndex) -> String {
    format!("wasmo_dispatch_t{table}_ty{}", canon.0)
}

/// A dispatch array: sealed table and canonical type.
pub(crate) type DispatchKey = (u32, TypeIndex);

/// Where the dispatch arrays of a chunk's `call_indirect`s live.
pub(crate) enum DispatchHome {
    /// Each chunk makes a private copy of every array it uses, which the
    /// optimiser reads through (a constant index folds to a direct call).
    Private,
    /// `-O0`, where nothing reads through them: one object of their own
    /// ([`compile_dispatch_arrays`]) defines every array the chunks use,
    /// and a chunk only declares them, recording which here. Copies in
    /// every chunk made small chunks cost more than they saved.
    Declared(RefCell<BTreeSet<DispatchKey>>),
    /// That object: defines them, visible to the other chunks' objects.
    Owner,
}

/// Module-wide declarations and facts shared by every function translator.
pub(crate) struct ModuleEnv<'a, 'ctx> {
    /// The LLVM context.
    pub(crate) cx: &'ctx Context,
    /// The module being built.
    pub(crate) module: &'a Module<'ctx>,
    /// The wasm module.
    pub(crate) info: &'a ModuleInfo<'a>,
    /// How to compile.
    pub(crate) config: &'a CompileConfig,
    /// The opaque pointer type.
    pub(crate) ptr: PointerType<'ctx>,
    /// The runtime helpers other than `Trap`, declared up front, indexed
    /// by helper number (see [`ModuleEnv::helper`]).
    pub(crate) helpers: Vec<FunctionValue<'ctx>>,
    /// The `tune-cpu` attribute of every function, if any.
    pub(crate) tune_cpu: Option<&'static str>,
    /// The CPU features the code may use (empty off x86-64): a few SIMD
    /// operators have no portable IR that lowers well and pick an x86
    /// instruction when it is there.
    pub(crate) cpu_features: wasmo_artifact_format::CpuFeatures,
    /// The alias-analysis tags every memory access carries.
    pub(crate) tbaa: TbaaTags<'ctx>,
    /// Where dispatch arrays are defined.
    pub(crate) dispatch_home: DispatchHome,
}

impl<'a, 'ctx> ModuleEnv<'a, 'ctx> {
    /// The declaration of runtime helper `h`.
    pub(crate) fn helper(&self, h: Helper) -> FunctionValue<'ctx> {
        self.helpers[h as usize]
    }

    /// The VMContext layout.
    pub(crate) fn offsets(&self) -> &VMOffsets {
        &self.info.offsets
    }

    /// The calling convention of defined function `def`: the module's
    /// choice ([`ModuleInfo::call_conv`]), with `Plain` made `PlainC` at
    /// `-O0`. Decided by the compile's level, never a chunk's (a giant
    /// function's chunk is optimised less), so every chunk agrees.
    pub(crate) fn call_conv(&self, def: u32) -> CallConv {
        match self.info.call_conv(def) {
            CallConv::Plain if self.config.opt_level == OptLevel::O0 => CallConv::PlainC,
            conv => conv,
        }
    }

    /// Defined function `def`, declared in this module on first use (a
    /// chunk defines only its own functions and declares those it calls).
    pub(crate) fn defined_func(&self, def: u32) -> Result<FunctionValue<'ctx>, CompileError> {
        let name = func_symbol(def);
        if let Some(f) = self.module.get_function(&name) {
            return Ok(f);
        }
        let ty = self.info.func_type(wasmo_artifact_format::FuncIndex(
            self.info.imported_funcs + def,
        ))?;
        let f = add_entry_function(self.module, &name, wasm_fn_type(self.cx, ty)?);
        set_wasm_fn_abi(self.cx, f, self.call_conv(def));
        add_codegen_attributes(self, f);
        // Each wasm function stays a frame of its own, so a trap's
        // backtrace names every wasm function on the way (the loader maps
        // return addresses to functions and has no inlining information).
        f.add_attribute(AttributeLoc::Function, enum_attr(self.cx, "noinline"));
        Ok(f)
    }

    /// The dispatch array of sealed table `table` (contents `contents`) for
    /// `call_indirect`s of type `ty`, made in this chunk on first use (or,
    /// under [`DispatchHome::Declared`], declared): a constant
    /// `[len x ptr]` whose element `i` is the defined function in element
    /// `i` if it has type `ty`, else a stub of type `ty` that raises
    /// `IndirectCallToNull` (empty element) or `BadSignature` (another
    /// type). Every entry has the call's exact type, so the call is
    /// well-typed whatever LLVM folds it to. Keyed by the first type index
    /// equal to `ty`, so equal signatures share one.
    pub(crate) fn dispatch_array(
        &self,
        table: u32,
        type_index: TypeIndex,
        contents: &[Option<FuncIndex>],
    ) -> Result<GlobalValue<'ctx>, CompileError> {
        let canon_index = self.info.canonical_type(type_index);
        let ty = self.info.type_at(canon_index)?;
        let canon = canon_index.index();
        let name = dispatch_symbol(table, canon_index);
        if let Some(g) = self.module.get_global(&name) {
            return Ok(g);
        }
        let len = u32::try_from(contents.len())
            .map_err(|_| CompileError::Internal("dispatch array too long".into()))?;
        let array_ty = self.ptr.array_type(len);
        if let DispatchHome::Declared(used) = &self.dispatch_home {
            used.borrow_mut().insert((table, canon_index));
            let g = self.module.add_global(array_ty, None, &name);
            g.set_constant(true);
            g.set_visibility(GlobalVisibility::Hidden);
            return Ok(g);
        }
        let fn_ty = wasm_fn_type(self.cx, ty)?;
        let mut entries = Vec::with_capacity(contents.len());
        for elem in contents {
            let f = match elem {
                Some(f) if self.info.func_has_type(*f, type_index) => {
                    let def = f.0 - self.info.imported_funcs;
                    // An element segment took its address, so it is `Tail`
                    // (`module_info::call_conventions`), as a call through
                    // the array assumes.
                    if self.call_conv(def) != CallConv::Tail {
                        return Err(CompileError::Internal(format!(
                            "function {} in a table has the private convention",
                            f.0
                        )));
                    }
                    self.defined_func(def)?
                }
                Some(_) => self.trap_stub(TrapCode::BadSignature, canon, fn_ty)?,
                None => self.trap_stub(TrapCode::IndirectCallToNull, canon, fn_ty)?,
            };
            entries.push(f.as_global_value().as_pointer_value());
        }
        let array = self.ptr.const_array(&entries);
        let g = self.module.add_global(array_ty, None, &name);
        g.set_initializer(&array);
        g.set_constant(true);
        if let DispatchHome::Owner = self.dispatch_home {
            g.set_visibility(GlobalVisibility::Hidden);
        } else {
            g.set_linkage(Linkage::Private);
            g.set_unnamed_addr(true);
        }
        Ok(g)
    }

    /// The stub of type `fn_ty` (type index `canon`) that raises `code`
    /// when a dispatch array sends a call to it; made on first use. It
    /// keeps a frame of its own, so the trap's backtrace continues through
    /// the return address into the function that made the call.
    fn trap_stub(
        &self,
        code: TrapCode,
        canon: usize,
        fn_ty: FunctionType<'ctx>,
    ) -> Result<FunctionValue<'ctx>, CompileError> {
        let name = format!("wasmo_stub_{}_ty{canon}", code.trap_symbol());
        if let Some(f) = self.module.get_function(&name) {
            return Ok(f);
        }
        // Internal, not private: a private function gets no symbol, and the
        // linker pads every byte of text no function symbol covers with
        // `int3` (the stub's run is recorded as `ModuleMetadata::stubs`).
        let f = self
            .module
            .add_function(&name, fn_ty, Some(Linkage::Internal));
        set_wasm_fn_abi(self.cx, f, CallConv::Tail);
        add_codegen_attributes(self, f);
        f.add_attribute(AttributeLoc::Function, enum_attr(self.cx, "noinline"));
        f.add_attribute(AttributeLoc::Function, enum_attr(self.cx, "cold"));
        let builder = self.cx.create_builder();
        builder.position_at_end(self.cx.append_basic_block(f, "entry"));
        let vmctx = nth_param(f, 0)?.into_pointer_value();
        builder.build_call(self.trap_fn(code), &[vmctx.into()], "")?;
        builder.build_unreachable()?;
        Ok(f)
    }

    /// `wasmo_trap_<code>(vmctx)`: the trap helper under the alias whose
    /// call sites the linker records in the trap table with `code`.
    /// Declared on first use.
    pub(crate) fn trap_fn(&self, code: TrapCode) -> FunctionValue<'ctx> {
        let name = code.trap_symbol();
        if let Some(f) = self.module.get_function(&name) {
            return f;
        }
        declare_external(self.cx, self.module, &name, Helper::Trap)
    }
}

/// `base + offset` bytes.
pub(crate) fn byte_gep<'ctx>(
    builder: &Builder<'ctx>,
    cx: &'ctx Context,
    base: PointerValue<'ctx>,
    offset: IntValue<'ctx>,
) -> Result<PointerValue<'ctx>, CompileError> {
    #[expect(
        unsafe_code,
        reason = "inkwell marks every GEP unsafe because wrong struct indices crash LLVM"
    )]
    // SAFETY: a GEP over `i8` with a single integer index has no struct
    // index that LLVM could reject; it only computes an address and never
    // dereferences it.
    let p = unsafe { builder.build_gep(cx.i8_type(), base, &[offset], "") }?;
    Ok(p)
}

/// The LLVM type of a wasm value type.
pub(crate) fn llvm_type<'ctx>(
    cx: &'ctx Context,
    ty: ValType,
) -> Result<BasicTypeEnum<'ctx>, CompileError> {
    Ok(match ty {
        ValType::I32 => cx.i32_type().into(),
        ValType::I64 => cx.i64_type().into(),
        ValType::F32 => cx.f32_type().into(),
        ValType::F64 => cx.f64_type().into(),
        ValType::V128 => v128_type(cx).into(),
        ValType::FuncRef | ValType::ExternRef | ValType::ExnRef | ValType::Ref(_) => {
            reference_type(cx).into()
        }
    })
}

/// The LLVM type of every reference value (`funcref`, `externref`,
/// `exnref`): one pointer-sized word, null for `ref.null` (see `vmctx.rs`:
/// a funcref is a `*const VMFuncRef`, an externref or exnref the store's
/// `index + 1`). Compiled code never looks inside an externref or exnref
/// (the exception helpers take an exnref as `i64`), so all travel as `ptr`.
pub(crate) fn reference_type(cx: &Context) -> PointerType<'_> {
    cx.ptr_type(AddressSpace::default())
}

/// The LLVM type every `v128` has on the operand stack, in locals, globals,
/// parameters and results: `<4 x i32>`, as clang's `v128_t`. A vector
/// type, so calls pass it in an SSE register; operators bitcast it to the
/// lane shape they work on, which costs nothing.
pub(crate) fn v128_type(cx: &Context) -> inkwell::types::VectorType<'_> {
    cx.i32_type().vec_type(4)
}

/// LLVM's number for the `swifttailcc` calling convention
/// (`CallingConv::SwiftTail`).
const SWIFT_TAIL_CC: u32 = 20;

/// LLVM's number for the `swiftcc` calling convention
/// (`CallingConv::Swift`).
const SWIFT_CC: u32 = 16;

/// LLVM's number for the C calling convention (`CallingConv::C`).
const C_CC: u32 = 0;

impl CallConv {
    /// LLVM's number for the convention.
    fn llvm(self) -> u32 {
        match self {
            CallConv::Tail => SWIFT_TAIL_CC,
            CallConv::Plain => SWIFT_CC,
            CallConv::PlainC => C_CC,
        }
    }

    /// Whether the callee vmctx is the `swiftself` parameter.
    fn swiftself(self) -> bool {
        self != CallConv::PlainC
    }

    /// The convention `f` was made with ([`set_wasm_fn_abi`]); `None` for
    /// a function of neither wasm convention.
    fn of(f: FunctionValue<'_>) -> Option<CallConv> {
        match f.get_call_conventions() {
            SWIFT_TAIL_CC => Some(CallConv::Tail),
            SWIFT_CC => Some(CallConv::Plain),
            C_CC => Some(CallConv::PlainC),
            _ => None,
        }
    }
}

/// Gives `f` a wasm calling convention: [`WASM_CALL_CONV`] for
/// [`CallConv::Tail`], `swifttailcc`, the callee vmctx as its `swiftself`
/// parameter (r13 on x86-64). `swifttailcc` is `swiftcc` with
/// callee-popped stack arguments, which is what lets a `musttail` call go
/// to a function with another signature (more stack arguments than the
/// caller received) in constant stack: `return_call`. Unlike `swiftcc` it
/// does not keep r13 callee-saved, so a function that calls others keeps
/// its vmctx in a callee-saved register of its own, and every call pays
/// for the callee-popped area (see ARCHITECTURE.md, "Decisions").
/// [`CallConv::Plain`] is [`PRIVATE_CALL_CONV`]: the same with `swiftcc`,
/// for functions only their own module's direct calls reach
/// (`module_info::call_conventions`); [`CallConv::PlainC`], the same
/// functions at `-O0`, is [`PRIVATE_O0_CALL_CONV`]: the C convention, no
/// `swiftself`.
/// Rule: every dispatch stub and import trampoline is made with `Tail`,
/// every defined function with [`ModuleInfo::call_conv`]'s answer, and
/// every call of one goes through [`set_wasm_call_abi`] with the callee's
/// convention; a mismatch is undefined behaviour LLVM may turn into
/// `unreachable`.
///
/// [`WASM_CALL_CONV`]: wasmo_artifact_format::vmctx::WASM_CALL_CONV
/// [`PRIVATE_CALL_CONV`]: wasmo_artifact_format::vmctx::PRIVATE_CALL_CONV
/// [`PRIVATE_O0_CALL_CONV`]: wasmo_artifact_format::vmctx::PRIVATE_O0_CALL_CONV
pub(crate) fn set_wasm_fn_abi(cx: &Context, f: FunctionValue<'_>, conv: CallConv) {
    f.set_call_conventions(conv.llvm());
    if conv.swiftself() {
        f.add_attribute(AttributeLoc::Param(0), enum_attr(cx, "swiftself"));
    }
}

/// The call-site half of [`set_wasm_fn_abi`].
pub(crate) fn set_wasm_call_abi(cx: &Context, call: CallSiteValue<'_>, conv: CallConv) {
    call.set_call_convention(conv.llvm());
    if conv.swiftself() {
        call.add_attribute(AttributeLoc::Param(0), enum_attr(cx, "swiftself"));
    }
}

/// How many results of each register class a wasm function returns in
/// registers: `swifttailcc` returns up to four integers (rax, rdx, rcx,
/// r8 on x86-64; x0-x7 on aarch64) and four floats or vectors (xmm0-3;
/// v0-v7). More than that, LLVM would demote the result struct to a
/// hidden pointer into the caller's frame, which a `musttail` call cannot
/// forward (LLVM aborts), so wasmo passes an explicit return area instead
/// ([`returns_in_memory`]).
const RETURN_REGS_PER_CLASS: usize = 4;

/// Whether a function of type `ty` returns its results through a return
/// area: a pointer parameter after the wasm parameters, to memory the
/// caller owns and that holds the results as [`wasm_fn_type`]'s struct of
/// them; the function then returns `void`. A `return_call` passes its own
/// return area on, since caller and callee have the same results.
pub(crate) fn returns_in_memory(ty: &FuncType) -> bool {
    let vectors = ty
        .results
        .iter()
        .filter(|r| matches!(r, ValType::F32 | ValType::F64 | ValType::V128))
        .count();
    let integers = ty.results.len() - vectors;
    integers > RETURN_REGS_PER_CLASS || vectors > RETURN_REGS_PER_CLASS
}

/// `fn(callee_vmctx, caller_vmctx, params...) -> result`, or
/// `fn(callee_vmctx, caller_vmctx, params..., return_area)` when the
/// results go through memory ([`returns_in_memory`]).
pub(crate) fn wasm_fn_type<'ctx>(
    cx: &'ctx Context,
    ty: &FuncType,
) -> Result<FunctionType<'ctx>, CompileError> {
    let ptr = cx.ptr_type(AddressSpace::default());
    let mut params: Vec<BasicMetadataTypeEnum<'ctx>> = vec![ptr.into(), ptr.into()];
    for &p in &ty.params {
        params.push(llvm_type(cx, p)?.into());
    }
    if returns_in_memory(ty) {
        params.push(ptr.into());
        return Ok(cx.void_type().fn_type(&params, false));
    }
    match ty.results.as_slice() {
        [] => Ok(cx.void_type().fn_type(&params, false)),
        [r] => Ok(llvm_type(cx, *r)?.fn_type(&params, false)),
        many => Ok(results_struct_type(cx, many)?.fn_type(&params, false)),
    }
}

/// The literal struct of several results, as returned in registers or
/// stored in a return area.
fn results_struct_type<'ctx>(
    cx: &'ctx Context,
    results: &[ValType],
) -> Result<StructType<'ctx>, CompileError> {
    let fields = results
        .iter()
        .map(|&r| llvm_type(cx, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(cx.struct_type(&fields, false))
}

/// A wasm function to call: one declared in this module, or a pointer to
/// one of type `ty` (import slot, table element, dispatch array).
pub(crate) enum Callee<'ctx> {
    /// Called by name.
    Direct(FunctionValue<'ctx>),
    /// Called through a pointer.
    Indirect(PointerValue<'ctx>),
}

/// Calls wasm function `callee` of type `ty` with `args` (both vmctx
/// arguments and the parameters) in the wasm ABI and returns its results.
/// A return area, when the type needs one, is a slot in the calling
/// function's entry block, so a call in a loop does not grow the stack.
/// With `unwind`, the call is an `invoke` whose exceptions go to that
/// landing pad, and the builder is left in the new normal successor.
pub(crate) fn call_wasm<'ctx>(
    builder: &Builder<'ctx>,
    cx: &'ctx Context,
    callee: Callee<'ctx>,
    ty: &FuncType,
    mut args: Vec<BasicMetadataValueEnum<'ctx>>,
    unwind: Option<BasicBlock<'ctx>>,
) -> Result<Vec<BasicValueEnum<'ctx>>, CompileError> {
    let area = if returns_in_memory(ty) {
        let results = results_struct_type(cx, &ty.results)?;
        let area = entry_alloca(builder, cx, results.into())?;
        args.push(area.into());
        Some((area, results))
    } else {
        None
    };
    let call = build_wasm_call(builder, cx, callee, ty, &args, unwind)?;
    match area {
        Some((area, results)) => {
            let agg = builder.build_load(results, area, "results")?;
            unpack_results(builder, Some(agg), ty.results.len())
        }
        None => unpack_results(builder, call.try_as_basic_value().basic(), ty.results.len()),
    }
}

/// `return_call`: calls wasm function `callee` of type `ty` from `caller`
/// as a `musttail` call and returns what it returns, so the callee
/// replaces the caller's frame (constant stack however long the chain of
/// tail calls). `args` are both vmctx arguments and the parameters; the
/// caller's return area, if the results need one, is passed on (caller
/// and callee have the same results). The builder is left after the
/// `ret`, in no block the caller may add to.
pub(crate) fn tail_call_wasm<'ctx>(
    builder: &Builder<'ctx>,
    cx: &'ctx Context,
    caller: FunctionValue<'ctx>,
    callee: Callee<'ctx>,
    ty: &FuncType,
    mut args: Vec<BasicMetadataValueEnum<'ctx>>,
) -> Result<(), CompileError> {
    // `musttail` needs caller and callee on one convention; a function
    // that makes tail calls, and one a `return_call` names, are `Tail`.
    let tail_cc = |f: FunctionValue<'_>| CallConv::of(f) == Some(CallConv::Tail);
    if !tail_cc(caller) || matches!(callee, Callee::Direct(f) if !tail_cc(f)) {
        return Err(CompileError::Internal(
            "a tail call between functions of different conventions".into(),
        ));
    }
    if returns_in_memory(ty) {
        args.push(return_area(caller)?.into());
    }
    let call = build_wasm_call(builder, cx, callee, ty, &args, None)?;
    call.set_tail_call_kind(inkwell::values::LLVMTailCallKind::LLVMTailCallKindMustTail);
    match call.try_as_basic_value().basic() {
        Some(v) => builder.build_return(Some(&v as &dyn BasicValue<'ctx>))?,
        None => builder.build_return(None)?,
    };
    Ok(())
}

/// The call instruction of [`call_wasm`] and [`tail_call_wasm`], in the
/// wasm ABI (see [`call_or_invoke`] for `unwind`).
fn build_wasm_call<'ctx>(
    builder: &Builder<'ctx>,
    cx: &'ctx Context,
    callee: Callee<'ctx>,
    ty: &FuncType,
    args: &[BasicMetadataValueEnum<'ctx>],
    unwind: Option<BasicBlock<'ctx>>,
) -> Result<CallSiteValue<'ctx>, CompileError> {
    // A direct call takes the callee's own convention; a call through a
    // pointer can reach only `Tail` functions.
    let (target, conv) = match callee {
        Callee::Direct(f) => (
            CallTarget::Direct(f),
            CallConv::of(f).unwrap_or(CallConv::Tail),
        ),
        Callee::Indirect(p) => (
            CallTarget::Indirect(wasm_fn_type(cx, ty)?, p),
            CallConv::Tail,
        ),
    };
    let call = call_or_invoke(builder, cx, target, args, unwind, "call")?;
    set_wasm_call_abi(cx, call, conv);
    Ok(call)
}

/// What [`call_or_invoke`] calls: a declared function, or a pointer to a
/// function of the given type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CallTarget<'ctx> {
    /// Called by name.
    Direct(FunctionValue<'ctx>),
    /// Called through a pointer.
    Indirect(FunctionType<'ctx>, PointerValue<'ctx>),
}

/// A `call` of `target`, or with `unwind` an `invoke` whose exceptions go
/// to that landing pad and whose normal successor is a new block, where
/// the builder is left. The one place a call may become an `invoke`
/// (wasm calls inside a `try_table`, the throw helpers, trampolines).
pub(crate) fn call_or_invoke<'ctx>(
    builder: &Builder<'ctx>,
    cx: &'ctx Context,
    target: CallTarget<'ctx>,
    args: &[BasicMetadataValueEnum<'ctx>],
    unwind: Option<BasicBlock<'ctx>>,
    name: &str,
) -> Result<CallSiteValue<'ctx>, CompileError> {
    let Some(lpad) = unwind else {
        return Ok(match target {
            CallTarget::Direct(f) => builder.build_call(f, args, name)?,
            CallTarget::Indirect(ty, p) => builder.build_indirect_call(ty, p, args, name)?,
        });
    };
    let args = args
        .iter()
        .map(|&a| {
            BasicValueEnum::try_from(a)
                .map_err(|_| CompileError::Internal("metadata argument to an invoke".into()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let function = builder
        .get_insert_block()
        .and_then(|b| b.get_parent())
        .ok_or_else(|| CompileError::Internal("invoke outside a function".into()))?;
    let cont = cx.append_basic_block(function, "invoke_cont");
    let call = match target {
        CallTarget::Direct(f) => builder.build_direct_invoke(f, &args, cont, lpad, name)?,
        CallTarget::Indirect(ty, p) => {
            builder.build_indirect_invoke(ty, p, &args, cont, lpad, name)?
        }
    };
    builder.position_at_end(cont);
    Ok(call)
}

/// Returns `results` from wasm function `function` (whose body the
/// builder is in): in registers, or through the return area
/// ([`returns_in_memory`]) when the function's LLVM type returns nothing.
pub(crate) fn build_wasm_return<'ctx>(
    builder: &Builder<'ctx>,
    cx: &'ctx Context,
    function: FunctionValue<'ctx>,
    results: &[BasicValueEnum<'ctx>],
) -> Result<(), CompileError> {
    let packed = pack_results(builder, cx, results)?;
    match packed {
        Some(v) if function.get_type().get_return_type().is_none() => {
            builder.build_store(return_area(function)?, v)?;
            builder.build_return(None)?
        }
        Some(v) => builder.build_return(Some(&v as &dyn BasicValue<'ctx>))?,
        None => builder.build_return(None)?,
    };
    Ok(())
}

/// The return area parameter of wasm function `f`, whose results go
/// through memory: its last.
fn return_area(f: FunctionValue<'_>) -> Result<PointerValue<'_>, CompileError> {
    f.get_last_param()
        .map(BasicValueEnum::into_pointer_value)
        .ok_or_else(|| CompileError::Internal("return area missing".into()))
}

/// A stack slot of type `ty` in the entry block of the function the
/// builder is in, before its first instruction.
fn entry_alloca<'ctx>(
    builder: &Builder<'ctx>,
    cx: &'ctx Context,
    ty: BasicTypeEnum<'ctx>,
) -> Result<PointerValue<'ctx>, CompileError> {
    let entry = builder
        .get_insert_block()
        .and_then(|b| b.get_parent())
        .and_then(|f| f.get_first_basic_block())
        .ok_or_else(|| CompileError::Internal("alloca outside a function".into()))?;
    let at_entry = cx.create_builder();
    match entry.get_first_instruction() {
        Some(first) => at_entry.position_before(&first),
        None => at_entry.position_at_end(entry),
    }
    Ok(at_entry.build_alloca(ty, "return_area")?)
}

/// The value a wasm function returns for `results`: nothing, the one
/// value, or (multi-value) a literal struct of them all, as
/// [`wasm_fn_type`] declares (returned in registers, or stored in the
/// return area by [`build_wasm_return`]).
fn pack_results<'ctx>(
    builder: &Builder<'ctx>,
    cx: &'ctx Context,
    results: &[BasicValueEnum<'ctx>],
) -> Result<Option<BasicValueEnum<'ctx>>, CompileError> {
    match results {
        [] => Ok(None),
        [v] => Ok(Some(*v)),
        many => {
            let types: Vec<BasicTypeEnum<'ctx>> = many.iter().map(|v| v.get_type()).collect();
            let mut agg = cx.struct_type(&types, false).get_undef();
            for (i, v) in many.iter().enumerate() {
                agg = builder
                    .build_insert_value(agg, *v, i as u32, "result")?
                    .into_struct_value();
            }
            Ok(Some(agg.into()))
        }
    }
}

/// The inverse of [`pack_results`]: the result values of a call that
/// returned `returned` for a function with `count` results.
fn unpack_results<'ctx>(
    builder: &Builder<'ctx>,
    returned: Option<BasicValueEnum<'ctx>>,
    count: usize,
) -> Result<Vec<BasicValueEnum<'ctx>>, CompileError> {
    match (returned, count) {
        (None, 0) => Ok(Vec::new()),
        (Some(v), 1) => Ok(vec![v]),
        (Some(BasicValueEnum::StructValue(agg)), n) => (0..n)
            .map(|i| {
                builder
                    .build_extract_value(agg, i as u32, "result")
                    .map_err(CompileError::from)
            })
            .collect(),
        _ => Err(CompileError::Internal(format!(
            "a call returned the wrong shape for {count} results"
        ))),
    }
}

/// `fn(callee_vmctx, caller_vmctx, values: *mut ValRaw, len: usize)`.
pub(crate) fn array_fn_type(cx: &Context) -> FunctionType<'_> {
    let ptr = cx.ptr_type(AddressSpace::default());
    cx.void_type().fn_type(
        &[ptr.into(), ptr.into(), ptr.into(), cx.i64_type().into()],
        false,
    )
}

/// The attributes every function we generate carries: frame pointers for
/// the loader's backtraces, inline stack probes so a big frame cannot jump
/// over the guard page, unwind tables (no `nounwind`: a wasm exception
/// unwinds through every wasm frame, see ARCHITECTURE.md, "Exceptions";
/// the tables cost nothing on the normal path), and no tail calls but the
/// `musttail` ones of `return_call` (which the attribute does not affect):
/// a wasm `call` consumes stack, so runaway recursion must exhaust it (and
/// trap) instead of becoming an endless loop through tail-recursion
/// elimination or sibling calls. Plus the target's `tune-cpu`, if it has one.
fn add_codegen_attributes<'ctx>(env: &ModuleEnv<'_, 'ctx>, f: FunctionValue<'ctx>) {
    let cx = env.cx;
    if let Some(tune) = env.tune_cpu {
        f.add_attribute(
            AttributeLoc::Function,
            cx.create_string_attribute("tune-cpu", tune),
        );
    }
    f.add_attribute(
        AttributeLoc::Function,
        cx.create_string_attribute("disable-tail-calls", "true"),
    );
    f.add_attribute(
        AttributeLoc::Function,
        cx.create_string_attribute("frame-pointer", "all"),
    );
    f.add_attribute(
        AttributeLoc::Function,
        cx.create_string_attribute("probe-stack", "inline-asm"),
    );
    f.add_attribute(AttributeLoc::Function, enum_attr_int(cx, "uwtable", 2));
}

/// An integer-valued enum attribute (`uwtable(async)` is 2).
fn enum_attr_int(cx: &Context, name: &str, value: u64) -> Attribute {
    cx.create_enum_attribute(Attribute::get_named_enum_kind_id(name), value)
}

fn enum_attr(cx: &Context, name: &str) -> Attribute {
    cx.create_enum_attribute(Attribute::get_named_enum_kind_id(name), 0)
}

/// Adds a function the linker must find by name.
fn add_entry_function<'ctx>(
    module: &Module<'ctx>,
    name: &str,
    ty: FunctionType<'ctx>,
) -> FunctionValue<'ctx> {
    let f = module.add_function(name, ty, Some(Linkage::External));
    f.as_global_value().set_visibility(GlobalVisibility::Hidden);
    f
}

fn declare_helper<'ctx>(
    cx: &'ctx Context,
    module: &Module<'ctx>,
    helper: Helper,
) -> FunctionValue<'ctx> {
    declare_external(cx, module, helper.symbol(), helper)
}

/// Declares `name` with `helper`'s signature and attributes.
fn declare_external<'ctx>(
    cx: &'ctx Context,
    module: &Module<'ctx>,
    name: &str,
    helper: Helper,
) -> FunctionValue<'ctx> {
    let ptr = cx.ptr_type(AddressSpace::default());
    let basic = |t: AbiType| -> Option<BasicTypeEnum<'ctx>> {
        Some(match t {
            AbiType::ptr => ptr.into(),
            AbiType::i32 => cx.i32_type().into(),
            AbiType::i64 | AbiType::usize => cx.i64_type().into(),
            AbiType::f32 => cx.f32_type().into(),
            AbiType::f64 => cx.f64_type().into(),
            AbiType::void => return None,
        })
    };
    let (params, ret) = helper.signature();
    let params: Vec<BasicMetadataTypeEnum<'ctx>> = params
        .iter()
        .filter_map(|&t| basic(t))
        .map(Into::into)
        .collect();
    let ty = match basic(ret) {
        Some(r) => r.fn_type(&params, false),
        None => cx.void_type().fn_type(&params, false),
    };
    let f = module.add_function(name, ty, Some(Linkage::External));
    // The throw helpers unwind into compiled code; every other helper
    // returns or traps (a trap never unwinds).
    if !matches!(helper, Helper::Throw | Helper::ThrowRef) {
        f.add_attribute(AttributeLoc::Function, enum_attr(cx, "nounwind"));
    }
    if matches!(helper, Helper::Throw | Helper::ThrowRef | Helper::Uncaught) {
        f.add_attribute(AttributeLoc::Function, enum_attr(cx, "noreturn"));
        f.add_attribute(AttributeLoc::Function, enum_attr(cx, "cold"));
    }
    if helper == Helper::Trap {
        f.add_attribute(AttributeLoc::Function, enum_attr(cx, "noreturn"));
        f.add_attribute(AttributeLoc::Function, enum_attr(cx, "cold"));
    }
    f
}

/// Which defined functions a chunk defines, and whether it also holds the
/// import trampolines (exactly one chunk does).
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    /// Defined function indices, ascending.
    pub(crate) funcs: std::ops::Range<u32>,
    /// Whether this chunk emits the import trampolines.
    pub(crate) import_trampolines: bool,
    /// The optimisation level for this chunk (lower than asked for a giant
    /// function).
    pub(crate) opt_level: OptLevel,
}

/// What a chunk's worker hands back: its object, and the dispatch arrays
/// it only declared ([`DispatchHome::Declared`]), for
/// [`compile_dispatch_arrays`] to define.
pub(crate) struct ChunkObject {
    /// The ELF object.
    pub(crate) object: Vec<u8>,
    /// Dispatch arrays the object refers to but does not define.
    pub(crate) dispatch_arrays: BTreeSet<DispatchKey>,
}

/// A fresh LLVM module for `tm`, and the module-wide declarations every
/// function of it shares.
fn module_env<'a, 'ctx>(
    cx: &'ctx Context,
    module: &'a Module<'ctx>,
    info: &'a ModuleInfo<'a>,
    config: &'a CompileConfig,
    target: &TargetSetup,
    tm: &inkwell::targets::TargetMachine,
    dispatch_home: DispatchHome,
) -> ModuleEnv<'a, 'ctx> {
    module.set_triple(&tm.get_triple());
    module.set_data_layout(&tm.get_target_data().get_data_layout());
    ModuleEnv {
        cx,
        module,
        info,
        config,
        ptr: cx.ptr_type(AddressSpace::default()),
        helpers: Helper::ALL
            .iter()
            .map(|&h| declare_helper(cx, module, h))
            .collect(),
        tune_cpu: target.tune_cpu,
        cpu_features: target.cpu_features,
        tbaa: TbaaTags::new(cx),
        dispatch_home,
    }
}

/// Builds, optimises and emits the object for one chunk.
pub(crate) fn compile_chunk(
    info: &ModuleInfo<'_>,
    config: &CompileConfig,
    target: &TargetSetup,
    chunk: &Chunk,
) -> Result<ChunkObject, CompileError> {
    let cx = Context::create();
    let dump = dump_dir(&cx);
    let module = cx.create_module("wasmo");
    let tm = target.machine()?;
    let builder = cx.create_builder();
    // At `-O0` (the compile's level: a giant function's chunk agrees)
    // nothing reads through a dispatch array, so one copy serves all.
    let home = if config.opt_level == OptLevel::O0 {
        DispatchHome::Declared(RefCell::default())
    } else {
        DispatchHome::Private
    };
    let env = module_env(&cx, &module, info, config, target, &tm, home);

    let mut validation = wasmparser::FuncValidatorAllocations::default();
    for def in chunk.funcs.clone() {
        if let Some(deferred) = &info.deferred {
            let body = info
                .bodies
                .get(def as usize)
                .ok_or_else(|| CompileError::Internal(format!("body {def} out of range")))?;
            deferred.check(def, body, &mut validation)?;
        }
        translate_function(&env, &builder, def)?;
        if info.host_entry(def) {
            build_array_trampoline(&env, &builder, def)?;
        }
    }
    if chunk.import_trampolines {
        for import in 0..info.imported_funcs {
            build_import_trampoline(&env, &builder, import)?;
        }
    }
    let label = format!("chunk{}", chunk.funcs.start);
    let object = finish_module(&env, &tm, chunk.opt_level, dump.as_deref(), &label)?;
    let dispatch_arrays = match env.dispatch_home {
        DispatchHome::Declared(used) => used.into_inner(),
        DispatchHome::Private | DispatchHome::Owner => BTreeSet::new(),
    };
    Ok(ChunkObject {
        object,
        dispatch_arrays,
    })
}

/// The object that defines the dispatch arrays `keys` (and their trap
/// stubs) for the chunks that only declared them
/// ([`DispatchHome::Declared`]).
pub(crate) fn compile_dispatch_arrays(
    info: &ModuleInfo<'_>,
    config: &CompileConfig,
    target: &TargetSetup,
    keys: &BTreeSet<DispatchKey>,
) -> Result<Vec<u8>, CompileError> {
    let cx = Context::create();
    let dump = dump_dir(&cx);
    let module = cx.create_module("wasmo");
    let tm = target.machine()?;
    let env = module_env(&cx, &module, info, config, target, &tm, DispatchHome::Owner);
    for &(table, ty) in keys {
        let contents = info
            .sealed_table(table)
            .and_then(|t| t.contents.as_deref())
            .ok_or_else(|| {
                CompileError::Internal(format!("dispatch array of table {table}, which has none"))
            })?;
        env.dispatch_array(table, ty, contents)?;
    }
    finish_module(&env, &tm, config.opt_level, dump.as_deref(), "dispatch")
}

/// Where `WASMO_DUMP_LLVM` asks for IR dumps; without it, `cx` drops value
/// names.
fn dump_dir(cx: &Context) -> Option<std::path::PathBuf> {
    let dump = std::env::var_os("WASMO_DUMP_LLVM").map(std::path::PathBuf::from);
    if dump.is_none() {
        discard_value_names(cx);
    }
    dump
}

/// Verifies, optimises at `opt_level`, lowers and emits `env`'s module as
/// an ELF object; `label` names its IR dumps.
fn finish_module(
    env: &ModuleEnv<'_, '_>,
    tm: &inkwell::targets::TargetMachine,
    opt_level: OptLevel,
    dump: Option<&std::path::Path>,
    label: &str,
) -> Result<Vec<u8>, CompileError> {
    let (cx, module) = (env.cx, env.module);
    if VERIFY_IR {
        module
            .verify()
            .map_err(|e| CompileError::Internal(format!("invalid LLVM IR: {e}")))?;
    }
    if let Some(dir) = dump {
        dump_ir(module, dir, label, "pre")?;
    }
    optimise(module, tm, opt_level)?;
    if env.config.bounds_checks == BoundsChecks::GuardPages && opt_level.as_number() >= 2 {
        let mut log = Vec::new();
        let versioned = crate::loop_version::version_loops(
            cx,
            module,
            &tm.get_target_data(),
            opt_level,
            dump.is_some().then_some(&mut log),
        )?;
        if let Some(dir) = dump.filter(|_| !log.is_empty()) {
            let path = dir.join(format!("{label}.versioning.txt"));
            std::fs::write(&path, log.join("\n") + "\n").map_err(|e| {
                CompileError::Internal(format!("WASMO_DUMP_LLVM {}: {e}", path.display()))
            })?;
        }
        if VERIFY_IR && versioned > 0 {
            module.verify().map_err(|e| {
                CompileError::Internal(format!("invalid LLVM IR after loop versioning: {e}"))
            })?;
        }
        if let (Some(dir), true) = (dump, versioned > 0) {
            dump_ir(module, dir, label, "versioned")?;
        }
        if versioned > 0 {
            module
                .run_passes(
                    crate::loop_version::VECTORISE_PIPELINE,
                    tm,
                    PassBuilderOptions::create(),
                )
                .map_err(|e| CompileError::Internal(format!("LLVM optimisation: {e}")))?;
        }
    }
    crate::nan::lower_canonicalize(cx, module)?;
    if opt_level.as_number() >= 2 {
        crate::wide_phis::widen_address_phis(cx, module)?;
    }
    if VERIFY_IR {
        // `lower_canonicalize` rewrites optimised IR: check its work too.
        module
            .verify()
            .map_err(|e| CompileError::Internal(format!("invalid LLVM IR after lowering: {e}")))?;
    }
    if let Some(dir) = dump {
        dump_ir(module, dir, label, "post")?;
    }
    let buffer = tm
        .write_to_memory_buffer(module, FileType::Object)
        .map_err(|e| CompileError::Internal(format!("LLVM code generation: {e}")))?;
    Ok(buffer.as_slice().to_vec())
}

/// Makes `cx` drop the names of instructions, arguments and blocks (global
/// names stay: the linker finds functions by them). Every `build_*` call
/// names its value, and LLVM keeps each name unique in a per-function
/// symbol table: 5% of an `-O0` compile went into that. Names change no
/// generated byte; `WASMO_DUMP_LLVM` keeps them for readable dumps.
fn discard_value_names(cx: &Context) {
    #[expect(
        unsafe_code,
        reason = "inkwell has no safe setter for the context's discard-names flag"
    )]
    // SAFETY: `cx.raw()` is the live context `cx` owns, which outlives
    // this call; the call only sets a flag on it, before any value exists,
    // and `cx` is used by this thread alone.
    unsafe {
        llvm_sys::core::LLVMContextSetDiscardValueNames(cx.raw(), 1);
    }
}

/// Writes the chunk's IR to `dir/chunk<first>.<stage>.ll` (a developer aid,
/// switched on by `WASMO_DUMP_LLVM=dir`).
fn dump_ir(
    module: &Module<'_>,
    dir: &std::path::Path,
    label: &str,
    stage: &str,
) -> Result<(), CompileError> {
    let path = dir.join(format!("{label}.{stage}.ll"));
    module
        .print_to_file(&path)
        .map_err(|e| CompileError::Internal(format!("WASMO_DUMP_LLVM {}: {e}", path.display())))
}

/// Whether every function and chunk is checked by LLVM's verifier: in
/// debug builds, and wherever the `verify-ir` feature is on (every test).
const VERIFY_IR: bool = cfg!(any(debug_assertions, feature = "verify-ir"));

fn optimise(
    module: &Module<'_>,
    tm: &inkwell::targets::TargetMachine,
    level: OptLevel,
) -> Result<(), CompileError> {
    let pipeline = match level {
        OptLevel::O2 => crate::pipeline::O2.to_owned(),
        _ => format!("default<O{}>", level.as_number()),
    };
    module
        .run_passes(&pipeline, tm, PassBuilderOptions::create())
        .map_err(|e| CompileError::Internal(format!("LLVM optimisation: {e}")))
}

/// Translates defined function `def`'s body into its LLVM function.
fn translate_function<'a, 'ctx>(
    env: &'a ModuleEnv<'a, 'ctx>,
    builder: &'a Builder<'ctx>,
    def: u32,
) -> Result<(), CompileError> {
    let cx = env.cx;
    let function = env.defined_func(def)?;
    let body = env
        .info
        .bodies
        .get(def as usize)
        .ok_or_else(|| CompileError::Internal(format!("body {def} out of range")))?;
    let ty = env.info.func_type(wasmo_artifact_format::FuncIndex(
        env.info.imported_funcs + def,
    ))?;
    let entry = cx.append_basic_block(function, "entry");
    builder.position_at_end(entry);

    let vmctx = nth_param(function, 0)?.into_pointer_value();
    let mut locals = Vec::new();
    for (i, &p) in ty.params.iter().enumerate() {
        let lty = llvm_type(cx, p)?;
        let slot = builder.build_alloca(lty, "param")?;
        builder.build_store(slot, nth_param(function, i as u32 + 2)?)?;
        locals.push((slot, lty));
    }
    let mut locals_reader = body.get_locals_reader()?;
    for _ in 0..locals_reader.get_count() {
        let offset = locals_reader.original_position();
        let (count, wty) = locals_reader.read()?;
        let vty = crate::module_info::val_type(wty, offset)?;
        let lty = llvm_type(cx, vty)?;
        for _ in 0..count {
            let slot = builder.build_alloca(lty, "local")?;
            builder.build_store(slot, lty.const_zero())?;
            locals.push((slot, lty));
        }
    }

    let mut t = FuncTranslator::new(env, builder, function, vmctx, locals);
    t.load_memory_pointers()?;
    let results = ty
        .results
        .iter()
        .map(|&r| llvm_type(cx, r))
        .collect::<Result<Vec<_>, _>>()?;
    let end = t.new_block("return");
    t.control.push(ControlFrame::function(end, results));

    t.limits_at_entry(body)?;
    let mut reader = body.get_operators_reader()?;
    while !reader.eof() {
        t.offset = reader.original_position() as usize;
        let op = reader.read()?;
        t.limits_before(&op)?;
        wasmparser::VisitOperator::visit_operator(&mut t, &op)?;
        t.limits_after(&op)?;
    }
    if !t.control.is_empty() {
        return Err(CompileError::Internal(format!(
            "function {def} body ends with open blocks"
        )));
    }
    if VERIFY_IR && !function.verify(false) {
        let why = env
            .module
            .verify()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        return Err(CompileError::Internal(format!(
            "invalid LLVM IR for function {def}: {why}"
        )));
    }
    Ok(())
}

fn nth_param<'ctx>(
    f: FunctionValue<'ctx>,
    n: u32,
) -> Result<inkwell::values::BasicValueEnum<'ctx>, CompileError> {
    f.get_nth_param(n)
        .ok_or_else(|| CompileError::Internal(format!("missing parameter {n}")))
}

/// `values[i]`'s address.
pub(crate) fn val_raw_slot<'ctx>(
    env: &ModuleEnv<'_, 'ctx>,
    builder: &Builder<'ctx>,
    values: PointerValue<'ctx>,
    i: usize,
) -> Result<PointerValue<'ctx>, CompileError> {
    let off = env
        .cx
        .i64_type()
        .const_int(i as u64 * u64::from(VAL_RAW_SIZE), false);
    byte_gep(builder, env.cx, values, off)
}

/// The host's way in: reads the parameters from `values`, calls the
/// function, writes its result to `values[0]`.
fn build_array_trampoline<'ctx>(
    env: &ModuleEnv<'_, 'ctx>,
    builder: &Builder<'ctx>,
    def: u32,
) -> Result<(), CompileError> {
    let cx = env.cx;
    let ty = env.info.func_type(wasmo_artifact_format::FuncIndex(
        env.info.imported_funcs + def,
    ))?;
    let callee = env.defined_func(def)?;
    let tramp = add_entry_function(env.module, &array_trampoline_symbol(def), array_fn_type(cx));
    add_codegen_attributes(env, tramp);
    builder.position_at_end(cx.append_basic_block(tramp, "entry"));
    let callee_vmctx = nth_param(tramp, 0)?;
    let caller_vmctx = nth_param(tramp, 1)?;
    let values = nth_param(tramp, 2)?.into_pointer_value();
    let mut args: Vec<BasicMetadataValueEnum<'ctx>> =
        vec![callee_vmctx.into(), caller_vmctx.into()];
    for (i, &p) in ty.params.iter().enumerate() {
        let slot = val_raw_slot(env, builder, values, i)?;
        let v = builder.build_load(llvm_type(cx, p)?, slot, "arg")?;
        set_val_raw_alignment(v.as_instruction_value())?;
        args.push(v.into());
    }
    // An exception nothing in wasm catches stops here: the landing pad
    // ends the host's call with it (see ARCHITECTURE.md, "Exceptions"), so
    // the unwinder never walks into the host's frames.
    let lpad = cx.append_basic_block(tramp, "uncaught");
    let results = call_wasm(builder, cx, Callee::Direct(callee), ty, args, Some(lpad))?;
    let done = builder
        .get_insert_block()
        .ok_or_else(|| CompileError::Internal("trampoline lost its block".into()))?;
    builder.position_at_end(lpad);
    let personality = env.helper(Helper::Personality);
    tramp.set_personality_function(personality);
    let lp_ty = cx.struct_type(&[env.ptr.into(), cx.i32_type().into()], false);
    let lp = builder.build_landing_pad(
        lp_ty,
        personality,
        &[env.ptr.const_null().into()],
        false,
        "lp",
    )?;
    let unwind_exn = builder.build_extract_value(lp.into_struct_value(), 0, "unwind_exn")?;
    builder.build_call(
        env.helper(Helper::Uncaught),
        &[callee_vmctx.into(), unwind_exn.into()],
        "",
    )?;
    builder.build_unreachable()?;
    builder.position_at_end(done);
    for (i, v) in results.into_iter().enumerate() {
        let slot = val_raw_slot(env, builder, values, i)?;
        let store = builder.build_store(slot, v)?;
        set_val_raw_alignment(Some(store))?;
    }
    builder.build_return(None)?;
    Ok(())
}

/// The host's `ValRaw` array promises 8-byte alignment only (its slots
/// are 16 bytes, but the host may keep them in any buffer), so a `v128`
/// moves through it with unaligned vector instructions.
fn set_val_raw_alignment(
    access: Option<inkwell::values::InstructionValue<'_>>,
) -> Result<(), CompileError> {
    if let Some(access) = access {
        access
            .set_alignment(8)
            .map_err(|e| CompileError::Internal(format!("ValRaw alignment: {e}")))?;
    }
    Ok(())
}

/// The wasm-to-array trampoline of imported function `import`: spills the
/// arguments into a `ValRaw` array on its stack and calls the host
/// context's array function. Bytes of a slot above the value are left
/// undefined; the host reads each slot at its type.
fn build_import_trampoline<'ctx>(
    env: &ModuleEnv<'_, 'ctx>,
    builder: &Builder<'ctx>,
    import: u32,
) -> Result<(), CompileError> {
    let cx = env.cx;
    let ty = env
        .info
        .func_type(wasmo_artifact_format::FuncIndex(import))?;
    let tramp = add_entry_function(
        env.module,
        &import_trampoline_symbol(import),
        wasm_fn_type(cx, ty)?,
    );
    set_wasm_fn_abi(cx, tramp, CallConv::Tail);
    add_codegen_attributes(env, tramp);
    builder.position_at_end(cx.append_basic_block(tramp, "entry"));
    let host_ctx = nth_param(tramp, 0)?.into_pointer_value();
    let caller_vmctx = nth_param(tramp, 1)?;
    let len = ty.params.len().max(ty.results.len()).max(1);
    let array_ty = cx.i8_type().array_type(len as u32 * VAL_RAW_SIZE);
    let values = builder.build_alloca(array_ty, "values")?;
    if let Some(inst) = values.as_instruction() {
        inst.set_alignment(16)
            .map_err(|e| CompileError::Internal(format!("alloca alignment: {e}")))?;
    }
    for i in 0..ty.params.len() {
        let slot = val_raw_slot(env, builder, values, i)?;
        builder.build_store(slot, nth_param(tramp, i as u32 + 2)?)?;
    }
    let fn_off = cx.i64_type().const_int(u64::from(HOST_CTX_ARRAY_FN), false);
    let fn_slot = byte_gep(builder, cx, host_ctx, fn_off)?;
    let array_fn = builder
        .build_load(env.ptr, fn_slot, "array_fn")?
        .into_pointer_value();
    let len_value = cx.i64_type().const_int(len as u64, false);
    builder.build_indirect_call(
        array_fn_type(cx),
        array_fn,
        &[
            host_ctx.into(),
            caller_vmctx.into(),
            values.into(),
            len_value.into(),
        ],
        "",
    )?;
    let mut results = Vec::with_capacity(ty.results.len());
    for (i, &r) in ty.results.iter().enumerate() {
        let slot = val_raw_slot(env, builder, values, i)?;
        results.push(builder.build_load(llvm_type(cx, r)?, slot, "result")?);
    }
    build_wasm_return(builder, cx, tramp, &results)
}
