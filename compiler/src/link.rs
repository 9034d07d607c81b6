//! Linking the ELF objects LLVM emits into one position-independent image:
//! text, rodata and relro, laid out exactly as `ArtifactBuilder` places
//! them (each part starts on a `page_align` boundary of the image).
//!
//! ```text
//! text   | .text* of object 0 | .text* of object 1 | ... | PLT: jmp *GOT[i](%rip) x N
//! rodata | .rodata* (constants, jump tables, LSDAs) ... | .eh_frame of every object, 0u32
//! relro  | writable or absolutely-relocated data ... | GOT: 8 bytes x M
//! ```
//!
//! The unwind tables (`.eh_frame`) of all objects lie back to back at the
//! end of rodata, ending in a zero length word, as `__register_frame`
//! wants them; LLVM's `DW.ref.<personality>` words (weak, one per object)
//! land in relro with an `Abs64` relocation naming the personality helper.
//!
//! Every PC-relative relocation is resolved here; what remains for the
//! loader are Abs64 relocations into relro (GOT entries naming a helper or
//! libcall, absolute pointers into the image).
//!
//! Trap sites: compiled code raises trap code `C` by calling the alias
//! `wasmo_trap_<C>`. Every alias resolves to the single trap helper's PLT
//! stub, and each call to one becomes a trap-table entry (return address,
//! `C`); see `TrapTable` in artifact-format for the encoding. A reference
//! to an alias that is not a direct `call` is an internal error: the table
//! is what the loader's trap helper trusts for the code. Rule: the output depends
//! only on the objects' bytes and their order (sorted sets, no hash-map
//! iteration), and anything we do not understand is an internal error,
//! never silently skipped.

use crate::CompileError;
use object::elf;
use object::read::{
    File, Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SectionIndex,
    SymbolIndex,
};
use object::{SectionFlags, SymbolKind};
use std::collections::{BTreeMap, BTreeSet};
use wasmo_artifact_format::metadata::{RelocKind, RelocTarget, Relocation, TrapTable};
use wasmo_artifact_format::{code, GotSymbol, TrapCode};

/// Image-part alignment; must equal the artifact's `page_align`.
pub(crate) const PAGE_ALIGN: u64 = 4096;

/// `jmp *disp32(%rip)` plus padding (see artifact-format's `code`).
const PLT_STUB_SIZE: u64 = code::PLT_STUB_SIZE as u64;
const GOT_ENTRY_SIZE: u64 = code::GOT_ENTRY_SIZE as u64;
const TEXT_PAD: u8 = code::TEXT_PAD;

/// The linked image and where its symbols ended up.
#[derive(Debug, Default)]
pub(crate) struct LinkedImage {
    /// Machine code, PLT stubs last.
    pub(crate) text: Vec<u8>,
    /// Read-only data.
    pub(crate) rodata: Vec<u8>,
    /// Data the loader relocates, GOT last.
    pub(crate) relro: Vec<u8>,
    /// Load-time relocations, sorted by offset.
    pub(crate) relocations: Vec<Relocation>,
    /// Every defined global symbol: name -> (text offset, size).
    pub(crate) symbols: BTreeMap<String, (u64, u64)>,
    /// Every function symbol in text, global or local, as sorted,
    /// disjoint (text offset, size) runs; every other byte of text before
    /// the PLT is `int3`.
    pub(crate) code: Vec<(u64, u64)>,
    /// Every call of a trap alias: return-address text offset -> code.
    pub(crate) trap_sites: TrapTable,
    /// Text offset of the PLT, which runs to the end of text.
    pub(crate) plt_offset: u64,
    /// Image offset and length of the unwind tables (every object's
    /// `.eh_frame`, back to back, then a zero terminator); length 0 when
    /// there are none.
    pub(crate) eh_frame: (u64, u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Text,
    Rodata,
    Relro,
}

/// Where a symbol's address comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Resolved {
    /// In the image: part and offset within it.
    Image(Part, u64),
    /// A helper or libcall, reached through the GOT (and the PLT for calls).
    External(GotSymbol),
}

/// What a GOT entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum GotKey {
    External(GotSymbol),
    Image(Part, u64),
}

