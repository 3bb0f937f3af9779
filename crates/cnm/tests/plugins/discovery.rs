//! Discovery as Docker does it: nested sockets, `.spec` and `.json` files, TCP on loopback,
//! TLS refused clearly, unknown names answered fast.

use super::*;

#[test]
fn discovery_finds_nested_sockets_spec_and_json_files_and_fails_fast_on_unknown_names() {
    if !support::root_or_loud_skip("discovery") {
        return;
    }
    let dirs = PluginDirs::new();
    let host = dirs.host();
    let _nested = TestPlugin::start(
        "nested",
        &dirs.sockets.join("nested").join("nested.sock"),
        Behaviour::default(),
    );
    let elsewhere = dirs
        .sockets
        .parent()
        .unwrap()
        .join("elsewhere")
        .join("p.sock");
    let _by_spec = TestPlugin::start("byspec", &elsewhere, Behaviour::default());
    std::fs::write(
        dirs.specs.join("byspec.spec"),
        format!("unix://{}\n", elsewhere.display()),
    )
    .unwrap();
    let by_tcp = TestPlugin::start_tcp("bytcp", Behaviour::default());
    std::fs::write(
        dirs.specs.join("bytcp.json"),
        json!({"Name": "bytcp", "Addr": format!("tcp://{}", by_tcp.tcp_address())}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dirs.specs.join("secure.json"),
        json!({"Name": "secure", "Addr": "https://127.0.0.1:1", "TLSConfig": {"CAFile": "/ca.pem"}}).to_string(),
    )
    .unwrap();
    std::fs::write(dirs.specs.join("noscheme.spec"), "/run/noscheme.sock").unwrap();

    for name in ["nested", "byspec", "bytcp"] {
        ok(host.docker(&["network", "create", "-d", name, &format!("net-{name}")]));
        create_sandbox(&host, &format!("s-{name}"), &[&format!("net-{name}")]);
    }
    assert!(by_tcp.methods().contains(&"NetworkDriver.Join".to_string()));
    for name in ["nested", "byspec", "bytcp"] {
        let gateway = endpoint_of(&host, &format!("s-{name}"), &format!("net-{name}"))["Gateway"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            ping(&host, &format!("s-{name}"), &gateway),
            "s-{name} -> its plugin's gateway {gateway}"
        );
    }

    let e = fails(host.docker(&["network", "create", "-d", "secure", "n1"]));
    assert!(
        e.contains("TLS") && e.contains("https://127.0.0.1:1"),
        "{e}"
    );
    let e = fails(host.docker(&["network", "create", "-d", "noscheme", "n2"]));
    assert!(e.contains("Unknown protocol"), "{e}");
    let started = Instant::now();
    let e = fails(host.docker(&["network", "create", "-d", "nope", "n3"]));
    assert_eq!(e, "Error response from daemon: plugin \"nope\" not found");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "unknown names fail fast: {:?}",
        started.elapsed()
    );
    let e = fails(host.docker(&["network", "create", "--ipam-driver", "nope", "n4"]));
    assert_eq!(e, "Error response from daemon: plugin \"nope\" not found");
    let (code, body) = api(
        &host,
        "POST",
        "/networks/create",
        Some(r#"{"Name":"n5","Driver":"nope"}"#),
    );
    assert_eq!(
        (code, body.contains("plugin \\\"nope\\\" not found")),
        (404, true),
        "{body}"
    );
    assert_eq!(
        network_names(&host).len(),
        6,
        "bridge, host, none and the three plugin networks"
    );
}
