//! Fuzz target for what arrives in a request's path and query: the `filters` parameter
//! (`cnm_types::filters::Filters`) with the label matching the daemon applies with it
//! (`cnm_core::controller::label_matches`), the `/vX.Y` API version prefix (`ApiVersion`) and
//! object ids (`Id`).
//!
//! Input: the whole input, as UTF-8, is the value. Checked for every input: no panic; parsed
//! filters re-encode (`to_json`, the modern form the docker CLI sends) and parse back to the
//! same filters; every key and value reads back through `get`/`contains`; label matching is
//! consistent (`k=v` matches a map holding exactly that pair, `k` any value); a parsed version
//! prints and parses back to itself; a parsed id is itself, and its short form a prefix.

#![no_main]

use std::collections::BTreeMap;

use cnm_core::controller::label_matches;
use cnm_types::Id;
use cnm_types::filters::Filters;
use cnm_types::version::ApiVersion;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(version) = ApiVersion::parse(text) {
        assert_eq!(ApiVersion::parse(&version.to_string()), Some(version));
    }
    if let Some(id) = Id::parse(text) {
        assert_eq!(id.as_str(), text);
        assert!(text.starts_with(id.short()));
    }
    let Ok(filters) = Filters::parse(text) else {
        return;
    };
    let again = Filters::parse(&filters.to_json()).expect("our own encoding parses");
    assert_eq!(again, filters, "filters survive a round trip");
    for key in filters.keys() {
        assert!(filters.contains(key));
        for value in filters.get(key) {
            let mut labels = BTreeMap::new();
            match value.split_once('=') {
                Some((k, v)) => {
                    labels.insert(k.to_string(), v.to_string());
                    assert!(
                        label_matches(&labels, value),
                        "{value} matches its own pair"
                    );
                    labels.insert(k.to_string(), format!("{v}x"));
                    assert!(
                        !label_matches(&labels, value),
                        "{value} needs the same value"
                    );
                }
                None => {
                    labels.insert(value.to_string(), String::new());
                    assert!(label_matches(&labels, value), "{value} matches its own key");
                }
            }
        }
    }
});
