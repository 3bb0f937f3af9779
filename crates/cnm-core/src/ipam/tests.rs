//! Unit tests of `RequestPool`/`ReleasePool` of the default driver (spec §4.3, traps
//! 17–19), and the helpers the other IPAM test modules share.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::*;

pub(super) fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub(super) fn ipam() -> DefaultIpam {
    DefaultIpam::with_docker_defaults("test-host")
}

pub(super) fn no_opts() -> BTreeMap<String, String> {
    BTreeMap::new()
}

/// A `LocalDefault` request for `pool` (None = dynamic) with an optional sub-pool.
pub(super) fn local(pool: Option<&str>, sub: Option<&str>) -> PoolRequest {
    PoolRequest {
        address_space: LOCAL_DEFAULT.to_string(),
        pool: pool.map(net),
        sub_pool: sub.map(net),
        v6: pool.is_some_and(|p| p.contains(':')),
        ..Default::default()
    }
}

pub(super) fn dynamic_v6() -> PoolRequest {
    PoolRequest {
        address_space: LOCAL_DEFAULT.to_string(),
        v6: true,
        ..Default::default()
    }
}

fn subnet(ipam: &mut DefaultIpam, req: &PoolRequest) -> String {
    ipam.request_pool(req).unwrap().pool.to_string()
}

#[test]
fn dynamic_pools_walk_the_local_defaults_in_order() {
    let mut ipam = ipam();
    let first = ipam.request_pool(&local(None, None)).unwrap();
    assert_eq!(first.pool_id, "LocalDefault/172.17.0.0/16");
    assert_eq!(first.pool, net("172.17.0.0/16"));
    assert!(first.meta.is_empty());
    let next: Vec<String> = (0..16)
        .map(|_| subnet(&mut ipam, &local(None, None)))
        .collect();
    assert_eq!(
        next[..4],
        [
            "172.18.0.0/16",
            "172.19.0.0/16",
            "172.20.0.0/16",
            "172.21.0.0/16"
        ]
    );
    assert_eq!(next[13], "172.31.0.0/16");
    assert_eq!(next[14], "192.168.0.0/20");
    assert_eq!(next[15], "192.168.16.0/20");
}

#[test]
fn the_local_defaults_yield_31_subnets_then_exhaust() {
    let mut ipam = ipam();
    for _ in 0..31 {
        ipam.request_pool(&local(None, None)).unwrap();
    }
    let err = ipam.request_pool(&local(None, None)).unwrap_err();
    assert_eq!(err, IpamError::PoolsExhausted);
    assert_eq!(
        err.to_string(),
        "all predefined address pools have been fully subnetted"
    );
    assert_eq!(err.kind(), crate::error::ErrorKind::InvalidParameter);
}

#[test]
fn a_released_dynamic_subnet_is_reused_first() {
    let mut ipam = ipam();
    let ids: Vec<String> = (0..3)
        .map(|_| ipam.request_pool(&local(None, None)).unwrap().pool_id)
        .collect();
    ipam.release_pool(&ids[1]).unwrap();
    assert_eq!(subnet(&mut ipam, &local(None, None)), "172.18.0.0/16");
    assert_eq!(subnet(&mut ipam, &local(None, None)), "172.20.0.0/16");
}

#[test]
fn dynamic_choice_skips_static_subnets_and_partly_used_bases() {
    let mut ipam = ipam();
    ipam.request_pool(&local(Some("172.17.5.0/24"), None))
        .unwrap();
    ipam.request_pool(&local(Some("172.20.0.0/16"), None))
        .unwrap();
    assert_eq!(subnet(&mut ipam, &local(None, None)), "172.18.0.0/16");
    assert_eq!(subnet(&mut ipam, &local(None, None)), "172.19.0.0/16");
    assert_eq!(subnet(&mut ipam, &local(None, None)), "172.21.0.0/16");
}

#[test]
fn exclude_skips_nameservers_and_link_routes() {
    let mut ipam = ipam();
    let mut req = local(None, None);
    req.exclude = vec![net("172.17.0.1/32"), net("172.19.4.0/24"), net("fd00::/8")];
    assert_eq!(subnet(&mut ipam, &req), "172.18.0.0/16");
    assert_eq!(subnet(&mut ipam, &req), "172.20.0.0/16");
    req.exclude = vec![net("172.16.0.0/12")];
    assert_eq!(subnet(&mut ipam, &req), "192.168.0.0/20");
    // The exclude list is not remembered: without it the holes are used again.
    assert_eq!(subnet(&mut ipam, &local(None, None)), "172.17.0.0/16");
    // A single address at the very end of a candidate still blocks it.
    req.exclude = vec![net("172.19.255.255/32")];
    assert_eq!(subnet(&mut ipam, &req), "172.21.0.0/16");
}

