//! Asking the kernel which sockets could take traffic for a port range (NETLINK_SOCK_DIAG).
//!
//! Contract:
//! - `receivers(proto, v6, range)` does one `SOCK_DIAG_BY_FAMILY` dump (`inet_diag_req_v2`) of
//!   the caller's network namespace, for TCP or UDP and one address family, restricted in the
//!   kernel to source ports in `range` (an `INET_DIAG_REQ_BYTECODE` program `S_GE lo; S_LE hi`)
//!   and to the sockets that receive new traffic on their port: TCP sockets in `LISTEN`, UDP
//!   sockets that are not connected (`TCP_CLOSE`). Results are filtered again in user space, so a
//!   kernel that ignored the program still gives the right answer.
//! - Not visible: TCP sockets that are bound but not listening (the kernel does not dump
//!   them), and connections (established TCP, connected UDP), which are not services on the
//!   port: DNAT only rewrites new flows to the host port, never an existing one.
//! - `conflict(receivers, ip, block)` is the first port of `block` on which a receiver would
//!   clash with a binding of `ip`, as `bind(2)` decides it: same family and equal addresses or
//!   either one the wildcard; an IPv6 socket on `[::]` without `IPV6_V6ONLY` also covers
//!   `0.0.0.0`, and one on a v4-mapped address covers that IPv4 address.
//! - Errors are the kernel's (`io::Error`): a kernel without `tcp_diag`/`udp_diag` answers
//!   `ENOENT`; the caller decides what to do then.
//!
//! The encoding and parsing are plain byte functions (`request`, `parse`) with unit tests.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{PortRange, Proto};
use crate::osl::netlink::raw;

const NETLINK_SOCK_DIAG: libc::c_int = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const INET_DIAG_REQ_BYTECODE: u16 = 1;
const INET_DIAG_BC_S_GE: u8 = 2;
const INET_DIAG_BC_S_LE: u8 = 3;
const INET_DIAG_SKV6ONLY: u16 = 11;
const TCP_LISTEN: u32 = 10;
const TCP_CLOSE: u32 = 7;

const NLMSG_HDR: usize = 16;
/// `inet_diag_req_v2`: family, protocol, ext, pad, states, then a 48-byte `inet_diag_sockid`.
const REQ_LEN: usize = 56;
/// `inet_diag_msg`: family, state, timer, retrans, sockid (48), expires, rqueue, wqueue, uid,
/// inode.
const MSG_LEN: usize = 72;
const BYTECODE_LEN: usize = 16;

/// A socket that receives new traffic on a port of the dumped range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receiver {
    pub ip: IpAddr,
    pub port: u16,
    /// IPv6 sockets: `IPV6_V6ONLY`. The kernel reports it for LISTEN and CLOSE sockets, the
    /// only ones dumped; absent, it counts as set.
    pub v6only: bool,
}

fn states(proto: Proto) -> u32 {
    match proto {
        Proto::Udp => 1 << TCP_CLOSE,
        _ => 1 << TCP_LISTEN,
    }
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The dump request for `proto` (TCP or UDP), one family, source ports in `range`.
pub fn request(proto: Proto, v6: bool, range: PortRange, seq: u32) -> Vec<u8> {
    let total = NLMSG_HDR + REQ_LEN + 4 + BYTECODE_LEN;
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&(total as u32).to_ne_bytes());
    m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    let family = if v6 { libc::AF_INET6 } else { libc::AF_INET };
    m.extend_from_slice(&[family as u8, proto.number(), 0, 0]);
    m.extend_from_slice(&states(proto).to_ne_bytes());
    m.extend_from_slice(&[0; 48]); // sockid: no exact-match fields
    m.extend_from_slice(&((4 + BYTECODE_LEN) as u16).to_ne_bytes());
    m.extend_from_slice(&INET_DIAG_REQ_BYTECODE.to_ne_bytes());
    // Each port test is two ops: {code, yes, no} then {0, 0, port}. "yes" steps to the next
    // test; "no" jumps 4 bytes past the end of the program, which the kernel reads as reject
    // (acceptance is ending exactly at the end).
    for (i, (code, port)) in [
        (INET_DIAG_BC_S_GE, range.start),
        (INET_DIAG_BC_S_LE, range.end),
    ]
    .into_iter()
    .enumerate()
    {
        let remaining = (BYTECODE_LEN - i * 8) as u16;
        m.push(code);
        m.push(8);
        m.extend_from_slice(&(remaining + 4).to_ne_bytes());
        m.extend_from_slice(&[0, 0]);
        m.extend_from_slice(&port.to_ne_bytes());
    }
    debug_assert_eq!(m.len(), total);
    m
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("sock_diag: {what}"))
}

