//! Deleting a link, answered as soon as the kernel has taken it out of the namespace.
//!
//! Why: an `RTM_DELLINK` request returns only after the kernel's `rcu_barrier` in
//! `netdev_run_todo`, which waits for memory of the old device to be freed: ~20 ms of a
//! ~40 ms bridge deletion on this machine. The kernel announces the deletion (a multicast
//! `RTM_DELLINK`) before that wait, when the link is already unlisted: its name is free, its
//! addresses and routes are gone, and no packet can use it. Nothing the caller can observe
//! changes after the announcement.
//!
//! The request is sent on a socket of its own from a blocking thread: on the shared rtnetlink
//! connection it would hold up every later request (the next connect) until the barrier ends.
//!
//! Contract: `delete_link_unlisted(index)` deletes link `index` of the caller's namespace (the
//! sockets are made on the calling thread; tokio workers never leave the daemon's namespace)
//! and returns `Ok` once the kernel announced the deletion, or the request's own result if
//! that comes first (an error, or success before the announcement was read). The request
//! still completes in the background; a late error is logged.

use std::os::fd::OwnedFd;

use tokio::io::unix::AsyncFd;

use super::raw;
use crate::osl::{OslError, OslResult};

const RTMGRP_LINK: u32 = 1;
const RTM_DELLINK: u16 = 17;
const NLMSG_HDR: usize = 16;

/// Sends `RTM_DELLINK` for `index` on `fd` and waits for the kernel's answer (blocking).
fn delete_blocking(fd: &OwnedFd, index: u32) -> Result<(), nix::errno::Errno> {
    let mut msg = [0u8; NLMSG_HDR + 16];
    msg[0..4].copy_from_slice(&((NLMSG_HDR + 16) as u32).to_ne_bytes());
    msg[4..6].copy_from_slice(&RTM_DELLINK.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
    msg[6..8].copy_from_slice(&flags.to_ne_bytes());
    msg[8..12].copy_from_slice(&1u32.to_ne_bytes());
    // ifinfomsg: family AF_UNSPEC, pad, type 0, index, flags 0, change 0.
    msg[NLMSG_HDR + 4..NLMSG_HDR + 8].copy_from_slice(&index.to_ne_bytes());
    raw::send(fd, &msg).map_err(errno_of)?;
    let mut buf = [0u8; 1024];
    loop {
        let n = raw::recv(fd, &mut buf).map_err(errno_of)?;
        // The request's own answer: the first acknowledgement (0: success).
        if let Some(&(_, code)) = raw::acks(&buf[..n]).first() {
            return match code {
                0 => Ok(()),
                errno => Err(nix::errno::Errno::from_raw(errno)),
            };
        }
    }
}

fn errno_of(e: std::io::Error) -> nix::errno::Errno {
    nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// A socket subscribed to link notifications of the caller's namespace.
struct LinkEvents {
    fd: AsyncFd<OwnedFd>,
}

impl LinkEvents {
    fn subscribe() -> std::io::Result<LinkEvents> {
        let fd = raw::open(libc::NETLINK_ROUTE, RTMGRP_LINK, true)?;
        // SAFETY: `fd` is owned by the AsyncFd and neither replaced nor closed while it is.
        let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
            .map_err(std::io::Error::from)?;
        Ok(LinkEvents { fd })
    }

    /// Waits until the kernel announces the deletion of `index`. Never returns if it does not
    /// (the caller races it against the request); an unreadable socket waits forever too.
    async fn deleted(&self, index: u32) {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let Ok(mut ready) = self.fd.readable().await else {
                return std::future::pending().await;
            };
            match raw::recv(self.fd.get_ref(), &mut buf) {
                Ok(n) if announces_deletion(&buf[..n], index) => return,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => ready.clear_ready(),
                // ENOBUFS (events lost) just means: keep listening; the request decides.
                Err(_) => {}
            }
        }
    }
}

/// Whether a datagram holds an `RTM_DELLINK` for `index`.
fn announces_deletion(buf: &[u8], index: u32) -> bool {
    let u32_at = |i: usize| u32::from_ne_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
    let mut off = 0;
    while off + NLMSG_HDR <= buf.len() {
        let len = u32_at(off) as usize;
        if len < NLMSG_HDR || off + len > buf.len() {
            return false;
        }
        let kind = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
        // ifinfomsg: family, pad, type (u16), index (i32), ...
        if kind == RTM_DELLINK && len >= NLMSG_HDR + 8 && u32_at(off + NLMSG_HDR + 4) == index {
            return true;
        }
        off += (len + 3) & !3;
    }
    false
}

/// Deletes link `index` of the caller's namespace; see the module contract.
pub async fn delete_link_unlisted(index: u32) -> OslResult<()> {
    let op = || format!("delete link #{index}");
    let io = |source| OslError::Io { op: op(), source };
    // Both sockets are made here, on a tokio worker: in the daemon's namespace.
    let events = LinkEvents::subscribe().map_err(io)?;
    let socket = raw::open(libc::NETLINK_ROUTE, 0, false).map_err(io)?;
    let mut request = tokio::task::spawn_blocking(move || delete_blocking(&socket, index));
    tokio::select! {
        biased;
        result = &mut request => match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(errno)) => Err(OslError::Netlink { op: op(), errno }),
            Err(e) => Err(OslError::Other { op: op(), message: e.to_string() }),
        },
        () = events.deleted(index) => {
            tokio::spawn(async move {
                if let Ok(Err(errno)) = request.await {
                    tracing::warn!(%errno, index, "link deletion reported an error after the link was gone");
                }
            });
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u16, index: u32) -> Vec<u8> {
        let mut m = vec![0u8; NLMSG_HDR + 16];
        m[0..4].copy_from_slice(&((NLMSG_HDR + 16) as u32).to_ne_bytes());
        m[4..6].copy_from_slice(&kind.to_ne_bytes());
        m[NLMSG_HDR + 4..NLMSG_HDR + 8].copy_from_slice(&index.to_ne_bytes());
        m
    }

    #[test]
    fn reads_the_acknowledgement() {
        let mut m = message(libc::NLMSG_ERROR as u16, 0);
        m[NLMSG_HDR..NLMSG_HDR + 4].copy_from_slice(&(-libc::ENODEV).to_ne_bytes());
        assert_eq!(raw::acks(&m).first().map(|a| a.1), Some(libc::ENODEV));
        assert_eq!(raw::acks(&message(16, 0)).first(), None);
    }

    #[test]
    fn finds_the_deletion_of_one_index() {
        let mut d = message(16, 7); // RTM_NEWLINK
        d.extend(message(RTM_DELLINK, 8));
        assert!(announces_deletion(&d, 8));
        assert!(!announces_deletion(&d, 7));
        assert!(!announces_deletion(&d[..20], 8));
    }
}
