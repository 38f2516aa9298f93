//! The embedded platform a scenario plays against: a dev node with the REST API and
//! JSON-RPC on one loopback port, the sandbox bank on another, in a temporary directory.
//! (The same wiring as `api/tests/common` and `bank-adapters/tests/support`.)

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tradechain_api::{ApiConfig, Platform, Serving};
use tradechain_engine::{GenesisCall, Node, NodeConfig};

use crate::Error;

/// A whole platform in one directory: a dev node with the API, and the sandbox bank.
pub struct Embedded {
    /// The node's URL: REST under `/v1`, JSON-RPC at `/`.
    pub base: String,
    /// The sandbox bank's URL.
    pub bank_url: String,
    /// The dev operator's API token.
    pub operator_token: String,
    /// The chain's data directory (for `verify` after the run).
    pub chain_dir: PathBuf,
    /// Dropped on stop with the node, so the chain's files are closed before verification.
    serving: Option<Serving>,
    node: Option<Node>,
    bank: tokio::task::JoinHandle<()>,
}

fn err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Platform(format!("{what}: {e}"))
}

/// The sandbox bank (the banks' side of a scenario) on a loopback port, its ledger in
/// `dir`: its URL and the task serving it.
pub async fn start_sandbox_bank(dir: &Path) -> Result<(String, tokio::task::JoinHandle<()>), Error> {
    let bank_db = format!("sqlite://{}?mode=rwc", dir.join("sandbox-bank.sqlite").display());
    let ledger =
        tradechain_bank_adapters::sandbox::ledger::Ledger::open(&bank_db).await.map_err(|e| err("sandbox bank", e))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| err("bind", e))?;
    let addr = listener.local_addr().map_err(|e| err("bind", e))?;
    let router = tradechain_bank_adapters::sandbox::router(Arc::new(ledger));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((format!("http://{addr}"), task))
}

impl Embedded {
    /// Start it in `dir` on a free loopback port; it stops when dropped.
    pub async fn start(dir: &Path) -> Result<Embedded, Error> {
        Self::start_on(dir, None).await
    }

    /// Start it in `dir`, the node listening on `listen` (default a free loopback port).
    pub async fn start_on(dir: &Path, listen: Option<std::net::SocketAddr>) -> Result<Embedded, Error> {
        // reqwest is built without a default TLS provider in this workspace; we speak plain HTTP.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let chain_dir = dir.join("chain");
        let config = NodeConfig::dev_in(&chain_dir);
        let operator = config.operator_address().map_err(|e| err("dev operator", e))?;
        let genesis = tradechain_contracts::genesis::plan(operator)
            .into_iter()
            .map(|c| GenesisCall { to: c.to, input: c.input })
            .collect();
        let node = Node::open(config.clone(), genesis).map_err(|e| err("cannot open the chain", e))?;
        let database_url = format!("sqlite://{}?mode=rwc", dir.join("readmodel.sqlite").display());
        let api = ApiConfig { database_url: Some(database_url), ..ApiConfig::for_node(&config) };
        let platform = Platform::start(node.clone(), api).await.map_err(|e| err("platform", e))?;
        let listen = listen.unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| err(&format!("bind {listen}"), e))?;
        let serving = platform.spawn(listener, None).map_err(|e| err("serve", e))?;
        if serving.operator_token.is_empty() {
            return Err(err("dev operator token", "not written"));
        }
        let (bank_url, bank) = start_sandbox_bank(dir).await?;
        Ok(Embedded {
            base: serving.base.clone(),
            bank_url,
            operator_token: serving.operator_token.clone(),
            chain_dir,
            serving: Some(serving),
            node: Some(node),
            bank,
        })
    }

    /// Stop serving and close the chain, so its directory can be verified.
    pub async fn stop(&mut self) {
        if let Some(mut s) = self.serving.take() {
            s.stop().await;
        }
        self.node = None;
        self.bank.abort();
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        self.bank.abort();
    }
}
