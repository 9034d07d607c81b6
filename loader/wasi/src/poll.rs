//! `poll_oneoff`: clock timeouts and read/write readiness of descriptors.
//!
//! Rule: regular files are always ready (as in POSIX); only streams are
//! polled on the host. Deadlines are absolute `CLOCK_MONOTONIC` (or
//! realtime) nanoseconds computed with saturating arithmetic; the call
//! blocks at most until the earliest one.

use rustix::event::{PollFd, PollFlags};
use rustix::time::Timespec;

use crate::abi::{clockid, poll as p, rights};
use crate::clock::now_ns;
use crate::ctx::{Handle, WasiCtx};
use crate::errno::Errno;
use crate::mem::Mem;
use crate::stat::fd_stat;
use crate::table::Args;

/// One event to report.
#[derive(Debug, Clone, Copy)]
struct Event {
    userdata: u64,
    error: Errno,
    ty: u8,
    nbytes: u64,
    flags: u16,
}

/// A clock subscription as a deadline on its own clock.
#[derive(Debug, Clone, Copy)]
struct Timer {
    userdata: u64,
    clock: u32,
    deadline: u64,
}

impl Timer {
    fn remaining(&self) -> Result<u64, Errno> {
        Ok(self.deadline.saturating_sub(now_ns(self.clock)?))
    }
}

/// A stream subscription to hand to the host's `poll`.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    userdata: u64,
    fd: u32,
    ty: u8,
}

fn ready(userdata: u64, ty: u8, nbytes: u64) -> Event {
    Event {
        userdata,
        error: Errno::SUCCESS,
        ty,
        nbytes,
        flags: 0,
    }
}

fn failed(userdata: u64, ty: u8, error: Errno) -> Event {
    Event {
        userdata,
        error,
        ty,
        nbytes: 0,
        flags: 0,
    }
}

/// The decoded subscriptions of one call.
#[derive(Debug, Default)]
struct Subscriptions {
    /// Clock subscriptions.
    timers: Vec<Timer>,
    /// Streams to poll on the host.
    waiting: Vec<Waiting>,
    /// Events already known: ready files and failed subscriptions.
    immediate: Vec<Event>,
}

impl Subscriptions {
    fn add_clock(
        &mut self,
        mem: &Mem<'_>,
        userdata: u64,
        at: impl Fn(u32) -> u32,
    ) -> Result<(), Errno> {
        let clock = mem.read_u32(at(p::SUB_CLOCK_ID))?;
        let timeout = mem.read_u64(at(p::SUB_CLOCK_TIMEOUT))?;
        let abs = mem.read_u16(at(p::SUB_CLOCK_FLAGS))? & p::SUBCLOCK_ABSTIME != 0;
        if clock != clockid::REALTIME && clock != clockid::MONOTONIC {
            self.immediate
                .push(failed(userdata, p::TYPE_CLOCK, Errno::INVAL));
            return Ok(());
        }
        let deadline = if abs {
            timeout
        } else {
            now_ns(clock)?.saturating_add(timeout)
        };
        self.timers.push(Timer {
            userdata,
            clock,
            deadline,
        });
        Ok(())
    }

    fn add_fd(&mut self, ctx: &WasiCtx, userdata: u64, ty: u8, fd: u32) -> Result<(), Errno> {
        let e = match ctx.get(fd) {
            Ok(e) => e,
            Err(err) => {
                self.immediate.push(failed(userdata, ty, err));
                return Ok(());
            }
        };
        if e.base & rights::POLL_FD_READWRITE == 0 && !e.handle.is_stdio() {
            self.immediate.push(failed(userdata, ty, Errno::NOTCAPABLE));
            return Ok(());
        }
        match &e.handle {
            Handle::File(_) => {
                let nbytes = if ty == p::TYPE_FD_READ {
                    file_remaining(e.handle.fd())?
                } else {
                    0
                };
                self.immediate.push(ready(userdata, ty, nbytes));
            }
            Handle::Dir(_) => self.immediate.push(failed(userdata, ty, Errno::BADF)),
            _ => self.waiting.push(Waiting { userdata, fd, ty }),
        }
        Ok(())
    }

    /// Decodes `n` subscriptions at `base` (already bounds-checked).
    fn decode(ctx: &WasiCtx, mem: &Mem<'_>, base: u32, n: u32) -> Result<Subscriptions, Errno> {
        let mut subs = Subscriptions::default();
        for i in 0..n {
            // Cannot overflow: the whole array was bounds-checked by the caller.
            let at = |off: u32| {
                base.wrapping_add(i.wrapping_mul(p::SUBSCRIPTION_SIZE))
                    .wrapping_add(off)
            };
            let userdata = mem.read_u64(at(p::SUB_USERDATA))?;
            match mem.read_u8(at(p::SUB_TAG))? {
                p::TYPE_CLOCK => subs.add_clock(mem, userdata, at)?,
                ty @ (p::TYPE_FD_READ | p::TYPE_FD_WRITE) => {
                    subs.add_fd(ctx, userdata, ty, mem.read_u32(at(p::SUB_FD))?)?;
                }
                _ => return Err(Errno::INVAL),
            }
        }
        Ok(subs)
    }
}

