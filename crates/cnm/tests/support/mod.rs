//! Shared helpers for cnm's root integration tests (`mod support;` in a `tests/*.rs` file).
//!
//! - `host`: `TestHost`, a private network + mount namespace with a `cnm daemon` in it;
//! - `normalize`: stable placeholders for ids, times, MACs, veth names and the bridge name;
//! - `process`: run a child with a deadline and capture its output;
//! - `session`: golden transcripts of `docker` CLI sessions against cnm or the reference dockerd.
//!
//! Not every test file uses every helper, hence `dead_code` and `unused_imports` are allowed.
#![allow(dead_code, unused_imports)]

pub mod api;
pub mod host;
pub mod invariants;
pub mod normalize;
pub mod process;
pub mod session;

use std::path::Path;
use std::process::Command;

pub use host::TestHost;
pub use normalize::{Normalizer, normalize};
pub use session::{Mode, ReferenceDaemon, Session, StepOptions, Target};

/// True when the test runs as root (needed for namespaces, links and nftables).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// True when root; otherwise prints a loud SKIPPED banner on stderr and returns false, and the
/// caller returns early.
/// Set `CNM_TEST_REQUIRE_ROOT=1` (as CI should) to turn the skip into a failure.
pub fn root_or_loud_skip(test: &str) -> bool {
    if is_root() {
        return true;
    }
    let message = format!("SKIPPED {test}: needs root (network namespaces); run the tests as root");
    if std::env::var_os("CNM_TEST_REQUIRE_ROOT").is_some_and(|v| v == "1") {
        panic!("{message} (CNM_TEST_REQUIRE_ROOT=1)");
    }
    eprintln!("\n{}\n!!! {message}\n{}\n", "!".repeat(78), "!".repeat(78));
    false
}

/// A `docker` CLI command for `docker_host`, isolated from the user's own Docker setup.
pub fn docker_cli(docker_host: &str, config_dir: &Path) -> Command {
    let mut cmd = Command::new("docker");
    cmd.env("DOCKER_HOST", docker_host)
        .env("DOCKER_CONFIG", config_dir)
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_API_VERSION")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH");
    cmd
}
