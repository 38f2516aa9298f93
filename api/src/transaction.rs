//! Getting an organisation's transaction onto the chain.
//!
//! Custodial ([`transact`]): the node signs with the organisation's key from the
//! [`crate::keystore`]. The call is first simulated as the organisation, so a revert is
//! answered with the contract's custom error (decoded into its stable code) and nothing
//! is sent; then it is signed (EIP-1559, fee 0) with the next nonce under a per-sender lock,
//! submitted, its receipt awaited, and the indexer awaited up to that block, so the
//! response and any read after it see the change.
//!
//! Non-custodial (`POST /v1/transactions` with `raw`, [`relay`]): the organisation sends
//! its own signed raw transaction; the API checks the recovered sender is the caller and
//! the target is a contract of the suite, simulates it for a readable error, and relays it.
//!
//! Custodial contract call (`POST /v1/transactions` with `to` and `data`): a custodial
//! organisation's own software (a bank's settlement worker, say) has the node sign a call
//! to a contract of the suite with the organisation's key, as [`transact`] does for the
//! REST routes; the contract's rules apply exactly as to any other transaction.

use std::time::Duration;

use alloy::consensus::{Transaction as _, TxEnvelope};
use alloy::eips::eip2718::Decodable2718;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tradechain_chain::transaction::{RECEIPT_TIMEOUT, TxRequest};
use tradechain_chain::{CallResult, ChainError, Receipt, Rejection, wait_receipt};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::request::Body;
use crate::{AppState, codec::addr};

const INDEX_TIMEOUT: Duration = Duration::from_secs(30);

impl From<ChainError> for ApiError {
    fn from(e: ChainError) -> Self {
        match e {
            ChainError::Rejected(Rejection::Reverted { data }) => ApiError::from_revert(&data),
            ChainError::Rejected(Rejection::NotPermitted { message }) => {
                ApiError::forbidden("TX_NOT_PERMITTED", message)
            }
            ChainError::Rejected(r) => ApiError::validation("TX_REJECTED", r.to_string()),
            ChainError::Unavailable(m) | ChainError::Timeout(m) => ApiError::unavailable(m),
        }
    }
}

/// A mined transaction, as answered to clients.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct TxOutcome {
    /// The transaction hash.
    pub(crate) tx_hash: String,
    /// The block that holds it.
    pub(crate) block: u64,
    /// Whether it succeeded.
    pub(crate) success: bool,
}

/// The custodial signer of `org`, or `NON_CUSTODIAL`: the key read with the caller's token
/// ([`Caller::sealed_key`]), as the read model held it when the request was authenticated.
pub(crate) async fn signer_of(state: &AppState, org: &Caller) -> ApiResult<PrivateKeySigner> {
    if org.address == state.operator.address() {
        return Ok(state.operator.clone());
    }
    let sealed = org.sealed_key.as_ref().ok_or_else(|| {
        ApiError::conflict("NON_CUSTODIAL", "the node holds no key for this organisation: POST /v1/transactions")
    })?;
    state.keystore.open(org.address, &sealed.0).map_err(ApiError::internal)
}

/// [`simulate`] `input` to `to` as the caller, and its custodial signer ([`signer_of`])
/// read meanwhile: both answers, for the handler to take in its own order (a revert before
/// a missing key), before it stores anything.
pub(crate) async fn simulate_and_signer(
    state: &AppState,
    caller: &Caller,
    to: Address,
    input: &Bytes,
) -> (ApiResult<u64>, ApiResult<PrivateKeySigner>) {
    // The key's read goes first, so its statement runs while the embedded chain simulates.
    let (signer, gas) = tokio::join!(signer_of(state, caller), simulate(state, caller.address, to, input));
    (gas, signer)
}

/// Simulate `input` to `to` as `from`: the gas it used, or the decoded revert.
pub(crate) async fn simulate(state: &AppState, from: Address, to: Address, input: &Bytes) -> ApiResult<u64> {
    match state.chain.call(from, to, input.clone()).await? {
        CallResult::Success { gas_used, .. } => Ok(gas_used),
        CallResult::Revert { data } => Err(ApiError::from_revert(&data)),
        CallResult::Halt { reason } => Err(ApiError::conflict("TX_REVERTED", format!("halted: {reason}"))),
    }
}

