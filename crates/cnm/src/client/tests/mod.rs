//! Tests of the client commands that need more than one module: golden outputs recorded from
//! the real docker CLI, and whole commands against a fake daemon on a unix socket.

mod api_http;
mod api_network;
mod exec;
mod fake_daemon;
mod golden_network;
mod network_cmd;
mod sandbox;

use std::io::Cursor;

use super::{CliError, Io, exit_status};

/// What a command printed and returned.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub out: String,
    pub err: String,
    pub code: i32,
}

/// Runs `command` with captured streams and `stdin` as input, like `run_with_stdio`.
pub fn capture(stdin: &str, command: impl FnOnce(&mut Io<'_>) -> Result<(), CliError>) -> Outcome {
    let (mut out, mut err, mut input) = (
        Vec::new(),
        Vec::new(),
        Cursor::new(stdin.as_bytes().to_vec()),
    );
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        input: &mut input,
    };
    let result = command(&mut io);
    let code = exit_status(result, io.err);
    Outcome {
        out: String::from_utf8_lossy(&out).into(),
        err: String::from_utf8_lossy(&err).into(),
        code,
    }
}

/// insta settings that keep every snapshot in `src/client/snapshots/`.
pub fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../snapshots");
    s.set_prepend_module_to_snapshot(false);
    s
}
