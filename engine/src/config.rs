//! Node settings: a TOML file plus `TRADECHAIN_*` environment variables (the `config` crate),
//! every field with a default, and the sealing / operator keys.
//!
//! Chain id: tradechain's default chain id is **7431** (not used by any public network we know
//! of); a consortium picks its own.
//!
//! Keys: in dev mode (`dev = true`) the sealer and the operator default to well-known,
//! deterministic keys published in this file. They are INSECURE and only for development. Outside
//! dev mode the sealer key comes from `sealer_key` or from `<data_dir>/sealer.key` (created on
//! first start with mode 0600), and the operator from `operator` or `<data_dir>/operator.key`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use serde::{Deserialize, Serialize};

/// Default chain id of a tradechain network.
pub(crate) const DEFAULT_CHAIN_ID: u64 = 7431;
/// Insecure dev sealer key (well known; never use outside dev mode).
pub(crate) const DEV_SEALER_KEY: &str = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6";
/// Insecure dev operator key: the first account of the well-known "test test ... junk" mnemonic
/// (0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266).
pub const DEV_OPERATOR_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// Errors while loading settings or keys.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The settings file or a `TRADECHAIN_*` variable could not be read or parsed.
    #[error("cannot read settings: {0}")]
    Load(#[from] config::ConfigError),
    /// A configured or stored private key is not a valid secp256k1 key in hex.
    #[error("invalid key in {path}: {reason}")]
    Key {
        /// The key file, or the setting the key came from.
        path: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A key file could not be read or created.
    #[error("key file {path}: {source}")]
    KeyFile {
        /// The key file.
        path: String,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// Settings that do not hang together (e.g. a block gas limit below 21000).
    #[error("invalid setting: {0}")]
    Invalid(String),
}

/// Everything a node needs to start. Every field has a default (see [`NodeConfig::default`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeConfig {
    /// JSON-RPC listen address (default 127.0.0.1:8545).
    pub listen: SocketAddr,
    /// Directory holding `chain.redb` and the key files.
    pub data_dir: PathBuf,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Dev mode: evm_* methods, automine by default, insecure default keys.
    pub dev: bool,
    /// Seal one block per submitted transaction, before its hash is returned. Defaults to `dev`.
    pub automine: Option<bool>,
    /// Interval block production: seal at least every this many milliseconds while
    /// transactions wait (and an empty block then, with `empty_blocks`).
    pub block_interval_ms: u64,
    /// Group commit: a block is sealed this many milliseconds after a transaction reaches an
    /// idle producer, with every transaction that arrived meanwhile, and the next one as soon
    /// as the last is durable, so a write never waits for the interval's timer and writes
    /// arriving together share one block and one fsync. 0: seal on the interval only.
    pub batch_window_ms: u64,
    /// Group commit under a stream of writes: while the pool grew in the last batch window,
    /// the producer waits one window more, up to this many milliseconds in all (fewer,
    /// bigger blocks: each costs about a millisecond of CPU whatever it holds). A lone write
    /// waits one window. At most `batch_window_ms` (the default, 2) is the fixed window
    /// alone: measured side by side, 10 ms saved 7% of the CPU of an open loop of 500
    /// creations/s but cost a closed loop of four buyers' lifecycles a quarter of its pace.
    pub batch_window_max_ms: u64,
    /// Most transactions in one block; a pool holding this many ready transactions seals at once.
    pub max_block_txs: usize,
    /// Most transactions waiting in the pool.
    pub max_pool_txs: usize,
    /// Block gas limit; every transaction's gas limit must be at most this.
    pub block_gas_limit: u64,
    /// Largest accepted raw transaction, in bytes.
    pub max_tx_bytes: usize,
    /// Largest accepted JSON-RPC request body, in bytes.
    pub max_body_bytes: usize,
    /// How far ahead of the account's next nonce a transaction may be queued.
    pub max_nonce_gap: u64,
    /// Most transactions one sender may have waiting in the pool.
    pub max_pending_per_sender: usize,
    /// Most bytes of raw transactions one sender may have waiting in the pool.
    pub max_pending_bytes_per_sender: usize,
    /// Most gas (by gas limit) one sender's transactions may take in one block, so that no
    /// account fills blocks; also the highest gas limit a transaction may carry. At most the
    /// block gas limit (a higher value is lowered to it).
    pub max_sender_block_gas: u64,
    /// Seal empty blocks on the interval (otherwise only blocks with transactions are sealed).
    pub empty_blocks: bool,
    /// Sealer private key (hex). Default: dev key in dev mode, else `<data_dir>/sealer.key`.
    pub sealer_key: Option<String>,
    /// Operator address that runs genesis. Default: dev key's address in dev mode, else the
    /// address of `<data_dir>/operator.key`.
    pub operator: Option<Address>,
    /// Genesis block timestamp (unix seconds); part of the chain's identity.
    pub genesis_timestamp: u64,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8545)),
            data_dir: PathBuf::from("data"),
            chain_id: DEFAULT_CHAIN_ID,
            dev: false,
            automine: None,
            block_interval_ms: 1000,
            batch_window_ms: 2,
            batch_window_max_ms: 2,
            max_block_txs: 2000,
            max_pool_txs: 100_000,
            block_gas_limit: 30_000_000,
            max_tx_bytes: 128 * 1024,
            max_body_bytes: 1024 * 1024,
            max_nonce_gap: 1024,
            max_pending_per_sender: 256,
            max_pending_bytes_per_sender: 1024 * 1024,
            max_sender_block_gas: 10_000_000,
            empty_blocks: false,
            sealer_key: None,
            operator: None,
            genesis_timestamp: 1_735_689_600, // 2025-01-01T00:00:00Z
        }
    }
}

