//! Remote plugins end to end (issue 5): real plugin servers on unix sockets (and TCP on
//! loopback) in a test directory, a cnm daemon pointed at it with `--plugin-dir`, driven by
//! the `docker` CLI and cnm's sandbox API, with real packets between sandboxes.
//!
//! - a remote network driver with a remote IPAM: the call sequence, addresses from the
//!   plugin's pool, the interface handed over in `Join` configured in the sandbox, ping, and
//!   nothing left after disconnect and removal;
//! - remote IPAM under the bridge driver, the remote driver under the default and null IPAM;
//! - discovery: nested sockets, `.spec` and `.json` files, TCP, TLS refused, unknown names fast;
//! - failures: the plugin's `Err`/`Error`, non-200 answers, bad JSON, wrong types, an unknown
//!   interface, an address outside the pool, a changed address, a slow plugin, a dead plugin,
//!   a plugin that restarts; each leaves nothing behind;
//! - a daemon restart restores remote networks and endpoints, and replays allocations to an
//!   IPAM plugin that asks for it.

mod support;

#[path = "support/plugin_server.rs"]
mod plugin_server;

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

#[test]
fn a_remote_driver_with_a_remote_ipam_carries_packets_and_leaves_nothing_behind() {
    if !support::root_or_loud_skip("remote driver + remote ipam") {
        return;
    }
    let dirs = PluginDirs::new();
    let host = dirs.host();
    let behaviour = Behaviour {
        requires_mac: true,
        ..Default::default()
    };
    let plugin = TestPlugin::start("tnet", &dirs.socket("tnet"), behaviour);

    ok(host.docker(&[
        "network",
        "create",
        "-d",
        "tnet",
        "--ipam-driver",
        "tnet",
        "-o",
        "opt1=drv1",
        "rnet",
    ]));
    let inspect: Value =
        serde_json::from_str(&ok(host.docker(&["network", "inspect", "rnet"]))).unwrap();
    assert_eq!(inspect[0]["Driver"], "tnet");
    assert_eq!(inspect[0]["IPAM"]["Driver"], "tnet");
    assert_eq!(
        inspect[0]["IPAM"]["Config"][0]["Subnet"], "10.50.0.0/24",
        "{inspect}"
    );
    assert_eq!(
        inspect[0]["IPAM"]["Config"][0]["Gateway"], "10.50.0.1",
        "{inspect}"
    );
    let id = inspect[0]["Id"].as_str().unwrap().to_string();

    // Activation once, with Docker's media type, then the network sequence of spec §1.14.
    let methods = plugin.methods();
    assert_eq!(
        methods.iter().filter(|m| *m == "Plugin.Activate").count(),
        1,
        "{methods:?}"
    );
    let headers = plugin.state.lock().unwrap().activate_headers.clone();
    assert!(
        headers.contains(&(
            "accept".into(),
            "application/vnd.docker.plugins.v1.2+json".into()
        )),
        "{headers:?}"
    );
    assert!(
        headers.contains(&("host".into(), "plugin.moby.localhost".into())),
        "{headers:?}"
    );
    assert!(
        !headers.iter().any(|(k, _)| k == "content-type"),
        "no Content-Type, as Docker: {headers:?}"
    );
    let sequence = [
        "IpamDriver.GetDefaultAddressSpaces",
        "IpamDriver.RequestPool",
        "IpamDriver.RequestAddress",
        "NetworkDriver.CreateNetwork",
    ];
    assert_eq!(only(&methods, &sequence), sequence, "{methods:?}");
    assert!(methods.contains(&"NetworkDriver.GetCapabilities".to_string()));
    assert!(methods.contains(&"IpamDriver.GetCapabilities".to_string()));
    assert_eq!(
        plugin.bodies("IpamDriver.RequestPool")[0],
        json!({"AddressSpace": "TestLocal", "Pool": "", "SubPool": "", "Options": {}, "V6": false})
    );
    assert_eq!(
        plugin.bodies("IpamDriver.RequestAddress")[0]["Options"],
        json!({"RequestAddressType": "com.docker.network.gateway"})
    );
    assert_eq!(
        plugin.bodies("NetworkDriver.CreateNetwork")[0],
        json!({
            "NetworkID": id,
            "Options": {"com.docker.network.enable_ipv4": true, "com.docker.network.enable_ipv6": false,
                        "com.docker.network.generic": {"opt1": "drv1"}},
            "IPv4Data": [{"AddressSpace": "TestLocal", "Pool": "10.50.0.0/24", "Gateway": "10.50.0.1/24"}],
            "IPv6Data": []
        })
    );

    plugin.clear_calls();
    create_sandbox(&host, "sa", &["rnet"]);
    create_sandbox(&host, "sb", &["rnet"]);
    let endpoint_calls = [
        "IpamDriver.RequestAddress",
        "NetworkDriver.CreateEndpoint",
        "NetworkDriver.Join",
        "NetworkDriver.ProgramExternalConnectivity",
    ];
    assert_eq!(
        only(&plugin.methods(), &endpoint_calls),
        [endpoint_calls, endpoint_calls].concat()
    );
    assert_eq!(ip_of(&host, "sa", "rnet"), "10.50.0.2");
    assert_eq!(ip_of(&host, "sb", "rnet"), "10.50.0.3");
    // RequiresMACAddress: the MAC travels in RequestAddress and ends up on the interface.
    let mac = endpoint_of(&host, "sa", "rnet")["MacAddress"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        plugin.bodies("IpamDriver.RequestAddress")[0]["Options"]["com.docker.network.endpoint.macaddress"],
        json!(mac)
    );
    let create_ep = &plugin.bodies("NetworkDriver.CreateEndpoint")[0];
    assert_eq!(
        create_ep["Interface"],
        json!({"Address": "10.50.0.2/24", "AddressIPv6": "", "MacAddress": mac})
    );
    let join = &plugin.bodies("NetworkDriver.Join")[0];
    assert_eq!(join["SandboxKey"], json!(key_of(&host, "sa")));

    // The handed-over veth is eth0 in the sandbox, with address, MAC, default and static routes.
    let key_a = key_of(&host, "sa");
    let eth0 = ip_json(Some(&key_a), &["addr", "show", "eth0"]);
    assert_eq!(eth0[0]["address"], json!(mac), "{eth0:?}");
    assert_eq!(eth0[0]["addr_info"][0]["local"], "10.50.0.2", "{eth0:?}");
    assert_eq!(eth0[0]["addr_info"][0]["prefixlen"], 24, "{eth0:?}");
    let routes = ip_json(Some(&key_a), &["route", "show"]);
    let has = |dst: &str, gw: &str| {
        routes
            .iter()
            .any(|r| r["dst"] == dst && r["gateway"] == gw && r["dev"] == "eth0")
    };
    assert!(
        has("default", "10.50.0.1") && has("10.99.50.0/24", "10.50.0.1"),
        "{routes:?}"
    );
    assert!(ping(&host, "sa", "10.50.0.3"), "a -> b");
    assert!(ping(&host, "sb", "10.50.0.2"), "b -> a");
    assert!(ping(&host, "sa", "10.50.0.1"), "a -> the plugin's gateway");

    // Disconnect: back to the plugin under its own name, which deletes it.
    plugin.clear_calls();
    ok(host.docker(&["network", "disconnect", "rnet", "sb"]));
    let detach = [
        "NetworkDriver.RevokeExternalConnectivity",
        "NetworkDriver.Leave",
        "NetworkDriver.DeleteEndpoint",
        "IpamDriver.ReleaseAddress",
    ];
    assert_eq!(only(&plugin.methods(), &detach), detach);
    assert_eq!(
        links(Some(&key_of(&host, "sb"))),
        BTreeSet::from(["lo".to_string()])
    );
    assert_eq!(
        plugin.allocated(),
        BTreeSet::from(["10.50.0.1".to_string(), "10.50.0.2".to_string()])
    );

    ok(host.cnm(&["sandbox", "rm", "-f", "sa"]));
    ok(host.cnm(&["sandbox", "rm", "-f", "sb"]));
    plugin.clear_calls();
    ok(host.docker(&["network", "rm", "rnet"]));
    let teardown = [
        "IpamDriver.ReleaseAddress",
        "IpamDriver.ReleasePool",
        "NetworkDriver.DeleteNetwork",
    ];
    let methods = plugin.methods();
    assert_eq!(
        BTreeSet::from_iter(only(&methods, &teardown)),
        BTreeSet::from(teardown.map(String::from)),
        "{methods:?}"
    );
    assert!(plugin.state.lock().unwrap().pools.is_empty());
    assert_eq!(
        plugin_links(),
        BTreeSet::new(),
        "the plugin's links are all gone"
    );
}

