//! API settings: the `[api]` table of the node's TOML file plus `TRADECHAIN_API_*`
//! environment variables (the `config` crate), every field with a default.

use std::path::{Path, PathBuf};

use alloy::signers::local::PrivateKeySigner;
use serde::{Deserialize, Serialize};
use tradechain_engine::NodeConfig;

use crate::StartError;

/// Everything the API needs besides the chain.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiConfig {
    /// Where the API keeps its files: the SQLite read model, uploaded documents, the master key.
    pub data_dir: PathBuf,
    /// Read model URL: `sqlite://…?mode=rwc` (default: `<data_dir>/readmodel.sqlite`) or `postgres://…`.
    pub database_url: Option<String>,
    /// 64 hex characters: the key that seals custodial signing keys and the registry's keys
    /// (env `TRADECHAIN_API_MASTER_KEY`). It, [`ApiConfig::master_key_file`] or a
    /// passphrase must come from outside the data directory: a copy of the data directory
    /// must not open the keys it holds. Only in dev mode may it default to the file
    /// `<data_dir>/master.key`, created (mode 0600) on first start. See docs/keys.md.
    pub master_key: Option<String>,
    /// A file holding the master key (64 hex characters), outside the node's data directory
    /// (the node refuses to start otherwise, dev mode aside).
    pub master_key_file: Option<PathBuf>,
    /// A file holding a passphrase the master key is derived from (scrypt, N = 2^15, r = 8,
    /// p = 1, over a random salt kept in `<data_dir>/master.salt`), outside the data
    /// directory. The passphrase may instead come from env `TRADECHAIN_API_MASTER_PASSPHRASE`.
    pub master_passphrase_file: Option<PathBuf>,
    /// The passphrase itself (env `TRADECHAIN_API_MASTER_PASSPHRASE` only, never a file).
    #[serde(skip)]
    pub master_passphrase: Option<String>,
    /// Operator private key (hex). Default: the dev key in dev mode, else `<node data_dir>/operator.key`.
    pub operator_key: Option<String>,
    /// Dev mode: write an operator token to `<data_dir>/operator.token` at first start.
    pub dev: bool,
    /// Largest JSON body, bytes.
    pub max_json_bytes: usize,
    /// Largest uploaded document, bytes.
    pub max_document_bytes: usize,
    /// Largest calldata a member's transaction may carry into the embedded chain, bytes
    /// (the operator's are not bounded; see `admission`).
    pub max_member_calldata_bytes: usize,
    /// Most connections open at once (HTTP, event streams and WebSockets alike), on the
    /// API's port and, apart, on the peer endpoint's; past it a new connection is closed at
    /// once.
    pub max_connections: usize,
    /// Most connections open at once from one IP address.
    pub max_connections_per_client: usize,
    /// Most writes (requests other than GET, HEAD and OPTIONS) in progress at once; past it a
    /// write is answered `503 OVERLOADED` with `Retry-After`, having changed nothing. Bounds
    /// the queue, and so the time, a write waits behind others (see `overload`).
    pub max_writes_in_flight: usize,
    /// Most writes of one organisation in progress at once: one member's flood fills its own
    /// share of [`ApiConfig::max_writes_in_flight`], not the others'. Half of it by default:
    /// a bank is party to every trade it finances, and 96 trades at once, each with one of
    /// the bank's writes in progress, were refused at 64.
    pub max_writes_in_flight_per_org: usize,
    /// The duplicate-financing registry (the `[api.registry]` table): in this node, or the
    /// operator's node's (see [`crate::registry`]).
    pub registry: crate::registry::RegistryConfig,
    /// The peer endpoint and private-data delivery of a consortium of nodes (the
    /// `[api.peer]` table, see [`PeerConfig`]).
    pub peer: PeerConfig,
    /// The chain behind the API (the `[chain]` table, see [`ChainConfig`]).
    #[serde(skip)]
    pub chain: ChainConfig,
}

/// How this node exchanges private data with the other member nodes (docs/remote-network.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeerConfig {
    /// Where the peer endpoint listens (`host:port`; env `TRADECHAIN_API_PEER_LISTEN`): a
    /// listener of its own, apart from the REST API. Unset: no peer endpoint (a node
    /// outside a consortium of nodes).
    pub listen: Option<String>,
    /// How often the delivery worker looks for work, and its first retry delay (ms).
    pub poll_interval_ms: u64,
    /// The longest wait between two attempts at one delivery (ms): a node that was down
    /// receives everything at most this long after it is back.
    pub retry_max_ms: u64,
}

