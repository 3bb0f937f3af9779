//! The default IPAM driver (Docker's `defaultipam`, spec §4.1–4.5).
//!
//! Contract: two address spaces, `LocalDefault` and `GlobalDefault`, each kept per family.
//! Pool ids are `<space>/<subnet>` or `<space>/<subnet>/<subpool>` (e.g.
//! `LocalDefault/172.18.0.0/16/172.18.5.0/24`); the subnet's family picks the family of the
//! space. `RequestPool`: a static subnet is masked (as Docker's allocator does) and checked
//! for overlap; an unspecified address with a prefix length (`0.0.0.0/24`, `::/56`) or no
//! pool at all asks for a dynamic subnet; a sub-pool longer than its pool is kept, a
//! shorter one is clamped to the pool, and one of the other family or outside the pool is
//! rejected. Addresses: see [`super::pool`]. State is in memory only; the controller
//! replays its requests at start-up (`RequiresRequestReplay`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::bits::unmap;
use super::pool::Pool;
use super::pools::PredefinedPools;
use super::space::AddressSpace;
use super::{
    AllocatedPool, GLOBAL_DEFAULT, Ipam, IpamError, LOCAL_DEFAULT, PoolRequest, PoolStatus,
};

/// `RequestAddress` option: continue after the last allocated address and wrap (swarm).
pub const ALLOC_SERIAL: &str = "com.docker.network.ipam.serial";

/// The default IPAM driver: in-memory pools of `LocalDefault` and `GlobalDefault`.
#[derive(Clone, Debug)]
pub struct DefaultIpam {
    local4: AddressSpace,
    local6: AddressSpace,
    global4: AddressSpace,
    global6: AddressSpace,
}

/// A parsed pool id.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PoolKey {
    global: bool,
    net: IpNet,
    sub: Option<IpNet>,
}

impl PoolKey {
    /// Any malformed id, or an unknown space, is an unknown pool.
    fn parse(id: &str) -> Result<Self, IpamError> {
        let unknown = || IpamError::UnknownPool(id.to_string());
        let parts: Vec<&str> = id.split('/').collect();
        if parts.len() != 3 && parts.len() != 5 {
            return Err(unknown());
        }
        let global = match parts[0] {
            LOCAL_DEFAULT => false,
            GLOBAL_DEFAULT => true,
            _ => return Err(unknown()),
        };
        let prefix = |a: &str, l: &str| format!("{a}/{l}").parse::<IpNet>().map_err(|_| unknown());
        let net = prefix(parts[1], parts[2])?;
        let sub = if parts.len() == 5 {
            Some(prefix(parts[3], parts[4])?)
        } else {
            None
        };
        Ok(PoolKey { global, net, sub })
    }

    fn id(&self) -> String {
        let space = if self.global {
            GLOBAL_DEFAULT
        } else {
            LOCAL_DEFAULT
        };
        match self.sub {
            Some(sub) => format!("{space}/{}/{sub}", self.net),
            None => format!("{space}/{}", self.net),
        }
    }

    /// The sub-pool addresses come from, when it is not the whole pool.
    fn range(&self) -> Option<IpNet> {
        self.sub.filter(|sub| *sub != self.net)
    }
}

impl DefaultIpam {
    pub fn new(pools: &PredefinedPools) -> Self {
        DefaultIpam {
            local4: AddressSpace::new(false, &pools.local),
            local6: AddressSpace::new(true, &pools.local),
            global4: AddressSpace::new(false, &pools.global),
            global6: AddressSpace::new(true, &pools.global),
        }
    }

    /// Docker's default pools for a daemon whose persistent host id is `host_id`.
    pub fn with_docker_defaults(host_id: &str) -> Self {
        Self::new(&PredefinedPools::docker_defaults(host_id))
    }

    fn space_mut(&mut self, global: bool, v6: bool) -> &mut AddressSpace {
        match (global, v6) {
            (false, false) => &mut self.local4,
            (false, true) => &mut self.local6,
            (true, false) => &mut self.global4,
            (true, true) => &mut self.global6,
        }
    }

    fn space(&self, global: bool, v6: bool) -> &AddressSpace {
        match (global, v6) {
            (false, false) => &self.local4,
            (false, true) => &self.local6,
            (true, false) => &self.global4,
            (true, true) => &self.global6,
        }
    }

