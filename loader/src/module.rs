//! Loading an artifact: read and verify the file, check it against this
//! host and loader, check every offset in its metadata, then map the image.
//!
//! Rule: every check runs before any byte is mapped executable; a malformed
//! or foreign artifact is an error, never a panic and never a crash later.
//! A [`Module`] is immutable after loading and shared by its instances.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use wasmo_artifact_format::metadata::{
    ExternKind, ImportKind, ModuleMetadata, RelocKind, RelocTarget,
};
use wasmo_artifact_format::{
    ArtifactRef, CpuFeatures, FuncType, Header, Helper, Libcall, TrapCode,
};

use crate::error::{FrameInfo, LoadError};
use crate::image::{map_file, snapshot, DataImage, Image};
use crate::types::{ExportType, ExternType, ImportType};
use crate::{helpers, traphandler, typereg, verify};

/// A loaded, verified artifact. Cheap to clone; shared by its instances.
#[derive(Clone)]
pub struct Module {
    pub(crate) inner: Arc<ModuleInner>,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.inner.meta.names.module)
            .finish_non_exhaustive()
    }
}

/// The shared state of a module.
pub(crate) struct ModuleInner {
    /// The sealed copy of the artifact everything was checked in and
    /// mapped from ([`Module::serialize`] reads it back).
    snapshot: File,
    pub(crate) header: Header,
    pub(crate) meta: ModuleMetadata,
    image: Option<Image>,
    /// The data image and the open artifact it is mapped from, if the
    /// artifact has one.
    pub(crate) data_image: Option<DataImage>,
    /// Address of the first byte of text (0 without an image).
    pub(crate) text: usize,
    /// `(text start, text end, function index)` of each defined function,
    /// sorted by start.
    func_ranges: Vec<(u32, u32, u32)>,
    /// The process-wide id of each of the module's types.
    pub(crate) type_ids: Vec<u32>,
    pub(crate) num_imported_funcs: u32,
    /// The image's unwind tables while they are registered with the
    /// system unwinder (dropped before the image is unmapped: fields drop
    /// in declaration order, after `drop` below).
    eh_frame: Option<crate::unwind::EhFrameRegistration>,
}

impl Drop for ModuleInner {
    fn drop(&mut self) {
        self.eh_frame = None;
        if self.image.is_some() {
            traphandler::unregister_code(self.text);
        }
    }
}

/// The path I/O errors of an artifact given as bytes name.
const MEMORY_PATH: &str = "<memory>";

/// Refuses an artifact shorter than its fixed header before mapping it.
fn check_len(len: u64) -> Result<(), LoadError> {
    if len < wasmo_artifact_format::HEADER_SIZE as u64 {
        return Err(wasmo_artifact_format::FormatError::Truncated {
            expected: wasmo_artifact_format::HEADER_SIZE as u64,
            actual: len,
        }
        .into());
    }
    Ok(())
}

fn invalid(section: &'static str, what: impl Into<String>) -> LoadError {
    LoadError::Invalid {
        section,
        what: what.into(),
    }
}

/// This host's target triple, as artifacts name it.
pub fn host_triple() -> String {
    let arch = std::env::consts::ARCH;
    match std::env::consts::OS {
        "linux" => format!("{arch}-unknown-linux-gnu"),
        "macos" => format!("{arch}-apple-darwin"),
        os => format!("{arch}-unknown-{os}"),
    }
}

/// Architecture and OS of a triple, normalised (`amd64` is `x86_64`, any
/// `linux*` environment is `linux`).
fn arch_os(triple: &str) -> (String, String) {
    let mut parts = triple.split('-');
    let arch = match parts.next().unwrap_or("") {
        "amd64" | "x86-64" => "x86_64".to_owned(),
        "arm64" => "aarch64".to_owned(),
        a => a.to_owned(),
    };
    let rest: Vec<&str> = parts.collect();
    let os = if rest.iter().any(|p| p.starts_with("linux")) {
        "linux"
    } else if rest
        .iter()
        .any(|p| p.starts_with("darwin") || p.starts_with("macos"))
    {
        "macos"
    } else {
        rest.get(1).copied().unwrap_or("")
    };
    (arch, os.to_owned())
}

