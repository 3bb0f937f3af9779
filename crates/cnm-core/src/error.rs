//! Error kinds. Every error in the engine has a kind, and the kind alone decides the HTTP
//! status the API answers with (Docker's errdefs classes, spec §2.8).

/// The class of an error, mapped 1:1 onto an HTTP status by the API layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400
    InvalidParameter,
    /// 403
    Forbidden,
    /// 404
    NotFound,
    /// 409
    Conflict,
    /// 501
    NotImplemented,
    /// 503
    Unavailable,
    /// 500
    Internal,
}

impl ErrorKind {
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::InvalidParameter => 400,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::NotImplemented => 501,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }
}

/// Anything that can say which class it belongs to.
pub trait HasKind {
    fn kind(&self) -> ErrorKind;
}

/// The engine's error: a kind and Docker's message. Modules keep their own typed enums
/// (`IpamError`, `OslError`, ...) and convert into this at the controller boundary, so the
/// message users see is decided where the context is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    /// Prefixes the message with context, keeping the kind.
    pub fn context(self, prefix: impl std::fmt::Display) -> Self {
        Error {
            kind: self.kind,
            message: format!("{prefix}: {}", self.message),
        }
    }
}

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
