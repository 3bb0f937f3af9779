//! Fuzz target for `--format` templates: the client's own template code
//! (`crates/cnm/src/client/format/`, compiled in here by path because the `cnm` crate is a
//! binary a fuzz target cannot depend on): docker's function set and header functions on
//! gotmpl, the action rewriting for Go's printing, Go-style values and times, and the table
//! renderer.
//!
//! Input: byte 0 picks the mode (printing, strictness, list or single object); the rest is
//! `TEMPLATE \0 DATA`. DATA is JSON for the untyped modes (a fixed network when it is not
//! JSON), and the text of the typed sample's name, label and creation time otherwise.
//! Checked for every input: no panic; parse and execution errors are worded as Go words them
//! (`template: :…`). Templates with more than three `range`s are skipped: nested ranges are
//! exponential by their meaning, which only measures the machine.

#![no_main]
#![allow(dead_code)]

#[path = "../../crates/cnm/src/client/format/mod.rs"]
mod format;

use std::collections::BTreeMap;

use format::gotime::GoTime;
use format::goval::{GoData, GoField, GoVal};
use format::table::{ListData, render_list};
use format::template::{DockerTemplate, Funcs, Print, TemplateError};
use libfuzzer_sys::fuzz_target;

const SAMPLE: &str = r#"{"Name":"web","Id":"4f1c2a9d8e7b","Driver":"bridge","Labels":{"env":"prod"},"IPAM":{"Config":[{"Subnet":"172.18.0.0/16","Gateway":"172.18.0.1"}]},"Containers":{},"Internal":false}"#;

fn typed(text: &str) -> GoData {
    let mut labels = BTreeMap::new();
    labels.insert(text.to_string(), text.to_string());
    GoData::new(GoVal::Struct(vec![
        GoField::new("Name", GoVal::str(text)),
        GoField::tagged("ID", "Id", false, GoVal::str("4f1c2a9d8e7b")),
        GoField::new("Created", GoVal::Time(GoTime::parse(text))),
        GoField::new("Labels", GoVal::string_map(Some(&labels))),
        GoField::tagged("Peers", "Peers", true, GoVal::Slice(None)),
        GoField::new("Internal", GoVal::Bool(text.len() % 2 == 0)),
        GoField::new("Count", GoVal::Int(text.len() as i64)),
    ]))
}

fn go_worded(e: &TemplateError) {
    let text = e.to_string();
    assert!(text.starts_with("template: "), "not Go's wording: {text}");
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let (template, data) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let (Ok(template), Ok(data)) = (std::str::from_utf8(template), std::str::from_utf8(data))
    else {
        return;
    };
    // `range` nested n deep over the root runs its body 7^n times: that is the template's
    // meaning (Go's text/template does the same), not a bug, so such inputs are skipped.
    if template.matches("range").count() > 3 {
        return;
    }
    let json: serde_json::Value = serde_json::from_str(data)
        .unwrap_or_else(|_| serde_json::from_str(SAMPLE).expect("sample"));
    let strict = mode & 1 == 1;
    match (mode >> 1) % 4 {
        // `docker network ls --format`: a list of untyped rows with a header context.
        0 => {
            let rows = [GoData::untyped(&json), GoData::untyped(&json)];
            let header = GoData::untyped(&serde_json::json!({"ID": "NETWORK ID", "Name": "NAME"}));
            let list = ListData {
                rows: &rows,
                header: &header,
                type_name: "*network.networkContext",
            };
            if let Err(e) = render_list(template, &list) {
                assert!(e.to_string().starts_with("template parsing error: "), "{e}");
            }
        }
        // `inspect --format` on a typed value, and with docker's header functions.
        mode => {
            let (funcs, print) = match mode {
                1 => (Funcs::Basic, Print::Typed),
                2 => (Funcs::Basic, Print::Untyped),
                _ => (Funcs::Header, Print::Native),
            };
            let t = match DockerTemplate::parse(template, funcs, print) {
                Ok(t) => t,
                Err(e) => return go_worded(&e),
            };
            let value = if print == Print::Typed {
                typed(data)
            } else {
                GoData::untyped(&json)
            };
            if let Err(e) = t.execute(&value, strict) {
                go_worded(&e);
            }
            let _ = t.receiver_of("Name");
        }
    }
});
