//! Orders: propose (validated at the edge, details kept off chain under their keccak256),
//! accept, reject, commit, cancel, expire, amend, dispute, payment release and
//! confirmation, list and detail; a financier's view of a firm's history under consent.
//!
//! Every write is the caller's own transaction (custodial signing, see
//! [`crate::transaction`]); the contract checks roles and states, and its revert comes
//! back as the stable code. Reads go through [`view::load_visible`]: an organisation that
//! is not a party (nor the financier of an accepted financing of the order) gets
//! `ORDER_NOT_FOUND`.

pub(crate) mod details;
pub(crate) mod view;

use alloy::primitives::{Address, B256, Bytes, FixedBytes, U256, keccak256};
use alloy::sol_types::{SolCall, SolEvent};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tradechain_contracts::{DocType, TradeOrders, role};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::consortium::item::Item;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::request::{Body, PathArgs, QueryArgs, contract_action};
use crate::{AppState, terms, transaction};
use details::WrittenFor;
use tradechain_peer::envelope::Kind;
use view::{OrderDetail, OrderPage, OrderQuery};

/// JSON with object keys sorted at every level and no whitespace: the form whose
/// keccak256 is an order's on-chain `detailsHash`.
pub(crate) fn canonical_json(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> =
                keys.into_iter().map(|k| format!("{}:{}", Value::String(k.clone()), canonical_json(&map[k]))).collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical_json).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// One line of the goods.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct LineItem {
    pub(crate) description: String,
    /// Decimal string, e.g. "1200".
    pub(crate) quantity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) unit_price_minor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) hs_code: Option<String>,
}

/// The order's details kept off chain (their hash is on chain).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub(crate) struct OrderDetails {
    #[serde(default)]
    pub(crate) line_items: Vec<LineItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) port_of_loading: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) port_of_discharge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) notes: Option<String>,
}

/// One payment term: exactly one of `share_bps` and `amount_minor`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct MilestoneRequest {
    /// Share of the order amount in basis points (1..=10000).
    pub(crate) share_bps: Option<u16>,
    /// Exact amount in minor units.
    pub(crate) amount_minor: Option<String>,
    /// Documents whose acceptance triggers the milestone, e.g. ["bill_of_lading"].
    pub(crate) documents: Vec<String>,
    /// 0 = at sight; usance otherwise (<= 720).
    #[serde(default)]
    pub(crate) tenor_days: u16,
}

/// A buyer's proposal.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct ProposeOrder {
    pub(crate) seller: String,
    pub(crate) buyer_bank: String,
    pub(crate) seller_bank: String,
    /// The carrier that attests the bill of lading (0x): required when a milestone needs
    /// one; never a party to the order.
    #[serde(default)]
    pub(crate) carrier: Option<String>,
    /// The inspector that attests the inspection certificate (0x): required when a
    /// milestone needs one; never a party to the order.
    #[serde(default)]
    pub(crate) inspector: Option<String>,
    pub(crate) amount_minor: String,
    /// ISO 4217
    pub(crate) currency: String,
    /// Incoterms 2020
    pub(crate) incoterm: String,
    /// YYYY-MM-DD (end of day UTC)
    pub(crate) latest_shipment: String,
    /// YYYY-MM-DD (end of day UTC), not before latest_shipment
    pub(crate) expiry: String,
    /// Banking days the buyer's bank has to examine (1..=5, default 5: UCP 600 art. 14(b)).
    pub(crate) examination_days: Option<u8>,
    /// Who bears the banks' charges of the payments: `shared` (default), `debtor` (the
    /// buyer) or `creditor` (the seller); ISO 20022 `ChrgBr` SHAR, DEBT, CRED. Euro payments
    /// within SEPA share them by the scheme's rules whatever this says.
    #[serde(default)]
    pub(crate) charges: Option<String>,
    pub(crate) milestones: Vec<MilestoneRequest>,
    #[serde(default)]
    pub(crate) details: OrderDetails,
}

/// A reason (rejection, dispute, resolution).
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct Reason {
    pub(crate) reason: String,
}

/// New dates and details, to be approved by the other party.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct AmendOrder {
    pub(crate) latest_shipment: String,
    pub(crate) expiry: String,
    /// New details; omitted: unchanged.
    pub(crate) details: Option<OrderDetails>,
}

