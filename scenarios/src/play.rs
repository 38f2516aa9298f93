//! Playing a whole scenario: start the runner (parties, clock, workers), play each step,
//! and end the timeline with each order's outcome.

use std::path::Path;

use crate::Error;
use crate::format::Scenario;
use crate::runner::{Runner, Target, format_money};

/// What a played scenario leaves running, for a platform kept serving afterwards
/// (`tradechain demo --serve`): each party's token and the banks' settlement workers.
pub(crate) struct Kept {
    /// Each party's name and API token.
    pub(crate) members: Vec<(String, String)>,
    /// The banks' settlement workers, to keep paying what becomes due.
    pub(crate) workers: Vec<
        tradechain_bank_adapters::settlement::SettlementWorker<tradechain_bank_adapters::iso20022_http::IsoHttpRails>,
    >,
}

/// Play `scenario` against `platform`; the timeline, or the first failure.
pub(crate) async fn run(
    scenario: &Scenario,
    platform: &Target,
    dir: &Path,
    print: bool,
    progress: bool,
) -> Result<(String, Kept), Error> {
    let mut r = Runner::new(scenario, platform, print)?;
    r.start(scenario, dir).await?;
    let total = scenario.steps.len();
    for (n, step) in scenario.steps.iter().enumerate() {
        if progress {
            // `\r` + erase line: one line on the terminal, rewritten per step.
            eprint!("\r\x1b[2K{}: step {}/{total}", scenario.name, n + 1);
            let _ = std::io::Write::flush(&mut std::io::stderr());
        }
        let played = crate::step::play(&mut r, n + 1, step.get_ref()).await;
        if progress && (played.is_err() || n + 1 == total) {
            eprintln!();
        }
        played?;
    }
    r.emit("");
    let keys: Vec<String> = r.orders.keys().cloned().collect();
    for key in keys {
        let o = r.order(&key).await?;
        let currency = o["currency"].as_str().unwrap_or("USD").to_string();
        let minor = |f: &str| o[f].as_str().and_then(|v| v.parse::<u128>().ok()).unwrap_or(0);
        r.emit(&format!(
            "order {key} (#{}): {} — paid {} of {}",
            o["id"],
            o["state"].as_str().unwrap_or("?"),
            format_money(&currency, minor("paid_minor")),
            format_money(&currency, minor("amount_minor"))
        ));
    }
    let kept = Kept { members: r.member_tokens(), workers: r.workers.clone() };
    Ok((r.into_timeline(), kept))
}
