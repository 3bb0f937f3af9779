//! Port ranges with real sockets: a block of several host ports is recorded by cnm and checked
//! against the host's listening and bound sockets with one sock_diag dump, not held with a
//! socket per port (`portmap::allocator`'s contract). Runs in a private "host" namespace with an
//! "outside" namespace routed to it, as `bridge_firewall.rs` does; the test's own sockets are
//! the "host processes". Run as root: `cargo nextest run -p cnm-core --test ports_range`.

mod bridge_support;
mod support;

use std::net::{TcpListener, UdpSocket};

use bridge_support::probe::{Echo, tcp_ok, udp_ok};
use bridge_support::{HOST, list_table, network, normalize, ok, outside, sandbox};
use cnm_core::driver::BridgeDriver;
use cnm_core::driver::bridge::BridgeSettings;
use cnm_core::error::ErrorKind;
use cnm_core::model::{Network, labels as l};
use cnm_core::osl::Netlink;
use cnm_core::portmap::diag;
use cnm_core::portmap::{PortRange, Proto};
use cnm_types::sandbox::PortBinding;
use std::path::Path;

fn pb(proto: &str, host: (u16, u16), container: (u16, u16)) -> PortBinding {
    PortBinding {
        proto: proto.into(),
        container_port: container.0,
        container_port_end: container.1,
        host_ip: String::new(),
        host_port: host.0,
        host_port_end: host.1,
    }
}

fn refused(message: &str, port: u16) -> String {
    assert_eq!(
        message,
        format!("Bind for 0.0.0.0:{port} failed: port is already allocated")
    );
    message.to_string()
}

async fn publish(
    d: &mut BridgeDriver,
    net: &Network,
    ep: &cnm_core::model::Endpoint,
    bindings: &[PortBinding],
) -> cnm_core::error::Result<usize> {
    let specs = BridgeDriver::parse_port_bindings(bindings)?;
    d.program_ports(net, ep, &specs).await.map(|b| b.len())
}

#[test]
fn sock_diag_sees_listeners_and_unconnected_udp_sockets_in_the_range_only() {
    let Some(h) = support::private_host() else {
        return;
    };
    h.block_on(async {
        ok("ip", &["link", "set", "lo", "up"]);
        let range = PortRange::new(20000, 20999);
        let _tcp = TcpListener::bind("127.0.0.1:20005").unwrap();
        let _outside_range = TcpListener::bind("127.0.0.1:21000").unwrap();
        let _udp = UdpSocket::bind("0.0.0.0:20010").unwrap();
        let connected = UdpSocket::bind("127.0.0.1:20011").unwrap();
        connected.connect("127.0.0.1:20010").unwrap();
        let _dual = TcpListener::bind("[::]:20012").unwrap();
        let tcp4 = diag::receivers(Proto::Tcp, false, range).unwrap();
        let ports: Vec<u16> = tcp4.iter().map(|r| r.port).collect();
        assert_eq!(ports, vec![20005]);
        let tcp6 = diag::receivers(Proto::Tcp, true, range).unwrap();
        assert_eq!(tcp6.len(), 1);
        assert_eq!((tcp6[0].port, tcp6[0].v6only), (20012, false));
        let udp4 = diag::receivers(Proto::Udp, false, range).unwrap();
        let ports: Vec<u16> = udp4.iter().map(|r| r.port).collect();
        assert_eq!(
            ports,
            vec![20010],
            "connected UDP sockets are not receivers"
        );
    });
}

