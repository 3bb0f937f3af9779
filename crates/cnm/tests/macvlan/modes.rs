//! macvlan's four modes with real packets: bridge (sandboxes reach the LAN and each other),
//! private (the LAN only), vepa (each other only through a hairpinning LAN switch) and passthru
//! (one sandbox owns the parent).

use crate::lan::{
    Outside, address_of, default_routes, disconnect_and_rm, docker, fails, host_links, inspect,
    private_host, sandbox, sandbox_link, sandbox_pings,
};

use crate::lan;

#[test]
fn macvlan_bridge_mode_reaches_the_lan_and_each_other() {
    let Some(host) = private_host("macvlan_bridge_mode_reaches_the_lan_and_each_other") else {
        return;
    };
    let lan = Outside::new();
    lan.plug("lan0", "uplink", &["10.70.0.254/24"]);
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
            "10.70.0.0/24",
            "--gateway",
            "10.70.0.254",
            "mv",
        ],
    );
    sandbox(&host, "alpha", "mv", None);
    sandbox(&host, "beta", "mv", Some("10.70.0.50"));
    let (a, b) = (
        address_of(&host, "mv", "alpha"),
        address_of(&host, "mv", "beta"),
    );
    assert_eq!(b, "10.70.0.50", "static --ip");

    let eth0 = sandbox_link(&host, "alpha", "eth0");
    assert_eq!(eth0["linkinfo"]["info_kind"], "macvlan", "{eth0}");
    assert_eq!(eth0["linkinfo"]["info_data"]["mode"], "bridge", "{eth0}");
    let mac = inspect(
        &host,
        "mv",
        "{{range .Containers}}{{if eq .Name \"alpha\"}}{{.MacAddress}}{{end}}{{end}}",
    );
    assert_eq!(
        eth0["address"],
        mac.as_str(),
        "the port has the endpoint's MAC"
    );
    assert_eq!(
        default_routes(&host, "alpha", false),
        [("10.70.0.254".to_owned(), "eth0".to_owned())]
    );

    assert!(sandbox_pings(&host, "alpha", "10.70.0.254"), "a -> LAN");
    assert!(lan.pings(&a), "LAN -> a");
    assert!(sandbox_pings(&host, "alpha", &b), "a -> b (bridge mode)");
    assert!(sandbox_pings(&host, "beta", &a), "b -> a");

    disconnect_and_rm(&host, &["alpha", "beta"], "mv");
    assert!(
        host_links().iter().any(|(name, _)| name == "lan0"),
        "a parent that existed is never deleted"
    );
}

#[test]
fn macvlan_private_mode_isolates_sandboxes_from_each_other() {
    let Some(host) = private_host("macvlan_private_mode_isolates_sandboxes_from_each_other") else {
        return;
    };
    let lan = Outside::new();
    lan.plug("lan0", "uplink", &["10.71.0.254/24"]);
    docker(
        &host,
        &[
            "network",
            "create",
            "-d",
            "macvlan",
            "-o",
            "parent=lan0",
            "-o",
            "macvlan_mode=private",
            "--subnet",
            "10.71.0.0/24",
            "mv",
        ],
    );
    sandbox(&host, "alpha", "mv", None);
    sandbox(&host, "beta", "mv", None);
    let (a, b) = (
        address_of(&host, "mv", "alpha"),
        address_of(&host, "mv", "beta"),
    );
    assert_eq!(
        sandbox_link(&host, "alpha", "eth0")["linkinfo"]["info_data"]["mode"],
        "private"
    );
    assert!(sandbox_pings(&host, "alpha", "10.71.0.254"), "a -> LAN");
    assert!(lan.pings(&b), "LAN -> b");
    assert!(
        !sandbox_pings(&host, "alpha", &b),
        "private mode: a must not reach b"
    );
    assert!(
        !sandbox_pings(&host, "beta", &a),
        "private mode: b must not reach a"
    );
    disconnect_and_rm(&host, &["alpha", "beta"], "mv");
}

