//! The netlink messages of `sublink.rs`, checked down to the bytes the kernel reads: this
//! machine's kernel has no ipvlan, 802.1q or dummy links, so these paths are proven here.

use std::os::fd::{AsFd, BorrowedFd};

use rtnetlink::packet_core::{Emitable, Parseable};
use rtnetlink::packet_route::link::LinkMessage;

use super::*;

// linux/if_link.h
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_LINK: u16 = 5;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const IFLA_MACVLAN_MODE: u16 = 1;
const IFLA_IPVLAN_MODE: u16 = 1;
const IFLA_IPVLAN_FLAGS: u16 = 2;
const IFLA_VLAN_ID: u16 = 1;
const IFINFOMSG_LEN: usize = 16;
const IFF_UP: u32 = 1;

/// The message as the kernel receives it.
fn wire(message: &LinkMessage) -> Vec<u8> {
    let mut bytes = vec![0; message.buffer_len()];
    message.emit(&mut bytes);
    let parsed = LinkMessage::parse(bytes.as_slice()).expect("the emitted message parses back");
    assert_eq!(&parsed, message, "emit/parse round trip");
    bytes
}

/// `(type, payload)` of each attribute in `bytes` (netlink TLVs, 4-byte aligned).
fn attributes(mut bytes: &[u8]) -> Attributes {
    let mut out = Vec::new();
    while bytes.len() >= 4 {
        let len = u16::from_ne_bytes([bytes[0], bytes[1]]) as usize;
        let kind = u16::from_ne_bytes([bytes[2], bytes[3]]) & 0x3fff;
        assert!(len >= 4 && len <= bytes.len(), "bad attribute length {len}");
        out.push((kind, bytes[4..len].to_vec()));
        bytes = &bytes[((len + 3) & !3).min(bytes.len())..];
    }
    out
}

fn find(attributes: &[(u16, Vec<u8>)], kind: u16) -> Option<Vec<u8>> {
    attributes
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, v)| v.clone())
}

fn u32_of(bytes: &[u8]) -> u32 {
    u32::from_ne_bytes(bytes.try_into().expect("4 bytes"))
}

fn u16_of(bytes: &[u8]) -> u16 {
    u16::from_ne_bytes(bytes.try_into().expect("2 bytes"))
}

/// `(type, payload)` attributes.
type Attributes = Vec<(u16, Vec<u8>)>;

/// `ifi_flags`, the top-level attributes, `IFLA_INFO_KIND` and what `IFLA_INFO_DATA` holds.
fn decode(message: &LinkMessage) -> (u32, Attributes, String, Attributes) {
    let bytes = wire(message);
    let flags = u32_of(&bytes[8..12]);
    let top = attributes(&bytes[IFINFOMSG_LEN..]);
    let info = attributes(&find(&top, IFLA_LINKINFO).expect("IFLA_LINKINFO"));
    let kind = find(&info, IFLA_INFO_KIND).expect("IFLA_INFO_KIND");
    let kind = String::from_utf8(kind)
        .unwrap()
        .trim_end_matches('\0')
        .to_owned();
    let data = find(&info, IFLA_INFO_DATA)
        .map(|d| attributes(&d))
        .unwrap_or_default();
    (flags, top, kind, data)
}

fn name_of(top: &[(u16, Vec<u8>)]) -> String {
    String::from_utf8(find(top, IFLA_IFNAME).expect("IFLA_IFNAME"))
        .unwrap()
        .trim_end_matches('\0')
        .to_owned()
}

fn spec<'a>(kind: StackedKind, netns: Option<BorrowedFd<'a>>) -> StackedSpec<'a> {
    StackedSpec {
        name: "eth0",
        parent: 7,
        kind,
        netns,
        mac: Some([2, 0, 0, 0, 0, 9]),
        mtu: Some(1400),
    }
}

