//! One JSON-RPC request of an organisation through the gate: what each method may do and
//! what its answer may show (the table is in the parent module's doc).

use alloy::consensus::TxEnvelope;
use alloy::eips::eip2718::Decodable2718;
use alloy::primitives::{Address, B256, Bloom, Bytes, U256};
use alloy::sol_types::{SolCall, SolError};
use sea_orm::EntityTrait;
use serde_json::{Map, Value, json};
use tradechain_contracts::{Consents, Receivables, TradeOrders, TradechainErrors, role};

use super::access::{Access, parse_log, quantity};
use super::scope::{self, Scope};
use super::upstream::Upstream;
use super::{Gate, NOT_PERMITTED, error};
use crate::auth::Caller;
use crate::readmodel::{access, order};

/// Methods every organisation may call as they are: the chain's identity and pace, and
/// contract code (public by nature).
const PUBLIC: &[&str] = &[
    "eth_chainId",
    "net_version",
    "net_listening",
    "net_peerCount",
    "web3_clientVersion",
    "eth_syncing",
    "eth_blockNumber",
    "eth_gasPrice",
    "eth_maxPriorityFeePerGas",
    "eth_blobBaseFee",
    "eth_feeHistory",
    "eth_getCode",
];

fn ok(id: Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

fn not_permitted(id: Value, why: &str) -> Value {
    error(id, NOT_PERMITTED, format!("not permitted: {why}"))
}

/// Answer one request object for `caller`; `None` for a notification.
pub(super) async fn answer_one(gate: &Gate, caller: &Caller, request: Value) -> Option<Value> {
    let Value::Object(obj) = request else {
        return Some(error(Value::Null, -32600, "invalid request: expected a request object"));
    };
    let id = obj.get("id").cloned();
    let answer_id = id.clone().unwrap_or(Value::Null);
    let method = obj.get("method").and_then(Value::as_str).unwrap_or_default().to_string();
    let span = tracing::info_span!("rpc", method = %method, org = %caller.name);
    let _enter = span.enter();
    let answer = if caller.is_operator() {
        // The operator's requests go through as asked (it runs the node).
        forward(gate, Value::Object(obj)).await
    } else {
        member(gate, caller, obj, answer_id.clone(), &method).await
    };
    id.as_ref()?;
    Some(answer)
}

async fn forward(gate: &Gate, request: Value) -> Value {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    match gate.upstream.send(request).await {
        Ok(Some(v)) => v,
        Ok(None) => ok(id, Value::Null),
        Err(e) => error(id, -32603, e.to_string()),
    }
}

/// Forward `method(params)` and hand back its `result`, or the whole error answer.
async fn upstream(gate: &Gate, id: &Value, method: &str, params: Value) -> Result<Value, Value> {
    gate.upstream.call(method, params).await.map_err(|e| json!({ "jsonrpc": "2.0", "id": id, "error": e }))
}

async fn member(gate: &Gate, caller: &Caller, obj: Map<String, Value>, id: Value, method: &str) -> Value {
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return error(id, -32600, "invalid request: \"jsonrpc\" must be \"2.0\"");
    }
    let params = match obj.get("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return error(id, -32602, "invalid params: params must be an array"),
    };
    if PUBLIC.contains(&method) {
        return forward(gate, Value::Object(obj)).await;
    }
    let result = match method {
        "eth_accounts" => Ok(json!([])),
        "eth_getBalance" | "eth_getTransactionCount" => own_account(gate, caller, &id, method, params).await,
        "eth_call" | "eth_estimateGas" => call(gate, caller, &id, method, params).await,
        "eth_sendRawTransaction" => send_raw(gate, caller, &id, params).await,
        "eth_getLogs" => logs(gate, caller, &id, params).await,
        "eth_getTransactionByHash" => transaction(gate, caller, &id, params).await,
        "eth_getTransactionReceipt" => receipt(gate, caller, &id, params).await,
        "eth_getBlockByNumber" | "eth_getBlockByHash" => block(gate, caller, &id, method, params).await,
        "eth_subscribe" | "eth_unsubscribe" => {
            Err(not_permitted(id.clone(), "subscriptions are served over the WebSocket at the same URL"))
        }
        _ => Err(not_permitted(
            id.clone(),
            &format!("{method} is the node operator's only (raw state, tracing, filters and dev methods included)"),
        )),
    };
    match result {
        Ok(v) => ok(id, v),
        Err(answer) => answer,
    }
}

