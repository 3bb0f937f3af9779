//! Plain data: networks, endpoints and sandboxes as cnm stores them. No I/O here.
//!
//! These are the persisted records (serde JSON in the store) and the in-memory state the
//! controller indexes. The Engine API shapes live in `cnm-types`; conversion happens in the
//! daemon's view layer.

pub mod endpoint;
pub mod labels;
pub mod network;
pub mod sandbox;

pub use endpoint::{Endpoint, Mac};
pub use network::{IpamInfo, IpamRequest, Network};
pub use sandbox::Sandbox;

/// Timestamps are kept as Docker prints them: RFC 3339 with nanoseconds, UTC.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let base = now
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .expect("formattable time");
    format!("{base}.{:09}Z", now.nanosecond())
}
