//! tradechain-api: how exporters, importers, banks and financiers use tradechain.
//!
//! An axum service: REST under `/v1` (organisations, orders, documents, payments,
//! financing, verification requests and consents, firms' credit profiles with their
//! on-chain proofs and the check of a cited event against the chain, the authenticity
//! check of an order read from the chain, signed-transaction relay, live order
//! events), an OpenAPI 3 document at `/openapi.json` with a viewer at `/docs`, authentication per organisation (API tokens stored as
//! SHA-256) and authorization on every route; the SQL read model ([`readmodel`], sea-orm:
//! SQLite by default, PostgreSQL by configuration) that the [`indexer`] fills from the
//! chain's events and can rebuild identically; custodial signing keys kept encrypted
//! ([`keystore`]).
//!
//! It must never: write to the read model's chain tables except through the indexer;
//! answer a read outside what the caller may see; sign for an organisation with another's
//! key; import anything from a crate above it (scenarios, the binary).
//!
//! Main items: [`Platform`] (start everything: [`Platform::start`], [`Platform::router`],
//! [`Platform::shutdown`]), [`ApiConfig`], [`AppState`], [`app`], [`auth::create_token`],
//! [`tradechain_chain::Chain`] (the chain behind one trait), [`error::ApiError`].
//!
//! Serve the API and the engine's JSON-RPC on one port (what `tradechain node` does):
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use tradechain_api::{ApiConfig, Platform};
//! let config = tradechain_engine::NodeConfig::dev_in("data");
//! let node = tradechain_engine::Node::open(config.clone(), Vec::new())?;
//! let _producer = node.spawn_producer();
//! let api = ApiConfig::load(&config, None)?;
//! let platform = Platform::start(node, api).await?;
//! let listener = tokio::net::TcpListener::bind(config.listen).await?;
//! platform
//!     .serve(listener, async {
//!         let _ = tokio::signal::ctrl_c().await;
//!     })
//!     .await?;
//! # Ok(()) }
//! ```
//! And a token from the command line (`tradechain token create --org NAME`):
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = tradechain_engine::NodeConfig::load(None)?;
//! let api = tradechain_api::ApiConfig::load(&config, None)?;
//! let token = tradechain_api::auth::create_token_for_org(&api, "Fazenda Boa Vista Ltda").await?;
//! println!("{token}");
//! # Ok(()) }
//! ```

mod admission;
pub mod auth;
mod authenticity;
mod codec;
pub mod config;
mod connection;
mod consent;
mod consortium;
pub mod credit;
mod document;
pub mod error;
mod events;
mod files;
mod financing;
mod health;
mod holiday;
pub mod indexer;
mod jsonrpc;
pub mod keyfile;
pub mod keystore;
pub mod openapi;
mod order;
mod organisation;
mod overload;
mod payment;
mod places;
mod proof;
pub mod readmodel;
pub mod registry;
mod request;
mod terms;
mod token;
mod transaction;
mod web;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use alloy::signers::local::PrivateKeySigner;
use axum::Router;
use sea_orm::{DatabaseConnection, EntityTrait};
use tokio::sync::watch;
use tradechain_contracts::genesis::SuiteAddresses;
use tradechain_engine::Node;

pub use config::ApiConfig;
pub use error::{ApiError, ApiResult};

use crate::indexer::Indexer;
use crate::keystore::Keystore;
use tradechain_chain::Chain;
use tradechain_chain::embedded::EmbeddedChain;
use tradechain_chain::remote::{RemoteChain, RemoteSettings};
use tradechain_chain::transaction::Sender;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

