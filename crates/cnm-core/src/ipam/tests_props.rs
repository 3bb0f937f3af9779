//! Property tests of the default driver against brute-force models: addresses are never
//! handed out twice, stay inside the pool and the sub-pool, follow first-free/serial order
//! and round-trip through release; dynamic subnets never overlap each other or `exclude`,
//! and are the lowest free ones.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;
use proptest::prelude::*;

use super::bits::{addr_to_u128, prefix_bounds, u128_to_addr};
use super::default::ALLOC_SERIAL;
use super::tests::no_opts;
use super::*;

#[derive(Clone, Debug)]
enum AddrOp {
    Next,
    NextSerial,
    Prefer(u32),
    /// Release the n-th allocated address (modulo the count).
    ReleaseAllocated(usize),
    /// Release any ordinal, free or not.
    ReleaseAny(u32),
}

fn addr_op() -> impl Strategy<Value = AddrOp> {
    prop_oneof![
        4 => Just(AddrOp::Next),
        2 => Just(AddrOp::NextSerial),
        2 => any::<u32>().prop_map(AddrOp::Prefer),
        3 => any::<usize>().prop_map(AddrOp::ReleaseAllocated),
        1 => any::<u32>().prop_map(AddrOp::ReleaseAny),
    ]
}

/// A small pool (v4 /23–/32 or v6 /118–/128) and maybe a sub-pool 0–3 bits longer.
fn pool_and_range() -> impl Strategy<Value = (IpNet, Option<IpNet>)> {
    (
        any::<bool>(),
        0u8..=9,
        prop::option::of((0u8..=3, any::<u32>())),
    )
        .prop_map(|(v6, host_bits, sub)| {
            let (base, max) = if v6 {
                ("fd77::", 128)
            } else {
                ("10.77.0.0", 32)
            };
            let pool = IpNet::new(base.parse().unwrap(), max - host_bits).unwrap();
            let sub = sub.map(|(extra, pick)| {
                let len = (pool.prefix_len() + extra).min(max);
                let count = 1u32 << (len - pool.prefix_len());
                pool.subnets(len)
                    .unwrap()
                    .nth((pick % count) as usize)
                    .unwrap()
            });
            (pool, sub)
        })
}

/// Docker's reservations, stated independently of the implementation.
fn reserved(pool: &IpNet) -> BTreeSet<u128> {
    let size = 1u128 << (pool.max_prefix_len() - pool.prefix_len());
    match (pool.addr().is_ipv6(), size) {
        (true, _) => BTreeSet::from([0]),
        (false, 4..) => BTreeSet::from([0, size - 1]),
        (false, _) => BTreeSet::new(),
    }
}

fn first_free(used: &BTreeSet<u128>, lo: u128, hi: u128) -> Option<u128> {
    (lo..=hi).find(|o| !used.contains(o))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn addresses_follow_the_model((pool, sub) in pool_and_range(), ops in prop::collection::vec(addr_op(), 1..120)) {
        let mut ipam = DefaultIpam::with_docker_defaults("props");
        let req = PoolRequest { address_space: LOCAL_DEFAULT.into(), pool: Some(pool), sub_pool: sub, v6: pool.addr().is_ipv6(), ..Default::default() };
        let id = ipam.request_pool(&req).unwrap().pool_id;
        let v6 = pool.addr().is_ipv6();
        let (first, last) = prefix_bounds(&pool);
        let size = last - first + 1;
        let (lo, hi) = sub.map_or((0, size - 1), |s| { let (a, b) = prefix_bounds(&s); (a - first, b - first) });
        let mut used = reserved(&pool);
        let mut cursor = 0u128;
        let serial = BTreeMap::from([(ALLOC_SERIAL.to_string(), "true".to_string())]);
        let plain = no_opts();
        for op in ops {
            match op {
                AddrOp::Next | AddrOp::NextSerial => {
                    let is_serial = matches!(op, AddrOp::NextSerial);
                    let from_cursor = if is_serial && cursor > lo { first_free(&used, cursor, hi) } else { None };
                    let expected = from_cursor.or_else(|| first_free(&used, lo, hi));
                    let got = ipam.request_address(&id, None, if is_serial { &serial } else { &plain });
                    match expected {
                        Some(o) => {
                            let got = got.unwrap();
                            prop_assert_eq!(got.prefix_len(), pool.prefix_len());
                            prop_assert!(pool.contains(&got.addr()));
                            prop_assert!(sub.is_none_or(|s| s.contains(&got.addr())));
                            prop_assert_eq!(got.addr(), u128_to_addr(first + o, v6));
                            prop_assert!(used.insert(o), "handed out twice");
                            cursor = o + 1;
                        }
                        None => prop_assert_eq!(got, Err(IpamError::NoAvailableAddresses)),
                    }
                }
                AddrOp::Prefer(n) => {
                    let o = u128::from(n) % size;
                    let got = ipam.request_address(&id, Some(u128_to_addr(first + o, v6)), &no_opts());
                    if used.insert(o) {
                        prop_assert_eq!(got.unwrap().addr(), u128_to_addr(first + o, v6));
                    } else {
                        prop_assert_eq!(got, Err(IpamError::AddressInUse));
                    }
                }
                AddrOp::ReleaseAllocated(n) => {
                    let Some(&o) = used.iter().nth(n % used.len().max(1)) else { continue };
                    ipam.release_address(&id, u128_to_addr(first + o, v6)).unwrap();
                    used.remove(&o);
                    // Round trip: the same address can be taken again.
                    ipam.request_address(&id, Some(u128_to_addr(first + o, v6)), &no_opts()).unwrap();
                    ipam.release_address(&id, u128_to_addr(first + o, v6)).unwrap();
                }
                AddrOp::ReleaseAny(n) => {
                    let o = u128::from(n) % size;
                    ipam.release_address(&id, u128_to_addr(first + o, v6)).unwrap();
                    used.remove(&o);
                }
            }
            let status = ipam.pool_status(&id).unwrap();
            prop_assert_eq!(u128::from(status.ips_in_use), used.len() as u128);
            let in_range = used.range(lo..=hi).count() as u128;
            prop_assert_eq!(u128::from(status.dynamic_ips_available), hi - lo + 1 - in_range);
        }
    }
}

