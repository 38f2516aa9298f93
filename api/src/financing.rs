//! Financing through the API: a financier offers to finance one milestone of an order
//! (receivables finance for the seller, payables finance for the buyer); the firm accepts
//! (reserving the receivable until the offer's deadline) or declines; the financier
//! withdraws an open offer.
//!
//! Nothing passes to a financier before it has done its part. Receivables: the financier
//! records the advance it paid, the seller acknowledges receiving it, and only then are the
//! proceeds assigned. Payables: the seller (whose payer changes) and the buyer's bank (who
//! repays the financier, fee included) approve, and only then is the financier the payer;
//! the repayment is released at the extended due date and confirmed by the buyer's bank.
//! A reservation not made binding by its deadline, or a financing whose order ended, is
//! lapsed by anyone; the financier and the firm may cancel one by agreement.
//! Lists and details are scoped to the financier, the firm and the order's parties.
//!
//! Double financing: every offer carries fingerprints of the invoice's key fields (seller,
//! buyer, invoice number, date, amount and currency, normalised) and, for a milestone paid
//! against the bill of lading once it is presented, of that bill: keyed digests from the
//! registry ([`crate::registry`], HMAC under a key only it holds), so nothing readable, or
//! recoverable by trying candidates, goes on chain. The contract refuses a second live
//! financing of the receivable
//! (`RECEIVABLE_ALREADY_FINANCED`) and any fingerprint of a live financing
//! (`DUPLICATE_FINGERPRINT`), under any order and by any financier.
//!
//! Near duplicates: the registry also answers a *near key* of the invoice (seller and
//! normalised invoice number) and digests, bound to that key, of its amount and currency,
//! its date and its buyer. An offer whose near key is that of an
//! open financing (offered, live, awaiting or due repayment) with a different digest is
//! not refused but flagged `NEAR_DUPLICATE` for the financier's review, with the fields
//! that differ; the flags are stored with the financing and shown to its financier.
//! `POST /v1/financings/check` answers the same (the contract's refusal by simulation,
//! and the flags) without sending anything. The near keys go on chain with the offer
//! (`NearKeysRecorded`, keyed digests only) and every node indexes them (`near_keys`), so
//! an offer taken by any node of the consortium is compared with every earlier one.

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::sol_types::{SolCall, SolEvent};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use tradechain_contracts::{Consents, FinancingState, Receivables, role};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorDetail};
use crate::readmodel::{access, financing, financing_review, fingerprint, near_key, order};
use crate::registry::{self, NearKeys};
use crate::request::{Body, PathArgs, QueryArgs, contract_action};
use crate::{AppState, terms, transaction};

/// Receivables finance (the seller is advanced part of the milestone, proceeds assigned to
/// the financier) or payables finance (the financier pays the seller at the due date, the
/// buyer repays later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FinancingKind {
    Receivable,
    Payable,
}

/// The invoice behind the receivable. Only its salted fingerprint goes on chain.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct Invoice {
    /// The seller's invoice number (compared without case, spaces or punctuation).
    pub(crate) number: String,
    /// YYYY-MM-DD
    pub(crate) date: String,
    /// Minor units, decimal string.
    pub(crate) amount_minor: String,
    /// ISO 4217
    pub(crate) currency: String,
}

/// A financier's offer on one milestone.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct FinancingOffer {
    pub(crate) kind: FinancingKind,
    /// Receivables: the advance to the seller, minor units (at most the milestone amount).
    pub(crate) advance_minor: Option<String>,
    /// Payables: extra days the buyer gets to repay (1..=360).
    pub(crate) extra_days: Option<u16>,
    /// Discount rate (receivables, 0..=10000) or fee (payables, 0..=2500) in basis points.
    pub(crate) rate_bps: u16,
    /// Days after the firm takes the offer by which it must be made binding (the advance
    /// paid and acknowledged, or the payables approvals given), else it lapses (1..=30,
    /// default 10).
    pub(crate) deadline_days: Option<u8>,
    pub(crate) invoice: Invoice,
}

/// A payment made outside the chain (an advance, a repayment).
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct AdvanceReport {
    /// The payment's reference, 1..=32 printable ASCII bytes.
    pub(crate) reference: String,
}

