//! The sandbox bank: a separate process with a real double-entry ledger ([`ledger`]) that
//! speaks the ISO adapter's HTTP protocol, for the demo and the fault tests.
//!
//! ISO 20022 endpoints (the protocol [`crate::iso20022_http`] speaks):
//! - `POST /iso20022/pain.001`: pain.001.001.09 in, pain.002.001.10 out. A known EndToEndId
//!   is never booked twice; it answers the recorded status and is counted.
//! - `GET /iso20022/status/{end_to_end_id}`: status enquiry, pain.002 or 404.
//! - `GET /iso20022/camt.054?account=IBAN&since=N`: camt.054 with the entries after N.
//!
//! Admin JSON endpoints: `POST /admin/accounts`, `POST /admin/fund`, `GET|PUT /admin/faults`,
//! `GET /admin/balances`, `GET /admin/ledger` (per-currency sums, zero when balanced),
//! `GET /admin/payments`, `GET /admin/payments/{end_to_end_id}` (status and receive count),
//! `POST /admin/payments/{end_to_end_id}/settle` (book a held instruction; `{"report":
//! false}` books it without updating its status report, so only camt.054 shows it) and
//! `POST /admin/payments/{end_to_end_id}/reject` (`{"reason": "AM04"}`: reject a held one).
//!
//! Faults ([`Faults`]) make it misbehave the way real banks do: down (503), slow, hang
//! after booking (the client times out not knowing the outcome), duplicate status entries,
//! reject the next instruction, hold the next one at an interim status (accepted but not
//! booked: ACCP, ACWC, ACSP, PDNG), or corrupt the next answer.

pub mod ledger;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{TimeZone, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use crate::iso20022::camt054::{self, Camt054, Entry};
use crate::iso20022::pain001;
use crate::iso20022::pain002::{self, Pain002, TransactionStatus, TxStatus};
use ledger::{Decision, Ledger, LedgerError, OpenAccount, PaymentRecord};
use tradechain_money::identifier::{EndToEndId, Iban};
use tradechain_money::money::{Currency, Money};

/// How the sandbox bank runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SandboxConfig {
    listen: SocketAddr,
    /// sea-orm URL of the ledger, e.g. `sqlite:///tmp/bank.db?mode=rwc`.
    database_url: String,
}

impl SandboxConfig {
    /// A sandbox bank keeping its ledger in the SQLite file `path` (created if missing).
    pub(crate) fn sqlite(listen: SocketAddr, path: &std::path::Path) -> Self {
        SandboxConfig { listen, database_url: format!("sqlite://{}?mode=rwc", path.display()) }
    }
}

/// A corrupted answer to inject (hostile or broken bank).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Corruption {
    /// Not XML at all.
    BadXml,
    /// A status report about another EndToEndId.
    WrongEndToEndId,
    /// A status report echoing a different amount.
    AmountMismatch,
}

/// How long a "timeout after booking" hangs unless told otherwise.
pub(crate) const DEFAULT_HANG_MS: u64 = 30_000;

/// Injected faults; `PUT /admin/faults` replaces them all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Answer every ISO endpoint with 503 and process nothing.
    pub down: bool,
    /// Delay every ISO answer by this many milliseconds.
    pub slow_ms: u64,
    /// For the next N instructions: book, then hang for `hang_ms` without answering.
    pub timeout_after_booking: u32,
    /// How long to hang, in milliseconds (0: `DEFAULT_HANG_MS`, 30 s).
    pub hang_ms: u64,
    /// List every transaction status twice in each pain.002.
    pub duplicate_responses: bool,
    /// Reject the next new instruction with this ISO reason code (e.g. `AM04`).
    pub reject_next: Option<String>,
    /// Hold the next new instruction at this interim status (`ACCP`, `ACWC`, `ACSP`,
    /// `PDNG`) without booking it, until `POST /admin/payments/{id}/settle` or `/reject`.
    pub hold_next: Option<String>,
    /// Corrupt the next pain.001 answer (after booking it).
    pub corrupt_next: Option<Corruption>,
}

#[derive(Clone)]
struct AppState {
    ledger: Arc<Ledger>,
    faults: Arc<RwLock<Faults>>,
}

/// Errors starting or running the sandbox bank.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The ledger database could not be opened.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The listen address is taken or not allowed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// The HTTP server stopped with an error.
    #[error("server: {0}")]
    Serve(#[from] std::io::Error),
}

/// Command-line arguments of `tradechain sandbox-bank` and of the `sandbox-bank` binary.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Listen address (port 0 picks a free one; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:9700")]
    pub listen: SocketAddr,
    /// SQLite file of the ledger (created if missing).
    #[arg(long, default_value = "sandbox-bank.db")]
    pub database: std::path::PathBuf,
}