impl Module {
    /// Loads the artifact at `path`: checks it completely, then maps its
    /// code.
    pub fn from_file(path: &Path) -> Result<Module, LoadError> {
        let io = |source| LoadError::Io {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        check_len(len)?;
        // Everything below reads the private snapshot, never the file: what
        // is hashed is what is mapped, and rewriting the file in place
        // cannot reach a loaded module.
        let file = snapshot(&file, path, len).map_err(io)?;
        Self::from_snapshot(file).map_err(|e| e.with_path(path))
    }

    /// Loads an artifact from its bytes (what [`Module::serialize`] gave,
    /// or `wasmoc build` wrote), with every check [`Module::from_file`]
    /// makes. The bytes are copied into a sealed in-memory file first, so
    /// the module keeps no borrow of them.
    pub fn deserialize(bytes: &[u8]) -> Result<Module, LoadError> {
        check_len(bytes.len() as u64)?;
        let file = crate::image::snapshot_bytes(b"<bytes>", bytes)
            .map_err(|source| LoadError::io(MEMORY_PATH, source))?;
        Self::from_snapshot(file)
    }

    /// The artifact's bytes, exactly as loaded (so
    /// `Module::deserialize(&m.serialize()?)` loads the same module).
    pub fn serialize(&self) -> std::io::Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let f = &self.inner.snapshot;
        let len = usize::try_from(f.metadata()?.len()).map_err(std::io::Error::other)?;
        let mut out = vec![0u8; len];
        f.read_exact_at(&mut out, 0)?;
        Ok(out)
    }

    /// Checks and maps a snapshot (errors name [`MEMORY_PATH`]).
    fn from_snapshot(file: File) -> Result<Module, LoadError> {
        let io = |source| LoadError::io(MEMORY_PATH, source);
        let map = map_file(&file).map_err(io)?;
        let (header, meta) = {
            let art = ArtifactRef::parse(&map)?;
            check_host(&art.header)?;
            let meta: ModuleMetadata =
                rkyv::deserialize::<ModuleMetadata, rkyv::rancor::Error>(art.metadata)
                    .map_err(|e| invalid("metadata", format!("cannot read metadata: {e}")))?;
            check_metadata(&art.header, &meta)?;
            verify::check_image(&art.header, &meta, art.image())?;
            (art.header, meta)
        };
        drop(map);
        Self::finish(file, header, meta).map_err(io)
    }