#[test]
fn an_unspecified_address_asks_for_that_size() {
    let mut ipam = ipam();
    let a = ipam.request_pool(&local(Some("0.0.0.0/24"), None)).unwrap();
    assert_eq!(
        (a.pool_id.as_str(), a.pool),
        ("LocalDefault/172.17.0.0/24", net("172.17.0.0/24"))
    );
    assert_eq!(
        subnet(&mut ipam, &local(Some("0.0.0.0/24"), None)),
        "172.17.1.0/24"
    );
    assert_eq!(subnet(&mut ipam, &local(None, None)), "172.18.0.0/16");
    assert_eq!(
        subnet(&mut ipam, &local(Some("0.0.0.0/0"), None)),
        "172.19.0.0/16"
    );
    // /15 fits only the /14 bases.
    assert_eq!(
        subnet(&mut ipam, &local(Some("0.0.0.0/15"), None)),
        "172.20.0.0/15"
    );
}

#[test]
fn a_size_no_base_can_give_is_an_invalid_pool() {
    let mut ipam = ipam();
    let err = ipam
        .request_pool(&local(Some("0.0.0.0/8"), None))
        .unwrap_err();
    assert_eq!(err.to_string(), "invalid address pool");
    let global_v6 = PoolRequest {
        address_space: GLOBAL_DEFAULT.into(),
        v6: true,
        ..Default::default()
    };
    assert_eq!(ipam.request_pool(&global_v6), Err(IpamError::InvalidPool));
}

#[test]
fn dynamic_ipv6_pools_are_64s_of_the_host_ula() {
    let mut ipam = ipam();
    let ula = pools::ula_base("test-host").base;
    let first = ipam.request_pool(&dynamic_v6()).unwrap();
    assert_eq!(first.pool, IpNet::new(ula.network(), 64).unwrap());
    assert_eq!(first.pool_id, format!("LocalDefault/{}", first.pool));
    let second = ipam.request_pool(&dynamic_v6()).unwrap().pool;
    assert!(ula.contains(&second) && second.prefix_len() == 64 && second != first.pool);
    let sized = ipam.request_pool(&local(Some("::/56"), None)).unwrap().pool;
    assert_eq!(sized.prefix_len(), 56);
    assert!(ula.contains(&sized) && !sized.contains(&first.pool));
}

#[test]
fn global_space_splits_10_8_into_24s() {
    let mut ipam = ipam();
    let req = PoolRequest {
        address_space: GLOBAL_DEFAULT.into(),
        ..Default::default()
    };
    let first = ipam.request_pool(&req).unwrap();
    assert_eq!(first.pool_id, "GlobalDefault/10.0.0.0/24");
    assert_eq!(subnet(&mut ipam, &req), "10.0.1.0/24");
    // Spaces are independent: the same subnet can exist in both.
    assert!(ipam.request_pool(&local(Some("10.0.0.0/24"), None)).is_ok());
}

#[test]
fn address_space_names_are_checked() {
    let mut ipam = ipam();
    assert_eq!(
        ipam.default_address_spaces(),
        ("LocalDefault".into(), "GlobalDefault".into())
    );
    let mut req = local(None, None);
    req.address_space = String::new();
    assert_eq!(ipam.request_pool(&req), Err(IpamError::InvalidAddressSpace));
    req.address_space = "foo".into();
    assert_eq!(
        ipam.request_pool(&req).unwrap_err().to_string(),
        "cannot find address space foo"
    );
}

#[test]
fn a_sub_pool_needs_an_explicit_pool() {
    let mut ipam = ipam();
    assert_eq!(
        ipam.request_pool(&local(None, Some("10.0.0.0/24"))),
        Err(IpamError::InvalidSubPool)
    );
    let unspecified = local(Some("0.0.0.0/16"), Some("10.0.0.0/24"));
    assert_eq!(
        ipam.request_pool(&unspecified),
        Err(IpamError::InvalidSubPool)
    );
}

#[test]
fn static_pools_must_not_overlap() {
    let mut ipam = ipam();
    let a = ipam
        .request_pool(&local(Some("10.1.0.0/16"), None))
        .unwrap();
    assert_eq!(a.pool_id, "LocalDefault/10.1.0.0/16");
    for overlapping in ["10.1.0.0/16", "10.1.2.0/24", "10.0.0.0/8"] {
        let err = ipam
            .request_pool(&local(Some(overlapping), None))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Pool overlaps with other one on this address space"
        );
        assert_eq!(err.kind(), crate::error::ErrorKind::Forbidden);
    }
    assert!(ipam.request_pool(&local(Some("10.2.0.0/16"), None)).is_ok());
    let dynamic = ipam.request_pool(&local(None, None)).unwrap();
    assert_eq!(
        ipam.request_pool(&local(Some("172.17.128.0/17"), None)),
        Err(IpamError::PoolOverlap)
    );
    ipam.release_pool(&dynamic.pool_id).unwrap();
    assert!(
        ipam.request_pool(&local(Some("172.17.128.0/17"), None))
            .is_ok()
    );
}

#[test]
fn static_pools_are_masked_and_ignore_exclude() {
    let mut ipam = ipam();
    let mut req = local(Some("10.1.2.3/16"), None);
    req.exclude = vec![net("10.1.0.0/16")];
    let a = ipam.request_pool(&req).unwrap();
    assert_eq!(
        (a.pool_id.as_str(), a.pool),
        ("LocalDefault/10.1.0.0/16", net("10.1.0.0/16"))
    );
}

