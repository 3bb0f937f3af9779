//! `cnm network rm` and `cnm network prune`, with docker's prompts and output.
//!
//! Contract: `rm` removes each network in turn, echoes each removed name as typed, reports
//! failures on stderr and ends with `exit status 1` if any failed (`-f` ignores not-found);
//! removing the swarm ingress network asks first. `prune` asks for confirmation unless `-f`,
//! then prints `Deleted Networks:` and the names, followed by a blank line.

use serde_json::Value;

use crate::client::flags::{self, Usage};
use crate::client::http::{ApiClient, path_segment, version_less};
use crate::client::{CliError, Io};

use super::inspect::trim_id;

pub const RM_USAGE: Usage = Usage {
    path: "network rm",
    args: "NETWORK [NETWORK...]",
};
pub const PRUNE_USAGE: Usage = Usage {
    path: "network prune",
    args: "[OPTIONS]",
};

const INGRESS_WARNING: &str = "WARNING! Before removing the routing-mesh network, make sure all the nodes in your \
swarm run the same docker engine version. Otherwise, removal may not be effective and functionality of newly \
create ingress networks will be impaired.\nAre you sure you want to continue?";

const PRUNE_WARNING: &str = "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?";

/// `docker network rm` flags.
#[derive(clap::Args, Debug, Default)]
pub struct RmArgs {
    /// Do not error if the network does not exist
    #[arg(short, long)]
    pub force: bool,
    #[arg(value_name = "NETWORK")]
    pub names: Vec<String>,
}

/// `docker network prune` flags.
#[derive(clap::Args, Debug, Default)]
pub struct PruneArgs {
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

/// docker's `prompt.Confirm`: prints `message [y/N] ` and reads one line.
pub fn confirm(io: &mut Io<'_>, message: &str) -> bool {
    io.print(&format!("{message} [y/N] "));
    let _ = io.out.flush();
    let mut line = String::new();
    match io.input.read_line(&mut line) {
        Ok(n) if n > 0 => line.trim().eq_ignore_ascii_case("y"),
        _ => false,
    }
}

fn is_ingress(api: &mut ApiClient, name: &str) -> bool {
    let Ok(id) = trim_id("network", name) else {
        return false;
    };
    api.call(
        hyper::Method::GET,
        &format!("/networks/{}", path_segment(&id)),
        &[],
        None,
    )
    .ok()
    .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
    .is_some_and(|v| v.get("Ingress").and_then(Value::as_bool) == Some(true))
}

pub fn run_rm(api: &mut ApiClient, io: &mut Io<'_>, args: RmArgs) -> Result<(), CliError> {
    RM_USAGE.min_args(1, args.names.len())?;
    let mut failed = false;
    for name in &args.names {
        if is_ingress(api, name) && !confirm(io, INGRESS_WARNING) {
            continue;
        }
        let result = trim_id("network", name)
            .map_err(|e| (false, e))
            .and_then(|id| {
                api.call(
                    hyper::Method::DELETE,
                    &format!("/networks/{}", path_segment(&id)),
                    &[],
                    None,
                )
                .map_err(|e| (e.is_not_found(), e.to_string()))
            });
        match result {
            Ok(_) => io.print(&format!("{name}\n")),
            Err((true, _)) if args.force => {}
            Err((_, message)) => {
                io.eprint(&format!("{message}\n"));
                failed = true;
            }
        }
    }
    if failed {
        Err(CliError::new(1, "exit status 1"))
    } else {
        Ok(())
    }
}

pub fn run_prune(api: &mut ApiClient, io: &mut Io<'_>, args: PruneArgs) -> Result<(), CliError> {
    PRUNE_USAGE.no_args(args.extra.len())?;
    let filters = flags::filters(&PRUNE_USAGE, "--filter", &args.filter)?;
    if !args.force && !confirm(io, PRUNE_WARNING) {
        // docker treats a refusal as a cancellation: no message, exit status 0.
        return Ok(());
    }
    let version = api.version()?;
    if version_less(&version, "1.25") {
        return Err(CliError::new(
            1,
            format!(
                "\"network prune\" requires API version 1.25, but the daemon API version is {version}"
            ),
        ));
    }
    let query: Vec<(&str, String)> = if filters.is_empty() {
        vec![]
    } else {
        vec![("filters", filters.to_json())]
    };
    let resp = api.call(hyper::Method::POST, "/networks/prune", &query, None)?;
    let report: Value = serde_json::from_slice(&resp.body)
        .map_err(|e| CliError::new(1, format!("Error retrieving network prune report: {e}")))?;
    let deleted: Vec<&str> = report
        .get("NetworksDeleted")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !deleted.is_empty() {
        let mut text = String::from("Deleted Networks:\n");
        for name in deleted {
            text.push_str(name);
            text.push('\n');
        }
        text.push('\n');
        io.print(&text);
    }
    Ok(())
}