    fn finish(file: File, header: Header, mut meta: ModuleMetadata) -> std::io::Result<Module> {
        let type_ids = typereg::canonicalize(&mut meta);
        let image = if header.image.len > 0 {
            Some(Image::map(&file, &header, |base| {
                relocation_values(&meta, base)
            })?)
        } else {
            None
        };
        // Checked by `check_metadata`: present exactly when the header's
        // data image is, with the same length, inside a defined memory.
        let data_image = match meta.memory_image {
            Some(mi) => Some(DataImage {
                file: file.try_clone()?,
                file_offset: header.data_image.offset,
                memory: mi.memory.0,
                wasm_offset: mi.wasm_offset,
                len: mi.len,
            }),
            None => None,
        };
        let text = image.as_ref().map_or(0, Image::base);
        let num_imported_funcs = meta.vm_counts().imported_funcs;
        let mut func_ranges: Vec<(u32, u32, u32)> = meta
            .defined_funcs
            .iter()
            .enumerate()
            .map(|(i, f)| {
                (
                    f.offset,
                    f.offset.saturating_add(f.len),
                    num_imported_funcs + i as u32,
                )
            })
            .collect();
        func_ranges.sort_unstable();
        // Checked above: same lengths, strictly ascending, valid codes.
        let trap_offsets: Box<[u32]> = meta.trap_sites.offsets.iter().copied().collect();
        let trap_codes: Box<[u8]> = meta.trap_sites.codes.iter().copied().collect();
        let text_len = header.text_len as usize;
        let eh_frame = match &image {
            Some(image) if meta.eh_frame.len != 0 => Some(
                crate::unwind::EhFrameRegistration::new(image, meta.eh_frame).ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "artifact's unwind tables are not zero-terminated",
                    )
                })?,
            ),
            _ => None,
        };
        let inner = Arc::new(ModuleInner {
            snapshot: file,
            eh_frame,
            header,
            meta,
            image,
            data_image,
            text,
            func_ranges,
            type_ids,
            num_imported_funcs,
        });
        if inner.image.is_some() {
            crate::perfmap::record(text, &inner.func_ranges, |index| {
                let names = &inner.meta.names;
                let func = names
                    .funcs
                    .binary_search_by_key(&index, |(f, _)| f.0)
                    .ok()
                    .map_or_else(|| format!("func[{index}]"), |i| names.funcs[i].1.clone());
                match names.module.as_deref() {
                    Some(m) => format!("wasm[{m}]::{func}"),
                    None => format!("wasm::{func}"),
                }
            });
            let func_starts = inner.func_ranges.iter().map(|r| r.0).collect();
            traphandler::register_code(
                text,
                text_len,
                traphandler::CodeTables {
                    trap_offsets,
                    trap_codes,
                    func_starts,
                },
                Arc::downgrade(&inner),
            );
        }
        Ok(Module { inner })
    }

    /// The artifact's header.
    pub fn header(&self) -> &Header {
        &self.inner.header
    }

    /// The module's name from its name section.
    pub fn name(&self) -> Option<&str> {
        self.inner.meta.names.module.as_deref()
    }

    /// What the module imports, in import-section order.
    pub fn imports(&self) -> Vec<ImportType> {
        let m = &self.inner.meta;
        m.imports
            .iter()
            .map(|i| ImportType {
                module: i.module.clone(),
                name: i.name.clone(),
                ty: self.inner.import_type(&i.kind),
            })
            .collect()
    }

    /// What the module exports, in export-section order.
    pub fn exports(&self) -> Vec<ExportType> {
        self.inner
            .meta
            .exports
            .iter()
            .filter_map(|e| {
                Some(ExportType {
                    name: e.name.clone(),
                    ty: self.inner.export_type(e.kind, e.index)?,
                })
            })
            .collect()
    }
}

impl ModuleInner {
    pub(crate) fn func_type(&self, func: u32) -> Option<&FuncType> {
        let t = self.meta.funcs.get(func as usize)?;
        self.meta.types.get(t.index())
    }

    /// The canonical id of function `func`'s type (0, which no type has,
    /// for an index the module lacks).
    pub(crate) fn func_type_id(&self, func: u32) -> u32 {
        self.meta
            .funcs
            .get(func as usize)
            .and_then(|t| self.type_ids.get(t.index()))
            .copied()
            .unwrap_or(0)
    }

    /// The canonical id of type `t` of the type section (0 if it lacks it).
    pub(crate) fn type_id(&self, t: wasmo_artifact_format::TypeIndex) -> u32 {
        self.type_ids.get(t.index()).copied().unwrap_or(0)
    }

    pub(crate) fn import_type(&self, kind: &ImportKind) -> ExternType {
        let ty = |t: &wasmo_artifact_format::TypeIndex| {
            self.meta.types.get(t.index()).cloned().unwrap_or_default()
        };
        match kind {
            ImportKind::Func(t) => ExternType::Func(ty(t)),
            ImportKind::Table(t) => ExternType::Table(*t),
            ImportKind::Memory(t) => ExternType::Memory(*t),
            ImportKind::Global(t) => ExternType::Global(*t),
            ImportKind::Tag(t) => ExternType::Tag(ty(t)),
        }
    }

    /// The `n`-th import of a kind, with its import.
    fn nth_import(&self, want: ExternKind, n: u32) -> Option<&ImportKind> {
        self.meta
            .imports
            .iter()
            .map(|i| &i.kind)
            .filter(|k| kind_of(k) == want)
            .nth(n as usize)
    }

