//! The block structure of a Go template, checked as Go's `text/template/parse` checks it.
//!
//! Contract: [`check`] walks the actions of a template (cut by [`actions::split`], so quoted
//! strings, raw strings, comments and `{{-`/`-}}` trim markers are respected) and returns the
//! first structural error Go's parser reports, worded as Go words it (`template: :L: MSG`):
//! an unclosed `{{if}}`/`{{range}}`/`{{with}}`/`{{define}}`/`{{block}}` (`unexpected EOF`), a
//! stray `{{end}}` or `{{else}}`, a second `{{else}}` (`expected end; found {{else}}`), an
//! `{{else}}` in a `define`/`block` body, `{{else if}}` where only `{{else with}}` (or
//! nothing) may chain, a `{{define}}` below the top level, and `{{break}}`/`{{continue}}`
//! outside the body of a `{{range}}` (a `{{block}}` starts a fresh template, as in Go).
//! A template the scanner cannot cut (an unclosed action, an unterminated string) passes:
//! the real parser reports those. gotmpl accepts all of the above, so this runs first.
//!
//! The error carries the byte offset of the action it is about (the template's length for
//! `unexpected EOF`), so a caller can let earlier syntax errors win, as Go reports the first.

use super::actions::{self, Piece};

/// A structural error: Go's message and where the offending action starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: :{line}: {message}")]
pub struct BlockError {
    pub line: usize,
    pub message: String,
    /// Byte offset of the action's `{{` (the template's length for `unexpected EOF`).
    pub offset: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Root,
    Define,
    Block,
    If,
    Range,
    With,
}

#[derive(Debug)]
struct Frame {
    kind: Kind,
    /// Past this frame's `{{else}}`.
    in_else: bool,
    /// Opened by `{{else if}}`/`{{else with}}`: its `{{end}}` also ends the parent.
    chained: bool,
}

impl Frame {
    fn new(kind: Kind, chained: bool) -> Self {
        Frame {
            kind,
            in_else: false,
            chained,
        }
    }
}

