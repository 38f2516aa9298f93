//! Is this trade real? `GET /v1/authenticity` answers from the chain itself through
//! [`tradechain_chain::Chain`] calls (`TradeOrders.getOrder`, `getMilestone`,
//! `getDocument`, `Receivables.financingOf`), read as the node's operator once the caller's entitlement is
//! established, not from the read model: whether the order exists, between whom, in what
//! state, which documents with which hash were presented, attested and accepted by whom,
//! and whether any of its milestones is already financed or reserved by a financing (the
//! double-financing check a lender makes first).
//!
//! Need to know: it is no directory of orders. It answers
//! - whoever already holds what it verifies: an invoice hash (`?invoice_hash=0x…`, the
//!   SHA-256 of the commercial invoice file; `exists: false` when no order holds it), or an
//!   order id with the hash of one of its documents (`?order_id=N&document_hash=0x…`);
//! - about order N alone (`?order_id=N`): its parties, the carrier and inspector it names,
//!   a financier whose financing of it the firm accepted, a financier with the live consent
//!   of its buyer or seller (the read is written to the audit log, as any read of a firm's
//!   history), a financier with an offer on it, and the operator.
//!
//! Anyone else is told `ORDER_NOT_FOUND`, as for an order that does not exist.

use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::SolCall;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use tradechain_contracts::{Consents, DocType, MilestoneState, OrderState, Receivables, TradeOrders, role};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Caller;
use crate::codec::{addr, bytes3_str};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::readmodel::{document, event, financing};
use crate::request::QueryArgs;
use tradechain_chain::CallResult;

/// Which order: by id (with, to prove one holds it, the hash of one of its documents), or
/// by the hash of its commercial invoice.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuthenticityQuery {
    pub(crate) order_id: Option<i64>,
    /// 0x SHA-256 of the commercial invoice file (without `order_id`).
    pub(crate) invoice_hash: Option<String>,
    /// 0x SHA-256 of any document presented on order `order_id` (with `order_id`).
    pub(crate) document_hash: Option<String>,
}

/// A document as the chain holds it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DocumentOnChain {
    pub(crate) doc_type: String,
    /// The anchored hash (0x).
    pub(crate) hash: String,
    /// Who attested it (the carrier, inspector or seller named as issuer).
    pub(crate) issuer: String,
    pub(crate) attested: bool,
    /// submitted, accepted, rejected
    pub(crate) state: String,
    /// The buyer's bank when accepted (it alone accepts; a deemed acceptance after the
    /// examination period, UCP 600 art. 16, is in the order's timeline).
    pub(crate) accepted_by: Option<String>,
    pub(crate) version: u32,
}

/// A milestone as the chain holds it, with its live financing if any.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MilestoneOnChain {
    pub(crate) index: u32,
    pub(crate) amount_minor: String,
    /// pending, triggered, due, paid, failed
    pub(crate) state: String,
    /// The financing that holds this milestone (its id), live or accepted by the firm and
    /// awaiting its advance or approvals, if any.
    pub(crate) live_financing: Option<String>,
}

/// The answer, read from the chain.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Authenticity {
    /// Whether the chain holds this order (and, when asked by invoice hash, that hash as
    /// its commercial invoice).
    pub(crate) exists: bool,
    pub(crate) order_id: Option<i64>,
    /// proposed, accepted, rejected, committed, completed, cancelled, expired, disputed
    pub(crate) state: Option<String>,
    pub(crate) buyer: Option<String>,
    pub(crate) seller: Option<String>,
    pub(crate) buyer_bank: Option<String>,
    pub(crate) seller_bank: Option<String>,
    pub(crate) amount_minor: Option<String>,
    pub(crate) paid_minor: Option<String>,
    pub(crate) currency: Option<String>,
    /// The off-chain details' hash (0x), anchored at proposal.
    pub(crate) details_hash: Option<String>,
    pub(crate) documents: Vec<DocumentOnChain>,
    pub(crate) milestones: Vec<MilestoneOnChain>,
    /// Whether any milestone has a live financing, or one its firm accepted that holds it.
    pub(crate) financed: bool,
    /// When asked by invoice hash: where that hash stands on the order — the invoice now
    /// presented, or an earlier version replaced by a corrected one.
    pub(crate) invoice: Option<InvoiceMatch>,
    /// The chain's head when read.
    pub(crate) as_of_block: u64,
}

