//! Writing and reading `.wasmo` files.
//!
//! ```text
//! offset 0            +--------------------------------------------+
//!                     | Header (HEADER_SIZE bytes, little-endian)   |
//!                     |   0 magic "\0wasmo\r\n"   8 format_version  |
//!                     |  12 header_size          16 compat_hash[32] |
//!                     |  48 body_hash[32]        80 source_hash[32] |
//!                     | 112 target_triple[48]   160 cpu_name[32]    |
//!                     | 192 cpu_features u64    200 bounds_checks u8|
//!                     | 201 opt_level u8   202 instrumentation u8   |
//!                     |                         204 page_align u32  |
//!                     | 208 memory_reservation  216 guard_size      |
//!                     | 224 wasm_features       232 metadata off,len|
//!                     | 248 image off,len       264 text_len        |
//!                     | 272 rodata off,len      288 relro off,len   |
//!                     | 304 file_len            312 reserved        |
//!                     | 320 data_image off,len                      |
//! metadata_offset     +--------------------------------------------+
//!  (16-aligned)       | ModuleMetadata, rkyv-archived               |
//! image_offset        +--------------------------------------------+
//!  (page_align)       | text: functions, trampolines, PLT stubs     | -> mapped R+X
//! +rodata_offset      +--------------------------------------------+
//!  (page_align)       | rodata: constants, jump tables              | -> mapped R
//! +relro_offset       +--------------------------------------------+
//!  (page_align)       | relro: GOT, absolute pointers               | -> RW while relocating, then R
//!                     +--------------------------------------------+ image_offset + image_len
//! data_image_offset   | data image (optional, length a multiple of  | -> mapped copy-on-write
//!  (page_align)       |   page_align): memory initialisation bytes  |    into a linear memory
//!                     +--------------------------------------------+ file_len
//! ```
//!
//! The image's parts keep their distances when mapped, so compiled code
//! reaches rodata and the GOT PC-relatively and is never written.
//!
//! The data image is the initial contents of one defined linear memory
//! from a page-aligned wasm address on (which memory, and where, is in
//! [`ModuleMetadata::memory_image`]); the loader maps it private
//! (copy-on-write) over that range instead of copying data segments. An
//! artifact without one has `data_image` `0,0`.
//!
//! A reader checks, in this order, before it looks at anything else: length
//! at least a header, magic, format version, header size, file length
//! (truncation), body hash (corruption), then that every section lies inside
//! the file, the image parts inside the image, and the data image
//! page-aligned after the image, then validates the archived metadata. Host
//! checks (target, CPU, compatibility hash) are the loader's, through
//! [`Header`]'s fields and [`CompatFacts::hash`].
//!
//! `body_hash` is BLAKE3 over the whole file with the 32 bytes of the
//! `body_hash` field taken as zero, so one flipped byte anywhere is caught.

use crate::compat::{BoundsChecks, CompatFacts, Instrumentation, WasmFeatures};
use crate::cpu::CpuFeatures;
use crate::metadata::{ArchivedModuleMetadata, ModuleMetadata};
use crate::{FormatError, FORMAT_VERSION};

/// The file's first eight bytes. The NUL keeps it from being taken as text;
/// the CR LF catches line-ending conversion.
pub const MAGIC: [u8; 8] = *b"\0wasmo\r\n";
/// Size of the fixed header.
pub const HEADER_SIZE: usize = 336;

const OFF_VERSION: usize = 8;
const OFF_HEADER_SIZE: usize = 12;
const OFF_COMPAT: usize = 16;
const OFF_BODY_HASH: usize = 48;
const OFF_SOURCE_HASH: usize = 80;
const OFF_TRIPLE: usize = 112;
const LEN_TRIPLE: usize = 48;
const OFF_CPU_NAME: usize = 160;
const LEN_CPU_NAME: usize = 32;
const OFF_CPU_FEATURES: usize = 192;
const OFF_BOUNDS: usize = 200;
const OFF_OPT: usize = 201;
const OFF_INSTRUMENTATION: usize = 202;
const OFF_PAGE_ALIGN: usize = 204;
const OFF_RESERVATION: usize = 208;
const OFF_GUARD: usize = 216;
const OFF_WASM_FEATURES: usize = 224;
const OFF_META: usize = 232;
const OFF_IMAGE: usize = 248;
const OFF_TEXT_LEN: usize = 264;
const OFF_RODATA: usize = 272;
const OFF_RELRO: usize = 288;
const OFF_FILE_LEN: usize = 304;
const OFF_DATA_IMAGE: usize = 320;

