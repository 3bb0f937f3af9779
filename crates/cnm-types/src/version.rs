//! The Engine API versions cnm speaks.

/// The newest API version cnm answers with (`Api-Version` header).
pub const API_VERSION: &str = "1.51";
/// The oldest API version cnm accepts (Docker's default minimum).
pub const MIN_API_VERSION: &str = "1.40";
/// The first API version whose network objects carry `EnableIPv4` and the modern field
/// order; older clients get the shape Docker 20.10–27 sent.
pub const MODERN_NETWORK_SHAPE: ApiVersion = ApiVersion(1, 48);

/// A parsed `major.minor` API version; ordering is numeric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion(pub u32, pub u32);

impl ApiVersion {
    pub fn parse(s: &str) -> Option<Self> {
        let (major, minor) = s.split_once('.')?;
        Some(ApiVersion(major.parse().ok()?, minor.parse().ok()?))
    }

    pub fn current() -> Self {
        Self::parse(API_VERSION).expect("API_VERSION is valid")
    }

    pub fn minimum() -> Self {
        Self::parse(MIN_API_VERSION).expect("MIN_API_VERSION is valid")
    }
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}
