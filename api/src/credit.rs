//! A firm's on-chain credit profile, for a financier holding the firm's live consent
//! (checked on chain, every attempt audited as `credit_profile` / `credit_profile_refused`):
//! what DOMAIN.md says a financier reads (volume and trend, payment behaviour, disputes,
//! concentration, length of history), each figure with its proof: the chain events it is
//! computed from (tx hash, block, log index), inline when short, always with a count and a
//! keccak256 digest, and listed page by page at
//! `GET /v1/firms/{address}/credit-profile/references?figure=…`. Any reference can be
//! checked against the chain itself at `GET /v1/proofs/{tx_hash}` ([`crate::proof`]).
//!
//! The figures are computed from the firm's credit facts ([`Fact`]: each event of
//! [`KINDS`](crate::indexer::credit::KINDS) on one of its orders, with the order's parties
//! and currency), which the indexer records from the chain's logs only, per firm, a row per
//! 32 facts ([`crate::readmodel::credit_facts`]), so a profile costs one read of the firm's
//! rows by primary key however large the read model; the proofs let the financier check
//! every figure without trusting it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use alloy::primitives::{B256, keccak256};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Datelike;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::indexer::credit::Fact;
use crate::readmodel::{credit_facts, cursor};
use crate::request::{PathArgs, QueryArgs};

/// Inline references up to this many; beyond, only the count, digest and list route.
pub const INLINE_REFERENCES: usize = 20;

/// One chain event a figure is computed from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
pub struct ChainRef {
    /// Its block.
    pub block: i64,
    /// Its index in the block.
    pub log_index: i64,
    /// The transaction that emitted it.
    pub tx_hash: String,
    /// The event's name (OrderCompleted, PaymentConfirmed, …).
    pub kind: String,
    /// The order it belongs to.
    pub order_id: i64,
}

/// What a figure is computed from.
#[derive(Debug, Serialize, ToSchema)]
pub struct Proof {
    /// How many events.
    pub count: usize,
    /// keccak256 over the references sorted by (block, log index), each encoded as the tx
    /// hash (32 bytes) ‖ block number (8 bytes, big-endian) ‖ log index (8 bytes,
    /// big-endian); 0x-hex. The digest of no reference is keccak256 of nothing.
    pub digest: String,
    /// The references themselves when there are at most 20 (else null: page through `list`).
    pub references: Option<Vec<ChainRef>>,
    /// The route that lists them, paginated.
    pub list: String,
}

/// One figure: its name, its value and its proof.
#[derive(Debug, Serialize, ToSchema)]
pub struct Figure {
    /// The figure's name (`on_time_rate`, `volume_by_currency`, …).
    pub name: String,
    /// Its value (a number, or an object by currency or quarter).
    #[schema(value_type = Object)]
    pub value: Value,
    /// The chain events it is computed from.
    pub proof: Proof,
}

/// A firm's credit profile. Figures, in order (amounts are minor units as strings, per
/// ISO 4217 currency; nothing is converted between currencies):
/// - `completed_as_buyer`, `completed_as_seller`: orders that reached `completed` with the
///   firm as buyer / seller. Proof: their OrderCompleted events.
/// - `volume_as_buyer`, `volume_as_seller`: `{currency: paid}` summed over those orders
///   (the `paid` of OrderCompleted). Proof: the same events.
/// - `on_time_payment_rate`: over the milestones of the firm's orders as buyer (the firm
///   owes them, whoever its bank or financier pays) that were paid (PaymentConfirmed):
///   `paid`, `on_time` and `rate_bps` = on_time × 10000 / paid, rounded down (null when
///   none was paid). A milestone is on time when the UTC calendar date of the block of its
///   PaymentConfirmed is on or before the UTC calendar date of its due date (the
///   `dueDate` of its MilestoneTriggered: trigger time + tenor). Proof: both events of
///   each paid milestone.
/// - `days_late`: over the late ones of those milestones, days late = paid date − due date
///   in calendar days: `late` (count), `average` (decimal string, two places, rounded
///   down; null when none) and `worst` (0 when none). Proof: both events of each late one.
/// - `disputes_raised`: disputes raised on the firm's orders (either role, by anyone).
///   Proof: the DisputeRaised events.
/// - `documents_rejected_as_seller`: documents the firm presented as seller that were
///   rejected. Proof: the DocumentRejected events.
/// - `counterparties`: distinct buyers and sellers the firm completed orders with.
///   Proof: the OrderCompleted events.
/// - `concentration`: per currency, the counterparty with the largest completed volume
///   and its share of the firm's completed volume in that currency, in basis points
///   (rounded down). Proof: the OrderCompleted events.
/// - `quarterly_trend`: completed orders and their volume per currency by calendar
///   quarter (UTC) of the OrderCompleted block. Proof: the OrderCompleted events.
/// - `trading_period`: the UTC dates of the first and last OrderCompleted (null when
///   none). Proof: those one or two events.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditProfile {
    /// The firm (0x address).
    pub firm: String,
    /// The last block the read model had indexed when the profile was computed.
    pub as_of_block: i64,
    /// Every figure with its proof.
    pub figures: Vec<Figure>,
}

