//! Golden transcripts of `docker` CLI sessions, comparable between cnm and the reference daemon.
//!
//! Contract:
//! - A `Target` is a daemon the real `docker` CLI can talk to, plus a way to make a
//!   "container" there: a real container on the reference dockerd, a sandbox on cnm.
//! - A `Session` runs `docker` commands against a `Target`. Each recorded step appends
//!   `$ docker <args>`, stdout, stderr and the exit code to the current group; `snapshot` turns the
//!   group, normalized (see `normalize.rs`), into one insta snapshot named `<suite>__<name>` in
//!   `tests/snapshots/`. Unrecorded helpers (`docker_quiet`, containers) never reach a snapshot.
//! - In `Mode::Record` snapshots are (re)written; in `Mode::Verify` a mismatch is reported by insta
//!   (diff on stderr) and remembered, the scenario goes on, and `finish` fails listing them all.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::process::{Command, Output};

use super::TestHost;
use super::normalize::Normalizer;
use super::process::{self, DEFAULT_TIMEOUT, shell_join, split_words};

/// A daemon that serves the Docker network API, with a way to make container equivalents.
pub trait Target {
    /// A `docker` CLI command aimed at the daemon (no arguments yet).
    fn docker_command(&self) -> Command;
    /// Creates a running "container" `name` attached to `network`.
    fn start_container(&self, name: &str, network: &str);
    /// Removes the "container" `name` (force).
    fn rm_container(&self, name: &str);
}

/// The reference dockerd (`/work/shared/tools/ref-dockerd`), which has the image `bb` (busybox).
pub struct ReferenceDaemon {
    host: String,
    config: tempfile::TempDir,
}

impl ReferenceDaemon {
    pub fn new(docker_host: &str) -> ReferenceDaemon {
        let config = tempfile::Builder::new()
            .prefix("cnm-e2e-docker-config-")
            .tempdir()
            .expect("temp dir");
        ReferenceDaemon {
            host: docker_host.to_owned(),
            config,
        }
    }
}

impl Target for ReferenceDaemon {
    fn docker_command(&self) -> Command {
        super::docker_cli(&self.host, self.config.path())
    }
    fn start_container(&self, name: &str, network: &str) {
        let args = split_words(&format!(
            "run -d --name {name} --network {network} bb sleep 1d"
        ));
        must_succeed(self.docker_command().args(args));
    }
    fn rm_container(&self, name: &str) {
        must_succeed(self.docker_command().args(["rm", "-f", name]));
    }
}

impl Target for TestHost {
    fn docker_command(&self) -> Command {
        TestHost::docker_command(self)
    }
    fn start_container(&self, name: &str, network: &str) {
        let args = split_words(&format!("sandbox create --name {name} --network {network}"));
        must_succeed(self.cnm_command().args(args));
    }
    fn rm_container(&self, name: &str) {
        must_succeed(self.cnm_command().args(["sandbox", "rm", "-f", name]));
    }
}

fn must_succeed(cmd: &mut Command) -> Output {
    let out = process::run(cmd, None, DEFAULT_TIMEOUT);
    assert!(
        out.status.success(),
        "{} failed ({}):\n{}{}",
        process::describe(cmd),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Write the snapshots (golden files) from what the target prints.
    Record,
    /// Compare what the target prints with the recorded snapshots.
    Verify,
}

/// How one recorded step is post-processed before normalization.
#[derive(Default, Clone)]
pub struct StepOptions<'s> {
    /// Bytes fed to the CLI's stdin (prompts).
    pub stdin: Option<&'s [u8]>,
    /// Sort each run of non-blank stdout lines in byte order, blank lines staying in place (for
    /// output whose order the daemon does not define). A capitalised header such as
    /// `Deleted Networks:` stays ahead of lower-case names.
    pub sort_stdout: bool,
    /// Whole-word replacements applied to the command line and the output.
    pub masks: Vec<(String, String)>,
}

pub struct Session<'t> {
    target: &'t dyn Target,
    mode: Mode,
    suite: String,
    env: Vec<(String, String)>,
    normalizer: Normalizer,
    group: String,
    mismatches: Vec<String>,
}

impl<'t> Session<'t> {
    /// `suite` prefixes snapshot names (use the test file's name); `env` is set for every
    /// `docker` command (e.g. `DOCKER_API_VERSION`).
    pub fn new(
        target: &'t dyn Target,
        mode: Mode,
        suite: &str,
        env: &[(&str, &str)],
    ) -> Session<'t> {
        Session {
            target,
            mode,
            suite: suite.to_owned(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            normalizer: Normalizer::default(),
            group: String::new(),
            mismatches: Vec::new(),
        }
    }

