//! The `null` IPAM driver (spec §4.7): pools without addresses, for drivers that do their
//! own addressing.
//!
//! Contract: address spaces `null`/`null`; `RequestPool` accepts only the `null` space and
//! no explicit pool or sub-pool, and answers `0.0.0.0/0` (id `null/0.0.0.0/0`) or `::/0`
//! (id `null/::/0`). Releasing is a no-op. `RequestAddress` hands out **no address**: Docker
//! returns nil; the [`super::Ipam`] trait returns an `IpNet`, so this driver answers the
//! unspecified address with prefix 0 (`0.0.0.0/0` / `::/0`), which [`is_no_address`]
//! recognises. Callers must not configure it on an interface. Unknown pool ids are rejected
//! with Docker's messages.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::{AllocatedPool, Ipam, IpamError, PoolRequest, PoolStatus};

pub const NULL_ADDRESS_SPACE: &str = "null";
const POOL_ID_V4: &str = "null/0.0.0.0/0";
const POOL_ID_V6: &str = "null/::/0";

/// Rejections of the `null` driver, with Docker's messages (all 400).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NullIpamError {
    #[error("unknown address space: {0}")]
    UnknownAddressSpace(String),
    #[error("null ipam driver does not handle specific address pool requests")]
    SpecificPool,
    #[error("null ipam driver does not handle specific address subpool requests")]
    SpecificSubPool,
    #[error("unknown pool id: {0}")]
    UnknownPoolId(String),
}

/// The `null` IPAM driver. Stateless.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullIpam;

/// The "no address" answer of [`NullIpam::request_address`]: an unspecified address with
/// prefix length 0.
pub fn is_no_address(addr: &IpNet) -> bool {
    addr.prefix_len() == 0 && addr.addr().is_unspecified()
}

fn any_net(v6: bool) -> IpNet {
    let addr = if v6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    };
    IpNet::new(addr, 0).expect("prefix 0 is valid")
}

/// The family of a known pool id.
fn pool_family(pool_id: &str) -> Result<bool, IpamError> {
    match pool_id {
        POOL_ID_V4 => Ok(false),
        POOL_ID_V6 => Ok(true),
        _ => Err(NullIpamError::UnknownPoolId(pool_id.to_string()).into()),
    }
}

impl Ipam for NullIpam {
    fn default_address_spaces(&self) -> (String, String) {
        (
            NULL_ADDRESS_SPACE.to_string(),
            NULL_ADDRESS_SPACE.to_string(),
        )
    }

    fn request_pool(&mut self, req: &PoolRequest) -> Result<AllocatedPool, IpamError> {
        if req.address_space != NULL_ADDRESS_SPACE {
            return Err(NullIpamError::UnknownAddressSpace(req.address_space.clone()).into());
        }
        if req.pool.is_some() {
            return Err(NullIpamError::SpecificPool.into());
        }
        if req.sub_pool.is_some() {
            return Err(NullIpamError::SpecificSubPool.into());
        }
        let pool_id = if req.v6 { POOL_ID_V6 } else { POOL_ID_V4 };
        Ok(AllocatedPool {
            pool_id: pool_id.to_string(),
            pool: any_net(req.v6),
            meta: BTreeMap::new(),
        })
    }

    /// Docker's null driver releases anything without looking.
    fn release_pool(&mut self, _pool_id: &str) -> Result<(), IpamError> {
        Ok(())
    }

    fn request_address(
        &mut self,
        pool_id: &str,
        _preferred: Option<IpAddr>,
        _options: &BTreeMap<String, String>,
    ) -> Result<IpNet, IpamError> {
        pool_family(pool_id).map(any_net)
    }

    fn release_address(&mut self, pool_id: &str, _addr: IpAddr) -> Result<(), IpamError> {
        pool_family(pool_id).map(|_| ())
    }

    fn pool_status(&self, _pool_id: &str) -> Option<PoolStatus> {
        None
    }
}
