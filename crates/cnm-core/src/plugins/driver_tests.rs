//! The remote drivers' protocol corners against a plugin double (no root needed):
//! capabilities, node discovery, `EndpointOperInfo`, `Err` vs `Error`, and IPAM answers cnm
//! must refuse (and give back).

use cnm_types::plugin::{NETWORK_DRIVER, NodeDiscoveryData};
use serde_json::{Value, json};

use super::client_tests::{serve, settings};
use super::test_server::TestServer;
use super::*;
use crate::driver::RemoteDriver;
use crate::ipam::{PoolRequest, RemoteIpam};

async fn remote_driver(
    dir: &tempfile::TempDir,
    name: &str,
    answers: Vec<(&'static str, u16, &'static str)>,
) -> (TestServer, crate::Result<RemoteDriver>) {
    let mut all = vec![(
        "Plugin.Activate",
        200,
        r#"{"Implements":["NetworkDriver"]}"#,
    )];
    all.extend(answers);
    let server = serve(dir, name, all);
    let plugins = Plugins::new(settings(dir.path()));
    let plugin = plugins.get(name, NETWORK_DRIVER).await.unwrap();
    let host = crate::osl::Netlink::current().unwrap();
    let driver = RemoteDriver::load(&plugin, host, dir.path().to_path_buf()).await;
    (server, driver)
}

