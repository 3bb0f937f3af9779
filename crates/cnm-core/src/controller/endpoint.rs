//! Connect and disconnect: an endpoint joins a sandbox to a network (spec §1.5, §1.7–1.9).
//!
//! Order on connect: validate → IPAM addresses → driver attach (interface created inside
//! the sandbox) → default routes → hosts file → persist. Disconnect persists first, then
//! detaches and releases, so a crash never leaves a record without its interface unrepaired.

use std::net::IpAddr;

use cnm_types::Id;
use cnm_types::engine::EndpointSettings;

use super::undo::{Step, Undo};
use super::{Controller, Lookup, State, etc, gateway, ipam_alloc};
use crate::driver::SandboxLink;
use crate::error::{Error, Result};
use crate::model::{Endpoint, Mac, Network, labels};
use crate::store::{Batch, Kind};

/// Parsed and checked `EndpointSettings`.
struct Request {
    ipv4: Option<IpAddr>,
    ipv6: Option<IpAddr>,
    settings: EndpointSettings,
    mac: Option<Mac>,
}

fn user_defined(network: &Network) -> bool {
    !network.predefined
}

/// Checks the settings in Docker's order; the first problem is the answer.
fn parse_settings(network: &Network, settings: EndpointSettings) -> Result<Request> {
    let mut errors = Vec::new();
    let ipam = settings.ipam_config.clone().unwrap_or_default();
    let mut parse = |text: &str, v6: bool| -> Option<IpAddr> {
        if text.is_empty() {
            return None;
        }
        match text.parse::<IpAddr>() {
            Ok(ip) if ip.is_ipv6() == v6 => Some(ip),
            _ => {
                errors.push(format!(
                    "invalid IPv{} address: {text}",
                    if v6 { 6 } else { 4 }
                ));
                None
            }
        }
    };
    let ipv4 = parse(&ipam.ipv4_address, false);
    let ipv6 = parse(&ipam.ipv6_address, true);
    for ll in &ipam.link_local_ips {
        if !ll.parse::<IpAddr>().is_ok_and(|ip| match ip {
            IpAddr::V4(a) => a.is_link_local(),
            IpAddr::V6(a) => a.segments()[0] & 0xffc0 == 0xfe80,
        }) {
            errors.push(format!("invalid link-local IP address: {ll}"));
        }
    }
    let static_ip = ipv4.is_some() || ipv6.is_some();
    if static_ip && !user_defined(network) {
        errors.push(
            "user specified IP address is supported on user defined networks only".to_string(),
        );
    } else if static_ip && !network.ipam_requests.iter().any(|r| r.subnet.is_some()) {
        errors.push(
            "user specified IP address is supported only when connecting to networks with user configured subnets"
                .to_string(),
        );
    }
    if !settings.aliases.is_empty() && !user_defined(network) {
        errors.push(
            "network-scoped alias is supported only for containers in user defined networks"
                .to_string(),
        );
    }
    let mac = match settings.mac_address.as_str() {
        "" => None,
        text => match Mac::parse(text) {
            Some(mac) => Some(mac),
            None => {
                errors.push(format!("invalid MAC address: {text}"));
                None
            }
        },
    };
    for link in &settings.links {
        if link.split(':').next().is_none_or(str::is_empty) {
            errors.push(format!("invalid link: {link}"));
        }
    }
    if let Some(first) = errors.into_iter().next() {
        return Err(Error::invalid(first));
    }
    Ok(Request {
        ipv4,
        ipv6,
        settings,
        mac,
    })
}

/// The interface name inside the sandbox: the `ifname` driver option, or the prefix with
/// the lowest index no existing interface uses.
fn choose_ifname(network: &Network, settings: &EndpointSettings, taken: &[String]) -> String {
    if let Some(name) = settings.driver_opts.get(labels::ENDPOINT_IFNAME) {
        return name.clone();
    }
    let prefix = network
        .options
        .get(labels::CONTAINER_IFACE_PREFIX)
        .map(String::as_str)
        .unwrap_or("eth");
    (0..)
        .map(|i| format!("{prefix}{i}"))
        .find(|n| !taken.contains(n))
        .expect("an unused name exists")
}

