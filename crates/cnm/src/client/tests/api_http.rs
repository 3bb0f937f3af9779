//! The HTTP side of the client against a fake daemon: API version negotiation like the docker
//! client, and docker's wording of daemon and connection errors.

use clap::Parser;

use super::capture;
use super::fake_daemon::{FakeDaemon, Recorded, Reply};
use super::network_cmd::{Cli, cnm, daemon_with_version};
use crate::client::http::ApiClient;
use crate::client::network;

#[test]
fn negotiates_the_api_version_like_the_docker_client() {
    for (server, expected) in [
        (Some("1.41"), "/v1.41/"),
        (Some("1.60"), "/v1.51/"),
        (None, "/v1.24/"),
    ] {
        let d = daemon_with_version(server);
        let out = cnm(&d, None, "", &["ls"]);
        assert_eq!(out.code, 0, "{out:?}");
        let reqs = d.requests();
        assert_eq!(
            (reqs[0].method.as_str(), reqs[0].uri.as_str()),
            ("HEAD", "/_ping")
        );
        assert_eq!(
            d.calls(),
            vec![format!("GET {expected}networks")],
            "server {server:?}"
        );
    }
    // DOCKER_API_VERSION pins the version and skips the ping.
    let d = daemon_with_version(Some("1.41"));
    cnm(&d, Some("v1.43"), "", &["ls"]);
    assert_eq!(
        d.requests()
            .iter()
            .map(|r| r.uri.clone())
            .collect::<Vec<_>>(),
        vec!["/v1.43/networks"]
    );
}

#[test]
fn falls_back_to_get_ping_when_head_fails() {
    let d = FakeDaemon::start(|r: &Recorded| match (r.method.as_str(), r.uri.as_str()) {
        ("HEAD", "/_ping") => Reply::empty(405),
        ("GET", "/_ping") => Reply {
            api_version: Some("1.45"),
            ..Reply::empty(200)
        },
        _ => Reply::json(200, "[]"),
    });
    cnm(&d, None, "", &["ls"]);
    let seen: Vec<String> = d
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.uri))
        .collect();
    assert_eq!(
        seen,
        vec!["HEAD /_ping", "GET /_ping", "GET /v1.45/networks"]
    );
}

#[test]
fn renders_daemon_errors_like_docker() {
    let d = FakeDaemon::start(|r: &Recorded| match r.uri.as_str() {
        "/_ping" => Reply::empty(200),
        u if u.ends_with("/json-error") => Reply::error(404, "network json-error not found\n"),
        u if u.ends_with("/text-error") => Reply {
            content_type: Some("text/plain"),
            ..Reply::json(500, "boom\n")
        },
        u if u.ends_with("/no-message") => Reply::json(409, "{}"),
        _ => Reply::empty(404),
    });
    let err = |name: &str| cnm(&d, None, "", &["inspect", name]);
    assert_eq!(
        err("json-error").err,
        "Error response from daemon: network json-error not found\n"
    );
    assert_eq!(err("text-error").err, "Error response from daemon: boom\n");
    assert_eq!(
        err("no-message").err,
        "Error response from daemon: API returned a 409 (Conflict) but provided no error-message\n"
    );
    let empty = err("empty");
    let socket = d.url.trim_start_matches("unix://").replace('/', "%2F");
    assert_eq!(
        empty.err,
        format!(
            "request returned 404 Not Found for API route and version http://{socket}/v1.51/networks/empty, check if the server supports the requested API version\n"
        )
    );
    assert_eq!((empty.out.as_str(), empty.code), ("[]\n", 1));
}

#[test]
fn reports_an_absent_daemon() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("unix://{}/none.sock", dir.path().display());
    let mut api = ApiClient::new(&url, None).expect("client");
    let cli = Cli::try_parse_from(["cnm", "ls"]).expect("clap");
    let out = capture("", |io| network::run(&mut api, io, cli.cmd));
    assert_eq!(
        out.err,
        format!("Cannot connect to the cnm daemon at {url}. Is the cnm daemon running?\n")
    );
    assert_eq!(out.code, 1);
}
