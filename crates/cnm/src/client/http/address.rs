//! Daemon addresses and URL text, as the Docker Go client writes them.
//!
//! Contract: [`resolve_host`] picks the daemon URL (`-H`, `$CNM_HOST`, `$DOCKER_HOST` when it is
//! a unix socket, then [`DEFAULT_HOST`]); [`parse_host`] reads it; [`path_segment`] and
//! [`encode_query`] escape request targets exactly as Go's `net/url` does; [`version_less`]
//! compares API versions like `versions.LessThan`.

use std::path::PathBuf;

use super::ClientError;

/// The socket used when neither `-H` nor the environment names one.
pub const DEFAULT_HOST: &str = "unix:///run/cnm/cnm.sock";

/// Where the daemon listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp(String),
}

/// Picks the daemon URL: `-H`, then `$CNM_HOST`, then `$DOCKER_HOST` when it is a unix socket,
/// then [`DEFAULT_HOST`].
pub fn resolve_host(flag: Option<String>, env: impl Fn(&str) -> Option<String>) -> String {
    let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    nonempty(flag)
        .or_else(|| nonempty(env("CNM_HOST")))
        .or_else(|| nonempty(env("DOCKER_HOST")).filter(|h| h.starts_with("unix://")))
        .unwrap_or_else(|| DEFAULT_HOST.to_string())
}

/// Parses `unix:///path` or `tcp://host:port` (Go's `ParseHostURL` rules).
pub fn parse_host(url: &str) -> Result<Endpoint, ClientError> {
    let url = url.trim();
    let bad = || ClientError::BadHost(url.to_string());
    let (proto, addr) = url.split_once("://").ok_or_else(bad)?;
    if addr.is_empty() {
        return Err(bad());
    }
    match proto {
        "unix" => Ok(Endpoint::Unix(PathBuf::from(addr))),
        "tcp" => Ok(Endpoint::Tcp(addr.trim_end_matches('/').to_string())),
        _ => Err(bad()),
    }
}

/// Go's `versions.LessThan`: numeric, component by component.
pub fn version_less(a: &str, b: &str) -> bool {
    let parts = |s: &str| {
        s.split('.')
            .map(|p| p.parse::<u64>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    let (a, b) = (parts(a), parts(b));
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return x < y;
        }
    }
    false
}

pub(super) fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~')
}

pub(super) fn escape(s: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Escapes a path segment as Go's `url.URL.EscapedPath` does. Like the docker CLI, `/` is
/// kept, so `inspect a/b` asks for a route the daemon does not have and gets its 404.
pub fn path_segment(s: &str) -> String {
    escape(s, |c| {
        is_unreserved(c)
            || matches!(
                c,
                b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'@'
            )
    })
}

/// Go's `url.Values.Encode`: keys sorted, `QueryEscape`d values (space as `+`).
pub fn encode_query(pairs: &[(&str, String)]) -> String {
    let mut pairs: Vec<_> = pairs.iter().collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let query_escape = |s: &str| escape(s, is_unreserved).replace("%20", "+");
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_precedence() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            resolve_host(Some("unix:///a".into()), env(&[("CNM_HOST", "unix:///b")])),
            "unix:///a"
        );
        assert_eq!(
            resolve_host(
                None,
                env(&[("CNM_HOST", "unix:///b"), ("DOCKER_HOST", "unix:///c")])
            ),
            "unix:///b"
        );
        assert_eq!(
            resolve_host(None, env(&[("DOCKER_HOST", "unix:///c")])),
            "unix:///c"
        );
        assert_eq!(
            resolve_host(None, env(&[("DOCKER_HOST", "tcp://1.2.3.4:2375")])),
            DEFAULT_HOST
        );
        assert_eq!(resolve_host(None, env(&[])), DEFAULT_HOST);
    }

    #[test]
    fn parses_hosts() {
        assert_eq!(
            parse_host("unix:///run/x.sock").unwrap(),
            Endpoint::Unix("/run/x.sock".into())
        );
        assert_eq!(
            parse_host("tcp://127.0.0.1:2375").unwrap(),
            Endpoint::Tcp("127.0.0.1:2375".into())
        );
        assert_eq!(
            parse_host("/run/x.sock").unwrap_err().to_string(),
            "unable to parse cnm host `/run/x.sock`"
        );
        assert!(parse_host("unix://").is_err());
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version_less("1.9", "1.41"));
        assert!(version_less("1.41", "1.51"));
        assert!(!version_less("1.51", "1.51"));
        assert!(!version_less("2.0", "1.99"));
    }

    #[test]
    fn query_and_path_escaping_follow_go() {
        let q = encode_query(&[
            ("verbose", "true".into()),
            ("filters", r#"{"name":{"a b":true}}"#.into()),
        ]);
        assert_eq!(
            q,
            "filters=%7B%22name%22%3A%7B%22a+b%22%3Atrue%7D%7D&verbose=true"
        );
        assert_eq!(path_segment("a b/c?d%"), "a%20b/c%3Fd%25");
    }
}
