//! Where the gate sends what it lets through: the embedded engine in this process, or the
//! remote network's JSON-RPC endpoint (forwarded over HTTP), so clients of this node
//! (settlement workers, ethers, viem) keep one URL whichever the backend.

use serde_json::{Value, json};
use tradechain_engine::Node;

/// The chain's own JSON-RPC.
pub(crate) enum Upstream {
    /// The engine in this process, answered without a socket.
    Embedded(Node),
    /// A remote network's endpoint.
    Remote {
        /// Its HTTP URL.
        url: String,
        /// A bearer credential for it, when the network asks for one.
        token: Option<String>,
        http: reqwest::Client,
    },
}

/// The upstream did not answer (a remote endpoint down, a task that panicked).
#[derive(Debug, thiserror::Error)]
#[error("the chain's JSON-RPC did not answer: {0}")]
pub(crate) struct Unavailable(pub(crate) String);

impl Upstream {
    /// The remote network at `url`.
    pub(crate) fn remote(url: &str, token: Option<String>) -> Self {
        let http = tradechain_chain::http::client(std::time::Duration::from_secs(60)).unwrap_or_default();
        Upstream::Remote { url: url.to_string(), token, http }
    }

    /// Answer `request` (one object or a batch); `Ok(None)` when there is nothing to send
    /// back (notifications only).
    pub(crate) async fn send(&self, request: Value) -> Result<Option<Value>, Unavailable> {
        match self {
            Upstream::Embedded(node) => {
                let node = node.clone();
                tokio::task::spawn_blocking(move || tradechain_engine::rpc::answer(&node, request))
                    .await
                    .map_err(|e| Unavailable(e.to_string()))
            }
            Upstream::Remote { url, token, http } => {
                let mut post =
                    http.post(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(request.to_string());
                if let Some(t) = token {
                    post = post.bearer_auth(t);
                }
                let res = post.send().await.map_err(|e| Unavailable(e.to_string()))?;
                let bytes = res.bytes().await.map_err(|e| Unavailable(e.to_string()))?;
                if bytes.is_empty() {
                    return Ok(None);
                }
                serde_json::from_slice(&bytes).map(Some).map_err(|e| Unavailable(format!("not JSON: {e}")))
            }
        }
    }

    /// One call's `result`, or its error object as `Err`.
    pub(crate) async fn call(&self, method: &str, params: Value) -> Result<Value, Value> {
        let request = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        match self.send(request).await {
            Ok(Some(mut answer)) => match answer.get_mut("error").map(Value::take) {
                Some(error) if !error.is_null() => Err(error),
                _ => Ok(answer.get_mut("result").map_or(Value::Null, Value::take)),
            },
            Ok(None) => Err(json!({ "code": -32603, "message": "no answer" })),
            Err(e) => Err(json!({ "code": -32603, "message": e.to_string() })),
        }
    }
}