struct Linker<'o> {
    objects: Vec<File<'o>>,
    /// (object, section) -> (part, offset in part).
    placement: BTreeMap<(usize, usize), (Part, u64)>,
    text: Vec<u8>,
    rodata: Vec<u8>,
    relro: Vec<u8>,
    /// Global defined symbols of all objects by name.
    globals: BTreeMap<String, (Part, u64, u64)>,
    /// Rodata offset and length of the unwind tables.
    eh_frame: (u64, u64),
    /// The function symbols' runs in text ([`Linker::pad_around_code`]).
    code: Vec<(u64, u64)>,
}

fn internal(msg: impl Into<String>) -> CompileError {
    CompileError::Internal(msg.into())
}

fn obj_err(e: object::Error) -> CompileError {
    internal(format!("reading LLVM's object file: {e}"))
}

fn align_up(n: u64, to: u64) -> u64 {
    n.div_ceil(to.max(1)) * to.max(1)
}

fn sh_flags(flags: SectionFlags) -> u64 {
    match flags {
        SectionFlags::Elf { sh_flags } => sh_flags,
        _ => 0,
    }
}

/// Appends a section of `size` bytes whose file data is `data`: cut to
/// `size`, or zero-filled past the data (NOBITS sections have none).
fn append_sized(buf: &mut Vec<u8>, data: &[u8], size: usize) {
    let end = buf.len() + size;
    buf.extend_from_slice(data.get(..size).unwrap_or(data));
    buf.resize(end, 0);
}

fn is_ignored_section(name: &str) -> bool {
    name.starts_with(".debug") || name.starts_with(".note") || name == ".comment"
}

/// Links `objects` (in this order) into one image.
pub(crate) fn link(objects: &[Vec<u8>]) -> Result<LinkedImage, CompileError> {
    let mut files = Vec::with_capacity(objects.len());
    for bytes in objects {
        let file = File::parse(bytes.as_slice()).map_err(obj_err)?;
        if file.architecture() != object::Architecture::X86_64 {
            return Err(CompileError::Target(format!(
                "linking {:?} objects is not supported yet",
                file.architecture()
            )));
        }
        files.push(file);
    }
    let mut linker = Linker {
        objects: files,
        placement: BTreeMap::new(),
        text: Vec::new(),
        rodata: Vec::new(),
        relro: Vec::new(),
        globals: BTreeMap::new(),
        eh_frame: (0, 0),
        code: Vec::new(),
    };
    linker.place_sections()?;
    linker.pad_around_code()?;
    linker.collect_globals()?;
    linker.finish()
}

impl<'o> Linker<'o> {
    fn part_mut(&mut self, part: Part) -> &mut Vec<u8> {
        match part {
            Part::Text => &mut self.text,
            Part::Rodata => &mut self.rodata,
            Part::Relro => &mut self.relro,
        }
    }

