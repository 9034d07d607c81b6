//! Byte-level mutations: valid modules made invalid (or differently
//! valid) for `wasmoc`, and artifacts made hostile for the loader.
//!
//! Rule: every mutation is a pure function of its seed and input, so a
//! finding is reproduced from the files written for it.

use wasmo_artifact_format::{rewrite_body_hash, Header, HEADER_SIZE};

use crate::gen::Rng;

/// Applies one to eight random edits to `bytes` within `range` (byte
/// flips, interesting bytes, LEB128-ish runs, insertions, deletions,
/// duplicated chunks); `resize` allows edits that change the length.
pub fn mutate(bytes: &mut Vec<u8>, rng: &mut Rng, range: std::ops::Range<usize>, resize: bool) {
    let edits = 1 + rng.below(8);
    for _ in 0..edits {
        let end = range.end.min(bytes.len());
        if end <= range.start {
            return;
        }
        let at = range.start + rng.below((end - range.start) as u64) as usize;
        match rng.below(if resize { 8 } else { 5 }) {
            0 => bytes[at] ^= 1 << rng.below(8),
            1 => bytes[at] = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x40, 0x0b][rng.below(7) as usize],
            2 => bytes[at] = rng.next_u64() as u8,
            3 => {
                // A long LEB128 continuation run or a large number.
                let n = (1 + rng.below(5) as usize).min(end - at);
                for b in &mut bytes[at..at + n] {
                    *b = 0xff;
                }
            }
            4 => {
                let n = (1 + rng.below(4) as usize).min(end - at);
                bytes[at..at + n].copy_from_slice(&rng.bytes(n));
            }
            5 => {
                let n = 1 + rng.below(16) as usize;
                let ins = rng.bytes(n);
                bytes.splice(at..at, ins);
            }
            6 => {
                let n = (1 + rng.below(16) as usize).min(end - at);
                bytes.drain(at..at + n);
            }
            _ => {
                let n = (1 + rng.below(64) as usize).min(end - at);
                let chunk = bytes[at..at + n].to_vec();
                let to = range.start + rng.below((end - range.start) as u64) as usize;
                bytes.splice(to..to, chunk);
            }
        }
    }
}

/// Offset of the compatibility hash in the header (see the layout in
/// `artifact-format/src/artifact.rs`; `tests/tests/tampered.rs` uses the
/// same number).
const OFF_COMPAT: usize = 16;

/// Recomputes what an attacker can recompute: the compatibility hash from
/// the header's own facts (when the header still decodes), then the
/// content hash over the whole file.
pub fn rehash(bytes: &mut [u8]) {
    if bytes.len() < HEADER_SIZE {
        return;
    }
    if let Ok(header) = Header::decode(&bytes[..HEADER_SIZE]) {
        let compat = header.compat_facts().hash();
        bytes[OFF_COMPAT..OFF_COMPAT + 32].copy_from_slice(&compat);
    }
    rewrite_body_hash(bytes);
}

/// How a hostile artifact was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostility {
    /// Bytes changed anywhere, hash left alone: must be refused.
    Corrupt,
    /// Header or metadata changed, hashes recomputed: must be refused or
    /// load and run without harming the host.
    Rehashed,
}

/// A hostile variant of `artifact` for `seed`. Rehashed mutations stay in
/// the header and metadata (before the image): the loader trusts the
/// machine code of an artifact whose hash matches, so rewritten code or
/// read-only data may do anything wasm code could not, by design (see
/// ARCHITECTURE.md, "What it trusts once the content hash matches").
pub fn hostile(artifact: &[u8], seed: u64) -> (Vec<u8>, Hostility) {
    let mut rng = Rng::new(seed, 4);
    let mut bytes = artifact.to_vec();
    if rng.below(4) == 0 {
        let len = bytes.len();
        mutate(&mut bytes, &mut rng, 0..len, true);
        if bytes == artifact {
            bytes.push(0);
        }
        return (bytes, Hostility::Corrupt);
    }
    let image_start = Header::decode(&artifact[..HEADER_SIZE.min(artifact.len())])
        .map(|h| h.image.offset as usize)
        .unwrap_or(HEADER_SIZE)
        .min(artifact.len());
    // Mostly the metadata (what the loader parses), sometimes the header.
    let range = if rng.below(4) == 0 {
        0..HEADER_SIZE.min(image_start)
    } else {
        HEADER_SIZE.min(image_start)..image_start
    };
    mutate(&mut bytes, &mut rng, range, false);
    rehash(&mut bytes);
    (bytes, Hostility::Rehashed)
}