/// The shared parts behind [`AppState`].
pub struct Inner {
    /// The read model.
    pub db: DatabaseConnection,
    /// The chain: embedded or remote.
    pub chain: Arc<dyn Chain>,
    /// Where the contracts are.
    pub suite: SuiteAddresses,
    /// The operator's key (onboards organisations, funds them with gas).
    pub operator: PrivateKeySigner,
    /// Custodial keys, sealed under the node's master key.
    pub keystore: Keystore,
    /// Follows the chain into the read model.
    pub indexer: Indexer,
    /// The settings it runs with.
    pub config: ApiConfig,
    /// The duplicate-financing registry: this node's, or the operator's over HTTP.
    pub(crate) registry: registry::Registry,
    /// Where uploaded document files are kept.
    pub files_dir: PathBuf,
    /// Signs and submits transactions, one nonce sequence per sending address.
    pub sender: Sender,
    /// Flips to true when the server starts shutting down: live streams (SSE) end.
    pub closing: watch::Receiver<bool>,
    /// This node's encryption keys in the consortium's node directory.
    pub(crate) node_keys: consortium::identity::NodeKeys,
    /// The node directory as last read from the chain.
    pub(crate) directory: consortium::identity::DirectoryCache,
    /// Reaches the other member nodes' peer endpoints.
    pub(crate) peer_client: reqwest::Client,
    /// Orders' details waiting to be stored together.
    pub(crate) details: order::details::Queue,
    /// The writes in progress: past the node's or an organisation's share, refused at once.
    pub(crate) writes: overload::Writes,
    /// The peer endpoint's budget of rows for refusals of unproven senders.
    pub(crate) peer_strangers: consortium::endpoint::Strangers,
}

impl AppState {
    /// How many writes are in progress now (taken in and not yet answered).
    pub fn writes_in_flight(&self) -> usize {
        self.writes.in_flight()
    }

