//! Failures are reported, not hidden: the plugin's `Err`/`Error`, non-200 answers, bad JSON,
//! wrong types, an unknown interface, an address outside the pool, a changed address, a slow
//! plugin, a dead plugin, a plugin that restarts or disappears; each leaves nothing behind.

use super::*;

/// Everything is as before the failed operation: networks, sandboxes, the plugin's
/// allocations and links, and the test host's links.
struct Baseline {
    networks: Vec<String>,
    sandboxes: usize,
    allocated: BTreeSet<String>,
    links: BTreeSet<String>,
}

impl Baseline {
    fn take(host: &TestHost, plugin: &TestPlugin) -> Self {
        Baseline {
            networks: network_names(host),
            sandboxes: sandbox_count(host),
            allocated: plugin.allocated(),
            links: links(None),
        }
    }

    fn check(&self, host: &TestHost, plugin: &TestPlugin, label: &str) {
        assert_eq!(network_names(host), self.networks, "{label}: networks");
        assert_eq!(sandbox_count(host), self.sandboxes, "{label}: sandboxes");
        assert_eq!(
            plugin.allocated(),
            self.allocated,
            "{label}: the plugin's allocations"
        );
        assert_eq!(
            links(None),
            self.links,
            "{label}: links of the host namespace"
        );
        let files = std::fs::read_dir(host.exec_root().join("netns"))
            .unwrap()
            .count();
        assert_eq!(files, self.sandboxes + 1, "{label}: namespace files");
    }
}

