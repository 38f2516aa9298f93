//! Scenarios: real trade flows written as data (TOML), played against the platform
//! through its public interfaces only (REST and JSON-RPC over HTTP), with a timeline a
//! person can read and an error naming the first unmet expectation.
//!
//! [`play_file`] parses a file and plays it on an embedded platform (a dev node with the
//! API on a loopback port, the sandbox bank, and a settlement worker for each bank) in a
//! temporary directory, or, with [`Options::url`], on a running node: the parties are
//! onboarded there with the operator's token (under names made unique for the run), the
//! sandbox bank runs here (or at [`Options::bank_url`]), and each bank's settlement worker
//! has the node sign its calls with the bank's custodial key.

pub mod consortium;
pub mod embedded;
mod expect;
pub mod format;
mod play;
mod runner;
mod step;

use std::path::{Path, PathBuf};

pub use format::Scenario;
pub use runner::format_money;

/// Why a scenario could not be read or did not play as written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file is not TOML, or not the scenario format.
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The file names a party or an order it does not define.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The file cannot be read.
    #[error("cannot read {file}: {message}")]
    Read {
        /// The file.
        file: String,
        /// The operating system's reason.
        message: String,
    },
    /// A step could not be played (the platform refused what the step did not expect).
    #[error("step {step} ({what}) failed: {message}")]
    Step {
        /// 1-based step number.
        step: usize,
        /// The step, as [`format::Step::describe`] names it.
        what: String,
        /// What went wrong.
        message: String,
    },
    /// A step played, but what it expects does not hold.
    #[error("step {step} ({what}): expectation `{expectation}` not met: expected {expected}, got {actual}")]
    Expectation {
        /// 1-based step number.
        step: usize,
        /// The step, as [`format::Step::describe`] names it.
        what: String,
        /// Which expectation (`state`, `balances.Seller`, …).
        expectation: String,
        /// What the file says.
        expected: String,
        /// What the platform shows.
        actual: String,
    },
    /// The platform could not be started or reached.
    #[error("platform: {0}")]
    Platform(String),
}

/// How to play.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Print each timeline line as it happens.
    pub print: bool,
    /// Keep the platform's data here instead of in a temporary directory.
    pub data_dir: Option<PathBuf>,
    /// After the run, stop the node and verify its chain from genesis.
    pub verify: bool,
    /// Keep a one-line progress report (`name: step n/total`) up to date on stderr, for
    /// long runs whose timeline goes to a file or is not printed.
    pub progress: bool,
    /// Play against the running node at this URL instead of starting one (its clock must
    /// be advanceable, as a dev node's is, when the scenario lets days pass).
    pub url: Option<String>,
    /// The running node's operator API token (required with `url`).
    pub operator_token: Option<String>,
    /// With `url`: a sandbox bank already running there, instead of one started here.
    pub bank_url: Option<String>,
    /// Start the platform on the EVM network at this JSON-RPC URL instead (a Hardhat node,
    /// say): a member node for each `node` the parties name (one if none does), the suite
    /// deployed first if it is not there.
    pub network: Option<String>,
    /// With `network`: the operator's key (hex); default the dev operator's (Hardhat's
    /// well-known account #0).
    pub operator_key: Option<String>,
    /// After the scenario, keep the embedded platform running (the banks' settlement
    /// workers paying what becomes due) and print a web app sign-in link for each party,
    /// until Ctrl-C or SIGTERM (`tradechain demo --serve`).
    pub serve: bool,
    /// Where the embedded platform listens (default: a free loopback port).
    pub listen: Option<std::net::SocketAddr>,
}

/// A scenario that played through: its timeline.
#[derive(Debug, Clone)]
pub struct Played {
    /// The timeline, as printed.
    pub timeline: String,
}

/// Read and parse a scenario file.
pub fn load(path: &Path) -> Result<Scenario, Error> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::Read { file: file.clone(), message: e.to_string() })?;
    Scenario::parse(&file, &text)
}

/// Parse `text` (named `file` in errors) and play it on an embedded platform.
pub async fn play_text(file: &str, text: &str, options: &Options) -> Result<Played, Error> {
    let scenario = Scenario::parse(file, text)?;
    play(&scenario, options).await
}

/// Read `path` and play it on an embedded platform.
pub async fn play_file(path: &Path, options: &Options) -> Result<Played, Error> {
    let scenario = load(path)?;
    play(&scenario, options).await
}