    /// This node's current encryption key (the one its member registers in the directory).
    ///
    /// # Errors
    /// The read model's.
    pub async fn node_key(&self) -> ApiResult<Arc<tradechain_peer::envelope::NodeKey>> {
        self.node_keys.current(&self.db, &self.keystore).await
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

/// Failures while starting the platform.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The read model could not be opened or migrated.
    #[error("read model: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// The indexer could not catch up.
    #[error("indexer: {0}")]
    Index(#[from] indexer::IndexError),
    /// A key could not be read or made.
    #[error("keys: {0}")]
    Keys(String),
    /// A data directory could not be written.
    #[error("files: {0}")]
    Io(#[from] std::io::Error),
    /// The chain could not be reached, or the suite is not deployed on it.
    #[error("chain: {0}")]
    Chain(String),
}

/// The running API: state, the indexer task, and its shutdown switch.
pub struct Platform {
    /// What every request handler shares.
    pub state: AppState,
    node: Option<Node>,
    stop: watch::Sender<bool>,
    closing: Arc<watch::Sender<bool>>,
    indexer_task: tokio::task::JoinHandle<()>,
    delivery_task: tokio::task::JoinHandle<()>,
    /// With a remote chain: its JSON-RPC endpoint, which this node's port forwards to.
    rpc_upstream: Option<String>,
}

impl Platform {
    /// Start the API against the remote EVM network of `config.chain` (see
    /// docs/remote-network.md): connect, check that the suite is deployed where the
    /// operator's key puts it, and serve as [`Platform::start_with_chain`] does, with the
    /// network's JSON-RPC forwarded on this node's port.
    pub async fn start_remote(operator: PrivateKeySigner, config: ApiConfig) -> Result<Self, StartError> {
        let settings = config.chain.clone();
        let url = settings
            .rpc_url
            .clone()
            .ok_or_else(|| StartError::Chain("the remote backend needs chain.rpc_url".into()))?;
        let chain = RemoteChain::connect(RemoteSettings {
            url: url.clone(),
            ws_url: settings.ws_url.clone(),
            confirmations: settings.confirmations,
            poll_interval: std::time::Duration::from_millis(settings.poll_interval_ms.max(10)),
            bearer: settings.rpc_token.clone(),
        })
        .await
        .map_err(|e| StartError::Chain(format!("{url}: {e}")))?;
        let suite = SuiteAddresses::for_operator(operator.address());
        if let Some(configured) = &settings.suite {
            let expected = config::SuiteConfig {
                consortium: codec::addr(&suite.consortium),
                trade_orders: codec::addr(&suite.trade_orders),
                receivables: codec::addr(&suite.receivables),
                consents: codec::addr(&suite.consents),
            };
            let lower = |c: &config::SuiteConfig| {
                [&c.consortium, &c.trade_orders, &c.receivables, &c.consents].map(|a| a.to_ascii_lowercase())
            };
            if lower(configured) != lower(&expected) {
                return Err(StartError::Chain(format!(
                    "chain.suite does not match the operator's deployment: expected {expected:?}"
                )));
            }
        }
        let missing = tradechain_chain::deploy::missing_contracts(chain.rpc(), &suite)
            .await
            .map_err(|e| StartError::Chain(format!("{url}: {e}")))?;
        if let Some((name, address)) = missing.first() {
            return Err(StartError::Chain(format!(
                "no {name} at {} on {url}: run `tradechain deploy --rpc {url}` first",
                codec::addr(address)
            )));
        }
        let mut platform = Self::start_with_chain(chain, operator, config).await?;
        platform.rpc_upstream = Some(url);
        Ok(platform)
    }

    /// Start the API against the embedded node: open the read model (migrating it), catch
    /// the indexer up, and keep it following the chain. In dev mode, make sure the operator
    /// has an API token and write it to [`ApiConfig::operator_token_file`].
    pub async fn start(node: Node, config: ApiConfig) -> Result<Self, StartError> {
        let operator = config.operator_signer(node.config())?;
        if !config.dev {
            let suite = SuiteAddresses::for_operator(operator.address());
            node.set_admission(Arc::new(admission::MembersOnly {
                consortium: suite.consortium,
                consents: suite.consents,
                operator: operator.address(),
                max_calldata: config.max_member_calldata_bytes,
            }));
        }
        // The read model follows this chain: a revert would leave it answering for blocks
        // that no longer exist. (Rebuild it from a reverted chain by restarting the node.)
        node.refuse_reverts("the API's read model follows this chain and would be left ahead of it");
        let chain: Arc<dyn Chain> = EmbeddedChain::new(node.clone());
        let mut platform = Self::start_with_chain(chain, operator, config).await?;
        platform.node = Some(node);
        Ok(platform)
    }

    /// Start against any [`Chain`] with the operator's key.
    pub async fn start_with_chain(
        chain: Arc<dyn Chain>,
        operator: PrivateKeySigner,
        config: ApiConfig,
    ) -> Result<Self, StartError> {
        use tradechain_engine::config::{create_private_dir, restrict_file};
        // Keys, tokens and trade data: the directories are their owner's only (0700), the
        // files in them 0600.
        create_private_dir(&config.data_dir)?;
        let files_dir = config.data_dir.join("files");
        create_private_dir(&files_dir)?;
        let db = readmodel::connect(&config.database_url()).await?;
        readmodel::migrate(&db).await?;
        if let Some(path) = config.database_url().strip_prefix("sqlite://").map(|p| p.split('?').next().unwrap_or(p)) {
            for suffix in ["", "-wal", "-shm"] {
                restrict_file(Path::new(&format!("{path}{suffix}")))?;
            }
        }
        let keystore = Keystore::new(config.master_key()?);
        check_master_key(&config, &keystore)?;
        let node_keys = consortium::identity::load_or_create(&db, &keystore).await?;
        let registry = registry::Registry::open(&config.registry, &db, &keystore)
            .await
            .map_err(|e| StartError::Keys(format!("registry: {e}")))?;
        let indexer_db = readmodel::connect_indexer(&config.database_url(), &db).await?;
        let indexer = Indexer::new(indexer_db, chain.clone(), operator.address());
        indexer.init().await?;
        indexer.catch_up().await?;
        let (stop, stop_rx) = watch::channel(false);
        let (closing, closing_rx) = watch::channel(false);
        let indexer_task = tokio::spawn(indexer.clone().run(stop_rx.clone()));
        let peer_client = tradechain_chain::http::client_without_redirects(std::time::Duration::from_secs(60))
            .map_err(|e| StartError::Chain(format!("peer client: {e}")))?;
        let writes = overload::Writes::new(config.max_writes_in_flight, config.max_writes_in_flight_per_org);
        let state = AppState {
            inner: Arc::new(Inner {
                suite: SuiteAddresses::for_operator(operator.address()),
                db,
                chain,
                operator,
                keystore,
                indexer,
                registry,
                files_dir,
                config,
                sender: Sender::new(),
                closing: closing_rx,
                node_keys,
                directory: consortium::identity::DirectoryCache::default(),
                peer_client,
                details: order::details::Queue::default(),
                writes,
                peer_strangers: consortium::endpoint::Strangers::default(),
            }),
        };
        let delivery_task = tokio::spawn(consortium::outbox::run(state.clone(), stop_rx));
        organisation::ensure_operator_member(&state).await?;
        if state.config.dev {
            tracing::warn!(
                "dev mode: JSON-RPC on this port is open to anyone, unfiltered (no credential), and the \
                 embedded chain takes any account's transactions; outside dev mode it answers organisations \
                 with their API token, each only what it may see, and admits members' transactions only"
            );
            let path = state.config.operator_token_file();
            let known = match std::fs::read_to_string(&path) {
                Ok(t) => {
                    readmodel::api_token::Entity::find_by_id(auth::token_hash(t.trim())).one(&state.db).await?.is_some()
                }
                Err(_) => false,
            };
            if !known {
                let token = auth::create_token(&state.db, &operator_addr(&state), "dev operator").await?;
                let _ = std::fs::remove_file(&path);
                tradechain_engine::config::write_private(&path, format!("{token}\n").as_bytes())?;
                tracing::info!(path = %path.display(), "dev operator API token written");
            }
        }
        Ok(Self {
            state,
            node: None,
            stop,
            closing: Arc::new(closing),
            indexer_task,
            delivery_task,
            rpc_upstream: None,
        })
    }

    /// The whole HTTP surface: REST, OpenAPI, docs, the web app at `/app` (a browser asking
    /// for `/` is sent there), and JSON-RPC at `/` and `/rpc` (the embedded node's, or the
    /// remote network's, forwarded) behind the members-only gate ([`jsonrpc`]); in dev mode
    /// the port is open, as before.
    pub fn router(&self) -> Router {
        self.routes().layer(axum::middleware::from_fn(web::redirect_browsers))
    }

    fn routes(&self) -> Router {
        use jsonrpc::upstream::Upstream;
        let api = app(self.state.clone());
        let upstream = match (&self.node, &self.rpc_upstream) {
            (Some(node), _) => Upstream::Embedded(node.clone()),
            (None, Some(url)) => Upstream::remote(url, self.state.config.chain.rpc_token.clone()),
            (None, None) => return api,
        };
        let max_body = self.node.as_ref().map_or(1024 * 1024, |n| n.config().max_body_bytes);
        if !self.state.config.dev {
            return api.merge(jsonrpc::gated_router(self.state.clone(), upstream, max_body));
        }
        match upstream {
            Upstream::Embedded(node) => api.merge(tradechain_engine::rpc::router(node)),
            remote @ Upstream::Remote { .. } => api.merge(jsonrpc::open_remote_router(remote)),
        }
    }

    /// The peer endpoint's router (`/peer/v1/…`, see docs/remote-network.md): what other
    /// member nodes call to deliver and fetch private data; none of the REST API's routes.
    pub fn peer_router(&self) -> Router {
        consortium::endpoint::router(self.state.clone())
    }

    /// Serve [`Platform::peer_router`] on `listener` until the node shuts down, its
    /// connections bounded as the API's are ([`connection`]): the port faces every node of
    /// the network, and anyone who reaches it, before any of them has proven who it is.
    pub fn serve_peer(&self, listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<std::io::Result<()>> {
        let router = self.peer_router();
        let mut closing = self.closing.subscribe();
        let bounded = connection::Bounded::new(listener, &self.state.config);
        tokio::spawn(async move {
            axum::serve(bounded, router)
                .with_graceful_shutdown(async move {
                    let _ = closing.wait_for(|c| *c).await;
                })
                .await
        })
    }

    /// Serve [`Platform::router`] on `listener` until `signal` resolves; then stop taking
    /// connections, end the live event streams, let in-flight requests finish, and stop
    /// the indexer.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        signal: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = self.router();
        let closing = self.closing.clone();
        let signal = async move {
            signal.await;
            tracing::info!("shutting down: draining requests");
            let _ = closing.send(true);
        };
        let bounded = connection::Bounded::new(listener, &self.state.config);
        let result = axum::serve(bounded, router).with_graceful_shutdown(signal).await;
        self.shutdown().await;
        result
    }

    /// Serve in the background on `listener` (and the peer endpoint on `peer`, a member
    /// node's), until [`Serving::stop`]: how a test, a bench or a scenario runs a node in
    /// its own process. The operator's dev token is read if the node wrote one.
    ///
    /// # Errors
    /// A listener without a local address.
    pub fn spawn(
        self,
        listener: tokio::net::TcpListener,
        peer: Option<tokio::net::TcpListener>,
    ) -> std::io::Result<Serving> {
        let state = self.state.clone();
        let base = format!("http://{}", listener.local_addr()?);
        let peer = match peer {
            Some(l) => {
                let url = format!("http://{}", l.local_addr()?);
                drop(self.serve_peer(l));
                Some(url)
            }
            None => None,
        };
        let operator_token = std::fs::read_to_string(state.config.operator_token_file())
            .map(|t| t.trim().to_string())
            .unwrap_or_default();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            if let Err(e) = self
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
            {
                tracing::error!(error = %e, "the node stopped serving");
            }
        });
        Ok(Serving { base, peer, operator_token, state, stop: Some(stop), task: Some(task) })
    }

    /// Drop the read model's chain tables and re-index them from block 0 (for
    /// `tradechain` maintenance, with no API serving this read model meanwhile). Returns
    /// the last indexed block.
    pub async fn rebuild_read_model(node: Node, config: &ApiConfig) -> Result<u64, StartError> {
        let operator = config.operator_signer(node.config())?;
        let db = readmodel::connect(&config.database_url()).await?;
        readmodel::migrate(&db).await?;
        let indexer = Indexer::new(db, EmbeddedChain::new(node), operator.address());
        Ok(indexer.rebuild().await?)
    }

    /// Stop the indexer and the delivery worker, and wait for them.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.closing.send(true);
        let _ = self.indexer_task.await;
        let _ = self.delivery_task.await;
    }
}

