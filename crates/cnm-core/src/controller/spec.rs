//! Turning a `POST /networks/create` body into a validated `NetworkSpec` (spec §6.4).
//!
//! Contract: pure validation, no state. Everything the API can reject without looking at
//! other networks is rejected here, with Docker's messages, before any allocation.

use std::collections::BTreeMap;
use std::net::IpAddr;

use cnm_types::engine::NetworkCreateRequest;
use ipnet::IpNet;

use crate::error::{Error, Result};
use crate::model::IpamRequest;
use crate::model::labels as l;

pub const PREDEFINED: [&str; 4] = ["bridge", "host", "none", "default"];
/// Longest name cnm accepts; Docker has no limit, but names become DNS labels and file names.
pub const MAX_NAME_LEN: usize = 255;

#[derive(Clone, Debug, PartialEq)]
pub struct NetworkSpec {
    pub name: String,
    pub driver: String,
    pub scope: Option<String>,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_only: bool,
    pub config_from: Option<String>,
    pub ipam_driver: String,
    pub ipam_options: Option<BTreeMap<String, String>>,
    pub ipam_requests: Vec<IpamRequest>,
    /// The request gave an IPAM section (`IPAM` present, even if empty).
    pub ipam_given: bool,
    pub enable_ipv4: bool,
    pub enable_ipv6: bool,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// Checks a network name: not empty, not predefined, sane length and characters.
pub fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::invalid("invalid name: name is empty"));
    }
    if PREDEFINED.contains(&name) {
        return Err(Error::forbidden(format!(
            "operation is not permitted on predefined {name} network "
        )));
    }
    if name.len() > MAX_NAME_LEN || name.chars().any(|c| c.is_control() || c == '/') {
        return Err(Error::invalid(format!(
            "invalid name {name:?}: names are at most {MAX_NAME_LEN} bytes, without '/' or control characters"
        )));
    }
    Ok(())
}

fn parse_bool_option(
    options: &mut BTreeMap<String, String>,
    key: &str,
    api_value: Option<bool>,
) -> Result<Option<bool>> {
    // The API field wins and removes the option (Docker does the same).
    let opt = options.get(key).cloned();
    if api_value.is_some() {
        options.remove(key);
        return Ok(api_value);
    }
    match opt {
        None => Ok(None),
        Some(v) => crate::driver::options::bool_option(key, &v).map(Some),
    }
}

impl NetworkSpec {
    pub fn from_request(req: NetworkCreateRequest) -> Result<Self> {
        let name = req.name.unwrap_or_default();
        check_name(&name)?;
        let mut options = req.options.unwrap_or_default();
        let enable_ipv4 =
            parse_bool_option(&mut options, l::ENABLE_IPV4, req.enable_ipv4)?.unwrap_or(true);
        let enable_ipv6 =
            parse_bool_option(&mut options, l::ENABLE_IPV6, req.enable_ipv6)?.unwrap_or(false);
        let driver = req
            .driver
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "bridge".to_string());
        let ipam_given = req.ipam.is_some();
        let ipam = req.ipam.unwrap_or_default();
        let ipam_driver = if ipam.driver.is_empty() {
            "default".to_string()
        } else {
            ipam.driver
        };
        let configs = ipam.config.unwrap_or_default();
        let ipam_requests = parse_ipam_configs(&configs, enable_ipv6)?;
        let spec = NetworkSpec {
            name,
            driver,
            scope: req.scope.filter(|s| !s.is_empty()),
            internal: req.internal.unwrap_or(false),
            attachable: req.attachable.unwrap_or(false),
            ingress: req.ingress.unwrap_or(false),
            config_only: req.config_only.unwrap_or(false),
            config_from: req.config_from.map(|c| c.network).filter(|n| !n.is_empty()),
            ipam_driver,
            ipam_options: ipam.options,
            ipam_requests,
            ipam_given,
            enable_ipv4,
            enable_ipv6,
            options,
            labels: req.labels.unwrap_or_default(),
        };
        spec.check_config_rules()?;
        Ok(spec)
    }

    /// Docker's `validateConfiguration` for config-only and config-from networks.
    fn check_config_rules(&self) -> Result<()> {
        if self.config_only {
            if self.ingress || self.internal || self.attachable || self.scope.is_some() {
                return Err(Error::forbidden(
                    "configuration network can only contain network specific fields. Network operator fields like [ ingress | internal | attachable | scope ] are not supported.",
                ));
            }
            if self.config_from.is_some() {
                return Err(Error::forbidden(
                    "a configuration network cannot depend on another configuration network",
                ));
            }
        }
        if self.config_from.is_some() {
            if !self.ipam_requests.is_empty()
                || self.ipam_options.as_ref().is_some_and(|o| !o.is_empty())
                || !self.labels.is_empty()
                || self.enable_ipv6
                || (self.ipam_driver != "default")
            {
                return Err(Error::forbidden(
                    "user specified configurations are not supported if the network depends on a configuration network",
                ));
            }
            if !self.options.is_empty() {
                return Err(Error::forbidden(
                    "network driver options are not supported if the network depends on a configuration network",
                ));
            }
        }
        if let Some(scope) = &self.scope
            && !["local", "global", "swarm"].contains(&scope.as_str())
        {
            return Err(Error::invalid(format!(
                "invalid scope {scope}: it must be local, global or swarm"
            )));
        }
        Ok(())
    }
}

