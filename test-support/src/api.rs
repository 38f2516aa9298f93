//! The platform under test: a dev node with the API on a loopback port and a fresh read
//! model (SQLite file, or a fresh PostgreSQL database when `TRADECHAIN_TEST_POSTGRES_URL`
//! is set) ([`Net`]), or the API on a remote network ([`RemoteApi`]); an HTTP client
//! speaking JSON to either.

use std::net::SocketAddr;

use alloy::signers::local::PrivateKeySigner;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tradechain_api::config::{Backend, ChainConfig};
use tradechain_api::{ApiConfig, AppState, Platform};
use tradechain_engine::{GenesisCall, Node, NodeConfig};

/// Where a read model lives.
#[derive(Debug, Clone)]
pub enum Db {
    /// A SQLite file in the test's directory.
    Sqlite,
    /// A fresh database on the PostgreSQL server at this URL.
    Postgres(String),
}

/// SQLite always; PostgreSQL too when the test script provides a server.
pub fn backends() -> Vec<Db> {
    let mut out = vec![Db::Sqlite];
    out.extend(Db::postgres());
    out
}

impl Db {
    /// PostgreSQL when the test script provides a server, else `None`.
    pub fn postgres() -> Option<Db> {
        std::env::var("TRADECHAIN_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()).map(Db::Postgres)
    }
}

/// A fresh PostgreSQL database on the server at `url`; its URL.
///
/// # Panics
/// When the server refuses.
pub async fn fresh_postgres(url: &str) -> String {
    use sea_orm::ConnectionTrait;
    let name = format!("t_{}", hex::encode(tradechain_api::keystore::random_bytes::<8>()));
    let admin = sea_orm::Database::connect(url).await.expect("connect to postgres");
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
    admin.close().await.ok();
    match url.rfind('/') {
        Some(i) => format!("{}/{name}", &url[..i]),
        None => panic!("postgres url without a database: {url}"),
    }
}

/// A dev node with the API served on loopback.
pub struct Net {
    /// The node's and the API's data.
    pub dir: tempfile::TempDir,
    /// The embedded chain.
    pub node: Node,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The dev operator's API token.
    pub operator_token: String,
    /// A plain HTTP client.
    pub http: reqwest::Client,
    /// The read model's URL.
    pub database_url: String,
    /// The API's state (for tests that look inside).
    pub state: tradechain_api::AppState,
    serving: tradechain_api::Serving,
}

/// The contract suite's genesis calls for `config`'s operator.
#[must_use]
pub fn genesis(config: &NodeConfig) -> Vec<GenesisCall> {
    let operator = config.operator_address().expect("operator");
    tradechain_contracts::genesis::plan(operator)
        .into_iter()
        .map(|c| GenesisCall { to: c.to, input: c.input })
        .collect()
}

impl Net {
    /// In dev automine mode.
    pub async fn start(db: Db) -> Net {
        Self::start_with(db, true).await
    }

    /// A node configured by `configure` from the dev defaults (its producer running when
    /// automine is off), with the API in dev mode in front of it.
    pub async fn start_configured(db: Db, configure: impl FnOnce(NodeConfig) -> NodeConfig) -> Net {
        Self::launch(db, configure, false, |a| a).await
    }

    /// As [`Net::start_configured`], the API's settings configured by `api` from its defaults
    /// for the node (dev mode).
    pub async fn start_with_api(
        db: Db,
        configure: impl FnOnce(NodeConfig) -> NodeConfig,
        api: impl FnOnce(ApiConfig) -> ApiConfig,
    ) -> Net {
        Self::launch(db, configure, false, api).await
    }

    /// Blocks that gather what arrives within `window_ms` (a block at least every 5 s):
    /// writes sent together share a block.
    pub async fn start_gathering(db: Db, window_ms: u64) -> Net {
        Self::start_configured(db, |c| NodeConfig {
            automine: Some(false),
            block_interval_ms: 5_000,
            batch_window_ms: window_ms,
            ..c
        })
        .await
    }

