//! Published ports of bridge endpoints (spec §3.3.6): host ports from the allocator, DNAT and
//! filter elements in the firewall, no process per port.
//!
//! Contract for the controller:
//! - `BridgeDriver::parse_port_bindings(&sandbox.port_bindings)` validates a request before
//!   anything is created (400 on bad input); call it when a sandbox is created or its requested
//!   bindings change.
//! - `program_ports(network, endpoint, specs)` publishes `specs` on the endpoint and returns
//!   the actual bindings (chosen host ports filled in) to store with the endpoint. Call it for
//!   the endpoint that becomes the sandbox's IPv4 gateway endpoint (as Docker, ports are
//!   published through the gateway endpoint only; its IPv6 bindings go with it when the
//!   endpoint has an IPv6 address). It replaces what the endpoint published before. One nft
//!   transaction for all ports of the call. On internal networks it publishes nothing and
//!   returns no bindings (Docker silently ignores `-p` there).
//! - `revoke_ports(network, endpoint)` unpublishes (idempotent): call it before the endpoint
//!   leaves, or when it stops being the gateway endpoint. `detach` does it too.
//! - `restore_ports(network, endpoint, stored)` after a daemon restart re-takes the stored
//!   bindings (sockets, allocator, firewall model) without changing the kernel's table;
//!   `finish_restore` then reconciles everything in one transaction.
//!
//! Per binding: the host address is the request's, else the network's `host_binding_ipv4`,
//! else `0.0.0.0`. An IPv4 binding is made when the endpoint has an IPv4 address and the host
//! address is IPv4; an IPv6 one (`[::]` for `0.0.0.0`) when the endpoint has an IPv6 address.
//! Both get the same host port. In gateway mode `routed` there is no DNAT and no host port:
//! the container port is opened to routed traffic (host address shown as `0.0.0.0`/`::`).
//! After publishing UDP ports, and after unpublishing them, UDP conntrack entries that would
//! bypass the new NAT state are deleted (`firewall::conntrack`).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use cnm_types::Id;
use cnm_types::sandbox::PortBinding;

use super::{BridgeDriver, GatewayMode};
use crate::error::{Error, Result};
use crate::firewall::{PortRule, conntrack};
use crate::model::{Endpoint, Network};
use crate::portmap::{self, Allocation, HostBinding, PortRange, PortSpec, Proto};

/// What an endpoint published.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointPorts {
    pub network: Id,
    pub bindings: Vec<PortBinding>,
    /// The endpoint's addresses (the DNAT targets).
    pub addresses: Vec<IpAddr>,
}

fn addresses_of(endpoint: &Endpoint) -> Vec<IpAddr> {
    [endpoint.addr_v4, endpoint.addr_v6]
        .into_iter()
        .flatten()
        .map(|a| a.addr())
        .collect()
}

fn udp_host_ports(bindings: &[PortBinding]) -> Vec<(u16, u16)> {
    bindings
        .iter()
        .filter(|b| b.proto == "udp" && b.host_port != 0)
        .map(|b| (b.host_port, b.host_port_end.max(b.host_port)))
        .collect()
}

/// Drops UDP flows that would bypass the new NAT state (see `firewall::conntrack`).
fn forget_udp_flows(host_ports: &[(u16, u16)], addresses: &[IpAddr]) {
    match conntrack::forget_udp(host_ports, addresses) {
        Ok(0) => {}
        Ok(n) => tracing::debug!(entries = n, "forgot stale UDP conntrack entries"),
        Err(e) => {
            tracing::warn!(error = %e, "cannot clean up UDP conntrack entries; stale flows expire on their own")
        }
    }
}

/// `NetworkSettings.Ports` of stored actual bindings (see `portmap::docker_ports`).
pub fn docker_ports_of(bindings: &[PortBinding]) -> BTreeMap<String, Vec<HostBinding>> {
    portmap::docker_ports(bindings)
}

/// One family's target of a spec: `(host address, container address, nat)`.
type Target = (IpAddr, IpAddr, bool);

fn targets(
    spec: &PortSpec,
    default_ip: Option<IpAddr>,
    endpoint: &Endpoint,
    modes: (GatewayMode, GatewayMode),
) -> Vec<Target> {
    let host_ip = spec
        .host_ip
        .or(default_ip)
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let mut out = Vec::new();
    if let (Some(addr), IpAddr::V4(_)) = (endpoint.addr_v4, host_ip) {
        let routed = modes.0 == GatewayMode::Routed;
        let ip = if routed {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            host_ip
        };
        out.push((ip, addr.addr(), !routed));
    }
    let v6_host = match host_ip {
        IpAddr::V6(_) => Some(host_ip),
        IpAddr::V4(v4) if v4.is_unspecified() => Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        IpAddr::V4(_) => None,
    };
    if let (Some(addr), Some(host)) = (endpoint.addr_v6, v6_host) {
        let routed = modes.1 == GatewayMode::Routed;
        let ip = if routed {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            host
        };
        out.push((ip, addr.addr(), !routed));
    }
    out
}

