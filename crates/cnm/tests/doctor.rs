//! `cnm doctor` finds drift made by hand and `--fix` repairs it (issue 7).

mod support;

use std::process::Command;

use support::TestHost;
use support::api::{api, ip_json, nsenter};

fn run(cmd: &mut Command) {
    let status = cmd.status().unwrap();
    assert!(status.success(), "{cmd:?}");
}

#[test]
fn doctor_finds_and_fixes_a_deleted_veth_a_deleted_bridge_and_strays() {
    if !support::root_or_loud_skip("doctor") {
        return;
    }
    // The daemon's own periodic firewall repair is off, so doctor is what finds that drift.
    let host = TestHost::new(&["--firewall-check-interval", "0"]);
    let out = host.docker(&["network", "create", "--subnet", "10.70.0.0/24", "fixme"]);
    assert!(out.status.success());
    let body = r#"{"Name":"victim","Networks":[{"Network":"fixme"}]}"#;
    assert_eq!(api(&host, "POST", "/sandboxes/create", Some(body)).0, 201);
    let body = r#"{"Name":"other","Networks":[{"Network":"bridge"}]}"#;
    assert_eq!(api(&host, "POST", "/sandboxes/create", Some(body)).0, 201);
    let clean = host.cnm(&["doctor"]);
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );

    // Drift by hand: the default bridge's sandbox loses its veth, a stray bridge and a stray
    // namespace file appear, and the user network's bridge is deleted.
    let (_, other) = api(&host, "GET", "/sandboxes/other", None);
    let other: serde_json::Value = serde_json::from_str(&other).unwrap();
    let veth = ip_json(None, &["link", "show", "master", "cnm0"])[0]["ifname"]
        .as_str()
        .unwrap()
        .to_string();
    run(Command::new("ip").args(["link", "del", &veth]));
    run(Command::new("ip").args(["link", "add", "br-0123456789ab", "type", "bridge"]));
    let stray = host.exec_root().join("netns").join("f".repeat(64));
    run(Command::new("touch").arg(&stray));
    run(Command::new("unshare")
        .arg(format!("--net={}", stray.display()))
        .arg("true"));
    let (_, net) = api(&host, "GET", "/networks/fixme", None);
    let id = serde_json::from_str::<serde_json::Value>(&net).unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    run(Command::new("ip").args(["link", "del", &format!("br-{}", &id[..12])]));
    // ... and an element of cnm's nftables table is removed.
    run(Command::new("nft").args(["flush", "set", "inet", "cnm", "masq_v4"]));

    let report = host.cnm(&["doctor"]);
    let text = String::from_utf8_lossy(&report.stdout).to_string();
    assert_eq!(report.status.code(), Some(1), "drift is an error: {text}");
    for expected in [
        "network fixme",
        "endpoint other on bridge",
        "link br-0123456789ab",
        "namespace ",
        "firewall table inet cnm",
    ] {
        assert!(
            text.contains(expected),
            "doctor should report '{expected}':\n{text}"
        );
    }

    let fixed = host.cnm(&["doctor", "--fix"]);
    let text = String::from_utf8_lossy(&fixed.stdout).to_string();
    assert!(fixed.status.success(), "{text}");
    assert!(text.lines().all(|l| l.ends_with("[fixed]")), "{text}");
    let again = host.cnm(&["doctor"]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    assert!(!stray.exists(), "the stray namespace file is gone");
    assert!(ip_json(None, &["link", "show", "br-0123456789ab"]).is_empty());
    // The repaired endpoint carries packets again: the sandbox reaches its gateway.
    let key = other["NetworkSettings"]["SandboxKey"].as_str().unwrap();
    let ping = nsenter(
        key,
        &["busybox", "ping", "-c", "1", "-W", "2", "172.17.0.1"],
    );
    assert!(
        ping.status.success(),
        "{}",
        String::from_utf8_lossy(&ping.stdout)
    );
    let masq = Command::new("nft")
        .args(["list", "set", "inet", "cnm", "masq_v4"])
        .output()
        .unwrap();
    let masq = String::from_utf8_lossy(&masq.stdout);
    assert!(
        masq.contains("10.70.0.0/24"),
        "the masquerade element is back: {masq}"
    );
    support::invariants::check(&host, "after doctor --fix");
    // The repairs are counted in /metrics.
    let (_, metrics) = api(&host, "GET", "/metrics", None);
    let repairs = metrics
        .lines()
        .find_map(|l| l.strip_prefix("cnm_reconcile_repairs "))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or(0);
    assert!(repairs >= 5, "repairs counted: {repairs}\n{metrics}");
    assert!(
        metrics.contains("cnm_dns_queries{kind=\"upstream_failure\"}"),
        "{metrics}"
    );
}
