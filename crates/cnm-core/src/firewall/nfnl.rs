//! A `NETLINK_NETFILTER` socket: sends an nftables batch and waits for the kernel's verdict.
//!
//! Contract: `NfnlSocket::open` binds in the caller's network namespace (the daemon's), with
//! a receive timeout so a lost answer cannot hang the daemon. `transact` sends one batch
//! (`batch::Batch`) and returns when every message asking for an acknowledgement has one;
//! the first kernel error decides the result (`ENOENT`: `FirewallError::Missing`). The kernel
//! applies a batch all or nothing, so an error means nothing changed.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::FirewallError;

const NETLINK_NETFILTER: libc::c_int = 12;
/// `NETLINK_CAP_ACK`: errors do not echo the whole request back.
const NETLINK_CAP_ACK: libc::c_int = 10;
const NLMSG_HDR: usize = 16;

/// Opens a netfilter netlink socket with a one-second receive timeout.
pub fn open_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned immediately.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            NETLINK_NETFILTER,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh, valid fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let timeout = libc::timeval {
        tv_sec: 1,
        tv_usec: 0,
    };
    let one: libc::c_int = 1;
    // SAFETY: valid fd; each option value points to a value of the size passed.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &timeout as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_NETLINK,
            NETLINK_CAP_ACK,
            &one as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    Ok(fd)
}

/// Sends `buf` to the kernel in one datagram.
pub fn send(fd: &OwnedFd, buf: &[u8]) -> io::Result<()> {
    // SAFETY: sockaddr_nl is plain data; all zeroes is a valid value.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    // SAFETY: the buffer and address are valid for the lengths given.
    let sent = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            buf.as_ptr() as *const libc::c_void,
            buf.len(),
            0,
            &addr as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives one datagram into `buf`; returns its length.
pub fn recv(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the buffer is valid for its length.
    let n = unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
            0,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// The socket element changes go through.
pub struct NfnlSocket {
    fd: OwnedFd,
    seq: u32,
}

impl NfnlSocket {
    pub fn open() -> io::Result<NfnlSocket> {
        Ok(NfnlSocket {
            fd: open_socket()?,
            seq: 0,
        })
    }

    /// The first sequence number for the next batch (batches never reuse numbers in flight).
    pub fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1 << 16);
        self.seq
    }

    /// Sends one batch and waits for the acknowledgement of every message in `acked`.
    pub fn transact(&mut self, batch: &[u8], acked: &[u32]) -> Result<(), FirewallError> {
        let io_err = |e: io::Error| FirewallError::Nft {
            stderr: format!("netlink: {e}"),
        };
        send(&self.fd, batch).map_err(io_err)?;
        let mut pending: Vec<u32> = acked.to_vec();
        let mut first_error: Option<i32> = None;
        let mut buf = vec![0u8; 16 * 1024];
        while !pending.is_empty() {
            let n = recv(&self.fd, &mut buf).map_err(io_err)?;
            for (seq, errno) in acks(&buf[..n]) {
                if errno != 0 {
                    first_error.get_or_insert(errno);
                }
                pending.retain(|s| *s != seq);
            }
            // A failed commit is answered for the batch as a whole; the messages' own
            // acknowledgements follow it, so keep reading until they are all in.
        }
        match first_error {
            None => Ok(()),
            Some(errno) => {
                let e = io::Error::from_raw_os_error(errno);
                let stderr = format!("netlink element batch: {e}");
                Err(if errno == libc::ENOENT {
                    FirewallError::Missing { stderr }
                } else {
                    FirewallError::Nft { stderr }
                })
            }
        }
    }
}

/// `(sequence number, errno)` of every acknowledgement or error in a datagram.
fn acks(buf: &[u8]) -> Vec<(u32, i32)> {
    let u32_at = |i: usize| u32::from_ne_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
    let mut out = Vec::new();
    let mut off = 0;
    while off + NLMSG_HDR <= buf.len() {
        let len = u32_at(off) as usize;
        if len < NLMSG_HDR || off + len > buf.len() {
            break;
        }
        let kind = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
        if kind == libc::NLMSG_ERROR as u16 && len >= NLMSG_HDR + 4 {
            out.push((u32_at(off + 8), -(u32_at(off + NLMSG_HDR) as i32)));
        }
        off += (len + 3) & !3;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_msg(seq: u32, errno: i32) -> Vec<u8> {
        let mut m = vec![0u8; 36];
        m[0..4].copy_from_slice(&36u32.to_ne_bytes());
        m[4..6].copy_from_slice(&(libc::NLMSG_ERROR as u16).to_ne_bytes());
        m[8..12].copy_from_slice(&seq.to_ne_bytes());
        m[16..20].copy_from_slice(&(-errno).to_ne_bytes());
        m
    }

    #[test]
    fn reads_acknowledgements_and_errors() {
        let mut d = error_msg(5, 0);
        d.extend(error_msg(6, libc::ENOENT));
        assert_eq!(acks(&d), vec![(5, 0), (6, libc::ENOENT)]);
        assert_eq!(acks(&d[..20]), vec![]);
    }
}
