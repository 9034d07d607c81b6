//! Bounds-checked access to the calling instance's linear memory: little-
//! endian integers, byte ranges, `iovec` arrays and guest strings.
//!
//! A shared memory (wasi-threads) is never lent as a slice, since other
//! threads' wasm may write it at any moment: its bytes are copied in and
//! out ([`SharedMemory::read`]/[`SharedMemory::write`]), and what a
//! handler writes through [`Mem::with_mut`] goes back whole.
//!
//! Rule: every guest pointer and length goes through [`Mem::range`], which
//! computes in `usize` with checked arithmetic; an access outside the memory
//! is `EFAULT`, never an index panic. No other module indexes guest memory.

use std::borrow::Cow;
use std::ops::Range;

use wasmo_loader::SharedMemory;

use crate::errno::Errno;

/// The guest's memory for the duration of one host call.
#[derive(Debug)]
pub struct Mem<'a> {
    bytes: Bytes<'a>,
}

/// Where the guest's bytes are.
#[derive(Debug)]
enum Bytes<'a> {
    /// The store's own memory, borrowed for the call.
    Owned(&'a mut [u8]),
    /// A memory shared with other threads, reached by copying.
    Shared(SharedMemory),
}

/// One `iovec`/`ciovec`: a guest buffer (already checked to lie in memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoVec {
    /// Guest address.
    pub ptr: u32,
    /// Length in bytes.
    pub len: u32,
}

/// Size of a (c)iovec in guest memory: `buf: u32`, `buf_len: u32`.
const IOVEC_SIZE: u32 = 8;

impl<'a> Mem<'a> {
    /// Wraps the guest memory (empty when the instance has none).
    pub fn new(bytes: &'a mut [u8]) -> Mem<'a> {
        Mem {
            bytes: Bytes::Owned(bytes),
        }
    }

    /// Wraps a memory shared with other threads.
    pub fn shared(memory: SharedMemory) -> Mem<'a> {
        Mem {
            bytes: Bytes::Shared(memory),
        }
    }

    /// The memory's current size in bytes.
    fn len(&self) -> usize {
        match &self.bytes {
            Bytes::Owned(b) => b.len(),
            Bytes::Shared(m) => usize::try_from(m.data_size()).unwrap_or(usize::MAX),
        }
    }

    /// The byte range `[ptr, ptr + len)`, or `EFAULT` if it leaves memory.
    pub fn range(&self, ptr: u32, len: u32) -> Result<Range<usize>, Errno> {
        let start = usize::try_from(ptr).map_err(|_| Errno::FAULT)?;
        let len = usize::try_from(len).map_err(|_| Errno::FAULT)?;
        let end = start.checked_add(len).ok_or(Errno::FAULT)?;
        if end > self.len() {
            return Err(Errno::FAULT);
        }
        Ok(start..end)
    }

