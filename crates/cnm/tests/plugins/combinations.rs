//! Remote and built-in drivers combined: a remote IPAM under cnm's bridge driver (including a
//! dynamic pool that overlaps the host and is handed back), the remote driver under the
//! default and the null IPAM, a global-scope plugin, and a plugin used for an interface it
//! does not implement.

use super::*;

#[test]
fn a_remote_ipam_serves_the_bridge_driver_and_pools_overlapping_the_host_are_handed_back() {
    if !support::root_or_loud_skip("remote ipam under bridge") {
        return;
    }
    let dirs = PluginDirs::new();
    let host = dirs.host();
    let plugin = TestPlugin::start("tnet", &dirs.socket("tnet"), Behaviour::default());

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
    assert!(ping(&host, "sx", "10.60.0.3"), "sx -> sy over cnm's bridge");
    assert_eq!(
        plugin.bodies("IpamDriver.RequestPool")[0]["Pool"],
        "10.60.0.0/24"
    );
    assert!(plugin.allocated().contains("10.60.0.3"));

    // The plugin's first dynamic pool overlaps a host network: cnm hands it back and asks again.
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
    host_net(&["link", "del", "tx0"]);

    for name in ["sx", "sy"] {
        ok(host.cnm(&["sandbox", "rm", "-f", name]));
    }
    ok(host.docker(&["network", "rm", "bnet", "onet"]));
    assert_eq!(plugin.allocated(), BTreeSet::new());
    assert!(plugin.state.lock().unwrap().pools.is_empty());
}

#[test]
fn the_remote_driver_works_with_the_default_and_the_null_ipam() {
    if !support::root_or_loud_skip("remote driver with built-in ipam") {
        return;
    }
    let dirs = PluginDirs::new();
    let host = dirs.host();
    let behaviour = Behaviour {
        assign_from: Some("10.70.0.0/24"),
        ..Default::default()
    };
    let plugin = TestPlugin::start("tnet", &dirs.socket("tnet"), behaviour);

    // Default IPAM: the plugin is given the address cnm allocated, and no MAC to echo.
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
    let gateway = endpoint_of(&host, "sz", "dnet")["Gateway"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        ping(&host, "sz", &gateway),
        "sz -> the plugin's bridge at {gateway}"
    );

    // Null IPAM: the plugin assigns address and MAC itself in CreateEndpoint.
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
        "sv -> sw with the plugin's own addresses"
    );

    for name in ["sz", "sv", "sw"] {
        ok(host.cnm(&["sandbox", "rm", "-f", name]));
    }
    ok(host.docker(&["network", "rm", "dnet", "nnet"]));
    assert_eq!(plugin_links(), BTreeSet::new());
}

#[test]
fn a_global_plugin_is_allocated_like_a_swarm_network_and_asked_about_gateways() {
    if !support::root_or_loud_skip("global-scope plugin") {
        return;
    }
    let dirs = PluginDirs::new();
    let host = dirs.host();
    let global = Behaviour {
        scope: "global",
        gw_alloc_checker: true,
        pool: "10.80.0.0/24",
        ..Default::default()
    };
    let tglob = TestPlugin::start("tglob", &dirs.socket("tglob"), global);
    let _ipam_only = TestPlugin::start(
        "ionly",
        &dirs.socket("ionly"),
        Behaviour {
            implements: vec!["IpamDriver"],
            ..Default::default()
        },
    );

    // cnm plays the swarm manager (AllocateNetwork/FreeNetwork), uses the global address
    // space, and asks GwAllocCheck, which here skips the IPv4 gateway.
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
        "no gateway reserved: {methods:?}"
    );
    let generic =
        &tglob.bodies("NetworkDriver.GwAllocCheck")[0]["Options"]["com.docker.network.generic"];
    assert_eq!(generic, &json!({"k": "v"}));
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
    let generic = &created["Options"]["com.docker.network.generic"];
    assert_eq!(
        generic,
        &json!({"k": "v", "test.allocated": "yes"}),
        "AllocateNetwork's options are merged"
    );
    assert_eq!(created["IPv4Data"][0].get("Gateway"), None, "{created}");
    assert_eq!(
        ok(host.docker(&["network", "inspect", "-f", "{{.Scope}}", "gnet"])),
        "global"
    );

    tglob.clear_calls();
    ok(host.docker(&["network", "rm", "gnet"]));
    let wanted = [
        "NetworkDriver.DeleteNetwork",
        "NetworkDriver.FreeNetwork",
        "IpamDriver.ReleasePool",
    ];
    let teardown: BTreeSet<String> = only(&tglob.methods(), &wanted).into_iter().collect();
    assert_eq!(teardown, BTreeSet::from(wanted.map(String::from)));
    assert_eq!(tglob.allocated(), BTreeSet::new());

    // A plugin that is only an IPAM driver cannot be a network driver.
    let e = fails(host.docker(&["network", "create", "-d", "ionly", "wrong"]));
    assert!(
        e.contains("Plugin does not implement the requested driver") && e.contains("ionly"),
        "{e}"
    );
    assert_eq!(network_names(&host), ["bridge", "host", "none"]);
}
