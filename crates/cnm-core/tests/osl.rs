//! Root integration tests of the OS layer (`osl`): namespaces, netlink, sysctl.
//!
//! Each test first moves into a private network + mount namespace (`support::private_host`),
//! then builds its runtime; every namespace, link and mount it makes dies with the test
//! process. Traffic only flows between namespaces the test created. Run with
//! `cargo nextest run -p cnm-core --test osl`; not root → each test prints `SKIP: needs root`.

mod support;

use std::net::IpAddr;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use cnm_core::error::{ErrorKind, HasKind};
use cnm_core::osl::netlink::VethSpec;
use cnm_core::osl::{Netlink, netns, sysctl};
use ipnet::IpNet;
use nix::errno::Errno;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn netns_create_open_remove() {
    let Some(host) = support::private_host() else {
        return;
    };
    let own = support::current_netns_id();
    let path = host.path("netns/sb1");

    netns::create(&path).expect("create");
    assert_eq!(
        support::current_netns_id(),
        own,
        "create changed the caller's namespace"
    );
    assert_ne!(
        support::netns_id(&path),
        own,
        "the file must hold a new namespace"
    );
    netns::open(&path).expect("open the new namespace");

    // Usable: a netlink socket inside sees a fresh stack with only `lo`.
    let links = host.block_on(async {
        let inside = Netlink::open_in(&path).expect("open_in");
        inside.links().await.expect("links")
    });
    let names: Vec<_> = links.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["lo"]);

    // A current-thread runtime works too (the caller blocks only for the thread join).
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let lo = single.block_on(async {
        let inside = Netlink::open_in(&path).expect("open_in on a current-thread runtime");
        inside.link_by_name("lo").await.expect("lookup")
    });
    assert!(lo.is_some_and(|l| !l.up), "lo exists and is left down");

    let again = netns::create(&path).expect_err("a second create on a live namespace");
    assert_eq!(again.kind(), ErrorKind::Conflict, "{again}");

    netns::remove(&path).expect("remove");
    assert!(!path.exists(), "namespace file left behind");
    netns::remove(&path).expect("removing a missing namespace is not an error");
    let gone = netns::open(&path).expect_err("open after remove");
    assert_eq!(gone.kind(), ErrorKind::NotFound, "{gone}");
    assert_eq!(support::current_netns_id(), own);
}

#[test]
fn open_refuses_files_that_are_not_network_namespaces() {
    let Some(host) = support::private_host() else {
        return;
    };
    let plain = host.path("plain");
    std::fs::write(&plain, b"").unwrap();
    let err = netns::open(&plain).expect_err("a plain file");
    assert_eq!(err.kind(), ErrorKind::InvalidParameter, "{err}");
    let err = netns::open(std::path::Path::new("/proc/thread-self/ns/mnt"))
        .expect_err("a mount namespace");
    assert_eq!(err.kind(), ErrorKind::InvalidParameter, "{err}");
    netns::open(std::path::Path::new("/proc/thread-self/ns/net")).expect("our own netns");
}

#[test]
fn run_in_never_moves_the_caller() {
    let Some(host) = support::private_host() else {
        return;
    };
    let path = host.path("sb");
    netns::create(&path).unwrap();
    let own = support::current_netns_id();
    let target = support::netns_id(&path);

    // Outside a runtime: no runtime is entered on the worker thread.
    let (seen, has_runtime) = netns::run_in(&path, || {
        (
            support::current_netns_id(),
            tokio::runtime::Handle::try_current().is_ok(),
        )
    })
    .unwrap();
    assert_eq!(seen, target);
    assert!(!has_runtime);
    assert_eq!(support::current_netns_id(), own);

    // From a task on a runtime worker: the runtime is entered there, the worker stays put.
    let (before, seen, has_runtime, after) = host.block_on(async {
        tokio::spawn({
            let path = path.clone();
            async move {
                let before = support::current_netns_id();
                let (seen, has_runtime) = netns::run_in(&path, || {
                    (
                        support::current_netns_id(),
                        tokio::runtime::Handle::try_current().is_ok(),
                    )
                })
                .unwrap();
                (before, seen, has_runtime, support::current_netns_id())
            }
        })
        .await
        .unwrap()
    });
    assert_eq!(before, own);
    assert_eq!(seen, target);
    assert!(has_runtime, "run_in must enter the caller's runtime");
    assert_eq!(after, own);

    // An error inside does not leak either: a missing namespace fails before any thread.
    let err = netns::run_in(&host.path("missing"), || ()).expect_err("missing netns");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(support::current_netns_id(), own);
}

