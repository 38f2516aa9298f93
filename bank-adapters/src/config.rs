//! What a bank's operator configures to run its settlement worker: the chain, the bank's
//! key, the outbox database, the rails and the party directory, as a JSON file:
//!
//! ```json
//! {
//!   "rpc_url": "http://127.0.0.1:8545",
//!   "trade_orders": "0x...",
//!   "receivables": "0x...",
//!   "bank_key": "0x...",
//!   "database_url": "sqlite://harbour-bank-outbox.db?mode=rwc",
//!   "rails": { "kind": "iso20022", "url": "http://127.0.0.1:9700",
//!              "initiating_party": "Harbour Bank", "timeout_ms": 5000 },
//!   "parties": {
//!     "0x...buyer": { "name": "Acme Imports Ltd", "iban": "GB43HRBR00000000000001", "bic": "HRBRGB2L" }
//!   }
//! }
//! ```
//! Optional: `confirmations` (0), `start_block` (0), `poll_interval_ms` (500),
//! `backoff_initial_ms` (200), `backoff_max_ms` (30000), `concurrency` (8), `batch_size`
//! (500 transfers per pain.001), `chain_batch` (100 per chain transaction). For a webhook
//! bank: `"rails": { "kind": "webhook", "url": ..., "secret": ..., "timeout_ms": ... }`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use serde::{Deserialize, Serialize};

use crate::iso20022_http::IsoHttpRails;
use crate::outbox::Outbox;
use crate::party::{Party, StaticDirectory};
use crate::rails::Rails;
use crate::settlement::{CrashPoint, SettlementWorker, WorkerConfig, WorkerError};
use crate::webhook::WebhookRails;
use tradechain_chain::remote::{RemoteChain, RemoteSettings};

/// Which rails the bank speaks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RailsSettings {
    /// ISO 20022 XML over HTTP ([`IsoHttpRails`]): pain.001 out, pain.002 and camt.054 back.
    Iso20022 {
        /// The bank gateway's base URL (`http://` or `https://`).
        url: String,
        /// Name sent as `GrpHdr/InitgPty/Nm` (at most 140 characters).
        initiating_party: String,
        /// Per-request timeout in milliseconds; after it the outcome is unknown and a status
        /// enquiry follows.
        timeout_ms: u64,
    },
    /// HMAC-signed JSON ([`WebhookRails`]).
    Webhook {
        /// The bank API's base URL (`http://` or `https://`).
        url: String,
        /// Shared HMAC-SHA256 secret, at least 16 bytes.
        secret: String,
        /// Per-request timeout in milliseconds.
        timeout_ms: u64,
    },
}

/// Everything one bank's worker needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BankSettings {
    /// Ethereum JSON-RPC URL of the chain (embedded node or any EVM network).
    pub rpc_url: String,
    /// The bank's API token, sent as a bearer credential to `rpc_url`: a tradechain node
    /// outside dev mode answers JSON-RPC only to an organisation it knows, and only what
    /// that organisation may see (its orders' events).
    #[serde(default)]
    pub rpc_token: Option<String>,
    /// The TradeOrders contract whose `PaymentDue` events the worker follows.
    pub trade_orders: Address,
    /// The Receivables contract, to repay payables finance; omit to ignore repayments.
    #[serde(default)]
    pub receivables: Option<Address>,
    /// The bank's private key (hex). It signs confirmPayment, failPayment and releases.
    pub bank_key: String,
    /// Outbox database (sea-orm URL; SQLite or PostgreSQL).
    pub database_url: String,
    /// How the worker reaches the bank.
    pub rails: RailsSettings,
    /// Account details by chain address; the bank's own address maps to its own account,
    /// which pays the undertakings it covers at its own risk.
    pub parties: HashMap<Address, Party>,
    /// The bank's escrow account, which holds the funds it earmarks for the undertakings it
    /// covers so; omitted: every undertaking is paid at the bank's own risk.
    #[serde(default)]
    pub escrow_account: Option<Party>,
    /// Blocks to wait before trusting a block (default 0: the embedded node has finality).
    #[serde(default)]
    pub confirmations: u64,
    /// First block to read when the outbox has no cursor yet (default 0).
    #[serde(default)]
    pub start_block: u64,
    /// Pause between idle passes, in milliseconds (default 500).
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// First backoff after a transient bank failure, in milliseconds (default 200).
    #[serde(default = "default_backoff_initial_ms")]
    pub backoff_initial_ms: u64,
    /// Longest backoff, in milliseconds (default 30 000).
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// Instructions handled at once (default 8).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Most new instructions in one message to the bank (default 500).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Most releases or confirmations in one chain transaction (default 100).
    #[serde(default = "default_chain_batch")]
    pub chain_batch: usize,
    /// Fault injection for recovery tests; never set in production.
    #[serde(default)]
    pub crash_at: Option<CrashPoint>,
}

