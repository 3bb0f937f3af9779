//! An endpoint record: one interface of one sandbox on one network.

use std::collections::BTreeMap;
use std::fmt;

use cnm_types::Id;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// A MAC address, shown as `aa:bb:cc:dd:ee:ff`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// A random locally administered unicast address, as current Docker generates them.
    pub fn random() -> Self {
        let mut b: [u8; 6] = rand::random();
        b[0] = (b[0] & 0xfe) | 0x02;
        Mac(b)
    }

    pub fn parse(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 6 {
            return None;
        }
        let mut b = [0u8; 6];
        for (i, p) in parts.iter().enumerate() {
            if p.len() != 2 {
                return None;
            }
            b[i] = u8::from_str_radix(p, 16).ok()?;
        }
        Some(Mac(b))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({self})")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: Id,
    /// Unique within the network; the sandbox name, as Docker uses the container name.
    pub name: String,
    pub network: Id,
    pub sandbox: Id,
    pub addr_v4: Option<IpNet>,
    pub addr_v6: Option<IpNet>,
    /// Pool ids the addresses came from, to release them.
    pub pool_v4: Option<String>,
    pub pool_v6: Option<String>,
    pub mac: Option<Mac>,
    pub aliases: Vec<String>,
    pub links: Vec<String>,
    pub dns_names: Vec<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub gw_priority: i64,
    /// Host-side interface name (bridge: the veth in the daemon's namespace).
    pub host_ifname: Option<String>,
    /// Interface name inside the sandbox (`eth0`, ...).
    pub ifname: Option<String>,
    /// Gateways the driver gave at join (no default route via an endpoint without one).
    pub gateway_v4: Option<std::net::IpAddr>,
    pub gateway_v6: Option<std::net::IpAddr>,
    /// Ports published through this endpoint (host ports as chosen), while it is the
    /// sandbox's gateway endpoint.
    #[serde(default)]
    pub ports: Vec<cnm_types::sandbox::PortBinding>,
    /// The static addresses the user asked for (kept for inspect's `IPAMConfig`).
    pub static_v4: Option<std::net::IpAddr>,
    pub static_v6: Option<std::net::IpAddr>,
}
