//! Unit tests of the predefined pools (spec §4.2, trap 20) and of the `null` driver (§4.7).

use super::null::{NullIpamError, is_no_address};
use super::pools::{global_defaults, local_ipv4_defaults, normalize, ula_base, validate};
use super::tests::{ip, net, no_opts};
use super::*;

fn bases(list: &[PoolBase]) -> Vec<String> {
    list.iter()
        .map(|p| format!("{}>{}", p.base, p.size))
        .collect()
}

#[test]
fn docker_defaults_are_the_documented_lists() {
    let pools = PredefinedPools::docker_defaults("test-host");
    assert_eq!(
        bases(&pools.local),
        [
            "172.17.0.0/16>16",
            "172.18.0.0/16>16",
            "172.19.0.0/16>16",
            "172.20.0.0/14>16",
            "172.24.0.0/14>16",
            "172.28.0.0/14>16",
            "192.168.0.0/16>20",
            "fd83:80a:15df::/48>64",
        ]
    );
    assert_eq!(bases(&pools.global), ["10.0.0.0/8>24"]);
    assert_eq!(local_ipv4_defaults().len(), 7);
    let without_ula = PredefinedPools::default();
    assert_eq!(without_ula.local, pools.local[..7]);
    assert_eq!(without_ula.global, pools.global);
    assert_eq!(global_defaults().len(), 1);
}

#[test]
fn ula_base_is_fd_plus_40_bits_of_sha256() {
    // SHA-256("") starts e3b0c44298fc1c14; its low 40 bits are 42 98fc 1c14.
    assert_eq!(ula_base(""), PoolBase::new(net("fd42:98fc:1c14::/48"), 64));
    assert_eq!(ula_base("test-host"), ula_base("test-host"));
    assert_ne!(ula_base("host-a"), ula_base("host-b"));
    let base = ula_base("some-engine-id").base;
    assert_eq!(
        (base.prefix_len(), base.to_string().starts_with("fd")),
        (48, true)
    );
}

#[test]
fn the_flag_syntax_parses() {
    let pool: PoolBase = "base=10.10.0.0/16,size=24".parse().unwrap();
    assert_eq!(pool, PoolBase::new(net("10.10.0.0/16"), 24));
    let upper: PoolBase = "BASE=FD00::/48,Size=64".parse().unwrap();
    assert_eq!(upper, PoolBase::new(net("fd00::/48"), 64));
    let no_size: PoolBase = "base=10.10.0.0/16".parse().unwrap();
    assert_eq!(no_size.size, 0);
}

#[test]
fn flag_errors_use_dockerd_messages() {
    let err = |s: &str| s.parse::<PoolBase>().unwrap_err().to_string();
    assert_eq!(err("base"), "invalid field 'base' must be a key=value pair");
    assert_eq!(
        err("base=10.0.0.0/8,scope=local"),
        "unexpected key 'scope' in 'scope=local'"
    );
    assert_eq!(
        err("base=10.0.0.0/8,size=x"),
        r#"invalid size value: "base=10.0.0.0/8,size=x" (must be integer): strconv.Atoi: parsing "x": invalid syntax"#
    );
    assert!(matches!(
        "size=24".parse::<PoolBase>(),
        Err(PoolConfigError::MissingBase(_))
    ));
    assert!(matches!(
        "base=10.0.0/8,size=24".parse::<PoolBase>(),
        Err(PoolConfigError::InvalidBase { .. })
    ));
    assert!(matches!(
        "base=10.0.0.0/8,size=-1".parse::<PoolBase>(),
        Err(PoolConfigError::InvalidSize { .. })
    ));
}

#[test]
fn validation_uses_dockerd_messages() {
    let entries = [
        PoolBase::new(net("10.0.0.0/8"), 24),
        PoolBase::new(net("10.10.0.0/16"), 8),
    ];
    let err = PredefinedPools::with_default_address_pools(&entries, "h").unwrap_err();
    assert_eq!(
        err.to_string(),
        "network at index 1 (&{10.10.0.0/16 8}) has a smaller prefix (/16) than the target size of that pool (/8)"
    );
    let zero = validate(&[PoolBase::new(net("10.0.0.0/8"), 0)]).unwrap_err();
    assert_eq!(
        zero.to_string(),
        "network at index 0 (&{10.0.0.0/8 0}) is not in canonical form"
    );
    assert!(validate(&[PoolBase::new(net("10.0.0.0/8"), 33)]).is_err());
    assert!(validate(&[PoolBase::new(net("fd00::/8"), 128)]).is_ok());
}

