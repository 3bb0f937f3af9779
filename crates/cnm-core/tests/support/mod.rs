//! Shared helpers for root integration tests.
//!
//! Contract: `private_host()` moves the calling test thread (and every thread or process it
//! starts afterwards) into a fresh network namespace and a private mount namespace, mounts a
//! tmpfs scratch directory there for namespace files, and builds the tokio runtime only then,
//! so its workers inherit the namespaces. Nothing of the machine's own namespace is touched:
//! when the test process ends, its namespaces and every link, mount and netns in them go away,
//! also on failure. Returns `None` (after printing `SKIP: needs root`) when not root.
#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};

/// The private "host" of one test: its scratch directory and runtime.
pub struct PrivateHost {
    scratch: PathBuf,
    _dir: tempfile::TempDir,
    pub runtime: tokio::runtime::Runtime,
}

impl PrivateHost {
    /// A path for a namespace file (or anything else) in the private scratch tmpfs.
    pub fn path(&self, name: &str) -> PathBuf {
        self.scratch.join(name)
    }

    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

impl Drop for PrivateHost {
    fn drop(&mut self) {
        // Detaches the tmpfs with every namespace bind mount under it; TempDir then removes
        // the (empty) directory that the machine's own mount namespace sees.
        let _ = umount2(&self.scratch, MntFlags::MNT_DETACH);
    }
}

/// Enters a private network + mount namespace; see the module contract.
pub fn private_host() -> Option<PrivateHost> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP: needs root");
        return None;
    }
    // Must come before any runtime or helper thread exists, so they all start inside.
    unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS).expect("unshare net+mount");
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .expect("make / private");
    let dir = tempfile::Builder::new()
        .prefix("cnm-test-")
        .tempdir()
        .expect("scratch dir");
    let scratch = dir.path().to_owned();
    mount(
        Some("tmpfs"),
        &scratch,
        Some("tmpfs"),
        MsFlags::empty(),
        Some("size=1m"),
    )
    .expect("mount scratch tmpfs");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    Some(PrivateHost {
        scratch,
        _dir: dir,
        runtime,
    })
}

/// Identity (device, inode) of the network namespace the calling thread is in.
pub fn current_netns_id() -> (u64, u64) {
    netns_id(Path::new("/proc/thread-self/ns/net"))
}

/// Identity (device, inode) of the namespace behind a namespace file.
pub fn netns_id(path: &Path) -> (u64, u64) {
    let meta = std::fs::metadata(path).expect("stat namespace file");
    (meta.dev(), meta.ino())
}

/// Runs `program args...` inside the network namespace at `netns` (via `nsenter`), returning
/// whether it exited successfully; its output is printed for the test log.
pub fn run_in_netns(netns: &Path, program: &str, args: &[&str]) -> bool {
    let output = std::process::Command::new("nsenter")
        .arg(format!("--net={}", netns.display()))
        .arg(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run nsenter {program}: {e}"));
    println!(
        "$ nsenter --net={} {program} {}\n{}{}",
        netns.display(),
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output.status.success()
}
