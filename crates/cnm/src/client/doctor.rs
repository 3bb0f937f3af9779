//! `cnm doctor [--fix]`: what differs between cnm's records and the kernel, and repairs.
//!
//! Prints one line per finding (`KIND OBJECT: PROBLEM [fixed]`) and exits 1 when drift remains
//! unrepaired, so scripts and monitoring can use the exit status.

use cnm_types::doctor::DoctorReport;
use hyper::Method;

use super::http::ApiClient;
use super::{CliError, Io};

#[derive(clap::Args, Debug)]
pub struct DoctorArgs {
    /// Repair what is found (recreate bridges, re-plumb endpoints, remove strays).
    #[arg(long)]
    pub fix: bool,
}

pub fn run(api: &mut ApiClient, io: &mut Io<'_>, args: DoctorArgs) -> Result<(), CliError> {
    let resp = if args.fix {
        api.call(Method::POST, "/doctor", &[("fix", "1".to_string())], None)?
    } else {
        api.call(Method::GET, "/doctor", &[], None)?
    };
    let report: DoctorReport = serde_json::from_slice(&resp.body)
        .map_err(|e| CliError::new(1, format!("invalid answer from the daemon: {e}")))?;
    if report.findings.is_empty() {
        io.print("no drift: the kernel matches cnm's records\n");
        return Ok(());
    }
    for f in &report.findings {
        let fixed = if f.fixed { " [fixed]" } else { "" };
        io.print(&format!("{} {}: {}{fixed}\n", f.kind, f.object, f.problem));
    }
    if report.findings.iter().all(|f| f.fixed) {
        Ok(())
    } else {
        Err(CliError::new(1, ""))
    }
}
