//! Links: lookup, bridge and veth creation, deletion and attribute changes.
//!
//! Creation requests carry `NLM_F_ECHO`, so the kernel answers with the new link (and its
//! index) in the same round trip. A veth's peer is created directly in its target namespace
//! (`IFLA_NET_NS_FD` inside the peer's message): about 1 ms, where moving it afterwards costs
//! about 20 ms of RCU wait.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;
use rtnetlink::packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_ECHO, NLM_F_EXCL, NLM_F_REQUEST,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute,
    LinkFlags, LinkInfo as LinkInfoAttr, LinkMessage,
};

use super::{LinkInfo, Netlink, VethSpec};
use crate::osl::{OslError, OslResult};

const CREATE: u16 = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO;
const CHANGE: u16 = NLM_F_REQUEST | NLM_F_ACK;

impl Netlink {
    /// The link called `name`, or `None` if there is none.
    pub async fn link_by_name(&self, name: &str) -> OslResult<Option<LinkInfo>> {
        let mut query = LinkMessage::default();
        query
            .attributes
            .push(LinkAttribute::IfName(name.to_owned()));
        self.get_link(query, || format!("get link {name}")).await
    }

    /// The link with index `index`, or `None` if there is none.
    pub async fn link_by_index(&self, index: u32) -> OslResult<Option<LinkInfo>> {
        let mut query = LinkMessage::default();
        query.header.index = index;
        self.get_link(query, || format!("get link #{index}")).await
    }

    /// Makes the kernel apply a pending carrier change of link `index` now, so that the link
    /// can transmit when this returns; returns the link as it is then.
    ///
    /// Why: a link that comes up before its carrier (the host end of a veth, whose peer is
    /// raised later inside the sandbox; a bridge that just got its first port) starts
    /// transmitting only once the kernel's deferred link-watch work has run. Under netlink load
    /// (other namespaces creating or deleting links) that takes up to a second, and frames
    /// sent meanwhile are dropped. Since Linux 6.8 a single-link `RTM_GETLINK` runs that work
    /// for the link synchronously, which is what this sends. Call it on the host end after the
    /// sandbox end is up (and on the bridge for its first port) before reporting success.
    pub async fn sync_link(&self, index: u32) -> OslResult<LinkInfo> {
        let op = || format!("sync link #{index}");
        match self.link_by_index(index).await? {
            Some(link) => Ok(link),
            None => Err(OslError::Netlink {
                op: op(),
                errno: Errno::ENODEV,
            }),
        }
    }

    async fn get_link(
        &self,
        query: LinkMessage,
        op: impl Fn() -> String,
    ) -> OslResult<Option<LinkInfo>> {
        Ok(self
            .get_link_message(query, op)
            .await?
            .as_ref()
            .map(read_link))
    }

    /// One `RTM_GETLINK` for one link (by index or name); `None` on `ENODEV`.
    async fn get_link_message(
        &self,
        query: LinkMessage,
        op: impl Fn() -> String,
    ) -> OslResult<Option<LinkMessage>> {
        match self
            .request(RouteNetlinkMessage::GetLink(query), NLM_F_REQUEST, op)
            .await
        {
            Ok(answers) => Ok(answers.into_iter().find_map(|answer| match answer {
                RouteNetlinkMessage::NewLink(link) => Some(link),
                _ => None,
            })),
            Err(e) if e.errno() == Some(Errno::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn links(&self) -> OslResult<Vec<LinkInfo>> {
        let answers = self
            .request(
                RouteNetlinkMessage::GetLink(LinkMessage::default()),
                NLM_F_REQUEST | NLM_F_DUMP,
                || "list links".to_owned(),
            )
            .await?;
        Ok(answers.iter().filter_map(link_info).collect())
    }

    /// Creates a bridge with a random locally administered MAC; returns its index.
    pub async fn add_bridge(&self, name: &str, mtu: Option<u32>) -> OslResult<u32> {
        let mut bridge = LinkMessage::default();
        bridge
            .attributes
            .push(LinkAttribute::IfName(name.to_owned()));
        bridge
            .attributes
            .push(LinkAttribute::Address(random_local_mac().to_vec()));
        if let Some(mtu) = mtu {
            bridge.attributes.push(LinkAttribute::Mtu(mtu));
        }
        bridge
            .attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfoAttr::Kind(
                InfoKind::Bridge,
            )]));
        let created = self
            .create_link(bridge, name, || format!("add bridge {name}"))
            .await?;
        Ok(created.header.index)
    }

    /// Creates a veth pair per `spec` in one request: the peer is born in its namespace with
    /// its name, MAC and MTU; the host end is enslaved to `master` and up. Returns the host
    /// end's index.
    pub async fn add_veth(&self, spec: &VethSpec<'_>) -> OslResult<u32> {
        Ok(self.add_veth_pair(spec).await?.0)
    }

