//! Links stacked on a parent link: macvlan and ipvlan endpoints, 802.1q sub-interfaces, and
//! the dummy-like parents of networks that have no parent.
//!
//! Contract:
//! - The `*_message` functions build the exact `RTM_NEWLINK` body cnm sends, so unit tests can
//!   check every attribute without a kernel (this kernel has no ipvlan, 802.1q or dummy links).
//! - `add_stacked` sends its message on this handle, so `IFLA_LINK` names a parent in this
//!   handle's namespace; with `netns` set the kernel creates the link directly inside that
//!   namespace under its final name (`IFLA_NET_NS_FD`): nothing is moved or renamed afterwards.
//!   The new link is left down. It returns no index: the kernel's echo goes to the target
//!   namespace, so the caller looks the link up there.
//! - `add_vlan` and `add_parent_link` create a link in this handle's namespace, up, and return
//!   its index.
//! - A link kind the kernel does not know fails with `EOPNOTSUPP` ("Unknown device type");
//!   `unsupported_kind` recognises it.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;
use rtnetlink::packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_ECHO, NLM_F_EXCL, NLM_F_REQUEST};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::link::{
    InfoData, InfoIpVlan, InfoKind, InfoMacVlan, InfoVlan, IpVlanFlags, IpVlanMode, LinkAttribute,
    LinkFlags, LinkInfo as LinkInfoAttr, LinkMessage, MacVlanMode,
};

use super::Netlink;
use crate::osl::{OslError, OslResult};

const CREATE: u16 = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;

/// The four macvlan port modes Docker offers (`-o macvlan_mode=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacvlanMode {
    Bridge,
    Private,
    Vepa,
    Passthru,
}

/// ipvlan modes (`-o ipvlan_mode=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpvlanMode {
    L2,
    L3,
    L3s,
}

/// ipvlan flags (`-o ipvlan_flag=`); `Bridge` is the kernel's 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpvlanFlag {
    Bridge,
    Private,
    Vepa,
}

/// What kind of port to stack on the parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackedKind {
    Macvlan(MacvlanMode),
    Ipvlan { mode: IpvlanMode, flag: IpvlanFlag },
}

impl StackedKind {
    /// The kernel's name of the link kind, as `LinkInfo::kind` reports it.
    pub fn kind_name(self) -> &'static str {
        match self {
            StackedKind::Macvlan(_) => "macvlan",
            StackedKind::Ipvlan { .. } => "ipvlan",
        }
    }
}

/// A macvlan or ipvlan port to create.
#[derive(Clone, Debug)]
pub struct StackedSpec<'a> {
    /// The link's name (in the target namespace when `netns` is set).
    pub name: &'a str,
    /// Index of the parent link in the namespace of the handle that sends the request.
    pub parent: u32,
    pub kind: StackedKind,
    /// Create the link directly inside this namespace.
    pub netns: Option<BorrowedFd<'a>>,
    /// macvlan only: ipvlan ports always share their parent's MAC address.
    pub mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
}

/// Links that can stand in for a parent when a network has none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParentKind {
    /// What Docker creates.
    Dummy,
    /// An Ethernet-type link that drops every frame sent to it, like a dummy: for kernels
    /// built without dummy links.
    Ifb,
}

impl ParentKind {
    pub fn kind_name(self) -> &'static str {
        match self {
            ParentKind::Dummy => "dummy",
            ParentKind::Ifb => "ifb",
        }
    }
}

/// The `RTM_NEWLINK` body of a macvlan or ipvlan port.
pub fn stacked_message(spec: &StackedSpec<'_>) -> LinkMessage {
    let mut link = LinkMessage::default();
    link.attributes
        .push(LinkAttribute::IfName(spec.name.to_owned()));
    link.attributes.push(LinkAttribute::Link(spec.parent));
    if let Some(netns) = spec.netns {
        link.attributes
            .push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
    }
    if let (Some(mac), StackedKind::Macvlan(_)) = (spec.mac, spec.kind) {
        link.attributes.push(LinkAttribute::Address(mac.to_vec()));
    }
    if let Some(mtu) = spec.mtu {
        link.attributes.push(LinkAttribute::Mtu(mtu));
    }
    let (kind, data) = match spec.kind {
        StackedKind::Macvlan(mode) => {
            let mode = match mode {
                MacvlanMode::Bridge => MacVlanMode::Bridge,
                MacvlanMode::Private => MacVlanMode::Private,
                MacvlanMode::Vepa => MacVlanMode::Vepa,
                MacvlanMode::Passthru => MacVlanMode::Passthrough,
            };
            (
                InfoKind::MacVlan,
                InfoData::MacVlan(vec![InfoMacVlan::Mode(mode)]),
            )
        }
        StackedKind::Ipvlan { mode, flag } => {
            let mode = match mode {
                IpvlanMode::L2 => IpVlanMode::L2,
                IpvlanMode::L3 => IpVlanMode::L3,
                IpvlanMode::L3s => IpVlanMode::L3S,
            };
            let flags = match flag {
                IpvlanFlag::Bridge => IpVlanFlags::empty(),
                IpvlanFlag::Private => IpVlanFlags::Private,
                IpvlanFlag::Vepa => IpVlanFlags::Vepa,
            };
            (
                InfoKind::IpVlan,
                InfoData::IpVlan(vec![InfoIpVlan::Mode(mode), InfoIpVlan::Flags(flags)]),
            )
        }
    };
    link.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfoAttr::Kind(kind),
        LinkInfoAttr::Data(data),
    ]));
    link
}

