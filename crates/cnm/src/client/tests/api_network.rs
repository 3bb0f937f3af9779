//! Whole `cnm network` commands against a fake daemon: the request bodies and queries the
//! docker CLI sends, validation before sending, `rm` and `prune` output and prompts.

use super::fake_daemon::{FakeDaemon, Recorded, Reply};
use super::network_cmd::{cnm, daemon_with_version};
use super::{Outcome, snapshot_settings};

/// The body of the first request to `path_suffix`.
fn body_of(d: &FakeDaemon, path_suffix: &str) -> Recorded {
    d.requests()
        .into_iter()
        .find(|r| r.uri.ends_with(path_suffix))
        .expect("request sent")
}

#[test]
fn create_sends_the_docker_cli_body() {
    let d = daemon_with_version(Some("1.51"));
    let out = cnm(
        &d,
        None,
        "",
        &[
            "create",
            "-d",
            "bridge",
            "--subnet",
            "10.1.0.0/16,fd00:1::/64",
            "--ip-range",
            "10.1.2.0/24",
            "--gateway",
            "10.1.0.254",
            "--aux-address",
            "router=10.1.0.2",
            "--aux-address",
            "v6=fd00:1::2",
            "--ipam-opt",
            "k=v",
            "--label",
            "a=b",
            "--label",
            "flag",
            "-o",
            "mtu=1400",
            "--ipv6",
            "--ipv4=false",
            "--internal",
            "--attachable",
            "--config-from",
            "base",
            "n1",
        ],
    );
    assert_eq!(
        out,
        Outcome {
            out: "abc123\n".into(),
            err: String::new(),
            code: 0
        }
    );
    let req = body_of(&d, "/networks/create");
    assert_eq!(req.content_type.as_deref(), Some("application/json"));
    snapshot_settings().bind(|| insta::assert_snapshot!("network_create_body_full", req.body));

    // Plain create: IPAM always present with empty options; no EnableIPv4/6. Old APIs ask the
    // daemon to refuse duplicates.
    let d = daemon_with_version(Some("1.41"));
    cnm(&d, None, "", &["create", "plain"]);
    let req = body_of(&d, "/networks/create");
    snapshot_settings()
        .bind(|| insta::assert_snapshot!("network_create_body_plain_api_1_41", req.body));
}

#[test]
fn create_rejects_what_docker_rejects_before_sending() {
    let cases: &[(&[&str], &str, i32)] = &[
        (
            &["create", "--ip-range", "10.0.0.0/24", "n"],
            "every ip-range or gateway must have a corresponding subnet",
            1,
        ),
        (
            &[
                "create",
                "--subnet",
                "10.0.0.0/8",
                "--subnet",
                "10.1.0.0/16",
                "n",
            ],
            "multiple overlapping subnet configuration is not supported",
            1,
        ),
        (
            &[
                "create",
                "--subnet",
                "10.0.0.0/16",
                "--subnet",
                "10.1.0.0/16",
                "--ip-range",
                "10.0.1.0/24",
                "--ip-range",
                "10.0.2.0/24",
                "n",
            ],
            "cannot configure multiple ranges (10.0.2.0/24, 10.0.1.0/24) on the same subnet (10.0.0.0/16)",
            1,
        ),
        (
            &[
                "create",
                "--subnet",
                "10.0.0.0/16",
                "--subnet",
                "10.1.0.0/16",
                "--gateway",
                "10.0.0.1",
                "--gateway",
                "10.0.0.2",
                "n",
            ],
            "cannot configure multiple gateways (10.0.0.2, 10.0.0.1) for the same subnet (10.0.0.0/16)",
            1,
        ),
        (
            &[
                "create",
                "--subnet",
                "10.0.0.0/16",
                "--ip-range",
                "10.9.0.0/24",
                "n",
            ],
            "no matching subnet for range 10.9.0.0/24",
            1,
        ),
        (
            &[
                "create",
                "--subnet",
                "10.0.0.0/16",
                "--gateway",
                "10.9.0.1",
                "n",
            ],
            "no matching subnet for gateway 10.9.0.1",
            1,
        ),
        (
            &[
                "create",
                "--subnet",
                "10.0.0.0/16",
                "--aux-address",
                "a=10.9.0.1",
                "n",
            ],
            "no matching subnet for aux-address 10.9.0.1",
            1,
        ),
        (
            &[
                "create",
                "--subnet",
                "10.0.0.0/16",
                "--subnet",
                "bogus",
                "n",
            ],
            "invalid subnet: invalid CIDR address: bogus",
            1,
        ),
        (
            &[
                "create",
                "--subnet",
                "10.0.0.0/16",
                "--ip-range",
                "x/24",
                "n",
            ],
            "invalid CIDR address: x/24",
            1,
        ),
        (
            &["create", "--label", "=v", "n"],
            "invalid argument \"=v\" for \"--label\" flag: invalid label '=v': empty name",
            125,
        ),
        (
            &["create", "--label", "a b", "n"],
            "invalid argument \"a b\" for \"--label\" flag: label 'a b' contains whitespaces",
            125,
        ),
        (
            &["create", "--ipv6=maybe", "n"],
            "invalid argument \"maybe\" for \"--ipv6\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax",
            125,
        ),
        (
            &["create"],
            "cnm: 'cnm network create' requires 1 argument",
            1,
        ),
        (
            &["create", "a", "b"],
            "cnm: 'cnm network create' requires 1 argument",
            1,
        ),
    ];
    let d = daemon_with_version(Some("1.51"));
    for (args, message, code) in cases {
        let out = cnm(&d, None, "", args);
        assert_eq!(out.code, *code, "{args:?}: {out:?}");
        assert!(out.err.starts_with(message), "{args:?}: {}", out.err);
    }
    assert!(
        d.calls().is_empty(),
        "nothing may reach the daemon: {:?}",
        d.calls()
    );
}

