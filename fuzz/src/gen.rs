//! Inputs from seeds: every case the driver runs is a pure function of
//! its seed, so a seed (or the files written for it) reproduces it.
//!
//! Rule: the `wasm-smith` configuration enables exactly what wasmo
//! compiles today (see `compiler/src/proposals.rs`); a generated module
//! wasmo refuses as `Unsupported` is counted and skipped, never a finding.

use arbitrary::Unstructured;
use wasm_smith::{Config, InstructionKind, InstructionKinds};

/// Global fuel `wasm-smith` gives each instance: decremented at every
/// function entry and loop back-edge, `unreachable` at zero, so every
/// generated module terminates under both engines.
pub const TERMINATION_FUEL: u32 = 5_000;

/// A deterministic pseudo-random stream (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream for `seed` and a purpose, so streams of one seed differ.
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        r.next_u64();
        r
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

/// The `wasm-smith` configuration: WebAssembly 1.0, sign extension,
/// saturating conversions, multi-value, bulk memory (see below for
/// `memory.init`), reference types with their table operators (on the
/// seeds with bulk memory, which they need), SIMD, tail calls, multi-memory
/// (two memories on half the seeds) and memory64 (on a third of the seeds,
/// where wasm-smith makes 64-bit tables too); no imports, threads,
/// exceptions, GC, relaxed SIMD, wide arithmetic or extended constants.
/// Everything is exported, NaNs are canonicalised (so results and memory are
/// deterministic), memories are small and declare a maximum (so
/// `memory.grow` cannot allocate gigabytes in the interpreter).
pub fn smith_config(seed: u64) -> Config {
    // wasmo compiles `memory.copy` and `memory.fill` but not yet
    // `memory.init`/`data.drop`, which wasm-smith emits whenever a module
    // with bulk memory has data segments: every other seed has bulk memory
    // and no data segments, the others data segments and no bulk memory.
    let bulk = seed.is_multiple_of(2);
    let memory64 = seed % 3 == 2;
    Config {
        allow_start_export: true,
        allowed_instructions: InstructionKinds::new(&[
            InstructionKind::Numeric,
            InstructionKind::Vector,
            InstructionKind::Parametric,
            InstructionKind::Variable,
            InstructionKind::Memory,
            InstructionKind::Control,
            InstructionKind::Reference,
            InstructionKind::Table,
        ]),
        bulk_memory_enabled: bulk,
        canonicalize_nans: true,
        exceptions_enabled: false,
        export_everything: true,
        gc_enabled: false,
        custom_descriptors_enabled: false,
        custom_page_sizes_enabled: false,
        max_imports: 0,
        min_funcs: 1,
        max_funcs: 20,
        max_globals: 20,
        max_instructions: 200,
        max_memories: if seed % 4 >= 2 { 2 } else { 1 },
        max_memory32_bytes: 16 * 65536,
        max_memory64_bytes: 16 * 65536,
        memory_max_size_required: true,
        max_tables: if bulk { 3 } else { 1 },
        max_table_elements: 1000,
        table_max_size_required: true,
        max_data_segments: if bulk { 0 } else { 10 },
        max_element_segments: 10,
        max_elements: 50,
        memory64_enabled: memory64,
        multi_value_enabled: true,
        reference_types_enabled: bulk,
        relaxed_simd_enabled: false,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        shared_everything_threads_enabled: false,
        simd_enabled: true,
        tail_call_enabled: true,
        threads_enabled: false,
        wide_arithmetic_enabled: false,
        extended_const_enabled: false,
        ..Config::default()
    }
}

/// The valid, terminating module of `seed`, or `None` when `wasm-smith`
/// gives up on the bytes (rare; the seed is skipped).
pub fn module(seed: u64) -> Option<Vec<u8>> {
    let mut rng = Rng::new(seed, 1);
    let len = 2048 + rng.below(32 * 1024) as usize;
    let bytes = rng.bytes(len);
    let mut u = Unstructured::new(&bytes);
    let mut m = wasm_smith::Module::new(smith_config(seed), &mut u).ok()?;
    m.ensure_termination(TERMINATION_FUEL).ok()?;
    close_nans(&m.to_bytes()).ok()
}

