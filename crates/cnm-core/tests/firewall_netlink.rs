//! Element changes sent as raw nfnetlink batches read back through nft exactly as the model
//! wants them: after every step `Firewall::drift` (which lists the table with nft and compares)
//! finds nothing to change.
//!
//! Covers every encoding `batch.rs` has: hash sets and maps of one field and of
//! concatenations, one-field interval sets and maps (start and end elements, an interval
//! ending at the top of the address space, adjacent intervals), concatenated interval sets and
//! maps (key and end key), deletions of each, and the fallback when the table was removed
//! behind cnm's back. Runs in a private network namespace (`support::private_host`).
//!
//! Run: `cargo nextest run -p cnm-core --test firewall_netlink` as root.

mod support;

use std::net::IpAddr;

use cnm_core::firewall::{Firewall, GatewayMode, NetworkPolicy, PortRule};

fn policy(bridge: &str, v4: Option<&str>, v6: Option<&str>) -> NetworkPolicy {
    NetworkPolicy {
        bridge: bridge.into(),
        subnet_v4: v4.map(|s| s.parse().unwrap()),
        subnet_v6: v6.map(|s| s.parse().unwrap()),
        icc: true,
        internal: false,
        mode_v4: GatewayMode::Nat,
        mode_v6: GatewayMode::Nat,
        masquerade: true,
        snat_v4: None,
        snat_v6: None,
        trusted: vec![],
    }
}

fn port(
    proto: u8,
    host_ip: Option<&str>,
    host: (u16, u16),
    ip: &str,
    container: (u16, u16),
) -> PortRule {
    PortRule {
        proto,
        host_ip: host_ip.map(|s| s.parse::<IpAddr>().unwrap()),
        host_ports: host,
        container_ip: ip.parse().unwrap(),
        container_ports: container,
        nat: true,
    }
}

async fn assert_in_sync(fw: &Firewall, step: &str) {
    let drift = fw.drift().await.expect("list the table");
    assert!(
        drift.is_empty(),
        "after {step}: the kernel differs: {drift:?}"
    );
}

fn has_elements() -> bool {
    let out = std::process::Command::new("nft")
        .args(["list", "table", "inet", "cnm"])
        .output()
        .expect("nft");
    String::from_utf8_lossy(&out.stdout).contains("elements = {")
}

#[test]
fn netlink_element_batches_read_back_as_the_model() {
    let Some(host) = support::private_host() else {
        return;
    };
    host.block_on(async {
        let mut fw = Firewall::new();
        assert_eq!(fw.element_path(), "netlink");
        fw.reconcile().await.expect("create the table");

        let networks = [
            NetworkPolicy {
                trusted: vec!["eth9".into()],
                ..policy("br-dual", Some("172.18.0.0/16"), Some("fd00:1::/64"))
            },
            NetworkPolicy {
                snat_v4: Some("192.0.2.7".parse().unwrap()),
                snat_v6: Some("2001:db8::7".parse().unwrap()),
                ..policy("br-snat", Some("172.19.0.0/16"), Some("fd00:2::/64"))
            },
            // Adjacent to the next one: an end element and a start element share a key.
            policy("br-adj-a", Some("10.1.0.0/24"), None),
            policy("br-adj-b", Some("10.1.1.0/24"), None),
            // Intervals that end at the top of the space have no end element.
            policy("br-top", Some("255.255.255.0/24"), Some("ffff::/16")),
            NetworkPolicy {
                mode_v4: GatewayMode::Routed,
                mode_v6: GatewayMode::NatUnprotected,
                icc: false,
                ..policy("br-modes", Some("172.20.0.0/16"), Some("fd00:3::/64"))
            },
            NetworkPolicy {
                internal: true,
                ..policy("br-int", Some("172.21.0.0/16"), None)
            },
        ];
        for n in &networks {
            fw.add_network(n.clone())
                .await
                .unwrap_or_else(|e| panic!("add {}: {e}", n.bridge));
        }
        assert_in_sync(&fw, "adding networks").await;

        let rules = vec![
            port(6, None, (8080, 8080), "172.18.0.2", (80, 80)),
            port(17, Some("127.0.0.1"), (5353, 5353), "172.18.0.2", (53, 53)),
            port(6, None, (9000, 9100), "172.18.0.2", (9000, 9100)),
            port(
                6,
                Some("192.0.2.1"),
                (7000, 7010),
                "172.18.0.2",
                (7000, 7010),
            ),
            port(132, None, (6000, 6002), "172.18.0.2", (7000, 7002)),
            port(6, None, (8080, 8080), "fd00:1::2", (80, 80)),
            port(6, None, (20000, 20999), "fd00:1::2", (20000, 20999)),
        ];
        fw.set_ports("ep1", rules.clone()).await.expect("publish");
        assert_in_sync(&fw, "publishing ports").await;

        // A map entry whose data changes is a delete and an add in one batch.
        let mut moved = rules.clone();
        moved[0].container_ports = (81, 81);
        fw.set_ports("ep1", moved).await.expect("republish");
        assert_in_sync(&fw, "changing a port's target").await;

        fw.add_network(NetworkPolicy {
            icc: false,
            ..networks[0].clone()
        })
        .await
        .expect("change icc");
        assert_in_sync(&fw, "changing a network").await;

        fw.remove_network("br-adj-a").await.expect("remove");
        assert_in_sync(&fw, "removing one of two adjacent networks").await;

        // Removed behind cnm's back: the batch fails (ENOENT) and cnm reconciles instead.
        let out = std::process::Command::new("nft")
            .args(["delete", "table", "inet", "cnm"])
            .output()
            .expect("nft");
        assert!(out.status.success());
        fw.add_network(policy("br-late", Some("172.22.0.0/16"), None))
            .await
            .expect("add after the table was deleted");
        assert_in_sync(&fw, "recreating a deleted table").await;

        fw.set_ports("ep1", vec![]).await.expect("unpublish");
        for n in networks
            .iter()
            .map(|n| n.bridge.as_str())
            .chain(["br-late"])
        {
            fw.remove_network(n)
                .await
                .unwrap_or_else(|e| panic!("remove {n}: {e}"));
        }
        assert_in_sync(&fw, "removing everything").await;
        assert!(!has_elements(), "elements left behind");
    });
}
