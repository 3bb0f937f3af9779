//! Endpoints of the remote driver: attach (`CreateEndpoint` → `Join` → interface into the
//! sandbox → `ProgramExternalConnectivity`) and detach (the reverse), spec §5.2.
//!
//! Contract: every step that succeeded is undone when a later one fails, so a failed attach
//! leaves the plugin, the sandbox and the daemon's namespace as they were (the plugin has been
//! told `Leave`/`DeleteEndpoint`). Answers are checked before anything is done with them:
//! addresses and MACs must parse and may only fill fields cnm left empty (or repeat them),
//! gateways and routes must parse, and the handed-over interface must exist.

use std::net::IpAddr;

use cnm_types::plugin::{
    CreateEndpointRequest, CreateEndpointResponse, EndpointIdRequest, EndpointInterface,
    EndpointOperInfoResponse, JoinRequest, JoinResponse, NetworkResponse, Options,
    ProgramExternalConnectivityRequest, ROUTE_CONNECTED, ROUTE_NEXTHOP,
};
use ipnet::IpNet;
use serde_json::Value;

use super::plumb::{self, Route};
use super::{AssignedInterface, Joined, RemoteDriver, family_ok, parse_or_none};
use crate::driver::{JoinInfo, SandboxLink};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Endpoint, Mac, Network};

/// What a `Join` answer means, checked.
struct JoinPlan {
    src_name: Option<String>,
    dst_prefix: String,
    gateway_v4: Option<IpAddr>,
    gateway_v6: Option<IpAddr>,
    routes: Vec<Route>,
}

fn ids(network: &Network, endpoint: &Endpoint) -> EndpointIdRequest {
    EndpointIdRequest {
        network_id: network.id.to_string(),
        endpoint_id: endpoint.id.to_string(),
    }
}

impl RemoteDriver {
    pub async fn attach(
        &mut self,
        network: &Network,
        endpoint: &Endpoint,
        sandbox: &SandboxLink<'_>,
    ) -> Result<JoinInfo> {
        let mut assigned = self.create_endpoint(network, endpoint).await.map_err(|e| {
            e.context(format!(
                "failed to create endpoint {} on network {}",
                endpoint.name, network.name
            ))
        })?;
        match self.join(network, endpoint, sandbox, &mut assigned).await {
            Ok(info) => {
                self.assigned.insert(endpoint.id.clone(), assigned);
                Ok(info)
            }
            Err(e) => {
                self.delete_endpoint(network, endpoint).await;
                Err(e)
            }
        }
    }

    /// `CreateEndpoint`, and what the plugin assigned. A bad answer is rolled back with
    /// `DeleteEndpoint`, as Docker does.
    async fn create_endpoint(
        &self,
        network: &Network,
        endpoint: &Endpoint,
    ) -> Result<AssignedInterface> {
        let request = CreateEndpointRequest {
            network_id: network.id.to_string(),
            endpoint_id: endpoint.id.to_string(),
            interface: EndpointInterface {
                address: endpoint.addr_v4.map(|a| a.to_string()).unwrap_or_default(),
                address_ipv6: endpoint.addr_v6.map(|a| a.to_string()).unwrap_or_default(),
                mac_address: endpoint.mac.map(|m| m.to_string()).unwrap_or_default(),
            },
            options: endpoint
                .driver_opts
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        };
        let answer: CreateEndpointResponse = self.call("CreateEndpoint", Some(&request)).await?;
        let checked = self.check_interface(endpoint, answer.interface.unwrap_or_default());
        if checked.is_err() {
            self.delete_endpoint(network, endpoint).await;
        }
        checked.map_err(|e| Error::new(e.kind, format!("{}; rolled back", e.message)))
    }

    /// The plugin may fill what cnm left empty; changing what cnm set is refused with
    /// Docker's messages (403).
    fn check_interface(
        &self,
        endpoint: &Endpoint,
        answer: EndpointInterface,
    ) -> Result<AssignedInterface> {
        let bad = |field: &str, value: &str| {
            self.bad("CreateEndpoint", format!("invalid {field} {value:?}"))
        };
        let addr_v4: Option<IpNet> =
            parse_or_none(&answer.address).map_err(|_| bad("Address", &answer.address))?;
        let addr_v6: Option<IpNet> = parse_or_none(&answer.address_ipv6)
            .map_err(|_| bad("AddressIPv6", &answer.address_ipv6))?;
        let mac = match answer.mac_address.as_str() {
            "" => None,
            text => Some(Mac::parse(text).ok_or_else(|| bad("MacAddress", text))?),
        };
        if addr_v4.is_some_and(|a| !family_ok(&a.addr(), false)) {
            return Err(bad("Address", &answer.address));
        }
        if addr_v6.is_some_and(|a| !family_ok(&a.addr(), true)) {
            return Err(bad("AddressIPv6", &answer.address_ipv6));
        }
        for (present, new) in [(endpoint.addr_v4, addr_v4), (endpoint.addr_v6, addr_v6)] {
            if let (Some(present), Some(new)) = (present, new)
                && present != new
            {
                return Err(Error::forbidden(format!(
                    "driver modified interface address: endpoint interface IP present ({present}). Cannot be modified with ({new})."
                )));
            }
        }
        if let (Some(present), Some(new)) = (endpoint.mac, mac)
            && present != new
        {
            return Err(Error::forbidden(format!(
                "driver modified interface MAC address: endpoint interface MAC address present ({present}). Cannot be modified with {new}."
            )));
        }
        Ok(AssignedInterface {
            addr_v4: endpoint.addr_v4.is_none().then_some(addr_v4).flatten(),
            addr_v6: endpoint.addr_v6.is_none().then_some(addr_v6).flatten(),
            mac: endpoint.mac.is_none().then_some(mac).flatten(),
            ifname: None,
        })
    }

