//! Wiring the embedded resolver to the state (spec §8): which sandboxes get one, the name
//! table it answers from, and the resolv.conf that points at it.
//!
//! Contract: after every change to endpoints, sandboxes or networks, the controller calls
//! `refresh_records`, which rebuilds the whole table and swaps it in (readers never see half
//! an update). A sandbox gets a resolver the first time it joins a user-defined network, and
//! its resolv.conf then names 127.0.0.11; sandboxes only on the default bridge keep the
//! host's nameservers, as Docker's containers there do.

use std::net::{IpAddr, SocketAddr};

use cnm_types::Id;
use ipnet::IpNet;

use super::{Controller, State};
use crate::error::Result;
use crate::model::{Network, Sandbox};
use crate::resolver::{HostResolvConf, RecordTable, ResolvConfSpec, upstreams_on_port_53};

/// User-defined networks get service discovery; predefined ones and host/null do not.
pub(crate) fn has_discovery(network: &Network) -> bool {
    !network.predefined && network.driver != "host" && network.driver != "null"
}

/// The name table for every sandbox and network.
pub(crate) fn records(state: &State) -> RecordTable {
    let mut builder = RecordTable::builder();
    for network in state.networks.values().filter(|n| has_discovery(n)) {
        builder.add_network(network.id.clone(), &network.name);
    }
    for sandbox in state.sandboxes.values() {
        for id in &sandbox.endpoints {
            let Some(e) = state.endpoints.get(id) else {
                continue;
            };
            if !state.networks.get(&e.network).is_some_and(has_discovery) {
                continue;
            }
            let v4 = e.addr_v4.and_then(|a| match a {
                IpNet::V4(n) => Some(n.addr()),
                IpNet::V6(_) => None,
            });
            let v6 = e.addr_v6.and_then(|a| match a {
                IpNet::V6(n) => Some(n.addr()),
                IpNet::V4(_) => None,
            });
            builder.add_endpoint(
                e.network.clone(),
                sandbox.id.clone(),
                e.dns_names.clone(),
                v4,
                v6,
            );
        }
    }
    builder.build()
}

/// The sandbox's own `--dns` servers, parsed (validated at create).
fn sandbox_dns(sandbox: &Sandbox) -> Vec<IpAddr> {
    sandbox.dns.iter().filter_map(|d| d.parse().ok()).collect()
}

impl Controller {
    pub(crate) fn refresh_records(&self, state: &State) {
        self.resolver.set_records(records(state));
    }

    /// Starts the sandbox's resolver if it has a user-defined network and none runs yet, and
    /// points its resolv.conf at it.
    pub(crate) async fn ensure_resolver(&self, state: &State, sandbox_id: &Id) -> Result<()> {
        let Some(sandbox) = state.sandboxes.get(sandbox_id) else {
            return Ok(());
        };
        let wants = sandbox
            .endpoints
            .iter()
            .filter_map(|id| state.endpoints.get(id))
            .any(|e| state.networks.get(&e.network).is_some_and(has_discovery));
        if !wants || self.resolver.is_serving(sandbox_id) {
            return Ok(());
        }
        let own = sandbox_dns(sandbox);
        let upstreams: Option<Vec<SocketAddr>> =
            (!own.is_empty()).then(|| upstreams_on_port_53(&own));
        self.resolver
            .start(sandbox_id, &sandbox.netns, upstreams)
            .await?;
        let host = HostResolvConf::load(&self.config.host_resolv_conf).unwrap_or_default();
        let dns = if own.is_empty() {
            self.config.dns.clone()
        } else {
            own
        };
        let spec = ResolvConfSpec {
            host: &host,
            dns: (!dns.is_empty()).then_some(dns.as_slice()),
            dns_search: None,
            dns_options: None,
        };
        super::etc::write_file(&sandbox.resolv_conf, &spec.render())
    }
}
