//! The gated JSON-RPC over WebSocket (GET `/` or `/rpc` with an upgrade): every method of
//! the HTTP gate, plus `eth_subscribe("newHeads")` and `eth_subscribe("logs", filter)`,
//! whose notifications carry only what the caller may see. The credential is the
//! upgrade's `Authorization: Bearer …` header or, for clients that cannot set headers on a
//! WebSocket (browsers), a first message `{"method":"tradechain_authenticate","params":[token]}`.
//! The caller's standing is checked again at every request and every block: a suspended
//! organisation's connection is closed.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::access::Access;
use super::{Gate, NOT_PERMITTED, UNAUTHENTICATED, answer, authenticate, bearer, error};
use crate::auth::Caller;

/// Most subscriptions one connection may hold.
const MAX_SUBSCRIPTIONS: usize = 16;
/// Failed `tradechain_authenticate` attempts before the connection is closed.
const MAX_AUTH_ATTEMPTS: u32 = 3;

enum Note {
    Text(String),
    Close(String),
}

pub(super) async fn upgrade(State(gate): State<Gate>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    let (caller, token) = match bearer(&headers) {
        Some(t) => match authenticate(&gate.state, Some(t)).await {
            Ok(c) => (Some(c), Some(t.trim().to_string())),
            Err(refused) => return refused,
        },
        None => (None, None),
    };
    let limit = gate.max_body;
    // Small buffers: each open subscription holds them (axum's defaults are 128 KiB each).
    ws.max_message_size(limit)
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
        .on_upgrade(move |socket| serve(socket, gate, caller, token))
}

/// The caller's standing now: `None` once suspended or no longer known.
async fn standing(gate: &Gate, token: &str) -> Option<Caller> {
    crate::auth::resolve(&gate.state, token).await.ok().filter(|c| !c.suspended)
}

async fn serve(mut socket: WebSocket, gate: Gate, mut caller: Option<Caller>, mut token: Option<String>) {
    let (notes_tx, mut notes_rx) = mpsc::channel::<Note>(1024);
    let mut subs: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut next_id = 0u64;
    let mut failed = 0u32;
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let text = match incoming {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    _ => break,
                };
                let request = match serde_json::from_str::<Value>(&text) {
                    Ok(r) => r,
                    Err(e) => {
                        if send(&mut socket, &error(Value::Null, -32700, format!("parse error: {e}"))).await.is_err() {
                            break;
                        }
                        continue;
                    }
                };
                let id = request.get("id").cloned().unwrap_or(Value::Null);
                let method = request.get("method").and_then(Value::as_str).unwrap_or_default().to_string();
                if method == "tradechain_authenticate" {
                    let offered = request.pointer("/params/0").and_then(Value::as_str).map(str::to_string);
                    let found = match &offered {
                        Some(t) => standing(&gate, t).await,
                        None => None,
                    };
                    let reply = match found {
                        Some(c) => {
                            caller = Some(c);
                            token = offered;
                            json!({ "jsonrpc": "2.0", "id": id, "result": true })
                        }
                        None => {
                            failed += 1;
                            error(id, UNAUTHENTICATED, "unauthenticated: unknown or suspended organisation's token")
                        }
                    };
                    if send(&mut socket, &reply).await.is_err() || failed >= MAX_AUTH_ATTEMPTS {
                        break;
                    }
                    continue;
                }
                let (Some(_), Some(t)) = (&caller, &token) else {
                    let refusal = error(id, UNAUTHENTICATED, "unauthenticated: send tradechain_authenticate(<API token>) first, or connect with Authorization: Bearer <API token>");
                    if send(&mut socket, &refusal).await.is_err() {
                        break;
                    }
                    continue;
                };
                // Standing is checked at every request: suspension closes the connection.
                let Some(now) = standing(&gate, t).await else {
                    let _ = send(&mut socket, &error(id, NOT_PERMITTED, "organisation suspended")).await;
                    break;
                };
                let reply = match method.as_str() {
                    "eth_subscribe" => Some(subscribe(&gate, &now, t, &request, &notes_tx, &mut subs, &mut next_id)),
                    "eth_unsubscribe" => {
                        let sub = request.pointer("/params/0").and_then(Value::as_str).unwrap_or_default().to_string();
                        let removed = subs.remove(&sub).map(|task| task.abort()).is_some();
                        Some(json!({ "jsonrpc": "2.0", "id": id, "result": removed }))
                    }
                    _ => answer(&gate, &now, request).await,
                };
                caller = Some(now);
                if let Some(reply) = reply
                    && send(&mut socket, &reply).await.is_err()
                {
                    break;
                }
            }
            Some(note) = notes_rx.recv() => match note {
                Note::Text(text) => if socket.send(Message::Text(text.into())).await.is_err() { break },
                Note::Close(why) => {
                    let _ = send(&mut socket, &error(Value::Null, NOT_PERMITTED, why)).await;
                    break;
                }
            }
        }
    }
    for (_, task) in subs {
        task.abort();
    }
}

