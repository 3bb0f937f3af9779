//! JSON text exactly as Go's `encoding/json` writes it.
//!
//! Contract: [`indent`] is `json.Indent(dst, src, "", "    ")` and [`compact`] is
//! `json.Compact`: both keep every string and number byte for byte and only move whitespace, so
//! `inspect` shows the daemon's own key order. [`quote`] is Go's string encoder (`\u003c` for
//! `<>&` when HTML escaping is on, `\u2028`/`\u2029` always).

/// Why a byte string could not be re-indented.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidJson(String);

/// Re-indents valid JSON with `indent` per level, as `json.Indent` does.
pub fn indent(src: &[u8], indent: &str) -> Result<String, InvalidJson> {
    validate(src)?;
    Ok(reformat(src, Some(indent)))
}

/// Removes insignificant whitespace, as `json.Compact` does.
pub fn compact(src: &[u8]) -> Result<String, InvalidJson> {
    validate(src)?;
    Ok(reformat(src, None))
}

fn validate(src: &[u8]) -> Result<(), InvalidJson> {
    serde_json::from_slice::<serde::de::IgnoredAny>(src)
        .map(|_| ())
        .map_err(|e| InvalidJson(e.to_string()))
}

fn reformat(src: &[u8], indent: Option<&str>) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(src.len() * 2);
    let newline = |out: &mut Vec<u8>, unit: &str, depth: usize| {
        out.push(b'\n');
        for _ in 0..depth {
            out.extend_from_slice(unit.as_bytes());
        }
    };
    let (mut in_string, mut escaped, mut need_indent, mut depth) = (false, false, false, 0usize);
    for &c in src {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            continue;
        }
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        let Some(unit) = indent else {
            in_string = c == b'"';
            out.push(c);
            continue;
        };
        // Like Go, the newline after `{`/`[` waits for the next token so `{}` and `[]` stay flat.
        if need_indent && c != b'}' && c != b']' {
            need_indent = false;
            depth += 1;
            newline(&mut out, unit, depth);
        }
        match c {
            b'{' | b'[' => {
                need_indent = true;
                out.push(c);
            }
            b',' => {
                out.push(c);
                newline(&mut out, unit, depth);
            }
            b':' => out.extend_from_slice(b": "),
            b'}' | b']' => {
                if need_indent {
                    need_indent = false;
                } else {
                    depth = depth.saturating_sub(1);
                    newline(&mut out, unit, depth);
                }
                out.push(c);
            }
            b'"' => {
                in_string = true;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    // The input was valid UTF-8 JSON and only ASCII whitespace was removed.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A request body as Go's `json.NewEncoder(w).Encode(v)` writes it: compact, `<>&` and
/// U+2028/U+2029 escaped (they can only occur inside strings), then a newline.
pub fn encoder_body(v: &impl serde::Serialize) -> Result<Vec<u8>, serde_json::Error> {
    let text = serde_json::to_string(v)?;
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        match c {
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('\n');
    Ok(out.into_bytes())
}

/// Encodes `s` as a JSON string the way Go does.
pub fn quote(s: &str, escape_html: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if escape_html => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indents_like_go() {
        let src = br#"[{"Name":"n","Options":{},"Config":[],"IPAM":{"Config":[{"Subnet":"10.0.0.0/8"}]},"S":"a, b: {c}"}
,{"x":1.50e3}]"#;
        let expected = "[\n    {\n        \"Name\": \"n\",\n        \"Options\": {},\n        \"Config\": [],\n        \"IPAM\": {\n            \"Config\": [\n                {\n                    \"Subnet\": \"10.0.0.0/8\"\n                }\n            ]\n        },\n        \"S\": \"a, b: {c}\"\n    },\n    {\n        \"x\": 1.50e3\n    }\n]";
        assert_eq!(indent(src, "    ").unwrap(), expected);
        assert_eq!(
            compact(b" [ {\"a\" : \"x \\\" y\" } ]\n").unwrap(),
            r#"[{"a":"x \" y"}]"#
        );
        assert_eq!(indent(b"[]", "    ").unwrap(), "[]");
        assert!(indent(b"[", "    ").is_err());
    }

    #[test]
    fn encodes_bodies_like_go() {
        let body = encoder_body(&serde_json::json!({"Labels": {"x": "<&>\u{2028}"}})).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "{\"Labels\":{\"x\":\"\\u003c\\u0026\\u003e\\u2028\"}}\n"
        );
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(
            quote("a<b>&\"\n\u{1}\u{2028}", true),
            r#""a\u003cb\u003e\u0026\"\n\u0001\u2028""#
        );
        assert_eq!(quote("a<b", false), r#""a<b""#);
    }
}
