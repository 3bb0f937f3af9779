//! One address space of one family (e.g. `LocalDefault` IPv4): its predefined bases and
//! the subnets allocated from it.
//!
//! Contract (spec §4.3, traps 17–19):
//! - A static subnet without sub-pool must not overlap any allocated subnet (`PoolOverlap`).
//! - A static subnet with a sub-pool (`--ip-range`) shares the master pool with other
//!   networks whose sub-pools differ (Docker's `allocateSubnet`): only the same sub-pool
//!   again, or a plain request for an allocated master, is `PoolOverlap`. A sub-pool may
//!   join a master that was requested plainly. A master created for a sub-pool goes with
//!   its last child; a plain master stays until it is released itself *and* has no child.
//!   Like Docker, a master created for a sub-pool is not checked against other subnets
//!   (moby#46756).
//! - A dynamic subnet is the lowest-addressed free prefix of the base's split size (or the
//!   requested size) across the sorted bases, skipping allocated subnets and `exclude`.
//!   No base able to give the size → `InvalidPool`; all used → `PoolsExhausted`.

use std::collections::BTreeMap;

use ipnet::IpNet;

use super::IpamError;
use super::bits::{last_ordinal, overlaps, prefix_at, prefix_bounds};
use super::pool::Pool;
use super::pools::{PoolBase, normalize};

#[derive(Clone, Debug)]
pub(crate) struct AddressSpace {
    v6: bool,
    /// Sorted, non-overlapping bases of this family.
    bases: Vec<PoolBase>,
    /// Allocated subnets (masked), keyed and therefore ordered by prefix.
    pools: BTreeMap<IpNet, Pool>,
}

impl AddressSpace {
    /// Keeps the bases of the given family only.
    pub(crate) fn new(v6: bool, bases: &[PoolBase]) -> Self {
        let bases = bases
            .iter()
            .filter(|b| b.base.addr().is_ipv6() == v6)
            .copied()
            .collect();
        AddressSpace {
            v6,
            bases: normalize(bases),
            pools: BTreeMap::new(),
        }
    }

    pub(crate) fn pool(&self, net: &IpNet) -> Option<&Pool> {
        self.pools.get(net)
    }

    pub(crate) fn pool_mut(&mut self, net: &IpNet) -> Option<&mut Pool> {
        self.pools.get_mut(net)
    }

    /// Docker's `allocateSubnet(nw, sub)`; both prefixes masked, `sub` inside `net`.
    pub(crate) fn allocate_static(
        &mut self,
        net: IpNet,
        sub: Option<IpNet>,
    ) -> Result<(), IpamError> {
        if let Some(existing) = self.pools.get(&net) {
            let same_child = sub.is_some_and(|s| existing.children.contains(&s));
            if sub.is_none() || same_child {
                return Err(IpamError::PoolOverlap);
            }
        }
        let Some(sub) = sub else {
            if self.pools.keys().any(|allocated| overlaps(allocated, &net)) {
                return Err(IpamError::PoolOverlap);
            }
            self.pools.insert(net, Pool::new(net));
            return Ok(());
        };
        let pool = self.pools.entry(net).or_insert_with(|| {
            let mut pool = Pool::new(net);
            pool.auto_release = true;
            pool
        });
        pool.children.insert(sub);
        Ok(())
    }

    /// Docker's `releaseSubnet(nw, sub)`: unknown pool or child → `UnknownPool(pool_id)`.
    pub(crate) fn release(
        &mut self,
        net: &IpNet,
        sub: Option<IpNet>,
        pool_id: &str,
    ) -> Result<(), IpamError> {
        let unknown = || IpamError::UnknownPool(pool_id.to_string());
        let pool = self.pools.get_mut(net).ok_or_else(unknown)?;
        match sub {
            Some(sub) => {
                if !pool.children.remove(&sub) {
                    return Err(unknown());
                }
            }
            None => pool.auto_release = true,
        }
        if pool.children.is_empty() && pool.auto_release {
            self.pools.remove(net);
        }
        Ok(())
    }

    /// Allocates the lowest free subnet of `size` (or of each base's split size).
    pub(crate) fn allocate_dynamic(
        &mut self,
        exclude: &[IpNet],
        size: Option<u8>,
    ) -> Result<IpNet, IpamError> {
        let max_len = if self.v6 { 128 } else { 32 };
        let candidates: Vec<PoolBase> = match size {
            None => self.bases.clone(),
            Some(size) => self
                .bases
                .iter()
                .filter(|b| b.base.prefix_len() <= size && size <= max_len)
                .map(|b| PoolBase { base: b.base, size })
                .collect(),
        };
        if candidates.is_empty() {
            return Err(IpamError::InvalidPool);
        }
        let blocked = self.blocked_intervals(exclude);
        let net = candidates
            .iter()
            .find_map(|base| lowest_free_in_base(base, &blocked, self.v6))
            .ok_or(IpamError::PoolsExhausted)?;
        self.pools.insert(net, Pool::new(net));
        Ok(net)
    }

    /// Allocated subnets ∪ `exclude` of this family, as sorted, merged `[first, last]`.
    fn blocked_intervals(&self, exclude: &[IpNet]) -> Vec<(u128, u128)> {
        let mut intervals: Vec<(u128, u128)> = self
            .pools
            .keys()
            .chain(exclude.iter().filter(|e| e.addr().is_ipv6() == self.v6))
            .map(prefix_bounds)
            .collect();
        intervals.sort_unstable();
        let mut merged: Vec<(u128, u128)> = Vec::with_capacity(intervals.len());
        for (first, last) in intervals {
            match merged.last_mut() {
                Some((_, prev_last)) if first <= prev_last.saturating_add(1) => {
                    *prev_last = (*prev_last).max(last)
                }
                _ => merged.push((first, last)),
            }
        }
        merged
    }
}

/// The lowest prefix of `base.size` inside `base.base` that misses every blocked interval.
/// `blocked` is sorted and merged, so one pass from the first interval ending at or after
/// the base's start finds it: each interval hit moves the candidate to the next aligned
/// prefix after it.
fn lowest_free_in_base(base: &PoolBase, blocked: &[(u128, u128)], v6: bool) -> Option<IpNet> {
    let (base_first, base_last) = prefix_bounds(&base.base);
    let span = last_ordinal(u32::from(base.base.max_prefix_len() - base.size)); // step - 1
    let mut candidate = base_first;
    let start = blocked.partition_point(|(_, last)| *last < base_first);
    for &(first, last) in &blocked[start..] {
        if last < candidate {
            continue;
        }
        if first > candidate + span {
            break;
        }
        // `base_first` is aligned to the step (the base is masked and no longer than the
        // split size), so rounding the offset up to a multiple of the step stays aligned.
        // A step of 2^128 (a `::/0` split into `/0`) has no next candidate.
        let step = span.checked_add(1)?;
        let offset = last.checked_add(1)? - base_first;
        candidate = base_first.checked_add(offset.div_ceil(step).checked_mul(step)?)?;
        if candidate > base_last {
            return None;
        }
    }
    (candidate + span <= base_last).then(|| prefix_at(candidate, base.size, v6))
}