/// The operators whose NaN result the spec leaves open (any sign, and any
/// payload for a non-canonical input) and after which `wasm-smith`'s
/// `canonicalize_nans` does not canonicalise: it covers arithmetic, not
/// conversions between float widths.
fn open_nan(op: &wasmparser::Operator<'_>) -> Option<Float> {
    use wasmparser::Operator as O;
    match op {
        O::F32DemoteF64 => Some(Float::F32),
        O::F64PromoteF32 => Some(Float::F64),
        O::F32x4DemoteF64x2Zero => Some(Float::F32x4),
        O::F64x2PromoteLowF32x4 => Some(Float::F64x2),
        _ => None,
    }
}

/// The shape of the NaN `op` may leave open: an [`open_nan`] operator,
/// or one of the arithmetic operators `wasm-smith` canonicalises after.
fn nan_result(op: &wasmparser::Operator<'_>) -> Option<Float> {
    use wasmparser::Operator as O;
    Some(match op {
        O::F32Ceil
        | O::F32Floor
        | O::F32Nearest
        | O::F32Sqrt
        | O::F32Trunc
        | O::F32Div
        | O::F32Max
        | O::F32Min
        | O::F32Mul
        | O::F32Sub
        | O::F32Add => Float::F32,
        O::F64Ceil
        | O::F64Floor
        | O::F64Nearest
        | O::F64Sqrt
        | O::F64Trunc
        | O::F64Div
        | O::F64Max
        | O::F64Min
        | O::F64Mul
        | O::F64Sub
        | O::F64Add => Float::F64,
        O::F32x4Ceil
        | O::F32x4Floor
        | O::F32x4Nearest
        | O::F32x4Sqrt
        | O::F32x4Trunc
        | O::F32x4Div
        | O::F32x4Max
        | O::F32x4Min
        | O::F32x4Mul
        | O::F32x4Sub
        | O::F32x4Add => Float::F32x4,
        O::F64x2Ceil
        | O::F64x2Floor
        | O::F64x2Nearest
        | O::F64x2Sqrt
        | O::F64x2Trunc
        | O::F64x2Div
        | O::F64x2Max
        | O::F64x2Min
        | O::F64x2Mul
        | O::F64x2Sub
        | O::F64x2Add => Float::F64x2,
        other => return open_nan(other),
    })
}

