//! Fuzz target for Engine API request bodies and the daemon-side validation they meet first.
//!
//! Input: the first byte picks the body type, the rest is the body as a client sends it.
//! - `POST /networks/create`: `NetworkCreateRequest` (serde) → `NetworkSpec::from_request` →
//!   `BridgeConfig::from_options`. Checked: a body that decodes re-encodes and decodes to the
//!   same value; a rejection is a 4xx; an accepted spec has a valid name, canonical subnets,
//!   and ranges, gateways and auxiliary addresses inside their subnet.
//! - `POST /sandboxes/create`: `SandboxCreateRequest` → the bridge driver's
//!   `parse_port_bindings`, then Docker's `Ports` shape of accepted bindings
//!   (`portmap::docker_ports`, `PortBinding::mappings`). Checked: rejections are 4xx;
//!   accepted ranges are ordered and of matching lengths. (`check_sandbox_name` is public in
//!   a private module, so out of reach.)
//! - `POST /networks/{id}/connect` and `/disconnect` bodies decode or fail, never panic.

#![no_main]

use cnm_core::controller::spec::{MAX_NAME_LEN, NetworkSpec};
use cnm_core::driver::BridgeDriver;
use cnm_core::driver::bridge::BridgeConfig;
use cnm_types::engine::{NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest};
use cnm_types::sandbox::SandboxCreateRequest;
use libfuzzer_sys::fuzz_target;

const NETWORK_ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn assert_client_error(e: &cnm_core::Error, what: &str) {
    let status = e.kind.http_status();
    assert!(
        (400..500).contains(&status),
        "{what}: {status} {}",
        e.message
    );
}

fn network_create(body: &[u8]) {
    let Ok(req) = serde_json::from_slice::<NetworkCreateRequest>(body) else {
        return;
    };
    let again: NetworkCreateRequest =
        serde_json::from_slice(&serde_json::to_vec(&req).expect("encodes")).expect("re-decodes");
    assert_eq!(again, req, "a decoded body survives a round trip");
    let spec = match NetworkSpec::from_request(req) {
        Ok(spec) => spec,
        Err(e) => return assert_client_error(&e, "network create"),
    };
    assert!(!spec.name.trim().is_empty() && spec.name.len() <= MAX_NAME_LEN);
    for r in &spec.ipam_requests {
        if let Some(subnet) = r.subnet {
            assert_eq!(subnet, subnet.trunc(), "accepted subnets are canonical");
            if let Some(range) = r.ip_range {
                assert!(subnet.contains(&range), "{range} inside {subnet}");
            }
            if let Some(gw) = r.gateway {
                assert!(subnet.contains(&gw), "{gw} inside {subnet}");
            }
            for aux in r.aux_addresses.values() {
                assert!(subnet.contains(aux), "{aux} inside {subnet}");
            }
        }
    }
    if spec.driver == "bridge"
        && let Err(e) = BridgeConfig::from_options(&spec.options, NETWORK_ID)
    {
        assert_client_error(&e, "bridge options");
    }
}

fn sandbox_create(body: &[u8]) {
    let Ok(req) = serde_json::from_slice::<SandboxCreateRequest>(body) else {
        return;
    };
    let specs = match BridgeDriver::parse_port_bindings(&req.port_bindings) {
        Ok(specs) => specs,
        Err(e) => return assert_client_error(&e, "port bindings"),
    };
    for spec in &specs {
        assert!(spec.container.start >= 1 && spec.container.start <= spec.container.end);
        assert!(spec.host.start <= spec.host.end);
        assert!(
            spec.host.is_any()
                || spec.container.len() == 1
                || spec.host.len() == spec.container.len(),
            "{spec:?}"
        );
    }
    let shown = cnm_core::portmap::docker_ports(&req.port_bindings);
    for binding in &req.port_bindings {
        for (key, _) in binding.mappings() {
            assert!(
                shown.contains_key(&key) || binding.proto.is_empty(),
                "{key}"
            );
        }
    }
}

fn connect_bodies(body: &[u8]) {
    if let Ok(req) = serde_json::from_slice::<NetworkConnectRequest>(body) {
        let _ = serde_json::to_vec(&req).expect("encodes");
    }
    let _ = serde_json::from_slice::<NetworkDisconnectRequest>(body);
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match selector % 3 {
        0 => network_create(body),
        1 => sandbox_create(body),
        _ => connect_bodies(body),
    }
});
