//! Docker's `--format` Go templates, on gotmpl.
//!
//! Contract: [`DockerTemplate::parse`] accepts what docker's `templates.Parse` accepts: Go
//! template syntax, docker's functions (`json split join title lower upper pad truncate`),
//! `.Label "k"` method calls, and rejects unknown functions at parse time with Go's message
//! (`template: :1: function "x" not defined`). With [`Print::Typed`], printed values follow
//! Go's `fmt` rules for structs (see [`super::goval`]). [`Funcs::Header`] swaps in docker's
//! `HeaderFunctions` used to render table headers. Broken block structure (an unclosed
//! `{{range}}`, a stray `{{end}}`, `{{break}}` outside a range), which gotmpl accepts, is
//! refused first by [`super::blocks`], with Go's words.

use std::sync::{Arc, Mutex, PoisonError};

use gotmpl::{MissingKey, Template, Value};

use super::actions::{self, PrintWrap};
use super::blocks;
use super::goval::GoData;

/// Which function set a template gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Funcs {
    /// docker's `basicFunctions`.
    Basic,
    /// `basicFunctions` overridden by `HeaderFunctions` (identity-like string functions).
    Header,
}

/// How printed values are rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Print {
    /// gotmpl's own printing (data made of strings, as docker's list contexts).
    Native,
    /// A typed Go value: structs print as `{a b}`; a missing field prints `<no value>`, a
    /// function's nil result (e.g. `index` of a missing key) the string zero value.
    Typed,
    /// Decoded JSON (`map[string]interface{}`): JSON `null` prints `<nil>`.
    Untyped,
}

/// Template failures, worded as Go words them (callers add `template parsing error: `).
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{0}")]
    Parse(String),
    #[error("{message}")]
    Exec {
        message: String,
        missing_key: Option<String>,
    },
}

const GO_BUILTINS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];
const DOCKER_FUNCS: &[&str] = &[
    "json", "split", "join", "title", "lower", "upper", "pad", "truncate",
];
/// Print functions added by the rewrite; `__print_<x>` renders nil as `<x>`.
const PRINT_FUNCS: [(&str, &str); 3] = [
    ("__print_novalue", "<no value>"),
    ("__print_zero", ""),
    ("__print_nil", "<nil>"),
];

/// A parsed docker template.
pub struct DockerTemplate {
    source: String,
    strict: Template,
    lenient: Template,
    /// The data being rendered, for `json` and `__goprint` to find Go shapes.
    current: Arc<Mutex<Option<GoData>>>,
}

type Slot = Arc<Mutex<Option<GoData>>>;

fn with_data<T>(slot: &Slot, f: impl FnOnce(&GoData) -> T) -> Option<T> {
    slot.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .map(f)
}

fn exec_error(message: impl Into<String>) -> gotmpl::TemplateError {
    gotmpl::TemplateError::Exec(message.into())
}

fn arg_str(args: &[Value], i: usize) -> Result<String, gotmpl::TemplateError> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.to_string()),
        Some(other) => Err(exec_error(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        ))),
        None => Err(exec_error("wrong number of args")),
    }
}

fn arg_int(args: &[Value], i: usize) -> Result<i64, gotmpl::TemplateError> {
    args.get(i)
        .and_then(Value::as_int)
        .ok_or_else(|| exec_error("wrong type for value; expected int"))
}

fn string_value(s: impl Into<Arc<str>>) -> Value {
    Value::String(s.into())
}

/// Go's `strings.Title`: upper-cases letters that follow a separator.
pub fn go_title(s: &str) -> String {
    let is_separator = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            !c.is_alphanumeric() && c.is_whitespace()
        }
    };
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if is_separator(prev) {
                c.to_uppercase().next().unwrap_or(c)
            } else {
                c
            };
            prev = c;
            out
        })
        .collect()
}

