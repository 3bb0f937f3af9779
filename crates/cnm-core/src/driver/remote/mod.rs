//! The remote network driver (spec §5.2): a plugin speaking `NetworkDriver.*`.
//!
//! Contract:
//! - `RemoteDriver::load` asks `GetCapabilities` once (scope must be `local` or `global`;
//!   connectivity scope defaults to the scope).
//! - Network create: `GwAllocCheck` (before IPAM, only when the plugin asked for it) →
//!   `AllocateNetwork` (global-scope plugins: cnm plays the swarm manager's role; the answered
//!   options are merged into CreateNetwork's generic options) → `CreateNetwork` with IPv4/IPv6
//!   data. Delete: `DeleteNetwork` → `FreeNetwork` (global scope). A restart calls nothing:
//!   plugins keep their own state, as with Docker.
//! - Endpoints (`endpoint.rs`): attach = `CreateEndpoint` → `Join` → the handed-over
//!   interface moved into the sandbox and configured → `ProgramExternalConnectivity`; detach =
//!   `RevokeExternalConnectivity` → interface moved back to the daemon's namespace under its
//!   source name → `Leave` → `DeleteEndpoint`. A failure at any step undoes the earlier ones.
//! - The plugin's own errors (`Err`) read `remote: <msg>`, as in Docker.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use cnm_types::Id;
use cnm_types::plugin::{
    AllocateNetworkRequest, AllocateNetworkResponse, CapabilitiesResponse, CreateNetworkRequest,
    DISCOVERY_NODE, DiscoveryNotification, GwAllocCheckRequest, GwAllocCheckResponse, IpamData,
    NetworkIdRequest, NetworkResponse, NodeDiscoveryData, Options,
};
use ipnet::IpNet;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Capability;
use crate::error::Result;
use crate::model::{Endpoint, IpamInfo, Mac, Network, labels};
use crate::osl::Netlink;
use crate::plugins::{Plugin, PluginClient, PluginError};

mod endpoint;
mod plumb;

/// Responses of `NetworkDriver.*` carry their error in `Err`.
trait DriverAnswer {
    fn err(&self) -> &str;
}

macro_rules! driver_answer {
    ($($t:ty),*) => {$(impl DriverAnswer for $t { fn err(&self) -> &str { &self.err } })*};
}
driver_answer!(
    NetworkResponse,
    CapabilitiesResponse,
    GwAllocCheckResponse,
    AllocateNetworkResponse,
    cnm_types::plugin::CreateEndpointResponse,
    cnm_types::plugin::EndpointOperInfoResponse,
    cnm_types::plugin::JoinResponse
);

/// What the plugin decided about an endpoint's interface that the controller did not know:
/// addresses and MAC from `CreateEndpoint`, the final name inside the sandbox from `Join`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssignedInterface {
    pub addr_v4: Option<IpNet>,
    pub addr_v6: Option<IpNet>,
    pub mac: Option<Mac>,
    pub ifname: Option<String>,
}

impl AssignedInterface {
    /// Fills the endpoint record with what the plugin assigned.
    pub fn apply_to(self, endpoint: &mut Endpoint) {
        endpoint.addr_v4 = endpoint.addr_v4.or(self.addr_v4);
        endpoint.addr_v6 = endpoint.addr_v6.or(self.addr_v6);
        endpoint.mac = endpoint.mac.or(self.mac);
        if self.ifname.is_some() {
            endpoint.ifname = self.ifname;
        }
    }
}

/// What `Join` handed over, kept to undo it.
struct Joined {
    /// The sandbox's netlink connection and the interface's current name there.
    sandbox: Option<(Netlink, String)>,
    /// The plugin's name for the interface (restored when it goes back).
    src_name: Option<String>,
    external_connectivity: bool,
}

pub struct RemoteDriver {
    name: &'static str,
    client: PluginClient,
    capability: Capability,
    gw_alloc_checker: bool,
    /// Netlink in the daemon's namespace, where plugins create the interfaces they hand over.
    host: Netlink,
    /// `<exec-root>/netns`: finds a cnm sandbox's namespace after a restart.
    netns_dir: PathBuf,
    joined: HashMap<Id, Joined>,
    assigned: HashMap<Id, AssignedInterface>,
}

fn scope(value: &str) -> std::result::Result<&'static str, String> {
    match value {
        "local" => Ok("local"),
        "global" => Ok("global"),
        other => Err(format!(
            "invalid capability: expecting 'local' or 'global', got {other}"
        )),
    }
}

