//! Running `cnm network` commands against a fake daemon, for the tests.

use clap::Parser;

use super::fake_daemon::{FakeDaemon, Recorded, Reply};
use super::{Outcome, capture};
use crate::client::http::ApiClient;
use crate::client::network::{self, NetworkCommand};

#[derive(Parser)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: NetworkCommand,
}

/// Runs `cnm network ARGS` against `daemon` (optionally pinning the API version).
pub fn cnm(daemon: &FakeDaemon, pinned: Option<&str>, stdin: &str, args: &[&str]) -> Outcome {
    let cli =
        Cli::try_parse_from(std::iter::once("cnm").chain(args.iter().copied())).expect("clap");
    let mut api = ApiClient::new(&daemon.url, pinned.map(str::to_string)).expect("client");
    capture(stdin, |io| network::run(&mut api, io, cli.cmd))
}

/// A daemon that knows network `n1`, lists `[]`, and pings with `version` (if any).
pub fn daemon_with_version(version: Option<&'static str>) -> FakeDaemon {
    FakeDaemon::start(move |r: &Recorded| {
        if r.uri == "/_ping" {
            return Reply {
                api_version: version,
                ..Reply::empty(200)
            };
        }
        match (r.method.as_str(), r.uri.split('?').next().unwrap_or("")) {
            ("GET", p) if p.ends_with("/networks") => Reply::json(200, "[]"),
            ("POST", p) if p.ends_with("/networks/create") => {
                Reply::json(201, r#"{"Id":"abc123","Warning":""}"#)
            }
            ("POST", p) if p.ends_with("/connect") || p.ends_with("/disconnect") => {
                Reply::empty(200)
            }
            _ => Reply::error(404, "page not found"),
        }
    })
}
