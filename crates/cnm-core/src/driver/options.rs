//! Parsing Docker's string options into typed values, with Docker's messages.

use crate::error::{Error, Result};

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A boolean driver option: `failed to parse KEY value: ... (VALUE)` on bad input.
pub fn bool_option(key: &str, value: &str) -> Result<bool> {
    parse_go_bool(value).ok_or_else(|| {
        Error::invalid(format!("failed to parse {key} value: {value} (strconv.ParseBool: parsing \"{value}\": invalid syntax)"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_bools() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_go_bool(t), Some(true));
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_go_bool(f), Some(false));
        }
        assert_eq!(parse_go_bool("yes"), None);
        assert_eq!(
            bool_option("k", "yes").unwrap_err().message,
            "failed to parse k value: yes (strconv.ParseBool: parsing \"yes\": invalid syntax)"
        );
    }
}
