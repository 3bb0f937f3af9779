//! The bridge driver's policy and published ports with real packets, driven through the
//! driver API directly (the daemon-level suite is `crates/cnm/tests/connectivity.rs`).
//!
//! Each test is its own private "host" namespace (`support::private_host`) with an
//! "outside" namespace routed to it over a veth pair (10.99.0.0/24, fd99::/64), and sandbox
//! namespaces attached by the driver. Traffic flows only between these namespaces. Run as
//! root: `cargo nextest run -p cnm-core --test bridge_firewall`.

mod bridge_support;
mod support;

use bridge_support::probe::{self, Echo, ping, tcp_connect, tcp_ok, udp_ok};
use bridge_support::{HOST, ip, list_table, network, normalize, ok, outside, run, sandbox};
use cnm_core::driver::BridgeDriver;
use cnm_core::driver::bridge::BridgeSettings;
use cnm_core::error::ErrorKind;
use cnm_core::firewall::generation::Generation;
use cnm_core::model::{Network, labels as l};
use cnm_core::osl::Netlink;
use cnm_types::sandbox::PortBinding;
use std::path::Path;

fn driver() -> BridgeDriver {
    ok("ip", &["link", "set", "lo", "up"]);
    BridgeDriver::new(
        BridgeSettings { ip_forward: true },
        Netlink::current().expect("netlink"),
    )
}

async fn create(d: &mut BridgeDriver, made: &mut Vec<Network>, net: Network) -> Network {
    let others: Vec<&Network> = made.iter().collect();
    d.validate(&net, &others)
        .unwrap_or_else(|e| panic!("validate {}: {e}", net.name));
    d.create_network(&net, &others)
        .await
        .unwrap_or_else(|e| panic!("create {}: {e}", net.name));
    made.push(net.clone());
    net
}

fn pb(proto: &str, host_ip: &str, host: (u16, u16), container: (u16, u16)) -> PortBinding {
    PortBinding {
        proto: proto.into(),
        container_port: container.0,
        container_port_end: container.1,
        host_ip: host_ip.into(),
        host_port: host.0,
        host_port_end: host.1,
    }
}

fn host() -> &'static Path {
    Path::new(HOST)
}

