//! The types of external values (imports and exports), their text form for
//! link errors, and the import-matching rules of the wasm spec.
//!
//! Rule: matching follows the spec's "import subtyping" exactly (function
//! types equal; globals equal in type and mutability; limits: the provided
//! minimum at least the declared one, and a declared maximum demands a
//! provided maximum no larger). No unsafe code here.

use wasmo_artifact_format::{FuncType, GlobalType, Limits, MemoryType, TableType, ValType};

/// The type of an external value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternType {
    /// A function.
    Func(FuncType),
    /// A table.
    Table(TableType),
    /// A memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
    /// An exception tag whose payload is this type's parameters.
    Tag(FuncType),
}

/// An import a module needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportType {
    /// Module name.
    pub module: String,
    /// Field name.
    pub name: String,
    /// Its type.
    pub ty: ExternType,
}

/// An export a module provides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportType {
    /// Export name.
    pub name: String,
    /// Its type.
    pub ty: ExternType,
}

fn list(v: &[ValType]) -> String {
    v.iter().map(|t| t.name()).collect::<Vec<_>>().join(" ")
}

/// `(func (param i32) (result i64))`, leaving out empty groups.
pub(crate) fn func_type_text(t: &FuncType) -> String {
    let mut s = String::from("(func");
    if !t.params.is_empty() {
        s.push_str(&format!(" (param {})", list(&t.params)));
    }
    if !t.results.is_empty() {
        s.push_str(&format!(" (result {})", list(&t.results)));
    }
    s.push(')');
    s
}

fn limits_text(l: &Limits) -> String {
    match l.max {
        Some(max) => format!("{} {max}", l.min),
        None => l.min.to_string(),
    }
}

impl std::fmt::Display for ExternType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExternType::Func(t) => f.write_str(&func_type_text(t)),
            ExternType::Table(t) => {
                let idx = if t.table64 { "i64 " } else { "" };
                write!(f, "(table {idx}{} {})", limits_text(&t.limits), t.element)
            }
            ExternType::Memory(t) => {
                let idx = if t.memory64 { "i64 " } else { "" };
                let shared = if t.shared { " shared" } else { "" };
                write!(f, "(memory {idx}{}{shared})", limits_text(&t.limits))
            }
            ExternType::Global(t) if t.mutable => write!(f, "(global (mut {}))", t.content),
            ExternType::Global(t) => write!(f, "(global {})", t.content),
            ExternType::Tag(t) => {
                let func = func_type_text(t);
                write!(f, "(tag{})", &func["(func".len()..func.len() - 1])
            }
        }
    }
}

/// Whether `provided` limits satisfy `declared` ones.
pub(crate) fn limits_match(provided: &Limits, declared: &Limits) -> bool {
    if provided.min < declared.min {
        return false;
    }
    match (declared.max, provided.max) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(d), Some(p)) => p <= d,
    }
}

/// Whether a value of type `provided` may fill an import declared as
/// `declared`.
pub(crate) fn extern_type_matches(provided: &ExternType, declared: &ExternType) -> bool {
    match (provided, declared) {
        (ExternType::Func(p), ExternType::Func(d)) => p == d,
        // An immutable global may be of a subtype (`(ref $t)` for
        // `funcref`); a mutable one, written both ways, only of the type.
        (ExternType::Global(p), ExternType::Global(d)) => {
            p.mutable == d.mutable
                && if p.mutable {
                    p.content == d.content
                } else {
                    p.content.is_subtype_of(d.content)
                }
        }
        (ExternType::Tag(p), ExternType::Tag(d)) => p == d,
        (ExternType::Table(p), ExternType::Table(d)) => {
            p.element == d.element && p.table64 == d.table64 && limits_match(&p.limits, &d.limits)
        }
        (ExternType::Memory(p), ExternType::Memory(d)) => {
            p.memory64 == d.memory64 && p.shared == d.shared && limits_match(&p.limits, &d.limits)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_the_spec() {
        let l = |min, max| Limits { min, max };
        assert!(limits_match(&l(2, None), &l(1, None)));
        assert!(!limits_match(&l(0, None), &l(1, None)));
        assert!(!limits_match(&l(1, None), &l(1, Some(2))));
        assert!(limits_match(&l(1, Some(2)), &l(1, Some(3))));
        assert!(!limits_match(&l(1, Some(4)), &l(1, Some(3))));
    }

    #[test]
    fn func_types_print_like_the_text_format() {
        let t = FuncType {
            params: vec![ValType::I32],
            results: vec![],
        };
        assert_eq!(func_type_text(&t), "(func (param i32))");
        assert_eq!(ExternType::Func(FuncType::default()).to_string(), "(func)");
    }
}