#[test]
fn remote_ipam_serves_the_bridge_driver_and_the_remote_driver_works_with_default_and_null_ipam() {
    if !support::root_or_loud_skip("mixed drivers") {
        return;
    }
    let dirs = PluginDirs::new();
    let host = dirs.host();
    let behaviour = Behaviour {
        assign_from: Some("10.70.0.0/24"),
        ..Default::default()
    };
    let plugin = TestPlugin::start("tnet", &dirs.socket("tnet"), behaviour);
    let _ipam_only = TestPlugin::start(
        "ionly",
        &dirs.socket("ionly"),
        Behaviour {
            implements: vec!["IpamDriver"],
            ..Default::default()
        },
    );

    // The bridge driver with addresses from the plugin's explicit pool.
    ok(host.docker(&[
        "network",
        "create",
        "--ipam-driver",
        "tnet",
        "--subnet",
        "10.60.0.0/24",
        "bnet",
    ]));
    create_sandbox(&host, "sx", &["bnet"]);
    create_sandbox(&host, "sy", &["bnet"]);
    assert_eq!(ip_of(&host, "sx", "bnet"), "10.60.0.2");
    assert_eq!(ip_of(&host, "sy", "bnet"), "10.60.0.3");
    assert!(ping(&host, "sx", "10.60.0.3"), "x -> y over cnm's bridge");
    assert_eq!(
        plugin.bodies("IpamDriver.RequestPool")[0]["Pool"],
        "10.60.0.0/24"
    );
    assert!(plugin.allocated().contains("10.60.0.3"));

    // A dynamic pool that overlaps a host network is handed back and another one asked for.
    let host_net = |args: &[&str]| {
        assert!(
            std::process::Command::new("ip")
                .args(args)
                .status()
                .unwrap()
                .success()
        )
    };
    host_net(&["link", "add", "tx0", "type", "veth", "peer", "name", "tx1"]);
    host_net(&["addr", "add", "10.50.0.254/24", "dev", "tx0"]);
    host_net(&["link", "set", "tx0", "up"]);
    plugin.clear_calls();
    ok(host.docker(&["network", "create", "--ipam-driver", "tnet", "onet"]));
    let subnet = ok(host.docker(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Subnet}}",
        "onet",
    ]));
    assert_eq!(subnet, "10.50.1.0/24");
    let pools = only(
        &plugin.methods(),
        &["IpamDriver.RequestPool", "IpamDriver.ReleasePool"],
    );
    assert_eq!(
        pools,
        [
            "IpamDriver.RequestPool",
            "IpamDriver.RequestPool",
            "IpamDriver.ReleasePool"
        ]
    );
    assert_eq!(
        plugin.bodies("IpamDriver.ReleasePool")[0]["PoolID"],
        "TestLocal/10.50.0.0/24"
    );
    ok(host.docker(&["network", "rm", "onet"]));
    host_net(&["link", "del", "tx0"]);

    // The remote driver with the default IPAM: the plugin gets the address cnm allocated.
    ok(host.docker(&["network", "create", "-d", "tnet", "dnet"]));
    create_sandbox(&host, "sz", &["dnet"]);
    let z = ip_of(&host, "sz", "dnet");
    assert!(z.starts_with("172.") && z.ends_with(".0.2"), "{z}");
    let create_ep = plugin
        .bodies("NetworkDriver.CreateEndpoint")
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        create_ep["Interface"]["Address"].as_str().unwrap(),
        format!("{z}/16")
    );
    assert_eq!(
        create_ep["Interface"]["MacAddress"], "",
        "the plugin may choose the MAC"
    );

    // The remote driver with the null IPAM: the plugin assigns address and MAC itself.
    ok(host.docker(&[
        "network",
        "create",
        "-d",
        "tnet",
        "--ipam-driver",
        "null",
        "nnet",
    ]));
    let pool = ok(host.docker(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Subnet}}",
        "nnet",
    ]));
    assert_eq!(pool, "0.0.0.0/0");
    create_sandbox(&host, "sv", &["nnet"]);
    create_sandbox(&host, "sw", &["nnet"]);
    let v = endpoint_of(&host, "sv", "nnet");
    assert_eq!(
        (
            v["IPAddress"].as_str().unwrap(),
            v["IPPrefixLen"].as_u64().unwrap()
        ),
        ("10.70.0.2", 24),
        "{v}"
    );
    assert_eq!(v["MacAddress"], "02:42:ac:1e:00:01");
    let eth0 = ip_json(Some(&key_of(&host, "sv")), &["addr", "show", "eth0"]);
    assert_eq!(eth0[0]["address"], "02:42:ac:1e:00:01");
    assert_eq!(eth0[0]["addr_info"][0]["local"], "10.70.0.2");
    assert!(
        ping(&host, "sv", &ip_of(&host, "sw", "nnet")),
        "v -> w with the plugin's own addresses"
    );

    // A global-scope plugin: cnm plays the swarm manager (AllocateNetwork/FreeNetwork), uses
    // the global address space, and asks GwAllocCheck, which skips the IPv4 gateway.
    let global = Behaviour {
        scope: "global",
        gw_alloc_checker: true,
        pool: "10.80.0.0/24",
        ..Default::default()
    };
    let tglob = TestPlugin::start("tglob", &dirs.socket("tglob"), global);
    ok(host.docker(&[
        "network",
        "create",
        "-d",
        "tglob",
        "--ipam-driver",
        "tglob",
        "-o",
        "k=v",
        "gnet",
    ]));
    let sequence = [
        "NetworkDriver.GwAllocCheck",
        "IpamDriver.GetDefaultAddressSpaces",
        "IpamDriver.RequestPool",
        "NetworkDriver.AllocateNetwork",
        "NetworkDriver.CreateNetwork",
    ];
    let methods = tglob.methods();
    assert_eq!(only(&methods, &sequence), sequence, "{methods:?}");
    assert!(
        !methods.contains(&"IpamDriver.RequestAddress".to_string()),
        "no gateway was reserved: {methods:?}"
    );
    assert_eq!(
        tglob.bodies("NetworkDriver.GwAllocCheck")[0]["Options"]["com.docker.network.generic"],
        json!({"k": "v"})
    );
    assert_eq!(
        tglob.bodies("IpamDriver.RequestPool")[0]["AddressSpace"],
        "TestGlobal"
    );
    let allocate = &tglob.bodies("NetworkDriver.AllocateNetwork")[0];
    assert_eq!(
        (&allocate["Options"], &allocate["IPv4Data"][0]["Pool"]),
        (&json!({"k": "v"}), &json!("10.80.0.0/24"))
    );
    let created = &tglob.bodies("NetworkDriver.CreateNetwork")[0];
    assert_eq!(
        created["Options"]["com.docker.network.generic"],
        json!({"k": "v", "test.allocated": "yes"})
    );
    assert_eq!(created["IPv4Data"][0].get("Gateway"), None, "{created}");
    assert_eq!(
        ok(host.docker(&["network", "inspect", "-f", "{{.Scope}}", "gnet"])),
        "global"
    );
    tglob.clear_calls();
    ok(host.docker(&["network", "rm", "gnet"]));
    let teardown = only(
        &tglob.methods(),
        &[
            "NetworkDriver.DeleteNetwork",
            "NetworkDriver.FreeNetwork",
            "IpamDriver.ReleasePool",
        ],
    );
    assert_eq!(
        BTreeSet::from_iter(teardown.iter().map(String::as_str)),
        BTreeSet::from([
            "NetworkDriver.DeleteNetwork",
            "NetworkDriver.FreeNetwork",
            "IpamDriver.ReleasePool"
        ])
    );
    assert_eq!(tglob.allocated(), BTreeSet::new());

    // A plugin that is only an IPAM driver cannot be a network driver.
    let e = fails(host.docker(&["network", "create", "-d", "ionly", "wrong"]));
    assert!(
        e.contains("Plugin does not implement the requested driver") && e.contains("ionly"),
        "{e}"
    );

    for name in ["sx", "sy", "sz", "sv", "sw"] {
        ok(host.cnm(&["sandbox", "rm", "-f", name]));
    }
    for net in ["bnet", "dnet", "nnet"] {
        ok(host.docker(&["network", "rm", net]));
    }
    assert_eq!(plugin.allocated(), BTreeSet::new());
    assert_eq!(plugin_links(), BTreeSet::new());
}

