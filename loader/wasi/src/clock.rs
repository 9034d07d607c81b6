//! `clock_res_get`, `clock_time_get` and `random_get`.
//!
//! Rule: times are nanoseconds as `u64`, computed with saturating
//! arithmetic (a clock before 1970 reads as 0, never a panic); the
//! monotonic clock is the host's `CLOCK_MONOTONIC`, shared with
//! `poll_oneoff`'s deadlines through [`now_ns`].

use rustix::time::{ClockId, Timespec};

use crate::abi::clockid;
use crate::ctx::WasiCtx;
use crate::errno::Errno;
use crate::mem::Mem;
use crate::table::Args;

fn host_clock(id: u32) -> Result<ClockId, Errno> {
    match id {
        clockid::REALTIME => Ok(ClockId::Realtime),
        clockid::MONOTONIC => Ok(ClockId::Monotonic),
        clockid::PROCESS_CPUTIME => Ok(ClockId::ProcessCPUTime),
        clockid::THREAD_CPUTIME => Ok(ClockId::ThreadCPUTime),
        _ => Err(Errno::INVAL),
    }
}

/// A timespec as nanoseconds, 0 if negative, saturating at `u64::MAX`.
pub fn timespec_ns(t: Timespec) -> u64 {
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    let nsecs = u64::try_from(t.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nsecs)
}

/// The current time of WASI clock `id` in nanoseconds.
pub fn now_ns(id: u32) -> Result<u64, Errno> {
    Ok(timespec_ns(rustix::time::clock_gettime(host_clock(id)?)))
}

/// `clock_res_get(id, resolution_ptr)`.
pub fn clock_res_get(_: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let res = timespec_ns(rustix::time::clock_getres(host_clock(a.u32(0))?)).max(1);
    mem.write_u64(a.u32(1), res)
}

/// `clock_time_get(id, precision, time_ptr)`.
pub fn clock_time_get(_: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let t = now_ns(a.u32(0))?;
    mem.write_u64(a.u32(2), t)
}

/// `random_get(buf, len)`: the host's `getrandom`.
pub fn random_get(_: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    mem.with_mut(a.u32(0), a.u32(1), |mut buf| {
        while !buf.is_empty() {
            match rustix::rand::getrandom(&mut *buf, rustix::rand::GetRandomFlags::empty()) {
                Ok(n) => buf = buf.get_mut(n..).ok_or(Errno::IO)?,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_read_and_unknown_ids_are_einval() {
        let a = now_ns(clockid::MONOTONIC).unwrap();
        let b = now_ns(clockid::MONOTONIC).unwrap();
        assert!(b >= a);
        assert!(now_ns(clockid::REALTIME).unwrap() > 1_600_000_000_000_000_000);
        assert!(now_ns(clockid::PROCESS_CPUTIME).is_ok());
        assert_eq!(now_ns(4), Err(Errno::INVAL));
        assert_eq!(
            timespec_ns(Timespec {
                tv_sec: -1,
                tv_nsec: 0
            }),
            0
        );
        assert_eq!(
            timespec_ns(Timespec {
                tv_sec: i64::MAX,
                tv_nsec: 0
            }),
            u64::MAX
        );
    }
}
