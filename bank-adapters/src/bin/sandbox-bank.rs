//! The sandbox bank as its own process: `sandbox-bank --listen 127.0.0.1:0 --database bank.db`.
//! Prints `listening on http://ADDR` on stdout once ready. `tradechain sandbox-bank` runs
//! the same [`tradechain_bank_adapters::sandbox::run`].

use clap::Parser;
use tradechain_bank_adapters::sandbox::{SandboxArgs, run};

#[derive(Parser)]
#[command(name = "sandbox-bank", about = "A sandbox bank with a double-entry ledger speaking ISO 20022 over HTTP")]
struct Cli {
    #[command(flatten)]
    args: SandboxArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse().args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sandbox-bank: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
