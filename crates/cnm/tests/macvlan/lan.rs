//! Test fixtures for the macvlan and ipvlan tests: a private "host", an "outside" namespace that
//! stands for the physical LAN, veth parents into it, kernel feature probes, and sandbox helpers.
//!
//! Contract:
//! - `private_host` moves the calling thread into a new network + mount namespace (`/` made
//!   recursively private, `lo` up) before it starts the daemon, so every link a test makes lives
//!   there, even when `cargo test` runs tests as threads of one process (`TestHost` unshares only
//!   once per process).
//! - `Outside` is a namespace held by a `sleep` child (no file anywhere); dropping it kills the
//!   child by PID, which removes the namespace and every link in it.
//! - `kernel_lacks` tries to create a link of a kind and reports the kernel's refusal; the
//!   tests that need that kind then print a loud `SKIP <test>: ...` and return.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use serde_json::Value;

use crate::support::process::{DEFAULT_TIMEOUT, run};
use crate::support::{self, TestHost};

/// Output of a command that must succeed; panics with its stderr otherwise.
pub fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// stdout + stderr of a command that must fail.
pub fn fails(out: Output, what: &str) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "{what} should have failed but printed:\n{text}"
    );
    text
}

pub fn sh(program: &str, args: &[&str]) -> Output {
    run(Command::new(program).args(args), None, DEFAULT_TIMEOUT)
}

/// `ip ARGS` in the test's host namespace; must succeed.
pub fn ip(args: &[&str]) -> String {
    ok(sh("ip", args), &format!("ip {}", args.join(" ")))
}

/// Root check (loud skip), then a private namespace for this thread, then the daemon.
pub fn private_host(test: &str) -> Option<TestHost> {
    if !support::root_or_loud_skip(test) {
        return None;
    }
    unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS)
        .expect("unshare(CLONE_NEWNET|CLONE_NEWNS)");
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .expect("make / private");
    ip(&["link", "set", "lo", "up"]);
    Some(TestHost::new(&[]))
}

/// Prints the skip so nobody mistakes it for a pass.
pub fn skip_loudly(test: &str, reason: &str) {
    let bar = "!".repeat(78);
    eprintln!("\n{bar}\n!!! SKIP {test}: {reason}\n{bar}\n");
    println!("SKIP {test}: {reason}");
}

/// `Some(kernel message)` when the kernel refuses a link of `kind` on `parent` (e.g.
/// `ipvlan`, `vlan`, `dummy`), `None` when it has it.
pub fn kernel_lacks(kind: &str, parent: Option<&str>) -> Option<String> {
    let mut args = vec!["link", "add", "probe0"];
    if let Some(parent) = parent {
        args.extend(["link", parent]);
    }
    args.extend(["type", kind]);
    if kind == "vlan" {
        args.extend(["id", "4000"]);
    }
    let out = sh("ip", &args);
    if out.status.success() {
        ip(&["link", "del", "probe0"]);
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stderr)
            .trim()
            .trim_start_matches("Error: ")
            .trim_end_matches('.')
            .to_owned(),
    )
}

/// The LAN: a namespace of its own.
pub struct Outside {
    child: Child,
}

