//! Applying nftables scripts: in-process through libnftables when it is there, else by
//! running `nft -f -`.
//!
//! Why: spawning `nft` costs ~5.6 ms per transaction on this machine; the same transaction
//! through libnftables in-process costs ~0.2 ms. The library ships with the `nftables`
//! package (`libnftables.so.1`), so it is loaded at run time and needs no headers to build.
//!
//! Be aware: a libnftables context is not thread-safe and binds its netlink socket to the
//! namespace of the thread that creates it; `Nft` keeps one context behind a mutex, created
//! in the daemon's namespace. Each `apply` is one atomic transaction, as with `nft -f`.
//! `list` runs a listing command with JSON output (`nft -j`) and returns the text; a missing
//! table or set is `FirewallError::Missing`.
//!
//! The library is loaded on first use and unloaded by `release`: element changes go through
//! netlink (`batch.rs`), so libnftables is only needed to reconcile (at start, and when someone
//! else changed the table). Unloading it keeps ~1.4 MiB of its pages (with libnftnl, libgmp,
//! libjansson, libxtables) out of the idle daemon.
//!
//! Be aware: libnftables waits for the kernel with `select()`, which aborts the process
//! (glibc's fortified `FD_SET`) if its socket's number is 1024 or more, and a daemon holding
//! thousands of published ports has that many descriptors open. So `Nft::new` (at start, when
//! numbers are low) reserves two low descriptors and frees them only while a context (and its
//! socket) is created; if the lowest free number is still too high, the call runs the binary.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::process::Stdio;
use std::sync::Mutex;

use tokio::io::AsyncWriteExt;

use super::FirewallError;

type CtxNew = unsafe extern "C" fn(u32) -> *mut c_void;
type CtxFree = unsafe extern "C" fn(*mut c_void);
type CtxBuffer = unsafe extern "C" fn(*mut c_void) -> c_int;
type RunCmd = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;
type GetBuffer = unsafe extern "C" fn(*mut c_void) -> *const c_char;
type SetFlags = unsafe extern "C" fn(*mut c_void, u32);

/// `NFT_CTX_OUTPUT_JSON` (libnftables.h).
const OUTPUT_JSON: u32 = 1 << 4;

struct Library {
    _lib: libloading::Library,
    free: CtxFree,
    run: RunCmd,
    error_buffer: GetBuffer,
    output_buffer: GetBuffer,
    set_output_flags: SetFlags,
    ctx: *mut c_void,
}

// The context is only used under `Nft`'s mutex.
unsafe impl Send for Library {}

impl Library {
    fn load() -> Option<Self> {
        // SAFETY: loading a system library whose initialisers have no preconditions; the
        // symbol types match libnftables' public API (nftables/libnftables.h).
        unsafe {
            let lib = libloading::Library::new("libnftables.so.1").ok()?;
            let new: CtxNew = *lib.get(b"nft_ctx_new\0").ok()?;
            let free: CtxFree = *lib.get(b"nft_ctx_free\0").ok()?;
            let buffer_output: CtxBuffer = *lib.get(b"nft_ctx_buffer_output\0").ok()?;
            let buffer_error: CtxBuffer = *lib.get(b"nft_ctx_buffer_error\0").ok()?;
            let run: RunCmd = *lib.get(b"nft_run_cmd_from_buffer\0").ok()?;
            let error_buffer: GetBuffer = *lib.get(b"nft_ctx_get_error_buffer\0").ok()?;
            let output_buffer: GetBuffer = *lib.get(b"nft_ctx_get_output_buffer\0").ok()?;
            let set_output_flags: SetFlags = *lib.get(b"nft_ctx_output_set_flags\0").ok()?;
            let ctx = new(0);
            if ctx.is_null() {
                return None;
            }
            buffer_output(ctx);
            buffer_error(ctx);
            Some(Library {
                _lib: lib,
                free,
                run,
                error_buffer,
                output_buffer,
                set_output_flags,
                ctx,
            })
        }
    }

    fn apply(&mut self, script: &str) -> Result<(), FirewallError> {
        let script = CString::new(script).map_err(|_| FirewallError::Nft {
            stderr: "script contains NUL".into(),
        })?;
        // SAFETY: ctx is valid for the library's lifetime; the script is NUL-terminated; the
        // error buffer is owned by ctx and read before the next call.
        unsafe {
            if (self.run)(self.ctx, script.as_ptr()) == 0 {
                return Ok(());
            }
            Err(classify(
                (self.read_buffer(self.error_buffer)).trim().to_string(),
            ))
        }
    }

    /// Runs a listing command with JSON output and returns what it printed.
    fn list(&mut self, command: &str) -> Result<String, FirewallError> {
        let command = CString::new(command).map_err(|_| FirewallError::Nft {
            stderr: "command contains NUL".into(),
        })?;
        // SAFETY: as in `apply`; flags are restored before the context is used again.
        unsafe {
            (self.set_output_flags)(self.ctx, OUTPUT_JSON);
            let rc = (self.run)(self.ctx, command.as_ptr());
            (self.set_output_flags)(self.ctx, 0);
            let out = self.read_buffer(self.output_buffer);
            if rc == 0 {
                return Ok(out);
            }
            Err(classify(
                self.read_buffer(self.error_buffer).trim().to_string(),
            ))
        }
    }

