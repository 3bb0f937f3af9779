//! Calling the daemon's API from tests (through curl, so no HTTP client lives in test code),
//! and reading the kernel's view with `ip -j`.

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use super::TestHost;
use super::process;

/// One API call: `(status, body)`; status 0 when the daemon did not answer.
pub fn api_at(
    socket: &std::path::Path,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket"])
        .arg(socket)
        .args(["-X", method, &format!("http://cnm{path}")]);
    if let Some(body) = body {
        cmd.args(["-H", "Content-Type: application/json", "-d", body]);
    }
    let out = process::run(&mut cmd, None, Duration::from_secs(60));
    let all = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = all.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

pub fn api(host: &TestHost, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    api_at(&host.socket_path(), method, path, body)
}

/// Runs a command inside a namespace file.
pub fn nsenter(netns: &str, cmd: &[&str]) -> Output {
    let mut c = Command::new("nsenter");
    c.arg(format!("--net={netns}")).args(cmd);
    process::run(&mut c, None, Duration::from_secs(30))
}

/// `ip -j ARGS` in a namespace file, or in the test host's own namespace (`None`).
pub fn ip_json(netns: Option<&str>, args: &[&str]) -> Vec<Value> {
    let mut cmd: Vec<&str> = vec!["ip", "-j"];
    cmd.extend_from_slice(args);
    let out = match netns {
        Some(ns) => nsenter(ns, &cmd),
        None => process::run(
            Command::new("ip").arg("-j").args(args),
            None,
            Duration::from_secs(30),
        ),
    };
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}
