//! Wasm values on the command line: parsing `--invoke` arguments by the
//! export's parameter types and printing results the way
//! `wasmtime run --invoke` does.
//!
//! Rule: printing is lossless for numbers — integers in signed decimal,
//! floats in Rust's shortest round-trip decimal form — so a script can feed
//! a result back in as an argument and get the same bits.

use wasmo_loader::{Val, ValType};

/// Parses one argument as a value of type `ty`.
///
/// Integers are decimal, signed or (for convenience) unsigned within the
/// type's width; floats are decimal and also `nan`, `inf` and `-inf`; a
/// `v128` is `0x` and up to 32 hex digits (lane 0 in the low bits, as it is
/// printed) or a decimal `u128`.
pub fn parse_value(text: &str, ty: ValType) -> Result<Val, String> {
    let bad = || format!("expected {ty}, found `{text}`");
    match ty {
        ValType::I32 => text
            .parse::<i32>()
            .or_else(|_| text.parse::<u32>().map(|u| u as i32))
            .map(Val::I32)
            .map_err(|_| bad()),
        ValType::I64 => text
            .parse::<i64>()
            .or_else(|_| text.parse::<u64>().map(|u| u as i64))
            .map(Val::I64)
            .map_err(|_| bad()),
        ValType::F32 => text
            .parse::<f32>()
            .map(|f| Val::F32(f.to_bits()))
            .map_err(|_| bad()),
        ValType::F64 => text
            .parse::<f64>()
            .map(|f| Val::F64(f.to_bits()))
            .map_err(|_| bad()),
        ValType::V128 => match text.strip_prefix("0x") {
            Some(hex) if !hex.is_empty() && hex.len() <= 32 => u128::from_str_radix(hex, 16),
            Some(_) => return Err(bad()),
            None => text.parse::<u128>(),
        }
        .map(Val::V128)
        .map_err(|_| bad()),
        ValType::FuncRef | ValType::ExternRef | ValType::ExnRef | ValType::Ref(_) => Err(format!(
            "parameters of type {ty} cannot be given on the command line"
        )),
    }
}

/// Formats a result for printing, one value per line.
pub fn format_value(v: &Val) -> String {
    match v {
        Val::I32(i) => i.to_string(),
        Val::I64(i) => i.to_string(),
        Val::F32(bits) => f32::from_bits(*bits).to_string(),
        Val::F64(bits) => f64::from_bits(*bits).to_string(),
        Val::V128(bits) => format!("{bits:#034x}"),
        Val::FuncRef(None) => "null".to_owned(),
        Val::FuncRef(Some(_)) => "<funcref>".to_owned(),
        Val::ExternRef(None) => "null".to_owned(),
        Val::ExternRef(Some(_)) => "<externref>".to_owned(),
        Val::ExnRef(None) => "null".to_owned(),
        Val::ExnRef(Some(_)) => "<exnref>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str, ty: ValType) -> String {
        match parse_value(text, ty) {
            Ok(v) => format_value(&v),
            Err(e) => e,
        }
    }

    #[test]
    fn integers_parse_signed_and_unsigned() {
        assert_eq!(round_trip("-7", ValType::I32), "-7");
        assert_eq!(round_trip("4294967295", ValType::I32), "-1");
        assert_eq!(
            round_trip("-9223372036854775808", ValType::I64),
            "-9223372036854775808"
        );
        assert_eq!(round_trip("x", ValType::I32), "expected i32, found `x`");
        assert_eq!(
            round_trip("4294967296", ValType::I32),
            "expected i32, found `4294967296`"
        );
    }

    #[test]
    fn floats_print_shortest_round_trip() {
        assert_eq!(round_trip("0.1", ValType::F32), "0.1");
        assert_eq!(round_trip("0.1", ValType::F64), "0.1");
        assert_eq!(round_trip("-inf", ValType::F64), "-inf");
        assert_eq!(round_trip("inf", ValType::F32), "inf");
        assert_eq!(
            round_trip("0x0102030405060708090a0b0c0d0e0f10", ValType::V128),
            "0x0102030405060708090a0b0c0d0e0f10"
        );
        assert_eq!(
            round_trip("255", ValType::V128),
            "0x000000000000000000000000000000ff"
        );
        assert_eq!(round_trip("0x", ValType::V128), "expected v128, found `0x`");
        assert_eq!(round_trip("nan", ValType::F32), "NaN");
        assert_eq!(
            round_trip("1e40", ValType::F64),
            "10000000000000000000000000000000000000000"
        );
        assert_eq!(
            round_trip("1.5x", ValType::F64),
            "expected f64, found `1.5x`"
        );
    }
}