/// A financing as both parties see it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FinancingView {
    pub(crate) id: i64,
    /// receivable, payable
    pub(crate) kind: String,
    /// offered, accepted (reserved, not yet binding), live, awaiting_repayment,
    /// repayment_due, settled, declined, withdrawn, lapsed, cancelled, defaulted
    pub(crate) state: String,
    pub(crate) financier: String,
    /// The seller (receivables) or the buyer (payables).
    pub(crate) firm: String,
    pub(crate) order_id: i64,
    pub(crate) milestone: i32,
    /// The advance (receivables) or the repayment (payables), minor units.
    pub(crate) amount_minor: String,
    pub(crate) amount: String,
    pub(crate) currency: String,
    pub(crate) rate_bps: i32,
    pub(crate) extra_days: i32,
    /// Unix seconds (block time).
    pub(crate) offered_at: i64,
    pub(crate) accepted_at: Option<i64>,
    /// Once accepted: by when it must be made binding, else anyone may lapse it (unix seconds).
    pub(crate) deadline: Option<i64>,
    /// Payables: the seller approved the change of payer.
    pub(crate) seller_approved: bool,
    /// Payables: the buyer's bank approved the change of payer and the fee.
    pub(crate) bank_approved: bool,
    pub(crate) advance_reference: Option<String>,
    /// Receivables: the seller acknowledged receiving the advance.
    pub(crate) advance_acknowledged: bool,
    /// The party that asked to cancel, waiting for the other.
    pub(crate) cancel_requested_by: Option<String>,
    pub(crate) repayment_due: Option<i64>,
    pub(crate) repayment_amount_minor: Option<String>,
    pub(crate) repayment_reference: Option<String>,
    pub(crate) settled_at: Option<i64>,
    /// The fingerprints registered on chain while the financing is live.
    pub(crate) fingerprints: Vec<String>,
    /// Flags raised when it was offered, for its financier's review (empty for others).
    pub(crate) review: Vec<ReviewFlag>,
}

/// A reason for the financier to review an offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub(crate) struct ReviewFlag {
    /// `NEAR_DUPLICATE`: same invoice number and seller as an open financing, other fields
    /// differ.
    pub(crate) code: String,
    /// The open financing it resembles.
    pub(crate) financing_id: i64,
    /// Which of `amount` (with the currency), `date` and `buyer` differ.
    pub(crate) differs: Vec<String>,
    pub(crate) reason: String,
}

/// A financing offer to check: the order and milestone, and the offer's body.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct FinancingCheck {
    pub(crate) order_id: i64,
    pub(crate) milestone: u64,
    #[serde(flatten)]
    pub(crate) offer: FinancingOffer,
}

/// What an offer would meet now: the contract's refusal (exact duplicate, receivable
/// already financed, ...) or the flags for review. Nothing is sent or stored.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FinancingCheckResult {
    /// The code and message the offer would be refused with, if any.
    pub(crate) refusal: Option<ErrorDetail>,
    pub(crate) review: Vec<ReviewFlag>,
}

/// A page of financings, newest first; pass `next_after` as `after` for the next page.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FinancingPage {
    pub(crate) items: Vec<FinancingView>,
    pub(crate) next_after: Option<i64>,
}

/// Filters and pagination.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct FinancingQuery {
    /// Only financings in this state.
    pub(crate) state: Option<String>,
    /// Only where the caller is the `financier` or the `firm`.
    pub(crate) role: Option<String>,
    /// 1..=100, default 20.
    pub(crate) limit: Option<u64>,
    /// Only financings with a smaller id.
    pub(crate) after: Option<i64>,
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orders/{id}/milestones/{index}/financing-offers", post(offer))
        .route("/financings", get(list))
        .route("/financings/check", post(check))
        .route("/financings/{id}", get(get_financing))
        .route("/financings/{id}/accept", post(accept))
        .route("/financings/{id}/decline", post(decline))
        .route("/financings/{id}/withdraw", post(withdraw))
        .route("/financings/{id}/advance", post(advance))
        .route("/financings/{id}/advance/acknowledge", post(acknowledge_advance))
        .route("/financings/{id}/approve", post(approve))
        .route("/financings/{id}/lapse", post(lapse))
        .route("/financings/{id}/cancel", post(cancel))
        .route("/financings/{id}/repayment/release", post(release_repayment))
        .route("/financings/{id}/repayment/confirm", post(confirm_repayment))
}

