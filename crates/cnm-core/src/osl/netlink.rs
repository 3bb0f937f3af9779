//! One rtnetlink connection bound to one namespace.
//!
//! Contract:
//! - `Netlink::current()` opens a connection in the caller's namespace, `Netlink::open_in(path)`
//!   one whose socket is created inside the namespace at `path` (on a `netns::run_in` thread);
//!   either way the connection task then runs on the caller's tokio runtime, and the socket stays
//!   bound to its namespace for its whole life. Both must be called inside a tokio runtime; they
//!   block only for the short thread join. Clones share the connection; it closes when the last
//!   clone is dropped.
//! - Every method is exactly one netlink request (one round trip), except that `add_bridge` and
//!   `add_veth` fall back to a lookup by name if the kernel does not echo the new link.
//! - A link that is up is not yet able to transmit if its carrier arrived after it came up
//!   (veth host ends, bridges): `sync_link` makes it ready; see there.
//! - Kernel refusals become `OslError::Netlink { op, errno }` with the positive errno and an `op`
//!   naming the object (`"add bridge br-1234"`), so `kind()` maps `EEXIST`/`ENODEV`/....
//!
//! The methods live in `netlink/{link,address,route}.rs`; this file holds the types and the
//! request plumbing they share.

mod address;
mod link;
mod neighbour;
pub mod raw;
mod route;
pub mod route_watch;
pub mod sublink;
mod unlist;
pub use unlist::delete_link_unlisted;

use std::io;
use std::net::IpAddr;
use std::os::fd::BorrowedFd;
use std::path::Path;

use futures::StreamExt;
use ipnet::IpNet;
use nix::errno::Errno;
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::RouteNetlinkMessage;

use super::{OslError, OslResult, netns};

/// A link as cnm needs to see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    /// `bridge`, `veth`, `macvlan`, `vxlan`, ... (`None` for `lo` and physical links).
    pub kind: Option<String>,
    /// Index of the bridge this link is enslaved to.
    pub master: Option<u32>,
    pub mac: Option<[u8; 6]>,
    pub mtu: u32,
    pub up: bool,
}

/// Parameters of a veth pair whose peer is created directly inside another namespace.
#[derive(Clone, Debug)]
pub struct VethSpec<'a> {
    /// Host-side name (`veth` + 7 hex).
    pub host_name: &'a str,
    /// Name of the peer inside the target namespace (`eth0`, ...).
    pub peer_name: &'a str,
    /// Target namespace of the peer.
    pub peer_netns: BorrowedFd<'a>,
    pub peer_mac: Option<[u8; 6]>,
    /// MTU of both ends.
    pub mtu: Option<u32>,
    /// Bridge to enslave the host end to. The host end is brought up in any case; the peer
    /// stays down (the caller configures and raises it inside its namespace).
    pub master: Option<u32>,
}

/// A route of the main table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// Destination prefix (`0.0.0.0/0` / `::/0` for the default route).
    pub destination: IpNet,
    pub gateway: Option<IpAddr>,
    /// Index of the output link.
    pub output: Option<u32>,
    /// Scope link: a directly connected subnet (no gateway needed).
    pub link_scope: bool,
}

#[derive(Clone)]
pub struct Netlink {
    handle: rtnetlink::Handle,
}

impl std::fmt::Debug for Netlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Netlink")
    }
}

impl Netlink {
    /// A connection in the caller's (the daemon's) namespace.
    pub fn current() -> OslResult<Self> {
        let runtime = runtime_handle("open netlink")?;
        let connection = {
            let _entered = runtime.enter();
            rtnetlink::new_connection_with_strict_check()
        };
        Self::start(&runtime, connection, "open netlink")
    }

    /// A connection bound to the namespace at `path` (socket created inside it).
    pub fn open_in(path: &Path) -> OslResult<Self> {
        let op = format!("open netlink in {}", path.display());
        let runtime = runtime_handle(&op)?;
        // run_in enters the runtime on its thread, so the socket registers with our reactor.
        let connection = netns::run_in(path, rtnetlink::new_connection_with_strict_check)?;
        Self::start(&runtime, connection, &op)
    }

    fn start(
        runtime: &tokio::runtime::Handle,
        connection: io::Result<Connection>,
        op: &str,
    ) -> OslResult<Self> {
        let (task, handle, _unsolicited) = connection.map_err(|source| OslError::Io {
            op: op.to_owned(),
            source,
        })?;
        runtime.spawn(task);
        Ok(Netlink { handle })
    }

    /// Sends one request with `flags` and collects what the kernel answers before the final
    /// ACK/DONE (dump parts, echoed objects). A NACK becomes `OslError::Netlink` named by `op`.
    async fn request(
        &self,
        message: RouteNetlinkMessage,
        flags: u16,
        op: impl Fn() -> String,
    ) -> OslResult<Vec<RouteNetlinkMessage>> {
        let mut request = NetlinkMessage::from(message);
        request.header.flags = flags;
        let mut handle = self.handle.clone();
        let mut answers = handle.request(request).map_err(|_| OslError::Other {
            op: op(),
            message: "netlink connection closed".to_owned(),
        })?;
        let mut collected = Vec::new();
        while let Some(answer) = answers.next().await {
            match answer.payload {
                NetlinkPayload::InnerMessage(inner) => collected.push(inner),
                NetlinkPayload::Error(error) => {
                    if let Some(code) = error.code {
                        return Err(OslError::Netlink {
                            op: op(),
                            errno: Errno::from_raw(-code.get()),
                        });
                    }
                }
                NetlinkPayload::Overrun(_) => {
                    return Err(OslError::Other {
                        op: op(),
                        message: "netlink buffer overrun".to_owned(),
                    });
                }
                NetlinkPayload::Done(_) | NetlinkPayload::Noop => {}
                _ => {}
            }
        }
        Ok(collected)
    }
}

type Connection = (
    rtnetlink::proto::Connection<RouteNetlinkMessage>,
    rtnetlink::Handle,
    futures::channel::mpsc::UnboundedReceiver<(
        NetlinkMessage<RouteNetlinkMessage>,
        rtnetlink::sys::SocketAddr,
    )>,
);

fn runtime_handle(op: &str) -> OslResult<tokio::runtime::Handle> {
    tokio::runtime::Handle::try_current().map_err(|_| OslError::Other {
        op: op.to_owned(),
        message: "must be called inside a tokio runtime".to_owned(),
    })
}

/// Refuses mixed families early with `EINVAL`, as the kernel would, but with a clear `op`.
fn same_family(op: impl Fn() -> String, a: IpAddr, b: IpAddr) -> OslResult<()> {
    if a.is_ipv4() == b.is_ipv4() {
        Ok(())
    } else {
        Err(OslError::Netlink {
            op: op(),
            errno: Errno::EINVAL,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_outside_a_runtime_is_an_error_not_a_panic() {
        let err = Netlink::current().expect_err("no runtime");
        assert!(err.to_string().contains("tokio runtime"), "{err}");
        let err = Netlink::open_in(Path::new("/proc/thread-self/ns/net")).expect_err("no runtime");
        assert!(err.to_string().contains("tokio runtime"), "{err}");
    }
}
