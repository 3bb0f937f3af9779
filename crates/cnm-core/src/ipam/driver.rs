//! The IPAM drivers a network can name (`--ipam-driver`): built-ins by value, plugins later.
//!
//! Contract: one `IpamDriver` per name; the controller picks it with the network's
//! `ipam_driver` for every pool and address call of that network, so pool ids never cross
//! drivers. Methods are async because remote drivers answer over HTTP; built-ins answer at once.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::{AllocatedPool, DefaultIpam, Ipam, NullIpam, PoolRequest, PoolStatus, RemoteIpam};
use crate::error::{Error, Result};

pub enum IpamDriver {
    Default(DefaultIpam),
    Null(NullIpam),
    /// A plugin speaking `IpamDriver.*` (`remote.rs`).
    Remote(RemoteIpam),
}

/// What the controller needs to know about a driver before using it (spec §4.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpamCapabilities {
    pub requires_mac_address: bool,
    pub requires_request_replay: bool,
}

impl IpamDriver {
    pub fn capabilities(&self) -> IpamCapabilities {
        match self {
            IpamDriver::Default(_) => IpamCapabilities {
                requires_mac_address: false,
                requires_request_replay: true,
            },
            IpamDriver::Null(_) => IpamCapabilities::default(),
            IpamDriver::Remote(r) => r.capabilities(),
        }
    }

    /// `(local, global)` address space names.
    pub async fn default_address_spaces(&self) -> Result<(String, String)> {
        Ok(match self {
            IpamDriver::Default(d) => d.default_address_spaces(),
            IpamDriver::Null(d) => d.default_address_spaces(),
            IpamDriver::Remote(r) => r.default_address_spaces().await?,
        })
    }

    pub async fn request_pool(&mut self, req: &PoolRequest) -> Result<AllocatedPool> {
        Ok(match self {
            IpamDriver::Default(d) => d.request_pool(req)?,
            IpamDriver::Null(d) => d.request_pool(req)?,
            IpamDriver::Remote(r) => r.request_pool(req).await?,
        })
    }

    pub async fn release_pool(&mut self, pool_id: &str) -> Result<()> {
        match self {
            IpamDriver::Default(d) => d.release_pool(pool_id)?,
            IpamDriver::Null(d) => d.release_pool(pool_id)?,
            IpamDriver::Remote(r) => r.release_pool(pool_id).await?,
        }
        Ok(())
    }

    /// `None` when the driver hands out no address (the null driver).
    pub async fn request_address(
        &mut self,
        pool_id: &str,
        preferred: Option<IpAddr>,
        options: &BTreeMap<String, String>,
    ) -> Result<Option<IpNet>> {
        let addr = match self {
            IpamDriver::Default(d) => d.request_address(pool_id, preferred, options)?,
            IpamDriver::Null(d) => d.request_address(pool_id, preferred, options)?,
            IpamDriver::Remote(r) => return r.request_address(pool_id, preferred, options).await,
        };
        Ok((!super::null::is_no_address(&addr)).then_some(addr))
    }

    pub async fn release_address(&mut self, pool_id: &str, addr: IpAddr) -> Result<()> {
        match self {
            IpamDriver::Default(d) => d.release_address(pool_id, addr)?,
            IpamDriver::Null(d) => d.release_address(pool_id, addr)?,
            IpamDriver::Remote(r) => r.release_address(pool_id, addr).await?,
        }
        Ok(())
    }

    pub fn pool_status(&self, pool_id: &str) -> Option<PoolStatus> {
        match self {
            IpamDriver::Default(d) => d.pool_status(pool_id),
            IpamDriver::Null(d) => d.pool_status(pool_id),
            IpamDriver::Remote(_) => None,
        }
    }
}

/// The drivers by name.
pub struct Ipams {
    drivers: BTreeMap<String, IpamDriver>,
}

impl Ipams {
    pub fn new(default: DefaultIpam) -> Self {
        let mut drivers = BTreeMap::new();
        drivers.insert("default".to_string(), IpamDriver::Default(default));
        drivers.insert("null".to_string(), IpamDriver::Null(NullIpam));
        Ipams { drivers }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.drivers.contains_key(name)
    }

    pub fn get(&self, name: &str) -> Option<&IpamDriver> {
        self.drivers.get(name)
    }

    /// The driver, or Docker's 404 for an unknown plugin.
    pub fn get_mut(&mut self, name: &str) -> Result<&mut IpamDriver> {
        self.drivers
            .get_mut(name)
            .ok_or_else(|| Error::not_found(format!("plugin \"{name}\" not found")))
    }

    pub fn insert(&mut self, name: &str, driver: IpamDriver) {
        self.drivers.insert(name.to_string(), driver);
    }
}
