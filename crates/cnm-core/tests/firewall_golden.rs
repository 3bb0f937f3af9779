//! Golden rulesets: `nft list table inet cnm` after the bridge driver created networks and
//! published ports, in a fresh namespace, compared with insta snapshots.
//!
//! Each test runs in its own private network namespace (`support::private_host`), so the
//! machine's nftables are never touched. Element blocks are sorted before comparison (hash
//! sets list their elements in a per-run order). Cases:
//! - `skeleton`: no network; the fixed chains and empty sets;
//! - `policy_v4`: every combination of icc × internal × masquerade × gateway mode (isolated
//!   only where internal), plus host_ipv4 (SNAT) and trusted host interfaces;
//! - `policy_v6`: dual-stack and IPv6-only networks with IPv6 gateway modes (NAT66 masquerade);
//! - `published_ports`: TCP/UDP/SCTP, host addresses, identity and shifted ranges, port 0,
//!   `host_binding_ipv4`, routed mode and an internal network (nothing published).
//!
//! Run: `cargo nextest run -p cnm-core --test firewall_golden` as root.

mod bridge_support;
mod support;

use bridge_support::{endpoint, list_table, network, normalize, ok};
use cnm_core::driver::BridgeDriver;
use cnm_core::driver::bridge::BridgeSettings;
use cnm_core::model::{Network, labels as l};
use cnm_core::osl::Netlink;
use cnm_types::sandbox::PortBinding;

fn driver() -> BridgeDriver {
    ok("ip", &["link", "set", "lo", "up"]);
    BridgeDriver::new(
        BridgeSettings { ip_forward: true },
        Netlink::current().expect("netlink"),
    )
}

async fn create(driver: &mut BridgeDriver, made: &mut Vec<Network>, net: Network) {
    let others: Vec<&Network> = made.iter().collect();
    driver
        .validate(&net, &others)
        .unwrap_or_else(|e| panic!("validate {}: {e}", net.name));
    driver
        .create_network(&net, &others)
        .await
        .unwrap_or_else(|e| panic!("create {}: {e}", net.name));
    made.push(net);
}

fn snapshot(name: &str) {
    let listing = list_table().expect("table inet cnm exists");
    insta::assert_snapshot!(name, normalize(&listing));
}

#[test]
fn skeleton() {
    let Some(host) = support::private_host() else {
        return;
    };
    host.block_on(async {
        let d = driver();
        d.finish_restore().await.unwrap();
    });
    snapshot("skeleton");
}

#[test]
fn policy_v4() {
    let Some(host) = support::private_host() else {
        return;
    };
    host.block_on(async {
        let mut d = driver();
        let mut made = Vec::new();
        let modes = [
            ("nat", "nat"),
            ("nat-unprotected", "unprot"),
            ("routed", "routed"),
            ("isolated", "iso"),
        ];
        let mut i = 0;
        for icc in [true, false] {
            for internal in [false, true] {
                for masq in [true, false] {
                    for (mode, short) in modes {
                        if mode == "isolated" && !internal {
                            continue;
                        }
                        i += 1;
                        let name =
                            format!("c{}i{}m{}{short}", icc as u8, internal as u8, masq as u8);
                        let opts = [
                            (l::BRIDGE_NAME, name.as_str()),
                            (l::BRIDGE_ENABLE_ICC, if icc { "true" } else { "false" }),
                            (
                                l::BRIDGE_ENABLE_IP_MASQUERADE,
                                if masq { "true" } else { "false" },
                            ),
                            (l::BRIDGE_GATEWAY_MODE_IPV4, mode),
                        ];
                        let subnet = format!("10.{i}.0.0/24");
                        create(
                            &mut d,
                            &mut made,
                            network(&name, &opts, Some(&subnet), None, internal),
                        )
                        .await;
                    }
                }
            }
        }
        let snat = network(
            "snat",
            &[(l::BRIDGE_NAME, "snat"), (l::HOST_IPV4, "192.0.2.1")],
            Some("10.100.0.0/24"),
            None,
            false,
        );
        create(&mut d, &mut made, snat).await;
        let trusted = [
            (l::BRIDGE_NAME, "trusted"),
            (l::BRIDGE_TRUSTED_HOST_INTERFACES, "eth7:wg0"),
        ];
        create(
            &mut d,
            &mut made,
            network("trusted", &trusted, Some("10.101.0.0/24"), None, false),
        )
        .await;
    });
    snapshot("policy_v4");
}