impl NodeConfig {
    /// Dev-mode settings with data in `data_dir` (automine, insecure dev keys).
    pub fn dev_in(data_dir: impl Into<PathBuf>) -> Self {
        Self { dev: true, data_dir: data_dir.into(), ..Self::default() }
    }

    /// Load settings: defaults, then `file` (TOML) if given, then `TRADECHAIN_*` variables
    /// (e.g. `TRADECHAIN_LISTEN`, `TRADECHAIN_DATA_DIR`, `TRADECHAIN_DEV`).
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file).required(true));
        }
        builder =
            builder.add_source(config::Environment::with_prefix("TRADECHAIN").prefix_separator("_").try_parsing(true));
        let cfg: Self = builder.build()?.try_deserialize()?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Check the settings hang together.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.block_gas_limit < 21_000 {
            return Err(ConfigError::Invalid("block_gas_limit must be at least 21000".into()));
        }
        if self.max_block_txs == 0 || self.max_pool_txs == 0 {
            return Err(ConfigError::Invalid("max_block_txs and max_pool_txs must be > 0".into()));
        }
        if self.max_pending_per_sender == 0 || self.max_pending_bytes_per_sender < 4096 {
            return Err(ConfigError::Invalid(
                "max_pending_per_sender must be > 0 and max_pending_bytes_per_sender at least 4096".into(),
            ));
        }
        if self.max_sender_block_gas < 21_000 {
            return Err(ConfigError::Invalid("max_sender_block_gas must be at least 21000".into()));
        }
        if self.chain_id == 0 {
            return Err(ConfigError::Invalid("chain_id must be > 0".into()));
        }
        Ok(())
    }

    /// The most gas one sender may use in a block: `max_sender_block_gas`, capped by the
    /// block gas limit.
    pub fn sender_block_gas(&self) -> u64 {
        self.max_sender_block_gas.min(self.block_gas_limit)
    }

    /// Whether each submitted transaction is sealed in its own block before its hash returns.
    pub fn automine(&self) -> bool {
        self.automine.unwrap_or(self.dev)
    }

    /// The sealing key (see module docs for where it comes from).
    pub fn sealer_signer(&self) -> Result<PrivateKeySigner, ConfigError> {
        match (&self.sealer_key, self.dev) {
            (Some(key), _) => parse_key(key, "sealer_key"),
            (None, true) => parse_key(DEV_SEALER_KEY, "dev sealer key"),
            (None, false) => key_file(&self.data_dir.join("sealer.key")),
        }
    }

    /// The operator address genesis runs as.
    pub fn operator_address(&self) -> Result<Address, ConfigError> {
        match (self.operator, self.dev) {
            (Some(a), _) => Ok(a),
            (None, true) => Ok(parse_key(DEV_OPERATOR_KEY, "dev operator key")?.address()),
            (None, false) => Ok(key_file(&self.data_dir.join("operator.key"))?.address()),
        }
    }
}

fn parse_key(hex_key: &str, what: &str) -> Result<PrivateKeySigner, ConfigError> {
    hex_key
        .trim()
        .parse::<PrivateKeySigner>()
        .map_err(|e| ConfigError::Key { path: what.to_string(), reason: e.to_string() })
}

/// Read a hex private key from `path`, creating it (random, mode 0600) if missing.
fn key_file(path: &Path) -> Result<PrivateKeySigner, ConfigError> {
    let io = |source| ConfigError::KeyFile { path: path.display().to_string(), source };
    match std::fs::read_to_string(path) {
        Ok(text) => parse_key(&text, &path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                create_private_dir(dir).map_err(io)?;
            }
            let signer = PrivateKeySigner::random();
            let text = format!("0x{}\n", hex::encode(signer.to_bytes()));
            write_private(path, text.as_bytes()).map_err(io)?;
            Ok(signer)
        }
        Err(e) => Err(io(e)),
    }
}

/// Creates the directory `path` (and its parents) for its owner only: 0700 on Unix, also
/// when it exists already (a data directory holds keys, tokens and trade data).
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Makes the file at `path`, if it exists, readable and writable by its owner only (0600
/// on Unix): for files another library creates (the chain's and the read model's databases).
pub fn restrict_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates `path` readable by its owner only (0600 on Unix) and writes a secret into it,
/// durably; fails if the file exists, so a key is never overwritten.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_keys_parse_and_differ() {
        let cfg = NodeConfig::dev_in("/nonexistent");
        let sealer = cfg.sealer_signer().expect("dev sealer");
        let operator = cfg.operator_address().expect("dev operator");
        assert_ne!(sealer.address(), operator);
        assert_eq!(operator, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".parse::<Address>().expect("addr"));
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = NodeConfig { data_dir: dir.path().to_path_buf(), ..NodeConfig::default() };
        let a = cfg.sealer_signer().expect("created");
        let b = cfg.sealer_signer().expect("reused");
        assert_eq!(a.address(), b.address());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("sealer.key")).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
