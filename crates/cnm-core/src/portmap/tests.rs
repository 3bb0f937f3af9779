//! Unit tests of request parsing, the allocator's bookkeeping and Docker's view (no sockets,
//! no kernel: addresses used here are unspecified or documentation addresses).

use super::*;
use crate::error::ErrorKind;

fn binding(proto: &str, host_ip: &str, host: (u16, u16), container: (u16, u16)) -> PortBinding {
    PortBinding {
        proto: proto.into(),
        container_port: container.0,
        container_port_end: container.1,
        host_ip: host_ip.into(),
        host_port: host.0,
        host_port_end: host.1,
    }
}

fn err(bindings: &[PortBinding]) -> String {
    let e = parse_port_bindings(bindings).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameter, "{e}");
    e.message
}

#[test]
fn parses_single_ports_ranges_and_any() {
    let specs = parse_port_bindings(&[
        binding("", "", (8080, 0), (80, 0)),
        binding("udp", "0.0.0.0", (9000, 9100), (9000, 9100)),
        binding("sctp", "[::]", (0, 0), (5000, 0)),
        binding("tcp", "", (7000, 7010), (22, 0)),
    ])
    .unwrap();
    assert_eq!(
        specs[0],
        PortSpec {
            proto: Proto::Tcp,
            container: PortRange::new(80, 80),
            host_ip: None,
            host: PortRange::new(8080, 8080)
        }
    );
    assert_eq!(specs[1].host_ip, Some("0.0.0.0".parse().unwrap()));
    assert_eq!(specs[1].block_len(), 101);
    assert_eq!(specs[2].host_ip, Some("::".parse().unwrap()));
    assert!(specs[2].host.is_any());
    assert_eq!(specs[3].host, PortRange::new(7000, 7010));
    assert_eq!(specs[3].block_len(), 1);
}

#[test]
fn refuses_bad_requests_before_anything_changes() {
    assert_eq!(
        err(&[binding("icmp", "", (1, 0), (1, 0))]),
        "invalid proto: icmp"
    );
    assert_eq!(
        err(&[binding("tcp", "", (80, 0), (0, 0))]),
        "invalid containerPort: 0"
    );
    assert_eq!(
        err(&[binding("tcp", "", (80, 0), (90, 85))]),
        "invalid containerPort: 90-85"
    );
    assert_eq!(
        err(&[binding("tcp", "", (90, 85), (80, 0))]),
        "invalid hostPort: 90-85"
    );
    assert_eq!(
        err(&[binding("tcp", "", (8000, 8005), (80, 90))]),
        "Invalid ranges specified for container and host Ports: 80-90 and 8000-8005"
    );
    assert_eq!(
        err(&[binding("tcp", "not-an-ip", (80, 0), (80, 0))]),
        "invalid IP address: not-an-ip"
    );
    assert!(
        err(&[binding("tcp", "203.0.113.7", (80, 0), (80, 0))])
            .contains("not an address of this host")
    );
}

#[test]
fn conflicting_bindings_within_a_request_are_refused_and_duplicates_collapse() {
    assert_eq!(
        err(&[
            binding("tcp", "", (8080, 0), (80, 0)),
            binding("tcp", "0.0.0.0", (8080, 0), (81, 0))
        ]),
        "Bind for 0.0.0.0:8080 failed: port is already allocated"
    );
    assert_eq!(
        err(&[
            binding("tcp", "", (8000, 8010), (8000, 8010)),
            binding("tcp", "", (8005, 0), (22, 0))
        ]),
        "Bind for 0.0.0.0:8005 failed: port is already allocated"
    );
    // Other protocol, other family: no clash.
    let ok = parse_port_bindings(&[
        binding("tcp", "0.0.0.0", (8080, 0), (80, 0)),
        binding("udp", "0.0.0.0", (8080, 0), (80, 0)),
        binding("tcp", "::", (8080, 0), (80, 0)),
        binding("tcp", "0.0.0.0", (8080, 0), (80, 0)),
    ])
    .unwrap();
    assert_eq!(ok.len(), 3);
}

