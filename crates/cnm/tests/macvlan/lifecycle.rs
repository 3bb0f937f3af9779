//! macvlan networks over their life: without a parent (a stand-in link), gateways and dual
//! stack (and no gateway without `--gateway`, as in current Docker), parents shared between
//! networks and every refused create leaving nothing behind, and a daemon restart.

use crate::lan::{
    Outside, address_of, default_routes, disconnect_and_rm, docker, fails, host_links, inspect, ip,
    private_host, sandbox, sandbox_link, sandbox_links, sandbox_pings,
};

use crate::lan;

#[test]
fn macvlan_without_parent_is_internal_on_a_stand_in_link() {
    let Some(host) = private_host("macvlan_without_parent_is_internal_on_a_stand_in_link") else {
        return;
    };
    let expected_kind = match lan::kernel_lacks("dummy", None) {
        None => "dummy",
        Some(reason) => {
            eprintln!(
                "NOTE: kernel has no dummy links ({reason}); cnm uses an ifb link as the stand-in parent"
            );
            "ifb"
        }
    };
    // A stand-in left by a crash (no network owns it) goes at the driver's first operation.
    ip(&["link", "add", "dm-0123456789ab", "type", expected_kind]);
    docker(
        &host,
        &[
            "network",
            "create",
            "-d",
            "macvlan",
            "--subnet",
            "10.76.0.0/24",
            "--gateway",
            "10.76.0.1",
            "solo",
        ],
    );
    assert!(
        !host_links()
            .iter()
            .any(|(name, _)| name == "dm-0123456789ab"),
        "the leftover stand-in was swept"
    );
    let id = inspect(&host, "solo", "{{.Id}}");
    let stand_in = format!("dm-{}", &id[..12]);
    assert!(
        host_links().contains(&(stand_in.clone(), expected_kind.to_owned())),
        "{:?}",
        host_links()
    );
    assert_eq!(
        inspect(&host, "solo", "{{.Internal}}"),
        "false",
        "Docker still shows Internal: false"
    );
    sandbox(&host, "alpha", "solo", None);
    sandbox(&host, "beta", "solo", None);
    let b = address_of(&host, "solo", "beta");
    assert!(
        sandbox_pings(&host, "alpha", &b),
        "a -> b on the stand-in parent"
    );
    assert!(
        default_routes(&host, "alpha", false).is_empty(),
        "internal for the driver: no default route despite --gateway"
    );
    disconnect_and_rm(&host, &["alpha", "beta"], "solo");
    assert!(
        !host_links().iter().any(|(name, _)| name == &stand_in),
        "the stand-in goes with its network"
    );
}

#[test]
fn macvlan_gateways_dual_stack_and_no_gateway_without_one() {
    let Some(host) = private_host("macvlan_gateways_dual_stack_and_no_gateway_without_one") else {
        return;
    };
    let lan = Outside::new();
    lan.plug(
        "lan0",
        "uplink",
        &["10.77.0.1/24", "fd00:77::1/64", "10.78.0.9/24"],
    );
    docker(
        &host,
        &[
            "network",
            "create",
            "-d",
            "macvlan",
            "-o",
            "parent=lan0",
            "--ipv6",
            "--subnet",
            "10.77.0.0/24",
            "--gateway",
            "10.77.0.1",
            "--subnet",
            "fd00:77::/64",
            "--gateway",
            "fd00:77::1",
            "dual",
        ],
    );
    lan::ok(
        host.cnm(&[
            "sandbox",
            "create",
            "--name",
            "alpha",
            "--network",
            "dual",
            "--ip",
            "10.77.0.40",
            "--ip6",
            "fd00:77::40",
        ]),
        "alpha",
    );
    assert_eq!(address_of(&host, "dual", "alpha"), "10.77.0.40");
    assert_eq!(
        default_routes(&host, "alpha", false),
        [("10.77.0.1".to_owned(), "eth0".to_owned())]
    );
    assert_eq!(
        default_routes(&host, "alpha", true),
        [("fd00:77::1".to_owned(), "eth0".to_owned())]
    );
    assert!(
        sandbox_pings(&host, "alpha", "10.77.0.1"),
        "IPv4 to the LAN"
    );
    assert!(
        sandbox_pings(&host, "alpha", "fd00:77::1"),
        "IPv6 to the LAN"
    );
    assert!(lan.pings("fd00:77::40"), "IPv6 from the LAN");

    // Current Docker (trap 31): no gateway is reserved unless --gateway is given, so the first
    // address is .1 and the sandbox gets no default route. (Docker 20.10 reserved .1.)
    docker(
        &host,
        &[
            "network",
            "create",
            "-d",
            "macvlan",
            "-o",
            "parent=lan0",
            "--subnet",
            "10.78.0.0/24",
            "nogw",
        ],
    );
    assert_eq!(
        inspect(&host, "nogw", "{{range .IPAM.Config}}{{.Gateway}}{{end}}"),
        "",
        "no gateway in IPAM.Config"
    );
    sandbox(&host, "beta", "nogw", None);
    assert_eq!(
        address_of(&host, "nogw", "beta"),
        "10.78.0.1",
        "first free address"
    );
    assert!(
        default_routes(&host, "beta", false).is_empty(),
        "no default route without a gateway"
    );
    assert!(
        sandbox_pings(&host, "beta", "10.78.0.9"),
        "the LAN subnet is still reached on-link"
    );
    disconnect_and_rm(&host, &["alpha"], "dual");
    disconnect_and_rm(&host, &["beta"], "nogw");
}