/// The payer bank's confirmation (or failure) of a due payment.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct PaymentReport {
    /// The bank's reference (<= 32 ASCII bytes, e.g. the ISO 20022 EndToEndId or its own id).
    pub(crate) reference: String,
    /// Only for a failure: the ISO 20022 status reason code (four upper-case letters or
    /// digits, e.g. AM04).
    pub(crate) reason_code: Option<String>,
    /// Only for a failure: its words (e.g. "insufficient funds").
    pub(crate) reason: Option<String>,
}

fn now() -> u64 {
    tradechain_engine::node::unix_now()
}

/// The canonical JSON of the details and its keccak256 (the on-chain `detailsHash`).
pub(crate) fn details_hash(d: &OrderDetails) -> ApiResult<(B256, String)> {
    let value = serde_json::to_value(d).map_err(ApiError::internal)?;
    let body = canonical_json(&value);
    Ok((keccak256(body.as_bytes()), body))
}

/// Checks every rule of a proposal and builds the contract's arguments.
pub(crate) fn validate(
    req: &ProposeOrder,
) -> ApiResult<(TradeOrders::OrderTerms, Vec<TradeOrders::MilestoneTerms>, [Address; 3])> {
    let seller = terms::address("seller", &req.seller)?;
    let buyer_bank = terms::address("buyer_bank", &req.buyer_bank)?;
    let seller_bank = terms::address("seller_bank", &req.seller_bank)?;
    let carrier = req.carrier.as_deref().map(|c| terms::address("carrier", c)).transpose()?;
    let inspector = req.inspector.as_deref().map(|i| terms::address("inspector", i)).transpose()?;
    let amount = terms::amount("amount_minor", &req.amount_minor)?;
    if amount > terms::MAX_ORDER_AMOUNT {
        return Err(ApiError::validation(
            "AMOUNT_TOO_LARGE",
            format!(
                "amount_minor has more than the 18 digits a payment message carries (at most {})",
                terms::MAX_ORDER_AMOUNT
            ),
        ));
    }
    let charges = terms::charges(req.charges.as_deref())?;
    terms::currency_exponent(&req.currency)?;
    terms::incoterm(&req.incoterm)?;
    let latest = terms::date_end("latest_shipment", &req.latest_shipment)?;
    let expiry = terms::date_end("expiry", &req.expiry)?;
    terms::dates(latest, expiry, now())?;
    let exam = req.examination_days.unwrap_or(5);
    if !(1..=5).contains(&exam) {
        return Err(ApiError::validation("VALIDATION_FAILED", "examination_days must be 1..=5 (UCP 600 art. 14(b))"));
    }
    let n = req.milestones.len();
    if n == 0 || n > 8 {
        return Err(ApiError::validation("INVALID_MILESTONE", "an order has 1 to 8 milestones"));
    }
    let mut out = Vec::with_capacity(n);
    let (mut sum_fixed, mut sum_bps) = (0u128, 0u128);
    for (i, m) in req.milestones.iter().enumerate() {
        let bad = |why: &str| ApiError::validation("INVALID_MILESTONE", format!("milestone {i}: {why}"));
        let fixed = m.amount_minor.as_deref().map(|a| terms::amount("amount_minor", a)).transpose()?;
        let share = m.share_bps.filter(|s| *s > 0);
        if fixed.is_some() == share.is_some() {
            return Err(bad("give exactly one of share_bps and amount_minor"));
        }
        if share.is_some_and(|s| s > 10_000) {
            return Err(bad("share_bps is at most 10000"));
        }
        if m.documents.is_empty() {
            return Err(bad("name at least one document"));
        }
        if m.tenor_days > 720 {
            return Err(bad("tenor_days is at most 720"));
        }
        let mut mask = 0u16;
        for d in &m.documents {
            mask |= terms::doc_type(d)?.bit();
        }
        sum_fixed = sum_fixed.saturating_add(fixed.unwrap_or(0));
        sum_bps += u128::from(share.unwrap_or(0));
        out.push(TradeOrders::MilestoneTerms {
            shareBps: share.unwrap_or(0),
            fixedAmount: fixed.unwrap_or(0),
            requiredDocs: mask,
            tenorDays: m.tenor_days,
        });
    }
    let covered =
        sum_fixed.checked_mul(10_000).and_then(|f| amount.checked_mul(sum_bps).and_then(|b| f.checked_add(b)));
    if sum_fixed > amount || covered != amount.checked_mul(10_000) {
        return Err(ApiError::validation(
            "MILESTONES_DO_NOT_SUM",
            "milestone shares and amounts must cover exactly 100% of the amount",
        ));
    }
    // As the contract allocates: every fixed milestone exactly its amount, every share
    // milestone its floored share, the last share milestone the rounding remainder.
    let amounts = milestone_amounts(amount, &out);
    if let Some(i) = amounts.iter().position(|a| *a == 0) {
        return Err(ApiError::validation("INVALID_MILESTONE", format!("milestone {i} would be zero")));
    }
    let required = out.iter().fold(0u16, |m, t| m | t.requiredDocs);
    // The contract also refuses the buyer, the caller, as an attester.
    let parties = [seller, buyer_bank, seller_bank];
    for (name, who, doc) in
        [("carrier", carrier, DocType::BillOfLading), ("inspector", inspector, DocType::InspectionCertificate)]
    {
        if required & doc.bit() != 0 && who.is_none() {
            return Err(ApiError::validation(
                "VALIDATION_FAILED",
                format!("{name} is required: a milestone needs a {doc} it attests"),
            ));
        }
        if who.is_some_and(|w| parties.contains(&w)) {
            return Err(ApiError::validation("INVALID_ATTESTER", format!("{name} may not be a party to the order")));
        }
    }
    let code = |s: &str| FixedBytes::<3>::from_slice(s.as_bytes());
    let t = TradeOrders::OrderTerms {
        seller,
        buyerBank: buyer_bank,
        sellerBank: seller_bank,
        carrier: carrier.unwrap_or_default(),
        inspector: inspector.unwrap_or_default(),
        amount,
        currency: code(&req.currency),
        incoterm: code(&req.incoterm),
        detailsHash: B256::ZERO,
        latestShipment: latest,
        expiry,
        examinationDays: exam,
        charges: charges as u8,
    };
    Ok((t, out, [seller, buyer_bank, seller_bank]))
}

