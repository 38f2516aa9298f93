//! The peer endpoint: what other member nodes call, on a listener of its own (the node's
//! `[api.peer] listen` address), apart from the REST API, none of whose routes it serves.
//! Every call is about one item of one order and is checked the same way, and a refused
//! delivery is logged (tracing, and a row in `peer_receipts` with its code) with nothing
//! stored:
//! - the sending node is an approved node of an active member in the Consortium's
//!   directory, the envelope opens with its directory key (HPKE Auth mode: no other node
//!   can seal in its name) and is addressed to this node;
//! - this node serves an organisation entitled to the order's private data, and so does
//!   the sender (nobody pushes data onto a node that never asked for it, or receives it
//!   for an order none of its organisations is party to);
//! - the chain anchors that very item on that order, and the opened content hashes to it.
//!
//! A refusal before the envelope opens (an unknown node, a wrong recipient, a body too
//! large, an envelope that does not open) may come from anyone on the network, so its row
//! is kept within a budget ([`Strangers`], 60 a minute): a stranger's flood costs a
//! decryption attempt each, not a write to the read model and a row on disk each. A
//! refusal after it opens names a member's approved node, and is always kept.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use sea_orm::{ActiveValue::Set, EntityTrait, TransactionTrait};
use serde::Serialize;
use tradechain_peer::envelope::{self, EnvelopeError};

use super::identity::{self, Peers};
use super::item::{self, Item};
use super::wire::{self, Header, code};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::files::media;
use crate::readmodel::{order, peer_receipt};

/// What a delivery's sender hears back.
#[derive(Debug, Serialize)]
pub(crate) struct Received {
    /// `false` when this node already kept it (a repeated delivery changes nothing).
    pub(crate) stored: bool,
}

/// The peer endpoint's router (see the module docs); bodies up to a document's limit.
pub(crate) fn router(state: AppState) -> Router {
    let limit = state.config.max_document_bytes.saturating_add(64 * 1024);
    Router::new()
        .route(wire::DELIVERIES, post(receive))
        .route(wire::CONTENT, post(serve))
        .layer(DefaultBodyLimit::max(limit))
        .fallback(|| async { ApiError::not_found("NOT_FOUND", "no such route on the peer endpoint") })
        .layer(axum::middleware::from_fn(crate::request::trace))
        .with_state(state)
}

fn refuse(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(status, code, message)
}

