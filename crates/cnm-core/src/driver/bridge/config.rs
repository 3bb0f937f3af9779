//! The bridge driver's options, parsed once into a typed config (spec §3.3.1).

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::driver::options::bool_option;
use crate::error::{Error, Result};
use crate::firewall::elements::check_name;
use crate::model::labels as l;

pub use crate::firewall::GatewayMode;

fn parse_gateway_mode(value: &str) -> Result<GatewayMode> {
    match value {
        "" | "nat" => Ok(GatewayMode::Nat),
        "nat-unprotected" => Ok(GatewayMode::NatUnprotected),
        "routed" => Ok(GatewayMode::Routed),
        "isolated" => Ok(GatewayMode::Isolated),
        other => Err(Error::invalid(format!("unknown gateway mode {other}"))),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeConfig {
    pub bridge_name: String,
    pub enable_ip_masquerade: bool,
    pub enable_icc: bool,
    pub host_binding_ipv4: Option<IpAddr>,
    pub inhibit_ipv4: bool,
    pub gateway_mode_v4: GatewayMode,
    pub gateway_mode_v6: GatewayMode,
    pub trusted_host_interfaces: Vec<String>,
    pub default_bridge: bool,
    pub mtu: Option<u32>,
    pub container_iface_prefix: String,
    pub host_ipv4: Option<IpAddr>,
    pub host_ipv6: Option<IpAddr>,
}

/// Keys the bridge driver understands. Other `com.docker.network.*` keys are refused (a
/// typo there would otherwise be silently ignored); keys outside that namespace are the
/// user's own and are kept as given, as Docker keeps them.
const KNOWN: &[&str] = &[
    l::BRIDGE_NAME,
    l::BRIDGE_ENABLE_IP_MASQUERADE,
    l::BRIDGE_ENABLE_ICC,
    l::BRIDGE_HOST_BINDING_IPV4,
    l::BRIDGE_INHIBIT_IPV4,
    l::BRIDGE_GATEWAY_MODE_IPV4,
    l::BRIDGE_GATEWAY_MODE_IPV6,
    l::BRIDGE_TRUSTED_HOST_INTERFACES,
    l::BRIDGE_DEFAULT_BRIDGE,
    l::MTU,
    l::CONTAINER_IFACE_PREFIX,
    l::HOST_IPV4,
    l::HOST_IPV6,
    l::ENABLE_IPV4,
    l::ENABLE_IPV6,
];

fn parse_ip(key: &str, value: &str) -> Result<IpAddr> {
    value.parse().map_err(|_| {
        Error::invalid(format!(
            "failed to parse {key} value: {value} (invalid IP address)"
        ))
    })
}

impl BridgeConfig {
    /// Parses `-o` options; `network_id` names the default bridge device `br-<12 hex>`.
    pub fn from_options(options: &BTreeMap<String, String>, network_id: &str) -> Result<Self> {
        let mut cfg = BridgeConfig {
            bridge_name: format!("br-{}", &network_id[..12]),
            enable_ip_masquerade: true,
            enable_icc: true,
            host_binding_ipv4: None,
            inhibit_ipv4: false,
            gateway_mode_v4: GatewayMode::Nat,
            gateway_mode_v6: GatewayMode::Nat,
            trusted_host_interfaces: Vec::new(),
            default_bridge: false,
            mtu: None,
            container_iface_prefix: "eth".to_string(),
            host_ipv4: None,
            host_ipv6: None,
        };
        for (key, value) in options {
            match key.as_str() {
                l::BRIDGE_NAME => cfg.bridge_name = value.clone(),
                l::BRIDGE_ENABLE_IP_MASQUERADE => {
                    cfg.enable_ip_masquerade = bool_option(key, value)?
                }
                l::BRIDGE_ENABLE_ICC => cfg.enable_icc = bool_option(key, value)?,
                l::BRIDGE_HOST_BINDING_IPV4 => cfg.host_binding_ipv4 = Some(parse_ip(key, value)?),
                l::BRIDGE_INHIBIT_IPV4 => cfg.inhibit_ipv4 = bool_option(key, value)?,
                l::BRIDGE_GATEWAY_MODE_IPV4 => cfg.gateway_mode_v4 = parse_gateway_mode(value)?,
                l::BRIDGE_GATEWAY_MODE_IPV6 => cfg.gateway_mode_v6 = parse_gateway_mode(value)?,
                l::BRIDGE_TRUSTED_HOST_INTERFACES => {
                    cfg.trusted_host_interfaces = value
                        .split(':')
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                }
                l::BRIDGE_DEFAULT_BRIDGE => cfg.default_bridge = bool_option(key, value)?,
                l::MTU => {
                    let mtu: i64 = value.parse().map_err(|_| {
                        Error::invalid(format!("failed to parse {key} value: {value} (strconv.Atoi: parsing \"{value}\": invalid syntax)"))
                    })?;
                    if mtu < 0 {
                        return Err(Error::invalid(format!("invalid MTU number: {mtu}")));
                    }
                    cfg.mtu = (mtu > 0).then_some(mtu as u32);
                }
                l::CONTAINER_IFACE_PREFIX => cfg.container_iface_prefix = value.clone(),
                l::HOST_IPV4 => cfg.host_ipv4 = Some(parse_ip(key, value)?),
                l::HOST_IPV6 => cfg.host_ipv6 = Some(parse_ip(key, value)?),
                l::ENABLE_IPV4 | l::ENABLE_IPV6 => {}
                other if other.starts_with("com.docker.network.") && !KNOWN.contains(&other) => {
                    return Err(Error::invalid(format!(
                        "unknown bridge driver option {other}"
                    )));
                }
                _ => {}
            }
        }
        if cfg.bridge_name.is_empty()
            || cfg.bridge_name.len() > 15
            || cfg.bridge_name.contains(['/', ' ', ':'])
            || check_name(&cfg.bridge_name).is_err()
        {
            return Err(Error::invalid(format!(
                "invalid bridge name {:?}: it must be 1 to 15 characters without '/', ':' or spaces",
                cfg.bridge_name
            )));
        }
        if let Some(name) = cfg
            .trusted_host_interfaces
            .iter()
            .find(|n| check_name(n).is_err())
        {
            return Err(Error::invalid(format!(
                "invalid interface name {name:?} in {}",
                l::BRIDGE_TRUSTED_HOST_INTERFACES
            )));
        }
        if let Some(ip) = cfg.host_ipv4.filter(|ip| !ip.is_ipv4()) {
            return Err(Error::invalid(format!(
                "{} must be an IPv4 address, not {ip}",
                l::HOST_IPV4
            )));
        }
        if let Some(ip) = cfg.host_ipv6.filter(|ip| !ip.is_ipv6()) {
            return Err(Error::invalid(format!(
                "{} must be an IPv6 address, not {ip}",
                l::HOST_IPV6
            )));
        }
        if let Some(mtu) = cfg.mtu
            && !(68..=65535).contains(&mtu)
        {
            return Err(Error::invalid(format!("invalid MTU number: {mtu}")));
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults() {
        let c = BridgeConfig::from_options(&BTreeMap::new(), ID).unwrap();
        assert_eq!(c.bridge_name, "br-0123456789ab");
        assert!(c.enable_icc && c.enable_ip_masquerade);
        assert_eq!(c.container_iface_prefix, "eth");
    }

    #[test]
    fn parses_and_refuses() {
        let c = BridgeConfig::from_options(
            &opts(&[
                (l::BRIDGE_ENABLE_ICC, "false"),
                (l::MTU, "1400"),
                ("foo", "bar"),
            ]),
            ID,
        )
        .unwrap();
        assert!(!c.enable_icc);
        assert_eq!(c.mtu, Some(1400));
        assert!(
            BridgeConfig::from_options(&opts(&[(l::MTU, "-1")]), ID)
                .unwrap_err()
                .message
                .contains("invalid MTU")
        );
        assert!(
            BridgeConfig::from_options(&opts(&[("com.docker.network.bridge.enable_icx", "1")]), ID)
                .is_err()
        );
        assert!(
            BridgeConfig::from_options(&opts(&[(l::BRIDGE_GATEWAY_MODE_IPV4, "weird")]), ID)
                .is_err()
        );
        assert!(
            BridgeConfig::from_options(&opts(&[(l::BRIDGE_NAME, "a-very-long-bridge-name")]), ID)
                .is_err()
        );
        assert!(BridgeConfig::from_options(&opts(&[(l::BRIDGE_NAME, "br\"x")]), ID).is_err());
        assert!(
            BridgeConfig::from_options(
                &opts(&[(l::BRIDGE_TRUSTED_HOST_INTERFACES, "eth0:e\"1")]),
                ID
            )
            .is_err()
        );
        let e = BridgeConfig::from_options(&opts(&[(l::HOST_IPV4, "fd00::1")]), ID).unwrap_err();
        assert_eq!(
            e.message,
            "com.docker.network.host_ipv4 must be an IPv4 address, not fd00::1"
        );
        let c = BridgeConfig::from_options(
            &opts(&[
                (l::BRIDGE_GATEWAY_MODE_IPV6, "routed"),
                (l::BRIDGE_TRUSTED_HOST_INTERFACES, "eth0:eth1"),
            ]),
            ID,
        )
        .unwrap();
        assert_eq!(
            (c.gateway_mode_v6, c.trusted_host_interfaces.len()),
            (GatewayMode::Routed, 2)
        );
    }
}
