//! Conversions between numeric types: wrap, extend, truncate (trapping and
//! saturating), convert, demote, promote and reinterpret.
//!
//! Rule: a trapping truncation traps with `invalid conversion to integer`
//! for NaN and `integer overflow` for out-of-range values, as the spec says.

use super::FuncTranslator;

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {}
