//! What needs ipvlan or 802.1q links. Each test first asks the kernel (`kernel_lacks`); where
//! it lacks the link kind (this machine), the test prints `SKIP <test>: kernel has no <kind>
//! (<kernel's message>)` and returns, so the gap is visible and never a silent pass. On a kernel
//! that has them, the tests run in full. The netlink messages of these paths are unit-tested in
//! `cnm-core` (`osl/netlink/sublink_tests.rs`) whatever the kernel.

use crate::lan::{
    self, Outside, address_of, default_routes, docker, fails, host_links, inspect, private_host,
    sandbox, sandbox_link, sandbox_links, sandbox_pings, skip_loudly,
};

/// `true` (after a loud skip) when the kernel lacks `kind` on a scratch veth parent.
fn lacks(test: &str, kind: &str) -> bool {
    lacks_for(test, kind, "")
}

/// `lacks` for a test that skips only `part` of itself.
fn lacks_for(test: &str, kind: &str, part: &str) -> bool {
    lan::ip(&[
        "link",
        "add",
        "probe-parent",
        "type",
        "veth",
        "peer",
        "name",
        "probe-peer",
    ]);
    let missing = lan::kernel_lacks(kind, Some("probe-parent"));
    lan::ip(&["link", "del", "probe-parent"]);
    match missing {
        Some(reason) => {
            skip_loudly(
                &format!("{test}{part}"),
                &format!("kernel has no {kind} ({reason})"),
            );
            true
        }
        None => false,
    }
}

#[test]
fn ipvlan_l2_connectivity() {
    let test = "ipvlan_l2_connectivity";
    let Some(host) = private_host(test) else {
        return;
    };
    if lacks(test, "ipvlan") {
        return;
    }
    let lan = Outside::new();
    lan.plug("lan0", "uplink", &["10.90.0.254/24"]);
    docker(
        &host,
        &[
            "network",
            "create",
            "-d",
            "ipvlan",
            "-o",
            "parent=lan0",
            "--subnet",
            "10.90.0.0/24",
            "--gateway",
            "10.90.0.254",
            "iv",
        ],
    );
    sandbox(&host, "alpha", "iv", None);
    sandbox(&host, "beta", "iv", None);
    let eth0 = sandbox_link(&host, "alpha", "eth0");
    assert_eq!(eth0["linkinfo"]["info_kind"], "ipvlan", "{eth0}");
    assert_eq!(
        default_routes(&host, "alpha", false),
        [("10.90.0.254".to_owned(), "eth0".to_owned())]
    );
    let (a, b) = (
        address_of(&host, "iv", "alpha"),
        address_of(&host, "iv", "beta"),
    );
    assert!(sandbox_pings(&host, "alpha", "10.90.0.254"), "a -> LAN");
    assert!(lan.pings(&a), "LAN -> a");
    assert!(sandbox_pings(&host, "alpha", &b), "a -> b (flag bridge)");
    docker(&host, &["network", "disconnect", "iv", "alpha"]);
    assert_eq!(sandbox_links(&host, "alpha"), ["lo"]);
}

#[test]
fn ipvlan_l3_routes_without_a_gateway() {
    let test = "ipvlan_l3_routes_without_a_gateway";
    let Some(host) = private_host(test) else {
        return;
    };
    if lacks(test, "ipvlan") {
        return;
    }
    let lan = Outside::new();
    lan.plug("lan0", "uplink", &[]);
    docker(
        &host,
        &[
            "network",
            "create",
            "-d",
            "ipvlan",
            "-o",
            "parent=lan0",
            "-o",
            "ipvlan_mode=l3",
            "--subnet",
            "10.91.0.0/24",
            "--subnet",
            "10.92.0.0/24",
            "l3",
        ],
    );
    assert_eq!(
        inspect(&host, "l3", "{{range .IPAM.Config}}{{.Gateway}}{{end}}"),
        "",
        "no gateway reserved"
    );
    sandbox(&host, "alpha", "l3", Some("10.91.0.5"));
    sandbox(&host, "beta", "l3", Some("10.92.0.5"));
    assert_eq!(
        default_routes(&host, "alpha", false),
        [(String::new(), "eth0".to_owned())],
        "default dev eth0, no next hop"
    );
    assert!(
        sandbox_pings(&host, "alpha", "10.92.0.5"),
        "L3 mode routes between the subnets of the network"
    );
}