#[test]
fn bridge_add_address_and_delete() {
    let Some(host) = support::private_host() else {
        return;
    };
    host.block_on(async {
        let nl = Netlink::current().unwrap();
        let index = nl
            .add_bridge("br-test", Some(1400))
            .await
            .expect("add bridge");
        let bridge = nl
            .link_by_name("br-test")
            .await
            .unwrap()
            .expect("bridge exists");
        assert_eq!(bridge.index, index);
        assert_eq!(bridge.kind.as_deref(), Some("bridge"));
        assert_eq!(bridge.mtu, 1400);
        let mac = bridge.mac.expect("bridge mac");
        assert_eq!(
            mac[0] & 0x03,
            0x02,
            "locally administered unicast MAC: {mac:02x?}"
        );
        assert!(!bridge.up);
        assert_eq!(nl.link_by_index(index).await.unwrap(), Some(bridge));

        nl.add_address(index, net("10.1.0.1/24"))
            .await
            .expect("add address");
        nl.add_address(index, net("fd00:1::1/64"))
            .await
            .expect("add v6 address");
        nl.set_up(index).await.expect("set up");
        let addresses = nl.addresses(index).await.unwrap();
        assert!(addresses.contains(&net("10.1.0.1/24")), "{addresses:?}");
        assert!(addresses.contains(&net("fd00:1::1/64")), "{addresses:?}");
        assert!(nl.link_by_index(index).await.unwrap().unwrap().up);
        let connected = nl.link_scope_routes_v4().await.unwrap();
        assert_eq!(connected, [net("10.1.0.0/24")]);

        let dup = nl
            .add_address(index, net("10.1.0.1/24"))
            .await
            .expect_err("duplicate address");
        assert_eq!(dup.kind(), ErrorKind::Conflict, "{dup}");
        nl.del_address(index, net("10.1.0.1/24"))
            .await
            .expect("del address");
        assert!(
            !nl.addresses(index)
                .await
                .unwrap()
                .contains(&net("10.1.0.1/24"))
        );
        let missing = nl
            .del_address(index, net("10.1.0.1/24"))
            .await
            .expect_err("gone");
        assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
        assert!(nl.link_scope_routes_v4().await.unwrap().is_empty());

        nl.set_mtu(index, 1300).await.unwrap();
        nl.set_down(index).await.unwrap();
        nl.rename(index, "br-renamed").await.unwrap();
        let renamed = nl.link_by_index(index).await.unwrap().unwrap();
        assert_eq!(
            (renamed.name.as_str(), renamed.mtu, renamed.up),
            ("br-renamed", 1300, false)
        );

        nl.del_link(index).await.expect("del bridge");
        assert_eq!(nl.link_by_name("br-renamed").await.unwrap(), None);
    });
}

/// `delete_link_unlisted` answers once the kernel announced the deletion: by then the link, its
/// addresses and its routes are gone and its name can be used again; a missing link is still
/// a NotFound error.
#[test]
fn a_deleted_link_is_gone_when_delete_link_unlisted_returns() {
    let Some(host) = support::private_host() else {
        return;
    };
    host.block_on(async {
        let nl = Netlink::current().unwrap();
        for round in 0..3 {
            let index = nl.add_bridge("br-unlist", None).await.expect("add bridge");
            nl.add_address(index, net("10.9.0.1/24")).await.unwrap();
            nl.set_up(index).await.unwrap();
            cnm_core::osl::netlink::delete_link_unlisted(index)
                .await
                .expect("delete");
            assert_eq!(
                nl.link_by_name("br-unlist").await.unwrap(),
                None,
                "round {round}"
            );
            assert_eq!(
                nl.link_by_index(index).await.unwrap(),
                None,
                "round {round}"
            );
            assert!(
                nl.link_scope_routes_v4().await.unwrap().is_empty(),
                "round {round}"
            );
        }
        let missing = cnm_core::osl::netlink::delete_link_unlisted(999_999)
            .await
            .expect_err("no such link");
        assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
    });
}

