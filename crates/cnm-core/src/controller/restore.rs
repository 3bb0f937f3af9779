//! Start-up: load the store, rebuild IPAM and the data plane, and sweep leftovers.
//!
//! Contract (DESIGN §4.2, "reconcile, never flush"): after `start`, the kernel matches the
//! store. Networks get their bridges back (recreated if missing); sandboxes whose namespace is
//! gone lose their endpoints and addresses; endpoints whose interface is gone are re-plumbed;
//! namespaces, veths, bridges and files that no record owns are removed. Each sandbox's
//! default routes and published ports are on its selected gateway endpoint, whatever a crash
//! left half moved. The predefined networks exist afterwards.

use std::collections::BTreeMap;

use cnm_types::Id;

use super::undo::Undo;
use super::{Controller, State, ipam_alloc};
use crate::driver::{Driver, SandboxLink};
use crate::error::{Error, Result};
use crate::ipam::IpamDriver;
use crate::model::{Endpoint, IpamRequest, Network, Sandbox, labels, now_rfc3339};
use crate::osl::{Netlink, netns};
use crate::store::{Batch, Kind, load_all};

/// What a start-up did, for the log and for tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartReport {
    pub networks: usize,
    pub sandboxes: usize,
    pub endpoints: usize,
    pub stale_sandboxes: usize,
    pub stale_endpoints: usize,
    pub replumbed_endpoints: usize,
    pub swept_links: usize,
    pub swept_namespaces: usize,
}

impl Controller {
    pub async fn start(&self) -> Result<StartReport> {
        let mut report = StartReport::default();
        let mut networks: Vec<Network> = load_all(self.store.as_ref(), Kind::Network)?;
        let endpoints: Vec<Endpoint> = load_all(self.store.as_ref(), Kind::Endpoint)?;
        let sandboxes: Vec<Sandbox> = load_all(self.store.as_ref(), Kind::Sandbox)?;
        networks.sort_by(|a, b| a.created.cmp(&b.created));
        std::fs::create_dir_all(self.netns_dir())
            .map_err(|e| Error::internal(format!("create {}: {e}", self.netns_dir().display())))?;
        crate::osl::hostns::bind_current(&self.netns_dir().join("default"))?;

        let mut state = self.state.lock().await;
        for mut network in networks {
            if !network.config_only {
                self.load_for_restore(&mut state, &network).await;
                if replays(&state, &network)
                    && let Err(e) = ipam_alloc::replay_network(&mut state, &mut network).await
                {
                    // A plugin's state is the plugin's; only a built-in's disagreement is fatal.
                    if !matches!(
                        state.ipams.get(&network.ipam_driver),
                        Some(IpamDriver::Remote(_))
                    ) {
                        return Err(e.context(format!("restoring network {}", network.name)));
                    }
                    tracing::warn!(network = %network.name, error = %e, "replaying allocations to the IPAM plugin");
                }
                if let Some(driver) = state.drivers.get_mut(&network.driver) {
                    driver.restore_network(&network).await?;
                }
            }
            state.insert_network(network);
            report.networks += 1;
        }
        let mut batch = Batch::default();
        let mut unfinished = Vec::new();
        let by_sandbox = group_endpoints(endpoints);
        for mut sandbox in sandboxes {
            let eps = by_sandbox.get(&sandbox.id).cloned().unwrap_or_default();
            if netns::open(&sandbox.netns).is_err() {
                tracing::warn!(sandbox = %sandbox.name, "namespace is gone; removing the sandbox and its endpoints");
                for e in &eps {
                    batch.delete(Kind::Endpoint, e.id.as_str());
                    report.stale_endpoints += 1;
                }
                batch.delete(Kind::Sandbox, sandbox.id.as_str());
                let _ = std::fs::remove_dir_all(self.sandbox_dir(&sandbox.id));
                report.stale_sandboxes += 1;
                continue;
            }
            if !sandbox.external || sandbox.netns != self.netns_dir().join("default") {
                state
                    .sandbox_links
                    .insert(sandbox.id.clone(), Netlink::open_in(&sandbox.netns)?);
            }
            sandbox
                .endpoints
                .retain(|id| eps.iter().any(|e| &e.id == id));
            state.insert_sandbox(sandbox.clone());
            report.sandboxes += 1;
            for endpoint in eps {
                match self
                    .restore_endpoint(&mut state, &sandbox, endpoint.clone())
                    .await
                {
                    Ok(replumbed) => {
                        report.endpoints += 1;
                        report.replumbed_endpoints += replumbed as usize;
                    }
                    Err(e) => {
                        tracing::warn!(endpoint = %endpoint.id.short(), error = %e, "cannot restore endpoint; removing it");
                        batch.delete(Kind::Endpoint, endpoint.id.as_str());
                        if let Some(s) = state.sandboxes.get_mut(&sandbox.id) {
                            s.endpoints.retain(|id| id != &endpoint.id);
                        }
                        report.stale_endpoints += 1;
                    }
                }
            }
            if let Err(e) = super::gateway::ensure_routes(&state, &sandbox.id).await {
                tracing::warn!(sandbox = %sandbox.name, error = %e, "restoring default routes");
            }
            let sb = state.sandboxes[&sandbox.id].clone();
            if sb.unfinished {
                unfinished.push(sb);
                continue;
            }
            batch.put(Kind::Sandbox, sb.id.as_str(), &sb);
            let _ = super::endpoint::write_hosts(&state, &sb);
        }
        self.commit(&batch)?;
        // A create or removal a crash interrupted: finish removing it.
        for sandbox in unfinished {
            tracing::warn!(sandbox = %sandbox.name, "finishing an interrupted create or removal");
            if let Err(e) = self.remove_sandbox_in_state(&mut state, &sandbox).await {
                tracing::warn!(sandbox = %sandbox.name, error = %e, "removing an unfinished sandbox");
            }
            report.stale_sandboxes += 1;
        }
        // Published ports come back before the firewall is reconciled once for everything, so
        // established flows through them keep their rules.
        let restored: Vec<Endpoint> = state
            .endpoints
            .values()
            .filter(|e| !e.ports.is_empty())
            .cloned()
            .collect();
        for endpoint in restored {
            let Some(network) = state.networks.get(&endpoint.network).cloned() else {
                continue;
            };
            if let Some(driver) = state.drivers.get_mut(&network.driver)
                && let Err(e) = driver.restore_ports(&network, &endpoint).await
            {
                tracing::warn!(endpoint = %endpoint.id.short(), error = %e, "restoring published ports");
            }
        }
        self.ensure_gateway_ports(&mut state).await?;
        if let Driver::Bridge(bridge) = &state.drivers.bridge {
            bridge.finish_restore().await?;
        }
        self.refresh_records(&state);
        let ids: Vec<Id> = state.sandboxes.keys().cloned().collect();
        for id in ids {
            if let Err(e) = self.ensure_resolver(&state, &id).await {
                tracing::warn!(sandbox = %id.short(), error = %e, "cannot start the sandbox's resolver");
            }
        }
        self.ensure_predefined(&mut state).await?;
        self.sweep(&mut state, &mut report).await;
        let repaired = report.stale_sandboxes
            + report.stale_endpoints
            + report.replumbed_endpoints
            + report.swept_links
            + report.swept_namespaces;
        self.note_repairs(repaired as u64);
        tracing::info!(?report, "state restored");
        Ok(report)
    }

