//! `/proc/sys` writes, in the caller's namespace or inside another one.

use std::path::Path;

use super::OslResult;

/// Writes `value` to `/proc/sys/<key with dots as slashes>` in the current namespace.
pub fn set(key: &str, value: &str) -> OslResult<()> {
    let _ = (key, value);
    todo!()
}

/// The same inside the namespace at `netns`.
pub fn set_in(netns: &Path, key: &str, value: &str) -> OslResult<()> {
    let _ = (netns, key, value);
    todo!()
}

/// Reads a sysctl in the current namespace (trimmed).
pub fn get(key: &str) -> OslResult<String> {
    let _ = key;
    todo!()
}