#[test]
fn allocator_refuses_a_second_binding_and_wildcards_cover_addresses() {
    let mut a = PortAllocator::without_sockets((40000, 40009));
    let any4: IpAddr = "0.0.0.0".parse().unwrap();
    let any6: IpAddr = "::".parse().unwrap();
    let local: IpAddr = "127.0.0.1".parse().unwrap();
    assert_eq!(
        a.allocate(
            "e1",
            Proto::Tcp,
            &[any4, any6],
            PortRange::new(8080, 8080),
            1
        )
        .unwrap(),
        PortRange::new(8080, 8080)
    );
    let e = a
        .allocate("e2", Proto::Tcp, &[any4], PortRange::new(8080, 8080), 1)
        .unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            ErrorKind::Conflict,
            "Bind for 0.0.0.0:8080 failed: port is already allocated"
        )
    );
    let e = a
        .allocate("e2", Proto::Tcp, &[local], PortRange::new(8080, 8080), 1)
        .unwrap_err();
    assert_eq!(
        e.message,
        "Bind for 127.0.0.1:8080 failed: port is already allocated"
    );
    let e = a
        .allocate("e2", Proto::Tcp, &[any6], PortRange::new(8080, 8080), 1)
        .unwrap_err();
    assert_eq!(
        e.message,
        "Bind for [::]:8080 failed: port is already allocated"
    );
    assert!(
        a.allocate("e2", Proto::Udp, &[any4], PortRange::new(8080, 8080), 1)
            .is_ok()
    );
    a.release("e1");
    assert!(
        a.allocate("e3", Proto::Tcp, &[local], PortRange::new(8080, 8080), 1)
            .is_ok()
    );
}

#[test]
fn allocator_picks_free_ports_round_robin_and_reports_exhaustion() {
    let mut a = PortAllocator::without_sockets((40000, 40004));
    let any: IpAddr = "0.0.0.0".parse().unwrap();
    let first = a
        .allocate("e", Proto::Tcp, &[any], PortRange::new(0, 0), 1)
        .unwrap();
    let second = a
        .allocate("e", Proto::Tcp, &[any], PortRange::new(0, 0), 1)
        .unwrap();
    assert_eq!((first.start, second.start), (40000, 40001));
    let block = a
        .allocate("e", Proto::Tcp, &[any], PortRange::new(0, 0), 3)
        .unwrap();
    assert_eq!(block, PortRange::new(40002, 40004));
    let e = a
        .allocate("e", Proto::Tcp, &[any], PortRange::new(0, 0), 1)
        .unwrap_err();
    assert_eq!(e.message, "all ports are allocated");
    a.release("e");
    assert_eq!(a.held(), 0);
    // One container port, a host range: the first free port of the range.
    a.allocate("x", Proto::Tcp, &[any], PortRange::new(7000, 7000), 1)
        .unwrap();
    assert_eq!(
        a.allocate("y", Proto::Tcp, &[any], PortRange::new(7000, 7002), 1)
            .unwrap(),
        PortRange::new(7001, 7001)
    );
    let e = a
        .allocate("z", Proto::Tcp, &[any], PortRange::new(7000, 7001), 1)
        .unwrap_err();
    assert_eq!(
        e.message,
        "Bind for 0.0.0.0:7000-7001 failed: port is already allocated"
    );
}

#[test]
fn docker_view_has_one_key_per_container_port() {
    let view = docker_ports(&[
        binding("tcp", "0.0.0.0", (8080, 8080), (80, 80)),
        binding("tcp", "::", (8080, 8080), (80, 80)),
        binding("udp", "0.0.0.0", (9000, 9001), (9000, 9001)),
    ]);
    let json = serde_json::to_string(&view).unwrap();
    assert_eq!(
        json,
        r#"{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"::","HostPort":"8080"}],"9000/udp":[{"HostIp":"0.0.0.0","HostPort":"9000"}],"9001/udp":[{"HostIp":"0.0.0.0","HostPort":"9001"}]}"#
    );
}