/// Docker's `DNSNames`: name, aliases, short id, hostname; only on user-defined networks.
fn dns_names(
    network: &Network,
    sandbox: &crate::model::Sandbox,
    aliases: &[String],
) -> Vec<String> {
    if !user_defined(network) {
        return Vec::new();
    }
    let mut names = vec![sandbox.name.clone()];
    names.extend(aliases.iter().cloned());
    names.push(sandbox.id.short().to_string());
    names.push(sandbox.hostname.clone());
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| !n.is_empty() && seen.insert(n.clone()));
    names
}

impl Controller {
    pub async fn connect(
        &self,
        network: &str,
        sandbox: &str,
        settings: EndpointSettings,
    ) -> Result<()> {
        self.ensure_network_plugins(network).await?;
        let mut state = self.state.lock().await;
        let sandbox_id = state.find_sandbox(sandbox)?;
        let network_id = state.find_network(network, Lookup::Inspect)?;
        self.connect_in_state(&mut state, &network_id, &sandbox_id, settings)
            .await
    }

    pub(crate) async fn connect_in_state(
        &self,
        state: &mut State,
        network_id: &Id,
        sandbox_id: &Id,
        settings: EndpointSettings,
    ) -> Result<()> {
        let network = state.networks[network_id].clone();
        let sandbox = state.sandboxes[sandbox_id].clone();
        if network.config_only {
            return Err(Error::forbidden(
                "cannot create endpoint on configuration-only network",
            ));
        }
        check_mode(state, &network, &sandbox)?;
        if state
            .endpoint_names
            .contains_key(&(network.id.clone(), sandbox.name.clone()))
        {
            return Err(Error::forbidden(format!(
                "endpoint with name {} already exists in network {}",
                sandbox.name, network.name
            )));
        }
        let request = parse_settings(&network, settings)?;
        let mut undo = Undo::default();
        let result = self
            .attach_endpoint(state, &network, &sandbox, request, &mut undo)
            .await;
        match result {
            Ok(()) => {
                undo.commit();
                Ok(())
            }
            Err(e) => {
                undo.rollback(state).await;
                Err(e)
            }
        }
    }