#[test]
fn published_ports_reach_containers_from_outside_the_host_loopback_and_hairpin() {
    let Some(h) = support::private_host() else {
        return;
    };
    h.block_on(async {
        let mut d = driver();
        let out = outside(&h).await;
        let mut made = Vec::new();
        let net = create(
            &mut d,
            &mut made,
            network(
                "a",
                &[(l::BRIDGE_NAME, "br-a")],
                Some("172.20.0.0/24"),
                None,
                false,
            ),
        )
        .await;
        let web = sandbox(&h, &mut d, &net, "web", Some("172.20.0.2/24"), None).await;
        let client = sandbox(&h, &mut d, &net, "client", Some("172.20.0.3/24"), None).await;
        let tcp = Echo::tcp(&web.path, "0.0.0.0:80");
        let udp = Echo::udp(&web.path, "0.0.0.0:53");
        let range = Echo::tcp(&web.path, "0.0.0.0:9001");
        let specs = BridgeDriver::parse_port_bindings(&[
            pb("tcp", "", (8080, 0), (80, 0)),
            pb("udp", "", (5353, 0), (53, 0)),
            pb("tcp", "", (9000, 9010), (9000, 9010)),
        ])
        .unwrap();
        let actual = d.program_ports(&net, &web.endpoint, &specs).await.unwrap();
        assert_eq!(actual.len(), 3, "{actual:?}");

        tcp_ok(&out, "10.99.0.1:8080").expect("outside -> published tcp");
        assert_eq!(
            tcp.last_peer(),
            Some(ip("10.99.0.2")),
            "DNAT keeps the client's address"
        );
        udp_ok(&out, "10.99.0.1:5353").expect("outside -> published udp");
        assert_eq!(udp.last_peer(), Some(ip("10.99.0.2")));
        tcp_ok(&out, "10.99.0.1:9001").expect("a port inside the published range");
        tcp_ok(host(), "10.99.0.1:8080").expect("host -> its own address");
        assert_eq!(
            tcp.last_peer(),
            Some(ip("10.99.0.1")),
            "the host's own address is kept"
        );
        tcp_ok(host(), "127.0.0.1:8080").expect("host -> 127.0.0.1");
        udp_ok(host(), "127.0.0.1:5353").expect("host -> 127.0.0.1 udp");
        tcp_ok(&client.path, "10.99.0.1:8080").expect("hairpin from another sandbox");
        tcp_ok(&web.path, "10.99.0.1:8080").expect("hairpin to itself");

        assert!(
            tcp_ok(&out, "10.99.0.1:8081").is_err(),
            "an unpublished port"
        );
        assert!(
            tcp_ok(&out, "172.20.0.2:80").is_err(),
            "direct access to a container address is dropped in nat mode"
        );
        assert!(!ping(&out, "172.20.0.2"));

        // The host port is held: nobody else can bind it, and a second binding is refused.
        let taken = std::net::TcpListener::bind("0.0.0.0:8080")
            .map(drop)
            .unwrap_err();
        assert_eq!(taken.kind(), std::io::ErrorKind::AddrInUse);
        assert!(std::net::UdpSocket::bind("0.0.0.0:5353").is_err());
        let e = d
            .program_ports(
                &net,
                &client.endpoint,
                &BridgeDriver::parse_port_bindings(&[pb("tcp", "", (8080, 0), (80, 0))]).unwrap(),
            )
            .await
            .unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (
                ErrorKind::Conflict,
                "Bind for 0.0.0.0:8080 failed: port is already allocated"
            )
        );

        d.revoke_ports(&net, &web.endpoint).await.unwrap();
        assert!(tcp_ok(&out, "10.99.0.1:8080").is_err(), "revoked");
        std::net::TcpListener::bind("0.0.0.0:8080").expect("the port is free again");
        drop((tcp, udp, range));
    });
}

