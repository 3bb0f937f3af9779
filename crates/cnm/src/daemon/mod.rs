//! `cnm daemon` (placeholder).
#[derive(clap::Args)]
pub struct DaemonArgs {}

pub fn run(args: DaemonArgs) -> i32 {
    let _ = args;
    todo!()
}