/// The decoded header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Format version the file was written in.
    pub format_version: u32,
    /// Compatibility hash the compiler computed.
    pub compat_hash: [u8; 32],
    /// BLAKE3 of the file (see the module docs).
    pub body_hash: [u8; 32],
    /// BLAKE3 of the source wasm binary.
    pub source_hash: [u8; 32],
    /// Normalised target triple.
    pub target_triple: String,
    /// CPU name the code was tuned for (`x86-64-v2`, `znver3`, ...).
    pub cpu_name: String,
    /// CPU features the code uses.
    pub cpu_features: CpuFeatures,
    /// Bounds-check strategy.
    pub bounds_checks: BoundsChecks,
    /// LLVM optimisation level (0-3).
    pub opt_level: u8,
    /// Resource-limit checks compiled in (interruption, fuel).
    pub instrumentation: Instrumentation,
    /// Alignment of the image parts.
    pub page_align: u32,
    /// Bytes reserved per 32-bit memory.
    pub memory_reservation: u64,
    /// Guard bytes after a memory's reservation.
    pub guard_size: u64,
    /// Wasm features enabled.
    pub wasm_features: WasmFeatures,
    /// File range of the archived metadata.
    pub metadata: Range64,
    /// File range of the image.
    pub image: Range64,
    /// Length of text, which starts the image.
    pub text_len: u64,
    /// Image-relative range of rodata.
    pub rodata: Range64,
    /// Image-relative range of relro.
    pub relro: Range64,
    /// Length of the whole file.
    pub file_len: u64,
    /// File range of the data image (`0,0` without one); page-aligned,
    /// after the image.
    pub data_image: Range64,
}

/// An offset and a length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Range64 {
    /// Start.
    pub offset: u64,
    /// Length.
    pub len: u64,
}

impl Range64 {
    /// The end, if it does not overflow.
    pub fn end(self) -> Option<u64> {
        self.offset.checked_add(self.len)
    }

    fn within(self, len: u64) -> bool {
        self.end().is_some_and(|e| e <= len)
    }
}

impl Header {
    /// The facts the compatibility hash covers, as this header states them.
    pub fn compat_facts(&self) -> CompatFacts {
        CompatFacts {
            target_triple: self.target_triple.clone(),
            cpu_features: self.cpu_features,
            bounds_checks: self.bounds_checks,
            memory_reservation: self.memory_reservation,
            guard_size: self.guard_size,
            wasm_features: self.wasm_features,
            page_align: self.page_align,
            instrumentation: self.instrumentation,
        }
    }

    /// Decodes a header from at least [`HEADER_SIZE`] bytes, checking magic,
    /// version and header size only.
    pub fn decode(bytes: &[u8]) -> Result<Header, FormatError> {
        if bytes.len() < HEADER_SIZE {
            return Err(FormatError::Truncated {
                expected: HEADER_SIZE as u64,
                actual: bytes.len() as u64,
            });
        }
        if bytes[..8] != MAGIC {
            return Err(FormatError::BadMagic);
        }
        let format_version = le32(bytes, OFF_VERSION);
        if format_version != FORMAT_VERSION {
            return Err(FormatError::Version {
                found: format_version,
                expected: FORMAT_VERSION,
            });
        }
        let header_size = le32(bytes, OFF_HEADER_SIZE);
        if header_size as usize != HEADER_SIZE {
            return Err(FormatError::Malformed {
                section: "header",
                offset: OFF_HEADER_SIZE as u64,
                what: format!("header size {header_size}, expected {HEADER_SIZE}"),
            });
        }
        let bounds_byte = bytes[OFF_BOUNDS];
        let bounds_checks = BoundsChecks::from_u8(bounds_byte).ok_or(FormatError::Malformed {
            section: "header",
            offset: OFF_BOUNDS as u64,
            what: format!("unknown bounds-check strategy {bounds_byte}"),
        })?;
        let instr_byte = bytes[OFF_INSTRUMENTATION];
        let instrumentation =
            Instrumentation::from_u8(instr_byte).ok_or(FormatError::Malformed {
                section: "header",
                offset: OFF_INSTRUMENTATION as u64,
                what: format!("unknown instrumentation bits {instr_byte:#x}"),
            })?;
        Ok(Header {
            format_version,
            compat_hash: arr32(bytes, OFF_COMPAT),
            body_hash: arr32(bytes, OFF_BODY_HASH),
            source_hash: arr32(bytes, OFF_SOURCE_HASH),
            target_triple: cstr(bytes, OFF_TRIPLE, LEN_TRIPLE, "target triple")?,
            cpu_name: cstr(bytes, OFF_CPU_NAME, LEN_CPU_NAME, "cpu name")?,
            cpu_features: CpuFeatures(le64(bytes, OFF_CPU_FEATURES)),
            bounds_checks,
            opt_level: bytes[OFF_OPT],
            instrumentation,
            page_align: le32(bytes, OFF_PAGE_ALIGN),
            memory_reservation: le64(bytes, OFF_RESERVATION),
            guard_size: le64(bytes, OFF_GUARD),
            wasm_features: WasmFeatures(le64(bytes, OFF_WASM_FEATURES)),
            metadata: range(bytes, OFF_META),
            image: range(bytes, OFF_IMAGE),
            text_len: le64(bytes, OFF_TEXT_LEN),
            rodata: range(bytes, OFF_RODATA),
            relro: range(bytes, OFF_RELRO),
            file_len: le64(bytes, OFF_FILE_LEN),
            data_image: range(bytes, OFF_DATA_IMAGE),
        })
    }

    fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[..8].copy_from_slice(&MAGIC);
        b[OFF_VERSION..OFF_VERSION + 4].copy_from_slice(&self.format_version.to_le_bytes());
        b[OFF_HEADER_SIZE..OFF_HEADER_SIZE + 4]
            .copy_from_slice(&(HEADER_SIZE as u32).to_le_bytes());
        b[OFF_COMPAT..OFF_COMPAT + 32].copy_from_slice(&self.compat_hash);
        b[OFF_BODY_HASH..OFF_BODY_HASH + 32].copy_from_slice(&self.body_hash);
        b[OFF_SOURCE_HASH..OFF_SOURCE_HASH + 32].copy_from_slice(&self.source_hash);
        put_cstr(&mut b, OFF_TRIPLE, LEN_TRIPLE, &self.target_triple);
        put_cstr(&mut b, OFF_CPU_NAME, LEN_CPU_NAME, &self.cpu_name);
        b[OFF_CPU_FEATURES..OFF_CPU_FEATURES + 8]
            .copy_from_slice(&self.cpu_features.0.to_le_bytes());
        b[OFF_BOUNDS] = self.bounds_checks as u8;
        b[OFF_OPT] = self.opt_level;
        b[OFF_INSTRUMENTATION] = self.instrumentation.0;
        b[OFF_PAGE_ALIGN..OFF_PAGE_ALIGN + 4].copy_from_slice(&self.page_align.to_le_bytes());
        b[OFF_RESERVATION..OFF_RESERVATION + 8]
            .copy_from_slice(&self.memory_reservation.to_le_bytes());
        b[OFF_GUARD..OFF_GUARD + 8].copy_from_slice(&self.guard_size.to_le_bytes());
        b[OFF_WASM_FEATURES..OFF_WASM_FEATURES + 8]
            .copy_from_slice(&self.wasm_features.0.to_le_bytes());
        put_range(&mut b, OFF_META, self.metadata);
        put_range(&mut b, OFF_IMAGE, self.image);
        b[OFF_TEXT_LEN..OFF_TEXT_LEN + 8].copy_from_slice(&self.text_len.to_le_bytes());
        put_range(&mut b, OFF_RODATA, self.rodata);
        put_range(&mut b, OFF_RELRO, self.relro);
        b[OFF_FILE_LEN..OFF_FILE_LEN + 8].copy_from_slice(&self.file_len.to_le_bytes());
        put_range(&mut b, OFF_DATA_IMAGE, self.data_image);
        b
    }
}

fn le32(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(a)
}

fn le64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

fn arr32(b: &[u8], off: usize) -> [u8; 32] {
    let mut a = [0u8; 32];
    a.copy_from_slice(&b[off..off + 32]);
    a
}

fn range(b: &[u8], off: usize) -> Range64 {
    Range64 {
        offset: le64(b, off),
        len: le64(b, off + 8),
    }
}

fn put_range(b: &mut [u8], off: usize, r: Range64) {
    b[off..off + 8].copy_from_slice(&r.offset.to_le_bytes());
    b[off + 8..off + 16].copy_from_slice(&r.len.to_le_bytes());
}