fn address_param(params: &[Value], i: usize) -> Option<Address> {
    params.get(i)?.as_str()?.parse().ok()
}

async fn own_account(
    gate: &Gate,
    caller: &Caller,
    id: &Value,
    method: &str,
    params: Vec<Value>,
) -> Result<Value, Value> {
    if address_param(&params, 0) != Some(caller.address) {
        return Err(not_permitted(id.clone(), "an organisation reads its own account only"));
    }
    upstream(gate, id, method, Value::Array(params)).await
}

/// The contracts' views that return an order: a financier that reads one on the strength
/// of a firm's consent alone reads the firm's history, which is audited.
fn order_view(data: &[u8]) -> Option<u64> {
    let selector: [u8; 4] = data.get(..4)?.try_into().ok()?;
    let views = [
        TradeOrders::getOrderCall::SELECTOR,
        TradeOrders::getMilestoneCall::SELECTOR,
        TradeOrders::getDocumentCall::SELECTOR,
        TradeOrders::pendingAmendmentCall::SELECTOR,
        TradeOrders::outstandingCall::SELECTOR,
    ];
    if !views.contains(&selector) {
        return None;
    }
    u64::try_from(U256::from_be_slice(data.get(4..36)?)).ok()
}

async fn call(gate: &Gate, caller: &Caller, id: &Value, method: &str, mut params: Vec<Value>) -> Result<Value, Value> {
    if params.len() > 2 {
        return Err(not_permitted(id.clone(), "state and block overrides are the node operator's only"));
    }
    let Some(Value::Object(tx)) = params.first_mut() else {
        return Err(error(id.clone(), -32602, "invalid params: missing parameter 0 (transaction)"));
    };
    // Whatever the request says: an organisation calls as itself, so the contracts' own
    // entitlement checks apply to it.
    tx.insert("from".into(), json!(format!("{:#x}", caller.address)));
    let to: Option<Address> = tx.get("to").and_then(Value::as_str).and_then(|t| t.parse().ok());
    let input: Option<Bytes> =
        tx.get("input").or_else(|| tx.get("data")).and_then(Value::as_str).and_then(|d| d.parse().ok());
    if let (Some(to), Some(data)) = (to, input.as_ref())
        && let Some(about) = scope::of(&gate.state.suite, to, data)
        && !entitled(gate, caller, about).await
    {
        return Err(not_entitled(id.clone(), caller.address));
    }
    let result = upstream(gate, id, method, Value::Array(params)).await?;
    if method == "eth_call"
        && to == Some(gate.state.suite.trade_orders)
        && let Some(order_id) = input.as_ref().and_then(|d| order_view(d))
    {
        audit_consented_read(gate, caller, order_id).await;
    }
    Ok(result)
}

/// Whether `caller` may see what a call is about: the order's `mayView` (parties, banks,
/// named attesters, a financier with a live consent or a financing, asked as itself), or
/// the financing's own view, which checks the same.
async fn entitled(gate: &Gate, caller: &Caller, about: Scope) -> bool {
    let state = &gate.state;
    let chain = state.chain.as_ref();
    match about {
        Scope::Order(order_id) => {
            let ask = TradeOrders::mayViewCall { orderId: order_id, who: caller.address };
            tradechain_chain::call_sol(chain, caller.address, state.suite.trade_orders, &ask).await.unwrap_or(false)
        }
        Scope::Financing(financing_id) => {
            let ask = Receivables::getFinancingCall { financingId: financing_id };
            tradechain_chain::call_sol(chain, caller.address, state.suite.receivables, &ask).await.is_ok()
        }
    }
}

/// The contracts' own refusal, `NotEntitled(caller)`, as the node would answer the revert:
/// a simulation of something the caller may not see looks like a view it may not read.
fn not_entitled(id: Value, caller: Address) -> Value {
    let data = TradechainErrors::NotEntitled { caller }.abi_encode();
    json!({ "jsonrpc": "2.0", "id": id, "error": {
        "code": 3, "message": "execution reverted", "data": format!("0x{}", hex::encode(data)) } })
}

