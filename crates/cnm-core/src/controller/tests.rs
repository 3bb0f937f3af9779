//! Controller unit tests: real IPAM and store logic, a fake driver, no kernel, no root.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use cnm_types::engine::{Ipam, IpamConfig, NetworkCreateRequest};

use super::spec::NetworkSpec;
use super::*;
use crate::driver::FakeDriver;
use crate::ipam::PredefinedPools;
use crate::store::{Kind, KvStore, MemoryStore};

fn controller() -> (Controller, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::default());
    let config = Config {
        data_root: PathBuf::from("/nonexistent"),
        exec_root: PathBuf::from("/nonexistent"),
        default_bridge: DefaultBridge {
            name: "cnm0".into(),
            bip: None,
            fixed_cidr: None,
            mtu: 1500,
            icc: true,
            ip_masq: true,
        },
        pools: PredefinedPools::default(),
        dns: Vec::new(),
        host_resolv_conf: PathBuf::from("/nonexistent"),
        // No plugin is ever found: unknown driver names fail at once.
        plugins: crate::plugins::PluginSettings {
            socket_dir: PathBuf::from("/nonexistent"),
            spec_dirs: Vec::new(),
            discovery_timeout: std::time::Duration::ZERO,
            ..Default::default()
        },
    };
    let drivers = Drivers {
        bridge: Driver::Fake(FakeDriver::default()),
        host: Driver::Host,
        null: Driver::Null,
        macvlan: Driver::Null,
        ipvlan: Driver::Null,
        remote: Default::default(),
    };
    (Controller::new(config, store.clone(), drivers, None), store)
}

fn spec(name: &str) -> NetworkSpec {
    NetworkSpec::from_request(NetworkCreateRequest {
        name: Some(name.into()),
        ..Default::default()
    })
    .unwrap()
}

fn spec_with_subnet(name: &str, subnet: &str) -> NetworkSpec {
    NetworkSpec::from_request(NetworkCreateRequest {
        name: Some(name.into()),
        ipam: Some(Ipam {
            driver: "default".into(),
            options: Some(BTreeMap::new()),
            config: Some(vec![IpamConfig {
                subnet: subnet.into(),
                ..Default::default()
            }]),
        }),
        ..Default::default()
    })
    .unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn dynamic_subnets_come_in_docker_order_and_are_persisted() {
    rt().block_on(async {
        let (c, store) = controller();
        let a = c.create_network(spec("a")).await.unwrap();
        let b = c.create_network(spec("b")).await.unwrap();
        assert_eq!(a.subnet_v4().unwrap().pool.to_string(), "172.17.0.0/16");
        assert_eq!(
            a.subnet_v4().unwrap().gateway.unwrap().to_string(),
            "172.17.0.1/16"
        );
        assert_eq!(b.subnet_v4().unwrap().pool.to_string(), "172.18.0.0/16");
        assert_eq!(store.list(Kind::Network).unwrap().len(), 2);
    });
}

#[test]
fn errors_have_dockers_status_and_leave_nothing() {
    rt().block_on(async {
        let (c, store) = controller();
        c.create_network(spec_with_subnet("a", "10.1.0.0/16"))
            .await
            .unwrap();
        let dup = c.create_network(spec("a")).await.unwrap_err();
        assert_eq!(
            (dup.kind.http_status(), dup.message.as_str()),
            (409, "network with name a already exists")
        );
        let overlap = c
            .create_network(spec_with_subnet("b", "10.1.2.0/24"))
            .await
            .unwrap_err();
        assert_eq!(overlap.kind.http_status(), 403, "{}", overlap.message);
        let mut unknown = spec("c");
        unknown.driver = "nope".into();
        let e = c.create_network(unknown).await.unwrap_err();
        assert_eq!(
            (e.kind.http_status(), e.message.as_str()),
            (404, "plugin \"nope\" not found")
        );
        assert_eq!(store.list(Kind::Network).unwrap().len(), 1);
        // The failed creates released what they took: the next dynamic pool is the first.
        let d = c.create_network(spec("d")).await.unwrap();
        assert_eq!(d.subnet_v4().unwrap().pool.to_string(), "172.17.0.0/16");
    });
}

#[test]
fn a_driver_failure_rolls_back_ipam() {
    rt().block_on(async {
        let (c, _) = controller();
        if let Driver::Fake(f) = &mut c.state.lock().await.drivers.bridge {
            f.fail_next_create = Some("boom".into());
        }
        assert_eq!(
            c.create_network(spec("a")).await.unwrap_err().message,
            "boom"
        );
        let a = c.create_network(spec("a")).await.unwrap();
        assert_eq!(a.subnet_v4().unwrap().pool.to_string(), "172.17.0.0/16");
    });
}

#[test]
fn delete_frees_the_subnet_and_name() {
    rt().block_on(async {
        let (c, store) = controller();
        let a = c.create_network(spec("a")).await.unwrap();
        c.delete_network(a.id.short()).await.unwrap();
        assert!(store.list(Kind::Network).unwrap().is_empty());
        let e = c.delete_network("a").await.unwrap_err();
        assert_eq!(
            (e.kind.http_status(), e.message.as_str()),
            (404, "network a not found")
        );
        let again = c.create_network(spec("a")).await.unwrap();
        assert_eq!(again.subnet_v4().unwrap().pool.to_string(), "172.17.0.0/16");
    });
}

#[test]
fn lookup_by_name_id_and_prefix() {
    rt().block_on(async {
        let (c, _) = controller();
        let mut ids = Vec::new();
        for i in 0..25 {
            ids.push(c.create_network(spec(&format!("n{i}"))).await.unwrap().id);
        }
        let first = &ids[0];
        assert_eq!(c.network(first.as_str()).await.unwrap().network.id, *first);
        assert_eq!(
            c.network(&first.as_str()[..12]).await.unwrap().network.id,
            *first
        );
        assert_eq!(c.network("n3").await.unwrap().network.name, "n3");
        // 25 ids in 16 first-hex-digit bins: some one-character prefix is shared.
        let shared = (b'0'..=b'f')
            .map(|c| (c as char).to_string())
            .find(|p| {
                ids.iter()
                    .filter(|id| id.as_str().starts_with(p.as_str()))
                    .count()
                    > 1
            })
            .unwrap();
        let e = c.network(&shared).await.unwrap_err();
        assert_eq!(e.kind.http_status(), 400);
        assert!(
            e.message
                .ends_with(&format!("network {shared} is ambiguous")),
            "{}",
            e.message
        );
        let e = c.delete_network(&shared).await.unwrap_err();
        assert!(
            e.message
                .starts_with(&format!("network {shared} is ambiguous (")),
            "{}",
            e.message
        );
    });
}

#[test]
fn prune_removes_unused_matching_networks_and_returns_names() {
    rt().block_on(async {
        let (c, _) = controller();
        let mut keep = spec("keep");
        keep.labels.insert("keep".into(), "yes".into());
        c.create_network(keep).await.unwrap();
        c.create_network(spec("gone")).await.unwrap();
        let filter = network::PruneFilter {
            labels_not: vec!["keep".into()],
            ..Default::default()
        };
        assert_eq!(
            c.prune_networks(&filter).await.unwrap(),
            vec!["gone".to_string()]
        );
        assert_eq!(c.networks().await.len(), 1);
    });
}
