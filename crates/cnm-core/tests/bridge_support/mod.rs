//! Helpers for the bridge firewall's root tests: network and endpoint records built by hand,
//! `nft` listings of cnm's table, and namespaces with addresses for real packets.
//!
//! Contract: everything here runs inside the private namespace `support::private_host()`
//! entered (the test's "host"); namespaces it creates are bind-mounted under the host's
//! scratch tmpfs and vanish with it.
#![allow(dead_code)]

pub mod probe;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cnm_core::driver::{BridgeDriver, SandboxLink};
use cnm_core::model::{Endpoint, IpamInfo, Network};
use cnm_core::osl::netlink::VethSpec;
use cnm_core::osl::{Netlink, netns};
use cnm_types::Id;
use ipnet::IpNet;

use crate::support::PrivateHost;

/// The test's own ("host") namespace, for probes: a probe thread opens it from inside itself,
/// and new threads start in their creator's namespace.
pub const HOST: &str = "/proc/thread-self/ns/net";

/// A bridge network record with `options`, one IPv4 subnet and optionally one IPv6 subnet
/// (gateways are the first addresses).
pub fn network(
    name: &str,
    options: &[(&str, &str)],
    v4: Option<&str>,
    v6: Option<&str>,
    internal: bool,
) -> Network {
    let info = |subnet: &str| {
        let pool: IpNet = subnet.parse().unwrap();
        // IPv4's hosts() skips the network address; IPv6's does not (::0 is the subnet-router
        // anycast address), and Docker's gateway is ::1.
        let gw = pool
            .hosts()
            .nth(if pool.addr().is_ipv6() { 1 } else { 0 })
            .unwrap();
        IpamInfo {
            pool_id: format!("pool-{subnet}"),
            pool,
            ip_range: None,
            gateway: Some(IpNet::new(gw, pool.prefix_len()).unwrap()),
            gateway_reserved: true,
            aux_addresses: BTreeMap::new(),
            aux_reserved: vec![],
            request: None,
        }
    };
    Network {
        id: Id::random(),
        name: name.to_string(),
        created: String::new(),
        driver: "bridge".into(),
        scope: "local".into(),
        ipam_driver: "default".into(),
        ipam_options: None,
        ipam_requests: vec![],
        ipam_v4: v4.map(info).into_iter().collect(),
        ipam_v6: v6.map(info).into_iter().collect(),
        enable_ipv4: v4.is_some(),
        enable_ipv6: v6.is_some(),
        internal,
        attachable: false,
        ingress: false,
        config_only: false,
        config_from: None,
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        labels: BTreeMap::new(),
        predefined: false,
        adopted_device: false,
    }
}

/// An endpoint record on `network` with the given addresses (with prefix).
pub fn endpoint(network: &Network, v4: Option<&str>, v6: Option<&str>) -> Endpoint {
    // From JSON, so fields the record gains later (with serde defaults) need no change here.
    serde_json::from_value(serde_json::json!({
        "id": Id::random(), "name": "ep", "network": network.id, "sandbox": Id::random(),
        "addr_v4": v4, "addr_v6": v6, "pool_v4": null, "pool_v6": null, "mac": null,
        "aliases": [], "links": [], "dns_names": [], "driver_opts": {}, "gw_priority": 0,
        "host_ifname": null, "ifname": "eth0", "gateway_v4": null, "gateway_v6": null,
        "static_v4": null, "static_v6": null,
    }))
    .expect("endpoint record")
}

pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

