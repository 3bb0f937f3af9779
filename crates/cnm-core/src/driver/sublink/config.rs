//! The macvlan and ipvlan drivers' options (spec §3.4, §3.5), parsed once into a typed config,
//! with Docker's messages.
//!
//! Contract: `SublinkConfig::parse` accepts exactly what Docker accepts: `parent`,
//! `macvlan_mode` (macvlan) or `ipvlan_mode` and `ipvlan_flag` (ipvlan); other keys are kept
//! but ignored, as Docker ignores them. `parse_vlan_name` and `check_vlan_id` split the
//! 802.1q form `name.vid` in Docker's order of checks (format, number, [master exists],
//! range), so the caller checks the master between the two.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::osl::netlink::sublink::{IpvlanFlag, IpvlanMode, MacvlanMode, StackedKind};

pub const PARENT: &str = "parent";
pub const MACVLAN_MODE: &str = "macvlan_mode";
pub const IPVLAN_MODE: &str = "ipvlan_mode";
pub const IPVLAN_FLAG: &str = "ipvlan_flag";

/// Docker shortens network ids to this many characters in stand-in parent names.
const DUMMY_ID_LEN: usize = 12;

/// Which of the two drivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Macvlan,
    Ipvlan,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Macvlan => "macvlan",
            Flavor::Ipvlan => "ipvlan",
        }
    }

    /// The stand-in parent of a network without `-o parent`: Docker's `dm-`/`di-` + 12 hex.
    pub fn dummy_name(self, network_id: &str) -> String {
        let prefix = match self {
            Flavor::Macvlan => "dm-",
            Flavor::Ipvlan => "di-",
        };
        let short = network_id.get(..DUMMY_ID_LEN).unwrap_or(network_id);
        format!("{prefix}{short}")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SublinkConfig {
    /// `-o parent=` as given; `None` without one.
    pub parent: Option<String>,
    pub kind: StackedKind,
    /// `--internal`, or no parent ("internal for the driver", while inspect still shows
    /// `Internal: false`, as in Docker): no gateway, no default route.
    pub internal: bool,
}

impl SublinkConfig {
    pub fn parse(
        flavor: Flavor,
        options: &BTreeMap<String, String>,
        internal: bool,
    ) -> Result<Self> {
        let get = |key: &str| options.get(key).map(String::as_str).unwrap_or("");
        let kind = match flavor {
            Flavor::Macvlan => StackedKind::Macvlan(parse_macvlan_mode(get(MACVLAN_MODE))?),
            Flavor::Ipvlan => StackedKind::Ipvlan {
                mode: parse_ipvlan_mode(get(IPVLAN_MODE))?,
                flag: parse_ipvlan_flag(get(IPVLAN_FLAG))?,
            },
        };
        let parent = get(PARENT);
        if parent == "lo" {
            return Err(Error::invalid(format!(
                "loopback interface is not a valid {} parent link",
                flavor.name()
            )));
        }
        let parent = (!parent.is_empty()).then(|| parent.to_owned());
        Ok(SublinkConfig {
            internal: internal || parent.is_none(),
            parent,
            kind,
        })
    }

    /// The link the ports stack on: the given parent, or the stand-in named after the network.
    pub fn parent_name(&self, flavor: Flavor, network_id: &str) -> String {
        self.parent
            .clone()
            .unwrap_or_else(|| flavor.dummy_name(network_id))
    }

    /// ipvlan L3/L3S: the sandbox routes everything out of its interface, with no gateway.
    pub fn routes_on_link(&self) -> bool {
        matches!(
            self.kind,
            StackedKind::Ipvlan {
                mode: IpvlanMode::L3 | IpvlanMode::L3s,
                ..
            }
        )
    }

    pub fn passthru(&self) -> bool {
        self.kind == StackedKind::Macvlan(MacvlanMode::Passthru)
    }
}

fn parse_macvlan_mode(value: &str) -> Result<MacvlanMode> {
    match value {
        "" | "bridge" => Ok(MacvlanMode::Bridge),
        "private" => Ok(MacvlanMode::Private),
        "vepa" => Ok(MacvlanMode::Vepa),
        "passthru" => Ok(MacvlanMode::Passthru),
        other => Err(Error::invalid(format!(
            "requested macvlan mode '{other}' is not valid, 'bridge' mode is the macvlan driver default"
        ))),
    }
}

fn parse_ipvlan_mode(value: &str) -> Result<IpvlanMode> {
    match value {
        "" | "l2" => Ok(IpvlanMode::L2),
        "l3" => Ok(IpvlanMode::L3),
        "l3s" => Ok(IpvlanMode::L3s),
        other => Err(Error::invalid(format!(
            "requested ipvlan mode '{other}' is not valid, 'l2' mode is the ipvlan driver default"
        ))),
    }
}

fn parse_ipvlan_flag(value: &str) -> Result<IpvlanFlag> {
    match value {
        "" | "bridge" => Ok(IpvlanFlag::Bridge),
        "private" => Ok(IpvlanFlag::Private),
        "vepa" => Ok(IpvlanFlag::Vepa),
        other => Err(Error::invalid(format!(
            "requested ipvlan flag '{other}' is not valid, 'bridge' is the ipvlan driver default"
        ))),
    }
}

/// `eth0.10` split into its master and (unchecked) VLAN id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VlanName<'a> {
    pub master: &'a str,
    pub vid: i64,
}

