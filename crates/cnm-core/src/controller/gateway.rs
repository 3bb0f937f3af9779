//! Which endpoint gives a sandbox its default routes (spec §1.7.3), and programming them.
//!
//! Endpoints are ordered by: higher `GwPriority`; non-internal before internal; more
//! gateway families before fewer; network name ascending. The IPv4 gateway endpoint is the
//! first with an IPv4 gateway, the IPv6 one likewise, independently.

use cnm_types::Id;

use super::State;
use crate::error::Result;
use crate::model::Endpoint;

/// `(IPv4 gateway endpoint, IPv6 gateway endpoint)` of a sandbox.
pub(crate) type Gateways = (Option<Id>, Option<Id>);

pub(crate) fn select(state: &State, sandbox: &Id) -> Gateways {
    let Some(sb) = state.sandboxes.get(sandbox) else { return (None, None) };
    let mut eps: Vec<(&Endpoint, bool, &str)> = sb
        .endpoints
        .iter()
        .filter_map(|id| state.endpoints.get(id))
        .filter_map(|e| state.networks.get(&e.network).map(|n| (e, n.internal, n.name.as_str())))
        .collect();
    eps.sort_by(|(a, a_internal, a_name), (b, b_internal, b_name)| {
        let families = |e: &Endpoint| e.gateway_v4.is_some() as u8 + e.gateway_v6.is_some() as u8;
        b.gw_priority
            .cmp(&a.gw_priority)
            .then(a_internal.cmp(b_internal))
            .then(families(b).cmp(&families(a)))
            .then(a_name.cmp(b_name))
    });
    let v4 = eps.iter().find(|(e, _, _)| e.gateway_v4.is_some()).map(|(e, _, _)| e.id.clone());
    let v6 = eps.iter().find(|(e, _, _)| e.gateway_v6.is_some()).map(|(e, _, _)| e.id.clone());
    (v4, v6)
}

/// Replaces the sandbox's default routes where the selection changed from `before`.
pub(crate) async fn program(state: &State, sandbox: &Id, before: &Gateways) -> Result<()> {
    let after = select(state, sandbox);
    let Some(netlink) = state.sandbox_links.get(sandbox) else { return Ok(()) };
    for (v6, old, new) in [(false, &before.0, &after.0), (true, &before.1, &after.1)] {
        if old == new {
            continue;
        }
        if old.is_some() {
            netlink.del_default_route(v6).await?;
        }
        let Some(endpoint) = new.as_ref().and_then(|id| state.endpoints.get(id)) else { continue };
        let (Some(ifname), Some(gateway)) =
            (&endpoint.ifname, if v6 { endpoint.gateway_v6 } else { endpoint.gateway_v4 })
        else {
            continue;
        };
        if let Some(link) = netlink.link_by_name(ifname).await? {
            netlink.add_default_route(gateway, link.index).await?;
        }
    }
    Ok(())
}
