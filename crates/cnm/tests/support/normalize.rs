//! Turns daemon output into text that is identical from run to run and from daemon to daemon.
//!
//! Contract: `Normalizer::normalize` replaces, in this order,
//! - timestamps: RFC 3339 (`2026-01-02T03:04:05.123456789Z`, any offset) and Go's
//!   `time.Time.String()` (`2026-01-02 03:04:05.123456789 +0000 UTC`) become `<time>`;
//! - MAC addresses (`02:42:ac:11:00:02`) become `<mac>` (Docker 20.10 derives them from the IP,
//!   current Docker and cnm pick them at random);
//! - host-side veth names (`veth1a2b3c4`) become `<veth>`;
//! - the default bridge `cnm0` becomes `docker0`;
//! - 64-hex ids become `<id-N>` and 12-hex short ids `<short-N>`, numbered by first appearance
//!   across every call on the same `Normalizer`; a short id that is the prefix of a full id
//!   (in either order of appearance) shares that id's number.
//!
//! One `Normalizer` per scenario keeps numbers stable across snapshots, so `<id-4>` means the
//! same network everywhere in a scenario.

use std::sync::LazyLock;

use regex::{Captures, Regex};

static RFC3339: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})").unwrap()
});
static GO_TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? [+-]\d{4} [A-Z][A-Za-z0-9+-]*(?: m=[+-][0-9.]+)?")
        .unwrap()
});
static MAC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}\b").unwrap());
static VETH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bveth[0-9a-f]{7}\b").unwrap());
static DEFAULT_BRIDGE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bcnm0\b").unwrap());
static ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:[0-9a-f]{64}|[0-9a-f]{12})\b").unwrap());

const SHORT_LEN: usize = 12;

/// One id seen so far; its number is its index + 1.
struct SeenId {
    short: String,
    full: Option<String>,
}

/// Stateful normalizer: see the module doc.
#[derive(Default)]
pub struct Normalizer {
    ids: Vec<SeenId>,
}

/// Normalizes one text on its own (ids numbered from 1 within it).
pub fn normalize(text: &str) -> String {
    Normalizer::default().normalize(text)
}

impl Normalizer {
    pub fn normalize(&mut self, text: &str) -> String {
        let text = RFC3339.replace_all(text, "<time>");
        let text = GO_TIME.replace_all(&text, "<time>");
        let text = MAC.replace_all(&text, "<mac>");
        let text = VETH.replace_all(&text, "<veth>");
        let text = DEFAULT_BRIDGE.replace_all(&text, "docker0");
        ID.replace_all(&text, |caps: &Captures| self.placeholder(&caps[0]))
            .into_owned()
    }

    /// The number given to `id` (full or short), if it has been seen.
    pub fn number_of(&self, id: &str) -> Option<usize> {
        let short = id.get(..SHORT_LEN)?;
        self.ids
            .iter()
            .position(|seen| seen.short == short)
            .map(|i| i + 1)
    }

    fn placeholder(&mut self, id: &str) -> String {
        let number = self.number_for(id);
        if id.len() == SHORT_LEN {
            format!("<short-{number}>")
        } else {
            format!("<id-{number}>")
        }
    }

    fn number_for(&mut self, id: &str) -> usize {
        let short = &id[..SHORT_LEN];
        let is_full = id.len() > SHORT_LEN;
        let found = self.ids.iter_mut().position(|seen| {
            seen.short == short
                && match (&seen.full, is_full) {
                    (Some(full), true) => full == id,
                    _ => true,
                }
        });
        match found {
            Some(index) => {
                if is_full && self.ids[index].full.is_none() {
                    self.ids[index].full = Some(id.to_owned());
                }
                index + 1
            }
            None => {
                let full = is_full.then(|| id.to_owned());
                self.ids.push(SeenId {
                    short: short.to_owned(),
                    full,
                });
                self.ids.len()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "3f2f9c1e7a4b0000000000000000000000000000000000000000000000000001";
    const B: &str = "aa00bb11cc22dd33ee44ff5566778899aabbccddeeff00112233445566778899";

    #[test]
    fn numbers_ids_by_first_appearance_and_links_short_to_full() {
        let mut n = Normalizer::default();
        let first = n.normalize(&format!("{} then {A}", &B[..12]));
        assert_eq!(first, "<short-1> then <id-2>");
        let second = n.normalize(&format!("{B} {} {A}", &A[..12]));
        assert_eq!(second, "<id-1> <short-2> <id-2>");
    }

    #[test]
    fn replaces_times_macs_veths_and_the_default_bridge() {
        let text = "\"Created\": \"2026-12-07T17:41:33.191159062Z\", at 2026-12-07 17:42:35.108400496 +0000 UTC, \
                    \"MacAddress\": \"02:42:ac:11:00:02\", veth3a4b5c6 on cnm0 (not cnm01)";
        assert_eq!(
            normalize(text),
            "\"Created\": \"<time>\", at <time>, \"MacAddress\": \"<mac>\", <veth> on docker0 (not cnm01)"
        );
    }

    #[test]
    fn leaves_other_hex_and_addresses_alone() {
        let text = "fd00:20::50/64 10.10.5.50/16 abc123 0123456789abcdef";
        assert_eq!(normalize(text), text);
    }
}
