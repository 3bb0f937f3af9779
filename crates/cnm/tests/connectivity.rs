//! A connectivity suite in the style of `cilium connectivity test`: a cnm daemon in a test
//! "host" namespace (`TestHost`), an "outside" namespace routed to it over a veth pair
//! (10.99.0.0/24, fd99::/64), sandboxes created through the API, and every allowed and every
//! forbidden path checked with real packets (ping, TCP echo, UDP echo). Echo servers record
//! their clients' addresses, so source preservation and masquerading are checked too.
//!
//! Policy: isolation between bridge networks, `enable_icc=false` and `--icc=false`,
//! `--internal`, masquerade (`enable_ip_masquerade`, `--ip-masq=false`), `--ip-forward=false`,
//! gateway mode `routed` (with a published container port), IPv6 with NAT66, repair at start
//! after `nft flush ruleset`.
//! Published ports: TCP/UDP from outside with the client's address kept, from the host on its
//! address and 127.0.0.1, hairpin, port 0, a 127.0.0.1-only binding, IPv6 and ranges,
//! conflicts, invalid requests, Docker's `Ports` shape, and a connection surviving a restart.
//! Repair within seconds after `nft flush ruleset`, by the daemon's periodic check.
//!
//! Traffic only flows between namespaces the test made. Run as root:
//! `cargo nextest run -p cnm --test connectivity`.

#[path = "../../cnm-core/tests/bridge_support/probe.rs"]
mod probe;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use probe::{Echo, ping, tcp_connect, tcp_ok, udp_ok};
use serde_json::{Value, json};
use support::TestHost;

/// The test's own namespace (the daemon's), for probes from "the host".
const HOST: &str = "/proc/thread-self/ns/net";