    /// `automine = false`: blocks are sealed on an interval by the producer, as in production.
    pub async fn start_with(db: Db, automine: bool) -> Net {
        Self::start_configured(db, |mut config| {
            if !automine {
                config.automine = Some(false);
                config.block_interval_ms = 100;
            }
            config
        })
        .await
    }

    /// The API outside dev mode (JSON-RPC members only, behind the gate) in front of a dev
    /// engine, so that a test still moves the chain's clock (as the operator, through the
    /// gate) while every organisation meets the node as in production.
    pub async fn start_members_only(db: Db) -> Net {
        Self::start_members_only_configured(db, |c| c).await
    }

    /// As [`Net::start_members_only`], the node configured by `configure` from the dev
    /// defaults (its producer running when automine is off): a bank's node as in production.
    pub async fn start_members_only_configured(db: Db, configure: impl FnOnce(NodeConfig) -> NodeConfig) -> Net {
        Self::launch(db, configure, true, |a| a).await
    }

    /// A node configured by `configure` from the dev defaults, its clock aligned and its
    /// producer running when automine is off, and the API in front of it: in dev mode, or
    /// `members_only` (outside dev mode, the master key from outside the data directory).
    async fn launch(
        db: Db,
        configure: impl FnOnce(NodeConfig) -> NodeConfig,
        members_only: bool,
        configure_api: impl FnOnce(ApiConfig) -> ApiConfig,
    ) -> Net {
        // reqwest is built without a default TLS provider in this workspace; tests speak plain HTTP.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("tempdir");
        let config = configure(NodeConfig::dev_in(dir.path().join("chain")));
        let node = Node::open(config.clone(), genesis(&config)).expect("node opens");
        crate::clock::align(&node);
        if !config.automine() {
            drop(node.spawn_producer());
        }
        let api = if members_only {
            let master_key = Some(hex::encode(tradechain_api::keystore::random_bytes::<32>()));
            ApiConfig { dev: false, master_key, ..ApiConfig::for_node(&config) }
        } else {
            ApiConfig::for_node(&config)
        };
        Self::serve_api(dir, node, db, configure_api(api)).await
    }

    /// A second API (its own read model, keystore and tokens) on this one's chain, as
    /// another node of the consortium would run: it asks this node's registry, over HTTP
    /// with this node's operator token as its credential.
    pub async fn another_api(&self) -> Net {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = tradechain_api::registry::RegistryConfig {
            url: Some(self.base.clone()),
            token: Some(self.operator_token.clone()),
            ..Default::default()
        };
        let api = ApiConfig { data_dir: dir.path().join("api"), registry, ..ApiConfig::for_node(self.node.config()) };
        Self::serve_api(dir, self.node.clone(), Db::Sqlite, api).await
    }

    async fn serve_api(dir: tempfile::TempDir, node: Node, db: Db, api: ApiConfig) -> Net {
        let database_url = match db {
            Db::Sqlite => format!("sqlite://{}?mode=rwc", dir.path().join("readmodel.sqlite").display()),
            Db::Postgres(url) => fresh_postgres(&url).await,
        };
        let api = ApiConfig { database_url: Some(database_url.clone()), ..api };
        let platform = Platform::start(node.clone(), api.clone()).await.expect("platform starts");
        let state = platform.state.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let serving = platform.spawn(listener, None).expect("serve");
        let operator_token = if api.dev {
            assert!(!serving.operator_token.is_empty(), "the dev operator token was written");
            serving.operator_token.clone()
        } else {
            let operator = format!("{:#x}", state.operator.address());
            tradechain_api::auth::create_token(&state.db, &operator, "test operator").await.expect("operator token")
        };
        Net {
            dir,
            node,
            base: format!("http://{addr}"),
            addr,
            operator_token,
            http: reqwest::Client::new(),
            database_url,
            state,
            serving,
        }
    }

    /// Graceful shutdown: the server drains, the indexer stops.
    pub async fn stop(&mut self) {
        self.serving.stop().await;
    }

    /// One request with an optional bearer token and JSON body: its status and JSON (or
    /// the text as a JSON string).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// GET with a token.
    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call("GET", path, Some(token), None).await
    }

