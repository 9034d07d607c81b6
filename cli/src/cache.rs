//! The compile cache of `wasmo run`: artifacts stored under a
//! content-addressed name, so a module compiled once is never compiled
//! again (and `wasmoc`, hence LLVM, is never started) until the module or
//! anything that changes its artifact changes.
//!
//! Rule: the key must cover every input of the artifact. It is derived here
//! from facts this LLVM-free binary knows (the wasm binary, wasmo's
//! version, the compiler build id both binaries embed, the artifact format
//! version and ABI fingerprint, each `wasmoc` option that `wasmo run`
//! passes, and `WASMO_LLVM_OPTIONS`, which `wasmoc` inherits), never by
//! asking the compiler. Adding a compile option to
//! `wasmo run` means adding it to [`CacheKey`].
//!
//! Rule: an entry is trusted for nothing. It is opened without following
//! symlinks and without blocking, used only if it is a regular file the
//! loader accepts whose recorded source hash is the module's, and
//! otherwise removed and recompiled. The module file is read once; the
//! bytes hashed are the bytes `wasmoc` compiles (`compile.rs`). Entries are
//! written here, as a temporary file in the cache directory renamed into
//! place, so readers see a whole artifact or none.

use std::borrow::Cow;
use std::fs::File;
use std::io::{Seek as _, Write as _};
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use wasmo_loader::Module;

use crate::{compile, Failure, RunArgs};
use wasmo_artifact_format::Instrumentation;

/// Everything that determines the artifact `wasmoc` makes of a module.
#[derive(Debug)]
pub struct CacheKey<'a> {
    /// The wasm binary (text modules after `wat` parsed them).
    pub module: &'a [u8],
    /// The compiler build id (`compile::BUILD_ID`).
    pub compiler: &'a str,
    /// `-O` level.
    pub opt_level: u8,
    /// `--cpu` as given (`None`: the baseline).
    pub cpu: Option<&'a str>,
    /// `--bounds-checks` as given (`None`: the default).
    pub bounds_checks: Option<&'a str>,
    /// `--epoch-interruption` and `--consume-fuel`, as header bits.
    pub instrumentation: Instrumentation,
    /// `WASMO_LLVM_OPTIONS` as `wasmoc` inherits it (`None`: unset): extra
    /// LLVM options that may change the generated code.
    pub llvm_options: Option<&'a [u8]>,
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
        field(b"wasmo run cache v2");
        field(env!("CARGO_PKG_VERSION").as_bytes());
        field(self.compiler.as_bytes());
        field(&wasmo_artifact_format::FORMAT_VERSION.to_le_bytes());
        field(wasmo_artifact_format::abi_fingerprint().as_bytes());
        // `wasmo run` always compiles for the host it runs on.
        field(std::env::consts::ARCH.as_bytes());
        field(std::env::consts::OS.as_bytes());
        field(&[self.opt_level]);
        field(self.cpu.unwrap_or("").as_bytes());
        field(self.bounds_checks.unwrap_or("").as_bytes());
        field(&[self.instrumentation.0]);
        match self.llvm_options {
            None => field(&[0]),
            Some(options) => {
                field(&[1]);
                field(options);
            }
        }
        field(self.module);
        format!("{}.wasmo", h.finalize().to_hex())
    }
}

/// The module `wasmo run` runs: from the cache when an entry is usable,
/// else compiled by `wasmoc` (and stored, unless there is no cache).
pub fn module_for(
    a: &RunArgs,
    input: &Path,
    instrumentation: Instrumentation,
) -> Result<Module, Failure> {
    let bytes =
        std::fs::read(input).with_context(|| format!("cannot read `{}`", input.display()))?;
    let dir = if a.no_cache {
        None
    } else {
        cache_dir(a.cache_dir.as_deref())
    };
    // Text is parsed here, so that the bytes hashed are the binary the
    // artifact's source hash covers. Text that does not parse goes to
    // wasmoc as it is, uncached: wasmoc reports the error.
    let (Some(dir), Ok(wasm)) = (dir, wat::parse_bytes(&bytes)) else {
        let wasm = wat::parse_bytes(&bytes).unwrap_or(Cow::Borrowed(&bytes));
        return load_unnamed(&compile::compile(a, input, &wasm, instrumentation)?);
    };
    let llvm_options = std::env::var_os(compile::LLVM_OPTIONS_VAR);
    let key = CacheKey {
        module: &wasm,
        compiler: compile::BUILD_ID,
        opt_level: a.opt_level,
        cpu: a.cpu.as_deref(),
        bounds_checks: a.bounds_checks.as_deref(),
        instrumentation,
        llvm_options: llvm_options.as_deref().map(|o| o.as_encoded_bytes()),
    };
    let entry = dir.join(key.file_name());
    let source_hash = *blake3::hash(&wasm).as_bytes();
    match open_entry(&entry, &source_hash) {
        Entry::Ready(module) => return Ok(module),
        Entry::Missing => {}
        Entry::Unusable(reason) => {
            eprintln!(
                "wasmo: cached artifact for {} is unusable ({reason}); recompiling",
                input.display()
            );
            remove_entry(&entry).with_context(|| format!("cannot remove `{}`", entry.display()))?;
        }
    }
    let mut artifact = compile::compile(a, input, &wasm, instrumentation)?;
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the cache directory `{}`", dir.display()))?;
    store(&dir, &entry, &mut artifact)
        .with_context(|| format!("cannot write `{}`", entry.display()))?;
    match open_entry(&entry, &source_hash) {
        Entry::Ready(module) => Ok(module),
        Entry::Missing => Err(anyhow!("`{}` vanished as it was written", entry.display()).into()),
        Entry::Unusable(reason) => Err(anyhow!(
            "the artifact wasmoc just wrote, `{}`, is unusable: {reason}",
            entry.display()
        )
        .into()),
    }
}

