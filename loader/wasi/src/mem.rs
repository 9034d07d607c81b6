//! Bounds-checked access to the calling instance's linear memory: little-
//! endian integers, byte ranges, `iovec` arrays and guest strings.
//!
//! Rule: every guest pointer and length goes through [`Mem::range`], which
//! computes in `usize` with checked arithmetic; an access outside the memory
//! is `EFAULT`, never an index panic. No other module indexes guest memory.

use std::ops::Range;

use crate::errno::Errno;

/// The guest's memory for the duration of one host call.
#[derive(Debug)]
pub struct Mem<'a> {
    bytes: &'a mut [u8],
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
        Mem { bytes }
    }

    /// The byte range `[ptr, ptr + len)`, or `EFAULT` if it leaves memory.
    pub fn range(&self, ptr: u32, len: u32) -> Result<Range<usize>, Errno> {
        let start = usize::try_from(ptr).map_err(|_| Errno::FAULT)?;
        let len = usize::try_from(len).map_err(|_| Errno::FAULT)?;
        let end = start.checked_add(len).ok_or(Errno::FAULT)?;
        if end > self.bytes.len() {
            return Err(Errno::FAULT);
        }
        Ok(start..end)
    }

    /// `len` bytes at `ptr`.
    pub fn slice(&self, ptr: u32, len: u32) -> Result<&[u8], Errno> {
        let r = self.range(ptr, len)?;
        self.bytes.get(r).ok_or(Errno::FAULT)
    }

    /// `len` writable bytes at `ptr`.
    pub fn slice_mut(&mut self, ptr: u32, len: u32) -> Result<&mut [u8], Errno> {
        let r = self.range(ptr, len)?;
        self.bytes.get_mut(r).ok_or(Errno::FAULT)
    }

    fn array<const N: usize>(&self, ptr: u32) -> Result<[u8; N], Errno> {
        let len = u32::try_from(N).map_err(|_| Errno::FAULT)?;
        let mut out = [0u8; N];
        out.copy_from_slice(self.slice(ptr, len)?);
        Ok(out)
    }

    /// Copies `data` to `ptr`.
    pub fn write_bytes(&mut self, ptr: u32, data: &[u8]) -> Result<(), Errno> {
        let len = u32::try_from(data.len()).map_err(|_| Errno::FAULT)?;
        self.slice_mut(ptr, len)?.copy_from_slice(data);
        Ok(())
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
        Ok(self.slice(ptr, len)?.to_vec())
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
        assert_eq!(m.slice(16, 0).unwrap(), &[] as &[u8]);
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

    #[test]
    fn empty_memory_faults_everything_but_empty_ranges() {
        let mut bytes: [u8; 0] = [];
        let m = Mem::new(&mut bytes);
        assert_eq!(m.read_u8(0), Err(Errno::FAULT));
        assert!(m.slice(0, 0).is_ok());
        assert_eq!(m.string(0, 1), Err(Errno::FAULT));
    }
}