/// Record, for the firm to see, a read of its order that only its consent allowed.
async fn audit_consented_read(gate: &Gate, caller: &Caller, order_id: u64) {
    let state = &gate.state;
    if caller.roles & role::FINANCIER == 0 {
        return;
    }
    let Ok(Some(o)) = order::Entity::find_by_id(i64::try_from(order_id).unwrap_or(i64::MAX)).one(&state.db).await
    else {
        return;
    };
    if access::may_view(&state.db, &o, &caller.addr).await.unwrap_or(false) {
        return;
    }
    for firm in [&o.seller, &o.buyer] {
        let Ok(f) = firm.parse::<Address>() else { continue };
        let live = Consents::hasConsentCall { firm: f, financier: caller.address };
        if tradechain_chain::call_sol(state.chain.as_ref(), caller.address, state.suite.consents, &live)
            .await
            .unwrap_or(false)
            && let Err(e) = crate::consent::record_read(state, &caller.addr, firm, "rpc_read").await
        {
            tracing::error!(error = %e.message, "audit log write failed");
        }
    }
}

/// An organisation's own signed transaction, and nothing signed by another key. The sender
/// is recovered once: the embedded engine's admission (decode, chain id, size, gas,
/// libsecp256k1 recovery) runs here, the gate compares the sender with the caller, and the
/// recovered transaction goes to the pool as it is; a remote network recovers it again, as
/// any node does. Fails closed: a parameter the gate cannot read as one signed transaction
/// (an array of bytes, which the engine would also take, or a second parameter) is refused
/// here rather than passed on unchecked, and what goes on is the bytes the gate checked.
async fn send_raw(gate: &Gate, caller: &Caller, id: &Value, params: Vec<Value>) -> Result<Value, Value> {
    let unreadable = || {
        let why = "invalid params: eth_sendRawTransaction takes one signed transaction as a 0x-prefixed hex string";
        error(id.clone(), -32602, why)
    };
    let raw: Bytes = match params.as_slice() {
        [Value::String(r)] => r.parse().map_err(|_| unreadable())?,
        _ => return Err(unreadable()),
    };
    let foreign = || not_permitted(id.clone(), "an organisation sends transactions signed with its own key only");
    match gate.upstream.as_ref() {
        Upstream::Embedded(node) => {
            let (node, me) = (node.clone(), caller.address);
            let sent = tokio::task::spawn_blocking(move || {
                let tx = node.admit_raw(&raw).map_err(Some)?;
                if tx.sender != me {
                    return Err(None);
                }
                node.submit(tx).map_err(Some)
            })
            .await;
            match sent {
                Ok(Ok(hash)) => {
                    tracing::debug!(%hash, "transaction accepted");
                    Ok(json!(hash))
                }
                Ok(Err(None)) => Err(foreign()),
                Ok(Err(Some(refused))) => Err(json!({ "jsonrpc": "2.0", "id": id,
                    "error": tradechain_engine::rpc::rejection_error(refused) })),
                Err(e) => Err(error(id.clone(), -32603, format!("internal error: {e}"))),
            }
        }
        Upstream::Remote { .. } => {
            let sender = TxEnvelope::decode_2718(&mut raw.as_ref())
                .ok()
                .and_then(|tx| tradechain_engine::transaction::recover(tx, raw.clone()).ok())
                .map(|tx| tx.sender);
            if sender.is_some_and(|s| s != caller.address) {
                return Err(foreign());
            }
            // One that does not decode or recover is the network's to refuse, with its reason.
            upstream(gate, id, "eth_sendRawTransaction", json!([raw])).await
        }
    }
}

fn db_error(id: &Value, e: &sea_orm::DbErr) -> Value {
    tracing::error!(error = %e, "entitlement lookup failed");
    error(id.clone(), -32603, "internal error: entitlement lookup failed")
}

