//! Output formatting shared by the client commands: Go templates, Go JSON, Go times,
//! docker's table layout.

pub mod actions;
pub mod blocks;
pub mod gojson;
pub mod gotime;
pub mod goval;
pub mod table;
pub mod template;
