//! Issue 9, defect 18: valid modules that use a proposal wasmo lacks were
//! reported as "invalid module" (the validator knew only 1.0). Each case is
//! a tiny module using one proposal; the error must be `Unsupported`,
//! name the proposal and carry the byte offset of the construct (the
//! offsets below were checked by hand: the first byte of the entry (type,
//! import, table, memory, global, segment, local declaration), of the
//! section's contents (tag, data count), or of the operator).

use wasmo_compiler::{compile, CompileConfig, CompileError};

/// (case, module text, proposal named, byte offset). Relaxed SIMD,
/// threads, extended-const, function references and memory64's 64-bit
/// tables left this list when they were implemented (issue 12); the spec
/// runner's groups and `tests/tests/memories.rs` cover them.
const CASES: &[(&str, &str, &str, u64)] = &[
    // Exception handling is supported with `exnref` (issue 11); the
    // bottom type `nullexnref` is not.
    (
        "exceptions_nullexnref_param",
        r#"(module (func (param nullexnref)))"#,
        "exceptions",
        0xb,
    ),
    ("gc_struct", r#"(module (type (struct)))"#, "gc", 0xb),
    // Recursion groups of function types are supported (issue 11,
    // `tests/tests/rec_groups.rs`); struct members and declared
    // supertypes are not.
    (
        "gc_struct_in_rec_group",
        r#"(module (rec (type (func)) (type (struct))))"#,
        "gc",
        0xb,
    ),
    (
        "gc_declared_supertype",
        r#"(module (type $a (sub (func))) (type (sub $a (func))))"#,
        "gc",
        0x10,
    ),
    // Typed function references are supported (issue 12,
    // `tests/tests/func_refs.rs`); GC's heap types are not.
    (
        "gc_heap_type",
        r#"(module (type $t (func)) (func (param (ref any))))"#,
        "gc",
        0xe,
    ),
    (
        "custom_page_sizes",
        r#"(module (memory 1 (pagesize 1)))"#,
        "custom-page-sizes",
        0xb,
    ),
    (
        "wide_arithmetic",
        r#"(module (func (param i64 i64 i64 i64) (drop (drop (i64.add128 (local.get 0) (local.get 1) (local.get 2) (local.get 3))))))"#,
        "wide-arithmetic",
        0x23,
    ),
    ("component_model", r#"(component)"#, "component-model", 0),
];

#[test]
fn issue9_unsupported_proposals_are_named_with_offsets() {
    let mut failures = Vec::new();
    for &(case, text, proposal, offset) in CASES {
        let bytes = match wat::parse_str(text) {
            Ok(b) => b,
            Err(e) => {
                failures.push(format!("{case}: bad test wat: {e}"));
                continue;
            }
        };
        match compile(&bytes, &CompileConfig::default()) {
            Err(CompileError::Unsupported {
                feature,
                offset: got,
            }) => {
                let named = feature.contains(&format!("({proposal} proposal)"));
                if !named || got != offset {
                    failures.push(format!(
                        "{case}: got `{feature}` at {got:#x}, want the {proposal} proposal at {offset:#x}"
                    ));
                }
            }
            Err(e) => failures.push(format!("{case}: wrong error: {e}")),
            Ok(_) => failures.push(format!("{case}: compiled")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Issue 10: what the reference-types cases above once were refused for
/// now compiles.
#[test]
fn issue10_reference_types_compile() {
    for text in [
        r#"(module (table 1 externref))"#,
        r#"(module (global funcref (ref.null func)))"#,
        r#"(module (func (result i32) (ref.is_null (ref.null func))))"#,
        r#"(module (global externref (ref.null extern)))"#,
        r#"(module (table $t 1 externref) (elem declare func $f) (func $f)
             (func (param externref) (result funcref)
               (drop (table.grow $t (local.get 0) (i32.const 1)))
               (table.fill $t (i32.const 0) (table.get $t (i32.const 0)) (table.size $t))
               (select (result funcref) (ref.func $f) (ref.null func) (i32.const 1))))"#,
    ] {
        let bytes = match wat::parse_str(text) {
            Ok(b) => b,
            Err(e) => panic!("bad test wat: {e}"),
        };
        if let Err(e) = compile(&bytes, &CompileConfig::default()) {
            panic!("{text}: {e}");
        }
    }
}
