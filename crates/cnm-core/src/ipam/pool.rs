//! One allocated subnet of the default IPAM driver and the addresses handed out in it.
//!
//! Contract (spec §4.5, trap 16): at creation the IPv4 network and broadcast addresses are
//! reserved when the pool has ≥ 2 host bits (none for `/31`, `/32`), and for IPv6 the
//! subnet-router anycast (network) address. Dynamic allocation is first-free inside the
//! range (the sub-pool, or the whole pool); with `serial` it starts after the last
//! dynamically allocated ordinal and wraps. A preferred address must lie in the pool (not
//! necessarily in the range). Releasing a free address is a no-op. Addresses are kept as
//! ordinals (offsets from the network address) in a sparse [`OrdinalSet`], so pool size
//! costs no memory and each operation is O(log runs).

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;

use super::addrset::OrdinalSet;
use super::bits::{addr_to_u128, host_bits, last_ordinal, prefix_bounds, u128_to_addr};
use super::{IpamError, PoolStatus};

#[derive(Clone, Debug)]
pub(crate) struct Pool {
    net: IpNet,
    addrs: OrdinalSet,
    /// Docker's `bitmap.curr`: the ordinal after the last dynamic allocation.
    serial_cursor: u128,
    /// Sub-pools (`--ip-range`) of the networks sharing this pool.
    pub(crate) children: BTreeSet<IpNet>,
    /// Release the pool when its last child goes: set when the pool was created for a
    /// sub-pool request, or when its own (non-sub-pool) owner released it.
    pub(crate) auto_release: bool,
}

impl Pool {
    /// A fresh pool with its reserved addresses taken. `net` must be masked.
    pub(crate) fn new(net: IpNet) -> Self {
        let mut pool = Pool {
            net,
            addrs: OrdinalSet::new(),
            serial_cursor: 0,
            children: BTreeSet::new(),
            auto_release: false,
        };
        let bits = host_bits(&net);
        let v6 = net.addr().is_ipv6();
        if v6 || bits > 1 {
            pool.addrs.insert(0);
        }
        if !v6 && bits > 1 {
            pool.addrs.insert(last_ordinal(bits));
        }
        pool
    }

    pub(crate) fn net(&self) -> IpNet {
        self.net
    }

    fn is_v6(&self) -> bool {
        self.net.addr().is_ipv6()
    }

    /// The ordinal of `addr` in this pool, or `None` when outside (or of the other family).
    fn ordinal(&self, addr: IpAddr) -> Option<u128> {
        if addr.is_ipv6() != self.is_v6() || !self.net.contains(&addr) {
            return None;
        }
        Some(addr_to_u128(addr) - addr_to_u128(self.net.network()))
    }

    fn address(&self, ordinal: u128) -> IpAddr {
        u128_to_addr(addr_to_u128(self.net.network()) + ordinal, self.is_v6())
    }

    /// `[lo, hi]` ordinals of `range` clipped to the pool (the whole pool for `None`).
    fn ordinal_range(&self, range: Option<IpNet>) -> (u128, u128) {
        let (pool_first, pool_last) = prefix_bounds(&self.net);
        let (first, last) = range.map_or((pool_first, pool_last), |r| prefix_bounds(&r));
        let (first, last) = (first.max(pool_first), last.min(pool_last));
        if first > last {
            // A range outside the pool has no ordinals: return an empty interval.
            return (1, 0);
        }
        (first - pool_first, last - pool_first)
    }

    /// Allocates `preferred`, or the first free address of `range` (whole pool when `None`).
    pub(crate) fn allocate(
        &mut self,
        preferred: Option<IpAddr>,
        range: Option<IpNet>,
        serial: bool,
    ) -> Result<IpAddr, IpamError> {
        if let Some(addr) = preferred {
            let ordinal = self.ordinal(addr).ok_or(IpamError::OutOfRange)?;
            return if self.addrs.insert(ordinal) {
                Ok(addr)
            } else {
                Err(IpamError::AddressInUse)
            };
        }
        let (lo, hi) = self.ordinal_range(range);
        let from_cursor = (serial && self.serial_cursor > lo)
            .then(|| self.addrs.first_free(self.serial_cursor, hi))
            .flatten();
        let ordinal = from_cursor
            .or_else(|| self.addrs.first_free(lo, hi))
            .ok_or(IpamError::NoAvailableAddresses)?;
        self.addrs.insert(ordinal);
        // Like Docker, every dynamic allocation moves the cursor, serial or not.
        self.serial_cursor = ordinal.saturating_add(1);
        Ok(self.address(ordinal))
    }

    /// Frees `addr`; a free address is a no-op, one outside the pool is `OutOfRange`.
    pub(crate) fn release(&mut self, addr: IpAddr) -> Result<(), IpamError> {
        let ordinal = self.ordinal(addr).ok_or(IpamError::OutOfRange)?;
        self.addrs.remove(ordinal);
        Ok(())
    }

    /// `IPsInUse` counts every allocated address of the pool (reserved ones included);
    /// `DynamicIPsAvailable` is the size of `range` (or the pool) minus what is used in it.
    pub(crate) fn status(&self, range: Option<IpNet>) -> PoolStatus {
        let range = range.unwrap_or(self.net);
        let capacity = last_ordinal(host_bits(&range));
        let (lo, hi) = self.ordinal_range(Some(range));
        let used = self.addrs.count_in(lo, hi);
        // capacity is size - 1 (a /0 has 2^128 addresses), so add the 1 after subtracting.
        let available = if used == 0 {
            capacity.saturating_add(1)
        } else {
            capacity - (used - 1)
        };
        PoolStatus {
            ips_in_use: saturate(self.addrs.len()),
            dynamic_ips_available: saturate(available),
        }
    }
}

fn saturate(n: u128) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