/// Play a parsed scenario on a fresh embedded platform.
pub async fn play(scenario: &Scenario, options: &Options) -> Result<Played, Error> {
    let tmp;
    let dir = match &options.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| Error::Platform(format!("{}: {e}", d.display())))?;
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir().map_err(|e| Error::Platform(format!("tempdir: {e}")))?;
            tmp.path().to_path_buf()
        }
    };
    if let Some(url) = &options.url {
        return play_remote(scenario, options, url, &dir).await;
    }
    if let Some(network) = &options.network {
        return play_on_network(scenario, options, network, &dir).await.map(|(played, _)| played);
    }
    let mut platform = embedded::Embedded::start_on(&dir, options.listen).await?;
    let target = runner::Target {
        base: platform.base.clone(),
        bank_url: platform.bank_url.clone(),
        operator_token: platform.operator_token.clone(),
        name_suffix: String::new(),
        run: 0,
        nodes: Vec::new(),
    };
    let (mut timeline, kept) = play::run(scenario, &target, &dir, options.print, options.progress).await?;
    if options.serve {
        serve(&platform, kept).await;
    }
    if options.verify {
        platform.stop().await;
        // A JSON-RPC call the node took just before it stopped (a settlement worker's poll)
        // may still be finishing on a blocking thread, holding the chain's files a moment.
        let mut attempt = 0;
        let report = loop {
            match tradechain_engine::verify::verify(&platform.chain_dir) {
                Err(e) if attempt < 50 && e.to_string().contains("already open") => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                other => break other.map_err(|e| Error::Platform(format!("the chain does not verify: {e}")))?,
            }
        };
        let line = format!(
            "chain verified from genesis: {} blocks, {} transactions, state root {}",
            report.blocks, report.transactions, report.state_root
        );
        if options.print {
            println!("{line}");
        }
        timeline.push_str(&line);
        timeline.push('\n');
    }
    Ok(Played { timeline })
}

/// Keep the played platform serving (see [`Options::serve`]): print a sign-in link per
/// party, and step the banks' settlement workers every second until Ctrl-C or SIGTERM.
async fn serve(platform: &embedded::Embedded, kept: play::Kept) {
    println!();
    println!("The platform keeps running at {}. Open a link to work as that party (Ctrl-C stops it):", platform.base);
    let operator = ("Operator".to_string(), platform.operator_token.clone());
    for (name, token) in kept.members.iter().chain(std::iter::once(&operator)) {
        println!("  {name:<20} {}/app/#token={token}", platform.base);
    }
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let workers = async {
        loop {
            for w in &kept.workers {
                // A failed pass (the bank down, say) is tried again a second later.
                let _ = w.step().await;
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    };
    tokio::select! {
        () = workers => {}
        () = tradechain_engine::signal::shutdown() => {}
    }
    println!("stopping");
}

/// Play on the running node at `url` (see [`Options::url`]).
async fn play_remote(scenario: &Scenario, options: &Options, url: &str, dir: &Path) -> Result<Played, Error> {
    let operator_token = options.operator_token.clone().filter(|t| !t.trim().is_empty()).ok_or_else(|| {
        Error::Platform(format!(
            "playing against {url} needs that node's operator API token (--operator-token or TRADECHAIN_OPERATOR_TOKEN)"
        ))
    })?;
    if options.verify {
        return Err(Error::Platform("verifying the chain from genesis needs the embedded node's files".into()));
    }
    // reqwest is built without a default TLS provider in this workspace; we speak plain HTTP.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (bank_url, bank) = match &options.bank_url {
        Some(u) => (u.trim_end_matches('/').to_string(), None),
        None => {
            let (u, task) = embedded::start_sandbox_bank(dir).await?;
            (u, Some(task))
        }
    };
    // Unique enough per run: the clock's nanoseconds and the process id.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let run = (nanos ^ std::process::id().rotate_left(16)) % 1_000_000;
    let target = runner::Target {
        base: url.trim_end_matches('/').to_string(),
        bank_url,
        operator_token,
        name_suffix: format!(" #{run:06}"),
        run,
        nodes: Vec::new(),
    };
    let played = play::run(scenario, &target, dir, options.print, options.progress).await;
    if let Some(task) = bank {
        task.abort();
    }
    Ok(Played { timeline: played?.0 })
}

/// Play on a consortium of member nodes started on the network at `network` (see
/// [`Options::network`]); the timeline, and the nodes (stopped), for a test's checks.
///
/// # Errors
/// As [`play`].
pub async fn play_on_network(
    scenario: &Scenario,
    options: &Options,
    network: &str,
    dir: &Path,
) -> Result<(Played, consortium::Consortium), Error> {
    let key = options.operator_key.clone().unwrap_or_else(|| tradechain_engine::config::DEV_OPERATOR_KEY.to_string());
    let operator: alloy::signers::local::PrivateKeySigner =
        key.trim().parse().map_err(|e| Error::Platform(format!("operator key: {e}")))?;
    let mut names = scenario.nodes();
    if names.is_empty() {
        names.push("a".into());
    }
    let mut nodes = consortium::Consortium::start(network, &operator, &names, dir).await?;
    let (bank_url, bank) = embedded::start_sandbox_bank(dir).await?;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let run = (nanos ^ std::process::id().rotate_left(16)) % 1_000_000;
    let targets = nodes.targets();
    let first = &targets[0];
    let target = runner::Target {
        base: first.base.clone(),
        bank_url,
        operator_token: first.operator_token.clone(),
        name_suffix: format!(" #{run:06}"),
        run,
        nodes: if scenario.nodes().is_empty() { Vec::new() } else { targets.clone() },
    };
    let played = play::run(scenario, &target, dir, options.print, options.progress).await;
    bank.abort();
    nodes.stop().await;
    Ok((Played { timeline: played?.0 }, nodes))
}
