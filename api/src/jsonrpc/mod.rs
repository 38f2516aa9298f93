//! The node's JSON-RPC port (`/` and `/rpc`, HTTP POST and WebSocket), gated: outside dev
//! mode an organisation's API token (or the operator's) is the credential, as a bearer
//! token, and each organisation sees exactly what it may see through REST.
//!
//! - No credential: HTTP 401 and a JSON-RPC error (-32001), nothing else. A suspended
//!   organisation: HTTP 403 (-32003), reads included.
//! - The operator: every method, forwarded as asked.
//! - An organisation ([`method`]): chain metadata; its own account's nonce and balance;
//!   `eth_call` and `eth_estimateGas` run with `from` set to itself whatever the request
//!   says, without state overrides (the contracts' views then check its entitlement, and
//!   a read a firm's consent alone allows is audited); its own signed transactions; logs,
//!   transactions, receipts and blocks' transaction lists filtered to those of the orders,
//!   financings and consents it may see ([`access`]) and its own transactions. Raw state
//!   (`eth_getStorageAt`, `eth_getProof`), `debug_*`, `trace_*`, filters and anything else
//!   is the operator's only (-32003).
//! - WebSocket ([`ws`]): the token in the upgrade's `Authorization` header, or in a first
//!   message `tradechain_authenticate(token)`; `newHeads` and filtered `logs`
//!   subscriptions.
//!
//! Dev mode keeps the open port of earlier versions (the engine's router, or the remote
//! network's forwarded), and the node says so when it starts.
//!
//! Behind the gate sits the chain's own JSON-RPC ([`upstream`]): the embedded engine, or a
//! remote network's endpoint.

mod access;
mod method;
mod scope;
pub(crate) mod upstream;
mod ws;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Caller;
use upstream::Upstream;

/// Most requests in one batch through the gate.
const MAX_BATCH: usize = 100;
/// JSON-RPC error: no or an unknown credential.
pub(crate) const UNAUTHENTICATED: i64 = -32001;
/// JSON-RPC error: the method, or what it asks about, is not the caller's to see or do.
pub(crate) const NOT_PERMITTED: i64 = -32003;

/// What every gated request needs; cheap to clone.
#[derive(Clone)]
pub(crate) struct Gate {
    pub(crate) state: AppState,
    pub(crate) upstream: Arc<Upstream>,
    pub(crate) max_body: usize,
}

/// The gated JSON-RPC routes in front of `upstream`.
pub(crate) fn gated_router(state: AppState, upstream: Upstream, max_body: usize) -> Router {
    let gate = Gate { state, upstream: Arc::new(upstream), max_body };
    Router::new()
        .route("/", post(http).get(ws::upgrade))
        .route("/rpc", post(http).get(ws::upgrade))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(gate)
}

/// Dev mode's open port in front of a remote network: forwarded as asked.
pub(crate) fn open_remote_router(upstream: Upstream) -> Router {
    let upstream = Arc::new(upstream);
    Router::new().route("/", post(forward)).route("/rpc", post(forward)).with_state(upstream)
}

async fn forward(State(up): State<Arc<Upstream>>, body: axum::body::Bytes) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return reply(StatusCode::OK, &error(Value::Null, -32700, format!("parse error: {e}"))),
    };
    match up.send(request).await {
        Ok(Some(v)) => reply(StatusCode::OK, &v),
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "the network's JSON-RPC endpoint did not answer");
            reply(StatusCode::BAD_GATEWAY, &error(Value::Null, -32603, e.to_string()))
        }
    }
}

pub(crate) fn reply(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (status, [(axum::http::header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

pub(crate) fn error(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message.into() } })
}

/// The caller behind a bearer token, or the HTTP answer that refuses it.
pub(crate) async fn authenticate(state: &AppState, token: Option<&str>) -> Result<Caller, Response> {
    let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
        return Err(reply(
            StatusCode::UNAUTHORIZED,
            &error(Value::Null, UNAUTHENTICATED, "unauthenticated: send Authorization: Bearer <your API token>"),
        ));
    };
    match crate::auth::resolve(state, token).await {
        Ok(c) if c.suspended => Err(reply(
            StatusCode::FORBIDDEN,
            &error(Value::Null, NOT_PERMITTED, "organisation suspended: it may read and do nothing until reinstated"),
        )),
        Ok(c) => Ok(c),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => Err(reply(
            StatusCode::UNAUTHORIZED,
            &error(Value::Null, UNAUTHENTICATED, "unauthenticated: unknown API token"),
        )),
        Err(e) => Err(reply(e.status, &error(Value::Null, -32603, e.message))),
    }
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

async fn http(State(gate): State<Gate>, headers: HeaderMap, body: Body) -> Response {
    let caller = match authenticate(&gate.state, bearer(&headers)).await {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    let bytes = match axum::body::to_bytes(body, gate.max_body).await {
        Ok(b) => b,
        Err(e) => {
            let message = format!("invalid request: body rejected (limit {} bytes): {e}", gate.max_body);
            return reply(StatusCode::PAYLOAD_TOO_LARGE, &error(Value::Null, -32600, message));
        }
    };
    let request: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return reply(StatusCode::OK, &error(Value::Null, -32700, format!("parse error: {e}"))),
    };
    match answer(&gate, &caller, request).await {
        Some(v) => reply(StatusCode::OK, &v),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

/// Answer a request or a batch for `caller`; `None` when there is nothing to send back.
pub(crate) async fn answer(gate: &Gate, caller: &Caller, request: Value) -> Option<Value> {
    match request {
        Value::Array(items) if items.is_empty() => Some(error(Value::Null, -32600, "invalid request: empty batch")),
        Value::Array(items) if items.len() > MAX_BATCH => Some(error(
            Value::Null,
            -32600,
            format!("invalid request: batch of {} requests exceeds {MAX_BATCH}", items.len()),
        )),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.extend(method::answer_one(gate, caller, item).await);
            }
            (!out.is_empty()).then_some(Value::Array(out))
        }
        single => method::answer_one(gate, caller, single).await,
    }
}
