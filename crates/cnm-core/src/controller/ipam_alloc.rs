//! Network- and endpoint-level address allocation on top of an IPAM driver (spec §4.4).
//!
//! Contract: every allocation pushes its release onto the caller's `Undo`, so a failed
//! operation gives everything back. `replay_*` re-requests exactly what a stored network or
//! endpoint holds, which rebuilds the in-memory IPAM state at start-up.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::State;
use super::undo::{Step, Undo};
use crate::error::{Error, Result};
use crate::ipam::{GATEWAY_ADDRESS_TYPE, Ipam, IpamError, LOCAL_DEFAULT, PoolRequest, REQUEST_ADDRESS_TYPE};
use crate::model::{IpamInfo, IpamRequest, Network};

fn gateway_options() -> BTreeMap<String, String> {
    BTreeMap::from([(REQUEST_ADDRESS_TYPE.to_string(), GATEWAY_ADDRESS_TYPE.to_string())])
}

fn with_prefix(addr: IpAddr, pool: &IpNet) -> IpNet {
    IpNet::new(addr, pool.prefix_len()).expect("prefix of an existing pool is valid")
}

/// Allocates the pools, gateways and aux addresses of a new network, filling
/// `network.ipam_v4` / `ipam_v6`.
pub(crate) fn allocate_network(
    state: &mut State,
    network: &mut Network,
    skip_gateway: (bool, bool),
    exclude: &[IpNet],
    undo: &mut Undo,
) -> Result<()> {
    for v6 in [false, true] {
        let enabled = if v6 { network.enable_ipv6 } else { network.enable_ipv4 };
        if !enabled {
            continue;
        }
        let requests: Vec<(Option<usize>, IpamRequest)> = network
            .ipam_requests
            .iter()
            .enumerate()
            .filter(|(_, r)| r.subnet.map(|s| matches!(s, IpNet::V6(_)) == v6).unwrap_or(false))
            .map(|(i, r)| (Some(i), r.clone()))
            .collect();
        let requests = if requests.is_empty() { vec![(None, IpamRequest::default())] } else { requests };
        for (index, request) in requests {
            let skip = if v6 { skip_gateway.1 } else { skip_gateway.0 };
            let info = allocate_pool(state, network, &request, index, v6, skip, exclude, undo)?;
            if v6 { network.ipam_v6.push(info) } else { network.ipam_v4.push(info) }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn allocate_pool(
    state: &mut State,
    network: &Network,
    request: &IpamRequest,
    index: Option<usize>,
    v6: bool,
    skip_gateway: bool,
    exclude: &[IpNet],
    undo: &mut Undo,
) -> Result<IpamInfo> {
    let pool_request = PoolRequest {
        address_space: LOCAL_DEFAULT.to_string(),
        pool: request.subnet,
        sub_pool: request.ip_range,
        options: network.ipam_options.clone().unwrap_or_default(),
        exclude: if request.subnet.is_none() { exclude.to_vec() } else { Vec::new() },
        v6,
    };
    let pool = state.ipam.request_pool(&pool_request)?;
    undo.push(Step::ReleasePool(pool.pool_id.clone()));

    let mut gateway = None;
    let mut gateway_reserved = false;
    if let Some(gw) = request.gateway {
        let addr = state
            .ipam
            .request_address(&pool.pool_id, Some(gw), &gateway_options())
            .map_err(|e| Error::internal(format!("failed to allocate gateway ({gw}): {e}")))?;
        undo.push(Step::ReleaseAddress { pool: pool.pool_id.clone(), addr: gw });
        gateway = Some(addr);
        gateway_reserved = true;
    } else if let Some(meta) = pool.meta.get(GATEWAY_ADDRESS_TYPE) {
        gateway = meta.parse().ok();
    } else if !skip_gateway {
        let addr = state
            .ipam
            .request_address(&pool.pool_id, None, &gateway_options())
            .map_err(|e| Error::internal(format!("failed to allocate gateway ({}): {e}", pool.pool)))?;
        undo.push(Step::ReleaseAddress { pool: pool.pool_id.clone(), addr: addr.addr() });
        gateway = Some(addr);
        gateway_reserved = true;
    }

    let mut aux_addresses = BTreeMap::new();
    let mut aux_reserved = Vec::new();
    let range = request.ip_range.unwrap_or(pool.pool);
    for (name, ip) in &request.aux_addresses {
        if !pool.pool.contains(ip) {
            return Err(Error::forbidden(format!(
                "auxiliary address: ({name}:{ip}) must belong to the master pool: {}",
                pool.pool
            )));
        }
        if range.contains(ip) {
            state.ipam.request_address(&pool.pool_id, Some(*ip), &BTreeMap::new()).map_err(|e| {
                Error::new(e_kind(&e), format!("failed to allocate secondary ip address ({name}:{ip}): {e}"))
            })?;
            undo.push(Step::ReleaseAddress { pool: pool.pool_id.clone(), addr: *ip });
            aux_reserved.push(*ip);
        }
        aux_addresses.insert(name.clone(), with_prefix(*ip, &pool.pool));
    }

    Ok(IpamInfo {
        pool_id: pool.pool_id,
        pool: pool.pool,
        ip_range: request.ip_range,
        gateway,
        gateway_reserved,
        aux_addresses,
        aux_reserved,
        request: index,
    })
}

fn e_kind(e: &IpamError) -> crate::ErrorKind {
    use crate::error::HasKind;
    e.kind()
}

/// Gives back everything `allocate_network` took (network delete).
pub(crate) fn release_network(state: &mut State, network: &Network) {
    for info in network.all_ipam() {
        if info.gateway_reserved
            && let Some(gw) = info.gateway
        {
            let _ = state.ipam.release_address(&info.pool_id, gw.addr());
        }
        for aux in &info.aux_reserved {
            let _ = state.ipam.release_address(&info.pool_id, *aux);
        }
        if let Err(e) = state.ipam.release_pool(&info.pool_id) {
            tracing::warn!(network = %network.name, pool = %info.pool_id, error = %e, "releasing pool");
        }
    }
}

/// Re-requests a stored network's pools and reserved addresses (start-up replay).
pub(crate) fn replay_network(state: &mut State, network: &mut Network) -> Result<()> {
    for v6 in [false, true] {
        let infos = if v6 { &mut network.ipam_v6 } else { &mut network.ipam_v4 };
        for info in infos.iter_mut() {
            let request = PoolRequest {
                address_space: LOCAL_DEFAULT.to_string(),
                pool: Some(info.pool),
                sub_pool: info.ip_range,
                options: network.ipam_options.clone().unwrap_or_default(),
                exclude: Vec::new(),
                v6,
            };
            let pool = state.ipam.request_pool(&request)?;
            info.pool_id = pool.pool_id;
            if info.gateway_reserved
                && let Some(gw) = info.gateway
            {
                state.ipam.request_address(&info.pool_id, Some(gw.addr()), &gateway_options())?;
            }
            for aux in &info.aux_reserved {
                state.ipam.request_address(&info.pool_id, Some(*aux), &BTreeMap::new())?;
            }
        }
    }
    Ok(())
}

/// Allocates one address of one family for an endpoint: the preferred one (which must lie in
/// one of the network's subnets) or the first free address of the first pool that has one.
pub(crate) fn allocate_endpoint_address(
    state: &mut State,
    network: &Network,
    endpoint_name: &str,
    preferred: Option<IpAddr>,
    v6: bool,
    undo: &mut Undo,
) -> Result<(IpNet, String)> {
    let pools = if v6 { &network.ipam_v6 } else { &network.ipam_v4 };
    let family = if v6 { 6 } else { 4 };
    if pools.is_empty() {
        return Err(Error::internal(format!("no IPv{family} information available for endpoint {endpoint_name}")));
    }
    let options = BTreeMap::new();
    if let Some(ip) = preferred {
        let info = pools.iter().find(|i| i.pool.contains(&ip)).ok_or_else(|| {
            Error::invalid(format!("Invalid address {ip}: It does not belong to any of this network's subnets"))
        })?;
        let addr = state.ipam.request_address(&info.pool_id, Some(ip), &options)?;
        undo.push(Step::ReleaseAddress { pool: info.pool_id.clone(), addr: ip });
        return Ok((addr, info.pool_id.clone()));
    }
    for info in pools {
        match state.ipam.request_address(&info.pool_id, None, &options) {
            Ok(addr) => {
                undo.push(Step::ReleaseAddress { pool: info.pool_id.clone(), addr: addr.addr() });
                return Ok((addr, info.pool_id.clone()));
            }
            Err(IpamError::NoAvailableAddresses) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::new(
        crate::ErrorKind::Unavailable,
        format!("no available IPv{family} addresses on this network's address pools: {} ({})", network.name, network.id),
    ))
}