/// States in which a financing still counts for near duplicates.
const OPEN_STATES: [&str; 5] = ["offered", "accepted", "live", "awaiting_repayment", "repayment_due"];

/// Flags for an offer with the registry's `answer`: every open financing under the same
/// near key (under any key version in its rotation window) whose other fields differ.
async fn near_flags(state: &AppState, answer: &registry::Answer) -> Result<Vec<ReviewFlag>, sea_orm::DbErr> {
    let mut flags = Vec::new();
    for version in &answer.keys {
        flags.extend(near_flags_under(state, &version.near).await?);
    }
    flags.sort_by_key(|f| f.financing_id);
    flags.dedup_by_key(|f| f.financing_id);
    Ok(flags)
}

async fn near_flags_under(state: &AppState, keys: &NearKeys) -> Result<Vec<ReviewFlag>, sea_orm::DbErr> {
    let rows = near_key::Entity::find()
        .filter(near_key::Column::NearKey.eq(format!("{:#x}", keys.near_key)))
        .order_by_asc(near_key::Column::FinancingId)
        .all(&state.db)
        .await?;
    let mut flags = Vec::new();
    for row in rows {
        let differs: Vec<String> = [
            ("amount", &row.amount_digest, keys.amount),
            ("date", &row.date_digest, keys.date),
            ("buyer", &row.buyer_digest, keys.buyer),
        ]
        .into_iter()
        .filter(|(_, theirs, ours)| **theirs != format!("{ours:#x}"))
        .map(|(name, _, _)| name.to_string())
        .collect();
        if differs.is_empty() {
            continue;
        }
        let open = financing::Entity::find_by_id(row.financing_id)
            .one(&state.db)
            .await?
            .is_some_and(|f| OPEN_STATES.contains(&f.state.as_str()));
        if !open {
            continue;
        }
        let verb = if differs.len() == 1 { "differs" } else { "differ" };
        flags.push(ReviewFlag {
            code: "NEAR_DUPLICATE".into(),
            financing_id: row.financing_id,
            reason: format!(
                "same invoice number and seller as financing {}; {} {verb}",
                row.financing_id,
                differs.join(" and ")
            ),
            differs,
        });
    }
    Ok(flags)
}

fn validate_invoice(inv: &Invoice) -> ApiResult<(String, u128, String)> {
    let number = registry::normalise_invoice_number(&inv.number);
    if number.is_empty() || inv.number.len() > 64 {
        return Err(ApiError::validation(
            "VALIDATION_FAILED",
            "invoice.number must be 1 to 64 bytes with at least one letter or digit",
        ));
    }
    let date = terms::iso_date(&inv.date)
        .ok_or_else(|| ApiError::validation("INVALID_DATES", "invoice.date must be YYYY-MM-DD"))?;
    let amount = terms::amount("invoice.amount_minor", &inv.amount_minor)?;
    let currency = inv.currency.to_ascii_uppercase();
    terms::currency_exponent(&currency)?;
    Ok((date.format("%Y-%m-%d").to_string(), amount, currency))
}

fn not_found(id: i64) -> ApiError {
    ApiError::not_found("FINANCING_NOT_FOUND", format!("financing {id} not found"))
}

/// The financing `id` if the caller may see it, else `FINANCING_NOT_FOUND` (whether it
/// exists is not revealed).
async fn load_visible(state: &AppState, caller: &Caller, id: i64) -> ApiResult<FinancingView> {
    let f = financing::Entity::find_by_id(id).one(&state.db).await?.ok_or_else(|| not_found(id))?;
    let o = order::Entity::find_by_id(f.order_id).one(&state.db).await?;
    if !caller.is_operator() && !access::financing_viewers(&f, o.as_ref()).contains(&caller.addr) {
        return Err(not_found(id));
    }
    let currency = o.map(|o| o.currency).unwrap_or_default();
    Ok(view(state, f, &currency, &caller.addr).await?)
}

