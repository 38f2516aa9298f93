//! The standard `eth_*`, `net_*` and `web3_*` methods.
//!
//! State queries answer for the latest block only (this node keeps no historical state); asking
//! for an older block's state is a clear -32000 error.

use alloy::consensus::TxEnvelope;
use alloy::eips::eip2718::Decodable2718;
use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, B256, Bytes, TxKind, U256};
use alloy::rpc::types::{Filter, FilterBlockOption, TransactionRequest};
use serde_json::{Value, json};

use super::shapes::{self, Location, quantity};
use super::{Params, RpcError};
use crate::block::SealedBlock;
use crate::executor::{CallOutcome, CallRequest};
use crate::node::Node;

/// Widest block range one eth_getLogs may scan.
const MAX_LOG_RANGE: u64 = 10_000;
/// Most logs one eth_getLogs may return.
const MAX_LOGS: usize = 10_000;

pub(super) fn call(node: &Node, method: &str, p: &Params<'_>) -> Result<Value, RpcError> {
    match method {
        "eth_chainId" => Ok(quantity(node.config().chain_id)),
        "net_version" => Ok(Value::String(node.config().chain_id.to_string())),
        "net_listening" => Ok(Value::Bool(true)),
        "web3_clientVersion" => Ok(Value::String(format!("tradechain/{}", env!("CARGO_PKG_VERSION")))),
        "eth_syncing" => Ok(Value::Bool(false)),
        "eth_accounts" => Ok(json!([])),
        "eth_blockNumber" => Ok(quantity(node.head().header.number)),
        "eth_gasPrice" | "eth_maxPriorityFeePerGas" => Ok(quantity(0)),
        "eth_feeHistory" => fee_history(node, p),
        "eth_getBalance" => {
            let address: Address = p.get(0, "address")?;
            latest_only(node, p, 1)?;
            Ok(json!(node.with_state(|s| s.balance(&address))))
        }
        "eth_getCode" => {
            let address: Address = p.get(0, "address")?;
            latest_only(node, p, 1)?;
            Ok(json!(node.with_state(|s| s.code_of(&address))))
        }
        "eth_getStorageAt" => {
            let address: Address = p.get(0, "address")?;
            let slot: U256 = p.get(1, "slot")?;
            latest_only(node, p, 2)?;
            let v = node.with_state(|s| s.storage_at(&address, &slot));
            Ok(json!(B256::from(v.to_be_bytes::<32>())))
        }
        "eth_getTransactionCount" => {
            let address: Address = p.get(0, "address")?;
            let pending = matches!(p.opt::<BlockId>(1, "block")?, Some(BlockId::Number(BlockNumberOrTag::Pending)));
            if !pending {
                latest_only(node, p, 1)?;
            }
            Ok(quantity(node.nonce(&address, pending)))
        }
        "eth_call" => {
            p.at_most(3)?;
            let req = call_request(p)?;
            latest_only(node, p, 1)?;
            match node.call(&req).map_err(RpcError::server)? {
                CallOutcome::Success { output, .. } => Ok(json!(output)),
                failed => Err(call_failure(failed)),
            }
        }
        "eth_estimateGas" => {
            p.at_most(3)?;
            let req = call_request(p)?;
            latest_only(node, p, 1)?;
            match node.estimate_gas(&req).map_err(RpcError::server)? {
                Ok(gas) => Ok(quantity(gas)),
                Err(failed) => Err(call_failure(failed)),
            }
        }
        "eth_sendRawTransaction" => {
            p.at_most(1)?;
            let raw: Bytes = p.get(0, "transaction")?;
            let hash = node.submit_raw(&raw)?;
            tracing::debug!(%hash, "transaction accepted");
            Ok(json!(hash))
        }
        "eth_getTransactionByHash" => transaction_by_hash(node, p.get(0, "hash")?),
        "eth_getTransactionReceipt" => receipt_by_hash(node, p.get(0, "hash")?),
        "eth_getBlockByNumber" => {
            let tag: BlockNumberOrTag = p.get(0, "block")?;
            let full = p.opt::<bool>(1, "full transactions")?.unwrap_or(false);
            let number = resolve(node, tag);
            let block = node.store().block(number).map_err(RpcError::internal)?;
            block.map_or(Ok(Value::Null), |b| block_json(node, &b, full))
        }
        "eth_getBlockByHash" => {
            let hash: B256 = p.get(0, "hash")?;
            let full = p.opt::<bool>(1, "full transactions")?.unwrap_or(false);
            let store = node.store();
            let Some(number) = store.block_number(&hash).map_err(RpcError::internal)? else { return Ok(Value::Null) };
            let block = store.block(number).map_err(RpcError::internal)?;
            block.map_or(Ok(Value::Null), |b| block_json(node, &b, full))
        }
        "eth_getLogs" => get_logs(node, p),
        _ => Err(RpcError::method_not_found(method)),
    }
}