/// `POST /peer/v1/deliveries`: take an item another node pushes.
async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Received>> {
    let header = match Header::from_headers(&headers) {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(code = %e.code, reason = %e.message, "peer delivery refused");
            return Err(e);
        }
    };
    // And whether the refusal, if any, comes from a node the envelope proved.
    let (checked, proven) = match body {
        Ok(body) => match open(&state, &header, body.to_vec()).await {
            Ok((peers, Ok(payload))) => (check(&state, &header, peers, payload).await, true),
            Ok((_, Err(e))) => (Err(e), true),
            Err(e) => (Err(e), false),
        },
        Err(e) => (Err(refuse(e.status(), "BODY_TOO_LARGE", e.body_text())), false),
    };
    let s = &header.subject;
    let receipt = |outcome: &str, reason: Option<String>| peer_receipt::ActiveModel {
        at: Set(chrono::Utc::now().timestamp()),
        sender_node: Set(crate::codec::i64_of(s.sender_node)),
        order_id: Set(crate::codec::i64_of(s.order_id)),
        kind: Set(s.kind.to_string()),
        content_hash: Set(format!("{:#x}", s.content_hash)),
        outcome: Set(outcome.to_string()),
        reason: Set(reason),
        ..Default::default()
    };
    // The item and its receipt in one commit; everything checked before, outside it.
    let kept = match checked {
        Ok(c) => {
            let txn = state.db.begin().await?;
            match item::keep(&state, &txn, &c.order, &c.item, &c.payload, c.media_type).await {
                Ok(stored) => {
                    item::record(&txn, &c.item, "received", Some(s.sender_node)).await?;
                    let row = receipt(if stored { "stored" } else { "duplicate" }, None);
                    peer_receipt::Entity::insert(row).exec_without_returning(&txn).await?;
                    txn.commit().await?;
                    Ok(stored)
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    if let Err(e) = &kept {
        tracing::warn!(sender = s.sender_node, order = s.order_id, kind = %s.kind, code = %e.code,
            reason = %e.message, proven, "peer delivery refused");
        if proven || state.peer_strangers.may_record() {
            let row = receipt("refused", Some(format!("{}: {}", e.code, e.message)));
            peer_receipt::Entity::insert(row).exec_without_returning(&state.db).await?;
        }
    }
    kept.map(|stored| Json(Received { stored }))
}

/// A pushed item that passed every check: what to keep.
struct Checked {
    order: order::Model,
    item: Item,
    payload: Vec<u8>,
    media_type: &'static str,
}

/// Open a pushed item's envelope: addressed to this node, sealed by the approved node it
/// names (the first half of the module docs' checks). An error: refused before the sender
/// is proven. Else the directory as read, and the plaintext, or the refusal of what a
/// proven sender sealed (content that does not hash to the subject's hash).
async fn open(state: &AppState, header: &Header, ciphertext: Vec<u8>) -> ApiResult<(Peers, ApiResult<Vec<u8>>)> {
    let s = &header.subject;
    let mut peers = joined(state).await?;
    if might_have_joined(&peers, s.sender_node) {
        peers = joined_fresh(state).await?;
    }
    if s.recipient_node != peers.me {
        return Err(refuse(StatusCode::FORBIDDEN, code::NOT_FOR_THIS_NODE, format!("this is node {}", peers.me)));
    }
    let sender = peers.directory.live(s.sender_node).cloned().ok_or_else(|| {
        refuse(
            StatusCode::FORBIDDEN,
            code::UNKNOWN_NODE,
            format!("node {} is not an approved node of an active member", s.sender_node),
        )
    })?;
    // Authenticated first (the envelope opens with the sender's directory key), before any
    // work on the order: a stranger costs one decryption attempt.
    // Sealed to this node's key in the directory, or to an older one of its keys by a peer
    // that read the directory before a rotation; not opening with the sender's key as
    // cached, that key is read from the chain once more (the sender may have rotated it).
    let envelope = header.envelope(ciphertext);
    let mut opened = identity::open_with_any(&peers.keys, &sender.encryption_key, s, &envelope);
    if matches!(opened, Err(EnvelopeError::DoesNotOpen))
        && let Some(now) = identity::fresh(state).await?
        && let Some(current) = now.directory.live(s.sender_node)
        && current.encryption_key != sender.encryption_key
    {
        opened = identity::open_with_any(&now.keys, &current.encryption_key, s, &envelope);
    }
    match opened {
        Ok(payload) => Ok((peers, Ok(payload))),
        // Opened with the sender's key, so the sender is proven; what it sealed is wrong.
        Err(e @ EnvelopeError::HashMismatch { .. }) => {
            Ok((peers, Err(refuse(StatusCode::BAD_REQUEST, code::CONTENT_HASH_MISMATCH, e.to_string()))))
        }
        Err(e) => Err(refuse(StatusCode::BAD_REQUEST, code::ENVELOPE_REJECTED, e.to_string())),
    }
}

/// Check an opened item against the chain and the parties (the rest of the module docs'
/// checks); what to keep.
async fn check(state: &AppState, header: &Header, mut peers: Peers, payload: Vec<u8>) -> ApiResult<Checked> {
    let s = &header.subject;
    let me = peers.me;
    let (o, it) = anchored_item(state, &mut peers, header, me, "this node").await?;
    identity::remember(state, &peers);
    if !peers.directory.serves_any(s.sender_node, &item::entitled(&state.db, &o).await?) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            code::NOT_ENTITLED,
            format!("node {} serves no organisation entitled to order {}'s data", s.sender_node, s.order_id),
        ));
    }
    let media_type = match it.kind {
        tradechain_peer::envelope::Kind::Details => "application/json",
        tradechain_peer::envelope::Kind::Document(_) => media::of_upload(Some(&header.media_type), &payload)?,
    };
    Ok(Checked { order: o, item: it, payload, media_type })
}

/// `POST /peer/v1/content`: another node asks for an item; the answer is sealed to the
/// asking node's directory key, so a request in another node's name gets nothing readable.
async fn serve(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let header = Header::from_headers(&headers)?;
    let s = &header.subject;
    let mut peers = joined(&state).await?;
    if might_have_joined(&peers, s.recipient_node) {
        peers = joined_fresh(&state).await?;
    }
    if s.sender_node != peers.me {
        return Err(refuse(StatusCode::FORBIDDEN, code::NOT_FOR_THIS_NODE, format!("this is node {}", peers.me)));
    }
    let asker = peers.directory.live(s.recipient_node).cloned().ok_or_else(|| {
        refuse(StatusCode::FORBIDDEN, code::UNKNOWN_NODE, format!("node {} is not an approved node", s.recipient_node))
    })?;
    let outcome = async {
        let (_, it) = anchored_item(&state, &mut peers, &header, asker.id, "the asking node").await?;
        let not_held =
            || refuse(StatusCode::NOT_FOUND, code::CONTENT_NOT_HELD, "this node does not keep it for this order");
        if !item::kept_for(&state.db, &it).await? {
            return Err(not_held());
        }
        let (bytes, media_type) = item::content(&state, &it).await?.ok_or_else(not_held)?;
        let sealed = envelope::seal(&peers.key, &asker.encryption_key, s, &bytes).map_err(ApiError::internal)?;
        let answer = Header { subject: s.clone(), encapsulated: sealed.encapsulated, media_type };
        Ok::<_, ApiError>((answer.to_headers(), sealed.ciphertext).into_response())
    }
    .await;
    match &outcome {
        Ok(_) => tracing::info!(asker = asker.id, order = s.order_id, kind = %s.kind, "peer content served"),
        Err(e) => tracing::warn!(asker = asker.id, order = s.order_id, kind = %s.kind, code = %e.code,
            reason = %e.message, "peer content request refused"),
    }
    outcome
}