#[test]
fn policy_v6() {
    let Some(host) = support::private_host() else {
        return;
    };
    host.block_on(async {
        let mut d = driver();
        let mut made = Vec::new();
        // (bridge name, extra options, IPv4 too, internal)
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool, bool);
        let cases: [Case; 6] = [
            ("dual-nat", &[], true, false),
            (
                "dual-v6routed",
                &[(l::BRIDGE_GATEWAY_MODE_IPV6, "routed")],
                true,
                false,
            ),
            (
                "dual-v6unprot",
                &[(l::BRIDGE_GATEWAY_MODE_IPV6, "nat-unprotected")],
                true,
                false,
            ),
            (
                "dual-noicc",
                &[
                    (l::BRIDGE_ENABLE_ICC, "false"),
                    (l::HOST_IPV6, "2001:db8::1"),
                ],
                true,
                false,
            ),
            (
                "v6-internal",
                &[(l::BRIDGE_GATEWAY_MODE_IPV6, "isolated")],
                false,
                true,
            ),
            ("v6-only", &[], false, false),
        ];
        for (i, (name, extra, v4, internal)) in cases.into_iter().enumerate() {
            let mut opts = vec![(l::BRIDGE_NAME, name)];
            opts.extend_from_slice(extra);
            let v4net = format!("10.{}.0.0/24", 200 + i);
            let v6net = format!("fd00:{i}::/64");
            create(
                &mut d,
                &mut made,
                network(
                    name,
                    &opts,
                    v4.then_some(v4net.as_str()),
                    Some(&v6net),
                    internal,
                ),
            )
            .await;
        }
    });
    snapshot("policy_v6");
}

fn pb(proto: &str, host_ip: &str, host: (u16, u16), container: (u16, u16)) -> PortBinding {
    PortBinding {
        proto: proto.into(),
        container_port: container.0,
        container_port_end: container.1,
        host_ip: host_ip.into(),
        host_port: host.0,
        host_port_end: host.1,
    }
}

#[test]
fn published_ports() {
    let Some(host) = support::private_host() else {
        return;
    };
    let actual = host.block_on(async {
        let mut d = driver();
        let mut made = Vec::new();
        let nets = [
            network(
                "pub",
                &[(l::BRIDGE_NAME, "pub")],
                Some("172.30.0.0/24"),
                Some("fd30::/64"),
                false,
            ),
            network(
                "hb",
                &[
                    (l::BRIDGE_NAME, "hb"),
                    (l::BRIDGE_HOST_BINDING_IPV4, "127.0.0.1"),
                ],
                Some("172.31.0.0/24"),
                None,
                false,
            ),
            network(
                "rt",
                &[
                    (l::BRIDGE_NAME, "rt"),
                    (l::BRIDGE_GATEWAY_MODE_IPV4, "routed"),
                ],
                Some("172.32.0.0/24"),
                None,
                false,
            ),
            network(
                "int",
                &[(l::BRIDGE_NAME, "int")],
                Some("172.33.0.0/24"),
                None,
                true,
            ),
        ];
        for n in nets {
            create(&mut d, &mut made, n).await;
        }
        // (network, endpoint IPv4, endpoint IPv6, requested bindings)
        type Request<'a> = (usize, Option<&'a str>, Option<&'a str>, Vec<PortBinding>);
        let requests: [Request; 4] = [
            (
                0,
                Some("172.30.0.2/24"),
                Some("fd30::2/64"),
                vec![
                    pb("tcp", "", (8080, 0), (80, 0)),
                    pb("tcp", "127.0.0.1", (8081, 0), (81, 0)),
                    pb("udp", "", (9000, 9100), (9000, 9100)),
                    pb("tcp", "0.0.0.0", (7000, 7002), (80, 82)),
                    pb("sctp", "", (5000, 0), (5000, 0)),
                    pb("tcp", "", (0, 0), (443, 0)),
                ],
            ),
            (
                1,
                Some("172.31.0.2/24"),
                None,
                vec![pb("tcp", "", (8082, 0), (80, 0))],
            ),
            (
                2,
                Some("172.32.0.2/24"),
                None,
                vec![
                    pb("tcp", "", (8083, 0), (80, 0)),
                    pb("udp", "127.0.0.1", (53, 0), (53, 0)),
                ],
            ),
            (
                3,
                Some("172.33.0.2/24"),
                None,
                vec![pb("tcp", "", (8084, 0), (80, 0))],
            ),
        ];
        let mut actual = Vec::new();
        for (net, v4, v6, bindings) in requests {
            let specs = BridgeDriver::parse_port_bindings(&bindings).expect("valid bindings");
            let ep = endpoint(&made[net], v4, v6);
            let got = d
                .program_ports(&made[net], &ep, &specs)
                .await
                .expect("program ports");
            actual.push((made[net].name.clone(), got));
        }
        actual
    });
    snapshot("published_ports");
    let shown: Vec<String> = actual
        .iter()
        .flat_map(|(net, bs)| {
            bs.iter().map(move |b| {
                format!(
                    "{net}: {}:{}-{} -> {}-{}/{}",
                    b.host_ip,
                    b.host_port,
                    b.host_port_end,
                    b.container_port,
                    b.container_port_end,
                    b.proto
                )
            })
        })
        .collect();
    insta::assert_snapshot!("published_ports_bindings", shown.join("\n"));
}
