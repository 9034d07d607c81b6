//! Runtime storage that compiled code reads and writes through raw pointers:
//! VMContext blocks, linear-memory reservations, table element arrays and
//! global cells.
//!
//! Rule: everything compiled code may point into lives in a [`Block`] or a
//! [`Reservation`] that never moves and belongs to one store (blocks are
//! shared through `Rc`s that all live in that store), which frees
//! it only when the store is dropped (see `store.rs`); so a pointer stored
//! into one (a table element, an import slot) stays valid as long as any
//! wasm of that store can run. Reads and writes go through the checked
//! accessors here, never through Rust references, since compiled code
//! aliases the memory. Neither type is `Send` or `Sync` by itself: they
//! move between threads only inside their store.

#![allow(
    unsafe_code,
    reason = "allocates and accesses memory shared with compiled code"
)]

use std::alloc::Layout;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::{Mutex, PoisonError};

use crate::traphandler;
use wasmo_artifact_format::VMOffsets;

/// A zeroed, 16-byte aligned heap block that compiled code accesses by
/// address (a VMContext, a table's elements, a host-made definition).
pub(crate) struct Block {
    ptr: NonNull<u8>,
    size: usize,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("addr", &self.ptr)
            .field("size", &self.size)
            .finish()
    }
}

impl Block {
    /// Allocates `size` zeroed bytes (at least 16), 16-byte aligned.
    pub(crate) fn new(size: usize) -> Result<Rc<Block>, String> {
        let size = size.max(16);
        let layout = Layout::from_size_align(size, 16)
            .map_err(|e| format!("cannot allocate {size} bytes: {e}"))?;
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr =
            NonNull::new(raw).ok_or_else(|| format!("out of memory allocating {size} bytes"))?;
        Ok(Rc::new(Block { ptr, size }))
    }

    /// The block's address.
    pub(crate) fn base(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The block's size in bytes.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    fn at(&self, off: usize, len: usize) -> *mut u8 {
        // A bad offset is a loader bug (offsets come from VMOffsets for
        // this block's own counts); stop rather than corrupt memory.
        if off.checked_add(len).is_none_or(|end| end > self.size) {
            std::process::abort();
        }
        // SAFETY: `off + len <= size`, so the result stays inside the allocation.
        unsafe { self.ptr.as_ptr().add(off) }
    }

    /// The address of byte `off`.
    pub(crate) fn addr(&self, off: u32) -> *mut u8 {
        self.at(off as usize, 0)
    }

    /// Writes a native-endian `u64` (or pointer) at `off`.
    pub(crate) fn write_u64(&self, off: u32, v: u64) {
        let p = self.at(off as usize, 8);
        // SAFETY: `at` checked the 8 bytes lie inside the allocation.
        unsafe { p.cast::<u64>().write_unaligned(v) }
    }

    /// Reads a `u64` at `off`.
    pub(crate) fn read_u64(&self, off: u32) -> u64 {
        let p = self.at(off as usize, 8);
        // SAFETY: `at` checked the 8 bytes lie inside the allocation.
        unsafe { p.cast::<u64>().read_unaligned() }
    }

    /// Writes a `u32` at `off`.
    pub(crate) fn write_u32(&self, off: u32, v: u32) {
        let p = self.at(off as usize, 4);
        // SAFETY: `at` checked the 4 bytes lie inside the allocation.
        unsafe { p.cast::<u32>().write_unaligned(v) }
    }

    /// Writes 16 bytes at `off`.
    pub(crate) fn write_16(&self, off: u32, v: [u8; 16]) {
        let p = self.at(off as usize, 16);
        // SAFETY: `at` checked the 16 bytes lie inside the allocation.
        unsafe { p.cast::<[u8; 16]>().write_unaligned(v) }
    }

