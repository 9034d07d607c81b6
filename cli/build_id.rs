// The compiler build id, shared by the build scripts of `wasmo` and
// `wasmoc` (each `include!`s this file), so both binaries of one build
// embed the same id as `WASMO_COMPILER_BUILD_ID`.
//
// The id is BLAKE3 over every input that decides what code `wasmoc`
// generates and that a version number does not pin: the sources and
// manifests of `compiler`, `artifact-format` and `cli/wasmoc`, and
// `Cargo.lock` (every dependency's exact version, LLVM's bindings
// included). A codegen fix changes the id even under the same version.
// Rule: a new crate `wasmoc` depends on for code generation is listed in
// `ID_INPUTS`.

use std::path::{Path, PathBuf};

/// Files and directories (relative to the workspace root) the id covers.
const ID_INPUTS: &[&str] = &[
    "Cargo.lock",
    "compiler/Cargo.toml",
    "compiler/src",
    "artifact-format/Cargo.toml",
    "artifact-format/src",
    "cli/wasmoc/Cargo.toml",
    "cli/wasmoc/src",
];

fn collect(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    let path = root.join(rel);
    if path.is_dir() {
        let Ok(entries) = std::fs::read_dir(&path) else {
            return;
        };
        for entry in entries.flatten() {
            collect(root, &rel.join(entry.file_name()), out);
        }
    } else if path.is_file() {
        out.push(rel.to_path_buf());
    }
}

/// Emits `cargo:rustc-env=WASMO_COMPILER_BUILD_ID=<hex>` and the
/// `rerun-if-changed` lines for `workspace_root`.
fn emit_compiler_build_id(workspace_root: &Path) {
    let mut files = Vec::new();
    for input in ID_INPUTS {
        println!("cargo:rerun-if-changed={}", workspace_root.join(input).display());
        collect(workspace_root, Path::new(input), &mut files);
    }
    // Sorted by path, so the id does not depend on directory order.
    files.sort();
    let mut h = blake3::Hasher::new();
    for rel in &files {
        let bytes = std::fs::read(workspace_root.join(rel)).unwrap_or_default();
        let name = rel.to_string_lossy();
        h.update(&(name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    println!(
        "cargo:rustc-env=WASMO_COMPILER_BUILD_ID={}",
        &h.finalize().to_hex()[..32]
    );
}
