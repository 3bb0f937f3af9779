//! The remote IPAM driver (spec §4.8, §5.3): a plugin speaking `IpamDriver.*`.
//!
//! Contract:
//! - `load` asks `GetCapabilities` (optional: 404 means no capabilities).
//! - Errors inside 200 answers are in `Error` (not `Err`) and read `remote: <msg>`.
//! - `request_pool` retries a dynamic local request while the answered pool overlaps the
//!   exclude list (holding the rejected pools, releasing them afterwards), as libnetwork does;
//!   not for explicit pools, the plugin's global space, or `0.0.0.0/0`. Bounded: a plugin
//!   that keeps answering overlapping pools gets an error after 32 tries.
//! - Answers are checked: pool ids must be non-empty, pools and addresses must parse as CIDRs
//!   of the requested family, a preferred address must be the one granted, and an address must
//!   lie inside its pool (when this driver saw the pool). A bad address is given back before
//!   the error is returned.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use cnm_types::plugin::{
    AddressSpacesResponse, IpamCapabilitiesResponse, IpamResponse, ReleaseAddressRequest,
    ReleasePoolRequest, RequestAddressRequest, RequestAddressResponse, RequestPoolRequest,
    RequestPoolResponse,
};
use ipnet::IpNet;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::driver::IpamCapabilities;
use super::{AllocatedPool, PoolRequest};
use crate::error::{ErrorKind, Result};
use crate::plugins::{Plugin, PluginClient, PluginError};

const MAX_POOL_TRIES: usize = 32;

/// Responses of `IpamDriver.*` carry their error in `Error`.
trait IpamAnswer {
    fn error(&self) -> &str;
}

macro_rules! ipam_answer {
    ($($t:ty),*) => {$(impl IpamAnswer for $t { fn error(&self) -> &str { &self.error } })*};
}
ipam_answer!(
    IpamResponse,
    IpamCapabilitiesResponse,
    AddressSpacesResponse,
    RequestPoolResponse,
    RequestAddressResponse
);

pub struct RemoteIpam {
    client: PluginClient,
    capabilities: IpamCapabilities,
    /// The plugin's global address space, from the last `GetDefaultAddressSpaces` (behind a
    /// lock because that call takes `&self`, like the built-ins').
    global_space: std::sync::Mutex<Option<String>>,
    /// Pools this driver was granted, to check the addresses it hands out.
    pools: HashMap<String, IpNet>,
}

impl RemoteIpam {
    pub async fn load(plugin: &Plugin) -> Result<Self> {
        let mut ipam = RemoteIpam {
            client: plugin.client.clone(),
            capabilities: IpamCapabilities::default(),
            global_space: std::sync::Mutex::new(None),
            pools: HashMap::new(),
        };
        match ipam
            .call::<(), IpamCapabilitiesResponse>("GetCapabilities", None)
            .await
        {
            Ok(caps) => {
                ipam.capabilities = IpamCapabilities {
                    requires_mac_address: caps.requires_mac_address,
                    requires_request_replay: caps.requires_request_replay,
                }
            }
            Err(e) if e.kind == ErrorKind::NotImplemented => {}
            Err(e) => return Err(e),
        }
        Ok(ipam)
    }

    pub fn capabilities(&self) -> IpamCapabilities {
        self.capabilities
    }

    async fn call<Req: Serialize, Resp: DeserializeOwned + Default + IpamAnswer>(
        &self,
        method: &str,
        request: Option<&Req>,
    ) -> Result<Resp> {
        let answer: Resp = self
            .client
            .call(&format!("IpamDriver.{method}"), request)
            .await?;
        if !answer.error().is_empty() {
            return Err(PluginError::Remote(answer.error().to_string()).into());
        }
        Ok(answer)
    }

    fn bad(&self, method: &str, reason: impl Into<String>) -> crate::Error {
        self.client
            .bad_response(&format!("IpamDriver.{method}"), &reason.into())
            .into()
    }

    pub async fn default_address_spaces(&self) -> Result<(String, String)> {
        let answer: AddressSpacesResponse =
            self.call::<(), _>("GetDefaultAddressSpaces", None).await?;
        *self.global_space.lock().expect("address space lock") =
            Some(answer.global_default_address_space.clone());
        Ok((
            answer.local_default_address_space,
            answer.global_default_address_space,
        ))
    }

