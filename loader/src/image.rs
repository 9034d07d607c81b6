//! Mapping an artifact's image: text R+X, rodata R, relro written once by
//! the relocations and then R.
//!
//! Rule: code is never writable. The image is mapped read-only and private
//! from the module's snapshot of the artifact (shared by its instances in
//! this process, not with other processes); only the relro pages are made
//! writable, and only while the load-time relocations (already checked by
//! `module.rs` and `verify.rs`) are applied. Nothing here runs before
//! every check on the artifact has passed.
//!
//! The artifact's data image (a memory's initial contents) is not mapped
//! here but into each instance's memory, private and writable, by
//! [`DataImage::apply`]; the module keeps its snapshot's `File` open for
//! that. Everything is mapped from a sealed in-memory [`snapshot`] of the
//! artifact taken before it is checked, never from the artifact file
//! itself, so changing the file in place cannot reach a loaded module.

#![allow(
    unsafe_code,
    reason = "maps the image, applies relocations and changes page protections"
)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
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

/// Copies the first `len` bytes of `file` into a sealed anonymous file
/// (`memfd`), which the loader then reads, hashes and maps instead of the
/// artifact: the bytes checked are the bytes mapped, and truncating or
/// rewriting the artifact in place afterwards cannot reach a loaded
/// module's code or data pages (it would raise SIGBUS or change code under
/// a running instance). The seals make the copy immutable for as long as
/// anything maps it.
///
/// Where `memfd_create` is unavailable the file itself is used (with the
/// old rule: replace artifacts by renaming).
///
/// The copy is named `wasmo:<path>` (its tail, if long) so that
/// `/proc/<pid>/maps` still says which artifact a mapping came from.
pub(crate) fn snapshot(file: &File, path: &Path, len: u64) -> std::io::Result<File> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        // One write from a mapping of the file: one copy, in the kernel.
        // Only the kernel reads the mapping, so a file truncated meanwhile
        // gives a short copy or EFAULT, never SIGBUS here; a file grown
        // meanwhile is cut to `len`; either way the hash check decides.
        let src = map_file(file)?;
        let n = usize::try_from(len)
            .map_err(std::io::Error::other)?
            .min(src.len());
        match sealed_copy(path.as_os_str().as_bytes(), &src[..n])? {
            Some(copy) => Ok(copy),
            None => file.try_clone(),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (path, len);
        file.try_clone()
    }
}

/// A sealed anonymous file holding `bytes` (an artifact given in memory,
/// `Module::deserialize`): the same kind of snapshot as [`snapshot`]
/// makes, named `wasmo:<name>`. Off Linux, or without `memfd_create`, an
/// unnamed temporary file, which nobody else can reach.
pub(crate) fn snapshot_bytes(name: &[u8], bytes: &[u8]) -> std::io::Result<File> {
    #[cfg(target_os = "linux")]
    if let Some(copy) = sealed_copy(name, bytes)? {
        return Ok(copy);
    }
    let _ = name;
    let mut f = tempfile::tempfile()?;
    std::io::Write::write_all(&mut f, bytes)?;
    Ok(f)
}

