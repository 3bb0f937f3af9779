//! Endpoints of macvlan and ipvlan networks: one port on the network's parent per endpoint,
//! created directly inside the sandbox's namespace under its final name (cnm's `attach`, which
//! is Docker's CreateEndpoint + Join).
//!
//! Contract:
//! - `attach` creates the port, adds the endpoint's addresses and raises it; for ipvlan L3/L3S
//!   it adds an on-link default route per address family (Docker's CONNECTED static route, no
//!   next hop). It returns the gateway of the endpoint's subnet for macvlan and ipvlan L2 when
//!   the subnet has one and the network is not internal: the controller makes it the default
//!   route. On failure it deletes the port.
//! - The port lives in the sandbox, not in the daemon's namespace, so `detach` and `intact`
//!   must find the sandbox: the namespace recorded at attach, else the file cnm keeps for its
//!   own sandboxes (`<exec-root>/netns/<sandbox id>`, DESIGN §3.4). They open a netlink socket
//!   there for the one operation and drop it (a kept socket would keep a removed namespace, and
//!   the ports in it, alive).
//! - `detach` deletes the port only if it is a port of the driver's kind; a missing port or
//!   namespace is not an error.

use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::SublinkNetwork;
use super::parent::go_error;
use crate::driver::{JoinInfo, SandboxLink};
use crate::error::{Error, ErrorKind, HasKind, Result};
use crate::model::{Endpoint, IpamInfo, Network};
use crate::osl::netlink::sublink::{MacvlanMode, StackedKind, StackedSpec};
use crate::osl::{Netlink, netns};

/// Creates and configures the endpoint's port inside the sandbox.
pub(super) async fn attach(
    host: &Netlink,
    net: &SublinkNetwork,
    network: &Network,
    endpoint: &Endpoint,
    sandbox: &SandboxLink<'_>,
) -> Result<JoinInfo> {
    let kind = net.config.kind;
    let parent = host.link_by_name(&net.parent).await?.ok_or_else(|| {
        Error::internal(format!(
            "the requested parent interface {} was not found on the Docker host",
            net.parent
        ))
    })?;
    let ns = netns::open(sandbox.netns)?;
    let spec = StackedSpec {
        name: sandbox.ifname,
        parent: parent.index,
        kind,
        netns: Some(ns.as_fd()),
        mac: endpoint.mac.map(|m| m.0),
        mtu: None,
    };
    host.add_stacked(&spec).await.map_err(|e| {
        Error::new(
            e.kind(),
            format!(
                "failed to create the {} port: {}",
                kind.kind_name(),
                go_error(&e)
            ),
        )
    })?;
    if let Err(e) = configure(net, endpoint, sandbox).await {
        if let Ok(Some(link)) = sandbox.netlink.link_by_name(sandbox.ifname).await {
            let _ = sandbox.netlink.del_link(link.index).await;
        }
        return Err(e);
    }
    let gateways = !net.config.internal && !net.config.routes_on_link();
    Ok(JoinInfo {
        gateway_v4: if gateways {
            gateway_for(&network.ipam_v4, endpoint.addr_v4)
        } else {
            None
        },
        gateway_v6: if gateways {
            gateway_for(&network.ipam_v6, endpoint.addr_v6)
        } else {
            None
        },
        // No host-side link exists; the name recorded is the port's, in the sandbox.
        host_ifname: Some(sandbox.ifname.to_owned()),
    })
}

