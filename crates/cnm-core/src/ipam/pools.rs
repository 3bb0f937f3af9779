//! The predefined pools that dynamic subnets come from (spec §4.2).
//! Implemented by the IPAM work; this file holds the type the daemon configures.

use ipnet::IpNet;

/// One `--default-address-pool base=CIDR,size=N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolBase {
    pub base: IpNet,
    pub size: u8,
}

/// The ordered list of bases, IPv4 and IPv6.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PredefinedPools {
    pub bases: Vec<PoolBase>,
}
