//! Interface addresses: list, add, delete (one request each).
//!
//! IPv6 addresses are added with `IFA_F_NODAD`, as Docker does: an endpoint's address is
//! allocated by IPAM, so duplicate detection only delays the address by a second or more.

use std::net::IpAddr;

use ipnet::IpNet;
use rtnetlink::packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST};
use rtnetlink::packet_route::address::{AddressAttribute, AddressHeaderFlags, AddressMessage};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};

use super::Netlink;
use crate::osl::OslResult;

impl Netlink {
    /// All addresses of link `index`, every family, link-local ones included.
    pub async fn addresses(&self, index: u32) -> OslResult<Vec<IpNet>> {
        let mut query = AddressMessage::default();
        // With strict checking on, the kernel filters the dump by index itself.
        query.header.index = index;
        let answers = self
            .request(
                RouteNetlinkMessage::GetAddress(query),
                NLM_F_REQUEST | NLM_F_DUMP,
                || format!("list addresses of link #{index}"),
            )
            .await?;
        Ok(answers
            .iter()
            .filter_map(|answer| match answer {
                RouteNetlinkMessage::NewAddress(address) if address.header.index == index => {
                    address_of(address)
                }
                _ => None,
            })
            .collect())
    }

    pub async fn add_address(&self, index: u32, addr: IpNet) -> OslResult<()> {
        let message = address_message(index, addr, true);
        self.request(
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            || format!("add address {addr} to link #{index}"),
        )
        .await
        .map(drop)
    }

    pub async fn del_address(&self, index: u32, addr: IpNet) -> OslResult<()> {
        let message = address_message(index, addr, false);
        self.request(
            RouteNetlinkMessage::DelAddress(message),
            NLM_F_REQUEST | NLM_F_ACK,
            || format!("delete address {addr} from link #{index}"),
        )
        .await
        .map(drop)
    }
}

fn address_message(index: u32, addr: IpNet, adding: bool) -> AddressMessage {
    let mut message = AddressMessage::default();
    message.header.index = index;
    message.header.prefix_len = addr.prefix_len();
    message.header.family = match addr {
        IpNet::V4(_) => AddressFamily::Inet,
        IpNet::V6(_) => AddressFamily::Inet6,
    };
    message
        .attributes
        .push(AddressAttribute::Local(addr.addr()));
    message
        .attributes
        .push(AddressAttribute::Address(addr.addr()));
    match addr {
        // The broadcast address `ip addr add ... brd +` would compute (none for /31 and /32).
        IpNet::V4(net) if adding && net.prefix_len() < 31 => {
            message
                .attributes
                .push(AddressAttribute::Broadcast(net.broadcast()));
        }
        IpNet::V6(_) if adding => message.header.flags = AddressHeaderFlags::Nodad,
        _ => {}
    }
    message
}

/// The interface's own address with its prefix: IFA_LOCAL where present (it differs from
/// IFA_ADDRESS only on point-to-point links), else IFA_ADDRESS.
fn address_of(message: &AddressMessage) -> Option<IpNet> {
    let find = |local: bool| {
        message
            .attributes
            .iter()
            .find_map(|attribute| match attribute {
                AddressAttribute::Local(ip) if local => Some(*ip),
                AddressAttribute::Address(ip) if !local => Some(*ip),
                _ => None,
            })
    };
    let ip: IpAddr = find(true).or_else(|| find(false))?;
    IpNet::new(ip, message.header.prefix_len).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_addresses_carry_a_broadcast_except_for_point_to_point_prefixes() {
        let with = address_message(3, "10.0.0.2/24".parse().unwrap(), true);
        assert!(
            with.attributes
                .contains(&AddressAttribute::Broadcast("10.0.0.255".parse().unwrap()))
        );
        let without = address_message(3, "10.0.0.2/31".parse().unwrap(), true);
        assert!(
            !without
                .attributes
                .iter()
                .any(|a| matches!(a, AddressAttribute::Broadcast(_)))
        );
    }

    #[test]
    fn ipv6_addresses_skip_duplicate_detection() {
        let message = address_message(3, "fd00::2/64".parse().unwrap(), true);
        assert_eq!(message.header.flags, AddressHeaderFlags::Nodad);
        assert_eq!(message.header.family, AddressFamily::Inet6);
    }

    #[test]
    fn answers_read_back_as_prefixes() {
        let message = address_message(3, "172.18.0.1/16".parse().unwrap(), true);
        assert_eq!(address_of(&message), Some("172.18.0.1/16".parse().unwrap()));
    }
}