#[test]
fn ipvlan_takes_one_network_per_parent_and_failed_joins_leave_nothing() {
    let test = "ipvlan_takes_one_network_per_parent_and_failed_joins_leave_nothing";
    let Some(host) = private_host(test) else {
        return;
    };
    let lan = Outside::new();
    lan.plug("lan0", "uplink", &[]);
    docker(
        &host,
        &[
            "network",
            "create",
            "-d",
            "ipvlan",
            "-o",
            "parent=lan0",
            "--subnet",
            "10.93.0.0/24",
            "iv",
        ],
    );
    let id = inspect(&host, "iv", "{{.Id}}");
    let second = fails(
        host.docker(&[
            "network",
            "create",
            "-d",
            "ipvlan",
            "-o",
            "parent=lan0",
            "--subnet",
            "10.94.0.0/24",
            "iv2",
        ]),
        "second ipvlan network on lan0",
    );
    assert!(
        second.contains(&format!(
            "network di-{} is already using parent interface lan0",
            &id[..12]
        )),
        "{second}"
    );
    for (option, message) in [
        (
            "ipvlan_mode=l4",
            "requested ipvlan mode 'l4' is not valid, 'l2' mode is the ipvlan driver default",
        ),
        (
            "ipvlan_flag=nope",
            "requested ipvlan flag 'nope' is not valid, 'bridge' is the ipvlan driver default",
        ),
        (
            "parent=lo",
            "loopback interface is not a valid ipvlan parent link",
        ),
    ] {
        let out = fails(
            host.docker(&["network", "create", "-d", "ipvlan", "-o", option, "bad"]),
            option,
        );
        assert!(out.contains(message), "{option}: {out}");
    }
    if lacks_for(test, "ipvlan", " (joining)") {
        // The part that runs anyway: the join fails with Docker's message and nothing is left.
        let before = host_links();
        let out = fails(
            host.cnm(&["sandbox", "create", "--name", "alpha", "--network", "iv"]),
            "join without ipvlan",
        );
        assert!(
            out.contains("failed to create the ipvlan port: operation not supported"),
            "{out}"
        );
        assert_eq!(host_links(), before);
        assert_eq!(
            lan::ok(host.cnm(&["sandbox", "ls", "-q"]), "sandbox ls"),
            "",
            "the sandbox was rolled back"
        );
        return;
    }
    sandbox(&host, "alpha", "iv", None);
    assert_eq!(
        sandbox_link(&host, "alpha", "eth0")["linkinfo"]["info_kind"],
        "ipvlan"
    );
}

#[test]
fn macvlan_vlan_sub_interface_is_created_and_removed() {
    let test = "macvlan_vlan_sub_interface_is_created_and_removed";
    let Some(host) = private_host(test) else {
        return;
    };
    let lan = Outside::new();
    lan.plug("lan0", "uplink", &[]);
    if lacks_for(test, "vlan", " (everything after the refusal)") {
        // Runs anyway: Docker's message, and no link or network is left behind.
        let before = host_links();
        let out = fails(
            host.docker(&[
                "network",
                "create",
                "-d",
                "macvlan",
                "-o",
                "parent=lan0.10",
                "v10",
            ]),
            "vlan parent",
        );
        assert!(
            out.contains("failed to create lan0.10 vlan link: operation not supported"),
            "{out}"
        );
        assert_eq!(host_links(), before);
        return;
    }
    lan.run(&[
        "ip",
        "link",
        "add",
        "link",
        "uplink",
        "name",
        "uplink.10",
        "type",
        "vlan",
        "id",
        "10",
    ]);
    lan.run(&["ip", "addr", "add", "10.95.0.254/24", "dev", "uplink.10"]);
    lan.run(&["ip", "link", "set", "uplink.10", "up"]);
    let create = |parent: &str, subnet: &str, name: &str| {
        docker(
            &host,
            &[
                "network",
                "create",
                "-d",
                "macvlan",
                "-o",
                &format!("parent={parent}"),
                "--subnet",
                subnet,
                name,
            ],
        )
    };
    create("lan0.10", "10.95.0.0/24", "v10");
    assert!(
        host_links().contains(&("lan0.10".to_owned(), "vlan".to_owned())),
        "cnm created lan0.10"
    );
    create("lan0.10", "10.96.0.0/24", "v10b");
    sandbox(&host, "alpha", "v10", None);
    assert!(
        sandbox_pings(&host, "alpha", "10.95.0.254"),
        "tagged traffic reaches VLAN 10 on the LAN"
    );
    docker(&host, &["network", "disconnect", "v10", "alpha"]);
    docker(&host, &["network", "rm", "v10"]);
    assert!(
        host_links().iter().any(|(n, _)| n == "lan0.10"),
        "another network still uses lan0.10"
    );
    docker(&host, &["network", "rm", "v10b"]);
    assert!(
        !host_links().iter().any(|(n, _)| n == "lan0.10"),
        "the last network removes the sub-interface cnm made"
    );

    lan::ip(&[
        "link", "add", "link", "lan0", "name", "lan0.20", "type", "vlan", "id", "20",
    ]);
    create("lan0.20", "10.97.0.0/24", "v20");
    docker(&host, &["network", "rm", "v20"]);
    assert!(
        host_links().iter().any(|(n, _)| n == "lan0.20"),
        "a pre-existing sub-interface is never deleted"
    );
}
