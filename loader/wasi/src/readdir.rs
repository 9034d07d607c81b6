//! `fd_readdir`: the listing of a directory descriptor as packed
//! `dirent` records, paged by cookie.
//!
//! Rule: a cookie is an index into one listing, taken when the guest asks
//! for cookie 0 and kept on the descriptor, so that a program deleting
//! entries while it lists them still sees every entry exactly once.

use std::os::unix::ffi::OsStrExt;

use crate::abi::{filetype, rights};
use crate::ctx::{Handle, WasiCtx};
use crate::errno::Errno;
use crate::mem::Mem;
use crate::stat::fd_stat;
use crate::table::Args;

/// One directory entry for `fd_readdir`.
#[derive(Debug, Clone)]
pub struct DirEntry {
    name: Vec<u8>,
    ino: u64,
    ty: u8,
}

fn cap_filetype(t: cap_std::fs::FileType) -> u8 {
    use cap_fs_ext::FileTypeExt;
    if t.is_dir() {
        filetype::DIRECTORY
    } else if t.is_file() {
        filetype::REGULAR_FILE
    } else if t.is_symlink() {
        filetype::SYMBOLIC_LINK
    } else if t.is_char_device() {
        filetype::CHARACTER_DEVICE
    } else if t.is_block_device() {
        filetype::BLOCK_DEVICE
    } else if t.is_socket() {
        filetype::SOCKET_STREAM
    } else {
        filetype::UNKNOWN
    }
}

/// `.`, `..`, then the entries in the host's order (stable while the
/// directory does not change; the cookie is an index into this list).
fn dir_entries(dir: &cap_std::fs::Dir) -> Result<Vec<DirEntry>, Errno> {
    use rustix::fs::DirEntryExt;
    let ino = fd_stat(rustix::fd::AsFd::as_fd(dir))?.ino;
    let mut out = vec![
        DirEntry {
            name: b".".to_vec(),
            ino,
            ty: filetype::DIRECTORY,
        },
        DirEntry {
            name: b"..".to_vec(),
            ino: 0,
            ty: filetype::DIRECTORY,
        },
    ];
    for entry in dir.entries()? {
        let entry = entry?;
        let ty = entry
            .file_type()
            .map(cap_filetype)
            .unwrap_or(filetype::UNKNOWN);
        out.push(DirEntry {
            name: entry.file_name().as_bytes().to_vec(),
            ino: entry.ino(),
            ty,
        });
    }
    Ok(out)
}

/// The `dirent` records from index `start` on, cut at `cap` bytes (the
/// last record may be partial, as preview1 specifies).
fn encode_dirents(entries: &[DirEntry], start: usize, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate().skip(start) {
        if out.len() >= cap {
            break;
        }
        let next = u64::try_from(i).unwrap_or(u64::MAX).saturating_add(1);
        out.extend_from_slice(&next.to_le_bytes());
        out.extend_from_slice(&e.ino.to_le_bytes());
        out.extend_from_slice(
            &u32::try_from(e.name.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        out.push(e.ty);
        out.extend_from_slice(&[0; 3]);
        out.extend_from_slice(&e.name);
    }
    out.truncate(cap);
    out
}

/// `fd_readdir(fd, buf, buf_len, cookie, bufused_ptr)`.
pub fn fd_readdir(ctx: &mut WasiCtx, mem: &mut Mem<'_>, a: &Args<'_>) -> Result<(), Errno> {
    let e = ctx.get_mut(a.u32(0))?;
    let Handle::Dir(dir) = &e.handle else {
        return Err(Errno::NOTDIR);
    };
    e.require(rights::FD_READDIR)?;
    let (buf, len, cookie) = (a.u32(1), a.u32(2), a.u64(3));
    mem.range(buf, len)?;
    mem.range(a.u32(4), 4)?;
    let listing = match e.listing.take() {
        Some(l) if cookie != 0 => l,
        _ => dir_entries(dir)?,
    };
    let start = usize::try_from(cookie).unwrap_or(usize::MAX);
    let bytes = encode_dirents(&listing, start, usize::try_from(len).unwrap_or(usize::MAX));
    e.listing = Some(listing);
    mem.write_bytes(buf, &bytes)?;
    mem.write_size(a.u32(4), bytes.len())
}

/// Emscripten's `getdents64(fd, dirp, count)`: Linux `struct dirent`
/// records (280 bytes each: `d_ino`, `d_off`, `d_reclen`, `d_type`,
/// `d_name[256]`), as many whole ones as fit in `count`; 0 at the end. The
/// listing is taken at the first call and consumed from the front, so
/// each entry is returned once.
pub(crate) fn getdents64(
    ctx: &mut WasiCtx,
    mem: &mut Mem<'_>,
    fd: u32,
    dirp: u32,
    count: u32,
) -> Result<i32, Errno> {
    const SIZE: usize = 280;
    let entry = ctx.get_mut(fd)?;
    let Handle::Dir(dir) = &entry.handle else {
        return Err(Errno::NOTDIR);
    };
    entry.require(rights::FD_READDIR)?;
    let listing = match entry.listing.take() {
        Some(l) => l,
        None => dir_entries(dir)?,
    };
    let fit = (count as usize / SIZE).min(listing.len());
    if fit == 0 && !listing.is_empty() {
        entry.listing = Some(listing);
        return Err(Errno::INVAL);
    }
    let mut out = vec![0u8; fit * SIZE];
    for (i, (rec, e)) in out.chunks_exact_mut(SIZE).zip(&listing).enumerate() {
        rec[0..8].copy_from_slice(&e.ino.to_le_bytes());
        rec[8..16].copy_from_slice(&(((i + 1) * SIZE) as u64).to_le_bytes());
        rec[16..18].copy_from_slice(&(SIZE as u16).to_le_bytes());
        rec[18] = match e.ty {
            filetype::DIRECTORY => 4,
            filetype::REGULAR_FILE => 8,
            filetype::SYMBOLIC_LINK => 10,
            filetype::CHARACTER_DEVICE => 2,
            filetype::BLOCK_DEVICE => 6,
            filetype::SOCKET_STREAM => 12,
            _ => 0,
        };
        let name = &e.name[..e.name.len().min(255)];
        rec[19..19 + name.len()].copy_from_slice(name);
    }
    mem.write_bytes(dirp, &out)?;
    entry.listing = Some(listing[fit..].to_vec());
    Ok(out.len() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirents_are_packed_and_cut_at_the_buffer() {
        let entries = vec![
            DirEntry {
                name: b"a".to_vec(),
                ino: 7,
                ty: filetype::REGULAR_FILE,
            },
            DirEntry {
                name: b"bcd".to_vec(),
                ino: 9,
                ty: filetype::DIRECTORY,
            },
        ];
        let all = encode_dirents(&entries, 0, 1000);
        assert_eq!(all.len(), 24 + 1 + 24 + 3);
        assert_eq!(&all[0..8], &1u64.to_le_bytes());
        assert_eq!(&all[8..16], &7u64.to_le_bytes());
        assert_eq!(&all[16..20], &1u32.to_le_bytes());
        assert_eq!(all[20], filetype::REGULAR_FILE);
        assert_eq!(all[24], b'a');
        assert_eq!(&all[25..33], &2u64.to_le_bytes());
        assert_eq!(encode_dirents(&entries, 1, 1000).len(), 27);
        assert_eq!(encode_dirents(&entries, 0, 30).len(), 30);
        assert!(encode_dirents(&entries, 5, 1000).is_empty());
    }
}