/// Each milestone's amount as the contract allocates it: fixed amounts exactly, shares
/// floored, the rounding remainder to the last share milestone.
pub(crate) fn milestone_amounts(amount: u128, terms: &[TradeOrders::MilestoneTerms]) -> Vec<u128> {
    let share = |m: &TradeOrders::MilestoneTerms| {
        if m.fixedAmount != 0 { m.fixedAmount } else { amount * u128::from(m.shareBps) / 10_000 }
    };
    let mut out: Vec<u128> = terms.iter().map(share).collect();
    let allocated: u128 = out.iter().sum();
    if let Some(last) = terms.iter().rposition(|m| m.fixedAmount == 0) {
        out[last] += amount - allocated;
    }
    out
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orders", post(propose).get(list))
        .route("/orders/{id}", get(get_order))
        .route("/orders/{id}/accept", post(accept))
        .route("/orders/{id}/reject", post(reject))
        .route("/orders/{id}/commit", post(commit))
        .route("/orders/{id}/cancel", post(cancel))
        .route("/orders/{id}/expire", post(expire))
        .route("/orders/{id}/amendments", post(amend))
        .route("/orders/{id}/amendments/{amendment}/approve", post(approve_amendment))
        .route("/orders/{id}/disputes", post(raise_dispute))
        .route("/orders/{id}/disputes/resolve", post(resolve_dispute))
        .route("/orders/{id}/milestones/{index}/release", post(release))
        .route("/orders/{id}/milestones/{index}/confirm", post(confirm_payment))
        .route("/orders/{id}/milestones/{index}/fail", post(fail_payment))
        .route("/firms/{address}/orders", get(firm_history))
}

