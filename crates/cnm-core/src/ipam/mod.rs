//! IPAM: address pools and addresses (spec §4).
//!
//! Contract: an IPAM driver hands out subnets (`request_pool`) and addresses inside them
//! (`request_address`), and takes them back. The default driver keeps its state in memory
//! only; the controller persists what was allocated with each network and endpoint and
//! *replays* the same requests at start-up (Docker's `RequiresRequestReplay`), so IPAM state
//! can never disagree with the store.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::error::{Error, ErrorKind, HasKind};

mod addrset;
mod bits;
pub mod default;
pub mod driver;
pub mod null;
mod pool;
pub mod pools;
pub mod remote;
mod space;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_addresses;
#[cfg(test)]
mod tests_pools;
#[cfg(test)]
mod tests_props;

pub use default::DefaultIpam;
pub use driver::{IpamDriver, Ipams};
pub use null::NullIpam;
pub use pools::{PoolBase, PoolConfigError, PredefinedPools};
pub use remote::RemoteIpam;

/// Address space names of the default driver.
pub const LOCAL_DEFAULT: &str = "LocalDefault";
pub const GLOBAL_DEFAULT: &str = "GlobalDefault";
/// `RequestAddress` option asking for the network's gateway.
pub const REQUEST_ADDRESS_TYPE: &str = "RequestAddressType";
pub const GATEWAY_ADDRESS_TYPE: &str = "com.docker.network.gateway";

/// `<AddressSpace>/<subnet>[/<subpool>]`, e.g. `LocalDefault/172.18.0.0/16`.
pub type PoolId = String;

/// A request for a pool (`RequestPool`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PoolRequest {
    pub address_space: String,
    /// A static subnet; `None` asks for a dynamic one. An unspecified address with a prefix
    /// (`0.0.0.0/24`) asks for a dynamic pool of that size.
    pub pool: Option<IpNet>,
    /// `--ip-range`: dynamic addresses come only from here.
    pub sub_pool: Option<IpNet>,
    pub options: BTreeMap<String, String>,
    /// Prefixes a dynamic pool must not overlap (host nameservers, link-scope routes).
    pub exclude: Vec<IpNet>,
    pub v6: bool,
}

/// The answer to `RequestPool`.
#[derive(Clone, Debug, PartialEq)]
pub struct AllocatedPool {
    pub pool_id: PoolId,
    pub pool: IpNet,
    pub meta: BTreeMap<String, String>,
}

/// `PoolStatus` of a pool, shown as `Status.IPAM` by inspect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStatus {
    pub ips_in_use: u64,
    pub dynamic_ips_available: u64,
}

/// Errors of the IPAM layer, with Docker's messages (spec §4.1, §4.3, §4.5).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error("invalid address space")]
    InvalidAddressSpace,
    #[error("cannot find address space {0}")]
    UnknownAddressSpace(String),
    #[error("invalid address pool")]
    InvalidPool,
    #[error("invalid address subpool")]
    InvalidSubPool,
    #[error("pool and subpool are of incompatible address families")]
    IncompatibleSubPool,
    #[error("Pool overlaps with other one on this address space")]
    PoolOverlap,
    #[error("all predefined address pools have been fully subnetted")]
    PoolsExhausted,
    #[error("no available addresses on this pool")]
    NoAvailableAddresses,
    #[error("Address already in use")]
    AddressInUse,
    #[error("requested address is out of range")]
    OutOfRange,
    #[error("pool {0} does not exist")]
    UnknownPool(String),
    /// Rejections of the `null` driver (spec §4.7), which has its own messages.
    #[error(transparent)]
    Null(#[from] null::NullIpamError),
}

impl HasKind for IpamError {
    fn kind(&self) -> ErrorKind {
        use IpamError::*;
        match self {
            InvalidAddressSpace => ErrorKind::Internal,
            UnknownAddressSpace(_)
            | InvalidPool
            | InvalidSubPool
            | IncompatibleSubPool
            | PoolsExhausted
            | OutOfRange
            | Null(_) => ErrorKind::InvalidParameter,
            PoolOverlap | AddressInUse => ErrorKind::Forbidden,
            NoAvailableAddresses => ErrorKind::Unavailable,
            UnknownPool(_) => ErrorKind::NotFound,
        }
    }
}

impl From<IpamError> for Error {
    fn from(e: IpamError) -> Self {
        Error::new(e.kind(), e.to_string())
    }
}

/// What the controller needs from an IPAM driver. Synchronous: the default driver is pure
/// in-memory bookkeeping.
pub trait Ipam {
    /// `(local, global)` default address space names.
    fn default_address_spaces(&self) -> (String, String);
    fn request_pool(&mut self, req: &PoolRequest) -> Result<AllocatedPool, IpamError>;
    fn release_pool(&mut self, pool_id: &str) -> Result<(), IpamError>;
    /// Allocates `preferred`, or the first free address (of the sub-pool, when there is
    /// one). The answer carries the pool's prefix length.
    fn request_address(
        &mut self,
        pool_id: &str,
        preferred: Option<IpAddr>,
        options: &BTreeMap<String, String>,
    ) -> Result<IpNet, IpamError>;
    /// Releasing a free address is a no-op; one outside the pool is `OutOfRange`.
    fn release_address(&mut self, pool_id: &str, addr: IpAddr) -> Result<(), IpamError>;
    fn pool_status(&self, pool_id: &str) -> Option<PoolStatus>;
}
