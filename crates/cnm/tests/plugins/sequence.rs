//! A remote network driver with a remote IPAM: Docker's call sequence, addresses from the
//! plugin's pool, the handed-over interface configured in the sandbox, packets, and nothing
//! left after disconnect and removal.

use super::*;

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
