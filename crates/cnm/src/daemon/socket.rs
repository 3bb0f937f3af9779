//! Binding the API socket safely: mode 0660, stale socket files replaced, unsafe paths
//! (a symlink, or a directory others can write) refused.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, bail};
use tokio::net::UnixListener;

pub fn bind(host: &str) -> anyhow::Result<UnixListener> {
    let Some(path) = host.strip_prefix("unix://") else {
        bail!("unsupported -H {host}: only unix:// sockets are served");
    };
    let path = Path::new(path);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let dir_meta = std::fs::metadata(dir).with_context(|| format!("stat {}", dir.display()))?;
    if dir_meta.mode() & 0o002 != 0 && dir_meta.mode() & 0o1000 == 0 {
        bail!(
            "refusing to serve on {}: its directory is writable by others",
            path.display()
        );
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_symlink() {
            bail!("refusing to serve on {}: it is a symlink", path.display());
        }
        if !meta.file_type().is_socket() {
            bail!(
                "refusing to serve on {}: it exists and is not a socket",
                path.display()
            );
        }
        std::fs::remove_file(path)
            .with_context(|| format!("remove stale socket {}", path.display()))?;
    }
    let listener = UnixListener::bind(path).with_context(|| format!("bind {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("chmod {}", path.display()))?;
    Ok(listener)
}