    /// Reads (and so resets) one of the context's buffers.
    ///
    /// # Safety
    /// `get` must be one of the context's buffer getters.
    unsafe fn read_buffer(&self, get: GetBuffer) -> String {
        // SAFETY: the buffer is owned by ctx and copied before the next call.
        unsafe {
            let p = get(self.ctx);
            if p.is_null() {
                String::new()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        }
    }
}

/// A missing object is its own error, so callers can tell "not there" from "failed".
fn classify(stderr: String) -> FirewallError {
    if stderr.contains("No such file or directory") {
        FirewallError::Missing { stderr }
    } else {
        FirewallError::Nft { stderr }
    }
}

impl Drop for Library {
    fn drop(&mut self) {
        // SAFETY: ctx came from nft_ctx_new and is freed once.
        unsafe { (self.free)(self.ctx) }
    }
}

/// The way scripts reach the kernel.
pub struct Nft {
    /// Loaded on demand; `None` also after `release`.
    library: Mutex<Option<Library>>,
    /// Low descriptor numbers kept free for the library's socket (see the module docs).
    reserved: Mutex<Vec<std::os::fd::OwnedFd>>,
    /// `libnftables.so.1` failed to load once: use the binary from then on.
    missing: std::sync::atomic::AtomicBool,
}

impl Default for Nft {
    fn default() -> Self {
        Self::new()
    }
}

impl Nft {
    /// Touches nothing yet; the library is loaded by the first `apply` or `list`.
    pub fn new() -> Self {
        Nft {
            library: Mutex::new(None),
            reserved: Mutex::new(reserve_low_fds()),
            missing: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Runs `f` with the library, loading it in the caller's namespace (tokio workers never
    /// leave the daemon's); `None` when it is not installed.
    fn with_library<T>(&self, f: impl FnOnce(&mut Library) -> T) -> Option<T> {
        use std::sync::atomic::Ordering;
        if self.missing.load(Ordering::Relaxed) {
            return None;
        }
        let mut slot = self.library.lock().expect("nft context lock");
        if slot.is_none() {
            let mut reserved = self.reserved.lock().expect("reserved fds lock");
            reserved.clear();
            if lowest_free_fd().is_none_or(|fd| fd >= SELECT_LIMIT) {
                *reserved = reserve_low_fds();
                tracing::warn!(
                    "too many open files for libnftables' select(); running the nft binary"
                );
                return None;
            }
            *slot = Library::load();
            *reserved = reserve_low_fds();
            if slot.is_none() {
                tracing::info!(
                    "libnftables.so.1 not found; firewall changes will run the nft binary"
                );
                self.missing.store(true, Ordering::Relaxed);
            }
        }
        slot.as_mut().map(f)
    }

    /// Unloads the library until the next `apply` or `list`.
    pub fn release(&self) {
        self.library.lock().expect("nft context lock").take();
    }

    /// Applies `script` as one transaction.
    pub async fn apply(&self, script: &str) -> Result<(), FirewallError> {
        match self.with_library(|lib| lib.apply(script)) {
            Some(result) => result,
            None => apply_with_binary(script).await,
        }
    }

    /// Runs a listing command (`list table inet cnm`) and returns its JSON.
    pub async fn list(&self, command: &str) -> Result<String, FirewallError> {
        match self.with_library(|lib| lib.list(command)) {
            Some(result) => result,
            None => list_with_binary(command).await,
        }
    }
}

/// `FD_SETSIZE`: `select()` cannot watch a descriptor numbered this or above.
const SELECT_LIMIT: i32 = 1024;

/// Two descriptors (on /dev/null) at the lowest free numbers, if those are below the limit.
fn reserve_low_fds() -> Vec<std::os::fd::OwnedFd> {
    (0..2)
        .filter_map(|_| std::fs::File::open("/dev/null").ok())
        .map(std::os::fd::OwnedFd::from)
        .filter(|fd| std::os::fd::AsRawFd::as_raw_fd(fd) < SELECT_LIMIT)
        .collect()
}

/// The number the next descriptor would get.
fn lowest_free_fd() -> Option<i32> {
    let probe = std::fs::File::open("/dev/null").ok()?;
    Some(std::os::fd::AsRawFd::as_raw_fd(&probe))
}

/// Runs `nft -j <command>`.
async fn list_with_binary(command: &str) -> Result<String, FirewallError> {
    let out = tokio::process::Command::new("nft")
        .arg("-j")
        .args(command.split_whitespace())
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(FirewallError::NftMissing)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(classify(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

/// Runs `nft -f -` with `script` as one transaction.
async fn apply_with_binary(script: &str) -> Result<(), FirewallError> {
    let mut child = tokio::process::Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(FirewallError::NftMissing)?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(script.as_bytes())
        .await
        .map_err(|e| FirewallError::Nft {
            stderr: e.to_string(),
        })?;
    drop(stdin);
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| FirewallError::Nft {
            stderr: e.to_string(),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(classify(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}
