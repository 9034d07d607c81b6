//! `proc_raise`, `sched_yield` and the `sock_*` functions. (`proc_exit`
//! has no handler: the table turns it into `HostError::Exit`.)
//!
//! Rule: no descriptor here is ever a socket, so every `sock_*` call fails:
//! `EBADF` for an unknown descriptor, `ENOTSOCK` otherwise.

use crate::ctx::WasiCtx;
use crate::errno::Errno;
use crate::mem::Mem;
use crate::table::Args;

/// `proc_raise(sig)`: signals are not supported.
pub fn proc_raise(_: &mut WasiCtx, _: &mut Mem<'_>, _: &Args<'_>) -> Result<(), Errno> {
    Err(Errno::NOTSUP)
}

/// `sched_yield()`.
pub fn sched_yield(_: &mut WasiCtx, _: &mut Mem<'_>, _: &Args<'_>) -> Result<(), Errno> {
    std::thread::yield_now();
    Ok(())
}

fn not_a_socket(ctx: &WasiCtx, fd: u32) -> Result<(), Errno> {
    ctx.get(fd)?;
    Err(Errno::NOTSOCK)
}

/// `sock_accept(fd, flags, fd_ptr)`.
pub fn sock_accept(ctx: &mut WasiCtx, _: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    not_a_socket(ctx, a.u32(0))
}

/// `sock_recv(fd, ri_data, ri_data_len, ri_flags, ro_datalen_ptr, ro_flags_ptr)`.
pub fn sock_recv(ctx: &mut WasiCtx, _: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    not_a_socket(ctx, a.u32(0))
}

/// `sock_send(fd, si_data, si_data_len, si_flags, so_datalen_ptr)`.
pub fn sock_send(ctx: &mut WasiCtx, _: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    not_a_socket(ctx, a.u32(0))
}

/// `sock_shutdown(fd, how)`.
pub fn sock_shutdown(ctx: &mut WasiCtx, _: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    not_a_socket(ctx, a.u32(0))
}
