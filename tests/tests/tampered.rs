//! Tampered artifacts with recomputed hashes (issue 9, "a loader that
//! checks the artifact against itself"): each test compiles a module,
//! rewrites one thing the way someone who can also recompute the content
//! hash would, and runs the result with `wasmo exec`. Each must be refused
//! with exit status 1 and a message naming the check that caught it (or,
//! for code that faults, end as a reported trap), never a crash.
//!
//! Rule: a tamper changes exactly one fact. Metadata is changed by taking
//! the artifact apart into an `ArtifactBuilder` (deserialising the rkyv
//! metadata) and building it again, which recomputes both hashes; the
//! round trip alone must give back the same bytes. Header fields are
//! patched in place, with the compatibility and content hashes recomputed
//! exactly as `artifact-format` defines them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wasmo_artifact_format::metadata::{
    ConstExpr, ConstOp, ElementItem, ExternKind, GlobalDef, ModuleMetadata,
};
use wasmo_artifact_format::{
    rewrite_body_hash, ArtifactBuilder, ArtifactRef, BuildFacts, GlobalType, Header, ValType,
    HEADER_SIZE,
};
use wasmo_compiler::CompileConfig;
use wasmo_tests::{bin_path, wat};

fn compile(text: &str) -> Vec<u8> {
    match wasmo_compiler::compile(&wat(text), &CompileConfig::default()) {
        Ok(a) => a,
        Err(e) => panic!("compile: {e}"),
    }
}

/// An artifact taken apart: what built it, and its data image.
struct Parts {
    builder: ArtifactBuilder,
    data_image: Vec<u8>,
}

fn take_apart(bytes: &[u8]) -> Parts {
    let mut aligned = rkyv::util::AlignedVec::<16>::new();
    aligned.extend_from_slice(bytes);
    let art = match ArtifactRef::parse(&aligned) {
        Ok(a) => a,
        Err(e) => panic!("parse: {e}"),
    };
    let metadata = match rkyv::deserialize::<ModuleMetadata, rkyv::rancor::Error>(art.metadata) {
        Ok(m) => m,
        Err(e) => panic!("metadata: {e}"),
    };
    let h = &art.header;
    let image = art.image();
    let part = |off: u64, len: u64| image[off as usize..(off + len) as usize].to_vec();
    Parts {
        builder: ArtifactBuilder {
            facts: BuildFacts {
                compat: h.compat_facts(),
                cpu_name: h.cpu_name.clone(),
                opt_level: h.opt_level,
                source_hash: h.source_hash,
            },
            metadata,
            text: part(0, h.text_len),
            rodata: part(h.rodata.offset, h.rodata.len),
            relro: part(h.relro.offset, h.relro.len),
        },
        data_image: art.data_image().to_vec(),
    }
}

fn build(parts: &Parts) -> Vec<u8> {
    match parts.builder.build_with_data_image(&parts.data_image) {
        Ok(b) => b,
        Err(e) => panic!("build: {e}"),
    }
}

/// `bytes` rebuilt after `change`, with fresh hashes.
fn tampered(bytes: &[u8], change: impl FnOnce(&mut Parts)) -> Vec<u8> {
    let mut parts = take_apart(bytes);
    assert_eq!(build(&parts), bytes, "the round trip changed the artifact");
    change(&mut parts);
    build(&parts)
}

/// Offsets of the header fields patched in place (see the layout in
/// `artifact-format/src/artifact.rs`).
const OFF_COMPAT: usize = 16;
const OFF_RESERVATION: usize = 208;
const OFF_GUARD: usize = 216;

/// The content hash recomputed, exactly as `artifact-format` defines it.
fn rehash(bytes: &mut [u8]) {
    rewrite_body_hash(bytes);
}

/// Recomputes the compatibility hash from the header's own facts, then the
/// content hash.
fn rehash_all(bytes: &mut [u8]) {
    let header = match Header::decode(&bytes[..HEADER_SIZE]) {
        Ok(h) => h,
        Err(e) => panic!("{e}"),
    };
    let compat = header.compat_facts().hash();
    bytes[OFF_COMPAT..OFF_COMPAT + 32].copy_from_slice(&compat);
    rehash(bytes);
}

