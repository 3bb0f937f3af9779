//! Whole `cnm sandbox` commands (except `exec`) against a fake daemon.

use clap::Parser;

use super::fake_daemon::{FakeDaemon, Recorded, Reply};
use super::{Outcome, capture, snapshot_settings};
use crate::client::http::ApiClient;
use crate::client::sandbox::{self, SandboxCommand};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: SandboxCommand,
}

fn cnm(daemon: &FakeDaemon, args: &[&str]) -> Outcome {
    let cli =
        Cli::try_parse_from(std::iter::once("cnm").chain(args.iter().copied())).expect("clap");
    let mut api = ApiClient::new(&daemon.url, None).expect("client");
    capture("", |io| sandbox::run(&mut api, io, cli.cmd))
}

fn sandbox_json(id_char: char, name: &str, networks: &[&str]) -> serde_json::Value {
    let id: String = std::iter::repeat_n(id_char, 64).collect();
    let nets: serde_json::Map<String, serde_json::Value> = networks
        .iter()
        .map(|n| {
            (n.to_string(), serde_json::json!({"NetworkID": format!("{n}-id"), "IPAddress": "10.0.0.2", "IPPrefixLen": 24}))
        })
        .collect();
    serde_json::json!({
        "Id": id,
        "Name": name,
        "Created": "2026-01-02T03:04:05.5Z",
        "Hostname": name,
        "External": false,
        "ResolvConfPath": format!("/var/lib/cnm/sandboxes/{id}/resolv.conf"),
        "HostsPath": format!("/var/lib/cnm/sandboxes/{id}/hosts"),
        "NetworkSettings": {"SandboxKey": format!("/run/cnm/netns/{id}"), "Networks": nets},
    })
}

/// Knows sandboxes `web-10`, `web-2` and `db`; refuses to remove `busy`.
fn daemon() -> FakeDaemon {
    FakeDaemon::start(|r: &Recorded| {
        let all = vec![
            sandbox_json('a', "web-10", &["front", "back"]),
            sandbox_json('b', "web-2", &["front"]),
            sandbox_json('c', "db", &[]),
        ];
        let path = r.uri.split('?').next().unwrap_or("");
        let name = path.rsplit('/').next().unwrap_or("");
        match (r.method.as_str(), path) {
            (_, "/_ping") => Reply::empty(200),
            ("POST", "/v1.51/sandboxes/create") => {
                Reply::json(201, format!("{{\"Id\":\"{}\"}}", "f".repeat(64)))
            }
            ("GET", "/v1.51/sandboxes") => {
                Reply::json(200, serde_json::Value::Array(all).to_string())
            }
            ("GET", _) => match all.iter().find(|s| s["Name"] == name) {
                Some(s) => Reply::json(200, format!("{s}\n")),
                None => Reply::error(404, &format!("sandbox {name} not found")),
            },
            ("DELETE", _) if name == "busy" => Reply::error(409, "sandbox busy is in use"),
            ("DELETE", _) if all.iter().any(|s| s["Name"] == name) => Reply::empty(204),
            ("DELETE", _) => Reply::error(404, &format!("sandbox {name} not found")),
            _ => Reply::error(404, "page not found"),
        }
    })
}

#[test]
fn create_sends_the_request_and_prints_the_id() {
    let d = daemon();
    let out = cnm(
        &d,
        &[
            "create",
            "--name",
            "web",
            "--network",
            "front",
            "--network",
            "back",
            "--ip",
            "10.0.0.5",
            "--ip6",
            "fd00::5",
            "--alias",
            "www",
            "--alias",
            "api",
            "--hostname",
            "web.local",
            "--dns",
            "10.0.0.53",
            "-p",
            "8080:80",
            "-p",
            "127.0.0.1:5353:53/udp",
            "--publish",
            "9000-9001:9000-9001",
            "--netns",
            "/proc/1/ns/net",
        ],
    );
    assert_eq!(
        out,
        Outcome {
            out: format!("{}\n", "f".repeat(64)),
            err: String::new(),
            code: 0
        }
    );
    let req = d
        .requests()
        .into_iter()
        .find(|r| r.uri == "/v1.51/sandboxes/create")
        .expect("create sent");
    let body: serde_json::Value = serde_json::from_str(&req.body).expect("json body");
    snapshot_settings().bind(|| insta::assert_json_snapshot!("sandbox_create_body_full", body));
    // The body is what the daemon's type reads.
    let typed: cnm_types::sandbox::SandboxCreateRequest =
        serde_json::from_str(&req.body).expect("typed body");
    assert_eq!(
        typed.networks[0].endpoint_config.as_ref().unwrap().aliases,
        vec!["www", "api"]
    );
    assert!(typed.networks[1].endpoint_config.is_none());
}