fn install_funcs(t: Template, funcs: Funcs, slot: &Slot) -> Template {
    let json_slot = slot.clone();
    let t = t
        .func("json", move |args| {
            let v = args
                .first()
                .ok_or_else(|| exec_error("wrong number of args for json"))?;
            let json =
                with_data(&json_slot, |d| d.json(v)).unwrap_or_else(|| GoData::plain().json(v));
            Ok(string_value(json))
        })
        .func("split", |args| {
            let (s, sep) = (arg_str(args, 0)?, arg_str(args, 1)?);
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| string_value(c.to_string())).collect()
            } else {
                s.split(sep.as_str()).map(string_value).collect()
            };
            Ok(Value::List(parts.into()))
        })
        .func("join", |args| {
            let sep = arg_str(args, 1)?;
            match args.first() {
                Some(Value::List(items)) => {
                    let parts: Vec<String> = items.iter().map(|i| i.to_string()).collect();
                    Ok(string_value(parts.join(&sep)))
                }
                _ => Err(exec_error("wrong type for value; expected []string")),
            }
        })
        .func("title", |args| {
            Ok(string_value(go_title(&arg_str(args, 0)?)))
        })
        .func("lower", |args| {
            Ok(string_value(arg_str(args, 0)?.to_lowercase()))
        })
        .func("upper", |args| {
            Ok(string_value(arg_str(args, 0)?.to_uppercase()))
        })
        .func("pad", |args| {
            let s = arg_str(args, 0)?;
            if s.is_empty() {
                return Ok(string_value(s));
            }
            let (pre, post) = (
                arg_int(args, 1)?.max(0) as usize,
                arg_int(args, 2)?.max(0) as usize,
            );
            Ok(string_value(format!(
                "{}{s}{}",
                " ".repeat(pre),
                " ".repeat(post)
            )))
        })
        .func("truncate", |args| {
            let s = arg_str(args, 0)?;
            let n = arg_int(args, 1)?.max(0) as usize;
            if s.len() < n {
                return Ok(string_value(s));
            }
            Ok(string_value(
                String::from_utf8_lossy(&s.as_bytes()[..n]).into_owned(),
            ))
        });
    let t = PRINT_FUNCS.iter().fold(t, |t, (name, nil_text)| {
        let slot = slot.clone();
        t.func(name, move |args| {
            let v = args.first().cloned().unwrap_or(Value::Nil);
            if matches!(v, Value::Nil) {
                return Ok(string_value(*nil_text));
            }
            let printed = with_data(&slot, |d| d.print(&v)).unwrap_or_else(|| v.to_string());
            Ok(string_value(printed))
        })
    });
    match funcs {
        Funcs::Basic => t,
        Funcs::Header => {
            let identity = |args: &[Value]| Ok(string_value(arg_str(args, 0)?));
            t.func("json", identity)
                .func("split", identity)
                .func("join", identity)
                .func("title", identity)
                .func("lower", identity)
                .func("upper", identity)
                .func("truncate", identity)
        }
    }
}

impl DockerTemplate {
    /// Parses `src` for data printed as `print` says.
    pub fn parse(src: &str, funcs: Funcs, print: Print) -> Result<Self, TemplateError> {
        if let Err(broken) = blocks::check(src) {
            // Go stops at the first error: a syntax error before the broken block wins.
            // gotmpl accepts unclosed blocks, so the prefix parses unless it has one.
            Self::parse_unchecked(&src[..broken.offset], funcs, print)?;
            return Err(TemplateError::Parse(broken.to_string()));
        }
        Self::parse_unchecked(src, funcs, print)
    }

    /// [`Self::parse`] without the block-structure check.
    fn parse_unchecked(src: &str, funcs: Funcs, print: Print) -> Result<Self, TemplateError> {
        for (name, line) in actions::called_functions(src) {
            if !GO_BUILTINS.contains(&name.as_str()) && !DOCKER_FUNCS.contains(&name.as_str()) {
                return Err(TemplateError::Parse(format!(
                    "template: :{line}: function \"{name}\" not defined"
                )));
            }
        }
        let wrap = match print {
            Print::Native => None,
            Print::Typed => Some(PrintWrap {
                after_field: PRINT_FUNCS[0].0,
                after_call: PRINT_FUNCS[1].0,
            }),
            Print::Untyped => Some(PrintWrap {
                after_field: PRINT_FUNCS[2].0,
                after_call: PRINT_FUNCS[2].0,
            }),
        };
        let source = actions::rewrite(src, wrap);
        let current: Slot = Arc::new(Mutex::new(None));
        let build = |missing: MissingKey| {
            install_funcs(Template::new("").missing_key(missing), funcs, &current)
                .parse(&source)
                .map_err(|e| {
                    TemplateError::Parse(match e {
                        gotmpl::TemplateError::Parse { line, message, .. }
                        | gotmpl::TemplateError::Lex { line, message, .. } => {
                            format!("template: :{line}: {message}")
                        }
                        other => format!("template: :1: {other}"),
                    })
                })
        };
        let strict = build(MissingKey::Error)?;
        let lenient = build(MissingKey::Invalid)?;
        Ok(DockerTemplate {
            source,
            strict,
            lenient,
            current,
        })
    }

