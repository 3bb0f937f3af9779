//! Element additions and deletions encoded as one nfnetlink batch (one nftables transaction),
//! without libnftables.
//!
//! Why: before every transaction libnftables fills a cache by dumping the elements of every
//! interval set in the table, so each network create or removal cost grew with the number of
//! networks (O(N) dumps, parsed in user space). Sent directly, a change costs the same at any
//! size: the kernel's own set updates are hash or tree inserts.
//!
//! Contract: `Batch::new` starts a transaction; `add`/`delete` append one `NEWSETELEM` /
//! `DELSETELEM` message per call, for elements of one declared set; `finish` closes it and
//! returns the bytes and the sequence numbers of the messages that ask for an acknowledgement.
//! Elements are encoded exactly as nft 1.0 encodes them, so `nft list` reads them back the
//! same (and reconciliation sees no drift):
//! - hash sets and maps: the key (and data), fields of a concatenation padded to 4 bytes;
//! - interval sets of one field (rbtree): a start element at `lo` and an end element
//!   (`NFT_SET_ELEM_INTERVAL_END`) at `hi + 1`; when `hi` is the largest value there is no end
//!   element and the start carries nft's "open interval" user data;
//! - interval sets of concatenations (pipapo): one element with `KEY` = every field's `lo`
//!   and `KEY_END` = every field's `hi`.

use std::net::IpAddr;

use super::elements::{Kind, Part};
use super::layout::{SetDecl, TABLE};

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 16;
const NFNL_MSG_BATCH_END: u16 = 17;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
const NFPROTO_INET: u8 = 1;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;
const NLA_F_NESTED: u16 = 0x8000;

const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_DATA: u16 = 2;
const NFTA_SET_ELEM_FLAGS: u16 = 3;
const NFTA_SET_ELEM_USERDATA: u16 = 6;
const NFTA_SET_ELEM_KEY_END: u16 = 10;
const NFTA_DATA_VALUE: u16 = 1;
const NFT_SET_ELEM_INTERVAL_END: u32 = 1;
/// libnftnl's user data TLV `NFTNL_UDATA_SET_ELEM_FLAGS` = `NFTNL_SET_ELEM_F_INTERVAL_OPEN`.
const OPEN_INTERVAL_UDATA: [u8; 6] = [1, 4, 1, 0, 0, 0];

/// Elements per message: keeps each message well under a page-sized multiple the kernel
/// parses in one go, as nft does.
const ELEMENTS_PER_MESSAGE: usize = 256;

/// The bytes of one field value, unpadded; `hi` picks the range's upper end.
fn field_bytes(kind: Kind, part: &Part, hi: bool) -> Option<Vec<u8>> {
    Some(match (kind, part) {
        (Kind::Ipv4, Part::Addr(lo, high)) => match if hi { high } else { lo } {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(_) => return None,
        },
        (Kind::Ipv6, Part::Addr(lo, high)) => match if hi { high } else { lo } {
            IpAddr::V6(a) => a.octets().to_vec(),
            IpAddr::V4(_) => return None,
        },
        (Kind::Ifname, Part::Name(n)) => {
            let mut b = n.as_bytes().to_vec();
            if b.len() > 15 {
                return None;
            }
            b.resize(16, 0);
            b
        }
        (Kind::InetProto, Part::Proto(p)) | (Kind::NfProto, Part::Family(p)) => vec![*p],
        (Kind::InetService, Part::Port(lo, high)) => {
            (if hi { *high } else { *lo }).to_be_bytes().to_vec()
        }
        _ => return None,
    })
}

/// A key or data value: one field as is, a concatenation with each field padded to 4 bytes.
fn value_bytes(kinds: &[Kind], parts: &[Part], hi: bool) -> Option<Vec<u8>> {
    if kinds.len() != parts.len() {
        return None;
    }
    if let [kind] = kinds {
        return field_bytes(*kind, &parts[0], hi);
    }
    let mut out = Vec::new();
    for (kind, part) in kinds.iter().zip(parts) {
        out.extend(field_bytes(*kind, part, hi)?);
        out.resize(out.len().div_ceil(4) * 4, 0);
    }
    Some(out)
}

