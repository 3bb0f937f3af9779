//! A light scanner for Go template actions, used to adapt docker templates to gotmpl.
//!
//! Contract: [`split`] cuts a template into text and `{{ ... }}` actions (respecting quoted
//! strings, raw strings, comments and trim markers) or returns `None` when the template is
//! malformed, leaving the error to the real parser. [`tokens`] lists an action's words.
//! The rewrites built on it: `.Label "k"` → `call .Label "k"` (Go calls the method; gotmpl
//! needs `call`), appending a print function to printing actions (so values print as Go
//! prints them), and finding functions the template uses (Go rejects unknown ones at parse).

/// A piece of a template.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Action {
        open: &'a str,
        body: &'a str,
        close: &'a str,
        offset: usize,
    },
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Splits `src` into text and actions.
pub fn split(src: &str) -> Option<Vec<Piece<'_>>> {
    let bytes = src.as_bytes();
    let mut pieces = Vec::new();
    let mut pos = 0;
    while let Some(found) = src[pos..].find("{{") {
        let start = pos + found;
        if start > pos {
            pieces.push(Piece::Text(&src[pos..start]));
        }
        let mut body_start = start + 2;
        if bytes.get(body_start) == Some(&b'-')
            && bytes.get(body_start + 1).is_some_and(|b| is_space(*b))
        {
            body_start += 2;
        }
        let (body_end, close_end) = find_close(src, body_start)?;
        pieces.push(Piece::Action {
            open: &src[start..body_start],
            body: &src[body_start..body_end],
            close: &src[body_end..close_end],
            offset: body_start,
        });
        pos = close_end;
    }
    if pos < src.len() {
        pieces.push(Piece::Text(&src[pos..]));
    }
    Some(pieces)
}

/// Finds where an action's body ends and where its `}}` (or ` -}}`) ends.
fn find_close(src: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = src.as_bytes();
    let trimmed = src[from..].trim_start();
    if trimmed.starts_with("/*") {
        let comment_end = from + src[from..].find("*/")? + 2;
        return close_at(src, comment_end);
    }
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'\'' => {
                let quote = bytes[i];
                i += 1;
                loop {
                    match bytes.get(i) {
                        None | Some(b'\n') => return None,
                        Some(b'\\') => i += 2,
                        Some(&b) if b == quote => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'`' => i += 1 + src[i + 1..].find('`')? + 1,
            b if is_space(b) && src[i + 1..].starts_with("-}}") => return Some((i, i + 4)),
            b'}' if src[i..].starts_with("}}") => return Some((i, i + 2)),
            _ => i += 1,
        }
    }
    None
}

fn close_at(src: &str, at: usize) -> Option<(usize, usize)> {
    let rest = &src[at..];
    if rest.starts_with("}}") {
        Some((at, at + 2))
    } else if rest.len() >= 4 && is_space(rest.as_bytes()[0]) && rest[1..].starts_with("-}}") {
        Some((at, at + 4))
    } else {
        None
    }
}

/// One word of an action, with its byte range in the body.
#[derive(Debug, PartialEq, Eq)]
pub struct Token<'a> {
    pub text: &'a str,
    pub start: usize,
}

/// Splits an action body into words: identifiers, `.Field.Chains`, `$vars`, literals and
/// punctuation (`|`, `(`, `)`, `:=`, `=`, `,`).
pub fn tokens(body: &str) -> Vec<Token<'_>> {
    let bytes = body.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        match bytes[i] {
            b if is_space(b) => {
                i += 1;
                continue;
            }
            b'"' | b'\'' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
            }
            b'`' => i = body[i + 1..].find('`').map_or(bytes.len(), |e| i + e + 2),
            b':' if bytes.get(i + 1) == Some(&b'=') => i += 2,
            b'|' | b'(' | b')' | b'=' | b',' => i += 1,
            _ => {
                let ends_word = |i: usize| {
                    is_space(bytes[i])
                        || matches!(bytes[i], b'|' | b'(' | b')' | b'=' | b',' | b'"' | b'`')
                        || (bytes[i] == b':' && bytes.get(i + 1) == Some(&b'='))
                };
                while i < bytes.len() && !ends_word(i) {
                    i += 1;
                }
            }
        }
        out.push(Token {
            text: &body[start..i],
            start,
        });
    }
    out
}