    async fn attach_endpoint(
        &self,
        state: &mut State,
        network: &Network,
        sandbox: &crate::model::Sandbox,
        request: Request,
        undo: &mut Undo,
    ) -> Result<()> {
        let driver_allocates = state
            .drivers
            .get(&network.driver)
            .is_some_and(|d| d.allocates_addresses());
        let mut endpoint = Endpoint {
            id: Id::random(),
            name: sandbox.name.clone(),
            network: network.id.clone(),
            sandbox: sandbox.id.clone(),
            addr_v4: None,
            addr_v6: None,
            pool_v4: None,
            pool_v6: None,
            mac: None,
            aliases: request.settings.aliases.clone(),
            links: request.settings.links.clone(),
            dns_names: dns_names(network, sandbox, &request.settings.aliases),
            driver_opts: request.settings.driver_opts.clone(),
            gw_priority: request.settings.gw_priority,
            host_ifname: None,
            ifname: None,
            gateway_v4: None,
            gateway_v6: None,
            ports: Vec::new(),
            static_v4: request.ipv4,
            static_v6: request.ipv6,
        };
        let assigns_mac = state
            .drivers
            .get(&network.driver)
            .is_some_and(|d| d.controller_assigns_mac());
        if driver_allocates {
            let ipam_options =
                ipam_alloc::endpoint_ipam_options(state, network, &mut endpoint, request.mac);
            if network.enable_ipv4
                && let Some((addr, pool)) = ipam_alloc::allocate_endpoint_address(
                    state,
                    network,
                    &endpoint.name,
                    request.ipv4,
                    false,
                    &ipam_options,
                    undo,
                )
                .await?
            {
                endpoint.addr_v4 = Some(addr);
                endpoint.pool_v4 = Some(pool);
            }
            if network.enable_ipv6
                && let Some((addr, pool)) = ipam_alloc::allocate_endpoint_address(
                    state,
                    network,
                    &endpoint.name,
                    request.ipv6,
                    true,
                    &ipam_options,
                    undo,
                )
                .await?
            {
                endpoint.addr_v6 = Some(addr);
                endpoint.pool_v6 = Some(pool);
            }
            endpoint.mac = endpoint
                .mac
                .or(request.mac)
                .or_else(|| assigns_mac.then(Mac::random));
        }
        let before = gateway::select(state, &sandbox.id);
        if let Some(netlink) = state.sandbox_links.get(&sandbox.id).cloned() {
            let taken: Vec<String> = netlink.links().await?.into_iter().map(|l| l.name).collect();
            let ifname = choose_ifname(network, &request.settings, &taken);
            let link = SandboxLink {
                netns: &sandbox.netns,
                netlink: &netlink,
                ifname: &ifname,
            };
            let driver = state
                .drivers
                .get_mut(&network.driver)
                .expect("network drivers exist");
            let info = driver.attach(network, &endpoint, &link).await?;
            if info.host_ifname.is_some() {
                endpoint.ifname = Some(ifname);
            }
            endpoint.host_ifname = info.host_ifname;
            endpoint.gateway_v4 = info.gateway_v4;
            endpoint.gateway_v6 = info.gateway_v6;
            if let Some(assigned) = driver.take_assigned_interface(&endpoint.id) {
                assigned.apply_to(&mut endpoint);
            }
            undo.push(Step::Detach {
                network: Box::new(network.clone()),
                endpoint: Box::new(endpoint.clone()),
            });
        }
        let mut updated = sandbox.clone();
        updated.endpoints.push(endpoint.id.clone());
        state.insert_endpoint(endpoint.clone());
        state.insert_sandbox(updated.clone());
        let had_resolver = self.resolver.is_serving(&sandbox.id);
        let finished = async {
            let changed = gateway::program(state, &sandbox.id, &before).await?;
            write_hosts(state, &updated)?;
            self.refresh_records(state);
            self.ensure_resolver(state, &sandbox.id).await?;
            let mut batch = Batch::default();
            for id in changed.iter().chain([&endpoint.id]) {
                if let Some(e) = state.endpoints.get(id) {
                    batch.put(Kind::Endpoint, id.as_str(), e);
                }
            }
            batch.put(Kind::Sandbox, updated.id.as_str(), &updated);
            self.commit(&batch)
        }
        .await;
        if let Err(e) = finished {
            if !had_resolver {
                self.resolver.stop(&sandbox.id).await;
            }
            state.remove_endpoint(&endpoint.id);
            state.insert_sandbox(sandbox.clone());
            self.refresh_records(state);
            return Err(e);
        }
        tracing::info!(network = %network.name, sandbox = %sandbox.name, endpoint = %endpoint.id.short(), "connected");
        Ok(())
    }

    pub async fn disconnect(&self, network: &str, sandbox: &str, force: bool) -> Result<()> {
        let mut state = self.state.lock().await;
        let network_id = state.find_network(network, Lookup::Inspect)?;
        let network_name = state.networks[&network_id].name.clone();
        let sandbox_id = match state.find_sandbox(sandbox) {
            Ok(id) => id,
            Err(_) if force => {
                // A stale endpoint named like the (gone) sandbox is removed.
                let Some(eid) = state
                    .endpoint_names
                    .get(&(network_id.clone(), sandbox.to_string()))
                    .cloned()
                else {
                    return Err(Error::not_found(format!("endpoint {sandbox} not found")));
                };
                state.endpoints[&eid].sandbox.clone()
            }
            Err(e) => return Err(e),
        };
        let endpoint = state
            .endpoints
            .values()
            .find(|e| e.network == network_id && e.sandbox == sandbox_id)
            .cloned()
            .ok_or_else(|| {
                Error::internal(format!(
                    "container {sandbox_id} is not connected to network {network_name}"
                ))
            })?;
        self.detach_endpoint(&mut state, &endpoint).await
    }

