//! Network operations: create, delete, prune, and the read paths (spec §1.3, §1.4, §6.4).

use std::collections::BTreeMap;

use cnm_types::Id;
use ipnet::IpNet;

use super::spec::NetworkSpec;
use super::undo::{Step, Undo};
use super::views::NetworkView;
use super::{Controller, Lookup, State, ipam_alloc};
use crate::error::{Error, Result};
use crate::model::{Network, now_rfc3339};
use crate::store::{Batch, Kind};

/// The label and time conditions of `POST /networks/prune`.
#[derive(Clone, Debug, Default)]
pub struct PruneFilter {
    /// Only networks created before this RFC 3339 time.
    pub until: Option<String>,
    /// `key` or `key=value` that must all match.
    pub labels: Vec<String>,
    /// `key` or `key=value` that must not match.
    pub labels_not: Vec<String>,
}

pub fn label_matches(labels: &BTreeMap<String, String>, filter: &str) -> bool {
    match filter.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
        None => labels.contains_key(filter),
    }
}

impl Controller {
    /// Host prefixes a dynamic pool must avoid: nameservers and connected IPv4 routes.
    async fn exclude_list(&self) -> Vec<IpNet> {
        let mut out: Vec<IpNet> = super::etc::host_nameservers(&self.config.host_resolv_conf)
            .into_iter()
            .map(IpNet::from)
            .collect();
        if let Some(routes) = &self.link_routes {
            out.extend(routes.snapshot());
        } else if let Some(host) = &self.host {
            match host.link_scope_routes_v4().await {
                Ok(routes) => out.extend(routes),
                Err(e) => {
                    tracing::warn!(error = %e, "listing host routes for the pool exclude list")
                }
            }
        }
        out
    }

    pub async fn create_network(&self, spec: NetworkSpec) -> Result<Network> {
        let exclude = self.exclude_list().await;
        // Plugins load before the lock is taken; a name conflict is still reported first.
        let driver = (!spec.config_only).then_some(spec.driver.as_str());
        let plugins = self.ensure_plugins(driver, Some(&spec.ipam_driver)).await;
        let mut state = self.state.lock().await;
        if state.network_names.contains_key(&spec.name) {
            return Err(Error::conflict(format!(
                "network with name {} already exists",
                spec.name
            )));
        }
        plugins?;
        let network = build_network(&state, spec)?;
        let mut undo = Undo::default();
        match self
            .create_in_state(&mut state, network, &exclude, &mut undo)
            .await
        {
            Ok(network) => {
                undo.commit();
                Ok(network)
            }
            Err(e) => {
                undo.rollback(&mut state).await;
                Err(e)
            }
        }
    }

    async fn create_in_state(
        &self,
        state: &mut State,
        mut network: Network,
        exclude: &[IpNet],
        undo: &mut Undo,
    ) -> Result<Network> {
        if !network.config_only {
            let driver = state
                .drivers
                .get(&network.driver)
                .expect("driver checked by build_network");
            let others: Vec<&Network> = state.networks.values().collect();
            driver.validate(&network, &others)?;
            let skip = driver.skip_gateway_checked(&network).await?;
            let needs_real_pools = driver.needs_real_pools();
            if driver.allocates_addresses() {
                ipam_alloc::allocate_network(state, &mut network, skip, exclude, undo).await?;
                if needs_real_pools {
                    ipam_alloc::check_pools_not_empty(&network)?;
                }
            }
            // Borrow the records and the drivers separately: no copy of every network.
            let State {
                networks, drivers, ..
            } = &mut *state;
            let others: Vec<&Network> = networks.values().collect();
            let driver = drivers
                .get_mut(&network.driver)
                .expect("driver checked by build_network");
            network.adopted_device = driver.create_network(&network, &others).await?;
            undo.push(Step::DeleteNetwork(Box::new(network.clone())));
        }
        let mut batch = Batch::default();
        batch.put(Kind::Network, network.id.as_str(), &network);
        self.commit(&batch)?;
        state.insert_network(network.clone());
        tracing::info!(network = %network.name, id = %network.id.short(), driver = %network.driver, "network created");
        Ok(network)
    }