    /// Appends every allocated section to its part.
    fn place_sections(&mut self) -> Result<(), CompileError> {
        let mut placed = Vec::new();
        for (oi, obj) in self.objects.iter().enumerate() {
            for section in obj.sections() {
                let flags = sh_flags(section.flags());
                let name = section.name().map_err(obj_err)?;
                if flags & u64::from(elf::SHF_ALLOC) == 0 || is_ignored_section(name) {
                    continue;
                }
                let has_abs = section.relocations().any(|(_, r)| {
                    matches!(r.flags(), RelocationFlags::Elf { r_type } if r_type == elf::R_X86_64_64)
                });
                let part = if flags & u64::from(elf::SHF_EXECINSTR) != 0 {
                    Part::Text
                } else if flags & u64::from(elf::SHF_WRITE) != 0 || has_abs {
                    Part::Relro
                } else {
                    Part::Rodata
                };
                // Borrowed from the object, copied once, into its part.
                // NOBITS sections (.bss) have a size but no data.
                let data = section.data().map_err(obj_err)?;
                let size =
                    usize::try_from(section.size()).map_err(|_| internal("section too large"))?;
                placed.push((oi, section.index(), part, section.align(), data, size));
            }
        }
        // The unwind tables go last in rodata, back to back (a record
        // holds PC-relative pointers only, so it may move as a whole),
        // then the zero length word that ends them for the unwinder.
        let (eh_frames, placed): (Vec<_>, Vec<_>) = placed
            .into_iter()
            .partition(|(oi, index, ..)| self.is_eh_frame(*oi, *index));
        for (oi, index, part, align, data, size) in placed {
            let pad = if part == Part::Text { TEXT_PAD } else { 0 };
            let buf = self.part_mut(part);
            let at = align_up(buf.len() as u64, align);
            buf.resize(at as usize, pad);
            append_sized(buf, data, size);
            self.placement.insert((oi, index.0), (part, at));
        }
        if !eh_frames.is_empty() {
            let start = align_up(self.rodata.len() as u64, 8);
            self.rodata.resize(start as usize, 0);
            for (oi, index, _, _, data, size) in eh_frames {
                if size % 4 != 0 {
                    return Err(internal(format!(
                        ".eh_frame of object {oi} is not a whole number of records"
                    )));
                }
                let at = self.rodata.len() as u64;
                append_sized(&mut self.rodata, data, size);
                self.placement.insert((oi, index.0), (Part::Rodata, at));
            }
            self.rodata.extend_from_slice(&[0; 4]);
            self.eh_frame = (start, self.rodata.len() as u64 - start);
        }
        Ok(())
    }

    /// Writes `int3` over every byte of text that no function symbol
    /// covers (LLVM pads between the functions of an object with NOPs) and
    /// records the function symbols' runs, sorted and disjoint, so that
    /// the function map the loader checks tiles the text
    /// (artifact-format's `code::check_tiling`). Local symbols count: the
    /// private trap stubs are code too. A function symbol of size 0, or
    /// two that overlap, is an internal error.
    fn pad_around_code(&mut self) -> Result<(), CompileError> {
        let mut runs = BTreeSet::new();
        for (oi, obj) in self.objects.iter().enumerate() {
            for sym in obj.symbols() {
                if sym.is_undefined() || sym.kind() != SymbolKind::Text {
                    continue;
                }
                let name = sym.name().map_err(obj_err)?;
                let placed = sym
                    .section_index()
                    .and_then(|section| self.placement.get(&(oi, section.0)));
                let Some(&(Part::Text, base)) = placed else {
                    return Err(internal(format!(
                        "function symbol `{name}` lies outside the text"
                    )));
                };
                if sym.size() == 0 {
                    return Err(internal(format!("function symbol `{name}` has size 0")));
                }
                runs.insert((base + sym.address(), sym.size()));
            }
        }
        let mut covered = 0u64;
        for &(off, size) in &runs {
            if off < covered {
                return Err(internal(format!(
                    "function symbols overlap at text offset {off:#x}"
                )));
            }
            let gap = self
                .text
                .get_mut(covered as usize..off as usize)
                .ok_or_else(|| internal("function symbol beyond the text"))?;
            gap.fill(TEXT_PAD);
            covered = off + size;
        }
        let tail = self
            .text
            .get_mut(covered as usize..)
            .ok_or_else(|| internal("function symbol beyond the text"))?;
        tail.fill(TEXT_PAD);
        self.code = runs.into_iter().collect();
        Ok(())
    }

    fn is_eh_frame(&self, oi: usize, index: SectionIndex) -> bool {
        self.objects[oi]
            .section_by_index(index)
            .and_then(|s| s.name())
            .is_ok_and(|n| n == ".eh_frame")
    }

    /// Records every defined global symbol, refusing duplicates.
    fn collect_globals(&mut self) -> Result<(), CompileError> {
        for (oi, obj) in self.objects.iter().enumerate() {
            for sym in obj.symbols() {
                if sym.is_undefined() || !sym.is_global() {
                    continue;
                }
                let Some(section) = sym.section_index() else {
                    continue;
                };
                let Some(&(part, base)) = self.placement.get(&(oi, section.0)) else {
                    continue;
                };
                let name = sym.name().map_err(obj_err)?.to_owned();
                let entry = (part, base + sym.address(), sym.size());
                // LLVM defines the personality's indirection word
                // (`DW.ref.<personality>`) weak in every object; each
                // object's unwind tables use their own copy.
                if sym.is_weak() && self.globals.contains_key(&name) {
                    continue;
                }
                if self.globals.insert(name.clone(), entry).is_some() {
                    return Err(internal(format!("symbol {name} defined twice")));
                }
            }
        }
        Ok(())
    }