#[test]
fn connect_and_disconnect_send_the_docker_cli_bodies() {
    let d = daemon_with_version(Some("1.51"));
    let out = cnm(
        &d,
        None,
        "",
        &[
            "connect",
            "--ip",
            "10.0.0.9",
            "--ip6",
            "fd00::9",
            "--alias",
            "a1,a2",
            "--alias",
            "a3",
            "--link",
            "web:w",
            "--link-local-ip",
            "169.254.0.9",
            "--driver-opt",
            "k1=v1",
            "--driver-opt",
            " k2 = v2 ",
            "--gw-priority",
            "-3",
            "net1",
            "sb1",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let req = body_of(&d, "/networks/net1/connect");
    snapshot_settings().bind(|| insta::assert_snapshot!("network_connect_body_full", req.body));
    cnm(&d, None, "", &["connect", "net1", "sb2"]);
    let plain = d
        .requests()
        .into_iter()
        .filter(|r| r.uri.ends_with("/connect"))
        .nth(1)
        .expect("second connect");
    snapshot_settings().bind(|| insta::assert_snapshot!("network_connect_body_plain", plain.body));
    cnm(&d, None, "", &["disconnect", "-f", "net1", "sb1"]);
    assert_eq!(
        body_of(&d, "/networks/net1/disconnect").body,
        "{\"Container\":\"sb1\",\"Force\":true}\n"
    );

    let bad = cnm(
        &d,
        None,
        "",
        &["connect", "--driver-opt", "novalue", "net1", "sb1"],
    );
    assert_eq!(
        (bad.err.as_str(), bad.code),
        ("invalid key/value pair format in driver options\n", 1)
    );
    let bad = cnm(
        &d,
        None,
        "",
        &["connect", "--gw-priority", "high", "net1", "sb1"],
    );
    assert!(
        bad.err
            .starts_with("invalid argument \"high\" for \"--gw-priority\" flag: strconv.ParseInt"),
        "{bad:?}"
    );
    assert_eq!(bad.code, 125);
}

#[test]
fn ls_sends_docker_filters() {
    let d = daemon_with_version(Some("1.51"));
    cnm(
        &d,
        None,
        "",
        &[
            "ls",
            "-f",
            "label=a=b",
            "--filter",
            "Driver = bridge",
            "-f",
            "label=c",
        ],
    );
    assert_eq!(
        d.calls(),
        vec![
            "GET /v1.51/networks?filters=%7B%22driver%22%3A%7B%22bridge%22%3Atrue%7D%2C%22label%22%3A%7B%22a%3Db%22%3Atrue%2C%22c%22%3Atrue%7D%7D"
        ]
    );
}

#[test]
fn rm_echoes_names_and_collects_failures() {
    let d = FakeDaemon::start(|r: &Recorded| match (r.method.as_str(), r.uri.as_str()) {
        (_, "/_ping") => Reply::empty(200),
        ("GET", u) if u.ends_with("/ing") => Reply::json(200, r#"{"Name":"ing","Ingress":true}"#),
        ("GET", _) => Reply::error(404, "not found"),
        ("DELETE", u) if u.ends_with("/busy") => Reply::error(
            403,
            "error while removing network: network busy has active endpoints",
        ),
        ("DELETE", u) if u.ends_with("/gone") => Reply::error(404, "network gone not found"),
        _ => Reply::empty(204),
    });
    let out = cnm(&d, None, "", &["rm", "a", "gone", "busy", "b"]);
    assert_eq!(out.out, "a\nb\n");
    assert_eq!(
        out.err,
        "Error response from daemon: network gone not found\nError response from daemon: error while removing network: network busy has active endpoints\nexit status 1\n"
    );
    assert_eq!(out.code, 1);
    let forced = cnm(&d, None, "", &["rm", "-f", "gone", "a"]);
    assert_eq!(
        forced,
        Outcome {
            out: "a\n".into(),
            err: String::new(),
            code: 0
        }
    );
    // The ingress network asks first; "n" skips it.
    let skipped = cnm(&d, None, "n\n", &["rm", "ing"]);
    assert!(
        skipped
            .out
            .starts_with("WARNING! Before removing the routing-mesh network"),
        "{skipped:?}"
    );
    assert!(
        skipped
            .out
            .ends_with("Are you sure you want to continue? [y/N] ")
    );
    assert!(
        !d.calls()
            .contains(&"DELETE /v1.51/networks/ing".to_string())
    );
}

#[test]
fn prune_prompts_and_prints_the_deleted_names() {
    let d = daemon_with_version(Some("1.51"));
    let d2 = FakeDaemon::start(|r: &Recorded| {
        if r.uri == "/_ping" {
            Reply::empty(200)
        } else {
            Reply::json(200, r#"{"NetworksDeleted":["n1","n2"]}"#)
        }
    });
    let prompt = "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ";
    let no = cnm(&d, None, "n\n", &["prune"]);
    assert_eq!(
        no,
        Outcome {
            out: prompt.into(),
            err: String::new(),
            code: 0
        }
    );
    assert!(d.calls().is_empty());
    let yes = cnm(&d2, None, "Y\n", &["prune", "--filter", "until=24h"]);
    assert_eq!(yes.out, format!("{prompt}Deleted Networks:\nn1\nn2\n\n"));
    assert_eq!(
        d2.calls(),
        vec!["POST /v1.51/networks/prune?filters=%7B%22until%22%3A%7B%2224h%22%3Atrue%7D%7D"]
    );
    let forced = cnm(&d2, None, "", &["prune", "-f"]);
    assert_eq!(forced.out, "Deleted Networks:\nn1\nn2\n\n");
}
