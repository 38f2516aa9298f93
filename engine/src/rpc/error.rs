//! JSON-RPC 2.0 errors with the codes Ethereum clients expect.
//!
//! | code   | meaning |
//! |--------|---------|
//! | -32700 | parse error (body is not JSON) |
//! | -32600 | invalid request (not a JSON-RPC request object, empty batch, body too large) |
//! | -32601 | method not found, or a dev method outside dev mode |
//! | -32602 | invalid params (wrong count or types) |
//! | -32603 | internal error |
//! | -32000 | transaction rejected (bad signature, chain id, nonce, size, gas, pool full) or unavailable state |
//! | -32007 | transaction not permitted by the node's admission rule (Besu's code for a sender not authorized) |
//! | 3      | execution reverted; `data` carries the revert data (custom errors decode from it) |

use alloy::primitives::Bytes;
use alloy::sol_types::{Revert, SolError};
use serde::Serialize;
use serde_json::Value;

use crate::transaction::TxRejection;

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const INTERNAL_ERROR: i64 = -32603;
const SERVER_ERROR: i64 = -32000;
/// Besu's `TX_SENDER_NOT_AUTHORIZED`, reused so clients of either node read it alike.
const NOT_PERMITTED: i64 = -32007;
const EXECUTION_REVERTED: i64 = 3;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct RpcError {
    pub(crate) code: i64,
    pub(crate) message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) data: Option<Value>,
}

impl RpcError {
    pub(crate) fn new(code: i64, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), data: None }
    }

    pub(crate) fn parse(detail: impl std::fmt::Display) -> Self {
        Self::new(PARSE_ERROR, format!("parse error: {detail}"))
    }

    pub(crate) fn invalid_request(detail: impl std::fmt::Display) -> Self {
        Self::new(INVALID_REQUEST, format!("invalid request: {detail}"))
    }

    pub(crate) fn method_not_found(method: &str) -> Self {
        Self::new(METHOD_NOT_FOUND, format!("method not found: {method}"))
    }

    pub(crate) fn invalid_params(detail: impl std::fmt::Display) -> Self {
        Self::new(INVALID_PARAMS, format!("invalid params: {detail}"))
    }

    pub(crate) fn internal(detail: impl std::fmt::Display) -> Self {
        Self::new(INTERNAL_ERROR, format!("internal error: {detail}"))
    }

    pub(crate) fn server(detail: impl std::fmt::Display) -> Self {
        Self::new(SERVER_ERROR, detail.to_string())
    }

    pub(crate) fn dev_only(method: &str) -> Self {
        Self::new(METHOD_NOT_FOUND, format!("{method}: method not available outside dev mode"))
    }

    /// A revert, with the revert data as `data` and, for `Error(string)`, the reason in the message.
    pub(crate) fn reverted(data: &Bytes) -> Self {
        let message = match Revert::abi_decode(data) {
            Ok(r) => format!("execution reverted: {}", r.reason),
            Err(_) => "execution reverted".to_string(),
        };
        Self { code: EXECUTION_REVERTED, message, data: Some(Value::String(data.to_string())) }
    }
}

impl From<TxRejection> for RpcError {
    fn from(e: TxRejection) -> Self {
        match e {
            TxRejection::NotPermitted(_) => Self::new(NOT_PERMITTED, e.to_string()),
            other => Self::server(other),
        }
    }
}