#[test]
fn netlink_errors_carry_errno_kind_and_object() {
    let Some(host) = support::private_host() else {
        return;
    };
    host.block_on(async {
        let nl = Netlink::current().unwrap();
        nl.add_bridge("br-dup", None).await.unwrap();
        let dup = nl
            .add_bridge("br-dup", None)
            .await
            .expect_err("duplicate bridge");
        assert_eq!(dup.errno(), Some(Errno::EEXIST));
        assert_eq!(dup.kind(), ErrorKind::Conflict);
        assert!(dup.to_string().contains("add bridge br-dup"), "{dup}");

        let missing = nl.del_link(999_999).await.expect_err("missing link");
        assert_eq!(missing.errno(), Some(Errno::ENODEV));
        assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
        let missing = nl.set_up(999_999).await.expect_err("missing link");
        assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
        assert_eq!(nl.link_by_name("nope0").await.unwrap(), None);
        assert_eq!(nl.link_by_index(999_999).await.unwrap(), None);

        let cnm_err: cnm_core::error::Error = dup.into();
        assert_eq!(cnm_err.kind, ErrorKind::Conflict);
    });
}

#[test]
fn veth_peer_is_created_inside_the_sandbox() {
    let Some(host) = support::private_host() else {
        return;
    };
    let sandbox = host.path("sb");
    netns::create(&sandbox).unwrap();
    let sandbox_fd = netns::open(&sandbox).unwrap();
    host.block_on(async {
        let nl = Netlink::current().unwrap();
        let bridge = nl.add_bridge("br-veth", None).await.unwrap();
        let mac = [0x02, 0x42, 0xac, 0x11, 0x00, 0x02];
        let spec = VethSpec {
            host_name: "veth1234567",
            peer_name: "eth0",
            peer_netns: sandbox_fd.as_fd(),
            peer_mac: Some(mac),
            mtu: Some(1450),
            master: Some(bridge),
        };
        let (index, peer_index) = nl.add_veth_pair(&spec).await.expect("add veth");

        let host_end = nl
            .link_by_name("veth1234567")
            .await
            .unwrap()
            .expect("host end");
        assert_eq!(host_end.index, index);
        assert_eq!(host_end.kind.as_deref(), Some("veth"));
        assert_eq!(host_end.master, Some(bridge));
        assert_eq!(host_end.mtu, 1450);
        assert!(host_end.up, "host end must be up");
        assert_eq!(
            nl.link_by_name("eth0").await.unwrap(),
            None,
            "peer leaked into the host"
        );

        let inside = Netlink::open_in(&sandbox).unwrap();
        let peer = inside
            .link_by_name("eth0")
            .await
            .unwrap()
            .expect("peer inside");
        assert_eq!(
            peer.index, peer_index,
            "peer index reported by add_veth_pair"
        );
        assert_eq!(peer.kind.as_deref(), Some("veth"));
        assert_eq!(peer.mac, Some(mac));
        assert_eq!(peer.mtu, 1450);
        assert!(!peer.up, "the peer is left for the caller to configure");

        // Same peer name again in the same namespace: refused, and nothing is left behind.
        let spec2 = VethSpec {
            host_name: "veth7654321",
            ..spec.clone()
        };
        let dup = nl.add_veth(&spec2).await.expect_err("peer name taken");
        assert_eq!(dup.kind(), ErrorKind::Conflict, "{dup}");
        assert_eq!(nl.link_by_name("veth7654321").await.unwrap(), None);

        // A missing master fails the whole request: no half-made pair.
        let spec3 = VethSpec {
            host_name: "veth0000000",
            peer_name: "eth1",
            master: Some(999_999),
            ..spec.clone()
        };
        nl.add_veth(&spec3).await.expect_err("missing master");
        assert_eq!(nl.link_by_name("veth0000000").await.unwrap(), None);
        assert_eq!(inside.link_by_name("eth1").await.unwrap(), None);

        nl.set_hairpin(index, true).await.expect("hairpin on");
        nl.set_master(index, None)
            .await
            .expect("release from bridge");
        assert_eq!(nl.link_by_index(index).await.unwrap().unwrap().master, None);

        // Deleting the host end removes the peer inside too.
        nl.del_link(index).await.unwrap();
        assert_eq!(inside.link_by_name("eth0").await.unwrap(), None);
    });
}

