//! Network namespaces bound to files.
//!
//! Contract:
//! - `create` makes a new, empty network namespace and bind-mounts it on a file. The unshare
//!   happens on a short-lived dedicated thread, so no existing thread ever changes namespace.
//! - `remove` undoes `create` (lazy unmount, then unlink); a missing file is not an error.
//! - `open` opens a namespace file and refuses anything that is not a *network* namespace.
//! - `run_in` runs a closure on a fresh OS thread that has joined the namespace, with the
//!   caller's tokio runtime entered there, so sockets created inside (netlink, DNS) register
//!   with the normal runtime and stay bound to that namespace after the thread ends.
//!   `setns` is never called on the caller's thread or on a tokio worker.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::thread;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

use super::{OslError, OslResult};

/// Where the thread that just unshared finds its own (new) namespace.
const THREAD_NETNS: &str = "/proc/thread-self/ns/net";

/// Creates a new, empty network namespace and bind-mounts it at `path` (the file is
/// created, parents too). Done on a dedicated thread that unshares, so the caller's namespace
/// is untouched. `lo` is left down; the caller sets it up. A file that already holds a
/// namespace is refused with `EEXIST`.
pub fn create(path: &Path) -> OslResult<()> {
    let op = || format!("create netns {}", path.display());
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|source| OslError::Io { op: op(), source })?;
    }
    // A stale plain file (left by a crash before the mount) is reused; a live mount is not.
    let existed = path.exists();
    if existed && is_namespace_file(path) {
        return Err(OslError::Io {
            op: op(),
            source: io::Error::from_raw_os_error(libc::EEXIST),
        });
    }
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|source| OslError::Io { op: op(), source })?;

    let target = path.to_owned();
    let outcome = on_fresh_thread("cnm-netns-new", move || -> Result<(), Errno> {
        // Only this throwaway thread moves; it dies right after, the mount keeps the ns alive.
        unshare(CloneFlags::CLONE_NEWNET)?;
        mount(
            Some(THREAD_NETNS),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
    })
    .map_err(|message| OslError::Other { op: op(), message })?;

    if let Err(errno) = outcome {
        if !existed {
            let _ = fs::remove_file(path);
        }
        return Err(OslError::Io {
            op: op(),
            source: io::Error::from(errno),
        });
    }
    Ok(())
}

/// Unmounts and removes a namespace file made by `create`. A missing file is not an error.
pub fn remove(path: &Path) -> OslResult<()> {
    let op = || format!("remove netns {}", path.display());
    match umount2(path, MntFlags::MNT_DETACH) {
        // EINVAL: not a mount point (a stale file from an interrupted create).
        Ok(()) | Err(Errno::EINVAL) => {}
        Err(Errno::ENOENT) => return Ok(()),
        Err(errno) => {
            return Err(OslError::Io {
                op: op(),
                source: io::Error::from(errno),
            });
        }
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(OslError::Io { op: op(), source }),
    }
}

/// Opens a namespace file (a bind mount or `/proc/PID/ns/net`) and checks it is a network
/// namespace.
pub fn open(path: &Path) -> OslResult<OwnedFd> {
    let op = || format!("open netns {}", path.display());
    let file = File::open(path).map_err(|source| OslError::Io { op: op(), source })?;
    match namespace_type(&file) {
        Ok(kind) if kind == libc::CLONE_NEWNET => Ok(OwnedFd::from(file)),
        Ok(_) | Err(Errno::ENOTTY) | Err(Errno::EINVAL) => Err(OslError::NotNetns {
            path: path.to_owned(),
        }),
        Err(errno) => Err(OslError::Io {
            op: op(),
            source: io::Error::from(errno),
        }),
    }
}

/// Runs `f` on a fresh OS thread that has joined the namespace at `path`; the tokio runtime
/// handle is entered on that thread, so sockets made there register with the runtime.
/// A panic in `f` is propagated to the caller.
pub fn run_in<T, F>(path: &Path, f: F) -> OslResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    // Open (and type-check) here, so a bad path fails before any thread is spawned.
    let netns = open(path)?;
    let op = || format!("enter netns {}", path.display());
    let runtime = tokio::runtime::Handle::try_current().ok();
    let outcome = on_fresh_thread("cnm-netns-run", move || -> Result<T, Errno> {
        setns(&netns, CloneFlags::CLONE_NEWNET)?;
        drop(netns);
        let _entered = runtime.as_ref().map(|handle| handle.enter());
        Ok(f())
    })
    .map_err(|message| OslError::Other { op: op(), message })?;
    outcome.map_err(|errno| OslError::Io {
        op: op(),
        source: io::Error::from(errno),
    })
}

/// True if `path` is an nsfs file (a namespace handle), whatever the namespace type.
fn is_namespace_file(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .map(|fs| fs.filesystem_type() == nix::sys::statfs::NSFS_MAGIC)
        .unwrap_or(false)
}

/// `NS_GET_NSTYPE`: the `CLONE_NEW*` flag of the namespace behind `file`.
fn namespace_type(file: &File) -> Result<i32, Errno> {
    // SAFETY: NS_GET_NSTYPE takes no argument and only reads the fd, which `file` keeps open.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::NS_GET_NSTYPE) };
    Errno::result(rc)
}

/// Runs `work` on a new named thread and waits for it. A spawn failure becomes a message;
/// a panic is re-raised on the caller, as if `work` had run inline.
fn on_fresh_thread<T, W>(name: &str, work: W) -> Result<T, String>
where
    T: Send + 'static,
    W: FnOnce() -> T + Send + 'static,
{
    let worker = thread::Builder::new()
        .name(name.to_owned())
        .spawn(work)
        .map_err(|e| format!("spawn thread: {e}"))?;
    match worker.join() {
        Ok(value) => Ok(value),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
