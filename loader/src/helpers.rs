//! The runtime helpers and libcalls compiled code calls through its GOT,
//! and the table the relocations resolve them from.
//!
//! Rule: the table is generated from `foreach_helper!`/`foreach_libcall!`,
//! so adding a helper to artifact-format without implementing it here is a
//! compile error. Helpers run on the wasm stack: they must not unwind (a
//! panic aborts, as in any `extern "C"` function) and must not leave
//! anything needing `Drop` on the stack when they trap.

#![expect(
    unsafe_code,
    reason = "helpers are called by compiled code with raw VMContext pointers"
)]

use std::cell::Cell;

use wasmo_artifact_format::{Helper, Libcall, VMOffsets};

use crate::instance::InstanceData;
use crate::store::StoreOpaque;

/// Implementations, named after the `Helper`/`Libcall` variants.
#[expect(non_snake_case, reason = "named after the enum variants by the macros")]
mod impls {
    pub(super) use super::atomic_notify as AtomicNotify;
    pub(super) use super::atomic_wait as AtomicWait;
    pub(super) use super::data_drop as DataDrop;
    pub(super) use super::elem_drop as ElemDrop;
    pub(super) use super::memory_grow as MemoryGrow;
    pub(super) use super::memory_init as MemoryInit;
    pub(super) use super::table_copy as TableCopy;
    pub(super) use super::table_fill as TableFill;
    pub(super) use super::table_grow as TableGrow;
    pub(super) use super::table_init as TableInit;
    pub(super) use crate::traphandler::wasmo_helper_trap as Trap;
    pub(super) use crate::unwind::{
        exn_is as ExnIs, exn_payload as ExnPayload, exn_take as ExnTake,
        personality as Personality, throw as Throw, throw_ref as ThrowRef, uncaught as Uncaught,
    };

    pub(super) use libc::{memcpy as Memcpy, memmove as Memmove, memset as Memset};

    macro_rules! unary {
        ($($name:ident: $t:ty => $e:expr;)*) => {
            $(pub(super) extern "C" fn $name(x: $t) -> $t { let f: fn($t) -> $t = $e; f(x) })*
        };
    }
    macro_rules! binary {
        ($($name:ident: $t:ty => $e:expr;)*) => {
            $(pub(super) extern "C" fn $name(x: $t, y: $t) -> $t { let f: fn($t, $t) -> $t = $e; f(x, y) })*
        };
    }
    // Wasm's rounding operators return a quiet ("arithmetic") NaN for a NaN
    // operand; C's rounding functions may hand a signalling NaN back
    // unchanged, so the result is quieted. Compiled code reaches these only
    // on CPUs without SSE4.1's `round` instructions.
    fn quiet64(x: f64) -> f64 {
        if x.is_nan() {
            f64::from_bits(x.to_bits() | (1 << 51))
        } else {
            x
        }
    }
    fn quiet32(x: f32) -> f32 {
        if x.is_nan() {
            f32::from_bits(x.to_bits() | (1 << 22))
        } else {
            x
        }
    }
    unary! {
        Ceil: f64 => |x| quiet64(x.ceil()); Ceilf: f32 => |x| quiet32(x.ceil());
        Floor: f64 => |x| quiet64(x.floor()); Floorf: f32 => |x| quiet32(x.floor());
        Trunc: f64 => |x| quiet64(x.trunc()); Truncf: f32 => |x| quiet32(x.trunc());
        Nearbyint: f64 => |x| quiet64(x.round_ties_even());
        Nearbyintf: f32 => |x| quiet32(x.round_ties_even());
        Rint: f64 => |x| quiet64(x.round_ties_even());
        Rintf: f32 => |x| quiet32(x.round_ties_even());
        Roundeven: f64 => |x| quiet64(x.round_ties_even());
        Roundevenf: f32 => |x| quiet32(x.round_ties_even());
    }
    binary! {
        Fmod: f64 => |x, y| x % y; Fmodf: f32 => |x, y| x % y;
        Fmin: f64 => f64::min; Fminf: f32 => f32::min;
        Fmax: f64 => f64::max; Fmaxf: f32 => f32::max;
    }
    pub(super) extern "C" fn Fma(x: f64, y: f64, z: f64) -> f64 {
        x.mul_add(y, z)
    }
    pub(super) extern "C" fn Fmaf(x: f32, y: f32, z: f32) -> f32 {
        x.mul_add(y, z)
    }
}