    /// `Join`, then everything after it; a failure after a successful `Join` sends `Leave`.
    async fn join(
        &mut self,
        network: &Network,
        endpoint: &Endpoint,
        sandbox: &SandboxLink<'_>,
        assigned: &mut AssignedInterface,
    ) -> Result<JoinInfo> {
        let request = JoinRequest {
            network_id: network.id.to_string(),
            endpoint_id: endpoint.id.to_string(),
            sandbox_key: sandbox.netns.display().to_string(),
            options: Options::new(),
        };
        let answer: JoinResponse = self.call("Join", Some(&request)).await?;
        let result = async {
            let plan = self.check_join(answer)?;
            self.plumb_and_program(network, endpoint, sandbox, plan, assigned)
                .await
        }
        .await;
        if result.is_err() {
            self.leave(network, endpoint).await;
        }
        result
    }

    fn check_join(&self, answer: JoinResponse) -> Result<JoinPlan> {
        let gateway = |text: &str, v6: bool, field: &str| -> Result<Option<IpAddr>> {
            match parse_or_none::<IpAddr>(text) {
                Ok(ip) if ip.is_none_or(|ip| family_ok(&ip, v6)) => Ok(ip),
                _ => Err(self.bad("Join", format!("unable to parse {field} \"{text}\""))),
            }
        };
        let gateway_v4 = gateway(&answer.gateway, false, "Gateway")?;
        let gateway_v6 = gateway(&answer.gateway_ipv6, true, "GatewayIPv6")?;
        let mut routes = Vec::new();
        for route in &answer.static_routes {
            let bad = || self.bad("Join", format!("invalid static route {route:?}"));
            let destination: IpNet = route.destination.parse().map_err(|_| bad())?;
            let next_hop = match route.route_type {
                ROUTE_NEXTHOP => {
                    let hop: IpAddr = route.next_hop.parse().map_err(|_| bad())?;
                    if !family_ok(&hop, destination.addr().is_ipv6()) {
                        return Err(bad());
                    }
                    Some(hop)
                }
                ROUTE_CONNECTED => None,
                _ => return Err(bad()),
            };
            routes.push(Route {
                destination,
                next_hop,
            });
        }
        let (src_name, dst_prefix) = match answer.interface_name {
            Some(names) if !names.src_name.is_empty() => (Some(names.src_name), names.dst_prefix),
            _ => (None, String::new()),
        };
        Ok(JoinPlan {
            src_name,
            dst_prefix,
            gateway_v4,
            gateway_v6,
            routes,
        })
    }

    /// Moves and configures the handed-over interface, then programs external connectivity.
    async fn plumb_and_program(
        &mut self,
        network: &Network,
        endpoint: &Endpoint,
        sandbox: &SandboxLink<'_>,
        plan: JoinPlan,
        assigned: &mut AssignedInterface,
    ) -> Result<JoinInfo> {
        let mut moved = None;
        if let Some(src) = &plan.src_name {
            let Some(link) = self.host.link_by_name(src).await? else {
                return Err(self.bad(
                    "Join",
                    format!(
                        "interface \"{src}\" (SrcName) does not exist in the daemon's namespace"
                    ),
                ));
            };
            let ifname = plumb::final_name(sandbox, &plan.dst_prefix, endpoint).await?;
            let index = plumb::move_in(&self.host, &link, sandbox, &ifname).await?;
            let addresses: Vec<IpNet> = [
                endpoint.addr_v4.or(assigned.addr_v4),
                endpoint.addr_v6.or(assigned.addr_v6),
            ]
            .into_iter()
            .flatten()
            .collect();
            let mac = endpoint.mac.or(assigned.mac);
            if let Err(e) =
                plumb::configure(sandbox.netlink, index, &addresses, mac, &plan.routes).await
            {
                plumb::move_out(sandbox.netlink, index, src).await;
                return Err(e.context(format!(
                    "configuring interface {ifname} handed over by plugin \"{}\"",
                    self.name
                )));
            }
            assigned.ifname = Some(ifname.clone());
            moved = Some((index, ifname));
        }
        let has_default = plan.routes.iter().any(|r| r.destination.prefix_len() == 0);
        let gateway = plan.gateway_v4.is_some() || plan.gateway_v6.is_some() || has_default;
        let programmed = if gateway {
            self.program_external_connectivity(network, endpoint).await
        } else {
            Ok(false)
        };
        let external_connectivity = match programmed {
            Ok(done) => done,
            Err(e) => {
                if let (Some((index, _)), Some(src)) = (&moved, &plan.src_name) {
                    plumb::move_out(sandbox.netlink, *index, src).await;
                }
                return Err(e);
            }
        };
        let joined = Joined {
            sandbox: moved.map(|(_, ifname)| (sandbox.netlink.clone(), ifname)),
            src_name: plan.src_name.clone(),
            external_connectivity,
        };
        self.joined.insert(endpoint.id.clone(), joined);
        Ok(JoinInfo {
            gateway_v4: plan.gateway_v4,
            gateway_v6: plan.gateway_v6,
            host_ifname: plan.src_name,
        })
    }