async fn view(
    state: &AppState,
    f: financing::Model,
    currency: &str,
    viewer: &str,
) -> Result<FinancingView, sea_orm::DbErr> {
    let review = if f.financier == viewer {
        financing_review::Entity::find_by_id(f.id)
            .one(&state.db)
            .await?
            .and_then(|n| serde_json::from_str(&n.review).ok())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let fingerprints = fingerprint::Entity::find()
        .filter(fingerprint::Column::FinancingId.eq(f.id))
        .filter(fingerprint::Column::Live.eq(true))
        .order_by_asc(fingerprint::Column::Fingerprint)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|fp| fp.fingerprint)
        .collect();
    Ok(FinancingView {
        id: f.id,
        kind: f.kind,
        state: f.state,
        financier: f.financier,
        firm: f.firm,
        order_id: f.order_id,
        milestone: f.milestone,
        amount: terms::render(&f.amount, currency),
        amount_minor: f.amount,
        currency: currency.to_string(),
        rate_bps: f.rate_bps,
        extra_days: f.extra_days,
        offered_at: f.offered_at,
        accepted_at: f.accepted_at,
        deadline: f.deadline,
        seller_approved: f.seller_approved,
        bank_approved: f.bank_approved,
        advance_reference: f.advance_ref,
        advance_acknowledged: f.advance_acknowledged,
        cancel_requested_by: f.cancel_requested_by,
        repayment_due: f.repayment_due,
        repayment_amount_minor: f.repayment_amount,
        repayment_reference: f.repayment_ref,
        settled_at: f.settled_at,
        fingerprints,
        review,
    })
}

