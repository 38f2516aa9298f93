//! Checking a cited chain event against the chain itself: `GET /v1/proofs/{tx_hash}`
//! re-reads the transaction, its receipt, its block and the log from the node through
//! [`tradechain_chain::Chain`] — never from the SQL read model — decodes the log, and says
//! whether it is what a credit profile ([`crate::credit`]) claims.
//!
//! Who may check (all read on chain): for an order's event, a party of the order or a
//! financier holding the live consent of its buyer or seller; for a financing's event,
//! its financier, its firm, or whoever may see its order; for a consent's event, its firm
//! and its financier; for the consortium's membership events, any member. Anyone else
//! gets `PROOF_NOT_FOUND`, as for a transaction that does not exist.

use alloy::consensus::TxEnvelope;
use alloy::consensus::transaction::SignerRecoverable;
use alloy::eips::eip2718::Decodable2718;
use alloy::primitives::{B256, U256, keccak256};
use alloy::sol_types::SolCall;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use tradechain_contracts::{Consents, Receivables, TradeOrders};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Caller;
use crate::codec::addr;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::readmodel::access;
use crate::request::{PathArgs, QueryArgs};
use tradechain_chain::CallResult;

/// Which log of the transaction, and what it is claimed to be.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ProofQuery {
    /// The log's index in its block (as cited).
    pub(crate) log_index: u64,
    /// The claimed event name (e.g. PaymentConfirmed); checked when given.
    pub(crate) kind: Option<String>,
    /// The claimed order id; checked when given.
    pub(crate) order_id: Option<i64>,
    /// The claimed block number; checked when given.
    pub(crate) block: Option<u64>,
}

/// The block holding the transaction, as the chain has it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProofBlock {
    pub(crate) number: u64,
    pub(crate) hash: String,
    /// Unix seconds.
    pub(crate) timestamp: u64,
}

/// The transaction, as the chain has it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProofTransaction {
    pub(crate) hash: String,
    /// The signer, recovered from the signature.
    pub(crate) from: String,
    pub(crate) to: Option<String>,
    /// The receipt's status.
    pub(crate) success: bool,
}

/// The log, decoded.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProofLog {
    pub(crate) log_index: u64,
    /// The emitting contract's address.
    pub(crate) address: String,
    /// TradeOrders, Receivables, Consents, Consortium.
    pub(crate) contract: String,
    pub(crate) kind: String,
    pub(crate) order_id: Option<i64>,
    #[schema(value_type = Object)]
    pub(crate) data: serde_json::Value,
}

/// The outcome: `verified` when the transaction succeeded, its raw bytes hash to the cited
/// hash, the log sits at the cited index of that transaction in its block, was emitted
/// by the suite, and decodes to the claimed event, order and block.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProofCheck {
    pub(crate) verified: bool,
    /// Why not, one line per failed check (empty when verified).
    pub(crate) mismatches: Vec<String>,
    pub(crate) transaction: ProofTransaction,
    pub(crate) block: ProofBlock,
    pub(crate) log: ProofLog,
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/proofs/{tx_hash}", get(check))
}

fn not_found(hash: &str) -> ApiError {
    ApiError::not_found("PROOF_NOT_FOUND", format!("no event of {hash} that the caller may check"))
}

fn chain_err(e: tradechain_chain::ChainError) -> ApiError {
    ApiError::unavailable(e.to_string())
}

async fn call(state: &AppState, caller: &Caller, to: alloy::primitives::Address, input: Vec<u8>) -> ApiResult<Vec<u8>> {
    match state.chain.call(caller.address, to, input.into()).await.map_err(chain_err)? {
        CallResult::Success { output, .. } => Ok(output.to_vec()),
        CallResult::Revert { data } => Err(ApiError::from_revert(&data)),
        CallResult::Halt { reason } => Err(ApiError::internal(reason)),
    }
}

/// Whether `caller` may see order `id`, by the contract's own rule (`TradeOrders.mayView`,
/// asked about itself): a party, a named attester, a financier whose financing the firm
/// accepted, the operator, or a financier with the live consent of the buyer or the seller.
/// A read that only that consent allows is a read of the firm's history: it is written to
/// the audit log (`proof_read`), which the firm sees.
pub(crate) async fn may_see_order(state: &AppState, caller: &Caller, id: i64) -> ApiResult<bool> {
    let order_id = U256::from(id.max(0) as u64);
    let input = TradeOrders::mayViewCall { orderId: order_id, who: caller.address }.abi_encode();
    let out = call(state, caller, state.suite.trade_orders, input).await?;
    if !TradeOrders::mayViewCall::abi_decode_returns(&out).map_err(ApiError::internal)? {
        return Ok(false);
    }
    let Some(o) = crate::readmodel::order::Entity::find_by_id(id).one(&state.db).await? else { return Ok(true) };
    if caller.is_operator() || access::may_view(&state.db, &o, &caller.addr).await? {
        return Ok(true);
    }
    for firm in [&o.seller, &o.buyer] {
        let f: alloy::primitives::Address = firm.parse().map_err(ApiError::internal)?;
        let input = Consents::hasConsentCall { firm: f, financier: caller.address }.abi_encode();
        let out = call(state, caller, state.suite.consents, input).await?;
        if Consents::hasConsentCall::abi_decode_returns(&out).map_err(ApiError::internal)? {
            crate::consent::record_read(state, &caller.addr, firm, "proof_read").await?;
        }
    }
    Ok(true)
}

