//! Moving the interface a plugin hands over in `Join` into the sandbox, configuring it, and
//! giving it back (spec §5.2, trap 35).
//!
//! Contract: `move_in` moves the plugin's `SrcName` from the daemon's namespace into the
//! sandbox and renames it to its final name (a moved link arrives down, so the rename is
//! allowed); on failure the link is back where it was. `configure` sets MAC, addresses, up,
//! and the plugin's static routes. `move_out` is best effort: down, original name, back into
//! the daemon's namespace (where the kernel drops its addresses and routes), so the plugin
//! finds it again under the name it chose, as with Docker.

use std::net::IpAddr;
use std::os::fd::AsFd;

use ipnet::IpNet;

use crate::driver::SandboxLink;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Endpoint, Mac, labels};
use crate::osl::{LinkInfo, Netlink, netns};

/// A static route of a `Join` answer: via `next_hop`, or on-link when there is none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Route {
    pub destination: IpNet,
    pub next_hop: Option<IpAddr>,
}

/// The interface's name in the sandbox: the controller's choice, unless the plugin asked for
/// another prefix (`DstPrefix` + lowest free index, Docker's rule) and the user did not name
/// the interface.
pub(super) async fn final_name(
    sandbox: &SandboxLink<'_>,
    dst_prefix: &str,
    endpoint: &Endpoint,
) -> Result<String> {
    let chosen = sandbox.ifname;
    let follows_prefix = chosen
        .strip_prefix(dst_prefix)
        .is_some_and(|index| !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()));
    if dst_prefix.is_empty()
        || follows_prefix
        || endpoint.driver_opts.contains_key(labels::ENDPOINT_IFNAME)
    {
        return Ok(chosen.to_string());
    }
    let taken: Vec<String> = sandbox
        .netlink
        .links()
        .await?
        .into_iter()
        .map(|l| l.name)
        .collect();
    Ok((0..)
        .map(|i| format!("{dst_prefix}{i}"))
        .find(|n| !taken.contains(n))
        .expect("an unused name exists"))
}

/// Moves `link` (in the daemon's namespace) into the sandbox as `ifname`; returns its index
/// there.
pub(super) async fn move_in(
    host: &Netlink,
    link: &LinkInfo,
    sandbox: &SandboxLink<'_>,
    ifname: &str,
) -> Result<u32> {
    let ns = netns::open(sandbox.netns)?;
    host.move_to_netns(link.index, ns.as_fd())
        .await
        .map_err(|e| {
            Error::from(e).context(format!("moving interface {} into the sandbox", link.name))
        })?;
    // The index survives the move unless the sandbox already uses it: look the link up by name.
    let moved = sandbox
        .netlink
        .link_by_name(&link.name)
        .await?
        .ok_or_else(|| {
            Error::internal(format!(
                "interface {} vanished while moving into the sandbox",
                link.name
            ))
        })?;
    if ifname != link.name
        && let Err(e) = sandbox.netlink.rename(moved.index, ifname).await
    {
        move_out(sandbox.netlink, moved.index, &link.name).await;
        return Err(Error::from(e).context(format!(
            "renaming interface {} to {ifname} in the sandbox",
            link.name
        )));
    }
    Ok(moved.index)
}

/// MAC, addresses, up, then the static routes (bound to this interface). A default route
/// that another endpoint already provides is left alone.
pub(super) async fn configure(
    netlink: &Netlink,
    index: u32,
    addresses: &[IpNet],
    mac: Option<Mac>,
    routes: &[Route],
) -> Result<()> {
    if let Some(mac) = mac {
        netlink.set_mac(index, mac.0).await?;
    }
    for address in addresses {
        netlink.add_address(index, *address).await?;
    }
    netlink.set_up(index).await?;
    for route in routes {
        match netlink
            .add_route(route.destination, route.next_hop, index)
            .await
        {
            Err(e)
                if route.destination.prefix_len() == 0
                    && crate::error::HasKind::kind(&e) == ErrorKind::Conflict =>
            {
                tracing::warn!(route = %route.destination, "the sandbox already has a default route; keeping it");
            }
            other => other?,
        }
    }
    Ok(())
}

/// Gives the interface back to the daemon's namespace under its source name. Best effort:
/// failures are logged (the namespace may be going away, which frees the link anyway).
pub(super) async fn move_out(netlink: &Netlink, index: u32, src_name: &str) {
    let result: Result<()> = async {
        netlink.set_down(index).await?;
        if netlink
            .link_by_index(index)
            .await?
            .is_some_and(|l| l.name != src_name)
        {
            netlink.rename(index, src_name).await?;
        }
        // This task runs on a runtime thread, which never leaves the daemon's namespace.
        let host = std::fs::File::open("/proc/thread-self/ns/net")
            .map_err(|e| Error::internal(format!("open the daemon's network namespace: {e}")))?;
        netlink.move_to_netns(index, host.as_fd()).await?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(interface = src_name, error = %e, "could not give the interface back to the daemon's namespace");
    }
}