#[test]
fn discovery_finds_nested_sockets_spec_and_json_files_and_fails_fast_on_unknown_names() {
    if !support::root_or_loud_skip("discovery") {
        return;
    }
    let dirs = PluginDirs::new();
    let host = dirs.host();
    let _nested = TestPlugin::start(
        "nested",
        &dirs.sockets.join("nested").join("nested.sock"),
        Behaviour::default(),
    );
    let elsewhere = dirs
        .sockets
        .parent()
        .unwrap()
        .join("elsewhere")
        .join("p.sock");
    let _by_spec = TestPlugin::start("byspec", &elsewhere, Behaviour::default());
    std::fs::write(
        dirs.specs.join("byspec.spec"),
        format!("unix://{}\n", elsewhere.display()),
    )
    .unwrap();
    let by_tcp = TestPlugin::start_tcp("bytcp", Behaviour::default());
    std::fs::write(
        dirs.specs.join("bytcp.json"),
        json!({"Name": "bytcp", "Addr": format!("tcp://{}", by_tcp.tcp_address())}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dirs.specs.join("secure.json"),
        json!({"Name": "secure", "Addr": "https://127.0.0.1:1", "TLSConfig": {"CAFile": "/ca.pem"}}).to_string(),
    )
    .unwrap();
    std::fs::write(dirs.specs.join("noscheme.spec"), "/run/noscheme.sock").unwrap();

    for name in ["nested", "byspec", "bytcp"] {
        ok(host.docker(&["network", "create", "-d", name, &format!("net-{name}")]));
        create_sandbox(&host, &format!("s-{name}"), &[&format!("net-{name}")]);
    }
    assert!(by_tcp.methods().contains(&"NetworkDriver.Join".to_string()));
    for name in ["nested", "byspec", "bytcp"] {
        let gateway = endpoint_of(&host, &format!("s-{name}"), &format!("net-{name}"))["Gateway"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            ping(&host, &format!("s-{name}"), &gateway),
            "s-{name} -> its plugin's gateway {gateway}"
        );
    }

    let e = fails(host.docker(&["network", "create", "-d", "secure", "n1"]));
    assert!(
        e.contains("TLS") && e.contains("https://127.0.0.1:1"),
        "{e}"
    );
    let e = fails(host.docker(&["network", "create", "-d", "noscheme", "n2"]));
    assert!(e.contains("Unknown protocol"), "{e}");
    let started = Instant::now();
    let e = fails(host.docker(&["network", "create", "-d", "nope", "n3"]));
    assert_eq!(e, "Error response from daemon: plugin \"nope\" not found");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "unknown names fail fast: {:?}",
        started.elapsed()
    );
    let e = fails(host.docker(&["network", "create", "--ipam-driver", "nope", "n4"]));
    assert_eq!(e, "Error response from daemon: plugin \"nope\" not found");
    let (code, body) = api(
        &host,
        "POST",
        "/networks/create",
        Some(r#"{"Name":"n5","Driver":"nope"}"#),
    );
    assert_eq!(
        (code, body.contains("plugin \\\"nope\\\" not found")),
        (404, true),
        "{body}"
    );
    assert_eq!(
        network_names(&host).len(),
        6,
        "bridge, host, none and the three plugin networks"
    );
}

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
}

