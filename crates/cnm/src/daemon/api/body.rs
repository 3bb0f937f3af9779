//! Request bodies as Docker reads them (spec §6.1): JSON only, empty means defaults,
//! bounded in size and in time (the server's [`BodyDeadline`]: 408 and the connection
//! closed when the body is late), with Docker's messages for the wrong content type or bad
//! JSON.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::daemon::server::BodyDeadline;

/// Largest accepted body. Docker has no limit; a network request is a few hundred bytes.
pub const MAX_BODY: usize = 1 << 20;

pub struct JsonBody<T>(pub T);

/// Why a body was refused.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body is larger than {MAX_BODY} bytes")]
    TooLarge,
    /// The body did not arrive before its deadline ([`BodyDeadline`], set by the server).
    #[error("timed out reading the request body")]
    TooSlow,
    #[error("{}", .0.0.message)]
    Invalid(ApiError),
}

impl From<ApiError> for BodyError {
    fn from(e: ApiError) -> Self {
        BodyError::Invalid(e)
    }
}

impl IntoResponse for BodyError {
    fn into_response(self) -> Response {
        match self {
            BodyError::TooLarge => ApiError::invalid(self.to_string()).into_response(),
            BodyError::Invalid(e) => e.into_response(),
            BodyError::TooSlow => {
                // The rest of the body may still be on its way: close rather than drain it.
                let body = serde_json::json!({ "message": self.to_string() }).to_string();
                let mut resp = (
                    StatusCode::REQUEST_TIMEOUT,
                    [(header::CONTENT_TYPE, "application/json")],
                    body,
                )
                    .into_response();
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                resp
            }
        }
    }
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = BodyError;

    async fn from_request(req: Request, state: &S) -> Result<Self, BodyError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("").to_string());
        let deadline = req.extensions().get::<BodyDeadline>().map(|d| d.0);
        let read = axum::body::to_bytes(req.into_body(), MAX_BODY);
        let read = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, read)
                .await
                .map_err(|_| BodyError::TooSlow)?,
            None => read.await,
        };
        let bytes = read.map_err(|_| BodyError::TooLarge)?;
        let _ = state;
        Ok(parse(content_type.as_deref(), &bytes).map(JsonBody)?)
    }
}

pub fn parse<T: DeserializeOwned + Default>(
    content_type: Option<&str>,
    bytes: &Bytes,
) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    match content_type {
        None | Some("") => {
            return Err(ApiError::invalid(
                "malformed Content-Type header (): mime: no media type",
            ));
        }
        Some(ct) => {
            let media = ct.split(';').next().unwrap_or("").trim();
            if !media.eq_ignore_ascii_case("application/json") {
                return Err(ApiError::invalid(format!(
                    "unsupported Content-Type header ({ct}): must be 'application/json'"
                )));
            }
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(&mut de).map_err(|e| {
        if e.is_eof() {
            ApiError::invalid("invalid JSON: got EOF while reading request body")
        } else {
            ApiError::invalid(format!("invalid JSON: {e}"))
        }
    })?;
    de.end()
        .map_err(|_| ApiError::invalid("unexpected content after JSON"))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnm_types::engine::NetworkCreateRequest;

    fn p(ct: Option<&str>, body: &str) -> Result<NetworkCreateRequest, String> {
        parse(ct, &Bytes::from(body.to_string())).map_err(|e| e.0.message)
    }

    #[test]
    fn docker_body_rules() {
        assert_eq!(p(None, "").unwrap(), NetworkCreateRequest::default());
        assert_eq!(
            p(Some("text/plain"), "{}").unwrap_err(),
            "unsupported Content-Type header (text/plain): must be 'application/json'"
        );
        assert_eq!(
            p(None, "{}").unwrap_err(),
            "malformed Content-Type header (): mime: no media type"
        );
        assert!(
            p(Some("application/json"), "{")
                .unwrap_err()
                .starts_with("invalid JSON")
        );
        assert_eq!(
            p(Some("application/json"), "{} x").unwrap_err(),
            "unexpected content after JSON"
        );
        assert_eq!(
            p(Some("application/json; charset=utf-8"), r#"{"Name":"a"}"#)
                .unwrap()
                .name
                .as_deref(),
            Some("a")
        );
    }
}
