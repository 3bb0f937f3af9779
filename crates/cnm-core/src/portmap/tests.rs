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

#[test]
fn allocator_records_blocks_and_checks_them_against_single_ports_and_other_blocks() {
    let mut a = PortAllocator::without_sockets((40000, 40999));
    let any4: IpAddr = "0.0.0.0".parse().unwrap();
    let any6: IpAddr = "::".parse().unwrap();
    let local: IpAddr = "127.0.0.1".parse().unwrap();
    let range = PortRange::new(20000, 20999);
    assert_eq!(
        a.allocate("r", Proto::Tcp, &[any4, any6], range, 1000)
            .unwrap(),
        range
    );
    assert_eq!(a.held(), 2000, "one record per address, counted per port");
    // A single port inside the block, a block overlapping it: the first clashing port.
    let e = a
        .allocate("s", Proto::Tcp, &[local], PortRange::new(20005, 20005), 1)
        .unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            ErrorKind::Conflict,
            "Bind for 127.0.0.1:20005 failed: port is already allocated"
        )
    );
    let e = a
        .allocate("s", Proto::Tcp, &[any6], PortRange::new(20990, 21009), 20)
        .unwrap_err();
    assert_eq!(
        e.message,
        "Bind for [::]:20990 failed: port is already allocated"
    );
    // A single port first, then a block over it.
    a.allocate("s", Proto::Tcp, &[any4], PortRange::new(21005, 21005), 1)
        .unwrap();
    let e = a
        .allocate("t", Proto::Tcp, &[any4], PortRange::new(21000, 21009), 10)
        .unwrap_err();
    assert_eq!(
        e.message,
        "Bind for 0.0.0.0:21005 failed: port is already allocated"
    );
    // Other protocol, or right next to the block: free.
    a.allocate("t", Proto::Udp, &[any4], range, 1000).unwrap();
    a.allocate("t", Proto::Tcp, &[any4], PortRange::new(21006, 21009), 4)
        .unwrap();
    // Any free block: skips blocks in the way.
    a.allocate("u", Proto::Tcp, &[any4], PortRange::new(40100, 40199), 100)
        .unwrap();
    assert_eq!(
        a.allocate("u", Proto::Tcp, &[any4], PortRange::new(0, 0), 150)
            .unwrap(),
        PortRange::new(40200, 40349)
    );
    a.release("r");
    assert_eq!(
        a.allocate(
            "v",
            Proto::Tcp,
            &[local],
            PortRange::new(20000, 20999),
            1000
        )
        .unwrap(),
        range,
        "released blocks are free again"
    );
    for owner in ["s", "t", "u", "v"] {
        a.release(owner);
    }
    assert_eq!(a.held(), 0);
}

#[test]
fn restore_takes_back_single_ports_and_blocks_even_when_they_clash() {
    let mut a = PortAllocator::without_sockets((40000, 40999));
    let any4: IpAddr = "0.0.0.0".parse().unwrap();
    a.restore(
        "e1",
        &Allocation {
            proto: Proto::Udp,
            host_ip: any4,
            ports: PortRange::new(9000, 9099),
        },
    );
    a.restore(
        "e2",
        &Allocation {
            proto: Proto::Udp,
            host_ip: any4,
            ports: PortRange::new(9050, 9050),
        },
    );
    assert_eq!(a.held(), 101);
    let e = a
        .allocate("e3", Proto::Udp, &[any4], PortRange::new(9099, 9099), 1)
        .unwrap_err();
    assert_eq!(
        e.message,
        "Bind for 0.0.0.0:9099 failed: port is already allocated"
    );
    a.release("e1");
    assert_eq!(a.held(), 1);
}

mod diag_messages {
    use super::super::diag::{Receiver, conflict, parse, request};
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn request_is_a_tcp_listen_dump_with_a_port_range_program() {
        let m = request(Proto::Tcp, false, PortRange::new(20000, 20999), 7);
        assert_eq!(m.len(), 92);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 92);
        assert_eq!(u16::from_ne_bytes(m[4..6].try_into().unwrap()), 20); // SOCK_DIAG_BY_FAMILY
        assert_eq!(u16::from_ne_bytes(m[6..8].try_into().unwrap()), 0x301); // REQUEST|DUMP
        assert_eq!(u32::from_ne_bytes(m[8..12].try_into().unwrap()), 7);
        assert_eq!(&m[16..20], &[libc::AF_INET as u8, 6, 0, 0]);
        assert_eq!(u32::from_ne_bytes(m[20..24].try_into().unwrap()), 1 << 10); // LISTEN
        assert!(m[24..72].iter().all(|b| *b == 0));
        // nlattr {len 20, INET_DIAG_REQ_BYTECODE}, then S_GE and S_LE, each rejecting by a
        // jump 4 bytes past the program's end.
        assert_eq!(u16::from_ne_bytes(m[72..74].try_into().unwrap()), 20);
        assert_eq!(u16::from_ne_bytes(m[74..76].try_into().unwrap()), 1);
        let op = |at: usize| {
            (
                m[at],
                m[at + 1],
                u16::from_ne_bytes(m[at + 2..at + 4].try_into().unwrap()),
                u16::from_ne_bytes(m[at + 6..at + 8].try_into().unwrap()),
            )
        };
        assert_eq!(op(76), (2, 8, 20, 20000));
        assert_eq!(op(84), (3, 8, 12, 20999));