/// In two fresh namespaces both ends get index 2; the kernel then omits IFLA_LINK, and the
/// peer index must still come out right.
#[test]
fn veth_pair_indices_when_both_ends_share_an_index() {
    let Some(host) = support::private_host() else {
        return;
    };
    let sandbox = host.path("sb");
    netns::create(&sandbox).unwrap();
    let fd = netns::open(&sandbox).unwrap();
    host.block_on(async {
        let nl = Netlink::current().unwrap();
        let spec = VethSpec {
            host_name: "veth-first",
            peer_name: "eth0",
            peer_netns: fd.as_fd(),
            peer_mac: None,
            mtu: None,
            master: None,
        };
        let (host_index, peer_index) = nl.add_veth_pair(&spec).await.unwrap();
        assert_eq!(
            host_index, peer_index,
            "premise: first link of two fresh namespaces"
        );
        let inside = Netlink::open_in(&sandbox).unwrap();
        let peer = inside.link_by_name("eth0").await.unwrap().unwrap();
        assert_eq!(peer.index, peer_index);
        assert_eq!(
            nl.link_by_name("veth-first").await.unwrap().unwrap().index,
            host_index
        );
        assert!(nl.link_by_index(host_index).await.unwrap().unwrap().up);
    });
}

/// Brings a sandbox up on `bridge`: veth with `eth0` inside, address, default route.
async fn attach(nl: &Netlink, host: &support::PrivateHost, name: &str, bridge: u32, addr: &str) {
    let path = host.path(name);
    netns::create(&path).unwrap();
    let fd = netns::open(&path).unwrap();
    let host_name = format!("veth-{name}");
    let spec = VethSpec {
        host_name: &host_name,
        peer_name: "eth0",
        peer_netns: fd.as_fd(),
        peer_mac: None,
        mtu: None,
        master: Some(bridge),
    };
    let host_end = nl.add_veth(&spec).await.unwrap();
    let inside = Netlink::open_in(&path).unwrap();
    let eth0 = inside.link_by_name("eth0").await.unwrap().unwrap().index;
    let lo = inside.link_by_name("lo").await.unwrap().unwrap().index;
    inside.set_up(lo).await.unwrap();
    inside.add_address(eth0, net(addr)).await.unwrap();
    inside.set_up(eth0).await.unwrap();
    inside
        .add_default_route(ip("10.77.0.1"), eth0)
        .await
        .unwrap();
    // The host end got its carrier when eth0 came up: make it able to transmit now.
    assert!(nl.sync_link(host_end).await.unwrap().up);
    nl.sync_link(bridge).await.unwrap();
}

#[test]
fn sandboxes_get_addresses_routes_and_talk_through_the_bridge() {
    let Some(host) = support::private_host() else {
        return;
    };
    assert!(
        std::path::Path::new("/bin/busybox").exists(),
        "install busybox-static for ping"
    );
    host.block_on(async {
        let nl = Netlink::current().unwrap();
        let bridge = nl.add_bridge("br-ping", None).await.unwrap();
        nl.add_address(bridge, net("10.77.0.1/24")).await.unwrap();
        nl.set_up(bridge).await.unwrap();
        attach(&nl, &host, "sb1", bridge, "10.77.0.2/24").await;
        attach(&nl, &host, "sb2", bridge, "10.77.0.3/24").await;

        let inside = Netlink::open_in(&host.path("sb1")).unwrap();
        let eth0 = inside.link_by_name("eth0").await.unwrap().unwrap().index;
        assert_eq!(
            inside.addresses(eth0).await.unwrap()[0],
            net("10.77.0.2/24")
        );
        let routes = inside.routes(false).await.unwrap();
        let default = routes
            .iter()
            .find(|r| r.destination.prefix_len() == 0)
            .expect("default");
        assert_eq!(
            (default.gateway, default.output),
            (Some(ip("10.77.0.1")), Some(eth0))
        );
        assert_eq!(
            inside.link_scope_routes_v4().await.unwrap(),
            [net("10.77.0.0/24")]
        );
        let dup = inside
            .add_default_route(ip("10.77.0.1"), eth0)
            .await
            .expect_err("dup");
        assert_eq!(dup.kind(), ErrorKind::Conflict, "{dup}");

        // IPv6: address without DAD, default route via an on-link gateway, removal.
        inside
            .add_address(eth0, net("fd00:77::2/64"))
            .await
            .unwrap();
        inside
            .add_default_route(ip("fd00:77::1"), eth0)
            .await
            .expect("v6 default route");
        let v6 = inside.routes(true).await.unwrap();
        let default = v6
            .iter()
            .find(|r| r.destination.prefix_len() == 0)
            .expect("v6 default");
        assert_eq!(default.gateway, Some(ip("fd00:77::1")));
        inside.del_default_route(true).await.unwrap();
        let v6 = inside.routes(true).await.unwrap();
        assert!(v6.iter().all(|r| r.destination.prefix_len() > 0), "{v6:?}");
        let mixed = inside
            .add_route(net("10.5.0.0/16"), Some(ip("fd00:77::1")), eth0)
            .await;
        assert_eq!(
            mixed.expect_err("mixed families").errno(),
            Some(Errno::EINVAL)
        );
    });

    let ping = |from: &str, to: &str| {
        support::run_in_netns(
            &host.path(from),
            "/bin/busybox",
            &["ping", "-c1", "-W1", to],
        )
    };
    assert!(ping("sb1", "10.77.0.3"), "sb1 → sb2 through the bridge");
    assert!(ping("sb2", "10.77.0.2"), "sb2 → sb1 through the bridge");
    assert!(ping("sb1", "10.77.0.1"), "sb1 → gateway");

    host.block_on(async {
        let inside = Netlink::open_in(&host.path("sb1")).unwrap();
        inside.del_default_route(false).await.expect("del default");
        inside
            .del_default_route(false)
            .await
            .expect("none left is fine");
        assert!(
            inside
                .routes(false)
                .await
                .unwrap()
                .iter()
                .all(|r| r.destination.prefix_len() > 0)
        );
        // A route added back explicitly, then deleted by destination.
        let eth0 = inside.link_by_name("eth0").await.unwrap().unwrap().index;
        inside
            .add_route(net("10.99.0.0/16"), Some(ip("10.77.0.1")), eth0)
            .await
            .unwrap();
        inside
            .del_route(net("10.99.0.0/16"), None, None)
            .await
            .unwrap();
        let gone = inside
            .del_route(net("10.99.0.0/16"), None, None)
            .await
            .expect_err("gone");
        assert_eq!(gone.kind(), ErrorKind::NotFound, "{gone}");
    });
    // Without its default route, sb1 can no longer reach beyond its subnet, only inside it.
    assert!(ping("sb1", "10.77.0.3"), "same subnet still reachable");
}

