//! Finding a v1 plugin by name, as Docker does (spec §5.1, trap 37).
//!
//! Contract: `locate` scans once, first match wins, in Docker's order:
//! 1. sockets `<socket dir>/N.sock`, `<socket dir>/N/N.sock` (must be unix sockets);
//! 2. for each spec dir in order: `N.spec`, `N/N.spec`, `N.json`, `N/N.json`.
//!
//! `.spec` holds one URL; `.json` is `{"Name","Addr","TLSConfig"}` (`Name` ignored). URLs:
//! `unix:///path` → unix socket; `tcp://host:port` and `http://host:port` → plain HTTP over
//! TCP (Docker uses TLS only for `https://`, whatever `TLSConfig` says). `https://` is refused
//! with a clear error: cnm speaks no TLS to plugins. `discover` repeats `locate` with a short
//! back-off until the configured bound (Docker waits ~15 s; cnm answers within the bound).

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::PluginError;

/// Where a plugin listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    Unix(PathBuf),
    /// `host:port`.
    Tcp(String),
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "unix://{}", path.display()),
            Address::Tcp(host) => write!(f, "tcp://{host}"),
        }
    }
}

/// `.json` spec files.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct JsonSpec {
    #[serde(default)]
    addr: String,
    #[serde(rename = "TLSConfig", default)]
    tls_config: Option<serde_json::Value>,
}

/// Names that could escape the plugin directories are never looked up.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

fn candidates(dir: &Path, name: &str, ext: &str) -> [PathBuf; 2] {
    [
        dir.join(format!("{name}{ext}")),
        dir.join(name).join(format!("{name}{ext}")),
    ]
}

/// One scan of the socket and spec directories. `Ok(None)`: not there (yet).
pub fn locate(
    name: &str,
    socket_dir: &Path,
    spec_dirs: &[PathBuf],
) -> Result<Option<Address>, PluginError> {
    if !valid_name(name) {
        return Ok(None);
    }
    for path in candidates(socket_dir, name, ".sock") {
        if std::fs::metadata(&path).is_ok_and(|m| m.file_type().is_socket()) {
            return Ok(Some(Address::Unix(path)));
        }
    }
    for dir in spec_dirs {
        let [flat_spec, nested_spec] = candidates(dir, name, ".spec");
        let [flat_json, nested_json] = candidates(dir, name, ".json");
        for path in [flat_spec, nested_spec, flat_json, nested_json] {
            if path.exists() {
                return read_spec(name, &path).map(Some);
            }
        }
    }
    Ok(None)
}

/// Reads a `.spec` or `.json` file into an address.
pub fn read_spec(name: &str, path: &Path) -> Result<Address, PluginError> {
    let bad = |message: String| PluginError::BadSpec {
        name: name.to_string(),
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let (url, tls) = if path.extension().is_some_and(|e| e == "json") {
        let spec: JsonSpec =
            serde_json::from_str(&text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        (spec.addr, spec.tls_config.is_some_and(|t| !t.is_null()))
    } else {
        (text.trim().to_string(), false)
    };
    parse_url(&url, tls).map_err(|message| match message {
        UrlError::Tls => PluginError::TlsUnsupported {
            name: name.to_string(),
            url: url.clone(),
        },
        UrlError::Invalid(message) => bad(message),
    })
}

enum UrlError {
    Tls,
    Invalid(String),
}

fn parse_url(url: &str, _tls_settings: bool) -> Result<Address, UrlError> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(UrlError::Invalid(format!("Unknown protocol in {url:?}")));
    };
    match scheme {
        "unix" if rest.starts_with('/') => Ok(Address::Unix(PathBuf::from(rest))),
        "unix" => Err(UrlError::Invalid(format!(
            "unix socket path must be absolute in {url:?}"
        ))),
        "tcp" | "http" => {
            let host = rest.split('/').next().unwrap_or_default();
            if host
                .rsplit_once(':')
                .is_none_or(|(h, port)| h.is_empty() || port.parse::<u16>().is_err())
            {
                return Err(UrlError::Invalid(format!("expected host:port in {url:?}")));
            }
            Ok(Address::Tcp(host.to_string()))
        }
        "https" => Err(UrlError::Tls),
        "" => Err(UrlError::Invalid(format!("Unknown protocol in {url:?}"))),
        other => Err(UrlError::Invalid(format!(
            "unsupported protocol {other:?} in {url:?}"
        ))),
    }
}