    pub async fn request_pool(&mut self, req: &PoolRequest) -> Result<AllocatedPool> {
        let global = self
            .global_space
            .lock()
            .expect("address space lock")
            .clone();
        let dynamic_local =
            req.pool.is_none() && global.as_deref() != Some(req.address_space.as_str());
        let mut rejected = Vec::new();
        let result = loop {
            let pool = match self.request_one_pool(req).await {
                Ok(pool) => pool,
                Err(e) => break Err(e),
            };
            let overlaps = dynamic_local
                && pool.pool.prefix_len() != 0
                && req
                    .exclude
                    .iter()
                    .any(|x| x.contains(&pool.pool.network()) || pool.pool.contains(&x.network()));
            if !overlaps {
                break Ok(pool);
            }
            let repeated = rejected
                .iter()
                .any(|p: &AllocatedPool| p.pool_id == pool.pool_id);
            rejected.push(pool.clone());
            if repeated || rejected.len() >= MAX_POOL_TRIES {
                break Err(self.bad(
                    "RequestPool",
                    format!(
                        "every pool offered overlaps the host's networks (last: {})",
                        pool.pool
                    ),
                ));
            }
        };
        for pool in rejected {
            if let Err(e) = self.release_pool(&pool.pool_id).await {
                tracing::warn!(pool = %pool.pool_id, error = %e, "releasing a pool that overlapped the host's networks");
            }
        }
        result
    }

    async fn request_one_pool(&mut self, req: &PoolRequest) -> Result<AllocatedPool> {
        let request = RequestPoolRequest {
            address_space: req.address_space.clone(),
            pool: req.pool.map(|p| p.to_string()).unwrap_or_default(),
            sub_pool: req.sub_pool.map(|p| p.to_string()).unwrap_or_default(),
            options: req.options.clone(),
            v6: req.v6,
        };
        let answer: RequestPoolResponse = self.call("RequestPool", Some(&request)).await?;
        let pool = answer
            .pool
            .parse::<IpNet>()
            .ok()
            .filter(|p| p.addr().is_ipv6() == req.v6);
        let checked = match pool {
            _ if answer.pool_id.is_empty() => Err(self.bad("RequestPool", "empty PoolID")),
            None => Err(self.bad("RequestPool", format!("invalid Pool {:?}", answer.pool))),
            Some(pool) => Ok(AllocatedPool {
                pool_id: answer.pool_id.clone(),
                pool,
                meta: answer.data,
            }),
        };
        match checked {
            Ok(pool) => {
                self.pools.insert(pool.pool_id.clone(), pool.pool);
                Ok(pool)
            }
            Err(e) => {
                if !answer.pool_id.is_empty() {
                    let _ = self.release_pool(&answer.pool_id).await;
                }
                Err(e)
            }
        }
    }

    pub async fn release_pool(&mut self, pool_id: &str) -> Result<()> {
        self.call::<_, IpamResponse>(
            "ReleasePool",
            Some(&ReleasePoolRequest {
                pool_id: pool_id.to_string(),
            }),
        )
        .await?;
        self.pools.remove(pool_id);
        Ok(())
    }

    /// `None` when the plugin hands out no address (empty `Address`).
    pub async fn request_address(
        &mut self,
        pool_id: &str,
        preferred: Option<IpAddr>,
        options: &BTreeMap<String, String>,
    ) -> Result<Option<IpNet>> {
        let request = RequestAddressRequest {
            pool_id: pool_id.to_string(),
            address: preferred.map(|a| a.to_string()).unwrap_or_default(),
            options: options.clone(),
        };
        let answer: RequestAddressResponse = self.call("RequestAddress", Some(&request)).await?;
        if answer.address.is_empty() {
            return Ok(None);
        }
        let Ok(address) = answer.address.parse::<IpNet>() else {
            return Err(self.bad(
                "RequestAddress",
                format!("invalid Address {:?} (expected a CIDR)", answer.address),
            ));
        };
        let pool = self.pools.get(pool_id).copied();
        let problem = if pool.is_some_and(|p| {
            p.addr().is_ipv6() != address.addr().is_ipv6() || !p.contains(&address.addr())
        }) {
            Some(format!(
                "address {address} is outside pool {}",
                pool.expect("checked")
            ))
        } else if preferred.is_some_and(|p| p != address.addr()) {
            Some(format!(
                "address {address} was granted instead of the requested {}",
                preferred.expect("checked")
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            if let Err(e) = self.release_address(pool_id, address.addr()).await {
                tracing::warn!(address = %address, error = %e, "giving back a bad address");
            }
            return Err(self.bad("RequestAddress", problem));
        }
        Ok(Some(address))
    }

    pub async fn release_address(&mut self, pool_id: &str, addr: IpAddr) -> Result<()> {
        let request = ReleaseAddressRequest {
            pool_id: pool_id.to_string(),
            address: addr.to_string(),
        };
        self.call::<_, IpamResponse>("ReleaseAddress", Some(&request))
            .await
            .map(drop)
    }
}
