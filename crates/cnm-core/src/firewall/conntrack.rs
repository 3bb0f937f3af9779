//! Forgetting UDP conntrack entries that would keep datagrams going the old way after ports
//! are published or unpublished (what Docker does with `conntrack -D` after programming).
//!
//! Why: NAT is decided on a flow's first packet. A UDP client that sent to a host port before
//! it was published has an entry without DNAT, refreshed by every datagram, so it would never
//! reach the new container; and entries DNATed to an address that a new endpoint now holds
//! would deliver to it datagrams meant for its predecessor. TCP needs none of this: a stale
//! TCP flow ends with its connection.
//!
//! Contract: `forget_udp` dumps the UDP entries of the caller's namespace (one netlink dump,
//! its cost is the size of the conntrack table, not of cnm's state) and deletes those that are
//! (a) not DNATed and addressed to one of `host_ports`, or (b) DNATed to one of `addresses`.
//! It returns how many it deleted. An entry that vanished meanwhile is not an error.

use std::io;
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::time::Duration;

use crate::osl::netlink::raw;

const NETLINK_NETFILTER: libc::c_int = 12;
const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_GET: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_STATUS: u16 = 3;
const CTA_ZONE: u16 = 18;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_DST_PORT: u16 = 3;
const IPS_DST_NAT: u32 = 1 << 5;
const UDP: u8 = 17;
const HDR: usize = 16;

/// What matters of one entry.
#[derive(Debug, Default)]
struct Entry {
    family: u8,
    proto: u8,
    orig_dport: u16,
    reply_src: Option<IpAddr>,
    dnat: bool,
    /// The original tuple and zone attributes, copied as they came (they name the entry).
    key: Vec<u8>,
}

/// Iterates `(type, payload)` of netlink attributes, the nested flag masked off.
fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if buf.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let kind = u16::from_ne_bytes([buf[2], buf[3]]) & 0x3fff;
        if len < 4 || len > buf.len() {
            return None;
        }
        let payload = &buf[4..len];
        buf = &buf[((len + 3) & !3).min(buf.len())..];
        Some((kind, payload))
    })
}

fn find(buf: &[u8], kind: u16) -> Option<&[u8]> {
    attrs(buf).find(|(k, _)| *k == kind).map(|(_, p)| p)
}

fn ip_of(payload: &[u8]) -> Option<IpAddr> {
    match payload.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(payload).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(payload).ok()?)),
        _ => None,
    }
}

/// Reads one conntrack message (after its netlink header).
fn parse_entry(msg: &[u8]) -> Option<Entry> {
    let family = *msg.first()?;
    let body = msg.get(4..)?;
    let mut e = Entry {
        family,
        ..Default::default()
    };
    for (kind, payload) in attrs(body) {
        match kind {
            CTA_TUPLE_ORIG => {
                let proto = find(payload, CTA_TUPLE_PROTO)?;
                e.proto = *find(proto, CTA_PROTO_NUM)?.first()?;
                let port = find(proto, CTA_PROTO_DST_PORT).unwrap_or(&[0, 0]);
                e.orig_dport = u16::from_be_bytes([port[0], *port.get(1)?]);
            }
            CTA_TUPLE_REPLY => {
                let ip = find(payload, CTA_TUPLE_IP)?;
                // The reply's source is the first address attribute (V4_SRC or V6_SRC).
                e.reply_src = attrs(ip)
                    .find(|(k, _)| *k == 1 || *k == 3)
                    .and_then(|(_, p)| ip_of(p));
            }
            CTA_STATUS => {
                let s = u32::from_be_bytes(payload.get(..4)?.try_into().ok()?);
                e.dnat = s & IPS_DST_NAT != 0;
            }
            _ => {}
        }
    }
    // Keep the attributes that identify the entry for the delete request.
    for (kind, payload) in attrs(body) {
        if kind == CTA_TUPLE_ORIG || kind == CTA_ZONE {
            let len = 4 + payload.len();
            let kind = if kind == CTA_TUPLE_ORIG {
                kind | 0x8000
            } else {
                kind
            };
            e.key.extend_from_slice(&(len as u16).to_ne_bytes());
            e.key.extend_from_slice(&kind.to_ne_bytes());
            e.key.extend_from_slice(payload);
            e.key.resize((e.key.len() + 3) & !3, 0);
        }
    }
    Some(e)
}

struct Socket(OwnedFd, u32);

impl Socket {
    fn open() -> io::Result<Socket> {
        let fd = raw::open(NETLINK_NETFILTER, 0, false)?;
        raw::set_recv_timeout(&fd, Duration::from_secs(2))?;
        Ok(Socket(fd, 0))
    }