    pub async fn delete_network(&self, term: &str) -> Result<()> {
        // Docker refuses to delete a network whose plugin is gone; cnm deletes it and says so.
        if let Err(e) = self.ensure_network_plugins(term).await {
            tracing::warn!(network = term, error = %e, "removing the network without telling its plugin");
        }
        let mut state = self.state.lock().await;
        let id = state.find_network(term, Lookup::Delete)?;
        let network = state.networks[&id].clone();
        if network.predefined {
            return Err(Error::forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                network.name
            )));
        }
        check_removable(&state, &network).map_err(|e| e.context("error while removing network"))?;
        self.remove_network_in_state(&mut state, &network).await
    }

    /// Persists the removal first, then tears down the data plane and IPAM. A crash between
    /// the two leaves kernel leftovers that the start-up sweep removes.
    async fn remove_network_in_state(&self, state: &mut State, network: &Network) -> Result<()> {
        let mut batch = Batch::default();
        batch.delete(Kind::Network, network.id.as_str());
        self.commit(&batch)?;
        state.remove_network(&network.id);
        self.refresh_records(state);
        if !network.config_only {
            if let Some(driver) = state.drivers.get_mut(&network.driver)
                && let Err(e) = driver.delete_network(network).await
            {
                tracing::warn!(network = %network.name, error = %e, "driver teardown failed; the next start sweeps it");
            }
            ipam_alloc::release_network(state, network).await;
        }
        tracing::info!(network = %network.name, id = %network.id.short(), "network removed");
        Ok(())
    }

    /// Removes every unused, non-predefined network that matches; returns their names.
    pub async fn prune_networks(&self, filter: &PruneFilter) -> Result<Vec<String>> {
        let mut state = self.state.lock().await;
        if state.pruning {
            return Err(Error::conflict("a prune operation is already running"));
        }
        let candidates: Vec<Network> = state
            .networks
            .values()
            .filter(|n| !n.predefined && !n.config_only && !state.network_in_use(&n.id))
            .filter(|n| {
                filter
                    .until
                    .as_ref()
                    .is_none_or(|until| n.created.as_str() < until.as_str())
            })
            .filter(|n| filter.labels.iter().all(|l| label_matches(&n.labels, l)))
            .filter(|n| {
                !filter
                    .labels_not
                    .iter()
                    .any(|l| label_matches(&n.labels, l))
            })
            .cloned()
            .collect();
        state.pruning = true;
        let mut removed = Vec::new();
        for network in candidates {
            if check_removable(&state, &network).is_err() {
                continue;
            }
            match self.remove_network_in_state(&mut state, &network).await {
                Ok(()) => removed.push(network.name.clone()),
                Err(e) => {
                    tracing::warn!(network = %network.name, error = %e, "prune could not remove network")
                }
            }
        }
        state.pruning = false;
        Ok(removed)
    }

    pub async fn network(&self, term: &str) -> Result<NetworkView> {
        let state = self.state.lock().await;
        let id = state.find_network(term, Lookup::Inspect)?;
        Ok(NetworkView::build(&state, &state.networks[&id]))
    }

    pub async fn networks(&self) -> Vec<NetworkView> {
        let state = self.state.lock().await;
        state
            .networks
            .values()
            .map(|n| NetworkView::build(&state, n))
            .collect()
    }

    /// The body of `GET /networks` (a JSON array and a newline, as Docker sends it), joined
    /// from items serialized when each network was stored: what `docker network ls` calls
    /// costs a filter pass and a copy, not a serialization of every network.
    pub async fn list_networks_json(
        &self,
        accept: impl Fn(&Network, bool) -> bool,
        legacy: bool,
    ) -> Vec<u8> {
        let state = self.state.lock().await;
        let mut out = Vec::with_capacity(1024);
        out.push(b'[');
        for n in state
            .networks
            .values()
            .filter(|n| accept(n, state.network_in_use(&n.id)))
        {
            if let Some((modern, old)) = state.network_list_items.get(&n.id) {
                if out.len() > 1 {
                    out.push(b',');
                }
                out.extend_from_slice(if legacy { old } else { modern });
            }
        }
        out.extend_from_slice(b"]\n");
        out
    }
}

fn check_removable(state: &State, network: &Network) -> Result<()> {
    if network.config_only
        && state
            .networks
            .values()
            .any(|n| n.config_from.as_deref() == Some(network.name.as_str()))
    {
        return Err(Error::forbidden(format!(
            "configuration network \"{}\" is in use",
            network.name
        )));
    }
    if state.network_in_use(&network.id) {
        return Err(Error::forbidden(format!(
            "network {} id {} has active endpoints",
            network.name, network.id
        )));
    }
    Ok(())
}

/// Turns a validated spec into a network record, resolving `--config-from` and the drivers.
fn build_network(state: &State, mut spec: NetworkSpec) -> Result<Network> {
    if let Some(from) = &spec.config_from {
        let source = state
            .network_names
            .get(from)
            .map(|id| &state.networks[id])
            .filter(|n| n.config_only)
            .ok_or_else(|| {
                Error::not_found(format!("configuration network \"{from}\" does not exist"))
            })?;
        spec.enable_ipv4 = source.enable_ipv4;
        spec.enable_ipv6 = source.enable_ipv6;
        spec.labels = source.labels.clone();
        spec.ipam_driver = source.ipam_driver.clone();
        spec.ipam_options = source.ipam_options.clone();
        spec.ipam_requests = source.ipam_requests.clone();
        spec.options = source.options.clone();
    }
    let driver = if spec.config_only {
        "null".to_string()
    } else {
        spec.driver.clone()
    };
    if !spec.config_only && state.drivers.get(&driver).is_none() {
        return Err(Error::not_found(format!("plugin \"{driver}\" not found")));
    }
    if !state.ipams.contains(&spec.ipam_driver) {
        return Err(Error::not_found(format!(
            "plugin \"{}\" not found",
            spec.ipam_driver
        )));
    }
    // Without an explicit scope, a network has its driver's data scope (plugins may be global).
    let scope = state
        .drivers
        .get(&driver)
        .map_or("local", |d| d.capability().data_scope);
    if !spec.config_only && (driver == "host" || driver == "null") {
        return Err(Error::forbidden(format!(
            "only one instance of \"{driver}\" network is allowed"
        )));
    }
    Ok(Network {
        id: Id::random(),
        name: spec.name,
        created: now_rfc3339(),
        driver,
        scope: spec.scope.unwrap_or_else(|| scope.to_string()),
        ipam_driver: spec.ipam_driver,
        ipam_options: spec.ipam_options,
        ipam_requests: spec.ipam_requests,
        ipam_v4: Vec::new(),
        ipam_v6: Vec::new(),
        enable_ipv4: spec.enable_ipv4,
        enable_ipv6: spec.enable_ipv6,
        internal: spec.internal,
        attachable: spec.attachable,
        ingress: spec.ingress,
        config_only: spec.config_only,
        config_from: spec.config_from,
        options: spec.options,
        labels: spec.labels,
        predefined: false,
        adopted_device: false,
    })
}
