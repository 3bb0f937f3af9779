//! `cnm network ...`: the subcommands and flags of `docker network`, with its output.

pub mod connect;
pub mod create;
pub mod inspect;
pub mod list;
pub mod remove;
pub mod view;

use crate::client::http::ApiClient;
use crate::client::{CliError, Io};

/// `cnm network` subcommands (docker's names and aliases).
#[derive(clap::Subcommand, Debug)]
pub enum NetworkCommand {
    /// Connect a container to a network
    Connect(connect::ConnectArgs),
    /// Create a network
    Create(Box<create::CreateArgs>),
    /// Disconnect a container from a network
    Disconnect(connect::DisconnectArgs),
    /// Display detailed information on one or more networks
    Inspect(inspect::InspectArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(list::ListArgs),
    /// Remove all unused networks
    Prune(remove::PruneArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm(remove::RmArgs),
}

/// Runs one `cnm network` subcommand.
pub fn run(api: &mut ApiClient, io: &mut Io<'_>, cmd: NetworkCommand) -> Result<(), CliError> {
    match cmd {
        NetworkCommand::Connect(a) => connect::run_connect(api, io, a),
        NetworkCommand::Create(a) => create::run(api, io, *a),
        NetworkCommand::Disconnect(a) => connect::run_disconnect(api, io, a),
        NetworkCommand::Inspect(a) => inspect::run(api, io, a),
        NetworkCommand::Ls(a) => list::run(api, io, a),
        NetworkCommand::Prune(a) => remove::run_prune(api, io, a),
        NetworkCommand::Rm(a) => remove::run_rm(api, io, a),
    }
}
