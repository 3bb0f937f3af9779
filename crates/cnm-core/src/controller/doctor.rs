//! `cnm doctor`: drift between the store and the kernel, found and optionally repaired.
//!
//! Contract: `doctor(false)` only reads; `doctor(true)` repairs each finding the way a
//! restart would (recreate a network's bridge, re-plumb an endpoint, drop a sandbox whose
//! namespace is gone, remove strays that no record owns) and marks it fixed. Strays are the
//! same objects the start-up sweep removes (`strays`).

use std::collections::HashSet;
use std::path::PathBuf;

use super::{Controller, State};
use crate::driver::Driver;
use crate::error::Result;
use crate::osl::netns;

/// One difference between what cnm recorded and what the kernel has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// `network`, `sandbox`, `endpoint`, `link`, `namespace` or `firewall`.
    pub kind: String,
    pub object: String,
    pub problem: String,
    pub fixed: bool,
}

/// Something cnm made that no record owns.
pub(crate) enum Stray {
    Namespace(PathBuf),
    SandboxFiles(PathBuf),
    Link { index: u32, name: String },
}

/// `br-` followed by 12 hex digits: the names cnm gives bridges it creates.
fn is_cnm_bridge_name(name: &str) -> bool {
    name.strip_prefix("br-")
        .is_some_and(|rest| rest.len() == 12 && rest.bytes().all(|c| c.is_ascii_hexdigit()))
}

impl Controller {
    /// Namespace files, sandbox directories, veths on cnm's bridges and `br-<hex>` bridges
    /// that no record owns.
    pub(crate) async fn strays(&self, state: &State) -> Vec<Stray> {
        let mut out = Vec::new();
        let owned: HashSet<String> = state.sandboxes.values().map(|s| s.id.to_string()).collect();
        if let Ok(entries) = std::fs::read_dir(self.netns_dir()) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if name != "default" && !owned.contains(&name) {
                    out.push(Stray::Namespace(entry.path()));
                }
            }
        }
        if let Ok(entries) = std::fs::read_dir(self.config.data_root.join("sandboxes")) {
            for entry in entries.flatten() {
                if !owned.contains(&entry.file_name().to_string_lossy().to_string()) {
                    out.push(Stray::SandboxFiles(entry.path()));
                }
            }
        }
        let Driver::Bridge(bridge) = &state.drivers.bridge else {
            return out;
        };
        let Ok(links) = bridge.host().links().await else {
            return out;
        };
        let bridges: HashSet<u32> = links
            .iter()
            .filter(|l| bridge.bridge_names().any(|b| b == l.name))
            .map(|l| l.index)
            .collect();
        let known: HashSet<&str> = state
            .endpoints
            .values()
            .filter_map(|e| e.host_ifname.as_deref())
            .collect();
        for link in &links {
            let our_veth = link.kind.as_deref() == Some("veth")
                && link.master.is_some_and(|m| bridges.contains(&m));
            let stray_bridge = link.kind.as_deref() == Some("bridge")
                && is_cnm_bridge_name(&link.name)
                && !bridges.contains(&link.index);
            if (our_veth && !known.contains(link.name.as_str())) || stray_bridge {
                out.push(Stray::Link {
                    index: link.index,
                    name: link.name.clone(),
                });
            }
        }
        out
    }

    pub(crate) async fn remove_stray(&self, state: &State, stray: &Stray) -> Result<()> {
        match stray {
            Stray::Namespace(path) => netns::remove(path)?,
            Stray::SandboxFiles(path) => {
                let _ = std::fs::remove_dir_all(path);
            }
            Stray::Link { index, name } => {
                if let Driver::Bridge(bridge) = &state.drivers.bridge {
                    tracing::info!(link = %name, "removing a leftover link");
                    bridge.host().del_link(*index).await?;
                }
            }
        }
        Ok(())
    }

    pub async fn doctor(&self, fix: bool) -> Result<Vec<Finding>> {
        let mut state = self.state.lock().await;
        let mut findings = Vec::new();
        let mut found = |kind: &str, object: String, problem: &str, fixed: bool| {
            findings.push(Finding {
                kind: kind.into(),
                object,
                problem: problem.into(),
                fixed,
            });
        };

        let networks: Vec<_> = state
            .networks
            .values()
            .filter(|n| !n.config_only)
            .cloned()
            .collect();
        for network in networks {
            let Some(driver) = state.drivers.get_mut(&network.driver) else {
                continue;
            };
            if !driver.network_intact(&network).await? {
                let fixed = fix && driver.restore_network(&network).await.is_ok();
                found(
                    "network",
                    network.name.clone(),
                    "its bridge is missing or lost its addresses",
                    fixed,
                );
            }
        }
        if fix && let Driver::Bridge(bridge) = &state.drivers.bridge {
            bridge.finish_restore().await?;
        }

        let sandboxes: Vec<_> = state.sandboxes.values().cloned().collect();
        for sandbox in sandboxes {
            if netns::open(&sandbox.netns).is_err() {
                let fixed = fix
                    && self
                        .remove_sandbox_in_state(&mut state, &sandbox)
                        .await
                        .is_ok();
                found(
                    "sandbox",
                    sandbox.name.clone(),
                    "its namespace is gone",
                    fixed,
                );
                continue;
            }
            for id in &sandbox.endpoints {
                let Some(endpoint) = state.endpoints.get(id).cloned() else {
                    continue;
                };
                let Some(network) = state.networks.get(&endpoint.network).cloned() else {
                    continue;
                };
                let Some(driver) = state.drivers.get(&network.driver) else {
                    continue;
                };
                if driver.endpoint_intact(&network, &endpoint).await? {
                    continue;
                }
                let fixed = fix
                    && self
                        .replumb_endpoint(&mut state, &sandbox, endpoint.clone())
                        .await
                        .is_ok();
                found(
                    "endpoint",
                    format!("{} on {}", sandbox.name, network.name),
                    "its interface is missing",
                    fixed,
                );
            }
        }

        if let Driver::Bridge(bridge) = &state.drivers.bridge {
            let notes = bridge.firewall_drift().await?;
            if !notes.is_empty() {
                let fixed = fix && bridge.repair_firewall_drift().await.is_ok();
                found(
                    "firewall",
                    "table inet cnm".into(),
                    &notes.join("; "),
                    fixed,
                );
            }
        }

        for stray in self.strays(&state).await {
            let (kind, object) = match &stray {
                Stray::Namespace(p) => ("namespace", p.display().to_string()),
                Stray::SandboxFiles(p) => ("files", p.display().to_string()),
                Stray::Link { name, .. } => ("link", name.clone()),
            };
            let fixed = fix && self.remove_stray(&state, &stray).await.is_ok();
            found(kind, object, "no record owns it", fixed);
        }
        self.note_repairs(findings.iter().filter(|f| f.fixed).count() as u64);
        Ok(findings)
    }
}
