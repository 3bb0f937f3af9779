//! The nftables ruleset generation: a counter the kernel bumps on every committed transaction,
//! by anyone. Reading it costs one netlink round trip (microseconds), which makes "did anything
//! change since we last looked?" cheap enough to ask every two seconds.
//!
//! Contract: `Generation::open` binds a `NETLINK_NETFILTER` socket in the caller's network
//! namespace (the daemon's); `read` sends `NFT_MSG_GETGEN` and returns `NFTA_GEN_ID`.

use std::io;
use std::os::fd::OwnedFd;

use super::nfnl;
use crate::osl::netlink::raw;

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_GETGEN: u16 = 16;
const NFT_MSG_NEWGEN: u16 = 15;
const NFTA_GEN_ID: u16 = 1;
const NLMSG_HDR: usize = 16;
const NFGENMSG: usize = 4;

pub struct Generation {
    fd: OwnedFd,
    seq: u32,
}

impl Generation {
    pub fn open() -> io::Result<Generation> {
        Ok(Generation {
            fd: nfnl::open_socket()?,
            seq: 0,
        })
    }

    /// The current ruleset generation.
    pub fn read(&mut self) -> io::Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let mut msg = [0u8; NLMSG_HDR + NFGENMSG];
        msg[0..4].copy_from_slice(&((NLMSG_HDR + NFGENMSG) as u32).to_ne_bytes());
        msg[4..6].copy_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN).to_ne_bytes());
        msg[6..8].copy_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
        msg[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        // nfgenmsg: family AF_UNSPEC, version NFNETLINK_V0, res_id 0.
        raw::send(&self.fd, &msg)?;
        let mut buf = [0u8; 512];
        loop {
            let n = raw::recv(&self.fd, &mut buf)?;
            if let Some(id) = parse_reply(&buf[..n], self.seq)? {
                return Ok(id);
            }
        }
    }
}

/// `Some(generation)` from a NEWGEN answer to `seq`, `None` for unrelated messages.
fn parse_reply(buf: &[u8], seq: u32) -> io::Result<Option<u32>> {
    let u16_at = |i: usize| u16::from_ne_bytes([buf[i], buf[i + 1]]);
    let u32_at = |i: usize| u32::from_ne_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
    let mut off = 0;
    while off + NLMSG_HDR <= buf.len() {
        let len = u32_at(off) as usize;
        if len < NLMSG_HDR || off + len > buf.len() {
            break;
        }
        let kind = u16_at(off + 4);
        if u32_at(off + 8) == seq {
            if kind == libc::NLMSG_ERROR as u16 && len >= NLMSG_HDR + 4 {
                let errno = -(u32_at(off + NLMSG_HDR) as i32);
                return Err(io::Error::from_raw_os_error(errno));
            }
            if kind == (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN {
                let mut a = off + NLMSG_HDR + NFGENMSG;
                while a + 4 <= off + len {
                    let (alen, atype) = (u16_at(a) as usize, u16_at(a + 2) & 0x3fff);
                    if alen < 4 {
                        break;
                    }
                    if atype == NFTA_GEN_ID && alen >= 8 {
                        return Ok(Some(u32::from_be_bytes([
                            buf[a + 4],
                            buf[a + 5],
                            buf[a + 6],
                            buf[a + 7],
                        ])));
                    }
                    a += (alen + 3) & !3;
                }
            }
        }
        off += (len + 3) & !3;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_generation_attribute() {
        let mut m = vec![0u8; 16 + 4 + 8];
        m[0..4].copy_from_slice(&28u32.to_ne_bytes());
        m[4..6].copy_from_slice(&((10u16 << 8) | 15).to_ne_bytes());
        m[8..12].copy_from_slice(&7u32.to_ne_bytes());
        m[20..22].copy_from_slice(&8u16.to_ne_bytes());
        m[22..24].copy_from_slice(&1u16.to_ne_bytes());
        m[24..28].copy_from_slice(&42u32.to_be_bytes());
        assert_eq!(parse_reply(&m, 7).unwrap(), Some(42));
        assert_eq!(parse_reply(&m, 8).unwrap(), None);
    }
}
