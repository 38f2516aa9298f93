//! Putting the contract suite on an external EVM network (`tradechain deploy --rpc`).
//!
//! The suite's addresses follow from the operator's address and its first nonces
//! ([`tradechain_contracts::genesis::SuiteAddresses::for_operator`]), so every node of a
//! consortium finds the contracts without being told where they are, and a second
//! deployment is never needed: it finds the suite already there.

use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use tradechain_contracts::genesis::SuiteAddresses;

use crate::remote::{RemoteChain, RemoteSettings};
use crate::rpc::{RpcClient, RpcError};
use crate::transaction::{Sender, TxRequest};
use crate::{Chain, ChainError};

/// The contracts of `suite` that have no code on the network (empty when it is deployed).
///
/// # Errors
/// When the network does not answer.
pub async fn missing_contracts(
    rpc: &RpcClient,
    suite: &SuiteAddresses,
) -> Result<Vec<(&'static str, Address)>, RpcError> {
    let mut missing = Vec::new();
    for (name, a) in [
        ("Consortium", suite.consortium),
        ("TradeOrders", suite.trade_orders),
        ("Receivables", suite.receivables),
        ("Consents", suite.consents),
    ] {
        if rpc.code(a).await?.is_empty() {
            missing.push((name, a));
        }
    }
    Ok(missing)
}

/// What `tradechain deploy` found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deployment {
    /// The suite was deployed now, in these transactions.
    Deployed {
        /// Where the contracts are.
        suite: SuiteAddresses,
        /// The deployment's transactions, in order.
        transactions: Vec<B256>,
    },
    /// The suite was already there.
    Existing {
        /// Where the contracts are.
        suite: SuiteAddresses,
    },
}

/// Why a deployment did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The network refused or did not answer.
    #[error("{url}: {error}")]
    Network {
        /// The network's endpoint.
        url: String,
        /// What it said.
        error: ChainError,
    },
    /// The operator has used nonces already, so the suite cannot land at its addresses.
    #[error(
        "the operator {operator} has already sent {nonce} transaction(s) on this network and the suite is not at its \
         addresses: the suite's addresses follow from the operator's first four nonces, so deploy from a fresh \
         operator account"
    )]
    OperatorUsed {
        /// The operator's address.
        operator: String,
        /// Transactions it already sent.
        nonce: u64,
    },
    /// The operator cannot pay for gas.
    #[error("the operator {operator} has no funds to pay for gas on this network (gas price {gas_price} wei)")]
    NoFunds {
        /// The operator's address.
        operator: String,
        /// The network's gas price.
        gas_price: u128,
    },
    /// A transaction of the deployment was mined but reverted.
    #[error("deployment transaction {0} reverted")]
    Reverted(B256),
    /// The transactions went through but a contract is missing.
    #[error("deployment incomplete: no code at {what} {address}")]
    Incomplete {
        /// Which contract.
        what: &'static str,
        /// Where it should be.
        address: String,
    },
}

/// Deploy the contract suite and the consortium's genesis registrations
/// ([`tradechain_contracts::genesis::plan`]) to the network at `url` with `operator`'s
/// key and the network's fees, each transaction awaited; or find it there already.
///
/// # Errors
/// See [`DeployError`].
pub async fn deploy(url: &str, operator: &PrivateKeySigner) -> Result<Deployment, DeployError> {
    let net = |error: ChainError| DeployError::Network { url: url.to_string(), error };
    let chain =
        RemoteChain::connect(RemoteSettings { poll_interval: Duration::from_millis(50), ..RemoteSettings::new(url) })
            .await
            .map_err(net)?;
    let rpc = chain.rpc();
    let address = operator.address();
    let suite = SuiteAddresses::for_operator(address);
    if missing_contracts(rpc, &suite).await.map_err(|e| net(e.into()))?.is_empty() {
        return Ok(Deployment::Existing { suite });
    }
    let nonce = rpc.mined_nonce(address).await.map_err(|e| net(e.into()))?;
    if nonce != 0 {
        return Err(DeployError::OperatorUsed { operator: format!("{address:#x}"), nonce });
    }
    let price = rpc.gas_price().await.map_err(|e| net(e.into()))?;
    let balance = chain.balance(address).await.map_err(net)?;
    if price != 0 && balance == U256::ZERO {
        return Err(DeployError::NoFunds { operator: format!("{address:#x}"), gas_price: price });
    }
    let sender = Sender::new();
    let mut transactions = Vec::new();
    for call in tradechain_contracts::genesis::plan(address) {
        let tx = TxRequest { to: call.to, value: U256::ZERO, input: call.input, gas_limit: None };
        let receipt = sender.send(chain.as_ref(), operator, &tx).await.map_err(net)?;
        if !receipt.success {
            return Err(DeployError::Reverted(receipt.tx_hash));
        }
        tracing::info!(tx = %receipt.tx_hash, "deployment transaction mined");
        transactions.push(receipt.tx_hash);
    }
    if let Some((what, a)) = missing_contracts(rpc, &suite).await.map_err(|e| net(e.into()))?.first() {
        return Err(DeployError::Incomplete { what, address: format!("{a:#x}") });
    }
    Ok(Deployment::Deployed { suite, transactions })
}
