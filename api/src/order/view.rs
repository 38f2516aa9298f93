//! What clients read about orders: summaries, the full detail with milestones, documents
//! and timeline, and the queries behind them (always scoped to the caller's orders).

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use tradechain_contracts::DocType;
use utoipa::{IntoParams, ToSchema};

use super::OrderDetails;
use crate::codec::date_of;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::readmodel::{document, event, financing, milestone, order, order_detail};
use crate::{AppState, terms};

/// An order as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderSummary {
    pub id: i64,
    /// proposed, accepted, rejected, committed, completed, cancelled, expired, disputed
    pub state: String,
    pub buyer: String,
    pub seller: String,
    pub buyer_bank: String,
    pub seller_bank: String,
    /// Minor units, decimal string.
    pub amount_minor: String,
    /// For people: the amount with the currency's decimals.
    pub amount: String,
    pub paid_minor: String,
    pub currency: String,
    pub incoterm: String,
    /// YYYY-MM-DD
    pub latest_shipment: String,
    pub expiry: String,
    pub created_block: i64,
    pub updated_block: i64,
}

/// One payment term.
#[derive(Debug, Serialize, ToSchema)]
pub struct MilestoneView {
    pub index: i32,
    pub amount_minor: String,
    pub amount: String,
    pub documents: Vec<String>,
    pub tenor_days: i32,
    /// pending, triggered, due, paid, failed
    pub state: String,
    pub due_date: Option<i64>,
    pub paid_at: Option<i64>,
    pub attempts: i32,
    pub payer: String,
    pub payee: String,
    pub payment_reference: Option<String>,
    /// The financing that took over this milestone (proceeds or payer), if any.
    pub financing: Option<MilestoneFinancing>,
}

/// A milestone's accepted financing, in brief (detail: `GET /v1/financings/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct MilestoneFinancing {
    pub id: i64,
    /// receivable, payable
    pub kind: String,
    /// live, awaiting_repayment, repayment_due, settled
    pub state: String,
    pub financier: String,
}

/// A document presented on the order.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    pub doc_type: String,
    /// SHA-256 of the file, anchored on chain.
    pub hash: String,
    pub issuer: String,
    /// submitted, accepted, rejected
    pub state: String,
    pub attested: bool,
    pub deemed: bool,
    pub version: i32,
    /// Unix seconds: the end of the examination period (0 while awaiting attestation).
    pub examine_by: i64,
    pub reason: Option<String>,
}

/// One event of the order's history, as the chain recorded it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    pub block: i64,
    pub log_index: i64,
    pub tx_hash: String,
    pub kind: String,
    /// Unix seconds (block time).
    pub at: i64,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// An order with everything about it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDetail {
    #[serde(flatten)]
    pub order: OrderSummary,
    pub details_hash: String,
    /// The off-chain details whose canonical JSON hashes to `details_hash`.
    pub details: Option<OrderDetails>,
    pub cancel_requested_by: Option<String>,
    pub disputes: i32,
    #[schema(value_type = Option<Object>)]
    pub pending_amendment: Option<serde_json::Value>,
    pub milestones: Vec<MilestoneView>,
    pub documents: Vec<DocumentView>,
    pub timeline: Vec<TimelineEntry>,
}

/// A page of orders; pass `next_after` as `after` for the next page.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub items: Vec<OrderSummary>,
    pub next_after: Option<i64>,
}

/// Filters and pagination (newest first).
#[derive(Debug, Deserialize, IntoParams)]
pub struct OrderQuery {
    /// Only orders in this state.
    pub state: Option<String>,
    /// Only orders where the caller is: buyer, seller, buyer_bank or seller_bank.
    pub role: Option<String>,
    /// Only orders with this counterparty address.
    pub counterparty: Option<String>,
    pub currency: Option<String>,
    /// Page size, 1..=100 (default 20).
    pub limit: Option<u64>,
    /// Orders with an id below this (keyset pagination).
    pub after: Option<i64>,
}