#[test]
fn custom_pools_replace_the_local_list_and_keep_the_ula() {
    let entries = [PoolBase::new(net("10.10.0.0/16"), 24)];
    let pools = PredefinedPools::with_default_address_pools(&entries, "test-host").unwrap();
    assert_eq!(
        bases(&pools.local),
        ["10.10.0.0/16>24", "fd83:80a:15df::/48>64"]
    );
    assert_eq!(bases(&pools.global), ["10.0.0.0/8>24"]);
    let with_v6 = [entries[0], PoolBase::new(net("fd99::/56"), 64)];
    let pools = PredefinedPools::with_default_address_pools(&with_v6, "test-host").unwrap();
    assert_eq!(bases(&pools.local), ["10.10.0.0/16>24", "fd99::/56>64"]);
    let empty = PredefinedPools::with_default_address_pools(&[], "test-host").unwrap();
    assert_eq!(empty, PredefinedPools::docker_defaults("test-host"));
}

#[test]
fn bases_are_masked_sorted_and_overlaps_dropped() {
    let list = vec![
        PoolBase::new(net("10.20.0.0/16"), 24),
        PoolBase::new(net("10.10.0.0/16"), 24),
        PoolBase::new(net("10.10.5.0/24"), 28),
        PoolBase::new(net("10.0.0.0/12"), 20),
        PoolBase::new(net("192.168.7.9/16"), 24),
        PoolBase::new(net("fd00::/48"), 64),
    ];
    // 10.0.0.0/12 covers 10.10/16 and 10.10.5/24, which go; 10.20/16 is outside and stays.
    assert_eq!(
        bases(&normalize(list)),
        [
            "10.0.0.0/12>20",
            "10.20.0.0/16>24",
            "192.168.0.0/16>24",
            "fd00::/48>64"
        ]
    );
}

#[test]
fn null_driver_hands_out_empty_pools_without_addresses() {
    let mut null = NullIpam;
    assert_eq!(
        null.default_address_spaces(),
        ("null".into(), "null".into())
    );
    let v4 = PoolRequest {
        address_space: "null".into(),
        ..Default::default()
    };
    let pool = null.request_pool(&v4).unwrap();
    assert_eq!(
        (pool.pool_id.as_str(), pool.pool),
        ("null/0.0.0.0/0", net("0.0.0.0/0"))
    );
    let v6 = PoolRequest {
        v6: true,
        ..v4.clone()
    };
    let pool6 = null.request_pool(&v6).unwrap();
    assert_eq!(
        (pool6.pool_id.as_str(), pool6.pool),
        ("null/::/0", net("::/0"))
    );
    let addr = null
        .request_address(&pool.pool_id, Some(ip("10.0.0.1")), &no_opts())
        .unwrap();
    assert!(is_no_address(&addr) && addr.addr().is_ipv4());
    assert!(is_no_address(
        &null
            .request_address(&pool6.pool_id, None, &no_opts())
            .unwrap()
    ));
    assert!(!is_no_address(&net("10.0.0.1/0")));
    null.release_address(&pool.pool_id, ip("10.0.0.1")).unwrap();
    null.release_pool(&pool.pool_id).unwrap();
    assert_eq!(null.pool_status(&pool.pool_id), None);
}

#[test]
fn null_driver_rejects_what_it_cannot_do() {
    let mut null = NullIpam;
    let msg = |e: IpamError| (e.to_string(), e.kind());
    let invalid = crate::error::ErrorKind::InvalidParameter;
    let req = PoolRequest {
        address_space: "LocalDefault".into(),
        ..Default::default()
    };
    assert_eq!(
        msg(null.request_pool(&req).unwrap_err()),
        ("unknown address space: LocalDefault".into(), invalid)
    );
    let req = PoolRequest {
        address_space: "null".into(),
        pool: Some(net("10.0.0.0/8")),
        ..Default::default()
    };
    assert_eq!(
        null.request_pool(&req).unwrap_err().to_string(),
        "null ipam driver does not handle specific address pool requests"
    );
    let req = PoolRequest {
        address_space: "null".into(),
        sub_pool: Some(net("10.0.0.0/8")),
        ..Default::default()
    };
    assert_eq!(
        null.request_pool(&req).unwrap_err().to_string(),
        "null ipam driver does not handle specific address subpool requests"
    );
    let err = null
        .request_address("LocalDefault/10.0.0.0/8", None, &no_opts())
        .unwrap_err();
    assert_eq!(
        err,
        IpamError::Null(NullIpamError::UnknownPoolId(
            "LocalDefault/10.0.0.0/8".into()
        ))
    );
    assert_eq!(
        msg(err),
        ("unknown pool id: LocalDefault/10.0.0.0/8".into(), invalid)
    );
    assert!(null.release_address("x", ip("10.0.0.1")).is_err());
}
