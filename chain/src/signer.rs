//! Who signs an organisation's transactions: its own key held here, or the tradechain node
//! that keeps it (custodial).
//!
//! A bank's settlement worker, the scenario runner's banks and any organisation's own
//! software send their contract calls through [`Signer::send`]; which of the two signs is
//! a setting, and the contract's rules apply exactly the same either way.

use alloy::primitives::{Address, B256, Bytes};
use alloy::signers::local::PrivateKeySigner;
use serde::Deserialize;

use crate::transaction::{Sender, TxRequest};
use crate::{Chain, ChainError, Rejection};

/// A tradechain node that holds an organisation's key: each contract call goes to the
/// node's `POST /v1/transactions` (`to`, `data`) under the organisation's API token, and the
/// node signs it. The caller then needs no key material at all.
#[derive(Debug, Clone)]
pub struct Custodian {
    /// The node's REST base URL.
    pub api: String,
    /// The organisation's API token.
    pub token: String,
    /// The organisation's address on chain.
    pub address: Address,
}

/// Who signs (see the module docs).
#[derive(Debug, Clone)]
pub enum Signer {
    /// The organisation holds its key: transactions are signed here.
    Local(PrivateKeySigner),
    /// A tradechain node holds the key.
    Custodial(Custodian),
}

impl From<PrivateKeySigner> for Signer {
    fn from(key: PrivateKeySigner) -> Self {
        Signer::Local(key)
    }
}

/// Why a signed call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The chain refused it or did not answer.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// It was mined and reverted.
    #[error("transaction {0} reverted")]
    Reverted(B256),
    /// The custodial node refused it (HTTP status, stable code, message): the contract's
    /// refusal found by simulation, or the node's own.
    #[error("the node refused the call: HTTP {status} {code}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The API's stable error code.
        code: String,
        /// The API's message.
        message: String,
    },
    /// The custodial node could not be reached or answered something else.
    #[error("custodial node: {0}")]
    Node(String),
}

impl SendError {
    /// The stable code and message of a contract's refusal, when this is one.
    #[must_use]
    pub fn revert_reason(&self) -> Option<String> {
        match self {
            SendError::Chain(ChainError::Rejected(Rejection::Reverted { data })) => {
                tradechain_contracts::revert::decode(data)
                    .map(|r| format!("{r:?}"))
                    .or_else(|| Some(format!("0x{}", alloy::hex::encode(data))))
            }
            SendError::Refused { code, message, .. } => Some(format!("{code}: {message}")),
            _ => None,
        }
    }
}

impl Signer {
    /// The organisation's address on chain.
    #[must_use]
    pub fn address(&self) -> Address {
        match self {
            Signer::Local(key) => key.address(),
            Signer::Custodial(c) => c.address,
        }
    }

    /// Send `input` to `to` as this organisation and wait until it is mined: the
    /// transaction hash when it succeeded.
    ///
    /// # Errors
    /// [`SendError::Reverted`] when it was mined and reverted; the others as they say.
    pub async fn send(&self, sender: &Sender, chain: &dyn Chain, to: Address, input: Bytes) -> Result<B256, SendError> {
        match self {
            Signer::Local(key) => {
                let receipt = sender.send(chain, key, &TxRequest::call(to, input)).await?;
                if receipt.success { Ok(receipt.tx_hash) } else { Err(SendError::Reverted(receipt.tx_hash)) }
            }
            Signer::Custodial(c) => c.send(to, input).await,
        }
    }
}

impl Custodian {
    async fn send(&self, to: Address, input: Bytes) -> Result<B256, SendError> {
        #[derive(Deserialize)]
        struct Outcome {
            tx_hash: B256,
            success: bool,
        }
        #[derive(Deserialize, Default)]
        struct ErrorInner {
            #[serde(default)]
            code: String,
            #[serde(default)]
            message: String,
        }
        #[derive(Deserialize)]
        struct ErrorBody {
            #[serde(default)]
            error: ErrorInner,
        }
        let http =
            crate::http::client(std::time::Duration::from_secs(90)).map_err(|e| SendError::Node(e.to_string()))?;
        let body = serde_json::json!({ "to": to, "data": input });
        let resp = http
            .post(format!("{}/v1/transactions", self.api.trim_end_matches('/')))
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| SendError::Node(e.to_string()))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| SendError::Node(e.to_string()))?;
        if status != 200 {
            let e = serde_json::from_slice::<ErrorBody>(&bytes).map(|b| b.error).unwrap_or_default();
            let clip = |s: String| s.chars().take(500).collect();
            return Err(SendError::Refused { status, code: clip(e.code), message: clip(e.message) });
        }
        let outcome: Outcome = serde_json::from_slice(&bytes)
            .map_err(|e| SendError::Node(format!("unexpected answer to POST /v1/transactions: {e}")))?;
        if outcome.success { Ok(outcome.tx_hash) } else { Err(SendError::Reverted(outcome.tx_hash)) }
    }
}
