//! The `tradechain` command line: thin wiring over the library crates (anyhow at this edge).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use tradechain_engine::{GenesisCall, Node, NodeConfig};

/// mimalloc, not the system's: glibc's allocator was 15% of the node's CPU samples under
/// load (its arenas and consolidation, shared by the runtime's threads); with mimalloc the
/// same open loop served 730-774 creations/s at overload against 586-675 (README, Measuring).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "tradechain", version, about = "Open, self-hostable trade-finance smart-contract platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the chain: JSON-RPC on 127.0.0.1:8545 by default, data in --data-dir.
    Node(NodeArgs),
    /// Play the flagship scenario (coffee at sight on the bill of lading) on an embedded
    /// platform in a temporary directory, print its timeline and verify the chain.
    Demo {
        /// Keep the chain in this directory instead of a temporary one.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Then keep the platform running and print a web app sign-in link for each party
        /// (Ctrl-C stops it and verifies the chain).
        #[arg(long)]
        serve: bool,
        /// With --serve: where the node listens.
        #[arg(long, default_value = "127.0.0.1:8545")]
        listen: std::net::SocketAddr,
    },
    /// Scenarios: trade flows written as TOML (see scenarios/).
    Scenario {
        #[command(subcommand)]
        command: ScenarioCommand,
    },
    /// Run the sandbox bank: ISO 20022 over HTTP, a double-entry ledger, fault switches.
    SandboxBank(tradechain_bank_adapters::sandbox::SandboxArgs),
    /// Run a bank's settlement worker: pay each PaymentDue of that bank exactly once.
    Settle {
        /// The bank's settings (JSON): chain URL, key, rails, party directory, outbox database.
        #[arg(long)]
        settings: PathBuf,
    },
    /// API tokens of an organisation (stored hashed; printed once).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Re-seal every custodial and registry key under a new master key, with the node
    /// stopped. The current key comes from the usual settings; the new one from
    /// TRADECHAIN_NEW_MASTER_KEY (hex), TRADECHAIN_NEW_MASTER_KEY_FILE or
    /// TRADECHAIN_NEW_MASTER_PASSPHRASE. Then start the node with the new one (docs/keys.md).
    MasterKeyRotate {
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Export a custodial organisation's signing key as a Web3 Secret Storage (v3) key
    /// file, readable by geth, ethers, web3.py and Besu; the passphrase comes from
    /// TRADECHAIN_KEY_PASSPHRASE (at least 12 characters).
    KeyExport {
        /// The organisation's registered name.
        #[arg(long)]
        org: String,
        /// Where to write the key file (created 0600; never overwritten).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Deploy the contract suite and the genesis organisations to a remote EVM network
    /// (docs/remote-network.md) and write its `[chain]` table into the settings file.
    Deploy {
        /// The network's JSON-RPC endpoint (HTTP).
        #[arg(long)]
        rpc: String,
        /// Blocks a transaction needs before it counts (1 on a BFT network such as QBFT).
        #[arg(long, default_value_t = 1)]
        confirmations: u64,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Drop the read model's chain tables and rebuild them from the chain (node stopped).
    RebuildReadModel(NodeArgs),
    /// Replay a data directory from genesis and check every block, signature, root and the final state.
    Verify {
        /// Data directory of a stopped node.
        #[arg(long)]
        data_dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum ScenarioCommand {
    /// Play each FILE on a fresh embedded platform (node, API, sandbox bank, settlement
    /// workers), or on the running node at --url, through REST and JSON-RPC; exit non-zero
    /// if any expectation is unmet.
    Run {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Show a progress line (scenario: step n/total) on stderr; on by default when stderr
        /// is a terminal and stdout is not.
        #[arg(long)]
        progress: bool,
        /// Play against this running node (e.g. http://127.0.0.1:8545) instead of starting one.
        #[arg(long)]
        url: Option<String>,
        /// With --url: the node's operator API token (a dev node writes it to
        /// <data-dir>/api/operator.token).
        #[arg(long, env = "TRADECHAIN_OPERATOR_TOKEN", hide_env_values = true)]
        operator_token: Option<String>,
        /// With --url: a sandbox bank already running there, instead of one started here.
        #[arg(long)]
        bank_url: Option<String>,
        /// Start the platform on the EVM network at this JSON-RPC URL (a Hardhat node, say)
        /// instead: a member node for each `node` the scenario's parties name, each with its
        /// own read model and peer endpoint, the suite deployed first if it is not there.
        #[arg(long, conflicts_with = "url")]
        network: Option<String>,
        /// With --network: the operator's key (hex); default the dev operator's (Hardhat's
        /// account #0).
        #[arg(long, env = "TRADECHAIN_OPERATOR_KEY", hide_env_values = true, requires = "network")]
        operator_key: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a new API token for the organisation named NAME and print it.
    Create {
        /// The organisation's registered name.
        #[arg(long)]
        org: String,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// List the API tokens of the organisation named NAME (ids, names, expiry, last use).
    List {
        /// The organisation's registered name.
        #[arg(long)]
        org: String,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Revoke the API token with this id (from `token list`): it authenticates nothing from
    /// the next request on.
    Revoke {
        /// The token's id (16 hex digits).
        id: String,
        #[command(flatten)]
        node: NodeArgs,
    },
}

#[derive(Args)]
struct NodeArgs {
    /// Settings file (TOML); TRADECHAIN_* variables override it.
    #[arg(long, env = "TRADECHAIN_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (overrides the settings).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Listen address (overrides the settings).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Dev mode: automine, evm_* methods, insecure well-known keys.
    #[arg(long)]
    dev: bool,
    /// Create the keys and the genesis block, then exit.
    #[arg(long)]
    init: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The demo and scenarios print their own timeline; the node's info logs would drown it.
    let quiet = matches!(cli.command, Command::Demo { .. } | Command::Scenario { .. });
    let default_filter = if quiet { "warn" } else { "info" };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| default_filter.into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    match cli.command {
        Command::Node(args) => run_node(args),
        Command::Deploy { rpc, confirmations, node } => run_deploy(&rpc, confirmations, node),
        Command::Token { command } => run_token(command),
        Command::MasterKeyRotate { node } => {
            let config = node_config(&node)?;
            let old = tradechain_api::ApiConfig::load(&config, node.config.as_deref())?;
            let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
            let new = tradechain_api::ApiConfig {
                master_key: var("TRADECHAIN_NEW_MASTER_KEY"),
                master_key_file: var("TRADECHAIN_NEW_MASTER_KEY_FILE").map(PathBuf::from),
                master_passphrase: var("TRADECHAIN_NEW_MASTER_PASSPHRASE"),
                master_passphrase_file: None,
                ..old.clone()
            };
            if new.master_key.is_none() && new.master_key_file.is_none() && new.master_passphrase.is_none() {
                anyhow::bail!(
                    "set the new master key: TRADECHAIN_NEW_MASTER_KEY, TRADECHAIN_NEW_MASTER_KEY_FILE or TRADECHAIN_NEW_MASTER_PASSPHRASE"
                );
            }
            let n = tokio::runtime::Runtime::new()?.block_on(tradechain_api::keyfile::rotate_master_key(&old, &new))?;
            println!(
                "{n} keys re-sealed under the new master key; start the node with it (and remove any old master.key)"
            );
            Ok(())
        }
        Command::KeyExport { org, out, node } => {
            let passphrase = std::env::var("TRADECHAIN_KEY_PASSPHRASE")
                .map_err(|_| anyhow::anyhow!("set TRADECHAIN_KEY_PASSPHRASE to the key file's passphrase"))?;
            let config = node_config(&node)?;
            let api_config = tradechain_api::ApiConfig::load(&config, node.config.as_deref())?;
            let file = tokio::runtime::Runtime::new()?.block_on(tradechain_api::keyfile::export_for_org(
                &api_config,
                &org,
                &passphrase,
            ))?;
            tradechain_engine::config::write_private(&out, serde_json::to_string_pretty(&file)?.as_bytes())?;
            println!("{} written ({})", out.display(), file["address"].as_str().unwrap_or_default());
            Ok(())
        }
        Command::RebuildReadModel(args) => run_rebuild(args),
        Command::SandboxBank(args) => {
            tokio::runtime::Runtime::new()?.block_on(tradechain_bank_adapters::sandbox::run(args))?;
            Ok(())
        }
        Command::Settle { settings } => {
            let settings = tradechain_bank_adapters::config::BankSettings::load(&settings)?;
            tokio::runtime::Runtime::new()?.block_on(settings.run(async {
                let _ = tokio::signal::ctrl_c().await;
            }))?;
            Ok(())
        }
        Command::Demo { data_dir, serve, listen } => run_demo(data_dir, serve.then_some(listen)),
        Command::Scenario {
            command: ScenarioCommand::Run { files, progress, url, operator_token, bank_url, network, operator_key },
        } => {
            let options = tradechain_scenarios::Options {
                url,
                operator_token,
                bank_url,
                network,
                operator_key,
                ..Default::default()
            };
            run_scenarios(&files, progress, options)
        }
        Command::Verify { data_dir } => {
            let report = tradechain_engine::verify::verify(&data_dir)
                .with_context(|| format!("verification of {} failed", data_dir.display()))?;
            println!(
                "verified {} blocks, {} transactions; head {} state root {}",
                report.blocks, report.transactions, report.head_hash, report.state_root
            );
            Ok(())
        }
    }
}

/// The flagship scenario `tradechain demo` plays.
const DEMO_SCENARIO: &str = include_str!("../scenarios/coffee-at-sight.toml");

fn run_demo(data_dir: Option<PathBuf>, serve: Option<std::net::SocketAddr>) -> anyhow::Result<()> {
    let options = tradechain_scenarios::Options {
        print: true,
        data_dir,
        verify: true,
        serve: serve.is_some(),
        listen: serve,
        ..Default::default()
    };
    tokio::runtime::Runtime::new()?.block_on(tradechain_scenarios::play_text(
        "scenarios/coffee-at-sight.toml",
        DEMO_SCENARIO,
        &options,
    ))?;
    Ok(())
}

fn run_scenarios(files: &[PathBuf], progress: bool, options: tradechain_scenarios::Options) -> anyhow::Result<()> {
    use std::io::IsTerminal as _;
    let runtime = tokio::runtime::Runtime::new()?;
    let progress = progress || (std::io::stderr().is_terminal() && !std::io::stdout().is_terminal());
    let options = tradechain_scenarios::Options { print: true, progress, ..options };
    let mut failed = Vec::new();
    // `scenarios/*.toml` also matches the runner crate's manifest, which is not a scenario.
    let files: Vec<&PathBuf> = files.iter().filter(|f| f.file_name().is_none_or(|n| n != "Cargo.toml")).collect();
    for file in &files {
        println!("== {}", file.display());
        match runtime.block_on(tradechain_scenarios::play_file(file, &options)) {
            Ok(_) => println!("== {}: ok\n", file.display()),
            Err(e) => {
                println!("== {}: FAILED\n", file.display());
                eprintln!("error: {e}");
                failed.push(file.display().to_string());
            }
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("{} of {} scenarios failed: {}", failed.len(), files.len(), failed.join(", "));
    }
    println!("{} scenarios played green", files.len());
    Ok(())
}

fn genesis_calls(config: &NodeConfig) -> anyhow::Result<Vec<GenesisCall>> {
    let operator = config.operator_address()?;
    Ok(tradechain_contracts::genesis::plan(operator)
        .into_iter()
        .map(|c| GenesisCall { to: c.to, input: c.input })
        .collect())
}

fn node_config(args: &NodeArgs) -> anyhow::Result<NodeConfig> {
    let mut config = NodeConfig::load(args.config.as_deref())?;
    if let Some(dir) = &args.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    config.dev |= args.dev;
    Ok(config)
}

/// Ctrl-C or SIGTERM (`tradechain_engine::signal::shutdown`), logged.
async fn shutdown_signal() {
    tradechain_engine::signal::shutdown().await;
    tracing::info!("shutting down");
}

fn run_node(args: NodeArgs) -> anyhow::Result<()> {
    let config = node_config(&args)?;
    let api_config = tradechain_api::ApiConfig::load(&config, args.config.as_deref())?;
    if api_config.chain.backend == tradechain_api::config::Backend::Remote {
        return run_remote_node(&config, api_config);
    }
    let calls = genesis_calls(&config)?;
    let node = Node::open(config.clone(), calls).context("cannot open the chain")?;
    if args.init {
        println!("initialised {} at block {}", config.data_dir.display(), node.head().header.number);
        return Ok(());
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let _producer = node.spawn_producer();
        let peer = api_config.peer.listen.clone();
        let platform = tradechain_api::Platform::start(node.clone(), api_config).await?;
        let peer = serve_peer(&platform, peer.as_deref()).await?;
        tracing::info!(%addr, data_dir = %config.data_dir.display(), dev = config.dev, automine = config.automine(), "node ready");
        // The test harness and scripts read this line to find the port.
        println!("listening on http://{addr}");
        if let Some(peer) = peer {
            println!("peer endpoint on http://{peer}");
        }
        platform.serve(listener, shutdown_signal()).await?;
        Ok(())
    })
}

/// The API on a remote EVM network: no embedded chain, JSON-RPC forwarded to the network.
fn run_remote_node(config: &NodeConfig, api_config: tradechain_api::ApiConfig) -> anyhow::Result<()> {
    let operator = api_config.operator_signer(config)?;
    let listen = config.listen;
    tokio::runtime::Runtime::new()?.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let rpc = api_config.chain.rpc_url.clone().unwrap_or_default();
        let peer = api_config.peer.listen.clone();
        let platform = tradechain_api::Platform::start_remote(operator, api_config).await?;
        let peer = serve_peer(&platform, peer.as_deref()).await?;
        tracing::info!(%addr, %rpc, "node ready on a remote network");
        println!("listening on http://{addr}");
        if let Some(peer) = peer {
            println!("peer endpoint on http://{peer}");
        }
        platform.serve(listener, shutdown_signal()).await?;
        Ok(())
    })
}

/// The peer endpoint other member nodes deliver private data to, on its own listener, when
/// `[api.peer] listen` (or `TRADECHAIN_API_PEER_LISTEN`) is set; its address.
async fn serve_peer(
    platform: &tradechain_api::Platform,
    listen: Option<&str>,
) -> anyhow::Result<Option<std::net::SocketAddr>> {
    let Some(listen) = listen else { return Ok(None) };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} for the peer endpoint"))?;
    let addr = listener.local_addr()?;
    // It ends with the node (graceful shutdown on the same signal); nothing to join.
    drop(platform.serve_peer(listener));
    tracing::info!(%addr, "peer endpoint ready");
    Ok(Some(addr))
}

fn run_deploy(rpc: &str, confirmations: u64, args: NodeArgs) -> anyhow::Result<()> {
    let file = args.config.clone().context("--config FILE: the settings file to write the [chain] table to")?;
    if !file.exists() {
        std::fs::write(&file, "").with_context(|| format!("cannot create {}", file.display()))?;
    }
    let config = node_config(&args)?;
    let api_config = tradechain_api::ApiConfig::load(&config, Some(&file))?;
    let operator = api_config.operator_signer(&config)?;
    let deployment = tokio::runtime::Runtime::new()?.block_on(tradechain_chain::deploy::deploy(rpc, &operator))?;
    let suite = match &deployment {
        tradechain_chain::deploy::Deployment::Deployed { suite, transactions } => {
            println!("deployed the suite in {} transactions", transactions.len());
            suite
        }
        tradechain_chain::deploy::Deployment::Existing { suite } => {
            println!("the suite is already deployed there; nothing sent");
            suite
        }
    };
    let text = std::fs::read_to_string(&file)?;
    let mut doc: toml::Table = text.parse().with_context(|| format!("{} is not TOML", file.display()))?;
    let mut chain = doc.get("chain").and_then(|c| c.as_table()).cloned().unwrap_or_default();
    chain.insert("backend".into(), "remote".into());
    chain.insert("rpc_url".into(), rpc.into());
    chain.insert("confirmations".into(), toml::Value::Integer(i64::try_from(confirmations.max(1)).unwrap_or(1)));
    let mut addresses = toml::Table::new();
    for (name, a) in [
        ("consortium", suite.consortium),
        ("trade_orders", suite.trade_orders),
        ("receivables", suite.receivables),
        ("consents", suite.consents),
    ] {
        println!("{name:<14} {a:#x}");
        addresses.insert(name.into(), format!("{a:#x}").into());
    }
    chain.insert("suite".into(), toml::Value::Table(addresses));
    doc.insert("chain".into(), toml::Value::Table(chain));
    std::fs::write(&file, toml::to_string(&doc)?).with_context(|| format!("cannot write {}", file.display()))?;
    println!("wrote the [chain] table to {}", file.display());
    Ok(())
}

fn run_token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { org, node } => {
            let config = node_config(&node)?;
            let api_config = tradechain_api::ApiConfig::load(&config, node.config.as_deref())?;
            let token = tokio::runtime::Runtime::new()?
                .block_on(tradechain_api::auth::create_token_for_org(&api_config, &org))?;
            println!("{token}");
            Ok(())
        }
        TokenCommand::List { org, node } => {
            let config = node_config(&node)?;
            let api_config = tradechain_api::ApiConfig::load(&config, node.config.as_deref())?;
            let rows =
                tokio::runtime::Runtime::new()?.block_on(tradechain_api::auth::tokens_of_org(&api_config, &org))?;
            let when = |t: Option<i64>| {
                t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                    .map_or_else(|| "-".to_string(), |d| d.format("%Y-%m-%d %H:%M").to_string())
            };
            println!(
                "{:<16}  {:<24}  {:<16}  {:<16}  {:<16}  {:<16}",
                "id", "name", "created", "expires", "last used", "revoked"
            );
            for r in rows {
                println!(
                    "{:<16}  {:<24}  {:<16}  {:<16}  {:<16}  {:<16}",
                    tradechain_api::auth::token_id(&r.token_hash),
                    r.label,
                    when(Some(r.created_at)),
                    when(r.expires_at),
                    when(r.last_used_at),
                    when(r.revoked_at)
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { id, node } => {
            let config = node_config(&node)?;
            let api_config = tradechain_api::ApiConfig::load(&config, node.config.as_deref())?;
            if tokio::runtime::Runtime::new()?.block_on(tradechain_api::auth::revoke_token_by_id(&api_config, &id))? {
                println!("revoked {id}");
                Ok(())
            } else {
                anyhow::bail!("no live token with id {id}")
            }
        }
    }
}

fn run_rebuild(args: NodeArgs) -> anyhow::Result<()> {
    let config = node_config(&args)?;
    let api_config = tradechain_api::ApiConfig::load(&config, args.config.as_deref())?;
    let node = Node::open(config.clone(), genesis_calls(&config)?).context("cannot open the chain")?;
    let blocks =
        tokio::runtime::Runtime::new()?.block_on(tradechain_api::Platform::rebuild_read_model(node, &api_config))?;
    println!("read model rebuilt from the chain: {blocks} blocks indexed");
    Ok(())
}