/// Whether every NaN `wasm` can compute is canonicalised before anything
/// sees it: each operator whose NaN result the spec leaves open (see
/// [`nan_result`]) is followed by the canonicalisation idiom `wasm-smith`
/// and [`close_nans`] write. Generated modules are; saved findings from
/// before [`close_nans`] and hand-written inputs may not be. A module that
/// is not closed has its float results compared with every NaN as one value
/// (what the spec guarantees); a closed one bit for bit. `false` for a
/// module this cannot read.
pub fn nans_closed(wasm: &[u8]) -> bool {
    use wasmparser::Operator as O;
    let closed_body =
        |body: wasmparser::FunctionBody<'_>| -> Result<bool, wasmparser::BinaryReaderError> {
            let ops = body
                .get_operators_reader()?
                .into_iter()
                .collect::<Result<Vec<_>, _>>()?;
            for (i, op) in ops.iter().enumerate() {
                let Some(shape) = nan_result(op) else {
                    continue;
                };
                let idiom = match ops.get(i + 1..i + 7) {
                    Some(
                        [O::LocalTee { local_index: s }, canonical, O::LocalGet { local_index: a }, O::LocalGet { local_index: b }, eq, select],
                    ) => {
                        s == a
                            && a == b
                            && match (shape, canonical, eq, select) {
                                (Float::F32, O::F32Const { value }, O::F32Eq, O::Select) => {
                                    value.bits() == 0x7fc0_0000
                                }
                                (Float::F64, O::F64Const { value }, O::F64Eq, O::Select) => {
                                    value.bits() == 0x7ff8_0000_0000_0000
                                }
                                (
                                    Float::F32x4,
                                    O::V128Const { value },
                                    O::F32x4Eq,
                                    O::V128Bitselect,
                                ) => {
                                    value.i128() as u128
                                        == 0x7fc0_0000_u128
                                            * 0x0000_0001_0000_0001_0000_0001_0000_0001
                                }
                                (
                                    Float::F64x2,
                                    O::V128Const { value },
                                    O::F64x2Eq,
                                    O::V128Bitselect,
                                ) => {
                                    value.i128() as u128
                                        == 0x7ff8_0000_0000_0000_u128
                                            * 0x0000_0000_0000_0001_0000_0000_0000_0001
                                }
                                _ => false,
                            }
                    }
                    _ => false,
                };
                if !idiom {
                    return Ok(false);
                }
            }
            Ok(true)
        };
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload {
            Ok(wasmparser::Payload::CodeSectionEntry(body)) => {
                if !closed_body(body).unwrap_or(false) {
                    return false;
                }
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    true
}

/// A float shape that [`close_nans`] canonicalises.
#[derive(Debug, Clone, Copy)]
enum Float {
    F32,
    F64,
    F32x4,
    F64x2,
}

/// `wasm` with every NaN the spec leaves open replaced by the canonical
/// positive NaN, in the idiom `wasm-smith` uses after arithmetic (`local.tee
/// s; <canonical NaN>; local.get s; local.get s; eq; select`, `v128.bitselect`
/// for vectors), after each [`open_nan`] operator, with three scratch
/// locals added to every function. Then nothing a generated module computes
/// depends on the engine's choice of NaN, so the differential oracle can
/// compare every bit, of vectors and memory too, against the reference
/// engine. (wasmo's own rule, the same bits at every optimisation level,
/// is checked on modules with open NaNs too: the saved findings in
/// `fuzz/regressions/` replay as they were found.)
pub fn close_nans(wasm: &[u8]) -> Result<Vec<u8>, String> {
    use wasm_encoder::reencode::Reencode;
    // Generated modules import nothing, so the n-th body is the n-th
    // function of the function section.
    let mut types = Vec::new();
    let mut funcs = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.map_err(|e| e.to_string())? {
            wasmparser::Payload::TypeSection(r) => {
                for t in r.into_iter_err_on_gc_types() {
                    types.push(t.map_err(|e| e.to_string())?.params().len() as u32);
                }
            }
            wasmparser::Payload::FunctionSection(r) => {
                for f in r {
                    funcs.push(f.map_err(|e| e.to_string())?);
                }
            }
            wasmparser::Payload::ImportSection(r) if r.count() > 0 => {
                return Err("close_nans: a module with imports".to_owned())
            }
            _ => {}
        }
    }
    let params = funcs
        .iter()
        .map(|t| types.get(*t as usize).copied())
        .collect::<Option<Vec<u32>>>()
        .ok_or("close_nans: a function of no type")?;

    struct Closer {
        params: Vec<u32>,
        next: usize,
    }
    impl Reencode for Closer {
        type Error = String;

        fn parse_function_body(
            &mut self,
            code: &mut wasm_encoder::CodeSection,
            func: wasmparser::FunctionBody<'_>,
        ) -> Result<(), wasm_encoder::reencode::Error<String>> {
            use wasm_encoder::{Instruction as I, ValType};
            let err = |m: &str| wasm_encoder::reencode::Error::UserError(m.to_owned());
            let params = *self
                .params
                .get(self.next)
                .ok_or_else(|| err("too many bodies"))?;
            self.next += 1;
            let mut locals = Vec::new();
            let mut count = params;
            for pair in func.get_locals_reader()? {
                let (n, ty) = pair?;
                count = count.checked_add(n).ok_or_else(|| err("too many locals"))?;
                locals.push((n, self.val_type(ty)?));
            }
            let (f32s, f64s, v128s) = (count, count + 1, count + 2);
            locals.extend([(1, ValType::F32), (1, ValType::F64), (1, ValType::V128)]);
            let mut f = wasm_encoder::Function::new(locals);
            let mut reader = func.get_operators_reader()?;
            while !reader.eof() {
                let op = reader.read()?;
                let shape = open_nan(&op);
                f.instruction(&self.instruction(op)?);
                let (scratch, canonical, eq, select) = match shape {
                    None => continue,
                    Some(Float::F32) => (
                        f32s,
                        I::F32Const(f32::from_bits(0x7fc0_0000).into()),
                        I::F32Eq,
                        I::Select,
                    ),
                    Some(Float::F64) => (
                        f64s,
                        I::F64Const(f64::from_bits(0x7ff8_0000_0000_0000).into()),
                        I::F64Eq,
                        I::Select,
                    ),
                    Some(Float::F32x4) => (
                        v128s,
                        I::V128Const(
                            (0x7fc0_0000_u128 * 0x0000_0001_0000_0001_0000_0001_0000_0001) as i128,
                        ),
                        I::F32x4Eq,
                        I::V128Bitselect,
                    ),
                    Some(Float::F64x2) => (
                        v128s,
                        I::V128Const(
                            (0x7ff8_0000_0000_0000_u128 * 0x0000_0000_0000_0001_0000_0000_0000_0001)
                                as i128,
                        ),
                        I::F64x2Eq,
                        I::V128Bitselect,
                    ),
                };
                for i in [
                    I::LocalTee(scratch),
                    canonical,
                    I::LocalGet(scratch),
                    I::LocalGet(scratch),
                    eq,
                    select,
                ] {
                    f.instruction(&i);
                }
            }
            code.function(&f);
            Ok(())
        }
    }

    let mut closer = Closer { params, next: 0 };
    let mut module = wasm_encoder::Module::new();
    closer
        .parse_core_module(&mut module, wasmparser::Parser::new(0), wasm)
        .map_err(|e| format!("close_nans: {e:?}"))?;
    Ok(module.finish())
}