/// How an invoice hash asked about is anchored on its order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InvoiceMatch {
    pub(crate) hash: String,
    /// `current` (the commercial invoice the order holds now) or `replaced` (presented
    /// earlier and superseded by a later version, e.g. after a discrepancy).
    pub(crate) status: String,
    /// The presentation's version (1 for the first).
    pub(crate) version: u32,
    /// The transaction and block that anchored this hash (`DocumentSubmitted`), so it can
    /// be checked at `/v1/proofs/{tx_hash}`.
    pub(crate) tx_hash: String,
    pub(crate) block: u64,
    pub(crate) log_index: u64,
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/authenticity", get(check))
}

/// A view of the suite, read as the node's operator: the caller's entitlement is checked
/// before (see the module doc).
async fn call<C: SolCall>(state: &AppState, to: Address, c: C) -> ApiResult<C::Return> {
    match state.chain.call(state.operator.address(), to, c.abi_encode().into()).await? {
        CallResult::Success { output, .. } => C::abi_decode_returns(&output).map_err(ApiError::internal),
        CallResult::Revert { data } => Err(ApiError::from_revert(&data)),
        CallResult::Halt { reason } => Err(ApiError::internal(reason)),
    }
}

fn hash_param(name: &str, value: &str) -> ApiResult<B256> {
    value
        .parse()
        .map_err(|_| ApiError::validation("VALIDATION_FAILED", format!("{name} must be 0x and 32 bytes of hex")))
}

/// Whether the caller may ask about order `id` alone: the chain's own rule
/// (`TradeOrders.mayView`, asked about itself: a party, a named attester, a financier whose
/// financing the firm accepted, or one with the live consent of the buyer or the seller),
/// or a financier with an offer on it. A read that only a consent allows is a read of the
/// firm's history: it is written to the audit log.
async fn entitled(state: &AppState, caller: &Caller, id: i64) -> ApiResult<bool> {
    if caller.is_operator() {
        return Ok(true);
    }
    let me = caller.address;
    let order_id = U256::from(id.max(0) as u64);
    let chain = state.chain.as_ref();
    let may = tradechain_chain::call_sol(
        chain,
        me,
        state.suite.trade_orders,
        &TradeOrders::mayViewCall { orderId: order_id, who: me },
    )
    .await?;
    if may {
        if caller.roles & role::FINANCIER != 0 {
            let o = call(state, state.suite.trade_orders, TradeOrders::getOrderCall { orderId: order_id }).await?;
            let named = [o.buyer, o.seller, o.buyerBank, o.sellerBank, o.carrier, o.inspector].contains(&me);
            let finances = Receivables::financesOrderCall { orderId: order_id, financier: me };
            if !named && !tradechain_chain::call_sol(chain, me, state.suite.receivables, &finances).await? {
                for firm in [o.seller, o.buyer] {
                    let live = Consents::hasConsentCall { firm, financier: me };
                    if call(state, state.suite.consents, live).await? {
                        crate::consent::record_read(state, &caller.addr, &addr(&firm), "authenticity_read").await?;
                    }
                }
            }
        }
        return Ok(true);
    }
    if caller.roles & role::FINANCIER == 0 {
        return Ok(false);
    }
    let offered = financing::Entity::find()
        .filter(financing::Column::OrderId.eq(id))
        .filter(financing::Column::Financier.eq(caller.addr.as_str()))
        .one(&state.db)
        .await?;
    Ok(offered.is_some())
}

fn absent(as_of_block: u64) -> Authenticity {
    Authenticity {
        exists: false,
        order_id: None,
        state: None,
        buyer: None,
        seller: None,
        buyer_bank: None,
        seller_bank: None,
        amount_minor: None,
        paid_minor: None,
        currency: None,
        details_hash: None,
        documents: Vec::new(),
        milestones: Vec::new(),
        financed: false,
        invoice: None,
        as_of_block,
    }
}

