//! docker's `inspect.Inspect`, shared by `network inspect` and `sandbox inspect`.
//!
//! Contract: with no format, the daemon's raw objects are printed as one JSON array re-indented
//! with 4 spaces (key order untouched); `json` prints it compact; any other format is a
//! template run on the typed value, and, when the typed value lacks a field the template
//! uses, on the raw JSON with `missingkey=error` (docker's fallback). Objects that fail are
//! reported together after the others are printed, and the command exits 1; a template that
//! does not parse exits 64 before anything is fetched.

use super::CliError;
use super::format::gojson;
use super::format::goval::GoData;
use super::format::template::{DockerTemplate, Funcs, Print, TemplateError};

/// One fetched object: the daemon's bytes and, when the CLI has a type for it, the typed value.
pub struct Element {
    pub raw: Vec<u8>,
    pub typed: Option<GoData>,
}

enum Inspector {
    Indented(Vec<Vec<u8>>),
    Compact(Vec<Vec<u8>>),
    Template {
        typed: Box<DockerTemplate>,
        raw: Box<DockerTemplate>,
        out: String,
    },
}

/// Runs docker's inspect loop; `fetch` gets one reference (or an error already worded).
pub fn inspect(
    out: &mut dyn std::io::Write,
    refs: &[String],
    format: &str,
    mut fetch: impl FnMut(&str) -> Result<Element, String>,
) -> Result<(), CliError> {
    let mut inspector = match format {
        "" => Inspector::Indented(Vec::new()),
        "json" => Inspector::Compact(Vec::new()),
        _ => {
            let parse = |print| {
                DockerTemplate::parse(format, Funcs::Basic, print)
                    .map_err(|e| CliError::new(64, format!("template parsing error: {e}")))
            };
            Inspector::Template {
                typed: Box::new(parse(Print::Typed)?),
                raw: Box::new(parse(Print::Untyped)?),
                out: String::new(),
            }
        }
    };
    let mut errors = Vec::new();
    for r in refs {
        let element = match fetch(r) {
            Ok(e) => e,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        match &mut inspector {
            Inspector::Indented(raws) | Inspector::Compact(raws) => raws.push(element.raw),
            Inspector::Template { typed, raw, out } => match render(typed, raw, &element) {
                Ok(text) => {
                    out.push_str(&text);
                    out.push('\n');
                }
                Err(e) => errors.push(e),
            },
        }
    }
    let text = match inspector {
        Inspector::Indented(raws) => join_raw(&raws, |b| gojson::indent(b, "    ")),
        Inspector::Compact(raws) => join_raw(&raws, gojson::compact),
        Inspector::Template { out, .. } if out.is_empty() => "\n".to_string(),
        Inspector::Template { out, .. } => out,
    };
    write_all(out, &text)?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(1, errors.join("\n")))
    }
}

fn write_all(out: &mut dyn std::io::Write, text: &str) -> Result<(), CliError> {
    out.write_all(text.as_bytes())
        .map_err(|e| CliError::new(1, e.to_string()))
}

fn join_raw(
    raws: &[Vec<u8>],
    reformat: impl Fn(&[u8]) -> Result<String, gojson::InvalidJson>,
) -> String {
    if raws.is_empty() {
        return "[]\n".to_string();
    }
    let mut all = b"[".to_vec();
    for (i, r) in raws.iter().enumerate() {
        if i > 0 {
            all.push(b',');
        }
        all.extend_from_slice(r);
    }
    all.push(b']');
    // docker logs a reformatting error and prints nothing but the newline.
    format!("{}\n", reformat(&all).unwrap_or_default())
}

/// Typed first; docker falls back to the raw JSON when the typed execution fails.
fn render(
    typed_tmpl: &DockerTemplate,
    raw_tmpl: &DockerTemplate,
    element: &Element,
) -> Result<String, String> {
    let raw_json: Option<serde_json::Value> = serde_json::from_slice(&element.raw).ok();
    if let Some(typed) = &element.typed {
        match typed_tmpl.execute(typed, true) {
            Ok(text) => return Ok(text),
            Err(TemplateError::Exec {
                missing_key: Some(key),
                ..
            }) if !falls_back(typed, raw_json.as_ref(), &key)
                && typed_tmpl
                    .receiver_of(&key)
                    .is_some_and(|r| typed.map_fields().contains(&r.as_str())) =>
            {
                // A key missing from a Go map (not a struct) prints `<no value>` on the typed value.
                if let Ok(text) = typed_tmpl.execute(typed, false) {
                    return Ok(text);
                }
            }
            Err(_) => {}
        }
    }
    let raw_json =
        raw_json.ok_or_else(|| "unable to read inspect data: invalid JSON".to_string())?;
    raw_tmpl
        .execute(&GoData::untyped(&raw_json), true)
        .map_err(|e| format!("template parsing error: {e}"))
}

/// True when `key` is a field the typed struct does not have but the raw JSON does (a JSON
/// name differing from the Go name, like `Id`, or a field newer than the CLI's types).
fn falls_back(typed: &GoData, raw: Option<&serde_json::Value>, key: &str) -> bool {
    if typed.renamed_keys().contains(&key) {
        return true;
    }
    let in_raw = raw
        .and_then(|r| r.as_object())
        .is_some_and(|o| o.contains_key(key));
    let in_typed = matches!(&typed.value, gotmpl::Value::Map(m) if m.contains_key(key));
    in_raw && !in_typed
}
