//! The predefined pools that dynamic subnets come from (spec §4.2, trap 20).
//!
//! Contract: [`PredefinedPools`] holds, per address space, the bases that `RequestPool`
//! splits into dynamic subnets. [`PredefinedPools::docker_defaults`] is Docker's list
//! (local IPv4 bases, the host's IPv6 ULA `/48` split into `/64`s, global `10.0.0.0/8`
//! split into `/24`s); [`PredefinedPools::with_default_address_pools`] applies dockerd's
//! `--default-address-pool` entries, which replace the whole local list (the ULA base is
//! still appended unless an entry is IPv6). Validation uses dockerd's messages. Lists are
//! normalised as the allocator does: bases masked, sorted by address then prefix length,
//! and a base overlapping an earlier kept one dropped. [`PoolBase`]'s `FromStr` parses the
//! flag syntax `base=10.10.0.0/16,size=24`.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use ipnet::IpNet;
use sha2::{Digest, Sha256};

use super::bits::{addr_to_u128, overlaps};

/// One `--default-address-pool base=CIDR,size=N`: `base` is split into `/size` subnets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolBase {
    pub base: IpNet,
    pub size: u8,
}

impl PoolBase {
    pub fn new(base: IpNet, size: u8) -> Self {
        PoolBase { base, size }
    }

    fn parsed(base: &str, size: u8) -> Self {
        PoolBase {
            base: base.parse().expect("static default pool"),
            size,
        }
    }
}

/// Go prints a `*NetworkToSplit` with `%v` as `&{BASE SIZE}`; dockerd's messages embed it.
impl fmt::Display for PoolBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "&{{{} {}}}", self.base, self.size)
    }
}

/// Errors in `--default-address-pool` values, with dockerd's messages.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PoolConfigError {
    #[error("invalid field '{0}' must be a key=value pair")]
    NotKeyValue(String),
    /// dockerd quotes the whole flag value here, not the size.
    #[error("invalid size value: {value:?} (must be integer): {reason}")]
    InvalidSize { value: String, reason: String },
    #[error("unexpected key '{key}' in '{field}'")]
    UnexpectedKey { key: String, field: String },
    #[error("invalid base prefix {base:?} in {value:?}")]
    InvalidBase { base: String, value: String },
    #[error("missing base in default address pool {0:?}")]
    MissingBase(String),
    #[error("network at index {index} ({pool}) is not in canonical form")]
    NotCanonical { index: usize, pool: PoolBase },
    #[error(
        "network at index {index} ({pool}) has a smaller prefix (/{base_len}) than the target size of that pool (/{size})"
    )]
    SizeBelowBase {
        index: usize,
        pool: PoolBase,
        base_len: u8,
        size: u8,
    },
}

impl FromStr for PoolBase {
    type Err = PoolConfigError;

    /// `base=CIDR,size=N`; keys are case-insensitive (dockerd lower-cases each field). A
    /// missing size is 0 and rejected later as not canonical, as dockerd does.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let mut base = None;
        let mut size = 0u8;
        for field in value.split(',') {
            let lowered = field.to_ascii_lowercase();
            let (key, val) = lowered
                .split_once('=')
                .ok_or_else(|| PoolConfigError::NotKeyValue(field.to_string()))?;
            match key {
                "base" => {
                    let net: IpNet = val.parse().map_err(|_| PoolConfigError::InvalidBase {
                        base: val.to_string(),
                        value: value.to_string(),
                    })?;
                    base = Some(net);
                }
                "size" => size = parse_size(val, value)?,
                _ => {
                    return Err(PoolConfigError::UnexpectedKey {
                        key: key.to_string(),
                        field: lowered.clone(),
                    });
                }
            }
        }
        let base = base.ok_or_else(|| PoolConfigError::MissingBase(value.to_string()))?;
        Ok(PoolBase { base, size })
    }
}

/// Go's `strconv.Atoi` failure wording, for dockerd's message.
fn parse_size(val: &str, whole: &str) -> Result<u8, PoolConfigError> {
    let invalid = |what: &str| PoolConfigError::InvalidSize {
        value: whole.to_string(),
        reason: format!("strconv.Atoi: parsing {val:?}: {what}"),
    };
    match val.parse::<i64>() {
        Err(_) => Err(invalid("invalid syntax")),
        // Negative or huge sizes cannot be prefix lengths; dockerd rejects them when the
        // allocator is built, we reject them here.
        Ok(n) => u8::try_from(n).map_err(|_| invalid("value out of range")),
    }
}

/// The bases of each address space of the default IPAM driver. `Default` is Docker's
/// lists without the IPv6 ULA base (which needs the host id: use
/// [`PredefinedPools::docker_defaults`]), so dynamic IPv6 requests fail with
/// `invalid address pool` there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PredefinedPools {
    /// `LocalDefault`: IPv4 and IPv6 bases.
    pub local: Vec<PoolBase>,
    /// `GlobalDefault`: IPv4 and IPv6 bases.
    pub global: Vec<PoolBase>,
}