#[test]
fn ipvlan_ports_carry_mode_and_flag_and_no_mac() {
    let cases = [
        (IpvlanMode::L2, IpvlanFlag::Bridge, 0u16, 0u16),
        (IpvlanMode::L3, IpvlanFlag::Private, 1, 1),
        (IpvlanMode::L3s, IpvlanFlag::Vepa, 2, 2),
    ];
    for (mode, flag, wire_mode, wire_flags) in cases {
        let (flags, top, kind, data) = decode(&stacked_message(&spec(
            StackedKind::Ipvlan { mode, flag },
            None,
        )));
        assert_eq!(kind, "ipvlan");
        assert_eq!(name_of(&top), "eth0");
        assert_eq!(u32_of(&find(&top, IFLA_LINK).expect("IFLA_LINK")), 7);
        assert_eq!(u32_of(&find(&top, IFLA_MTU).expect("IFLA_MTU")), 1400);
        assert_eq!(
            find(&top, IFLA_ADDRESS),
            None,
            "ipvlan ports share the parent's MAC"
        );
        assert_eq!(
            u16_of(&find(&data, IFLA_IPVLAN_MODE).expect("mode")),
            wire_mode,
            "{mode:?}"
        );
        assert_eq!(
            u16_of(&find(&data, IFLA_IPVLAN_FLAGS).expect("flags")),
            wire_flags,
            "{flag:?}"
        );
        assert_eq!(
            flags & IFF_UP,
            0,
            "ports are created down and raised once configured"
        );
    }
}

#[test]
fn macvlan_ports_carry_mode_and_mac() {
    for (mode, wire_mode) in [
        (MacvlanMode::Private, 1u32),
        (MacvlanMode::Vepa, 2),
        (MacvlanMode::Bridge, 4),
        (MacvlanMode::Passthru, 8),
    ] {
        let (_, top, kind, data) =
            decode(&stacked_message(&spec(StackedKind::Macvlan(mode), None)));
        assert_eq!(kind, "macvlan");
        assert_eq!(find(&top, IFLA_ADDRESS), Some(vec![2, 0, 0, 0, 0, 9]));
        assert_eq!(
            u32_of(&find(&data, IFLA_MACVLAN_MODE).expect("mode")),
            wire_mode,
            "{mode:?}"
        );
    }
}

#[test]
fn ports_for_a_sandbox_name_its_namespace_by_fd() {
    let file = std::fs::File::open("/proc/self/ns/net")
        .or_else(|_| std::fs::File::open("/dev/null"))
        .unwrap();
    let fd = file.as_fd();
    let message = stacked_message(&spec(StackedKind::Macvlan(MacvlanMode::Bridge), Some(fd)));
    let (_, top, _, _) = decode(&message);
    let sent = find(&top, IFLA_NET_NS_FD).expect("IFLA_NET_NS_FD");
    assert_eq!(u32_of(&sent) as i32, std::os::fd::AsRawFd::as_raw_fd(&fd));
    let (_, top, _, _) = decode(&stacked_message(&spec(
        StackedKind::Macvlan(MacvlanMode::Bridge),
        None,
    )));
    assert_eq!(
        find(&top, IFLA_NET_NS_FD),
        None,
        "no namespace: created where the parent is"
    );
}

#[test]
fn vlan_sub_interfaces_carry_the_id_and_parent_and_come_up() {
    let (flags, top, kind, data) = decode(&vlan_message("eth0.10", 3, 10));
    assert_eq!(kind, "vlan");
    assert_eq!(name_of(&top), "eth0.10");
    assert_eq!(u32_of(&find(&top, IFLA_LINK).expect("IFLA_LINK")), 3);
    assert_eq!(
        u16_of(&find(&data, IFLA_VLAN_ID).expect("IFLA_VLAN_ID")),
        10
    );
    assert_eq!(flags & IFF_UP, IFF_UP, "Docker brings the sub-interface up");
    let (_, _, _, data) = decode(&vlan_message("eth0.4094", 3, 4094));
    assert_eq!(u16_of(&find(&data, IFLA_VLAN_ID).unwrap()), 4094);
}

#[test]
fn stand_in_parents_are_dummy_or_ifb_and_come_up() {
    for (kind, name) in [(ParentKind::Dummy, "dummy"), (ParentKind::Ifb, "ifb")] {
        let (flags, top, wire_kind, data) = decode(&parent_message("dm-0123456789ab", kind));
        assert_eq!(wire_kind, name);
        assert_eq!(kind.kind_name(), name);
        assert_eq!(name_of(&top), "dm-0123456789ab");
        assert_eq!(find(&top, IFLA_LINK), None);
        assert!(data.is_empty());
        assert_eq!(flags & IFF_UP, IFF_UP);
    }
}

#[test]
fn unknown_kinds_are_recognised_by_errno() {
    let unsupported = OslError::Netlink {
        op: "add ipvlan".into(),
        errno: Errno::EOPNOTSUPP,
    };
    assert!(unsupported_kind(&unsupported));
    let other = OslError::Netlink {
        op: "add ipvlan".into(),
        errno: Errno::EEXIST,
    };
    assert!(!unsupported_kind(&other));
}