const KEYWORDS: &[&str] = &[
    "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
];

/// True when printing this action shows a value (not control flow, a comment or a declaration).
fn prints(body: &str) -> bool {
    let toks = tokens(body);
    let Some(first) = toks.first() else {
        return false;
    };
    if body.trim_start().starts_with("/*") || KEYWORDS.contains(&first.text) {
        return false;
    }
    let declares = first.text.starts_with('$')
        && toks
            .iter()
            .skip(1)
            .find(|t| t.text != "," && !t.text.starts_with('$'))
            .is_some_and(|t| t.text == ":=" || t.text == "=");
    !declares
}

/// Inserts `call` before `.Label` when it is given arguments.
fn call_label(body: &str) -> String {
    let toks = tokens(body);
    let mut out = String::with_capacity(body.len() + 8);
    let mut last = 0;
    for (i, t) in toks.iter().enumerate() {
        let called = i > 0 && toks[i - 1].text == "call";
        let has_args = toks
            .get(i + 1)
            .is_some_and(|n| !matches!(n.text, "|" | ")"));
        if t.text == ".Label" && !called && has_args {
            out.push_str(&body[last..t.start]);
            out.push_str("call ");
            last = t.start;
        }
    }
    out.push_str(&body[last..]);
    out
}

/// How printing actions are adapted: the function appended when the pipeline ends in a field
/// or variable, and the one appended when it ends in a function call.
#[derive(Clone, Copy, Debug)]
pub struct PrintWrap {
    pub after_field: &'static str,
    pub after_call: &'static str,
}

/// True when the last command of the pipeline starts with a function name.
fn ends_in_call(body: &str) -> bool {
    let toks = tokens(body);
    let mut depth = 0i32;
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        match t.text {
            "(" => depth += 1,
            ")" => depth -= 1,
            "|" if depth == 0 => start = i + 1,
            _ => {}
        }
    }
    toks.get(start).is_some_and(|t| {
        let b = t.text.as_bytes()[0];
        b.is_ascii_alphabetic() || b == b'_'
    })
}

/// Rewrites a docker template for gotmpl: `.Label` calls always; with `wrap`, printing
/// actions get `| fn` appended. Malformed templates come back unchanged.
pub fn rewrite(src: &str, wrap: Option<PrintWrap>) -> String {
    let Some(pieces) = split(src) else {
        return src.to_string();
    };
    let mut out = String::with_capacity(src.len() + 16);
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Action {
                open, body, close, ..
            } => {
                out.push_str(open);
                let mut body = call_label(body);
                if let Some(w) = wrap.filter(|_| prints(&body)) {
                    let f = if ends_in_call(&body) {
                        w.after_call
                    } else {
                        w.after_field
                    };
                    body.push_str(" | ");
                    body.push_str(f);
                }
                out.push_str(&body);
                out.push_str(close);
            }
        }
    }
    out
}

/// The field that `.{key}` is looked up on in the first chain using it (`Labels` for
/// `.Labels.key`), or `None` when the chain starts with it (looked up on dot or a variable).
pub fn receiver_of(src: &str, key: &str) -> Option<String> {
    for piece in split(src)? {
        let Piece::Action { body, .. } = piece else {
            continue;
        };
        for t in tokens(body) {
            let segments: Vec<&str> = t.text.split('.').collect();
            if let Some(i) = segments
                .iter()
                .skip(1)
                .position(|s| *s == key)
                .map(|p| p + 1)
            {
                let prev = segments[i - 1];
                return (i >= 2 && !prev.is_empty()).then(|| prev.to_string());
            }
        }
    }
    None
}