/// Loads the unnamed artifact `compile` returned.
fn load_unnamed(artifact: &File) -> Result<Module, Failure> {
    Module::from_file(&compile::reopen_path(artifact)).map_err(|e| anyhow!("{e}").into())
}

/// What the cache holds under a name.
enum Entry {
    /// Nothing.
    Missing,
    /// Something that must be replaced, and why.
    Unusable(String),
    /// A checked artifact of the module.
    Ready(Module),
}

/// Opens the entry at `path` if it is a regular file (never following a
/// symlink, never blocking on a FIFO or device), the loader accepts it
/// and it was compiled from the wasm whose BLAKE3 is `source_hash`.
fn open_entry(path: &Path, source_hash: &[u8; 32]) -> Entry {
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Entry::Missing,
        // O_NOFOLLOW on a symlink.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Entry::Unusable("not a regular file but a symlink".into())
        }
        Err(e) => return Entry::Unusable(e.to_string()),
    };
    let kind = match file.metadata() {
        Ok(m) => m.file_type(),
        Err(e) => return Entry::Unusable(e.to_string()),
    };
    if !kind.is_file() {
        return Entry::Unusable(format!("not a regular file but a {}", kind_name(kind)));
    }
    // The same inode again, through the descriptor checked above.
    let module = match Module::from_file(&compile::reopen_path(&file)) {
        Ok(m) => m,
        Err(e) => return Entry::Unusable(e.to_string()),
    };
    if module.header().source_hash != *source_hash {
        return Entry::Unusable(
            "it was compiled from other bytes than the module (source hash mismatch)".into(),
        );
    }
    Entry::Ready(module)
}

fn kind_name(kind: std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        "directory"
    } else if kind.is_fifo() {
        "FIFO"
    } else if kind.is_socket() {
        "socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "device"
    } else {
        "special file"
    }
}

/// Removes whatever is at `path` (a directory with its contents).
fn remove_entry(path: &Path) -> std::io::Result<()> {
    let r = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) => Err(e),
    };
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Copies `artifact` into a temporary file in `dir` and renames it to
/// `entry`.
fn store(dir: &Path, entry: &Path, artifact: &mut File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut tmp = tempfile::Builder::new()
        .prefix(".wasmo-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    artifact.rewind()?;
    std::io::copy(artifact, tmp.as_file_mut())?;
    tmp.as_file_mut().flush()?;
    tmp.as_file().sync_all()?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    tmp.persist(entry).map_err(|e| e.error)?;
    Ok(())
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
            compiler: "build-a",
            opt_level: 2,
            cpu: None,
            bounds_checks: None,
            instrumentation: Instrumentation::NONE,
            llvm_options: None,
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
        let mut k = key(b"\0asm");
        k.instrumentation = Instrumentation(Instrumentation::EPOCH_INTERRUPTION);
        assert_ne!(base, k.file_name());
        let mut k = key(b"\0asm");
        k.instrumentation = Instrumentation(Instrumentation::CONSUME_FUEL);
        assert_ne!(base, k.file_name());
        let mut k = key(b"\0asm");
        k.llvm_options = Some(b"");
        assert_ne!(base, k.file_name());
        let mut k = key(b"\0asm");
        k.llvm_options = Some(b"-time-passes");
        assert_ne!(base, k.file_name());
        assert!(base.ends_with(".wasmo") && base.len() == 64 + 6);
    }

    /// Issue 9, defect 11: the key ignored which `wasmoc` built the entry,
    /// so after a codegen fix under the same version stale artifacts were
    /// served.
    #[test]
    fn issue9_key_covers_the_compiler_build() {
        let base = key(b"\0asm").file_name();
        let mut k = key(b"\0asm");
        k.compiler = "build-b";
        assert_ne!(base, k.file_name());
        assert_eq!(compile::BUILD_ID.len(), 32);
    }

    #[test]
    fn flag_beats_the_environment() {
        assert_eq!(cache_dir(Some(Path::new("/x"))), Some(PathBuf::from("/x")));
    }
}
