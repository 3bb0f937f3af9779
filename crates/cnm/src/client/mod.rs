//! The client commands (`cnm network ...`, `cnm sandbox ...`). They talk to the daemon over
//! HTTP and depend on `cnm-types` only, never on the engine.
//!
//! Contract: each command writes what the docker CLI writes for the same request (stdout,
//! stderr and exit status); errors travel as [`CliError`] and are printed once, here.

pub mod doctor;
pub mod flags;
pub mod format;
pub mod http;
mod inspect;
pub mod network;
pub mod sandbox;

#[cfg(test)]
mod tests;

use std::io::{BufRead, Write};

use http::{ApiClient, ClientError};

/// A failed command: what to print on stderr (nothing when empty) and the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

impl CliError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
        }
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        CliError::new(1, e.to_string())
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The streams a command uses, so tests can capture them.
pub struct Io<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    pub input: &'a mut dyn BufRead,
}

impl Io<'_> {
    /// Writes to stdout; a closed stdout is not worth a second error.
    pub fn print(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
    }

    pub fn eprint(&mut self, text: &str) {
        let _ = self.err.write_all(text.as_bytes());
    }
}

/// The daemon URL from `-H` and the environment.
fn host_url(host: Option<String>) -> String {
    http::resolve_host(host, |k| std::env::var(k).ok())
}

/// An API client for `host`, honouring `DOCKER_API_VERSION`.
fn api_client(host: Option<String>) -> Result<ApiClient, CliError> {
    let pinned = std::env::var("DOCKER_API_VERSION").ok();
    Ok(ApiClient::new(&host_url(host), pinned)?)
}

/// Runs `command` with the process's streams and turns its result into an exit status.
fn run_with_stdio(command: impl FnOnce(&mut Io<'_>) -> Result<(), CliError>) -> i32 {
    let (stdout, stderr, stdin) = (std::io::stdout(), std::io::stderr(), std::io::stdin());
    let (mut out, mut err, mut input) = (stdout.lock(), stderr.lock(), stdin.lock());
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        input: &mut input,
    };
    let result = command(&mut io);
    let _ = io.out.flush();
    exit_status(result, io.err)
}

/// Prints an error (if any) and returns the exit status.
pub fn exit_status(result: Result<(), CliError>, err: &mut dyn Write) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            if !e.message.is_empty() {
                let _ = writeln!(err, "{}", e.message);
            }
            e.code
        }
    }
}

/// Runs a `cnm network` command; returns the process exit status.
pub fn run_network(host: Option<String>, cmd: network::NetworkCommand) -> i32 {
    run_with_stdio(|io| {
        let mut api = api_client(host)?;
        network::run(&mut api, io, cmd)
    })
}

/// Runs `cnm doctor`; returns the process exit status.
pub fn run_doctor(host: Option<String>, args: doctor::DoctorArgs) -> i32 {
    run_with_stdio(|io| {
        let mut api = api_client(host)?;
        doctor::run(&mut api, io, args)
    })
}

/// Runs a `cnm sandbox` command; returns the process exit status.
pub fn run_sandbox(host: Option<String>, cmd: sandbox::SandboxCommand) -> i32 {
    if let sandbox::SandboxCommand::Exec(args) = cmd {
        // exec ends by replacing this process; it manages its own client and streams.
        return sandbox::exec::run(host_url(host), args);
    }
    run_with_stdio(|io| {
        let mut api = api_client(host)?;
        sandbox::run(&mut api, io, cmd)
    })
}
