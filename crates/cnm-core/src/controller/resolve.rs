//! Finding networks and sandboxes by full id, exact name or unique id prefix (spec §6.4).

use cnm_types::Id;

use super::State;
use crate::error::{Error, Result};

/// How an API route wants ambiguity and absence reported: Docker words GET and DELETE
/// differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    Inspect,
    Delete,
}

enum Found {
    One(Id),
    None,
    AmbiguousPrefix(usize),
}

fn find<'a, V>(
    term: &str,
    by_id: &'a std::collections::BTreeMap<Id, V>,
    by_name: impl Fn(&str) -> Option<&'a Id>,
) -> Found {
    if let Some(id) = Id::parse(term)
        && by_id.contains_key(&id)
    {
        return Found::One(id);
    }
    if let Some(id) = by_name(term) {
        return Found::One(id.clone());
    }
    if term.is_empty() || !term.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Found::None;
    }
    // Ids are sorted, so the ids starting with `term` are one contiguous range.
    let start = Id::parse(&format!("{term:0<64}"))
        .unwrap_or_else(|| Id::parse(&"0".repeat(64)).expect("valid"));
    let mut matches = by_id
        .range(start..)
        .take_while(|(id, _)| id.as_str().starts_with(term))
        .map(|(id, _)| id);
    match (matches.next(), matches.count()) {
        (None, _) => Found::None,
        (Some(id), 0) => Found::One(id.clone()),
        (Some(_), rest) => Found::AmbiguousPrefix(rest + 1),
    }
}

impl State {
    pub fn find_network(&self, term: &str, lookup: Lookup) -> Result<Id> {
        match find(term, &self.networks, |n| self.network_names.get(n)) {
            Found::One(id) => Ok(id),
            Found::None => Err(Error::not_found(format!("network {term} not found"))),
            Found::AmbiguousPrefix(n) if lookup == Lookup::Delete => Err(Error::invalid(format!(
                "network {term} is ambiguous ({n} matches found based on ID prefix)"
            ))),
            Found::AmbiguousPrefix(n) => Err(Error::invalid(format!(
                "{n} matches found based on ID prefix: network {term} is ambiguous"
            ))),
        }
    }

    pub fn find_sandbox(&self, term: &str) -> Result<Id> {
        match find(term, &self.sandboxes, |n| {
            self.sandbox_names.get(n.trim_start_matches('/'))
        }) {
            Found::One(id) => Ok(id),
            Found::None => Err(Error::not_found(format!("No such container: {term}"))),
            Found::AmbiguousPrefix(_) => Err(Error::invalid(format!(
                "multiple IDs found with provided prefix: {term}"
            ))),
        }
    }
}
