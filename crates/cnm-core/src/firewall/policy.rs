//! What one network or one endpoint's published ports need from the firewall, and the set
//! elements that express it.
//!
//! Contract: `NetworkPolicy::elements` and `port_elements` are pure. Elements of different
//! networks never share a key (they contain the bridge name or the network's subnet, and
//! bridge subnets do not overlap); elements of different endpoints never share a key (they
//! contain the endpoint's address, or a host address/port the allocator gave to one endpoint
//! only). So adding or removing one network or one endpoint's ports is exactly the addition or
//! removal of its own elements.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::elements::{Data, FAMILY_V4, FAMILY_V6, Key, Part, any_addr};

/// Docker's gateway modes (`com.docker.network.bridge.gateway_mode_ipv4/6`, spec §3.3.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatewayMode {
    /// Masquerade out, DNAT published ports, drop direct access from outside.
    Nat,
    /// Like nat, but anything may enter the bridge.
    NatUnprotected,
    /// No NAT: published container ports (and ICMP) are open to routed traffic.
    Routed,
    /// Internal networks only: no gateway address for that family.
    Isolated,
}

/// The firewall's view of one bridge network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkPolicy {
    pub bridge: String,
    pub subnet_v4: Option<Ipv4Net>,
    pub subnet_v6: Option<Ipv6Net>,
    pub icc: bool,
    pub internal: bool,
    pub mode_v4: GatewayMode,
    pub mode_v6: GatewayMode,
    /// `enable_ip_masquerade` (the default bridge's `--ip-masq`).
    pub masquerade: bool,
    /// `com.docker.network.host_ipv4/6`: SNAT to this address instead of masquerading.
    pub snat_v4: Option<IpAddr>,
    pub snat_v6: Option<IpAddr>,
    /// Host interfaces allowed to reach container addresses directly.
    pub trusted: Vec<String>,
}

/// One published mapping, as the firewall needs it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortRule {
    pub proto: u8,
    /// `None`: every local address of the container address's family.
    pub host_ip: Option<IpAddr>,
    pub host_ports: (u16, u16),
    pub container_ip: IpAddr,
    pub container_ports: (u16, u16),
    /// False in gateway mode `routed`: no DNAT, only the container port is opened.
    pub nat: bool,
}

