//! Ethereum JSON-RPC 2.0 over HTTP: an axum [`Router`] serving POST at `/` and `/rpc`, single
//! and batch requests, a body size limit answered with a JSON-RPC error. Dispatch is hand-rolled
//! over `serde_json` (`dispatch`); methods live in `eth` and `dev`, error codes in `error`,
//! WebSocket subscriptions (newHeads, logs) in `ws`.

mod dev;
mod error;
mod eth;
mod shapes;
mod ws;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use error::RpcError;

use crate::node::Node;

/// Most requests in one batch.
const MAX_BATCH: usize = 1000;

/// The JSON-RPC router (state: the node). The API crate merges its own routes into it.
pub fn router(node: Node) -> Router {
    Router::new()
        .route("/", post(handle).get(ws::upgrade))
        .route("/rpc", post(handle).get(ws::upgrade))
        .layer(DefaultBodyLimit::disable())
        .with_state(node)
}

/// Serve the router on `listener` until `shutdown` resolves.
pub async fn serve(
    node: Node,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(node)).with_graceful_shutdown(shutdown).await
}

fn reply(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (status, [(axum::http::header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// The error object `eth_sendRawTransaction` answers for a refused transaction, for a front
/// that submits transactions itself ([`Node::admit_raw`], [`Node::submit`]) and must answer
/// as this endpoint would.
pub fn rejection_error(rejection: crate::TxRejection) -> Value {
    let error = RpcError::from(rejection);
    json!({ "code": error.code, "message": error.message })
}

pub(crate) fn error_response(id: Value, error: RpcError) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": error })
}

async fn handle(State(node): State<Node>, body: Body) -> Response {
    let limit = node.config().max_body_bytes;
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(e) => {
            let err = RpcError::invalid_request(format!("request body rejected (limit {limit} bytes): {e}"));
            return reply(StatusCode::PAYLOAD_TOO_LARGE, &error_response(Value::Null, err));
        }
    };
    let request: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return reply(StatusCode::OK, &error_response(Value::Null, RpcError::parse(e))),
    };
    let answer = tokio::task::spawn_blocking(move || answer(&node, request)).await;
    match answer {
        Ok(Some(v)) => reply(StatusCode::OK, &v),
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, &error_response(Value::Null, RpcError::internal(e))),
    }
}

/// Answer a single request or a batch, as the HTTP endpoint does; `None` when there is
/// nothing to send back (only notifications). Blocking: async callers use
/// `spawn_blocking`. The API's JSON-RPC gate calls it after its own checks.
pub fn answer(node: &Node, request: Value) -> Option<Value> {
    match request {
        Value::Array(items) if items.is_empty() => {
            Some(error_response(Value::Null, RpcError::invalid_request("empty batch")))
        }
        Value::Array(items) if items.len() > MAX_BATCH => Some(error_response(
            Value::Null,
            RpcError::invalid_request(format!("batch of {} requests exceeds {MAX_BATCH}", items.len())),
        )),
        Value::Array(items) => {
            let out: Vec<Value> = items.into_iter().filter_map(|r| dispatch(node, r)).collect();
            (!out.is_empty()).then_some(Value::Array(out))
        }
        single => dispatch(node, single),
    }
}

/// Answer one request object; `None` for a notification (no `id`).
fn dispatch(node: &Node, request: Value) -> Option<Value> {
    let Value::Object(obj) = request else {
        return Some(error_response(Value::Null, RpcError::invalid_request("expected a request object")));
    };
    let id = obj.get("id").cloned();
    let answer_id = match &id {
        None | Some(Value::Null | Value::Number(_) | Value::String(_)) => id.clone().unwrap_or(Value::Null),
        Some(_) => {
            return Some(error_response(Value::Null, RpcError::invalid_request("id must be a number, string or null")));
        }
    };
    let result = check_and_call(node, &obj);
    if let Err(e) = &result {
        tracing::debug!(code = e.code, message = %e.message, "rpc error");
    }
    id.as_ref()?;
    Some(match result {
        Ok(v) => json!({ "jsonrpc": "2.0", "id": answer_id, "result": v }),
        Err(e) => error_response(answer_id, e),
    })
}

fn check_and_call(node: &Node, obj: &Map<String, Value>) -> Result<Value, RpcError> {
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(RpcError::invalid_request("\"jsonrpc\" must be \"2.0\""));
    }
    let Some(method) = obj.get("method").and_then(Value::as_str) else {
        return Err(RpcError::invalid_request("\"method\" must be a string"));
    };
    let params = match obj.get("params") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(_) => return Err(RpcError::invalid_params("params must be an array")),
    };
    let span = tracing::info_span!("rpc", method);
    let _enter = span.enter();
    let p = Params(params);
    if method.starts_with("evm_") {
        return dev::call(node, method, &p);
    }
    eth::call(node, method, &p)
}

/// Positional parameters with typed access and clear errors.
pub(crate) struct Params<'a>(pub(crate) &'a [Value]);

impl Params<'_> {
    /// Required parameter `i`.
    pub(crate) fn get<T: DeserializeOwned>(&self, i: usize, name: &str) -> Result<T, RpcError> {
        match self.0.get(i) {
            None => Err(RpcError::invalid_params(format!("missing parameter {i} ({name})"))),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| RpcError::invalid_params(format!("parameter {i} ({name}): {e}"))),
        }
    }

    /// Optional parameter `i` (absent or null → `None`).
    pub(crate) fn opt<T: DeserializeOwned>(&self, i: usize, name: &str) -> Result<Option<T>, RpcError> {
        match self.0.get(i) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.get(i, name).map(Some),
        }
    }

    /// A quantity given as a JSON number or a hex/decimal string.
    pub(crate) fn quantity(&self, i: usize, name: &str) -> Result<u64, RpcError> {
        let bad = || RpcError::invalid_params(format!("parameter {i} ({name}): expected a quantity"));
        match self.0.get(i) {
            Some(Value::Number(n)) => n.as_u64().ok_or_else(bad),
            Some(Value::String(s)) => match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).map_err(|_| bad()),
                None => s.parse().map_err(|_| bad()),
            },
            None => Err(RpcError::invalid_params(format!("missing parameter {i} ({name})"))),
            Some(_) => Err(bad()),
        }
    }

    /// Reject more than `n` parameters.
    pub(crate) fn at_most(&self, n: usize) -> Result<(), RpcError> {
        if self.0.len() > n {
            return Err(RpcError::invalid_params(format!("expected at most {n} parameters, got {}", self.0.len())));
        }
        Ok(())
    }
}