#[test]
fn macvlan_vepa_mode_sends_sibling_traffic_through_the_lan_switch() {
    let Some(host) = private_host("macvlan_vepa_mode_sends_sibling_traffic_through_the_lan_switch")
    else {
        return;
    };
    let lan = Outside::new();
    lan.plug("lan0", "uplink", &[]);
    // The LAN side is a switch: a bridge with the uplink as a port and the LAN's address.
    lan.run(&["ip", "link", "add", "sw", "type", "bridge"]);
    lan.run(&["ip", "link", "set", "uplink", "master", "sw"]);
    lan.run(&["ip", "addr", "add", "10.72.0.254/24", "dev", "sw"]);
    lan.run(&["ip", "link", "set", "sw", "up"]);
    docker(
        &host,
        &[
            "network",
            "create",
            "-d",
            "macvlan",
            "-o",
            "parent=lan0",
            "-o",
            "macvlan_mode=vepa",
            "--subnet",
            "10.72.0.0/24",
            "mv",
        ],
    );
    sandbox(&host, "alpha", "mv", None);
    sandbox(&host, "beta", "mv", None);
    let b = address_of(&host, "mv", "beta");
    assert!(sandbox_pings(&host, "alpha", "10.72.0.254"), "a -> LAN");
    assert!(
        !sandbox_pings(&host, "alpha", &b),
        "vepa without a hairpinning switch: a must not reach b"
    );
    lan.run(&[
        "ip",
        "link",
        "set",
        "uplink",
        "type",
        "bridge_slave",
        "hairpin",
        "on",
    ]);
    assert!(
        sandbox_pings(&host, "alpha", &b),
        "vepa with a hairpinning switch: a reaches b through the LAN"
    );
    disconnect_and_rm(&host, &["alpha", "beta"], "mv");
}

#[test]
fn macvlan_passthru_takes_the_parent_alone() {
    let Some(host) = private_host("macvlan_passthru_takes_the_parent_alone") else {
        return;
    };
    let lan = Outside::new();
    lan.plug("lan0", "uplink", &["10.73.0.254/24"]);
    let passthru = [
        "-d",
        "macvlan",
        "-o",
        "parent=lan0",
        "-o",
        "macvlan_mode=passthru",
    ];
    let create = |extra: &[&str], name: &str| {
        let mut args = vec!["network", "create"];
        args.extend_from_slice(extra);
        args.push(name);
        host.docker(&args)
    };
    lan::ok(
        create(
            &[&passthru[..], &["--subnet", "10.73.0.0/24"]].concat(),
            "pt",
        ),
        "create passthru",
    );
    let pt_id = inspect(&host, "pt", "{{.Id}}");
    let other = fails(
        create(
            &[
                "-d",
                "macvlan",
                "-o",
                "parent=lan0",
                "--subnet",
                "10.74.0.0/24",
            ],
            "other",
        ),
        "second network",
    );
    assert!(
        other.contains(&format!(
            "macvlan network {pt_id} is already using parent interface lan0 in mode passthru"
        )),
        "{other}"
    );

    sandbox(&host, "alpha", "pt", None);
    let mac = inspect(&host, "pt", "{{range .Containers}}{{.MacAddress}}{{end}}");
    assert_eq!(
        sandbox_link(&host, "alpha", "eth0")["address"],
        mac.as_str(),
        "passthru: the port shows the endpoint's MAC"
    );
    assert!(
        sandbox_pings(&host, "alpha", "10.73.0.254"),
        "a -> LAN over passthru"
    );
    let before = host_links();
    let second = fails(
        host.cnm(&["sandbox", "create", "--name", "beta", "--network", "pt"]),
        "a second passthru port",
    );
    assert!(
        second.contains("failed to create the macvlan port: invalid argument"),
        "{second}"
    );
    assert_eq!(host_links(), before, "nothing left behind");
    let listed = lan::ok(host.cnm(&["sandbox", "ls", "-q"]), "sandbox ls");
    assert_eq!(
        listed.lines().count(),
        1,
        "the failed sandbox was rolled back: {listed}"
    );

    disconnect_and_rm(&host, &["alpha"], "pt");
    lan::ok(
        create(
            &[
                "-d",
                "macvlan",
                "-o",
                "parent=lan0",
                "--subnet",
                "10.74.0.0/24",
            ],
            "mv",
        ),
        "create bridge mode",
    );
    let mv_id = inspect(&host, "mv", "{{.Id}}");
    let refused = fails(
        create(
            &[&passthru[..], &["--subnet", "10.75.0.0/24"]].concat(),
            "pt2",
        ),
        "passthru on a used parent",
    );
    assert!(
        refused.contains(&format!("cannot use mode passthru, macvlan network {mv_id} is already using parent interface lan0")),
        "{refused}"
    );
}
