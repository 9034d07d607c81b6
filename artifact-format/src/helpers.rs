//! Runtime helpers and libcalls: every symbol compiled code may call that is
//! not itself compiled wasm.
//!
//! Compiled code calls these through PLT stubs that jump through GOT entries;
//! the artifact's relocation list names, per GOT entry, a [`GotSymbol`], and
//! the loader writes the address of its implementation there. Rule: this file
//! is the only list. Adding a helper is one line in [`foreach_helper!`]; the
//! compiler declares it, the loader must implement it (a missing
//! implementation is a compile error in the loader), and the ABI fingerprint
//! changes by itself.

/// Expands `$mac!` with every runtime helper as
/// `Name = number, "symbol", (param types) -> result type;`.
///
/// Types are written as the C ABI sees them: `ptr` (the caller's
/// `*mut VMContext`), `i32`, `i64`, `void`. Every helper takes the calling
/// instance's vmctx first.
#[macro_export]
macro_rules! foreach_helper {
    ($mac:ident) => {
        $mac! {
            // Raises a trap; never returns. The code is not an argument: the
            // loader finds it by the call's return address in the module's
            // trap table (compiled code calls one `wasmo_trap_<code>` alias
            // per code, see `TrapCode::trap_symbol`, and the linker records
            // each call site).
            Trap = 0, "wasmo_helper_trap", (ptr) -> void;
            // memory.grow: (vmctx, memory index, delta in pages) -> old size in
            // pages, or u64::MAX (-1) on failure.
            MemoryGrow = 1, "wasmo_helper_memory_grow", (ptr, i32, i64) -> i64;
            // memory.init: (vmctx, memory index, data segment index, dst
            // (zero-extended from a 32-bit memory's i32), src, len) -> 0,
            // or 1 when either range is out of bounds (then nothing is
            // written and compiled code traps with
            // `out of bounds memory access`). A dropped segment has length 0.
            MemoryInit = 2, "wasmo_helper_memory_init", (ptr, i32, i32, i64, i32, i32) -> i32;
            // data.drop: (vmctx, data segment index); the segment's length
            // becomes 0 for this instance.
            DataDrop = 3, "wasmo_helper_data_drop", (ptr, i32) -> void;
            // table.init: (vmctx, table index, element segment index, dst
            // (zero-extended from a 32-bit table's i32), src, len) -> 0, or
            // 1 when either range is out of bounds (nothing written;
            // compiled code traps with `out of bounds table access`).
            TableInit = 4, "wasmo_helper_table_init", (ptr, i32, i32, i64, i32, i32) -> i32;
            // table.copy: (vmctx, dst table, src table, dst, src, len, each
            // zero-extended from an i32 where its type is i32) -> 0, or 1
            // when either range is out of bounds (nothing written).
            TableCopy = 5, "wasmo_helper_table_copy", (ptr, i32, i32, i64, i64, i64) -> i32;
            // elem.drop: (vmctx, element segment index).
            ElemDrop = 6, "wasmo_helper_elem_drop", (ptr, i32) -> void;
            // table.grow: (vmctx, table index, init reference, delta
            // (zero-extended from a 32-bit table's i32)) -> old size, or -1
            // (nothing changed) past the table's maximum or the loader's
            // limit; a 32-bit table's caller truncates it to i32. The
            // table's base may move: compiled code reloads base and length
            // from its definition afterwards.
            TableGrow = 7, "wasmo_helper_table_grow", (ptr, i32, ptr, i64) -> i64;
            // table.fill: (vmctx, table index, dst, reference, len, both
            // zero-extended from a 32-bit table's i32) -> 0, or 1 when
            // `dst..+len` leaves the table (nothing written).
            TableFill = 8, "wasmo_helper_table_fill", (ptr, i32, i64, ptr, i64) -> i32;
            // memory.atomic.wait32/64 on a shared memory: (host address,
            // expected value zero-extended, timeout in ns (negative: none),
            // width in bits 32 or 64) -> 0 woken, 1 not equal, 2 timed out.
            // Compiled code has checked alignment and bounds.
            AtomicWait = 9, "wasmo_helper_atomic_wait", (ptr, i64, i64, i32) -> i32;
            // memory.atomic.notify on a shared memory: (host address, count)
            // -> waiters woken.
            AtomicNotify = 10, "wasmo_helper_atomic_notify", (ptr, i32) -> i32;
            // Exception handling (see ARCHITECTURE.md, "Exceptions"). The
            // personality routine of every function with a landing pad;
            // never called by compiled code, only named by its unwind
            // tables: (version, actions, class, exception, context) -> reason.
            Personality = 11, "wasmo_helper_personality", (i32, i32, i64, ptr, ptr) -> i32;
            // throw: (vmctx, tag index, payload: ValRaw array); unwinds to
            // the nearest handler, never returns.
            Throw = 12, "wasmo_helper_throw", (ptr, i32, ptr) -> void;
            // Rethrows an exception object (exnref, not null); unwinds,
            // never returns.
            ThrowRef = 13, "wasmo_helper_throw_ref", (ptr, i64) -> void;
            // In a landing pad: (vmctx, the unwinder's exception) -> the
            // exnref it carries; frees the unwinder's part.
            ExnTake = 14, "wasmo_helper_exn_take", (ptr, ptr) -> i64;
            // (vmctx, exnref, tag index) -> 1 when the exception's tag is
            // the caller's tag `index` (the same store object), else 0.
            ExnIs = 15, "wasmo_helper_exn_is", (ptr, i64, i32) -> i32;
            // (vmctx, exnref) -> its payload, a ValRaw array the store owns.
            ExnPayload = 16, "wasmo_helper_exn_payload", (ptr, i64) -> ptr;
            // The landing pad of an array-call trampoline: (vmctx, the
            // unwinder's exception); ends the host's call with the
            // exception, never returns.
            Uncaught = 17, "wasmo_helper_uncaught", (ptr, ptr) -> void;
        }
    };
}

