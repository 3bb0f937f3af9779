//! Read-only snapshots of state, and their Engine API shapes.
//!
//! Contract: a view is a consistent copy taken under the state lock; converting it to wire
//! types happens after the lock is released.

use std::collections::BTreeMap;

use cnm_types::engine::{self, EndpointResource, EndpointSettings};
use cnm_types::sandbox as wire;

use super::State;
use crate::model::{Endpoint, IpamInfo, Network, Sandbox};

/// How many objects the state holds (for metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub networks: usize,
    pub sandboxes: usize,
    pub endpoints: usize,
}

#[derive(Clone, Debug)]
pub struct EndpointView {
    pub endpoint: Endpoint,
    pub network_name: String,
}

#[derive(Clone, Debug)]
pub struct NetworkView {
    pub network: Network,
    pub endpoints: Vec<Endpoint>,
    /// `(subnet, in use, dynamic available)` per pool.
    pub status: Vec<(String, u64, u64)>,
}

#[derive(Clone, Debug)]
pub struct SandboxView {
    pub sandbox: Sandbox,
    pub endpoints: Vec<EndpointView>,
}

impl NetworkView {
    pub(crate) fn build(state: &State, network: &Network) -> Self {
        let endpoints = state
            .endpoints_of(&network.id)
            .into_iter()
            .cloned()
            .collect();
        let status = network
            .all_ipam()
            .filter_map(|i| {
                let driver = state.ipams.get(&network.ipam_driver)?;
                driver
                    .pool_status(&i.pool_id)
                    .map(|s| (i.pool.to_string(), s.ips_in_use, s.dynamic_ips_available))
            })
            .collect();
        NetworkView {
            network: network.clone(),
            endpoints,
            status,
        }
    }

    /// The network as `GET /networks/{id}` shows it; list items leave out `Containers`.
    /// `legacy` is for clients older than API 1.48, which Docker 20.10–27 served: they did
    /// not fill in the gateway of a subnet the user configured.
    pub fn to_engine(&self, with_containers: bool, legacy: bool) -> engine::Network {
        let endpoints: Vec<&Endpoint> = self.endpoints.iter().collect();
        network_to_engine(
            &self.network,
            with_containers.then_some(endpoints.as_slice()),
            legacy,
        )
    }
}

/// A network's `GET /networks` item in the current and the legacy (API < 1.48) shape.
pub(crate) fn list_item_json(n: &Network) -> (Vec<u8>, Vec<u8>) {
    let modern = network_to_engine(n, None, false);
    let legacy = engine::LegacyNetwork::from(network_to_engine(n, None, true));
    (
        serde_json::to_vec(&modern).expect("serializable"),
        serde_json::to_vec(&legacy).expect("serializable"),
    )
}

/// A network in the Engine API's shape; `containers` is `None` for list items.
pub fn network_to_engine(
    n: &Network,
    containers: Option<&[&Endpoint]>,
    legacy: bool,
) -> engine::Network {
    let containers = containers.map(|endpoints| {
        endpoints
            .iter()
            .map(|e| {
                let resource = EndpointResource {
                    name: e.name.clone(),
                    endpoint_id: e.id.to_string(),
                    mac_address: e.mac.map(|m| m.to_string()).unwrap_or_default(),
                    ipv4_address: e.addr_v4.map(|a| a.to_string()).unwrap_or_default(),
                    ipv6_address: e.addr_v6.map(|a| a.to_string()).unwrap_or_default(),
                };
                (e.sandbox.to_string(), resource)
            })
            .collect::<BTreeMap<_, _>>()
    });
    engine::Network {
        name: n.name.clone(),
        id: n.id.to_string(),
        created: n.created.clone(),
        scope: n.scope.clone(),
        driver: n.driver.clone(),
        enable_ipv4: n.enable_ipv4,
        enable_ipv6: n.enable_ipv6,
        ipam: engine::Ipam {
            driver: n.ipam_driver.clone(),
            options: n.ipam_options.clone(),
            config: ipam_config(n, legacy),
        },
        internal: n.internal,
        attachable: n.attachable,
        ingress: n.ingress,
        config_from: engine::ConfigReference {
            network: n.config_from.clone().unwrap_or_default(),
        },
        config_only: n.config_only,
        options: n.options.clone(),
        labels: n.labels.clone(),
        containers,
        status: None,
    }
}

/// `IPAM.Config`: the user's entries with the allocated subnet and gateway filled in, or the
/// allocated pools when the user gave none; `null` for networks without allocation.
fn ipam_config(n: &Network, legacy: bool) -> Option<Vec<engine::IpamConfig>> {
    if n.config_only {
        return Some(n.ipam_requests.iter().map(request_config).collect());
    }
    if n.driver == "host" || n.driver == "null" {
        return None;
    }
    Some(
        n.all_ipam()
            .map(|info| allocated_config(n, info, legacy))
            .collect(),
    )
}