async fn logs(gate: &Gate, caller: &Caller, id: &Value, params: Vec<Value>) -> Result<Value, Value> {
    let result = upstream(gate, id, "eth_getLogs", Value::Array(params)).await?;
    let mut access = Access::new(&gate.state, caller);
    let mut out = Vec::new();
    for log in result.as_array().into_iter().flatten() {
        if access.log_json(log).await.map_err(|e| db_error(id, &e))? {
            out.push(log.clone());
        }
    }
    Ok(Value::Array(out))
}

fn hash_of(v: &Value, key: &str) -> Option<B256> {
    v.get(key)?.as_str()?.parse().ok()
}

/// Whether `caller` may see the transaction rendered as `tx` (with `from`, `hash`,
/// `blockNumber`): its own, or, once in a block, one with a log it may see.
async fn may_see_tx(
    access: &mut Access<'_>,
    caller: &Caller,
    tx: &Value,
    hash_key: &str,
) -> Result<bool, sea_orm::DbErr> {
    let from: Option<Address> = tx.get("from").and_then(Value::as_str).and_then(|f| f.parse().ok());
    if from == Some(caller.address) {
        return Ok(true);
    }
    let (Some(from), Some(hash), Some(block)) = (from, hash_of(tx, hash_key), tx.get("blockNumber").and_then(quantity))
    else {
        return Ok(false);
    };
    access.transaction(hash, from, block).await
}

async fn transaction(gate: &Gate, caller: &Caller, id: &Value, params: Vec<Value>) -> Result<Value, Value> {
    let tx = upstream(gate, id, "eth_getTransactionByHash", Value::Array(params)).await?;
    if tx.is_null() {
        return Ok(tx);
    }
    let mut access = Access::new(&gate.state, caller);
    let visible = may_see_tx(&mut access, caller, &tx, "hash").await.map_err(|e| db_error(id, &e))?;
    // Not one's to see: as if it did not exist.
    Ok(if visible { tx } else { Value::Null })
}

async fn receipt(gate: &Gate, caller: &Caller, id: &Value, params: Vec<Value>) -> Result<Value, Value> {
    let mut receipt = upstream(gate, id, "eth_getTransactionReceipt", Value::Array(params)).await?;
    if receipt.is_null() {
        return Ok(receipt);
    }
    let mut access = Access::new(&gate.state, caller);
    if !may_see_tx(&mut access, caller, &receipt, "transactionHash").await.map_err(|e| db_error(id, &e))? {
        return Ok(Value::Null);
    }
    let own =
        receipt.get("from").and_then(Value::as_str).and_then(|f| f.parse::<Address>().ok()) == Some(caller.address);
    if !own {
        // Another's transaction that touched something of the caller's: only those logs,
        // and a bloom of only them.
        let logs = receipt.get("logs").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut kept = Vec::new();
        let mut bloom = Bloom::default();
        for log in logs {
            if access.log_json(&log).await.map_err(|e| db_error(id, &e))? {
                if let Some(l) = parse_log(&log) {
                    bloom.accrue_log(&l);
                }
                kept.push(log);
            }
        }
        receipt["logs"] = Value::Array(kept);
        receipt["logsBloom"] = json!(bloom);
    }
    Ok(receipt)
}

async fn block(gate: &Gate, caller: &Caller, id: &Value, method: &str, mut params: Vec<Value>) -> Result<Value, Value> {
    let full = params.get(1).and_then(Value::as_bool).unwrap_or(false);
    if params.len() < 2 {
        params.resize(2, Value::Null);
    }
    params[1] = Value::Bool(true);
    let mut block = upstream(gate, id, method, Value::Array(params)).await?;
    if block.is_null() {
        return Ok(block);
    }
    let mut access = Access::new(&gate.state, caller);
    let mut kept = Vec::new();
    for tx in block.get("transactions").and_then(Value::as_array).cloned().unwrap_or_default() {
        if may_see_tx(&mut access, caller, &tx, "hash").await.map_err(|e| db_error(id, &e))? {
            kept.push(if full { tx } else { tx.get("hash").cloned().unwrap_or(Value::Null) });
        }
    }
    block["transactions"] = Value::Array(kept);
    // The block's bloom would tell which orders and parties it touched.
    block["logsBloom"] = json!(Bloom::default());
    Ok(block)
}