macro_rules! helper_table {
    ($($name:ident = $num:literal, $sym:literal, ($($p:ident),*) -> $r:ident;)*) => {
        /// The address of a helper's implementation.
        pub(crate) fn helper_address(h: Helper) -> usize {
            match h {
                $(Helper::$name => impls::$name as *const () as usize,)*
            }
        }
    };
}
wasmo_artifact_format::foreach_helper!(helper_table);

macro_rules! libcall_table {
    ($($name:ident = $num:literal, $sym:literal, ($($p:ident),*) -> $r:ident;)*) => {
        /// The address of a libcall's implementation.
        pub(crate) fn libcall_address(l: Libcall) -> usize {
            match l {
                $(Libcall::$name => impls::$name as *const () as usize,)*
            }
        }
    };
}
wasmo_artifact_format::foreach_libcall!(libcall_table);

/// Offset in an instance's runtime block (what the VMContext's `runtime`
/// field points at) of its store's `StoreInner` pointer.
pub(crate) const RUNTIME_STORE: u32 = 0;
/// Offset in the runtime block of the instance's index in its store.
pub(crate) const RUNTIME_INSTANCE: u32 = 8;

/// What an instance's runtime block says: its store (a `StoreInner<T>`,
/// whose first field is the `StoreOpaque`) and its index there.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Runtime {
    pub(crate) store: *mut StoreOpaque,
    pub(crate) instance: u32,
}

/// The runtime block of the instance whose VMContext this is, copied out.
///
/// # Safety
///
/// `vmctx` must be the VMContext of a live instance made by this loader
/// (its `runtime` field points at its 16-byte runtime block, which lives
/// as long as the store).
pub(crate) unsafe fn runtime_of(vmctx: *mut u8) -> Runtime {
    // SAFETY: per the contract, `runtime` holds the address of the live
    // runtime block, written at instantiation; both words are plain
    // integers, read by value.
    unsafe {
        let block = vmctx
            .add(VMOffsets::RUNTIME as usize)
            .cast::<*const u8>()
            .read();
        Runtime {
            store: block
                .add(RUNTIME_STORE as usize)
                .cast::<*mut StoreOpaque>()
                .read(),
            instance: block.add(RUNTIME_INSTANCE as usize).cast::<u32>().read(),
        }
    }
}

/// The calling instance's store and its data there.
///
/// # Safety
///
/// `vmctx` must be the VMContext of a live instance made by this loader,
/// passed by its compiled code while it runs (so the store is lent to
/// wasm and no `&mut` into it is live).
pub(crate) unsafe fn caller_instance<'a>(
    vmctx: *mut u8,
) -> Option<(&'a StoreOpaque, &'a InstanceData)> {
    // SAFETY: per the contract, `vmctx` is a live instance's.
    let rt = unsafe { runtime_of(vmctx) };
    // SAFETY: the store outlives its instances' code; it is lent to the
    // running wasm (the host frame that entered wasm holds no reference
    // into it), so a shared reference for this call aliases no `&mut`.
    let store = unsafe { &*rt.store };
    Some((store, store.instances.get(rt.instance as usize)?))
}

/// `wasmo_helper_memory_grow(vmctx, memory, delta_pages) -> old pages or -1`.
extern "C" fn memory_grow(vmctx: *mut u8, memory: i32, delta: i64) -> i64 {
    // SAFETY: compiled code passes its own instance's vmctx.
    let Some((store, inst)) = (unsafe { caller_instance(vmctx) }) else {
        return -1;
    };
    let Some(mem) = usize::try_from(memory)
        .ok()
        .and_then(|i| inst.memories.get(i))
    else {
        return -1;
    };
    match mem.data_of(store).grow_pages(delta as u64) {
        Some(old) => old as i64,
        None => -1,
    }
}