    pub fn target(&self) -> &dyn Target {
        self.target
    }

    /// Runs `docker <line>` and records it in the current group. `line` is split like a shell
    /// would (`'…'` quotes; see `process::split_words`).
    pub fn docker(&mut self, line: &str) -> Output {
        self.docker_with(line, StepOptions::default())
    }

    /// Like `docker`, with runs of stdout lines sorted (prune output, map iteration order).
    pub fn docker_sorted(&mut self, line: &str) -> Output {
        self.docker_with(
            line,
            StepOptions {
                sort_stdout: true,
                ..Default::default()
            },
        )
    }

    pub fn docker_with(&mut self, line: &str, options: StepOptions) -> Output {
        let words = split_words(line);
        let out = self.run(&words, options.stdin);
        let mut stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if options.sort_stdout {
            stdout = sort_line_runs(&stdout);
        }
        let mut step = format!("$ docker {}\n", shell_join(&words));
        step.push_str(&stdout);
        if !stdout.is_empty() && !stdout.ends_with('\n') {
            step.push_str("\n(no newline at end of stdout)\n");
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !stderr.is_empty() {
            step.push_str("--- stderr\n");
            step.push_str(&stderr);
            if !stderr.ends_with('\n') {
                step.push('\n');
            }
        }
        step.push_str(&format!(
            "--- exit {}\n\n",
            out.status.code().map_or("signal".into(), |c| c.to_string())
        ));
        for (word, placeholder) in &options.masks {
            let pattern =
                regex::Regex::new(&format!(r"\b{}\b", regex::escape(word))).expect("mask regex");
            step = pattern
                .replace_all(&step, regex::NoExpand(placeholder))
                .into_owned();
        }
        let step = self.normalizer.normalize(&step);
        self.group.push_str(&step);
        out
    }

    /// Runs `docker <line>` without recording it; panics unless it succeeds; returns stdout.
    pub fn docker_quiet(&self, line: &str) -> String {
        let words = split_words(line);
        let out = self.run(&words, None);
        assert!(
            out.status.success(),
            "docker {} failed:\n{}",
            shell_join(&words),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Adds a `# comment` line to the current group (explains a step to the reader).
    pub fn comment(&mut self, text: &str) {
        for line in text.lines() {
            self.group.push_str(&format!("# {line}\n"));
        }
    }

    /// Ends the current group: records or verifies it as snapshot `<suite>__<name>`.
    pub fn snapshot(&mut self, name: &str, description: &str) {
        let transcript = std::mem::take(&mut self.group);
        let mut settings = insta::Settings::clone_current();
        settings
            .set_snapshot_path(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots"));
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.set_description(description);
        let full_name = format!("{}__{name}", self.suite);
        let assert =
            || settings.bind(|| insta::assert_snapshot!(full_name.as_str(), transcript.trim_end()));
        match self.mode {
            Mode::Record => assert(),
            Mode::Verify => {
                if catch_unwind(AssertUnwindSafe(assert)).is_err() {
                    self.mismatches.push(full_name);
                }
            }
        }
    }

    /// Fails if any snapshot did not match (after the whole scenario ran).
    pub fn finish(self) {
        assert!(
            self.group.is_empty(),
            "steps recorded after the last snapshot"
        );
        assert!(
            self.mismatches.is_empty(),
            "{} snapshot(s) differ from the reference daemon's golden files: {:?}",
            self.mismatches.len(),
            self.mismatches
        );
    }

    fn run(&self, args: &[String], stdin: Option<&[u8]>) -> Output {
        let mut cmd = self.target.docker_command();
        cmd.args(args);
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        process::run(&mut cmd, stdin, DEFAULT_TIMEOUT)
    }
}

/// Sorts each maximal run of non-blank lines; keeps blank lines and a missing final newline.
fn sort_line_runs(text: &str) -> String {
    let mut lines: Vec<&str> = text.split('\n').collect();
    let mut start = 0;
    while start < lines.len() {
        let len = lines[start..].iter().take_while(|l| !l.is_empty()).count();
        lines[start..start + len].sort_unstable();
        start += len + 1;
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn sorts_runs_of_lines_and_keeps_blank_lines() {
        let text = "Deleted Networks:\nprune-b\nprune-a\n\nz\ny\n";
        assert_eq!(
            super::sort_line_runs(text),
            "Deleted Networks:\nprune-a\nprune-b\n\ny\nz\n"
        );
        assert_eq!(super::sort_line_runs("c2 x\nc1 y\n\n"), "c1 y\nc2 x\n\n");
    }
}
