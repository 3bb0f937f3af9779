//! Unit tests of address allocation in the default driver (spec §4.4–4.5, traps 16, 21).

use std::collections::BTreeMap;
use std::time::Instant;

use super::default::ALLOC_SERIAL;
use super::tests::{ip, ipam, local, no_opts};
use super::*;

/// A fresh driver with one static pool; returns its id.
fn with_pool(pool: &str, sub: Option<&str>) -> (DefaultIpam, String) {
    let mut ipam = ipam();
    let id = ipam.request_pool(&local(Some(pool), sub)).unwrap().pool_id;
    (ipam, id)
}

fn next(ipam: &mut DefaultIpam, id: &str) -> String {
    ipam.request_address(id, None, &no_opts())
        .unwrap()
        .to_string()
}

fn serial() -> BTreeMap<String, String> {
    BTreeMap::from([(ALLOC_SERIAL.to_string(), "true".to_string())])
}

#[test]
fn first_free_allocation_reuses_released_addresses() {
    let (mut ipam, id) = with_pool("10.1.0.0/16", None);
    let gateway = BTreeMap::from([(
        REQUEST_ADDRESS_TYPE.to_string(),
        GATEWAY_ADDRESS_TYPE.to_string(),
    )]);
    assert_eq!(
        ipam.request_address(&id, None, &gateway)
            .unwrap()
            .to_string(),
        "10.1.0.1/16"
    );
    assert_eq!(next(&mut ipam, &id), "10.1.0.2/16");
    assert_eq!(next(&mut ipam, &id), "10.1.0.3/16");
    ipam.release_address(&id, ip("10.1.0.2")).unwrap();
    assert_eq!(next(&mut ipam, &id), "10.1.0.2/16");
    assert_eq!(next(&mut ipam, &id), "10.1.0.4/16");
}

#[test]
fn fresh_16_with_gateway_reports_docker_status() {
    let (mut ipam, id) = with_pool("172.30.0.0/16", None);
    assert_eq!(
        ipam.pool_status(&id),
        Some(PoolStatus {
            ips_in_use: 2,
            dynamic_ips_available: 65534
        })
    );
    next(&mut ipam, &id);
    assert_eq!(
        ipam.pool_status(&id),
        Some(PoolStatus {
            ips_in_use: 3,
            dynamic_ips_available: 65533
        })
    );
    assert_eq!(ipam.pool_status("LocalDefault/172.31.0.0/16"), None);
}

#[test]
fn the_gateway_of_a_range_is_its_first_address() {
    let (mut ipam, id) = with_pool("10.2.0.0/16", Some("10.2.1.0/24"));
    assert_eq!(next(&mut ipam, &id), "10.2.1.0/16");
    assert_eq!(next(&mut ipam, &id), "10.2.1.1/16");
    assert_eq!(
        ipam.pool_status(&id),
        Some(PoolStatus {
            ips_in_use: 4,
            dynamic_ips_available: 254
        })
    );
}

#[test]
fn a_range_is_exhausted_on_its_own() {
    let (mut ipam, id) = with_pool("10.3.0.0/16", Some("10.3.255.0/24"));
    for _ in 0..255 {
        next(&mut ipam, &id); // 10.3.255.255 is the pool's broadcast: reserved
    }
    let err = ipam.request_address(&id, None, &no_opts()).unwrap_err();
    assert_eq!(err.to_string(), "no available addresses on this pool");
    assert_eq!(err.kind(), crate::error::ErrorKind::Unavailable);
    // The rest of the pool is still there for static requests.
    assert!(
        ipam.request_address(&id, Some(ip("10.3.0.9")), &no_opts())
            .is_ok()
    );
}

#[test]
fn preferred_addresses_must_be_in_the_pool_and_free() {
    let (mut ipam, id) = with_pool("10.4.0.0/16", Some("10.4.1.0/24"));
    let outside_range = ipam
        .request_address(&id, Some(ip("10.4.9.9")), &no_opts())
        .unwrap();
    assert_eq!(outside_range.to_string(), "10.4.9.9/16");
    let err = ipam
        .request_address(&id, Some(ip("10.4.9.9")), &no_opts())
        .unwrap_err();
    assert_eq!(err.to_string(), "Address already in use");
    assert_eq!(err.kind(), crate::error::ErrorKind::Forbidden);
    let err = ipam
        .request_address(&id, Some(ip("10.5.0.1")), &no_opts())
        .unwrap_err();
    assert_eq!(err.to_string(), "requested address is out of range");
    assert_eq!(
        ipam.request_address(&id, Some(ip("fd00::1")), &no_opts()),
        Err(IpamError::OutOfRange)
    );
    // Network and broadcast are reserved.
    assert_eq!(
        ipam.request_address(&id, Some(ip("10.4.0.0")), &no_opts()),
        Err(IpamError::AddressInUse)
    );
    assert_eq!(
        ipam.request_address(&id, Some(ip("10.4.255.255")), &no_opts()),
        Err(IpamError::AddressInUse)
    );
    // IPv4-mapped IPv6 is unmapped first, as Go's netip does.
    let mapped = ipam
        .request_address(&id, Some(ip("::ffff:10.4.7.7")), &no_opts())
        .unwrap();
    assert_eq!(mapped.to_string(), "10.4.7.7/16");
}

