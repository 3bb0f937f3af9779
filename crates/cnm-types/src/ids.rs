//! 64-hex object identifiers, as Docker generates them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A 64-character lowercase hex identifier (network, endpoint or sandbox).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Id(String);

impl Id {
    /// A fresh random id: 32 random bytes in hex, regenerated while the 12-character short
    /// form is all digits (Docker does the same so a short id never parses as a number).
    pub fn random() -> Self {
        loop {
            let bytes: [u8; 32] = rand::random();
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            if !hex[..12].bytes().all(|c| c.is_ascii_digit()) {
                return Id(hex);
            }
        }
    }

    /// Accepts a full 64-hex id; anything else is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 64
            && s.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)))
        .then(|| Id(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 12-character form shown by `docker network ls`.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.short())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_64_hex_with_a_non_numeric_short_form() {
        for _ in 0..100 {
            let id = Id::random();
            assert_eq!(id.as_str().len(), 64);
            assert!(Id::parse(id.as_str()).is_some());
            assert!(!id.short().bytes().all(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn parse_rejects_short_and_uppercase() {
        assert!(Id::parse("abc").is_none());
        assert!(Id::parse(&"A".repeat(64)).is_none());
    }
}
