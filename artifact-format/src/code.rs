//! The shape of an artifact's text that the loader checks the metadata
//! against: where functions may start and what a PLT stub looks like.
//!
//! Rule: the compiler's linker lays text out only with these constants and
//! the loader checks only against them, so a rewritten function address map
//! or relocation list that disagrees with the code is refused.
//!
//! ```text
//! text  | fn 0 | cc.. | fn 1 | cc.. | trampolines, stubs ... | cc.. | PLT stub 0 | PLT stub 1 | ... | end of text
//!         ^ every function, trampoline and stub starts on a FUNC_ALIGN boundary
//!                                                                   ^ plt_offset (metadata)
//! PLT stub (PLT_STUB_SIZE bytes): ff 25 <disp32> cc cc    jmp *[rip + disp32]
//!                                       the slot at stub + 6 + disp32 is a GOT
//!                                       entry in relro, filled by exactly one
//!                                       Abs64 relocation naming a helper or libcall
//! ```

/// Alignment of every function, trampoline and PLT stub in text (LLVM's
/// preferred function alignment on x86-64).
pub const FUNC_ALIGN: u32 = 16;

/// Bytes of one PLT stub.
pub const PLT_STUB_SIZE: u32 = 8;

/// A PLT stub's opcode bytes: `jmp *disp32(%rip)`.
pub const PLT_STUB_OPCODE: [u8; 2] = [0xff, 0x25];

/// Length of the `jmp` instruction in a stub; its displacement is relative
/// to the stub start plus this.
pub const PLT_JMP_LEN: u32 = 6;

/// The byte text is padded with between functions and after a stub's jump
/// (`int3`). The linker writes it over every byte of text before the PLT
/// that no function symbol covers (LLVM pads with NOPs inside an object).
pub const TEXT_PAD: u8 = 0xcc;

/// Size of a GOT entry (and of every load-time relocation's slot).
pub const GOT_ENTRY_SIZE: u32 = 8;

/// The GOT slot a PLT stub at text offset `stub` jumps through, as an image
/// offset; `None` if the bytes are not a well-formed stub (or the slot
/// would lie before the image).
pub fn plt_stub_target(stub: u32, bytes: &[u8]) -> Option<u64> {
    let b = bytes.get(..PLT_STUB_SIZE as usize)?;
    if b[..2] != PLT_STUB_OPCODE || b[6..] != [TEXT_PAD, TEXT_PAD] {
        return None;
    }
    let disp = i32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    let next = i64::from(stub) + i64::from(PLT_JMP_LEN);
    u64::try_from(next + i64::from(disp)).ok()
}

/// The bytes of a PLT stub at text offset `stub` jumping through the GOT
/// slot at image offset `slot`; `None` if the displacement does not fit.
pub fn plt_stub(stub: u64, slot: u64) -> Option<[u8; PLT_STUB_SIZE as usize]> {
    let disp = i32::try_from(slot as i64 - (stub as i64 + i64::from(PLT_JMP_LEN))).ok()?;
    let d = disp.to_le_bytes();
    Some([
        PLT_STUB_OPCODE[0],
        PLT_STUB_OPCODE[1],
        d[0],
        d[1],
        d[2],
        d[3],
        TEXT_PAD,
        TEXT_PAD,
    ])
}

/// What a run of code before the PLT is, for [`check_tiling`]'s messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// A defined function (`ModuleMetadata::defined_funcs`).
    Function,
    /// A defined function's array-call trampoline.
    ArrayTrampoline,
    /// An imported function's trampoline.
    ImportTrampoline,
    /// Code the host never enters by name (`ModuleMetadata::stubs`).
    Stub,
}

/// One run of code the metadata names: what it is, its index among its
/// kind, its text offset and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeEntry {
    /// What it is.
    pub kind: CodeKind,
    /// Its index among entries of its kind (for a trampoline, the
    /// function's index).
    pub index: u32,
    /// Text offset of its first byte.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

impl std::fmt::Display for CodeEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            CodeKind::Function => "defined function",
            CodeKind::ArrayTrampoline => "the array trampoline of defined function",
            CodeKind::ImportTrampoline => "the trampoline of imported function",
            CodeKind::Stub => "stub",
        };
        write!(
            f,
            "{what} {} at text offset {}+{}",
            self.index, self.offset, self.len
        )
    }
}

