//! Compiles small modules covering each operator category and checks the
//! artifact the compiler writes: it parses, its metadata describes the
//! module, and compiling is deterministic.
//!
//! Rule: these tests never run the code (the compiler must not depend on
//! the loader); end-to-end tests live in the `tests` crate.

use rkyv::util::AlignedVec;
use wasmo_artifact_format::metadata::ArchivedRelocTarget;
use wasmo_artifact_format::{ArtifactRef, BoundsChecks, Helper};
use wasmo_compiler::{compile, CompileConfig, CompileError, CpuSelection, OptLevel};

fn wasm(wat: &str) -> Vec<u8> {
    match wat::parse_str(wat) {
        Ok(w) => w,
        Err(e) => panic!("bad test wat: {e}"),
    }
}

fn build(wat: &str, config: &CompileConfig) -> Vec<u8> {
    match compile(&wasm(wat), config) {
        Ok(bytes) => bytes,
        Err(e) => panic!("compile failed: {e}"),
    }
}

fn aligned(bytes: &[u8]) -> AlignedVec<16> {
    let mut v = AlignedVec::<16>::new();
    v.extend_from_slice(bytes);
    v
}

/// Compiles `wat` with the default configuration and runs `check` on the
/// parsed artifact.
fn check(wat: &str, check: impl FnOnce(&ArtifactRef<'_>)) {
    let bytes = aligned(&build(wat, &CompileConfig::default()));
    match ArtifactRef::parse(&bytes) {
        Ok(a) => check(&a),
        Err(e) => panic!("artifact does not parse: {e}"),
    }
}

const KITCHEN_SINK: &str = r#"
(module
  (type $ii (func (param i32) (result i32)))
  (import "env" "log" (func $log (param i32)))
  (import "env" "g" (global $imported_g (mut i64)))
  (memory 1 2)
  (table 2 funcref)
  (global $counter (mut i32) (i32.const 0))
  (elem (i32.const 0) $double $fact)
  (data (i32.const 16) "hello")
  (func $double (type $ii) (i32.mul (local.get 0) (i32.const 2)))
  (func $fact (export "fact") (param i32) (result i32)
    (if (result i32) (i32.le_s (local.get 0) (i32.const 1))
      (then (i32.const 1))
      (else (i32.mul (local.get 0) (call $fact (i32.sub (local.get 0) (i32.const 1)))))))
  (func $mem (export "mem") (param i32) (result i64)
    (local i64)
    (i32.store (local.get 0) (i32.const 7))
    (i32.store8 offset=4 (local.get 0) (i32.const 1))
    (i32.store16 offset=6 (local.get 0) (i32.const 2))
    (i64.store32 offset=8 (local.get 0) (i64.const 3))
    (f32.store offset=12 (local.get 0) (f32.const 1.5))
    (f64.store offset=16 (local.get 0) (f64.const 2.5))
    (local.set 1 (i64.load (local.get 0)))
    (drop (i32.load8_s (local.get 0)))
    (drop (i32.load8_u (local.get 0)))
    (drop (i32.load16_s (local.get 0)))
    (drop (i32.load16_u offset=0xffffffff (local.get 0)))
    (drop (i64.load8_s (local.get 0)))
    (drop (i64.load16_u (local.get 0)))
    (drop (i64.load32_s (local.get 0)))
    (drop (f32.load (local.get 0)))
    (drop (f64.load (local.get 0)))
    (drop (memory.grow (i32.const 1)))
    (i64.add (local.get 1) (i64.extend_i32_u (memory.size))))
  (func $control (export "control") (param i32) (result i32)
    (drop (block $out (result i32)
      (drop (block $a (result i32)
        (drop (block $b (result i32)
          (br_table $a $b $out $a (i32.const 9) (local.get 0))))
        (i32.const 1)))
      (i32.const 2)))
    (block (result i32)
      (loop $l
        (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
        (br_if $l (i32.lt_u (global.get $counter) (i32.const 10))))
      (call $log (global.get $counter))
      (global.set $imported_g (i64.const 5))
      (select (i32.const 1) (i32.const 2) (local.get 0))))
  (func $indirect (export "indirect") (param i32) (result i32)
    (call_indirect (type $ii) (i32.const 21) (local.get 0)))
  (func $dead (export "dead") (param i32) (result i32)
    (block (result i32)
      (br 0 (i32.const 1))
      (if (local.get 0) (then (unreachable)) (else (nop)))
      (i32.const 2))
    (return)
    (drop (i32.const 3))
    (i32.const 4))
  (func $trap (export "trap") unreachable)
  (start $trap)
)
"#;

/// The host enters a function only through an export, a funcref or as
/// the start function, so only those get an array-call trampoline.
#[test]
fn only_functions_the_host_can_name_get_array_trampolines() {
    let wat = r#"(module
      (table 1 funcref)
      (elem (i32.const 0) $in_table)
      (func $exported (export "e") (call $private) (call $start))
      (func $private)
      (func $in_table)
      (func $start)
      (start $start))"#;
    check(wat, |a| {
        let tramps: Vec<bool> = a
            .metadata
            .defined_funcs
            .iter()
            .map(|f| f.array_trampoline.is_some())
            .collect();
        assert_eq!(tramps, [true, false, true, true]);
    });
}

#[test]
fn kitchen_sink_metadata() {
    check(KITCHEN_SINK, |a| {
        let m = a.metadata;
        assert_eq!(m.imports.len(), 2);
        assert_eq!(m.funcs.len(), 8);
        assert_eq!(m.defined_funcs.len(), 7);
        assert_eq!(m.import_trampolines.len(), 1);
        assert_eq!(m.exports.len(), 6);
        assert_eq!(m.elements.len(), 1);
        assert_eq!(m.data.len(), 1);
        assert_eq!(m.globals.len(), 1);
        assert_eq!(m.tables.len(), 1);
        assert_eq!(m.memories.len(), 1);
        assert!(m.start.is_some());
        assert_eq!(
            m.names.funcs.len(),
            8,
            "wat keeps $names in the name section"
        );
        let text_len = a.header.text_len;
        for f in m.defined_funcs.iter() {
            assert!(u64::from(f.offset.to_native()) < text_len);
            assert!(f.len.to_native() > 0);
            // Every function here is exported, in the table or the start.
            let tramp = f
                .array_trampoline
                .as_ref()
                .map(|t| (t.offset.to_native(), t.len.to_native()));
            assert!(
                tramp.is_some_and(|(at, len)| len > 0 && u64::from(at + len) <= text_len),
                "{tramp:?}"
            );
        }
        // The trap helper and memory.grow are reached through the GOT.
        let helpers: Vec<u32> = m
            .relocations
            .iter()
            .filter_map(|r| match r.target {
                ArchivedRelocTarget::Helper(h) => Some(h.to_native()),
                _ => None,
            })
            .collect();
        assert!(helpers.contains(&(Helper::Trap as u32)));
        assert!(helpers.contains(&(Helper::MemoryGrow as u32)));
        for r in m.relocations.iter() {
            let off = r.offset.to_native();
            assert!(
                off >= a.header.relro.offset
                    && off + 8 <= a.header.relro.offset + a.header.relro.len
            );
        }
        assert_eq!(a.header.cpu_name, "x86-64-v2");
        assert_eq!(
            a.header.cpu_features.to_string(),
            "sse3,ssse3,sse4.1,sse4.2,popcnt,cx16"
        );
    });
}

#[test]
fn same_input_gives_same_bytes() {
    let config = CompileConfig::default();
    assert_eq!(build(KITCHEN_SINK, &config), build(KITCHEN_SINK, &config));
}

#[test]
fn every_opt_level_and_strategy_compiles() {
    for opt_level in [OptLevel::O0, OptLevel::O1, OptLevel::O2, OptLevel::O3] {
        for bounds_checks in [BoundsChecks::GuardPages, BoundsChecks::Explicit] {
            let config = CompileConfig {
                opt_level,
                bounds_checks,
                ..CompileConfig::default()
            };
            let bytes = aligned(&build(KITCHEN_SINK, &config));
            let a = match ArtifactRef::parse(&bytes) {
                Ok(a) => a,
                Err(e) => panic!("{opt_level:?} {bounds_checks:?}: {e}"),
            };
            assert_eq!(a.header.opt_level, opt_level.as_number());
            assert_eq!(a.header.bounds_checks, bounds_checks);
        }
    }
}

#[test]
fn named_cpus_record_their_features() {
    let config = CompileConfig {
        cpu: CpuSelection::Named("x86-64-v3".into()),
        ..CompileConfig::default()
    };
    let bytes = aligned(&build(KITCHEN_SINK, &config));
    let Ok(a) = ArtifactRef::parse(&bytes) else {
        panic!("artifact does not parse")
    };
    let features = a.header.cpu_features.to_string();
    assert!(
        features.contains("avx2") && features.contains("sse4.2"),
        "{features}"
    );
    let unknown = CompileConfig {
        cpu: CpuSelection::Named("frobnicator".into()),
        ..CompileConfig::default()
    };
    assert!(matches!(
        compile(&wasm(KITCHEN_SINK), &unknown),
        Err(CompileError::Target(_))
    ));
}

#[test]
fn malformed_module_reports_its_offset() {
    let mut bytes = wasm("(module (func (result i32) i32.const 1))");
    // Turn the `i32.const` into an undefined opcode.
    let Some(pos) = bytes.iter().rposition(|&b| b == 0x41) else {
        panic!("no i32.const")
    };
    bytes[pos] = 0xff;
    match compile(&bytes, &CompileConfig::default()) {
        Err(CompileError::Invalid { offset, .. }) => assert_eq!(offset, pos as u64),
        other => panic!("expected Invalid, got {other:?}"),
    }
    match compile(b"\0asm\x01\0\0", &CompileConfig::default()) {
        Err(CompileError::Invalid { .. }) => {}
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn invalid_module_is_invalid() {
    let bytes = wasm("(module (func (result i32) i64.const 1))");
    assert!(matches!(
        compile(&bytes, &CompileConfig::default()),
        Err(CompileError::Invalid { .. })
    ));
}

#[test]
fn empty_module_compiles() {
    check("(module)", |a| {
        assert_eq!(a.metadata.defined_funcs.len(), 0);
        assert!(a.metadata.relocations.is_empty());
    });
}

#[test]
fn imported_memory_table_and_globals() {
    check(
        r#"(module
            (import "m" "mem" (memory 1))
            (import "m" "tab" (table 1 funcref))
            (import "m" "g" (global i32))
            (import "m" "f" (func $f (param i64 f32 f64) (result f64)))
            (type $t (func (result i32)))
            (func (export "run") (result f64)
              (drop (call_indirect (type $t) (i32.const 0)))
              (call $f (i64.load (global.get 0)) (f32.const 1) (f64.const 2))))"#,
        |a| {
            assert_eq!(a.metadata.imports.len(), 4);
            assert_eq!(a.metadata.import_trampolines.len(), 1);
            assert_eq!(a.metadata.defined_funcs.len(), 1);
        },
    );
}

#[test]
fn many_functions_compile_in_several_chunks() {
    // Enough code for several chunks; the result must not depend on the
    // number of threads.
    let mut wat = String::from("(module (memory 1)");
    for i in 0..400 {
        wat.push_str(&format!(
            "(func (export \"f{i}\") (param i32) (result i32) {} (local.get 0))",
            "(i32.store (local.get 0) (i32.add (i32.load (local.get 0)) (i32.const 1)))".repeat(60)
        ));
    }
    wat.push(')');
    let config = CompileConfig::default();
    let a = build(&wat, &config);
    let b = match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
        Ok(pool) => pool.install(|| build(&wat, &config)),
        Err(e) => panic!("thread pool: {e}"),
    };
    assert_eq!(a, b);
    let bytes = aligned(&a);
    let Ok(art) = ArtifactRef::parse(&bytes) else {
        panic!("artifact does not parse")
    };
    assert_eq!(art.metadata.defined_funcs.len(), 400);
}

#[test]
fn unsupported_proposals_are_reported() {
    // The validator accepts every proposal; the translator's stub names
    // it (tests/proposals.rs has one case per proposal).
    let bytes = wasm("(module (func (drop (ref.i31 (i32.const 0)))))");
    match compile(&bytes, &CompileConfig::default()) {
        Err(CompileError::Unsupported { feature, .. }) => {
            assert!(feature.contains("gc"), "{feature}")
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn other_architectures_are_refused_at_link_time() {
    let config = CompileConfig {
        target: Some("aarch64-unknown-linux-gnu".into()),
        ..CompileConfig::default()
    };
    match compile(&wasm("(module (func))"), &config) {
        Err(CompileError::Target(msg)) => assert!(msg.contains("not supported yet"), "{msg}"),
        other => panic!("expected Target, got {other:?}"),
    }
}

#[test]
fn malformed_name_section_is_ignored() {
    let mut bytes = wasm("(module (func))");
    // A custom section named "name" whose payload is garbage.
    bytes.extend_from_slice(&[0, 7, 4, b'n', b'a', b'm', b'e', 1, 0xff]);
    let artifact = match compile(&bytes, &CompileConfig::default()) {
        Ok(a) => aligned(&a),
        Err(e) => panic!("compile failed: {e}"),
    };
    let Ok(a) = ArtifactRef::parse(&artifact) else {
        panic!("artifact does not parse")
    };
    assert!(a.metadata.names.funcs.is_empty());
}

#[test]
fn runaway_recursion_keeps_its_calls() {
    // Tail-recursion elimination would turn this into an endless loop; the
    // spec wants the stack to run out. We cannot run it here, but the
    // function must still contain a call to itself.
    let bytes = aligned(&build(
        "(module (func $r (export \"r\") (call $r)))",
        &CompileConfig::default(),
    ));
    let Ok(a) = ArtifactRef::parse(&bytes) else {
        panic!("artifact does not parse")
    };
    let f = &a.metadata.defined_funcs[0];
    let start = (a.header.image.offset + u64::from(f.offset.to_native())) as usize;
    let code = &a.file[start..start + f.len.to_native() as usize];
    // `call rel32` (0xe8) whose target is the function's own entry.
    let calls_itself = code.windows(5).enumerate().any(|(i, w)| {
        w[0] == 0xe8 && {
            let rel = i32::from_le_bytes([w[1], w[2], w[3], w[4]]) as i64;
            i as i64 + 5 + rel == 0
        }
    });
    assert!(calls_itself, "{code:02x?}");
}

/// Code length of the first defined function of `wat`.
fn first_func_len(wat: &str) -> u32 {
    let bytes = aligned(&build(wat, &CompileConfig::default()));
    let Ok(a) = ArtifactRef::parse(&bytes) else {
        panic!("artifact does not parse")
    };
    a.metadata.defined_funcs[0].len.to_native()
}

#[test]
fn dropped_loads_are_kept_for_their_trap() {
    // With guard pages the load's fault is its only effect; LLVM must not
    // delete it.
    let empty = first_func_len("(module (memory 1) (func (param i32)))");
    let load =
        first_func_len("(module (memory 1) (func (param i32) (drop (i32.load8_s (local.get 0)))))");
    assert!(load > empty, "load {load} bytes, empty {empty} bytes");
}

#[test]
fn native_cpu_records_only_host_features() {
    let config = CompileConfig {
        cpu: CpuSelection::Native,
        ..CompileConfig::default()
    };
    let bytes = aligned(&build("(module (func))", &config));
    let Ok(a) = ArtifactRef::parse(&bytes) else {
        panic!("artifact does not parse")
    };
    let missing = a
        .header
        .cpu_features
        .missing_from(wasmo_artifact_format::CpuFeatures::host());
    assert_eq!(missing, wasmo_artifact_format::CpuFeatures::EMPTY);
}

/// Issue 9: a non-ELF target failed after compiling, with "internal
/// compiler error ... Unknown file magic".
#[test]
fn issue9_non_elf_targets_are_refused_up_front() {
    for triple in ["x86_64-apple-darwin", "x86_64-pc-windows-msvc"] {
        let config = CompileConfig {
            target: Some(triple.into()),
            ..CompileConfig::default()
        };
        match compile(&wasm("(module (func))"), &config) {
            Err(CompileError::Target(msg)) => {
                assert!(msg.contains("only ELF x86-64/aarch64 Linux"), "{msg}")
            }
            other => panic!("{triple}: expected Target, got {other:?}"),
        }
    }
}
