//! What clients read about orders: summaries, the full detail with milestones, documents
//! and timeline, and the queries behind them (always scoped to the caller's orders).

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use tradechain_contracts::DocType;
use utoipa::{IntoParams, ToSchema};

use super::OrderDetails;
use crate::auth::Caller;
use crate::codec::date_of;
use crate::error::{ApiError, ApiResult};
use crate::readmodel::{document, event, financing, milestone, order, order_detail, private_item};
use crate::{AppState, terms};
use tradechain_peer::envelope::Kind;

/// An order as listed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrderSummary {
    pub(crate) id: i64,
    /// proposed, accepted, rejected, committed, completed, cancelled, expired (a dispute
    /// is shown beside the state, `dispute_raised_by`, and changes nothing the bank does)
    pub(crate) state: String,
    pub(crate) buyer: String,
    pub(crate) seller: String,
    pub(crate) buyer_bank: String,
    pub(crate) seller_bank: String,
    /// Minor units, decimal string.
    pub(crate) amount_minor: String,
    /// For people: the amount with the currency's decimals.
    pub(crate) amount: String,
    pub(crate) paid_minor: String,
    pub(crate) currency: String,
    pub(crate) incoterm: String,
    /// Who bears the banks' charges: shared, debtor (the buyer), creditor (the seller).
    pub(crate) charges: String,
    /// Once committed, how the buyer's bank covers its undertaking: bank_risk, earmark.
    pub(crate) cover: Option<String>,
    /// YYYY-MM-DD
    pub(crate) latest_shipment: String,
    pub(crate) expiry: String,
    pub(crate) created_block: i64,
    pub(crate) updated_block: i64,
}

/// One payment term.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MilestoneView {
    pub(crate) index: i32,
    pub(crate) amount_minor: String,
    pub(crate) amount: String,
    pub(crate) documents: Vec<String>,
    pub(crate) tenor_days: i32,
    /// pending, triggered, due, paid, failed, defaulted (the payer failed three times in a
    /// row: the payee may demand again)
    pub(crate) state: String,
    pub(crate) due_date: Option<i64>,
    pub(crate) paid_at: Option<i64>,
    pub(crate) attempts: i32,
    /// Payment attempts the payer failed in a row.
    pub(crate) failures: i32,
    pub(crate) payer: String,
    pub(crate) payee: String,
    pub(crate) payment_reference: Option<String>,
    /// The financing that took over this milestone (proceeds or payer), if any.
    pub(crate) financing: Option<MilestoneFinancing>,
}

/// A milestone's accepted financing, in brief (detail: `GET /v1/financings/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MilestoneFinancing {
    pub(crate) id: i64,
    /// receivable, payable
    pub(crate) kind: String,
    /// live, awaiting_repayment, repayment_due, settled, cancelled, lapsed, defaulted
    pub(crate) state: String,
    pub(crate) financier: String,
}

/// A document presented on the order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DocumentView {
    pub(crate) doc_type: String,
    /// SHA-256 of the file, anchored on chain.
    pub(crate) hash: String,
    pub(crate) issuer: String,
    /// submitted, accepted, rejected
    pub(crate) state: String,
    pub(crate) attested: bool,
    pub(crate) deemed: bool,
    pub(crate) version: i32,
    /// Unix seconds: when the seller presented this version.
    pub(crate) submitted_at: i64,
    /// Unix seconds: the end of the examination period, five banking days of the buyer's
    /// bank after the presentation (0 while awaiting attestation).
    pub(crate) examine_by: i64,
    /// Bills of lading: the on-board date the carrier attested, YYYY-MM-DD.
    pub(crate) shipment_date: Option<String>,
    /// A refused presentation: every discrepancy of the bank's one notice.
    pub(crate) discrepancies: Vec<String>,
}