/// One page of a figure's references.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReferencePage {
    /// The figure the page is of.
    pub figure: String,
    /// How many events the figure cites in all.
    pub count: usize,
    /// The keccak256 digest over all of them, as in the figure's proof.
    pub digest: String,
    /// This page of them, in (block, log index) order.
    pub items: Vec<ChainRef>,
    /// Pass as `offset` for the next page (null on the last).
    pub next_offset: Option<usize>,
}

/// Which figure's references, and the page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReferenceQuery {
    /// The figure's name, as in the profile.
    pub figure: String,
    /// Skip this many references (default 0).
    pub offset: Option<usize>,
    /// Page size, 1..=500 (default 100).
    pub limit: Option<usize>,
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/firms/{address}/credit-profile", get(credit_profile))
        .route("/firms/{address}/credit-profile/references", get(references))
}

/// The keccak256 digest of references (see [`Proof::digest`]).
pub fn digest(refs: &[ChainRef]) -> B256 {
    let mut buf = Vec::with_capacity(refs.len() * 48);
    for r in refs {
        let tx: B256 = r.tx_hash.parse().unwrap_or_default();
        buf.extend_from_slice(tx.as_slice());
        buf.extend_from_slice(&(r.block as u64).to_be_bytes());
        buf.extend_from_slice(&(r.log_index as u64).to_be_bytes());
    }
    keccak256(&buf)
}

fn reference(f: &Fact) -> ChainRef {
    ChainRef {
        block: f.block,
        log_index: f.log_index,
        tx_hash: f.tx_hash.clone(),
        kind: f.kind.clone(),
        order_id: f.order_id,
    }
}

fn day(ts: i64) -> i64 {
    ts.div_euclid(86_400)
}

fn date(ts: i64) -> Value {
    chrono::DateTime::from_timestamp(ts, 0).map_or(Value::Null, |d| Value::String(d.format("%Y-%m-%d").to_string()))
}

fn add(map: &mut BTreeMap<String, u128>, currency: &str, amount: u128) {
    *map.entry(currency.to_string()).or_default() += amount;
}

fn strings(map: &BTreeMap<String, u128>) -> Value {
    Value::Object(map.iter().map(|(k, v)| (k.clone(), Value::String(v.to_string()))).collect())
}

