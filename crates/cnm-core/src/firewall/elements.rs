//! Elements of cnm's sets and maps: typed keys and values that render as nft syntax and parse
//! back from `nft -j` listings, so desired and kernel elements compare structurally.
//!
//! Contract: a `Part` is one component of a (possibly concatenated) key or value. Ranges are
//! inclusive and normalised (`lo <= hi`; a single value has `lo == hi`), so `10.0.0.0/24`,
//! `10.0.0.0-10.0.0.255` and their JSON forms all compare equal. Interface names are rendered
//! quoted and must not contain `"` or `\` (`check_name` enforces it where names enter).

use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::Value;

/// The datatypes cnm's sets use, by their nft names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ipv4,
    Ipv6,
    Ifname,
    InetProto,
    InetService,
    NfProto,
}

impl Kind {
    pub fn nft_name(self) -> &'static str {
        match self {
            Kind::Ipv4 => "ipv4_addr",
            Kind::Ipv6 => "ipv6_addr",
            Kind::Ifname => "ifname",
            Kind::InetProto => "inet_proto",
            Kind::InetService => "inet_service",
            Kind::NfProto => "nf_proto",
        }
    }
}

/// One component of a key or value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// An inclusive address range; one address has `lo == hi`.
    Addr(IpAddr, IpAddr),
    Name(String),
    /// IP protocol number (6 tcp, 17 udp, 132 sctp).
    Proto(u8),
    /// An inclusive port range.
    Port(u16, u16),
    /// Netfilter family: 2 ipv4, 10 ipv6.
    Family(u8),
}

pub type Key = Vec<Part>;
pub type Data = Vec<Part>;

pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const SCTP: u8 = 132;
pub const FAMILY_V4: u8 = 2;
pub const FAMILY_V6: u8 = 10;

impl Part {
    pub fn addr(ip: IpAddr) -> Part {
        Part::Addr(ip, ip)
    }

    /// Every address of a prefix, e.g. `0.0.0.0/0` for "any IPv4 address".
    pub fn net(net: ipnet::IpNet) -> Part {
        Part::Addr(net.network(), net.broadcast())
    }

    pub fn name(name: &str) -> Part {
        Part::Name(name.to_string())
    }
}

/// Refuses interface names that could not be quoted safely in an nft script.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
    if ok {
        Ok(())
    } else {
        Err(format!("invalid interface name {name:?}"))
    }
}

fn proto_name(p: u8) -> Option<&'static str> {
    match p {
        TCP => Some("tcp"),
        UDP => Some("udp"),
        SCTP => Some("sctp"),
        1 => Some("icmp"),
        58 => Some("ipv6-icmp"),
        _ => None,
    }
}

fn proto_number(name: &str) -> Option<u8> {
    match name {
        "tcp" => Some(TCP),
        "udp" => Some(UDP),
        "sctp" => Some(SCTP),
        "icmp" => Some(1),
        "ipv6-icmp" | "icmpv6" => Some(58),
        other => other.parse().ok(),
    }
}

/// The prefix length when `lo..=hi` is exactly one aligned prefix.
fn prefix_len(lo: IpAddr, hi: IpAddr) -> Option<u8> {
    let (lo, hi, bits) = match (lo, hi) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) as u128, u32::from(b) as u128, 32u32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128u32),
        _ => return None,
    };
    let span = hi.checked_sub(lo)?.checked_add(1);
    let host_bits = match span {
        None => 128, // the whole IPv6 space
        Some(s) if s.is_power_of_two() => s.trailing_zeros(),
        Some(_) => return None,
    };
    let aligned = host_bits == 128 || lo & ((1u128 << host_bits) - 1) == 0;
    (aligned && host_bits <= bits).then(|| (bits - host_bits) as u8)
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Addr(lo, hi) if lo == hi => write!(f, "{lo}"),
            Part::Addr(lo, hi) => match prefix_len(*lo, *hi) {
                Some(len) => write!(f, "{lo}/{len}"),
                None => write!(f, "{lo}-{hi}"),
            },
            Part::Name(n) => write!(f, "\"{n}\""),
            Part::Proto(p) => match proto_name(*p) {
                Some(name) => f.write_str(name),
                None => write!(f, "{p}"),
            },
            Part::Port(lo, hi) if lo == hi => write!(f, "{lo}"),
            Part::Port(lo, hi) => write!(f, "{lo}-{hi}"),
            Part::Family(FAMILY_V4) => f.write_str("ipv4"),
            Part::Family(FAMILY_V6) => f.write_str("ipv6"),
            Part::Family(n) => write!(f, "{n}"),
        }
    }
}

/// `a . b . c`
pub fn render_parts(parts: &[Part], out: &mut String) {
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(" . ");
        }
        let _ = write!(out, "{p}");
    }
}

/// `key` or `key : data`
pub fn render_element(key: &[Part], data: Option<&[Part]>, out: &mut String) {
    render_parts(key, out);
    if let Some(data) = data {
        out.push_str(" : ");
        render_parts(data, out);
    }
}

fn ip_of(v: &Value) -> Option<IpAddr> {
    v.as_str()?.parse().ok()
}

fn prefix_range(addr: IpAddr, len: u8) -> Option<(IpAddr, IpAddr)> {
    let net = ipnet::IpNet::new(addr, len).ok()?;
    Some((net.network(), net.broadcast()))
}