/// The shared part of the bulk helpers: finds the calling instance, asks
/// `find` for the destination and source (`None`: an index the instance
/// does not have) with their lengths, checks `dst..+len` and `src..+len`
/// against those, and only then runs `copy(target, source, dst, src,
/// len)`. Answers 0, or 1 with nothing written (compiled code traps).
fn checked_bulk<'a, D, S>(
    vmctx: *mut u8,
    [dst, src, len]: [u64; 3],
    find: impl FnOnce(&'a StoreOpaque, &'a InstanceData) -> Option<((D, u64), (S, u64))>,
    copy: impl FnOnce(&'a StoreOpaque, &'a InstanceData, D, S, [u64; 3]) -> bool,
) -> i32 {
    // SAFETY: compiled code passes its own instance's vmctx.
    let Some((store, inst)) = (unsafe { caller_instance(vmctx) }) else {
        return 1;
    };
    let Some(((d, d_len), (s, s_len))) = find(store, inst) else {
        return 1;
    };
    // A 64-bit memory's destination may be anything: a sum that wraps is
    // out of bounds.
    let past = |start: u64, limit: u64| start.checked_add(len).is_none_or(|end| end > limit);
    if past(dst, d_len) || past(src, s_len) {
        return 1;
    }
    i32::from(!copy(store, inst, d, s, [dst, src, len]))
}

/// A 32-bit index or length as compiled code passes it, zero-extended.
fn zext(v: i32) -> u64 {
    u64::from(v as u32)
}

/// `wasmo_helper_memory_init(vmctx, memory, segment, dst, src, len) -> 0`,
/// or 1 (nothing written) when `dst..+len` leaves the memory or
/// `src..+len` the segment.
extern "C" fn memory_init(
    vmctx: *mut u8,
    memory: i32,
    segment: i32,
    dst: i64,
    src: i32,
    len: i32,
) -> i32 {
    checked_bulk(
        vmctx,
        [dst as u64, zext(src), zext(len)],
        |store, inst| {
            let mem = inst.memories.get(memory as u32 as usize)?.data_of(store);
            let bytes = inst.data_segment(segment as u32)?;
            Some(((mem, mem.len_bytes()), (bytes, bytes.len() as u64)))
        },
        |_, _, mem, bytes, [dst, src, len]| {
            mem.res()
                .write(dst as usize, &bytes[src as usize..][..len as usize])
        },
    )
}

/// `wasmo_helper_table_init(vmctx, table, segment, dst, src, len) -> 0`,
/// or 1 (nothing written) when `dst..+len` leaves the table or `src..+len`
/// the segment.
extern "C" fn table_init(
    vmctx: *mut u8,
    table: i32,
    segment: i32,
    dst: i64,
    src: i32,
    len: i32,
) -> i32 {
    checked_bulk(
        vmctx,
        [dst as u64, zext(src), zext(len)],
        |store, inst| {
            let t = inst.tables.get(table as u32 as usize)?.data_of(store);
            let items = inst.elem_segment(segment as u32)?;
            Some(((t, t.size()), (items, items.len() as u64)))
        },
        |store, inst, t, items, [dst, src, len]| {
            let items = &items[src as usize..][..len as usize];
            // Evaluate first, so a failure writes nothing.
            let raws: Result<Vec<u64>, _> = items
                .iter()
                .map(|item| inst.elem_item_raw(store, item))
                .collect();
            let Ok(raws) = raws else { return false };
            for (i, raw) in raws.into_iter().enumerate() {
                t.set_raw(dst + i as u64, raw);
            }
            true
        },
    )
}

/// `wasmo_helper_table_copy(vmctx, dst_table, src_table, dst, src, len)
/// -> 0`, or 1 (nothing written) when either range leaves its table. The
/// ranges may overlap (within one table): copied as by `memmove`.
extern "C" fn table_copy(
    vmctx: *mut u8,
    dst_table: i32,
    src_table: i32,
    dst: i64,
    src: i64,
    len: i64,
) -> i32 {
    checked_bulk(
        vmctx,
        [dst, src, len].map(|v| v as u64),
        |store, inst| {
            let d = inst.tables.get(dst_table as u32 as usize)?.data_of(store);
            let s = inst.tables.get(src_table as u32 as usize)?.data_of(store);
            Some(((d, d.size()), (s, s.size())))
        },
        |_, _, d, s, [dst, src, len]| {
            let one = |i: u64| {
                let raw = s.get_raw(src + i).unwrap_or(0);
                d.set_raw(dst + i, raw);
            };
            if dst <= src {
                (0..len).for_each(one);
            } else {
                (0..len).rev().for_each(one);
            }
            true
        },
    )
}