    /// Resolves symbol `index` of object `oi`.
    fn resolve(&self, oi: usize, index: SymbolIndex) -> Result<Resolved, CompileError> {
        let obj = &self.objects[oi];
        let sym = obj.symbol_by_index(index).map_err(obj_err)?;
        let name = sym.name().map_err(obj_err)?;
        if sym.is_undefined() {
            if let Some(&(part, off, _)) = self.globals.get(name) {
                return Ok(Resolved::Image(part, off));
            }
            return GotSymbol::from_symbol(name)
                .map(Resolved::External)
                .ok_or_else(|| {
                    internal(format!("compiled code refers to unknown symbol `{name}`"))
                });
        }
        let section = sym
            .section_index()
            .ok_or_else(|| internal(format!("symbol `{name}` has no section")))?;
        let &(part, base) = self
            .placement
            .get(&(oi, section.0))
            .ok_or_else(|| internal(format!("symbol `{name}` lies in a section we do not link")))?;
        let offset = if sym.kind() == SymbolKind::Section {
            0
        } else {
            sym.address()
        };
        Ok(Resolved::Image(part, base + offset))
    }

    /// The trap code if symbol `index` of object `oi` is an (undefined)
    /// trap alias.
    fn trap_alias(&self, oi: usize, index: SymbolIndex) -> Result<Option<TrapCode>, CompileError> {
        let sym = self.objects[oi].symbol_by_index(index).map_err(obj_err)?;
        if !sym.is_undefined() {
            return Ok(None);
        }
        Ok(TrapCode::from_trap_symbol(sym.name().map_err(obj_err)?))
    }

    /// The trap table: for each relocation against a trap alias, the
    /// text offset just past its `call` (the return address the helper
    /// sees) and the alias's code.
    fn trap_sites(&self, relocs: &[PendingReloc]) -> Result<TrapTable, CompileError> {
        let mut sites = Vec::new();
        for r in relocs {
            let Some(code) = r.trap else {
                continue;
            };
            let at = r.offset as usize;
            let text = &self.text;
            // `call rel32` (e8) or `call *GOT(%rip)` (ff 15), displacement
            // last, so the return address is just past the 4-byte field.
            let is_call = match r.r_type {
                elf::R_X86_64_PC32 | elf::R_X86_64_PLT32 => {
                    at >= 1 && text.get(at - 1) == Some(&0xe8)
                }
                elf::R_X86_64_GOTPCRELX | elf::R_X86_64_GOTPCREL => {
                    at >= 2 && text.get(at - 2..at) == Some(&[0xff, 0x15][..])
                }
                _ => false,
            };
            if r.part != Part::Text || !is_call || r.addend != -4 {
                return Err(internal(format!(
                    "reference to trap alias for {code:?} at {:?} offset {:#x} is not a call",
                    r.part, r.offset
                )));
            }
            let ret =
                u32::try_from(r.offset + 4).map_err(|_| internal("text larger than 4 GiB"))?;
            sites.push((ret, code));
        }
        TrapTable::from_sites(sites)
            .ok_or_else(|| internal("two trap calls share a return address"))
    }

    /// Every relocation of every placed section, resolved.
    fn relocations(&self) -> Result<Vec<PendingReloc>, CompileError> {
        let mut out = Vec::new();
        for (&(oi, index), &(part, base)) in &self.placement {
            let section = self.objects[oi]
                .section_by_index(SectionIndex(index))
                .map_err(obj_err)?;
            for (offset, reloc) in section.relocations() {
                let RelocationFlags::Elf { r_type } = reloc.flags() else {
                    return Err(internal("non-ELF relocation"));
                };
                let RelocationTarget::Symbol(sym) = reloc.target() else {
                    return Err(internal("relocation against something other than a symbol"));
                };
                out.push(PendingReloc {
                    part,
                    offset: base + offset,
                    r_type,
                    addend: reloc.addend(),
                    target: self.resolve(oi, sym)?,
                    trap: self.trap_alias(oi, sym)?,
                });
            }
        }
        Ok(out)
    }

