//! One rtnetlink connection bound to one namespace (placeholder signatures).

use std::net::IpAddr;
use std::os::fd::BorrowedFd;
use std::path::Path;

use ipnet::IpNet;

use super::OslResult;

/// A link as cnm needs to see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    /// `bridge`, `veth`, `macvlan`, `vxlan`, ... (`None` for `lo` and physical links).
    pub kind: Option<String>,
    /// Index of the bridge this link is enslaved to.
    pub master: Option<u32>,
    pub mac: Option<[u8; 6]>,
    pub mtu: u32,
    pub up: bool,
}

/// Parameters of a veth pair whose peer is created directly inside another namespace.
#[derive(Clone, Debug)]
pub struct VethSpec<'a> {
    /// Host-side name (`veth` + 7 hex).
    pub host_name: &'a str,
    /// Name of the peer inside the target namespace (`eth0`, ...).
    pub peer_name: &'a str,
    /// Target namespace of the peer.
    pub peer_netns: BorrowedFd<'a>,
    pub peer_mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
    /// Bridge to enslave the host end to; the host end is brought up.
    pub master: Option<u32>,
}

#[derive(Clone)]
pub struct Netlink {
    handle: rtnetlink::Handle,
}

impl Netlink {
    /// A connection in the caller's (the daemon's) namespace.
    pub fn current() -> OslResult<Self> {
        todo!()
    }

    /// A connection bound to the namespace at `path` (socket created inside it).
    pub fn open_in(path: &Path) -> OslResult<Self> {
        let _ = path;
        todo!()
    }

    pub async fn link_by_name(&self, name: &str) -> OslResult<Option<LinkInfo>> {
        let _ = (name, &self.handle);
        todo!()
    }
    pub async fn links(&self) -> OslResult<Vec<LinkInfo>> {
        todo!()
    }
    /// Creates a bridge with a random locally administered MAC; returns its index.
    pub async fn add_bridge(&self, name: &str, mtu: Option<u32>) -> OslResult<u32> {
        let _ = (name, mtu);
        todo!()
    }
    /// Creates a veth pair per `spec`; returns the host end's index.
    pub async fn add_veth(&self, spec: &VethSpec<'_>) -> OslResult<u32> {
        let _ = spec;
        todo!()
    }
    pub async fn del_link(&self, index: u32) -> OslResult<()> {
        let _ = index;
        todo!()
    }
    pub async fn set_up(&self, index: u32) -> OslResult<()> {
        let _ = index;
        todo!()
    }
    pub async fn set_mtu(&self, index: u32, mtu: u32) -> OslResult<()> {
        let _ = (index, mtu);
        todo!()
    }
    pub async fn addresses(&self, index: u32) -> OslResult<Vec<IpNet>> {
        let _ = index;
        todo!()
    }
    pub async fn add_address(&self, index: u32, addr: IpNet) -> OslResult<()> {
        let _ = (index, addr);
        todo!()
    }
    pub async fn del_address(&self, index: u32, addr: IpNet) -> OslResult<()> {
        let _ = (index, addr);
        todo!()
    }
    /// Adds a default route via `gateway` out of `index` (family from the gateway).
    pub async fn add_default_route(&self, gateway: IpAddr, index: u32) -> OslResult<()> {
        let _ = (gateway, index);
        todo!()
    }
    /// Removes the default route of the given family, if any.
    pub async fn del_default_route(&self, v6: bool) -> OslResult<()> {
        let _ = v6;
        todo!()
    }
    /// Link-scope IPv4 route destinations of the main table (for IPAM's exclude list).
    pub async fn link_scope_routes_v4(&self) -> OslResult<Vec<IpNet>> {
        todo!()
    }
}
