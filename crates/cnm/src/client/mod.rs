//! The client commands. They talk to the daemon over HTTP and depend on `cnm-types` only.

pub mod network;
pub mod sandbox;

/// Runs a `cnm network` command; returns the process exit status.
pub fn run_network(host: Option<String>, cmd: network::NetworkCommand) -> i32 {
    let _ = (host, cmd);
    todo!()
}

/// Runs a `cnm sandbox` command; returns the process exit status.
pub fn run_sandbox(host: Option<String>, cmd: sandbox::SandboxCommand) -> i32 {
    let _ = (host, cmd);
    todo!()
}