/// Sign and send `input` to `to` as `signer` (the chain crate's one signing, nonce and fee
/// policy: a revert in the simulation is answered with the contract's stable code and
/// nothing is sent); wait for the receipt and the indexer.
pub(crate) async fn send_as(
    state: &AppState,
    signer: &PrivateKeySigner,
    to: Address,
    input: Bytes,
) -> ApiResult<Receipt> {
    send_tx(state, signer, &TxRequest::call(to, input)).await
}

/// Sign and send `tx` as `signer`; wait for the receipt and the indexer.
async fn send_tx(state: &AppState, signer: &PrivateKeySigner, tx: &TxRequest) -> ApiResult<Receipt> {
    let hash = state.sender.submit(state.chain.as_ref(), signer, tx).await?;
    finish(state, hash).await
}

/// Send `value` (wei) of the chain's native currency from `signer` to `to` and wait for
/// the receipt: what pays for gas on a network that charges it.
pub(crate) async fn transfer(state: &AppState, signer: &PrivateKeySigner, to: Address, value: U256) -> ApiResult<B256> {
    let receipt = state.sender.send(state.chain.as_ref(), signer, &TxRequest::transfer(to, value)).await?;
    if !receipt.success {
        return Err(ApiError::internal(format!("transfer {:#x} failed", receipt.tx_hash)));
    }
    Ok(receipt.tx_hash)
}

/// Wait for `hash`'s receipt and for the indexer to reach its block.
async fn finish(state: &AppState, hash: B256) -> ApiResult<Receipt> {
    let receipt = wait_receipt(state.chain.as_ref(), hash, RECEIPT_TIMEOUT).await?;
    if !state.indexer.wait_for(receipt.block, INDEX_TIMEOUT).await {
        return Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "NOT_READY",
            "the read model did not catch up in time",
        ));
    }
    if !receipt.success {
        return Err(ApiError::conflict("TX_REVERTED", format!("transaction {hash:#x} reverted")));
    }
    Ok(receipt)
}

/// Custodial: sign `input` to `to` as the calling organisation and wait until indexed.
pub(crate) async fn transact(state: &AppState, org: &Caller, to: Address, input: Bytes) -> ApiResult<Receipt> {
    transact_simulated(state, org, to, input, None).await
}

/// [`transact`] of a call the handler has just [`simulate`]d, using `gas_used` where the
/// chain derives the gas limit from it ([`tradechain_chain::Chain::gas_limit_for`]), so the
/// call is not simulated a second time before it is sent.
pub(crate) async fn transact_simulated(
    state: &AppState,
    org: &Caller,
    to: Address,
    input: Bytes,
    gas_used: Option<u64>,
) -> ApiResult<Receipt> {
    let signer = signer_of(state, org).await?;
    transact_signed(state, &signer, org, to, input, gas_used).await
}

/// [`transact_simulated`] with `org`'s custodial signer found already ([`signer_of`]): a
/// handler that stores something before it sends looks the signer up first, so that an
/// organisation whose key the node does not hold is refused (`NON_CUSTODIAL`) before
/// anything is stored.
pub(crate) async fn transact_signed(
    state: &AppState,
    signer: &PrivateKeySigner,
    org: &Caller,
    to: Address,
    input: Bytes,
    gas_used: Option<u64>,
) -> ApiResult<Receipt> {
    let gas_limit = gas_used.and_then(|g| state.chain.gas_limit_for(g));
    let tx = TxRequest { gas_limit, ..TxRequest::call(to, input.clone()) };
    match send_tx(state, signer, &tx).await {
        // Sent without a second simulation, and the state moved in between (the order
        // cancelled, the organisation suspended): the contract's own reason, as that
        // simulation would have answered it, rather than a bare `TX_REVERTED`.
        Err(e) if gas_limit.is_some() && e.code == "TX_REVERTED" => {
            match simulate(state, org.address, to, &input).await {
                Err(reason) => Err(reason),
                Ok(_) => Err(e),
            }
        }
        done => done,
    }
}

/// Either a signed raw transaction to relay (`raw`), or a contract call for the node to
/// sign with the caller's custodial key (`to` and `data`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RelayRequest {
    /// EIP-2718 encoding of a signed transaction, 0x-prefixed hex.
    pub(crate) raw: Option<String>,
    /// Custodial: the contract of the suite to call, 0x address.
    pub(crate) to: Option<String>,
    /// Custodial: the call's ABI-encoded input, 0x-prefixed hex.
    pub(crate) data: Option<String>,
}

