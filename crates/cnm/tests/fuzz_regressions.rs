//! Inputs found by the fuzz targets and by probing the daemon's own parsers (issue 7), each
//! pinned by a test until it is handled as Docker handles it:
//!
//! - `POST /networks/prune?filters={"until":{"300000000h":true}}` panicked a request handler:
//!   `now - 300000000h` is before year -9999 and `OffsetDateTime - Duration` panics ("resulting
//!   value is out of range", `daemon/api/networks.rs`, `until_to_rfc3339`); with
//!   `99999999999999999999999999h`, `Duration::seconds_f64` panics ("overflow constructing
//!   `time::SignedDuration`", `go_duration`). Docker answers 400.
//! - `--format` templates with broken block structure (an unclosed `{{range}}`, a stray
//!   `{{end}}`, `{{break}}` outside a range): gotmpl accepts them, Go (and so docker) refuses
//!   them at parse time. An unclosed `{{range $}}` nested eight deep ran for 24 s.
//!
//! Both are fixed (the template check is `client/format/blocks.rs`); these tests keep them
//! fixed. Run as root: `cargo nextest run -p cnm --test fuzz_regressions`.

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

/// `--format` templates whose block structure Go's parser rejects (found by the
/// `format_template` fuzz target: an unclosed `{{range $}}` nested eight deep parsed, then
/// ran for 24 s printing exponentially, where docker refuses it at once). cnm must refuse
/// them with docker's exact words, before contacting the daemon's data.
#[test]
fn templates_with_broken_blocks_are_refused_like_docker() {
    if !support::root_or_loud_skip("fuzz regressions") {
        return;
    }
    let host = TestHost::new(&[]);
    // What `docker network inspect --format T bridge` prints (docker CLI 28, Go's text/template).
    let cases = [
        ("{{range .Options}}x", "template: :1: unexpected EOF"),
        ("{{if .Internal}}x", "template: :1: unexpected EOF"),
        ("{{with .Name}}x", "template: :1: unexpected EOF"),
        ("{{range $}}{{range $}}y", "template: :1: unexpected EOF"),
        ("{{end}}", "template: :1: unexpected {{end}}"),
        ("{{else}}", "template: :1: unexpected {{else}}"),
        ("{{break}}", "template: :1: {{break}} outside {{range}}"),
    ];
    for (template, go_error) in cases {
        let out = host.cnm(&["network", "inspect", "--format", template, "bridge"]);
        assert!(!out.status.success(), "{template}: accepted");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim(),
            format!("template parsing error: {go_error}"),
            "{template}"
        );
        assert!(
            out.stdout.is_empty(),
            "{template}: printed {:?}",
            out.stdout
        );
    }
}
