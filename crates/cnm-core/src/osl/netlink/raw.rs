//! Raw netlink sockets, for what the rtnetlink connection does not carry: the netfilter
//! subsystems (nftables batches, the ruleset generation, conntrack), sock_diag dumps, link
//! notifications, and requests that must not queue behind others on the shared connection.
//!
//! Contract: `open` makes a close-on-exec socket of `protocol` in the caller's namespace (its
//! namespace is fixed at creation), subscribed to the multicast `groups`. `send` and `recv` are
//! one syscall each, addressed to and from the kernel; `EINTR` is returned as an error like any
//! other. `acks` reads the kernel's acknowledgements and errors; other message encoding and
//! parsing stay with the callers.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

const NLMSG_HDR: usize = 16;

/// `NETLINK_CAP_ACK`: an error does not echo the whole request back.
const NETLINK_CAP_ACK: libc::c_int = 10;

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A netlink socket of `protocol`, bound to the multicast `groups` (0: none).
pub fn open(protocol: libc::c_int, groups: u32, nonblocking: bool) -> io::Result<OwnedFd> {
    let flags = if nonblocking { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: plain socket(2); the fd is owned immediately.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | flags,
            protocol,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh, valid fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    if groups != 0 {
        // SAFETY: sockaddr_nl is plain data; all zeroes is a valid value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_groups = groups;
        // SAFETY: valid fd and address of the size passed.
        check(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &addr as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        })?;
    }
    Ok(fd)
}

/// Bounds how long a blocking `recv` waits, so a lost answer cannot hang its caller.
pub fn set_recv_timeout(fd: &OwnedFd, timeout: Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: valid fd; the option value is a timeval of the size passed.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    })
}

/// Makes the kernel's error answers carry only the failed request's header.
pub fn cap_acks(fd: &OwnedFd) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: valid fd; the option value is a c_int of the size passed.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_NETLINK,
            NETLINK_CAP_ACK,
            &one as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
}

/// Sends `buf` to the kernel in one datagram.
pub fn send(fd: &OwnedFd, buf: &[u8]) -> io::Result<()> {
    // SAFETY: sockaddr_nl is plain data; all zeroes with the family set addresses the kernel.
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: the buffer and address are valid for the lengths given.
    let sent = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            buf.as_ptr() as *const libc::c_void,
            buf.len(),
            0,
            &kernel as *const _ as *const libc::sockaddr,
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

/// `(sequence number, errno)` of every acknowledgement or error in a datagram.
pub fn acks(buf: &[u8]) -> Vec<(u32, i32)> {
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
