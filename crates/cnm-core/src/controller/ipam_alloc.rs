//! Network- and endpoint-level address allocation on top of the network's IPAM driver
//! (spec §4.4).
//!
//! Contract: every allocation pushes its release onto the caller's `Undo`, so a failed
//! operation gives everything back. `replay_*` re-requests exactly what a stored network or
//! endpoint holds, which rebuilds in-memory IPAM state at start-up. All calls go to the driver
//! the network names (`ipam_driver`), so pool ids never cross drivers.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::State;
use super::undo::{Step, Undo};
use crate::error::{Error, HasKind, Result};
use crate::ipam::{GATEWAY_ADDRESS_TYPE, PoolRequest, REQUEST_ADDRESS_TYPE};
use crate::model::{IpamInfo, IpamRequest, Network};

fn gateway_options() -> BTreeMap<String, String> {
    BTreeMap::from([(
        REQUEST_ADDRESS_TYPE.to_string(),
        GATEWAY_ADDRESS_TYPE.to_string(),
    )])
}

fn with_prefix(addr: IpAddr, pool: &IpNet) -> IpNet {
    IpNet::new(addr, pool.prefix_len()).expect("prefix of an existing pool is valid")
}

/// The address space a network's pools come from.
async fn address_space(state: &State, network: &Network) -> Result<String> {
    let driver = state
        .ipams
        .get(&network.ipam_driver)
        .ok_or_else(|| Error::not_found(format!("plugin \"{}\" not found", network.ipam_driver)))?;
    let (local, global) = driver.default_address_spaces().await?;
    Ok(if network.scope == "global" || network.scope == "swarm" {
        global
    } else {
        local
    })
}

