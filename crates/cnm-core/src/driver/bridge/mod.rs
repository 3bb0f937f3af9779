//! The bridge driver (spec §3.3): a Linux bridge per network, a veth per endpoint, and the
//! network's policy in cnm's nftables table.
//!
//! Contract:
//! - `create_network` makes (or adopts) the bridge, puts the gateway addresses on it, sets the
//!   sysctls the policy needs (forwarding when `--ip-forward`, `route_localnet` on the bridge
//!   so 127.0.0.1 reaches published ports, `bridge-nf-call-ip*tables` for `enable_icc=false`)
//!   and adds the network's elements to the firewall in one transaction. On failure it removes
//!   what it made.
//! - `attach` creates the veth pair with its peer directly inside the sandbox under its final
//!   name, enslaves the host end, and configures addresses in the sandbox.
//! - Published ports (`ports.rs`) are programmed per endpoint; `detach` and `delete_network`
//!   release whatever ports their endpoints still hold.
//! - `check_and_repair` restores cnm's table after someone else changed or removed it; the
//!   daemon calls it every few seconds (cheap while nothing changed).
//! - A bridge that existed before its network is adopted: used, never deleted. The daemon's
//!   default bridge is never deleted either.

use std::collections::HashMap;
use std::net::IpAddr;

use cnm_types::Id;
use ipnet::IpNet;
use tokio::sync::Mutex;

use crate::error::{Error, ErrorKind, HasKind, Result};
use crate::firewall::{Firewall, NetworkPolicy};
use crate::model::{Endpoint, Network};
use crate::osl::netlink::{self, VethSpec};
use crate::osl::{Netlink, netns, sysctl};
use crate::portmap::PortAllocator;

use super::{JoinInfo, SandboxLink};

pub mod config;
mod doctor;
mod ports;

pub use config::{BridgeConfig, GatewayMode};
pub use ports::{EndpointPorts, docker_ports_of};

/// Daemon-wide settings of the bridge driver.
#[derive(Clone, Debug)]
pub struct BridgeSettings {
    /// `--ip-forward`: turn on forwarding when a network needs it.
    pub ip_forward: bool,
}

struct BridgeNetwork {
    config: BridgeConfig,
    index: u32,
    /// The device existed before the network: never delete it.
    adopted: bool,
}

pub struct BridgeDriver {
    settings: BridgeSettings,
    host: Netlink,
    /// Behind a lock so restore and the periodic repair can run from `&self`.
    firewall: Mutex<Firewall>,
    networks: HashMap<Id, BridgeNetwork>,
    allocator: PortAllocator,
    /// Published ports by endpoint.
    ports: HashMap<Id, EndpointPorts>,
}

fn random_veth_name() -> String {
    let n: u32 = rand::random();
    format!("veth{:07x}", n & 0x0fff_ffff)
}

const BR_NF_V4: &str = "net.bridge.bridge-nf-call-iptables";
const BR_NF_V6: &str = "net.bridge.bridge-nf-call-ip6tables";

/// Sets a sysctl unless it already has `value`; true when it changed it.
fn ensure_sysctl(key: &str, value: &str) -> Result<bool> {
    if sysctl::get(key)? == value {
        return Ok(false);
    }
    sysctl::set(key, value)?;
    Ok(true)
}

impl BridgeDriver {
    pub fn new(settings: BridgeSettings, host: Netlink) -> Self {
        BridgeDriver {
            settings,
            host,
            firewall: Mutex::new(Firewall::new()),
            networks: HashMap::new(),
            allocator: PortAllocator::new(),
            ports: HashMap::new(),
        }
    }

    pub fn config_of(&self, network: &Network) -> Result<BridgeConfig> {
        BridgeConfig::from_options(&network.options, network.id.as_str())
    }