#[test]
fn tiny_ipv4_pools_reserve_only_when_they_have_two_host_bits() {
    let (mut ipam, id) = with_pool("10.5.0.0/30", None);
    assert_eq!(
        (next(&mut ipam, &id), next(&mut ipam, &id)),
        ("10.5.0.1/30".into(), "10.5.0.2/30".into())
    );
    assert_eq!(
        ipam.request_address(&id, None, &no_opts()),
        Err(IpamError::NoAvailableAddresses)
    );
    let id31 = ipam
        .request_pool(&local(Some("10.5.1.0/31"), None))
        .unwrap()
        .pool_id;
    assert_eq!(
        (next(&mut ipam, &id31), next(&mut ipam, &id31)),
        ("10.5.1.0/31".into(), "10.5.1.1/31".into())
    );
    let id32 = ipam
        .request_pool(&local(Some("10.5.2.7/32"), None))
        .unwrap()
        .pool_id;
    assert_eq!(next(&mut ipam, &id32), "10.5.2.7/32");
    assert_eq!(
        ipam.request_address(&id32, None, &no_opts()),
        Err(IpamError::NoAvailableAddresses)
    );
}

#[test]
fn ipv6_reserves_only_the_subnet_router_anycast_address() {
    let (mut ipam, id) = with_pool("fd01::/64", None);
    assert_eq!(
        ipam.pool_status(&id),
        Some(PoolStatus {
            ips_in_use: 1,
            dynamic_ips_available: u64::MAX
        })
    );
    assert_eq!(next(&mut ipam, &id), "fd01::1/64");
    assert_eq!(
        ipam.pool_status(&id),
        Some(PoolStatus {
            ips_in_use: 2,
            dynamic_ips_available: u64::MAX - 1
        })
    );
    let last = ipam
        .request_address(&id, Some(ip("fd01::ffff:ffff:ffff:ffff")), &no_opts())
        .unwrap();
    assert_eq!(last.to_string(), "fd01::ffff:ffff:ffff:ffff/64");
    let (mut ipam, id) = with_pool("fd02::/120", None);
    for _ in 0..255 {
        next(&mut ipam, &id);
    }
    assert_eq!(
        ipam.request_address(&id, None, &no_opts()),
        Err(IpamError::NoAvailableAddresses)
    );
}

