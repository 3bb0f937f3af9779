//! cnm-core: the Container Network Model engine.
//!
//! Layers, from the bottom: `osl` and `firewall` are the only code that touches the kernel;
//! `driver` and `ipam` implement CNM's driver contracts on top of them; `store` persists
//! state; `controller` orchestrates one operation at a time as named steps with undo.
//! `model` is plain data shared by all of them.

pub mod controller;
pub mod driver;
pub mod error;
pub mod firewall;
pub mod ipam;
pub mod model;
pub mod osl;
pub mod plugins;
pub mod portmap;
pub mod resolver;
pub mod store;

pub use error::{Error, ErrorKind, Result};
