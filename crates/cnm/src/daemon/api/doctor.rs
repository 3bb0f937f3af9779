//! `GET /doctor` reports drift; `POST /doctor?fix=1` repairs it.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use cnm_types::doctor::{DoctorReport, Finding};

use super::Shared;
use super::error::ApiResult;

async fn run(c: &Shared, fix: bool) -> ApiResult<Json<DoctorReport>> {
    let findings = c
        .doctor(fix)
        .await?
        .into_iter()
        .map(|f| Finding {
            kind: f.kind,
            object: f.object,
            problem: f.problem,
            fixed: f.fixed,
        })
        .collect();
    Ok(Json(DoctorReport { findings }))
}

pub async fn check(State(c): State<Shared>) -> ApiResult<Json<DoctorReport>> {
    run(&c, false).await
}

pub async fn repair(
    State(c): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<DoctorReport>> {
    let fix = q
        .get("fix")
        .is_some_and(|v| cnm_core::driver::options::parse_go_bool(v).unwrap_or(false));
    run(&c, fix).await
}