/// Whether node `id`, not live in the directory as cached, may have become so since: a
/// node registered after it was read, or one not yet approved or whose member was
/// suspended then. Only then is the directory read from the chain again, so a stranger
/// naming ids nobody has costs no calls to the chain.
fn might_have_joined(peers: &Peers, id: u64) -> bool {
    if peers.directory.live(id).is_some() {
        return false;
    }
    let newest = peers.directory.nodes.keys().next_back().copied().unwrap_or(0);
    peers
        .directory
        .nodes
        .get(&id)
        .map_or(id > newest && id <= newest.saturating_add(16), |n| !n.approved || !n.owner_active)
}

/// The directory, this node being in it; else it takes nothing (and the sender retries).
async fn joined(state: &AppState) -> ApiResult<Peers> {
    in_directory(identity::peers(state).await?)
}

/// As [`joined`], read from the chain rather than the cache.
async fn joined_fresh(state: &AppState) -> ApiResult<Peers> {
    in_directory(identity::fresh(state).await?)
}

fn in_directory(peers: Option<Peers>) -> ApiResult<Peers> {
    peers.ok_or_else(|| {
        refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            code::NODE_NOT_IN_DIRECTORY,
            "this node is not an approved node of the directory yet",
        )
    })
}

/// The order and the item `header` names, once node `node` is found to serve an
/// organisation entitled to it and the chain to anchor it. The read model may be behind the
/// chain (the order, the document or the consent that entitles `node` in a block not
/// indexed yet): it is waited for, a few seconds, before anything counts as missing.
async fn anchored_item(
    state: &AppState,
    peers: &mut Peers,
    header: &Header,
    node: u64,
    who: &str,
) -> ApiResult<(order::Model, Item)> {
    let s = &header.subject;
    let it = Item { order_id: crate::codec::i64_of(s.order_id), kind: s.kind, hash: s.content_hash };
    let mut caught_up = false;
    loop {
        match check_item(state, peers, &it, node, who).await {
            Err(e) if !caught_up && e.status != StatusCode::SERVICE_UNAVAILABLE => {
                tracing::debug!(code = %e.code, "peer item not found as indexed: catching up with the chain first");
                let head = state.chain.head().await.map_err(|e| ApiError::unavailable(e.to_string()))?;
                state.indexer.wait_for(head, std::time::Duration::from_secs(5)).await;
                *peers = joined_fresh(state).await?;
                caught_up = true;
            }
            outcome => return outcome.map(|o| (o, it)),
        }
    }
}

async fn check_item(state: &AppState, peers: &mut Peers, it: &Item, node: u64, who: &str) -> ApiResult<order::Model> {
    let Some(o) = order::Entity::find_by_id(it.order_id).one(&state.db).await? else {
        return Err(refuse(StatusCode::NOT_FOUND, code::ORDER_NOT_FOUND, format!("no order {} on chain", it.order_id)));
    };
    if !item::anchored(&state.db, &o, it).await? {
        return Err(refuse(
            StatusCode::CONFLICT,
            code::NOT_ANCHORED,
            format!("the chain anchors no {} {} on order {}", it.kind, it.hash_hex(), it.order_id),
        ));
    }
    let entitled = item::entitled(&state.db, &o).await?;
    peers
        .directory
        .learn_choices(state.chain.as_ref(), state.suite.consortium, &entitled)
        .await
        .map_err(|e| ApiError::unavailable(format!("node directory: {e}")))?;
    if !peers.directory.serves_any(node, &entitled) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            code::NOT_ENTITLED,
            format!("{who} serves no organisation entitled to order {}'s data", it.order_id),
        ));
    }
    Ok(o)
}

/// The refusals of unproven senders kept as rows: at most [`Strangers::PER_MINUTE`] in a
/// minute, the rest logged only (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Strangers {
    window: std::sync::Mutex<(Option<std::time::Instant>, u32)>,
}

impl Strangers {
    /// Rows a minute.
    pub(crate) const PER_MINUTE: u32 = 60;

    /// Whether one more unproven refusal may be kept as a row now.
    pub(crate) fn may_record(&self) -> bool {
        self.may_record_at(std::time::Instant::now())
    }

    fn may_record_at(&self, now: std::time::Instant) -> bool {
        let mut w = self.window.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if w.0.is_none_or(|start| now.duration_since(start) >= std::time::Duration::from_secs(60)) {
            *w = (Some(now), 0);
        }
        if w.1 >= Self::PER_MINUTE {
            return false;
        }
        w.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::Strangers;

    #[test]
    fn a_minute_keeps_sixty_unproven_refusals_and_the_next_minute_sixty_more() {
        let strangers = Strangers::default();
        let t0 = Instant::now();
        for n in 0..Strangers::PER_MINUTE {
            assert!(strangers.may_record_at(t0 + Duration::from_millis(u64::from(n))), "row {n}");
        }
        assert!(!strangers.may_record_at(t0 + Duration::from_secs(1)), "the 61st in the minute");
        assert!(!strangers.may_record_at(t0 + Duration::from_millis(59_999)), "still the same minute");
        assert!(strangers.may_record_at(t0 + Duration::from_secs(60)), "a new minute");
    }
}