    /// POST JSON with a token.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, Some(token), Some(body)).await
    }

    /// PUT a PDF's bytes with a token.
    pub async fn put_bytes(&self, path: &str, token: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let res = self
            .http
            .put(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/pdf")
            .body(bytes)
            .send()
            .await
            .expect("request");
        let status = res.status();
        let text = res.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// The firm behind `firm_token` lets `financier` see its trade, for 700 days.
    pub async fn consent(&self, firm_token: &str, financier: &str) {
        let grant = json!({ "financier": financier, "expires_at": crate::fixtures::date_in(700) });
        let (status, body) = self.post("/v1/consents", firm_token, grant).await;
        assert!(status.is_success(), "consent to {financier}: {body}");
    }

    /// Onboard a financier that the firms behind `consenting` (their tokens) let see their
    /// trade, as a financier must be to offer on it; (address, token).
    pub async fn onboard_financier(&self, name: &str, consenting: &[&str]) -> (String, String) {
        let (address, token) = self.onboard(name, &["financier"]).await;
        for firm in consenting {
            self.consent(firm, &address).await;
        }
        (address, token)
    }

    /// Onboard an organisation; (address, token).
    pub async fn onboard(&self, name: &str, roles: &[&str]) -> (String, String) {
        let (status, body) =
            self.post("/v1/organisations", &self.operator_token, json!({ "name": name, "roles": roles })).await;
        assert_eq!(status, StatusCode::CREATED, "onboard {name}: {body}");
        (
            body["organisation"]["address"].as_str().expect("address").to_string(),
            body["token"].as_str().expect("token").to_string(),
        )
    }
}

/// The API on a remote network (Hardhat in the tests), served on loopback.
pub struct RemoteApi {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The dev operator's API token.
    pub token: String,
    /// The API's state.
    pub state: AppState,
    /// With a peer endpoint: `http://127.0.0.1:PORT` (what its member registers).
    pub peer: Option<String>,
    http: reqwest::Client,
    serving: tradechain_api::Serving,
    _dir: Option<tempfile::TempDir>,
}

/// How a member's node of a consortium of nodes is started ([`RemoteApi::start_member`]).
pub struct MemberNode<'a> {
    /// The network's JSON-RPC URL.
    pub url: &'a str,
    /// The operator whose suite is deployed there.
    pub operator: &'a PrivateKeySigner,
    /// Its own read model.
    pub database_url: String,
    /// Its own data directory (kept across a restart).
    pub data_dir: std::path::PathBuf,
    /// Its peer endpoint's address (`127.0.0.1:0` the first time; the same port again on
    /// a restart, as its registration names it).
    pub peer: SocketAddr,
}

