//! A `NETLINK_NETFILTER` socket: sends an nftables batch and waits for the kernel's verdict.
//!
//! Contract: `NfnlSocket::open` binds in the caller's network namespace (the daemon's), with
//! a receive timeout so a lost answer cannot hang the daemon. `transact` sends one batch
//! (`batch::Batch`) and returns when every message asking for an acknowledgement has one;
//! the first kernel error decides the result (`ENOENT`: `FirewallError::Missing`). The kernel
//! applies a batch all or nothing, so an error means nothing changed.

use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;

use super::FirewallError;
use crate::osl::netlink::raw;

const NETLINK_NETFILTER: libc::c_int = 12;

/// Opens a netfilter netlink socket with a one-second receive timeout and capped acks.
pub fn open_socket() -> io::Result<OwnedFd> {
    let fd = raw::open(NETLINK_NETFILTER, 0, false)?;
    raw::set_recv_timeout(&fd, Duration::from_secs(1))?;
    raw::cap_acks(&fd)?;
    Ok(fd)
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
        raw::send(&self.fd, batch).map_err(io_err)?;
        let mut pending: Vec<u32> = acked.to_vec();
        let mut first_error: Option<i32> = None;
        let mut buf = vec![0u8; 16 * 1024];
        while !pending.is_empty() {
            let n = raw::recv(&self.fd, &mut buf).map_err(io_err)?;
            for (seq, errno) in raw::acks(&buf[..n]) {
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