#[test]
fn plugin_failures_are_clear_errors_and_leave_nothing_behind() {
    if !support::root_or_loud_skip("plugin failures") {
        return;
    }
    let dirs = PluginDirs::new();
    let host = dirs.host();
    let mut plugin = TestPlugin::start("tnet", &dirs.socket("tnet"), Behaviour::default());
    ok(host.docker(&[
        "network",
        "create",
        "-d",
        "tnet",
        "--ipam-driver",
        "tnet",
        "rnet",
    ]));
    create_sandbox(&host, "keep", &["rnet"]);
    let base = Baseline::take(&host, &plugin);

    // Network creation: the driver's `Err`, the IPAM's `Error`, a non-200 answer.
    let cases: [(&str, Fault, &str); 3] = [
        (
            "NetworkDriver.CreateNetwork",
            Fault::Error("boom".into()),
            "Error response from daemon: remote: boom",
        ),
        (
            "IpamDriver.RequestPool",
            Fault::Error("no pools today".into()),
            "Error response from daemon: remote: no pools today",
        ),
        (
            "NetworkDriver.CreateNetwork",
            Fault::Status(500, r#"{"Err":"kaput"}"#.into()),
            "Error response from daemon: NetworkDriver.CreateNetwork: kaput",
        ),
    ];
    for (method, fault, expected) in cases {
        plugin.set_fault(method, fault);
        assert_eq!(
            fails(host.docker(&[
                "network",
                "create",
                "-d",
                "tnet",
                "--ipam-driver",
                "tnet",
                "bad"
            ])),
            expected
        );
        plugin.clear_faults();
        base.check(&host, &plugin, method);
    }

    // Endpoint creation through sandbox create: every fault rolls back everything.
    let outside = r#"{"Address":"10.99.0.5/24","Data":{}}"#;
    // (method, fault, status, message, the calls that end the operation: its rollback)
    const LEAVE: &[&str] = &[
        "NetworkDriver.Join",
        "NetworkDriver.Leave",
        "NetworkDriver.DeleteEndpoint",
        "IpamDriver.ReleaseAddress",
    ];
    const NO_LEAVE: &[&str] = &[
        "NetworkDriver.Join",
        "NetworkDriver.DeleteEndpoint",
        "IpamDriver.ReleaseAddress",
    ];
    let cases: Vec<(&str, Fault, u16, &str, &[&str])> = vec![
        (
            "NetworkDriver.Join",
            Fault::Error("join refused".into()),
            500,
            "remote: join refused",
            NO_LEAVE,
        ),
        (
            "NetworkDriver.CreateEndpoint",
            Fault::Body("not json".into()),
            500,
            "NetworkDriver.CreateEndpoint: invalid answer from plugin \\\"tnet\\\"",
            &["NetworkDriver.CreateEndpoint", "IpamDriver.ReleaseAddress"],
        ),
        (
            "NetworkDriver.Join",
            Fault::Body(r#"{"Gateway":5}"#.into()),
            500,
            "NetworkDriver.Join: invalid answer from plugin \\\"tnet\\\": invalid type",
            NO_LEAVE,
        ),
        (
            "NetworkDriver.Join",
            Fault::Body(r#"{"InterfaceName":{"SrcName":"nosuch0","DstPrefix":"eth"}}"#.into()),
            500,
            "interface \\\"nosuch0\\\" (SrcName) does not exist",
            LEAVE,
        ),
        (
            "NetworkDriver.Join",
            Fault::Body(r#"{"Gateway":"10.50.0.300"}"#.into()),
            500,
            "unable to parse Gateway \\\"10.50.0.300\\\"",
            LEAVE,
        ),
        (
            "IpamDriver.RequestAddress",
            Fault::Body(outside.into()),
            500,
            "address 10.99.0.5/24 is outside pool 10.50.0.0/24",
            &["IpamDriver.RequestAddress", "IpamDriver.ReleaseAddress"],
        ),
        (
            "NetworkDriver.CreateEndpoint",
            Fault::Body(r#"{"Interface":{"Address":"10.50.0.77/24"}}"#.into()),
            403,
            "driver modified interface address: endpoint interface IP present (10.50.0.3/24). Cannot be modified with (10.50.0.77/24).; rolled back",
            &[
                "NetworkDriver.CreateEndpoint",
                "NetworkDriver.DeleteEndpoint",
                "IpamDriver.ReleaseAddress",
            ],
        ),
        (
            "NetworkDriver.Join",
            Fault::Status(404, "404 page not found".into()),
            501,
            "NetworkDriver.Join: not implemented by the plugin (404)",
            NO_LEAVE,
        ),
        (
            "NetworkDriver.Join",
            Fault::Hang(Duration::from_secs(4)),
            503,
            "NetworkDriver.Join: plugin \\\"tnet\\\" did not answer within 2s",
            NO_LEAVE,
        ),
    ];
    for (method, fault, status, expected, tail) in cases {
        plugin.set_fault(method, fault.clone());
        plugin.clear_calls();
        let started = Instant::now();
        let (code, body) = try_sandbox(&host, "victim", &["rnet"]);
        assert_eq!(code, status, "{method} {fault:?}: {body}");
        assert!(body.contains(expected), "{method} {fault:?}: {body}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{method}: bounded: {:?}",
            started.elapsed()
        );
        plugin.clear_faults();
        let methods = plugin.methods();
        let tail: Vec<String> = tail.iter().map(|m| m.to_string()).collect();
        assert!(
            methods.ends_with(&tail),
            "{method} {fault:?}: rollback calls {methods:?}"
        );
        if matches!(fault, Fault::Hang(_)) {
            std::thread::sleep(Duration::from_secs(2)); // let the hung call finish
        }
        base.check(&host, &plugin, &format!("{method} {fault:?}"));
    }

    // A dead plugin (socket left behind, nobody listening): clear 503, nothing left, and the
    // restarted plugin is reached again on the next use.
    plugin.stop();
    let (code, body) = try_sandbox(&host, "victim", &["rnet"]);
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("IpamDriver.RequestAddress: plugin \\\"tnet\\\" is not reachable at unix://"),
        "{body}"
    );
    assert!(body.contains("Connection refused"), "{body}");
    let e = fails(host.docker(&["network", "rm", "rnet"]));
    assert!(e.contains("has active endpoints"), "{e}");
    plugin.restart(false);
    base.check(&host, &plugin, "dead plugin");
    create_sandbox(&host, "victim", &["rnet"]);
    assert!(
        ping(&host, "victim", &ip_of(&host, "keep", "rnet")),
        "victim -> keep after the plugin restarted"
    );
    ok(host.cnm(&["sandbox", "rm", "-f", "victim"]));
    base.check(&host, &plugin, "after the restart");

    // The plugin's socket is gone altogether.
    plugin.stop();
    std::fs::remove_file(dirs.socket("tnet")).unwrap();
    let (code, body) = try_sandbox(&host, "victim", &["rnet"]);
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("No such file or directory"), "{body}");
    base.check(&host, &plugin, "plugin gone");

    // A sandbox on its network can still be removed, without waiting for the plugin once per
    // call (Docker retries each for 30 s): the detach errors are logged, the sandbox goes.
    let started = Instant::now();
    ok(host.cnm(&["sandbox", "rm", "-f", "keep"]));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sandbox_count(&host), 0);
    assert_eq!(
        std::fs::read_dir(host.exec_root().join("netns"))
            .unwrap()
            .count(),
        1
    );
    let log = host.daemon_log();
    assert!(
        log.contains("detach failed") && log.contains("is not reachable"),
        "{log}"
    );
}