impl From<document::Model> for DocumentView {
    fn from(d: document::Model) -> Self {
        let doc_type = u8::try_from(d.doc_type).ok().and_then(DocType::from_u8);
        DocumentView {
            doc_type: doc_type.map_or_else(|| d.doc_type.to_string(), |t| t.to_string()),
            hash: d.hash,
            issuer: d.issuer,
            state: d.state,
            attested: d.attested,
            deemed: d.deemed,
            version: d.version,
            submitted_at: d.submitted_at,
            examine_by: d.examine_by,
            shipment_date: d.shipment_date.map(date_of),
            discrepancies: d.discrepancies.as_deref().and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default(),
        }
    }
}

/// One event of the order's history, as the chain recorded it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TimelineEntry {
    pub(crate) block: i64,
    pub(crate) log_index: i64,
    pub(crate) tx_hash: String,
    pub(crate) kind: String,
    /// Unix seconds (block time).
    pub(crate) at: i64,
    /// The event's fields.
    // As the indexer stored them, JSON it wrote: passed through, not parsed into a tree and
    // printed again for every detail.
    #[schema(value_type = Object)]
    pub(crate) data: Box<serde_json::value::RawValue>,
}

/// An order with everything about it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrderDetail {
    #[serde(flatten)]
    pub(crate) order: OrderSummary,
    pub(crate) details_hash: String,
    /// The off-chain details whose canonical JSON hashes to `details_hash`.
    pub(crate) details: Option<OrderDetails>,
    /// The carrier named to attest the bill of lading, if the order needs one.
    pub(crate) carrier: Option<String>,
    /// The inspector named to attest the inspection certificate, if the order needs one.
    pub(crate) inspector: Option<String>,
    pub(crate) cancel_requested_by: Option<String>,
    /// How many disputes were raised.
    pub(crate) disputes: i32,
    /// The party whose dispute is open, if one is. A dispute is recorded and shown; the
    /// bank's examination and payment go on (UCP 600 art. 4, 5).
    pub(crate) dispute_raised_by: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub(crate) pending_amendment: Option<serde_json::Value>,
    pub(crate) milestones: Vec<MilestoneView>,
    pub(crate) documents: Vec<DocumentView>,
    pub(crate) timeline: Vec<TimelineEntry>,
}

/// A page of orders; pass `next_after` as `after` for the next page.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrderPage {
    pub(crate) items: Vec<OrderSummary>,
    pub(crate) next_after: Option<i64>,
}

/// Filters and pagination (newest first).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct OrderQuery {
    /// Only orders in this state.
    pub(crate) state: Option<String>,
    /// Only orders where the caller is: buyer, seller, buyer_bank, seller_bank, or the
    /// carrier or inspector it names (`carrier`, `inspector`; not in a firm's history).
    pub(crate) role: Option<String>,
    /// Only orders with this counterparty address.
    pub(crate) counterparty: Option<String>,
    pub(crate) currency: Option<String>,
    /// Page size, 1..=100 (default 20).
    pub(crate) limit: Option<u64>,
    /// Orders with an id below this (keyset pagination).
    pub(crate) after: Option<i64>,
}

pub(crate) fn summary(o: order::Model) -> OrderSummary {
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
        charges: o.charges,
        cover: o.cover,
        latest_shipment: date_of(o.latest_shipment),
        expiry: date_of(o.expiry),
        created_block: o.created_block,
        updated_block: o.updated_block,
    }
}

/// An attester the order names, or `None` for the zero address (none named).
fn named(a: &str) -> Option<String> {
    (a != crate::codec::addr(&alloy::primitives::Address::ZERO)).then(|| a.to_string())
}

/// An order and, read in the same statement, the details this node keeps for it (those
/// [`crate::consortium::item::kept_for`] finds a record of): what every order's detail shows.
#[derive(sea_orm::FromQueryResult)]
pub(crate) struct WithDetails {
    #[sea_orm(nested)]
    pub(crate) order: order::Model,
    pub(crate) kept_details: Option<String>,
}

