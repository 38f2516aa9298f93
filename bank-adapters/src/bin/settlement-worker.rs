//! A bank's settlement worker as its own process: `settlement-worker SETTINGS.json`
//! (see [`tradechain_bank_adapters::config::BankSettings`]). Stops on Ctrl-C.

use tradechain_bank_adapters::config::BankSettings;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: settlement-worker SETTINGS.json");
        return std::process::ExitCode::from(2);
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let result = match BankSettings::load(std::path::Path::new(&path)) {
        Ok(settings) => settings.run(shutdown).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("settlement-worker: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
