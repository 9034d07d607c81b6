//! Embeds the compiler build id (`build_id.rs`) as the cache key's
//! identity of the `wasmoc` that builds the entries.

include!("build_id.rs");

fn main() {
    let manifest =
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    emit_compiler_build_id(manifest.parent().unwrap_or(&manifest));
}