macro_rules! define_helpers {
    ($($name:ident = $num:literal, $sym:literal, ($($param:ident),*) -> $ret:ident;)*) => {
        /// A runtime helper implemented by the loader.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u32)]
        pub enum Helper {
            $(
                #[doc = concat!("`", $sym, "`")]
                $name = $num,
            )*
        }

        impl Helper {
            /// Every helper, in numeric order.
            pub const ALL: &'static [Helper] = &[$(Helper::$name),*];

            /// The symbol compiled code references.
            pub fn symbol(self) -> &'static str {
                match self {
                    $(Helper::$name => $sym,)*
                }
            }

            /// The C signature, as `(params) -> result`, for the ABI
            /// fingerprint and for the compiler's declarations.
            pub fn signature(self) -> (&'static [AbiType], AbiType) {
                match self {
                    $(Helper::$name => (&[$(AbiType::$param),*], AbiType::$ret),)*
                }
            }

            /// Looks a helper up by its symbol.
            pub fn from_symbol(sym: &str) -> Option<Helper> {
                match sym {
                    $($sym => Some(Helper::$name),)*
                    _ => None,
                }
            }

            /// Decodes a stored helper number.
            pub fn from_u32(n: u32) -> Option<Helper> {
                match n {
                    $($num => Some(Helper::$name),)*
                    _ => None,
                }
            }
        }
    };
}

/// A type in a helper's or libcall's C signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum AbiType {
    /// A pointer.
    ptr,
    /// A 32-bit integer.
    i32,
    /// A 64-bit integer.
    i64,
    /// A 32-bit float.
    f32,
    /// A 64-bit float.
    f64,
    /// A pointer-sized unsigned integer.
    usize,
    /// No value.
    void,
}

impl AbiType {
    /// The type's name, for the ABI fingerprint.
    pub fn name(self) -> &'static str {
        match self {
            AbiType::ptr => "ptr",
            AbiType::i32 => "i32",
            AbiType::i64 => "i64",
            AbiType::f32 => "f32",
            AbiType::f64 => "f64",
            AbiType::usize => "usize",
            AbiType::void => "void",
        }
    }
}

foreach_helper!(define_helpers);