    /// Publishes each sandbox's ports on its current gateway endpoint where a crash left
    /// them behind (see `gateway::ensure_ports`), after the recorded ports are re-taken so a
    /// fresh host port cannot collide with one of them; persists what changed.
    async fn ensure_gateway_ports(&self, state: &mut State) -> Result<()> {
        let mut batch = Batch::default();
        let ids: Vec<Id> = state.sandboxes.keys().cloned().collect();
        for id in ids {
            match super::gateway::ensure_ports(state, &id).await {
                Ok(changed) => {
                    for e in changed.iter().filter_map(|e| state.endpoints.get(e)) {
                        batch.put(Kind::Endpoint, e.id.as_str(), e);
                    }
                }
                Err(e) => {
                    tracing::warn!(sandbox = %id.short(), error = %e, "publishing ports on the gateway endpoint")
                }
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.commit(&batch)
    }

    /// Re-reserves an endpoint's addresses and checks its interface; re-plumbs it if gone.
    async fn restore_endpoint(
        &self,
        state: &mut State,
        sandbox: &Sandbox,
        mut endpoint: Endpoint,
    ) -> Result<bool> {
        let network = network_of(state, &endpoint)?;
        let replay = replays(state, &network);
        for (addr, pool) in [
            (endpoint.addr_v4, &endpoint.pool_v4),
            (endpoint.addr_v6, &endpoint.pool_v6),
        ] {
            if let (true, Some(addr), Some(_)) = (replay, addr, pool) {
                let info = network
                    .all_ipam()
                    .find(|i| i.pool.contains(&addr.addr()))
                    .ok_or_else(|| {
                        Error::internal(format!("address {addr} is outside the network's pools"))
                    })?;
                state
                    .ipams
                    .get_mut(&network.ipam_driver)?
                    .request_address(&info.pool_id, Some(addr.addr()), &BTreeMap::new())
                    .await?;
            }
        }
        endpoint.pool_v4 = endpoint.addr_v4.and_then(|a| {
            network
                .all_ipam()
                .find(|i| i.pool.contains(&a.addr()))
                .map(|i| i.pool_id.clone())
        });
        endpoint.pool_v6 = endpoint.addr_v6.and_then(|a| {
            network
                .all_ipam()
                .find(|i| i.pool.contains(&a.addr()))
                .map(|i| i.pool_id.clone())
        });
        let Some(driver) = state.drivers.get(&network.driver) else {
            // A plugin that is not there yet: keep the endpoint as stored (as Docker does).
            tracing::warn!(endpoint = %endpoint.id.short(), driver = %network.driver, "driver not loaded; endpoint kept as stored");
            state.insert_endpoint(endpoint);
            return Ok(false);
        };
        if driver.endpoint_intact(&network, &endpoint).await? {
            state.insert_endpoint(endpoint);
            return Ok(false);
        }
        self.replumb_endpoint(state, sandbox, endpoint).await?;
        Ok(true)
    }

    /// Recreates an endpoint's interface that vanished (someone deleted the veth, or the
    /// bridge went and took its ports): removes what is left of it, attaches it again with the
    /// same addresses and name, persists it, and restores the default route it carried.
    pub(crate) async fn replumb_endpoint(
        &self,
        state: &mut State,
        sandbox: &Sandbox,
        mut endpoint: Endpoint,
    ) -> Result<()> {
        let network = network_of(state, &endpoint)?;
        let (Some(netlink), Some(ifname)) = (
            state.sandbox_links.get(&sandbox.id).cloned(),
            endpoint.ifname.clone(),
        ) else {
            state.insert_endpoint(endpoint);
            return Ok(());
        };
        let driver = state
            .drivers
            .get_mut(&network.driver)
            .ok_or_else(|| Error::not_found("driver is gone"))?;
        let _ = driver.detach(&network, &endpoint).await;
        if let Some(stale) = netlink.link_by_name(&ifname).await? {
            netlink.del_link(stale.index).await?;
        }
        let link = SandboxLink {
            netns: &sandbox.netns,
            netlink: &netlink,
            ifname: &ifname,
        };
        let info = driver.attach(&network, &endpoint, &link).await?;
        endpoint.host_ifname = info.host_ifname;
        tracing::warn!(endpoint = %endpoint.id.short(), "interface was missing; re-plumbed it");
        let mut batch = Batch::default();
        batch.put(Kind::Endpoint, endpoint.id.as_str(), &endpoint);
        self.commit(&batch)?;
        let id = endpoint.id.clone();
        state.insert_endpoint(endpoint);
        // The default route went with the old interface only where this endpoint carried it.
        let current = super::gateway::select(state, &sandbox.id);
        let before = (
            current.0.filter(|g| g != &id),
            current.1.filter(|g| g != &id),
        );
        super::gateway::program(state, &sandbox.id, &before)
            .await
            .map(|_| ())
    }

    /// `none`, `host` and `bridge` always exist.
    async fn ensure_predefined(&self, state: &mut State) -> Result<()> {
        for (name, driver) in [("none", "null"), ("host", "host")] {
            if !state.network_names.contains_key(name) {
                let network = predefined(name, driver, BTreeMap::new(), Vec::new(), None);
                self.persist_predefined(state, network).await?;
            }
        }
        let wanted = self.default_bridge_network();
        let current = state
            .network_names
            .get("bridge")
            .map(|id| state.networks[id].clone());
        match current {
            Some(n) if n.options == wanted.options && n.ipam_requests == wanted.ipam_requests => {}
            Some(n) if state.network_in_use(&n.id) => {
                tracing::warn!(
                    "the default bridge's settings changed but it has endpoints; keeping the old settings"
                );
            }
            Some(n) => {
                tracing::info!("the default bridge's settings changed; recreating it");
                let mut batch = Batch::default();
                batch.delete(Kind::Network, n.id.as_str());
                self.commit(&batch)?;
                state.remove_network(&n.id);
                if let Some(driver) = state.drivers.get_mut("bridge") {
                    driver.delete_network(&n).await?;
                }
                ipam_alloc::release_network(state, &n).await;
                self.persist_predefined(state, wanted).await?;
            }
            None => self.persist_predefined(state, wanted).await?,
        }
        Ok(())
    }

    async fn persist_predefined(&self, state: &mut State, mut network: Network) -> Result<()> {
        let mut undo = Undo::default();
        let others: Vec<Network> = state.networks.values().cloned().collect();
        let others: Vec<&Network> = others.iter().collect();
        let result = async {
            if network.driver == "bridge" {
                ipam_alloc::allocate_network(state, &mut network, (false, false), &[], &mut undo)
                    .await?;
                let driver = state.drivers.get_mut("bridge").expect("bridge driver");
                network.adopted_device = driver.create_network(&network, &others).await?;
            }
            let mut batch = Batch::default();
            batch.put(Kind::Network, network.id.as_str(), &network);
            self.commit(&batch)
        }
        .await;
        match result {
            Ok(()) => {
                undo.commit();
                state.insert_network(network);
                Ok(())
            }
            Err(e) => {
                undo.rollback(state).await;
                Err(e.context("creating the default bridge network"))
            }
        }
    }

    fn default_bridge_network(&self) -> Network {
        let cfg = &self.config.default_bridge;
        let options = BTreeMap::from([
            (
                labels::BRIDGE_DEFAULT_BRIDGE.to_string(),
                "true".to_string(),
            ),
            (labels::BRIDGE_ENABLE_ICC.to_string(), cfg.icc.to_string()),
            (
                labels::BRIDGE_ENABLE_IP_MASQUERADE.to_string(),
                cfg.ip_masq.to_string(),
            ),
            (
                labels::BRIDGE_HOST_BINDING_IPV4.to_string(),
                "0.0.0.0".to_string(),
            ),
            (labels::BRIDGE_NAME.to_string(), cfg.name.clone()),
            (labels::MTU.to_string(), cfg.mtu.to_string()),
        ]);
        let request = match (cfg.bip, cfg.fixed_cidr) {
            (None, None) => None,
            (bip, fixed) => Some(IpamRequest {
                subnet: bip.map(|b| b.trunc()).or(fixed),
                ip_range: fixed,
                gateway: bip.map(|b| b.addr()),
                aux_addresses: BTreeMap::new(),
            }),
        };
        predefined(
            "bridge",
            "bridge",
            options,
            request.into_iter().collect(),
            None,
        )
    }

    /// Removes what cnm made that no record owns (see `doctor::strays`).
    async fn sweep(&self, state: &mut State, report: &mut StartReport) {
        for stray in self.strays(state).await {
            match &stray {
                super::doctor::Stray::Namespace(_) => report.swept_namespaces += 1,
                super::doctor::Stray::Link { .. } => report.swept_links += 1,
                super::doctor::Stray::SandboxFiles(_) => {}
            }
            if let Err(e) = self.remove_stray(state, &stray).await {
                tracing::warn!(error = %e, "removing a leftover");
            }
        }
    }
}

/// Whether the network's IPAM driver wants its allocations replayed at start-up
/// (`RequiresRequestReplay`; the default driver does, plugins say so themselves).
fn replays(state: &State, network: &Network) -> bool {
    state
        .ipams
        .get(&network.ipam_driver)
        .is_some_and(|d| d.capabilities().requires_request_replay)
}

fn group_endpoints(endpoints: Vec<Endpoint>) -> BTreeMap<Id, Vec<Endpoint>> {
    let mut map: BTreeMap<Id, Vec<Endpoint>> = BTreeMap::new();
    for e in endpoints {
        map.entry(e.sandbox.clone()).or_default().push(e);
    }
    map
}

fn predefined(
    name: &str,
    driver: &str,
    options: BTreeMap<String, String>,
    requests: Vec<IpamRequest>,
    ipam_options: Option<BTreeMap<String, String>>,
) -> Network {
    Network {
        id: Id::random(),
        name: name.to_string(),
        created: now_rfc3339(),
        driver: driver.to_string(),
        scope: "local".to_string(),
        ipam_driver: "default".to_string(),
        ipam_options,
        ipam_requests: requests,
        ipam_v4: Vec::new(),
        ipam_v6: Vec::new(),
        enable_ipv4: true,
        enable_ipv6: false,
        internal: false,
        attachable: false,
        ingress: false,
        config_only: false,
        config_from: None,
        options,
        labels: BTreeMap::new(),
        predefined: true,
        adopted_device: false,
    }
}

/// The network an endpoint belongs to, or why the endpoint cannot be restored.
fn network_of(state: &State, endpoint: &Endpoint) -> Result<Network> {
    state
        .networks
        .get(&endpoint.network)
        .cloned()
        .ok_or_else(|| {
            Error::not_found(format!("network {} of endpoint is gone", endpoint.network))
        })
}
