//! `GET /metrics`: Prometheus text. API requests by route, method and status class, and the
//! sizes of the state at scrape time.
//!
//! Contract: counting is a lock-free increment on the request path; the state sizes are read
//! only when scraped.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::Shared;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ObjectLabels {
    pub kind: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    errors: Family<RequestLabels, Counter>,
    objects: Family<ObjectLabels, Gauge>,
    repairs: Gauge,
    dns: Family<ObjectLabels, Gauge>,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("cnm");
        let requests = Family::<RequestLabels, Counter>::default();
        let errors = Family::<RequestLabels, Counter>::default();
        let objects = Family::<ObjectLabels, Gauge>::default();
        registry.register("api_requests", "API requests served", requests.clone());
        registry.register(
            "api_errors",
            "API requests answered with a 4xx or 5xx status",
            errors.clone(),
        );
        registry.register(
            "objects",
            "Networks, sandboxes and endpoints in the state",
            objects.clone(),
        );
        let repairs = Gauge::default();
        registry.register(
            "reconcile_repairs",
            "Kernel drift repaired so far (at start, by doctor --fix, by the firewall check)",
            repairs.clone(),
        );
        let dns = Family::<ObjectLabels, Gauge>::default();
        registry.register(
            "dns_queries",
            "Embedded DNS queries by outcome (local, forwarded, upstream_failure, refused, dropped)",
            dns.clone(),
        );
        Arc::new(Metrics {
            registry,
            requests,
            errors,
            objects,
            repairs,
            dns,
        })
    }
}

/// Counts every request by its route template (`/networks/{id}`, not the id).
pub async fn count(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let labels = RequestLabels {
        method,
        route,
        status: format!("{}xx", status / 100),
    };
    metrics.requests.get_or_create(&labels).inc();
    if status >= 400 {
        metrics.errors.get_or_create(&labels).inc();
    }
    resp
}

pub async fn scrape(
    State(controller): State<Shared>,
    State(metrics): State<Arc<Metrics>>,
) -> Response {
    let counts = controller.counts().await;
    for (kind, n) in [
        ("network", counts.networks),
        ("sandbox", counts.sandboxes),
        ("endpoint", counts.endpoints),
    ] {
        metrics
            .objects
            .get_or_create(&ObjectLabels { kind: kind.into() })
            .set(n as i64);
    }
    metrics.repairs.set(controller.repairs() as i64);
    let dns = controller.resolver_stats();
    for (kind, n) in [
        ("local", dns.local_answers),
        ("forwarded", dns.forwarded),
        ("upstream_failure", dns.upstream_failures),
        ("refused", dns.refused),
        ("dropped", dns.dropped),
    ] {
        metrics
            .dns
            .get_or_create(&ObjectLabels { kind: kind.into() })
            .set(n as i64);
    }
    let mut body = String::new();
    if encode(&mut body, &metrics.registry).is_err() {
        return (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "encoding metrics failed",
        )
            .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