/// The figures of `firm` from its credit facts (those of orders it is not a party to are
/// ignored): (name, value, references), references sorted. Pure, for tests.
pub fn figures(firm: &str, facts: &[Fact]) -> Vec<(String, Value, Vec<ChainRef>)> {
    let mut events: Vec<&Fact> = facts.iter().filter(|f| f.buyer == firm || f.seller == firm).collect();
    events.sort_by_key(|f| (f.block, f.log_index));
    events.dedup_by_key(|f| (f.block, f.log_index));
    let of_kind = |kind: &'static str| events.iter().copied().filter(move |f| f.kind == kind);

    let mut out = Vec::new();
    // Completed orders, volume, counterparties, concentration, trend, period.
    let (mut as_buyer, mut as_seller) = (Vec::new(), Vec::new());
    let (mut vol_buyer, mut vol_seller) = (BTreeMap::new(), BTreeMap::new());
    let mut by_counterparty: BTreeMap<String, BTreeMap<String, u128>> = BTreeMap::new();
    let mut quarters: BTreeMap<String, (u64, BTreeMap<String, u128>)> = BTreeMap::new();
    let mut completed = Vec::new();
    for e in of_kind("OrderCompleted") {
        let paid: u128 = e.paid.as_deref().and_then(|p| p.parse().ok()).unwrap_or_default();
        let counterparty = if e.buyer == firm {
            as_buyer.push(reference(e));
            add(&mut vol_buyer, &e.currency, paid);
            &e.seller
        } else {
            as_seller.push(reference(e));
            add(&mut vol_seller, &e.currency, paid);
            &e.buyer
        };
        add(by_counterparty.entry(e.currency.clone()).or_default(), counterparty, paid);
        let quarter = chrono::DateTime::from_timestamp(e.timestamp, 0)
            .map_or_else(String::new, |d| format!("{}-Q{}", d.year(), d.month0() / 3 + 1));
        let q = quarters.entry(quarter).or_default();
        q.0 += 1;
        add(&mut q.1, &e.currency, paid);
        completed.push(e);
    }
    let all_completed: Vec<ChainRef> = completed.iter().map(|e| reference(e)).collect();
    out.push(("completed_as_buyer".into(), json!(as_buyer.len()), as_buyer.clone()));
    out.push(("completed_as_seller".into(), json!(as_seller.len()), as_seller.clone()));
    out.push(("volume_as_buyer".into(), strings(&vol_buyer), as_buyer));
    out.push(("volume_as_seller".into(), strings(&vol_seller), as_seller));

    // Payment behaviour (as buyer): each PaymentConfirmed against its MilestoneTriggered.
    let mut triggered: HashMap<(i64, String), &Fact> = HashMap::new();
    let (mut paid, mut on_time, mut late) = (Vec::new(), 0u64, Vec::new());
    let mut days_late: Vec<i64> = Vec::new();
    for e in events.iter().copied() {
        if e.buyer != firm {
            continue;
        }
        let id = e.order_id;
        match e.kind.as_str() {
            "MilestoneTriggered" => {
                triggered.insert((id, e.milestone.clone().unwrap_or_default()), e);
            }
            "PaymentConfirmed" => {
                let Some(t) = triggered.get(&(id, e.milestone.clone().unwrap_or_default())) else {
                    continue;
                };
                let due: i64 = t.due_date.unwrap_or_default();
                let pair = [reference(t), reference(e)];
                let late_by = day(e.timestamp) - day(due);
                if late_by <= 0 {
                    on_time += 1;
                } else {
                    days_late.push(late_by);
                    late.extend(pair.iter().cloned());
                }
                paid.extend(pair);
            }
            _ => {}
        }
    }
    let n_paid = (paid.len() / 2) as u64;
    let rate = (on_time * 10_000).checked_div(n_paid).map_or(Value::Null, |r| json!(r));
    out.push(("on_time_payment_rate".into(), json!({ "paid": n_paid, "on_time": on_time, "rate_bps": rate }), paid));
    let average = if days_late.is_empty() {
        Value::Null
    } else {
        let hundredths = days_late.iter().sum::<i64>() * 100 / crate::codec::i64_of(days_late.len());
        Value::String(format!("{}.{:02}", hundredths / 100, hundredths % 100))
    };
    let worst = days_late.iter().copied().max().unwrap_or(0);
    out.push(("days_late".into(), json!({ "late": days_late.len(), "average": average, "worst": worst }), late));

    let disputes: Vec<ChainRef> = of_kind("DisputeRaised").map(reference).collect();
    out.push(("disputes_raised".into(), json!(disputes.len()), disputes));
    let rejected: Vec<ChainRef> = of_kind("DocumentRejected").filter(|e| e.seller == firm).map(reference).collect();
    out.push(("documents_rejected_as_seller".into(), json!(rejected.len()), rejected));

    let distinct: BTreeSet<&String> = by_counterparty.values().flat_map(|m| m.keys()).collect();
    out.push(("counterparties".into(), json!(distinct.len()), all_completed.clone()));
    let concentration: Vec<Value> = by_counterparty
        .iter()
        .map(|(currency, m)| {
            let total: u128 = m.values().sum();
            // The largest volume; ties go to the lowest address (BTreeMap order).
            let (largest, v) =
                m.iter().fold((String::new(), 0u128), |acc, (a, v)| if *v > acc.1 { (a.clone(), *v) } else { acc });
            let share = (v * 10_000).checked_div(total).unwrap_or(0);
            json!({ "currency": currency, "largest_counterparty": largest, "share_bps": share as u64 })
        })
        .collect();
    out.push(("concentration".into(), Value::Array(concentration), all_completed.clone()));
    let trend: Vec<Value> =
        quarters.iter().map(|(q, (n, vol))| json!({ "quarter": q, "orders": n, "volume": strings(vol) })).collect();
    out.push(("quarterly_trend".into(), Value::Array(trend), all_completed));
    let (first, last) = (completed.first(), completed.last());
    let mut period_refs: Vec<ChainRef> = first.iter().chain(last.iter()).map(|e| reference(e)).collect();
    period_refs.dedup();
    out.push((
        "trading_period".into(),
        json!({ "first": first.map_or(Value::Null, |e| date(e.timestamp)), "last": last.map_or(Value::Null, |e| date(e.timestamp)) }),
        period_refs,
    ));
    for (_, _, refs) in &mut out {
        refs.sort();
    }
    out
}

