//! `GET /networks` filters (spec §6.4): name and id are unanchored regexes, driver and scope
//! exact, labels AND-ed, type builtin/custom, dangling true/false.

use cnm_core::model::Network;
use cnm_types::filters::Filters;
use regex::Regex;

use super::error::ApiError;

const KEYS: [&str; 7] = ["dangling", "driver", "id", "label", "name", "scope", "type"];
const BUILTIN: [&str; 4] = ["bridge", "host", "none", "default"];

/// A compiled filter set.
pub struct NetworkFilter {
    names: Vec<(String, Option<Regex>)>,
    ids: Vec<(String, Option<Regex>)>,
    drivers: Vec<String>,
    scopes: Vec<String>,
    labels: Vec<String>,
    builtin: Option<bool>,
    dangling: Option<bool>,
}

fn patterns(values: Vec<&str>) -> Vec<(String, Option<Regex>)> {
    values
        .into_iter()
        .map(|v| (v.to_string(), Regex::new(v).ok()))
        .collect()
}

fn matches_any(patterns: &[(String, Option<Regex>)], value: &str) -> bool {
    patterns.is_empty()
        || patterns
            .iter()
            .any(|(text, re)| text == value || re.as_ref().is_some_and(|r| r.is_match(value)))
}

impl NetworkFilter {
    pub fn parse(filters: &Filters) -> Result<Self, ApiError> {
        if let Some(bad) = filters.keys().find(|k| !KEYS.contains(k)) {
            return Err(ApiError::invalid(format!("Invalid filter '{bad}'")));
        }
        let mut builtin = None;
        for value in filters.get("type") {
            let want = match value {
                "builtin" => true,
                "custom" => false,
                other => {
                    return Err(ApiError::invalid(format!(
                        "invalid filter: 'type'='{other}'"
                    )));
                }
            };
            // Asking for both kinds is asking for everything.
            builtin = if builtin.is_some_and(|b| b != want) {
                None
            } else {
                Some(want)
            };
            if builtin.is_none() {
                break;
            }
        }
        let dangling = match filters.get("dangling").as_slice() {
            [] => None,
            ["true"] | ["1"] => Some(true),
            ["false"] | ["0"] => Some(false),
            [_] => {
                return Err(ApiError::invalid(
                    "invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \"false\" (or \"0\")",
                ));
            }
            _ => {
                return Err(ApiError::invalid(
                    "got more than one value for filter key \"dangling\"",
                ));
            }
        };
        Ok(NetworkFilter {
            names: patterns(filters.get("name")),
            ids: patterns(filters.get("id")),
            drivers: filters
                .get("driver")
                .into_iter()
                .map(String::from)
                .collect(),
            scopes: filters.get("scope").into_iter().map(String::from).collect(),
            labels: filters.get("label").into_iter().map(String::from).collect(),
            builtin,
            dangling,
        })
    }

    pub fn accepts(&self, n: &Network, in_use: bool) -> bool {
        let builtin = BUILTIN.contains(&n.name.as_str());
        matches_any(&self.names, &n.name)
            && matches_any(&self.ids, n.id.as_str())
            && (self.drivers.is_empty() || self.drivers.contains(&n.driver))
            && (self.scopes.is_empty() || self.scopes.contains(&n.scope))
            && self
                .labels
                .iter()
                .all(|l| cnm_core::controller::label_matches(&n.labels, l))
            && self.builtin.is_none_or(|want| want == builtin)
            && self
                .dangling
                .is_none_or(|want| want == (!builtin && !in_use))
    }
}