impl Default for PeerConfig {
    fn default() -> Self {
        Self { listen: None, poll_interval_ms: 250, retry_max_ms: 30_000 }
    }
}

/// Which chain the platform runs on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The node embedded in this process (the default).
    #[default]
    Embedded,
    /// An external EVM network reached by JSON-RPC ([`tradechain_chain::remote::RemoteChain`]).
    Remote,
}

/// The `[chain]` table of the node's TOML file, plus `TRADECHAIN_CHAIN_*` variables: which
/// chain to run on, and for a remote network how to treat it (see docs/remote-network.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChainConfig {
    /// The embedded chain (default) or a remote EVM network.
    pub backend: Backend,
    /// The network's JSON-RPC endpoint (HTTP), for the remote backend.
    pub rpc_url: Option<String>,
    /// A bearer credential for that endpoint, when the network's node asks for one.
    pub rpc_token: Option<String>,
    /// Its WebSocket endpoint (`ws://…`), optional: new heads then arrive by an
    /// `eth_subscribe("newHeads")` subscription instead of only by polling.
    pub ws_url: Option<String>,
    /// Blocks a transaction needs before its receipt counts and its block is indexed
    /// (1 = the block that includes it; a BFT network such as QBFT has no forks).
    pub confirmations: u64,
    /// How often the remote head is polled, milliseconds.
    pub poll_interval_ms: u64,
    /// Native currency (wei, decimal) the operator sends each custodial organisation it
    /// onboards, so it can pay for gas; 0 on a free-gas network.
    pub fund_wei: String,
    /// The suite's addresses on the remote network, as `tradechain deploy` wrote them; the
    /// node checks them against the operator's at start.
    pub suite: Option<SuiteConfig>,
}

/// The suite's contract addresses (0x hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteConfig {
    /// Consortium contract address.
    pub consortium: String,
    /// TradeOrders contract address.
    pub trade_orders: String,
    /// Receivables contract address.
    pub receivables: String,
    /// Consents contract address.
    pub consents: String,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            backend: Backend::Embedded,
            rpc_url: None,
            rpc_token: None,
            ws_url: None,
            confirmations: 1,
            poll_interval_ms: 500,
            fund_wei: "0".into(),
            suite: None,
        }
    }
}

impl ChainConfig {
    /// The `[chain]` table of `file` (defaults without one), then `TRADECHAIN_CHAIN_*`.
    pub fn load(file: Option<&Path>) -> Result<Self, config::ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file).required(true));
        }
        let built = builder.build()?;
        let mut cfg: Self = match built.get::<Self>("chain") {
            Ok(c) => c,
            Err(config::ConfigError::NotFound(_)) => Self::default(),
            Err(e) => return Err(e),
        };
        let env = config::Config::builder()
            .add_source(config::Environment::with_prefix("TRADECHAIN_CHAIN").prefix_separator("_").try_parsing(true))
            .build()?;
        if let Ok(v) = env.get_string("backend") {
            cfg.backend = match v.as_str() {
                "embedded" => Backend::Embedded,
                "remote" => Backend::Remote,
                other => return Err(config::ConfigError::Message(format!("unknown chain backend {other:?}"))),
            };
        }
        if let Ok(v) = env.get_string("rpc_url") {
            cfg.rpc_url = Some(v);
        }
        if let Ok(v) = env.get_string("rpc_token") {
            cfg.rpc_token = Some(v);
        }
        if let Ok(v) = env.get_string("ws_url") {
            cfg.ws_url = Some(v);
        }
        if let Ok(v) = env.get_int("confirmations") {
            cfg.confirmations = u64::try_from(v).unwrap_or(1);
        }
        cfg.confirmations = cfg.confirmations.max(1);
        Ok(cfg)
    }

    /// [`ChainConfig::fund_wei`] as a number.
    pub fn fund_wei(&self) -> Result<alloy::primitives::U256, String> {
        self.fund_wei.trim().parse().map_err(|e| format!("chain.fund_wei {:?}: {e}", self.fund_wei))
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data/api"),
            database_url: None,
            master_key: None,
            master_key_file: None,
            master_passphrase_file: None,
            master_passphrase: None,
            operator_key: None,
            dev: false,
            max_json_bytes: 1024 * 1024,
            max_document_bytes: 20 * 1024 * 1024,
            max_member_calldata_bytes: 16 * 1024,
            max_connections: 1024,
            max_connections_per_client: 256,
            max_writes_in_flight: 256,
            max_writes_in_flight_per_org: 128,
            registry: crate::registry::RegistryConfig::default(),
            peer: PeerConfig::default(),
            chain: ChainConfig::default(),
        }
    }
}