impl Outside {
    pub fn new() -> Outside {
        let own = std::fs::read_link("/proc/thread-self/ns/net").expect("own netns");
        let child = Command::new("unshare")
            .args(["--net", "--", "sleep", "3600"])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn unshare");
        let outside = Outside { child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_link(outside.netns()).is_ok_and(|ns| ns == own) {
            assert!(
                Instant::now() < deadline,
                "the outside namespace did not appear"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        outside.run(&["ip", "link", "set", "lo", "up"]);
        outside
    }

    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }

    pub fn netns(&self) -> String {
        format!("/proc/{}/ns/net", self.child.id())
    }

    /// Runs a command inside; must succeed.
    pub fn run(&self, cmd: &[&str]) -> String {
        ok(self.try_run(cmd), &format!("outside: {}", cmd.join(" ")))
    }

    pub fn try_run(&self, cmd: &[&str]) -> Output {
        let net = format!("--net={}", self.netns());
        let mut args = vec![net.as_str(), "--"];
        args.extend_from_slice(cmd);
        sh("nsenter", &args)
    }

    /// One ping from the LAN.
    pub fn pings(&self, address: &str) -> bool {
        ping_in(|cmd| self.try_run(cmd), address)
    }

    /// A veth `parent` (up) in the host namespace whose peer `peer` sits here with `addresses`.
    pub fn plug(&self, parent: &str, peer: &str, addresses: &[&str]) {
        ip(&[
            "link",
            "add",
            parent,
            "type",
            "veth",
            "peer",
            "name",
            peer,
            "netns",
            &self.pid(),
        ]);
        ip(&["link", "set", parent, "up"]);
        for address in addresses {
            let mut cmd = vec!["ip", "addr", "add", address, "dev", peer];
            if address.contains(':') {
                cmd.push("nodad");
            }
            self.run(&cmd);
        }
        self.run(&["ip", "link", "set", peer, "up"]);
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A few pings, so a first lost ARP exchange does not fail a positive check.
fn ping_in(run: impl Fn(&[&str]) -> Output, address: &str) -> bool {
    let family = if address.contains(':') { "-6" } else { "-4" };
    (0..3).any(|_| {
        run(&["busybox", "ping", family, "-c", "1", "-W", "1", address])
            .status
            .success()
    })
}

/// One ping from a sandbox (for a negative check: three lost pings).
pub fn sandbox_pings(host: &TestHost, sandbox: &str, address: &str) -> bool {
    ping_in(|cmd| host.in_netns(sandbox, cmd), address)
}

/// `cnm sandbox create --name NAME --network NETWORK [--ip IP]`; must succeed.
pub fn sandbox(host: &TestHost, name: &str, network: &str, ip: Option<&str>) {
    let mut args = vec!["sandbox", "create", "--name", name, "--network", network];
    if let Some(ip) = ip {
        args.extend(["--ip", ip]);
    }
    ok(host.cnm(&args), &format!("sandbox create {name}"));
}

/// `docker ARGS` against the test's daemon; must succeed; stdout.
pub fn docker(host: &TestHost, args: &[&str]) -> String {
    ok(host.docker(args), &format!("docker {}", args.join(" ")))
}

/// `ip -j ARGS` in a sandbox, parsed.
pub fn sandbox_ip_json(host: &TestHost, sandbox: &str, args: &[&str]) -> Vec<Value> {
    let mut cmd = vec!["ip", "-j"];
    cmd.extend_from_slice(args);
    let text = ok(
        host.in_netns(sandbox, &cmd),
        &format!("ip -j {} in {sandbox}", args.join(" ")),
    );
    serde_json::from_str(&text).unwrap_or_default()
}

/// The sandbox's interface `ifname` as `ip -j -d link` shows it.
pub fn sandbox_link(host: &TestHost, sandbox: &str, ifname: &str) -> Value {
    let links = sandbox_ip_json(host, sandbox, &["-d", "link", "show", ifname]);
    links
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {ifname} in {sandbox}"))
}

/// Interface names in a sandbox.
pub fn sandbox_links(host: &TestHost, sandbox: &str) -> Vec<String> {
    names(&sandbox_ip_json(host, sandbox, &["link"]))
}

/// Default routes of a family in a sandbox, as `(gateway or "", device)`.
pub fn default_routes(host: &TestHost, sandbox: &str, v6: bool) -> Vec<(String, String)> {
    let family = if v6 { "-6" } else { "-4" };
    sandbox_ip_json(host, sandbox, &[family, "route", "show", "default"])
        .iter()
        .map(|r| {
            (
                r["gateway"].as_str().unwrap_or("").to_owned(),
                r["dev"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// `(name, kind)` of every link in the test's host namespace.
pub fn host_links() -> Vec<(String, String)> {
    let links: Vec<Value> = serde_json::from_str(&ip(&["-j", "-d", "link"])).unwrap_or_default();
    links
        .iter()
        .map(|l| {
            let kind = l["linkinfo"]["info_kind"].as_str().unwrap_or("").to_owned();
            (l["ifname"].as_str().unwrap_or("").to_owned(), kind)
        })
        .collect()
}

fn names(links: &[Value]) -> Vec<String> {
    links
        .iter()
        .filter_map(|l| l["ifname"].as_str().map(str::to_owned))
        .collect()
}

/// A field of `docker network inspect`.
pub fn inspect(host: &TestHost, network: &str, template: &str) -> String {
    docker(host, &["network", "inspect", "-f", template, network])
}

/// The sandbox's IPv4 address on `network` (from the network's inspect).
pub fn address_of(host: &TestHost, network: &str, sandbox: &str) -> String {
    let template = format!(
        "{{{{range .Containers}}}}{{{{if eq .Name \"{sandbox}\"}}}}{{{{.IPv4Address}}}}{{{{end}}}}{{{{end}}}}"
    );
    let cidr = inspect(host, network, &template);
    cidr.split('/').next().unwrap_or_default().to_owned()
}

/// Disconnects (the port disappears from the sandbox), removes the sandboxes and the network.
pub fn disconnect_and_rm(host: &TestHost, sandboxes: &[&str], network: &str) {
    for name in sandboxes {
        docker(host, &["network", "disconnect", network, name]);
        assert_eq!(
            sandbox_links(host, name),
            ["lo"],
            "disconnect removes the port from {name}"
        );
        ok(host.cnm(&["sandbox", "rm", name]), "sandbox rm");
    }
    docker(host, &["network", "rm", network]);
}