/// `bytes + 1` as a big-endian number; `None` when it overflows (`bytes` is all ones).
fn successor(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = bytes.to_vec();
    for b in out.iter_mut().rev() {
        let (v, carry) = b.overflowing_add(1);
        *b = v;
        if !carry {
            return Some(out);
        }
    }
    None
}

/// An element that cannot be encoded for its set (a kind mismatch: a bug, not input).
#[derive(Debug, PartialEq, Eq)]
pub struct Unencodable(pub &'static str);

/// One kernel set element: key, optional end key, data, flags, user data.
#[derive(Default)]
struct Wire {
    key: Vec<u8>,
    key_end: Option<Vec<u8>>,
    data: Option<Vec<u8>>,
    flags: u32,
    udata: Option<&'static [u8]>,
}

/// The kernel elements of one cnm element (two for a closed interval in a one-field set).
fn wire_elements(
    decl: &SetDecl,
    key: &[Part],
    data: Option<&[Part]>,
    with_data: bool,
) -> Result<Vec<Wire>, Unencodable> {
    let bad = || Unencodable(decl.name);
    let lo = value_bytes(decl.key, key, false).ok_or_else(bad)?;
    let data = match (decl.data, data, with_data) {
        (Some(kinds), Some(d), true) => Some(value_bytes(kinds, d, false).ok_or_else(bad)?),
        (Some(_), None, true) => return Err(bad()),
        _ => None,
    };
    if !decl.interval {
        return Ok(vec![Wire {
            key: lo,
            data,
            ..Wire::default()
        }]);
    }
    let hi = value_bytes(decl.key, key, true).ok_or_else(bad)?;
    if decl.key.len() > 1 {
        return Ok(vec![Wire {
            key: lo,
            key_end: Some(hi),
            data,
            ..Wire::default()
        }]);
    }
    Ok(match successor(&hi) {
        Some(end) => vec![
            Wire {
                key: lo,
                data,
                ..Wire::default()
            },
            Wire {
                key: end,
                flags: NFT_SET_ELEM_INTERVAL_END,
                ..Wire::default()
            },
        ],
        None => vec![Wire {
            key: lo,
            data,
            udata: Some(&OPEN_INTERVAL_UDATA),
            ..Wire::default()
        }],
    })
}

/// Netlink attribute writer over a message buffer.
struct Attrs<'a>(&'a mut Vec<u8>);