fn cstr(b: &[u8], off: usize, len: usize, what: &'static str) -> Result<String, FormatError> {
    let field = &b[off..off + len];
    let end = field.iter().position(|&c| c == 0).unwrap_or(len);
    std::str::from_utf8(&field[..end])
        .map(str::to_owned)
        .map_err(|_| FormatError::Malformed {
            section: "header",
            offset: off as u64,
            what: format!("{what} is not UTF-8"),
        })
}

fn put_cstr(b: &mut [u8], off: usize, len: usize, s: &str) {
    let bytes = s.as_bytes();
    let n = bytes.len().min(len);
    b[off..off + n].copy_from_slice(&bytes[..n]);
}

/// Recomputes the content hash of a whole artifact file in place, as
/// [`ArtifactBuilder`] computes it: what anyone who rewrites an artifact
/// can do, which is why the hash catches corruption and not intent. For
/// tests and the fuzzer that play that part; a file too short to hold a
/// header is left alone.
pub fn rewrite_body_hash(file: &mut [u8]) {
    if file.len() < HEADER_SIZE {
        return;
    }
    let hash = body_hash(file);
    file[OFF_BODY_HASH..OFF_BODY_HASH + 32].copy_from_slice(&hash);
}

fn body_hash(file: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(&file[..OFF_BODY_HASH]);
    h.update(&[0u8; 32]);
    h.update(&file[OFF_BODY_HASH + 32..]);
    *h.finalize().as_bytes()
}

fn align_up(n: u64, to: u64) -> u64 {
    n.div_ceil(to) * to
}

/// The code-generation facts an artifact records besides its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildFacts {
    /// What the compatibility hash covers.
    pub compat: CompatFacts,
    /// CPU name the code was tuned for.
    pub cpu_name: String,
    /// LLVM optimisation level.
    pub opt_level: u8,
    /// BLAKE3 of the source wasm.
    pub source_hash: [u8; 32],
}

/// The parts of an artifact, before they are laid out.
#[derive(Debug, Clone)]
pub struct ArtifactBuilder {
    /// Header facts.
    pub facts: BuildFacts,
    /// The metadata.
    pub metadata: ModuleMetadata,
    /// Machine code.
    pub text: Vec<u8>,
    /// Read-only data.
    pub rodata: Vec<u8>,
    /// Data the loader patches (GOT), then makes read-only.
    pub relro: Vec<u8>,
}

impl ArtifactBuilder {
    /// Lays the artifact out and computes its hashes, without a data
    /// image. Deterministic: the same parts give the same bytes.
    pub fn build(&self) -> Result<Vec<u8>, FormatError> {
        self.build_with_data_image(&[])
    }