pub fn ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `nft list table inet cnm`, or `None` when there is no such table.
pub fn list_table() -> Option<String> {
    let out = run("nft", &["list", "table", "inet", "cnm"]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The listing with each `elements = { ... }` block's items sorted (hash sets list in an
/// order that varies between runs) and veth names replaced.
pub fn normalize(listing: &str) -> String {
    let mut out = String::new();
    let mut lines = listing.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(start) = line.find("elements = { ") else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let indent = &line[..start];
        let mut body = line[start + "elements = { ".len()..].to_string();
        while !body.trim_end().ends_with('}') {
            body.push(' ');
            body.push_str(lines.next().expect("unterminated elements block").trim());
        }
        let body = body.trim_end().trim_end_matches('}').trim();
        let mut items: Vec<String> = body
            .split(", ")
            .map(|s| s.trim().trim_end_matches(',').to_string())
            .collect();
        items.sort();
        out.push_str(&format!("{indent}elements = {{\n"));
        for item in items {
            out.push_str(&format!("{indent}\t{item}\n"));
        }
        out.push_str(&format!("{indent}}}\n"));
    }
    out
}

/// Creates a namespace file at `path` with `lo` up; returns a netlink handle inside it.
pub async fn new_netns(path: &Path) -> Netlink {
    netns::create(path).expect("create netns");
    let nl = Netlink::open_in(path).expect("netlink in netns");
    let lo = nl.link_by_name("lo").await.unwrap().expect("lo");
    nl.set_up(lo.index).await.unwrap();
    nl
}

/// Runs a command inside the namespace at `path`, returning its output.
pub fn in_netns(path: &Path, program: &str, args: &[&str]) -> Output {
    Command::new("nsenter")
        .arg(format!("--net={}", path.display()))
        .arg(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("nsenter {program}: {e}"))
}

/// A sandbox: a namespace with one endpoint attached by the driver and default routes.
pub struct Sandbox {
    pub path: PathBuf,
    pub endpoint: Endpoint,
    pub netlink: Netlink,
}

pub async fn sandbox(
    host: &PrivateHost,
    driver: &mut BridgeDriver,
    net: &Network,
    name: &str,
    v4: Option<&str>,
    v6: Option<&str>,
) -> Sandbox {
    let path = host.path(name);
    let netlink = new_netns(&path).await;
    let mut ep = endpoint(net, v4, v6);
    ep.name = name.to_string();
    let link = SandboxLink {
        netns: &path,
        netlink: &netlink,
        ifname: "eth0",
    };
    let info = driver
        .attach(net, &ep, &link)
        .await
        .unwrap_or_else(|e| panic!("attach {name}: {e}"));
    ep.host_ifname = info.host_ifname.clone();
    ep.gateway_v4 = info.gateway_v4;
    ep.gateway_v6 = info.gateway_v6;
    let eth0 = netlink
        .link_by_name("eth0")
        .await
        .unwrap()
        .expect("eth0")
        .index;
    for gw in [info.gateway_v4, info.gateway_v6].into_iter().flatten() {
        netlink.add_default_route(gw, eth0).await.unwrap();
    }
    Sandbox {
        path,
        endpoint: ep,
        netlink,
    }
}

/// The "outside": a namespace routed to the host over a veth pair. Host side `out0` has
/// 10.99.0.1/24 and fd99::1/64; the outside's `eth0` has .2 and ::2 and default routes via
/// the host.
pub async fn outside(host: &PrivateHost) -> PathBuf {
    let path = host.path("outside");
    let inside = new_netns(&path).await;
    let here = Netlink::current().unwrap();
    let ns = netns::open(&path).unwrap();
    let spec = VethSpec {
        host_name: "out0",
        peer_name: "eth0",
        peer_netns: ns.as_fd(),
        peer_mac: None,
        mtu: None,
        master: None,
    };
    let (h, p) = here.add_veth_pair(&spec).await.unwrap();
    // An uplink that has been up for a while: no duplicate address detection on its
    // link-local addresses (while tentative, the kernel sends no neighbor solicitations).
    cnm_core::osl::sysctl::set("net.ipv6.conf.out0.accept_dad", "0").unwrap();
    cnm_core::osl::sysctl::set_in(&path, "net.ipv6.conf.eth0.accept_dad", "0").unwrap();
    for a in ["10.99.0.1/24", "fd99::1/64"] {
        here.add_address(h, a.parse().unwrap()).await.unwrap();
    }
    here.set_up(h).await.unwrap();
    for a in ["10.99.0.2/24", "fd99::2/64"] {
        inside.add_address(p, a.parse().unwrap()).await.unwrap();
    }
    inside.set_up(p).await.unwrap();
    inside.add_default_route(ip("10.99.0.1"), p).await.unwrap();
    inside.add_default_route(ip("fd99::1"), p).await.unwrap();
    here.sync_link(h).await.unwrap();
    path
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
