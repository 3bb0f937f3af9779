//! `cnm sandbox ...`: cnm's own commands for network namespaces, in docker's style.
//!
//! Contract: `create` prints the new id; `ls` prints a table; `inspect` prints JSON like
//! `docker inspect` (an array, 4-space indent, `-f` templates); `rm` echoes each removed name
//! and reports failures together at the end (exit 1), like `docker rm`; `exec` runs a host
//! command inside the sandbox (see [`exec`]).

pub mod create;
pub mod exec;
pub mod list;
pub mod ports;

use crate::client::flags::Usage;
use crate::client::http::{ApiClient, path_segment};
use crate::client::inspect::{Element, inspect};
use crate::client::network::inspect::trim_id;
use crate::client::{CliError, Io};

/// `cnm sandbox` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum SandboxCommand {
    /// Create a sandbox (a network namespace joined to networks) and print its id
    Create(create::CreateArgs),
    /// Run a host command inside a sandbox's network namespace, with its resolv.conf and hosts
    Exec(exec::ExecArgs),
    /// Display detailed information on one or more sandboxes
    Inspect(InspectArgs),
    /// List sandboxes
    #[command(visible_alias = "list")]
    Ls(list::ListArgs),
    /// Remove one or more sandboxes
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
}

pub const INSPECT_USAGE: Usage = Usage {
    path: "sandbox inspect",
    args: "[OPTIONS] SANDBOX [SANDBOX...]",
};
pub const RM_USAGE: Usage = Usage {
    path: "sandbox rm",
    args: "[OPTIONS] SANDBOX [SANDBOX...]",
};

/// `cnm sandbox inspect` flags.
#[derive(clap::Args, Debug, Default)]
pub struct InspectArgs {
    /// Format output using a custom template: 'json', 'TEMPLATE'
    #[arg(short = 'f', long, default_value = "")]
    pub format: String,
    #[arg(value_name = "SANDBOX")]
    pub names: Vec<String>,
}

/// `cnm sandbox rm` flags.
#[derive(clap::Args, Debug, Default)]
pub struct RmArgs {
    /// Remove the sandbox even if it is in use, and ignore sandboxes that do not exist
    #[arg(short, long)]
    pub force: bool,
    #[arg(value_name = "SANDBOX")]
    pub names: Vec<String>,
}

/// `GET /sandboxes/{name}`: the raw answer.
pub fn fetch(api: &mut ApiClient, name: &str) -> Result<bytes::Bytes, String> {
    let id = trim_id("sandbox", name)?;
    let resp = api
        .call(
            hyper::Method::GET,
            &format!("/sandboxes/{}", path_segment(&id)),
            &[],
            None,
        )
        .map_err(|e| e.to_string())?;
    Ok(resp.body)
}

fn run_inspect(api: &mut ApiClient, io: &mut Io<'_>, args: InspectArgs) -> Result<(), CliError> {
    INSPECT_USAGE.min_args(1, args.names.len())?;
    inspect(io.out, &args.names, &args.format, |name| {
        let raw = fetch(api, name)?;
        serde_json::from_slice::<serde::de::IgnoredAny>(&raw).map_err(|e| e.to_string())?;
        Ok(Element {
            raw: raw.to_vec(),
            typed: None,
        })
    })
}

fn run_rm(api: &mut ApiClient, io: &mut Io<'_>, args: RmArgs) -> Result<(), CliError> {
    RM_USAGE.min_args(1, args.names.len())?;
    let query: Vec<(&str, String)> = if args.force {
        vec![("force", "1".into())]
    } else {
        vec![]
    };
    let mut errors = Vec::new();
    for name in &args.names {
        let result = trim_id("sandbox", name)
            .map_err(|e| (false, e))
            .and_then(|id| {
                api.call(
                    hyper::Method::DELETE,
                    &format!("/sandboxes/{}", path_segment(&id)),
                    &query,
                    None,
                )
                .map_err(|e| (e.is_not_found(), e.to_string()))
            });
        match result {
            Ok(_) => io.print(&format!("{name}\n")),
            Err((true, _)) if args.force => {}
            Err((_, message)) => errors.push(message),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(1, errors.join("\n")))
    }
}

/// Runs one `cnm sandbox` subcommand other than `exec`.
pub fn run(api: &mut ApiClient, io: &mut Io<'_>, cmd: SandboxCommand) -> Result<(), CliError> {
    match cmd {
        SandboxCommand::Create(a) => create::run(api, io, a),
        SandboxCommand::Inspect(a) => run_inspect(api, io, a),
        SandboxCommand::Ls(a) => list::run(api, io, a),
        SandboxCommand::Rm(a) => run_rm(api, io, a),
        SandboxCommand::Exec(_) => Err(CliError::new(
            1,
            "sandbox exec runs on its own (see client::run_sandbox)",
        )),
    }
}
