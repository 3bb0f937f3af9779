//! `cnm network ls`: docker's filters, table, `-q`, `--no-trunc` and `--format`.
//!
//! Contract: networks are listed with `GET /networks?filters=...`, sorted by name in natural
//! order and rendered exactly as `docker network ls` renders them ([`render`]).

use serde_json::Value;

use crate::client::flags::{self, Usage};
use crate::client::format::goval::GoData;
use crate::client::format::table::{ListData, natural_cmp, render_list};
use crate::client::http::ApiClient;
use crate::client::{CliError, Io};

use super::view::{NetworkView, list_header};

pub const USAGE: Usage = Usage {
    path: "network ls",
    args: "[OPTIONS]",
};

/// `docker network ls` flags.
#[derive(clap::Args, Debug, Default)]
pub struct ListArgs {
    /// Provide filter values (e.g. "driver=bridge")
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'
    #[arg(long, default_value = "")]
    pub format: String,
    /// Do not truncate the output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only display network IDs
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

/// docker's `network.NewFormat`.
pub fn resolve_format(format: &str, quiet: bool) -> String {
    let format = if format.is_empty() { "table" } else { format };
    match (format, quiet) {
        ("table", true) => "{{.ID}}".into(),
        ("table", false) => "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}".into(),
        ("raw", true) => "network_id: {{.ID}}".into(),
        ("raw", false) => {
            "network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: {{.Driver}}\\nscope: {{.Scope}}\\n"
                .into()
        }
        (other, _) => other.into(),
    }
}

/// Renders decoded networks the way `docker network ls` does.
pub fn render(mut networks: Vec<NetworkView>, args: &ListArgs) -> Result<String, CliError> {
    networks.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    let rows: Vec<GoData> = networks
        .iter()
        .map(|n| GoData::new(n.list_context(args.no_trunc)))
        .collect();
    let header = GoData::new(list_header());
    let data = ListData {
        rows: &rows,
        header: &header,
        type_name: "*network.networkContext",
    };
    render_list(&resolve_format(&args.format, args.quiet), &data)
        .map_err(|e| CliError::new(1, e.to_string()))
}

pub fn run(api: &mut ApiClient, io: &mut Io<'_>, args: ListArgs) -> Result<(), CliError> {
    USAGE.no_args(args.extra.len())?;
    let filters = flags::filters(&USAGE, "-f, --filter", &args.filter)?;
    let mut query = Vec::new();
    if !filters.is_empty() {
        query.push(("filters", filters.to_json()));
    }
    let resp = api.call(hyper::Method::GET, "/networks", &query, None)?;
    let networks: Vec<NetworkView> = match serde_json::from_slice::<Value>(&resp.body) {
        Ok(Value::Null) => Vec::new(),
        Ok(v) => serde_json::from_value(v).map_err(|e| CliError::new(1, e.to_string()))?,
        Err(e) => return Err(CliError::new(1, e.to_string())),
    };
    io.print(&render(networks, &args)?);
    Ok(())
}