/// Run the sandbox bank from command-line arguments until Ctrl-C.
pub async fn run(args: SandboxArgs) -> Result<(), SandboxError> {
    serve(SandboxConfig::sqlite(args.listen, &args.database)).await
}

/// Run the sandbox bank until Ctrl-C: open the ledger, listen, and print
/// `listening on http://ADDR` on stdout (scripts and tests read the port from it).
pub(crate) async fn serve(config: SandboxConfig) -> Result<(), SandboxError> {
    let ledger = Arc::new(Ledger::open(&config.database_url).await?);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| SandboxError::Listen { addr: config.listen, source })?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, database = %config.database_url, "sandbox bank ready");
    println!("listening on http://{addr}");
    axum::serve(listener, router(ledger))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// The sandbox bank's routes over an open ledger (for in-process use, e.g. benchmarks).
pub fn router(ledger: Arc<Ledger>) -> Router {
    let state = AppState { ledger, faults: Arc::new(RwLock::new(Faults::default())) };
    Router::new()
        .route("/iso20022/pain.001", post(receive_pain001))
        .route("/iso20022/status/{e2e}", get(status_enquiry))
        .route("/iso20022/camt.054", get(notifications))
        .route("/admin/accounts", post(open_account))
        .route("/admin/fund", post(fund))
        .route("/admin/faults", get(get_faults).put(put_faults))
        .route("/admin/balances", get(balances))
        .route("/admin/ledger", get(ledger_sums))
        .route("/admin/payments", get(payments))
        .route("/admin/payments/{e2e}", get(payment))
        .route("/admin/payments/{e2e}/settle", post(settle_held))
        .route("/admin/payments/{e2e}/reject", post(reject_held))
        .route("/health", get(|| async { "ok" }))
        .with_state(state)
}

fn xml_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message.to_string() }))).into_response()
}

fn ledger_error(e: LedgerError) -> Response {
    match e {
        LedgerError::Db(_) => {
            tracing::error!(error = %e, "sandbox ledger failure");
            error(StatusCode::INTERNAL_SERVER_ERROR, e)
        }
        LedgerError::UnknownAccount(_) => error(StatusCode::NOT_FOUND, e),
        LedgerError::Invalid(_) => error(StatusCode::BAD_REQUEST, e),
    }
}

/// Apply `down` and `slow_ms`; `Some(response)` when the bank is down.
async fn gate(state: &AppState) -> Option<Response> {
    let faults = state.faults.read().await.clone();
    if faults.slow_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.slow_ms)).await;
    }
    faults.down.then(|| error(StatusCode::SERVICE_UNAVAILABLE, "sandbox bank is down"))
}

fn status_of(record: &PaymentRecord) -> Result<TransactionStatus, String> {
    let currency = Currency::parse(&record.currency).map_err(|e| e.to_string())?;
    Ok(TransactionStatus {
        original_pmt_inf_id: record.pmt_inf_id.clone(),
        original_end_to_end_id: EndToEndId::parse(&record.end_to_end_id).map_err(|e| e.to_string())?,
        status: TxStatus::parse(&record.status).map_err(|e| e.to_string())?,
        reason: record.reason.clone(),
        detail: None,
        bank_reference: record.bank_reference.clone(),
        original_amount: Some(Money::new(currency.parse_minor(&record.amount).map_err(|e| e.to_string())?, currency)),
    })
}

fn report(
    original_msg_id: &str,
    original_name: &str,
    mut txs: Vec<TransactionStatus>,
    duplicate: bool,
) -> Result<String, String> {
    if duplicate {
        txs = txs.into_iter().flat_map(|t| [t.clone(), t]).collect();
    }
    let now = Utc::now();
    let msg = Pain002 {
        msg_id: format!("SBXS{}", now.timestamp_micros()),
        created: now,
        original_msg_id: original_msg_id.to_string(),
        original_msg_name: original_name.to_string(),
        transactions: txs,
    };
    pain002::write(&msg).map_err(|e| e.to_string())
}

