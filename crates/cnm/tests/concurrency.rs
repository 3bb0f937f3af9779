//! Many clients at once (issue 7): 32 workers issue mixed operations against the same and
//! different networks. No deadlock, no 500 for valid requests, unique names enforced inside
//! the store transaction (one 201 and the rest 409), no address handed out twice, and the
//! API and kernel agree at the end.

mod support;

use std::sync::Arc;
use std::thread;

use support::TestHost;
use support::api::api_at;

const WORKERS: usize = 32;

#[test]
fn thirty_two_clients_with_mixed_operations() {
    if !support::root_or_loud_skip("concurrency") {
        return;
    }
    // Docker's 31 predefined pools are fewer than 34 networks: give the daemon a bigger one.
    let host = TestHost::new(&["--default-address-pool", "base=10.128.0.0/9,size=24"]);
    let socket = Arc::new(host.socket_path());
    assert_eq!(
        api_at(
            &socket,
            "POST",
            "/networks/create",
            Some(r#"{"Name":"shared","IPAM":{"Config":[{"Subnet":"10.60.0.0/16"}]}}"#)
        )
        .0,
        201
    );

    // Round 1: everyone creates the same name at once.
    let codes: Vec<u16> = (0..WORKERS)
        .map(|_| {
            let socket = socket.clone();
            thread::spawn(move || {
                api_at(
                    &socket,
                    "POST",
                    "/networks/create",
                    Some(r#"{"Name":"contested"}"#),
                )
                .0
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(
        codes.iter().filter(|&&c| c == 201).count(),
        1,
        "exactly one create wins: {codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|&&c| c == 409).count(),
        WORKERS - 1,
        "the rest are 409: {codes:?}"
    );

    // Round 2: mixed work, each worker on its own network and on the shared one.
    let results: Vec<Vec<(String, u16, String)>> = (0..WORKERS)
        .map(|w| {
            let socket = socket.clone();
            thread::spawn(move || {
                let mut log = Vec::new();
                let mut call = |what: &str, method: &str, path: String, body: Option<String>| {
                    let (code, out) = api_at(&socket, method, &path, body.as_deref());
                    log.push((what.to_string(), code, out));
                };
                call(
                    "create net",
                    "POST",
                    "/networks/create".into(),
                    Some(format!(r#"{{"Name":"w{w}"}}"#)),
                );
                call(
                    "create sandbox",
                    "POST",
                    "/sandboxes/create".into(),
                    Some(format!(
                        r#"{{"Name":"s{w}","Networks":[{{"Network":"shared"}}]}}"#
                    )),
                );
                call(
                    "connect own",
                    "POST",
                    format!("/networks/w{w}/connect"),
                    Some(format!(r#"{{"Container":"s{w}"}}"#)),
                );
                call("list", "GET", "/networks".into(), None);
                call("inspect shared", "GET", "/networks/shared".into(), None);
                call(
                    "disconnect own",
                    "POST",
                    format!("/networks/w{w}/disconnect"),
                    Some(format!(r#"{{"Container":"s{w}"}}"#)),
                );
                if w % 2 == 0 {
                    call("remove own net", "DELETE", format!("/networks/w{w}"), None);
                    call(
                        "remove sandbox",
                        "DELETE",
                        format!("/sandboxes/s{w}?force=1"),
                        None,
                    );
                }
                log
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    for (w, log) in results.iter().enumerate() {
        for (what, code, out) in log {
            assert!(
                (200..300).contains(code),
                "worker {w}: '{what}' answered {code}: {out} (valid requests must succeed)"
            );
        }
    }
    support::invariants::check(&host, "after 32 concurrent clients");
    let (_, body) = api_at(&socket, "GET", "/networks/shared", None);
    let shared: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        shared["Containers"].as_object().unwrap().len(),
        WORKERS / 2,
        "odd workers' sandboxes remain on shared"
    );
}
