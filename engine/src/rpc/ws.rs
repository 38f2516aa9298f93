//! JSON-RPC over WebSocket (GET `/` or `/rpc` with an upgrade): every HTTP method, plus
//! `eth_subscribe("newHeads")`, `eth_subscribe("logs", filter)` and `eth_unsubscribe`.
//! Notifications follow geth's shape: `{"method":"eth_subscription","params":{"subscription","result"}}`.
//! A subscriber that falls more than 1024 blocks behind misses blocks (it is not disconnected).

use std::collections::HashMap;

use alloy::rpc::types::Filter;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use super::shapes::{self, Location};
use super::{RpcError, answer, error_response};
use crate::node::Node;

/// Most subscriptions one connection may hold.
const MAX_SUBSCRIPTIONS: usize = 64;

pub(super) async fn upgrade(State(node): State<Node>, ws: WebSocketUpgrade) -> Response {
    let limit = node.config().max_body_bytes;
    // Small buffers: each open subscription holds them (axum's defaults are 128 KiB each).
    ws.max_message_size(limit)
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
        .on_upgrade(move |socket| serve(socket, node))
}

async fn serve(mut socket: WebSocket, node: Node) {
    let (notes_tx, mut notes_rx) = mpsc::channel::<String>(1024);
    let mut subs: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut next_id = 0u64;
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let text = match incoming {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    _ => break,
                };
                let reply = match serde_json::from_str::<Value>(&text) {
                    Err(e) => Some(error_response(Value::Null, RpcError::parse(e))),
                    Ok(request) => match subscription_call(&node, &request, &notes_tx, &mut subs, &mut next_id) {
                        Some(reply) => Some(reply),
                        None => {
                            let node = node.clone();
                            tokio::task::spawn_blocking(move || answer(&node, request)).await.ok().flatten()
                        }
                    },
                };
                if let Some(reply) = reply
                    && socket.send(Message::Text(reply.to_string().into())).await.is_err()
                {
                    break;
                }
            }
            Some(note) = notes_rx.recv() => {
                if socket.send(Message::Text(note.into())).await.is_err() {
                    break;
                }
            }
        }
    }
    for (_, task) in subs {
        task.abort();
    }
}

/// Handle eth_subscribe / eth_unsubscribe; `None` for any other request.
fn subscription_call(
    node: &Node,
    request: &Value,
    notes: &mpsc::Sender<String>,
    subs: &mut HashMap<String, JoinHandle<()>>,
    next_id: &mut u64,
) -> Option<Value> {
    let method = request.get("method")?.as_str()?;
    if method != "eth_subscribe" && method != "eth_unsubscribe" {
        return None;
    }
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let params = request.get("params").and_then(Value::as_array).cloned().unwrap_or_default();
    let result = if method == "eth_unsubscribe" {
        let sub = params.first().and_then(Value::as_str).unwrap_or_default().to_string();
        match subs.remove(&sub) {
            Some(task) => {
                task.abort();
                Ok(json!(true))
            }
            None => Ok(json!(false)),
        }
    } else if subs.len() >= MAX_SUBSCRIPTIONS {
        Err(RpcError::server(format!("at most {MAX_SUBSCRIPTIONS} subscriptions per connection")))
    } else {
        let kind = match params.first().and_then(Value::as_str) {
            Some("newHeads") => Ok(None),
            Some("logs") => match params.get(1).cloned().map(serde_json::from_value::<Filter>).transpose() {
                Ok(filter) => Ok(Some(filter.unwrap_or_default())),
                Err(e) => Err(RpcError::invalid_params(format!("parameter 1 (filter): {e}"))),
            },
            Some(other) => {
                Err(RpcError::invalid_params(format!("unsupported subscription {other:?} (newHeads, logs)")))
            }
            None => Err(RpcError::invalid_params("missing parameter 0 (subscription kind)")),
        };
        kind.map(|filter| {
            *next_id += 1;
            let sub = format!("{:#x}", *next_id);
            let task = tokio::spawn(forward(node.clone(), node.subscribe_blocks(), sub.clone(), filter, notes.clone()));
            subs.insert(sub.clone(), task);
            json!(sub)
        })
    };
    Some(match result {
        Ok(v) => json!({ "jsonrpc": "2.0", "id": id, "result": v }),
        Err(e) => error_response(id, e),
    })
}

async fn forward(
    node: Node,
    mut blocks: broadcast::Receiver<std::sync::Arc<crate::block::SealedBlock>>,
    sub: String,
    filter: Option<Filter>,
    notes: mpsc::Sender<String>,
) {
    loop {
        let block = match blocks.recv().await {
            Ok(b) => b,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let results: Vec<Value> = match &filter {
            None => {
                let mut head = shapes::block(&block, Vec::new());
                if let Some(obj) = head.as_object_mut() {
                    obj.remove("transactions");
                }
                vec![head]
            }
            Some(filter) if block.transactions.is_empty() || !filter.matches_bloom(block.header.logs_bloom) => continue,
            Some(filter) => {
                let (node, filter, block) = (node.clone(), filter.clone(), block.clone());
                let logs = tokio::task::spawn_blocking(move || {
                    let receipts = node.store().block_receipts(block.header.number).unwrap_or_default();
                    let mut out = Vec::new();
                    for r in receipts {
                        let at = Location {
                            block_hash: block.hash,
                            block_number: block.header.number,
                            index: u64::from(r.index),
                            timestamp: block.header.timestamp,
                        };
                        out.extend(shapes::logs(&r, &at).into_iter().filter(|l| filter.matches(&l.inner)));
                    }
                    out
                })
                .await
                .unwrap_or_default();
                logs.into_iter().filter_map(|l| serde_json::to_value(l).ok()).collect()
            }
        };
        for result in results {
            let note = json!({
                "jsonrpc": "2.0",
                "method": "eth_subscription",
                "params": { "subscription": sub, "result": result },
            });
            if notes.send(note.to_string()).await.is_err() {
                return;
            }
        }
    }
}