fn file_remaining(fd: rustix::fd::BorrowedFd<'_>) -> Result<u64, Errno> {
    let pos = rustix::fs::seek(fd, rustix::fs::SeekFrom::Current(0))?;
    Ok(fd_stat(fd)?.size.saturating_sub(pos))
}

/// Polls the streams for at most `timeout_ns` (`None`: forever) and
/// returns the ready ones.
fn poll_streams(
    ctx: &WasiCtx,
    waiting: &[Waiting],
    timeout_ns: Option<u64>,
) -> Result<Vec<Event>, Errno> {
    let mut fds = Vec::new();
    for w in waiting {
        let flags = if w.ty == p::TYPE_FD_READ {
            PollFlags::IN
        } else {
            PollFlags::OUT
        };
        fds.push(PollFd::from_borrowed_fd(ctx.get(w.fd)?.handle.fd(), flags));
    }
    let ts = timeout_ns.map(|ns| Timespec {
        tv_sec: i64::try_from(ns / 1_000_000_000).unwrap_or(i64::MAX),
        tv_nsec: i64::try_from(ns % 1_000_000_000).unwrap_or(0),
    });
    loop {
        match rustix::event::poll(&mut fds, ts.as_ref()) {
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
            Ok(_) => break,
        }
    }
    let mut out = Vec::new();
    for (w, pfd) in waiting.iter().zip(&fds) {
        let rev = pfd.revents();
        if rev.is_empty() {
            continue;
        }
        let mut ev = ready(w.userdata, w.ty, 0);
        if rev.contains(PollFlags::HUP) {
            ev.flags = p::FD_READWRITE_HANGUP;
        }
        if rev.intersects(PollFlags::ERR | PollFlags::NVAL) && !rev.contains(PollFlags::HUP) {
            ev.error = Errno::IO;
        }
        out.push(ev);
    }
    Ok(out)
}

fn write_events(mem: &mut Mem<'_>, out: u32, events: &[Event]) -> Result<(), Errno> {
    for (i, e) in events.iter().enumerate() {
        let i = u32::try_from(i).map_err(|_| Errno::FAULT)?;
        let at = |off: u32| {
            out.wrapping_add(i.wrapping_mul(p::EVENT_SIZE))
                .wrapping_add(off)
        };
        mem.zero(at(0), p::EVENT_SIZE)?;
        mem.write_u64(at(p::EVENT_USERDATA), e.userdata)?;
        mem.write_u16(at(p::EVENT_ERROR), e.error.0)?;
        mem.write_u8(at(p::EVENT_TYPE), e.ty)?;
        mem.write_u64(at(p::EVENT_NBYTES), e.nbytes)?;
        mem.write_u16(at(p::EVENT_FLAGS), e.flags)?;
    }
    Ok(())
}

/// `poll_oneoff(in, out, nsubscriptions, nevents_ptr)`.
pub fn poll_oneoff(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let (input, out, n, nevents) = (a.u32(0), a.u32(1), a.u32(2), a.u32(3));
    if n == 0 {
        return Err(Errno::INVAL);
    }
    mem.range(
        input,
        n.checked_mul(p::SUBSCRIPTION_SIZE).ok_or(Errno::FAULT)?,
    )?;
    mem.range(out, n.checked_mul(p::EVENT_SIZE).ok_or(Errno::FAULT)?)?;
    mem.range(nevents, 4)?;
    let Subscriptions {
        timers,
        waiting,
        immediate: mut events,
    } = Subscriptions::decode(ctx, mem, input, n)?;
    let mut wait = None;
    for t in &timers {
        let r = t.remaining()?;
        wait = Some(wait.map_or(r, |w: u64| w.min(r)));
    }
    if !events.is_empty() {
        wait = Some(0);
    }
    if waiting.is_empty() {
        if let Some(ns) = wait.filter(|&ns| ns > 0) {
            std::thread::sleep(std::time::Duration::from_nanos(ns));
        }
    } else {
        events.extend(poll_streams(ctx, &waiting, wait)?);
    }
    for t in &timers {
        if t.remaining()? == 0 {
            events.push(ready(t.userdata, p::TYPE_CLOCK, 0));
        }
    }
    write_events(mem, out, &events)?;
    mem.write_size(nevents, events.len())
}
