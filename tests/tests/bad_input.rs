//! Bad inputs to both commands: malformed and invalid modules for
//! `wasmoc build`, damaged and incompatible artifacts for `wasmo exec`.
//!
//! Each must give exit status 1, an `error: ...` line that says what check
//! failed, no output file, and never a panic.
//!
//! Rule: every artifact defect is made by hand from a good artifact (or with
//! `ArtifactBuilder`), so each test fails one check only; when a defect needs
//! the content hash fixed up to get past the corruption check, the test
//! recomputes it exactly as the format defines it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wasmo_artifact_format::{
    ArtifactBuilder, BuildFacts, CpuFeatures, Header, X86Feature, HEADER_SIZE,
};
use wasmo_tests::{bin_path, example, wat};

fn bin(name: &str) -> PathBuf {
    match bin_path(name) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn run(bin_name: &str, args: &[&Path]) -> Output {
    match Command::new(bin(bin_name)).args(args).output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run {bin_name}: {e}"),
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a clean failure: status 1, one `error:` message containing
/// every `needle` (case-insensitive), no panic.
fn assert_refused(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected exit status 1, stderr: {err}"
    );
    assert!(
        err.starts_with("error: "),
        "stderr does not start with `error: `: {err}"
    );
    assert!(!err.contains("panicked"), "panic: {err}");
    let lower = err.to_lowercase();
    for n in needles {
        assert!(
            lower.contains(&n.to_lowercase()),
            "stderr lacks `{n}`: {err}"
        );
    }
}

fn build_fib(dir: &Path) -> PathBuf {
    let out = dir.join("fib.wasmo");
    let o = run(
        "wasmoc",
        &[
            Path::new("build"),
            &example("fib.wat"),
            Path::new("-o"),
            &out,
        ],
    );
    assert!(
        o.status.success(),
        "wasmoc build fib.wat failed: {}",
        stderr(&o)
    );
    out
}

fn tempdir() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    }
}

fn write(path: &Path, bytes: &[u8]) {
    if let Err(e) = std::fs::write(path, bytes) {
        panic!("write {}: {e}", path.display());
    }
}

fn read(path: &Path) -> Vec<u8> {
    match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => panic!("read {}: {e}", path.display()),
    }
}

/// `wasmoc build` of `bytes` fails with a message naming a byte offset and
/// leaves nothing behind in the output directory.
fn assert_build_refused(bytes: &[u8], file_name: &str) {
    let dir = tempdir();
    let input = dir.path().join(file_name);
    write(&input, bytes);
    let out_dir = dir.path().join("out");
    if let Err(e) = std::fs::create_dir(&out_dir) {
        panic!("{e}");
    }
    let out = out_dir.join("app.wasmo");
    let o = run(
        "wasmoc",
        &[Path::new("build"), &input, Path::new("-o"), &out],
    );
    assert_refused(&o, &["byte offset"]);
    let left: Vec<_> = std::fs::read_dir(&out_dir)
        .map(|rd| rd.count())
        .into_iter()
        .collect();
    assert_eq!(left, vec![0], "wasmoc left files in the output directory");
}

#[test]
fn malformed_binary_is_refused_with_offset() {
    // A type section that claims 5 bytes but ends after 2.
    let bytes = b"\0asm\x01\0\0\0\x01\x05\x01\x60";
    assert_build_refused(bytes, "truncated.wasm");
    // Unknown section id.
    assert_build_refused(b"\0asm\x01\0\0\0\x2a\x00", "badsection.wasm");
}

#[test]
fn invalid_module_is_refused_with_offset() {
    let bytes = wat("(module (func (result i32) (i64.const 1)))");
    // A .wat name on binary content: the magic decides, not the extension.
    assert_build_refused(&bytes, "looks_like_text.wat");
}

#[test]
fn text_that_is_not_wasm_is_refused() {
    let dir = tempdir();
    let input = dir.path().join("junk.wasm");
    write(&input, &[0xff, 0xfe, 0x00, 0x01]);
    let out = dir.path().join("junk.wasmo");
    let o = run(
        "wasmoc",
        &[Path::new("build"), &input, Path::new("-o"), &out],
    );
    assert_refused(&o, &["neither a wasm binary"]);
    assert!(!out.exists());

    write(&input, b"(module (func $f (param i32) (i32.add)");
    let o = run(
        "wasmoc",
        &[Path::new("build"), &input, Path::new("-o"), &out],
    );
    assert_refused(&o, &["cannot parse"]);
    assert!(!out.exists());
}

/// Runs `wasmo exec --invoke fib ART N`.
fn exec_fib(artifact: &Path, n: &str) -> Output {
    let args = [
        Path::new("exec"),
        Path::new("--invoke"),
        Path::new("fib"),
        artifact,
        Path::new(n),
    ];
    run("wasmo", &args)
}

/// Runs `wasmo exec --invoke fib ART 10` on damaged bytes.
fn exec_bytes(dir: &Path, name: &str, bytes: &[u8]) -> Output {
    let path = dir.join(name);
    write(&path, bytes);
    exec_fib(&path, "10")
}

/// BLAKE3 over the file with the body-hash field (bytes 48..80) as zeros,
/// written into that field, as `artifact.rs` defines it.
fn rehash(bytes: &mut [u8]) {
    let mut h = blake3::Hasher::new();
    h.update(&bytes[..48]);
    h.update(&[0u8; 32]);
    h.update(&bytes[80..]);
    let digest = *h.finalize().as_bytes();
    bytes[48..80].copy_from_slice(&digest);
}

