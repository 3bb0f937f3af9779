//! Fuzz target for `POST /networks/create` through the controller: validation, IPAM (pools,
//! ranges, gateways, auxiliary addresses), the store and the rollback of a failed create,
//! with the kernel-free fake bridge driver and an in-memory store.
//!
//! Input: a `NetworkCreateRequest` body. Checked for every input: no panic; a refusal is a
//! 4xx or 503, or one of the 500s Docker answers with the same words; an accepted network has its subnets,
//! gateways and ranges consistent and can be inspected and removed; after removing it, the
//! same request succeeds again (nothing leaked: pool, name or addresses), and the controller
//! is back to no networks.

#![no_main]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use cnm_core::controller::spec::NetworkSpec;
use cnm_core::controller::{Config, Controller, DefaultBridge, Drivers};
use cnm_core::driver::{Driver, FakeDriver};
use cnm_core::ipam::PredefinedPools;
use cnm_core::store::MemoryStore;
use cnm_types::engine::NetworkCreateRequest;
use libfuzzer_sys::fuzz_target;

struct Harness {
    runtime: tokio::runtime::Runtime,
    controller: Controller,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let nowhere = PathBuf::from("/nonexistent");
        let config = Config {
            data_root: nowhere.clone(),
            exec_root: nowhere.clone(),
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
            host_resolv_conf: nowhere.clone(),
            // No plugin is ever found: unknown driver names fail at once.
            plugins: cnm_core::plugins::PluginSettings {
                socket_dir: nowhere,
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
        let store = Arc::new(MemoryStore::default());
        Harness {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            controller: Controller::new(config, store, drivers, None),
        }
    })
}

/// Docker's 500s for a network create are class-compatible refusals too
/// (`reference/libnetwork-spec.md` §4: gateway allocation, pool request parsing).
const DOCKER_500S: [&str; 2] = [
    "failed to allocate gateway (",
    "failed to parse pool request",
];

fn assert_refusal(e: &cnm_core::Error) {
    let status = e.kind.http_status();
    let docker_500 = status == 500 && DOCKER_500S.iter().any(|p| e.message.starts_with(p));
    assert!(
        (400..500).contains(&status) || status == 503 || docker_500,
        "a refused create is a client error, not {status}: {}",
        e.message
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(req) = serde_json::from_slice::<NetworkCreateRequest>(data) else {
        return;
    };
    let spec = match NetworkSpec::from_request(req) {
        Ok(spec) => spec,
        Err(e) => return assert_refusal(&e),
    };
    let h = harness();
    h.runtime.block_on(async {
        let c = &h.controller;
        let network = match c.create_network(spec.clone()).await {
            Ok(network) => network,
            Err(e) => {
                assert_refusal(&e);
                assert!(
                    c.networks().await.is_empty(),
                    "a refused create leaves nothing"
                );
                return;
            }
        };
        for info in network.all_ipam() {
            assert_eq!(info.pool, info.pool.trunc(), "pools are canonical");
            if let Some(range) = info.ip_range {
                assert!(info.pool.contains(&range), "{range} inside {}", info.pool);
            }
            if let Some(gw) = info.gateway {
                assert!(info.pool.contains(&gw.addr()), "{gw} inside {}", info.pool);
            }
        }
        let view = c
            .network(&spec.name)
            .await
            .expect("a created network inspects");
        assert_eq!(view.network.id, network.id);
        c.delete_network(network.id.as_str())
            .await
            .expect("a new network removes");
        let again = c
            .create_network(spec.clone())
            .await
            .unwrap_or_else(|e| panic!("the same create after removal: {}", e.message));
        c.delete_network(again.id.as_str())
            .await
            .expect("removes again");
        assert!(c.networks().await.is_empty(), "nothing left behind");
    });
});
