//! Flag values parsed the way docker's pflag/opts parse them, and docker-style usage errors.
//!
//! Contract: every helper returns the exact error text the docker CLI prints for the same
//! input (with `cnm` in place of `docker`), and [`Usage`] formats argument-count and
//! flag-value errors with docker's layout and exit codes (1 and 125).

use std::collections::BTreeMap;
use std::fmt::Display;

use super::CliError;

/// The identity of a subcommand, for usage errors.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    /// `network create`
    pub path: &'static str,
    /// `[OPTIONS] NETWORK`
    pub args: &'static str,
}

impl Usage {
    fn use_line(&self) -> String {
        format!("cnm {} {}", self.path, self.args)
    }

    /// pflag's `invalid argument "V" for "FLAG" flag: ERR` (exit 125).
    pub fn flag_error(&self, value: &str, flag: &str, err: impl Display) -> CliError {
        CliError::new(
            125,
            format!(
                "invalid argument {} for \"{flag}\" flag: {err}\n\nUsage:  {}\n\nRun 'cnm {} --help' for more information",
                go_quote(value),
                self.use_line(),
                self.path
            ),
        )
    }

    /// cobra `ExactArgs(n)`.
    pub fn exact_args(&self, n: usize, got: usize) -> Result<(), CliError> {
        if got == n {
            return Ok(());
        }
        Err(self.count_error(&format!("requires {n} {}", plural(n)), "Run"))
    }

    /// cobra `RequiresMinArgs(n)` (docker says "See" here, not "Run").
    pub fn min_args(&self, n: usize, got: usize) -> Result<(), CliError> {
        if got >= n {
            return Ok(());
        }
        Err(self.count_error(&format!("requires at least {n} {}", plural(n)), "See"))
    }

    /// cobra `NoArgs`.
    pub fn no_args(&self, got: usize) -> Result<(), CliError> {
        if got == 0 {
            return Ok(());
        }
        Err(self.count_error("accepts no arguments", "Run"))
    }

    fn count_error(&self, what: &str, verb: &str) -> CliError {
        CliError::new(
            1,
            format!(
                "cnm: 'cnm {path}' {what}\n\nUsage:  {}\n\n{verb} 'cnm {path} --help' for more information",
                self.use_line(),
                path = self.path
            ),
        )
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "argument" } else { "arguments" }
}

/// Go's `%q` for the strings that appear in flag errors.
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            go_quote(s)
        )),
    }
}

/// `strconv.ParseInt(s, 0, 64)`, as pflag's int flags use it.
pub fn parse_go_int(s: &str) -> Result<i64, String> {
    let syntax = || format!("strconv.ParseInt: parsing {}: invalid syntax", go_quote(s));
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string())
    } else {
        (10, lower.clone())
    };
    // Go allows `_` between digits only with a base prefix.
    let digits = if radix != 10 {
        digits.replace('_', "")
    } else {
        digits
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(syntax());
    }
    let magnitude = u128::from_str_radix(&digits, radix).map_err(|_| syntax())?;
    let value = if negative {
        -(magnitude as i128)
    } else {
        magnitude as i128
    };
    i64::try_from(value).map_err(|_| {
        format!(
            "strconv.ParseInt: parsing {}: value out of range",
            go_quote(s)
        )
    })
}

/// pflag's string-slice value: one flag occurrence is a CSV record (`a,b`, `"a,b",c`).
pub fn parse_csv(value: &str) -> Result<Vec<String>, String> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let mut fields = Vec::new();
    let mut chars = value.chars().peekable();
    let mut column = 0usize;
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            column += 1;
            loop {
                match chars.next() {
                    None => {
                        return Err(format!(
                            "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                            column + 1
                        ));
                    }
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        column += 2;
                        field.push('"');
                    }
                    Some('"') => {
                        column += 1;
                        break;
                    }
                    Some(c) => {
                        column += 1;
                        field.push(c);
                    }
                }
            }
            match chars.peek() {
                None | Some(',') => {}
                Some(_) => {
                    return Err(format!(
                        "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                        column + 1
                    ));
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if c == '"' {
                    return Err(format!(
                        "parse error on line 1, column {}: bare \" in non-quoted-field",
                        column + 1
                    ));
                }
                field.push(c);
                column += 1;
                chars.next();
            }
        }
        fields.push(field);
        match chars.next() {
            Some(',') => column += 1,
            _ => return Ok(fields),
        }
    }
}

/// All occurrences of a string-slice flag, CSV-split; `flag` names it in errors.
pub fn string_slice(usage: &Usage, flag: &str, values: &[String]) -> Result<Vec<String>, CliError> {
    let mut out = Vec::new();
    for v in values {
        out.extend(parse_csv(v).map_err(|e| usage.flag_error(v, flag, e))?);
    }
    Ok(out)
}

/// docker's `MapOpts` without validator: `k=v` (or `k` for an empty value); last one wins.
pub fn map_opts(values: &[String]) -> BTreeMap<String, String> {
    values
        .iter()
        .map(|v| {
            let (k, val) = v.split_once('=').unwrap_or((v.as_str(), ""));
            (k.to_string(), val.to_string())
        })
        .collect()
}