/// Every function name the template calls, with the 1-based line it is on.
pub fn called_functions(src: &str) -> Vec<(String, usize)> {
    let Some(pieces) = split(src) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for piece in pieces {
        let Piece::Action { body, offset, .. } = piece else {
            continue;
        };
        if body.trim_start().starts_with("/*") {
            continue;
        }
        for t in tokens(body) {
            let first = t.text.as_bytes()[0];
            let word = (first.is_ascii_alphabetic() || first == b'_')
                && t.text
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if word && !KEYWORDS.contains(&t.text) && !matches!(t.text, "true" | "false" | "nil") {
                let line = 1 + src[..offset + t.start].matches('\n').count();
                found.push((t.text.to_string(), line));
            }
        }
    }
    found
}

/// The 1-based line and 0-based column of the first `.{field}` use, as Go reports positions.
pub fn field_position(src: &str, field: &str) -> (usize, usize) {
    let needle = format!(".{field}");
    let at = src
        .match_indices(&needle)
        .find(|(i, _)| {
            let next = src.as_bytes().get(i + needle.len());
            !next.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        })
        .map_or(0, |(i, _)| i);
    let line = 1 + src[..at].matches('\n').count();
    let col = at - src[..at].rfind('\n').map_or(0, |nl| nl + 1);
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_actions_with_quotes_and_trim_markers() {
        let p = split(r#"a{{- .X "}}" -}}b{{/* c }} */}}"#).unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(
            p[1],
            Piece::Action {
                open: "{{- ",
                body: r#".X "}}""#,
                close: " -}}",
                offset: 5
            }
        );
        assert!(matches!(
            p[3],
            Piece::Action {
                body: "/* c }} */",
                ..
            }
        ));
        assert!(split("{{.X").is_none());
    }

    #[test]
    fn rewrites_label_calls_and_printing() {
        let w = Some(PrintWrap {
            after_field: "f",
            after_call: "c",
        });
        assert_eq!(
            rewrite(r#"{{.Label "a.b"}}\t{{.Name}}"#, None),
            r#"{{call .Label "a.b"}}\t{{.Name}}"#
        );
        assert_eq!(
            rewrite(r#"{{call .Label "x"}}{{.Label}}"#, None),
            r#"{{call .Label "x"}}{{.Label}}"#
        );
        assert_eq!(
            rewrite(
                r#"{{range .X}}{{.}}{{end}}{{$v := .Y}}{{json .}}{{ .Z -}}{{.A | index "k"}}{{(index .A 1).B}}"#,
                w
            ),
            r#"{{range .X}}{{. | f}}{{end}}{{$v := .Y}}{{json . | c}}{{ .Z | f -}}{{.A | index "k" | c}}{{(index .A 1).B | f}}"#
        );
        assert_eq!(
            rewrite("{{if .A}}{{else if .B}}{{end}}{{/* x */}}", w),
            "{{if .A}}{{else if .B}}{{end}}{{/* x */}}"
        );
        assert_eq!(
            receiver_of("{{.Labels.nope}}", "nope").as_deref(),
            Some("Labels")
        );
        assert_eq!(receiver_of("{{.Nope}}", "Nope"), None);
        assert_eq!(receiver_of("{{range .C}}{{$v.Name}}{{end}}", "Name"), None);
    }

    #[test]
    fn finds_functions_and_positions() {
        let f = called_functions("{{json .}}\n{{ upper (lower .X) | nope 3 }}{{if true}}{{end}}");
        let names: Vec<_> = f.iter().map(|(n, l)| format!("{n}@{l}")).collect();
        assert_eq!(names, vec!["json@1", "upper@2", "lower@2", "nope@2"]);
        assert_eq!(field_position("{{.ID}} {{.Foo}}", "Foo"), (1, 10));
        assert_eq!(field_position("x\n{{.Foo.Bar}}", "Foo"), (2, 2));
    }
}
