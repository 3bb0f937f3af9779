//! The macvlan and ipvlan drivers end to end, with real packets (issue 6).
//!
//! Every test runs a cnm daemon in a private namespace (the "host") and plugs a veth parent into
//! an "outside" namespace that stands for the physical LAN (`macvlan/lan.rs`). Sandboxes are made
//! with `cnm sandbox create`; networks with the real `docker` CLI.
//!
//! - `macvlan/modes.rs`: bridge, private, vepa and passthru modes;
//! - `macvlan/lifecycle.rs`: no parent, gateways and dual stack, the parent rules and errors
//!   (nothing left behind), a daemon restart;
//! - `macvlan/kernel_gaps.rs`: what needs ipvlan or 802.1q links, which this machine's kernel
//!   lacks: those tests probe the kernel and print `SKIP <test>: <reason>` when it lacks them;
//! - `macvlan/golden.rs`: `docker network ...` output compared with the reference daemon.
//!
//! Run with `cargo nextest run -p cnm --test macvlan` as root.

mod support;

#[path = "macvlan/golden.rs"]
mod golden;
#[path = "macvlan/kernel_gaps.rs"]
mod kernel_gaps;
#[path = "macvlan/lan.rs"]
mod lan;
#[path = "macvlan/lifecycle.rs"]
mod lifecycle;
#[path = "macvlan/modes.rs"]
mod modes;