/// Small bases so a brute-force model can enumerate every candidate.
fn small_bases() -> Vec<PoolBase> {
    vec![
        PoolBase::new("10.0.0.0/22".parse().unwrap(), 26),
        PoolBase::new("10.0.4.0/24".parse().unwrap(), 27),
        PoolBase::new("10.0.8.0/23".parse().unwrap(), 25),
    ]
}

#[derive(Clone, Debug)]
enum PoolOp {
    /// A dynamic request of the base's size or of `/size`, with exclusions.
    Dynamic(Option<u8>, Vec<(u32, u8)>),
    Static(u32, u8),
    Release(usize),
}

fn pool_op() -> impl Strategy<Value = PoolOp> {
    // Offsets near block edges (a /32 on the last address of a candidate is the classic
    // off-by-one) as often as anywhere else.
    let offset = prop_oneof![
        (0u32..128).prop_map(|block| block * 32),
        (1u32..=128).prop_map(|block| block * 32 - 1),
        0u32..4096,
    ];
    let exclude = prop::collection::vec((offset, 24u8..=32), 0..3);
    prop_oneof![
        5 => (prop::option::of(22u8..=29), exclude).prop_map(|(s, e)| PoolOp::Dynamic(s, e)),
        1 => (0u32..4096, 22u8..=30).prop_map(|(o, l)| PoolOp::Static(o, l)),
        3 => any::<usize>().prop_map(PoolOp::Release),
    ]
}

/// `10.0.0.0 + offset` as a masked `/len`.
fn prefix_from(offset: u32, len: u8) -> IpNet {
    IpNet::new(u128_to_addr(u128::from(0x0a00_0000 + offset), false), len)
        .unwrap()
        .trunc()
}

/// The lowest free prefix across the bases, found by enumeration.
fn model_choice(live: &[IpNet], exclude: &[IpNet], size: Option<u8>) -> Result<IpNet, IpamError> {
    let usable: Vec<PoolBase> = small_bases()
        .into_iter()
        .filter(|b| size.is_none_or(|s| b.base.prefix_len() <= s))
        .map(|b| PoolBase::new(b.base, size.unwrap_or(b.size)))
        .collect();
    if usable.is_empty() {
        return Err(IpamError::InvalidPool);
    }
    let mut sorted = usable;
    sorted.sort_by_key(|b| addr_to_u128(b.base.network()));
    sorted
        .iter()
        .flat_map(|b| b.base.subnets(b.size).unwrap())
        .find(|c| !live.iter().chain(exclude).any(|t| bits::overlaps(c, t)))
        .ok_or(IpamError::PoolsExhausted)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn dynamic_subnets_are_the_lowest_free_and_never_overlap(ops in prop::collection::vec(pool_op(), 1..40)) {
        let pools = PredefinedPools { local: small_bases(), global: vec![] };
        let mut ipam = DefaultIpam::new(&pools);
        let mut live: Vec<(String, IpNet)> = Vec::new();
        for op in ops {
            match op {
                PoolOp::Dynamic(size, exclude) => {
                    let exclude: Vec<IpNet> = exclude.into_iter().map(|(o, l)| prefix_from(o, l)).collect();
                    let nets: Vec<IpNet> = live.iter().map(|(_, n)| *n).collect();
                    let expected = model_choice(&nets, &exclude, size);
                    let pool = size.map(|s| IpNet::new("0.0.0.0".parse().unwrap(), s).unwrap());
                    let req = PoolRequest { address_space: LOCAL_DEFAULT.into(), pool, exclude: exclude.clone(), ..Default::default() };
                    let got = ipam.request_pool(&req).map(|a| (a.pool_id, a.pool));
                    prop_assert_eq!(got.clone().map(|(_, n)| n), expected);
                    if let Ok((id, net)) = got {
                        prop_assert!(!nets.iter().chain(&exclude).any(|t| bits::overlaps(&net, t)));
                        prop_assert!(small_bases().iter().any(|b| b.base.contains(&net)));
                        prop_assert_eq!(&id, &format!("LocalDefault/{net}"));
                        live.push((id, net));
                    }
                }
                PoolOp::Static(offset, len) => {
                    let net = prefix_from(offset, len);
                    let overlapping = live.iter().any(|(_, n)| bits::overlaps(n, &net));
                    let req = PoolRequest { address_space: LOCAL_DEFAULT.into(), pool: Some(net), ..Default::default() };
                    match ipam.request_pool(&req) {
                        Ok(a) => { prop_assert!(!overlapping); live.push((a.pool_id, net)); }
                        Err(e) => { prop_assert!(overlapping); prop_assert_eq!(e, IpamError::PoolOverlap); }
                    }
                }
                PoolOp::Release(n) => {
                    if live.is_empty() { continue; }
                    let (id, _) = live.remove(n % live.len());
                    ipam.release_pool(&id).unwrap();
                    prop_assert!(ipam.pool_status(&id).is_none());
                }
            }
        }
    }
}