impl ApiConfig {
    /// Defaults that follow a node's settings: data in `<node data_dir>/api`, dev as the node.
    pub fn for_node(node: &NodeConfig) -> Self {
        Self { data_dir: node.data_dir.join("api"), dev: node.dev, ..Self::default() }
    }

    /// [`ApiConfig::for_node`], then the `[api]` table of `file`, then `TRADECHAIN_API_*` variables.
    pub fn load(node: &NodeConfig, file: Option<&Path>) -> Result<Self, config::ConfigError> {
        let base = Self::for_node(node);
        let mut builder = config::Config::builder()
            .set_default("api.data_dir", base.data_dir.display().to_string())?
            .set_default("api.dev", base.dev)?;
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file).required(true));
        }
        let mut cfg: Self = match builder.build()?.get::<Self>("api") {
            Ok(c) => c,
            Err(_) => base,
        };
        let env = config::Config::builder()
            .add_source(config::Environment::with_prefix("TRADECHAIN_API").prefix_separator("_").try_parsing(true))
            .build()?;
        if let Ok(v) = env.get_string("database_url") {
            cfg.database_url = Some(v);
        }
        if let Ok(v) = env.get_string("master_key") {
            cfg.master_key = Some(v);
        }
        if let Ok(v) = env.get_string("master_key_file") {
            cfg.master_key_file = Some(PathBuf::from(v));
        }
        if let Ok(v) = env.get_string("master_passphrase") {
            cfg.master_passphrase = Some(v);
        }
        if let Ok(v) = env.get_string("registry_url") {
            cfg.registry.url = Some(v);
        }
        if let Ok(v) = env.get_string("registry_token") {
            cfg.registry.token = Some(v);
        }
        if let Ok(v) = env.get_string("peer_listen") {
            cfg.peer.listen = Some(v);
        }
        if let Ok(v) = env.get_string("data_dir") {
            cfg.data_dir = PathBuf::from(v);
        }
        cfg.dev |= node.dev;
        cfg.chain = ChainConfig::load(file)?;
        Ok(cfg)
    }

    /// The read model's URL: the configured one, or a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", self.data_dir.join("readmodel.sqlite").display()))
    }

    /// Where dev mode writes the operator's API token.
    pub fn operator_token_file(&self) -> PathBuf {
        self.data_dir.join("operator.token")
    }

    /// The operator's signing key (see [`ApiConfig::operator_key`]).
    pub fn operator_signer(&self, node: &NodeConfig) -> Result<PrivateKeySigner, StartError> {
        let text = match (&self.operator_key, node.dev) {
            (Some(k), _) => k.clone(),
            (None, true) => tradechain_engine::config::DEV_OPERATOR_KEY.to_string(),
            (None, false) => std::fs::read_to_string(node.data_dir.join("operator.key"))?,
        };
        text.trim().parse().map_err(|e| StartError::Keys(format!("operator key: {e}")))
    }

    /// The 32-byte master key (see [`ApiConfig::master_key`]): from the configured hex, the
    /// key file, or the passphrase, in that order; in dev mode only, from
    /// `<data_dir>/master.key`. Outside dev mode a key file or passphrase file inside the
    /// node's data directory is refused: a stolen backup of that directory would open every
    /// key it holds.
    pub fn master_key(&self) -> Result<[u8; 32], StartError> {
        if let Some(hex) = &self.master_key {
            return parse_key(hex, "master key");
        }
        if let Some(path) = &self.master_key_file {
            self.outside_data_dir(path, "master_key_file")?;
            let text = std::fs::read_to_string(path)
                .map_err(|e| StartError::Keys(format!("master_key_file {}: {e}", path.display())))?;
            return parse_key(&text, "master key file");
        }
        let passphrase = match (&self.master_passphrase, &self.master_passphrase_file) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(path)) => {
                self.outside_data_dir(path, "master_passphrase_file")?;
                let text = std::fs::read_to_string(path)
                    .map_err(|e| StartError::Keys(format!("master_passphrase_file {}: {e}", path.display())))?;
                Some(text.trim_end_matches(['\r', '\n']).to_string())
            }
            (None, None) => None,
        };
        if let Some(passphrase) = passphrase {
            if passphrase.chars().count() < 12 {
                return Err(StartError::Keys("the master passphrase must be at least 12 characters".into()));
            }
            let salt = self.secret(None, "master.salt", "master key salt")?;
            return derive_master_key(&passphrase, &salt);
        }
        if !self.dev {
            return Err(StartError::Keys(format!(
                "no master key: outside dev mode it must come from outside the data directory {} \
                 (TRADECHAIN_API_MASTER_KEY, [api] master_key_file, or TRADECHAIN_API_MASTER_PASSPHRASE); \
                 see docs/keys.md",
                self.node_data_dir().display()
            )));
        }
        self.secret(None, "master.key", "master key")
    }

    /// The node's data directory: the API's (`<node>/api`) parent, or the API's own.
    fn node_data_dir(&self) -> PathBuf {
        match (self.data_dir.file_name(), self.data_dir.parent()) {
            (Some(name), Some(parent)) if name == "api" => parent.to_path_buf(),
            _ => self.data_dir.clone(),
        }
    }

    /// Refuse (outside dev mode) a secret file inside the node's data directory.
    fn outside_data_dir(&self, path: &std::path::Path, setting: &str) -> Result<(), StartError> {
        if self.dev {
            return Ok(());
        }
        let resolve = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let (file, dir) = (resolve(path), resolve(&self.node_data_dir()));
        if file.starts_with(&dir) {
            return Err(StartError::Keys(format!(
                "{setting} {} is inside the data directory {}: a copy of that directory would open every key \
                 in it; keep the secret elsewhere (see docs/keys.md)",
                path.display(),
                dir.display()
            )));
        }
        Ok(())
    }

    /// 32 bytes from `configured` (hex), else from `<data_dir>/<file>`, created at random.
    fn secret(&self, configured: Option<&str>, file: &str, what: &str) -> Result<[u8; 32], StartError> {
        let text = match configured {
            Some(k) => k.to_string(),
            None => {
                let path = self.data_dir.join(file);
                match std::fs::read_to_string(&path) {
                    Ok(t) => t,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        let key = crate::keystore::random_bytes::<32>();
                        let text = hex::encode(key);
                        tradechain_engine::config::write_private(&path, text.as_bytes())?;
                        text
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        parse_key(&text, what)
    }
}

/// 32 bytes from 64 hex characters (an optional `0x`, surrounding whitespace).
fn parse_key(text: &str, what: &str) -> Result<[u8; 32], StartError> {
    let bytes =
        hex::decode(text.trim().trim_start_matches("0x")).map_err(|e| StartError::Keys(format!("{what}: {e}")))?;
    bytes.try_into().map_err(|_| StartError::Keys(format!("{what} must be 32 bytes (64 hex characters)")))
}

/// The master key from a passphrase: scrypt with N = 2^15, r = 8, p = 1 (about 32 MiB and
/// a tenth of a second per guess), over the node's own random salt.
pub(crate) fn derive_master_key(passphrase: &str, salt: &[u8; 32]) -> Result<[u8; 32], StartError> {
    let params = scrypt::Params::new(15, 8, 1, 32).map_err(|e| StartError::Keys(format!("scrypt: {e}")))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(passphrase.as_bytes(), salt, &params, &mut key)
        .map_err(|e| StartError::Keys(format!("scrypt: {e}")))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_follow_the_node_and_the_api_table() {
        let dir = tempfile::tempdir().expect("tempdir");
        let node = NodeConfig::dev_in(dir.path().join("chain"));
        let plain = ApiConfig::load(&node, None).expect("defaults");
        assert_eq!(plain.data_dir, dir.path().join("chain").join("api"));
        assert!(plain.dev);
        assert!(plain.database_url().starts_with("sqlite://"));
        let file = dir.path().join("tradechain.toml");
        std::fs::write(&file, "chain_id = 7431\n[api]\ndatabase_url = \"postgres://db/tc\"\nmax_json_bytes = 4096\n")
            .expect("write");
        let cfg = ApiConfig::load(&node, Some(&file)).expect("file");
        assert_eq!(cfg.database_url(), "postgres://db/tc");
        assert_eq!(cfg.max_json_bytes, 4096);
        assert_eq!(cfg.data_dir, dir.path().join("chain").join("api"));
    }
}
