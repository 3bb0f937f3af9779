//! `cnm network ...` (placeholder).
#[derive(clap::Subcommand)]
pub enum NetworkCommand {
    Ls,
}
