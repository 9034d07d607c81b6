//! `args_*` and `environ_*`: copy NUL-terminated strings and a pointer
//! array into guest memory.
//!
//! Rule: the sizes reported by `*_sizes_get` are exactly what `*_get`
//! writes (the strings are stored NUL-terminated in the context).

use crate::ctx::WasiCtx;
use crate::errno::Errno;
use crate::mem::Mem;
use crate::table::Args;

fn sizes(list: &[Vec<u8>], mem: &mut Mem<'_>, count_ptr: u32, size_ptr: u32) -> Result<(), Errno> {
    let total = list
        .iter()
        .fold(0usize, |acc, s| acc.saturating_add(s.len()));
    mem.write_size(count_ptr, list.len())?;
    mem.write_size(size_ptr, total)
}

fn strings(list: &[Vec<u8>], mem: &mut Mem<'_>, ptrs: u32, buf: u32) -> Result<(), Errno> {
    let mut at = buf;
    for (i, s) in list.iter().enumerate() {
        let slot = u32::try_from(i)
            .ok()
            .and_then(|i| i.checked_mul(4))
            .and_then(|o| ptrs.checked_add(o))
            .ok_or(Errno::FAULT)?;
        mem.write_u32(slot, at)?;
        mem.write_bytes(at, s)?;
        at = u32::try_from(s.len())
            .ok()
            .and_then(|n| at.checked_add(n))
            .ok_or(Errno::FAULT)?;
    }
    Ok(())
}

/// `args_get(argv, argv_buf)`.
pub fn args_get(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    strings(&ctx.args, mem, a.u32(0), a.u32(1))
}

/// `args_sizes_get(argc_ptr, argv_buf_size_ptr)`.
pub fn args_sizes_get(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    sizes(&ctx.args, mem, a.u32(0), a.u32(1))
}

/// `environ_get(environ, environ_buf)`.
pub fn environ_get(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    strings(&ctx.env, mem, a.u32(0), a.u32(1))
}

/// `environ_sizes_get(count_ptr, buf_size_ptr)`.
pub fn environ_sizes_get(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    sizes(&ctx.env, mem, a.u32(0), a.u32(1))
}