/// A platform serving in the background ([`Platform::spawn`]); it stops when dropped (without
/// waiting) or on [`Serving::stop`] (waiting until it has shut down).
pub struct Serving {
    /// Its REST API and JSON-RPC, `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its peer endpoint, if it has one.
    pub peer: Option<String>,
    /// The dev operator's API token (empty outside dev mode).
    pub operator_token: String,
    /// What its handlers share (read model, keys), for a test's checks.
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Serving {
    /// Stop serving (REST and the peer endpoint) and wait until the node has shut down.
    pub async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

fn operator_addr(state: &AppState) -> String {
    codec::addr(&state.operator.address())
}

/// A wrong master key (a mistyped passphrase, another node's key file) is refused at start,
/// not at the first custodial signature: the first start seals a check value under it in
/// `<data_dir>/master.check`, every later start must open it.
fn check_master_key(config: &ApiConfig, keystore: &Keystore) -> Result<(), StartError> {
    const LABEL: &[u8] = b"tradechain master key check";
    let path = config.data_dir.join("master.check");
    match std::fs::read_to_string(&path) {
        Ok(sealed) => keystore.open_secret(LABEL, sealed.trim()).map(|_| ()).map_err(|_| {
            StartError::Keys(format!(
                "the master key does not open this node's keys (checked against {}): wrong key or passphrase",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let sealed = keystore.seal_secret(LABEL, &[0u8; 32]).map_err(|e| StartError::Keys(e.to_string()))?;
            tradechain_engine::config::write_private(&path, sealed.as_bytes())?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The REST router (`/v1`, `/openapi.json`, `/docs`) and the web app (`/app`) with request
/// ids, tracing and body limits. [`Platform::router`] adds the JSON-RPC routes.
pub fn app(state: AppState) -> Router {
    let json_limit = state.config.max_json_bytes;
    let v1 = Router::new()
        .merge(organisation::routes())
        .merge(token::routes())
        .merge(order::routes())
        .merge(payment::routes())
        .merge(financing::routes())
        .merge(consent::routes())
        .merge(consortium::node::routes())
        .merge(holiday::routes())
        .merge(credit::routes())
        .merge(proof::routes())
        .merge(authenticity::routes())
        .merge(registry::routes())
        .merge(transaction::routes())
        .merge(events::routes())
        .merge(health::routes())
        .layer(axum::extract::DefaultBodyLimit::max(json_limit))
        .merge(document::routes(state.config.max_document_bytes, json_limit));
    Router::new()
        .nest("/v1", v1)
        .merge(openapi::routes())
        .merge(web::routes())
        .fallback(|| async { ApiError::not_found("NOT_FOUND", "no such route") })
        .layer(axum::middleware::from_fn(request::trace))
        .with_state(state)
}