    pub fn validate(&self, network: &Network, others: &[&Network]) -> Result<()> {
        let cfg = self.config_of(network)?;
        if !network.enable_ipv4 && !network.enable_ipv6 {
            return Err(Error::invalid("IPv4 or IPv6 must be enabled"));
        }
        for mode in [cfg.gateway_mode_v4, cfg.gateway_mode_v6] {
            if mode == GatewayMode::Isolated && !network.internal {
                return Err(Error::invalid(
                    "gateway mode 'isolated' can only be used for an internal network",
                ));
            }
        }
        // Traffic between ports of one bridge never reaches the IP layer's hooks without
        // br_netfilter; cnm does not load kernel modules.
        if !cfg.enable_icc && sysctl::get(BR_NF_V4).is_err() {
            return Err(Error::invalid(
                "com.docker.network.bridge.enable_icc=false needs the kernel's br_netfilter (modprobe br_netfilter)",
            ));
        }
        // The driver's own table of configs: no option parsing per other network.
        let taken = self
            .networks
            .iter()
            .find(|(id, n)| **id != network.id && n.config.bridge_name == cfg.bridge_name);
        if let Some((id, _)) = taken
            && let Some(other) = others.iter().find(|o| &o.id == id)
        {
            return Err(conflict(network, other, "networks have same bridge name"));
        }
        Ok(())
    }

    pub fn skip_gateway(&self, network: &Network) -> Result<(bool, bool)> {
        let cfg = self.config_of(network)?;
        let skip4 =
            cfg.gateway_mode_v4 == GatewayMode::Isolated || (cfg.inhibit_ipv4 && network.internal);
        let skip6 = cfg.gateway_mode_v6 == GatewayMode::Isolated;
        Ok((skip4, skip6))
    }