impl RemoteApi {
    /// A member's node on the network: its own data directory and read model, the REST API
    /// on one loopback port, the peer endpoint on another, private data delivered promptly
    /// (a 50 ms poll, retries at most 500 ms apart).
    pub async fn start_member(m: MemberNode<'_>) -> RemoteApi {
        let mut config = ApiConfig {
            data_dir: m.data_dir.clone(),
            database_url: Some(m.database_url.clone()),
            dev: true,
            master_key: Some("11".repeat(32)),
            chain: ChainConfig {
                backend: Backend::Remote,
                rpc_url: Some(m.url.to_string()),
                confirmations: 0,
                poll_interval_ms: 20,
                fund_wei: "10000000000000000000".into(),
                ..ChainConfig::default()
            },
            ..ApiConfig::default()
        };
        config.peer.poll_interval_ms = 50;
        config.peer.retry_max_ms = 500;
        let platform = Platform::start_remote(m.operator.clone(), config.clone()).await.expect("platform");
        let state = platform.state.clone();
        // On a restart the port the directory names was just released: bind it again.
        let mut peer_listener = None;
        for _ in 0..100 {
            match tokio::net::TcpListener::bind(m.peer).await {
                Ok(l) => {
                    peer_listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
        let peer_listener = peer_listener.expect("bind the peer endpoint");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let serving = platform.spawn(listener, Some(peer_listener)).expect("serve");
        RemoteApi {
            base: serving.base.clone(),
            token: serving.operator_token.clone(),
            state,
            peer: serving.peer.clone(),
            http: reqwest::Client::new(),
            serving,
            _dir: None,
        }
    }

    /// Stop serving (REST and the peer endpoint) and wait until the node has shut down.
    pub async fn stop(&mut self) {
        self.serving.stop().await;
    }

    /// The API on the network at `url` through the remote backend, served on loopback.
    pub async fn start(url: &str, operator: &PrivateKeySigner, database_url: &str, confirmations: u64) -> RemoteApi {
        Self::start_with(url, operator, database_url, confirmations, true).await
    }

    /// As [`RemoteApi::start`]; `dev = false` puts the node's JSON-RPC behind the gate
    /// (members only, each seeing what it may), as a bank's node runs in production.
    pub async fn start_with(
        url: &str,
        operator: &PrivateKeySigner,
        database_url: &str,
        confirmations: u64,
        dev: bool,
    ) -> RemoteApi {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = ApiConfig {
            data_dir: dir.path().join("api"),
            database_url: Some(database_url.to_string()),
            dev,
            // Both processes of one member share it (and, through the read model, the
            // registry's keys it seals).
            master_key: Some("11".repeat(32)),
            chain: ChainConfig {
                backend: Backend::Remote,
                rpc_url: Some(url.to_string()),
                confirmations,
                poll_interval_ms: 20,
                fund_wei: "10000000000000000000".into(),
                ..ChainConfig::default()
            },
            ..ApiConfig::default()
        };
        let platform = Platform::start_remote(operator.clone(), config).await.expect("platform");
        let state = platform.state.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let serving = platform.spawn(listener, None).expect("serve");
        let token = if dev {
            assert!(!serving.operator_token.is_empty(), "the dev operator token was written");
            serving.operator_token.clone()
        } else {
            let operator = format!("{:#x}", state.operator.address());
            tradechain_api::auth::create_token(&state.db, &operator, "test operator").await.expect("operator token")
        };
        RemoteApi {
            base: serving.base.clone(),
            token,
            state,
            peer: None,
            http: reqwest::Client::new(),
            serving,
            _dir: Some(dir),
        }
    }

    /// One request with a token and an optional JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// POST JSON with a token.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, token, Some(body)).await
    }

    /// GET with a token.
    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    /// PUT JSON with a token.
    pub async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PUT, path, token, Some(body)).await
    }

    /// PUT a PDF with a token (a document's upload).
    pub async fn put_pdf(&self, path: &str, token: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let req = self.http.put(format!("{}{path}", self.base)).bearer_auth(token);
        let res = req.header("content-type", "application/pdf").body(bytes).send().await.expect("request");
        let status = res.status();
        let text = res.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// GET raw bytes with a token (a document's download).
    pub async fn get_bytes(&self, path: &str, token: &str) -> (StatusCode, Vec<u8>) {
        let res = self.http.get(format!("{}{path}", self.base)).bearer_auth(token).send().await.expect("request");
        let status = res.status();
        (status, res.bytes().await.expect("body").to_vec())
    }

    /// The firm behind `firm_token` lets `financier` see its trade, for 700 days.
    pub async fn consent(&self, firm_token: &str, financier: &str) {
        let grant = json!({ "financier": financier, "expires_at": crate::fixtures::date_in(700) });
        let (status, body) = self.post("/v1/consents", firm_token, grant).await;
        assert!(status.is_success(), "consent to {financier}: {body}");
    }

    /// Onboard a financier that the firms behind `consenting` (their tokens) let see their
    /// trade, as a financier must be to offer on it; (address, token).
    pub async fn onboard_financier(&self, name: &str, consenting: &[&str]) -> (String, String) {
        let (address, token) = self.onboard(name, &["financier"]).await;
        for firm in consenting {
            self.consent(firm, &address).await;
        }
        (address, token)
    }

    /// Onboard an organisation; (address, token).
    pub async fn onboard(&self, name: &str, roles: &[&str]) -> (String, String) {
        let (s, body) = self.post("/v1/organisations", &self.token, json!({ "name": name, "roles": roles })).await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        (
            body["organisation"]["address"].as_str().expect("address").into(),
            body["token"].as_str().expect("token").into(),
        )
    }
}
