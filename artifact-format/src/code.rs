//! The shape of an artifact's text that the loader checks the metadata
//! against: where functions may start and what a PLT stub looks like.
//!
//! Rule: the compiler's linker lays text out only with these constants and
//! the loader checks only against them, so a rewritten function address map
//! or relocation list that disagrees with the code is refused.
//!
//! ```text
//! text  | fn 0 | cc.. | fn 1 | cc.. | trampolines ... | cc.. | PLT stub 0 | PLT stub 1 | ... | end of text
//!         ^ every function, trampoline and stub starts on a FUNC_ALIGN boundary
//!                                                            ^ plt_offset (metadata)
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
/// (`int3`).
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
}