/// Writes `bytes` and runs `wasmo exec --invoke NAME ART ARGS...`.
fn exec(bytes: &[u8], name: &str, args: &[&str]) -> Output {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let path = dir.path().join("tampered.wasmo");
    if let Err(e) = std::fs::write(&path, bytes) {
        panic!("write: {e}");
    }
    let wasmo: PathBuf = match bin_path("wasmo") {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    let mut cmd = Command::new(wasmo);
    cmd.args([Path::new("exec"), Path::new("--invoke"), Path::new(name)]);
    cmd.arg(&path).args(args);
    match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run wasmo: {e}"),
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit status 1 and an `error:` line naming the check.
fn assert_refused(o: &Output, check: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "not refused: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(check), "stderr does not name `{check}`: {err}");
}

/// Runs the untampered artifact, so that a refusal is the tamper's doing.
fn assert_runs(bytes: &[u8], name: &str, args: &[&str], stdout: &str) {
    let o = exec(bytes, name, args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), stdout);
}

const PEEK: &str = r#"(module
  (memory 1)
  (func (export "peek") (param i32) (result i32) (i32.load (local.get 0))))"#;

/// Defect 6: a header that shrinks the reservation to 64 KiB with no guard
/// under code compiled for guard pages (which checks nothing) is refused,
/// whatever the hashes say.
#[test]
fn issue9_rewritten_reservation_is_refused() {
    let good = compile(PEEK);
    assert_runs(&good, "peek", &["0"], "0\n");
    let mut bad = good.clone();
    bad[OFF_RESERVATION..OFF_RESERVATION + 8].copy_from_slice(&65536u64.to_le_bytes());
    bad[OFF_GUARD..OFF_GUARD + 8].copy_from_slice(&0u64.to_le_bytes());
    rehash_all(&mut bad);
    assert_refused(&exec(&bad, "peek", &["1048576"]), "bounds-check strategy");
}

const CALL: &str = r#"(module
  (type $t (func (result i32)))
  (table (export "t") 2 funcref)
  (elem (i32.const 0) $seven)
  (func $seven (result i32) (i32.const 7))
  (func (export "call") (param i32) (result i32)
    (call_indirect (type $t) (local.get 0))))"#;

/// Defect 7: an `i64.const` element item in a funcref table is refused.
#[test]
fn issue9_i64_element_item_in_funcref_table_is_refused() {
    let good = compile(CALL);
    assert_runs(&good, "call", &["0"], "7\n");
    let bad = tampered(&good, |p| {
        p.builder.metadata.elements[0].items[0] = ElementItem::Expr(ConstExpr {
            ops: vec![ConstOp::I64Const(0x4141_4141_4141)],
        });
    });
    assert_refused(
        &exec(&bad, "call", &["0"]),
        "constant expression type check",
    );
}

/// Defect 7, the other kinds of constant expression: a `global.get` of a
/// mutable or missing global, and an initialiser of the wrong type.
#[test]
fn issue9_mistyped_constant_expressions_are_refused() {
    let good = compile(CALL);
    let bad = tampered(&good, |p| {
        p.builder.metadata.elements[0].items[0] = ElementItem::Expr(ConstExpr {
            ops: vec![ConstOp::RefFunc(wasmo_artifact_format::FuncIndex(99))],
        });
    });
    assert_refused(&exec(&bad, "call", &["0"]), "ref.func 99 out of range");
    let bad = tampered(&good, |p| {
        p.builder.metadata.elements[0].items[0] = ElementItem::Expr(ConstExpr {
            ops: vec![ConstOp::GlobalGet(wasmo_artifact_format::GlobalIndex(0))],
        });
    });
    assert_refused(
        &exec(&bad, "call", &["0"]),
        "constant expression type check",
    );
    let bad = tampered(&good, |p| {
        if let wasmo_artifact_format::metadata::ElementMode::Active { offset, .. } =
            &mut p.builder.metadata.elements[0].mode
        {
            offset.ops = vec![ConstOp::F64Const(0)];
        }
    });
    assert_refused(
        &exec(&bad, "call", &["0"]),
        "constant expression type check",
    );
}