    fn finish(mut self) -> Result<LinkedImage, CompileError> {
        let relocs = self.relocations()?;
        let trap_sites = self.trap_sites(&relocs)?;
        let mut plt: BTreeSet<GotSymbol> = BTreeSet::new();
        let mut got: BTreeSet<GotKey> = BTreeSet::new();
        for r in &relocs {
            match (r.r_type, r.target) {
                (elf::R_X86_64_PC32 | elf::R_X86_64_PLT32, Resolved::External(s)) => {
                    plt.insert(s);
                    got.insert(GotKey::External(s));
                }
                (
                    elf::R_X86_64_GOTPCREL | elf::R_X86_64_GOTPCRELX | elf::R_X86_64_REX_GOTPCRELX,
                    t,
                ) => {
                    got.insert(match t {
                        Resolved::External(s) => GotKey::External(s),
                        Resolved::Image(p, o) => GotKey::Image(p, o),
                    });
                }
                _ => {}
            }
        }

        // Layout: PLT after the code, GOT after the relro data.
        let plt_start = align_up(self.text.len() as u64, u64::from(code::FUNC_ALIGN));
        self.text.resize(plt_start as usize, TEXT_PAD);
        self.text.resize(
            (plt_start + plt.len() as u64 * PLT_STUB_SIZE) as usize,
            TEXT_PAD,
        );
        let got_start = align_up(self.relro.len() as u64, GOT_ENTRY_SIZE);
        self.relro
            .resize((got_start + got.len() as u64 * GOT_ENTRY_SIZE) as usize, 0);
        let rodata_base = align_up(self.text.len() as u64, PAGE_ALIGN);
        let relro_base = align_up(rodata_base + self.rodata.len() as u64, PAGE_ALIGN);
        let image_addr = |part: Part, off: u64| match part {
            Part::Text => off,
            Part::Rodata => rodata_base + off,
            Part::Relro => relro_base + off,
        };
        let got_index: BTreeMap<GotKey, u64> = got
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, i as u64))
            .collect();
        let got_addr = |k: GotKey| {
            got_index
                .get(&k)
                .map(|i| relro_base + got_start + i * GOT_ENTRY_SIZE)
        };
        let plt_index: BTreeMap<GotSymbol, u64> = plt
            .iter()
            .enumerate()
            .map(|(i, s)| (*s, i as u64))
            .collect();

        let mut load_relocs = Vec::new();
        // GOT entries.
        for (key, &i) in &got_index {
            let offset = relro_base + got_start + i * GOT_ENTRY_SIZE;
            let target = match *key {
                GotKey::External(s) => got_target(s),
                GotKey::Image(p, o) => RelocTarget::Image(image_addr(p, o)),
            };
            load_relocs.push(Relocation {
                offset,
                kind: RelocKind::Abs64 { addend: 0 },
                target,
            });
        }
        // PLT stubs: jmp *GOT(%rip).
        for (sym, &i) in &plt_index {
            let stub = plt_start + i * PLT_STUB_SIZE;
            let entry = got_addr(GotKey::External(*sym))
                .ok_or_else(|| internal("PLT entry without GOT entry"))?;
            let bytes = code::plt_stub(stub, entry).ok_or_else(|| {
                internal(format!("PLT stub at {stub:#x} cannot reach its GOT entry"))
            })?;
            let at = stub as usize;
            self.text[at..at + bytes.len()].copy_from_slice(&bytes);
        }
        // The relocations themselves.
        for r in &relocs {
            let place = image_addr(r.part, r.offset) as i64;
            let value: Patch = match r.r_type {
                elf::R_X86_64_PC32 | elf::R_X86_64_PLT32 => {
                    let s = match r.target {
                        Resolved::Image(p, o) => image_addr(p, o),
                        Resolved::External(sym) => {
                            plt_start
                                + plt_index
                                    .get(&sym)
                                    .copied()
                                    .ok_or_else(|| internal("missing PLT stub"))?
                                    * PLT_STUB_SIZE
                        }
                    };
                    Patch::I32(pc_rel32(s as i64 + r.addend - place)?)
                }
                elf::R_X86_64_PC64 => match r.target {
                    Resolved::Image(p, o) => Patch::I64(image_addr(p, o) as i64 + r.addend - place),
                    Resolved::External(_) => {
                        return Err(internal("64-bit PC-relative reference to a helper"))
                    }
                },
                elf::R_X86_64_GOTPCREL | elf::R_X86_64_GOTPCRELX | elf::R_X86_64_REX_GOTPCRELX => {
                    let key = match r.target {
                        Resolved::External(s) => GotKey::External(s),
                        Resolved::Image(p, o) => GotKey::Image(p, o),
                    };
                    let g = got_addr(key).ok_or_else(|| internal("missing GOT entry"))?;
                    Patch::I32(pc_rel32(g as i64 + r.addend - place)?)
                }
                elf::R_X86_64_64 if r.part != Part::Text => {
                    let target = match r.target {
                        Resolved::Image(p, o) => RelocTarget::Image(image_addr(p, o)),
                        Resolved::External(s) => got_target(s),
                    };
                    load_relocs.push(Relocation {
                        offset: place as u64,
                        kind: RelocKind::Abs64 { addend: r.addend },
                        target,
                    });
                    Patch::I64(0)
                }
                other => {
                    return Err(internal(format!(
                        "unsupported relocation type {other} in {:?} at offset {:#x}",
                        r.part, r.offset
                    )))
                }
            };
            let buf = self.part_mut(r.part);
            let at = r.offset as usize;
            let bytes: Vec<u8> = match value {
                Patch::I32(v) => v.to_le_bytes().to_vec(),
                Patch::I64(v) => v.to_le_bytes().to_vec(),
            };
            let slot = buf
                .get_mut(at..at + bytes.len())
                .ok_or_else(|| internal("relocation outside its section"))?;
            slot.copy_from_slice(&bytes);
        }
        load_relocs.sort_by_key(|r| r.offset);

        let symbols = self
            .globals
            .iter()
            .filter(|(_, (part, _, _))| *part == Part::Text)
            .map(|(name, &(_, off, size))| (name.clone(), (off, size)))
            .collect();
        Ok(LinkedImage {
            text: self.text,
            rodata: self.rodata,
            relro: self.relro,
            relocations: load_relocs,
            symbols,
            code: self.code,
            trap_sites,
            plt_offset: plt_start,
            eh_frame: if self.eh_frame.1 == 0 {
                (0, 0)
            } else {
                (rodata_base + self.eh_frame.0, self.eh_frame.1)
            },
        })
    }
}

