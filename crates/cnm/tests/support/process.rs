//! Running a child process to completion with a deadline, without helper threads.
//!
//! Contract: `run` feeds `stdin` (or nothing), captures stdout and stderr completely through
//! anonymous temp files (so a chatty child can never block on a full pipe), and kills the child
//! by its PID if it outlives `timeout`, then panics naming the command. No thread is spawned, which
//! keeps this usable in a test process that has just unshared its namespaces.
//! `split_words`/`shell_join` convert between a shell-like command line and its words.

use std::io::{Read, Seek, SeekFrom, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Long enough for Docker's ~15 s plugin discovery on an unknown driver, short enough that a
/// hung daemon fails the test instead of stalling CI.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(90);

/// Runs `cmd` to completion and returns everything it printed.
pub fn run(cmd: &mut Command, stdin: Option<&[u8]>, timeout: Duration) -> Output {
    let mut out = tempfile::tempfile().expect("temp file for stdout");
    let mut err = tempfile::tempfile().expect("temp file for stderr");
    let input = match stdin {
        Some(bytes) => {
            let mut file = tempfile::tempfile().expect("temp file for stdin");
            file.write_all(bytes).expect("write stdin");
            file.seek(SeekFrom::Start(0)).expect("rewind stdin");
            Stdio::from(file)
        }
        None => Stdio::null(),
    };
    cmd.stdin(input)
        .stdout(Stdio::from(out.try_clone().expect("dup stdout file")))
        .stderr(Stdio::from(err.try_clone().expect("dup stderr file")));
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", describe(cmd)));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if Instant::now() >= deadline {
            // Child::kill sends SIGKILL to this child's PID only.
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} did not finish within {timeout:?}", describe(cmd));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: read_all(&mut out),
        stderr: read_all(&mut err),
    }
}

/// The command line as a human reads it (program and arguments, shell-quoted where needed).
pub fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    shell_join(&words)
}

/// Joins words with spaces, single-quoting those a POSIX shell would split or interpret.
pub fn shell_join<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits a command line into words: whitespace separates, `'…'` quotes literally (as in a POSIX
/// shell, without escapes or other quotes), `''` is an empty word. Inverse of `shell_join`.
pub fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            c if c.is_whitespace() && !quoted => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(!quoted, "unbalanced quote in {line:?}");
    words.extend(word);
    words
}

fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%^".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn read_all(file: &mut std::fs::File) -> Vec<u8> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).expect("rewind output");
    file.read_to_end(&mut bytes).expect("read output");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_joins_shell_words() {
        let line = "network create '' 'bad name!' --format '{{.Label \"env\"}}' x";
        let words = split_words(line);
        assert_eq!(
            words,
            [
                "network",
                "create",
                "",
                "bad name!",
                "--format",
                "{{.Label \"env\"}}",
                "x"
            ]
        );
        assert_eq!(split_words(&shell_join(&words)), words);
    }
}