/// One `inet_diag_msg` with its attributes.
fn parse_msg(p: &[u8]) -> io::Result<Receiver> {
    if p.len() < MSG_LEN {
        return Err(bad("short inet_diag_msg"));
    }
    let port = u16::from_be_bytes([p[4], p[5]]);
    let ip = if p[0] as i32 == libc::AF_INET6 {
        let mut a = [0u8; 16];
        a.copy_from_slice(&p[8..24]);
        IpAddr::V6(Ipv6Addr::from(a))
    } else {
        IpAddr::V4(Ipv4Addr::new(p[8], p[9], p[10], p[11]))
    };
    let mut v6only = true;
    let mut at = MSG_LEN;
    while at + 4 <= p.len() {
        let len = u16_at(p, at) as usize;
        if len < 4 || at + len > p.len() {
            break;
        }
        if u16_at(p, at + 2) & 0x3fff == INET_DIAG_SKV6ONLY && len >= 5 {
            v6only = p[at + 4] != 0;
        }
        at += align4(len);
    }
    Ok(Receiver { ip, port, v6only })
}

/// Parses one datagram of the dump into `out`; true once the dump is complete.
pub fn parse(buf: &[u8], seq: u32, out: &mut Vec<Receiver>) -> io::Result<bool> {
    let mut at = 0;
    while at + NLMSG_HDR <= buf.len() {
        let len = u32_at(buf, at) as usize;
        if len < NLMSG_HDR || at + len > buf.len() {
            return Err(bad("truncated message"));
        }
        let kind = u16_at(buf, at + 4);
        let answer = u32_at(buf, at + 8) == seq;
        let payload = &buf[at + NLMSG_HDR..at + len];
        at += align4(len);
        if !answer {
            continue; // not an answer to this request
        }
        match kind {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                if payload.len() < 4 {
                    return Err(bad("short error"));
                }
                let errno = -(u32_at(payload, 0) as i32);
                if errno == 0 {
                    continue; // an ack
                }
                return Err(io::Error::from_raw_os_error(errno));
            }
            SOCK_DIAG_BY_FAMILY => out.push(parse_msg(payload)?),
            _ => {}
        }
    }
    Ok(false)
}

/// The sockets of the caller's namespace that receive new traffic on a port of `range`.
pub fn receivers(proto: Proto, v6: bool, range: PortRange) -> io::Result<Vec<Receiver>> {
    let fd = raw::open(NETLINK_SOCK_DIAG, 0, false)?;
    let seq = 1;
    raw::send(&fd, &request(proto, v6, range, seq))?;
    let mut out = Vec::new();
    // The kernel sizes dump datagrams up to 32 KiB plus allocator slack; twice that never
    // truncates one.
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match raw::recv(&fd, &mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Err(bad("socket closed before the end of the dump"));
        }
        if parse(&buf[..n], seq, &mut out)? {
            break;
        }
    }
    out.retain(|r| r.port >= range.start && r.port <= range.end);
    Ok(out)
}

/// What address family and address a receiver takes a port on, for a binding of `family`.
fn covers(r: &Receiver, ip: IpAddr) -> bool {
    let effective = match r.ip {
        IpAddr::V6(v6) if ip.is_ipv4() => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            // A dual-stack `[::]` socket also takes `0.0.0.0`.
            None if v6.is_unspecified() && !r.v6only => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            None => return false,
        },
        other => other,
    };
    effective.is_ipv4() == ip.is_ipv4()
        && (effective == ip || effective.is_unspecified() || ip.is_unspecified())
}

/// The first port of `block` that a receiver takes on an address clashing with `ip`.
pub fn conflict(receivers: &[Receiver], ip: IpAddr, block: PortRange) -> Option<u16> {
    receivers
        .iter()
        .filter(|r| block.start <= r.port && r.port <= block.end && covers(r, ip))
        .map(|r| r.port)
        .min()
}