impl RemoteDriver {
    /// Asks the activated plugin for its capabilities.
    pub async fn load(plugin: &Plugin, host: Netlink, netns_dir: PathBuf) -> Result<Self> {
        let client = plugin.client.clone();
        let name: &'static str = Box::leak(client.name().to_string().into_boxed_str());
        let mut driver = RemoteDriver {
            name,
            client,
            capability: Capability {
                data_scope: "local",
                connectivity_scope: "local",
            },
            gw_alloc_checker: false,
            host,
            netns_dir,
            joined: HashMap::new(),
            assigned: HashMap::new(),
        };
        let caps: CapabilitiesResponse = driver.call("GetCapabilities", None::<&()>).await?;
        let bad = |reason: String| {
            driver
                .client
                .bad_response("NetworkDriver.GetCapabilities", &reason)
        };
        let data_scope = scope(&caps.scope).map_err(bad)?;
        let connectivity_scope = if caps.connectivity_scope.is_empty() {
            data_scope
        } else {
            scope(&caps.connectivity_scope).map_err(bad)?
        };
        driver.capability = Capability {
            data_scope,
            connectivity_scope,
        };
        driver.gw_alloc_checker = caps.gw_alloc_checker;
        Ok(driver)
    }

    /// The plugin's name, which is the driver's name (Docker's `Type()`). Leaked once per
    /// loaded plugin so `Driver::name` can stay `&'static str`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn capability(&self) -> Capability {
        self.capability
    }

    /// One `NetworkDriver.<method>` call; `Err` in the answer becomes `remote: <Err>`.
    async fn call<Req: Serialize, Resp: DeserializeOwned + Default + DriverAnswer>(
        &self,
        method: &str,
        request: Option<&Req>,
    ) -> Result<Resp> {
        let answer: Resp = self
            .client
            .call(&format!("NetworkDriver.{method}"), request)
            .await?;
        if !answer.err().is_empty() {
            return Err(PluginError::Remote(answer.err().to_string()).into());
        }
        Ok(answer)
    }

    fn bad(&self, method: &str, reason: impl Into<String>) -> crate::Error {
        self.client
            .bad_response(&format!("NetworkDriver.{method}"), &reason.into())
            .into()
    }

    /// `(skip IPv4 gateway, skip IPv6 gateway)`: `GwAllocCheck`, when the plugin wants it.
    pub async fn skip_gateway(&self, network: &Network) -> Result<(bool, bool)> {
        if !self.gw_alloc_checker {
            return Ok((false, false));
        }
        let request = GwAllocCheckRequest {
            options: generic_options(network, &[]),
        };
        let answer: GwAllocCheckResponse = self.call("GwAllocCheck", Some(&request)).await?;
        Ok((answer.skip_ipv4, answer.skip_ipv6))
    }

    pub async fn create_network(&mut self, network: &Network) -> Result<bool> {
        let global = self.capability.data_scope == "global";
        let mut extra = Vec::new();
        if global {
            let request = AllocateNetworkRequest {
                network_id: network.id.to_string(),
                options: network.options.clone(),
                ipv4_data: ipam_data(&network.ipam_v4),
                ipv6_data: ipam_data(&network.ipam_v6),
            };
            let answer: AllocateNetworkResponse =
                self.call("AllocateNetwork", Some(&request)).await?;
            extra = answer.options.into_iter().collect();
        }
        let request = CreateNetworkRequest {
            network_id: network.id.to_string(),
            options: generic_options(network, &extra),
            ipv4_data: ipam_data(&network.ipam_v4),
            ipv6_data: ipam_data(&network.ipam_v6),
        };
        if let Err(e) = self
            .call::<_, NetworkResponse>("CreateNetwork", Some(&request))
            .await
        {
            if global {
                self.free_network(network).await;
            }
            return Err(e);
        }
        Ok(false)
    }

    async fn free_network(&self, network: &Network) {
        let request = NetworkIdRequest {
            network_id: network.id.to_string(),
        };
        if let Err(e) = self
            .call::<_, NetworkResponse>("FreeNetwork", Some(&request))
            .await
        {
            tracing::warn!(plugin = self.name, network = %network.name, error = %e, "FreeNetwork failed");
        }
    }

    pub async fn delete_network(&mut self, network: &Network) -> Result<()> {
        let request = NetworkIdRequest {
            network_id: network.id.to_string(),
        };
        let result = self
            .call::<_, NetworkResponse>("DeleteNetwork", Some(&request))
            .await
            .map(drop);
        if self.capability.data_scope == "global" {
            self.free_network(network).await;
        }
        result
    }

    /// `DiscoverNew` (node discovery only, and only for global connectivity, as in Docker).
    /// Errors are the caller's to log: Docker only logs them.
    pub async fn discover_new(&self, node: &NodeDiscoveryData) -> Result<()> {
        self.discovery("DiscoverNew", node).await
    }

    pub async fn discover_delete(&self, node: &NodeDiscoveryData) -> Result<()> {
        self.discovery("DiscoverDelete", node).await
    }

    async fn discovery(&self, method: &str, node: &NodeDiscoveryData) -> Result<()> {
        if self.capability.connectivity_scope != "global" {
            return Ok(());
        }
        let request = DiscoveryNotification {
            discovery_type: DISCOVERY_NODE,
            discovery_data: serde_json::to_value(node).expect("serializable"),
        };
        self.call::<_, NetworkResponse>(method, Some(&request))
            .await
            .map(drop)
    }

    /// What the plugin assigned to the endpoint in its last attach (taken once).
    pub fn take_assigned(&mut self, endpoint: &Id) -> Option<AssignedInterface> {
        self.assigned.remove(endpoint)
    }
}