/// Propose an order as its buyer.
#[utoipa::path(post, path = "/v1/orders", tag = "orders", request_body = ProposeOrder,
    responses((status = 201, body = OrderDetail), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn propose(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<ProposeOrder>,
) -> ApiResult<(StatusCode, Json<OrderDetail>)> {
    let (mut t, terms, _) = validate(&req)?;
    if caller.roles & role::TRADER == 0 {
        return Err(ApiError::forbidden("MISSING_ROLE", "only a trader may propose an order"));
    }
    let details = details_hash(&req.details)?;
    t.detailsHash = details.0;
    let input: Bytes = TradeOrders::proposeCall { t, terms }.abi_encode().into();
    // Nothing is stored unless the chain would accept the proposal.
    let (gas, signer) = transaction::simulate_and_signer(&state, &caller, state.suite.trade_orders, &input).await;
    let (gas, signer) = (gas?, signer?);
    // The details, and that the caller wrote them to propose with them: the indexer records
    // them as written here for the order in the block that indexes it, so no crash between
    // the receipt and a later record leaves them undelivered.
    details::store(&state, details, WrittenFor::Proposal(caller.address)).await?;
    let receipt =
        transaction::transact_signed(&state, &signer, &caller, state.suite.trade_orders, input, Some(gas)).await?;
    let id = receipt
        .logs
        .iter()
        .filter(|l| l.address == state.suite.trade_orders)
        .find_map(|l| TradeOrders::OrderProposed::decode_log(l).ok())
        .map(|e| i64::try_from(e.data.orderId).unwrap_or(i64::MAX))
        .ok_or_else(|| ApiError::internal("no OrderProposed in the receipt"))?;
    Ok((StatusCode::CREATED, Json(view::load_detail(&state, &caller, id).await?)))
}

/// Orders the caller is a party to, newest first.
#[utoipa::path(get, path = "/v1/orders", tag = "orders", operation_id = "list_orders", params(OrderQuery),
    responses((status = 200, body = OrderPage), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<OrderQuery>,
) -> ApiResult<Json<OrderPage>> {
    Ok(Json(view::list(&state, &caller.addr, &q, false).await?))
}

/// One order with its milestones, documents and timeline.
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "orders", params(("id" = i64, Path)),
    responses((status = 200, body = OrderDetail), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub(crate) async fn get_order(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<i64>,
) -> ApiResult<Json<OrderDetail>> {
    let view::WithDetails { order: o, mut kept_details } = view::load(&state, &caller, id).await?;
    // Details a consortium peer should have delivered but has not (yet): asked for now, and
    // read again once fetched. Details found with the order were kept for it already.
    if kept_details.is_none()
        && let Ok(hash) = o.details_hash.parse()
        && !crate::consortium::item::kept_for(&state.db, &Item { order_id: o.id, kind: Kind::Details, hash }).await?
    {
        let it = Item { order_id: o.id, kind: Kind::Details, hash };
        match crate::consortium::fetch::missing(&state, &o, &it).await {
            Ok(true) => kept_details = view::load(&state, &caller, id).await?.kept_details,
            Ok(false) => {}
            Err(e) => tracing::warn!(order = o.id, code = %e.code, error = %e.message, "order details not fetched"),
        }
    }
    Ok(Json(view::detail(&state, o, kept_details).await?))
}

/// Send `input` to TradeOrders as the caller, for an order it can see; answer the order.
pub(crate) async fn act(state: &AppState, caller: &Caller, id: i64, input: Vec<u8>) -> ApiResult<Json<OrderDetail>> {
    // Both reads at once; an order the caller may not see is answered before a missing key.
    let (visible, signer) = tokio::join!(view::load_visible(state, caller, id), transaction::signer_of(state, caller));
    visible?;
    let signer = signer?;
    act_signed(state, &signer, caller, id, input, None).await
}

/// Send `input` to TradeOrders with the caller's custodial signer found already (see
/// [`transaction::transact_signed`]: a handler that stores something first looks it up
/// before), the gas it used when the handler simulated it; answer the order, as the caller
/// may see it (read through [`view::load_visible`] again: some of the contract's functions,
/// `expire` and `releasePayment`, anyone may call).
pub(crate) async fn act_signed(
    state: &AppState,
    signer: &alloy::signers::local::PrivateKeySigner,
    caller: &Caller,
    id: i64,
    input: Vec<u8>,
    gas_used: Option<u64>,
) -> ApiResult<Json<OrderDetail>> {
    transaction::transact_signed(state, signer, caller, state.suite.trade_orders, Bytes::from(input), gas_used).await?;
    Ok(Json(view::load_detail(state, caller, id).await?))
}

fn oid(id: i64) -> U256 {
    U256::from(id.max(0) as u64)
}

contract_action!(
    /// The seller accepts a proposed order.
    accept, "/v1/orders/{id}/accept", "orders", "_order", OrderDetail, act, |id| TradeOrders::acceptCall { orderId: oid(id) });
/// The buyer's bank's commitment: how it covers its undertaking.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Commitment {
    /// `bank_risk` (default): the bank pays from its own account and claims the buyer
    /// separately; `earmark`: the buyer's funds are held from now until the milestones are
    /// paid, or released when the order ends. Either way a payment never fails for want of
    /// the buyer's funds.
    pub(crate) cover: Option<String>,
}

/// The buyer's bank commits its irrevocable payment undertaking, stating its cover.
#[utoipa::path(post, path = "/v1/orders/{id}/commit", tag = "orders", operation_id = "commit_order",
    params(("id" = i64, Path)), request_body = Commitment,
    responses((status = 200, body = OrderDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn commit(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<i64>,
    Body(c): Body<Commitment>,
) -> ApiResult<Json<OrderDetail>> {
    let cover = terms::cover(c.cover.as_deref())?;
    act(&state, &caller, id, TradeOrders::commitCall { orderId: oid(id), cover: cover as u8 }.abi_encode()).await
}
contract_action!(
    /// The buyer withdraws a proposal; once accepted, both parties must ask.
    cancel, "/v1/orders/{id}/cancel", "orders", "_order", OrderDetail, act, |id| TradeOrders::cancelCall { orderId: oid(id) });
contract_action!(
    /// Record that an order expired with no milestone triggered.
    expire, "/v1/orders/{id}/expire", "orders", "_order", OrderDetail, act, |id| TradeOrders::expireCall { orderId: oid(id) });

/// The seller rejects a proposed order, with a reason.
#[utoipa::path(post, path = "/v1/orders/{id}/reject", tag = "orders", operation_id = "reject_order", params(("id" = i64, Path)), request_body = Reason,
    responses((status = 200, body = OrderDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<i64>,
    Body(r): Body<Reason>,
) -> ApiResult<Json<OrderDetail>> {
    terms::reason(&r.reason)?;
    act(&state, &caller, id, TradeOrders::rejectCall { orderId: oid(id), reason: r.reason }.abi_encode()).await
}

/// Propose new dates (and details); the other party approves.
#[utoipa::path(post, path = "/v1/orders/{id}/amendments", tag = "orders", params(("id" = i64, Path)),
    request_body = AmendOrder,
    responses((status = 200, body = OrderDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn amend(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<i64>,
    Body(req): Body<AmendOrder>,
) -> ApiResult<Json<OrderDetail>> {
    let latest = terms::date_end("latest_shipment", &req.latest_shipment)?;
    let expiry = terms::date_end("expiry", &req.expiry)?;
    terms::dates(latest, expiry, now())?;
    let current = view::load_visible(&state, &caller, id).await?;
    let details = req.details.as_ref().map(details_hash).transpose()?;
    let hash = match &details {
        Some((hash, _)) => *hash,
        None => current.details_hash.parse().map_err(ApiError::internal)?,
    };
    let call =
        TradeOrders::proposeAmendmentCall { orderId: oid(id), detailsHash: hash, latestShipment: latest, expiry };
    let input = call.abi_encode();
    let Some(details) = details else {
        let signer = transaction::signer_of(&state, &caller).await?;
        return act_signed(&state, &signer, &caller, id, input, None).await;
    };
    let (gas, signer) =
        transaction::simulate_and_signer(&state, &caller, state.suite.trade_orders, &input.clone().into()).await;
    let (gas, signer) = (gas?, signer?);
    details::store(&state, details, WrittenFor::Order(id)).await?;
    act_signed(&state, &signer, &caller, id, input, Some(gas)).await
}

/// The other party approves the pending amendment.
#[utoipa::path(post, path = "/v1/orders/{id}/amendments/{amendment}/approve", tag = "orders",
    params(("id" = i64, Path), ("amendment" = u64, Path)),
    responses((status = 200, body = OrderDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn approve_amendment(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs((id, amendment)): PathArgs<(i64, u64)>,
) -> ApiResult<Json<OrderDetail>> {
    let call = TradeOrders::approveAmendmentCall { orderId: oid(id), amendmentId: U256::from(amendment) };
    act(&state, &caller, id, call.abi_encode()).await
}

/// A trading party raises a dispute on a committed order.
#[utoipa::path(post, path = "/v1/orders/{id}/disputes", tag = "orders", params(("id" = i64, Path)), request_body = Reason,
    responses((status = 200, body = OrderDetail), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn raise_dispute(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<i64>,
    Body(r): Body<Reason>,
) -> ApiResult<Json<OrderDetail>> {
    terms::reason(&r.reason)?;
    act(&state, &caller, id, TradeOrders::raiseDisputeCall { orderId: oid(id), reason: r.reason }.abi_encode()).await
}

/// The party that raised the dispute withdraws it.
#[utoipa::path(post, path = "/v1/orders/{id}/disputes/resolve", tag = "orders", params(("id" = i64, Path)),
    request_body = Reason,
    responses((status = 200, body = OrderDetail), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn resolve_dispute(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<i64>,
    Body(r): Body<Reason>,
) -> ApiResult<Json<OrderDetail>> {
    terms::reason(&r.reason)?;
    let call = TradeOrders::resolveDisputeCall { orderId: oid(id), resolution: r.reason };
    act(&state, &caller, id, call.abi_encode()).await
}

/// Release a triggered milestone from its due date (emits PaymentDue to the payer's bank).
#[utoipa::path(post, path = "/v1/orders/{id}/milestones/{index}/release", tag = "payments",
    params(("id" = i64, Path), ("index" = u64, Path)),
    responses((status = 200, body = OrderDetail), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn release(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs((id, index)): PathArgs<(i64, u64)>,
) -> ApiResult<Json<OrderDetail>> {
    act(
        &state,
        &caller,
        id,
        TradeOrders::releasePaymentCall { orderId: oid(id), index: U256::from(index) }.abi_encode(),
    )
    .await
}

pub(crate) fn reference(text: &str) -> ApiResult<B256> {
    let b = text.as_bytes();
    if b.is_empty() || b.len() > 32 || !b.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        return Err(ApiError::validation("VALIDATION_FAILED", "reference must be 1..=32 printable ASCII bytes"));
    }
    let mut word = [0u8; 32];
    word[..b.len()].copy_from_slice(b);
    Ok(B256::from(word))
}

/// The payer bank confirms a due payment with its reference.
#[utoipa::path(post, path = "/v1/orders/{id}/milestones/{index}/confirm", tag = "payments",
    params(("id" = i64, Path), ("index" = u64, Path)), request_body = PaymentReport,
    responses((status = 200, body = OrderDetail), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn confirm_payment(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs((id, index)): PathArgs<(i64, u64)>,
    Body(r): Body<PaymentReport>,
) -> ApiResult<Json<OrderDetail>> {
    let call = TradeOrders::confirmPaymentCall {
        orderId: oid(id),
        index: U256::from(index),
        paymentReference: reference(&r.reference)?,
    };
    act(&state, &caller, id, call.abi_encode()).await
}

/// The payer records that a due payment failed, with the ISO 20022 reason code; a new
/// attempt may be released (after three failures in a row the payer is in default).
#[utoipa::path(post, path = "/v1/orders/{id}/milestones/{index}/fail", tag = "payments",
    params(("id" = i64, Path), ("index" = u64, Path)), request_body = PaymentReport,
    responses((status = 200, body = OrderDetail), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn fail_payment(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs((id, index)): PathArgs<(i64, u64)>,
    Body(r): Body<PaymentReport>,
) -> ApiResult<Json<OrderDetail>> {
    let reason = r.reason.unwrap_or_default();
    terms::reason(&reason)?;
    let code = terms::reason_code(r.reason_code.as_deref().unwrap_or_default())?;
    let call = TradeOrders::failPaymentCall {
        orderId: oid(id),
        index: U256::from(index),
        paymentReference: reference(&r.reference)?,
        reasonCode: FixedBytes(code),
        reason,
    };
    act(&state, &caller, id, call.abi_encode()).await
}

/// A firm's trade history, for a financier holding the firm's live consent (checked on
/// chain, `Consents.hasConsent`); every attempt, served or refused, is written to the
/// audit log (the firm sees it at `GET /v1/consents`).
#[utoipa::path(get, path = "/v1/firms/{address}/orders", tag = "orders",
    params(("address" = String, Path), OrderQuery),
    responses((status = 200, body = OrderPage), (status = 403, body = ErrorBody)), security(("token" = [])))]
pub(crate) async fn firm_history(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(address): PathArgs<String>,
    QueryArgs(q): QueryArgs<OrderQuery>,
) -> ApiResult<Json<OrderPage>> {
    let (_, subject) = crate::consent::require_live_consent(&state, &caller, &address, "firm_history").await?;
    let page = view::list(&state, &subject, &q, true).await?;
    crate::consent::record_read(&state, &caller.addr, &subject, "firm_history").await?;
    Ok(Json(page))
}