/// The firm's credit facts, from the read model.
async fn inputs(state: &AppState, firm: &str) -> ApiResult<Vec<Fact>> {
    let rows = credit_facts::Entity::find()
        .filter(credit_facts::Column::Firm.eq(firm))
        .order_by_asc(credit_facts::Column::Chunk)
        .all(&state.db)
        .await?;
    let mut facts = Vec::with_capacity(rows.iter().map(|r| r.count.max(0) as usize).sum());
    for r in rows {
        let chunk: Vec<Fact> = serde_json::from_str(&r.facts).map_err(ApiError::internal)?;
        facts.extend(chunk);
    }
    Ok(facts)
}

fn list_route(firm: &str, figure: &str) -> String {
    format!("/v1/firms/{firm}/credit-profile/references?figure={figure}")
}

/// The firm's credit profile (see [`CreditProfile`] for every figure's definition), for
/// a financier holding the firm's live consent (checked on chain); every attempt, served
/// or refused, is audited (the firm sees it at `GET /v1/consents`).
#[utoipa::path(get, path = "/v1/firms/{address}/credit-profile", tag = "consents", operation_id = "credit_profile",
    params(("address" = String, Path, description = "the firm's 0x address")),
    responses((status = 200, body = CreditProfile), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn credit_profile(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(address): PathArgs<String>,
) -> ApiResult<Json<CreditProfile>> {
    let (_, firm) = crate::consent::require_live_consent(&state, &caller, &address, "credit_profile").await?;
    let as_of_block = cursor::Entity::find_by_id(1).one(&state.db).await?.map_or(0, |c| c.last_block);
    let facts = inputs(&state, &firm).await?;
    let figures = figures(&firm, &facts)
        .into_iter()
        .map(|(name, value, refs)| Figure {
            proof: Proof {
                count: refs.len(),
                digest: format!("{:#x}", digest(&refs)),
                list: list_route(&firm, &name),
                references: (refs.len() <= INLINE_REFERENCES).then_some(refs),
            },
            name,
            value,
        })
        .collect();
    crate::consent::record_read(&state, &caller.addr, &firm, "credit_profile").await?;
    Ok(Json(CreditProfile { firm, as_of_block, figures }))
}

/// One page of the references of one figure of the firm's credit profile (same consent
/// check and audit as the profile).
#[utoipa::path(get, path = "/v1/firms/{address}/credit-profile/references", tag = "consents",
    operation_id = "credit_profile_references",
    params(("address" = String, Path, description = "the firm's 0x address"), ReferenceQuery),
    responses((status = 200, body = ReferencePage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn references(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(address): PathArgs<String>,
    QueryArgs(q): QueryArgs<ReferenceQuery>,
) -> ApiResult<Json<ReferencePage>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::validation("VALIDATION_FAILED", "limit must be 1..=500"));
    }
    let (_, firm) = crate::consent::require_live_consent(&state, &caller, &address, "credit_profile").await?;
    let facts = inputs(&state, &firm).await?;
    let Some((name, _, refs)) = figures(&firm, &facts).into_iter().find(|(n, _, _)| *n == q.figure) else {
        return Err(ApiError::not_found("FIGURE_NOT_FOUND", format!("no figure {:?} in a credit profile", q.figure)));
    };
    crate::consent::record_read(&state, &caller.addr, &firm, "credit_profile").await?;
    let offset = q.offset.unwrap_or(0);
    let items: Vec<ChainRef> = refs.iter().skip(offset).take(limit).cloned().collect();
    let next_offset = (offset + items.len() < refs.len()).then_some(offset + items.len());
    Ok(Json(ReferencePage {
        figure: name,
        count: refs.len(),
        digest: format!("{:#x}", digest(&refs)),
        items,
        next_offset,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readmodel::{event, order};

    fn ev(block: i64, kind: &str, order_id: i64, ts: i64, data: Value) -> event::Model {
        event::Model {
            block,
            log_index: 0,
            tx_hash: format!("0x{block:064x}"),
            contract: "TradeOrders".into(),
            kind: kind.into(),
            order_id: Some(order_id),
            data: data.to_string(),
            timestamp: ts,
        }
    }

    fn purchase(id: i64, firm: &str) -> order::Model {
        order::Model {
            id,
            buyer: firm.into(),
            seller: "0xseller".into(),
            buyer_bank: "0xbank".into(),
            seller_bank: "0xbank2".into(),
            carrier: String::new(),
            inspector: String::new(),
            amount: "100".into(),
            paid: "0".into(),
            currency: "USD".into(),
            incoterm: "FOB".into(),
            charges: "shared".into(),
            cover: None,
            details_hash: String::new(),
            latest_shipment: 0,
            expiry: 0,
            state: "committed".into(),
            created_block: 0,
            created_at: 0,
            updated_block: 0,
            cancel_requested_by: None,
            disputes: 0,
            dispute_raised_by: None,
            amendments: 0,
            pending_amendment: None,
        }
    }

    fn value(figures: &[(String, Value, Vec<ChainRef>)], name: &str) -> Value {
        figures.iter().find(|f| f.0 == name).map(|f| f.1.clone()).unwrap_or_default()
    }

    #[test]
    fn payment_late_in_the_due_day_is_on_time_and_after_midnight_is_one_day_late() {
        let due = 1_767_225_600; // 2026-01-01 00:00 UTC
        let firm = "0xfirm";
        let orders = [purchase(1, firm), purchase(2, firm)];
        let trigger =
            |block, id| ev(block, "MilestoneTriggered", id, due, json!({ "index": "0", "dueDate": due.to_string() }));
        let paid = |block, id, ts| ev(block, "PaymentConfirmed", id, ts, json!({ "milestone": "0" }));
        let events = [trigger(1, 1), paid(2, 1, due + 86_399), trigger(3, 2), paid(4, 2, due + 86_400)];
        let facts: Vec<Fact> = events
            .iter()
            .filter_map(|e| {
                let o = orders.iter().find(|o| Some(o.id) == e.order_id)?;
                Some(Fact::of(o, e, &serde_json::from_str(&e.data).unwrap_or_default()))
            })
            .collect();
        let f = figures(firm, &facts);
        assert_eq!(value(&f, "on_time_payment_rate"), json!({ "paid": 2, "on_time": 1, "rate_bps": 5000 }));
        assert_eq!(value(&f, "days_late"), json!({ "late": 1, "average": "1.00", "worst": 1 }));
    }

    #[test]
    fn digest_depends_on_every_reference_and_its_order() {
        let r = |block| ChainRef {
            block,
            log_index: 1,
            tx_hash: format!("0x{block:064x}"),
            kind: "OrderCompleted".into(),
            order_id: 1,
        };
        assert_eq!(digest(&[]), keccak256([]));
        assert_ne!(digest(&[r(1), r(2)]), digest(&[r(2), r(1)]));
        assert_ne!(digest(&[r(1)]), digest(&[r(1), r(2)]));
    }
}