/// Docker's `localScopeDefaultNetworks`.
pub fn local_ipv4_defaults() -> Vec<PoolBase> {
    vec![
        PoolBase::parsed("172.17.0.0/16", 16),
        PoolBase::parsed("172.18.0.0/16", 16),
        PoolBase::parsed("172.19.0.0/16", 16),
        PoolBase::parsed("172.20.0.0/14", 16),
        PoolBase::parsed("172.24.0.0/14", 16),
        PoolBase::parsed("172.28.0.0/14", 16),
        PoolBase::parsed("192.168.0.0/16", 20),
    ]
}

/// Docker's `globalScopeDefaultNetworks`.
pub fn global_defaults() -> Vec<PoolBase> {
    vec![PoolBase::parsed("10.0.0.0/8", 24)]
}

/// The host-specific IPv6 ULA base (`deriveULABaseNetwork`): `fd` followed by the 40 least
/// significant bits of the first 8 bytes (big-endian) of SHA-256(host id), as a `/48`
/// split into `/64`s. Stable as long as the host id is.
pub fn ula_base(host_id: &str) -> PoolBase {
    let digest = Sha256::digest(host_id.as_bytes());
    let first8: [u8; 8] = digest[..8].try_into().expect("sha-256 has 32 bytes");
    let global_id = u64::from_be_bytes(first8) & ((1 << 40) - 1);
    let addr =
        addr_to_u128("fd00::".parse::<IpAddr>().expect("literal")) | (u128::from(global_id) << 80);
    PoolBase {
        base: IpNet::new(IpAddr::V6(Ipv6Addr::from(addr)), 48).expect("/48"),
        size: 64,
    }
}

impl Default for PredefinedPools {
    fn default() -> Self {
        PredefinedPools {
            local: local_ipv4_defaults(),
            global: global_defaults(),
        }
    }
}

impl PredefinedPools {
    /// Docker's defaults for a daemon whose persistent host id is `host_id`.
    pub fn docker_defaults(host_id: &str) -> Self {
        let mut local = local_ipv4_defaults();
        local.push(ula_base(host_id));
        PredefinedPools {
            local: normalize(local),
            global: global_defaults(),
        }
    }

    /// dockerd's `--default-address-pool` handling: non-empty `entries` replace the local
    /// list (validated, in the order given, with dockerd's messages); the ULA base is
    /// appended unless an entry is IPv6. Empty `entries` give the defaults.
    pub fn with_default_address_pools(
        entries: &[PoolBase],
        host_id: &str,
    ) -> Result<Self, PoolConfigError> {
        if entries.is_empty() {
            return Ok(Self::docker_defaults(host_id));
        }
        validate(entries)?;
        let mut local: Vec<PoolBase> = entries
            .iter()
            .map(|p| PoolBase {
                base: canonical(p.base),
                size: p.size,
            })
            .collect();
        if !local.iter().any(|p| p.base.addr().is_ipv6()) {
            local.push(ula_base(host_id));
        }
        Ok(PredefinedPools {
            local: normalize(local),
            global: global_defaults(),
        })
    }
}

/// dockerd's `splitByIPFamily` checks, in list order.
pub fn validate(entries: &[PoolBase]) -> Result<(), PoolConfigError> {
    for (index, pool) in entries.iter().enumerate() {
        if pool.size == 0 || pool.size > pool.base.max_prefix_len() {
            return Err(PoolConfigError::NotCanonical { index, pool: *pool });
        }
        if pool.base.prefix_len() > pool.size {
            return Err(PoolConfigError::SizeBelowBase {
                index,
                pool: *pool,
                base_len: pool.base.prefix_len(),
                size: pool.size,
            });
        }
    }
    Ok(())
}

/// The masked prefix, with an IPv4-mapped IPv6 base turned into IPv4 (Go's `Unmap`).
fn canonical(base: IpNet) -> IpNet {
    if let IpNet::V6(v6) = base
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && v6.prefix_len() >= 96
    {
        return IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96)
            .expect("≤ 32")
            .trunc();
    }
    base.trunc()
}

/// Sorts bases by (address, prefix length) and drops each base overlapping the previous
/// kept one, so a longer prefix inside a shorter one never gets split on its own (the
/// allocator's `newAddrSpace`). Families never overlap each other.
pub fn normalize(bases: Vec<PoolBase>) -> Vec<PoolBase> {
    let mut bases: Vec<PoolBase> = bases
        .into_iter()
        .map(|p| PoolBase {
            base: canonical(p.base),
            size: p.size,
        })
        .collect();
    bases.sort_by_key(|p| {
        (
            p.base.addr().is_ipv6(),
            addr_to_u128(p.base.network()),
            p.base.prefix_len(),
        )
    });
    let mut kept: Vec<PoolBase> = Vec::with_capacity(bases.len());
    for pool in bases {
        if kept
            .last()
            .is_some_and(|last| overlaps(&last.base, &pool.base))
        {
            continue;
        }
        kept.push(pool);
    }
    kept
}
