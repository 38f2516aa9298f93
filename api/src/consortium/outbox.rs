//! Delivery: the planner turns the chain's events into outbox rows (which item goes to
//! which node), the sender delivers due rows until each is acknowledged. Both are driven
//! by what is durable (the indexed events, the outbox table), so a crash loses nothing: the
//! planner's cursor moves only after its rows are written, a row is `delivered` only after
//! the recipient acknowledged it, and a repeated delivery is harmless (the recipient keeps
//! items by their hash).
//!
//! What is planned, and for whom:
//! - an order's details (at proposal, and an amendment's new details) and each document
//!   presented, when this node wrote them (it did not receive them from a peer): to the
//!   nodes serving the organisations entitled to the order ([`super::item::entitled`]);
//! - when a firm this node serves grants a financier its consent: everything this node
//!   keeps of the firm's orders, to the financier's node.
//!
//! Before each attempt the recipient is checked again: a node that no longer serves an
//! entitled organisation (a consent revoked, a node revoked by the operator, an
//! organisation that moved) is sent nothing, and its row is `cancelled`.

use std::time::Duration;

use alloy::primitives::{Address, B256};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use tokio::sync::watch;
use tradechain_peer::envelope::{self, Kind, NodeKey, Subject};

use super::identity::{self, Peers};
use super::item::{self, Item};
use super::wire::{self, Header, code};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::readmodel::{document, event, order, peer_cursor, peer_outbox};

/// The events the planner reads.
const PLANNED: &[&str] = &["OrderProposed", "AmendmentProposed", "DocumentSubmitted", "ConsentGranted"];
/// Events read per pass.
const PAGE: u64 = 256;
/// Rows attempted per pass.
const BATCH: u64 = 64;

/// Plan and deliver until `stop` turns true: at once when the indexer has indexed a block
/// (a proposal, a document), else every poll interval (consents, retries).
pub(crate) async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let interval = Duration::from_millis(state.config.peer.poll_interval_ms.max(10));
    // The indexed block, not the live changes: those are built only for their listeners.
    let mut indexed = state.indexer.indexed_blocks();
    loop {
        let outcome = pass(&state).await.unwrap_or_else(|e| {
            tracing::warn!(code = %e.code, error = %e.message, "private data delivery: pass failed, retrying");
            Pass::Done
        });
        // A full page planned or a full batch attempted: more is waiting (a burst's
        // backlog), sent at once rather than a page per poll interval.
        if outcome == Pass::More && !*stop.borrow() {
            continue;
        }
        // A node outside any consortium plans nothing; it learns that it joined (a
        // Consortium event) at the next poll. Woken for every block it seals, it read the
        // events and the directory four times a block for nothing: a fifth of the read
        // model's statements under a stream of writes.
        let woken_by_blocks = outcome != Pass::Standalone;
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            // Blocks indexed while a pass ran wake it once: one pass reads all their events
            // (each block committed before the cursor moved), where a pass per event read
            // them thousands of times over under load.
            r = indexed.changed(), if woken_by_blocks => {
                if r.is_err() {
                    // The indexer is gone (the node is stopping): poll until told to stop.
                    tokio::time::sleep(interval).await;
                }
            }
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// What a pass found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Nothing more for now.
    Done,
    /// It stopped at a limit (a page of events, a batch of rows): more is likely waiting.
    More,
    /// This node has not joined a consortium of nodes: it delivers nothing.
    Standalone,
}