#[test]
fn huge_ipv6_pools_cost_nothing_and_saturate_status() {
    // (`::/0` itself would ask for a dynamic pool, as in Docker.)
    let (mut ipam, id) = with_pool("8000::/1", None);
    assert_eq!(
        ipam.pool_status(&id),
        Some(PoolStatus {
            ips_in_use: 1,
            dynamic_ips_available: u64::MAX
        })
    );
    assert_eq!(next(&mut ipam, &id), "8000::1/1");
    let top = ipam.request_address(
        &id,
        Some(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")),
        &no_opts(),
    );
    assert!(top.is_ok());
    let (mut ipam, id) = with_pool("fd03::/64", Some("fd03::8000:0:0:0/65"));
    assert_eq!(next(&mut ipam, &id), "fd03::8000:0:0:0/64");
}

#[test]
fn serial_allocation_continues_after_the_last_and_wraps() {
    let (mut ipam, id) = with_pool("10.6.0.0/29", None); // .1 … .6
    for _ in 0..3 {
        next(&mut ipam, &id);
    }
    ipam.release_address(&id, ip("10.6.0.2")).unwrap();
    assert_eq!(
        ipam.request_address(&id, None, &serial())
            .unwrap()
            .to_string(),
        "10.6.0.4/29"
    );
    assert_eq!(
        ipam.request_address(&id, None, &serial())
            .unwrap()
            .to_string(),
        "10.6.0.5/29"
    );
    assert_eq!(
        ipam.request_address(&id, None, &serial())
            .unwrap()
            .to_string(),
        "10.6.0.6/29"
    );
    // Past the end it wraps to the lowest free one.
    assert_eq!(
        ipam.request_address(&id, None, &serial())
            .unwrap()
            .to_string(),
        "10.6.0.2/29"
    );
    assert_eq!(
        ipam.request_address(&id, None, &serial()),
        Err(IpamError::NoAvailableAddresses)
    );
    // "serial" must be exactly "true".
    let (mut ipam, id) = with_pool("10.7.0.0/29", None);
    next(&mut ipam, &id);
    next(&mut ipam, &id);
    ipam.release_address(&id, ip("10.7.0.1")).unwrap();
    let not_serial = BTreeMap::from([(ALLOC_SERIAL.to_string(), "1".to_string())]);
    assert_eq!(
        ipam.request_address(&id, None, &not_serial)
            .unwrap()
            .to_string(),
        "10.7.0.1/29"
    );
}

#[test]
fn serial_allocation_stays_inside_the_range() {
    let (mut ipam, id) = with_pool("10.8.0.0/16", Some("10.8.3.0/30"));
    let addrs: Vec<String> = (0..4)
        .map(|_| {
            ipam.request_address(&id, None, &serial())
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        addrs,
        ["10.8.3.0/16", "10.8.3.1/16", "10.8.3.2/16", "10.8.3.3/16"]
    );
    ipam.release_address(&id, ip("10.8.3.1")).unwrap();
    assert_eq!(
        ipam.request_address(&id, None, &serial())
            .unwrap()
            .to_string(),
        "10.8.3.1/16"
    );
}

#[test]
fn releasing_is_idempotent_but_checks_the_pool() {
    let (mut ipam, id) = with_pool("10.9.0.0/24", None);
    let a = ipam.request_address(&id, None, &no_opts()).unwrap().addr();
    ipam.release_address(&id, a).unwrap();
    ipam.release_address(&id, a).unwrap();
    ipam.release_address(&id, ip("10.9.0.77")).unwrap();
    assert_eq!(
        ipam.release_address(&id, ip("10.10.0.1")),
        Err(IpamError::OutOfRange)
    );
    let unknown = "LocalDefault/10.99.0.0/24";
    assert_eq!(
        ipam.release_address(unknown, a),
        Err(IpamError::UnknownPool(unknown.into()))
    );
    assert_eq!(
        ipam.request_address(unknown, None, &no_opts()),
        Err(IpamError::UnknownPool(unknown.into()))
    );
    assert_eq!(
        ipam.request_address("garbage", None, &no_opts()),
        Err(IpamError::UnknownPool("garbage".into()))
    );
}

#[test]
fn a_released_sub_pool_id_stops_working() {
    let mut ipam = ipam();
    let a = ipam
        .request_pool(&local(Some("10.11.0.0/16"), Some("10.11.1.0/24")))
        .unwrap()
        .pool_id;
    let b = ipam
        .request_pool(&local(Some("10.11.0.0/16"), Some("10.11.2.0/24")))
        .unwrap()
        .pool_id;
    ipam.release_pool(&a).unwrap();
    assert_eq!(
        ipam.request_address(&a, None, &no_opts()),
        Err(IpamError::UnknownPool(a.clone()))
    );
    assert_eq!(next(&mut ipam, &b), "10.11.2.0/16");
}

#[test]
fn a_dynamic_pool_hands_out_addresses_after_its_gateway() {
    let mut ipam = ipam();
    let id = ipam.request_pool(&local(None, None)).unwrap().pool_id;
    assert_eq!(next(&mut ipam, &id), "172.17.0.1/16");
    assert_eq!(next(&mut ipam, &id), "172.17.0.2/16");
}

/// Many addresses per network must stay cheap: 20 000 allocations in a /16 and a /64, then
/// a release of every other one and a re-fill, well under a second even in debug builds.
#[test]
fn allocation_scales_to_thousands_of_addresses() {
    for pool in ["10.12.0.0/16", "fd04::/64"] {
        let (mut ipam, id) = with_pool(pool, None);
        let started = Instant::now();
        let addrs: Vec<_> = (0..20_000)
            .map(|_| ipam.request_address(&id, None, &no_opts()).unwrap())
            .collect();
        for a in addrs.iter().step_by(2) {
            ipam.release_address(&id, a.addr()).unwrap();
        }
        // First-free hands the holes back lowest first.
        assert_eq!(
            ipam.request_address(&id, None, &no_opts()).unwrap(),
            addrs[0]
        );
        for _ in 1..10_000 {
            ipam.request_address(&id, None, &no_opts()).unwrap();
        }
        assert_eq!(
            ipam.pool_status(&id).unwrap().ips_in_use,
            20_000 + if pool.contains(':') { 1 } else { 2 }
        );
        assert!(
            started.elapsed().as_secs_f64() < 2.0,
            "{pool}: {:?}",
            started.elapsed()
        );
    }
}
