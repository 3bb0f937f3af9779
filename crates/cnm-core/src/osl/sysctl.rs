//! `/proc/sys` reads and writes, in the caller's namespace or inside another one.
//!
//! Contract: a key is the dotted `sysctl` name (`net.ipv4.ip_forward`); dots become slashes.
//! Interface names containing dots are not supported (cnm never creates such names). Keys with
//! empty or `..` components are refused, so a key can never leave `/proc/sys`. `/proc/sys/net`
//! is resolved against the namespace of the thread that opens it, which is why `set_in`
//! writes from a thread that has joined the target namespace (`netns::run_in`).

use std::fs;
use std::path::{Path, PathBuf};

use super::{OslError, OslResult, netns};

/// Writes `value` to `/proc/sys/<key with dots as slashes>` in the current namespace.
pub fn set(key: &str, value: &str) -> OslResult<()> {
    let op = || format!("set sysctl {key}={value}");
    let path = key_path(key).map_err(|message| OslError::Other { op: op(), message })?;
    fs::write(&path, value).map_err(|source| OslError::Io { op: op(), source })
}

/// The same inside the namespace at `netns`.
pub fn set_in(netns: &Path, key: &str, value: &str) -> OslResult<()> {
    let (key_owned, value_owned) = (key.to_owned(), value.to_owned());
    netns::run_in(netns, move || set(&key_owned, &value_owned))?.map_err(|e| match e {
        OslError::Io { op, source } => OslError::Io {
            op: format!("{op} in {}", netns.display()),
            source,
        },
        other => other,
    })
}

/// Reads a sysctl in the current namespace (trimmed).
pub fn get(key: &str) -> OslResult<String> {
    let op = || format!("get sysctl {key}");
    let path = key_path(key).map_err(|message| OslError::Other { op: op(), message })?;
    match fs::read_to_string(&path) {
        Ok(text) => Ok(text.trim().to_owned()),
        Err(source) => Err(OslError::Io { op: op(), source }),
    }
}

/// Reads a sysctl inside the namespace at `netns` (trimmed).
pub fn get_in(netns: &Path, key: &str) -> OslResult<String> {
    let key_owned = key.to_owned();
    netns::run_in(netns, move || get(&key_owned))?
}

fn key_path(key: &str) -> Result<PathBuf, String> {
    let mut path = PathBuf::from("/proc/sys");
    for part in key.split(['.', '/']) {
        if part.is_empty() || part == ".." {
            return Err(format!("invalid sysctl key {key:?}"));
        }
        path.push(part);
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_keys_map_under_proc_sys() {
        assert_eq!(
            key_path("net.ipv4.ip_forward").unwrap(),
            Path::new("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            key_path("net/ipv6/conf/all/disable_ipv6").unwrap(),
            Path::new("/proc/sys/net/ipv6/conf/all/disable_ipv6")
        );
    }

    #[test]
    fn keys_that_could_escape_are_refused() {
        for bad in ["", "net..ipv4", "net/../../etc/passwd", ".net", "net."] {
            assert!(key_path(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn reading_a_missing_key_is_not_found() {
        let err = get("net.cnm_no_such_key").unwrap_err();
        assert_eq!(err.errno(), Some(nix::errno::Errno::ENOENT));
    }
}