/// `(set or map name, key, data)`.
pub type Element = (&'static str, Key, Option<Data>);

fn el(set: &'static str, key: Vec<Part>) -> Element {
    (set, key, None)
}

impl NetworkPolicy {
    pub fn elements(&self) -> Vec<Element> {
        let bridge = Part::name(&self.bridge);
        let mut out = vec![el("bridges", vec![bridge.clone()])];
        let pair = vec![bridge.clone(), bridge.clone()];
        out.push(el(if self.icc { "same_icc" } else { "same_noicc" }, pair));
        if self.internal {
            out.push(el("internal", vec![bridge.clone()]));
        }
        for t in &self.trusted {
            out.push(el("trusted", vec![Part::name(t), bridge.clone()]));
        }
        let families: [(Option<IpNet>, GatewayMode, Option<IpAddr>, bool); 2] = [
            (
                self.subnet_v4.map(IpNet::V4),
                self.mode_v4,
                self.snat_v4,
                false,
            ),
            (
                self.subnet_v6.map(IpNet::V6),
                self.mode_v6,
                self.snat_v6,
                true,
            ),
        ];
        for (subnet, mode, snat, v6) in families {
            let Some(subnet) = subnet else { continue };
            let sfx = |v4: &'static str, v6name: &'static str| if v6 { v6name } else { v4 };
            let net = Part::net(subnet);
            let family = Part::Family(if v6 { FAMILY_V6 } else { FAMILY_V4 });
            out.push(el(
                sfx("own_v4", "own_v6"),
                vec![net.clone(), bridge.clone()],
            ));
            if self.internal {
                continue;
            }
            match mode {
                GatewayMode::Nat => {
                    out.push(el(sfx("protected_v4", "protected_v6"), vec![net.clone()]));
                    out.push(el(
                        sfx("direct_ok_v4", "direct_ok_v6"),
                        vec![net.clone(), bridge.clone()],
                    ));
                    for t in &self.trusted {
                        out.push(el(
                            sfx("direct_ok_v4", "direct_ok_v6"),
                            vec![net.clone(), Part::name(t)],
                        ));
                    }
                }
                GatewayMode::NatUnprotected => {
                    out.push(el("unprotected", vec![family, bridge.clone()]))
                }
                GatewayMode::Routed => out.push(el("routed", vec![family, bridge.clone()])),
                GatewayMode::Isolated => {}
            }
            if self.masquerade && matches!(mode, GatewayMode::Nat | GatewayMode::NatUnprotected) {
                match snat {
                    Some(to) => out.push((
                        sfx("snat_v4", "snat_v6"),
                        vec![net],
                        Some(vec![Part::addr(to)]),
                    )),
                    None => out.push(el(sfx("masq_v4", "masq_v6"), vec![net])),
                }
            }
        }
        out
    }
}

/// Merges overlapping or adjacent ranges (published container ports of one endpoint may
/// overlap: `-p 80:80 -p 8080:80`; interval sets refuse overlapping elements).
fn merge(mut ranges: Vec<(u16, u16)>) -> Vec<(u16, u16)> {
    ranges.sort();
    let mut out: Vec<(u16, u16)> = Vec::new();
    for (lo, hi) in ranges {
        match out.last_mut() {
            Some(last) if lo as u32 <= last.1 as u32 + 1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// The elements of one endpoint's published ports: single ports in hash maps and sets, port
/// ranges (one element each) in interval ones; a shifted range is one hash element per port.
pub fn port_elements(rules: &[PortRule]) -> Vec<Element> {
    let mut out = Vec::new();
    let mut published: BTreeMap<(IpAddr, u8), Vec<(u16, u16)>> = BTreeMap::new();
    for r in rules {
        let v6 = r.container_ip.is_ipv6();
        let sfx = |v4: &'static str, v6name: &'static str| if v6 { v6name } else { v4 };
        published
            .entry((r.container_ip, r.proto))
            .or_default()
            .push(r.container_ports);
        if !r.nat {
            continue;
        }
        let (lo, hi) = r.host_ports;
        if lo != hi && r.host_ports == r.container_ports {
            let host = r.host_ip.map(Part::addr).unwrap_or_else(|| any_addr(v6));
            let key = vec![host, Part::Proto(r.proto), Part::Port(lo, hi)];
            out.push((
                sfx("dnat_range_v4", "dnat_range_v6"),
                key,
                Some(vec![Part::addr(r.container_ip)]),
            ));
            continue;
        }
        for (i, hp) in (lo..=hi).enumerate() {
            let cp = r.container_ports.0 + i as u16;
            let data = Some(vec![Part::addr(r.container_ip), Part::Port(cp, cp)]);
            let port = [Part::Proto(r.proto), Part::Port(hp, hp)];
            match r.host_ip {
                Some(ip) => out.push((
                    sfx("dnat_v4", "dnat_v6"),
                    [vec![Part::addr(ip)], port.to_vec()].concat(),
                    data,
                )),
                None => out.push((sfx("dnat_any_v4", "dnat_any_v6"), port.to_vec(), data)),
            }
        }
    }
    for ((ip, proto), ranges) in published {
        for (lo, hi) in merge(ranges) {
            let set = match (ip.is_ipv6(), lo == hi) {
                (false, true) => "published_v4",
                (true, true) => "published_v6",
                (false, false) => "published_range_v4",
                (true, false) => "published_range_v6",
            };
            out.push(el(
                set,
                vec![Part::addr(ip), Part::Proto(proto), Part::Port(lo, hi)],
            ));
        }
    }
    out
}

/// The element that limits forwarding to cnm's bridges when cnm turned forwarding on.
pub fn guard_element(v6: bool) -> Element {
    el(
        "forward_guard",
        vec![Part::Family(if v6 { FAMILY_V6 } else { FAMILY_V4 })],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::elements::TCP;

    fn policy() -> NetworkPolicy {
        NetworkPolicy {
            bridge: "br-a".into(),
            subnet_v4: Some("172.18.0.0/16".parse().unwrap()),
            subnet_v6: None,
            icc: true,
            internal: false,
            mode_v4: GatewayMode::Nat,
            mode_v6: GatewayMode::Nat,
            masquerade: true,
            snat_v4: None,
            snat_v6: None,
            trusted: vec![],
        }
    }

    fn sets(els: &[Element]) -> Vec<&'static str> {
        els.iter().map(|e| e.0).collect()
    }

    #[test]
    fn nat_network_is_protected_and_masqueraded() {
        let s = sets(&policy().elements());
        assert_eq!(
            s,
            [
                "bridges",
                "same_icc",
                "own_v4",
                "protected_v4",
                "direct_ok_v4",
                "masq_v4"
            ]
        );
    }

    #[test]
    fn internal_network_has_no_way_out_and_no_nat() {
        let p = NetworkPolicy {
            internal: true,
            icc: false,
            ..policy()
        };
        assert_eq!(
            sets(&p.elements()),
            ["bridges", "same_noicc", "internal", "own_v4"]
        );
    }

    #[test]
    fn routed_and_unprotected_modes_and_snat() {
        let p = NetworkPolicy {
            mode_v4: GatewayMode::Routed,
            ..policy()
        };
        assert_eq!(
            sets(&p.elements()),
            ["bridges", "same_icc", "own_v4", "routed"]
        );
        let p = NetworkPolicy {
            mode_v4: GatewayMode::NatUnprotected,
            snat_v4: Some("10.0.0.1".parse().unwrap()),
            ..policy()
        };
        assert_eq!(
            sets(&p.elements()),
            ["bridges", "same_icc", "own_v4", "unprotected", "snat_v4"]
        );
    }

    #[test]
    fn single_ports_are_hash_elements_and_ranges_one_interval_element() {
        let ip: IpAddr = "172.18.0.2".parse().unwrap();
        let range = PortRule {
            proto: TCP,
            host_ip: None,
            host_ports: (8000, 8999),
            container_ip: ip,
            container_ports: (8000, 8999),
            nat: true,
        };
        assert_eq!(
            sets(&port_elements(std::slice::from_ref(&range))),
            ["dnat_range_v4", "published_range_v4"]
        );
        let shifted = PortRule {
            host_ports: (9000, 9002),
            container_ports: (80, 82),
            ..range.clone()
        };
        assert_eq!(
            sets(&port_elements(&[shifted])),
            [
                "dnat_any_v4",
                "dnat_any_v4",
                "dnat_any_v4",
                "published_range_v4"
            ]
        );
        let single = PortRule {
            host_ip: Some("127.0.0.1".parse().unwrap()),
            host_ports: (7000, 7000),
            container_ports: (8000, 8000),
            ..range.clone()
        };
        assert_eq!(
            sets(&port_elements(std::slice::from_ref(&single))),
            ["dnat_v4", "published_v4"]
        );
        // Container port 8000 is inside the published range: one merged element.
        assert_eq!(
            sets(&port_elements(&[range, single])),
            ["dnat_range_v4", "dnat_v4", "published_range_v4"]
        );
    }

    #[test]
    fn merge_joins_adjacent_and_overlapping_ranges() {
        assert_eq!(
            merge(vec![(80, 80), (81, 90), (85, 86), (100, 100)]),
            vec![(80, 90), (100, 100)]
        );
    }
}