/// Without `sync_link`, about one in six fresh veth host ends dropped the first frames under
/// this load (their carrier change waited for the kernel's link-watch work); with it, none may.
#[test]
fn sync_link_makes_a_fresh_host_end_transmit_under_netlink_load() {
    let Some(host) = support::private_host() else {
        return;
    };
    const SANDBOXES: u32 = 20;
    let failures = host.block_on(async {
        let nl = Netlink::current().unwrap();
        let bridge = nl.add_bridge("br-load", None).await.unwrap();
        nl.add_address(bridge, net("10.78.0.1/16")).await.unwrap();
        nl.set_up(bridge).await.unwrap();
        // Other work holding the kernel's rtnl lock, as a busy daemon would.
        let churn = tokio::spawn({
            let nl = nl.clone();
            async move {
                for round in 0.. {
                    let name = format!("br-churn{}", round % 4);
                    if let Ok(index) = nl.add_bridge(&name, None).await {
                        let _ = nl.del_link(index).await;
                    }
                }
            }
        });
        let mut failures = Vec::new();
        for n in 1..=SANDBOXES {
            let path = host.path(&format!("sb{n}"));
            netns::create(&path).unwrap();
            let fd = netns::open(&path).unwrap();
            let host_name = format!("veth-load{n}");
            let spec = VethSpec {
                host_name: &host_name,
                peer_name: "eth0",
                peer_netns: fd.as_fd(),
                peer_mac: None,
                mtu: None,
                master: Some(bridge),
            };
            let host_end = nl.add_veth(&spec).await.unwrap();
            let inside = Netlink::open_in(&path).unwrap();
            let eth0 = inside.link_by_name("eth0").await.unwrap().unwrap().index;
            inside
                .add_address(eth0, net(&format!("10.78.1.{n}/16")))
                .await
                .unwrap();
            inside.set_up(eth0).await.unwrap();
            nl.sync_link(host_end).await.unwrap();
            nl.sync_link(bridge).await.unwrap();
            // From the test's own namespace: out through the bridge and this host end.
            let reply = std::process::Command::new("/bin/busybox")
                .args(["ping", "-c1", "-W1", &format!("10.78.1.{n}")])
                .output()
                .unwrap();
            if !reply.status.success() {
                failures.push(n);
            }
        }
        churn.abort();
        failures
    });
    assert!(
        failures.is_empty(),
        "first ping lost to sandboxes {failures:?} of {SANDBOXES}"
    );
}