    /// Renders `data`; with `strict`, a missing map key is an error (Go's `missingkey=error`,
    /// and the behaviour of a missing struct field).
    pub fn execute(&self, data: &GoData, strict: bool) -> Result<String, TemplateError> {
        let (out, err) = self.execute_partial(data, strict);
        match err {
            None => Ok(out),
            Some(e) => Err(e),
        }
    }

    /// Renders `data`, returning what was written before any error (Go's `Execute` into a
    /// buffer leaves that output behind).
    pub fn execute_partial(&self, data: &GoData, strict: bool) -> (String, Option<TemplateError>) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(data.clone());
        let template = if strict { &self.strict } else { &self.lenient };
        let mut out = Vec::new();
        let result = template.execute(&mut out, &data.value);
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = None;
        let text = String::from_utf8_lossy(&out).into_owned();
        let err = result.err().map(|e| match e {
            gotmpl::TemplateError::MissingKey { key } => TemplateError::Exec {
                message: self
                    .missing_key_message(&key, &format!("map has no entry for key \"{key}\"")),
                missing_key: Some(key),
            },
            gotmpl::TemplateError::Exec(m) => TemplateError::Exec {
                message: format!("template: :1: executing \"\": {m}"),
                missing_key: None,
            },
            other => TemplateError::Exec {
                message: format!("template: :1: executing \"\": {other}"),
                missing_key: None,
            },
        });
        (text, err)
    }

    /// The field a missing `key` was looked up on, if the template names one (see
    /// [`actions::receiver_of`]).
    pub fn receiver_of(&self, key: &str) -> Option<String> {
        actions::receiver_of(&self.source, key)
    }

    /// `template: :L:C: executing "" at <.KEY>: DETAIL`, Go's text for a bad field access.
    pub fn missing_key_message(&self, key: &str, detail: &str) -> String {
        let (line, col) = actions::field_position(&self.source, key);
        format!("template: :{line}:{col}: executing \"\" at <.{key}>: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::format::goval::{GoField, GoVal};

    fn data() -> GoData {
        let label: gotmpl::ValueFunc =
            Arc::new(|args: &[Value]| Ok(string_value(format!("<{}>", args[0]))));
        GoData::new(GoVal::Struct(vec![
            GoField::new("Name", GoVal::str("net-one")),
            GoField::new("Label", GoVal::Func(label)),
            GoField::new(
                "Tags",
                GoVal::Slice(Some(vec![GoVal::str("a"), GoVal::str("b")])),
            ),
        ]))
    }

    fn render(src: &str) -> String {
        DockerTemplate::parse(src, Funcs::Basic, Print::Typed)
            .unwrap()
            .execute(&data(), false)
            .unwrap()
    }

    #[test]
    fn docker_functions() {
        assert_eq!(
            render(r#"{{upper .Name}} {{title "hello wo-rld"}} {{lower "AB"}}"#),
            "NET-ONE Hello Wo-Rld ab"
        );
        assert_eq!(
            render(r#"{{join (split .Name "-") "+"}}|{{pad .Name 1 2}}|{{truncate .Name 3}}"#),
            "net+one| net-one  |net"
        );
        assert_eq!(
            render(r#"{{json .Tags}} {{.Label "k"}} {{.Tags}}"#),
            r#"["a","b"] <k> [a b]"#
        );
        assert_eq!(render("{{.Missing}}"), "<no value>");
    }

    #[test]
    fn go_style_errors() {
        let e = DockerTemplate::parse("{{.Name | nope}}", Funcs::Basic, Print::Native)
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "template: :1: function \"nope\" not defined");
        let e = DockerTemplate::parse("{{.Name", Funcs::Basic, Print::Native)
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "template: :1: unclosed action");
        let t = DockerTemplate::parse("{{.Name}} {{.Foo}}", Funcs::Basic, Print::Native).unwrap();
        let e = t.execute(&data(), true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "template: :1:12: executing \"\" at <.Foo>: map has no entry for key \"Foo\""
        );
    }

    #[test]
    fn header_functions_pass_strings_through() {
        let t = DockerTemplate::parse(
            r#"{{upper .Name}}\t{{truncate .Name 2}}"#,
            Funcs::Header,
            Print::Native,
        )
        .unwrap();
        assert_eq!(t.execute(&data(), false).unwrap(), r#"net-one\tnet-one"#);
    }
}
