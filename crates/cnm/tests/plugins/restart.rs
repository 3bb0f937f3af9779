//! A daemon restart restores remote networks and endpoints, and replays allocations to an IPAM
//! plugin that asks for it (and only to that one).

use super::*;

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

#[test]
fn a_plugin_down_at_start_up_keeps_its_networks_and_is_loaded_and_replayed_on_first_use() {
    if !support::root_or_loud_skip("plugin down at start-up") {
        return;
    }
    let dirs = PluginDirs::new();
    let mut host = dirs.host();
    let behaviour = Behaviour {
        requires_replay: true,
        ..Default::default()
    };
    let mut plugin = TestPlugin::start("trep", &dirs.socket("trep"), behaviour);
    ok(host.docker(&[
        "network",
        "create",
        "-d",
        "trep",
        "--ipam-driver",
        "trep",
        "rep",
    ]));
    create_sandbox(&host, "sa", &["rep"]);

    // The plugin is down (its socket refuses) while the daemon starts.
    host.stop();
    plugin.stop();
    host.start();
    assert!(
        host.daemon_log()
            .contains("cannot load the network's plugin now"),
        "{}",
        host.daemon_log()
    );
    assert_eq!(network_names(&host), ["bridge", "host", "none", "rep"]);
    assert_eq!(
        ip_of(&host, "sa", "rep"),
        "10.50.0.2",
        "the endpoint is kept as stored"
    );

    // It comes back without its pools; the first use loads it and replays before allocating.
    plugin.restart(true);
    create_sandbox(&host, "sb", &["rep"]);
    assert_eq!(
        ip_of(&host, "sb", "rep"),
        "10.50.0.3",
        "no address is handed out twice"
    );
    let expected = BTreeSet::from(["10.50.0.1", "10.50.0.2", "10.50.0.3"].map(String::from));
    assert_eq!(plugin.allocated(), expected);
    assert_eq!(
        plugin.bodies("IpamDriver.RequestPool")[0]["Pool"],
        "10.50.0.0/24"
    );
    assert!(ping(&host, "sb", "10.50.0.2"), "sb -> sa");

    for name in ["sa", "sb"] {
        ok(host.cnm(&["sandbox", "rm", "-f", name]));
    }
    ok(host.docker(&["network", "rm", "rep"]));
    assert_eq!(plugin.allocated(), BTreeSet::new());
    assert_eq!(plugin_links(), BTreeSet::new());
}