    /// [`Self::build`] with a data image placed after the code image (see
    /// the module docs); empty for none. Its length must be a multiple of
    /// the page alignment, since the loader maps it page by page and the
    /// metadata's [`MemoryImage`](crate::metadata::MemoryImage) records the
    /// same length. Deterministic like `build`.
    ///
    /// The image is a parameter rather than a field so that builders
    /// written before data images existed keep compiling.
    pub fn build_with_data_image(&self, data_image: &[u8]) -> Result<Vec<u8>, FormatError> {
        let page = u64::from(self.facts.compat.page_align.max(16));
        let data_image_len = data_image.len() as u64;
        if !data_image_len.is_multiple_of(page) {
            return Err(FormatError::Malformed {
                section: "data image",
                offset: 0,
                what: format!(
                    "data image of {data_image_len} bytes is not a multiple of the page alignment {page}"
                ),
            });
        }
        let meta = rkyv::to_bytes::<rkyv::rancor::Error>(&self.metadata).map_err(|e| {
            FormatError::Malformed {
                section: "metadata",
                offset: 0,
                what: format!("cannot archive metadata: {e}"),
            }
        })?;
        let meta_off = align_up(HEADER_SIZE as u64, 16);
        let meta_len = meta.len() as u64;
        let image_off = align_up(meta_off + meta_len, page);
        let text_len = self.text.len() as u64;
        let rodata_off = align_up(text_len, page);
        let rodata_len = self.rodata.len() as u64;
        let relro_off = align_up(rodata_off + rodata_len, page);
        let relro_len = self.relro.len() as u64;
        let image_len = align_up(relro_off + relro_len, page);
        let data_image_off = if data_image_len == 0 {
            0
        } else {
            image_off + image_len
        };
        let file_len = image_off + image_len + data_image_len;

        let mut header = Header {
            format_version: FORMAT_VERSION,
            compat_hash: self.facts.compat.hash(),
            body_hash: [0; 32],
            source_hash: self.facts.source_hash,
            target_triple: self.facts.compat.target_triple.clone(),
            cpu_name: self.facts.cpu_name.clone(),
            cpu_features: self.facts.compat.cpu_features,
            bounds_checks: self.facts.compat.bounds_checks,
            opt_level: self.facts.opt_level,
            instrumentation: self.facts.compat.instrumentation,
            page_align: self.facts.compat.page_align,
            memory_reservation: self.facts.compat.memory_reservation,
            guard_size: self.facts.compat.guard_size,
            wasm_features: self.facts.compat.wasm_features,
            metadata: Range64 {
                offset: meta_off,
                len: meta_len,
            },
            image: Range64 {
                offset: image_off,
                len: image_len,
            },
            text_len,
            rodata: Range64 {
                offset: rodata_off,
                len: rodata_len,
            },
            relro: Range64 {
                offset: relro_off,
                len: relro_len,
            },
            file_len,
            data_image: Range64 {
                offset: data_image_off,
                len: data_image_len,
            },
        };
        if header.target_triple.len() > LEN_TRIPLE || header.cpu_name.len() > LEN_CPU_NAME {
            return Err(FormatError::Malformed {
                section: "header",
                offset: OFF_TRIPLE as u64,
                what: "target triple or cpu name too long".into(),
            });
        }
        let file_len_usize = usize::try_from(file_len).map_err(|_| FormatError::TooLarge)?;
        let mut out = vec![0u8; file_len_usize];
        out[..HEADER_SIZE].copy_from_slice(&header.encode());
        let at = |o: u64| o as usize;
        out[at(meta_off)..at(meta_off + meta_len)].copy_from_slice(&meta);
        let img = at(image_off);
        out[img..img + self.text.len()].copy_from_slice(&self.text);
        let r = img + at(rodata_off);
        out[r..r + self.rodata.len()].copy_from_slice(&self.rodata);
        let g = img + at(relro_off);
        out[g..g + self.relro.len()].copy_from_slice(&self.relro);
        if data_image_len > 0 {
            let d = at(data_image_off);
            out[d..d + data_image.len()].copy_from_slice(data_image);
        }
        header.body_hash = body_hash(&out);
        out[OFF_BODY_HASH..OFF_BODY_HASH + 32].copy_from_slice(&header.body_hash);
        Ok(out)
    }
}

/// A parsed, verified artifact borrowing the file's bytes.
pub struct ArtifactRef<'a> {
    /// The header.
    pub header: Header,
    /// The validated, archived metadata.
    pub metadata: &'a ArchivedModuleMetadata,
    /// The whole file.
    pub file: &'a [u8],
}

