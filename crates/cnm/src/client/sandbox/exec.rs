//! `cnm sandbox exec NAME -- CMD ARGS...`: run a host binary inside a sandbox, like
//! `docker exec`.
//!
//! Contract: the sandbox is inspected over the API, then the HTTP runtime is dropped so the
//! process is single-threaded again; then, in this process: a private mount namespace
//! (`unshare(CLONE_NEWNS)`, `/` made recursively private), the sandbox's resolv.conf and hosts
//! bind-mounted over `/etc/resolv.conf` and `/etc/hosts` (when set and present), `setns` into
//! the namespace at `NetworkSettings.SandboxKey`, and `execvp`. The exit status is the
//! command's; 127 when it is not found, 126 when it cannot run or the namespaces cannot be
//! entered, 1 when the sandbox cannot be inspected. Needs root (CAP_SYS_ADMIN).

use std::ffi::CString;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;

use cnm_types::sandbox::Sandbox;
use nix::errno::Errno;
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, setns, unshare};

use crate::client::CliError;
use crate::client::http::ApiClient;

/// `cnm sandbox exec` arguments.
#[derive(clap::Args, Debug, Default)]
pub struct ExecArgs {
    /// The sandbox (name, id or unique id prefix)
    #[arg(value_name = "SANDBOX")]
    pub name: String,
    /// The command and its arguments
    #[arg(value_name = "COMMAND", trailing_var_arg = true, allow_hyphen_values = true, required = true, num_args = 1..)]
    pub command: Vec<String>,
}

/// Looks the sandbox up; the client (and its runtime) is gone when this returns.
fn lookup(host_url: &str, name: &str) -> Result<Sandbox, CliError> {
    let mut api = ApiClient::new(host_url, std::env::var("DOCKER_API_VERSION").ok())?;
    let raw = super::fetch(&mut api, name).map_err(|e| CliError::new(1, e))?;
    serde_json::from_slice(&raw)
        .map_err(|e| CliError::new(1, format!("unexpected answer to sandbox inspect: {e}")))
}

fn setup_error(what: &str, err: impl std::fmt::Display) -> CliError {
    CliError::new(126, format!("cnm: sandbox exec: {what}: {err}"))
}

/// Enters the sandbox's namespaces and files; must run while the process has one thread.
fn enter(sandbox: &Sandbox) -> Result<(), CliError> {
    let key = &sandbox.network_settings.sandbox_key;
    if key.is_empty() {
        return Err(CliError::new(
            126,
            format!(
                "cnm: sandbox exec: sandbox {} has no network namespace",
                sandbox.name
            ),
        ));
    }
    let netns = std::fs::File::open(key).map_err(|e| setup_error(&format!("open {key}"), e))?;
    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| setup_error("unshare the mount namespace", e))?;
    // Without this, our bind mounts would propagate back to the host's mount namespace.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| setup_error("make / private", e))?;
    for (source, target) in [
        (&sandbox.resolv_conf_path, "/etc/resolv.conf"),
        (&sandbox.hosts_path, "/etc/hosts"),
    ] {
        if source.is_empty() || !Path::new(source).exists() {
            continue;
        }
        mount(
            Some(source.as_str()),
            target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| setup_error(&format!("bind-mount {source} over {target}"), e))?;
    }
    setns(netns.as_fd(), CloneFlags::CLONE_NEWNET)
        .map_err(|e| setup_error(&format!("enter {key}"), e))?;
    Ok(())
}

/// `execvp`; only returns on failure, with docker exec's exit codes.
fn exec(command: &[String]) -> CliError {
    let args: Result<Vec<CString>, _> =
        command.iter().map(|a| CString::new(a.as_bytes())).collect();
    let Ok(args) = args else {
        return CliError::new(
            126,
            format!("cnm: exec: {:?}: argument contains a NUL byte", command[0]),
        );
    };
    let err = nix::unistd::execvp(&args[0], &args)
        .err()
        .unwrap_or(Errno::UnknownErrno);
    match err {
        Errno::ENOENT => {
            let what = if command[0].contains('/') {
                "no such file or directory"
            } else {
                "executable file not found in $PATH"
            };
            CliError::new(127, format!("cnm: exec: {:?}: {what}", command[0]))
        }
        Errno::EACCES => CliError::new(
            126,
            format!("cnm: exec: {:?}: permission denied", command[0]),
        ),
        e => CliError::new(126, format!("cnm: exec: {:?}: {}", command[0], e.desc())),
    }
}

/// Runs `cnm sandbox exec`; returns only when the command could not be started.
pub fn run(host_url: String, args: ExecArgs) -> i32 {
    let result = lookup(&host_url, &args.name).and_then(|sandbox| {
        let _ = std::io::stdout().flush();
        enter(&sandbox)?;
        Err(exec(&args.command))
    });
    let mut stderr = std::io::stderr();
    crate::client::exit_status(result, &mut stderr)
}
