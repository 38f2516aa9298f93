//! The node's JSON-RPC port when the chain is a remote network: requests at `/` and
//! `/rpc` are forwarded to the network's endpoint, so clients of this node (settlement
//! workers, ethers, viem) keep one URL whichever the backend.

use std::sync::Arc;

use serde_json::json;

/// JSON-RPC at `/` and `/rpc` forwarded to the network's endpoint `url`, so clients of
/// this node (settlement workers, ethers, viem) keep one URL whichever the backend.
pub(crate) fn forward_router(url: &str) -> axum::Router {
    use axum::routing::post;
    let upstream = Arc::new(Upstream {
        url: url.to_string(),
        http: tradechain_chain::http::client(std::time::Duration::from_secs(60)).unwrap_or_default(),
    });
    axum::Router::new().route("/", post(forward)).route("/rpc", post(forward)).with_state(upstream)
}

struct Upstream {
    url: String,
    http: reqwest::Client,
}

async fn forward(
    axum::extract::State(up): axum::extract::State<Arc<Upstream>>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::IntoResponse;
    let sent = up.http.post(&up.url).header(header::CONTENT_TYPE, "application/json").body(body).send().await;
    let answer = match sent {
        Ok(res) => {
            let status = StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            res.bytes().await.map(|b| (status, b))
        }
        Err(e) => Err(e),
    };
    match answer {
        Ok((status, bytes)) => {
            let mut res = (status, bytes).into_response();
            res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            res
        }
        Err(e) => {
            tracing::warn!(error = %e, "the network's JSON-RPC endpoint did not answer");
            let body = json!({ "jsonrpc": "2.0", "id": null,
                "error": { "code": -32603, "message": format!("the network's JSON-RPC endpoint did not answer: {e}") } });
            (StatusCode::BAD_GATEWAY, axum::Json(body)).into_response()
        }
    }
}
