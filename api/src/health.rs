//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};

/// Readiness: the read model answers and is at most a few blocks behind the chain.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Readiness {
    pub(crate) ready: bool,
    pub(crate) head: u64,
    pub(crate) indexed: u64,
}

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    pub(crate) status: String,
}

/// Blocks the indexer may lag before the node reports not ready.
pub(crate) const MAX_LAG: u64 = 5;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/health", get(health)).route("/ready", get(ready))
}

/// The process answers.
#[utoipa::path(get, path = "/v1/health", tag = "health", responses((status = 200, body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// The read model answers and follows the chain.
#[utoipa::path(get, path = "/v1/ready", tag = "health",
    responses((status = 200, body = Readiness), (status = 503, body = ErrorBody)))]
pub(crate) async fn ready(State(state): State<AppState>) -> ApiResult<(StatusCode, Json<Readiness>)> {
    state
        .db
        .execute_unprepared("SELECT 1")
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "NOT_READY", format!("read model: {e}")))?;
    let head = state.chain.head().await?;
    let indexed = state.indexer.indexed();
    let ready = head.saturating_sub(indexed) <= MAX_LAG;
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok((status, Json(Readiness { ready, head, indexed })))
}
