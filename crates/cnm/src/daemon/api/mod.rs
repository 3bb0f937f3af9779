//! The Engine API router: Docker's routes for networks plus cnm's `/sandboxes`.
//!
//! Contract (spec §6.1): paths are served with and without `/vX.Y`; the version is checked
//! and handed to handlers (old clients get old shapes); every response carries `Api-Version`
//! and `Ostype`; errors are `{"message": ...}` with `Content-Type: application/json` and the
//! status of the error's kind; unknown routes are 404 `page not found`.

mod body;
mod doctor;
mod error;
mod filters;
mod metrics;
mod networks;
mod sandboxes;
mod system;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cnm_core::controller::Controller;
use cnm_types::version::{API_VERSION, ApiVersion};

pub use error::ApiError;

pub type Shared = Arc<Controller>;

/// What handlers can extract: the controller, or the metrics.
#[derive(Clone)]
pub struct AppState {
    controller: Shared,
    metrics: Arc<metrics::Metrics>,
}

impl axum::extract::FromRef<AppState> for Shared {
    fn from_ref(state: &AppState) -> Self {
        state.controller.clone()
    }
}

impl axum::extract::FromRef<AppState> for Arc<metrics::Metrics> {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

/// The API version a request was made with (unversioned = the current one).
#[derive(Clone, Copy, Debug)]
pub struct RequestVersion(pub ApiVersion);

pub fn router(controller: Shared) -> Router {
    let state = AppState {
        controller,
        metrics: metrics::Metrics::new(),
    };
    let routes = Router::new()
        .route("/metrics", get(metrics::scrape))
        .route("/doctor", get(doctor::check).post(doctor::repair))
        .route("/_ping", get(system::ping).head(system::ping_head))
        .route("/version", get(system::version))
        .route("/networks", get(networks::list))
        .route("/networks/create", post(networks::create))
        .route("/networks/prune", post(networks::prune))
        .route(
            "/networks/{id}",
            get(networks::inspect).delete(networks::remove),
        )
        .route("/networks/{id}/connect", post(networks::connect))
        .route("/networks/{id}/disconnect", post(networks::disconnect))
        .route("/sandboxes", get(sandboxes::list))
        .route("/sandboxes/create", post(sandboxes::create))
        .route(
            "/sandboxes/{id}",
            get(sandboxes::inspect).delete(sandboxes::remove),
        )
        .fallback(|| async { ApiError::not_found("page not found") })
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::count,
        ))
        .with_state(state)
        .layer(middleware::from_fn(common_headers));
    // The version prefix is stripped before routing, so it wraps the router.
    Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn(strip_version))
}

/// Splits `/v1.41/networks` into version 1.41 and path `/networks`, rejecting versions
/// outside what cnm speaks.
async fn strip_version(mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let mut version = ApiVersion::current();
    if let Some(rest) = path.strip_prefix("/v")
        && let Some((ver, tail)) = rest.split_once('/')
        && let Some(parsed) = ApiVersion::parse(ver)
    {
        if parsed < ApiVersion::minimum() {
            return ApiError::invalid(format!(
                "client version {parsed} is too old. Minimum supported API version is {}, please upgrade your client to a newer version",
                ApiVersion::minimum()
            ))
            .into_response();
        }
        if parsed > ApiVersion::current() {
            return ApiError::invalid(format!(
                "client version {parsed} is too new. Maximum supported API version is {API_VERSION}"
            ))
            .into_response();
        }
        version = parsed;
        let query = req
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let new: Uri = format!("/{tail}{query}")
            .parse()
            .unwrap_or_else(|_| Uri::from_static("/"));
        *req.uri_mut() = new;
    }
    req.extensions_mut().insert(RequestVersion(version));
    next.run(req).await
}

async fn common_headers(req: Request<Body>, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static(API_VERSION));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert(
        "Server",
        HeaderValue::from_static(concat!("cnm/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
    resp
}
