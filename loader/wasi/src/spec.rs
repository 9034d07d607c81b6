//! Parsing of the command-line forms a CLI offers for WASI: `--dir
//! HOST[::GUEST]` and `--env K=V` / `--env K`.
//!
//! Rule: parsing only; nothing here opens a directory or reads more of the
//! host environment than the one variable named.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::ctx::{Preopen, WasiError};

impl Preopen {
    /// Parses `HOST[::GUEST]`; without `::GUEST` the guest sees the
    /// directory under the name it was given on the host (as in
    /// wasmtime). The result is writable; set
    /// [`read_only`](Preopen::read_only) for a read-only flag.
    pub fn parse(spec: &str) -> Preopen {
        let (host, guest) = match spec.split_once("::") {
            Some((host, guest)) => (host, guest),
            None => (spec, spec),
        };
        Preopen {
            host: PathBuf::from(host),
            guest: guest.to_owned(),
            read_only: false,
        }
    }
}

/// Parses `K=V`, or `K` alone to pass the host's value of `K` (`None` if
/// the host has no such variable, which then stays unset in the guest).
pub fn parse_env(spec: &str) -> Result<Option<(String, OsString)>, WasiError> {
    let (key, value) = match spec.split_once('=') {
        Some((k, v)) => (k, Some(OsString::from(v))),
        None => (spec, None),
    };
    if key.is_empty() {
        return Err(WasiError::EnvSpec(spec.to_owned()));
    }
    let value = match value {
        Some(v) => v,
        // `var_os`: a value that is not UTF-8 is passed through as bytes.
        None => match std::env::var_os(key) {
            Some(v) => v,
            None => return Ok(None),
        },
    };
    Ok(Some((key.to_owned(), value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirs_map_host_to_guest_names() {
        let p = Preopen::parse("/tmp/x::/sandbox");
        assert_eq!(
            (p.host, p.guest.as_str(), p.read_only),
            (PathBuf::from("/tmp/x"), "/sandbox", false)
        );
        let p = Preopen::parse(".");
        assert_eq!((p.host, p.guest.as_str()), (PathBuf::from("."), "."));
    }

    #[test]
    fn env_takes_values_or_the_hosts() {
        assert_eq!(
            parse_env("A=b=c").unwrap(),
            Some(("A".into(), "b=c".into()))
        );
        assert_eq!(
            parse_env("A=").unwrap(),
            Some(("A".into(), OsString::new()))
        );
        assert_eq!(parse_env("WASMO_SURELY_UNSET_VARIABLE").unwrap(), None);
        let path = std::env::var_os("PATH").map(|v| ("PATH".to_owned(), v));
        assert_eq!(parse_env("PATH").unwrap(), path);
        assert!(parse_env("=x").is_err());
    }

    /// Issue 9, defect 16: `--env NAME` treated a host value that is not
    /// UTF-8 as unset; WASI environment strings are bytes.
    #[test]
    fn issue9_env_passes_non_utf8_bytes() {
        use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
        let name = "WASMO_ISSUE9_NON_UTF8_VALUE";
        let value = OsString::from_vec(vec![b'a', 0xff, 0xfe, b'z']);
        // A name no other test reads, so setting it races with nothing.
        std::env::set_var(name, &value);
        let got = parse_env(name).unwrap();
        assert_eq!(got, Some((name.to_owned(), value.clone())));
        let cfg = crate::WasiConfig {
            env: got.into_iter().collect(),
            ..crate::WasiConfig::default()
        };
        let ctx = crate::WasiCtx::new(cfg).unwrap();
        let mut want = format!("{name}=").into_bytes();
        want.extend_from_slice(value.as_bytes());
        want.push(0);
        assert_eq!(ctx.env, vec![want]);
    }
}
