//! Probing published ports for the chaos test: a listener inside a sandbox, a connection
//! through 127.0.0.1:<host port>, and the host's neighbour entries for a sandbox's addresses.
//!
//! Contract: `listen_in` binds 0.0.0.0:80 on a thread that joined the sandbox's namespace (a
//! socket stays in the namespace it was made in), so no process runs inside the sandbox.
//! `probe` succeeds only when that very listener accepts the connection (not some other
//! socket on the host port). `clear_stale_neighbours` deletes, in the test's own namespace,
//! neighbour entries for the sandbox's addresses whose MAC is not the sandbox's, and returns
//! the addresses it cleared.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns};
use serde_json::Value;

use crate::support::api::ip_json;
use crate::support::process;

/// A first probe's patience: a healthy path answers in milliseconds, a stale neighbour entry
/// stalls for seconds; the caller probes again with `SECOND_TRY` before failing.
pub const FIRST_TRY: Duration = Duration::from_secs(1);
pub const SECOND_TRY: Duration = Duration::from_secs(3);

/// A non-blocking TCP listener on 0.0.0.0:80 inside the namespace at `netns`.
pub fn listen_in(netns: &Path) -> Result<TcpListener, String> {
    let netns = netns.to_path_buf();
    std::thread::spawn(move || {
        let file =
            std::fs::File::open(&netns).map_err(|e| format!("open {}: {e}", netns.display()))?;
        setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns: {e}"))?;
        let listener = TcpListener::bind("0.0.0.0:80").map_err(|e| format!("bind :80: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        Ok(listener)
    })
    .join()
    .map_err(|_| "listener thread panicked".to_string())?
}

/// Connects to 127.0.0.1:`port` and expects `listener` to receive the connection.
pub fn probe(listener: &TcpListener, port: u16, patience: Duration) -> Result<(), String> {
    let to = SocketAddr::from(([127, 0, 0, 1], port));
    let _client = TcpStream::connect_timeout(&to, patience).map_err(|e| format!("connect: {e}"))?;
    let deadline = Instant::now() + patience;
    loop {
        match listener.accept() {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => {
                return Err(format!(
                    "connected, but the sandbox's listener saw nothing: {e}"
                ));
            }
        }
    }
}

/// Deletes the test host's neighbour entries for `sandbox`'s addresses (an inspect answer)
/// that carry another MAC than the sandbox's; returns `address (old MAC -> MAC)` for each.
pub fn clear_stale_neighbours(sandbox: &Value) -> Vec<String> {
    let mut cleared = Vec::new();
    let endpoints = sandbox["NetworkSettings"]["Networks"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for endpoint in endpoints.values() {
        let (Some(ip), Some(mac)) = (
            endpoint["IPAddress"].as_str(),
            endpoint["MacAddress"].as_str(),
        ) else {
            continue;
        };
        for entry in ip_json(None, &["neigh", "show", ip]) {
            let (Some(old), Some(dev)) = (entry["lladdr"].as_str(), entry["dev"].as_str()) else {
                continue;
            };
            if !old.eq_ignore_ascii_case(mac) {
                process::run(
                    Command::new("ip").args(["neigh", "del", ip, "dev", dev]),
                    None,
                    Duration::from_secs(10),
                );
                cleared.push(format!("{ip} ({old} -> {mac})"));
            }
        }
    }
    cleared
}