const DIV: &str = r#"(module
  (func (export "div") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1))))"#;

/// Defect 8: an emptied relocation list leaves the PLT stubs (and the trap
/// calls through them) reading GOT slots nothing fills.
#[test]
fn issue9_emptied_relocation_list_is_refused() {
    let good = compile(DIV);
    assert_runs(&good, "div", &["7", "2"], "3\n");
    let bad = tampered(&good, |p| {
        assert!(!p.builder.metadata.relocations.is_empty());
        p.builder.metadata.relocations.clear();
    });
    assert_refused(&exec(&bad, "div", &["1", "0"]), "no relocation fills");
}

/// Defect 8: function offsets shifted by one byte no longer land on
/// function starts.
#[test]
fn issue9_shifted_function_offsets_are_refused() {
    let good = compile(DIV);
    let bad = tampered(&good, |p| {
        for f in &mut p.builder.metadata.defined_funcs {
            f.offset += 1;
        }
    });
    assert_refused(&exec(&bad, "div", &["7", "2"]), "function map");
}

const TRADE: &str = r#"(module
  (type $t (func (result i32)))
  (table (export "t") 1 funcref)
  (memory 1)
  (func (export "ci") (result i32) (call_indirect (type $t) (i32.const 0))))"#;

/// Defect 8: entity counts traded against each other at a constant
/// VMContext size (a defined table for a defined global, both 16 bytes)
/// would have the code read the memory's definition as the table's.
#[test]
fn issue9_traded_entity_counts_are_refused() {
    let good = compile(TRADE);
    let bad = tampered(&good, |p| {
        let m = &mut p.builder.metadata;
        m.tables.clear();
        m.exports.retain(|e| e.kind != ExternKind::Table);
        m.globals.push(GlobalDef {
            ty: GlobalType {
                content: ValType::I32,
                mutable: false,
            },
            init: ConstExpr {
                ops: vec![ConstOp::I32Const(0)],
            },
        });
    });
    assert_refused(&exec(&bad, "ci", &[]), "entity counts");
}

/// Defect 8: an exported function whose code was made to start with
/// `int3` (SIGTRAP, which nothing handled: exit 133, no message) is
/// refused at load.
#[test]
fn issue9_function_starting_with_int3_is_refused() {
    let good = compile(DIV);
    let bad = tampered(&good, |p| {
        let at = p.builder.metadata.defined_funcs[0].offset as usize;
        p.builder.text[at] = 0xcc;
    });
    assert_refused(&exec(&bad, "div", &["7", "2"]), "function map");
}