async fn send(socket: &mut WebSocket, v: &Value) -> Result<(), axum::Error> {
    socket.send(Message::Text(v.to_string().into())).await
}

/// What a subscription follows.
#[derive(Clone)]
enum Kind {
    NewHeads,
    /// The filter's `address` and `topics`, applied to each new block.
    Logs(serde_json::Map<String, Value>),
}

fn subscribe(
    gate: &Gate,
    caller: &Caller,
    token: &str,
    request: &Value,
    notes: &mpsc::Sender<Note>,
    subs: &mut HashMap<String, JoinHandle<()>>,
    next_id: &mut u64,
) -> Value {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    if subs.len() >= MAX_SUBSCRIPTIONS {
        return error(id, -32000, format!("at most {MAX_SUBSCRIPTIONS} subscriptions per connection"));
    }
    let kind = match request.pointer("/params/0").and_then(Value::as_str) {
        Some("newHeads") => Kind::NewHeads,
        Some("logs") => {
            let mut filter = request.pointer("/params/1").and_then(Value::as_object).cloned().unwrap_or_default();
            filter.retain(|k, _| k == "address" || k == "topics");
            Kind::Logs(filter)
        }
        Some(other) => {
            return error(id, -32602, format!("invalid params: unsupported subscription {other:?} (newHeads, logs)"));
        }
        None => return error(id, -32602, "invalid params: missing parameter 0 (subscription kind)"),
    };
    *next_id += 1;
    let sub = format!("{:#x}", *next_id);
    let task = tokio::spawn(follow(gate.clone(), caller.clone(), token.to_string(), sub.clone(), kind, notes.clone()));
    subs.insert(sub.clone(), task);
    json!({ "jsonrpc": "2.0", "id": id, "result": sub })
}

async fn follow(gate: Gate, caller: Caller, token: String, sub: String, kind: Kind, notes: mpsc::Sender<Note>) {
    let chain = gate.state.chain.clone();
    let mut known = chain.head().await.unwrap_or(0);
    loop {
        chain.wait_new_head(known, Duration::from_secs(30)).await;
        let Ok(head) = chain.head().await else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        if head <= known {
            continue;
        }
        if standing(&gate, &token).await.is_none() {
            let _ = notes.send(Note::Close("organisation suspended".into())).await;
            return;
        }
        for n in known + 1..=head {
            let results = match notifications(&gate, &caller, &kind, n).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, block = n, "subscription skipped a block");
                    Vec::new()
                }
            };
            for result in results {
                let note = json!({
                    "jsonrpc": "2.0",
                    "method": "eth_subscription",
                    "params": { "subscription": sub, "result": result },
                });
                if notes.send(Note::Text(note.to_string())).await.is_err() {
                    return;
                }
            }
        }
        known = head;
    }
}

/// What subscription `kind` announces of block `n` to `caller`.
async fn notifications(gate: &Gate, caller: &Caller, kind: &Kind, n: u64) -> Result<Vec<Value>, String> {
    let block = json!(format!("{n:#x}"));
    match kind {
        Kind::NewHeads => {
            let mut head =
                gate.upstream.call("eth_getBlockByNumber", json!([block, false])).await.map_err(|e| e.to_string())?;
            if let Some(obj) = head.as_object_mut() {
                obj.remove("transactions");
                if !caller.is_operator() {
                    obj.insert("logsBloom".into(), json!(alloy::primitives::Bloom::default()));
                }
            }
            Ok(if head.is_null() { Vec::new() } else { vec![head] })
        }
        Kind::Logs(filter) => {
            let mut f = filter.clone();
            f.insert("fromBlock".into(), block.clone());
            f.insert("toBlock".into(), block);
            let logs = gate.upstream.call("eth_getLogs", json!([f])).await.map_err(|e| e.to_string())?;
            let logs = logs.as_array().cloned().unwrap_or_default();
            if caller.is_operator() {
                return Ok(logs);
            }
            let mut access = Access::new(&gate.state, caller);
            let mut out = Vec::new();
            for log in logs {
                if access.log_json(&log).await.map_err(|e| e.to_string())? {
                    out.push(log);
                }
            }
            Ok(out)
        }
    }
}