    /// Checks the allocated subnets against other bridge networks (spec §3.3.4 step 7).
    pub fn check_overlaps(&self, network: &Network, others: &[&Network]) -> Result<()> {
        if network.ipam_v4.len() > 1 || network.ipam_v6.len() > 1 {
            return Err(Error::forbidden(
                "bridge driver doesn't support multiple subnets",
            ));
        }
        for other in others
            .iter()
            .filter(|o| o.driver == "bridge" && o.id != network.id)
        {
            for (mine, theirs, fam) in [
                (network.subnet_v4(), other.subnet_v4(), "IPv4"),
                (network.subnet_v6(), other.subnet_v6(), "IPv6"),
            ] {
                if let (Some(a), Some(b)) = (mine, theirs)
                    && (a.pool.contains(&b.pool.network()) || b.pool.contains(&a.pool.network()))
                {
                    return Err(conflict(
                        network,
                        other,
                        &format!("networks have overlapping {fam}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The firewall's view of a network (spec §3.3.7–3.3.9, §3.3.12).
    pub fn policy_of(network: &Network, cfg: &BridgeConfig) -> NetworkPolicy {
        let subnet_v4 = match network.subnet_v4().map(|i| i.pool) {
            Some(IpNet::V4(n)) if network.enable_ipv4 => Some(n.trunc()),
            _ => None,
        };
        let subnet_v6 = match network.subnet_v6().map(|i| i.pool) {
            Some(IpNet::V6(n)) if network.enable_ipv6 => Some(n.trunc()),
            _ => None,
        };
        NetworkPolicy {
            bridge: cfg.bridge_name.clone(),
            subnet_v4,
            subnet_v6,
            icc: cfg.enable_icc,
            internal: network.internal,
            mode_v4: cfg.gateway_mode_v4,
            mode_v6: cfg.gateway_mode_v6,
            masquerade: cfg.enable_ip_masquerade,
            snat_v4: cfg.host_ipv4,
            snat_v6: cfg.host_ipv6,
            trusted: cfg.trusted_host_interfaces.clone(),
        }
    }

    /// The addresses the bridge carries: the gateways, unless inhibited or isolated.
    fn bridge_addresses(network: &Network, cfg: &BridgeConfig) -> Vec<IpNet> {
        let mut out = Vec::new();
        if !cfg.inhibit_ipv4 && cfg.gateway_mode_v4 != GatewayMode::Isolated {
            out.extend(network.subnet_v4().and_then(|i| i.gateway));
        }
        if cfg.gateway_mode_v6 != GatewayMode::Isolated {
            out.extend(network.subnet_v6().and_then(|i| i.gateway));
        }
        out
    }

    /// Creates the device if needed and makes its addresses and sysctls match. Returns the
    /// index, whether it was created, and the families whose forwarding cnm turned on.
    async fn ensure_bridge(
        &self,
        network: &Network,
        cfg: &BridgeConfig,
    ) -> Result<(u32, bool, Vec<bool>)> {
        let (index, created) = match self.host.link_by_name(&cfg.bridge_name).await? {
            Some(link) if link.kind.as_deref() == Some("bridge") => (link.index, false),
            Some(_) => {
                return Err(Error::forbidden(format!(
                    "device {} exists and is not a bridge",
                    cfg.bridge_name
                )));
            }
            None => (self.host.add_bridge(&cfg.bridge_name, cfg.mtu).await?, true),
        };
        match self.configure_bridge(network, cfg, index).await {
            Ok(forwarding) => Ok((index, created, forwarding)),
            Err(e) => {
                if created {
                    let _ = self.host.del_link(index).await;
                }
                Err(e)
            }
        }
    }

    async fn configure_bridge(
        &self,
        network: &Network,
        cfg: &BridgeConfig,
        index: u32,
    ) -> Result<Vec<bool>> {
        let name = &cfg.bridge_name;
        if network.enable_ipv6 {
            sysctl::set(&format!("net.ipv6.conf.{name}.disable_ipv6"), "0")?;
            sysctl::set(&format!("net.ipv6.conf.{name}.accept_ra"), "0")?;
            // The kernel sends no neighbor solicitation for a forwarded packet while the
            // bridge's link-local address is tentative, so for a second or two after the bridge
            // comes up, published ports and routed traffic over IPv6 would time out. cnm owns
            // the segment (the link-local comes from the bridge's random MAC): skip DAD.
            sysctl::set(&format!("net.ipv6.conf.{name}.accept_dad"), "0")?;
        }
        if network.enable_ipv4 && !network.internal {
            // The host reaches published ports on 127.0.0.1 through DNAT to a container, which
            // the kernel routes out of the bridge only with this (the firewall then
            // masquerades the loopback source, and drops 127/8 arriving from bridges).
            sysctl::set(&format!("net.ipv4.conf.{name}.route_localnet"), "1")?;
        }
        if !cfg.enable_icc {
            ensure_sysctl(BR_NF_V4, "1")?;
            if network.enable_ipv6 {
                ensure_sysctl(BR_NF_V6, "1")?;
            }
        }
        let present = self.host.addresses(index).await?;
        for addr in Self::bridge_addresses(network, cfg) {
            if !present.contains(&addr) {
                self.host.add_address(index, addr).await?;
            }
        }
        let mut turned_on = Vec::new();
        if self.settings.ip_forward && !network.internal {
            if network.enable_ipv4 && ensure_sysctl("net.ipv4.ip_forward", "1")? {
                turned_on.push(false);
            }
            if network.enable_ipv6 && ensure_sysctl("net.ipv6.conf.all.forwarding", "1")? {
                turned_on.push(true);
            }
        }
        self.host.set_up(index).await?;
        Ok(turned_on)
    }

    /// Returns whether the device was adopted (existed before).
    pub async fn create_network(&mut self, network: &Network, others: &[&Network]) -> Result<bool> {
        let cfg = self.config_of(network)?;
        self.check_overlaps(network, others)?;
        let (index, created, forwarding) = self.ensure_bridge(network, &cfg).await?;
        let result = async {
            let mut fw = self.firewall.lock().await;
            for v6 in forwarding {
                tracing::info!(
                    ipv6 = v6,
                    "cnm turned on forwarding; forwarding is limited to cnm's bridges"
                );
                fw.set_forward_guard(v6).await?;
            }
            fw.add_network(Self::policy_of(network, &cfg)).await
        }
        .await;
        if let Err(e) = result {
            if created {
                let _ = self.host.del_link(index).await;
            }
            return Err(e.into());
        }
        self.networks.insert(
            network.id.clone(),
            BridgeNetwork {
                config: cfg,
                index,
                adopted: !created,
            },
        );
        Ok(!created)
    }

    /// Restart path: recreate a missing bridge and remember the firewall elements; the
    /// kernel's table is reconciled once for everything by `finish_restore`.
    pub async fn restore_network(&mut self, network: &Network) -> Result<()> {
        let cfg = self.config_of(network)?;
        let existed = self.host.link_by_name(&cfg.bridge_name).await?.is_some();
        let (index, _, forwarding) = self.ensure_bridge(network, &cfg).await?;
        if !existed {
            tracing::warn!(network = %network.name, bridge = %cfg.bridge_name, "bridge was missing; recreated it");
        }
        let mut fw = self.firewall.lock().await;
        for v6 in forwarding {
            fw.remember_forward_guard(v6);
        }
        fw.remember_network(Self::policy_of(network, &cfg));
        drop(fw);
        let adopted = network.adopted_device;
        self.networks.insert(
            network.id.clone(),
            BridgeNetwork {
                config: cfg,
                index,
                adopted,
            },
        );
        Ok(())
    }

    /// Reconciles cnm's table with everything restored (networks and published ports) in one
    /// transaction. Call it once, after every `restore_network` and `restore_ports`.
    pub async fn finish_restore(&self) -> Result<()> {
        let notes = self.firewall.lock().await.reconcile().await?;
        if !notes.is_empty() {
            tracing::info!(changes = ?notes, "reconciled cnm's nftables table");
        }
        Ok(())
    }

    /// Restores cnm's table if someone changed or removed it; true when it had to. Cheap while
    /// nothing changed: call it every couple of seconds.
    pub async fn check_and_repair(&self) -> Result<bool> {
        Ok(self.firewall.lock().await.check_and_repair().await?)
    }

    pub async fn delete_network(&mut self, network: &Network) -> Result<()> {
        let Some(net) = self.networks.remove(&network.id) else {
            return Ok(());
        };
        let stale: Vec<Id> = self
            .ports
            .iter()
            .filter(|(_, p)| p.network == network.id)
            .map(|(id, _)| id.clone())
            .collect();
        for endpoint in stale {
            self.release_ports(&endpoint).await?;
        }
        self.firewall
            .lock()
            .await
            .remove_network(&net.config.bridge_name)
            .await?;
        if !net.adopted && !net.config.default_bridge {
            match netlink::delete_link_unlisted(net.index).await {
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                other => other?,
            }
        }
        Ok(())
    }

    pub async fn attach(
        &mut self,
        network: &Network,
        endpoint: &Endpoint,
        sandbox: &SandboxLink<'_>,
    ) -> Result<JoinInfo> {
        let net = self
            .networks
            .get(&network.id)
            .ok_or_else(|| Error::not_found(format!("No network ({}) exists", network.id)))?;
        let host_name = random_veth_name();
        let ns = netns::open(sandbox.netns)?;
        use std::os::fd::AsFd;
        let spec = VethSpec {
            host_name: &host_name,
            peer_name: sandbox.ifname,
            peer_netns: ns.as_fd(),
            peer_mac: endpoint.mac.map(|m| m.0),
            mtu: net.config.mtu,
            master: Some(net.index),
        };
        let (host_index, peer_index) = self.host.add_veth_pair(&spec).await?;
        // With br_netfilter, a sandbox's connection to a port it publishes itself is DNATed
        // at the bridge and sent back out of the port it came in by (Docker's hairpin mode).
        if let Err(e) = self.host.set_hairpin(host_index, true).await {
            let _ = self.host.del_link(host_index).await;
            return Err(e.into());
        }
        if let Err(e) = configure_peer(endpoint, sandbox, peer_index).await {
            let _ = self.host.del_link(host_index).await;
            return Err(e);
        }
        // A fresh veth end may not transmit until the kernel's deferred link-state work runs,
        // which can take up to a second under netlink load; looking the links up runs it now
        // (Linux >= 6.8), so the first packets of a new sandbox are not dropped.
        self.host.sync_link(host_index).await?;
        self.host.sync_link(net.index).await?;
        // An address used before by another sandbox may still sit in the host's neighbour cache
        // with the old MAC: forget it, so the host reaches the new sandbox at once.
        for addr in [endpoint.addr_v4, endpoint.addr_v6].into_iter().flatten() {
            self.host.forget_neighbour(net.index, addr.addr()).await?;
        }
        let gateway =
            |info: Option<&crate::model::IpamInfo>| info.and_then(|i| i.gateway).map(|g| g.addr());
        Ok(JoinInfo {
            gateway_v4: if network.internal {
                None
            } else {
                gateway(network.subnet_v4())
            },
            gateway_v6: if network.internal || endpoint.addr_v6.is_none() {
                None
            } else {
                gateway(network.subnet_v6())
            },
            host_ifname: Some(host_name),
        })
    }

    /// Removes the endpoint's interface and releases its published ports, if any.
    pub async fn detach(&mut self, _network: &Network, endpoint: &Endpoint) -> Result<()> {
        self.release_ports(&endpoint.id).await?;
        let Some(name) = &endpoint.host_ifname else {
            return Ok(());
        };
        if let Some(link) = self.host.link_by_name(name).await? {
            // Deleting one end of a veth unlists both before the kernel announces it.
            match netlink::delete_link_unlisted(link.index).await {
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                other => other?,
            }
        }
        Ok(())
    }

    pub async fn endpoint_intact(&self, network: &Network, endpoint: &Endpoint) -> Result<bool> {
        let (Some(name), Some(net)) = (&endpoint.host_ifname, self.networks.get(&network.id))
        else {
            return Ok(false);
        };
        Ok(matches!(self.host.link_by_name(name).await?, Some(l) if l.master == Some(net.index)))
    }

    /// Host-side bridges and veths this driver is responsible for, by name.
    pub fn bridge_names(&self) -> impl Iterator<Item = &str> {
        self.networks
            .values()
            .map(|n| n.config.bridge_name.as_str())
    }

    pub fn host(&self) -> &Netlink {
        &self.host
    }

    /// The nft script that would create cnm's whole table from nothing (diagnostics, tests).
    pub async fn firewall_script(&self) -> String {
        self.firewall.lock().await.fresh_script()
    }
}

async fn configure_peer(endpoint: &Endpoint, sandbox: &SandboxLink<'_>, index: u32) -> Result<()> {
    for addr in [endpoint.addr_v4, endpoint.addr_v6].into_iter().flatten() {
        sandbox.netlink.add_address(index, addr).await?;
    }
    sandbox.netlink.set_up(index).await?;
    Ok(())
}

/// Docker names the bridges, not the networks, in parentheses.
fn conflict(network: &Network, other: &Network, why: &str) -> Error {
    let bridge = |n: &Network| {
        BridgeConfig::from_options(&n.options, n.id.as_str())
            .map(|c| c.bridge_name)
            .unwrap_or_default()
    };
    Error::forbidden(format!(
        "cannot create network {} ({}): conflicts with network {} ({}): {why}",
        network.id,
        bridge(network),
        other.id,
        bridge(other)
    ))
}

/// The gateway an endpoint's default route should use, by family.
pub fn gateway_of(info: &JoinInfo, v6: bool) -> Option<IpAddr> {
    if v6 { info.gateway_v6 } else { info.gateway_v4 }
}
