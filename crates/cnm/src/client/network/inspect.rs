//! `cnm network inspect`: docker's output for one or more networks.
//!
//! Contract: each reference is fetched with `GET /networks/{ref}` (`?verbose=true` with `-v`)
//! and printed by the shared inspect loop (raw JSON re-indented, `json`, or a template on the
//! typed `network.Inspect` value).

use crate::client::flags::Usage;
use crate::client::format::goval::GoData;
use crate::client::http::{ApiClient, path_segment};
use crate::client::inspect::{Element, inspect};
use crate::client::{CliError, Io};

use super::view::NetworkView;

pub const USAGE: Usage = Usage {
    path: "network inspect",
    args: "[OPTIONS] NETWORK [NETWORK...]",
};

/// `docker network inspect` flags.
#[derive(clap::Args, Debug, Default)]
pub struct InspectArgs {
    /// Format output using a custom template: 'json', 'TEMPLATE'
    #[arg(short = 'f', long, default_value = "")]
    pub format: String,
    /// Verbose output for diagnostics
    #[arg(short, long)]
    pub verbose: bool,
    #[arg(value_name = "NETWORK")]
    pub names: Vec<String>,
}

/// docker's `trimID`: a blank reference is refused before any request.
pub fn trim_id(kind: &str, id: &str) -> Result<String, String> {
    let id = id.trim();
    if id.is_empty() {
        return Err(format!("invalid {kind} name or ID: value is empty"));
    }
    Ok(id.to_string())
}

/// The element docker's inspect loop works on: the raw JSON and the typed view decoded from it.
pub fn element(raw: Vec<u8>) -> Result<Element, String> {
    let view: NetworkView = serde_json::from_slice(&raw).map_err(|e| e.to_string())?;
    Ok(Element {
        raw,
        typed: Some(GoData::new(view.to_go())),
    })
}

/// Fetches one network.
pub fn fetch(api: &mut ApiClient, name: &str, verbose: bool) -> Result<Element, String> {
    let id = trim_id("network", name)?;
    let query: Vec<(&str, String)> = if verbose {
        vec![("verbose", "true".into())]
    } else {
        vec![]
    };
    let resp = api
        .call(
            hyper::Method::GET,
            &format!("/networks/{}", path_segment(&id)),
            &query,
            None,
        )
        .map_err(|e| e.to_string())?;
    element(resp.body.to_vec())
}

/// `network inspect` with any source of networks.
pub fn execute(
    io: &mut Io<'_>,
    args: &InspectArgs,
    fetch: impl FnMut(&str) -> Result<Element, String>,
) -> Result<(), CliError> {
    USAGE.min_args(1, args.names.len())?;
    inspect(io.out, &args.names, &args.format, fetch)
}

pub fn run(api: &mut ApiClient, io: &mut Io<'_>, args: InspectArgs) -> Result<(), CliError> {
    let verbose = args.verbose;
    execute(io, &args, |name| fetch(api, name, verbose))
}