fn default_batch_size() -> usize {
    500
}
fn default_chain_batch() -> usize {
    100
}

fn default_poll_ms() -> u64 {
    500
}
fn default_backoff_initial_ms() -> u64 {
    200
}
fn default_backoff_max_ms() -> u64 {
    30_000
}
fn default_concurrency() -> usize {
    8
}

/// Why a worker could not be set up from its settings.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The settings file is unreadable or not valid JSON for [`BankSettings`].
    #[error("cannot read settings {path}: {reason}")]
    Read {
        /// The settings file.
        path: String,
        /// The I/O or JSON error.
        reason: String,
    },
    /// `bank_key` is not a secp256k1 private key in hex.
    #[error("invalid bank key: {0}")]
    Key(String),
    /// The worker could not start.
    #[error(transparent)]
    Worker(#[from] WorkerError),
    /// The rails are misconfigured (URL, secret, TLS).
    #[error(transparent)]
    Rails(#[from] crate::rails::RailError),
    /// The chain at `rpc_url` could not be reached.
    #[error(transparent)]
    Chain(#[from] tradechain_chain::ChainError),
    /// The outbox database could not be opened.
    #[error(transparent)]
    Outbox(#[from] crate::outbox::OutboxError),
}

impl BankSettings {
    /// Read settings from a JSON file.
    pub fn load(path: &std::path::Path) -> Result<Self, SettingsError> {
        let read = |reason: String| SettingsError::Read { path: path.display().to_string(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| read(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| read(e.to_string()))
    }

    /// The worker configuration these settings describe.
    pub(crate) fn worker_config(&self) -> WorkerConfig {
        WorkerConfig {
            confirmations: self.confirmations,
            start_block: self.start_block,
            poll_interval: Duration::from_millis(self.poll_interval_ms),
            backoff_initial: Duration::from_millis(self.backoff_initial_ms),
            backoff_max: Duration::from_millis(self.backoff_max_ms),
            concurrency: self.concurrency,
            batch_size: self.batch_size,
            chain_batch: self.chain_batch,
            crash_at: self.crash_at,
            receivables: self.receivables,
            escrow_account: self.escrow_account.clone(),
            ..WorkerConfig::new(self.trade_orders)
        }
    }

    /// The bank's signing key.
    pub(crate) fn signer(&self) -> Result<PrivateKeySigner, SettingsError> {
        self.bank_key.trim().parse::<PrivateKeySigner>().map_err(|e| SettingsError::Key(e.to_string()))
    }

    async fn build<R: Rails>(&self, rails: R) -> Result<SettlementWorker<R>, SettingsError> {
        let chain = RemoteChain::connect(RemoteSettings {
            bearer: self.rpc_token.clone(),
            ..RemoteSettings::new(&self.rpc_url)
        })
        .await?;
        let outbox = Outbox::connect(&self.database_url).await?;
        let directory = Arc::new(StaticDirectory { parties: self.parties.clone() });
        Ok(SettlementWorker::new(self.worker_config(), chain, outbox, rails, directory, self.signer()?).await?)
    }

    /// Build the worker these settings describe and run it until `shutdown` resolves.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) -> Result<(), SettingsError> {
        match &self.rails {
            RailsSettings::Iso20022 { url, initiating_party, timeout_ms } => {
                let rails = IsoHttpRails::new(url, initiating_party, Duration::from_millis(*timeout_ms))?;
                let worker = self.build(rails).await?;
                tracing::info!(bank = worker.bank_id(), rails = "iso20022", "settlement worker running");
                worker.run(shutdown).await;
            }
            RailsSettings::Webhook { url, secret, timeout_ms } => {
                let rails = WebhookRails::new(url, secret.as_bytes().to_vec(), Duration::from_millis(*timeout_ms))?;
                let worker = self.build(rails).await?;
                tracing::info!(bank = worker.bank_id(), rails = "webhook", "settlement worker running");
                worker.run(shutdown).await;
            }
        }
        Ok(())
    }
}