fn binding(
    proto: Proto,
    host_ip: IpAddr,
    host: Option<PortRange>,
    container: PortRange,
) -> PortBinding {
    PortBinding {
        proto: proto.as_str().to_string(),
        container_port: container.start,
        container_port_end: container.end,
        host_ip: host_ip.to_string(),
        host_port: host.map_or(0, |h| h.start),
        host_port_end: host.map_or(0, |h| h.end),
    }
}

fn rule(
    proto: Proto,
    host_ip: IpAddr,
    host: Option<PortRange>,
    container_ip: IpAddr,
    container: PortRange,
) -> PortRule {
    PortRule {
        proto: proto.number(),
        host_ip: (!host_ip.is_unspecified()).then_some(host_ip),
        host_ports: host.map_or((0, 0), |h| (h.start, h.end)),
        container_ip,
        container_ports: (container.start, container.end),
        nat: host.is_some(),
    }
}

impl BridgeDriver {
    /// Validates requested bindings (see `portmap::parse_port_bindings`).
    pub fn parse_port_bindings(bindings: &[PortBinding]) -> Result<Vec<PortSpec>> {
        if bindings.iter().any(|b| matches!(portmap::parse_host_ip(&b.host_ip), Ok(Some(ip)) if ip == Ipv6Addr::LOCALHOST)) {
            return Err(Error::invalid(
                "publishing on ::1 is not supported: the kernel cannot route ::1 to a container; use 127.0.0.1 or [::]",
            ));
        }
        portmap::parse_port_bindings(bindings)
    }

    /// The actual bindings an endpoint published, if any.
    pub fn published(&self, endpoint: &Id) -> Option<&EndpointPorts> {
        self.ports.get(endpoint)
    }

    /// Publishes `specs` on `endpoint` (see the module contract).
    pub async fn program_ports(
        &mut self,
        network: &Network,
        endpoint: &Endpoint,
        specs: &[PortSpec],
    ) -> Result<Vec<PortBinding>> {
        self.release_ports(&endpoint.id).await?;
        if network.internal || specs.is_empty() {
            return Ok(Vec::new());
        }
        let cfg = self
            .networks
            .get(&network.id)
            .map(|n| n.config.clone())
            .ok_or_else(|| Error::not_found(format!("No network ({}) exists", network.id)))?;
        let owner = endpoint.id.to_string();
        let mut actual = Vec::new();
        let mut rules = Vec::new();
        for spec in specs {
            let targets = targets(
                spec,
                cfg.host_binding_ipv4,
                endpoint,
                (cfg.gateway_mode_v4, cfg.gateway_mode_v6),
            );
            if targets.is_empty() {
                tracing::warn!(endpoint = %endpoint.id.short(), ?spec, "no address family of the endpoint matches the binding; skipped");
                continue;
            }
            let nat_ips: Vec<IpAddr> = targets.iter().filter(|t| t.2).map(|t| t.0).collect();
            let host = if nat_ips.is_empty() {
                None
            } else {
                match self.allocator.allocate(
                    &owner,
                    spec.proto,
                    &nat_ips,
                    spec.host,
                    spec.block_len(),
                ) {
                    Ok(range) => Some(range),
                    Err(e) => {
                        self.allocator.release(&owner);
                        return Err(e);
                    }
                }
            };
            for (host_ip, container_ip, nat) in targets {
                let host = if nat { host } else { None };
                actual.push(binding(spec.proto, host_ip, host, spec.container));
                rules.push(rule(
                    spec.proto,
                    host_ip,
                    host,
                    container_ip,
                    spec.container,
                ));
            }
        }
        if let Err(e) = self.firewall.lock().await.set_ports(&owner, rules).await {
            self.allocator.release(&owner);
            return Err(e.into());
        }
        self.ports.insert(
            endpoint.id.clone(),
            EndpointPorts {
                network: network.id.clone(),
                bindings: actual.clone(),
                addresses: addresses_of(endpoint),
            },
        );
        let udp = udp_host_ports(&actual);
        if !udp.is_empty() {
            forget_udp_flows(&udp, &addresses_of(endpoint));
        }
        Ok(actual)
    }

    /// Unpublishes everything `endpoint` published (nothing to do is fine).
    pub async fn revoke_ports(&mut self, _network: &Network, endpoint: &Endpoint) -> Result<()> {
        self.release_ports(&endpoint.id).await
    }

    pub(super) async fn release_ports(&mut self, endpoint: &Id) -> Result<()> {
        if !self.ports.contains_key(endpoint) {
            return Ok(());
        }
        let owner = endpoint.to_string();
        self.firewall
            .lock()
            .await
            .set_ports(&owner, Vec::new())
            .await?;
        self.allocator.release(&owner);
        if let Some(gone) = self.ports.remove(endpoint)
            && !udp_host_ports(&gone.bindings).is_empty()
        {
            forget_udp_flows(&[], &gone.addresses);
        }
        Ok(())
    }