    pub(crate) fn count_imports(&self, want: ExternKind) -> u32 {
        self.meta
            .imports
            .iter()
            .filter(|i| kind_of(&i.kind) == want)
            .count() as u32
    }

    fn export_type(&self, kind: ExternKind, index: u32) -> Option<ExternType> {
        let imported = self.count_imports(kind);
        if index < imported {
            return Some(self.import_type(self.nth_import(kind, index)?));
        }
        let d = (index - imported) as usize;
        Some(match kind {
            ExternKind::Func => ExternType::Func(self.func_type(index)?.clone()),
            ExternKind::Table => ExternType::Table(*self.meta.tables.get(d)?),
            ExternKind::Memory => ExternType::Memory(*self.meta.memories.get(d)?),
            ExternKind::Global => ExternType::Global(self.meta.globals.get(d)?.ty),
            ExternKind::Tag => {
                let t = self.meta.tags.get(d)?;
                ExternType::Tag(self.meta.types.get(t.index())?.clone())
            }
        })
    }

    /// The frame at text offset `off`, if it lies in a defined function.
    pub(crate) fn frame_info(&self, off: usize) -> Option<FrameInfo> {
        let off = u32::try_from(off).ok()?;
        let i = self
            .func_ranges
            .partition_point(|r| r.0 <= off)
            .checked_sub(1)?;
        let (_, end, func_index) = self.func_ranges[i];
        if off >= end {
            return None;
        }
        let names = &self.meta.names;
        let func_name = names
            .funcs
            .binary_search_by_key(&func_index, |(f, _)| f.0)
            .ok()
            .map(|i| names.funcs[i].1.clone());
        Some(FrameInfo {
            func_index,
            func_name,
            module_name: names.module.clone(),
        })
    }
}

pub(crate) fn kind_of(k: &ImportKind) -> ExternKind {
    match k {
        ImportKind::Func(_) => ExternKind::Func,
        ImportKind::Table(_) => ExternKind::Table,
        ImportKind::Memory(_) => ExternKind::Memory,
        ImportKind::Global(_) => ExternKind::Global,
        ImportKind::Tag(_) => ExternKind::Tag,
    }
}

/// The values the relocations write, for an image mapped at `base`. Only
/// called after [`check_metadata`] accepted every relocation.
fn relocation_values(meta: &ModuleMetadata, base: usize) -> Vec<(u64, u64)> {
    meta.relocations
        .iter()
        .map(|r| {
            let RelocKind::Abs64 { addend } = r.kind;
            let target = match r.target {
                RelocTarget::Helper(n) => Helper::from_u32(n).map_or(0, helpers::helper_address),
                RelocTarget::Libcall(n) => Libcall::from_u32(n).map_or(0, helpers::libcall_address),
                RelocTarget::Image(off) => base + off as usize,
            };
            (r.offset, (target as u64).wrapping_add(addend as u64))
        })
        .collect()
}

/// Checks the header against this host and loader.
fn check_host(h: &Header) -> Result<(), LoadError> {
    let host = host_triple();
    if arch_os(&h.target_triple) != arch_os(&host) {
        return Err(LoadError::Target {
            artifact: h.target_triple.clone(),
            host,
        });
    }
    let missing = h.cpu_features.missing_from(CpuFeatures::host());
    if missing != CpuFeatures::EMPTY {
        return Err(LoadError::CpuFeatures {
            missing: missing.to_string(),
            cpu: h.cpu_name.clone(),
        });
    }
    if h.compat_facts().hash() != h.compat_hash {
        return Err(LoadError::Compat);
    }
    verify::check_strategy(h)?;
    let page = crate::vm::host_page_size() as u64;
    if u64::from(h.page_align) % page != 0 {
        return Err(invalid(
            "header",
            format!(
                "image alignment {} is not a multiple of this host's page size {page}",
                h.page_align
            ),
        ));
    }
    Ok(())
}