/// `bytes` in a new memfd sealed against writes, growth and shrinking;
/// `None` if this kernel has no `memfd_create`.
#[cfg(target_os = "linux")]
fn sealed_copy(name: &[u8], bytes: &[u8]) -> std::io::Result<Option<File>> {
    use std::os::fd::FromRawFd;
    // The kernel takes at most 249 bytes of name; no NUL inside.
    let tail = &name[name.len().saturating_sub(240)..];
    let mut cname: Vec<u8> = b"wasmo:".to_vec();
    cname.extend(tail.iter().copied().filter(|&b| b != 0));
    cname.push(0);
    // SAFETY: a plain system call with a NUL-terminated name; it returns a
    // new descriptor we own, or -1.
    let fd = unsafe {
        libc::memfd_create(
            cname.as_ptr().cast(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENOSYS) {
            return Ok(None);
        }
        return Err(err);
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    let mut copy = unsafe { File::from_raw_fd(fd) };
    std::io::Write::write_all(&mut copy, bytes)?;
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
    // SAFETY: `copy` is our memfd, created with sealing allowed and not
    // mapped by anyone yet.
    if unsafe { libc::fcntl(copy.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Some(copy))
}

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
        // With a perf map requested, the image is copied into anonymous
        // memory: perf symbolises only anonymous executable mappings
        // through /tmp/perf-PID.map, and would look for symbols in the
        // snapshot file otherwise.
        let anonymous = crate::perfmap::enabled();
        let (prot, flags, fd, off) = if anonymous {
            (
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        } else {
            (
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                file_off,
            )
        };
        // SAFETY: a new private mapping (of our open file, read-only, or
        // anonymous and writable) at an address the kernel chooses;
        // `file_off` is page-aligned (checked by the caller) and `len` is
        // non-zero.
        let raw = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, fd, off) };
        if raw == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let base = NonNull::new(raw.cast::<u8>())
            .ok_or_else(|| std::io::Error::other("mmap returned null"))?;
        let image = Image { base, len };
        let b = base.as_ptr();
        if anonymous {
            // SAFETY: `b..b + len` is the writable mapping made above, which
            // nothing else references yet.
            let bytes = unsafe { std::slice::from_raw_parts_mut(b, len) };
            std::os::unix::fs::FileExt::read_exact_at(file, bytes, header.image.offset)?;
            image.protect(0, len, libc::PROT_READ)?;
        }

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

    /// The mapped bytes (read-only after `map`).
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `base..base + len` is our mapping, readable and never
        // written after `map` returned, until `drop` unmaps it.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr(), self.len) }
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        // SAFETY: we mapped exactly this range; the module owning the image
        // outlives every instance (and so every call) using its code.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// A module's data image: where in the artifact snapshot its bytes are and
/// where they go in which memory. Built only from ranges `module.rs`
/// checked (inside the file, page-aligned, inside the memory's initial
/// size).
#[derive(Debug)]
pub(crate) struct DataImage {
    /// The artifact's snapshot (see [`snapshot`]), kept open to map the
    /// image from.
    pub(crate) file: File,
    /// File offset of the image.
    pub(crate) file_offset: u64,
    /// The memory it initialises, in the memory index space (a defined
    /// memory).
    pub(crate) memory: u32,
    /// Wasm address of its first byte.
    pub(crate) wasm_offset: u64,
    /// Its length in bytes.
    pub(crate) len: u64,
}

impl DataImage {
    /// Puts the image into a freshly created memory `res`, before anything
    /// has written it: maps it copy-on-write, or, if that cannot be done,
    /// copies it from the file.
    pub(crate) fn apply(&self, res: &crate::vm::Reservation) -> Result<(), String> {
        let too_big = || "data image larger than the address space".to_owned();
        let off = usize::try_from(self.wasm_offset).map_err(|_| too_big())?;
        let len = usize::try_from(self.len).map_err(|_| too_big())?;
        match res.map_file_private(off, len, &self.file, self.file_offset)? {
            crate::vm::FileMapping::Mapped => Ok(()),
            crate::vm::FileMapping::NotMapped => self.copy(res, off, len),
        }
    }

    /// The fallback: reads the image from the file into the memory.
    fn copy(&self, res: &crate::vm::Reservation, off: usize, len: usize) -> Result<(), String> {
        use std::os::unix::fs::FileExt;
        const CHUNK: usize = 256 * 1024;
        let mut buf = vec![0u8; CHUNK.min(len)];
        let mut done = 0usize;
        while done < len {
            let n = CHUNK.min(len - done);
            let chunk = &mut buf[..n];
            self.file
                .read_exact_at(chunk, self.file_offset + done as u64)
                .map_err(|e| format!("cannot read the data image from the artifact: {e}"))?;
            if !res.write(off + done, chunk) {
                return Err("data image outside the memory".into());
            }
            done += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::{FileMapping, Reservation};

    /// A file of two pages: junk, then the image (`0xab` then `0xcd`).
    fn artifact_file(name: &str) -> (std::path::PathBuf, File) {
        let path = std::env::temp_dir().join(format!(
            "wasmo-data-image-{}-{name}.bin",
            std::process::id()
        ));
        let mut bytes = vec![0x11u8; 4096];
        bytes.extend_from_slice(&[0xab; 2048]);
        bytes.extend_from_slice(&[0xcd; 2048]);
        if let Err(e) = std::fs::write(&path, &bytes) {
            panic!("writing {}: {e}", path.display());
        }
        match File::open(&path) {
            Ok(f) => (path, f),
            Err(e) => panic!("opening {}: {e}", path.display()),
        }
    }

    fn image(file: File, wasm_offset: u64) -> DataImage {
        DataImage {
            file,
            file_offset: 4096,
            memory: 0,
            wasm_offset,
            len: 4096,
        }
    }

    fn reservation() -> Reservation {
        match Reservation::new(1 << 20, 65536) {
            Ok(r) => r,
            Err(e) => panic!("reserving: {e}"),
        }
    }

    fn bytes_at(res: &Reservation, off: usize, len: usize) -> Vec<u8> {
        let mut buf = vec![0u8; len];
        assert!(res.read(off, &mut buf), "{off}+{len} not accessible");
        buf
    }

    #[test]
    fn aligned_images_are_mapped_and_private() {
        let (path, file) = artifact_file("mapped");
        let res = reservation();
        match res.map_file_private(8192, 4096, &file, 4096) {
            Ok(FileMapping::Mapped) => {}
            other => panic!("not mapped: {other:?}"),
        }
        assert_eq!(bytes_at(&res, 8191, 2), [0, 0xab]);
        assert_eq!(bytes_at(&res, 8192 + 4095, 2), [0xcd, 0]);
        assert!(res.write(8192, &[1, 2, 3]));
        assert_eq!(bytes_at(&res, 8192, 4), [1, 2, 3, 0xab]);
        // The write stayed in this memory: the file is unchanged.
        let on_disk = std::fs::read(&path).unwrap_or_default();
        assert_eq!(&on_disk[4096..4100], &[0xab; 4]);
        // Growing past the mapped pages leaves them alone.
        assert!(res.make_accessible(131072).is_ok());
        assert_eq!(bytes_at(&res, 8192, 4), [1, 2, 3, 0xab]);
        assert_eq!(bytes_at(&res, 131071, 1), [0]);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn unaligned_images_are_copied_instead() {
        let (path, file) = artifact_file("copied");
        let res = reservation();
        assert!(matches!(
            res.map_file_private(100, 4096, &file, 4096),
            Ok(FileMapping::NotMapped)
        ));
        // Refused before anything changed.
        assert_eq!(bytes_at(&res, 100, 1), [0]);
        let (_, file) = artifact_file("copied");
        let img = image(file, 100);
        assert_eq!(img.apply(&res), Ok(()));
        assert_eq!(bytes_at(&res, 99, 2), [0, 0xab]);
        assert_eq!(bytes_at(&res, 100 + 4095, 2), [0xcd, 0]);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn images_outside_the_accessible_part_are_an_error() {
        let (path, file) = artifact_file("outside");
        let res = reservation();
        assert!(image(file, 65536 - 2048).apply(&res).is_err());
        let _ = std::fs::remove_file(path);
    }
}
