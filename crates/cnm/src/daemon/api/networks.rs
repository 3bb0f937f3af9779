//! `/networks` routes (spec §6.4).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cnm_core::controller::spec::NetworkSpec;
use cnm_core::controller::{NetworkView, PruneFilter};
use cnm_types::engine::{
    LegacyNetwork, NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse,
    NetworkDisconnectRequest, NetworkPruneResponse,
};
use cnm_types::filters::Filters;
use cnm_types::version::MODERN_NETWORK_SHAPE;

use super::body::JsonBody;
use super::error::{ApiError, ApiResult};
use super::filters::NetworkFilter;
use super::{RequestVersion, Shared};

type QueryMap = Query<HashMap<String, String>>;

fn filters_of(query: &HashMap<String, String>) -> ApiResult<Filters> {
    Filters::parse(query.get("filters").map(String::as_str).unwrap_or(""))
        .map_err(ApiError::invalid)
}

/// Serializes a network in the shape the request's API version expects.
fn shaped(view: &NetworkView, with_containers: bool, version: RequestVersion) -> serde_json::Value {
    let legacy = version.0 < MODERN_NETWORK_SHAPE;
    let network = view.to_engine(with_containers, legacy);
    if legacy {
        serde_json::to_value(LegacyNetwork::from(network))
    } else {
        serde_json::to_value(network)
    }
    .expect("networks serialize")
}

pub async fn list(
    State(c): State<Shared>,
    Extension(v): Extension<RequestVersion>,
    Query(q): QueryMap,
) -> ApiResult<Response> {
    let filter = NetworkFilter::parse(&filters_of(&q)?)?;
    let legacy = v.0 < MODERN_NETWORK_SHAPE;
    let body = c
        .list_networks_json(|n, in_use| filter.accepts(n, in_use), legacy)
        .await;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

pub async fn inspect(
    State(c): State<Shared>,
    Extension(v): Extension<RequestVersion>,
    Path(id): Path<String>,
    Query(q): QueryMap,
) -> ApiResult<Response> {
    if let Some(verbose) = q.get("verbose")
        && cnm_core::driver::options::parse_go_bool(verbose).is_none()
    {
        return Err(ApiError::invalid(format!(
            "invalid value for verbose: {verbose}"
        )));
    }
    let view = c.network(&id).await?;
    if let Some(scope) = q.get("scope").filter(|s| !s.is_empty())
        && scope != &view.network.scope
    {
        return Err(ApiError::not_found(format!("network {id} not found")));
    }
    Ok(Json(shaped(&view, true, v)).into_response())
}

pub async fn create(
    State(c): State<Shared>,
    Extension(v): Extension<RequestVersion>,
    JsonBody(mut req): JsonBody<NetworkCreateRequest>,
) -> ApiResult<Response> {
    if v.0 < MODERN_NETWORK_SHAPE {
        req.enable_ipv4 = None; // Not part of the API before 1.48.
    }
    let spec = NetworkSpec::from_request(req)?;
    let network = c.create_network(spec).await?;
    let body = NetworkCreateResponse {
        id: network.id.to_string(),
        warning: String::new(),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn remove(State(c): State<Shared>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    c.delete_network(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn connect(
    State(c): State<Shared>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<NetworkConnectRequest>,
) -> ApiResult<StatusCode> {
    c.connect(&id, &req.container, req.endpoint_config.unwrap_or_default())
        .await?;
    Ok(StatusCode::OK)
}

pub async fn disconnect(
    State(c): State<Shared>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<NetworkDisconnectRequest>,
) -> ApiResult<StatusCode> {
    c.disconnect(&id, &req.container, req.force).await?;
    Ok(StatusCode::OK)
}

pub async fn prune(State(c): State<Shared>, Query(q): QueryMap) -> ApiResult<Response> {
    let filters = filters_of(&q)?;
    if let Some(bad) = filters
        .keys()
        .find(|k| !["until", "label", "label!"].contains(k))
    {
        return Err(ApiError::invalid(format!("Invalid filter '{bad}'")));
    }
    let until = match filters.get("until").as_slice() {
        [] => None,
        [one] => Some(until_to_rfc3339(one)?),
        _ => return Err(ApiError::invalid("more than one until filter specified")),
    };
    let filter = PruneFilter {
        until,
        labels: filters.get("label").into_iter().map(String::from).collect(),
        labels_not: filters
            .get("label!")
            .into_iter()
            .map(String::from)
            .collect(),
    };
    let removed = c.prune_networks(&filter).await?;
    let body = NetworkPruneResponse {
        networks_deleted: (!removed.is_empty()).then_some(removed),
    };
    Ok(Json(body).into_response())
}

/// `until`: a Unix timestamp, an RFC 3339 time, or a Go duration back from now.
fn until_to_rfc3339(value: &str) -> ApiResult<String> {
    use time::OffsetDateTime;
    let bad = || {
        ApiError::invalid(format!(
            "failed to parse value as time or duration: \"{value}\""
        ))
    };
    let when = if let Ok(secs) = value.parse::<f64>() {
        OffsetDateTime::from_unix_timestamp_nanos((secs * 1e9) as i128).map_err(|_| bad())?
    } else if let Ok(t) =
        OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
    {
        t
    } else {
        OffsetDateTime::now_utc()
            .checked_sub(go_duration(value).ok_or_else(bad)?)
            .ok_or_else(bad)?
    };
    let when = when.to_offset(time::UtcOffset::UTC);
    let base = when
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .map_err(|_| bad())?;
    Ok(format!("{base}.{:09}Z", when.nanosecond()))
}

/// Go's `time.ParseDuration` for the units people use (`h`, `m`, `s`, `ms`).
fn go_duration(text: &str) -> Option<time::Duration> {
    let re = regex::Regex::new(r"^(?:(\d+(?:\.\d+)?)(h|ms|m|s|us|ns))+$").ok()?;
    if !re.is_match(text) {
        return None;
    }
    let part = regex::Regex::new(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)").ok()?;
    let mut secs = 0f64;
    for cap in part.captures_iter(text) {
        let n: f64 = cap[1].parse().ok()?;
        secs += n * match &cap[2] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" => 1e-6,
            _ => 1e-9,
        };
    }
    // `seconds_f64` panics on values it cannot hold; a duration back from now that large
    // is refused instead.
    time::Duration::checked_seconds_f64(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_forms() {
        assert!(until_to_rfc3339("24h").is_ok());
        assert!(until_to_rfc3339("1h30m").is_ok());
        assert_eq!(
            until_to_rfc3339("0").unwrap(),
            "1970-01-01T00:00:00.000000000Z"
        );
        assert_eq!(
            until_to_rfc3339("2026-01-02T03:04:05Z").unwrap(),
            "2026-01-02T03:04:05.000000000Z"
        );
        assert!(until_to_rfc3339("yesterday").is_err());
    }
}
