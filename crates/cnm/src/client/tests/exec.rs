//! `cnm sandbox exec` for real (root only): the command must see the sandbox's network
//! namespace, resolv.conf and hosts, and nothing may leak into the test's own namespaces.
//!
//! The exec half runs in a child process (this test binary re-invoked on
//! [`exec_child_process`]), since it ends by replacing the process.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::fake_daemon::{FakeDaemon, Recorded, Reply};
use crate::client::sandbox::exec::{ExecArgs, run};

const CHILD_SPEC: &str = "CNM_TEST_EXEC_CHILD";

/// The child half: runs `cnm sandbox exec` as described by `$CNM_TEST_EXEC_CHILD`
/// (`URL\nSANDBOX\nCMD\nARG...`). Only meaningful when started by the tests below.
#[test]
#[ignore = "child process of exec_* tests"]
fn exec_child_process() {
    let spec = std::env::var(CHILD_SPEC).expect("started by an exec test");
    let mut parts = spec.split('\n').map(str::to_string);
    let (url, name) = (parts.next().expect("url"), parts.next().expect("name"));
    let code = run(
        url,
        ExecArgs {
            name,
            command: parts.collect(),
        },
    );
    std::process::exit(code);
}

/// Runs `cnm sandbox exec NAME -- COMMAND...` against `daemon` in a child process.
fn exec_in_child(daemon: &FakeDaemon, name: &str, command: &[&str]) -> std::process::Output {
    let spec = [daemon.url.as_str(), name]
        .iter()
        .chain(command)
        .copied()
        .collect::<Vec<_>>()
        .join("\n");
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "client::tests::exec::exec_child_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(CHILD_SPEC, spec)
        .output()
        .expect("child runs")
}

/// A network namespace of our own, held by `unshare --net sleep`; killed (by pid) on drop.
struct NetnsHolder(std::process::Child);

impl NetnsHolder {
    fn start() -> Self {
        let child = Command::new("unshare")
            .args(["--net", "sleep", "60"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare");
        let holder = NetnsHolder(child);
        let ours = std::fs::read_link("/proc/self/ns/net").expect("own netns");
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_link(holder.path()).ok().as_ref() == Some(&ours)
            || !std::path::Path::new(&holder.path()).exists()
        {
            assert!(
                Instant::now() < deadline,
                "unshare --net did not take effect"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        holder
    }

    fn path(&self) -> String {
        format!("/proc/{}/ns/net", self.0.id())
    }
}

impl Drop for NetnsHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn exec_enters_the_sandbox_namespace_and_files() {
    if !is_root() {
        eprintln!(
            "SKIPPED exec_enters_the_sandbox_namespace_and_files: needs root (CAP_SYS_ADMIN)"
        );
        return;
    }
    let holder = NetnsHolder::start();
    let files = tempfile::tempdir().expect("tempdir");
    let resolv = files.path().join("resolv.conf");
    let hosts = files.path().join("hosts");
    std::fs::write(&resolv, "nameserver 192.0.2.53\n").expect("resolv.conf");
    std::fs::write(&hosts, "192.0.2.7\tsandbox-under-test\n").expect("hosts");
    let sandbox = serde_json::json!({
        "Id": "e".repeat(64), "Name": "sb", "Created": "2026-01-02T03:04:05Z", "Hostname": "sb", "External": true,
        "ResolvConfPath": resolv, "HostsPath": hosts,
        "NetworkSettings": {"SandboxKey": holder.path(), "Networks": {}},
    })
    .to_string();
    let daemon = FakeDaemon::start(move |r: &Recorded| match r.uri.as_str() {
        "/_ping" => Reply::empty(200),
        "/v1.51/sandboxes/sb" => Reply::json(200, sandbox.clone()),
        _ => Reply::error(404, "no such sandbox"),
    });
    let host_resolv_before = std::fs::read("/etc/resolv.conf").ok();

    let script = "cat /etc/resolv.conf /etc/hosts; echo links:$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '); \
                  echo netns:$(readlink /proc/self/ns/net); exit 7";
    let out = exec_in_child(&daemon, "sb", &["sh", "-c", script]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(7),
        "exit status is the command's: {out:?}"
    );
    assert!(stdout.contains("nameserver 192.0.2.53\n"), "{stdout}");
    assert!(
        stdout.contains("192.0.2.7\tsandbox-under-test\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("links:lo\n"),
        "only the sandbox's loopback is visible: {stdout}"
    );
    let sandbox_ns = std::fs::read_link(holder.path()).expect("sandbox netns");
    assert!(
        stdout.contains(&format!("netns:{}\n", sandbox_ns.display())),
        "{stdout}"
    );
    // The bind mounts lived in the child's private mount namespace only.
    assert_eq!(std::fs::read("/etc/resolv.conf").ok(), host_resolv_before);

    let missing = exec_in_child(&daemon, "sb", &["no-such-command-cnm"]);
    let mut stderr = String::new();
    missing
        .stderr
        .as_slice()
        .read_to_string(&mut stderr)
        .expect("utf8");
    assert_eq!(missing.status.code(), Some(127), "{missing:?}");
    assert!(
        stderr.contains("cnm: exec: \"no-such-command-cnm\": executable file not found in $PATH"),
        "{stderr}"
    );

    let unknown = exec_in_child(&daemon, "nope", &["true"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("Error response from daemon: no such sandbox")
    );
}