#[test]
fn a_daemon_restart_restores_remote_networks_and_replays_allocations_to_the_ipam_plugin() {
    if !support::root_or_loud_skip("restart with plugins") {
        return;
    }
    let dirs = PluginDirs::new();
    let mut host = dirs.host();
    let mut replayed = TestPlugin::start(
        "trep",
        &dirs.socket("trep"),
        Behaviour {
            requires_replay: true,
            ..Default::default()
        },
    );
    let kept = TestPlugin::start(
        "tkeep",
        &dirs.socket("tkeep"),
        Behaviour {
            pool: "10.51.0.0/24",
            ..Default::default()
        },
    );
    ok(host.docker(&[
        "network",
        "create",
        "-d",
        "trep",
        "--ipam-driver",
        "trep",
        "rep",
    ]));
    ok(host.docker(&[
        "network",
        "create",
        "-d",
        "tkeep",
        "--ipam-driver",
        "tkeep",
        "keep",
    ]));
    create_sandbox(&host, "sa", &["rep", "keep"]);
    create_sandbox(&host, "sb", &["rep"]);
    let before = replayed.allocated();
    assert_eq!(
        before,
        BTreeSet::from(["10.50.0.1", "10.50.0.2", "10.50.0.3"].map(String::from))
    );

    // The daemon goes down; the replaying plugin restarts and forgets everything meanwhile.
    host.stop();
    replayed.restart(true);
    kept.clear_calls();
    host.start();
    // Its allocations come back through replay: the pool explicitly, then every address.
    assert_eq!(replayed.allocated(), before);
    let pool_requests = replayed.bodies("IpamDriver.RequestPool");
    assert_eq!(pool_requests.len(), 1);
    assert_eq!(pool_requests[0]["Pool"], "10.50.0.0/24");
    // The other plugin keeps its state and is asked nothing at start-up.
    assert!(
        kept.methods()
            .iter()
            .all(|m| !m.starts_with("IpamDriver.Request")),
        "{:?}",
        kept.methods()
    );

    assert_eq!(
        network_names(&host),
        ["bridge", "host", "keep", "none", "rep"]
    );
    assert_eq!(ip_of(&host, "sa", "rep"), "10.50.0.2");
    assert_eq!(ip_of(&host, "sa", "keep"), "10.51.0.2");
    assert!(ping(&host, "sa", "10.50.0.3"), "a -> b after the restart");

    // New endpoints get fresh addresses, and old ones go back to their plugins.
    create_sandbox(&host, "sc", &["rep"]);
    assert_eq!(ip_of(&host, "sc", "rep"), "10.50.0.4");
    assert!(ping(&host, "sc", "10.50.0.2"), "c -> a");
    ok(host.docker(&["network", "disconnect", "rep", "sa"]));
    assert_eq!(
        links(Some(&key_of(&host, "sa"))),
        BTreeSet::from(["lo".to_string(), "eth1".to_string()])
    );
    for name in ["sa", "sb", "sc"] {
        ok(host.cnm(&["sandbox", "rm", "-f", name]));
    }
    ok(host.docker(&["network", "rm", "rep", "keep"]));
    assert_eq!(replayed.allocated(), BTreeSet::new());
    assert_eq!(kept.allocated(), BTreeSet::new());
    assert_eq!(plugin_links(), BTreeSet::new());
}