pub fn summary(o: order::Model) -> OrderSummary {
    OrderSummary {
        amount: terms::render(&o.amount, &o.currency),
        id: o.id,
        state: o.state,
        buyer: o.buyer,
        seller: o.seller,
        buyer_bank: o.buyer_bank,
        seller_bank: o.seller_bank,
        amount_minor: o.amount,
        paid_minor: o.paid,
        currency: o.currency,
        incoterm: o.incoterm,
        latest_shipment: date_of(o.latest_shipment),
        expiry: date_of(o.expiry),
        created_block: o.created_block,
        updated_block: o.updated_block,
    }
}

pub fn is_party(o: &order::Model, a: &str) -> bool {
    o.buyer == a || o.seller == a || o.buyer_bank == a || o.seller_bank == a
}

/// The order if the caller is one of its parties, or the financier of a financing of it
/// the firm accepted (it is paid, or pays, on the order); otherwise ORDER_NOT_FOUND
/// (whether it exists is not revealed).
pub async fn load_visible(state: &AppState, caller: &Caller, id: i64) -> ApiResult<order::Model> {
    match order::Entity::find_by_id(id).one(&state.db).await? {
        Some(o) if is_party(&o, &caller.addr) => Ok(o),
        Some(o) if caller.roles & tradechain_contracts::role::FINANCIER != 0 => {
            let accepted = financing::Entity::find()
                .filter(financing::Column::OrderId.eq(id))
                .filter(financing::Column::Financier.eq(caller.addr.as_str()))
                .filter(financing::Column::AcceptedAt.is_not_null())
                .one(&state.db)
                .await?;
            match accepted {
                Some(_) => Ok(o),
                None => Err(ApiError::order_not_found(id)),
            }
        }
        _ => Err(ApiError::order_not_found(id)),
    }
}

pub async fn detail(state: &AppState, o: order::Model) -> ApiResult<OrderDetail> {
    let db = &state.db;
    let milestones = milestone::Entity::find()
        .filter(milestone::Column::OrderId.eq(o.id))
        .order_by_asc(milestone::Column::Idx)
        .all(db)
        .await?;
    let documents = document::Entity::find()
        .filter(document::Column::OrderId.eq(o.id))
        .order_by_asc(document::Column::DocType)
        .all(db)
        .await?;
    let timeline = event::Entity::find()
        .filter(event::Column::OrderId.eq(o.id))
        .order_by_asc(event::Column::Block)
        .order_by_asc(event::Column::LogIndex)
        .all(db)
        .await?;
    let details = order_detail::Entity::find_by_id(o.details_hash.clone())
        .one(db)
        .await?
        .and_then(|d| serde_json::from_str(&d.body).ok());
    let financings: Vec<financing::Model> = financing::Entity::find()
        .filter(financing::Column::OrderId.eq(o.id))
        .order_by_asc(financing::Column::Id)
        .all(db)
        .await?;
    let financing_of = |m: &milestone::Model| {
        let id = m.financing_id.as_deref()?.parse::<i64>().ok()?;
        financings.iter().find(|f| f.id == id).map(|f| MilestoneFinancing {
            id: f.id,
            kind: f.kind.clone(),
            state: f.state.clone(),
            financier: f.financier.clone(),
        })
    };
    let currency = o.currency.clone();
    Ok(OrderDetail {
        details_hash: o.details_hash.clone(),
        details,
        cancel_requested_by: o.cancel_requested_by.clone(),
        disputes: o.disputes,
        pending_amendment: o.pending_amendment.as_deref().and_then(|p| serde_json::from_str(p).ok()),
        milestones: milestones
            .into_iter()
            .map(|m| MilestoneView {
                financing: financing_of(&m),
                index: m.idx,
                amount: terms::render(&m.amount, &currency),
                amount_minor: m.amount,
                documents: DocType::from_mask(m.required_docs as u16).iter().map(|d| d.as_str().to_string()).collect(),
                tenor_days: m.tenor_days,
                state: m.state,
                due_date: m.due_date,
                paid_at: m.paid_at,
                attempts: m.attempts,
                payer: m.payer,
                payee: m.payee,
                payment_reference: m.payment_ref,
            })
            .collect(),
        documents: documents
            .into_iter()
            .map(|d| DocumentView {
                doc_type: DocType::from_u8(d.doc_type as u8).map_or_else(|| d.doc_type.to_string(), |t| t.to_string()),
                hash: d.hash,
                issuer: d.issuer,
                state: d.state,
                attested: d.attested,
                deemed: d.deemed,
                version: d.version,
                examine_by: d.examine_by,
                reason: d.reason,
            })
            .collect(),
        timeline: timeline
            .into_iter()
            .map(|e| TimelineEntry {
                block: e.block,
                log_index: e.log_index,
                tx_hash: e.tx_hash,
                kind: e.kind,
                at: e.timestamp,
                data: serde_json::from_str(&e.data).unwrap_or_default(),
            })
            .collect(),
        order: summary(o),
    })
}