impl Attrs<'_> {
    fn put(&mut self, kind: u16, payload: &[u8]) {
        let len = 4 + payload.len();
        self.0.extend((len as u16).to_ne_bytes());
        self.0.extend(kind.to_ne_bytes());
        self.0.extend(payload);
        self.pad();
    }

    fn pad(&mut self) {
        let padded = self.0.len().div_ceil(4) * 4;
        self.0.resize(padded, 0);
    }

    /// Starts a nested attribute; `end` fills in its length.
    fn begin(&mut self, kind: u16) -> usize {
        let at = self.0.len();
        self.0.extend([0, 0]);
        self.0.extend((kind | NLA_F_NESTED).to_ne_bytes());
        at
    }

    fn end(&mut self, at: usize) {
        let len = (self.0.len() - at) as u16;
        self.0[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn nested_value(&mut self, kind: u16, value: &[u8]) {
        let at = self.begin(kind);
        self.put(NFTA_DATA_VALUE, value);
        self.end(at);
    }

    fn string(&mut self, kind: u16, s: &str) {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        self.put(kind, &b);
    }
}

/// A transaction being built.
pub struct Batch {
    buf: Vec<u8>,
    next_seq: u32,
    acked: Vec<u32>,
}

impl Batch {
    /// Starts a batch whose messages are numbered from `first_seq`.
    pub fn new(first_seq: u32) -> Batch {
        let mut b = Batch {
            buf: Vec::with_capacity(1024),
            next_seq: first_seq,
            acked: Vec::new(),
        };
        b.message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, 0, NFNL_SUBSYS_NFTABLES);
        b
    }

    /// Appends a message header and nfgenmsg; returns its start and sequence number.
    fn message(&mut self, kind: u16, flags: u16, family: u8, res_id: u16) -> (usize, u32) {
        let at = self.buf.len();
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.buf.extend(0u32.to_ne_bytes()); // length, filled in by `close`
        self.buf.extend(kind.to_ne_bytes());
        self.buf.extend(flags.to_ne_bytes());
        self.buf.extend(seq.to_ne_bytes());
        self.buf.extend(0u32.to_ne_bytes()); // port id: the kernel
        self.buf.extend([family, 0]);
        self.buf.extend(res_id.to_be_bytes());
        self.close(at);
        (at, seq)
    }

    fn close(&mut self, at: usize) {
        let len = (self.buf.len() - at) as u32;
        self.buf[at..at + 4].copy_from_slice(&len.to_ne_bytes());
    }

    /// Adds `elements` (key, data) to `decl`'s set.
    pub fn add(
        &mut self,
        decl: &SetDecl,
        elements: &[(&[Part], Option<&[Part]>)],
    ) -> Result<(), Unencodable> {
        self.elements(NFT_MSG_NEWSETELEM, NLM_F_CREATE, decl, elements, true)
    }

    /// Deletes `elements` (by key) from `decl`'s set.
    pub fn delete(
        &mut self,
        decl: &SetDecl,
        elements: &[(&[Part], Option<&[Part]>)],
    ) -> Result<(), Unencodable> {
        self.elements(NFT_MSG_DELSETELEM, 0, decl, elements, false)
    }

    fn elements(
        &mut self,
        msg: u16,
        extra_flags: u16,
        decl: &SetDecl,
        elements: &[(&[Part], Option<&[Part]>)],
        with_data: bool,
    ) -> Result<(), Unencodable> {
        let mut wires = Vec::with_capacity(elements.len());
        for (key, data) in elements {
            wires.extend(wire_elements(decl, key, *data, with_data)?);
        }
        for chunk in wires.chunks(ELEMENTS_PER_MESSAGE) {
            let (at, seq) = self.message(
                (NFNL_SUBSYS_NFTABLES << 8) | msg,
                NLM_F_REQUEST | NLM_F_ACK | extra_flags,
                NFPROTO_INET,
                0,
            );
            self.acked.push(seq);
            let mut a = Attrs(&mut self.buf);
            a.string(NFTA_SET_ELEM_LIST_TABLE, TABLE);
            a.string(NFTA_SET_ELEM_LIST_SET, decl.name);
            let list = a.begin(NFTA_SET_ELEM_LIST_ELEMENTS);
            for w in chunk {
                let elem = a.begin(NFTA_LIST_ELEM);
                a.nested_value(NFTA_SET_ELEM_KEY, &w.key);
                if let Some(end) = &w.key_end {
                    a.nested_value(NFTA_SET_ELEM_KEY_END, end);
                }
                if let Some(data) = &w.data {
                    a.nested_value(NFTA_SET_ELEM_DATA, data);
                }
                a.put(NFTA_SET_ELEM_FLAGS, &w.flags.to_be_bytes());
                if let Some(u) = w.udata {
                    a.put(NFTA_SET_ELEM_USERDATA, u);
                }
                a.end(elem);
            }
            a.end(list);
            self.close(at);
        }
        Ok(())
    }

    /// Whether no element message was added.
    pub fn is_empty(&self) -> bool {
        self.acked.is_empty()
    }

    /// Closes the batch: its bytes, and the sequence numbers whose acknowledgements to await.
    pub fn finish(mut self) -> (Vec<u8>, Vec<u32>) {
        self.message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, 0, NFNL_SUBSYS_NFTABLES);
        (self.buf, self.acked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::elements::{TCP, any_addr};
    use crate::firewall::layout::set_decl;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn one(
        set: &str,
        key: &[Part],
        data: Option<&[Part]>,
    ) -> Vec<(String, Option<String>, Option<String>, u32)> {
        wire_elements(set_decl(set).unwrap(), key, data, true)
            .unwrap()
            .into_iter()
            .map(|w| {
                (
                    hex(&w.key),
                    w.key_end.map(|e| hex(&e)),
                    w.data.map(|d| hex(&d)),
                    w.flags,
                )
            })
            .collect()
    }

    // Expected bytes are those `nft --debug=netlink add element` (nft 1.0.6) sends.
    #[test]
    fn one_field_intervals_are_a_start_and_an_end_element() {
        let net = Part::net("172.18.0.0/16".parse().unwrap());
        assert_eq!(
            one("masq_v4", &[net], None),
            vec![
                ("ac120000".into(), None, None, 0),
                ("ac130000".into(), None, None, NFT_SET_ELEM_INTERVAL_END),
            ]
        );
        let top = Part::net("255.255.255.0/24".parse().unwrap());
        let w = wire_elements(set_decl("masq_v4").unwrap(), &[top], None, true).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].udata, Some(&OPEN_INTERVAL_UDATA[..]));
        let snat = one(
            "snat_v4",
            &[Part::net("172.20.0.0/16".parse().unwrap())],
            Some(&[Part::addr(ip("1.2.3.4"))]),
        );
        assert_eq!(
            snat[0],
            ("ac140000".into(), None, Some("01020304".into()), 0)
        );
        assert_eq!(snat[1].0, "ac150000");
    }

    #[test]
    fn concatenations_pad_each_field_and_carry_an_end_key() {
        let own = one(
            "own_v4",
            &[
                Part::net("172.18.0.0/16".parse().unwrap()),
                Part::name("br-x"),
            ],
            None,
        );
        let name = "62722d78000000000000000000000000";
        assert_eq!(
            own,
            vec![(
                format!("ac120000{name}"),
                Some(format!("ac12ffff{name}")),
                None,
                0
            )]
        );
        let dnat = one(
            "dnat_v4",
            &[
                Part::addr(ip("1.2.3.4")),
                Part::Proto(TCP),
                Part::Port(80, 80),
            ],
            Some(&[Part::addr(ip("172.18.0.2")), Part::Port(8080, 8080)]),
        );
        assert_eq!(
            dnat,
            vec![(
                "010203040600000000500000".into(),
                None,
                Some("ac1200021f900000".into()),
                0
            )]
        );
        let range = one(
            "published_range_v4",
            &[any_addr(false), Part::Proto(TCP), Part::Port(9000, 9100)],
            None,
        );
        assert_eq!(
            range,
            vec![(
                "000000000600000023280000".into(),
                Some("ffffffff06000000238c0000".into()),
                None,
                0
            )]
        );
        assert_eq!(
            one("forward_guard", &[Part::Family(2)], None),
            vec![("02".into(), None, None, 0)]
        );
    }

    #[test]
    fn deletes_name_keys_only_and_mismatches_are_refused() {
        let decl = set_decl("snat_v4").unwrap();
        let key = [Part::net("172.20.0.0/16".parse().unwrap())];
        let w = wire_elements(decl, &key, None, false).unwrap();
        assert!(w.iter().all(|w| w.data.is_none()));
        assert!(wire_elements(decl, &key, None, true).is_err());
        assert!(wire_elements(decl, &[Part::name("x")], None, false).is_err());
    }

    #[test]
    fn a_batch_is_framed_and_acknowledged_per_message() {
        let mut b = Batch::new(100);
        assert!(b.is_empty());
        let key = [Part::name("br-a")];
        b.add(set_decl("bridges").unwrap(), &[(&key[..], None)])
            .unwrap();
        let (bytes, acked) = b.finish();
        assert_eq!(acked, vec![101]);
        // Three messages, each length-prefixed, covering the buffer exactly.
        let mut off = 0;
        let mut kinds = Vec::new();
        while off < bytes.len() {
            let len = u32::from_ne_bytes(bytes[off..off + 4].try_into().unwrap()) as usize;
            kinds.push(u16::from_ne_bytes(
                bytes[off + 4..off + 6].try_into().unwrap(),
            ));
            off += len;
        }
        assert_eq!(off, bytes.len());
        assert_eq!(kinds, vec![16, (10 << 8) | 12, 17]);
    }
}
