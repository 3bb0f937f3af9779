//! The invariants every test that abuses the daemon checks afterwards: the API's view equals
//! the kernel's, and nothing leaked or was handed out twice.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::TestHost;
use super::api::{api, ip_json};

/// Panics, naming the broken invariant, when the API and the kernel disagree.
pub fn check(host: &TestHost, label: &str) {
    let (code, body) = api(host, "GET", "/sandboxes", None);
    assert_eq!(code, 200, "{label}: list sandboxes: {body}");
    let sandboxes: Vec<Value> = serde_json::from_str(&body).unwrap();
    let mut expected_veths = 0;
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut ids = BTreeSet::from(["default".to_string()]);
    for sb in &sandboxes {
        let name = sb["Name"].as_str().unwrap();
        ids.insert(sb["Id"].as_str().unwrap().to_string());
        let key = sb["NetworkSettings"]["SandboxKey"].as_str().unwrap();
        let addrs = ip_json(Some(key), &["addr", "show"]);
        assert!(
            !addrs.is_empty(),
            "{label}: invariant 'sandbox namespace exists' broken for {name}"
        );
        let in_kernel: BTreeSet<String> = addrs
            .iter()
            .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
            .filter(|a| a["family"] == "inet" && a["local"] != "127.0.0.1")
            .map(|a| a["local"].as_str().unwrap().to_string())
            .collect();
        let networks = sb["NetworkSettings"]["Networks"].as_object().unwrap();
        let in_api: BTreeSet<String> = networks
            .values()
            .filter_map(|e| e["IPAddress"].as_str())
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect();
        assert_eq!(
            in_kernel, in_api,
            "{label}: invariant 'endpoint addresses are in the kernel' broken for {name}"
        );
        for (net, ep) in networks {
            let ip = ep["IPAddress"].as_str().unwrap_or_default().to_string();
            if ip.is_empty() {
                continue;
            }
            assert!(
                seen.entry(net.clone()).or_default().insert(ip.clone()),
                "{label}: invariant 'no address given twice' broken: {ip} on {net}"
            );
            expected_veths += 1;
        }
    }
    let veths = ip_json(None, &["link", "show", "type", "veth"]);
    assert_eq!(
        veths.len(),
        expected_veths,
        "{label}: invariant 'one host veth per endpoint' broken: {veths:?}"
    );
    assert!(
        veths.iter().all(|v| v["master"].is_string()),
        "{label}: invariant 'veths sit on bridges' broken"
    );
    let files: BTreeSet<String> = std::fs::read_dir(host.exec_root().join("netns"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        files, ids,
        "{label}: invariant 'one namespace file per sandbox' broken"
    );
    let (_, body) = api(host, "GET", "/networks", None);
    let networks: Vec<Value> = serde_json::from_str(&body).unwrap();
    let bridge_networks = networks
        .iter()
        .filter(|n| n["Driver"] == "bridge" && !n["ConfigOnly"].as_bool().unwrap_or(false))
        .count();
    let bridges = ip_json(None, &["link", "show", "type", "bridge"]);
    assert_eq!(
        bridges.len(),
        bridge_networks,
        "{label}: invariant 'one bridge per bridge network' broken: {bridges:?}"
    );
}
