//! Which endpoint gives a sandbox its default routes and publishes its ports (spec §1.7.2–
//! 1.7.3), and programming both.
//!
//! Endpoints are ordered by: higher `GwPriority`; non-internal before internal; more
//! gateway families before fewer; network name ascending. The IPv4 gateway endpoint is the
//! first with an IPv4 gateway, the IPv6 one likewise, independently. As with Docker, the
//! sandbox's published ports go through its IPv4 gateway endpoint only: when that changes, the
//! old one unpublishes first and the new one publishes. At start-up, [`ensure_routes`] and
//! [`ensure_ports`] re-assert both from the selection, whatever a crash left half moved.

use cnm_types::Id;

use super::State;
use crate::driver::bridge::BridgeDriver;
use crate::error::Result;
use crate::model::Endpoint;

/// `(IPv4 gateway endpoint, IPv6 gateway endpoint)` of a sandbox.
pub(crate) type Gateways = (Option<Id>, Option<Id>);

pub(crate) fn select(state: &State, sandbox: &Id) -> Gateways {
    let Some(sb) = state.sandboxes.get(sandbox) else {
        return (None, None);
    };
    let mut eps: Vec<(&Endpoint, bool, &str)> = sb
        .endpoints
        .iter()
        .filter_map(|id| state.endpoints.get(id))
        .filter_map(|e| {
            state
                .networks
                .get(&e.network)
                .map(|n| (e, n.internal, n.name.as_str()))
        })
        .collect();
    eps.sort_by(|(a, a_internal, a_name), (b, b_internal, b_name)| {
        let families = |e: &Endpoint| e.gateway_v4.is_some() as u8 + e.gateway_v6.is_some() as u8;
        b.gw_priority
            .cmp(&a.gw_priority)
            .then(a_internal.cmp(b_internal))
            .then(families(b).cmp(&families(a)))
            .then(a_name.cmp(b_name))
    });
    let v4 = eps
        .iter()
        .find(|(e, _, _)| e.gateway_v4.is_some())
        .map(|(e, _, _)| e.id.clone());
    let v6 = eps
        .iter()
        .find(|(e, _, _)| e.gateway_v6.is_some())
        .map(|(e, _, _)| e.id.clone());
    (v4, v6)
}

/// Moves the sandbox's published ports from `from` to `to` (either may be none). Returns the
/// endpoints whose recorded ports changed, for the caller to persist.
async fn move_ports(
    state: &mut State,
    sandbox: &Id,
    from: Option<&Id>,
    to: Option<&Id>,
) -> Result<Vec<Id>> {
    let Some(bindings) = state
        .sandboxes
        .get(sandbox)
        .map(|s| s.port_bindings.clone())
    else {
        return Ok(Vec::new());
    };
    if bindings.is_empty() {
        return Ok(Vec::new());
    }
    let mut changed = Vec::new();
    if let Some(old) = from.and_then(|id| state.endpoints.get(id)).cloned()
        && let Some(network) = state.networks.get(&old.network).cloned()
        && let Some(driver) = state.drivers.get_mut(&network.driver)
    {
        driver.revoke_ports(&network, &old).await?;
        if let Some(e) = state.endpoints.get_mut(&old.id) {
            e.ports.clear();
        }
        changed.push(old.id.clone());
    }
    if let Some(new) = to.and_then(|id| state.endpoints.get(id)).cloned()
        && let Some(network) = state.networks.get(&new.network).cloned()
        && let Some(driver) = state.drivers.get_mut(&network.driver)
    {
        let specs = BridgeDriver::parse_port_bindings(&bindings)?;
        let actual = driver.program_ports(&network, &new, &specs).await?;
        if let Some(e) = state.endpoints.get_mut(&new.id) {
            e.ports = actual;
        }
        changed.push(new.id.clone());
    }
    Ok(changed)
}