/// A financier offers to finance milestone `index` of order `id`.
#[utoipa::path(post, path = "/v1/orders/{id}/milestones/{index}/financing-offers", tag = "financing",
    operation_id = "offer_financing",
    params(("id" = i64, Path), ("index" = u64, Path)), request_body = FinancingOffer,
    responses((status = 201, body = FinancingView,
            description = "offered; `review` lists near duplicates (NEAR_DUPLICATE) for the financier to review"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "RECEIVABLE_ALREADY_FINANCED, DUPLICATE_FINGERPRINT, ..."),
        (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn offer(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs((id, index)): PathArgs<(i64, u64)>,
    Body(req): Body<FinancingOffer>,
) -> ApiResult<(StatusCode, Json<FinancingView>)> {
    let (input, keys) = prepare(&state, &caller, id, index, &req).await?;
    let review = near_flags(&state, &keys).await?;
    let receipt = transaction::transact(&state, &caller, state.suite.receivables, Bytes::from(input)).await?;
    let financing_id = receipt
        .logs
        .iter()
        .filter(|l| l.address == state.suite.receivables)
        .find_map(|l| Receivables::FinancingOffered::decode_log(l).ok())
        .map(|e| i64::try_from(e.data.financingId).unwrap_or(i64::MAX))
        .ok_or_else(|| ApiError::internal("no FinancingOffered in the receipt"))?;
    financing_review::Entity::insert(financing_review::ActiveModel {
        financing_id: sea_orm::ActiveValue::Set(financing_id),
        review: sea_orm::ActiveValue::Set(serde_json::to_string(&review).map_err(ApiError::internal)?),
    })
    .exec(&state.db)
    .await?;
    Ok((StatusCode::CREATED, Json(load_visible(&state, &caller, financing_id).await?)))
}

/// What an offer (its order, milestone and body) would meet now: the contract's refusal,
/// found by simulating it as the caller, or the near-duplicate flags. Changes nothing.
#[utoipa::path(post, path = "/v1/financings/check", tag = "financing", operation_id = "check_financing",
    request_body = FinancingCheck,
    responses((status = 200, body = FinancingCheckResult), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn check(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<FinancingCheck>,
) -> ApiResult<Json<FinancingCheckResult>> {
    let (input, keys) = prepare(&state, &caller, req.order_id, req.milestone, &req.offer).await?;
    let refusal =
        match transaction::simulate(&state, caller.address, state.suite.receivables, &Bytes::from(input)).await {
            Ok(_) => None,
            Err(e) if e.status.is_server_error() => return Err(e),
            Err(e) => Some(ErrorDetail { code: e.code, message: e.message }),
        };
    let review = near_flags(&state, &keys).await?;
    Ok(Json(FinancingCheckResult { refusal, review }))
}

/// Whether `caller` may offer on `o` (or check an offer): the firm whose receivable it is
/// (`firm`) consented (`Consents.hasConsent`, on chain; the contract requires it too), or
/// the caller already sees the order or has an offer on it.
async fn may_offer(state: &AppState, caller: &Caller, o: &order::Model, firm: Address) -> ApiResult<bool> {
    if access::may_view(&state.db, o, &caller.addr).await? {
        return Ok(true);
    }
    let own = financing::Entity::find()
        .filter(financing::Column::OrderId.eq(o.id))
        .filter(financing::Column::Financier.eq(caller.addr.as_str()))
        .one(&state.db)
        .await?;
    if own.is_some() {
        return Ok(true);
    }
    let consent = Consents::hasConsentCall { firm, financier: caller.address };
    Ok(tradechain_chain::call_sol(state.chain.as_ref(), caller.address, state.suite.consents, &consent).await?)
}

/// Validate an offer on milestone `index` of order `id`; its calldata and near keys.
async fn prepare(
    state: &AppState,
    caller: &Caller,
    id: i64,
    index: u64,
    req: &FinancingOffer,
) -> ApiResult<(Vec<u8>, registry::Answer)> {
    if req.rate_bps > 10_000 {
        return Err(ApiError::validation("INVALID_RATE", "rate_bps must be 0..=10000"));
    }
    // The contract's bound on what a buyer's bank can be made to pay on top.
    if req.kind == FinancingKind::Payable && req.rate_bps > MAX_FEE_BPS {
        return Err(ApiError::validation("INVALID_FEE", format!("a payables fee is at most {MAX_FEE_BPS} bps")));
    }
    let deadline_days = req.deadline_days.unwrap_or(DEFAULT_DEADLINE_DAYS);
    if !(1..=MAX_DEADLINE_DAYS).contains(&deadline_days) {
        return Err(ApiError::validation("INVALID_DEADLINE", format!("deadline_days must be 1..={MAX_DEADLINE_DAYS}")));
    }
    let (date, amount, currency) = validate_invoice(&req.invoice)?;
    if caller.roles & role::FINANCIER == 0 {
        return Err(ApiError::forbidden("NOT_FINANCIER", "only a financier offers financing"));
    }
    let o = order::Entity::find_by_id(id).one(&state.db).await?.ok_or_else(|| ApiError::order_not_found(id))?;
    let seller = terms::address("seller", &o.seller)?;
    let buyer = terms::address("buyer", &o.buyer)?;
    let firm = if req.kind == FinancingKind::Receivable { seller } else { buyer };
    if !may_offer(state, caller, &o, firm).await? {
        // The same answer as for an order that does not exist: an offer, or its check,
        // says nothing about an order the firm did not let this financier see.
        return Err(ApiError::order_not_found(id));
    }
    // The registry's digests (HMAC under its key): the current key's register the offer; during
    // a rotation window the older keys' join them, so a duplicate registered before the
    // rotation is still refused.
    let query = registry::Query {
        financier: caller.address,
        order_id: u64::try_from(id).unwrap_or_default(),
        milestone: index,
        side: if req.kind == FinancingKind::Receivable { registry::Side::Receivable } else { registry::Side::Payable },
        invoice: registry::InvoiceFields { number: req.invoice.number.clone(), date, amount, currency },
    };
    let answer = state.registry.ask(state, caller, &query).await?;
    let Some(current) = answer.keys.first() else { return Err(ApiError::internal("the registry holds no key")) };
    let mut documents: Vec<B256> = answer.keys[1..].iter().map(|k| k.invoice).collect();
    documents.extend(answer.keys.iter().filter_map(|k| k.bill_of_lading));
    // The contract binds each to the order's seller and buyer before registering it.
    let fps = Receivables::Fingerprints { invoice: current.invoice, documents };
    let (order_id, milestone) = (U256::from(id.max(0) as u64), U256::from(index));
    let n = &current.near;
    let near = Receivables::NearKeys { key: n.near_key, amount: n.amount, date: n.date, buyer: n.buyer };
    let input = match req.kind {
        FinancingKind::Receivable => {
            let advance = req.advance_minor.as_deref().ok_or_else(|| {
                ApiError::validation("VALIDATION_FAILED", "advance_minor is required for receivables finance")
            })?;
            let advance = terms::amount("advance_minor", advance)?;
            Receivables::offerReceivableFinanceCall {
                orderId: order_id,
                milestone,
                advance,
                discountBps: req.rate_bps,
                deadlineDays: deadline_days,
                fps,
                near,
            }
            .abi_encode()
        }
        FinancingKind::Payable => {
            let extra_days = req.extra_days.filter(|d| (1..=360).contains(d)).ok_or_else(|| {
                ApiError::validation("INVALID_TENOR", "extra_days (1..=360) is required for payables finance")
            })?;
            Receivables::offerPayablesFinanceCall {
                orderId: order_id,
                milestone,
                extraDays: extra_days,
                feeBps: req.rate_bps,
                deadlineDays: deadline_days,
                fps,
                near,
            }
            .abi_encode()
        }
    };
    Ok((input, answer))
}

/// Financings where the caller is the financier or the firm, newest first.
#[utoipa::path(get, path = "/v1/financings", tag = "financing", operation_id = "list_financings",
    params(FinancingQuery),
    responses((status = 200, body = FinancingPage), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<FinancingQuery>,
) -> ApiResult<Json<FinancingPage>> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation("VALIDATION_FAILED", "limit must be 1..=100"));
    }
    let me = caller.addr.as_str();
    let scope = match q.role.as_deref() {
        None => Condition::any().add(financing::Column::Financier.eq(me)).add(financing::Column::Firm.eq(me)),
        Some("financier") => Condition::all().add(financing::Column::Financier.eq(me)),
        Some("firm") => Condition::all().add(financing::Column::Firm.eq(me)),
        Some(other) => {
            return Err(ApiError::validation(
                "VALIDATION_FAILED",
                format!("role {other:?}: expected financier or firm"),
            ));
        }
    };
    let mut query = financing::Entity::find().filter(scope);
    if let Some(s) = &q.state {
        if FinancingState::parse(s).is_none() {
            return Err(ApiError::validation("VALIDATION_FAILED", format!("unknown state {s:?}")));
        }
        query = query.filter(financing::Column::State.eq(s.as_str()));
    }
    if let Some(after) = q.after {
        query = query.filter(financing::Column::Id.lt(after));
    }
    let rows = query.order_by_desc(financing::Column::Id).limit(limit + 1).all(&state.db).await?;
    let more = rows.len() as u64 > limit;
    let mut items = Vec::new();
    for f in rows.into_iter().take(limit as usize) {
        let currency =
            order::Entity::find_by_id(f.order_id).one(&state.db).await?.map(|o| o.currency).unwrap_or_default();
        items.push(view(&state, f, &currency, &caller.addr).await?);
    }
    let next_after = if more { items.last().map(|f| f.id) } else { None };
    Ok(Json(FinancingPage { items, next_after }))
}