    /// `add_veth`, also returning the peer's index inside its namespace (from the same
    /// answer), so the caller needs no lookup there: `(host index, peer index)`.
    pub async fn add_veth_pair(&self, spec: &VethSpec<'_>) -> OslResult<(u32, u32)> {
        let mut peer = LinkMessage::default();
        peer.attributes
            .push(LinkAttribute::IfName(spec.peer_name.to_owned()));
        peer.attributes
            .push(LinkAttribute::NetNsFd(spec.peer_netns.as_raw_fd()));
        if let Some(mac) = spec.peer_mac {
            peer.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        if let Some(mtu) = spec.mtu {
            peer.attributes.push(LinkAttribute::Mtu(mtu));
        }

        let mut host = LinkMessage::default();
        host.header.flags = LinkFlags::Up;
        host.header.change_mask = LinkFlags::Up;
        host.attributes
            .push(LinkAttribute::IfName(spec.host_name.to_owned()));
        if let Some(mtu) = spec.mtu {
            host.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(master) = spec.master {
            host.attributes.push(LinkAttribute::Controller(master));
        }
        host.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfoAttr::Kind(InfoKind::Veth),
            LinkInfoAttr::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        let op = || format!("add veth {} (peer {})", spec.host_name, spec.peer_name);
        let created = self.create_link(host, spec.host_name, op).await?;
        let host_index = created.header.index;
        // IFLA_LINK of a veth is its peer's index; the kernel omits it when the two are equal.
        let peer_index = created
            .attributes
            .iter()
            .find_map(|attribute| match attribute {
                LinkAttribute::Link(peer) => Some(*peer),
                _ => None,
            })
            .unwrap_or(host_index);
        Ok((host_index, peer_index))
    }

    /// Sends a creation request and returns the new link as the kernel echoes it, or as a
    /// lookup finds it when the kernel does not echo (kernels before 6.3).
    async fn create_link(
        &self,
        link: LinkMessage,
        name: &str,
        op: impl Fn() -> String,
    ) -> OslResult<LinkMessage> {
        let answers = self
            .request(RouteNetlinkMessage::NewLink(link), CREATE, &op)
            .await?;
        let echoed = answers.into_iter().find_map(|answer| match answer {
            RouteNetlinkMessage::NewLink(link) if read_link(&link).name == name => Some(link),
            _ => None,
        });
        if let Some(created) = echoed {
            return Ok(created);
        }
        let mut query = LinkMessage::default();
        query
            .attributes
            .push(LinkAttribute::IfName(name.to_owned()));
        match self.get_link_message(query, &op).await? {
            Some(created) => Ok(created),
            None => Err(OslError::Netlink {
                op: op(),
                errno: Errno::ENODEV,
            }),
        }
    }

    pub async fn del_link(&self, index: u32) -> OslResult<()> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        self.request(RouteNetlinkMessage::DelLink(link), CHANGE, || {
            format!("delete link #{index}")
        })
        .await
        .map(drop)
    }

    pub async fn set_up(&self, index: u32) -> OslResult<()> {
        self.set_flag_up(index, true).await
    }

    pub async fn set_down(&self, index: u32) -> OslResult<()> {
        self.set_flag_up(index, false).await
    }

    async fn set_flag_up(&self, index: u32, up: bool) -> OslResult<()> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.header.change_mask = LinkFlags::Up;
        if up {
            link.header.flags = LinkFlags::Up;
        }
        let state = if up { "up" } else { "down" };
        self.set_link(link, || format!("set link #{index} {state}"))
            .await
    }

    pub async fn set_mtu(&self, index: u32, mtu: u32) -> OslResult<()> {
        let link = with_attribute(index, LinkAttribute::Mtu(mtu));
        self.set_link(link, || format!("set mtu {mtu} on link #{index}"))
            .await
    }

    /// Enslaves the link to the bridge `master`, or frees it with `None`.
    pub async fn set_master(&self, index: u32, master: Option<u32>) -> OslResult<()> {
        let link = with_attribute(index, LinkAttribute::Controller(master.unwrap_or(0)));
        self.set_link(link, || format!("set master {master:?} on link #{index}"))
            .await
    }

    /// Renames a link (the kernel requires it to be down).
    pub async fn rename(&self, index: u32, name: &str) -> OslResult<()> {
        let link = with_attribute(index, LinkAttribute::IfName(name.to_owned()));
        self.set_link(link, || format!("rename link #{index} to {name}"))
            .await
    }