/// The chain id and suite addresses a non-custodial client signs for.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChainInfo {
    pub(crate) chain_id: u64,
    pub(crate) consortium: String,
    pub(crate) trade_orders: String,
    pub(crate) receivables: String,
    pub(crate) consents: String,
    pub(crate) head: u64,
    pub(crate) indexed: u64,
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/transactions", post(relay)).route("/chain", axum::routing::get(chain_info))
}

/// Where to send transactions: chain id, contract addresses, head and indexed block.
#[utoipa::path(get, path = "/v1/chain", tag = "transactions",
    responses((status = 200, body = ChainInfo), (status = 401, body = crate::error::ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn chain_info(state: axum::extract::State<AppState>, _caller: Caller) -> ApiResult<Json<ChainInfo>> {
    let s = &state.suite;
    Ok(Json(ChainInfo {
        chain_id: state.chain.chain_id(),
        consortium: addr(&s.consortium),
        trade_orders: addr(&s.trade_orders),
        receivables: addr(&s.receivables),
        consents: addr(&s.consents),
        head: state.chain.head().await?,
        indexed: state.indexer.indexed(),
    }))
}

/// Relay a transaction the organisation signed itself (`raw`, non-custodial), or sign and
/// send a contract call with the organisation's custodial key (`to` and `data`).
#[utoipa::path(post, path = "/v1/transactions", tag = "transactions", request_body = RelayRequest,
    responses((status = 200, body = TxOutcome), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn relay(
    state: axum::extract::State<AppState>,
    caller: Caller,
    Body(req): Body<RelayRequest>,
) -> ApiResult<Json<TxOutcome>> {
    let s = &state.suite;
    let suite = [s.consortium, s.trade_orders, s.receivables, s.consents];
    let raw = match (req.raw, req.to, req.data) {
        (Some(raw), None, None) => raw,
        (None, Some(to), Some(data)) => {
            let to = crate::terms::address("to", &to)?;
            if !suite.contains(&to) {
                return Err(ApiError::validation("INVALID_TRANSACTION", "the target must be a contract of the suite"));
            }
            let data = hex::decode(data.trim_start_matches("0x"))
                .map_err(|_| ApiError::validation("INVALID_TRANSACTION", "data must be hex"))?;
            let receipt = transact(&state, &caller, to, Bytes::from(data)).await?;
            return Ok(Json(TxOutcome {
                tx_hash: format!("{:#x}", receipt.tx_hash),
                block: receipt.block,
                success: receipt.success,
            }));
        }
        _ => {
            return Err(ApiError::validation(
                "VALIDATION_FAILED",
                "send either raw (a signed transaction) or to and data (a custodial contract call)",
            ));
        }
    };
    let raw = hex::decode(raw.trim_start_matches("0x"))
        .map_err(|_| ApiError::validation("INVALID_TRANSACTION", "raw must be hex"))?;
    let envelope = TxEnvelope::decode_2718(&mut raw.as_slice())
        .map_err(|e| ApiError::validation("INVALID_TRANSACTION", format!("cannot decode: {e}")))?;
    // libsecp256k1, as the node recovers it (alloy's k256 path costs four times as much).
    let sender = tradechain_engine::transaction::recover(envelope.clone(), Bytes::copy_from_slice(&raw))
        .map_err(|e| ApiError::validation("INVALID_TRANSACTION", format!("bad signature: {e}")))?
        .sender;
    if sender != caller.address {
        return Err(ApiError::forbidden(
            "WRONG_SENDER",
            format!("signed by {}, not by the calling organisation {}", addr(&sender), caller.addr),
        ));
    }
    let to = envelope.to().filter(|t| suite.contains(t));
    let Some(to) = to else {
        return Err(ApiError::validation("INVALID_TRANSACTION", "the target must be a contract of the suite"));
    };
    simulate(&state, sender, to, envelope.input()).await?;
    // Recovered above from these very bytes: the chain need not recover it again.
    let hash = state.chain.send_own(Bytes::from(raw), sender).await?;
    let receipt = finish(&state, hash).await?;
    Ok(Json(TxOutcome { tx_hash: format!("{:#x}", receipt.tx_hash), block: receipt.block, success: receipt.success }))
}
