//! A consortium of member nodes for a scenario: on an EVM network (Hardhat in the tests),
//! one tradechain node per name the scenario's parties give (`node = "a"`), each with its
//! own data directory, read model and peer endpoint, all on loopback, the suite deployed by
//! the operator first if it is not there yet. Each party is onboarded at its node, and the
//! runner registers the nodes in the directory (see `runner::Runner::join_nodes`).

use std::path::Path;

use alloy::signers::local::PrivateKeySigner;
use tradechain_api::config::{Backend, ChainConfig};
use tradechain_api::{ApiConfig, AppState, Platform, Serving};

use crate::Error;
use crate::runner::NodeTarget;

fn err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Platform(format!("{what}: {e}"))
}

/// One member's node.
pub struct MemberNode {
    /// Its name in the scenario.
    pub name: String,
    /// Its REST API and JSON-RPC, `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its peer endpoint.
    pub peer: String,
    /// Its operator API token.
    pub operator_token: String,
    /// Its state (read model, keys), for a test's checks.
    pub state: AppState,
    serving: Serving,
}

/// The member nodes, in the order named.
pub struct Consortium {
    /// Each node.
    pub nodes: Vec<MemberNode>,
}

impl Consortium {
    /// Deploy the suite on the network at `rpc_url` as `operator` (unless it is there), then
    /// start a node named each of `names` in `dir/<name>`.
    ///
    /// # Errors
    /// The network's, or a node that does not start.
    pub async fn start(
        rpc_url: &str,
        operator: &PrivateKeySigner,
        names: &[String],
        dir: &Path,
    ) -> Result<Self, Error> {
        // reqwest is built without a default TLS provider in this workspace; we speak plain HTTP.
        let _ = rustls::crypto::ring::default_provider().install_default();
        tradechain_chain::deploy::deploy(rpc_url, operator).await.map_err(|e| err("deploying the suite", e))?;
        let mut nodes = Vec::with_capacity(names.len());
        for name in names {
            let home = dir.join(name);
            let mut config = ApiConfig {
                data_dir: home.join("api"),
                database_url: Some(format!("sqlite://{}?mode=rwc", home.join("readmodel.sqlite").display())),
                dev: true,
                chain: ChainConfig {
                    backend: Backend::Remote,
                    rpc_url: Some(rpc_url.to_string()),
                    poll_interval_ms: 50,
                    // 10 ETH to each custodial organisation, for gas on a network that charges it.
                    fund_wei: "10000000000000000000".into(),
                    ..ChainConfig::default()
                },
                ..ApiConfig::default()
            };
            config.peer.poll_interval_ms = 50;
            config.peer.retry_max_ms = 1_000;
            let platform =
                Platform::start_remote(operator.clone(), config).await.map_err(|e| err(&format!("node {name}"), e))?;
            let state = platform.state.clone();
            let peer_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| err("bind", e))?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| err("bind", e))?;
            let serving = platform.spawn(listener, Some(peer_listener)).map_err(|e| err("serve", e))?;
            if serving.operator_token.is_empty() {
                return Err(err(&format!("node {name}"), "no dev operator token was written"));
            }
            nodes.push(MemberNode {
                name: name.clone(),
                base: serving.base.clone(),
                peer: serving.peer.clone().unwrap_or_default(),
                operator_token: serving.operator_token.clone(),
                state,
                serving,
            });
        }
        Ok(Consortium { nodes })
    }

    pub(crate) fn targets(&self) -> Vec<NodeTarget> {
        self.nodes
            .iter()
            .map(|n| NodeTarget {
                name: n.name.clone(),
                base: n.base.clone(),
                operator_token: n.operator_token.clone(),
                peer: n.peer.clone(),
            })
            .collect()
    }

    /// Stop every node and wait for it.
    pub async fn stop(&mut self) {
        for n in &mut self.nodes {
            n.serving.stop().await;
        }
    }
}
