//! Integer and floating-point arithmetic, comparison and bit operators.
//!
//! Rule: every operator has the spec's exact semantics, including the
//! trapping edge cases of division and remainder.

use super::FuncTranslator;

impl<'a, 'ctx> FuncTranslator<'a, 'ctx> {}