impl std::fmt::Debug for ArtifactRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactRef")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl<'a> ArtifactRef<'a> {
    /// Checks `file` as the module docs describe and returns a view of it.
    ///
    /// `file` must be 16-byte aligned (a mapping is page-aligned) for the
    /// metadata to be read in place.
    pub fn parse(file: &'a [u8]) -> Result<ArtifactRef<'a>, FormatError> {
        let header = Header::decode(file)?;
        let actual = file.len() as u64;
        if actual < header.file_len {
            return Err(FormatError::Truncated {
                expected: header.file_len,
                actual,
            });
        }
        if actual > header.file_len {
            return Err(FormatError::Malformed {
                section: "file",
                offset: header.file_len,
                what: format!(
                    "{} trailing bytes after the artifact",
                    actual - header.file_len
                ),
            });
        }
        if body_hash(file) != header.body_hash {
            return Err(FormatError::HashMismatch);
        }
        let page = u64::from(header.page_align);
        if !page.is_power_of_two() || page < 16 {
            return Err(malformed_header(
                OFF_PAGE_ALIGN,
                "page alignment is not a power of two",
            ));
        }
        if !header.metadata.within(actual) || header.metadata.offset % 16 != 0 {
            return Err(malformed_header(
                OFF_META,
                "metadata range outside the file",
            ));
        }
        if !header.image.within(actual) || header.image.offset % page != 0 {
            return Err(malformed_header(OFF_IMAGE, "image range outside the file"));
        }
        let img_len = header.image.len;
        let text = Range64 {
            offset: 0,
            len: header.text_len,
        };
        let ordered = text.within(img_len)
            && header.rodata.within(img_len)
            && header.relro.within(img_len)
            && header.rodata.offset % page == 0
            && header.relro.offset % page == 0
            && text.len <= header.rodata.offset
            && header
                .rodata
                .end()
                .is_some_and(|e| e <= header.relro.offset);
        if !ordered {
            return Err(malformed_header(
                OFF_TEXT_LEN,
                "image parts overlap or lie outside the image",
            ));
        }
        let d = header.data_image;
        let data_image_ok = if d.len == 0 {
            d.offset == 0
        } else {
            d.within(actual)
                && d.offset.is_multiple_of(page)
                && d.len.is_multiple_of(page)
                && header.image.end().is_some_and(|e| e <= d.offset)
                && header.metadata.end().is_some_and(|e| e <= d.offset)
        };
        if !data_image_ok {
            return Err(malformed_header(
                OFF_DATA_IMAGE,
                "data image range outside the file, unaligned or overlapping another section",
            ));
        }
        let m = header.metadata;
        let meta_bytes = &file[m.offset as usize..(m.offset + m.len) as usize];
        let metadata = rkyv::access::<ArchivedModuleMetadata, rkyv::rancor::Error>(meta_bytes)
            .map_err(|e| FormatError::Malformed {
                section: "metadata",
                offset: m.offset,
                what: format!("invalid archived metadata: {e}"),
            })?;
        Ok(ArtifactRef {
            header,
            metadata,
            file,
        })
    }

    /// The image bytes (text, rodata and relro with their padding).
    pub fn image(&self) -> &'a [u8] {
        let r = self.header.image;
        &self.file[r.offset as usize..(r.offset + r.len) as usize]
    }

    /// The data image's bytes (empty without one).
    pub fn data_image(&self) -> &'a [u8] {
        let r = self.header.data_image;
        &self.file[r.offset as usize..(r.offset + r.len) as usize]
    }
}