fn request_config(r: &crate::model::IpamRequest) -> engine::IpamConfig {
    engine::IpamConfig {
        subnet: r.subnet.map(|s| s.to_string()).unwrap_or_default(),
        ip_range: r.ip_range.map(|s| s.to_string()).unwrap_or_default(),
        gateway: r.gateway.map(|s| s.to_string()).unwrap_or_default(),
        auxiliary_addresses: r
            .aux_addresses
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect(),
    }
}

fn allocated_config(n: &Network, info: &IpamInfo, legacy: bool) -> engine::IpamConfig {
    let mut cfg = match info.request.and_then(|i| n.ipam_requests.get(i)) {
        Some(r) => request_config(r),
        None => engine::IpamConfig::default(),
    };
    let user_subnet = !cfg.subnet.is_empty();
    if !user_subnet {
        cfg.subnet = info.pool.to_string();
    }
    if cfg.gateway.is_empty()
        && !(legacy && user_subnet)
        && let Some(gw) = info.gateway
    {
        cfg.gateway = gw.addr().to_string();
    }
    cfg
}

impl SandboxView {
    pub(crate) fn build(state: &State, sandbox: &Sandbox) -> Self {
        let endpoints = sandbox
            .endpoints
            .iter()
            .filter_map(|id| state.endpoints.get(id))
            .map(|e| EndpointView {
                endpoint: e.clone(),
                network_name: state
                    .networks
                    .get(&e.network)
                    .map(|n| n.name.clone())
                    .unwrap_or_default(),
            })
            .collect();
        SandboxView {
            sandbox: sandbox.clone(),
            endpoints,
        }
    }

    /// Published ports of the sandbox, from whichever endpoint publishes them.
    fn ports(&self) -> BTreeMap<String, Vec<wire::PortMapping>> {
        let mut out: BTreeMap<String, Vec<wire::PortMapping>> = BTreeMap::new();
        for binding in self.endpoints.iter().flat_map(|v| v.endpoint.ports.iter()) {
            for (key, mapping) in binding.mappings() {
                out.entry(key).or_default().push(mapping);
            }
        }
        out
    }

    pub fn to_wire(&self) -> wire::Sandbox {
        let s = &self.sandbox;
        let networks = self
            .endpoints
            .iter()
            .map(|v| (v.network_name.clone(), endpoint_settings(&v.endpoint)))
            .collect();
        wire::Sandbox {
            id: s.id.to_string(),
            name: s.name.clone(),
            created: s.created.clone(),
            hostname: s.hostname.clone(),
            external: s.external,
            resolv_conf_path: s.resolv_conf.display().to_string(),
            hosts_path: s.hosts.display().to_string(),
            network_settings: wire::NetworkSettings {
                sandbox_key: s.netns.display().to_string(),
                ports: self.ports(),
                networks,
            },
        }
    }
}

fn endpoint_settings(e: &Endpoint) -> EndpointSettings {
    let ipam_config =
        (e.static_v4.is_some() || e.static_v6.is_some()).then(|| engine::EndpointIpamConfig {
            ipv4_address: e.static_v4.map(|a| a.to_string()).unwrap_or_default(),
            ipv6_address: e.static_v6.map(|a| a.to_string()).unwrap_or_default(),
            link_local_ips: Vec::new(),
        });
    EndpointSettings {
        ipam_config,
        links: e.links.clone(),
        aliases: e.aliases.clone(),
        mac_address: e.mac.map(|m| m.to_string()).unwrap_or_default(),
        driver_opts: e.driver_opts.clone(),
        gw_priority: e.gw_priority,
        network_id: e.network.to_string(),
        endpoint_id: e.id.to_string(),
        gateway: e.gateway_v4.map(|g| g.to_string()).unwrap_or_default(),
        ip_address: e.addr_v4.map(|a| a.addr().to_string()).unwrap_or_default(),
        ip_prefix_len: e.addr_v4.map(|a| a.prefix_len()).unwrap_or_default(),
        ipv6_gateway: e.gateway_v6.map(|g| g.to_string()).unwrap_or_default(),
        global_ipv6_address: e.addr_v6.map(|a| a.addr().to_string()).unwrap_or_default(),
        global_ipv6_prefix_len: e.addr_v6.map(|a| a.prefix_len()).unwrap_or_default(),
        dns_names: e.dns_names.clone(),
    }
}