    pub async fn set_mac(&self, index: u32, mac: [u8; 6]) -> OslResult<()> {
        let link = with_attribute(index, LinkAttribute::Address(mac.to_vec()));
        self.set_link(link, || {
            format!("set mac {} on link #{index}", format_mac(&mac))
        })
        .await
    }

    /// Moves a link into the namespace `netns`. Slow (about 20 ms of RCU wait): create links
    /// in place where the kernel allows it; this is for adopting existing links.
    pub async fn move_to_netns(&self, index: u32, netns: BorrowedFd<'_>) -> OslResult<()> {
        let link = with_attribute(index, LinkAttribute::NetNsFd(netns.as_raw_fd()));
        self.set_link(link, || format!("move link #{index} to another netns"))
            .await
    }

    /// Hairpin mode of a bridge port (frames may leave by the port they came in).
    pub async fn set_hairpin(&self, index: u32, on: bool) -> OslResult<()> {
        let link = with_attribute(
            index,
            LinkAttribute::LinkInfo(vec![
                LinkInfoAttr::PortKind(InfoPortKind::Bridge),
                LinkInfoAttr::PortData(InfoPortData::BridgePort(vec![
                    InfoBridgePort::HairpinMode(on),
                ])),
            ]),
        );
        // Port data is only applied by RTM_NEWLINK on an existing link, not by RTM_SETLINK.
        self.request(RouteNetlinkMessage::NewLink(link), CHANGE, || {
            format!("set hairpin {on} on link #{index}")
        })
        .await
        .map(drop)
    }

    async fn set_link(&self, link: LinkMessage, op: impl Fn() -> String) -> OslResult<()> {
        self.request(RouteNetlinkMessage::SetLink(link), CHANGE, op)
            .await
            .map(drop)
    }
}

fn with_attribute(index: u32, attribute: LinkAttribute) -> LinkMessage {
    let mut link = LinkMessage::default();
    link.header.index = index;
    link.attributes.push(attribute);
    link
}

/// Our view of a `RTM_NEWLINK` answer; `None` for any other message.
fn link_info(message: &RouteNetlinkMessage) -> Option<LinkInfo> {
    match message {
        RouteNetlinkMessage::NewLink(link) => Some(read_link(link)),
        _ => None,
    }
}

fn read_link(link: &LinkMessage) -> LinkInfo {
    let mut info = LinkInfo {
        index: link.header.index,
        name: String::new(),
        kind: None,
        master: None,
        mac: None,
        mtu: 0,
        up: link.header.flags.contains(LinkFlags::Up),
    };
    for attribute in &link.attributes {
        match attribute {
            LinkAttribute::IfName(name) => info.name.clone_from(name),
            LinkAttribute::Mtu(mtu) => info.mtu = *mtu,
            LinkAttribute::Controller(master) if *master != 0 => info.master = Some(*master),
            LinkAttribute::Address(mac) => info.mac = <[u8; 6]>::try_from(mac.as_slice()).ok(),
            LinkAttribute::LinkInfo(infos) => {
                for item in infos {
                    if let LinkInfoAttr::Kind(kind) = item {
                        info.kind = Some(kind.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    info
}

/// A random unicast, locally administered MAC (as Docker gives its bridges).
fn random_local_mac() -> [u8; 6] {
    let mut mac: [u8; 6] = rand::random();
    mac[0] = (mac[0] & 0xfe) | 0x02;
    mac
}

fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_macs_are_unicast_and_locally_administered() {
        for _ in 0..64 {
            let mac = random_local_mac();
            assert_eq!(
                mac[0] & 0x01,
                0,
                "multicast bit set in {}",
                format_mac(&mac)
            );
            assert_eq!(
                mac[0] & 0x02,
                0x02,
                "local bit clear in {}",
                format_mac(&mac)
            );
        }
    }

    #[test]
    fn link_messages_are_read_into_link_info() {
        let mut message = LinkMessage::default();
        message.header.index = 7;
        message.header.flags = LinkFlags::Up | LinkFlags::Broadcast;
        message.attributes = vec![
            LinkAttribute::IfName("br0".into()),
            LinkAttribute::Mtu(1450),
            LinkAttribute::Controller(3),
            LinkAttribute::Address(vec![2, 0, 0, 0, 0, 1]),
            LinkAttribute::LinkInfo(vec![LinkInfoAttr::Kind(InfoKind::Bridge)]),
        ];
        let info = link_info(&RouteNetlinkMessage::NewLink(message)).unwrap();
        assert_eq!(
            info,
            LinkInfo {
                index: 7,
                name: "br0".into(),
                kind: Some("bridge".into()),
                master: Some(3),
                mac: Some([2, 0, 0, 0, 0, 1]),
                mtu: 1450,
                up: true,
            }
        );
    }
}