/// Defect 8: `int3` executed inside wasm code that passes every check
/// (here just after a function's first instruction) ends the call as a
/// reported trap, not a silent death by SIGTRAP.
#[test]
fn issue9_int3_in_wasm_code_is_a_reported_trap() {
    let good = compile(DIV);
    let bad = tampered(&good, |p| {
        let at = p.builder.metadata.defined_funcs[0].offset as usize;
        p.builder.text[at..at + 2].copy_from_slice(&[0x90, 0xcc]);
    });
    let o = exec(&bad, "div", &["7", "2"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(134), "{err}");
    assert!(
        err.contains("wasm trap: unexpected fault in compiled code"),
        "{err}"
    );
}

const MANY: &str = r#"(module
  (type $t (func (param i32) (result i32)))
  (table 3 funcref)
  (elem (i32.const 0) $sq $mix)
  (func $sq (export "sq") (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
  (func $mix (export "mix") (param i32) (result i32)
    (i32.xor
      (i32.rotl (i32.mul (local.get 0) (i32.const 0x9e3779b1)) (i32.const 13))
      (i32.div_u (i32.const 0x7fffffff) (i32.or (local.get 0) (i32.const 1)))))
  (func (export "ci") (param i32 i32) (result i32)
    (call_indirect (type $t) (local.get 1) (local.get 0))))"#;

/// Issue 13, the long fuzz run's two findings (fuzz/regressions/
/// issue13_rehashed_metadata_jumps_to_0x40_*): an array trampoline's start
/// moved onto the start of text, another entry's start (`_a`), or to an
/// aligned offset inside its own body (`_b`), passed every rule of the
/// function map, and calling the export jumped to address 0x40 (SIGSEGV).
/// The same moves of a defined function's start passed too. The map must
/// tile the text with only int3 between entries; each move is refused.
#[test]
fn issue13_moved_entry_starts_are_refused() {
    let good = compile(MANY);
    assert_runs(&good, "mix", &["5"], &format!("{}\n", mix(5)));
    let m = take_apart(&good).builder.metadata;
    let long = |len: &dyn Fn(&wasmo_artifact_format::metadata::DefinedFunc) -> Option<u32>| {
        m.defined_funcs
            .iter()
            .position(|f| len(f).is_some_and(|l| l > 32))
    };
    let (Some(long_fn), Some(long_tramp)) = (
        long(&|f| (f.offset != 0).then_some(f.len)),
        long(&|f| f.array_trampoline.map(|t| t.len)),
    ) else {
        panic!("no entry long enough to move into: {:?}", m.defined_funcs);
    };
    type Move = fn(&mut ModuleMetadata, usize, &dyn Fn(u32) -> u32);
    // A defined function's start, then its array trampoline's.
    let moves: [Move; 2] = [
        |m, i, to| {
            let f = &mut m.defined_funcs[i];
            f.offset = to(f.offset);
        },
        |m, i, to| {
            if let Some(t) = &mut m.defined_funcs[i].array_trampoline {
                t.offset = to(t.offset);
            }
        },
    ];
    for (shift, long) in moves.into_iter().zip([long_fn, long_tramp]) {
        // `_a`: onto the start of text, where another entry begins.
        let onto = m
            .defined_funcs
            .iter()
            .rposition(|f| f.offset != 0)
            .unwrap_or(0);
        let bad = tampered(&good, |p| shift(&mut p.builder.metadata, onto, &|_| 0));
        assert_refused(&exec(&bad, "mix", &["5"]), "function map");
        // `_b`: 16 bytes into its own body, its length unchanged.
        let bad = tampered(&good, |p| {
            shift(&mut p.builder.metadata, long, &|at| at + 16)
        });
        assert_refused(&exec(&bad, "mix", &["5"]), "function map");
    }
}

/// The guest's `mix`, for the expected output.
fn mix(x: u32) -> i32 {
    let a = x.wrapping_mul(0x9e37_79b1).rotate_left(13);
    (a ^ (0x7fff_ffff / (x | 1))) as i32
}

/// Issue 13: the tiling rule also covers what the map names beside the
/// functions: a trampoline cut short, a stub (a dispatch array's trap
/// stub) dropped from the list, or a stub moved onto a function.
#[test]
fn issue13_trampolines_and_stubs_must_tile_the_text() {
    let good = compile(MANY);
    assert_runs(&good, "ci", &["0", "3"], "9\n");
    let m = take_apart(&good).builder.metadata;
    assert!(!m.stubs.is_empty(), "no trap stub: {m:?}");
    let bad = tampered(&good, |p| {
        for f in &mut p.builder.metadata.defined_funcs {
            if let Some(t) = &mut f.array_trampoline {
                t.len = t.len.saturating_sub(1).max(1);
            }
        }
    });
    assert_refused(&exec(&bad, "ci", &["0", "3"]), "function map");
    let bad = tampered(&good, |p| {
        p.builder.metadata.stubs.pop();
    });
    assert_refused(&exec(&bad, "ci", &["0", "3"]), "function map");
    let bad = tampered(&good, |p| {
        let to = p.builder.metadata.defined_funcs[0].offset;
        if let Some(s) = p.builder.metadata.stubs.first_mut() {
            s.offset = to;
        }
    });
    assert_refused(&exec(&bad, "ci", &["0", "3"]), "function map");
}
