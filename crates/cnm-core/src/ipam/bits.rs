//! Address arithmetic for IPAM: addresses and prefixes as `u128` numbers.
//!
//! Contract: IPv4 addresses map to `0..=u32::MAX`, IPv6 addresses to the whole `u128`
//! range; the family travels beside the number (`v6`). A prefix is the inclusive interval
//! `[first, last]` of the numbers it covers. Nothing here allocates.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// The address as a number in its family's space. IPv4-mapped IPv6 addresses stay IPv6;
/// callers canonicalise first where Docker does (`Unmap`).
pub(crate) fn addr_to_u128(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The address numbered `value` in the given family. For IPv4 only the low 32 bits count.
pub(crate) fn u128_to_addr(value: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(value))
    } else {
        IpAddr::V4(Ipv4Addr::from(value as u32))
    }
}

/// Number of host bits of a prefix (0..=128).
pub(crate) fn host_bits(net: &IpNet) -> u32 {
    u32::from(net.max_prefix_len() - net.prefix_len())
}

/// The largest ordinal inside a prefix with `bits` host bits: `2^bits - 1`.
pub(crate) fn last_ordinal(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// `[first, last]` of a prefix (its host bits are ignored).
pub(crate) fn prefix_bounds(net: &IpNet) -> (u128, u128) {
    let net = net.trunc();
    let first = addr_to_u128(net.network());
    (first, first + last_ordinal(host_bits(&net)))
}

/// The prefix of length `len` starting at `first` (which must be aligned to it).
pub(crate) fn prefix_at(first: u128, len: u8, v6: bool) -> IpNet {
    IpNet::new(u128_to_addr(first, v6), len).expect("prefix length checked by the caller")
}

/// Whether two prefixes share at least one address (only within one family).
pub(crate) fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    if a.addr().is_ipv6() != b.addr().is_ipv6() {
        return false;
    }
    let (a_first, a_last) = prefix_bounds(a);
    let (b_first, b_last) = prefix_bounds(b);
    a_first <= b_last && b_first <= a_last
}

/// The address without IPv4-mapping (`::ffff:1.2.3.4` → `1.2.3.4`), as Go's `Unmap`.
pub(crate) fn unmap(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn bounds_of_v4_and_v6_prefixes() {
        assert_eq!(
            prefix_bounds(&net("10.0.0.0/8")),
            (0x0a00_0000, 0x0aff_ffff)
        );
        assert_eq!(prefix_bounds(&net("0.0.0.0/0")), (0, u128::from(u32::MAX)));
        assert_eq!(prefix_bounds(&net("::/0")), (0, u128::MAX));
        assert_eq!(
            prefix_bounds(&net("10.1.2.3/24")),
            (0x0a01_0200, 0x0a01_02ff)
        );
    }

    #[test]
    fn overlap_is_family_aware() {
        assert!(overlaps(&net("10.0.0.0/8"), &net("10.3.0.0/16")));
        assert!(!overlaps(&net("10.0.0.0/16"), &net("10.1.0.0/16")));
        assert!(!overlaps(&net("0.0.0.0/0"), &net("::/0")));
    }

    #[test]
    fn unmap_turns_mapped_v6_into_v4() {
        assert_eq!(
            unmap("::ffff:10.0.0.1".parse().unwrap()),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            unmap("fd00::1".parse().unwrap()),
            "fd00::1".parse::<IpAddr>().unwrap()
        );
    }
}
