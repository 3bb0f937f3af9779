//! The daemon's own namespace, bound to a file so host-mode sandboxes have a path to it.

use std::path::Path;

use nix::mount::{MsFlags, mount};

use super::{OslError, OslResult};

/// Bind-mounts the caller's network namespace at `path`, unless something already is.
pub fn bind_current(path: &Path) -> OslResult<()> {
    if super::netns::open(path).is_ok() {
        return Ok(());
    }
    let io = |op: &str, e: std::io::Error| OslError::Io {
        op: format!("{op} {}", path.display()),
        source: e,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io("create dir for", e))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| io("create", e))?;
    mount(
        Some("/proc/thread-self/ns/net"),
        path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|errno| OslError::Netlink {
        op: format!("bind-mount the daemon namespace at {}", path.display()),
        errno,
    })
}
