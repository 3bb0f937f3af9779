//! `cnm daemon`: flags, start-up, and the Engine API server on a unix socket.
//!
//! Start-up order: parse flags → open the store (exclusive lock) → build the drivers in the
//! current namespace → restore state (`Controller::start`) → bind the socket → serve. The
//! socket exists only once the daemon can answer, so clients that see it can use it. Slow
//! and idle clients are bounded by `server` (see [`server::Limits`]).

mod api;
mod flags;
mod server;
mod socket;

use std::sync::Arc;

use anyhow::Context;
use cnm_core::controller::Controller;

pub use flags::DaemonArgs;

pub fn run(args: DaemonArgs) -> i32 {
    let filter =
        tracing_subscriber::EnvFilter::try_new(&args.log_level).unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cnm daemon: cannot start the runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("cnm daemon: {e:#}");
            1
        }
    }
}

async fn serve(args: DaemonArgs) -> anyhow::Result<()> {
    let config = args.controller_config()?;
    let store_path = config.data_root.join("network").join("cnm.redb");
    let store = cnm_core::store::RedbStore::open(&store_path)?;
    let drivers = flags::build_drivers(&args)?;
    let host =
        cnm_core::osl::Netlink::current().context("opening netlink in the daemon's namespace")?;
    let routes = cnm_core::osl::Netlink::watch_link_routes()
        .await
        .context("watching the host's routes")?;
    let controller = Arc::new(
        Controller::new(config, Arc::new(store), drivers, Some(host)).with_link_routes(routes),
    );
    controller.start().await.context("restoring state")?;
    // Someone may flush cnm's table (`nft flush ruleset`): notice within seconds and restore.
    let watcher = controller.clone();
    let period = args.firewall_check_interval;
    tokio::spawn(async move {
        if period == 0 {
            return;
        }
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(period));
        loop {
            tick.tick().await;
            match watcher.repair_firewall().await {
                Ok(true) => {
                    tracing::warn!("cnm's nftables table was changed from outside; restored it")
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "checking cnm's nftables table"),
            }
        }
    });
    let listener = socket::bind(&args.host)?;
    tracing::info!(socket = %args.host, "cnm daemon is serving the Engine network API");
    let app = api::router(controller);
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
        tracing::info!("shutting down");
    };
    server::serve(listener, app, args.api_limits(), shutdown)
        .await
        .context("serving the API")?;
    Ok(())
}