    /// Reads 16 bytes at `off`.
    pub(crate) fn read_16(&self, off: u32) -> [u8; 16] {
        let p = self.at(off as usize, 16);
        // SAFETY: `at` checked the 16 bytes lie inside the allocation.
        unsafe { p.cast::<[u8; 16]>().read_unaligned() }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        if let Ok(layout) = Layout::from_size_align(self.size, 16) {
            // SAFETY: allocated in `new` with this very layout.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr(), layout) }
        }
    }
}

/// A place in a [`Block`]: where a definition (memory, table, global) lives.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub(crate) block: Rc<Block>,
    pub(crate) off: u32,
}

impl Slot {
    /// The slot's address.
    pub(crate) fn addr(&self) -> *mut u8 {
        self.block.addr(self.off)
    }
    pub(crate) fn read_u64(&self, rel: u32) -> u64 {
        self.block.read_u64(self.off + rel)
    }
    pub(crate) fn write_u64(&self, rel: u32, v: u64) {
        self.block.write_u64(self.off + rel, v)
    }
    pub(crate) fn read_16(&self) -> [u8; 16] {
        self.block.read_16(self.off)
    }
    pub(crate) fn write_16(&self, v: [u8; 16]) {
        self.block.write_16(self.off, v)
    }
}

/// The host's page size (asked once; every call into wasm needs it).
pub(crate) fn host_page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(n)
            .ok()
            .filter(|n| n.is_power_of_two())
            .unwrap_or(4096)
    })
}

/// A transparent huge page on x86-64 and (with 4 KiB pages) AArch64.
const HUGE_PAGE: usize = 2 << 20;

/// Whether linear memories ask for transparent huge pages: only when the
/// environment says `WASMO_HUGE_PAGES=1` (read once per process).
///
/// Not by default, because what they buy depends on the host. On the
/// benchmark machine (a Firecracker VM whose memory the hypervisor backs
/// lazily) the memory-bound kernel ran in 0.30 s with huge pages in half
/// the runs and in 0.65 s in the other half, against 0.45 s with small
/// pages every time: a fresh 2 MiB page is often guest memory never
/// touched before, and zeroing it costs a hypervisor fault per 4 KiB
/// (`clear_page_erms` was 55% of the slow runs). Serverless hosts look
/// like that; on bare metal huge pages are a plain win.
fn huge_pages_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var_os("WASMO_HUGE_PAGES").is_some_and(|v| v == "1"))
}

/// What [`Reservation::map_file_private`] did.
#[derive(Debug)]
pub(crate) enum FileMapping {
    /// The file's pages are mapped.
    Mapped,
    /// Nothing changed (unaligned, or the kernel refused); copy the bytes
    /// instead.
    NotMapped,
}

/// An address-space reservation for one linear memory: `accessible` bytes
/// at the start are read-write, the rest (up to `len`) is inaccessible and
/// registered with the trap handler, so a wasm access there becomes
/// "out of bounds memory access".
#[derive(Debug)]
pub(crate) struct Reservation {
    base: NonNull<u8>,
    len: usize,
    accessible: Mutex<usize>,
}

impl Reservation {
    /// Reserves `len` bytes, the first `accessible` read-write.
    ///
    /// With huge pages switched on ([`huge_pages_enabled`]), a reservation
    /// of at least [`HUGE_PAGE`] starts on a huge-page boundary and is
    /// marked `MADV_HUGEPAGE`, so that where a memory is used densely the
    /// kernel backs it with 2 MiB pages: a fraction of the page faults and
    /// TLB misses of 4 KiB pages. Only whole 2 MiB stretches of the
    /// read-write part can become huge pages, so a small memory stays in
    /// small pages.
    pub(crate) fn new(len: usize, accessible: usize) -> Result<Reservation, String> {
        Self::with_huge_pages(len, accessible, huge_pages_enabled())
    }