#[test]
fn macvlan_parents_are_shared_and_errors_leave_nothing_behind() {
    let Some(host) = private_host("macvlan_parents_are_shared_and_errors_leave_nothing_behind")
    else {
        return;
    };
    let lan = Outside::new();
    lan.plug("lan0", "uplink", &["10.80.0.254/24", "10.81.0.254/24"]);
    let create = |args: &[&str]| {
        let mut all = vec!["network", "create", "-d", "macvlan"];
        all.extend_from_slice(args);
        host.docker(&all)
    };
    // Current Docker lets several macvlan networks share a parent (20.10 refused the second).
    lan::ok(
        create(&["-o", "parent=lan0", "--subnet", "10.80.0.0/24", "one"]),
        "first network on lan0",
    );
    lan::ok(
        create(&["-o", "parent=lan0", "--subnet", "10.81.0.0/24", "two"]),
        "second network on lan0",
    );
    sandbox(&host, "alpha", "one", None);
    sandbox(&host, "beta", "two", None);
    assert!(
        sandbox_pings(&host, "alpha", "10.80.0.254") && sandbox_pings(&host, "beta", "10.81.0.254"),
        "both reach the LAN"
    );

    let links_before = host_links();
    let networks_before = docker(&host, &["network", "ls", "-q"]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["-o", "parent=lan0", "--subnet", "10.80.0.0/25", "overlap"],
            "Pool overlaps with other one on this address space",
        ),
        (
            &["-o", "parent=lan0", "-o", "macvlan_mode=bogus", "bad-mode"],
            "requested macvlan mode 'bogus' is not valid, 'bridge' mode is the macvlan driver default",
        ),
        (
            &["-o", "parent=lo", "loop"],
            "loopback interface is not a valid macvlan parent link",
        ),
        (
            &["-o", "parent=nosuch", "missing"],
            "invalid subinterface vlan name nosuch, example formatting is eth0.10",
        ),
        (
            &["-o", "parent=nosuch.10", "missing-master"],
            "-o parent interface was not found on the host: nosuch",
        ),
        (
            &["-o", "parent=a.b.c", "bad-format"],
            "required interface name format is: name.vlan_id, ex. eth0.10 for vlan 10, instead received a.b.c",
        ),
        (
            &["-o", "parent=lan0.abc", "bad-vid"],
            "unable to parse a valid vlan id from: abc (ex. eth0.10 for vlan 10)",
        ),
        (
            &["-o", "parent=lan0.5000", "big-vid"],
            "vlan id must be between 1-4094, received: 5000",
        ),
        (
            &["-o", "parent=lan0", "--ipam-driver", "null", "no-pool"],
            "ipv4 pool is empty",
        ),
    ];
    for (args, message) in cases {
        let out = fails(create(args), &format!("network create {args:?}"));
        assert!(
            out.contains(message),
            "{args:?}: expected {message:?}, got {out}"
        );
    }
    assert_eq!(host_links(), links_before, "no link left behind");
    assert_eq!(
        docker(&host, &["network", "ls", "-q"]),
        networks_before,
        "no network left behind"
    );
    disconnect_and_rm(&host, &["alpha"], "one");
    disconnect_and_rm(&host, &["beta"], "two");
    let ipam_free = create(&["-o", "parent=lan0", "--subnet", "10.80.0.0/24", "again"]);
    lan::ok(ipam_free, "the subnet is free again after rm");
}

#[test]
fn macvlan_endpoints_survive_a_daemon_restart() {
    let Some(mut host) = private_host("macvlan_endpoints_survive_a_daemon_restart") else {
        return;
    };
    let lan = Outside::new();
    lan.plug("lan0", "uplink", &["10.82.0.254/24"]);
    docker(
        &host,
        &[
            "network",
            "create",
            "-d",
            "macvlan",
            "-o",
            "parent=lan0",
            "--subnet",
            "10.82.0.0/24",
            "mv",
        ],
    );
    docker(
        &host,
        &[
            "network",
            "create",
            "-d",
            "macvlan",
            "--subnet",
            "10.83.0.0/24",
            "solo",
        ],
    );
    sandbox(&host, "alpha", "mv", None);
    docker(&host, &["network", "connect", "solo", "alpha"]);
    let index_before = sandbox_link(&host, "alpha", "eth0")["ifindex"].clone();
    let solo_id = inspect(&host, "solo", "{{.Id}}");

    host.restart();
    assert_eq!(
        sandbox_link(&host, "alpha", "eth0")["ifindex"],
        index_before,
        "the port was kept, not re-plumbed"
    );
    assert!(
        sandbox_pings(&host, "alpha", "10.82.0.254"),
        "a -> LAN after the restart"
    );
    docker(&host, &["network", "disconnect", "solo", "alpha"]);
    assert_eq!(
        sandbox_links(&host, "alpha"),
        ["lo", "eth0"],
        "disconnect after a restart removes the port"
    );
    docker(&host, &["network", "rm", "solo"]);
    let stand_in = format!("dm-{}", &solo_id[..12]);
    assert!(
        !host_links().iter().any(|(name, _)| name == &stand_in),
        "the stand-in goes after a restart too"
    );
    disconnect_and_rm(&host, &["alpha"], "mv");
    ip(&["link", "show", "lan0"]);
}