/// The network's generic options, as Docker sends them: typed flags at the top level, the
/// driver options (`-o`) as strings under `com.docker.network.generic` (trap 36).
fn generic_options(network: &Network, extra: &[(String, String)]) -> Options {
    let mut generic: serde_json::Map<String, Value> = network
        .options
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    for (k, v) in extra {
        generic.insert(k.clone(), Value::String(v.clone()));
    }
    let mut options = Options::new();
    options.insert(
        labels::ENABLE_IPV4.to_string(),
        Value::Bool(network.enable_ipv4),
    );
    options.insert(
        labels::ENABLE_IPV6.to_string(),
        Value::Bool(network.enable_ipv6),
    );
    options.insert(labels::GENERIC.to_string(), Value::Object(generic));
    if network.internal {
        options.insert("com.docker.network.internal".to_string(), Value::Bool(true));
    }
    options
}

/// `IPAMData` of a network's pools. The address space is the pool id's first segment
/// (`LocalDefault/172.18.0.0/16`, `null/0.0.0.0/0`), Docker's pool id convention.
fn ipam_data(infos: &[IpamInfo]) -> Vec<IpamData> {
    infos
        .iter()
        .map(|info| IpamData {
            address_space: info
                .pool_id
                .split('/')
                .next()
                .unwrap_or_default()
                .to_string(),
            pool: info.pool.to_string(),
            gateway: info.gateway.map(|g| g.to_string()).unwrap_or_default(),
            aux_addresses: info
                .aux_addresses
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
        })
        .collect()
}

/// Parses an address a plugin answered; `""` is none.
fn parse_or_none<T: std::str::FromStr>(text: &str) -> std::result::Result<Option<T>, ()> {
    if text.is_empty() {
        Ok(None)
    } else {
        text.parse().map(Some).map_err(|_| ())
    }
}

fn family_ok(addr: &IpAddr, v6: bool) -> bool {
    addr.is_ipv6() == v6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network() -> Network {
        let mut n: Network = serde_json::from_value(serde_json::json!({
            "id": Id::random(), "name": "n", "created": "", "driver": "p", "scope": "local",
            "ipam_driver": "default", "ipam_options": null, "ipam_requests": [],
            "ipam_v4": [{"pool_id": "LocalDefault/172.18.0.0/16", "pool": "172.18.0.0/16", "ip_range": null,
                         "gateway": "172.18.0.1/16", "gateway_reserved": true,
                         "aux_addresses": {"router": "172.18.1.5/16"}, "aux_reserved": [], "request": null}],
            "ipam_v6": [], "enable_ipv4": true, "enable_ipv6": false, "internal": true, "attachable": false,
            "ingress": false, "config_only": false, "config_from": null, "options": {"opt1": "drv1"},
            "labels": {}, "predefined": false
        }))
        .unwrap();
        n.name = "n".into();
        n
    }

    #[test]
    fn generic_options_mix_typed_flags_and_the_string_map() {
        let options = generic_options(&network(), &[("vni".into(), "4097".into())]);
        assert_eq!(
            Value::Object(options),
            serde_json::json!({
                "com.docker.network.enable_ipv4": true,
                "com.docker.network.enable_ipv6": false,
                "com.docker.network.generic": {"opt1": "drv1", "vni": "4097"},
                "com.docker.network.internal": true
            })
        );
    }

    #[test]
    fn ipam_data_carries_the_pool_prefix_on_gateway_and_aux() {
        let data = ipam_data(&network().ipam_v4);
        assert_eq!(
            serde_json::to_value(&data).unwrap(),
            serde_json::json!([{"AddressSpace": "LocalDefault", "Pool": "172.18.0.0/16",
                "Gateway": "172.18.0.1/16", "AuxAddresses": {"router": "172.18.1.5/16"}}])
        );
    }

    #[test]
    fn scopes_are_checked_with_dockers_message() {
        assert_eq!(scope("global"), Ok("global"));
        assert_eq!(
            scope("swarm").unwrap_err(),
            "invalid capability: expecting 'local' or 'global', got swarm"
        );
    }
}