fn resolve(node: &Node, tag: BlockNumberOrTag) -> u64 {
    match tag {
        BlockNumberOrTag::Number(n) => n,
        BlockNumberOrTag::Earliest => 0,
        _ => node.head().header.number,
    }
}

/// Accept only the latest state (or an absent block parameter).
fn latest_only(node: &Node, p: &Params<'_>, i: usize) -> Result<(), RpcError> {
    let Some(id) = p.opt::<BlockId>(i, "block")? else { return Ok(()) };
    let head = node.head();
    let ok = match id {
        BlockId::Number(BlockNumberOrTag::Number(n)) => n == head.header.number,
        BlockId::Number(BlockNumberOrTag::Earliest) => head.header.number == 0,
        BlockId::Number(_) => true,
        BlockId::Hash(h) => h.block_hash == head.hash,
    };
    if ok {
        Ok(())
    } else {
        Err(RpcError::server(format!(
            "state at block {id} is not available: this node keeps only the latest state (block {})",
            head.header.number
        )))
    }
}

fn call_request(p: &Params<'_>) -> Result<CallRequest, RpcError> {
    let req: TransactionRequest = p.get(0, "transaction")?;
    Ok(CallRequest {
        from: req.from.unwrap_or_default(),
        to: match req.to {
            Some(TxKind::Call(a)) => Some(a),
            _ => None,
        },
        gas: req.gas,
        value: req.value.unwrap_or_default(),
        input: req.input.input().cloned().unwrap_or_default(),
    })
}

fn call_failure(outcome: CallOutcome) -> RpcError {
    match outcome {
        CallOutcome::Revert { data, .. } => RpcError::reverted(&data),
        CallOutcome::Halt { reason, .. } => RpcError::server(format!("execution halted: {reason}")),
        CallOutcome::Success { .. } => RpcError::internal("unexpected success"),
    }
}

fn location(b: &SealedBlock, index: u64) -> Location {
    Location { block_hash: b.hash, block_number: b.header.number, index, timestamp: b.header.timestamp }
}

fn decode(raw: &Bytes) -> Result<TxEnvelope, RpcError> {
    TxEnvelope::decode_2718(&mut raw.as_ref())
        .map_err(|e| RpcError::internal(format!("stored transaction unreadable: {e}")))
}

fn transaction_by_hash(node: &Node, hash: B256) -> Result<Value, RpcError> {
    if let Some(tx) = node.pending_transaction(&hash) {
        return Ok(shapes::transaction(tx.envelope.clone(), tx.sender, None));
    }
    let Some((raw, receipt)) = node.sealed_transaction(&hash).map_err(RpcError::internal)? else {
        return Ok(Value::Null);
    };
    let block = node.store().block(receipt.block_number).map_err(RpcError::internal)?;
    let Some(block) = block else { return Ok(Value::Null) };
    Ok(shapes::transaction(decode(&raw)?, receipt.from, Some(location(&block, u64::from(receipt.index)))))
}