fn sh(args: &[&str]) -> String {
    let out = support::process::run(
        Command::new(args[0]).args(&args[1..]),
        None,
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One API call through curl: `(status, body)`.
fn api(host: &TestHost, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket"])
        .arg(host.socket_path())
        .args(["-X", method, &format!("http://cnm{path}")]);
    if let Some(body) = body {
        cmd.args([
            "-H",
            "Content-Type: application/json",
            "-d",
            &body.to_string(),
        ]);
    }
    let out = support::process::run(&mut cmd, None, Duration::from_secs(30));
    let all = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = all.rsplit_once('\n').unwrap_or(("", "0"));
    (
        code.trim().parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

struct Lab {
    host: TestHost,
    outside: PathBuf,
}

impl Lab {
    /// A daemon with `flags`, and the outside namespace routed to its host.
    fn new(flags: &[&str]) -> Lab {
        let host = TestHost::new(flags);
        // `ip netns` names live in /run/netns: a tmpfs there is private to this test's mount
        // namespace (TestHost made `/` private).
        std::fs::create_dir_all("/run/netns").unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            "/run/netns",
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some("size=1m"),
        )
        .unwrap();
        sh(&["ip", "netns", "add", "outside"]);
        sh(&[
            "ip", "link", "add", "out0", "type", "veth", "peer", "name", "eth0", "netns", "outside",
        ]);
        // A long-lived uplink: no duplicate address detection delaying neighbor discovery.
        std::fs::write("/proc/sys/net/ipv6/conf/out0/accept_dad", "0").unwrap();
        sh(&[
            "ip",
            "netns",
            "exec",
            "outside",
            "sh",
            "-c",
            "echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad",
        ]);
        sh(&["ip", "addr", "add", "10.99.0.1/24", "dev", "out0"]);
        sh(&["ip", "addr", "add", "fd99::1/64", "dev", "out0", "nodad"]);
        sh(&["ip", "link", "set", "out0", "up"]);
        for cmd in [
            "ip addr add 10.99.0.2/24 dev eth0",
            "ip addr add fd99::2/64 dev eth0 nodad",
            "ip link set eth0 up",
            "ip link set lo up",
            "ip route add default via 10.99.0.1",
            "ip -6 route add default via fd99::1",
        ] {
            let mut args = vec!["ip", "netns", "exec", "outside"];
            args.extend(cmd.split(' '));
            sh(&args);
        }
        Lab {
            host,
            outside: PathBuf::from("/run/netns/outside"),
        }
    }

    fn network(&self, name: &str, args: &[&str]) {
        let mut all = vec!["network", "create"];
        all.extend_from_slice(args);
        all.push(name);
        let out = self.host.docker(&all);
        assert!(
            out.status.success(),
            "network create {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn try_sandbox(&self, name: &str, networks: &[&str], ports: &[Value]) -> (u16, Value) {
        let nets: Vec<Value> = networks.iter().map(|n| json!({ "Network": n })).collect();
        api(
            &self.host,
            "POST",
            "/sandboxes/create",
            Some(&json!({ "Name": name, "Networks": nets, "PortBindings": ports })),
        )
    }

    /// Creates a sandbox and returns its namespace path.
    fn sandbox(&self, name: &str, networks: &[&str], ports: &[Value]) -> PathBuf {
        let (code, body) = self.try_sandbox(name, networks, ports);
        assert_eq!(code, 201, "create sandbox {name}: {body}");
        PathBuf::from(
            self.inspect(name)["NetworkSettings"]["SandboxKey"]
                .as_str()
                .unwrap(),
        )
    }

    fn inspect(&self, name: &str) -> Value {
        let (code, body) = api(&self.host, "GET", &format!("/sandboxes/{name}"), None);
        assert_eq!(code, 200, "inspect {name}: {body}");
        body
    }

    fn ip(&self, sandbox: &str, network: &str, v6: bool) -> String {
        let key = if v6 { "GlobalIPv6Address" } else { "IPAddress" };
        self.inspect(sandbox)["NetworkSettings"]["Networks"][network][key]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn port(proto: &str, host_ip: &str, host: u16, container: u16) -> Value {
    json!({ "Proto": proto, "HostIP": host_ip, "HostPort": host, "ContainerPort": container })
}

fn host() -> &'static Path {
    Path::new(HOST)
}

fn ip(s: &str) -> std::net::IpAddr {
    s.parse().unwrap()
}

#[test]
fn bridge_networks_are_isolated_and_each_talks_inside() {
    if !support::root_or_loud_skip("connectivity isolation") {
        return;
    }
    let lab = Lab::new(&[]);
    lab.network("front", &[]);
    lab.network("back", &[]);
    let a1 = lab.sandbox("a1", &["front"], &[]);
    let a2 = lab.sandbox("a2", &["front"], &[]);
    let b1 = lab.sandbox("b1", &["back"], &[]);
    let both = lab.sandbox("both", &["front", "back"], &[]);
    let b_srv = Echo::tcp(&b1, "0.0.0.0:80");
    let a_srv = Echo::tcp(&a2, "0.0.0.0:80");
    let (a2_ip, b1_ip) = (lab.ip("a2", "front", false), lab.ip("b1", "back", false));

    assert!(ping(&a1, &a2_ip), "same network: ping");
    tcp_ok(&a1, &format!("{a2_ip}:80")).expect("same network: tcp");
    assert!(!ping(&a1, &b1_ip), "other network: no ping");
    assert!(
        tcp_ok(&a1, &format!("{b1_ip}:80")).is_err(),
        "other network: no tcp"
    );
    assert!(
        b_srv.peers().is_empty(),
        "nothing reached the other network"
    );
    tcp_ok(&both, &format!("{b1_ip}:80")).expect("a sandbox on both networks reaches each");
    tcp_ok(&both, &format!("{a2_ip}:80")).expect("a sandbox on both networks reaches each");
    assert!(
        !ping(&lab.outside, &a2_ip),
        "no direct access from outside (nat mode)"
    );
    assert!(tcp_ok(&lab.outside, &format!("{a2_ip}:80")).is_err());
    assert_eq!(
        a_srv.peers().len(),
        2,
        "only a1 and both reached a2: {:?}",
        a_srv.peers()
    );
}

#[test]
fn enable_icc_false_and_daemon_icc_false_block_traffic_inside_a_network() {
    if !support::root_or_loud_skip("connectivity icc") {
        return;
    }
    let lab = Lab::new(&["--icc=false"]);
    lab.network(
        "quiet",
        &["-o", "com.docker.network.bridge.enable_icc=false"],
    );
    let q1 = lab.sandbox("q1", &["quiet"], &[]);
    let q2 = lab.sandbox("q2", &["quiet"], &[]);
    let d1 = lab.sandbox("d1", &["bridge"], &[]);
    let d2 = lab.sandbox("d2", &["bridge"], &[]);
    let srv = Echo::tcp(&q2, "0.0.0.0:80");
    let dsrv = Echo::tcp(&d2, "0.0.0.0:80");
    let q2_ip = lab.ip("q2", "quiet", false);
    let d2_ip = lab.ip("d2", "bridge", false);
    assert!(!ping(&q1, &q2_ip), "enable_icc=false: no ping");
    assert!(
        tcp_ok(&q1, &format!("{q2_ip}:80")).is_err(),
        "enable_icc=false: no tcp"
    );
    assert!(
        !ping(&d1, &d2_ip),
        "--icc=false applies to the default bridge"
    );
    assert!(tcp_ok(&d1, &format!("{d2_ip}:80")).is_err());
    assert!(srv.peers().is_empty() && dsrv.peers().is_empty());
    let out_srv = Echo::tcp(&lab.outside, "0.0.0.0:7");
    tcp_ok(&q1, "10.99.0.2:7").expect("icc=false still reaches the outside");
    tcp_ok(&d1, "10.99.0.2:7").expect("so does the default bridge");
    assert_eq!(out_srv.peers().len(), 2);
}

#[test]
fn internal_network_talks_inside_with_no_way_out_or_in() {
    if !support::root_or_loud_skip("connectivity internal") {
        return;
    }
    let lab = Lab::new(&[]);
    lab.network("vault", &["--internal"]);
    let v1 = lab.sandbox("v1", &["vault"], &[]);
    let v2 = lab.sandbox("v2", &["vault"], &[]);
    let v2_ip = lab.ip("v2", "vault", false);
    let _srv = Echo::tcp(&v2, "0.0.0.0:80");
    let _out = Echo::tcp(&lab.outside, "0.0.0.0:7");
    tcp_ok(&v1, &format!("{v2_ip}:80")).expect("inside the internal network");
    let routes = sh(&[
        "nsenter",
        &format!("--net={}", v1.display()),
        "ip",
        "route",
        "show",
        "default",
    ]);
    assert!(routes.trim().is_empty(), "no default route: {routes}");
    // Even with a route added by hand, nothing leaves (and nothing enters).
    let gw = lab.host.docker(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Gateway}}",
        "vault",
    ]);
    let gw = String::from_utf8_lossy(&gw.stdout).trim().to_string();
    sh(&[
        "nsenter",
        &format!("--net={}", v1.display()),
        "ip",
        "route",
        "add",
        "default",
        "via",
        &gw,
    ]);
    assert!(tcp_ok(&v1, "10.99.0.2:7").is_err(), "internal: no way out");
    assert!(!ping(&lab.outside, &v2_ip), "internal: no way in");
}

#[test]
fn nat_masquerades_and_disabled_masquerade_keeps_the_source() {
    if !support::root_or_loud_skip("connectivity masquerade") {
        return;
    }
    let lab = Lab::new(&["--ip-masq=false"]);
    lab.network("nat", &[]);
    lab.network(
        "plain",
        &["-o", "com.docker.network.bridge.enable_ip_masquerade=false"],
    );
    let n1 = lab.sandbox("n1", &["nat"], &[]);
    let p1 = lab.sandbox("p1", &["plain"], &[]);
    let d1 = lab.sandbox("d1", &["bridge"], &[]);
    let srv = Echo::tcp(&lab.outside, "0.0.0.0:7");
    tcp_ok(&n1, "10.99.0.2:7").expect("nat network reaches the outside");
    assert_eq!(
        srv.last_peer(),
        Some(ip("10.99.0.1")),
        "masqueraded to the host's address"
    );
    tcp_ok(&p1, "10.99.0.2:7").expect("without masquerade, replies route back through the host");
    assert_eq!(
        srv.last_peer(),
        Some(ip(&lab.ip("p1", "plain", false))),
        "the sandbox's own address"
    );
    tcp_ok(&d1, "10.99.0.2:7").expect("--ip-masq=false: the default bridge");
    assert_eq!(srv.last_peer(), Some(ip(&lab.ip("d1", "bridge", false))));
}

#[test]
fn ip_forward_false_leaves_forwarding_off() {
    if !support::root_or_loud_skip("connectivity ip-forward") {
        return;
    }
    let lab = Lab::new(&["--ip-forward=false"]);
    lab.network("n", &[]);
    let n1 = lab.sandbox("n1", &["n"], &[]);
    let _srv = Echo::tcp(&lab.outside, "0.0.0.0:7");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .unwrap()
            .trim(),
        "0"
    );
    assert!(tcp_ok(&n1, "10.99.0.2:7").is_err(), "nothing is forwarded");
    tcp_ok(host(), "10.99.0.2:7").expect("the host itself still reaches the outside");
}

#[test]
fn routed_gateway_mode_allows_icmp_but_no_unpublished_port() {
    if !support::root_or_loud_skip("connectivity routed") {
        return;
    }
    let lab = Lab::new(&[]);
    lab.network(
        "direct",
        &[
            "--subnet",
            "172.29.0.0/24",
            "-o",
            "com.docker.network.bridge.gateway_mode_ipv4=routed",
        ],
    );
    let r1 = lab.sandbox("r1", &["direct"], &[]);
    let _srv = Echo::tcp(&r1, "0.0.0.0:80");
    let r1_ip = lab.ip("r1", "direct", false);
    assert!(
        ping(&lab.outside, &r1_ip),
        "routed: the container address is reachable by ICMP"
    );
    assert!(
        tcp_ok(&lab.outside, &format!("{r1_ip}:80")).is_err(),
        "routed: unpublished ports stay closed"
    );
    let out = Echo::tcp(&lab.outside, "0.0.0.0:7");
    tcp_ok(&r1, "10.99.0.2:7").expect("routed: out without NAT");
    assert_eq!(out.last_peer(), Some(ip(&r1_ip)));
}

#[test]
fn ipv6_sandboxes_reach_the_outside_through_nat66() {
    if !support::root_or_loud_skip("connectivity ipv6") {
        return;
    }
    let lab = Lab::new(&[]);
    lab.network("six", &["--ipv6", "--subnet", "fd42::/64"]);
    let s1 = lab.sandbox("s1", &["six"], &[]);
    let s2 = lab.sandbox("s2", &["six"], &[]);
    let srv = Echo::tcp(&lab.outside, "[::]:7");
    let _in = Echo::tcp(&s2, "[::]:80");
    tcp_ok(&s1, "[fd99::2]:7").expect("IPv6 out");
    assert_eq!(srv.last_peer(), Some(ip("fd99::1")), "NAT66 masquerade");
    let s2_ip = lab.ip("s2", "six", true);
    tcp_ok(&s1, &format!("[{s2_ip}]:80")).expect("IPv6 inside the network");
    assert!(
        tcp_ok(&lab.outside, &format!("[{s2_ip}]:80")).is_err(),
        "no direct IPv6 access from outside"
    );
}

#[test]
fn a_restart_repairs_a_flushed_ruleset() {
    if !support::root_or_loud_skip("connectivity restart repair") {
        return;
    }
    // The periodic repair is off: this test is about the repair at start-up.
    let mut lab = Lab::new(&["--firewall-check-interval", "0"]);
    lab.network("front", &[]);
    lab.network("back", &[]);
    let a1 = lab.sandbox("a1", &["front"], &[]);
    let b1 = lab.sandbox("b1", &["back"], &[]);
    let _srv = Echo::tcp(&b1, "0.0.0.0:80");
    let b1_ip = lab.ip("b1", "back", false);
    let before = sh(&["nft", "list", "table", "inet", "cnm"]);
    sh(&["nft", "flush", "ruleset"]);
    tcp_ok(&a1, &format!("{b1_ip}:80")).expect("flushed: no isolation any more");
    lab.host.restart();
    assert!(
        tcp_ok(&a1, &format!("{b1_ip}:80")).is_err(),
        "isolation is back after the restart"
    );
    // Whether cnm turned forwarding on is kept in the table itself (set forward_guard); a
    // flush loses it, and after the restart forwarding is already on. Everything else is back.
    let without_guard = |listing: &str| -> String {
        let mut in_guard = false;
        let mut out = Vec::new();
        for line in listing.lines() {
            in_guard = (in_guard || line.contains("set forward_guard")) && line.trim() != "}";
            if !(in_guard && line.trim().starts_with("elements")) {
                out.push(line);
            }
        }
        out.join("\n")
    };
    let after = sh(&["nft", "list", "table", "inet", "cnm"]);
    assert_eq!(without_guard(&after), without_guard(&before));
}

// ---- Published ports.

#[test]
fn published_tcp_and_udp_reach_the_sandbox_from_everywhere_with_the_source_kept() {
    if !support::root_or_loud_skip("connectivity published ports") {
        return;
    }
    let lab = Lab::new(&[]);
    lab.network("web", &[]);
    let w = lab.sandbox(
        "ws",
        &["web"],
        &[port("tcp", "", 8080, 80), port("udp", "", 5353, 5300)],
    );
    let c = lab.sandbox("cl", &["web"], &[]);
    let tcp = Echo::tcp(&w, "0.0.0.0:80");
    let udp = Echo::udp(&w, "0.0.0.0:5300");
    tcp_ok(&lab.outside, "10.99.0.1:8080").expect("outside -> tcp");
    assert_eq!(
        tcp.last_peer(),
        Some(ip("10.99.0.2")),
        "the client's address is kept"
    );
    udp_ok(&lab.outside, "10.99.0.1:5353").expect("outside -> udp");
    assert_eq!(udp.last_peer(), Some(ip("10.99.0.2")));
    tcp_ok(host(), "10.99.0.1:8080").expect("host -> its own address");
    assert_eq!(tcp.last_peer(), Some(ip("10.99.0.1")));
    tcp_ok(host(), "127.0.0.1:8080").expect("host -> 127.0.0.1");
    udp_ok(host(), "127.0.0.1:5353").expect("host -> 127.0.0.1 udp");
    tcp_ok(&c, "10.99.0.1:8080").expect("hairpin from another sandbox");
    tcp_ok(&w, "10.99.0.1:8080").expect("hairpin to itself");
    assert!(
        tcp_ok(&lab.outside, "10.99.0.1:8081").is_err(),
        "an unpublished port"
    );
    assert_eq!(
        lab.inspect("ws")["NetworkSettings"]["Ports"],
        json!({"5300/udp": [{"HostIp": "0.0.0.0", "HostPort": "5353"}], "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]})
    );
    let taken = std::net::TcpListener::bind("0.0.0.0:8080")
        .map(drop)
        .unwrap_err();
    assert_eq!(
        taken.kind(),
        std::io::ErrorKind::AddrInUse,
        "the daemon holds the host port"
    );
}

#[test]
fn conflicting_and_invalid_bindings_are_refused_and_leave_nothing_behind() {
    if !support::root_or_loud_skip("connectivity published ports") {
        return;
    }
    let lab = Lab::new(&[]);
    lab.network("web", &[]);
    lab.sandbox("first", &["web"], &[port("tcp", "", 8080, 80)]);
    let (code, body) = lab.try_sandbox("second", &["web"], &[port("tcp", "", 8080, 80)]);
    assert_eq!(
        body["message"], "Bind for 0.0.0.0:8080 failed: port is already allocated",
        "{code}"
    );
    let (code, _) = api(&lab.host, "GET", "/sandboxes/second", None);
    assert_eq!(code, 404, "the failed sandbox is gone");
    for (bad, message) in [
        (port("icmp", "", 1, 1), "invalid proto: icmp"),
        (
            port("tcp", "203.0.113.9", 80, 80),
            "invalid host IP 203.0.113.9: it is not an address of this host",
        ),
        (port("tcp", "", 80, 0), "invalid containerPort: 0"),
    ] {
        let (code, body) = lab.try_sandbox("bad", &["web"], &[bad]);
        assert_eq!((code, body["message"].as_str()), (400, Some(message)));
    }
    lab.sandbox("third", &["web"], &[port("tcp", "", 8081, 80)]);
}

#[test]
fn an_established_connection_through_a_published_port_survives_a_restart() {
    if !support::root_or_loud_skip("connectivity published ports") {
        return;
    }
    let mut lab = Lab::new(&[]);
    lab.network("web", &[]);
    let w = lab.sandbox("ws", &["web"], &[port("tcp", "", 8080, 80)]);
    let _srv = Echo::tcp(&w, "0.0.0.0:80");
    let mut conn = tcp_connect(&lab.outside, "10.99.0.1:8080").unwrap();
    probe::roundtrip(&mut conn, "before\n").unwrap();
    lab.host.restart();
    probe::roundtrip(&mut conn, "after\n").expect("the connection survived the restart");
    tcp_ok(&lab.outside, "10.99.0.1:8080").expect("new connections too");
}

#[test]
fn published_ports_come_back_within_seconds_after_nft_flush_ruleset() {
    if !support::root_or_loud_skip("connectivity published ports") {
        return;
    }
    let lab = Lab::new(&[]);
    lab.network("web", &[]);
    let w = lab.sandbox("ws", &["web"], &[port("tcp", "", 8080, 80)]);
    let _srv = Echo::tcp(&w, "0.0.0.0:80");
    tcp_ok(&lab.outside, "10.99.0.1:8080").unwrap();
    sh(&["nft", "flush", "ruleset"]);
    let start = Instant::now();
    while tcp_ok(&lab.outside, "10.99.0.1:8080").is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "not repaired within 10 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("repaired after {:?}", start.elapsed());
    assert!(
        lab.host.daemon_log().contains("restored it"),
        "the repair is logged"
    );
}

#[test]
fn routed_mode_opens_published_container_ports_and_port_0_picks_a_free_port() {
    if !support::root_or_loud_skip("connectivity routed and port 0") {
        return;
    }
    let lab = Lab::new(&[]);
    let routed = [
        "--subnet",
        "172.29.0.0/24",
        "-o",
        "com.docker.network.bridge.gateway_mode_ipv4=routed",
    ];
    lab.network("direct", &routed);
    let r = lab.sandbox("r1", &["direct"], &[port("tcp", "", 8080, 80)]);
    let _a = Echo::tcp(&r, "0.0.0.0:80");
    let _b = Echo::tcp(&r, "0.0.0.0:81");
    let r_ip = lab.ip("r1", "direct", false);
    tcp_ok(&lab.outside, &format!("{r_ip}:80"))
        .expect("routed: the published container port is open");
    assert!(
        tcp_ok(&lab.outside, &format!("{r_ip}:81")).is_err(),
        "routed: only that one"
    );
    assert!(
        tcp_ok(&lab.outside, "10.99.0.1:8080").is_err(),
        "routed: no DNAT on the host"
    );

    lab.network("web", &[]);
    let w = lab.sandbox(
        "w0",
        &["web"],
        &[port("tcp", "", 0, 80), port("udp", "127.0.0.1", 0, 5300)],
    );
    let _t = Echo::tcp(&w, "0.0.0.0:80");
    let _u = Echo::udp(&w, "0.0.0.0:5300");
    let ports = &lab.inspect("w0")["NetworkSettings"]["Ports"];
    let tcp_port: u16 = ports["80/tcp"][0]["HostPort"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let udp = &ports["5300/udp"][0];
    assert_eq!(udp["HostIp"], "127.0.0.1");
    let range: Vec<u16> = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(
        (range[0]..=range[1]).contains(&tcp_port),
        "port 0 takes an ephemeral port: {tcp_port}"
    );
    tcp_ok(&lab.outside, &format!("10.99.0.1:{tcp_port}")).expect("the chosen port works");
    udp_ok(
        host(),
        &format!("127.0.0.1:{}", udp["HostPort"].as_str().unwrap()),
    )
    .expect("a loopback-only UDP port");
    assert!(
        udp_ok(
            &lab.outside,
            &format!("10.99.0.1:{}", udp["HostPort"].as_str().unwrap())
        )
        .is_err(),
        "a 127.0.0.1 binding is not reachable from outside"
    );
}

#[test]
fn ipv6_published_ports_and_ranges() {
    if !support::root_or_loud_skip("connectivity ipv6 ports") {
        return;
    }
    let lab = Lab::new(&[]);
    lab.network("six", &["--ipv6", "--subnet", "fd42::/64"]);
    let ranged = json!({ "Proto": "tcp", "HostPort": 9000, "HostPortEnd": 9009, "ContainerPort": 9000, "ContainerPortEnd": 9009 });
    let s = lab.sandbox("s1", &["six"], &[port("tcp", "", 8080, 80), ranged]);
    let web = Echo::tcp(&s, "[::]:80");
    let _r = Echo::tcp(&s, "[::]:9005");
    tcp_ok(&lab.outside, "[fd99::1]:8080").expect("IPv6 published port");
    assert_eq!(
        web.last_peer(),
        Some(ip("fd99::2")),
        "the IPv6 client's address is kept"
    );
    tcp_ok(&lab.outside, "10.99.0.1:8080").expect("and IPv4, same host port");
    tcp_ok(&lab.outside, "[fd99::1]:9005").expect("a port inside a published range, IPv6");
    tcp_ok(&lab.outside, "10.99.0.1:9005").expect("and IPv4");
    let ports = &lab.inspect("s1")["NetworkSettings"]["Ports"];
    assert_eq!(
        ports["80/tcp"],
        json!([{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}])
    );
    assert_eq!(ports["9009/tcp"][0]["HostPort"], "9009");
}