    /// [`Self::new`], asking for huge pages or not.
    fn with_huge_pages(
        len: usize,
        accessible: usize,
        huge_pages: bool,
    ) -> Result<Reservation, String> {
        let len = len.max(host_page_size());
        let huge = len >= HUGE_PAGE && huge_pages;
        let slack = if huge { HUGE_PAGE } else { 0 };
        let map_len = len
            .checked_add(slack)
            .ok_or("linear memory reservation overflows the address space")?;
        // SAFETY: an anonymous private mapping at an address the kernel
        // chooses touches no existing memory.
        let mapped = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if mapped == libc::MAP_FAILED {
            return Err(format!(
                "cannot reserve {len} bytes of address space for a linear memory: {}",
                std::io::Error::last_os_error()
            ));
        }
        let raw = if huge {
            let start = mapped as usize;
            let aligned = start.next_multiple_of(HUGE_PAGE);
            let head = aligned - start;
            let tail = slack - head;
            // SAFETY: `start..aligned` and `aligned + len..start + map_len`
            // are the two ends of the mapping just made, which nothing else
            // knows of yet; `aligned..aligned + len` stays mapped. (Both
            // ends are page-aligned: mmap returns pages and HUGE_PAGE is a
            // multiple of the page size.)
            unsafe {
                if head > 0 {
                    libc::munmap(mapped, head);
                }
                if tail > 0 {
                    libc::munmap((aligned + len) as *mut libc::c_void, tail);
                }
            }
            let raw = aligned as *mut libc::c_void;
            // SAFETY: advice on our own fresh mapping; MADV_HUGEPAGE changes
            // how the kernel backs it, never its contents or protection. A
            // kernel without transparent huge pages refuses it, harmlessly.
            unsafe { libc::madvise(raw, len, libc::MADV_HUGEPAGE) };
            raw
        } else {
            mapped
        };
        let base = NonNull::new(raw.cast::<u8>()).ok_or("mmap returned null")?;
        let r = Reservation {
            base,
            len,
            accessible: Mutex::new(0),
        };
        // Compiled code assumes it (see `VMOffsets::MEMORY_BASE_ALIGN`);
        // mmap returns whole pages, so this only fails on a host with pages
        // smaller than that.
        if !(r.base.as_ptr() as usize as u64).is_multiple_of(VMOffsets::MEMORY_BASE_ALIGN) {
            return Err(format!(
                "linear memory at {:p} is not aligned to {} bytes",
                r.base.as_ptr(),
                VMOffsets::MEMORY_BASE_ALIGN
            ));
        }
        traphandler::register_memory(r.base.as_ptr() as usize, len);
        r.make_accessible(accessible)?;
        Ok(r)
    }

