//! The memory initialisation image: the bytes of memory 0's active data
//! segments laid out as they will sit in linear memory, page-aligned, so
//! the loader can map them copy-on-write from the artifact instead of
//! copying every segment at every instantiation (after Wasmtime's memory
//! images).
//!
//! Rule: an image is made only when moving the segments into it cannot
//! change what instantiation does. Every active segment of the module must
//! target memory 0, which must be defined (an imported memory's contents
//! are not ours to replace), 32-bit and unshared, and every one must have
//! an `i32.const` offset and lie inside the memory's *initial* size, so
//! that applying them can never trap and their order only matters where
//! they overlap (later wins, as here). Otherwise the metadata is left
//! untouched and the loader copies segments (and traps) exactly as before.

use wasmo_artifact_format::metadata::{ConstOp, DataMode, MemoryImage, ModuleMetadata};
use wasmo_artifact_format::{MemoryIndex, WASM_PAGE_SIZE};

/// Zero bytes an image may carry beyond twice its segments' bytes. An image
/// is worth its file space when `len <= 2 * segment bytes + SPARSE_SLACK`:
/// a few pages of padding around small segments are always fine, but data
/// scattered across a large memory (a byte at 0 and one at 64 MiB) stays in
/// segments rather than bloating the artifact with zeros.
pub(crate) const SPARSE_SLACK: u64 = 64 * 1024;

/// If `meta`'s data segments qualify (see the module docs), builds the
/// image, records it in `meta.memory_image` and empties the bytes of the
/// segments it replaces (they keep their indices). Returns the image bytes,
/// a multiple of `page_align` long; empty when there is no image.
pub(crate) fn extract(meta: &mut ModuleMetadata, page_align: u64) -> Vec<u8> {
    let Some(plan) = plan(meta, page_align) else {
        return Vec::new();
    };
    let len = usize::try_from(plan.len).unwrap_or(0);
    let mut image = vec![0u8; len];
    for (seg, start) in meta.data.iter_mut().zip(&plan.starts) {
        let Some(start) = *start else { continue };
        if seg.bytes.is_empty() {
            continue;
        }
        // `plan` checked every segment lies in `wasm_offset..+len`.
        let at = (start - plan.wasm_offset) as usize;
        image[at..at + seg.bytes.len()].copy_from_slice(&seg.bytes);
        seg.bytes = Vec::new();
    }
    meta.memory_image = Some(MemoryImage {
        memory: MemoryIndex(0),
        wasm_offset: plan.wasm_offset,
        len: plan.len,
    });
    image
}

/// Where the image goes and which segments it takes.
struct Plan {
    wasm_offset: u64,
    len: u64,
    /// Per data segment: its constant start if it is active (and so goes
    /// into the image).
    starts: Vec<Option<u64>>,
}