/// Go's 1-based line of byte `at`.
fn line_at(src: &str, at: usize) -> usize {
    1 + src.as_bytes()[..at.min(src.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
}

/// True when a `{{break}}`/`{{continue}}` here is inside a range body of the current tree.
fn in_range(stack: &[Frame]) -> bool {
    for frame in stack.iter().rev() {
        match frame.kind {
            Kind::Range if !frame.in_else => return true,
            Kind::Root | Kind::Define | Kind::Block => return false,
            _ => {}
        }
    }
    false
}

/// Checks the block structure of `src`; see the module doc.
pub fn check(src: &str) -> Result<(), BlockError> {
    let Some(pieces) = actions::split(src) else {
        return Ok(());
    };
    let mut stack = vec![Frame::new(Kind::Root, false)];
    for piece in pieces {
        let Piece::Action {
            open,
            body,
            close,
            offset,
        } = piece
        else {
            continue;
        };
        if body.trim_start().starts_with("/*") {
            continue;
        }
        let start = offset - open.len();
        // Go reports most of these at the line of the action's closing delimiter.
        let close_line = line_at(src, offset + body.len() + close.len().saturating_sub(2));
        let fail = |line: usize, message: String| {
            Err(BlockError {
                line,
                message,
                offset: start,
            })
        };
        let toks = actions::tokens(body);
        let Some(first) = toks.first() else {
            continue;
        };
        match first.text {
            "if" => stack.push(Frame::new(Kind::If, false)),
            "range" => stack.push(Frame::new(Kind::Range, false)),
            "with" => stack.push(Frame::new(Kind::With, false)),
            "block" => stack.push(Frame::new(Kind::Block, false)),
            "define" if stack.len() == 1 => stack.push(Frame::new(Kind::Define, false)),
            "define" => {
                return fail(
                    line_at(src, offset + first.start),
                    "unexpected <define> in command".into(),
                );
            }
            word @ ("break" | "continue") if toks.len() == 1 && !in_range(&stack) => {
                return fail(close_line, format!("{{{{{word}}}}} outside {{{{range}}}}"));
            }
            "end" => {
                if stack.len() == 1 {
                    return fail(close_line, "unexpected {{end}}".into());
                }
                while let Some(frame) = stack.pop() {
                    if !frame.chained {
                        break;
                    }
                }
            }
            "else" => {
                let chain = toks.get(1).map(|t| (t.text, t.start));
                let line = match chain {
                    Some((_, at)) => line_at(src, offset + at),
                    None => close_line,
                };
                let Some(frame) = stack.last_mut() else {
                    continue;
                };
                let context = match frame.kind {
                    Kind::Root => return fail(line, "unexpected {{else}}".into()),
                    Kind::Define => "define clause",
                    Kind::Block => "block clause",
                    Kind::If | Kind::Range | Kind::With => "",
                };
                if !context.is_empty() {
                    return fail(line, format!("unexpected {{{{else}}}} in {context}"));
                }
                if frame.in_else {
                    return fail(line, "expected end; found {{else}}".into());
                }
                frame.in_else = true;
                match (frame.kind, chain) {
                    (Kind::If, Some(("if", _))) => stack.push(Frame::new(Kind::If, true)),
                    (Kind::With, Some(("with", _))) => stack.push(Frame::new(Kind::With, true)),
                    (_, Some((word @ ("if" | "with" | "range"), _))) => {
                        return fail(line, format!("unexpected <{word}> in input"));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if stack.len() > 1 {
        return Err(BlockError {
            line: line_at(src, src.len()),
            message: "unexpected EOF".into(),
            offset: src.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> String {
        check(src).unwrap_err().to_string()
    }

    #[test]
    fn well_formed_templates_pass() {
        for src in [
            "",
            "plain",
            "{{range .}}{{if .A}}x{{else if .B}}y{{else}}z{{end}}{{end}}",
            "{{with .}}a{{else with .B}}b{{else}}c{{end}}",
            "{{range .}}{{if .}}{{break}}{{end}}{{continue}}{{end}}",
            "{{define \"x\"}}a{{end}}{{template \"x\" .}}",
            "{{block \"b\" .}}{{range .}}{{break}}{{end}}{{end}}",
            "{{- range . -}} {{- end -}}",
            "{{/* {{end}} {{else}} */}}",
            "{{\"{{end}}\"}}{{`{{end}}`}}{{'}'}}",
            "{{.end}}{{.Field | print \"else\"}}",
            "{{if .}}{{else\nif .}}{{end}}",
            "{{.Name",
        ] {
            assert_eq!(check(src), Ok(()), "{src:?}");
        }
    }

    #[test]
    fn broken_blocks_fail_with_go_words() {
        // Each message checked against docker 28's `--format`.
        let cases = [
            ("{{range .}}", "template: :1: unexpected EOF"),
            ("a\n{{if .}}\nb\n", "template: :4: unexpected EOF"),
            ("{{range $}}{{range $}}y", "template: :1: unexpected EOF"),
            ("{{define \"a\"}}", "template: :1: unexpected EOF"),
            ("{{end}}", "template: :1: unexpected {{end}}"),
            ("{{end\n}}", "template: :2: unexpected {{end}}"),
            (
                "{{if .}}{{else\nif .}}{{end}}{{end}}",
                "template: :2: unexpected {{end}}",
            ),
            ("{{else}}", "template: :1: unexpected {{else}}"),
            ("{{break}}", "template: :1: {{break}} outside {{range}}"),
            (
                "{{continue}}",
                "template: :1: {{continue}} outside {{range}}",
            ),
            (
                "{{range .}}{{else}}{{break}}{{end}}",
                "template: :1: {{break}} outside {{range}}",
            ),
            (
                "{{range .}}{{block \"a\" .}}{{break}}{{end}}{{end}}",
                "template: :1: {{break}} outside {{range}}",
            ),
            (
                "{{range .}}{{else if .}}{{end}}",
                "template: :1: unexpected <if> in input",
            ),
            (
                "{{if .}}{{else}}{{else}}{{end}}",
                "template: :1: expected end; found {{else}}",
            ),
            (
                "{{if .}}{{else}}{{else if .}}{{end}}",
                "template: :1: expected end; found {{else}}",
            ),
            (
                "{{define \"a\"}}{{else}}{{end}}",
                "template: :1: unexpected {{else}} in define clause",
            ),
            (
                "{{block \"a\" .}}{{else}}{{end}}",
                "template: :1: unexpected {{else}} in block clause",
            ),
            (
                "{{if .}}{{define \"x\"}}{{end}}{{end}}",
                "template: :1: unexpected <define> in command",
            ),
        ];
        for (src, want) in cases {
            assert_eq!(err(src), want, "{src:?}");
        }
    }

    #[test]
    fn the_error_names_the_offending_action() {
        assert_eq!(check("ab{{end}}").unwrap_err().offset, 2);
        assert_eq!(check("{{if .}}abc").unwrap_err().offset, 11);
    }
}