/// `locate`, repeated with back-off (50 ms doubling) until found or `bound` has passed.
pub async fn discover(
    name: &str,
    socket_dir: &Path,
    spec_dirs: &[PathBuf],
    bound: Duration,
) -> Result<Address, PluginError> {
    let start = Instant::now();
    let mut delay = Duration::from_millis(50);
    loop {
        if let Some(address) = locate(name, socket_dir, spec_dirs)? {
            return Ok(address);
        }
        if start.elapsed() + delay > bound {
            return Err(PluginError::NotFound(name.to_string()));
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs() -> (tempfile::TempDir, PathBuf, Vec<PathBuf>) {
        let tmp = tempfile::tempdir().unwrap();
        let sockets = tmp.path().join("run");
        let etc = tmp.path().join("etc");
        let lib = tmp.path().join("lib");
        for d in [&sockets, &etc, &lib] {
            std::fs::create_dir_all(d).unwrap();
        }
        (tmp, sockets, vec![etc, lib])
    }

    fn bind(path: &Path) -> std::os::unix::net::UnixListener {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::net::UnixListener::bind(path).unwrap()
    }

    #[test]
    fn sockets_come_first_flat_before_nested() {
        let (_tmp, run, specs) = dirs();
        std::fs::write(specs[0].join("p.spec"), "tcp://127.0.0.1:9000").unwrap();
        assert_eq!(
            locate("p", &run, &specs).unwrap(),
            Some(Address::Tcp("127.0.0.1:9000".into()))
        );
        let _nested = bind(&run.join("p").join("p.sock"));
        assert_eq!(
            locate("p", &run, &specs).unwrap(),
            Some(Address::Unix(run.join("p/p.sock")))
        );
        let _flat = bind(&run.join("p.sock"));
        assert_eq!(
            locate("p", &run, &specs).unwrap(),
            Some(Address::Unix(run.join("p.sock")))
        );
    }

    #[test]
    fn a_plain_file_named_like_a_socket_is_not_a_plugin() {
        let (_tmp, run, specs) = dirs();
        std::fs::write(run.join("p.sock"), "").unwrap();
        assert_eq!(locate("p", &run, &specs).unwrap(), None);
    }

    #[test]
    fn spec_before_json_and_the_first_spec_dir_wins() {
        let (_tmp, run, specs) = dirs();
        std::fs::write(specs[1].join("p.spec"), "unix:///lib.sock").unwrap();
        assert_eq!(
            locate("p", &run, &specs).unwrap(),
            Some(Address::Unix("/lib.sock".into()))
        );
        std::fs::write(
            specs[0].join("p.json"),
            r#"{"Name":"ignored","Addr":"tcp://10.0.0.1:80"}"#,
        )
        .unwrap();
        assert_eq!(
            locate("p", &run, &specs).unwrap(),
            Some(Address::Tcp("10.0.0.1:80".into()))
        );
        std::fs::create_dir(specs[0].join("p")).unwrap();
        std::fs::write(specs[0].join("p/p.spec"), "unix:///nested.sock\n").unwrap();
        assert_eq!(
            locate("p", &run, &specs).unwrap(),
            Some(Address::Unix("/nested.sock".into()))
        );
        std::fs::write(specs[0].join("p.spec"), "  unix:///flat.sock  \n").unwrap();
        assert_eq!(
            locate("p", &run, &specs).unwrap(),
            Some(Address::Unix("/flat.sock".into()))
        );
    }

    #[test]
    fn bad_specs_are_clear_errors() {
        let (_tmp, run, specs) = dirs();
        std::fs::write(specs[0].join("a.spec"), "/run/a.sock").unwrap();
        let e = locate("a", &run, &specs).unwrap_err().to_string();
        assert!(e.contains("Unknown protocol"), "{e}");
        std::fs::write(specs[0].join("b.json"), "{not json").unwrap();
        let e = locate("b", &run, &specs).unwrap_err().to_string();
        assert!(e.contains("invalid JSON"), "{e}");
        std::fs::write(
            specs[0].join("c.json"),
            r#"{"Addr":"https://plugins.example:443","TLSConfig":{"CAFile":"/ca.pem"}}"#,
        )
        .unwrap();
        let e = locate("c", &run, &specs).unwrap_err().to_string();
        assert!(
            e.contains("TLS") && e.contains("https://plugins.example:443"),
            "{e}"
        );
        std::fs::write(specs[0].join("d.spec"), "tcp://nohost").unwrap();
        let e = locate("d", &run, &specs).unwrap_err().to_string();
        assert!(e.contains("host:port"), "{e}");
    }

    #[test]
    fn tcp_with_tls_settings_stays_plain_http_as_in_docker() {
        let (_tmp, run, specs) = dirs();
        std::fs::write(
            specs[0].join("p.json"),
            r#"{"Addr":"tcp://127.0.0.1:81","TLSConfig":{"InsecureSkipVerify":true}}"#,
        )
        .unwrap();
        assert_eq!(
            locate("p", &run, &specs).unwrap(),
            Some(Address::Tcp("127.0.0.1:81".into()))
        );
    }

    #[test]
    fn names_that_escape_the_directories_are_not_looked_up() {
        let (_tmp, run, specs) = dirs();
        std::fs::write(specs[0].join("x.spec"), "tcp://127.0.0.1:1").unwrap();
        for name in ["", ".", "..", "../etc/x", "a/b"] {
            assert_eq!(locate(name, &run, &specs).unwrap(), None, "{name:?}");
        }
    }

    #[tokio::test]
    async fn discovery_waits_for_a_late_socket_and_gives_up_after_the_bound() {
        let (_tmp, run, specs) = dirs();
        let started = Instant::now();
        let e = discover("late", &run, &specs, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "plugin \"late\" not found");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        let path = run.join("late.sock");
        let binder = {
            let path = path.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                bind(&path)
            })
        };
        let found = discover("late", &run, &specs, Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(found, Address::Unix(path));
        drop(binder.await.unwrap());
    }
}
