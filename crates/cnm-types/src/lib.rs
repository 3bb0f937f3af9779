//! Wire formats shared by the cnm daemon and its clients.
//!
//! Contract: this crate holds only serde types and pure helpers. It does no I/O, so the CLI
//! can depend on it without pulling in the engine. Field names and field order follow the
//! Docker Engine API (`reference/libnetwork-spec.md` §6): struct fields serialize in
//! declaration order and maps are `BTreeMap`s so keys come out sorted, as Go emits them.

pub mod doctor;
pub mod engine;
pub mod filters;
pub mod ids;
pub mod plugin;
pub mod sandbox;
pub mod version;

pub use ids::Id;