#[test]
fn isolation_icc_internal_and_masquerade() {
    let Some(h) = support::private_host() else {
        return;
    };
    h.block_on(async {
        let mut d = driver();
        let out = outside(&h).await;
        let server = Echo::tcp(&out, "0.0.0.0:7");
        let mut made = Vec::new();
        let a = create(
            &mut d,
            &mut made,
            network(
                "a",
                &[(l::BRIDGE_NAME, "br-a")],
                Some("172.20.0.0/24"),
                None,
                false,
            ),
        )
        .await;
        let b = create(
            &mut d,
            &mut made,
            network(
                "b",
                &[(l::BRIDGE_NAME, "br-b")],
                Some("172.21.0.0/24"),
                None,
                false,
            ),
        )
        .await;
        let c = create(
            &mut d,
            &mut made,
            network(
                "c",
                &[(l::BRIDGE_NAME, "br-c"), (l::BRIDGE_ENABLE_ICC, "false")],
                Some("172.22.0.0/24"),
                None,
                false,
            ),
        )
        .await;
        let i = create(
            &mut d,
            &mut made,
            network(
                "i",
                &[(l::BRIDGE_NAME, "br-i")],
                Some("172.23.0.0/24"),
                None,
                true,
            ),
        )
        .await;
        let m = create(
            &mut d,
            &mut made,
            network(
                "m",
                &[
                    (l::BRIDGE_NAME, "br-m"),
                    (l::BRIDGE_ENABLE_IP_MASQUERADE, "false"),
                ],
                Some("172.24.0.0/24"),
                None,
                false,
            ),
        )
        .await;
        let a1 = sandbox(&h, &mut d, &a, "a1", Some("172.20.0.2/24"), None).await;
        let a2 = sandbox(&h, &mut d, &a, "a2", Some("172.20.0.3/24"), None).await;
        let b1 = sandbox(&h, &mut d, &b, "b1", Some("172.21.0.2/24"), None).await;
        let c1 = sandbox(&h, &mut d, &c, "c1", Some("172.22.0.2/24"), None).await;
        let c2 = sandbox(&h, &mut d, &c, "c2", Some("172.22.0.3/24"), None).await;
        let i1 = sandbox(&h, &mut d, &i, "i1", Some("172.23.0.2/24"), None).await;
        let i2 = sandbox(&h, &mut d, &i, "i2", Some("172.23.0.3/24"), None).await;
        let m1 = sandbox(&h, &mut d, &m, "m1", Some("172.24.0.2/24"), None).await;
        let b_srv = Echo::tcp(&b1.path, "0.0.0.0:80");
        let c_srv = Echo::tcp(&c2.path, "0.0.0.0:80");

        assert!(ping(&a1.path, "172.20.0.3"), "same network");
        assert!(ping(&a2.path, "172.20.0.2"));
        assert!(!ping(&a1.path, "172.21.0.2"), "another bridge network");
        assert!(tcp_ok(&a1.path, "172.21.0.2:80").is_err());
        assert!(b_srv.peers().is_empty());
        assert!(!ping(&c1.path, "172.22.0.3"), "enable_icc=false");
        assert!(tcp_ok(&c1.path, "172.22.0.3:80").is_err());
        assert!(c_srv.peers().is_empty());
        assert!(
            ping(&c1.path, "172.22.0.1"),
            "icc=false still reaches the gateway"
        );
        assert!(
            ping(&i1.path, "172.23.0.3"),
            "internal: the network talks inside"
        );
        assert!(
            i1.endpoint.gateway_v4.is_none(),
            "internal: no gateway, no default route"
        );
        // Even with a route added by hand, nothing leaves an internal network.
        let eth0 = i1
            .netlink
            .link_by_name("eth0")
            .await
            .unwrap()
            .unwrap()
            .index;
        i1.netlink
            .add_default_route(ip("172.23.0.1"), eth0)
            .await
            .unwrap();
        assert!(
            tcp_ok(&i1.path, "10.99.0.2:7").is_err(),
            "internal: no way out"
        );
        assert!(!ping(&out, "172.23.0.2"), "internal: no way in");
        drop(i2);

        tcp_ok(&a1.path, "10.99.0.2:7").expect("a nat network reaches the outside");
        assert_eq!(
            server.last_peer(),
            Some(ip("10.99.0.1")),
            "masqueraded to the host's address"
        );
        tcp_ok(&m1.path, "10.99.0.2:7")
            .expect("without masquerade, replies route back through the host");
        assert_eq!(
            server.last_peer(),
            Some(ip("172.24.0.2")),
            "enable_ip_masquerade=false keeps the source"
        );
        tcp_ok(&c1.path, "10.99.0.2:7").expect("icc=false still reaches the outside");
    });
}