fn receipt_by_hash(node: &Node, hash: B256) -> Result<Value, RpcError> {
    let Some(receipt) = node.store().receipt(&hash).map_err(RpcError::internal)? else { return Ok(Value::Null) };
    let block = node.store().block(receipt.block_number).map_err(RpcError::internal)?;
    let Some(block) = block else { return Ok(Value::Null) };
    Ok(shapes::receipt(&receipt, &location(&block, u64::from(receipt.index))))
}

fn block_json(node: &Node, b: &SealedBlock, full: bool) -> Result<Value, RpcError> {
    let txs = if full {
        let mut out = Vec::with_capacity(b.transactions.len());
        for (i, hash) in b.transactions.iter().enumerate() {
            let Some((raw, r)) = node.sealed_transaction(hash).map_err(RpcError::internal)? else {
                return Err(RpcError::internal(format!("transaction {hash} of block {} missing", b.header.number)));
            };
            out.push(shapes::transaction(decode(&raw)?, r.from, Some(location(b, i as u64))));
        }
        out
    } else {
        b.transactions.iter().map(|h| json!(h)).collect()
    };
    Ok(shapes::block(b, txs))
}

fn fee_history(node: &Node, p: &Params<'_>) -> Result<Value, RpcError> {
    let count = p.quantity(0, "block count")?.clamp(1, 1024);
    let newest = resolve(node, p.get(1, "newest block")?).min(node.head().header.number);
    let percentiles: Option<Vec<f64>> = p.opt(2, "reward percentiles")?;
    let oldest = newest.saturating_sub(count - 1);
    let mut ratios = Vec::new();
    for n in oldest..=newest {
        let b = node.store().block(n).map_err(RpcError::internal)?;
        ratios.push(b.map_or(0.0, |b| b.header.gas_used as f64 / b.header.gas_limit.max(1) as f64));
    }
    let blocks = ratios.len();
    let mut out = json!({
        "oldestBlock": quantity(oldest),
        "baseFeePerGas": vec!["0x0"; blocks + 1],
        "gasUsedRatio": ratios,
    });
    if let Some(pct) = percentiles {
        out["reward"] = json!(vec![vec!["0x0"; pct.len()]; blocks]);
    }
    Ok(out)
}

fn get_logs(node: &Node, p: &Params<'_>) -> Result<Value, RpcError> {
    p.at_most(1)?;
    let filter: Filter = p.get(0, "filter")?;
    let head = node.head().header.number;
    let store = node.store();
    let (from, to) = match filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => match store.block_number(&hash).map_err(RpcError::internal)? {
            Some(n) => (n, n),
            None => return Err(RpcError::server(format!("block {hash} not found"))),
        },
        FilterBlockOption::Range { from_block, to_block } => {
            let from = from_block.map_or(head, |t| resolve(node, t));
            let to = to_block.map_or(head, |t| resolve(node, t)).min(head);
            (from, to)
        }
    };
    if from > to {
        return Ok(json!([]));
    }
    if to - from >= MAX_LOG_RANGE {
        return Err(RpcError::server(format!("block range {from}..={to} exceeds {MAX_LOG_RANGE} blocks; narrow it")));
    }
    let mut logs = Vec::new();
    for n in from..=to {
        let Some(block) = store.block(n).map_err(RpcError::internal)? else { continue };
        if block.transactions.is_empty() || !filter.matches_bloom(block.header.logs_bloom) {
            continue;
        }
        let receipts = store.block_receipts(n).map_err(RpcError::internal)?;
        for r in receipts {
            for log in shapes::logs(&r, &location(&block, u64::from(r.index))) {
                if filter.matches(&log.inner) {
                    logs.push(log);
                    if logs.len() > MAX_LOGS {
                        return Err(RpcError::server(format!(
                            "query returns more than {MAX_LOGS} logs; narrow the block range"
                        )));
                    }
                }
            }
        }
    }
    serde_json::to_value(logs).map_err(RpcError::internal)
}
