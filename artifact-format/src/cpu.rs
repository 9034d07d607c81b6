//! CPU features an artifact's code may use, as a bit set recorded in the
//! header.
//!
//! The compiler sets a bit for every feature it let LLVM use; the loader
//! refuses an artifact that needs a feature the host lacks. Rule: a bit's
//! number never changes (the set is part of the compatibility hash); append
//! new features at the end.

/// Expands `$mac!` with every known x86-64 feature as
/// `Name = bit, "llvm feature name", "std detection name";`.
#[macro_export]
macro_rules! foreach_x86_feature {
    ($mac:ident) => {
        $mac! {
            Sse3 = 0, "sse3", "sse3";
            Ssse3 = 1, "ssse3", "ssse3";
            Sse41 = 2, "sse4.1", "sse4.1";
            Sse42 = 3, "sse4.2", "sse4.2";
            Popcnt = 4, "popcnt", "popcnt";
            Cx16 = 5, "cx16", "cmpxchg16b";
            Avx = 6, "avx", "avx";
            Avx2 = 7, "avx2", "avx2";
            Fma = 8, "fma", "fma";
            Bmi1 = 9, "bmi", "bmi1";
            Bmi2 = 10, "bmi2", "bmi2";
            Lzcnt = 11, "lzcnt", "lzcnt";
            Movbe = 12, "movbe", "movbe";
            F16c = 13, "f16c", "f16c";
            Avx512f = 14, "avx512f", "avx512f";
            Avx512bw = 15, "avx512bw", "avx512bw";
            Avx512dq = 16, "avx512dq", "avx512dq";
            Avx512vl = 17, "avx512vl", "avx512vl";
            Avx512cd = 18, "avx512cd", "avx512cd";
        }
    };
}

macro_rules! define_x86_features {
    ($($name:ident = $bit:literal, $llvm:literal, $std:literal;)*) => {
        /// One x86-64 CPU feature beyond the SSE2 baseline.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum X86Feature {
            $(
                #[doc = concat!("`", $llvm, "`")]
                $name,
            )*
        }

        impl X86Feature {
            /// Every known feature.
            pub const ALL: &'static [X86Feature] = &[$(X86Feature::$name),*];

            /// The feature's bit in [`CpuFeatures`].
            pub fn bit(self) -> u32 {
                match self {
                    $(X86Feature::$name => $bit,)*
                }
            }

            /// LLVM's name, as in `+sse4.1`.
            pub fn llvm_name(self) -> &'static str {
                match self {
                    $(X86Feature::$name => $llvm,)*
                }
            }

            /// The name `std::is_x86_feature_detected!` uses.
            pub fn std_name(self) -> &'static str {
                match self {
                    $(X86Feature::$name => $std,)*
                }
            }

            /// Looks a feature up by LLVM's name (without `+`).
            pub fn from_llvm_name(name: &str) -> Option<X86Feature> {
                match name {
                    $($llvm => Some(X86Feature::$name),)*
                    _ => None,
                }
            }
        }
    };
}

foreach_x86_feature!(define_x86_features);

/// A set of [`X86Feature`]s, stored in the header as a little-endian `u64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CpuFeatures(pub u64);

impl CpuFeatures {
    /// No feature beyond the architecture's baseline.
    pub const EMPTY: CpuFeatures = CpuFeatures(0);

    /// Whether `f` is in the set.
    pub fn contains(self, f: X86Feature) -> bool {
        self.0 & (1 << f.bit()) != 0
    }

    /// Adds `f` to the set.
    pub fn insert(&mut self, f: X86Feature) {
        self.0 |= 1 << f.bit();
    }

    /// The features in the set, in bit order.
    pub fn iter(self) -> impl Iterator<Item = X86Feature> {
        X86Feature::ALL
            .iter()
            .copied()
            .filter(move |&f| self.contains(f))
    }

    /// The features in `self` that `available` lacks.
    pub fn missing_from(self, available: CpuFeatures) -> CpuFeatures {
        CpuFeatures(self.0 & !available.0)
    }

    /// Reads an LLVM feature string (`+sse4.1,-avx,...`): every known
    /// feature with a `+` is in the set; unknown names are ignored.
    pub fn from_llvm_feature_string(s: &str) -> CpuFeatures {
        let mut set = CpuFeatures::EMPTY;
        for item in s.split(',') {
            if let Some(name) = item.strip_prefix('+') {
                if let Some(f) = X86Feature::from_llvm_name(name) {
                    set.insert(f);
                }
            }
        }
        set
    }

    /// The features of the CPU this process runs on (empty on other
    /// architectures).
    pub fn host() -> CpuFeatures {
        #[cfg(target_arch = "x86_64")]
        {
            macro_rules! detect {
                ($($name:ident = $bit:literal, $llvm:literal, $std:tt;)*) => {{
                    let mut set = CpuFeatures::EMPTY;
                    $(
                        if std::is_x86_feature_detected!($std) {
                            set.insert(X86Feature::$name);
                        }
                    )*
                    set
                }};
            }
            foreach_x86_feature!(detect)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            CpuFeatures::EMPTY
        }
    }
}

impl std::fmt::Display for CpuFeatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for feat in self.iter() {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            f.write_str(feat.llvm_name())?;
        }
        // Bits no feature of this build owns (a newer wasmo's artifact, or
        // a damaged header): named by number, never hidden as "(baseline)".
        let known = X86Feature::ALL
            .iter()
            .fold(0u64, |acc, &feat| acc | (1 << feat.bit()));
        let mut unknown = self.0 & !known;
        while unknown != 0 {
            let bit = unknown.trailing_zeros();
            unknown &= unknown - 1;
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "unknown feature bit {bit}")?;
        }
        if first {
            f.write_str("(baseline)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_llvm_feature_strings() {
        let set = CpuFeatures::from_llvm_feature_string("+sse4.1,-avx,+popcnt,+frobnicate");
        assert!(set.contains(X86Feature::Sse41));
        assert!(set.contains(X86Feature::Popcnt));
        assert!(!set.contains(X86Feature::Avx));
        assert_eq!(set.to_string(), "sse4.1,popcnt");
        let missing = set.missing_from(CpuFeatures::from_llvm_feature_string("+popcnt"));
        assert_eq!(missing.to_string(), "sse4.1");
    }

    /// Issue 9: an artifact needing a feature bit this build does not know
    /// was reported as needing "(baseline)".
    #[test]
    fn issue9_unknown_feature_bits_are_named() {
        assert_eq!(CpuFeatures(1 << 63).to_string(), "unknown feature bit 63");
        let popcnt = CpuFeatures::from_llvm_feature_string("+popcnt");
        assert_eq!(
            CpuFeatures(popcnt.0 | 1 << 37 | 1 << 40).to_string(),
            "popcnt,unknown feature bit 37,unknown feature bit 40"
        );
        assert_eq!(CpuFeatures::EMPTY.to_string(), "(baseline)");
    }
}