/// Values that find bugs more often than uniform bits do.
const INTERESTING_I64: &[u64] = &[
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0x8000,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX,
    65536,
    65535,
    65532,
];

const INTERESTING_F64: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    f64::MIN_POSITIVE,
    f64::MAX,
    2147483648.0,
    -2147483649.0,
    4294967296.0,
    9223372036854775808.0,
];

/// Raw bits for an argument of `bits` width: interesting values half the
/// time.
pub fn arg_bits(rng: &mut Rng, float: bool, bits: u32) -> u128 {
    let mask = |v: u64| -> u128 {
        if bits >= 64 {
            u128::from(v)
        } else {
            u128::from(v & ((1u64 << bits) - 1))
        }
    };
    match rng.below(4) {
        0 | 1 => mask(rng.next_u64()),
        2 if float => {
            let f = INTERESTING_F64[rng.below(INTERESTING_F64.len() as u64) as usize];
            if bits == 32 {
                u128::from((f as f32).to_bits())
            } else {
                u128::from(f.to_bits())
            }
        }
        _ => {
            let v = INTERESTING_I64[rng.below(INTERESTING_I64.len() as u64) as usize];
            mask(if rng.below(2) == 0 {
                v
            } else {
                v.wrapping_neg()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `f32.demote_f64` and `f64x2.promote_low_f32x4` leave NaN bits open;
    /// `close_nans` canonicalises after them, and only the result counts as
    /// closed.
    #[test]
    fn close_nans_closes_conversions() {
        let wat = r#"(module
            (func (export "d") (param f64) (result f32)
                local.get 0 f64.neg f32.demote_f64)
            (func (export "p") (param v128) (result v128)
                local.get 0 f64x2.promote_low_f32x4)
            (func (export "a") (param f32) (result f32)
                local.get 0 local.get 0 f32.add))"#;
        let wasm = match wat::parse_str(wat) {
            Ok(w) => w,
            Err(e) => panic!("{e}"),
        };
        assert!(!nans_closed(&wasm));
        let closed = match close_nans(&wasm) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        if let Err(e) = wasmparser::validate(&closed) {
            panic!("close_nans made an invalid module: {e}");
        }
        // `f32.add` is wasm-smith's to canonicalise, and here it is not.
        assert!(!nans_closed(&closed));
        let only_conversions = match wat::parse_str(
            r#"(module (func (param f64) (result f32) local.get 0 f32.demote_f64))"#,
        ) {
            Ok(w) => w,
            Err(e) => panic!("{e}"),
        };
        let closed = match close_nans(&only_conversions) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert!(!nans_closed(&only_conversions));
        assert!(nans_closed(&closed));
    }

    /// Generated modules leave no NaN bits open.
    #[test]
    fn generated_modules_are_closed() {
        let mut n = 0;
        for seed in 0..40 {
            if let Some(wasm) = module(seed) {
                assert!(nans_closed(&wasm), "seed {seed}");
                n += 1;
            }
        }
        assert!(n > 30, "only {n} modules generated");
    }
}