    /// `len` bytes at `ptr` (a copy, for a shared memory).
    pub fn slice(&self, ptr: u32, len: u32) -> Result<Cow<'_, [u8]>, Errno> {
        let r = self.range(ptr, len)?;
        match &self.bytes {
            Bytes::Owned(b) => b.get(r).map(Cow::Borrowed).ok_or(Errno::FAULT),
            Bytes::Shared(m) => {
                let mut out = vec![0u8; r.len()];
                m.read(r.start as u64, &mut out)
                    .then_some(Cow::Owned(out))
                    .ok_or(Errno::FAULT)
            }
        }
    }

    /// Runs `f` on the `len` bytes at `ptr`, writable; for a shared memory
    /// on a copy, which then goes back whole.
    pub fn with_mut<R>(
        &mut self,
        ptr: u32,
        len: u32,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R, Errno> {
        let r = self.range(ptr, len)?;
        match &mut self.bytes {
            Bytes::Owned(b) => Ok(f(b.get_mut(r).ok_or(Errno::FAULT)?)),
            Bytes::Shared(m) => {
                let mut copy = vec![0u8; r.len()];
                if !m.read(r.start as u64, &mut copy) {
                    return Err(Errno::FAULT);
                }
                let out = f(&mut copy);
                m.write(r.start as u64, &copy)
                    .then_some(out)
                    .ok_or(Errno::FAULT)
            }
        }
    }

    fn array<const N: usize>(&self, ptr: u32) -> Result<[u8; N], Errno> {
        let len = u32::try_from(N).map_err(|_| Errno::FAULT)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.slice(ptr, len)?);
        Ok(out)
    }

    /// Copies `data` to `ptr`.
    pub fn write_bytes(&mut self, ptr: u32, data: &[u8]) -> Result<(), Errno> {
        let len = u32::try_from(data.len()).map_err(|_| Errno::FAULT)?;
        let r = self.range(ptr, len)?;
        match &mut self.bytes {
            Bytes::Owned(b) => b.get_mut(r).ok_or(Errno::FAULT)?.copy_from_slice(data),
            Bytes::Shared(m) => {
                if !m.write(r.start as u64, data) {
                    return Err(Errno::FAULT);
                }
            }
        }
        Ok(())
    }

    /// Zeroes the `len` bytes at `ptr`.
    pub fn zero(&mut self, ptr: u32, len: u32) -> Result<(), Errno> {
        self.with_mut(ptr, len, |b| b.fill(0))
    }

    /// Reads a `u8`.
    pub fn read_u8(&self, ptr: u32) -> Result<u8, Errno> {
        Ok(self.array::<1>(ptr)?[0])
    }

    /// Reads a little-endian `u16`.
    pub fn read_u16(&self, ptr: u32) -> Result<u16, Errno> {
        Ok(u16::from_le_bytes(self.array(ptr)?))
    }

    /// Reads a little-endian `u32`.
    pub fn read_u32(&self, ptr: u32) -> Result<u32, Errno> {
        Ok(u32::from_le_bytes(self.array(ptr)?))
    }

    /// Reads a little-endian `u64`.
    pub fn read_u64(&self, ptr: u32) -> Result<u64, Errno> {
        Ok(u64::from_le_bytes(self.array(ptr)?))
    }

    /// Writes a `u8`.
    pub fn write_u8(&mut self, ptr: u32, v: u8) -> Result<(), Errno> {
        self.write_bytes(ptr, &[v])
    }

    /// Writes a little-endian `u16`.
    pub fn write_u16(&mut self, ptr: u32, v: u16) -> Result<(), Errno> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// Writes a little-endian `u32`.
    pub fn write_u32(&mut self, ptr: u32, v: u32) -> Result<(), Errno> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// Writes a little-endian `u64`.
    pub fn write_u64(&mut self, ptr: u32, v: u64) -> Result<(), Errno> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// Writes a byte count (`size`, a `u32`), failing with `EOVERFLOW` if
    /// it does not fit.
    pub fn write_size(&mut self, ptr: u32, n: usize) -> Result<(), Errno> {
        self.write_u32(ptr, u32::try_from(n).map_err(|_| Errno::OVERFLOW)?)
    }

    /// Reads `count` iovecs at `ptr`, checking that each buffer lies in
    /// memory.
    pub fn iovecs(&self, ptr: u32, count: u32) -> Result<Vec<IoVec>, Errno> {
        let bytes = count.checked_mul(IOVEC_SIZE).ok_or(Errno::FAULT)?;
        self.range(ptr, bytes)?;
        let mut out = Vec::new();
        for i in 0..count {
            // Cannot overflow: the whole array was checked above.
            let at = ptr.wrapping_add(i.wrapping_mul(IOVEC_SIZE));
            let v = IoVec {
                ptr: self.read_u32(at)?,
                len: self.read_u32(at.wrapping_add(4))?,
            };
            self.range(v.ptr, v.len)?;
            out.push(v);
        }
        Ok(out)
    }

    /// The bytes of a guest string (a path or a name); not NUL-terminated.
    pub fn string(&self, ptr: u32, len: u32) -> Result<Vec<u8>, Errno> {
        Ok(self.slice(ptr, len)?.into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_little_endian_and_bounds_checked() {
        let mut bytes = vec![0u8; 16];
        let mut m = Mem::new(&mut bytes);
        m.write_u32(4, 0x0102_0304).unwrap();
        assert_eq!(m.read_u8(4).unwrap(), 4);
        assert_eq!(m.read_u16(4).unwrap(), 0x0304);
        m.write_u64(8, u64::MAX - 1).unwrap();
        assert_eq!(m.read_u64(8).unwrap(), u64::MAX - 1);
        assert_eq!(m.write_u64(9, 0), Err(Errno::FAULT));
        assert_eq!(m.read_u32(13), Err(Errno::FAULT));
        assert_eq!(m.read_u32(u32::MAX), Err(Errno::FAULT));
        assert_eq!(&*m.slice(16, 0).unwrap(), &[] as &[u8]);
        assert_eq!(m.slice(17, 0), Err(Errno::FAULT));
        assert_eq!(m.slice(1, u32::MAX), Err(Errno::FAULT));
    }

    #[test]
    fn iovecs_check_the_array_and_every_buffer() {
        let mut bytes = vec![0u8; 64];
        let mut m = Mem::new(&mut bytes);
        m.write_u32(0, 32).unwrap();
        m.write_u32(4, 8).unwrap();
        m.write_u32(8, 60).unwrap();
        m.write_u32(12, 4).unwrap();
        let v = m.iovecs(0, 2).unwrap();
        assert_eq!(
            v,
            vec![IoVec { ptr: 32, len: 8 }, IoVec { ptr: 60, len: 4 }]
        );
        m.write_u32(12, 5).unwrap();
        assert_eq!(m.iovecs(0, 2), Err(Errno::FAULT));
        assert_eq!(m.iovecs(0, 9), Err(Errno::FAULT));
        assert_eq!(m.iovecs(0, u32::MAX), Err(Errno::FAULT));
        assert_eq!(m.iovecs(60, 1), Err(Errno::FAULT));
    }

    /// A shared memory (wasi-threads) is reached by copying, with the same
    /// bounds as a slice.
    #[test]
    fn issue12_shared_memory_is_copied_in_and_out() {
        use wasmo_loader::{Limits, MemoryType};
        let ty = MemoryType {
            limits: Limits {
                min: 1,
                max: Some(1),
            },
            memory64: false,
            shared: true,
        };
        let shared = SharedMemory::new(ty).unwrap();
        let mut m = Mem::shared(shared.clone());
        m.write_u32(65532, 0x0102_0304).unwrap();
        assert_eq!(m.read_u16(65532).unwrap(), 0x0304);
        assert_eq!(m.write_u32(65533, 0), Err(Errno::FAULT));
        assert_eq!(m.read_u32(65533), Err(Errno::FAULT));
        m.with_mut(8, 4, |b| b.copy_from_slice(b"wasi")).unwrap();
        assert_eq!(m.string(8, 4).unwrap(), b"wasi");
        let mut seen = [0u8; 4];
        assert!(shared.read(8, &mut seen));
        assert_eq!(&seen, b"wasi", "written through to the memory");
        m.zero(8, 2).unwrap();
        assert_eq!(m.string(8, 4).unwrap(), b"\0\0si");
        assert_eq!(m.with_mut(65535, 2, |_| ()), Err(Errno::FAULT));
    }

    #[test]
    fn empty_memory_faults_everything_but_empty_ranges() {
        let mut bytes: [u8; 0] = [];
        let m = Mem::new(&mut bytes);
        assert_eq!(m.read_u8(0), Err(Errno::FAULT));
        assert!(m.slice(0, 0).is_ok());
        assert_eq!(m.string(0, 1), Err(Errno::FAULT));
    }
}