/// Expands `$mac!` with every libcall: a C library symbol that LLVM itself
/// may introduce into compiled code (memory intrinsics, rounding and
/// remainder functions on CPUs without the instruction), as
/// `Name = number, "symbol", (params) -> result;`.
#[macro_export]
macro_rules! foreach_libcall {
    ($mac:ident) => {
        $mac! {
            Memcpy = 0, "memcpy", (ptr, ptr, usize) -> ptr;
            Memmove = 1, "memmove", (ptr, ptr, usize) -> ptr;
            Memset = 2, "memset", (ptr, i32, usize) -> ptr;
            Fmod = 3, "fmod", (f64, f64) -> f64;
            Fmodf = 4, "fmodf", (f32, f32) -> f32;
            Ceil = 5, "ceil", (f64) -> f64;
            Ceilf = 6, "ceilf", (f32) -> f32;
            Floor = 7, "floor", (f64) -> f64;
            Floorf = 8, "floorf", (f32) -> f32;
            Trunc = 9, "trunc", (f64) -> f64;
            Truncf = 10, "truncf", (f32) -> f32;
            Nearbyint = 11, "nearbyint", (f64) -> f64;
            Nearbyintf = 12, "nearbyintf", (f32) -> f32;
            Rint = 13, "rint", (f64) -> f64;
            Rintf = 14, "rintf", (f32) -> f32;
            Roundeven = 15, "roundeven", (f64) -> f64;
            Roundevenf = 16, "roundevenf", (f32) -> f32;
            Fma = 17, "fma", (f64, f64, f64) -> f64;
            Fmaf = 18, "fmaf", (f32, f32, f32) -> f32;
            Fmin = 19, "fmin", (f64, f64) -> f64;
            Fminf = 20, "fminf", (f32, f32) -> f32;
            Fmax = 21, "fmax", (f64, f64) -> f64;
            Fmaxf = 22, "fmaxf", (f32, f32) -> f32;
        }
    };
}

macro_rules! define_libcalls {
    ($($name:ident = $num:literal, $sym:literal, ($($param:ident),*) -> $ret:ident;)*) => {
        /// A C library function LLVM may call from compiled code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u32)]
        pub enum Libcall {
            $(
                #[doc = concat!("`", $sym, "`")]
                $name = $num,
            )*
        }

        impl Libcall {
            /// Every libcall, in numeric order.
            pub const ALL: &'static [Libcall] = &[$(Libcall::$name),*];

            /// The C symbol.
            pub fn symbol(self) -> &'static str {
                match self {
                    $(Libcall::$name => $sym,)*
                }
            }

            /// The C signature, for the ABI fingerprint.
            pub fn signature(self) -> (&'static [AbiType], AbiType) {
                match self {
                    $(Libcall::$name => (&[$(AbiType::$param),*], AbiType::$ret),)*
                }
            }

            /// Looks a libcall up by its symbol.
            pub fn from_symbol(sym: &str) -> Option<Libcall> {
                match sym {
                    $($sym => Some(Libcall::$name),)*
                    _ => None,
                }
            }

            /// Decodes a stored libcall number.
            pub fn from_u32(n: u32) -> Option<Libcall> {
                match n {
                    $($num => Some(Libcall::$name),)*
                    _ => None,
                }
            }
        }
    };
}

foreach_libcall!(define_libcalls);

/// What a GOT entry (or any load-time absolute relocation) points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GotSymbol {
    /// A runtime helper.
    Helper(Helper),
    /// A C library function.
    Libcall(Libcall),
}

impl GotSymbol {
    /// Resolves an undefined symbol of a compiled object.
    ///
    /// A per-code trap alias (`wasmo_trap_<code>`) resolves to the trap
    /// helper; the linker also records the call site in the trap table.
    pub fn from_symbol(sym: &str) -> Option<GotSymbol> {
        if crate::TrapCode::from_trap_symbol(sym).is_some() {
            return Some(GotSymbol::Helper(Helper::Trap));
        }
        Helper::from_symbol(sym)
            .map(GotSymbol::Helper)
            .or_else(|| Libcall::from_symbol(sym).map(GotSymbol::Libcall))
    }

    /// The symbol name.
    pub fn symbol(self) -> &'static str {
        match self {
            GotSymbol::Helper(h) => h.symbol(),
            GotSymbol::Libcall(l) => l.symbol(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for &h in Helper::ALL {
            assert!(seen.insert(h.symbol()));
            assert_eq!(
                GotSymbol::from_symbol(h.symbol()),
                Some(GotSymbol::Helper(h))
            );
            assert_eq!(Helper::from_u32(h as u32), Some(h));
        }
        for &l in Libcall::ALL {
            assert!(seen.insert(l.symbol()));
            assert_eq!(
                GotSymbol::from_symbol(l.symbol()),
                Some(GotSymbol::Libcall(l))
            );
            assert_eq!(Libcall::from_u32(l as u32), Some(l));
        }
        assert_eq!(GotSymbol::from_symbol("printf"), None);
        for &code in crate::TrapCode::ALL {
            let sym = code.trap_symbol();
            assert!(!seen.contains(sym.as_str()));
            assert_eq!(
                GotSymbol::from_symbol(&sym),
                Some(GotSymbol::Helper(Helper::Trap))
            );
        }
    }
}