#[test]
fn networks_share_a_master_pool_when_sub_pools_differ() {
    let mut ipam = ipam();
    let a = ipam
        .request_pool(&local(Some("10.2.0.0/16"), Some("10.2.1.0/24")))
        .unwrap();
    assert_eq!(a.pool_id, "LocalDefault/10.2.0.0/16/10.2.1.0/24");
    assert_eq!(a.pool, net("10.2.0.0/16"));
    let b = ipam
        .request_pool(&local(Some("10.2.0.0/16"), Some("10.2.2.0/24")))
        .unwrap();
    assert_eq!(
        ipam.request_pool(&local(Some("10.2.0.0/16"), Some("10.2.1.0/24"))),
        Err(IpamError::PoolOverlap)
    );
    assert_eq!(
        ipam.request_pool(&local(Some("10.2.0.0/16"), None)),
        Err(IpamError::PoolOverlap)
    );
    // Both children draw from one address set.
    let x = ipam
        .request_address(&a.pool_id, Some(ip("10.2.2.0")), &no_opts())
        .unwrap();
    assert_eq!(x.to_string(), "10.2.2.0/16");
    assert_eq!(
        ipam.request_address(&b.pool_id, None, &no_opts())
            .unwrap()
            .to_string(),
        "10.2.2.1/16"
    );
    ipam.release_pool(&a.pool_id).unwrap();
    assert_eq!(
        ipam.release_pool(&a.pool_id).unwrap_err().to_string(),
        format!("pool {} does not exist", a.pool_id)
    );
    assert!(ipam.request_address(&b.pool_id, None, &no_opts()).is_ok());
    ipam.release_pool(&b.pool_id).unwrap();
    // The master went with its last child.
    assert!(ipam.pool_status("LocalDefault/10.2.0.0/16").is_none());
    assert!(ipam.request_pool(&local(Some("10.2.0.0/16"), None)).is_ok());
}

#[test]
fn a_plain_master_outlives_its_children_until_released_itself() {
    let mut ipam = ipam();
    let master = ipam
        .request_pool(&local(Some("10.3.0.0/16"), None))
        .unwrap();
    let child = ipam
        .request_pool(&local(Some("10.3.0.0/16"), Some("10.3.7.0/24")))
        .unwrap();
    ipam.release_pool(&master.pool_id).unwrap();
    assert!(
        ipam.pool_status(&master.pool_id).is_some(),
        "a child still uses it"
    );
    ipam.release_pool(&child.pool_id).unwrap();
    assert!(ipam.pool_status(&master.pool_id).is_none());
}

#[test]
fn sub_pools_are_validated_and_clamped() {
    let mut ipam = ipam();
    let err = ipam
        .request_pool(&local(Some("10.4.0.0/16"), Some("fd00::/64")))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "pool and subpool are of incompatible address families"
    );
    assert_eq!(
        ipam.request_pool(&local(Some("10.4.0.0/16"), Some("10.5.0.0/24"))),
        Err(IpamError::InvalidSubPool)
    );
    let clamped = ipam
        .request_pool(&local(Some("10.4.0.0/24"), Some("10.0.0.0/8")))
        .unwrap();
    assert_eq!(clamped.pool_id, "LocalDefault/10.4.0.0/24/10.4.0.0/24");
    let masked = ipam
        .request_pool(&local(Some("10.6.0.0/16"), Some("10.6.1.9/24")))
        .unwrap();
    assert_eq!(masked.pool_id, "LocalDefault/10.6.0.0/16/10.6.1.0/24");
}

#[test]
fn releasing_unknown_pools_fails() {
    let mut ipam = ipam();
    for id in [
        "LocalDefault/10.9.0.0/16",
        "LocalDefault/10.9.0.0",
        "Nope/10.9.0.0/16",
        "",
    ] {
        assert_eq!(
            ipam.release_pool(id),
            Err(IpamError::UnknownPool(id.to_string()))
        );
    }
    let a = ipam
        .request_pool(&local(Some("10.9.0.0/16"), None))
        .unwrap();
    assert_eq!(
        ipam.release_pool("LocalDefault/10.9.0.0/16/10.9.1.0/24"),
        Err(IpamError::UnknownPool(
            "LocalDefault/10.9.0.0/16/10.9.1.0/24".into()
        ))
    );
    ipam.release_pool(&a.pool_id).unwrap();
}

#[test]
fn custom_bases_replace_the_local_list() {
    let entries = ["base=10.10.0.0/16,size=24".parse().unwrap()];
    let pools = PredefinedPools::with_default_address_pools(&entries, "h").unwrap();
    let mut ipam = DefaultIpam::new(&pools);
    assert_eq!(subnet(&mut ipam, &local(None, None)), "10.10.0.0/24");
    assert_eq!(subnet(&mut ipam, &local(None, None)), "10.10.1.0/24");
    assert_eq!(
        ipam.request_pool(&dynamic_v6()).unwrap().pool.prefix_len(),
        64
    );
}
