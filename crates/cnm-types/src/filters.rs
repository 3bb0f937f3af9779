//! Docker's `filters` query parameter: `{"key":{"value":true}}`, or the legacy
//! `{"key":["value"]}`. Both parse to key → sorted set of values.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters(BTreeMap<String, BTreeSet<String>>);

#[derive(Deserialize)]
#[serde(untagged)]
enum Values {
    Set(BTreeMap<String, bool>),
    List(Vec<String>),
}

impl Filters {
    /// Parses the JSON form. An empty string means no filters.
    pub fn parse(json: &str) -> Result<Self, String> {
        if json.trim().is_empty() {
            return Ok(Self::default());
        }
        let raw: BTreeMap<String, Values> =
            serde_json::from_str(json).map_err(|e| format!("invalid filter: {e}"))?;
        let map = raw
            .into_iter()
            .map(|(key, values)| {
                let set = match values {
                    Values::Set(m) => m
                        .into_iter()
                        .filter(|(_, on)| *on)
                        .map(|(v, _)| v)
                        .collect(),
                    Values::List(l) => l.into_iter().collect(),
                };
                (key, set)
            })
            .collect();
        Ok(Filters(map))
    }

    pub fn add(&mut self, key: &str, value: &str) {
        self.0
            .entry(key.to_string())
            .or_default()
            .insert(value.to_string());
    }

    /// The modern JSON form, as the docker CLI sends it.
    pub fn to_json(&self) -> String {
        let map: BTreeMap<&String, BTreeMap<&String, bool>> = self
            .0
            .iter()
            .map(|(k, vs)| (k, vs.iter().map(|v| (v, true)).collect()))
            .collect();
        serde_json::to_string(&map).expect("filters serialize")
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The values given for `key` (empty when the key is absent).
    pub fn get(&self, key: &str) -> Vec<&str> {
        self.0
            .get(key)
            .map(|s| s.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms() {
        let a = Filters::parse(r#"{"name":{"foo":true},"label":{"a=b":true}}"#).unwrap();
        let b = Filters::parse(r#"{"name":["foo"],"label":["a=b"]}"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.get("name"), vec!["foo"]);
        assert_eq!(Filters::parse(&a.to_json()).unwrap(), a);
    }

    #[test]
    fn rejects_garbage() {
        assert!(Filters::parse("{").is_err());
        assert!(Filters::parse(r#"{"name":3}"#).is_err());
    }
}
