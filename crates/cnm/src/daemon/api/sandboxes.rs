//! cnm's `/sandboxes` routes: create, list, inspect, delete.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cnm_types::sandbox::{SandboxCreateRequest, SandboxCreateResponse};

use super::Shared;
use super::body::JsonBody;
use super::error::ApiResult;

pub async fn create(
    State(c): State<Shared>,
    JsonBody(req): JsonBody<SandboxCreateRequest>,
) -> ApiResult<Response> {
    let id = c.create_sandbox(req).await?;
    Ok((
        StatusCode::CREATED,
        Json(SandboxCreateResponse { id: id.to_string() }),
    )
        .into_response())
}

pub async fn list(State(c): State<Shared>) -> Json<Vec<cnm_types::sandbox::Sandbox>> {
    Json(c.sandboxes().await.iter().map(|s| s.to_wire()).collect())
}

pub async fn inspect(
    State(c): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Json<cnm_types::sandbox::Sandbox>> {
    Ok(Json(c.sandbox(&id).await?.to_wire()))
}

pub async fn remove(
    State(c): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<StatusCode> {
    let force = q
        .get("force")
        .is_some_and(|v| cnm_core::driver::options::parse_go_bool(v).unwrap_or(false));
    c.delete_sandbox(&id, force).await?;
    Ok(StatusCode::NO_CONTENT)
}
