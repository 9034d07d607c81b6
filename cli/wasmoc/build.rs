//! Embeds the compiler build id (`../build_id.rs`), which `wasmo run`
//! checks so that its cache key names the `wasmoc` that really compiled.

include!("../build_id.rs");

fn main() {
    let manifest =
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.ancestors().nth(2).unwrap_or(&manifest);
    emit_compiler_build_id(root);
}