fn malformed_header(off: usize, what: &str) -> FormatError {
    FormatError::Malformed {
        section: "header",
        offset: off as u64,
        what: what.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{Export, ExternKind};

    fn sample() -> Vec<u8> {
        sample_builder().build().unwrap()
    }

    /// The sample with an 8 KiB data image whose pages are 0x11 and 0x22.
    fn sample_with_data_image() -> Vec<u8> {
        let mut data = vec![0x11u8; 4096];
        data.extend_from_slice(&[0x22; 4096]);
        sample_builder().build_with_data_image(&data).unwrap()
    }

    fn sample_builder() -> ArtifactBuilder {
        ArtifactBuilder {
            facts: BuildFacts {
                compat: CompatFacts {
                    target_triple: "x86_64-unknown-linux-gnu".into(),
                    cpu_features: CpuFeatures::EMPTY,
                    bounds_checks: BoundsChecks::GuardPages,
                    memory_reservation: 4 << 30,
                    guard_size: 4 << 30,
                    wasm_features: WasmFeatures(WasmFeatures::MVP),
                    page_align: 4096,
                    instrumentation: crate::compat::Instrumentation::NONE,
                },
                cpu_name: "x86-64-v2".into(),
                opt_level: 2,
                source_hash: [7; 32],
            },
            metadata: ModuleMetadata {
                exports: vec![Export {
                    name: "f".into(),
                    kind: ExternKind::Func,
                    index: 0,
                }],
                ..Default::default()
            },
            text: vec![0xc3; 10],
            rodata: vec![1, 2, 3],
            relro: vec![0; 16],
        }
    }

    fn aligned(bytes: &[u8]) -> rkyv::util::AlignedVec {
        let mut v = rkyv::util::AlignedVec::<16>::new();
        v.extend_from_slice(bytes);
        v
    }

    #[test]
    fn round_trips_and_is_deterministic() {
        let a = sample();
        assert_eq!(a, sample());
        let a = aligned(&a);
        let art = ArtifactRef::parse(&a).unwrap();
        assert_eq!(art.header.cpu_name, "x86-64-v2");
        assert_eq!(art.metadata.exports[0].name.as_str(), "f");
        assert_eq!(&art.image()[..10], &[0xc3; 10]);
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        for a in [sample(), sample_with_data_image()] {
            // Every byte of the header and a sample of the rest.
            let positions = (0..HEADER_SIZE).chain((HEADER_SIZE..a.len()).step_by(97));
            for i in positions {
                let mut b = a.clone();
                b[i] ^= 0x40;
                let b = aligned(&b);
                assert!(ArtifactRef::parse(&b).is_err(), "flip at {i} not caught");
            }
        }
    }

    #[test]
    fn data_image_follows_the_image_page_aligned() {
        let plain = aligned(&sample());
        let plain = ArtifactRef::parse(&plain).unwrap();
        assert_eq!(plain.header.data_image, Range64::default());
        assert!(plain.data_image().is_empty());

        let a = sample_with_data_image();
        assert_eq!(a, sample_with_data_image(), "not deterministic");
        let a = aligned(&a);
        let art = ArtifactRef::parse(&a).unwrap();
        let h = &art.header;
        assert_eq!(h.data_image.offset, h.image.end().unwrap());
        assert_eq!(h.data_image.offset % 4096, 0);
        assert_eq!(h.data_image.len, 8192);
        assert_eq!(h.data_image.end(), Some(h.file_len));
        assert_eq!(&art.data_image()[..4096], &[0x11; 4096]);
        assert_eq!(&art.data_image()[4096..], &[0x22; 4096]);
        assert_eq!(&art.image()[..10], &[0xc3; 10]);
        // The field survives a decode.
        assert_eq!(Header::decode(&a).unwrap().data_image, h.data_image);
    }

    #[test]
    fn data_image_must_be_whole_pages() {
        let r = sample_builder().build_with_data_image(&[1; 100]);
        assert!(matches!(r, Err(FormatError::Malformed { .. })));
    }

    /// Re-encodes `a`'s header with `change` applied and a fresh body hash,
    /// so that only the range checks can refuse it.
    fn rehashed(a: &[u8], change: impl FnOnce(&mut Header)) -> rkyv::util::AlignedVec {
        let mut h = Header::decode(a).unwrap();
        change(&mut h);
        let mut b = a.to_vec();
        b[..HEADER_SIZE].copy_from_slice(&h.encode());
        let hash = body_hash(&b);
        b[OFF_BODY_HASH..OFF_BODY_HASH + 32].copy_from_slice(&hash);
        aligned(&b)
    }

    #[test]
    fn bad_data_image_ranges_are_refused() {
        let a = sample_with_data_image();
        let good = Header::decode(&a).unwrap().data_image;
        let image = Header::decode(&a).unwrap().image;
        let cases: [(&str, Range64); 6] = [
            (
                "unaligned offset",
                Range64 {
                    offset: good.offset + 16,
                    len: good.len - 4096,
                },
            ),
            (
                "unaligned length",
                Range64 {
                    offset: good.offset,
                    len: good.len - 16,
                },
            ),
            (
                "past the end",
                Range64 {
                    offset: good.offset + 4096,
                    len: good.len,
                },
            ),
            (
                "overflowing",
                Range64 {
                    offset: u64::MAX - 4095,
                    len: 8192,
                },
            ),
            (
                "overlapping the image",
                Range64 {
                    offset: image.offset,
                    len: good.len,
                },
            ),
            (
                "empty with an offset",
                Range64 {
                    offset: good.offset,
                    len: 0,
                },
            ),
        ];
        for (what, r) in cases {
            let b = rehashed(&a, |h| h.data_image = r);
            match ArtifactRef::parse(&b) {
                Err(FormatError::Malformed {
                    section: "header",
                    offset,
                    ..
                }) => {
                    assert_eq!(offset, OFF_DATA_IMAGE as u64, "{what}");
                }
                other => panic!("{what}: {other:?}"),
            }
        }
        // The unchanged header, rehashed, still parses.
        assert!(ArtifactRef::parse(&rehashed(&a, |_| {})).is_ok());
    }

    #[test]
    fn truncation_and_version_are_named() {
        let a = sample();
        let t = aligned(&a[..a.len() - 1]);
        assert!(matches!(
            ArtifactRef::parse(&t),
            Err(FormatError::Truncated { .. })
        ));
        let t = aligned(&a[..100]);
        assert!(matches!(
            ArtifactRef::parse(&t),
            Err(FormatError::Truncated { .. })
        ));
        let mut v = a.clone();
        v[OFF_VERSION] = v[OFF_VERSION].wrapping_add(1);
        let v = aligned(&v);
        assert!(matches!(
            ArtifactRef::parse(&v),
            Err(FormatError::Version { .. })
        ));
    }
}
