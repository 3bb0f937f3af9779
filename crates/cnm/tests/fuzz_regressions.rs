//! Inputs that once crashed a request handler (found by probing the daemon's query parsers
//! while fuzzing, issue 7): each must be refused with Docker's 400 and message, the daemon
//! must keep serving, and its log must show no panic.
//!
//! - `POST /networks/prune?filters={"until":{"300000000h":true}}`: `now - 300000000h` is
//!   before year -9999, and `OffsetDateTime - Duration` panicked ("resulting value is out of
//!   range", `daemon/api/networks.rs`, `until_to_rfc3339`).
//! - `...{"until":{"99999999999999999999999999h":true}}`: the duration overflows
//!   `time::Duration` and `Duration::seconds_f64` panicked ("overflow constructing
//!   `time::SignedDuration`", `go_duration`).
//!
//! Run as root: `cargo nextest run -p cnm --test fuzz_regressions`.

mod support;

use support::TestHost;
use support::api::api;

/// `filters` for `POST /networks/prune` with one `until` value, URL-encoded.
fn until(value: &str) -> String {
    let json = format!(r#"{{"until":{{"{value}":true}}}}"#);
    let encoded: String = json
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/networks/prune?filters={encoded}")
}

#[test]
fn prune_until_far_in_the_past_is_a_400_not_a_panic() {
    if !support::root_or_loud_skip("fuzz regressions") {
        return;
    }
    let host = TestHost::new(&[]);
    for value in ["300000000h", "99999999999999999999999999h", "1e308s"] {
        let (code, body) = api(&host, "POST", &until(value), None);
        assert_eq!(
            (code, body.as_str()),
            (
                400,
                format!(
                    r#"{{"message":"failed to parse value as time or duration: \"{value}\""}}"#
                )
                .as_str()
            ),
            "until={value}"
        );
    }
    assert_eq!(api(&host, "GET", "/_ping", None).0, 200, "still serving");
    let log = host.daemon_log();
    assert!(
        !log.contains("panicked"),
        "the daemon log shows a panic:\n{log}"
    );
}
