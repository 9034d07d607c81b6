//! Trap codes: the one list of every way compiled wasm can trap.
//!
//! The compiler calls the `trap` runtime helper through one alias symbol
//! per code ([`TrapCode::trap_symbol`]); the linker records each call site
//! with its code in the trap table ([`crate::metadata::TrapTable`]), and the
//! loader turns the code back into a [`TrapCode`] and its message. Rule: a code's number never changes once
//! shipped (it is part of the ABI, see [`crate::compat`]); append new codes.
//! The messages are the spec test suite's wording: the `.wast` files match
//! on them, and users grep for them.

/// Expands `$mac!` with every trap code as `Name = number, "message";`.
#[macro_export]
macro_rules! foreach_trap_code {
    ($mac:ident) => {
        $mac! {
            StackOverflow = 0, "call stack exhausted";
            MemoryOutOfBounds = 1, "out of bounds memory access";
            TableOutOfBounds = 2, "undefined element: out of bounds table access";
            IndirectCallToNull = 3, "uninitialized element";
            BadSignature = 4, "indirect call type mismatch";
            IntegerOverflow = 5, "integer overflow";
            IntegerDivisionByZero = 6, "integer divide by zero";
            BadConversionToInteger = 7, "invalid conversion to integer";
            UnreachableCodeReached = 8, "unreachable";
            Interrupt = 9, "interrupt";
            NullReference = 10, "null reference";
            HostStackExhausted = 11, "call stack exhausted (in a host function)";
            // Not a wasm trap: compiled code faulted where no check put a
            // trap (a broken or rewritten artifact, or a compiler bug). The
            // loader reports it instead of letting the process die.
            UnexpectedFault = 12, "unexpected fault in compiled code";
            UnalignedAtomic = 13, "unaligned atomic";
            AtomicWaitNonShared = 14, "atomic wait on non-shared memory";
            // Resource limits (issue 13): the store's fuel ran out.
            OutOfFuel = 15, "all fuel consumed";
            // function-references: `call_ref`/`return_call_ref` of null.
            NullFunctionReference = 16, "null function reference";
            // Exceptions (issue 11): `throw_ref` of a null `exnref`.
            NullExceptionReference = 17, "null exception reference";
        }
    };
}

macro_rules! define_trap_codes {
    ($($name:ident = $num:literal, $msg:literal;)*) => {
        /// A wasm trap, as the spec names it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u32)]
        pub enum TrapCode {
            $(
                #[doc = concat!("`", $msg, "`")]
                $name = $num,
            )*
        }

        impl TrapCode {
            /// Every trap code, in numeric order.
            pub const ALL: &'static [TrapCode] = &[$(TrapCode::$name),*];

            /// The spec's wording for this trap.
            pub fn message(self) -> &'static str {
                match self {
                    $(TrapCode::$name => $msg,)*
                }
            }

            /// The code's stable number, as passed to the `trap` helper.
            pub fn as_u32(self) -> u32 {
                self as u32
            }

            /// Decodes a number passed to the `trap` helper or stored in a
            /// trap table; `None` for a number no code has.
            pub fn from_u32(n: u32) -> Option<TrapCode> {
                match n {
                    $($num => Some(TrapCode::$name),)*
                    _ => None,
                }
            }

            /// Decodes the byte stored in a trap table.
            pub fn from_u8(n: u8) -> Option<TrapCode> {
                TrapCode::from_u32(u32::from(n))
            }

            /// The name of the variant, for the ABI fingerprint.
            pub fn name(self) -> &'static str {
                match self {
                    $(TrapCode::$name => stringify!($name),)*
                }
            }
        }
    };
}

foreach_trap_code!(define_trap_codes);

/// Prefix of the per-code aliases of the trap helper compiled code calls.
pub const TRAP_SYMBOL_PREFIX: &str = "wasmo_trap_";

impl TrapCode {
    /// The symbol compiled code calls to raise this trap
    /// (`wasmo_trap_<Name>`): an alias of the `trap` helper whose call
    /// sites the linker records in the trap table with this code.
    pub fn trap_symbol(self) -> String {
        format!("{TRAP_SYMBOL_PREFIX}{}", self.name())
    }

    /// The code a trap alias stands for; `None` for any other symbol.
    pub fn from_trap_symbol(sym: &str) -> Option<TrapCode> {
        let name = sym.strip_prefix(TRAP_SYMBOL_PREFIX)?;
        TrapCode::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// The code as stored in a trap table (every code fits in a byte; the
    /// `codes_fit_in_a_byte` test keeps it so).
    pub fn as_u8(self) -> u8 {
        u8::try_from(self.as_u32()).unwrap_or(u8::MAX)
    }
}

impl std::fmt::Display for TrapCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for &code in TrapCode::ALL {
            assert_eq!(TrapCode::from_u32(code.as_u32()), Some(code));
        }
        assert_eq!(TrapCode::from_u32(9999), None);
    }

    #[test]
    fn codes_fit_in_a_byte() {
        for &code in TrapCode::ALL {
            assert!(code.as_u32() < u32::from(u8::MAX));
            assert_eq!(TrapCode::from_u8(code.as_u8()), Some(code));
            assert_eq!(TrapCode::from_trap_symbol(&code.trap_symbol()), Some(code));
        }
        assert_eq!(TrapCode::from_trap_symbol("wasmo_trap_"), None);
        assert_eq!(TrapCode::from_trap_symbol("wasmo_helper_trap"), None);
    }
}
