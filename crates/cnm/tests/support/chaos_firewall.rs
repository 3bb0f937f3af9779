//! The chaos test's firewall check: `table inet cnm` holds exactly the kernel's bridges, the
//! internal networks' bridges, and one DNAT element per published port of a reachable
//! sandbox, pointing at that sandbox (no stale NAT element survives a crash).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::chaos_checks::{Broken, Checks, Observed, broken};
use super::chaos_model::Model;
use crate::support::api::ip_json;
use crate::support::process;

impl Checks {
    /// The firewall holds exactly the kernel's bridges, the internal networks' bridges and
    /// the published ports of reachable sandboxes (no stale NAT element).
    pub(crate) fn firewall_matches(
        &mut self,
        model: &Model,
        seen: &Observed,
    ) -> Result<(), Broken> {
        let kernel: BTreeSet<String> = ip_json(None, &["link", "show", "type", "bridge"])
            .iter()
            .filter_map(|l| l["ifname"].as_str().map(String::from))
            .collect();
        let nft_bridges = nft_elements("set", "bridges")?;
        let bridges: BTreeSet<String> = nft_bridges
            .iter()
            .filter_map(|e| e.as_str().map(String::from))
            .collect();
        self.count(
            bridges == kernel,
            "the firewall knows exactly the kernel's bridges",
            || format!("nft {bridges:?}, kernel {kernel:?}"),
        )?;
        let internal: BTreeSet<String> = nft_elements("set", "internal")?
            .iter()
            .filter_map(|e| e.as_str().map(String::from))
            .collect();
        let expected: BTreeSet<String> = model
            .networks
            .values()
            .filter(|n| n.internal)
            .map(|n| format!("br-{}", &n.id[..12.min(n.id.len())]))
            .collect();
        self.count(
            internal == expected,
            "internal networks are internal in the firewall",
            || format!("nft {internal:?}, model {expected:?}"),
        )?;
        let mut dnat = BTreeMap::new();
        for elem in nft_elements("map", "dnat_any_v4")? {
            let key = &elem[0]["concat"];
            let value = &elem[1]["concat"];
            let port = key[1].as_u64().unwrap_or_default() as u16;
            dnat.insert(
                port,
                (
                    key[0].clone(),
                    value[0].as_str().unwrap_or_default().to_string(),
                    value[1].clone(),
                ),
            );
        }
        let want: BTreeMap<u16, &str> = model
            .sandboxes
            .iter()
            .filter_map(|(name, sb)| sb.host_port.map(|p| (p, name.as_str())))
            .collect();
        let ports: BTreeSet<u16> = dnat.keys().copied().collect();
        self.count(
            ports == want.keys().copied().collect(),
            "no stale or missing NAT element",
            || format!("nft dnat ports {ports:?}, published {want:?}"),
        )?;
        for (port, name) in want {
            let addresses: BTreeSet<String> = seen.sandboxes[name]["NetworkSettings"]["Networks"]
                .as_object()
                .map(|m| {
                    m.values()
                        .filter_map(|e| e["IPAddress"].as_str())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            let (proto, ip, target) = &dnat[&port];
            self.count(
                proto == "tcp" && target == 80 && addresses.contains(ip),
                "NAT elements point at their sandbox",
                || format!("{port} -> {proto} {ip}:{target}, {name} has {addresses:?}"),
            )?;
        }
        Ok(())
    }
}

/// Elements of one set or map of `table inet cnm` (empty when it has none).
fn nft_elements(kind: &str, name: &str) -> Result<Vec<Value>, Broken> {
    let out = process::run(
        Command::new("nft").args(["-j", "list", kind, "inet", "cnm", name]),
        None,
        Duration::from_secs(30),
    );
    let json: Value = serde_json::from_slice(&out.stdout)
        .ok()
        .filter(|_| out.status.success())
        .ok_or_else(|| {
            broken(
                "the firewall table exists",
                format!(
                    "nft list {kind} {name}: {}",
                    String::from_utf8_lossy(&out.stderr)
                ),
            )
        })?;
    Ok(json["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|o| o[kind]["elem"].as_array().cloned())
        .unwrap_or_default())
}

/// `nft list table inet cnm`, for failure messages.
pub(crate) fn nft_text() -> String {
    let out = process::run(
        Command::new("nft").args(["list", "table", "inet", "cnm"]),
        None,
        Duration::from_secs(30),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