/// Checks every index and offset in the metadata against the module and
/// the image, so that later code can index without checking.
fn check_metadata(h: &Header, m: &ModuleMetadata) -> Result<(), LoadError> {
    // Keeps every VMContext offset far from u32 overflow.
    const MAX_ENTITIES: usize = 10_000_000;
    let sizes = [
        m.types.len(),
        m.imports.len(),
        m.funcs.len(),
        m.tables.len(),
        m.memories.len(),
        m.globals.len(),
    ];
    if sizes.iter().any(|&n| n > MAX_ENTITIES) {
        return Err(invalid(
            "metadata",
            format!("more than {MAX_ENTITIES} entities of one kind"),
        ));
    }
    verify::check_counts(m)?;
    let text_len = h.text_len;
    let in_text = |off: u32| u64::from(off) < text_len;
    let ntypes = m.types.len();
    let imported_funcs = m.vm_counts().imported_funcs as usize;
    let count = |k: ExternKind| m.imports.iter().filter(|i| kind_of(&i.kind) == k).count();
    let nfuncs = m.funcs.len();
    let ntables = count(ExternKind::Table) + m.tables.len();
    let nmems = count(ExternKind::Memory) + m.memories.len();
    let imported_globals = count(ExternKind::Global);
    let nglobals = imported_globals + m.globals.len();

    if nfuncs != imported_funcs + m.defined_funcs.len() {
        return Err(invalid(
            "metadata",
            format!(
                "{nfuncs} functions, but {imported_funcs} imported and {} defined",
                m.defined_funcs.len()
            ),
        ));
    }
    if let Some(t) = m.funcs.iter().find(|t| t.index() >= ntypes) {
        return Err(invalid(
            "functions",
            format!("type index {} out of range ({ntypes} types)", t.0),
        ));
    }
    let eh = m.eh_frame;
    let rodata_end = h.rodata.offset.saturating_add(h.rodata.len);
    if eh.len != 0
        && (eh.len < 4
            || eh.offset < h.rodata.offset
            || eh
                .offset
                .checked_add(eh.len)
                .is_none_or(|end| end > rodata_end))
    {
        return Err(invalid(
            "metadata",
            format!(
                "unwind tables {}+{} outside rodata {}+{}",
                eh.offset, eh.len, h.rodata.offset, h.rodata.len
            ),
        ));
    }
    if let Some(t) = m.tags.iter().find(|t| t.index() >= ntypes) {
        return Err(invalid(
            "tags",
            format!("type index {} out of range ({ntypes} types)", t.0),
        ));
    }
    for imp in &m.imports {
        if let ImportKind::Func(t) | ImportKind::Tag(t) = imp.kind {
            if t.index() >= ntypes {
                return Err(invalid(
                    "imports",
                    format!("type index {} out of range", t.0),
                ));
            }
        }
    }
    for (i, f) in m.defined_funcs.iter().enumerate() {
        let end = u64::from(f.offset) + u64::from(f.len);
        if end > text_len || f.array_trampoline.is_some_and(|t| !in_text(t.offset)) {
            return Err(invalid("functions", format!(
                "defined function {i}: code {}+{} or trampoline {:?} outside the text ({text_len} bytes)",
                f.offset, f.len, f.array_trampoline
            )));
        }
    }
    if m.import_trampolines.len() != imported_funcs {
        return Err(invalid(
            "imports",
            format!(
                "{} import trampolines for {imported_funcs} imported functions",
                m.import_trampolines.len()
            ),
        ));
    }
    if let Some(t) = m.import_trampolines.iter().find(|t| !in_text(t.offset)) {
        return Err(invalid(
            "imports",
            format!("import trampoline at {} outside the text", t.offset),
        ));
    }
    for e in &m.exports {
        let n = match e.kind {
            ExternKind::Func => nfuncs,
            ExternKind::Table => ntables,
            ExternKind::Memory => nmems,
            ExternKind::Global => nglobals,
            ExternKind::Tag => count(ExternKind::Tag) + m.tags.len(),
        };
        if e.index as usize >= n {
            return Err(invalid(
                "exports",
                format!("export `{}` index {} out of range", e.name, e.index),
            ));
        }
    }
    if let Some(s) = m.start {
        let ok = m
            .funcs
            .get(s.index())
            .and_then(|t| m.types.get(t.index()))
            .is_some_and(|t| t.params.is_empty() && t.results.is_empty());
        if !ok {
            return Err(invalid(
                "start",
                format!("start function {} missing or not of type []->[]", s.0),
            ));
        }
    }
    verify::check_ref_types(m)?;
    verify::check_const_exprs(m)?;
    check_memory_image(h, m)?;
    let traps = &m.trap_sites;
    if traps.offsets.len() != traps.codes.len() {
        return Err(invalid(
            "trap sites",
            format!(
                "{} offsets but {} codes",
                traps.offsets.len(),
                traps.codes.len()
            ),
        ));
    }
    let mut prev: Option<u32> = None;
    for (o, &code) in traps.offsets.iter().zip(traps.codes.iter()) {
        let offset = *o;
        let sorted = prev.is_none_or(|p| p < offset);
        // A site is a return address: just past a call, so it may equal
        // the end of the text but never 0.
        let placed = offset > 0 && u64::from(offset) <= h.text_len;
        if !sorted || !placed || TrapCode::from_u8(code).is_none() {
            return Err(invalid(
                "trap sites",
                format!("trap site at text offset {offset} (code {code}) unsorted, outside the text or unknown"),
            ));
        }
        prev = Some(offset);
    }
    if h.image.len > 0 && h.text_len == 0 && !m.defined_funcs.is_empty() {
        return Err(invalid("image", "functions without text"));
    }
    if h.image.len == 0 && (!m.defined_funcs.is_empty() || !m.relocations.is_empty()) {
        return Err(invalid(
            "image",
            "functions or relocations without an image",
        ));
    }
    Ok(())
}