/// Allocates the pools, gateways and aux addresses of a new network, filling
/// `network.ipam_v4` / `ipam_v6`.
pub(crate) async fn allocate_network(
    state: &mut State,
    network: &mut Network,
    skip_gateway: (bool, bool),
    exclude: &[IpNet],
    undo: &mut Undo,
) -> Result<()> {
    let space = address_space(state, network).await?;
    for v6 in [false, true] {
        let enabled = if v6 {
            network.enable_ipv6
        } else {
            network.enable_ipv4
        };
        if !enabled {
            continue;
        }
        let requests: Vec<(Option<usize>, IpamRequest)> = network
            .ipam_requests
            .iter()
            .enumerate()
            .filter(|(_, r)| r.subnet.is_some_and(|s| matches!(s, IpNet::V6(_)) == v6))
            .map(|(i, r)| (Some(i), r.clone()))
            .collect();
        let requests = if requests.is_empty() {
            vec![(None, IpamRequest::default())]
        } else {
            requests
        };
        for (index, request) in requests {
            let skip = if v6 { skip_gateway.1 } else { skip_gateway.0 };
            let info = allocate_pool(
                state, network, &space, &request, index, v6, skip, exclude, undo,
            )
            .await?;
            if v6 {
                network.ipam_v6.push(info)
            } else {
                network.ipam_v4.push(info)
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn allocate_pool(
    state: &mut State,
    network: &Network,
    space: &str,
    request: &IpamRequest,
    index: Option<usize>,
    v6: bool,
    skip_gateway: bool,
    exclude: &[IpNet],
    undo: &mut Undo,
) -> Result<IpamInfo> {
    let ipam_name = network.ipam_driver.clone();
    let ipam = state.ipams.get_mut(&ipam_name)?;
    let pool_request = PoolRequest {
        address_space: space.to_string(),
        pool: request.subnet,
        sub_pool: request.ip_range,
        options: network.ipam_options.clone().unwrap_or_default(),
        exclude: if request.subnet.is_none() {
            exclude.to_vec()
        } else {
            Vec::new()
        },
        v6,
    };
    let pool = ipam.request_pool(&pool_request).await?;
    undo.push(Step::ReleasePool {
        ipam: ipam_name.clone(),
        pool: pool.pool_id.clone(),
    });
    let release = |addr: IpAddr| Step::ReleaseAddress {
        ipam: ipam_name.clone(),
        pool: pool.pool_id.clone(),
        addr,
    };

    let mut gateway = None;
    let mut gateway_reserved = false;
    if let Some(gw) = request.gateway {
        let addr = ipam
            .request_address(&pool.pool_id, Some(gw), &gateway_options())
            .await
            .map_err(|e| Error::internal(format!("failed to allocate gateway ({gw}): {e}")))?;
        undo.push(release(gw));
        gateway = addr.or_else(|| Some(with_prefix(gw, &pool.pool)));
        gateway_reserved = addr.is_some();
    } else if let Some(meta) = pool.meta.get(GATEWAY_ADDRESS_TYPE) {
        gateway = meta.parse().ok();
    } else if !skip_gateway {
        let addr = ipam
            .request_address(&pool.pool_id, None, &gateway_options())
            .await
            .map_err(|e| {
                Error::internal(format!("failed to allocate gateway ({}): {e}", pool.pool))
            })?;
        if let Some(addr) = addr {
            undo.push(release(addr.addr()));
            gateway = Some(addr);
            gateway_reserved = true;
        }
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
            ipam.request_address(&pool.pool_id, Some(*ip), &BTreeMap::new())
                .await
                .map_err(|e| {
                    Error::new(
                        e.kind(),
                        format!("failed to allocate secondary ip address ({name}:{ip}): {e}"),
                    )
                })?;
            undo.push(release(*ip));
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

/// Bridge-like drivers need a real subnet: the null IPAM driver's `0.0.0.0/0` is refused
/// with Docker's message.
pub(crate) fn check_pools_not_empty(network: &Network) -> Result<()> {
    for (family, infos) in [("ipv4", &network.ipam_v4), ("ipv6", &network.ipam_v6)] {
        if infos.iter().any(|i| i.pool.prefix_len() == 0) {
            return Err(Error::invalid(format!("{family} pool is empty")));
        }
    }
    Ok(())
}

/// Gives back everything `allocate_network` took (network delete).
pub(crate) async fn release_network(state: &mut State, network: &Network) {
    let Ok(ipam) = state.ipams.get_mut(&network.ipam_driver) else {
        return;
    };
    for info in network.all_ipam() {
        if info.gateway_reserved
            && let Some(gw) = info.gateway
        {
            let _ = ipam.release_address(&info.pool_id, gw.addr()).await;
        }
        for aux in &info.aux_reserved {
            let _ = ipam.release_address(&info.pool_id, *aux).await;
        }
        if let Err(e) = ipam.release_pool(&info.pool_id).await {
            tracing::warn!(network = %network.name, pool = %info.pool_id, error = %e, "releasing pool");
        }
    }
}

/// Re-requests a stored network's pools and reserved addresses (start-up replay).
pub(crate) async fn replay_network(state: &mut State, network: &mut Network) -> Result<()> {
    let space = address_space(state, network).await?;
    let ipam = state.ipams.get_mut(&network.ipam_driver)?;
    let options = network.ipam_options.clone().unwrap_or_default();
    for v6 in [false, true] {
        let infos = if v6 {
            &mut network.ipam_v6
        } else {
            &mut network.ipam_v4
        };
        for info in infos.iter_mut() {
            let request = PoolRequest {
                address_space: space.clone(),
                // The null driver refuses explicit pools: ask it the way it was asked.
                pool: (info.pool.prefix_len() != 0).then_some(info.pool),
                sub_pool: info.ip_range,
                options: options.clone(),
                exclude: Vec::new(),
                v6,
            };
            info.pool_id = ipam.request_pool(&request).await?.pool_id;
            if info.gateway_reserved
                && let Some(gw) = info.gateway
            {
                ipam.request_address(&info.pool_id, Some(gw.addr()), &gateway_options())
                    .await?;
            }
            for aux in &info.aux_reserved {
                ipam.request_address(&info.pool_id, Some(*aux), &BTreeMap::new())
                    .await?;
            }
        }
    }
    Ok(())
}

/// The options of an endpoint's `RequestAddress`: an IPAM driver that asks for the MAC
/// (`RequiresMACAddress`) gets it, generated now when the user gave none (spec §4.1).
pub(crate) fn endpoint_ipam_options(
    state: &State,
    network: &Network,
    endpoint: &mut crate::model::Endpoint,
    user_mac: Option<crate::model::Mac>,
) -> BTreeMap<String, String> {
    let wants_mac = state
        .ipams
        .get(&network.ipam_driver)
        .is_some_and(|d| d.capabilities().requires_mac_address);
    if !wants_mac {
        return BTreeMap::new();
    }
    let mac = *endpoint
        .mac
        .get_or_insert_with(|| user_mac.unwrap_or_else(crate::model::Mac::random));
    BTreeMap::from([(
        crate::model::labels::ENDPOINT_MACADDRESS.to_string(),
        mac.to_string(),
    )])
}

/// Allocates one address of one family for an endpoint: the preferred one (which must lie in
/// one of the network's subnets) or the first free address of the first pool that has one.
/// `None` when the driver hands out no addresses (null IPAM).
pub(crate) async fn allocate_endpoint_address(
    state: &mut State,
    network: &Network,
    endpoint_name: &str,
    preferred: Option<IpAddr>,
    v6: bool,
    options: &BTreeMap<String, String>,
    undo: &mut Undo,
) -> Result<Option<(IpNet, String)>> {
    let pools = if v6 {
        &network.ipam_v6
    } else {
        &network.ipam_v4
    };
    let family = if v6 { 6 } else { 4 };
    if pools.is_empty() {
        return Err(Error::internal(format!(
            "no IPv{family} information available for endpoint {endpoint_name}"
        )));
    }
    let ipam_name = network.ipam_driver.clone();
    let ipam = state.ipams.get_mut(&ipam_name)?;
    let candidates: Vec<&IpamInfo> = match preferred {
        Some(ip) => vec![pools.iter().find(|i| i.pool.contains(&ip)).ok_or_else(|| {
            Error::invalid(format!(
                "Invalid address {ip}: It does not belong to any of this network's subnets"
            ))
        })?],
        None => pools.iter().collect(),
    };
    for info in candidates {
        match ipam
            .request_address(&info.pool_id, preferred, options)
            .await
        {
            Ok(None) => return Ok(None),
            Ok(Some(addr)) => {
                undo.push(Step::ReleaseAddress {
                    ipam: ipam_name,
                    pool: info.pool_id.clone(),
                    addr: addr.addr(),
                });
                return Ok(Some((addr, info.pool_id.clone())));
            }
            // A full pool moves on to the next one; any other failure (an unreachable plugin is
            // 503 too) is the answer.
            Err(e)
                if preferred.is_none()
                    && e.message == crate::ipam::IpamError::NoAvailableAddresses.to_string() =>
            {
                continue;
            }
            Err(e) => return Err(e),
        }
    }
    Err(Error::new(
        crate::ErrorKind::Unavailable,
        format!(
            "no available IPv{family} addresses on this network's address pools: {} ({})",
            network.name, network.id
        ),
    ))
}