    /// `ProgramExternalConnectivity`; `false` when the plugin does not implement it (404).
    async fn program_external_connectivity(
        &self,
        network: &Network,
        endpoint: &Endpoint,
    ) -> Result<bool> {
        let request = ProgramExternalConnectivityRequest {
            network_id: network.id.to_string(),
            endpoint_id: endpoint.id.to_string(),
            options: Options::new(),
        };
        match self
            .call::<_, NetworkResponse>("ProgramExternalConnectivity", Some(&request))
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.kind == ErrorKind::NotImplemented => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `RevokeExternalConnectivity` (if programmed) → interface back to the daemon's
    /// namespace → `Leave` → `DeleteEndpoint`. Every step runs; the first error is returned.
    pub async fn detach(&mut self, network: &Network, endpoint: &Endpoint) -> Result<()> {
        let joined = match self.joined.remove(&endpoint.id) {
            Some(joined) => joined,
            None => self.rediscover(endpoint).await,
        };
        let mut first_error = None;
        if joined.external_connectivity {
            match self
                .call::<_, NetworkResponse>(
                    "RevokeExternalConnectivity",
                    Some(&ids(network, endpoint)),
                )
                .await
            {
                Err(e) if e.kind != ErrorKind::NotImplemented => first_error = Some(e),
                _ => {}
            }
        }
        if let (Some((netlink, ifname)), Some(src)) = (&joined.sandbox, &joined.src_name)
            && let Ok(Some(link)) = netlink.link_by_name(ifname).await
        {
            plumb::move_out(netlink, link.index, src).await;
        }
        if let Err(e) = self
            .call::<_, NetworkResponse>("Leave", Some(&ids(network, endpoint)))
            .await
        {
            first_error.get_or_insert(e);
        }
        if let Err(e) = self
            .call::<_, NetworkResponse>("DeleteEndpoint", Some(&ids(network, endpoint)))
            .await
        {
            first_error.get_or_insert(e);
        }
        first_error.map_or(Ok(()), Err)
    }

    /// After a restart: the sandbox is cnm's namespace file named by the sandbox id (an adopted
    /// `--netns` path is not known any more; its interface then stays where it is).
    async fn rediscover(&self, endpoint: &Endpoint) -> Joined {
        let path = self.netns_dir.join(endpoint.sandbox.as_str());
        let sandbox = match (&endpoint.ifname, path.exists()) {
            (Some(ifname), true) => crate::osl::Netlink::open_in(&path)
                .ok()
                .map(|n| (n, ifname.clone())),
            _ => None,
        };
        Joined {
            sandbox,
            src_name: endpoint.host_ifname.clone(),
            external_connectivity: endpoint.gateway_v4.is_some() || endpoint.gateway_v6.is_some(),
        }
    }

    async fn leave(&self, network: &Network, endpoint: &Endpoint) {
        if let Err(e) = self
            .call::<_, NetworkResponse>("Leave", Some(&ids(network, endpoint)))
            .await
        {
            tracing::warn!(plugin = self.name, endpoint = %endpoint.id.short(), error = %e, "rollback: Leave failed");
        }
    }

    async fn delete_endpoint(&self, network: &Network, endpoint: &Endpoint) {
        if let Err(e) = self
            .call::<_, NetworkResponse>("DeleteEndpoint", Some(&ids(network, endpoint)))
            .await
        {
            tracing::warn!(plugin = self.name, endpoint = %endpoint.id.short(), error = %e, "rollback: DeleteEndpoint failed");
        }
    }

    /// `EndpointOperInfo`: the plugin's operational data for an endpoint.
    pub async fn endpoint_oper_info(
        &self,
        network: &Network,
        endpoint: &Endpoint,
    ) -> Result<Options> {
        let answer: EndpointOperInfoResponse = self
            .call("EndpointOperInfo", Some(&ids(network, endpoint)))
            .await?;
        Ok(answer.value)
    }
}
