//! Fetch on demand: an item this node should keep but does not (its organisation moved
//! here after the item was delivered, a consent was granted later, a delivery is still on
//! its way) is asked of the nodes serving the order's other entitled organisations. The
//! answer is sealed to this node's key by the answering node's, and counts only if it opens
//! and hashes to what the chain anchors.

use sea_orm::{ActiveValue::Set, EntityTrait};
use tradechain_peer::envelope::{Kind, Subject};

use super::identity;
use super::item::{self, Item};
use super::wire::{self, Header};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::files::media;
use crate::readmodel::{order, peer_receipt};

/// Ask the entitled peers for `it` of order `o` until one answers with it, and keep it;
/// whether it is now kept here. Nothing is asked on a node outside a consortium of nodes.
///
/// # Errors
/// The read model's, the chain's.
pub(crate) async fn missing(state: &AppState, o: &order::Model, it: &Item) -> ApiResult<bool> {
    let Some(mut peers) = identity::peers(state).await? else { return Ok(false) };
    let entitled = item::entitled(&state.db, o).await?;
    peers
        .directory
        .learn_choices(state.chain.as_ref(), state.suite.consortium, &entitled)
        .await
        .map_err(|e| ApiError::unavailable(format!("node directory: {e}")))?;
    if !peers.directory.serves_any(peers.me, &entitled) {
        return Ok(false);
    }
    let candidates: Vec<_> = peers.directory.recipients(&entitled, peers.me).into_iter().cloned().collect();
    for node in candidates {
        let subject = Subject {
            order_id: u64::try_from(it.order_id).unwrap_or_default(),
            kind: it.kind,
            content_hash: it.hash,
            sender_node: node.id,
            recipient_node: peers.me,
        };
        let ask = Header { subject: subject.clone(), encapsulated: [0; 32], media_type: String::new() };
        let url = format!("{}{}", node.endpoint.trim_end_matches('/'), wire::CONTENT);
        let answer = match state.peer_client.post(&url).headers(ask.to_headers()).send().await {
            Ok(res) if res.status().is_success() => res,
            Ok(res) => {
                tracing::debug!(node = node.id, status = %res.status(), "peer did not give the item");
                continue;
            }
            Err(e) => {
                tracing::debug!(node = node.id, error = %e, "peer unreachable");
                continue;
            }
        };
        let Ok(header) = Header::from_headers(answer.headers()) else { continue };
        let limit = state.config.max_document_bytes.saturating_add(64 * 1024);
        let Some(ciphertext) = wire::read_capped(answer, limit).await else { continue };
        let opened = identity::open_with_any(&peers.keys, &node.encryption_key, &subject, &header.envelope(ciphertext));
        let payload = match opened {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(node = node.id, order = it.order_id, error = %e, "fetched item refused");
                continue;
            }
        };
        let media_type = match it.kind {
            Kind::Details => "application/json",
            Kind::Document(_) => match media::of_upload(Some(&header.media_type), &payload) {
                Ok(m) => m,
                Err(_) => continue,
            },
        };
        item::keep(state, &state.db, o, it, &payload, media_type).await?;
        item::record(&state.db, it, "fetched", Some(node.id)).await?;
        identity::remember(state, &peers);
        let row = peer_receipt::ActiveModel {
            at: Set(chrono::Utc::now().timestamp()),
            sender_node: Set(crate::codec::i64_of(node.id)),
            order_id: Set(it.order_id),
            kind: Set(it.kind.to_string()),
            content_hash: Set(it.hash_hex()),
            outcome: Set("fetched".into()),
            reason: Set(None),
            ..Default::default()
        };
        peer_receipt::Entity::insert(row).exec_without_returning(&state.db).await?;
        tracing::info!(node = node.id, order = it.order_id, kind = %it.kind, "private data fetched on demand");
        return Ok(true);
    }
    Ok(false)
}