/// Reads one component of a listed element, knowing its datatype.
pub fn part_from_json(kind: Kind, v: &Value) -> Option<Part> {
    match kind {
        Kind::Ipv4 | Kind::Ipv6 => {
            if let Some(ip) = ip_of(v) {
                return Some(Part::addr(ip));
            }
            if let Some(p) = v.get("prefix") {
                let (lo, hi) = prefix_range(ip_of(p.get("addr")?)?, p.get("len")?.as_u64()? as u8)?;
                return Some(Part::Addr(lo, hi));
            }
            let r = v.get("range")?.as_array()?;
            Some(Part::Addr(ip_of(r.first()?)?, ip_of(r.get(1)?)?))
        }
        Kind::Ifname => Some(Part::Name(v.as_str()?.to_string())),
        Kind::InetProto => match v {
            Value::Number(n) => Some(Part::Proto(n.as_u64()? as u8)),
            Value::String(s) => Some(Part::Proto(proto_number(s)?)),
            _ => None,
        },
        Kind::InetService => {
            if let Some(n) = v.as_u64() {
                return Some(Part::Port(n as u16, n as u16));
            }
            let r = v.get("range")?.as_array()?;
            Some(Part::Port(
                r.first()?.as_u64()? as u16,
                r.get(1)?.as_u64()? as u16,
            ))
        }
        Kind::NfProto => match v {
            Value::String(s) if s == "ipv4" => Some(Part::Family(FAMILY_V4)),
            Value::String(s) if s == "ipv6" => Some(Part::Family(FAMILY_V6)),
            Value::Number(n) => Some(Part::Family(n.as_u64()? as u8)),
            _ => None,
        },
    }
}

/// Reads a key or value: a `concat` list for several kinds, a plain value for one.
pub fn parts_from_json(kinds: &[Kind], v: &Value) -> Option<Vec<Part>> {
    if kinds.len() == 1 {
        return Some(vec![part_from_json(kinds[0], v)?]);
    }
    let items = v.get("concat")?.as_array()?;
    if items.len() != kinds.len() {
        return None;
    }
    kinds
        .iter()
        .zip(items)
        .map(|(k, item)| part_from_json(*k, item))
        .collect()
}

/// Reads one `elem` entry of a set (`key`) or map (`[key, data]`); unwraps `{"elem": {"val"}}`.
pub fn element_from_json(
    key: &[Kind],
    data: Option<&[Kind]>,
    v: &Value,
) -> Option<(Key, Option<Data>)> {
    let unwrap = |v: &Value| -> Value {
        v.get("elem")
            .and_then(|e| e.get("val"))
            .cloned()
            .unwrap_or_else(|| v.clone())
    };
    match data {
        None => Some((parts_from_json(key, &unwrap(v))?, None)),
        Some(data) => {
            let pair = v.as_array()?;
            let k = parts_from_json(key, &unwrap(pair.first()?))?;
            let d = parts_from_json(data, pair.get(1)?)?;
            Some((k, Some(d)))
        }
    }
}

/// `0.0.0.0/0` or `::/0`.
pub fn any_addr(v6: bool) -> Part {
    if v6 {
        Part::Addr(
            Ipv6Addr::UNSPECIFIED.into(),
            Ipv6Addr::from(u128::MAX).into(),
        )
    } else {
        Part::Addr(Ipv4Addr::UNSPECIFIED.into(), Ipv4Addr::BROADCAST.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn renders_prefixes_ranges_and_names() {
        let mut s = String::new();
        render_element(
            &[any_addr(false), Part::Proto(TCP), Part::Port(8000, 8100)],
            Some(&[Part::addr(ip("172.18.0.2"))]),
            &mut s,
        );
        assert_eq!(s, "0.0.0.0/0 . tcp . 8000-8100 : 172.18.0.2");
        let mut s = String::new();
        render_parts(
            &[any_addr(true), Part::name("br-x"), Part::Family(FAMILY_V6)],
            &mut s,
        );
        assert_eq!(s, "::/0 . \"br-x\" . ipv6");
        assert_eq!(
            Part::Addr(ip("10.0.0.1"), ip("10.0.0.5")).to_string(),
            "10.0.0.1-10.0.0.5"
        );
        assert_eq!(
            Part::net("172.18.0.0/16".parse().unwrap()).to_string(),
            "172.18.0.0/16"
        );
    }

    #[test]
    fn parses_what_nft_lists() {
        let kinds = [Kind::Ipv4, Kind::InetProto, Kind::InetService];
        let v = json!([{"concat": [{"prefix": {"addr": "0.0.0.0", "len": 0}}, "tcp", {"range": [9000, 9100]}]}, "172.18.0.2"]);
        let (k, d) = element_from_json(&kinds, Some(&[Kind::Ipv4]), &v).unwrap();
        assert_eq!(
            k,
            vec![any_addr(false), Part::Proto(TCP), Part::Port(9000, 9100)]
        );
        assert_eq!(d, Some(vec![Part::addr(ip("172.18.0.2"))]));
        let v = json!({"concat": ["ipv6", "br-x"]});
        let (k, _) = element_from_json(&[Kind::NfProto, Kind::Ifname], None, &v).unwrap();
        assert_eq!(k, vec![Part::Family(FAMILY_V6), Part::name("br-x")]);
        let v = json!({"elem": {"val": {"prefix": {"addr": "fd00::", "len": 64}}, "comment": "x"}});
        let (k, _) = element_from_json(&[Kind::Ipv6], None, &v).unwrap();
        assert_eq!(k, vec![Part::net("fd00::/64".parse().unwrap())]);
        let (k, _) = element_from_json(
            &[Kind::Ipv6],
            None,
            &json!({"prefix": {"addr": "::", "len": 0}}),
        )
        .unwrap();
        assert_eq!(k, vec![any_addr(true)]);
    }

    #[test]
    fn names_that_could_break_a_script_are_refused() {
        assert!(check_name("br-0123456789ab").is_ok());
        assert!(check_name("a\"b").is_err());
        assert!(check_name("a b").is_err());
        assert!(check_name("").is_err());
    }
}
