//! `cnm sandbox ls`: a docker-style table of sandboxes.
//!
//! Contract: `SANDBOX ID     NAME      NETWORKS` (12-character ids unless `--no-trunc`, network
//! names sorted and comma-joined), sorted by name in natural order; `-q` prints ids only;
//! `--format` takes `table ...`, `json` or a template over `.ID .Name .Networks .Hostname
//! .CreatedAt .SandboxKey .External`.

use std::collections::BTreeMap;
use std::sync::Arc;

use cnm_types::sandbox::Sandbox;
use gotmpl::Value;

use crate::client::format::gojson::quote;
use crate::client::format::gotime::GoTime;
use crate::client::format::goval::{GoData, GoField, GoVal};
use crate::client::format::table::{ListData, natural_cmp, render_list};
use crate::client::http::ApiClient;
use crate::client::{CliError, Io};

/// `cnm sandbox ls` flags.
#[derive(clap::Args, Debug, Default)]
pub struct ListArgs {
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'
    #[arg(long, default_value = "")]
    pub format: String,
    /// Do not truncate the output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only display sandbox IDs
    #[arg(short, long)]
    pub quiet: bool,
}

const COLUMNS: [(&str, &str); 7] = [
    ("CreatedAt", "CREATED AT"),
    ("External", "EXTERNAL"),
    ("Hostname", "HOSTNAME"),
    ("ID", "SANDBOX ID"),
    ("Name", "NAME"),
    ("Networks", "NETWORKS"),
    ("SandboxKey", "SANDBOX KEY"),
];

fn row(s: &Sandbox, no_trunc: bool) -> GoVal {
    let id = if no_trunc {
        s.id.clone()
    } else {
        s.id.chars().take(12).collect()
    };
    let networks = s
        .network_settings
        .networks
        .keys()
        .cloned()
        .collect::<Vec<_>>()
        .join(",");
    let values = [
        GoTime::parse(&s.created).go_string(),
        s.external.to_string(),
        s.hostname.clone(),
        id,
        s.name.clone(),
        networks,
        s.network_settings.sandbox_key.clone(),
    ];
    let json = format!(
        "{{{}}}",
        COLUMNS
            .iter()
            .zip(&values)
            .map(|((k, _), v)| format!("{}:{}", quote(k, true), quote(v, true)))
            .collect::<Vec<_>>()
            .join(",")
    );
    let fields = COLUMNS
        .iter()
        .zip(values)
        .map(|((k, _), v)| GoField::new(k, GoVal::Str(v)))
        .collect();
    GoVal::Marshaler(Box::new(GoVal::Struct(fields)), json)
}

fn header() -> GoVal {
    let mut m: BTreeMap<String, GoVal> = COLUMNS
        .iter()
        .map(|(k, h)| (k.to_string(), GoVal::str(*h)))
        .collect();
    let label: gotmpl::ValueFunc = Arc::new(|args: &[Value]| {
        let name = args.first().map(|a| a.to_string()).unwrap_or_default();
        Ok(Value::String(Arc::from(
            name.rsplit('.')
                .next()
                .unwrap_or("")
                .replace(['-', '_'], " "),
        )))
    });
    m.insert("Label".into(), GoVal::Func(label));
    GoVal::Map(Some(m))
}

/// Renders sandboxes as `cnm sandbox ls` prints them.
pub fn render(mut sandboxes: Vec<Sandbox>, args: &ListArgs) -> Result<String, CliError> {
    sandboxes.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    let format = match (args.format.as_str(), args.quiet) {
        ("" | "table", true) => "{{.ID}}",
        ("" | "table", false) => "table {{.ID}}\t{{.Name}}\t{{.Networks}}",
        (f, _) => f,
    };
    let rows: Vec<GoData> = sandboxes
        .iter()
        .map(|s| GoData::new(row(s, args.no_trunc)))
        .collect();
    let header = GoData::new(header());
    let data = ListData {
        rows: &rows,
        header: &header,
        type_name: "*sandbox.sandboxContext",
    };
    render_list(format, &data).map_err(|e| CliError::new(1, e.to_string()))
}

pub fn run(api: &mut ApiClient, io: &mut Io<'_>, args: ListArgs) -> Result<(), CliError> {
    let resp = api.call(hyper::Method::GET, "/sandboxes", &[], None)?;
    let sandboxes: Option<Vec<Sandbox>> = serde_json::from_slice(&resp.body)
        .map_err(|e| CliError::new(1, format!("unexpected answer to sandbox list: {e}")))?;
    io.print(&render(sandboxes.unwrap_or_default(), &args)?);
    Ok(())
}