fn plan(meta: &ModuleMetadata, page_align: u64) -> Option<Plan> {
    if !page_align.is_power_of_two() {
        return None;
    }
    let imports_memory = meta.imports.iter().any(|i| {
        matches!(
            i.kind,
            wasmo_artifact_format::metadata::ImportKind::Memory(_)
        )
    });
    if imports_memory {
        return None;
    }
    let mem = meta.memories.first()?;
    if mem.memory64 || mem.shared {
        return None;
    }
    let initial = mem.limits.min.checked_mul(WASM_PAGE_SIZE)?;
    let mut starts = Vec::with_capacity(meta.data.len());
    let (mut lo, mut hi, mut total) = (u64::MAX, 0u64, 0u64);
    for seg in &meta.data {
        let DataMode::Active { memory, offset } = &seg.mode else {
            starts.push(None);
            continue;
        };
        if memory.0 != 0 {
            return None;
        }
        let [ConstOp::I32Const(x)] = offset.ops.as_slice() else {
            return None;
        };
        let start = u64::from(*x as u32);
        let len = seg.bytes.len() as u64;
        let end = start.checked_add(len)?;
        if end > initial {
            return None;
        }
        starts.push(Some(start));
        if len > 0 {
            lo = lo.min(start);
            hi = hi.max(end);
            total += len;
        }
    }
    if total == 0 {
        return None;
    }
    let wasm_offset = lo & !(page_align - 1);
    let end = hi.checked_next_multiple_of(page_align)?;
    let len = end - wasm_offset;
    // The initial size is a whole number of 64 KiB pages, so rounding up
    // to a (smaller) page alignment stays inside it; a larger alignment
    // might not.
    if end > initial || len > total.saturating_mul(2).saturating_add(SPARSE_SLACK) {
        return None;
    }
    Some(Plan {
        wasm_offset,
        len,
        starts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmo_artifact_format::metadata::{ConstExpr, DataSegment, Import, ImportKind};
    use wasmo_artifact_format::{GlobalIndex, Limits, MemoryType};

    const PAGE: u64 = 4096;

    fn memory(min: u64) -> MemoryType {
        MemoryType {
            limits: Limits { min, max: None },
            memory64: false,
            shared: false,
        }
    }

    fn active(offset: i32, bytes: &[u8]) -> DataSegment {
        DataSegment {
            mode: DataMode::Active {
                memory: MemoryIndex(0),
                offset: ConstExpr {
                    ops: vec![ConstOp::I32Const(offset)],
                },
            },
            bytes: bytes.to_vec(),
        }
    }

    fn module(min: u64, data: Vec<DataSegment>) -> ModuleMetadata {
        ModuleMetadata {
            memories: vec![memory(min)],
            data,
            ..Default::default()
        }
    }

    #[test]
    fn segments_become_one_page_aligned_image() {
        let mut m = module(
            1,
            vec![
                active(5000, b"abc"),
                DataSegment {
                    mode: DataMode::Passive,
                    bytes: b"passive".to_vec(),
                },
                active(9000, b"xyz"),
                // Overlaps the first: later segments win.
                active(5001, b"B"),
            ],
        );
        let image = extract(&mut m, PAGE);
        assert_eq!(
            m.memory_image,
            Some(MemoryImage {
                memory: MemoryIndex(0),
                wasm_offset: 4096,
                len: 8192,
            })
        );
        assert_eq!(image.len(), 8192);
        assert_eq!(&image[5000 - 4096..5003 - 4096], b"aBc");
        assert_eq!(&image[9000 - 4096..9003 - 4096], b"xyz");
        assert_eq!(image.iter().filter(|&&b| b != 0).count(), 6);
        // Active segments keep their place without their bytes; passive
        // ones are untouched.
        assert_eq!(m.data.len(), 4);
        assert!(m.data[0].bytes.is_empty() && m.data[3].bytes.is_empty());
        assert_eq!(m.data[1].bytes, b"passive");
    }

    fn unchanged(mut m: ModuleMetadata) {
        let before = m.clone();
        assert!(extract(&mut m, PAGE).is_empty());
        assert_eq!(m, before);
    }

    #[test]
    fn segments_that_could_trap_or_are_not_ours_stay() {
        // Past the initial size (it would trap at instantiation).
        unchanged(module(1, vec![active(65535, b"ab")]));
        // A negative offset is a huge unsigned one.
        unchanged(module(1, vec![active(-1, b"a")]));
        // A non-constant offset.
        let mut m = module(1, vec![active(0, b"a")]);
        if let DataMode::Active { offset, .. } = &mut m.data[0].mode {
            offset.ops = vec![ConstOp::GlobalGet(GlobalIndex(0))];
        }
        unchanged(m);
        // An imported memory.
        let mut m = module(1, vec![active(0, b"a")]);
        m.memories.clear();
        m.imports.push(Import {
            module: "env".into(),
            name: "mem".into(),
            kind: ImportKind::Memory(memory(1)),
        });
        unchanged(m);
        // A memory64 memory.
        let mut m = module(1, vec![active(0, b"a")]);
        m.memories[0].memory64 = true;
        unchanged(m);
        // No bytes at all.
        unchanged(module(1, vec![active(0, b"")]));
        unchanged(module(1, vec![]));
    }

    #[test]
    fn sparse_data_stays_in_segments() {
        let far = (SPARSE_SLACK + 3 * PAGE) as i32;
        unchanged(module(4, vec![active(0, b"a"), active(far, b"b")]));
        // Just dense enough: two bytes two pages apart.
        let mut m = module(4, vec![active(0, b"a"), active(8192, b"b")]);
        assert_eq!(extract(&mut m, PAGE).len(), 3 * PAGE as usize);
    }
}