/// `wasmo_helper_table_grow(vmctx, table, init, delta) -> old size`, or
/// -1 (nothing changed) past the table's maximum, the loader's limit or
/// the store's `max_table_elements`. The table's elements may move;
/// compiled code reloads its base.
extern "C" fn table_grow(vmctx: *mut u8, table: i32, init: *mut u8, delta: i64) -> i64 {
    // SAFETY: compiled code passes its own instance's vmctx.
    let Some((store, inst)) = (unsafe { caller_instance(vmctx) }) else {
        return -1;
    };
    let Some(t) = inst.tables.get(table as u32 as usize) else {
        return -1;
    };
    let limit = store.max_table_elements();
    match t.data_of(store).grow(delta as u64, init as u64, limit) {
        Some(old) => old as i64,
        None => -1,
    }
}

/// `wasmo_helper_table_fill(vmctx, table, dst, value, len) -> 0`, or 1
/// (nothing written) when `dst..+len` leaves the table.
extern "C" fn table_fill(vmctx: *mut u8, table: i32, dst: i64, value: *mut u8, len: i64) -> i32 {
    // SAFETY: compiled code passes its own instance's vmctx.
    let Some((store, inst)) = (unsafe { caller_instance(vmctx) }) else {
        return 1;
    };
    let Some(t) = inst.tables.get(table as u32 as usize) else {
        return 1;
    };
    let filled = t
        .data_of(store)
        .fill_raw(dst as u64, value as u64, len as u64);
    i32::from(!filled)
}

/// Marks segment `segment` of the caller dropped in the flags `which`
/// picks (an index it does not have changes nothing).
fn drop_segment(vmctx: *mut u8, segment: i32, which: fn(&InstanceData) -> &[Cell<bool>]) {
    // SAFETY: compiled code passes its own instance's vmctx.
    if let Some((_, inst)) = unsafe { caller_instance(vmctx) } {
        if let Some(dropped) = which(inst).get(segment as u32 as usize) {
            dropped.set(true);
        }
    }
}

/// `wasmo_helper_data_drop(vmctx, segment)`.
extern "C" fn data_drop(vmctx: *mut u8, segment: i32) {
    drop_segment(vmctx, segment, |inst| &inst.dropped_data);
}

/// `wasmo_helper_atomic_wait(addr, expected, timeout_ns, bits) -> 0 | 1 | 2`
/// (woken, not equal, timed out); a negative timeout waits forever.
extern "C" fn atomic_wait(addr: *mut u8, expected: i64, timeout: i64, bits: i32) -> i32 {
    let timeout = u64::try_from(timeout)
        .ok()
        .map(std::time::Duration::from_nanos);
    let holds_expected = || {
        // SAFETY: compiled code calls this helper only for a shared memory,
        // with the address of an access it has checked (it traps
        // `unaligned atomic` and out of bounds first): `bits / 8` bytes,
        // aligned to that size (memory bases are page-aligned), inside the
        // accessible part of a memory that never moves or shrinks while
        // an instance using it can run. Wasm writes it only atomically
        // or with plain stores, which a concurrent atomic read tolerates
        // on x86-64 (no torn aligned accesses).
        unsafe {
            if bits == 32 {
                let cell = &*addr.cast::<std::sync::atomic::AtomicU32>();
                i64::from(cell.load(std::sync::atomic::Ordering::SeqCst)) == expected
            } else {
                let cell = &*addr.cast::<std::sync::atomic::AtomicU64>();
                cell.load(std::sync::atomic::Ordering::SeqCst) as i64 == expected
            }
        }
    };
    crate::parking::wait(addr as usize, holds_expected, timeout) as i32
}

/// `wasmo_helper_atomic_notify(addr, count) -> woken`.
extern "C" fn atomic_notify(addr: *mut u8, count: i32) -> i32 {
    crate::parking::notify(addr as usize, count as u32) as i32
}

/// `wasmo_helper_elem_drop(vmctx, segment)`.
extern "C" fn elem_drop(vmctx: *mut u8, segment: i32) {
    drop_segment(vmctx, segment, |inst| &inst.dropped_elems);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_helper_and_libcall_resolves() {
        for &h in Helper::ALL {
            assert_ne!(helper_address(h), 0);
        }
        for &l in Libcall::ALL {
            assert_ne!(libcall_address(l), 0);
        }
        assert_eq!(impls::Nearbyint(2.5), 2.0);
        assert_eq!(impls::Fmod(7.0, 4.0), 3.0);
    }
}