struct PendingReloc {
    part: Part,
    offset: u64,
    r_type: u32,
    addend: i64,
    target: Resolved,
    /// The code, for a reference to a trap alias.
    trap: Option<TrapCode>,
}

enum Patch {
    I32(i32),
    I64(i64),
}

fn got_target(s: GotSymbol) -> RelocTarget {
    match s {
        GotSymbol::Helper(h) => RelocTarget::Helper(h as u32),
        GotSymbol::Libcall(l) => RelocTarget::Libcall(l as u32),
    }
}

fn pc_rel32(v: i64) -> Result<i32, CompileError> {
    i32::try_from(v).map_err(|_| internal(format!("PC-relative displacement {v:#x} out of range")))
}

#[cfg(test)]
mod tests {
    use super::append_sized;

    /// A section is its file bytes, zero-filled up to its size when the
    /// file holds fewer (NOBITS `.bss` holds none), appended after what
    /// the part already has.
    #[test]
    fn sections_are_appended_at_their_size() {
        let mut part = vec![0xcc; 3];
        append_sized(&mut part, &[1, 2, 3], 3);
        append_sized(&mut part, &[], 2);
        append_sized(&mut part, &[4], 3);
        assert_eq!(part, [0xcc, 0xcc, 0xcc, 1, 2, 3, 0, 0, 4, 0, 0]);
    }
}
