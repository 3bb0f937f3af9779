//! Request bodies as Docker reads them (spec §6.1): JSON only, empty means defaults,
//! bounded in size, with Docker's messages for the wrong content type or bad JSON.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Largest accepted body. Docker has no limit; a network request is a few hundred bytes.
pub const MAX_BODY: usize = 1 << 20;

pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("").to_string());
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| {
                ApiError::invalid(format!("request body is larger than {MAX_BODY} bytes"))
            })?;
        let _ = state;
        parse(content_type.as_deref(), &bytes).map(JsonBody)
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