/// One financing.
#[utoipa::path(get, path = "/v1/financings/{id}", tag = "financing", params(("id" = i64, Path)),
    responses((status = 200, body = FinancingView), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub(crate) async fn get_financing(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<i64>,
) -> ApiResult<Json<FinancingView>> {
    Ok(Json(load_visible(&state, &caller, id).await?))
}

/// Send `input` to Receivables as the caller, for a financing it can see; answer it.
async fn act(state: &AppState, caller: &Caller, id: i64, input: Vec<u8>) -> ApiResult<Json<FinancingView>> {
    load_visible(state, caller, id).await?;
    transaction::transact(state, caller, state.suite.receivables, Bytes::from(input)).await?;
    Ok(Json(load_visible(state, caller, id).await?))
}

fn fid(id: i64) -> U256 {
    U256::from(id.max(0) as u64)
}

/// The contract's bound on a payables fee (25 % of the milestone).
const MAX_FEE_BPS: u16 = 2_500;
/// An offer's deadline when the financier states none.
const DEFAULT_DEADLINE_DAYS: u8 = 10;
/// The contract's longest deadline.
const MAX_DEADLINE_DAYS: u8 = 30;

contract_action!(
    /// The firm takes the offer: the receivable and the fingerprints are reserved until
    /// the deadline; the financing binds once the advance is acknowledged (receivables) or
    /// the seller and the buyer's bank approved (payables).
    accept, "/v1/financings/{id}/accept", "financing", "_financing", FinancingView, act, |id| Receivables::acceptCall { financingId: fid(id) });
contract_action!(
    /// The firm declines the offer.
    decline, "/v1/financings/{id}/decline", "financing", "_financing", FinancingView, act, |id| Receivables::declineCall { financingId: fid(id) });
contract_action!(
    /// The financier withdraws an open offer.
    withdraw, "/v1/financings/{id}/withdraw", "financing", "_financing", FinancingView, act, |id| Receivables::withdrawCall { financingId: fid(id) });

contract_action!(
    /// Receivables: the seller acknowledges it received the advance the financier
    /// recorded; only now are the milestone's proceeds assigned to the financier.
    acknowledge_advance, "/v1/financings/{id}/advance/acknowledge", "financing", "_financing", FinancingView, act, |id| Receivables::acknowledgeAdvanceCall { financingId: fid(id) });
contract_action!(
    /// Payables: the seller (its payer changes) or the buyer's bank (it repays the
    /// financier, fee included) approves the buyer's acceptance; with both, the financier
    /// is the milestone's payer.
    approve, "/v1/financings/{id}/approve", "financing", "_financing", FinancingView, act, |id| Receivables::approveCall { financingId: fid(id) });
contract_action!(
    /// Anyone releases a reservation not made binding by its deadline, or a financing
    /// whose order ended unpaid: the receivable and its fingerprints are free again.
    lapse, "/v1/financings/{id}/lapse", "financing", "_financing", FinancingView, act, |id| Receivables::lapseCall { financingId: fid(id) });
contract_action!(
    /// The financier or the firm asks to cancel; on the other's request too, the financing
    /// ends and the seller is the payee, the buyer's bank the payer again.
    cancel, "/v1/financings/{id}/cancel", "financing", "_financing", FinancingView, act, |id| Receivables::cancelCall { financingId: fid(id) });

contract_action!(
    /// Payables: from the extended due date, release the buyer's repayment (anyone may);
    /// emits RepaymentDue to the buyer's bank.
    release_repayment, "/v1/financings/{id}/repayment/release", "financing", "_financing", FinancingView, act, |id| Receivables::releaseRepaymentCall { financingId: fid(id) });

/// Payables: the buyer's bank confirms it repaid the financier; the financing settles.
#[utoipa::path(post, path = "/v1/financings/{id}/repayment/confirm", tag = "financing", params(("id" = i64, Path)),
    request_body = AdvanceReport,
    responses((status = 200, body = FinancingView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn confirm_repayment(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<i64>,
    Body(r): Body<AdvanceReport>,
) -> ApiResult<Json<FinancingView>> {
    let call = Receivables::confirmRepaymentCall {
        financingId: fid(id),
        paymentReference: crate::order::reference(&r.reference)?,
    };
    act(&state, &caller, id, call.abi_encode()).await
}

/// The financier records the advance it paid the seller (receivables finance).
#[utoipa::path(post, path = "/v1/financings/{id}/advance", tag = "financing", operation_id = "record_advance", params(("id" = i64, Path)),
    request_body = AdvanceReport,
    responses((status = 200, body = FinancingView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn advance(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<i64>,
    Body(r): Body<AdvanceReport>,
) -> ApiResult<Json<FinancingView>> {
    let call = Receivables::confirmAdvanceCall {
        financingId: fid(id),
        paymentReference: crate::order::reference(&r.reference)?,
    };
    act(&state, &caller, id, call.abi_encode()).await
}