    /// The pool of `key`, checking that its sub-pool is one of the pool's children.
    fn pool_mut(&mut self, key: &PoolKey, pool_id: &str) -> Result<&mut Pool, IpamError> {
        let pool = self
            .space_mut(key.global, key.net.addr().is_ipv6())
            .pool_mut(&key.net)
            .ok_or_else(|| IpamError::UnknownPool(pool_id.to_string()))?;
        match key.sub {
            Some(sub) if !pool.children.contains(&sub) => {
                Err(IpamError::UnknownPool(pool_id.to_string()))
            }
            _ => Ok(pool),
        }
    }
}

/// The sub-pool of a static request, masked and clamped as Docker does.
fn static_sub_pool(net: IpNet, sub: Option<IpNet>) -> Result<Option<IpNet>, IpamError> {
    let Some(sub) = sub else { return Ok(None) };
    if sub.addr().is_ipv6() != net.addr().is_ipv6() {
        return Err(IpamError::IncompatibleSubPool);
    }
    // Networks created before Docker 24 may carry a sub-pool shorter than the pool; it
    // means the whole pool.
    let sub = if sub.prefix_len() < net.prefix_len() {
        net
    } else {
        sub.trunc()
    };
    if !net.contains(&sub) {
        return Err(IpamError::InvalidSubPool);
    }
    Ok(Some(sub))
}

impl Ipam for DefaultIpam {
    fn default_address_spaces(&self) -> (String, String) {
        (LOCAL_DEFAULT.to_string(), GLOBAL_DEFAULT.to_string())
    }

    fn request_pool(&mut self, req: &PoolRequest) -> Result<AllocatedPool, IpamError> {
        let global = match req.address_space.as_str() {
            "" => return Err(IpamError::InvalidAddressSpace),
            LOCAL_DEFAULT => false,
            GLOBAL_DEFAULT => true,
            other => return Err(IpamError::UnknownAddressSpace(other.to_string())),
        };
        let key = match req.pool {
            Some(pool) if !pool.addr().is_unspecified() => {
                let net = pool.trunc();
                let sub = static_sub_pool(net, req.sub_pool)?;
                self.space_mut(global, net.addr().is_ipv6())
                    .allocate_static(net, sub)?;
                PoolKey { global, net, sub }
            }
            dynamic => {
                if req.sub_pool.is_some() {
                    return Err(IpamError::InvalidSubPool);
                }
                // `0.0.0.0/24` asks for a /24; `0.0.0.0/0` for the bases' own sizes.
                let size = dynamic.map(|p| p.prefix_len()).filter(|len| *len > 0);
                let v6 = dynamic.map_or(req.v6, |p| p.addr().is_ipv6());
                let net = self
                    .space_mut(global, v6)
                    .allocate_dynamic(&req.exclude, size)?;
                PoolKey {
                    global,
                    net,
                    sub: None,
                }
            }
        };
        Ok(AllocatedPool {
            pool_id: key.id(),
            pool: key.net,
            meta: BTreeMap::new(),
        })
    }

    fn release_pool(&mut self, pool_id: &str) -> Result<(), IpamError> {
        let key = PoolKey::parse(pool_id)?;
        self.space_mut(key.global, key.net.addr().is_ipv6())
            .release(&key.net, key.sub, pool_id)
    }

    fn request_address(
        &mut self,
        pool_id: &str,
        preferred: Option<IpAddr>,
        options: &BTreeMap<String, String>,
    ) -> Result<IpNet, IpamError> {
        let key = PoolKey::parse(pool_id)?;
        let serial = options.get(ALLOC_SERIAL).is_some_and(|v| v == "true");
        let preferred = preferred.map(unmap);
        let pool = self.pool_mut(&key, pool_id)?;
        let addr = pool.allocate(preferred, key.range(), serial)?;
        Ok(IpNet::new(addr, pool.net().prefix_len()).expect("prefix length of an existing pool"))
    }

    fn release_address(&mut self, pool_id: &str, addr: IpAddr) -> Result<(), IpamError> {
        let key = PoolKey::parse(pool_id)?;
        self.pool_mut(&key, pool_id)?.release(unmap(addr))
    }

    fn pool_status(&self, pool_id: &str) -> Option<PoolStatus> {
        let key = PoolKey::parse(pool_id).ok()?;
        let pool = self
            .space(key.global, key.net.addr().is_ipv6())
            .pool(&key.net)?;
        Some(pool.status(key.range()))
    }
}