    /// The first byte.
    pub(crate) fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// The whole reservation's length.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Makes the first `bytes` bytes read-write (never shrinks).
    pub(crate) fn make_accessible(&self, bytes: usize) -> Result<(), String> {
        let mut acc = self
            .accessible
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if bytes <= *acc {
            return Ok(());
        }
        if bytes > self.len {
            return Err("memory would grow past its reservation".into());
        }
        let page = host_page_size();
        let from = *acc;
        let to = bytes.div_ceil(page) * page;
        let to = to.min(self.len);
        // SAFETY: `from..to` lies inside our own reservation; nothing else
        // maps there.
        let rc = unsafe {
            libc::mprotect(
                self.base.as_ptr().add(from).cast(),
                to - from,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if rc != 0 {
            return Err(format!(
                "cannot commit linear memory: {}",
                std::io::Error::last_os_error()
            ));
        }
        *acc = to;
        Ok(())
    }

    /// Maps `len` bytes of `file` from `file_offset` over `off..off + len`
    /// of the memory, read-write and private: the pages stay shared with the
    /// page cache (and every other instance mapping them) until written,
    /// and a write copies the page for this memory only.
    ///
    /// The range must be host-page aligned and lie inside the accessible
    /// part; whatever the memory held there is replaced, so this runs
    /// before anything writes it. [`FileMapping::NotMapped`] leaves the
    /// range read-write and zero, as before the call, for the caller to copy
    /// the bytes instead; an error means the range may be unusable.
    /// Later [`Self::make_accessible`] calls only touch pages past the
    /// accessible part, and dropping the reservation unmaps these pages
    /// with the rest.
    pub(crate) fn map_file_private(
        &self,
        off: usize,
        len: usize,
        file: &std::fs::File,
        file_offset: u64,
    ) -> Result<FileMapping, String> {
        use std::os::fd::AsRawFd;
        // Held throughout, so no grow runs concurrently (none can anyway:
        // the instance is not yet visible).
        let acc = self
            .accessible
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let page = host_page_size();
        let base = self.base.as_ptr() as usize;
        let aligned = base.is_multiple_of(page)
            && off.is_multiple_of(page)
            && len.is_multiple_of(page)
            && file_offset.is_multiple_of(page as u64);
        if len == 0 || !aligned || off.checked_add(len).is_none_or(|end| end > *acc) {
            return Ok(FileMapping::NotMapped);
        }
        let Ok(file_off) = libc::off_t::try_from(file_offset) else {
            return Ok(FileMapping::NotMapped);
        };
        // SAFETY: `off..off + len` is page-aligned and inside the accessible
        // part of our own reservation (checked above), which nothing but
        // this memory uses, so MAP_FIXED replaces only this memory's pages
        // with pages that are readable and writable just the same. No Rust
        // reference points into the reservation (it is accessed through raw
        // pointers only), so none sees its bytes change. (That nothing wrote
        // those pages yet is the caller's concern for correctness, not for
        // safety.)
        let raw = unsafe {
            libc::mmap(
                self.base.as_ptr().add(off).cast(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_FIXED,
                file.as_raw_fd(),
                file_off,
            )
        };
        if raw != libc::MAP_FAILED {
            return Ok(FileMapping::Mapped);
        }
        let err = std::io::Error::last_os_error();
        // A failed MAP_FIXED mmap may already have unmapped the range on
        // some kernels; put fresh zero pages back so the fallback copy
        // writes into mapped memory.
        // SAFETY: the same range of our own reservation as above; replacing
        // it with anonymous read-write pages restores its state before the
        // call (accessible and zero). Caveat a reviewer should know: if the
        // failed call did unmap the range, another thread's mmap could in
        // principle have been placed in that hole before this line; Linux
        // since 6.12 restores the old mapping on failure, and older kernels
        // fail this way only on ENOMEM after unmapping, so this is a
        // narrow window, not a routine path.
        let raw = unsafe {
            libc::mmap(
                self.base.as_ptr().add(off).cast(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(format!(
                "cannot map the data image ({err}) nor restore the memory: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(FileMapping::NotMapped)
    }

    /// Copies `buf.len()` bytes from offset `off` out of the memory; the
    /// caller has checked `off + buf.len()` against the memory's length.
    pub(crate) fn read(&self, off: usize, buf: &mut [u8]) -> bool {
        if !self.in_accessible(off, buf.len()) {
            return false;
        }
        // SAFETY: the range is inside the read-write part of our mapping,
        // and `buf` is a distinct Rust buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(self.base.as_ptr().add(off), buf.as_mut_ptr(), buf.len())
        };
        true
    }

    /// Copies `data` into the memory at `off` (checked like [`Self::read`]).
    pub(crate) fn write(&self, off: usize, data: &[u8]) -> bool {
        if !self.in_accessible(off, data.len()) {
            return false;
        }
        // SAFETY: the range is inside the read-write part of our mapping,
        // and `data` is a distinct Rust buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.base.as_ptr().add(off), data.len())
        };
        true
    }

    /// The first `len` bytes, if accessible.
    ///
    /// # Safety
    ///
    /// No compiled code may write the memory while the slice lives: the
    /// caller holds a borrow of the store that owns this reservation, and
    /// wasm of a store runs only under an exclusive borrow of it.
    pub(crate) unsafe fn bytes(&self, len: usize) -> Option<&[u8]> {
        let base = self.accessible_base(len)?;
        // SAFETY: the first `len` bytes are mapped read-write (checked by
        // `accessible_base`) and, per the contract, not written while the
        // slice lives.
        Some(unsafe { std::slice::from_raw_parts(base, len) })
    }

    /// The first `len` bytes, mutably, if accessible.
    ///
    /// # Safety
    ///
    /// As for [`Self::bytes`]; and `&mut self` must stand for exclusive use
    /// of the memory (it comes from an exclusive borrow of the store).
    pub(crate) unsafe fn bytes_mut(&mut self, len: usize) -> Option<&mut [u8]> {
        let base = self.accessible_base(len)?;
        // SAFETY: as in `bytes`; no other slice of this memory exists
        // while `&mut self` is borrowed.
        Some(unsafe { std::slice::from_raw_parts_mut(base, len) })
    }

    /// The base address, if the first `len` bytes are accessible.
    pub(crate) fn accessible_base(&self, len: usize) -> Option<*mut u8> {
        self.in_accessible(0, len).then_some(self.base.as_ptr())
    }

    fn in_accessible(&self, off: usize, len: usize) -> bool {
        let acc = *self
            .accessible
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        off.checked_add(len).is_some_and(|end| end <= acc)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        traphandler::unregister_memory(self.base.as_ptr() as usize);
        // SAFETY: we mapped exactly this range in `new`; pointers into it
        // live only in blocks of the same store, which is being dropped
        // (no wasm of it can run any more).
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `VmFlags` of the `/proc/self/smaps` entry containing `addr`.
    fn vm_flags(addr: usize) -> String {
        let smaps = match std::fs::read_to_string("/proc/self/smaps") {
            Ok(s) => s,
            Err(e) => panic!("/proc/self/smaps: {e}"),
        };
        let mut inside = false;
        for line in smaps.lines() {
            let range = line.split_whitespace().next().unwrap_or("");
            if let Some((a, b)) = range.split_once('-') {
                if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                {
                    inside = a <= addr && addr < b;
                    continue;
                }
            }
            if inside {
                if let Some(flags) = line.strip_prefix("VmFlags:") {
                    return flags.trim().to_owned();
                }
            }
        }
        panic!("no mapping contains {addr:#x}")
    }

    fn reserve(len: usize, accessible: usize, huge: bool) -> Reservation {
        match Reservation::with_huge_pages(len, accessible, huge) {
            Ok(r) => r,
            Err(e) => panic!("reserving: {e}"),
        }
    }

    #[test]
    fn huge_page_reservations_are_aligned_and_advised() {
        let r = reserve(64 << 20, 8 << 20, true);
        let base = r.base() as usize;
        assert!(base.is_multiple_of(HUGE_PAGE), "{base:#x}");
        // A kernel without transparent huge pages refuses the advice.
        if std::path::Path::new("/sys/kernel/mm/transparent_hugepage").exists() {
            let flags = vm_flags(base);
            assert!(flags.split(' ').any(|f| f == "hg"), "{flags}");
        }
        assert!(r.write(HUGE_PAGE + 5, b"huge"));
        let mut back = [0u8; 4];
        assert!(r.read(HUGE_PAGE + 5, &mut back));
        assert_eq!(&back, b"huge");
        // The guard part is advised too, and still inaccessible.
        assert!(!r.write(8 << 20, b"x"));
        drop(r);

        let small = reserve(64 << 20, 8 << 20, false);
        let flags = vm_flags(small.base() as usize);
        assert!(!flags.split(' ').any(|f| f == "hg"), "{flags}");
        // Below a huge page, nothing is asked for either way.
        let tiny = reserve(1 << 20, 65536, true);
        let flags = vm_flags(tiny.base() as usize);
        assert!(!flags.split(' ').any(|f| f == "hg"), "{flags}");
    }
}