/// `opts.ValidateLabel`.
pub fn validate_label(value: &str) -> Result<(), String> {
    let key = value.split_once('=').map_or(value, |(k, _)| k);
    let key = key.trim_start_matches([' ', '\t']);
    if key.is_empty() {
        return Err(format!("invalid label '{value}': empty name"));
    }
    if key.contains([' ', '\t']) {
        return Err(format!("label '{key}' contains whitespaces"));
    }
    Ok(())
}

/// `opts.ParseLink` validation (`name` or `name:alias`).
pub fn validate_link(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("empty string specified for links".into());
    }
    if value.splitn(3, ':').count() > 2 {
        return Err(format!("bad format for links: {value}"));
    }
    Ok(())
}

/// `opts.FilterOpt.Set`: `name=value`, name lower-cased; empty input ignored.
pub fn parse_filter(value: &str) -> Result<Option<(String, String)>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    let (name, val) = value
        .split_once('=')
        .ok_or_else(|| "bad format of filter (expected name=value)".to_string())?;
    Ok(Some((name.trim().to_lowercase(), val.trim().to_string())))
}

/// All `--filter` occurrences as docker's filter set.
pub fn filters(
    usage: &Usage,
    flag: &str,
    values: &[String],
) -> Result<cnm_types::filters::Filters, CliError> {
    let mut set = cnm_types::filters::Filters::default();
    for v in values {
        if let Some((k, val)) = parse_filter(v).map_err(|e| usage.flag_error(v, flag, e))? {
            set.add(&k, &val);
        }
    }
    Ok(set)
}

/// A Go-style boolean flag given as `--flag` or `--flag=VALUE`: `None` when absent.
pub fn optional_bool(
    usage: &Usage,
    flag: &str,
    value: Option<&str>,
) -> Result<Option<bool>, CliError> {
    value
        .map(|v| parse_go_bool(v).map_err(|e| usage.flag_error(v, flag, e)))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATE: Usage = Usage {
        path: "network create",
        args: "[OPTIONS] NETWORK",
    };

    #[test]
    fn usage_errors_match_docker_layout() {
        let e = CREATE.exact_args(1, 0).unwrap_err();
        assert_eq!(e.code, 1);
        assert_eq!(
            e.message,
            "cnm: 'cnm network create' requires 1 argument\n\nUsage:  cnm network create [OPTIONS] NETWORK\n\nRun 'cnm network create --help' for more information"
        );
        let inspect = Usage {
            path: "network inspect",
            args: "[OPTIONS] NETWORK [NETWORK...]",
        };
        assert!(
            inspect
                .min_args(1, 0)
                .unwrap_err()
                .message
                .contains("requires at least 1 argument\n")
        );
        assert!(
            inspect
                .min_args(1, 0)
                .unwrap_err()
                .message
                .contains("\n\nSee 'cnm network inspect --help'")
        );
        let e = CREATE.flag_error("=x", "--label", validate_label("=x").unwrap_err());
        assert_eq!(e.code, 125);
        assert!(e.message.starts_with(
            "invalid argument \"=x\" for \"--label\" flag: invalid label '=x': empty name\n\n"
        ));
    }

    #[test]
    fn go_scalars() {
        assert_eq!(parse_go_bool("T"), Ok(true));
        assert_eq!(
            parse_go_bool("maybe").unwrap_err(),
            "strconv.ParseBool: parsing \"maybe\": invalid syntax"
        );
        assert_eq!(parse_go_int("-12"), Ok(-12));
        assert_eq!(parse_go_int("0x10"), Ok(16));
        assert_eq!(parse_go_int("010"), Ok(8));
        assert_eq!(
            parse_go_int("x").unwrap_err(),
            "strconv.ParseInt: parsing \"x\": invalid syntax"
        );
        assert!(
            parse_go_int("99999999999999999999")
                .unwrap_err()
                .ends_with("value out of range")
        );
    }

    #[test]
    fn csv_like_pflag() {
        assert_eq!(parse_csv("a,b").unwrap(), vec!["a", "b"]);
        assert_eq!(parse_csv(r#""a,b",c"#).unwrap(), vec!["a,b", "c"]);
        assert_eq!(parse_csv("").unwrap(), Vec::<String>::new());
        assert_eq!(parse_csv("a,").unwrap(), vec!["a", ""]);
        assert!(parse_csv(r#"a"b"#).is_err());
    }

    #[test]
    fn labels_links_filters() {
        assert!(validate_label("a=b").is_ok());
        assert_eq!(
            validate_label("a b=c").unwrap_err(),
            "label 'a b' contains whitespaces"
        );
        assert_eq!(
            validate_link("a:b:c").unwrap_err(),
            "bad format for links: a:b:c"
        );
        assert_eq!(
            parse_filter(" Name = x ").unwrap(),
            Some(("name".into(), "x".into()))
        );
        assert_eq!(
            parse_filter("foo").unwrap_err(),
            "bad format of filter (expected name=value)"
        );
        assert_eq!(
            map_opts(&["a=1".into(), "b".into(), "a=2".into()])
                .get("a")
                .unwrap(),
            "2"
        );
    }
}