/// Orders matching `q` among those `party` (a lower-case address) is a party to.
pub async fn list(state: &AppState, party: &str, q: &OrderQuery, trader_roles_only: bool) -> ApiResult<OrderPage> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation("VALIDATION_FAILED", "limit must be 1..=100"));
    }
    // One indexed query per party column (index (column, id): a backward range scan that
    // stops after `limit + 1` rows), merged here; an OR over four columns would make the
    // database sort every order of the party.
    let columns = match q.role.as_deref() {
        None if trader_roles_only => vec![order::Column::Buyer, order::Column::Seller],
        None => vec![order::Column::Buyer, order::Column::Seller, order::Column::BuyerBank, order::Column::SellerBank],
        Some("buyer") => vec![order::Column::Buyer],
        Some("seller") => vec![order::Column::Seller],
        Some("buyer_bank") => vec![order::Column::BuyerBank],
        Some("seller_bank") => vec![order::Column::SellerBank],
        Some(other) => {
            return Err(ApiError::validation(
                "VALIDATION_FAILED",
                format!("role {other:?}: expected buyer, seller, buyer_bank or seller_bank"),
            ));
        }
    };
    if let Some(s) = &q.state
        && tradechain_contracts::OrderState::parse(s).is_none()
    {
        return Err(ApiError::validation("VALIDATION_FAILED", format!("unknown state {s:?}")));
    }
    if let Some(c) = &q.currency {
        terms::currency_exponent(c)?;
    }
    let counterparty = q.counterparty.as_deref().map(|c| terms::address("counterparty", c)).transpose()?;
    let mut rows: Vec<order::Model> = Vec::new();
    for column in columns {
        let mut query = order::Entity::find().filter(column.eq(party));
        if let Some(s) = &q.state {
            query = query.filter(order::Column::State.eq(s.as_str()));
        }
        if let Some(c) = &q.currency {
            query = query.filter(order::Column::Currency.eq(c.as_str()));
        }
        if let Some(c) = &counterparty {
            let c = crate::codec::addr(c);
            query = query.filter(
                Condition::any()
                    .add(order::Column::Buyer.eq(c.as_str()))
                    .add(order::Column::Seller.eq(c.as_str()))
                    .add(order::Column::BuyerBank.eq(c.as_str()))
                    .add(order::Column::SellerBank.eq(c.as_str())),
            );
        }
        if let Some(after) = q.after {
            query = query.filter(order::Column::Id.lt(after));
        }
        rows.extend(query.order_by_desc(order::Column::Id).limit(limit + 1).all(&state.db).await?);
    }
    rows.sort_by_key(|o| std::cmp::Reverse(o.id));
    rows.dedup_by_key(|o| o.id);
    let more = rows.len() as u64 > limit;
    let items: Vec<OrderSummary> = rows.into_iter().take(limit as usize).map(summary).collect();
    let next_after = if more { items.last().map(|o| o.id) } else { None };
    Ok(OrderPage { items, next_after })
}