async fn receive_pain001(State(state): State<AppState>, body: Bytes) -> Response {
    if let Some(down) = gate(&state).await {
        return down;
    }
    let msg = match pain001::parse(&body) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "refused pain.001");
            return error(StatusCode::BAD_REQUEST, e);
        }
    };
    let (reject_with, hold, hang, corruption, duplicate, hang_ms) = {
        let mut f = state.faults.write().await;
        let hang = f.timeout_after_booking > 0;
        if hang {
            f.timeout_after_booking -= 1;
        }
        let hang_ms = if f.hang_ms == 0 { DEFAULT_HANG_MS } else { f.hang_ms };
        (f.reject_next.take(), f.hold_next.take(), hang, f.corrupt_next.take(), f.duplicate_responses, hang_ms)
    };
    let hold = match hold.as_deref().map(TxStatus::parse) {
        None => None,
        Some(Ok(s)) if s.is_interim() => Some(s),
        Some(_) => {
            return error(StatusCode::BAD_REQUEST, "hold_next must be an interim status (ACCP, ACWC, ACSP, PDNG)");
        }
    };
    let (mut reject_with, mut hold) = (reject_with, hold);
    let mut received = Vec::with_capacity(msg.transfers.len());
    for r in &msg.transfers {
        let decision = match (reject_with.take(), hold.take()) {
            (Some(code), _) => Decision::Reject(code),
            (None, Some(interim)) => Decision::Hold(interim),
            (None, None) => Decision::Book,
        };
        received.push((r.pmt_inf_id.as_str(), &r.transfer, decision));
    }
    // The whole message in one database transaction, as a bank books a bulk file.
    let records = match state.ledger.receive_many(&msg.msg_id, received).await {
        Ok(r) => r,
        Err(e) => return ledger_error(e),
    };
    let mut statuses = Vec::with_capacity(records.len());
    for record in &records {
        match status_of(record) {
            Ok(s) => statuses.push(s),
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
        }
    }
    if hang {
        tracing::info!(hang_ms, "fault: booked, now hanging without an answer");
        tokio::time::sleep(Duration::from_millis(hang_ms)).await;
    }
    if let Some(c) = corruption {
        tracing::info!(?c, "fault: corrupting the answer");
        match c {
            Corruption::BadXml => {
                let broken =
                    format!("<Document xmlns=\"{}\"><CstmrPmtStsRpt>oops</Document>", crate::iso20022::PAIN_002_NS);
                return xml_response(broken);
            }
            Corruption::WrongEndToEndId => {
                for s in &mut statuses {
                    if let Ok(other) = EndToEndId::parse(&format!("X{}", &s.original_end_to_end_id.as_str()[1..])) {
                        s.original_end_to_end_id = other;
                    }
                }
            }
            Corruption::AmountMismatch => {
                for s in &mut statuses {
                    if let Some(a) = &mut s.original_amount {
                        a.minor += 1;
                    }
                }
            }
        }
    }
    match report(&msg.msg_id, "pain.001.001.09", statuses, duplicate) {
        Ok(xml) => xml_response(xml),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn status_enquiry(State(state): State<AppState>, Path(e2e): Path<String>) -> Response {
    if let Some(down) = gate(&state).await {
        return down;
    }
    let Ok(id) = EndToEndId::parse(&e2e) else {
        return error(StatusCode::BAD_REQUEST, "invalid EndToEndId");
    };
    let record = match state.ledger.payment(&id).await {
        Ok(Some(r)) => r,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no instruction {id}")),
        Err(e) => return ledger_error(e),
    };
    let duplicate = state.faults.read().await.duplicate_responses;
    match status_of(&record).and_then(|s| report(id.as_str(), "pain.001.001.09", vec![s], duplicate)) {
        Ok(xml) => xml_response(xml),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

#[derive(Deserialize)]
struct NotificationQuery {
    account: String,
    #[serde(default)]
    since: i64,
}

async fn notifications(State(state): State<AppState>, Query(q): Query<NotificationQuery>) -> Response {
    if let Some(down) = gate(&state).await {
        return down;
    }
    let Ok(iban) = Iban::parse(&q.account) else {
        return error(StatusCode::BAD_REQUEST, "invalid IBAN");
    };
    let booked = match state.ledger.entries_since(&iban, q.since).await {
        Ok(e) => e,
        Err(e) => return ledger_error(e),
    };
    let mut entries = Vec::new();
    for b in booked {
        let (Ok(currency), Ok(seq)) = (Currency::parse(&b.currency), u64::try_from(b.seq)) else { continue };
        // What kind of transfer booked it: a payment's scheme, or the bank's own book entry.
        let payment = match &b.end_to_end_id {
            Some(id) => match EndToEndId::parse(id) {
                Ok(id) => state.ledger.payment(&id).await.ok().flatten(),
                Err(_) => None,
            },
            None => None,
        };
        let sepa = |i: &str| Iban::parse(i).is_ok_and(|i| i.is_sepa());
        let sub_family = match payment {
            Some(p) if p.currency == "EUR" && sepa(&p.debtor_iban) && sepa(&p.creditor_iban) => "ESCT",
            Some(_) => "XBCT",
            None => "BOOK",
        };
        entries.push(Entry {
            entry_ref: seq,
            amount: Money::new(u128::from(b.amount.unsigned_abs()), currency),
            credit: b.amount > 0,
            booked: true,
            booking_time: Utc.timestamp_millis_opt(b.booked_at).single().unwrap_or_default(),
            bank_reference: b.booking_ref,
            end_to_end_id: b.end_to_end_id.and_then(|s| EndToEndId::parse(&s).ok()),
            sub_family: sub_family.into(),
        });
    }
    let now = Utc::now();
    let msg = Camt054 { msg_id: format!("SBXN{}", now.timestamp_micros()), created: now, account: iban, entries };
    match camt054::write(&msg) {
        Ok(xml) => xml_response(xml),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn open_account(State(state): State<AppState>, axum::Json(req): axum::Json<OpenAccount>) -> Response {
    match state.ledger.open_account(&req).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => ledger_error(e),
    }
}

/// `POST /admin/fund` body: credit `amount` minor units to `iban`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Fund {
    iban: Iban,
    amount: i64,
}

async fn fund(State(state): State<AppState>, axum::Json(req): axum::Json<Fund>) -> Response {
    match state.ledger.fund(&req.iban, req.amount).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => ledger_error(e),
    }
}

async fn get_faults(State(state): State<AppState>) -> Response {
    axum::Json(state.faults.read().await.clone()).into_response()
}

async fn put_faults(State(state): State<AppState>, axum::Json(f): axum::Json<Faults>) -> Response {
    tracing::info!(faults = ?f, "faults set");
    *state.faults.write().await = f;
    StatusCode::NO_CONTENT.into_response()
}

async fn balances(State(state): State<AppState>) -> Response {
    match state.ledger.balances().await {
        Ok(b) => axum::Json(b).into_response(),
        Err(e) => ledger_error(e),
    }
}

async fn ledger_sums(State(state): State<AppState>) -> Response {
    match state.ledger.check().await {
        Ok(sums) => {
            let map: serde_json::Map<String, serde_json::Value> =
                sums.into_iter().map(|(c, s)| (c, serde_json::Value::String(s.to_string()))).collect();
            axum::Json(serde_json::json!({ "sums": map })).into_response()
        }
        Err(e) => ledger_error(e),
    }
}

async fn payments(State(state): State<AppState>) -> Response {
    match state.ledger.payments().await {
        Ok(p) => axum::Json(p).into_response(),
        Err(e) => ledger_error(e),
    }
}

/// `POST /admin/payments/{id}/settle` body.
#[derive(Debug, Deserialize)]
struct SettleHeld {
    /// Update the status report to ACSC (default); `false`: only camt.054 shows the booking.
    #[serde(default = "yes")]
    report: bool,
}

fn yes() -> bool {
    true
}

async fn settle_held(State(state): State<AppState>, Path(e2e): Path<String>, body: Bytes) -> Response {
    let Ok(id) = EndToEndId::parse(&e2e) else {
        return error(StatusCode::BAD_REQUEST, "invalid EndToEndId");
    };
    let report = if body.is_empty() {
        true
    } else {
        match serde_json::from_slice::<SettleHeld>(&body) {
            Ok(b) => b.report,
            Err(e) => return error(StatusCode::BAD_REQUEST, e),
        }
    };
    match state.ledger.settle_held(&id, report).await {
        Ok(p) => axum::Json(p).into_response(),
        Err(e) => ledger_error(e),
    }
}

/// `POST /admin/payments/{id}/reject` body.
#[derive(Debug, Deserialize)]
struct RejectHeld {
    reason: String,
}

async fn reject_held(
    State(state): State<AppState>,
    Path(e2e): Path<String>,
    axum::Json(req): axum::Json<RejectHeld>,
) -> Response {
    let Ok(id) = EndToEndId::parse(&e2e) else {
        return error(StatusCode::BAD_REQUEST, "invalid EndToEndId");
    };
    match state.ledger.reject_held(&id, &req.reason).await {
        Ok(p) => axum::Json(p).into_response(),
        Err(e) => ledger_error(e),
    }
}

async fn payment(State(state): State<AppState>, Path(e2e): Path<String>) -> Response {
    let Ok(id) = EndToEndId::parse(&e2e) else {
        return error(StatusCode::BAD_REQUEST, "invalid EndToEndId");
    };
    match state.ledger.payment(&id).await {
        Ok(Some(p)) => axum::Json(p).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no instruction {id}")),
        Err(e) => ledger_error(e),
    }
}
