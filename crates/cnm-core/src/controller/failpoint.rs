//! Crash points for tests: a named place in an operation where the daemon can be made to die
//! as a SIGKILL would leave it, so a crash window is reproduced exactly, not by luck.
//!
//! Contract: [`hit`] does nothing unless the environment variable `CNM_TEST_CRASH_AT` (read
//! once per process) equals the point's name; then it aborts the process at once: no
//! destructor, flush or undo runs. Points: `detach:removal-committed` (a disconnect's, a
//! sandbox removal's or the sweep's endpoint removal is in the store; its interface, addresses, default route and the sandbox's
//! published ports have not been handled yet).

use std::sync::OnceLock;

/// The variable naming the point to crash at.
pub const VAR: &str = "CNM_TEST_CRASH_AT";

/// Aborts the process when `CNM_TEST_CRASH_AT` is `point`.
pub(crate) fn hit(point: &str) {
    static CHOSEN: OnceLock<Option<String>> = OnceLock::new();
    let chosen = CHOSEN.get_or_init(|| std::env::var(VAR).ok().filter(|v| !v.is_empty()));
    if chosen.as_deref() == Some(point) {
        eprintln!("{VAR}={point}: aborting here, as a crash would");
        std::process::abort();
    }
}