async fn configure(
    net: &SublinkNetwork,
    endpoint: &Endpoint,
    sandbox: &SandboxLink<'_>,
) -> Result<()> {
    let link = sandbox
        .netlink
        .link_by_name(sandbox.ifname)
        .await?
        .ok_or_else(|| {
            Error::internal(format!(
                "interface {} did not appear in the sandbox",
                sandbox.ifname
            ))
        })?;
    // A passthru port is born with its parent's MAC whatever the request says; Docker then sets
    // the endpoint's MAC on it (which the kernel passes on to the parent), and so does cnm.
    if let (StackedKind::Macvlan(MacvlanMode::Passthru), Some(mac)) =
        (net.config.kind, endpoint.mac)
        && link.mac != Some(mac.0)
    {
        sandbox.netlink.set_mac(link.index, mac.0).await?;
    }
    for addr in [endpoint.addr_v4, endpoint.addr_v6].into_iter().flatten() {
        sandbox.netlink.add_address(link.index, addr).await?;
    }
    sandbox.netlink.set_up(link.index).await?;
    if net.config.routes_on_link() && !net.config.internal {
        for default in default_routes(endpoint) {
            match sandbox.netlink.add_route(default, None, link.index).await {
                Ok(()) => {}
                // Another network already gives this sandbox a default route: keep it.
                Err(e) if e.kind() == ErrorKind::Conflict => {
                    tracing::warn!(endpoint = %endpoint.id.short(), route = %default, "the sandbox already has a default route; not adding the ipvlan one");
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// `0.0.0.0/0` and `::/0` for the families the endpoint has an address in.
pub(super) fn default_routes(endpoint: &Endpoint) -> Vec<IpNet> {
    let mut out = Vec::new();
    if endpoint.addr_v4.is_some() {
        out.push(IpNet::V4(Ipv4Net::default()));
    }
    if endpoint.addr_v6.is_some() {
        out.push(IpNet::V6(Ipv6Net::default()));
    }
    out
}

/// The gateway of the subnet `addr` belongs to (same prefix length, as Docker matches).
pub(super) fn gateway_for(subnets: &[IpamInfo], addr: Option<IpNet>) -> Option<IpAddr> {
    let addr = addr?;
    subnets
        .iter()
        .find(|info| {
            info.pool.prefix_len() == addr.prefix_len() && info.pool.contains(&addr.addr())
        })
        .and_then(|info| info.gateway)
        .map(|gateway| gateway.addr())
}

/// Deletes the endpoint's port in the namespace at `netns`, if it is there and of `kind`.
pub(super) async fn detach(netns_path: &Path, ifname: &str, kind: StackedKind) -> Result<()> {
    let Some(netlink) = open(netns_path)? else {
        return Ok(());
    };
    let Some(link) = netlink.link_by_name(ifname).await? else {
        return Ok(());
    };
    if link.kind.as_deref() != Some(kind.kind_name()) {
        tracing::warn!(interface = ifname, kind = ?link.kind, "not deleting an interface of another kind");
        return Ok(());
    }
    match netlink.del_link(link.index).await {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        other => other.map_err(Error::from),
    }
}

/// True when the port exists in the namespace at `netns` with the kind (and macvlan: the MAC)
/// recorded.
pub(super) async fn intact(
    netns_path: &Path,
    endpoint: &Endpoint,
    kind: StackedKind,
) -> Result<bool> {
    let (Some(ifname), Some(netlink)) = (&endpoint.ifname, open(netns_path)?) else {
        return Ok(false);
    };
    let Some(link) = netlink.link_by_name(ifname).await? else {
        return Ok(false);
    };
    let mac_ok = match kind {
        StackedKind::Macvlan(_) => endpoint.mac.is_none_or(|m| link.mac == Some(m.0)),
        StackedKind::Ipvlan { .. } => true,
    };
    Ok(link.kind.as_deref() == Some(kind.kind_name()) && mac_ok)
}

/// A netlink socket inside the namespace at `path`; `None` when the namespace is gone (no
/// file, or a file whose namespace mount was removed).
fn open(path: &Path) -> Result<Option<Netlink>> {
    match Netlink::open_in(path) {
        Ok(netlink) => Ok(Some(netlink)),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::InvalidParameter) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Where a sandbox's namespace is when nothing was recorded: cnm's own sandboxes' file.
pub(super) fn conventional_netns(netns_dir: &Path, endpoint: &Endpoint) -> PathBuf {
    netns_dir.join(endpoint.sandbox.as_str())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn info(pool: &str, gateway: Option<&str>) -> IpamInfo {
        IpamInfo {
            pool_id: format!("LocalDefault/{pool}"),
            pool: pool.parse().unwrap(),
            ip_range: None,
            gateway: gateway.map(|g| g.parse().unwrap()),
            gateway_reserved: gateway.is_some(),
            aux_addresses: BTreeMap::new(),
            aux_reserved: Vec::new(),
            request: Some(0),
        }
    }

    #[test]
    fn the_gateway_is_the_one_of_the_endpoints_subnet() {
        let subnets = [
            info("10.1.0.0/24", Some("10.1.0.254/24")),
            info("10.2.0.0/16", None),
        ];
        let gw = |addr: &str| gateway_for(&subnets, Some(addr.parse().unwrap()));
        assert_eq!(gw("10.1.0.7/24"), Some("10.1.0.254".parse().unwrap()));
        assert_eq!(
            gw("10.2.3.4/16"),
            None,
            "[M]: no gateway unless --gateway was given"
        );
        assert_eq!(
            gw("10.1.0.7/16"),
            None,
            "Docker also matches the prefix length"
        );
        assert_eq!(gateway_for(&subnets, None), None);
    }
}
