//! docker's list formatter (`formatter.Context.Write`): `table ...`, `json`, or a template.
//!
//! Contract: [`render_list`] turns rows into the exact bytes `docker network ls` prints for
//! the same format: `table` strips the prefix, trims spaces and turns `\t`/`\n` escapes into
//! tabs/newlines, renders a header row with docker's header functions and aligns everything
//! with Go's tabwriter settings (min width 10, padding 3); `json` is `{{json .}}`; anything
//! else is a template, one line per row. Natural name order is [`natural_cmp`].

use std::cmp::Ordering;
use std::io::Write;

use super::goval::GoData;
use super::template::{DockerTemplate, Funcs, Print, TemplateError};

/// Why a list could not be rendered (already worded as docker words it).
#[derive(Debug, thiserror::Error)]
#[error("template parsing error: {0}")]
pub struct FormatError(pub String);

/// The rows of a list and how docker names its context type in errors.
pub struct ListData<'a> {
    pub rows: &'a [GoData],
    /// The header context: `{"ID": "NETWORK ID", ...}` plus a `Label` function.
    pub header: &'a GoData,
    /// e.g. `*network.networkContext`.
    pub type_name: &'a str,
}

/// Renders `data` with `format` (already resolved: `table ...`, `json` or a template).
pub fn render_list(format: &str, data: &ListData<'_>) -> Result<String, FormatError> {
    let is_table = format.starts_with("table");
    let body = if is_table {
        &format["table".len()..]
    } else if format == "json" {
        "{{json .}}"
    } else {
        format
    };
    let body = body
        .trim_matches(' ')
        .replace("\\t", "\t")
        .replace("\\n", "\n");
    let template = DockerTemplate::parse(&body, Funcs::Basic, Print::Native)
        .map_err(|e| FormatError(e.to_string()))?;
    let mut rows = String::new();
    for row in data.rows {
        let text = template.execute(row, true).map_err(|e| match e {
            TemplateError::Exec {
                missing_key: Some(key),
                ..
            } => FormatError(template.missing_key_message(
                &key,
                &format!("can't evaluate field {key} in type {}", data.type_name),
            )),
            other => FormatError(other.to_string()),
        })?;
        rows.push_str(&text);
        rows.push('\n');
    }
    if !is_table {
        return Ok(rows);
    }
    // docker ignores header errors and keeps whatever was written before them.
    let header = DockerTemplate::parse(&body, Funcs::Header, Print::Native)
        .map(|t| t.execute_partial(data.header, false).0)
        .unwrap_or_default();
    Ok(tabulate(&format!("{header}\n{rows}")))
}

/// Aligns tab-separated cells like Go's `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`.
pub fn tabulate(text: &str) -> String {
    // The Rust crate pads `max(minwidth, text) + padding`, Go `max(minwidth, text + padding)`:
    // min width 7 with padding 3 is Go's 10 and 3.
    let mut tw = tabwriter::TabWriter::new(Vec::new()).minwidth(7).padding(3);
    // Writing to a Vec cannot fail.
    let _ = tw.write_all(text.as_bytes());
    let _ = tw.flush();
    String::from_utf8_lossy(&tw.into_inner().unwrap_or_default()).into_owned()
}

/// `sortorder.NaturalLess` as an ordering: digit runs compare as numbers, digits sort before
/// other bytes (equal only for equal strings).
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (da, db) = (a[i].is_ascii_digit(), b[j].is_ascii_digit());
        if da != db {
            return if da {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        if !da {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
            continue;
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let (nz_a, nz_b) = (i, j);
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let by_len = (i - nz_a).cmp(&(j - nz_b));
        if by_len != Ordering::Equal {
            return by_len;
        }
        let by_digits = a[nz_a..i].cmp(&b[nz_b..j]);
        if by_digits != Ordering::Equal {
            return by_digits;
        }
        if nz_a != nz_b {
            return nz_a.cmp(&nz_b);
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut names = vec![
            "net-10", "net-2", "net-1", "Net", "a", "net-02", "1x", "net",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            vec![
                "1x", "Net", "a", "net", "net-1", "net-2", "net-02", "net-10"
            ]
        );
    }

    #[test]
    fn tabulates_like_go() {
        assert_eq!(
            tabulate("NETWORK ID\tNAME\tDRIVER\tSCOPE\n7fca4eb8c647\tbridge\tbridge\tlocal\n"),
            "NETWORK ID     NAME      DRIVER    SCOPE\n7fca4eb8c647   bridge    bridge    local\n"
        );
    }
}
