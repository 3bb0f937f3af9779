//! A network record.

use std::collections::BTreeMap;
use std::net::IpAddr;

use cnm_types::Id;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// What the user asked for in one `IPAM.Config` entry, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpamRequest {
    pub subnet: Option<IpNet>,
    pub ip_range: Option<IpNet>,
    pub gateway: Option<IpAddr>,
    pub aux_addresses: BTreeMap<String, IpAddr>,
}

impl IpamRequest {
    pub fn is_v6(&self) -> bool {
        matches!(self.subnet, Some(IpNet::V6(_)))
    }
}

/// What IPAM allocated for one pool of the network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpamInfo {
    pub pool_id: String,
    pub pool: IpNet,
    pub ip_range: Option<IpNet>,
    /// With the pool's prefix length, as Docker keeps it.
    pub gateway: Option<IpNet>,
    /// True when IPAM reserved the gateway (false for an IPAM-meta gateway or a skipped one).
    pub gateway_reserved: bool,
    pub aux_addresses: BTreeMap<String, IpNet>,
    /// Aux addresses inside the allocatable range, which IPAM reserved.
    pub aux_reserved: Vec<IpAddr>,
    /// Index of the user's `IpamRequest` this pool answers, when there was one.
    pub request: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub id: Id,
    pub name: String,
    pub created: String,
    pub driver: String,
    pub scope: String,
    pub ipam_driver: String,
    /// Exactly what the creator sent (`None` shows as `null`).
    pub ipam_options: Option<BTreeMap<String, String>>,
    pub ipam_requests: Vec<IpamRequest>,
    pub ipam_v4: Vec<IpamInfo>,
    pub ipam_v6: Vec<IpamInfo>,
    pub enable_ipv4: bool,
    pub enable_ipv6: bool,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_only: bool,
    /// Name of the config-only network this one takes its configuration from.
    pub config_from: Option<String>,
    /// Driver options (`-o`), as given.
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// Created by the daemon (bridge, host, none); cannot be removed.
    pub predefined: bool,
    /// The driver found its device already there (an existing bridge): never delete it.
    #[serde(default)]
    pub adopted_device: bool,
}

impl Network {
    /// The first IPv4 and IPv6 pools: the subnets bridge-like drivers use.
    pub fn subnet_v4(&self) -> Option<&IpamInfo> {
        self.ipam_v4.first()
    }
    pub fn subnet_v6(&self) -> Option<&IpamInfo> {
        self.ipam_v6.first()
    }
    pub fn all_ipam(&self) -> impl Iterator<Item = &IpamInfo> {
        self.ipam_v4.iter().chain(self.ipam_v6.iter())
    }
}