/// Checks the data image against the memory it initialises: a defined
/// memory, page-aligned, inside its initial size and its reservation, so
/// that mapping it can only ever replace pages of that memory.
fn check_memory_image(h: &Header, m: &ModuleMetadata) -> Result<(), LoadError> {
    let Some(mi) = m.memory_image else {
        if h.data_image.len != 0 {
            return Err(invalid(
                "data image",
                "a data image without a memory to initialise",
            ));
        }
        return Ok(());
    };
    let bad = |what: String| Err(invalid("data image", what));
    if mi.len == 0 || mi.len != h.data_image.len {
        return bad(format!(
            "metadata says {} bytes, the header {}",
            mi.len, h.data_image.len
        ));
    }
    let imported = m.vm_counts().imported_memories as usize;
    let Some(ty) = (mi.memory.index())
        .checked_sub(imported)
        .and_then(|d| m.memories.get(d))
    else {
        return bad(format!(
            "memory {} is imported or does not exist",
            mi.memory.0
        ));
    };
    let page = u64::from(h.page_align);
    let initial = ty
        .limits
        .min
        .checked_mul(wasmo_artifact_format::WASM_PAGE_SIZE);
    let reservation = if h.memory_reservation == 0 {
        crate::externs::DEFAULT_MEMORY_RESERVATION
    } else {
        h.memory_reservation
    };
    let end = mi.wasm_offset.checked_add(mi.len);
    let inside = end.is_some_and(|e| initial.is_some_and(|i| e <= i) && e <= reservation);
    if !mi.wasm_offset.is_multiple_of(page) || !mi.len.is_multiple_of(page) || !inside {
        return bad(format!(
            "{} bytes at wasm address {} unaligned or outside memory {}'s initial {} pages",
            mi.len, mi.wasm_offset, mi.memory.0, ty.limits.min
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triples_normalise() {
        assert_eq!(
            arch_os("x86_64-unknown-linux-gnu"),
            arch_os("x86_64-pc-linux-musl")
        );
        assert_eq!(arch_os("amd64-unknown-linux-gnu").0, "x86_64");
        assert_ne!(
            arch_os("aarch64-unknown-linux-gnu"),
            arch_os("x86_64-unknown-linux-gnu")
        );
        assert_eq!(arch_os(&host_triple()).0, std::env::consts::ARCH);
    }
}
