//! The plugin client and activation against a plugin double on a unix socket (no root
//! needed): transport details, status handling, bounds, activation rules.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cnm_types::plugin::{NETWORK_DRIVER, NetworkResponse};

use super::test_server::TestServer;
use super::*;

pub(super) fn settings(dir: &std::path::Path) -> PluginSettings {
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
pub(super) fn serve(
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

#[tokio::test]
async fn an_unreachable_plugin_is_not_waited_for_again_until_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("down.sock");
    let plugin = client(path.clone());
    let started = Instant::now();
    plugin
        .call::<(), NetworkResponse>("X.First", None)
        .await
        .unwrap_err();
    let first = started.elapsed();
    assert!(
        first >= Duration::from_millis(150),
        "the first call retries: {first:?}"
    );
    // A clone (the IPAM side of the same plugin, say) remembers it too.
    let started = Instant::now();
    let e = plugin
        .clone()
        .call::<(), NetworkResponse>("X.Second", None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "{:?}",
        started.elapsed()
    );
    // Back up: one attempt reaches it, and full retries apply again afterwards.
    let _server = TestServer::start(&path, |_, _| (200, "{}".into()));
    plugin
        .call::<(), NetworkResponse>("X.Third", None)
        .await
        .unwrap();
    drop(_server);
    std::fs::remove_file(&path).unwrap();
    let started = Instant::now();
    plugin
        .call::<(), NetworkResponse>("X.Fourth", None)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
}