/// The order if the caller may see it (`readmodel::access::order_viewers`: a party, the
/// carrier or inspector it names, the financier of a financing of it the firm accepted, or
/// the operator); otherwise ORDER_NOT_FOUND (whether it exists is not revealed).
///
/// A miss while this node's read model is behind the chain waits for it (two seconds at
/// most) and looks again: in a consortium of nodes an order proposed at the buyer's node a
/// moment ago is then found at the seller's, instead of the seller's first accept failing.
pub(crate) async fn load_visible(state: &AppState, caller: &Caller, id: i64) -> ApiResult<order::Model> {
    Ok(load(state, caller, id).await?.order)
}

/// [`load_visible`], with the details this node keeps for the order.
pub(crate) async fn load(state: &AppState, caller: &Caller, id: i64) -> ApiResult<WithDetails> {
    if let Some(o) = visible(state, caller, id).await? {
        return Ok(o);
    }
    if let Ok(head) = state.chain.head().await
        && state.indexer.indexed() < head
        && state.indexer.wait_for(head, std::time::Duration::from_secs(2)).await
        && let Some(o) = visible(state, caller, id).await?
    {
        return Ok(o);
    }
    Err(ApiError::order_not_found(id))
}

/// The order `id` as the caller may see it, in full: [`load`], then [`detail`].
pub(crate) async fn load_detail(state: &AppState, caller: &Caller, id: i64) -> ApiResult<OrderDetail> {
    let WithDetails { order, kept_details } = load(state, caller, id).await?;
    detail(state, order, kept_details).await
}

async fn visible(state: &AppState, caller: &Caller, id: i64) -> ApiResult<Option<WithDetails>> {
    use sea_orm::Iterable;
    use sea_orm::sea_query::{Expr, ExprTrait, Query, QueryStatementBuilder};
    // Only details kept for this very order: a hash copied from another order's is not it.
    let record = Query::select()
        .expr(Expr::val(1))
        .from(private_item::Entity)
        .and_where(
            Expr::col((private_item::Entity, private_item::Column::OrderId)).equals((order::Entity, order::Column::Id)),
        )
        .and_where(private_item::Column::Kind.eq(Kind::Details.to_string()))
        .and_where(
            Expr::col((private_item::Entity, private_item::Column::ContentHash))
                .equals((order::Entity, order::Column::DetailsHash)),
        )
        .to_owned();
    let body = Query::select()
        .column((order_detail::Entity, order_detail::Column::Body))
        .from(order_detail::Entity)
        .and_where(
            Expr::col((order_detail::Entity, order_detail::Column::DetailsHash))
                .equals((order::Entity, order::Column::DetailsHash)),
        )
        .and_where(Expr::exists(record))
        .to_owned();
    let row = order::Entity::find_by_id(id)
        .select_only()
        .columns(order::Column::iter())
        .expr_as(Expr::SubQuery(None, Box::new(body.into_sub_query_statement())), "kept_details")
        .into_model::<WithDetails>()
        .one(&state.db)
        .await?;
    Ok(match row {
        Some(o) if caller.is_operator() => Some(o),
        Some(o) if crate::readmodel::access::may_view(&state.db, &o.order, &caller.addr).await? => Some(o),
        _ => None,
    })
}

/// Whether order `o` may have documents: they are presented on a committed order only
/// (`TradeOrders.submitDocument` requires `Committed`), and an order proposed, accepted
/// or rejected never was one (those states come only before `Committed`).
fn may_have_documents(o: &order::Model) -> bool {
    use tradechain_contracts::OrderState;
    !matches!(OrderState::parse(&o.state), Some(OrderState::Proposed | OrderState::Accepted | OrderState::Rejected))
}

