//! The compile cache of `wasmo run`: artifacts stored under a
//! content-addressed name, so a module compiled once is never compiled
//! again (and `wasmoc`, hence LLVM, is never started) until the module or
//! anything that changes its artifact changes.
//!
//! Rule: the key must cover every input of the artifact. It is derived here
//! from facts this LLVM-free binary knows (the module bytes, wasmo's
//! version, the artifact format version and ABI fingerprint, and each
//! `wasmoc` option that `wasmo run` passes), never by asking the compiler.
//! Adding a compile option to `wasmo run` means adding it to [`CacheKey`].
//! Entries are only ever written by `wasmoc`, which writes a temporary file
//! in the cache directory and renames it into place, so readers see a whole
//! artifact or none.

use std::path::{Path, PathBuf};

/// Everything that determines the artifact `wasmoc` makes of a module.
#[derive(Debug)]
pub struct CacheKey<'a> {
    /// The module file's bytes (binary or text, as given).
    pub module: &'a [u8],
    /// `-O` level.
    pub opt_level: u8,
    /// `--cpu` as given (`None`: the baseline).
    pub cpu: Option<&'a str>,
    /// `--bounds-checks` as given (`None`: the default).
    pub bounds_checks: Option<&'a str>,
}

impl CacheKey<'_> {
    /// The entry's file name: the BLAKE3 hex digest of the key plus
    /// `.wasmo`. Each field is length-prefixed, so no two keys share an
    /// encoding.
    pub fn file_name(&self) -> String {
        let mut h = blake3::Hasher::new();
        let mut field = |bytes: &[u8]| {
            h.update(&(bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(b"wasmo run cache v1");
        field(env!("CARGO_PKG_VERSION").as_bytes());
        field(&wasmo_artifact_format::FORMAT_VERSION.to_le_bytes());
        field(wasmo_artifact_format::abi_fingerprint().as_bytes());
        // `wasmo run` always compiles for the host it runs on.
        field(std::env::consts::ARCH.as_bytes());
        field(std::env::consts::OS.as_bytes());
        field(&[self.opt_level]);
        field(self.cpu.unwrap_or("").as_bytes());
        field(self.bounds_checks.unwrap_or("").as_bytes());
        field(self.module);
        format!("{}.wasmo", h.finalize().to_hex())
    }
}

/// The cache directory: `--cache-dir`, else `$WASMO_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/wasmo`, else `$HOME/.cache/wasmo`; `None` when none of
/// them is set (relative XDG/HOME values are ignored, as the XDG spec says).
pub fn cache_dir(flag: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = flag {
        return Some(dir.to_path_buf());
    }
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var("WASMO_CACHE_DIR") {
        return Some(dir);
    }
    if let Some(xdg) = var("XDG_CACHE_HOME").filter(|p| p.is_absolute()) {
        return Some(xdg.join("wasmo"));
    }
    var("HOME")
        .filter(|p| p.is_absolute())
        .map(|home| home.join(".cache").join("wasmo"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(module: &[u8]) -> CacheKey<'_> {
        CacheKey {
            module,
            opt_level: 2,
            cpu: None,
            bounds_checks: None,
        }
    }

    #[test]
    fn every_field_changes_the_key() {
        let base = key(b"\0asm").file_name();
        assert_eq!(base, key(b"\0asm").file_name());
        assert_ne!(base, key(b"\0asn").file_name());
        let mut k = key(b"\0asm");
        k.opt_level = 3;
        assert_ne!(base, k.file_name());
        let mut k = key(b"\0asm");
        k.cpu = Some("native");
        assert_ne!(base, k.file_name());
        let mut k = key(b"\0asm");
        k.bounds_checks = Some("explicit");
        assert_ne!(base, k.file_name());
        assert!(base.ends_with(".wasmo") && base.len() == 64 + 6);
    }

    #[test]
    fn flag_beats_the_environment() {
        assert_eq!(cache_dir(Some(Path::new("/x"))), Some(PathBuf::from("/x")));
    }
}