#[tokio::test]
async fn capabilities_are_checked_with_dockers_message() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, driver) = remote_driver(
        &dir,
        "swarmy",
        vec![("NetworkDriver.GetCapabilities", 200, r#"{"Scope":"swarm"}"#)],
    )
    .await;
    let e = driver.err().unwrap().to_string();
    assert!(
        e.ends_with("invalid capability: expecting 'local' or 'global', got swarm"),
        "{e}"
    );
    let (_s, driver) = remote_driver(
        &dir,
        "glob",
        vec![(
            "NetworkDriver.GetCapabilities",
            200,
            r#"{"Scope":"global"}"#,
        )],
    )
    .await;
    let cap = driver.unwrap().capability();
    assert_eq!(
        (cap.data_scope, cap.connectivity_scope),
        ("global", "global"),
        "connectivity defaults to the scope"
    );
}

#[tokio::test]
async fn discovery_is_forwarded_to_global_connectivity_drivers_only_and_oper_info_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let answers = vec![
        (
            "NetworkDriver.GetCapabilities",
            200,
            r#"{"Scope":"local","ConnectivityScope":"global"}"#,
        ),
        ("NetworkDriver.DiscoverNew", 200, "{}"),
        (
            "NetworkDriver.DiscoverDelete",
            200,
            r#"{"Err":"gone already"}"#,
        ),
        (
            "NetworkDriver.EndpointOperInfo",
            200,
            r#"{"Value":{"com.docker.network.endpoint.macaddress":"02:42:ac:11:00:02"}}"#,
        ),
    ];
    let (server, driver) = remote_driver(&dir, "g", answers).await;
    let driver = driver.unwrap();
    let node = NodeDiscoveryData {
        address: "10.0.0.5".into(),
        bind_address: String::new(),
        is_self: false,
    };
    driver.discover_new(&node).await.unwrap();
    let body: Value = serde_json::from_slice(&server.last().body).unwrap();
    assert_eq!(
        body,
        json!({"DiscoveryType": 1, "DiscoveryData": {"Address": "10.0.0.5", "BindAddress": "", "Self": false}})
    );
    assert_eq!(
        driver.discover_delete(&node).await.unwrap_err().message,
        "remote: gone already"
    );

    let (local_server, local) = remote_driver(
        &dir,
        "l",
        vec![("NetworkDriver.GetCapabilities", 200, r#"{"Scope":"local"}"#)],
    )
    .await;
    local.unwrap().discover_new(&node).await.unwrap();
    assert!(
        !local_server.paths().iter().any(|p| p.contains("Discover")),
        "local connectivity: not told"
    );

    let network: crate::model::Network = serde_json::from_value(json!({
        "id": cnm_types::Id::random(), "name": "n", "created": "", "driver": "g", "scope": "local",
        "ipam_driver": "default", "ipam_options": null, "ipam_requests": [], "ipam_v4": [], "ipam_v6": [],
        "enable_ipv4": true, "enable_ipv6": false, "internal": false, "attachable": false, "ingress": false,
        "config_only": false, "config_from": null, "options": {}, "labels": {}, "predefined": false
    }))
    .unwrap();
    let endpoint: crate::model::Endpoint = serde_json::from_value(json!({
        "id": cnm_types::Id::random(), "name": "e", "network": network.id, "sandbox": cnm_types::Id::random(),
        "addr_v4": null, "addr_v6": null, "pool_v4": null, "pool_v6": null, "mac": null, "aliases": [], "links": [],
        "dns_names": [], "driver_opts": {}, "gw_priority": 0, "host_ifname": null, "ifname": null,
        "gateway_v4": null, "gateway_v6": null, "static_v4": null, "static_v6": null
    }))
    .unwrap();
    let info = driver
        .endpoint_oper_info(&network, &endpoint)
        .await
        .unwrap();
    assert_eq!(
        info["com.docker.network.endpoint.macaddress"],
        "02:42:ac:11:00:02"
    );
    let body: Value = serde_json::from_slice(&server.last().body).unwrap();
    assert_eq!(
        body,
        json!({"NetworkID": network.id, "EndpointID": endpoint.id})
    );
}

async fn remote_ipam(
    dir: &tempfile::TempDir,
    name: &str,
    answers: Vec<(&'static str, u16, &'static str)>,
) -> (TestServer, RemoteIpam) {
    let mut all = vec![("Plugin.Activate", 200, r#"{"Implements":["IpamDriver"]}"#)];
    all.extend(answers);
    let server = serve(dir, name, all);
    let plugins = Plugins::new(settings(dir.path()));
    let plugin = plugins.get(name, "IpamDriver").await.unwrap();
    (server, RemoteIpam::load(&plugin).await.unwrap())
}

#[tokio::test]
async fn ipam_capabilities_are_optional_and_errors_come_from_the_error_field() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, ipam) = remote_ipam(&dir, "nocaps", vec![]).await;
    assert_eq!(
        ipam.capabilities(),
        Default::default(),
        "404 on GetCapabilities: no capabilities"
    );
    let answers = vec![
        (
            "IpamDriver.GetCapabilities",
            200,
            r#"{"RequiresMACAddress":true,"RequiresRequestReplay":true}"#,
        ),
        (
            "IpamDriver.GetDefaultAddressSpaces",
            200,
            r#"{"Error":"spaceless","Err":"not this one"}"#,
        ),
    ];
    let (_s, ipam) = remote_ipam(&dir, "caps", answers).await;
    assert!(
        ipam.capabilities().requires_mac_address && ipam.capabilities().requires_request_replay
    );
    assert_eq!(
        ipam.default_address_spaces().await.unwrap_err().message,
        "remote: spaceless"
    );
}

#[tokio::test]
async fn ipam_answers_that_break_the_rules_are_refused_and_given_back() {
    let dir = tempfile::tempdir().unwrap();
    let answers = vec![
        (
            "IpamDriver.RequestPool",
            200,
            r#"{"PoolID":"S/10.1.0.0/24","Pool":"10.1.0.0/24"}"#,
        ),
        (
            "IpamDriver.RequestAddress",
            200,
            r#"{"Address":"10.9.9.9/24"}"#,
        ),
        ("IpamDriver.ReleaseAddress", 200, "{}"),
    ];
    let (server, mut ipam) = remote_ipam(&dir, "liar", answers).await;
    let pool = ipam
        .request_pool(&PoolRequest {
            address_space: "S".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(pool.pool.to_string(), "10.1.0.0/24");
    let e = ipam
        .request_address(&pool.pool_id, None, &Default::default())
        .await
        .unwrap_err();
    assert!(
        e.message
            .ends_with("address 10.9.9.9/24 is outside pool 10.1.0.0/24"),
        "{}",
        e.message
    );
    assert_eq!(server.paths().last().unwrap(), "/IpamDriver.ReleaseAddress");
    let released: Value = serde_json::from_slice(&server.last().body).unwrap();
    assert_eq!(
        released,
        json!({"PoolID": "S/10.1.0.0/24", "Address": "10.9.9.9"})
    );

    let answers = vec![(
        "IpamDriver.RequestPool",
        200,
        r#"{"PoolID":"","Pool":"10.1.0.0/24"}"#,
    )];
    let (_s, mut ipam) = remote_ipam(&dir, "noid", answers).await;
    let e = ipam
        .request_pool(&PoolRequest::default())
        .await
        .unwrap_err();
    assert!(e.message.ends_with("empty PoolID"), "{}", e.message);
    let answers = vec![
        (
            "IpamDriver.RequestPool",
            200,
            r#"{"PoolID":"S/fd00::/64","Pool":"fd00::/64"}"#,
        ),
        ("IpamDriver.ReleasePool", 200, "{}"),
    ];
    let (server, mut ipam) = remote_ipam(&dir, "wrongfamily", answers).await;
    let e = ipam
        .request_pool(&PoolRequest::default())
        .await
        .unwrap_err();
    assert!(
        e.message.ends_with("invalid Pool \"fd00::/64\""),
        "{}",
        e.message
    );
    assert_eq!(
        server.paths().last().unwrap(),
        "/IpamDriver.ReleasePool",
        "the wrong pool is given back"
    );
}