#[test]
fn gateway_modes_routed_unprotected_and_trusted_interfaces() {
    let Some(h) = support::private_host() else {
        return;
    };
    h.block_on(async {
        let mut d = driver();
        let out = outside(&h).await;
        let mut made = Vec::new();
        let r = create(
            &mut d,
            &mut made,
            network(
                "r",
                &[
                    (l::BRIDGE_NAME, "br-r"),
                    (l::BRIDGE_GATEWAY_MODE_IPV4, "routed"),
                ],
                Some("172.25.0.0/24"),
                None,
                false,
            ),
        )
        .await;
        let u = create(
            &mut d,
            &mut made,
            network(
                "u",
                &[
                    (l::BRIDGE_NAME, "br-u"),
                    (l::BRIDGE_GATEWAY_MODE_IPV4, "nat-unprotected"),
                ],
                Some("172.26.0.0/24"),
                None,
                false,
            ),
        )
        .await;
        let t = create(
            &mut d,
            &mut made,
            network(
                "t",
                &[
                    (l::BRIDGE_NAME, "br-t"),
                    (l::BRIDGE_TRUSTED_HOST_INTERFACES, "out0"),
                ],
                Some("172.27.0.0/24"),
                None,
                false,
            ),
        )
        .await;
        let r1 = sandbox(&h, &mut d, &r, "r1", Some("172.25.0.2/24"), None).await;
        let u1 = sandbox(&h, &mut d, &u, "u1", Some("172.26.0.2/24"), None).await;
        let t1 = sandbox(&h, &mut d, &t, "t1", Some("172.27.0.2/24"), None).await;
        let servers: Vec<Echo> = [&r1, &u1, &t1]
            .iter()
            .flat_map(|s| {
                [
                    Echo::tcp(&s.path, "0.0.0.0:80"),
                    Echo::tcp(&s.path, "0.0.0.0:81"),
                ]
            })
            .collect();
        let specs =
            BridgeDriver::parse_port_bindings(&[pb("tcp", "", (8080, 0), (80, 0))]).unwrap();
        let bound = d.program_ports(&r, &r1.endpoint, &specs).await.unwrap();
        assert_eq!(
            (bound[0].host_ip.as_str(), bound[0].host_port),
            ("0.0.0.0", 0),
            "routed: no host port"
        );

        tcp_ok(&out, "172.25.0.2:80").expect("routed: a published container port is open");
        assert_eq!(servers[0].last_peer(), Some(ip("10.99.0.2")));
        assert!(
            tcp_ok(&out, "172.25.0.2:81").is_err(),
            "routed: other ports are not"
        );
        assert!(ping(&out, "172.25.0.2"), "routed: ICMP is allowed");
        assert!(tcp_ok(&out, "10.99.0.1:8080").is_err(), "routed: no DNAT");
        tcp_ok(&out, "172.26.0.2:81").expect("nat-unprotected: anything may enter");
        tcp_ok(&out, "172.27.0.2:81")
            .expect("a trusted host interface reaches containers directly");
        tcp_ok(&r1.path, "10.99.0.2:22").ok();
        drop(servers);
    });
}

#[test]
fn ipv6_nat66_and_published_ports() {
    let Some(h) = support::private_host() else {
        return;
    };
    h.block_on(async {
        let mut d = driver();
        let out = outside(&h).await;
        let server = Echo::tcp(&out, "[::]:7");
        let mut made = Vec::new();
        let v6 = create(
            &mut d,
            &mut made,
            network(
                "v6",
                &[(l::BRIDGE_NAME, "br-v6")],
                Some("172.28.0.0/24"),
                Some("fd28::/64"),
                false,
            ),
        )
        .await;
        let s = sandbox(
            &h,
            &mut d,
            &v6,
            "s",
            Some("172.28.0.2/24"),
            Some("fd28::2/64"),
        )
        .await;
        let web = Echo::tcp(&s.path, "[::]:80");
        let specs =
            BridgeDriver::parse_port_bindings(&[pb("tcp", "", (8080, 0), (80, 0))]).unwrap();
        let bound = d.program_ports(&v6, &s.endpoint, &specs).await.unwrap();
        let hosts: Vec<(&str, u16)> = bound
            .iter()
            .map(|b| (b.host_ip.as_str(), b.host_port))
            .collect();
        assert_eq!(
            hosts,
            [("0.0.0.0", 8080), ("::", 8080)],
            "both families, the same port"
        );

        tcp_ok(&out, "[fd99::1]:8080").expect("outside -> published port over IPv6");
        assert_eq!(web.last_peer(), Some(ip("fd99::2")));
        tcp_ok(&out, "10.99.0.1:8080").expect("and over IPv4");
        assert_eq!(web.last_peer(), Some(ip("10.99.0.2")));
        tcp_ok(&s.path, "[fd99::2]:7").expect("a sandbox reaches the outside over IPv6");
        assert_eq!(
            server.last_peer(),
            Some(ip("fd99::1")),
            "NAT66: masqueraded to the host's address"
        );
        assert!(
            tcp_ok(&out, "[fd28::2]:80").is_err(),
            "no direct access over IPv6 either"
        );
    });
}