/// The `RTM_NEWLINK` body of the 802.1q sub-interface `name` (VLAN `vid` on `parent`), up.
pub fn vlan_message(name: &str, parent: u32, vid: u16) -> LinkMessage {
    let mut link = up_link(name);
    link.attributes.push(LinkAttribute::Link(parent));
    link.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfoAttr::Kind(InfoKind::Vlan),
        LinkInfoAttr::Data(InfoData::Vlan(vec![InfoVlan::Id(vid)])),
    ]));
    link
}

/// The `RTM_NEWLINK` body of a stand-in parent `name`, up.
pub fn parent_message(name: &str, kind: ParentKind) -> LinkMessage {
    let mut link = up_link(name);
    let kind = match kind {
        ParentKind::Dummy => InfoKind::Dummy,
        ParentKind::Ifb => InfoKind::Ifb,
    };
    link.attributes
        .push(LinkAttribute::LinkInfo(vec![LinkInfoAttr::Kind(kind)]));
    link
}

fn up_link(name: &str) -> LinkMessage {
    let mut link = LinkMessage::default();
    link.header.flags = LinkFlags::Up;
    link.header.change_mask = LinkFlags::Up;
    link.attributes.push(LinkAttribute::IfName(name.to_owned()));
    link
}

/// True when the kernel refused a link because it does not know its kind.
pub fn unsupported_kind(error: &OslError) -> bool {
    error.errno() == Some(Errno::EOPNOTSUPP)
}

impl Netlink {
    /// Creates a macvlan or ipvlan port per `spec` (see the module contract).
    pub async fn add_stacked(&self, spec: &StackedSpec<'_>) -> OslResult<()> {
        let op = || {
            format!(
                "add {} {} on link #{}",
                spec.kind.kind_name(),
                spec.name,
                spec.parent
            )
        };
        self.request(
            RouteNetlinkMessage::NewLink(stacked_message(spec)),
            CREATE,
            op,
        )
        .await
        .map(drop)
    }

    /// Creates the 802.1q sub-interface `name` with VLAN id `vid` on `parent`, up.
    pub async fn add_vlan(&self, name: &str, parent: u32, vid: u16) -> OslResult<u32> {
        let op = || format!("add vlan {name} (id {vid}) on link #{parent}");
        self.create_here(vlan_message(name, parent, vid), name, op)
            .await
    }

    /// Creates a stand-in parent link, up.
    pub async fn add_parent_link(&self, name: &str, kind: ParentKind) -> OslResult<u32> {
        let op = || format!("add {} {name}", kind.kind_name());
        self.create_here(parent_message(name, kind), name, op).await
    }

    /// Creates a link in this namespace; its index comes from the kernel's echo, or from a
    /// lookup when the kernel does not echo.
    async fn create_here(
        &self,
        link: LinkMessage,
        name: &str,
        op: impl Fn() -> String,
    ) -> OslResult<u32> {
        let answers = self
            .request(RouteNetlinkMessage::NewLink(link), CREATE | NLM_F_ECHO, &op)
            .await?;
        let echoed = answers.iter().find_map(|answer| match answer {
            RouteNetlinkMessage::NewLink(link) if link_name(link) == Some(name) => {
                Some(link.header.index)
            }
            _ => None,
        });
        if let Some(index) = echoed {
            return Ok(index);
        }
        match self.link_by_name(name).await? {
            Some(link) => Ok(link.index),
            None => Err(OslError::Netlink {
                op: op(),
                errno: Errno::ENODEV,
            }),
        }
    }
}

fn link_name(link: &LinkMessage) -> Option<&str> {
    link.attributes
        .iter()
        .find_map(|attribute| match attribute {
            LinkAttribute::IfName(name) => Some(name.as_str()),
            _ => None,
        })
}

#[cfg(test)]
#[path = "sublink_tests.rs"]
mod tests;