/// One pass: plan what the new events call for, then attempt the due rows.
async fn pass(state: &AppState) -> ApiResult<Pass> {
    let has_work = has_events(state).await? || has_due(state).await?;
    if !has_work {
        return Ok(Pass::Done);
    }
    let Some(mut peers) = identity::peers(state).await? else { return Ok(Pass::Standalone) };
    let planned = plan(state, &mut peers).await;
    let delivered = deliver(state, &mut peers).await;
    identity::remember(state, &peers);
    Ok(if planned? | delivered? { Pass::More } else { Pass::Done })
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn cursor(state: &AppState) -> ApiResult<(i64, i64)> {
    Ok(peer_cursor::Entity::find_by_id(1).one(&state.db).await?.map_or((-1, -1), |c| (c.block, c.log_index)))
}

fn after(c: (i64, i64)) -> Condition {
    Condition::any()
        .add(event::Column::Block.gt(c.0))
        .add(Condition::all().add(event::Column::Block.eq(c.0)).add(event::Column::LogIndex.gt(c.1)))
}

async fn has_events(state: &AppState) -> ApiResult<bool> {
    let c = cursor(state).await?;
    Ok(event::Entity::find()
        .filter(event::Column::Kind.is_in(PLANNED.iter().copied()))
        .filter(after(c))
        .one(&state.db)
        .await?
        .is_some())
}

async fn has_due(state: &AppState) -> ApiResult<bool> {
    Ok(peer_outbox::Entity::find()
        .filter(peer_outbox::Column::State.eq("pending"))
        .filter(peer_outbox::Column::NextAttemptAt.lte(now_ms()))
        .one(&state.db)
        .await?
        .is_some())
}

/// Plan the rows the events after the cursor call for, then move the cursor; whether a
/// whole page was read.
async fn plan(state: &AppState, peers: &mut Peers) -> ApiResult<bool> {
    let c = cursor(state).await?;
    let events = event::Entity::find()
        .filter(event::Column::Kind.is_in(PLANNED.iter().copied()))
        .filter(after(c))
        .order_by_asc(event::Column::Block)
        .order_by_asc(event::Column::LogIndex)
        .limit(PAGE)
        .all(&state.db)
        .await?;
    let Some(last) = events.last().map(|e| (e.block, e.log_index)) else { return Ok(false) };
    let full = events.len() as u64 == PAGE;
    let mut planned = Vec::new();
    for ev in &events {
        plan_event(state, peers, ev, &mut planned).await?;
    }
    // The rows and the cursor in one commit: a crash plans the page again, whole.
    let txn = state.db.begin().await?;
    for (it, to) in &planned {
        enqueue(&txn, it, to).await?;
    }
    let row = peer_cursor::ActiveModel { id: Set(1), block: Set(last.0), log_index: Set(last.1) };
    peer_cursor::Entity::insert(row)
        .on_conflict(
            OnConflict::column(peer_cursor::Column::Id)
                .update_columns([peer_cursor::Column::Block, peer_cursor::Column::LogIndex])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok(full)
}

/// Items to plan, each with the nodes it goes to.
type Planned = Vec<(Item, Vec<u64>)>;

fn field<T: std::str::FromStr>(data: &serde_json::Value, name: &str) -> Option<T> {
    data[name].as_str().and_then(|v| v.parse().ok())
}

async fn plan_event(state: &AppState, peers: &mut Peers, ev: &event::Model, planned: &mut Planned) -> ApiResult<()> {
    let data: serde_json::Value = serde_json::from_str(&ev.data).unwrap_or_default();
    if ev.kind == "ConsentGranted" {
        let (Some(firm), Some(financier)) = (field::<Address>(&data, "firm"), field::<Address>(&data, "financier"))
        else {
            return Ok(());
        };
        return plan_consent(state, peers, firm, financier, planned).await;
    }
    let Some(order_id) = ev.order_id else { return Ok(()) };
    let it = match ev.kind.as_str() {
        "DocumentSubmitted" => {
            let (Some(t), Some(hash)) = (field::<u8>(&data, "docType"), field::<B256>(&data, "hash")) else {
                return Ok(());
            };
            Item { order_id, kind: Kind::Document(t), hash }
        }
        _ => {
            let Some(hash) = field::<B256>(&data, "detailsHash") else { return Ok(()) };
            Item { order_id, kind: Kind::Details, hash }
        }
    };
    plan_item(state, peers, it, planned).await
}

/// Plan `it` for the nodes entitled to it, if this node is the one to send it.
async fn plan_item(state: &AppState, peers: &mut Peers, it: Item, planned: &mut Planned) -> ApiResult<()> {
    let order_id = it.order_id;
    // Only what one of this node's organisations wrote for this very order: an item
    // received from a peer is its writer's to send, and a hash anchored on another order
    // (copied from chain) is not this order's data.
    if !item::written_for(&state.db, &it).await? || !item::held(state, &it).await? {
        return Ok(());
    }
    let Some(o) = order::Entity::find_by_id(order_id).one(&state.db).await? else { return Ok(()) };
    let entitled = item::entitled(&state.db, &o).await?;
    learn(state, peers, &entitled).await?;
    let to: Vec<u64> = peers.directory.recipients(&entitled, peers.me).iter().map(|n| n.id).collect();
    planned.push((it, to));
    Ok(())
}

/// A firm this node serves let `financier` see its trade: what this node keeps of the
/// firm's orders goes to the financier's node.
async fn plan_consent(
    state: &AppState,
    peers: &mut Peers,
    firm: Address,
    financier: Address,
    planned: &mut Planned,
) -> ApiResult<()> {
    learn(state, peers, &[firm, financier]).await?;
    if peers.directory.node_of.get(&firm) != Some(&peers.me) {
        return Ok(());
    }
    let to: Vec<u64> = peers.directory.recipients(&[financier], peers.me).iter().map(|n| n.id).collect();
    if to.is_empty() {
        return Ok(());
    }
    let firm = crate::codec::addr(&firm);
    let orders = order::Entity::find()
        .filter(
            Condition::any().add(order::Column::Buyer.eq(firm.as_str())).add(order::Column::Seller.eq(firm.as_str())),
        )
        .all(&state.db)
        .await?;
    for o in orders {
        let mut items = Vec::new();
        if let Ok(hash) = o.details_hash.parse() {
            items.push(Item { order_id: o.id, kind: Kind::Details, hash });
        }
        for d in document::Entity::find().filter(document::Column::OrderId.eq(o.id)).all(&state.db).await? {
            if let (Ok(t), Ok(hash)) = (u8::try_from(d.doc_type), d.hash.parse()) {
                items.push(Item { order_id: o.id, kind: Kind::Document(t), hash });
            }
        }
        for it in items {
            if item::kept_for(&state.db, &it).await? && item::held(state, &it).await? {
                planned.push((it, to.clone()));
            }
        }
    }
    Ok(())
}

async fn learn(state: &AppState, peers: &mut Peers, organisations: &[Address]) -> ApiResult<()> {
    peers
        .directory
        .learn_choices(state.chain.as_ref(), state.suite.consortium, organisations)
        .await
        .map_err(|e| ApiError::unavailable(format!("node directory: {e}")))
}

/// One row per recipient, unless it exists (an item is planned once per node).
async fn enqueue(conn: &impl ConnectionTrait, it: &Item, to: &[u64]) -> ApiResult<()> {
    for &node in to {
        let row = peer_outbox::ActiveModel {
            order_id: Set(it.order_id),
            kind: Set(it.kind.to_string()),
            content_hash: Set(it.hash_hex()),
            recipient_node: Set(crate::codec::i64_of(node)),
            state: Set("pending".into()),
            attempts: Set(0),
            next_attempt_at: Set(0),
            last_error: Set(None),
            created_at: Set(chrono::Utc::now().timestamp()),
            delivered_at: Set(None),
            ..Default::default()
        };
        let planned = peer_outbox::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    peer_outbox::Column::OrderId,
                    peer_outbox::Column::Kind,
                    peer_outbox::Column::ContentHash,
                    peer_outbox::Column::RecipientNode,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(conn)
            .await;
        crate::readmodel::inserted(planned)?;
    }
    Ok(())
}

/// How an attempt ended.
enum Attempt {
    Delivered,
    Retry(String),
    Refused(String),
    Cancelled(String),
}

/// Attempt the due rows, a few at a time; whether a whole batch was due.
async fn deliver(state: &AppState, peers: &mut Peers) -> ApiResult<bool> {
    let rows = peer_outbox::Entity::find()
        .filter(peer_outbox::Column::State.eq("pending"))
        .filter(peer_outbox::Column::NextAttemptAt.lte(now_ms()))
        .order_by_asc(peer_outbox::Column::Id)
        .limit(BATCH)
        .all(&state.db)
        .await?;
    let full = rows.len() as u64 == BATCH;
    // Learn every recipient check's organisations first, so the attempts run side by side.
    let mut checks = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(o) = order::Entity::find_by_id(row.order_id).one(&state.db).await? else {
            checks.push((row, None));
            continue;
        };
        let entitled = item::entitled(&state.db, &o).await?;
        learn(state, peers, &entitled).await?;
        let node = u64::try_from(row.recipient_node).unwrap_or_default();
        let to = peers.directory.live(node).filter(|_| peers.directory.serves_any(node, &entitled)).cloned();
        checks.push((row, Some(to)));
    }
    let me = peers.me;
    let key = peers.key.clone();
    let attempts = checks.into_iter().map(|(row, check)| {
        let key = key.clone();
        async move {
            let outcome = match check {
                None => Attempt::Retry("the order is not indexed here yet".into()),
                Some(None) => Attempt::Cancelled("the node no longer serves an organisation entitled to it".into()),
                Some(Some(to)) => attempt(state, (me, &key), &row, &to).await,
            };
            (row, outcome)
        }
    });
    let done = futures_util::future::join_all(attempts).await;
    // One commit for the whole batch's outcomes.
    let txn = state.db.begin().await?;
    for (row, outcome) in done {
        record(state, &txn, &row, outcome).await?;
    }
    txn.commit().await?;
    Ok(full)
}

async fn attempt(
    state: &AppState,
    (me, key): (u64, &NodeKey),
    row: &peer_outbox::Model,
    to: &tradechain_peer::directory::DirectoryNode,
) -> Attempt {
    let (Ok(kind), Ok(hash)) = (row.kind.parse::<Kind>(), row.content_hash.parse::<B256>()) else {
        return Attempt::Refused("malformed row".into());
    };
    let it = Item { order_id: row.order_id, kind, hash };
    let (bytes, media_type) = match item::content(state, &it).await {
        Ok(Some(c)) => c,
        Ok(None) => return Attempt::Refused("this node no longer keeps it".into()),
        Err(e) => return Attempt::Retry(e.message),
    };
    let subject = Subject {
        order_id: u64::try_from(row.order_id).unwrap_or_default(),
        kind,
        content_hash: hash,
        sender_node: me,
        recipient_node: to.id,
    };
    let sealed = match envelope::seal(key, &to.encryption_key, &subject, &bytes) {
        Ok(s) => s,
        Err(e) => return Attempt::Retry(e.to_string()),
    };
    let header = Header { subject, encapsulated: sealed.encapsulated, media_type };
    let url = format!("{}{}", to.endpoint.trim_end_matches('/'), wire::DELIVERIES);
    let sent = state.peer_client.post(&url).headers(header.to_headers()).body(sealed.ciphertext).send().await;
    let res = match sent {
        Ok(res) => res,
        Err(e) => return Attempt::Retry(format!("{url}: {e}")),
    };
    let status = res.status();
    if status.is_success() {
        return Attempt::Delivered;
    }
    let body: serde_json::Value =
        wire::read_capped(res, 64 * 1024).await.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let refusal = body["error"]["code"].as_str().unwrap_or("").to_string();
    let why = format!("{status} {refusal}: {}", body["error"]["message"].as_str().unwrap_or(""));
    if status.is_client_error()
        && status != reqwest::StatusCode::TOO_MANY_REQUESTS
        && !code::retried(&refusal, row.attempts.saturating_add(1))
    {
        Attempt::Refused(why)
    } else {
        Attempt::Retry(why)
    }
}

async fn record(
    state: &AppState,
    txn: &impl ConnectionTrait,
    row: &peer_outbox::Model,
    outcome: Attempt,
) -> ApiResult<()> {
    let attempts = row.attempts.saturating_add(1);
    // Only a row still pending: another process of this node may have delivered it meanwhile.
    let update = peer_outbox::Entity::update_many()
        .filter(peer_outbox::Column::Id.eq(row.id))
        .filter(peer_outbox::Column::State.eq("pending"))
        .col_expr(peer_outbox::Column::Attempts, Expr::value(attempts));
    let update = match outcome {
        Attempt::Delivered => {
            tracing::info!(order = row.order_id, kind = %row.kind, node = row.recipient_node, "private data delivered");
            update
                .col_expr(peer_outbox::Column::State, Expr::value("delivered"))
                .col_expr(peer_outbox::Column::DeliveredAt, Expr::value(chrono::Utc::now().timestamp()))
                .col_expr(peer_outbox::Column::LastError, Expr::value(Option::<String>::None))
        }
        Attempt::Retry(why) => {
            // Backoff from the poll interval, doubling, up to the configured ceiling.
            let base = i64::try_from(state.config.peer.poll_interval_ms).unwrap_or(i64::MAX);
            let ceiling = i64::try_from(state.config.peer.retry_max_ms).unwrap_or(i64::MAX);
            let wait = base.saturating_mul(1i64 << attempts.clamp(0, 20)).min(ceiling);
            tracing::debug!(order = row.order_id, kind = %row.kind, node = row.recipient_node, attempts, error = %why,
                "private data delivery: retrying");
            update
                .col_expr(peer_outbox::Column::NextAttemptAt, Expr::value(now_ms().saturating_add(wait)))
                .col_expr(peer_outbox::Column::LastError, Expr::value(why))
        }
        Attempt::Refused(why) => {
            tracing::warn!(order = row.order_id, kind = %row.kind, node = row.recipient_node, error = %why,
                "private data delivery refused for good");
            update
                .col_expr(peer_outbox::Column::State, Expr::value("refused"))
                .col_expr(peer_outbox::Column::LastError, Expr::value(why))
        }
        Attempt::Cancelled(why) => update
            .col_expr(peer_outbox::Column::State, Expr::value("cancelled"))
            .col_expr(peer_outbox::Column::LastError, Expr::value(why)),
    };
    update.exec(txn).await?;
    Ok(())
}