#[test]
fn restart_keeps_an_established_connection_and_changes_nothing_in_the_kernel() {
    let Some(h) = support::private_host() else {
        return;
    };
    h.block_on(async {
        let mut d = driver();
        let out = outside(&h).await;
        let mut made = Vec::new();
        let net = create(
            &mut d,
            &mut made,
            network(
                "a",
                &[(l::BRIDGE_NAME, "br-a")],
                Some("172.20.0.0/24"),
                Some("fd20::/64"),
                false,
            ),
        )
        .await;
        let web = sandbox(
            &h,
            &mut d,
            &net,
            "web",
            Some("172.20.0.2/24"),
            Some("fd20::2/64"),
        )
        .await;
        let _srv = Echo::tcp(&web.path, "0.0.0.0:80");
        let specs = BridgeDriver::parse_port_bindings(&[
            pb("tcp", "", (8080, 0), (80, 0)),
            pb("udp", "", (0, 0), (53, 0)),
        ])
        .unwrap();
        let stored = d.program_ports(&net, &web.endpoint, &specs).await.unwrap();
        let mut conn = tcp_connect(&out, "10.99.0.1:8080").unwrap();
        probe::roundtrip(&mut conn, "before\n").unwrap();
        let before = normalize(&list_table().unwrap());

        // "Restart": a new driver (the old one's sockets close), restored from stored records.
        drop(d);
        let mut generation = Generation::open().unwrap();
        let g0 = generation.read().unwrap();
        let mut d = driver();
        d.restore_network(&net).await.unwrap();
        d.restore_ports(&net, &web.endpoint, &stored).await.unwrap();
        d.finish_restore().await.unwrap();
        assert_eq!(
            generation.read().unwrap(),
            g0,
            "nothing was applied: the kernel already matched"
        );
        assert_eq!(normalize(&list_table().unwrap()), before);
        probe::roundtrip(&mut conn, "after\n").expect("the established connection survived");
        tcp_ok(&out, "10.99.0.1:8080").expect("new connections too");
        assert!(
            std::net::TcpListener::bind("0.0.0.0:8080").is_err(),
            "the restored port is held again"
        );
        assert!(!d.check_and_repair().await.unwrap(), "idle check");
        assert_eq!(
            generation.read().unwrap(),
            g0,
            "and the check changed nothing"
        );
    });
}