    /// Re-takes bindings stored before a restart (see the module contract).
    pub async fn restore_ports(
        &mut self,
        network: &Network,
        endpoint: &Endpoint,
        stored: &[PortBinding],
    ) -> Result<()> {
        let owner = endpoint.id.to_string();
        let mut rules = Vec::new();
        for b in stored {
            let proto = Proto::parse(&b.proto)?;
            let host_ip: IpAddr = b.host_ip.parse().map_err(|_| {
                Error::internal(format!("stored binding has host IP {:?}", b.host_ip))
            })?;
            let container_ip = if host_ip.is_ipv4() {
                endpoint.addr_v4
            } else {
                endpoint.addr_v6
            }
            .map(|a| a.addr())
            .ok_or_else(|| {
                Error::internal(format!(
                    "endpoint {} lost the address family of a stored binding",
                    endpoint.id.short()
                ))
            })?;
            let container =
                PortRange::new(b.container_port, b.container_port_end.max(b.container_port));
            let host = (b.host_port != 0)
                .then(|| PortRange::new(b.host_port, b.host_port_end.max(b.host_port)));
            if let Some(ports) = host {
                self.allocator.restore(
                    &owner,
                    &Allocation {
                        proto,
                        host_ip,
                        ports,
                    },
                );
            }
            rules.push(rule(proto, host_ip, host, container_ip, container));
        }
        self.firewall.lock().await.remember_ports(&owner, rules);
        self.ports.insert(
            endpoint.id.clone(),
            EndpointPorts {
                network: network.id.clone(),
                bindings: stored.to_vec(),
                addresses: addresses_of(endpoint),
            },
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(v4: Option<&str>, v6: Option<&str>) -> Endpoint {
        // From JSON, so fields the record gains later (with serde defaults) need no change.
        serde_json::from_value(serde_json::json!({
            "id": Id::random(), "name": "e", "network": Id::random(), "sandbox": Id::random(),
            "addr_v4": v4, "addr_v6": v6, "pool_v4": null, "pool_v6": null, "mac": null,
            "aliases": [], "links": [], "dns_names": [], "driver_opts": {}, "gw_priority": 0,
            "host_ifname": null, "ifname": null, "gateway_v4": null, "gateway_v6": null,
            "static_v4": null, "static_v6": null,
        }))
        .unwrap()
    }

    fn spec(host_ip: Option<&str>) -> PortSpec {
        PortSpec {
            proto: Proto::Tcp,
            container: PortRange::new(80, 80),
            host_ip: host_ip.map(|i| i.parse().unwrap()),
            host: PortRange::new(8080, 8080),
        }
    }

    const NAT: (GatewayMode, GatewayMode) = (GatewayMode::Nat, GatewayMode::Nat);

    #[test]
    fn wildcard_bindings_cover_both_families_of_a_dual_stack_endpoint() {
        let e = endpoint(Some("172.18.0.2/16"), Some("fd00::2/64"));
        let t = targets(&spec(None), None, &e, NAT);
        assert_eq!(
            t,
            vec![
                (
                    "0.0.0.0".parse().unwrap(),
                    "172.18.0.2".parse().unwrap(),
                    true
                ),
                ("::".parse().unwrap(), "fd00::2".parse().unwrap(), true)
            ]
        );
        // A specific IPv4 host address: IPv4 only. The network default applies when none is given.
        assert_eq!(targets(&spec(Some("127.0.0.1")), None, &e, NAT).len(), 1);
        assert_eq!(
            targets(&spec(None), Some("127.0.0.1".parse().unwrap()), &e, NAT).len(),
            1
        );
        // An IPv6 host address and an IPv4-only endpoint: nothing (no proxy across families).
        assert!(
            targets(
                &spec(Some("::")),
                None,
                &endpoint(Some("172.18.0.2/16"), None),
                NAT
            )
            .is_empty()
        );
    }

    #[test]
    fn routed_mode_opens_the_container_port_without_nat() {
        let e = endpoint(Some("172.18.0.2/16"), None);
        let t = targets(
            &spec(Some("127.0.0.1")),
            None,
            &e,
            (GatewayMode::Routed, GatewayMode::Nat),
        );
        assert_eq!(
            t,
            vec![(
                "0.0.0.0".parse().unwrap(),
                "172.18.0.2".parse().unwrap(),
                false
            )]
        );
        let r = rule(Proto::Udp, t[0].0, None, t[0].1, PortRange::new(53, 53));
        assert_eq!((r.nat, r.host_ip, r.proto), (false, None, 17));
        let b = binding(Proto::Udp, t[0].0, None, PortRange::new(53, 53));
        assert_eq!((b.host_ip.as_str(), b.host_port), ("0.0.0.0", 0));
    }

    #[test]
    fn loopback_v6_is_refused_with_a_reason() {
        let b = PortBinding {
            proto: "tcp".into(),
            container_port: 80,
            host_ip: "::1".into(),
            host_port: 8080,
            ..Default::default()
        };
        let e = BridgeDriver::parse_port_bindings(&[b]).unwrap_err();
        assert!(e.message.contains("::1 is not supported"), "{e}");
    }
}
