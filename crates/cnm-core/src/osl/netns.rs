//! Network namespaces bound to files (placeholder signatures; see module docs in osl).

use std::os::fd::OwnedFd;
use std::path::Path;

use super::OslResult;

/// Creates a new, empty network namespace and bind-mounts it at `path` (the file is
/// created). Done on a dedicated thread that unshares, so the caller's namespace is
/// untouched. `lo` is left down; the caller sets it up.
pub fn create(path: &Path) -> OslResult<()> {
    let _ = path;
    todo!()
}

/// Unmounts and removes a namespace file made by `create`. A missing file is not an error.
pub fn remove(path: &Path) -> OslResult<()> {
    let _ = path;
    todo!()
}

/// Opens a namespace file (a bind mount or `/proc/PID/ns/net`) and checks it is a network
/// namespace.
pub fn open(path: &Path) -> OslResult<OwnedFd> {
    let _ = path;
    todo!()
}

/// Runs `f` on a fresh OS thread that has joined the namespace at `path`; the tokio runtime
/// handle is entered on that thread, so sockets made there register with the runtime.
pub fn run_in<T, F>(path: &Path, f: F) -> OslResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let _ = (path, f);
    todo!()
}