/// Checks that `entries` tile `text[..plt]`: each starts on a
/// [`FUNC_ALIGN`] boundary with a byte that is not [`TEXT_PAD`], is not
/// empty, ends by `plt`, overlaps no other, and every byte before `plt`
/// outside them is [`TEXT_PAD`]. The compiler's linker lays text out so;
/// the loader refuses a function address map that does not, so that a
/// moved entry (onto another's start, or into its own body, where no
/// `int3` precedes it) is refused rather than called. Sorts `entries` by
/// offset. The error says which entry or byte breaks the rule.
pub fn check_tiling(entries: &mut [CodeEntry], plt: u32, text: &[u8]) -> Result<(), String> {
    let code = text.get(..plt as usize).ok_or_else(|| {
        format!(
            "the PLT at text offset {plt} lies beyond the {} bytes of text",
            text.len()
        )
    })?;
    entries.sort_unstable_by_key(|e| (e.offset, e.len));
    let padding = |from: u32, to: u32, after: Option<&CodeEntry>| -> Result<(), String> {
        let gap = &code[from as usize..to as usize];
        match gap.iter().position(|&b| b != TEXT_PAD) {
            None => Ok(()),
            Some(i) => Err(format!(
                "text offset {} ({:#04x}), {}, is neither code the function map names nor int3 padding",
                from as usize + i,
                gap[i],
                match after {
                    Some(e) => format!("after {e}"),
                    None => "before the first entry".to_owned(),
                }
            )),
        }
    };
    let mut covered: u32 = 0;
    let mut prev: Option<&CodeEntry> = None;
    for e in entries.iter() {
        let end = u64::from(e.offset) + u64::from(e.len);
        if !e.offset.is_multiple_of(FUNC_ALIGN)
            || e.len == 0
            || end > u64::from(plt)
            || code.get(e.offset as usize) == Some(&TEXT_PAD)
        {
            return Err(format!(
                "{e} is not a run of code ({FUNC_ALIGN}-byte aligned, not starting with int3 padding, non-empty, before the PLT at {plt})"
            ));
        }
        if e.offset < covered {
            let p = prev.map_or_else(String::new, |p| format!(" {p}"));
            return Err(format!("{e} overlaps{p}"));
        }
        padding(covered, e.offset, prev)?;
        covered = end as u32;
        prev = Some(e);
    }
    padding(covered, plt, prev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stubs_round_trip() {
        let s = plt_stub(4096, 8192 + 24).unwrap();
        assert_eq!(plt_stub_target(4096, &s), Some(8192 + 24));
        let mut bad = s;
        bad[7] = 0x90;
        assert_eq!(plt_stub_target(4096, &bad), None);
        assert_eq!(plt_stub_target(4096, &s[..7]), None);
    }

    fn entry(kind: CodeKind, index: u32, offset: u32, len: u32) -> CodeEntry {
        CodeEntry {
            kind,
            index,
            offset,
            len,
        }
    }

    /// Text of three runs of code: a function at 0 (40 bytes), its array
    /// trampoline at 48 (12 bytes) and an import trampoline at 80 (16
    /// bytes), padded with int3 to the PLT at 96.
    fn layout() -> (Vec<u8>, Vec<CodeEntry>) {
        let mut text = vec![TEXT_PAD; 96];
        for (off, len) in [(0, 40), (48, 12), (80, 16)] {
            text[off..off + len].fill(0x90);
        }
        let entries = vec![
            entry(CodeKind::ImportTrampoline, 0, 80, 16),
            entry(CodeKind::Function, 0, 0, 40),
            entry(CodeKind::ArrayTrampoline, 0, 48, 12),
        ];
        (text, entries)
    }

    #[test]
    fn an_honest_layout_tiles() {
        let (text, mut entries) = layout();
        assert_eq!(check_tiling(&mut entries, 96, &text), Ok(()));
        assert_eq!(check_tiling(&mut [], 0, &[]), Ok(()));
        assert_eq!(check_tiling(&mut [], 16, &[TEXT_PAD; 16]), Ok(()));
    }

    /// The fuzzer's two findings: a function moved onto another entry's
    /// start (`_a`), and a function moved to an aligned offset inside its
    /// own body (`_b`).
    #[test]
    fn a_moved_entry_is_refused() {
        let (text, entries) = layout();
        let moved = |i: usize, offset: u32| {
            let mut e = entries.clone();
            e[i].offset = offset;
            check_tiling(&mut e, 96, &text)
        };
        let onto = moved(0, 0).unwrap_err();
        assert!(onto.contains("overlaps"), "{onto}");
        let into_body = moved(1, 16).unwrap_err();
        assert!(into_body.contains("text offset 0 (0x90)"), "{into_body}");
        let past_end = moved(0, 96).unwrap_err();
        assert!(past_end.contains("before the PLT"), "{past_end}");
        let on_padding = moved(2, 64).unwrap_err();
        assert!(
            on_padding.contains("not starting with int3"),
            "{on_padding}"
        );
    }

    #[test]
    fn uncovered_code_and_bad_entries_are_refused() {
        let (text, entries) = layout();
        // A shortened entry leaves code no entry names.
        let mut e = entries.clone();
        e[1].len = 32;
        let short = check_tiling(&mut e, 96, &text).unwrap_err();
        assert!(
            short.contains("text offset 32 (0x90), after defined function 0"),
            "{short}"
        );
        // A dropped entry leaves its code unnamed.
        let mut e = entries.clone();
        e.remove(0);
        let dropped = check_tiling(&mut e, 96, &text).unwrap_err();
        assert!(dropped.contains("text offset 80"), "{dropped}");
        // Code before the first entry.
        let mut e = entries.clone();
        e.remove(1);
        let before = check_tiling(&mut e, 96, &text).unwrap_err();
        assert!(before.contains("before the first entry"), "{before}");
        // Unaligned, empty, beyond the text.
        let mut e = entries.clone();
        e[2].offset = 49;
        assert!(check_tiling(&mut e, 96, &text).is_err());
        let mut e = entries.clone();
        e[2].len = 0;
        assert!(check_tiling(&mut e, 96, &text).is_err());
        let mut e = entries.clone();
        assert!(check_tiling(&mut e, 112, &text)
            .unwrap_err()
            .contains("beyond"));
        // A byte of the padding between two entries that is not int3.
        let mut t = text.clone();
        t[40] = 0xc3;
        let mut e = entries;
        let tail = check_tiling(&mut e, 96, &t).unwrap_err();
        assert!(tail.contains("text offset 40 (0xc3)"), "{tail}");
    }
}
