//! What the kernel holds in `table inet cnm`, read from `nft -j list table inet cnm`.
//!
//! Contract: `KernelTable::parse` keeps what reconciliation compares: each chain's hook and its
//! rules' comments in order, and each set's declaration and elements. Elements of a set whose
//! datatype is not one cnm declares, or that cannot be read, make that set `elements: None`
//! (reconciliation then recreates it rather than guessing).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::elements::{Data, Key, Kind, element_from_json};
use super::layout::{self, TABLE};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelHook {
    pub kind: String,
    pub hook: String,
    pub priority: i64,
    pub policy: String,
}

#[derive(Clone, Debug, Default)]
pub struct KernelChain {
    pub hook: Option<KernelHook>,
    /// Each rule's comment (`None` for a rule without one), in order.
    pub rules: Vec<Option<String>>,
}

#[derive(Clone, Debug)]
pub struct KernelSet {
    pub key: Vec<String>,
    pub data: Option<Vec<String>>,
    pub interval: bool,
    pub elements: Option<BTreeMap<Key, Option<Data>>>,
}

#[derive(Clone, Debug, Default)]
pub struct KernelTable {
    pub chains: BTreeMap<String, KernelChain>,
    pub sets: BTreeMap<String, KernelSet>,
}

fn type_names(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => s.split(" . ").map(str::to_string).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn kinds_of(names: &[String]) -> Option<Vec<Kind>> {
    let all = [
        Kind::Ipv4,
        Kind::Ipv6,
        Kind::Ifname,
        Kind::InetProto,
        Kind::InetService,
        Kind::NfProto,
    ];
    names
        .iter()
        .map(|n| all.iter().copied().find(|k| k.nft_name() == n))
        .collect()
}

fn parse_set(obj: &Value) -> KernelSet {
    let key = type_names(obj.get("type"));
    let data = obj.get("map").map(|m| type_names(Some(m)));
    let flags: BTreeSet<&str> = obj
        .get("flags")
        .and_then(Value::as_array)
        .map(|f| f.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let elements = (|| {
        let key_kinds = kinds_of(&key)?;
        let data_kinds = match &data {
            Some(d) => Some(kinds_of(d)?),
            None => None,
        };
        let mut out = BTreeMap::new();
        for item in obj
            .get("elem")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            let (k, d) = element_from_json(&key_kinds, data_kinds.as_deref(), item)?;
            out.insert(k, d);
        }
        Some(out)
    })();
    KernelSet {
        key,
        data,
        interval: flags.contains("interval"),
        elements,
    }
}

impl KernelTable {
    /// Reads a JSON listing of `table inet cnm`.
    pub fn parse(json: &str) -> Result<KernelTable, String> {
        let root: Value = serde_json::from_str(json).map_err(|e| format!("nft JSON: {e}"))?;
        let items = root
            .get("nftables")
            .and_then(Value::as_array)
            .ok_or("nft JSON: no \"nftables\" array")?;
        let mut table = KernelTable::default();
        let ours = |o: &Value| {
            o.get("table").and_then(Value::as_str) == Some(TABLE)
                && o.get("family").and_then(Value::as_str) == Some(layout::FAMILY)
        };
        for item in items {
            if let Some(c) = item.get("chain").filter(|c| ours(c)) {
                let Some(name) = c.get("name").and_then(Value::as_str) else {
                    continue;
                };
                let hook = c.get("hook").map(|h| KernelHook {
                    kind: c
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    hook: h.as_str().unwrap_or_default().to_string(),
                    priority: c.get("prio").and_then(Value::as_i64).unwrap_or_default(),
                    policy: c
                        .get("policy")
                        .and_then(Value::as_str)
                        .unwrap_or("accept")
                        .to_string(),
                });
                table.chains.entry(name.to_string()).or_default().hook = hook;
            } else if let Some(r) = item.get("rule").filter(|r| ours(r)) {
                let Some(chain) = r.get("chain").and_then(Value::as_str) else {
                    continue;
                };
                let comment = r.get("comment").and_then(Value::as_str).map(str::to_string);
                table
                    .chains
                    .entry(chain.to_string())
                    .or_default()
                    .rules
                    .push(comment);
            } else if let Some(s) = item
                .get("set")
                .or_else(|| item.get("map"))
                .filter(|s| ours(s))
            {
                let Some(name) = s.get("name").and_then(Value::as_str) else {
                    continue;
                };
                table.sets.insert(name.to_string(), parse_set(s));
            }
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::elements::{Part, TCP};

    #[test]
    fn reads_chains_rules_and_elements() {
        let json = r#"{"nftables": [{"metainfo": {"json_schema_version": 1}},
          {"table": {"family": "inet", "name": "cnm", "handle": 1}},
          {"map": {"family": "inet", "name": "dnat_keep_v4", "table": "cnm", "type": ["ipv4_addr", "inet_proto", "inet_service"], "handle": 16, "map": "ipv4_addr", "flags": ["interval"],
                   "elem": [[{"concat": [{"prefix": {"addr": "0.0.0.0", "len": 0}}, "tcp", {"range": [9000, 9100]}]}, "172.18.0.2"]]}},
          {"set": {"family": "inet", "name": "weird", "table": "cnm", "type": "mark", "handle": 3, "elem": [1]}},
          {"chain": {"family": "inet", "table": "cnm", "name": "forward", "handle": 2, "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}},
          {"chain": {"family": "inet", "table": "cnm", "name": "user", "handle": 3}},
          {"rule": {"family": "inet", "table": "cnm", "chain": "forward", "handle": 18, "comment": "user rules first #1", "expr": []}},
          {"rule": {"family": "inet", "table": "cnm", "chain": "forward", "handle": 19, "expr": []}},
          {"rule": {"family": "ip", "table": "cnm", "chain": "forward", "handle": 19, "expr": []}}]}"#;
        let t = KernelTable::parse(json).unwrap();
        let fwd = &t.chains["forward"];
        assert_eq!(fwd.hook.as_ref().unwrap().priority, 0);
        assert_eq!(
            fwd.rules,
            vec![Some("user rules first #1".to_string()), None]
        );
        assert!(t.chains["user"].hook.is_none());
        let m = &t.sets["dnat_keep_v4"];
        assert_eq!(m.data.as_deref(), Some(&["ipv4_addr".to_string()][..]));
        assert!(m.interval);
        let elems = m.elements.as_ref().unwrap();
        let key = vec![
            crate::firewall::elements::any_addr(false),
            Part::Proto(TCP),
            Part::Port(9000, 9100),
        ];
        assert!(elems.contains_key(&key));
        assert!(t.sets["weird"].elements.is_none());
    }
}
