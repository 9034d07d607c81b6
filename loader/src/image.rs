//! Mapping an artifact's image: text R+X, rodata R, relro written once by
//! the relocations and then R.
//!
//! Rule: code is never writable. The image is mapped read-only from the
//! file (private, so code pages stay shared with every other process
//! running the same artifact); only the relro pages are made writable, and
//! only while the load-time relocations (already bounds-checked by
//! `module.rs`) are applied. Nothing here runs before every check on the
//! artifact has passed.

#![allow(
    unsafe_code,
    reason = "maps the image, applies relocations and changes page protections"
)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;

use wasmo_artifact_format::Header;

/// The mapped image of a loaded module.
#[derive(Debug)]
pub(crate) struct Image {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: after `map` returns the mapping is read-only (R or R+X) and
// never changes until it is unmapped on drop.
unsafe impl Send for Image {}
// SAFETY: see `Send` above.
unsafe impl Sync for Image {}

/// Maps the file read-only to check and parse it.
pub(crate) fn map_file(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the mapping is private and read-only; if another process
    // modifies the file meanwhile, the parse may see inconsistent bytes,
    // which its checks (hash, bounds, rkyv validation) turn into an error.
    unsafe { memmap2::Mmap::map(file) }
}

fn align_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

impl Image {
    /// Maps the image of `file` as `header` describes it and applies
    /// `relocs` (`(image offset, value)` pairs whose 8 bytes lie in relro),
    /// computed by `relocs(base)` once the base address is known.
    pub(crate) fn map(
        file: &File,
        header: &Header,
        relocs: impl FnOnce(usize) -> Vec<(u64, u64)>,
    ) -> std::io::Result<Image> {
        let len = usize::try_from(header.image.len).map_err(std::io::Error::other)?;
        let file_off = libc::off_t::try_from(header.image.offset).map_err(std::io::Error::other)?;
        let page = crate::vm::host_page_size();
        // SAFETY: a new private read-only mapping of our open file at an
        // address the kernel chooses; `file_off` is page-aligned (checked by
        // the caller) and `len` is non-zero.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                file_off,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let base = NonNull::new(raw.cast::<u8>())
            .ok_or_else(|| std::io::Error::other("mmap returned null"))?;
        let image = Image { base, len };
        let b = base.as_ptr();

        let relro_start = header.relro.offset as usize;
        let relro_len = align_up(header.relro.len as usize, page).min(len - relro_start.min(len));
        let relocs = relocs(b as usize);
        if !relocs.is_empty() {
            image.protect(relro_start, relro_len, libc::PROT_READ | libc::PROT_WRITE)?;
            for (off, value) in relocs {
                // SAFETY: the caller checked `off..off + 8` lies in relro,
                // which is mapped read-write right now.
                unsafe { b.add(off as usize).cast::<u64>().write_unaligned(value) };
            }
            image.protect(relro_start, relro_len, libc::PROT_READ)?;
        }
        let text_len = align_up(header.text_len as usize, page).min(len);
        image.protect(0, text_len, libc::PROT_READ | libc::PROT_EXEC)?;
        Ok(image)
    }

    fn protect(&self, off: usize, len: usize, prot: libc::c_int) -> std::io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        if off.checked_add(len).is_none_or(|e| e > self.len) {
            return Err(std::io::Error::other("protection range outside the image"));
        }
        // SAFETY: `off..off + len` is inside our own mapping (checked above)
        // and page-aligned (image parts are page-aligned).
        let rc = unsafe { libc::mprotect(self.base.as_ptr().add(off).cast(), len, prot) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Address of the image's first byte (the start of text).
    pub(crate) fn base(&self) -> usize {
        self.base.as_ptr() as usize
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        // SAFETY: we mapped exactly this range; the module owning the image
        // outlives every instance (and so every call) using its code.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}