/// Replaces the sandbox's default routes where the selection changed from `before`, and moves
/// its published ports with the IPv4 gateway endpoint. Returns the endpoints whose recorded
/// ports changed.
pub(crate) async fn program(state: &mut State, sandbox: &Id, before: &Gateways) -> Result<Vec<Id>> {
    let after = select(state, sandbox);
    let mut changed = Vec::new();
    if before.0 != after.0 {
        changed = move_ports(state, sandbox, before.0.as_ref(), after.0.as_ref()).await?;
    }
    let Some(netlink) = state.sandbox_links.get(sandbox) else {
        return Ok(changed);
    };
    for (v6, old, new) in [(false, &before.0, &after.0), (true, &before.1, &after.1)] {
        if old == new {
            continue;
        }
        if old.is_some() {
            netlink.del_default_route(v6).await?;
        }
        let Some(endpoint) = new.as_ref().and_then(|id| state.endpoints.get(id)) else {
            continue;
        };
        let (Some(ifname), Some(gateway)) = (
            &endpoint.ifname,
            if v6 {
                endpoint.gateway_v6
            } else {
                endpoint.gateway_v4
            },
        ) else {
            continue;
        };
        if let Some(link) = netlink.link_by_name(ifname).await? {
            netlink.add_default_route(gateway, link.index).await?;
        }
    }
    Ok(changed)
}

/// Makes the sandbox's default routes match the selection whatever the kernel has now: used
/// at start-up, where a crash may have left a sandbox without the route of an endpoint that
/// went away (a half-done removal) or with one via an endpoint that no longer exists.
pub(crate) async fn ensure_routes(state: &State, sandbox: &Id) -> Result<()> {
    let selected = select(state, sandbox);
    let Some(netlink) = state.sandbox_links.get(sandbox) else {
        return Ok(());
    };
    for (v6, chosen) in [(false, &selected.0), (true, &selected.1)] {
        netlink.del_default_route(v6).await?;
        let Some(endpoint) = chosen.as_ref().and_then(|id| state.endpoints.get(id)) else {
            continue;
        };
        let gateway = if v6 {
            endpoint.gateway_v6
        } else {
            endpoint.gateway_v4
        };
        if let (Some(ifname), Some(gateway)) = (&endpoint.ifname, gateway)
            && let Some(link) = netlink.link_by_name(ifname).await?
        {
            netlink.add_default_route(gateway, link.index).await?;
        }
    }
    Ok(())
}

/// Makes the sandbox's published ports hang off its selected IPv4 gateway endpoint, at
/// start-up after the recorded ports are restored. A disconnect commits the endpoint's
/// removal before the ports move, so a crash in between leaves the new gateway endpoint
/// without ports: they are programmed again here (a fresh host port where the binding asked
/// for any). Another endpoint of the sandbox that still records ports gives them up. Returns
/// the endpoints whose recorded ports changed, for the caller to persist. Idempotent.
pub(crate) async fn ensure_ports(state: &mut State, sandbox: &Id) -> Result<Vec<Id>> {
    let Some(sb) = state.sandboxes.get(sandbox) else {
        return Ok(Vec::new());
    };
    let (bindings, members) = (sb.port_bindings.clone(), sb.endpoints.clone());
    let (gateway, _) = select(state, sandbox);
    let mut changed = Vec::new();
    for id in members.iter().filter(|id| Some(*id) != gateway.as_ref()) {
        let Some(stale) = state
            .endpoints
            .get(id)
            .filter(|e| !e.ports.is_empty())
            .cloned()
        else {
            continue;
        };
        if let Some(network) = state.networks.get(&stale.network).cloned()
            && let Some(driver) = state.drivers.get_mut(&network.driver)
        {
            driver.revoke_ports(&network, &stale).await?;
        }
        if let Some(e) = state.endpoints.get_mut(id) {
            e.ports.clear();
        }
        changed.push(id.clone());
    }
    let Some(chosen) = gateway.and_then(|id| state.endpoints.get(&id)).cloned() else {
        return Ok(changed);
    };
    if bindings.is_empty() || !chosen.ports.is_empty() {
        return Ok(changed);
    }
    let Some(network) = state.networks.get(&chosen.network).cloned() else {
        return Ok(changed);
    };
    if network.internal {
        return Ok(changed);
    }
    let Some(driver) = state.drivers.get_mut(&network.driver) else {
        return Ok(changed);
    };
    let specs = BridgeDriver::parse_port_bindings(&bindings)?;
    let actual = driver.program_ports(&network, &chosen, &specs).await?;
    if !actual.is_empty() {
        tracing::warn!(endpoint = %chosen.id.short(), "the sandbox's gateway endpoint had lost its published ports; published them again");
        if let Some(e) = state.endpoints.get_mut(&chosen.id) {
            e.ports = actual;
        }
        changed.push(chosen.id.clone());
    }
    Ok(changed)
}
