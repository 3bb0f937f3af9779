//! Remote plugins end to end (issue 5): real plugin servers (`support/plugin_server.rs`) on
//! unix sockets (and TCP on loopback) in a test directory, a cnm daemon pointed at it with
//! `--plugin-dir`/`--plugin-spec-dir`, driven by the `docker` CLI and cnm's sandbox API, with
//! real packets between sandboxes.
//!
//! - `plugins/sequence.rs`: a remote driver with a remote IPAM, call by call;
//! - `plugins/combinations.rs`: remote IPAM under the bridge driver, the remote driver under
//!   the default and null IPAM, a global-scope plugin;
//! - `plugins/discovery.rs`: sockets, nested sockets, `.spec`/`.json`, TCP, TLS, unknown names;
//! - `plugins/failures.rs`: every way a plugin can fail, each leaving nothing behind;
//! - `plugins/restart.rs`: a daemon restart with remote networks, endpoints and replay.
//!
//! Run with `cargo nextest run -p cnm --test plugins` as root.

mod support;

#[path = "support/plugin_server.rs"]
mod plugin_server;

#[path = "plugins/combinations.rs"]
mod combinations;
#[path = "plugins/discovery.rs"]
mod discovery;
#[path = "plugins/failures.rs"]
mod failures;
#[path = "plugins/restart.rs"]
mod restart;
#[path = "plugins/sequence.rs"]
mod sequence;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use plugin_server::{Behaviour, Fault, TestPlugin};
use serde_json::{Value, json};
use support::TestHost;
use support::api::{api, ip_json, nsenter};

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "command failed: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The command failed; its stderr.
fn fails(out: Output) -> String {
    assert!(
        !out.status.success(),
        "command unexpectedly succeeded: {}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// A plugin directory with sockets at the top and spec files under `specs/`.
struct PluginDirs {
    _tmp: tempfile::TempDir,
    sockets: PathBuf,
    specs: PathBuf,
}

impl PluginDirs {
    fn new() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("cnm-plugins-")
            .tempdir()
            .unwrap();
        let sockets = tmp.path().join("run");
        let specs = tmp.path().join("specs");
        std::fs::create_dir_all(&sockets).unwrap();
        std::fs::create_dir_all(&specs).unwrap();
        PluginDirs {
            _tmp: tmp,
            sockets,
            specs,
        }
    }

    fn socket(&self, name: &str) -> PathBuf {
        self.sockets.join(format!("{name}.sock"))
    }

    /// Starts the daemon (entering the test's private namespaces) aimed at these directories.
    ///
    /// `--ip-forward=false`: when cnm turns forwarding on, its firewall drops forwarded traffic
    /// that touches none of cnm's bridges (Docker's rule), and with `br_netfilter` loaded that
    /// includes frames bridged inside the test plugin's own bridge, so plugin networks would lose
    /// their traffic for a reason that is the firewall's, not the plugin protocol's. Sandboxes on
    /// one plugin network share a bridge and need no routing.
    fn host(&self) -> TestHost {
        let sockets = self.sockets.display().to_string();
        let specs = self.specs.display().to_string();
        TestHost::new(&[
            "--plugin-dir",
            &sockets,
            "--plugin-spec-dir",
            &specs,
            "--plugin-timeout",
            "2",
            "--ip-forward=false",
        ])
    }
}

/// `POST /sandboxes/create`: `(status, body)`.
fn try_sandbox(host: &TestHost, name: &str, networks: &[&str]) -> (u16, String) {
    let nets: Vec<Value> = networks.iter().map(|n| json!({ "Network": n })).collect();
    api(
        host,
        "POST",
        "/sandboxes/create",
        Some(&json!({ "Name": name, "Networks": nets }).to_string()),
    )
}

fn create_sandbox(host: &TestHost, name: &str, networks: &[&str]) {
    let (code, out) = try_sandbox(host, name, networks);
    assert_eq!(code, 201, "create sandbox {name}: {out}");
}

fn sandbox(host: &TestHost, name: &str) -> Value {
    let (code, out) = api(host, "GET", &format!("/sandboxes/{name}"), None);
    assert_eq!(code, 200, "inspect sandbox {name}: {out}");
    serde_json::from_str(&out).unwrap()
}

fn key_of(host: &TestHost, name: &str) -> String {
    sandbox(host, name)["NetworkSettings"]["SandboxKey"]
        .as_str()
        .unwrap()
        .to_string()
}

fn endpoint_of(host: &TestHost, name: &str, network: &str) -> Value {
    sandbox(host, name)["NetworkSettings"]["Networks"][network].clone()
}

fn ip_of(host: &TestHost, name: &str, network: &str) -> String {
    endpoint_of(host, name, network)["IPAddress"]
        .as_str()
        .unwrap()
        .to_string()
}

/// One ping, retried a few times: a fresh veth may drop the very first frames.
fn ping(host: &TestHost, from: &str, to_ip: &str) -> bool {
    let key = key_of(host, from);
    (0..3).any(|_| {
        nsenter(&key, &["busybox", "ping", "-c", "1", "-W", "2", to_ip])
            .status
            .success()
    })
}

/// Link names in a namespace (`None`: the test host's own).
fn links(netns: Option<&str>) -> BTreeSet<String> {
    ip_json(netns, &["link", "show"])
        .iter()
        .map(|l| l["ifname"].as_str().unwrap().to_string())
        .collect()
}

/// Links the test plugins made (`tb-…` bridges, `th…`/`tc…` veth ends) in the host namespace.
fn plugin_links() -> BTreeSet<String> {
    links(None)
        .into_iter()
        .filter(|n| n.starts_with("tb-") || n.starts_with("th") || n.starts_with("tc"))
        .collect()
}

fn network_names(host: &TestHost) -> Vec<String> {
    ok(host.docker(&["network", "ls", "--format", "{{.Name}}"]))
        .lines()
        .map(String::from)
        .collect()
}

fn sandbox_count(host: &TestHost) -> usize {
    let (_, body) = api(host, "GET", "/sandboxes", None);
    serde_json::from_str::<Vec<Value>>(&body).unwrap().len()
}

/// The subsequence of `methods` that are in `wanted`, to check call order.
fn only(methods: &[String], wanted: &[&str]) -> Vec<String> {
    methods
        .iter()
        .filter(|m| wanted.contains(&m.as_str()))
        .cloned()
        .collect()
}
