//! `cnm`: one binary for the daemon (`cnm daemon`) and the client commands
//! (`cnm network ...`, `cnm sandbox ...`). Client code uses only `cnm-types` and HTTP.

mod client;
mod daemon;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cnm",
    version,
    about = "Docker's Container Network Model, without dockerd"
)]
struct Cli {
    /// Daemon socket to connect to (default: $CNM_HOST, then $DOCKER_HOST when it is a unix
    /// socket, then unix:///run/cnm/cnm.sock).
    #[arg(short = 'H', long = "host")]
    host: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon in the foreground, in the current network namespace.
    Daemon(Box<daemon::DaemonArgs>),
    /// Manage networks (the flags and output of `docker network`).
    #[command(subcommand)]
    Network(client::network::NetworkCommand),
    /// Manage sandboxes (network namespaces).
    #[command(subcommand)]
    Sandbox(client::sandbox::SandboxCommand),
    /// Report drift between cnm's records and the kernel (and repair it with --fix).
    Doctor(client::doctor::DoctorArgs),
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                std::process::exit(0);
            }
            // Flag errors exit 125 with a pointer to --help, as docker's do.
            eprint!("{}", e.render());
            eprintln!("\nRun 'cnm --help' for more information");
            std::process::exit(125);
        }
    };
    let code = match cli.command {
        Command::Daemon(args) => daemon::run(*args),
        Command::Network(cmd) => client::run_network(cli.host, cmd),
        Command::Sandbox(cmd) => client::run_sandbox(cli.host, cmd),
        Command::Doctor(args) => client::run_doctor(cli.host, args),
    };
    std::process::exit(code);
}