    fn send(&mut self, kind: u16, flags: u16, family: u8, payload: &[u8]) -> io::Result<u32> {
        self.1 = self.1.wrapping_add(1);
        let len = HDR + 4 + payload.len();
        let mut msg = Vec::with_capacity(len);
        msg.extend_from_slice(&(len as u32).to_ne_bytes());
        msg.extend_from_slice(&((NFNL_SUBSYS_CTNETLINK << 8) | kind).to_ne_bytes());
        msg.extend_from_slice(&flags.to_ne_bytes());
        msg.extend_from_slice(&self.1.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(&[family, 0, 0, 0]);
        msg.extend_from_slice(payload);
        raw::send(&self.0, &msg)?;
        Ok(self.1)
    }

    /// Reads answers to `seq` until DONE (dump) or the ACK/error (single request), handing each
    /// data message to `each`.
    fn receive(&mut self, seq: u32, mut each: impl FnMut(&[u8])) -> io::Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = raw::recv(&self.0, &mut buf)?;
            let mut off = 0;
            let data = &buf[..n];
            while off + HDR <= data.len() {
                let len = u32::from_ne_bytes(data[off..off + 4].try_into().unwrap()) as usize;
                let kind = u16::from_ne_bytes([data[off + 4], data[off + 5]]);
                let mseq = u32::from_ne_bytes(data[off + 8..off + 12].try_into().unwrap());
                if len < HDR || off + len > data.len() {
                    break;
                }
                if mseq == seq {
                    match kind as i32 {
                        libc::NLMSG_DONE => return Ok(()),
                        libc::NLMSG_ERROR => {
                            let errno = -i32::from_ne_bytes(
                                data[off + HDR..off + HDR + 4].try_into().unwrap(),
                            );
                            return if errno == 0 {
                                Ok(())
                            } else {
                                Err(io::Error::from_raw_os_error(errno))
                            };
                        }
                        _ => each(&data[off + HDR..off + len]),
                    }
                }
                off += (len + 3) & !3;
            }
        }
    }
}

/// Deletes the UDP entries described in the module contract; returns how many.
pub fn forget_udp(host_ports: &[(u16, u16)], addresses: &[IpAddr]) -> io::Result<usize> {
    if host_ports.is_empty() && addresses.is_empty() {
        return Ok(0);
    }
    let mut sock = Socket::open()?;
    let mut victims = Vec::new();
    let seq = sock.send(
        IPCTNL_MSG_CT_GET,
        (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16,
        libc::AF_UNSPEC as u8,
        &[],
    )?;
    sock.receive(seq, |msg| {
        let Some(e) = parse_entry(msg) else { return };
        let stale_port = !e.dnat
            && host_ports
                .iter()
                .any(|(lo, hi)| (*lo..=*hi).contains(&e.orig_dport));
        let stale_target = e.dnat && e.reply_src.is_some_and(|ip| addresses.contains(&ip));
        if e.proto == UDP && (stale_port || stale_target) {
            victims.push(e);
        }
    })?;
    let mut deleted = 0;
    for e in victims {
        let seq = sock.send(
            IPCTNL_MSG_CT_DELETE,
            (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16,
            e.family,
            &e.key,
        )?;
        match sock.receive(seq, |_| {}) {
            Ok(()) => deleted += 1,
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(payload);
        v.resize((v.len() + 3) & !3, 0);
        v
    }

    #[test]
    fn reads_an_entry_and_keeps_its_original_tuple() {
        let ip = |src: [u8; 4], dst: [u8; 4]| {
            attr(
                CTA_TUPLE_IP | 0x8000,
                &[attr(1, &src), attr(2, &dst)].concat(),
            )
        };
        let proto = attr(
            CTA_TUPLE_PROTO | 0x8000,
            &[
                attr(CTA_PROTO_NUM, &[17]),
                attr(2, &5000u16.to_be_bytes()),
                attr(3, &53u16.to_be_bytes()),
            ]
            .concat(),
        );
        let orig = attr(
            CTA_TUPLE_ORIG | 0x8000,
            &[ip([10, 0, 0, 2], [10, 0, 0, 1]), proto.clone()].concat(),
        );
        let reply = attr(
            CTA_TUPLE_REPLY | 0x8000,
            &[ip([172, 18, 0, 2], [10, 0, 0, 2]), proto].concat(),
        );
        let status = attr(CTA_STATUS, &(IPS_DST_NAT | 8).to_be_bytes());
        let msg = [vec![2, 0, 0, 0], orig.clone(), reply, status].concat();
        let e = parse_entry(&msg).unwrap();
        assert_eq!((e.family, e.proto, e.orig_dport, e.dnat), (2, 17, 53, true));
        assert_eq!(e.reply_src, Some("172.18.0.2".parse().unwrap()));
        assert_eq!(e.key, orig);
    }
}