#[test]
fn repairs_after_a_flush_keeps_user_rules_and_removes_the_old_table() {
    let Some(h) = support::private_host() else {
        return;
    };
    h.block_on(async {
        // A table from an older cnm version, removed by the first reconcile.
        ok("nft", &["add", "table", "ip", "cnm"]);
        let mut d = driver();
        let out = outside(&h).await;
        let mut made = Vec::new();
        let net = create(
            &mut d,
            &mut made,
            network(
                "a",
                &[(l::BRIDGE_NAME, "br-a")],
                Some("172.20.0.0/24"),
                None,
                false,
            ),
        )
        .await;
        assert!(
            !run("nft", &["list", "table", "ip", "cnm"]).status.success(),
            "old table removed"
        );
        let web = sandbox(&h, &mut d, &net, "web", Some("172.20.0.2/24"), None).await;
        let _srv = Echo::tcp(&web.path, "0.0.0.0:80");
        let specs =
            BridgeDriver::parse_port_bindings(&[pb("tcp", "", (8080, 0), (80, 0))]).unwrap();
        d.program_ports(&net, &web.endpoint, &specs).await.unwrap();
        let good = normalize(&list_table().unwrap());
        assert!(!d.check_and_repair().await.unwrap());

        ok("nft", &["flush", "ruleset"]);
        assert!(
            tcp_ok(&out, "10.99.0.1:8080").is_err(),
            "flushed: nothing is published"
        );
        assert!(d.check_and_repair().await.unwrap(), "noticed the flush");
        assert_eq!(normalize(&list_table().unwrap()), good);
        tcp_ok(&out, "10.99.0.1:8080").expect("published again");

        // Someone deletes one element and adds a rule to a managed chain.
        ok(
            "nft",
            &[
                "delete",
                "element",
                "inet",
                "cnm",
                "dnat_any_v4",
                "{ tcp . 8080 }",
            ],
        );
        ok("nft", &["insert", "rule", "inet", "cnm", "forward", "drop"]);
        assert!(d.check_and_repair().await.unwrap());
        assert_eq!(normalize(&list_table().unwrap()), good);
        tcp_ok(&out, "10.99.0.1:8080").expect("repaired");

        // The user chain is the user's: a repair never touches it.
        ok(
            "nft",
            &[
                "add",
                "rule",
                "inet",
                "cnm",
                "user",
                "ip",
                "saddr",
                "10.99.0.2",
                "drop",
            ],
        );
        assert!(
            tcp_ok(&out, "10.99.0.1:8080").is_err(),
            "the user's drop applies first"
        );
        ok(
            "nft",
            &[
                "delete",
                "element",
                "inet",
                "cnm",
                "bridges",
                "{ \"br-a\" }",
            ],
        );
        assert!(d.check_and_repair().await.unwrap());
        let user = ok("nft", &["list", "chain", "inet", "cnm", "user"]);
        assert!(user.contains("ip saddr 10.99.0.2 drop"), "{user}");
        assert!(tcp_ok(&out, "10.99.0.1:8080").is_err());
        ok("nft", &["flush", "chain", "inet", "cnm", "user"]);
        tcp_ok(&out, "10.99.0.1:8080").expect("without the user's rule");
        assert!(
            !d.check_and_repair().await.unwrap(),
            "changes to the user chain are not drift"
        );
    });
}

#[test]
fn udp_flows_seen_before_publishing_reach_the_container_after_it() {
    let Some(h) = support::private_host() else {
        return;
    };
    h.block_on(async {
        let mut d = driver();
        let out = outside(&h).await;
        let mut made = Vec::new();
        let net = create(
            &mut d,
            &mut made,
            network(
                "a",
                &[(l::BRIDGE_NAME, "br-a")],
                Some("172.20.0.0/24"),
                None,
                false,
            ),
        )
        .await;
        let first = sandbox(&h, &mut d, &net, "first", Some("172.20.0.2/24"), None).await;
        let second = sandbox(&h, &mut d, &net, "second", Some("172.20.0.3/24"), None).await;
        let one = Echo::udp(&first.path, "0.0.0.0:53");
        let two = Echo::udp(&second.path, "0.0.0.0:53");
        // A client keeps sending from one source port, before and after the port is published.
        let client = probe::udp_socket(&out, false);
        assert!(
            probe::udp_exchange(&client, "10.99.0.1:5353").is_err(),
            "not published yet"
        );
        let specs =
            BridgeDriver::parse_port_bindings(&[pb("udp", "", (5353, 0), (53, 0))]).unwrap();
        d.program_ports(&net, &first.endpoint, &specs)
            .await
            .unwrap();
        probe::udp_exchange(&client, "10.99.0.1:5353")
            .expect("the flow seen before publishing now reaches the container");
        assert_eq!(one.peers().len(), 1);
        // The port moves to another sandbox: the same flow follows it.
        d.revoke_ports(&net, &first.endpoint).await.unwrap();
        d.program_ports(&net, &second.endpoint, &specs)
            .await
            .unwrap();
        probe::udp_exchange(&client, "10.99.0.1:5353")
            .expect("the flow follows the port to its new container");
        assert_eq!((one.peers().len(), two.peers().len()), (1, 1));
    });
}