#[test]
fn sysctl_set_in_stays_in_its_namespace() {
    let Some(host) = support::private_host() else {
        return;
    };
    let sandbox = host.path("sb");
    netns::create(&sandbox).unwrap();
    let key = "net.ipv4.ip_forward";
    assert_eq!(sysctl::get(key).unwrap(), "0");
    sysctl::set_in(&sandbox, key, "1").expect("set_in");
    assert_eq!(sysctl::get_in(&sandbox, key).unwrap(), "1");
    assert_eq!(
        sysctl::get(key).unwrap(),
        "0",
        "leaked into the test's own namespace"
    );

    sysctl::set("net.ipv4.conf.all.forwarding", "1").expect("set in own (private) namespace");
    assert_eq!(sysctl::get(key).unwrap(), "1");
    assert_eq!(
        sysctl::get_in(&sandbox, "net.ipv4.conf.lo.forwarding").unwrap(),
        "1"
    );

    let err = sysctl::set_in(&sandbox, "net.ipv4.no_such_key", "1").expect_err("bad key");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Prints the figures (not asserted): add_bridge, add_veth with the peer created in a
/// sandbox, and for comparison the slow path (create in the host, then move the peer).
#[test]
fn measure_bridge_and_veth_creation() {
    let Some(host) = support::private_host() else {
        return;
    };
    const ROUNDS: usize = 20;
    let sandbox = host.path("sb");
    netns::create(&sandbox).unwrap();
    let fd = netns::open(&sandbox).unwrap();
    host.block_on(async {
        let nl = Netlink::current().unwrap();
        let (mut bridge_add, mut bridge_del) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let start = Instant::now();
            let index = nl.add_bridge("br-measure", Some(1500)).await.unwrap();
            bridge_add.push(start.elapsed());
            let start = Instant::now();
            nl.del_link(index).await.unwrap();
            bridge_del.push(start.elapsed());
        }
        let bridge = nl.add_bridge("br-veth", None).await.unwrap();
        nl.set_up(bridge).await.unwrap();
        let (mut veth_add, mut veth_move, mut veth_del) = (Vec::new(), Vec::new(), Vec::new());
        let inside = Netlink::open_in(&sandbox).unwrap();
        for _ in 0..ROUNDS {
            let spec = VethSpec {
                host_name: "vethmeasure",
                peer_name: "eth0",
                peer_netns: fd.as_fd(),
                peer_mac: Some([0x02, 0x42, 0xac, 0x11, 0, 2]),
                mtu: Some(1500),
                master: Some(bridge),
            };
            let start = Instant::now();
            let index = nl.add_veth(&spec).await.unwrap();
            veth_add.push(start.elapsed());
            let start = Instant::now();
            nl.del_link(index).await.unwrap();
            veth_del.push(start.elapsed());

            // Slow path for comparison: peer born in the host, then moved into the sandbox.
            let own = netns::open(std::path::Path::new("/proc/thread-self/ns/net")).unwrap();
            let spec = VethSpec {
                peer_name: "vethpeer",
                peer_netns: own.as_fd(),
                ..spec
            };
            let start = Instant::now();
            let index = nl.add_veth(&spec).await.unwrap();
            let peer = nl.link_by_name("vethpeer").await.unwrap().unwrap().index;
            nl.move_to_netns(peer, fd.as_fd()).await.unwrap();
            veth_move.push(start.elapsed());
            assert!(inside.link_by_name("vethpeer").await.unwrap().is_some());
            nl.del_link(index).await.unwrap();
        }
        let mut open_in = Vec::new();
        for _ in 0..ROUNDS {
            let start = Instant::now();
            drop(Netlink::open_in(&sandbox).unwrap());
            open_in.push(start.elapsed());
        }
        println!("FIGURES (median of {ROUNDS}):");
        println!(
            "  add_bridge                         {:?}",
            median(bridge_add)
        );
        println!(
            "  del bridge                         {:?}",
            median(bridge_del)
        );
        println!(
            "  add_veth, peer created in sandbox  {:?}",
            median(veth_add)
        );
        println!(
            "  add_veth in host + move peer       {:?}",
            median(veth_move)
        );
        println!(
            "  del veth                           {:?}",
            median(veth_del)
        );
        println!("  Netlink::open_in                   {:?}", median(open_in));
    });
}