#[test]
fn ranges_publish_without_sockets_are_refused_over_host_sockets_and_are_freed() {
    let Some(h) = support::private_host() else {
        return;
    };
    h.block_on(async {
        ok("ip", &["link", "set", "lo", "up"]);
        let mut d = BridgeDriver::new(
            BridgeSettings { ip_forward: true },
            Netlink::current().expect("netlink"),
        );
        let out = outside(&h).await;
        let net = network(
            "r",
            &[(l::BRIDGE_NAME, "br-r")],
            Some("172.21.0.0/24"),
            None,
            false,
        );
        d.validate(&net, &[]).unwrap();
        d.create_network(&net, &[]).await.unwrap();
        let web = sandbox(&h, &mut d, &net, "web", Some("172.21.0.2/24"), None).await;
        let other = sandbox(&h, &mut d, &net, "other", Some("172.21.0.3/24"), None).await;
        let tcp_echo = Echo::tcp(&web.path, "0.0.0.0:20500");
        let udp_echo = Echo::udp(&web.path, "0.0.0.0:20501");
        let both = [
            pb("tcp", (20000, 20999), (20000, 20999)),
            pb("udp", (20000, 20999), (20000, 20999)),
        ];

        // Published: traffic inside the range reaches the container from outside and from the
        // host, and the host ports are not held (a host process could still bind one).
        assert_eq!(
            publish(&mut d, &net, &web.endpoint, &both).await.unwrap(),
            2
        );
        tcp_ok(&out, "10.99.0.1:20500").expect("outside -> a port inside the range");
        udp_ok(&out, "10.99.0.1:20501").expect("outside -> udp inside the range");
        tcp_ok(Path::new(HOST), "127.0.0.1:20500").expect("host -> 127.0.0.1 in the range");
        drop(TcpListener::bind("127.0.0.1:20700").expect("not held by a socket"));
        // Another binding overlapping it is refused by cnm's own records.
        let e = publish(
            &mut d,
            &net,
            &other.endpoint,
            &[pb("tcp", (20990, 21009), (1, 20))],
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Conflict);
        refused(&e.message, 20990);
        // Unpublished: the range is free for someone else.
        d.revoke_ports(&net, &web.endpoint).await.unwrap();
        assert!(tcp_ok(&out, "10.99.0.1:20500").is_err(), "revoked");
        assert_eq!(
            publish(&mut d, &net, &other.endpoint, &both).await.unwrap(),
            2
        );
        d.revoke_ports(&net, &other.endpoint).await.unwrap();

        // Host sockets inside the range: refused with Docker's message, nothing left behind.
        let table = || list_table().map(|t| normalize(&t));
        let before = table();
        let listener = TcpListener::bind("0.0.0.0:20005").unwrap();
        let e = publish(&mut d, &net, &web.endpoint, &both)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Conflict);
        refused(&e.message, 20005);
        let udp = UdpSocket::bind("127.0.0.1:20010").unwrap();
        let e = publish(
            &mut d,
            &net,
            &web.endpoint,
            &[
                pb("tcp", (30000, 30009), (30000, 30009)),
                pb("udp", (20000, 20999), (20000, 20999)),
            ],
        )
        .await
        .unwrap_err();
        refused(&e.message, 20010);
        drop(listener);
        let dual = TcpListener::bind("[::]:20100").unwrap();
        let e = publish(&mut d, &net, &web.endpoint, &both[..1])
            .await
            .unwrap_err();
        refused(&e.message, 20100);
        assert_eq!(table(), before, "refused requests change no rule");
        // The refused TCP block (30000-30009) was not kept either.
        assert_eq!(
            publish(
                &mut d,
                &net,
                &other.endpoint,
                &[pb("tcp", (30000, 30009), (1, 10))]
            )
            .await
            .unwrap(),
            1
        );

        // Once the host's sockets are gone, the same request goes through.
        drop((udp, dual));
        assert_eq!(
            publish(&mut d, &net, &web.endpoint, &both).await.unwrap(),
            2
        );
        tcp_ok(&out, "10.99.0.1:20500").expect("published after the host sockets closed");
        d.revoke_ports(&net, &web.endpoint).await.unwrap();
        d.revoke_ports(&net, &other.endpoint).await.unwrap();
        drop((tcp_echo, udp_echo));
    });
}

/// A container port range without host ports takes a free block of the ephemeral range, and a
/// host socket inside a candidate block makes the allocator move past it (checked with the
/// same sock_diag dump, since the block is not bound with sockets).
#[test]
fn a_block_of_any_ports_skips_host_sockets_in_the_ephemeral_range() {
    let Some(h) = support::private_host() else {
        return;
    };
    h.block_on(async {
        ok("ip", &["link", "set", "lo", "up"]);
        // This namespace's own ephemeral range, small so the test can fill it.
        std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "40000 40009").unwrap();
        let mut d = BridgeDriver::new(
            BridgeSettings { ip_forward: true },
            Netlink::current().expect("netlink"),
        );
        let net = network(
            "e",
            &[(l::BRIDGE_NAME, "br-e")],
            Some("172.22.0.0/24"),
            None,
            false,
        );
        d.validate(&net, &[]).unwrap();
        d.create_network(&net, &[]).await.unwrap();
        let a = sandbox(&h, &mut d, &net, "a", Some("172.22.0.2/24"), None).await;
        let b = sandbox(&h, &mut d, &net, "b", Some("172.22.0.3/24"), None).await;
        let c = sandbox(&h, &mut d, &net, "c", Some("172.22.0.4/24"), None).await;
        let _host_listener = TcpListener::bind("0.0.0.0:40001").unwrap();
        let any_block = [pb("tcp", (0, 0), (80, 82))];
        let hosts = |bindings: &[PortBinding]| -> Vec<(u16, u16)> {
            let mut v: Vec<_> = bindings
                .iter()
                .map(|b| (b.host_port, b.host_port_end))
                .collect();
            v.dedup();
            v
        };
        let specs = BridgeDriver::parse_port_bindings(&any_block).unwrap();
        let first = d.program_ports(&net, &a.endpoint, &specs).await.unwrap();
        assert_eq!(
            hosts(&first),
            vec![(40002, 40004)],
            "skips the block holding 40001"
        );
        let second = d.program_ports(&net, &b.endpoint, &specs).await.unwrap();
        assert_eq!(hosts(&second), vec![(40005, 40007)]);
        let e = d
            .program_ports(&net, &c.endpoint, &specs)
            .await
            .expect_err("no free block of three is left");
        assert_eq!(e.kind, ErrorKind::Conflict, "{}", e.message);
        // Freed blocks are handed out again.
        d.revoke_ports(&net, &a.endpoint).await.unwrap();
        let third = d.program_ports(&net, &c.endpoint, &specs).await.unwrap();
        assert_eq!(hosts(&third), vec![(40002, 40004)]);
        d.revoke_ports(&net, &b.endpoint).await.unwrap();
        d.revoke_ports(&net, &c.endpoint).await.unwrap();
    });
}