#[test]
fn good_artifact_runs() {
    let dir = tempdir();
    let art = build_fib(dir.path());
    let o = exec_fib(&art, "30");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "832040\n");
}

#[test]
fn truncated_artifacts_are_refused() {
    let dir = tempdir();
    let good = read(&build_fib(dir.path()));
    for len in [0, 7, 100, HEADER_SIZE, good.len() / 2, good.len() - 1] {
        let o = exec_bytes(dir.path(), "t.wasmo", &good[..len]);
        let needle = if len < 8 { "" } else { "truncated" };
        assert_refused(&o, &[needle]);
    }
}

#[test]
fn flipped_bytes_are_refused() {
    let dir = tempdir();
    let good = read(&build_fib(dir.path()));
    let header = match Header::decode(&good) {
        Ok(h) => h,
        Err(e) => panic!("fib artifact header: {e}"),
    };
    let positions = [
        ("compat hash", 20),
        ("target triple", 113),
        ("header reserved", HEADER_SIZE - 2),
        ("metadata", header.metadata.offset as usize + 4),
        (
            "metadata end",
            (header.metadata.offset + header.metadata.len) as usize - 1,
        ),
        ("code", header.image.offset as usize + 1),
        ("last byte", good.len() - 1),
    ];
    for (what, at) in positions {
        let mut bad = good.clone();
        bad[at] ^= 0x20;
        let o = exec_bytes(dir.path(), "flip.wasmo", &bad);
        assert!(
            o.status.code() == Some(1),
            "flip in {what} (byte {at}) not refused: {}",
            stderr(&o)
        );
        assert_refused(&o, &["hash mismatch"]);
    }
}

#[test]
fn bad_magic_and_version_are_refused() {
    let dir = tempdir();
    let good = read(&build_fib(dir.path()));
    let mut bad = good.clone();
    bad[1] = b'W';
    assert_refused(&exec_bytes(dir.path(), "magic.wasmo", &bad), &["magic"]);
    let mut bad = good.clone();
    bad[8] = bad[8].wrapping_add(1);
    assert_refused(
        &exec_bytes(dir.path(), "version.wasmo", &bad),
        &["format version"],
    );
}

/// A well-formed artifact whose facts differ from fib's as `change` says,
/// with a consistent compatibility hash and content hash.
fn crafted(good: &[u8], change: impl FnOnce(&mut BuildFacts)) -> Vec<u8> {
    let header = match Header::decode(good) {
        Ok(h) => h,
        Err(e) => panic!("{e}"),
    };
    let mut facts = BuildFacts {
        compat: header.compat_facts(),
        cpu_name: header.cpu_name.clone(),
        opt_level: header.opt_level,
        source_hash: header.source_hash,
    };
    change(&mut facts);
    let builder = ArtifactBuilder {
        facts,
        metadata: Default::default(),
        text: vec![0xc3],
        rodata: Vec::new(),
        relro: Vec::new(),
    };
    match builder.build() {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn wrong_target_is_refused() {
    let dir = tempdir();
    let good = read(&build_fib(dir.path()));
    let bad = crafted(&good, |f| {
        f.compat.target_triple = "aarch64-unknown-linux-gnu".into()
    });
    assert_refused(
        &exec_bytes(dir.path(), "target.wasmo", &bad),
        &["aarch64-unknown-linux-gnu"],
    );

    // And a real cross-compiled artifact, where the compiler can make one.
    let cross = dir.path().join("cross.wasmo");
    let args = [
        Path::new("build"),
        Path::new("--target"),
        Path::new("aarch64-unknown-linux-gnu"),
        &example("fib.wat"),
        Path::new("-o"),
        &cross,
    ];
    if run("wasmoc", &args).status.success() {
        let o = exec_fib(&cross, "3");
        assert_refused(&o, &["aarch64"]);
    }
}

#[test]
fn missing_cpu_feature_is_refused() {
    let dir = tempdir();
    let good = read(&build_fib(dir.path()));
    let host = CpuFeatures::host();
    let lacking = X86Feature::ALL.iter().copied().find(|&f| !host.contains(f));
    let bad = crafted(&good, |f| match lacking {
        Some(feat) => f.compat.cpu_features.insert(feat),
        // A host with every known feature: a bit no CPU has.
        None => f.compat.cpu_features.0 |= 1 << 63,
    });
    let needle = lacking.map_or("cpu", |f| f.llvm_name());
    assert_refused(&exec_bytes(dir.path(), "cpu.wasmo", &bad), &["cpu", needle]);
}

#[test]
fn compat_hash_mismatch_is_refused() {
    let dir = tempdir();
    let mut bad = read(&build_fib(dir.path()));
    bad[16] ^= 0xff;
    rehash(&mut bad);
    assert_refused(&exec_bytes(dir.path(), "compat.wasmo", &bad), &["compatib"]);
}

#[test]
fn missing_artifact_is_refused() {
    let dir = tempdir();
    let o = run(
        "wasmo",
        &[Path::new("exec"), &dir.path().join("nope.wasmo")],
    );
    assert_refused(&o, &["nope.wasmo"]);
}
