//! `network ls` and `network inspect` output compared byte for byte with what the docker CLI
//! printed for the same daemon answers (recorded by `record-goldens.sh` from dockerd 20.10).

use std::path::{Path, PathBuf};

use clap::Parser;

use super::{Outcome, capture};
use crate::client::network::view::NetworkView;
use crate::client::network::{NetworkCommand, inspect, list};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: NetworkCommand,
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/client/tests/golden")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(golden_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Runs one recorded case through the same code the command runs, with the recorded daemon
/// answers standing in for the daemon.
fn replay(case: &str) -> (Outcome, Outcome) {
    let args: Vec<String> = read(&format!("{case}.args"))
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(args[0], "network");
    let cli =
        Cli::try_parse_from(std::iter::once("cnm".to_string()).chain(args.into_iter().skip(1)))
            .unwrap_or_else(|e| panic!("{case}: {e}"));
    let got = match cli.cmd {
        NetworkCommand::Ls(a) => capture("", |io| {
            let networks: Vec<NetworkView> =
                serde_json::from_str(&read("networks.json")).expect("networks.json");
            io.print(&list::render(networks, &a)?);
            Ok(())
        }),
        NetworkCommand::Inspect(a) => capture("", |io| {
            inspect::execute(io, &a, |name| {
                match std::fs::read(golden_dir().join(format!("network-{name}.json"))) {
                    Ok(raw) => inspect::element(raw),
                    Err(_) => Err(format!(
                        "Error response from daemon: network {name} not found"
                    )),
                }
            })
        }),
        _ => panic!("{case}: only ls and inspect are replayed"),
    };
    let want = Outcome {
        out: read(&format!("{case}.out")),
        err: read(&format!("{case}.err")),
        code: read(&format!("{case}.rc")).trim().parse().expect("rc"),
    };
    (got, want)
}

#[test]
fn every_recorded_case_matches_docker() {
    let mut cases: Vec<String> = std::fs::read_dir(golden_dir())
        .expect("golden dir")
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".args")
                .map(str::to_string)
        })
        .collect();
    cases.sort();
    assert!(cases.len() >= 25, "golden cases missing: {cases:?}");
    let mut failures = Vec::new();
    for case in &cases {
        let (got, want) = replay(case);
        if got != want {
            failures.push(format!(
                "== {case}\n-- docker stdout:\n{}\n-- cnm stdout:\n{}\n-- docker stderr:\n{}\n-- cnm stderr:\n{}\n-- codes {} vs {}",
                want.out, got.out, want.err, got.err, want.code, got.code
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