/// Order `o` in full, with `kept_details`, the details [`load`] read with it.
pub(crate) async fn detail(state: &AppState, o: order::Model, kept_details: Option<String>) -> ApiResult<OrderDetail> {
    let db = &state.db;
    // Independent reads at once, each on its own pooled connection: a write's answer and a
    // detail wait for the slowest, not for each in turn.
    let milestones = milestone::Entity::find()
        .filter(milestone::Column::OrderId.eq(o.id))
        .order_by_asc(milestone::Column::Idx)
        .all(db);
    let documents = async {
        if !may_have_documents(&o) {
            return Ok(Vec::new());
        }
        document::Entity::find()
            .filter(document::Column::OrderId.eq(o.id))
            .order_by_asc(document::Column::DocType)
            .all(db)
            .await
    };
    let timeline = event::timeline(o.id).all(db);
    let (milestones, documents, timeline) = tokio::try_join!(milestones, documents, timeline)?;
    let details: Option<OrderDetails> = kept_details.and_then(|body| serde_json::from_str(&body).ok());
    // Read only for an order whose milestones were financed (few are).
    let financings: Vec<financing::Model> = if milestones.iter().any(|m| m.financing_id.is_some()) {
        financing::Entity::find()
            .filter(financing::Column::OrderId.eq(o.id))
            .order_by_asc(financing::Column::Id)
            .all(db)
            .await?
    } else {
        Vec::new()
    };
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
        carrier: named(&o.carrier),
        inspector: named(&o.inspector),
        cancel_requested_by: o.cancel_requested_by.clone(),
        disputes: o.disputes,
        dispute_raised_by: o.dispute_raised_by.clone(),
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
                failures: m.failures,
                payer: m.payer,
                payee: m.payee,
                payment_reference: m.payment_ref,
            })
            .collect(),
        documents: documents.into_iter().map(DocumentView::from).collect(),
        timeline: timeline
            .into_iter()
            .map(|e| TimelineEntry {
                block: e.block,
                log_index: e.log_index,
                tx_hash: e.tx_hash,
                kind: e.kind,
                at: e.timestamp,
                data: raw_json(e.data),
            })
            .collect(),
        order: summary(o),
    })
}

/// `text` as it is if it is JSON, else `null` (the indexer writes every event's fields as
/// JSON; a row that is not would otherwise fail the whole detail).
fn raw_json(text: String) -> Box<serde_json::value::RawValue> {
    use serde_json::value::RawValue;
    RawValue::from_string(text).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// Orders matching `q` among those `party` (a lower-case address) is a party to.
pub(crate) async fn list(
    state: &AppState,
    party: &str,
    q: &OrderQuery,
    trader_roles_only: bool,
) -> ApiResult<OrderPage> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation("VALIDATION_FAILED", "limit must be 1..=100"));
    }
    // One indexed query per party column (index (column, id): a backward range scan that
    // stops after `limit + 1` rows), merged here; an OR over four columns would make the
    // database sort every order of the party.
    let columns = match q.role.as_deref() {
        None if trader_roles_only => vec![order::Column::Buyer, order::Column::Seller],
        // The carrier and inspector an order names see it (they attest its documents), so
        // they find it in their list too.
        None => vec![
            order::Column::Buyer,
            order::Column::Seller,
            order::Column::BuyerBank,
            order::Column::SellerBank,
            order::Column::Carrier,
            order::Column::Inspector,
        ],
        Some("carrier") if !trader_roles_only => vec![order::Column::Carrier],
        Some("inspector") if !trader_roles_only => vec![order::Column::Inspector],
        Some("buyer") => vec![order::Column::Buyer],
        Some("seller") => vec![order::Column::Seller],
        Some("buyer_bank") => vec![order::Column::BuyerBank],
        Some("seller_bank") => vec![order::Column::SellerBank],
        Some(other) => {
            let expected = if trader_roles_only {
                // A firm's history under consent is its trade, not the orders it carried or
                // inspected for others.
                "buyer, seller, buyer_bank or seller_bank"
            } else {
                "buyer, seller, buyer_bank, seller_bank, carrier or inspector"
            };
            return Err(ApiError::validation("VALIDATION_FAILED", format!("role {other:?}: expected {expected}")));
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