    /// Removes one endpoint: persist, detach, release, reroute. Used by disconnect, sandbox
    /// removal and the start-up sweep.
    pub(crate) async fn detach_endpoint(
        &self,
        state: &mut State,
        endpoint: &Endpoint,
    ) -> Result<()> {
        let before = gateway::select(state, &endpoint.sandbox);
        let mut batch = Batch::default();
        batch.delete(Kind::Endpoint, endpoint.id.as_str());
        let sandbox = state
            .sandboxes
            .get(&endpoint.sandbox)
            .cloned()
            .map(|mut s| {
                s.endpoints.retain(|id| id != &endpoint.id);
                s
            });
        if let Some(s) = &sandbox {
            batch.put(Kind::Sandbox, s.id.as_str(), s);
        }
        self.commit(&batch)?;
        super::failpoint::hit("detach:removal-committed");
        state.remove_endpoint(&endpoint.id);
        if let Some(s) = sandbox {
            state.insert_sandbox(s);
        }
        self.refresh_records(state);
        let network = state.networks.get(&endpoint.network).cloned();
        if let Some(network) = &network
            && let Some(driver) = state.drivers.get_mut(&network.driver)
            && let Err(e) = driver.detach(network, endpoint).await
        {
            tracing::warn!(endpoint = %endpoint.id.short(), error = %e, "detach failed; the next start sweeps it");
        }
        if let Some(network) = &network
            && let Ok(ipam) = state.ipams.get_mut(&network.ipam_driver)
        {
            for (addr, pool) in [
                (endpoint.addr_v4, &endpoint.pool_v4),
                (endpoint.addr_v6, &endpoint.pool_v6),
            ] {
                if let (Some(addr), Some(pool)) = (addr, pool)
                    && let Err(e) = ipam.release_address(pool, addr.addr()).await
                {
                    tracing::warn!(endpoint = %endpoint.id.short(), error = %e, "releasing address");
                }
            }
        }
        if state.sandboxes.contains_key(&endpoint.sandbox) {
            match gateway::program(state, &endpoint.sandbox, &before).await {
                Ok(changed) => {
                    let mut batch = Batch::default();
                    for e in changed.iter().filter_map(|id| state.endpoints.get(id)) {
                        batch.put(Kind::Endpoint, e.id.as_str(), e);
                    }
                    self.commit(&batch)?;
                }
                Err(e) => {
                    tracing::warn!(sandbox = %endpoint.sandbox.short(), error = %e, "moving default routes and ports")
                }
            }
            let sb = state.sandboxes[&endpoint.sandbox].clone();
            write_hosts(state, &sb)?;
        }
        tracing::info!(endpoint = %endpoint.id.short(), "disconnected");
        Ok(())
    }
}

/// Host and none networks exclude every other network (spec §3.1–3.2).
fn check_mode(state: &State, network: &Network, sandbox: &crate::model::Sandbox) -> Result<()> {
    let drivers: Vec<&str> = sandbox
        .endpoints
        .iter()
        .filter_map(|id| state.endpoints.get(id))
        .filter_map(|e| state.networks.get(&e.network))
        .map(|n| n.driver.as_str())
        .collect();
    if network.driver == "host" && !drivers.is_empty() {
        return Err(Error::invalid(
            "cannot connect container to host network - container must be created in host network mode",
        ));
    }
    if drivers.contains(&"host") {
        return Err(Error::invalid(
            "container sharing network namespace with another container or host cannot be connected to any other network",
        ));
    }
    if (network.driver == "null" && !drivers.is_empty()) || drivers.contains(&"null") {
        return Err(Error::invalid(
            "container cannot be connected to multiple networks with one of the networks in private (none) mode",
        ));
    }
    Ok(())
}

/// Rewrites a sandbox's hosts file from its endpoints' addresses.
pub(crate) fn write_hosts(state: &State, sandbox: &crate::model::Sandbox) -> Result<()> {
    if sandbox.hosts.as_os_str().is_empty() {
        return Ok(());
    }
    let addresses: Vec<IpAddr> = sandbox
        .endpoints
        .iter()
        .filter_map(|id| state.endpoints.get(id))
        .flat_map(|e| [e.addr_v4, e.addr_v6])
        .flatten()
        .map(|a| a.addr())
        .collect();
    etc::write_hosts(&sandbox.hosts, &sandbox.hostname, &addresses)
}