        let udp6 = request(Proto::Udp, true, PortRange::new(1, 2), 1);
        assert_eq!(&udp6[16..20], &[libc::AF_INET6 as u8, 17, 0, 0]);
        assert_eq!(u32::from_ne_bytes(udp6[20..24].try_into().unwrap()), 1 << 7); // CLOSE
    }

    /// One `inet_diag_msg` as the kernel sends it, with an optional SKV6ONLY attribute.
    fn answer(seq: u32, family: i32, addr: &[u8], port: u16, v6only: Option<u8>) -> Vec<u8> {
        let mut p = vec![family as u8, 10, 0, 0];
        p.extend_from_slice(&port.to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        let mut src = [0u8; 16];
        src[..addr.len()].copy_from_slice(addr);
        p.extend_from_slice(&src);
        p.extend_from_slice(&[0; 16 + 4 + 8 + 20]);
        assert_eq!(p.len(), 72);
        if let Some(v) = v6only {
            p.extend_from_slice(&5u16.to_ne_bytes());
            p.extend_from_slice(&11u16.to_ne_bytes());
            p.extend_from_slice(&[v, 0, 0, 0]);
        }
        message(20, seq, &p)
    }

    fn message(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&2u16.to_ne_bytes()); // NLM_F_MULTI
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(payload);
        m
    }

    #[test]
    fn parses_a_dump_until_done_and_reports_errors() {
        let mut buf = answer(1, libc::AF_INET, &[127, 0, 0, 1], 20005, None);
        buf.extend(answer(1, libc::AF_INET6, &[0; 16], 20006, Some(0)));
        buf.extend(answer(9, libc::AF_INET, &[10, 0, 0, 1], 20007, None)); // another request's
        let mut out = Vec::new();
        assert!(!parse(&buf, 1, &mut out).unwrap(), "no DONE yet");
        assert_eq!(
            out,
            vec![
                Receiver {
                    ip: ip("127.0.0.1"),
                    port: 20005,
                    v6only: true
                },
                Receiver {
                    ip: ip("::"),
                    port: 20006,
                    v6only: false
                }
            ]
        );
        assert!(parse(&message(3, 1, &0i32.to_ne_bytes()), 1, &mut out).unwrap());
        let e = parse(&message(2, 1, &(-libc::ENOENT).to_ne_bytes()), 1, &mut out).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        assert!(parse(&buf[..40], 1, &mut out).is_err(), "truncated");
    }

    #[test]
    fn conflicts_follow_bind_rules_including_dual_stack_sockets() {
        let r = |s: &str, port: u16, v6only: bool| Receiver {
            ip: ip(s),
            port,
            v6only,
        };
        let block = PortRange::new(20000, 20999);
        let any4 = ip("0.0.0.0");
        let lo = ip("127.0.0.1");
        let any6 = ip("::");
        assert_eq!(
            conflict(&[r("127.0.0.1", 20005, true)], any4, block),
            Some(20005)
        );
        assert_eq!(
            conflict(&[r("0.0.0.0", 20005, true)], lo, block),
            Some(20005)
        );
        assert_eq!(conflict(&[r("10.0.0.1", 20005, true)], lo, block), None);
        assert_eq!(conflict(&[r("127.0.0.1", 21000, true)], any4, block), None);
        // IPv4 sockets never clash with IPv6 bindings (cnm's are V6ONLY) and vice versa,
        // except a dual-stack `[::]` socket and v4-mapped addresses.
        assert_eq!(conflict(&[r("0.0.0.0", 20005, true)], any6, block), None);
        assert_eq!(conflict(&[r("::", 20005, true)], any4, block), None);
        assert_eq!(conflict(&[r("::", 20005, false)], any4, block), Some(20005));
        assert_eq!(conflict(&[r("::", 20005, false)], any6, block), Some(20005));
        assert_eq!(
            conflict(&[r("::ffff:127.0.0.1", 20005, false)], lo, block),
            Some(20005)
        );
        assert_eq!(conflict(&[r("::1", 20005, true)], any6, block), Some(20005));
        assert_eq!(
            conflict(&[r("::1", 20009, true), r("::", 20003, true)], any6, block),
            Some(20003),
            "the first clashing port"
        );
    }
}