/// Whether an order is on chain, between whom, in what state, with which documents and
/// whether it is already financed, read from the chain, for whoever may ask (see the module
/// doc); anyone else is told `ORDER_NOT_FOUND`.
#[utoipa::path(get, path = "/v1/authenticity", tag = "financing", operation_id = "check_authenticity",
    params(AuthenticityQuery),
    responses((status = 200, body = Authenticity), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn check(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<AuthenticityQuery>,
) -> ApiResult<Json<Authenticity>> {
    let head = state.chain.head().await?;
    let (id, invoice) = match (q.order_id, q.invoice_hash.as_deref(), q.document_hash.as_deref()) {
        (Some(id), None, None) if id > 0 => {
            if !entitled(&state, &caller, id).await? {
                return Err(ApiError::order_not_found(id));
            }
            (id, None)
        }
        (Some(id), None, Some(h)) if id > 0 => {
            // The caller proves it holds one of the order's documents.
            let hash = hash_param("document_hash", h)?;
            if presentation(&state, hash, Some(id), None).await?.is_none() {
                return Err(ApiError::order_not_found(id));
            }
            (id, None)
        }
        (None, Some(h), None) => {
            let hash = hash_param("invoice_hash", h)?;
            let found = document::Entity::find()
                .filter(document::Column::Hash.eq(format!("{hash:#x}")))
                .filter(document::Column::DocType.eq(DocType::CommercialInvoice as i32))
                .order_by_asc(document::Column::OrderId)
                .one(&state.db)
                .await?;
            let order = match found {
                Some(d) => Some(d.order_id),
                // Not the current invoice of any order: it may be an earlier version that a
                // corrected invoice replaced, which only the order's history holds.
                None => presentation(&state, hash, None, Some(DocType::CommercialInvoice)).await?.map(|p| p.order_id),
            };
            match order {
                Some(id) => (id, Some(hash)),
                None => return Ok(Json(absent(head))),
            }
        }
        _ => {
            return Err(ApiError::validation(
                "VALIDATION_FAILED",
                "give order_id (> 0), order_id with document_hash, or invoice_hash alone",
            ));
        }
    };
    let oid = U256::from(id as u64);
    let o = match call(&state, state.suite.trade_orders, TradeOrders::getOrderCall { orderId: oid }).await {
        Ok(o) if o.state != OrderState::None as u8 => o,
        Ok(_) => return Ok(Json(absent(head))),
        Err(e) if e.status.is_client_error() => return Ok(Json(absent(head))),
        Err(e) => return Err(e),
    };
    let mut documents = Vec::new();
    for t in DocType::ALL {
        let d =
            call(&state, state.suite.trade_orders, TradeOrders::getDocumentCall { orderId: oid, docType: *t as u8 })
                .await?;
        let doc_state = match d.state {
            1 => "submitted",
            2 => "accepted",
            3 => "rejected",
            _ => continue,
        };
        documents.push(DocumentOnChain {
            doc_type: t.as_str().to_string(),
            hash: format!("{:#x}", d.hash),
            issuer: addr(&d.issuer),
            attested: d.attested,
            state: doc_state.to_string(),
            accepted_by: (d.state == 2).then(|| addr(&o.buyerBank)),
            version: d.version,
        });
    }
    let mut invoice_match = None;
    if let Some(hash) = invoice {
        let current = documents
            .iter()
            .find(|d| d.doc_type == DocType::CommercialInvoice.as_str() && d.hash == format!("{hash:#x}"))
            .map(|d| d.version);
        // Trust the read model only to find the presentation; the log itself is read
        // back from the chain and must say this order, this type and this hash.
        let anchored = match presentation(&state, hash, Some(id), Some(DocType::CommercialInvoice)).await? {
            Some(p) if p.order_id == id => verified_log(&state, &p, hash).await?.then_some(p),
            _ => None,
        };
        match anchored {
            Some(p) => {
                invoice_match = Some(InvoiceMatch {
                    hash: format!("{hash:#x}"),
                    status: if current.is_some() { "current" } else { "replaced" }.to_string(),
                    version: current.unwrap_or(p.version),
                    tx_hash: p.tx_hash,
                    block: p.block,
                    log_index: p.log_index,
                });
            }
            None => return Ok(Json(absent(head))),
        }
    }
    let mut milestones = Vec::new();
    for i in 0..u32::from(o.milestoneCount) {
        let index = U256::from(i);
        let m = call(&state, state.suite.trade_orders, TradeOrders::getMilestoneCall { orderId: oid, index }).await?;
        // A financing the firm accepted holds the receivable before it is live.
        let held =
            call(&state, state.suite.receivables, Receivables::financingOfCall { orderId: oid, milestone: index })
                .await?;
        milestones.push(MilestoneOnChain {
            index: i,
            amount_minor: m.amount.to_string(),
            state: MilestoneState::from_u8(m.state).map_or_else(|| m.state.to_string(), |s| s.as_str().to_string()),
            live_financing: (!held.is_zero()).then(|| held.to_string()),
        });
    }
    Ok(Json(Authenticity {
        exists: true,
        order_id: Some(id),
        state: Some(OrderState::from_u8(o.state).map_or_else(|| o.state.to_string(), |s| s.as_str().to_string())),
        buyer: Some(addr(&o.buyer)),
        seller: Some(addr(&o.seller)),
        buyer_bank: Some(addr(&o.buyerBank)),
        seller_bank: Some(addr(&o.sellerBank)),
        amount_minor: Some(o.amount.to_string()),
        paid_minor: Some(o.paid.to_string()),
        currency: Some(bytes3_str(&o.currency.0)),
        details_hash: Some(format!("{:#x}", o.detailsHash)),
        financed: milestones.iter().any(|m| m.live_financing.is_some()),
        documents,
        milestones,
        invoice: invoice_match,
        as_of_block: head,
    }))
}

/// A commercial invoice's presentation as the read model recorded it.
struct Presentation {
    order_id: i64,
    version: u32,
    tx_hash: String,
    block: u64,
    log_index: u64,
}

/// The latest `DocumentSubmitted` with this hash (of type `doc_type` when given), current
/// or replaced (the document table keeps only the current version of each document), on
/// `order` when given.
async fn presentation(
    state: &AppState,
    hash: B256,
    order: Option<i64>,
    doc_type: Option<DocType>,
) -> ApiResult<Option<Presentation>> {
    let needle = format!("%\"hash\":\"{hash:#x}\"%");
    let mut query = event::Entity::find().filter(event::Column::Kind.eq("DocumentSubmitted"));
    if let Some(id) = order {
        query = query.filter(event::Column::OrderId.eq(id));
    }
    let rows = query
        .filter(event::Column::Data.like(needle))
        .order_by_desc(event::Column::Block)
        .order_by_desc(event::Column::LogIndex)
        .all(&state.db)
        .await?;
    let wanted = doc_type.map(|t| (t as u8).to_string());
    for row in rows {
        let data: serde_json::Value = serde_json::from_str(&row.data).map_err(ApiError::internal)?;
        let field = |k: &str| data.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        if wanted.as_ref().is_some_and(|t| field("docType") != *t) || field("hash") != format!("{hash:#x}") {
            continue;
        }
        let Some(order_id) = row.order_id else { continue };
        return Ok(Some(Presentation {
            order_id,
            version: field("version").parse().unwrap_or(0),
            tx_hash: row.tx_hash,
            block: u64::try_from(row.block).unwrap_or_default(),
            log_index: u64::try_from(row.log_index).unwrap_or_default(),
        }));
    }
    Ok(None)
}

/// Whether the chain's own log at the presentation's place is a `DocumentSubmitted` of
/// this order's commercial invoice with this hash, emitted by the suite.
async fn verified_log(state: &AppState, p: &Presentation, hash: B256) -> ApiResult<bool> {
    use alloy::sol_types::SolEvent;
    let Some(block) = state.chain.block_logs(p.block).await? else { return Ok(false) };
    let Some(log) = block.logs.iter().find(|l| l.log_index == p.log_index) else { return Ok(false) };
    if log.log.address != state.suite.trade_orders || format!("{:#x}", log.tx_hash) != p.tx_hash {
        return Ok(false);
    }
    Ok(TradeOrders::DocumentSubmitted::decode_log(&log.log).is_ok_and(|e| {
        e.data.orderId == U256::from(p.order_id.max(0) as u64)
            && e.data.docType == DocType::CommercialInvoice as u8
            && e.data.hash == hash
    }))
}