/// Splits a parent that does not exist into master and VLAN id, with Docker's messages.
pub fn parse_vlan_name(name: &str) -> Result<VlanName<'_>> {
    if !name.contains('.') {
        return Err(Error::invalid(format!(
            "invalid subinterface vlan name {name}, example formatting is eth0.10"
        )));
    }
    let parts: Vec<&str> = name.split('.').collect();
    let [master, vid] = parts[..] else {
        return Err(Error::invalid(format!(
            "required interface name format is: name.vlan_id, ex. eth0.10 for vlan 10, instead received {name}"
        )));
    };
    // Go's strconv.Atoi: optional sign and decimal digits, like i64's FromStr.
    let vid = vid.parse::<i64>().map_err(|_| {
        Error::invalid(format!(
            "unable to parse a valid vlan id from: {vid} (ex. eth0.10 for vlan 10)"
        ))
    })?;
    Ok(VlanName { master, vid })
}

/// A VLAN id is a 12-bit field; 0 and 4095 are reserved.
pub fn check_vlan_id(vid: i64) -> Result<u16> {
    match u16::try_from(vid) {
        Ok(id @ 1..=4094) => Ok(id),
        _ => Err(Error::invalid(format!(
            "vlan id must be between 1-4094, received: {vid}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn message(flavor: Flavor, pairs: &[(&str, &str)]) -> String {
        SublinkConfig::parse(flavor, &opts(pairs), false)
            .unwrap_err()
            .message
    }

    #[test]
    fn defaults_and_internal_without_a_parent() {
        let c = SublinkConfig::parse(Flavor::Macvlan, &BTreeMap::new(), false).unwrap();
        assert_eq!(c.kind, StackedKind::Macvlan(MacvlanMode::Bridge));
        assert_eq!(c.parent, None);
        assert!(c.internal, "no parent: internal for the driver");
        assert_eq!(c.parent_name(Flavor::Macvlan, ID), "dm-0123456789ab");
        let c = SublinkConfig::parse(
            Flavor::Ipvlan,
            &opts(&[(PARENT, "eth0"), ("other", "x")]),
            false,
        )
        .unwrap();
        assert_eq!(
            c.kind,
            StackedKind::Ipvlan {
                mode: IpvlanMode::L2,
                flag: IpvlanFlag::Bridge
            }
        );
        assert!(!c.internal);
        assert!(!c.routes_on_link());
        assert_eq!(c.parent_name(Flavor::Ipvlan, ID), "eth0");
        assert_eq!(Flavor::Ipvlan.dummy_name(ID), "di-0123456789ab");
        let c = SublinkConfig::parse(Flavor::Ipvlan, &opts(&[(PARENT, "eth0")]), true).unwrap();
        assert!(c.internal, "--internal");
    }

    #[test]
    fn every_mode_and_flag() {
        for (value, mode) in [
            ("bridge", MacvlanMode::Bridge),
            ("private", MacvlanMode::Private),
            ("vepa", MacvlanMode::Vepa),
            ("passthru", MacvlanMode::Passthru),
        ] {
            let c = SublinkConfig::parse(Flavor::Macvlan, &opts(&[(MACVLAN_MODE, value)]), false)
                .unwrap();
            assert_eq!(c.kind, StackedKind::Macvlan(mode));
            assert_eq!(c.passthru(), value == "passthru");
        }
        for (mode_text, mode) in [
            ("l2", IpvlanMode::L2),
            ("l3", IpvlanMode::L3),
            ("l3s", IpvlanMode::L3s),
        ] {
            for (flag_text, flag) in [
                ("bridge", IpvlanFlag::Bridge),
                ("private", IpvlanFlag::Private),
                ("vepa", IpvlanFlag::Vepa),
            ] {
                let o = opts(&[(IPVLAN_MODE, mode_text), (IPVLAN_FLAG, flag_text)]);
                let c = SublinkConfig::parse(Flavor::Ipvlan, &o, false).unwrap();
                assert_eq!(c.kind, StackedKind::Ipvlan { mode, flag });
                assert_eq!(c.routes_on_link(), mode != IpvlanMode::L2);
            }
        }
    }

    #[test]
    fn docker_messages_for_bad_options() {
        assert_eq!(
            message(Flavor::Macvlan, &[(MACVLAN_MODE, "bogus")]),
            "requested macvlan mode 'bogus' is not valid, 'bridge' mode is the macvlan driver default"
        );
        assert_eq!(
            message(Flavor::Ipvlan, &[(IPVLAN_MODE, "l4")]),
            "requested ipvlan mode 'l4' is not valid, 'l2' mode is the ipvlan driver default"
        );
        assert_eq!(
            message(Flavor::Ipvlan, &[(IPVLAN_FLAG, "nope")]),
            "requested ipvlan flag 'nope' is not valid, 'bridge' is the ipvlan driver default"
        );
        assert_eq!(
            message(Flavor::Macvlan, &[(PARENT, "lo")]),
            "loopback interface is not a valid macvlan parent link"
        );
        assert_eq!(
            message(Flavor::Ipvlan, &[(PARENT, "lo")]),
            "loopback interface is not a valid ipvlan parent link"
        );
        // macvlan ignores ipvlan's keys, as Docker does.
        assert!(
            SublinkConfig::parse(Flavor::Macvlan, &opts(&[(IPVLAN_MODE, "bogus")]), false).is_ok()
        );
    }

    #[test]
    fn vlan_names_in_dockers_order_of_checks() {
        assert_eq!(
            parse_vlan_name("eth0.10").unwrap(),
            VlanName {
                master: "eth0",
                vid: 10
            }
        );
        assert_eq!(
            parse_vlan_name("nosuch").unwrap_err().message,
            "invalid subinterface vlan name nosuch, example formatting is eth0.10"
        );
        assert_eq!(
            parse_vlan_name("a.b.c").unwrap_err().message,
            "required interface name format is: name.vlan_id, ex. eth0.10 for vlan 10, instead received a.b.c"
        );
        assert_eq!(
            parse_vlan_name("eth0.abc").unwrap_err().message,
            "unable to parse a valid vlan id from: abc (ex. eth0.10 for vlan 10)"
        );
        assert_eq!(
            parse_vlan_name("eth0.").unwrap_err().message,
            "unable to parse a valid vlan id from:  (ex. eth0.10 for vlan 10)"
        );
        // Out of range ids parse; the range is checked after the master (Docker's order).
        assert_eq!(parse_vlan_name("eth0.5000").unwrap().vid, 5000);
        assert_eq!(check_vlan_id(1).unwrap(), 1);
        assert_eq!(check_vlan_id(4094).unwrap(), 4094);
        for bad in [0, 4095, 5000, -3, 70000] {
            assert_eq!(
                check_vlan_id(bad).unwrap_err().message,
                format!("vlan id must be between 1-4094, received: {bad}")
            );
        }
    }
}
