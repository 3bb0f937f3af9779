//! The plugin client, activation, and the remote drivers' protocol corners, against a plugin
//! double on a unix socket (no root needed): transport details, status handling, bounds,
//! `Err` vs `Error`, and answers cnm must refuse.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cnm_types::plugin::{NETWORK_DRIVER, NetworkResponse, NodeDiscoveryData};
use serde_json::{Value, json};

use super::test_server::TestServer;
use super::*;
use crate::driver::RemoteDriver;
use crate::ipam::{PoolRequest, RemoteIpam};

fn settings(dir: &std::path::Path) -> PluginSettings {
    PluginSettings {
        socket_dir: dir.to_path_buf(),
        spec_dirs: Vec::new(),
        discovery_timeout: Duration::from_millis(200),
        connect_retry: Duration::from_millis(300),
        call_timeout: Duration::from_millis(400),
    }
}

fn client(path: PathBuf) -> PluginClient {
    PluginClient::new(
        "p",
        Address::Unix(path),
        Duration::from_millis(400),
        Duration::from_millis(300),
    )
}

/// A double answering by method name.
fn serve(
    dir: &tempfile::TempDir,
    name: &str,
    answers: Vec<(&'static str, u16, &'static str)>,
) -> TestServer {
    TestServer::start(&dir.path().join(format!("{name}.sock")), move |path, _| {
        let method = path.trim_start_matches('/');
        answers
            .iter()
            .find(|(m, _, _)| *m == method)
            .map(|(_, status, body)| (*status, body.to_string()))
            .unwrap_or((404, "404 page not found\n".into()))
    })
}

#[tokio::test]
async fn calls_are_posts_with_dockers_headers_and_go_encoded_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        &dir,
        "p",
        vec![
            ("NetworkDriver.Leave", 200, "{}"),
            ("Plugin.Activate", 200, "null"),
        ],
    );
    let client = client(server.path.clone());
    let request = cnm_types::plugin::EndpointIdRequest {
        network_id: "n".into(),
        endpoint_id: "e".into(),
    };
    let _: NetworkResponse = client
        .call("NetworkDriver.Leave", Some(&request))
        .await
        .unwrap();
    let seen = server.last();
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("POST", "/NetworkDriver.Leave")
    );
    assert_eq!(
        String::from_utf8(seen.body).unwrap(),
        "{\"NetworkID\":\"n\",\"EndpointID\":\"e\"}\n"
    );
    let header = |name: &str| {
        seen.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header("accept").as_deref(),
        Some("application/vnd.docker.plugins.v1.2+json")
    );
    assert_eq!(header("host").as_deref(), Some("plugin.moby.localhost"));
    assert_eq!(header("content-type"), None);
    // Parameterless calls send an empty body; `null` is an empty success.
    let answer: cnm_types::plugin::ActivateResponse =
        client.call::<(), _>("Plugin.Activate", None).await.unwrap();
    assert!(answer.implements.is_empty());
    assert!(server.last().body.is_empty());
}

#[tokio::test]
async fn statuses_become_dockers_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        &dir,
        "p",
        vec![
            ("A.Err", 500, r#"{"Err":"kaput"}"#),
            ("A.Raw", 400, "plain words\n"),
            ("A.Bad", 200, "{\"Err\":"),
            ("A.Type", 200, r#"{"Err":7}"#),
        ],
    );
    let client = client(server.path.clone());
    let call = |m: &'static str| {
        let client = client.clone();
        async move {
            client
                .call::<(), NetworkResponse>(m, None)
                .await
                .unwrap_err()
        }
    };
    assert_eq!(call("A.Err").await.to_string(), "A.Err: kaput");
    assert_eq!(call("A.Raw").await.to_string(), "A.Raw: plain words");
    let missing = call("A.Missing").await;
    assert_eq!(
        (missing.kind(), missing.to_string()),
        (
            ErrorKind::NotImplemented,
            "A.Missing: not implemented by the plugin (404)".into()
        )
    );
    let bad = call("A.Bad").await.to_string();
    assert!(
        bad.starts_with("A.Bad: invalid answer from plugin \"p\": EOF"),
        "{bad}"
    );
    let wrong = call("A.Type").await.to_string();
    assert!(
        wrong.contains("invalid type: integer `7`, expected a string"),
        "{wrong}"
    );
}

#[tokio::test]
async fn a_slow_plugin_is_cut_off_and_a_missing_one_retried_within_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("p.sock"), |_, _| (200, "{}".into()));
    let fast = PluginClient::new(
        "p",
        Address::Unix(server.path.clone()),
        Duration::from_millis(200),
        Duration::ZERO,
    );
    let started = Instant::now();
    let e = fast
        .call::<(), NetworkResponse>("X.Slow", None)
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.to_string()),
        (
            ErrorKind::Unavailable,
            "X.Slow: plugin \"p\" did not answer within 200ms".into()
        )
    );
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );

    let late = dir.path().join("late.sock");
    let started = Instant::now();
    let e = client(late.clone())
        .call::<(), NetworkResponse>("X.Y", None)
        .await
        .unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "X.Y: plugin \"p\" is not reachable at unix://{}: ",
            late.display()
        )),
        "{e}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_millis(800),
        "{waited:?}"
    );
    // A plugin that comes up while cnm retries is reached.
    let binder = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        TestServer::start(&late, |_, _| (200, "{}".into()))
    });
    let answer: NetworkResponse = client(dir.path().join("late.sock"))
        .call::<(), _>("X.Y", None)
        .await
        .unwrap();
    assert_eq!(answer, NetworkResponse::default());
    drop(binder.join().unwrap());
}

#[tokio::test]
async fn activation_is_once_per_plugin_and_checks_the_interface() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        &dir,
        "both",
        vec![(
            "Plugin.Activate",
            200,
            r#"{"Implements":["NetworkDriver","IpamDriver"]}"#,
        )],
    );
    let _ipam = serve(
        &dir,
        "ipamonly",
        vec![("Plugin.Activate", 200, r#"{"Implements":["IpamDriver"]}"#)],
    );
    let _refusing = serve(
        &dir,
        "refusing",
        vec![("Plugin.Activate", 200, r#"{"Err":"not today"}"#)],
    );
    let plugins = Plugins::new(settings(dir.path()));
    plugins.get("both", NETWORK_DRIVER).await.unwrap();
    plugins.get("both", "IpamDriver").await.unwrap();
    assert_eq!(server.paths(), ["/Plugin.Activate"]);
    let e = plugins.get("ipamonly", NETWORK_DRIVER).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "Plugin does not implement the requested driver: plugin \"ipamonly\" implements [\"IpamDriver\"], not NetworkDriver"
    );
    assert_eq!(
        plugins
            .get("refusing", NETWORK_DRIVER)
            .await
            .unwrap_err()
            .to_string(),
        "remote: not today"
    );
    let started = Instant::now();
    let e = plugins.get("absent", NETWORK_DRIVER).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.to_string()),
        (ErrorKind::NotFound, "plugin \"absent\" not found".into())
    );
    assert!(started.elapsed() < Duration::from_millis(500));
}

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