fn family(net: &IpNet) -> u8 {
    if matches!(net, IpNet::V4(_)) { 4 } else { 6 }
}

/// Docker's `validateIpamConfig`: every problem is reported, joined under one message.
pub fn parse_ipam_configs(
    configs: &[cnm_types::engine::IpamConfig],
    enable_ipv6: bool,
) -> Result<Vec<IpamRequest>> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for cfg in configs {
        let mut req = IpamRequest::default();
        if !cfg.subnet.is_empty() {
            match cfg.subnet.parse::<IpNet>() {
                Ok(net) if net.trunc() != net => {
                    errors.push(format!(
                        "invalid subnet {}: it should be {}",
                        cfg.subnet,
                        net.trunc()
                    ));
                    continue;
                }
                Ok(net) => req.subnet = Some(net),
                Err(_) => {
                    errors.push(format!(
                        "invalid subnet {}: invalid CIDR address: {}",
                        cfg.subnet, cfg.subnet
                    ));
                    continue;
                }
            }
        }
        // IPv6 entries are ignored when IPv6 is off.
        if req.is_v6() && !enable_ipv6 {
            continue;
        }
        if !cfg.ip_range.is_empty() {
            match cfg.ip_range.parse::<IpNet>() {
                Err(_) => errors.push(format!(
                    "invalid ip-range {}: invalid CIDR address: {}",
                    cfg.ip_range, cfg.ip_range
                )),
                Ok(range) => match req.subnet {
                    None => errors.push(format!(
                        "invalid ip-range {}: parent subnet is missing",
                        cfg.ip_range
                    )),
                    Some(subnet) if family(&subnet) != family(&range) => errors.push(format!(
                        "invalid ip-range {}: parent subnet is an IPv{} block",
                        cfg.ip_range,
                        family(&subnet)
                    )),
                    Some(subnet) if range.prefix_len() < subnet.prefix_len() => {
                        errors.push(format!(
                            "invalid ip-range {}: CIDR block is bigger than its parent subnet {}",
                            cfg.ip_range, subnet
                        ))
                    }
                    Some(_) if range.trunc() != range => errors.push(format!(
                        "invalid ip-range {}: it should be {}",
                        cfg.ip_range,
                        range.trunc()
                    )),
                    Some(subnet) if !subnet.contains(&range) => errors.push(format!(
                        "invalid ip-range {}: parent subnet {} doesn't contain ip-range",
                        cfg.ip_range, subnet
                    )),
                    Some(_) => req.ip_range = Some(range),
                },
            }
        }
        if !cfg.gateway.is_empty() {
            match cfg.gateway.parse::<IpAddr>() {
                Err(_) => errors.push(format!(
                    "invalid gateway {}: invalid IP address",
                    cfg.gateway
                )),
                Ok(gw) => match req.subnet {
                    Some(subnet) if matches!(subnet, IpNet::V4(_)) != gw.is_ipv4() => {
                        errors.push(format!(
                            "invalid gateway {}: parent subnet is an IPv{} block",
                            cfg.gateway,
                            family(&subnet)
                        ))
                    }
                    Some(subnet) if !subnet.contains(&gw) => errors.push(format!(
                        "invalid gateway {}: parent subnet {} doesn't contain this address",
                        cfg.gateway, subnet
                    )),
                    _ => req.gateway = Some(gw),
                },
            }
        }
        for (name, addr) in &cfg.auxiliary_addresses {
            match addr.parse::<IpAddr>() {
                Err(_) => errors.push(format!("invalid auxiliary address {name}: invalid IP address {addr}")),
                Ok(ip) => match req.subnet {
                    Some(subnet) if matches!(subnet, IpNet::V4(_)) != ip.is_ipv4() => errors.push(format!(
                        "invalid auxiliary address {name}: parent subnet is an IPv{} block",
                        family(&subnet)
                    )),
                    Some(subnet) if !subnet.contains(&ip) => errors.push(format!(
                        "invalid auxiliary address {name}: parent subnet {subnet} doesn't contain this address"
                    )),
                    _ => {
                        req.aux_addresses.insert(name.clone(), ip);
                    }
                },
            }
        }
        out.push(req);
    }
    if !errors.is_empty() {
        return Err(Error::invalid(format!(
            "invalid network config:\n{}",
            errors.join("\n")
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnm_types::engine::{Ipam, IpamConfig};

    fn req(name: &str) -> NetworkCreateRequest {
        NetworkCreateRequest {
            name: Some(name.into()),
            ..Default::default()
        }
    }

    fn with_config(cfg: IpamConfig) -> NetworkCreateRequest {
        NetworkCreateRequest {
            ipam: Some(Ipam {
                driver: "default".into(),
                options: Some(BTreeMap::new()),
                config: Some(vec![cfg]),
            }),
            ..req("n")
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            NetworkSpec::from_request(req("")).unwrap_err().message,
            "invalid name: name is empty"
        );
        let e = NetworkSpec::from_request(req("bridge")).unwrap_err();
        assert_eq!(
            (e.kind.http_status(), e.message.as_str()),
            (
                403,
                "operation is not permitted on predefined bridge network "
            )
        );
        assert!(NetworkSpec::from_request(req(&"a".repeat(300))).is_err());
        assert_eq!(
            NetworkSpec::from_request(req("n1")).unwrap().driver,
            "bridge"
        );
    }

    #[test]
    fn ipam_errors_are_joined() {
        let e = NetworkSpec::from_request(with_config(IpamConfig {
            subnet: "10.0.0.0/24".into(),
            ip_range: "10.1.0.0/25".into(),
            gateway: "10.2.0.1".into(),
            ..Default::default()
        }))
        .unwrap_err();
        assert_eq!(
            e.message,
            "invalid network config:\ninvalid ip-range 10.1.0.0/25: parent subnet 10.0.0.0/24 doesn't contain ip-range\ninvalid gateway 10.2.0.1: parent subnet 10.0.0.0/24 doesn't contain this address"
        );
        let e = NetworkSpec::from_request(with_config(IpamConfig {
            subnet: "10.0.0.1/24".into(),
            ..Default::default()
        }))
        .unwrap_err();
        assert_eq!(
            e.message,
            "invalid network config:\ninvalid subnet 10.0.0.1/24: it should be 10.0.0.0/24"
        );
    }

    #[test]
    fn ipv6_configs_are_ignored_without_ipv6() {
        let s = NetworkSpec::from_request(with_config(IpamConfig {
            subnet: "fd00::/64".into(),
            ..Default::default()
        }))
        .unwrap();
        assert!(s.ipam_requests.is_empty());
    }

    #[test]
    fn config_from_forbids_own_config() {
        let mut r = with_config(IpamConfig {
            subnet: "10.0.0.0/24".into(),
            ..Default::default()
        });
        r.config_from = Some(cnm_types::engine::ConfigReference {
            network: "c".into(),
        });
        assert_eq!(
            NetworkSpec::from_request(r).unwrap_err().kind.http_status(),
            403
        );
    }
}
