//! `/_ping` and `/version`: what clients call first to negotiate the API version.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cnm_types::engine::{Component, Platform, Version};
use cnm_types::version::{API_VERSION, MIN_API_VERSION};

fn ping_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert("Builder-Version", HeaderValue::from_static("2"));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert("Swarm", HeaderValue::from_static("inactive"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h
}

pub async fn ping() -> Response {
    (StatusCode::OK, ping_headers(), "OK").into_response()
}

pub async fn ping_head() -> Response {
    (StatusCode::OK, ping_headers()).into_response()
}

pub async fn version() -> Json<Version> {
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().to_string())
        .unwrap_or_default();
    let version = env!("CARGO_PKG_VERSION").to_string();
    Json(Version {
        platform: Platform { name: "cnm".into() },
        components: vec![Component {
            name: "Engine".into(),
            version: version.clone(),
            details: [
                ("ApiVersion", API_VERSION),
                ("MinAPIVersion", MIN_API_VERSION),
                ("Os", "linux"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        }],
        version,
        api_version: API_VERSION.into(),
        min_api_version: MIN_API_VERSION.into(),
        git_commit: String::new(),
        go_version: String::new(),
        os: "linux".into(),
        arch: std::env::consts::ARCH
            .replace("x86_64", "amd64")
            .replace("aarch64", "arm64"),
        kernel_version: kernel,
        build_time: String::new(),
    })
}
