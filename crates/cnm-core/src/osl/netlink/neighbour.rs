//! Neighbour (ARP/NDP) entries: forgetting a stale one when an address moves to a new MAC.

use std::net::IpAddr;

use nix::errno::Errno;
use rtnetlink::packet_core::{NLM_F_ACK, NLM_F_REQUEST};
use rtnetlink::packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};

use super::Netlink;
use crate::osl::OslResult;

impl Netlink {
    /// Removes the neighbour entry for `address` on link `index`, if there is one. An address
    /// handed to a new sandbox has a new MAC; without this the host keeps sending to the old
    /// one until its cache entry expires.
    pub async fn forget_neighbour(&self, index: u32, address: IpAddr) -> OslResult<()> {
        let mut message = NeighbourMessage::default();
        message.header.family = if address.is_ipv6() {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        message.header.ifindex = index;
        message
            .attributes
            .push(NeighbourAttribute::Destination(match address {
                IpAddr::V4(a) => NeighbourAddress::Inet(a),
                IpAddr::V6(a) => NeighbourAddress::Inet6(a),
            }));
        let op = || format!("forget neighbour {address} on link #{index}");
        match self
            .request(
                RouteNetlinkMessage::DelNeighbour(message),
                NLM_F_REQUEST | NLM_F_ACK,
                op,
            )
            .await
        {
            Err(e) if matches!(e.errno(), Some(Errno::ENOENT) | Some(Errno::ESRCH)) => Ok(()),
            other => other.map(drop),
        }
    }
}