/// Check one cited event against the chain itself (node, not read model): the
/// transaction, its receipt, its block and the log, decoded; `verified` when it is what
/// was claimed (`kind`, `order_id`, `block`).
#[utoipa::path(get, path = "/v1/proofs/{tx_hash}", tag = "consents", operation_id = "check_proof",
    params(("tx_hash" = String, Path, description = "0x transaction hash"), ProofQuery),
    responses((status = 200, body = ProofCheck), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn check(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(tx_hash): PathArgs<String>,
    QueryArgs(q): QueryArgs<ProofQuery>,
) -> ApiResult<Json<ProofCheck>> {
    let hash: B256 = tx_hash
        .parse()
        .map_err(|_| ApiError::validation("VALIDATION_FAILED", "tx_hash must be 0x and 32 bytes of hex"))?;
    let chain = &state.chain;
    let receipt = chain.receipt(hash).await.map_err(chain_err)?.ok_or_else(|| not_found(&tx_hash))?;
    let raw = chain.transaction(hash).await.map_err(chain_err)?.ok_or_else(|| not_found(&tx_hash))?;
    let header = chain.block_header(receipt.block).await.map_err(chain_err)?.ok_or_else(|| not_found(&tx_hash))?;
    let logs = chain.block_logs(receipt.block).await.map_err(chain_err)?.ok_or_else(|| not_found(&tx_hash))?;
    let log = logs
        .logs
        .iter()
        .find(|l| l.log_index == q.log_index && l.tx_hash == hash)
        .ok_or_else(|| not_found(&tx_hash))?;
    let suite = &state.suite;
    let ours = [suite.trade_orders, suite.receivables, suite.consents, suite.consortium].contains(&log.log.address);
    let decoded = if ours { crate::indexer::decode_generic(&log.log) } else { None };
    let Some((contract, kind, data, order_id)) = decoded else { return Err(not_found(&tx_hash)) };
    let fields: serde_json::Value = serde_json::from_str(&data).unwrap_or_default();
    let (visible, order_id) = match order_id {
        Some(id) if contract == "TradeOrders" => (may_see_order(&state, &caller, id).await?, Some(id)),
        _ => visible_by_contract(&state, &caller, contract, &fields).await?,
    };
    if !visible {
        return Err(not_found(&tx_hash));
    }
    let envelope = TxEnvelope::decode_2718(&mut raw.as_ref()).map_err(ApiError::internal)?;
    let from = envelope.recover_signer().map_err(ApiError::internal)?;
    let to = alloy::consensus::Transaction::to(&envelope);

    let mut mismatches = Vec::new();
    if !receipt.success {
        mismatches.push("the transaction reverted".to_string());
    }
    if keccak256(&raw) != hash {
        mismatches.push("the transaction's bytes do not hash to the cited hash".to_string());
    }
    if q.kind.as_ref().is_some_and(|k| *k != kind) {
        mismatches.push(format!("the log is {kind}, not {}", q.kind.as_deref().unwrap_or_default()));
    }
    if q.order_id.is_some_and(|o| Some(o) != order_id) {
        mismatches.push(format!("the log is of order {order_id:?}, not {:?}", q.order_id));
    }
    if q.block.is_some_and(|b| b != header.number) {
        mismatches.push(format!("the transaction is in block {}, not {:?}", header.number, q.block));
    }
    Ok(Json(ProofCheck {
        verified: mismatches.is_empty(),
        mismatches,
        transaction: ProofTransaction {
            hash: format!("{hash:#x}"),
            from: addr(&from),
            to: to.as_ref().map(addr),
            success: receipt.success,
        },
        block: ProofBlock { number: header.number, hash: format!("{:#x}", header.hash), timestamp: header.timestamp },
        log: ProofLog {
            log_index: log.log_index,
            address: addr(&log.log.address),
            contract: contract.to_string(),
            kind,
            order_id,
            data: fields,
        },
    }))
}

/// Who may see an event that is not an order's own (see the module doc), and the order
/// behind it when it is a financing's.
async fn visible_by_contract(
    state: &AppState,
    caller: &Caller,
    contract: &str,
    fields: &serde_json::Value,
) -> ApiResult<(bool, Option<i64>)> {
    let me = caller.address;
    let address_field =
        |k: &str| fields.get(k).and_then(|v| v.as_str()).and_then(|a| a.parse::<alloy::primitives::Address>().ok());
    match contract {
        "Receivables" => {
            let Some(id) = fields.get("financingId").and_then(|v| v.as_str()).and_then(|v| v.parse::<U256>().ok())
            else {
                return Ok((false, None));
            };
            let input = Receivables::getFinancingCall { financingId: id }.abi_encode();
            let f = match call(state, caller, state.suite.receivables, input).await {
                Ok(out) => Receivables::getFinancingCall::abi_decode_returns(&out).map_err(ApiError::internal)?,
                Err(e) if e.status.is_client_error() => return Ok((false, None)),
                Err(e) => return Err(e),
            };
            let order = i64::try_from(f.orderId).ok();
            let party = !me.is_zero() && (f.financier == me || f.firm == me);
            let visible = party || matches!(order, Some(o) if may_see_order(state, caller, o).await?);
            Ok((visible, order))
        }
        "Consents" => {
            let named = [address_field("firm"), address_field("financier")];
            Ok((!me.is_zero() && named.contains(&Some(me)), None))
        }
        "Consortium" => Ok((!me.is_zero(), None)),
        _ => Ok((false, None)),
    }
}