#[test]
fn create_validates_before_sending() {
    let d = daemon();
    let cases: &[(&[&str], &str)] = &[
        (
            &["create", "--name", "x", "-p", "80/icmp"],
            "invalid argument \"80/icmp\" for \"-p, --publish\" flag: invalid proto: icmp",
        ),
        (
            &["create", "--name", "x", "--network", "n", "--ip", "fd00::1"],
            "invalid argument \"fd00::1\" for \"--ip\" flag: invalid IPv4 address: fd00::1",
        ),
        (
            &[
                "create",
                "--name",
                "x",
                "--network",
                "n",
                "--ip6",
                "10.0.0.1",
            ],
            "invalid argument \"10.0.0.1\" for \"--ip6\" flag: invalid IPv6 address: 10.0.0.1",
        ),
        (
            &["create", "--name", "x", "--dns", "nameserver"],
            "invalid argument \"nameserver\" for \"--dns\" flag: IP address is not correctly formatted: nameserver",
        ),
        (
            &["create", "--name", "x", "--alias", "a"],
            "--ip, --ip6 and --alias apply to the first --network, and none was given",
        ),
        (
            &["create", "--name", " "],
            "invalid argument \" \" for \"--name\" flag: the name must not be empty",
        ),
    ];
    for (args, message) in cases {
        let out = cnm(&d, args);
        assert!(out.err.starts_with(message), "{args:?}: {}", out.err);
        assert_eq!(out.code, 125, "{args:?}");
    }
    assert!(d.calls().is_empty(), "{:?}", d.calls());
}

#[test]
fn ls_prints_a_docker_style_table() {
    let d = daemon();
    let table = cnm(&d, &["ls"]);
    assert_eq!(table.code, 0, "{table:?}");
    snapshot_settings().bind(|| insta::assert_snapshot!("sandbox_ls_table", table.out));
    assert_eq!(
        cnm(&d, &["ls", "-q"]).out,
        "cccccccccccc\nbbbbbbbbbbbb\naaaaaaaaaaaa\n"
    );
    let no_trunc = cnm(&d, &["ls", "--no-trunc", "-q"]).out;
    assert_eq!(no_trunc.lines().next().unwrap(), "c".repeat(64));
    let json = cnm(&d, &["list", "--format", "json"]);
    snapshot_settings().bind(|| insta::assert_snapshot!("sandbox_ls_json", json.out));
    let custom = cnm(
        &d,
        &[
            "ls",
            "--format",
            "table {{.Name}}\t{{.Hostname}}\t{{.SandboxKey}}\t{{.CreatedAt}}",
        ],
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("sandbox_ls_custom_table", custom.out));
    let bad = cnm(&d, &["ls", "--format", "{{.Bogus}}"]);
    assert_eq!(
        bad.err,
        "template parsing error: template: :1:2: executing \"\" at <.Bogus>: can't evaluate field Bogus in type *sandbox.sandboxContext\n"
    );
}

#[test]
fn inspect_prints_docker_inspect_json() {
    let d = daemon();
    let out = cnm(&d, &["inspect", "db", "web-2"]);
    assert_eq!(out.code, 0, "{out:?}");
    snapshot_settings().bind(|| insta::assert_snapshot!("sandbox_inspect_two", out.out));
    let out = cnm(
        &d,
        &[
            "inspect",
            "-f",
            "{{.Name}} {{.NetworkSettings.SandboxKey}} {{json .NetworkSettings.Networks}}",
            "web-2",
            "nope",
        ],
    );
    assert_eq!(
        out.out,
        format!(
            "web-2 /run/cnm/netns/{} {{\"front\":{{\"IPAddress\":\"10.0.0.2\",\"IPPrefixLen\":24,\"NetworkID\":\"front-id\"}}}}\n",
            "b".repeat(64)
        )
    );
    assert_eq!(
        (out.err.as_str(), out.code),
        ("Error response from daemon: sandbox nope not found\n", 1)
    );
    let none = cnm(&d, &["inspect"]);
    assert!(
        none.err
            .starts_with("cnm: 'cnm sandbox inspect' requires at least 1 argument"),
        "{none:?}"
    );
}

#[test]
fn rm_echoes_names_like_docker_rm() {
    let d = daemon();
    let out = cnm(&d, &["rm", "db", "nope", "busy", "web-2"]);
    assert_eq!(out.out, "db\nweb-2\n");
    assert_eq!(
        out.err,
        "Error response from daemon: sandbox nope not found\nError response from daemon: sandbox busy is in use\n"
    );
    assert_eq!(out.code, 1);
    let forced = cnm(&d, &["rm", "-f", "nope", "db"]);
    assert_eq!(
        forced,
        Outcome {
            out: "db\n".into(),
            err: String::new(),
            code: 0
        }
    );
    assert!(
        d.calls()
            .contains(&"DELETE /v1.51/sandboxes/db?force=1".to_string())
    );
    assert!(
        d.calls()
            .contains(&"DELETE /v1.51/sandboxes/db".to_string())
    );
}
