//! `cnm sandbox ...` (placeholder).
#[derive(clap::Subcommand)]
pub enum SandboxCommand {
    Ls,
}
