//! The webhook adapter against a small signed-JSON bank on loopback.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use tradechain_bank_adapters::party::Party;
use tradechain_bank_adapters::payment::{CreditTransfer, RailStatus};
use tradechain_bank_adapters::rails::{RailError, Rails};
use tradechain_bank_adapters::webhook::{self, WebhookPayment, WebhookRails, WebhookStatus};
use tradechain_money::identifier::{Bic, EndToEndId, Iban};
use tradechain_money::money::{Currency, Money};

const SECRET: &[u8] = b"a-shared-secret-of-32-bytes-long";

/// How the fake bank misbehaves.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Honest,
    BadSignature,
    WrongId,
}

#[derive(Clone)]
struct Bank {
    mode: Mode,
    seen: Arc<Mutex<HashMap<String, (WebhookStatus, u32)>>>,
}

fn signed(bank: &Bank, status: &WebhookStatus) -> Response {
    let body = serde_json::to_vec(status).expect("json");
    let ts = "1700000000";
    let secret: &[u8] = if bank.mode == Mode::BadSignature { b"not-the-shared-secret-at-all-123" } else { SECRET };
    let sig = webhook::sign(secret, ts, &body);
    ([(webhook::TIMESTAMP_HEADER, ts.to_string()), (webhook::SIGNATURE_HEADER, sig)], body).into_response()
}

fn verified(headers: &HeaderMap, body: &[u8]) -> bool {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    webhook::verify(SECRET, &h(webhook::TIMESTAMP_HEADER), body, &h(webhook::SIGNATURE_HEADER))
}

async fn pay(State(bank): State<Bank>, headers: HeaderMap, body: Bytes) -> Response {
    if !verified(&headers, &body) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Ok(p) = serde_json::from_slice::<WebhookPayment>(&body) else { return StatusCode::BAD_REQUEST.into_response() };
    let mut seen = bank.seen.lock().expect("lock");
    let entry = seen.entry(p.end_to_end_id.clone()).or_insert_with(|| {
        let status = WebhookStatus {
            end_to_end_id: p.end_to_end_id.clone(),
            status: "settled".into(),
            amount: p.amount.clone(),
            currency: p.currency.clone(),
            bank_reference: Some("WH-1".into()),
            reason: None,
        };
        (status, 0)
    });
    entry.1 += 1;
    let mut answer = entry.0.clone();
    drop(seen);
    if bank.mode == Mode::WrongId {
        answer.end_to_end_id = "TC1-999-0-1".into();
    }
    signed(&bank, &answer)
}

async fn status(State(bank): State<Bank>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !verified(&headers, b"") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let found = bank.seen.lock().expect("lock").get(&id).map(|e| e.0.clone());
    match found {
        Some(s) => signed(&bank, &s),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn start(mode: Mode) -> (String, Bank) {
    let bank = Bank { mode, seen: Arc::default() };
    let app = Router::new().route("/payments", post(pay)).route("/payments/{id}", get(status)).with_state(bank.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, bank)
}

fn transfer() -> CreditTransfer {
    let party = |name: &str, bban: &str| Party {
        name: name.into(),
        iban: Iban::from_bban("DE", bban).expect("iban"),
        bic: Bic::parse("DEUTDEFF").expect("bic"),
    };
    CreditTransfer {
        end_to_end_id: EndToEndId::parse("TC7431-5-1-1").expect("id"),
        debtor: party("Acme", "370400440532013000"),
        creditor: party("Widgets", "370400440532013001"),
        amount: Money::new(123_456, Currency::from_code("EUR").expect("eur")),
        requested_execution_date: NaiveDate::from_ymd_opt(2026, 5, 1).expect("date"),
        remittance: "tradechain order 5 milestone 1 attempt 1".into(),
        charges: tradechain_bank_adapters::payment::ChargeBearer::Shared,
        payment_information_id: None,
    }
}

#[tokio::test]
async fn signed_payment_settles_and_status_enquiry_finds_it() {
    let (url, bank) = start(Mode::Honest).await;
    let rails = WebhookRails::new(url, SECRET.to_vec(), Duration::from_secs(5)).expect("rails");
    let t = transfer();
    assert_eq!(rails.status(&t).await.expect("status"), None, "unknown before it is sent");
    let paid = rails.pay(&t).await.expect("pay");
    assert_eq!(paid, RailStatus::Settled { bank_reference: Some("WH-1".into()) });
    assert_eq!(rails.status(&t).await.expect("status"), Some(paid));
    assert_eq!(bank.seen.lock().expect("lock")["TC7431-5-1-1"].1, 1);
}

#[tokio::test]
async fn answer_with_a_bad_signature_is_refused() {
    let (url, _) = start(Mode::BadSignature).await;
    let rails = WebhookRails::new(url, SECRET.to_vec(), Duration::from_secs(5)).expect("rails");
    assert!(matches!(rails.pay(&transfer()).await, Err(RailError::Signature(_))));
}

#[tokio::test]
async fn answer_about_another_payment_is_refused() {
    let (url, _) = start(Mode::WrongId).await;
    let rails = WebhookRails::new(url, SECRET.to_vec(), Duration::from_secs(5)).expect("rails");
    let err = rails.pay(&transfer()).await.expect_err("wrong id");
    assert!(matches!(err, RailError::Malformed(_)) && !err.is_transient(), "{err}");
}

#[tokio::test]
async fn unreachable_bank_is_a_transient_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let rails = WebhookRails::new(url, SECRET.to_vec(), Duration::from_secs(2)).expect("rails");
    assert!(rails.pay(&transfer()).await.expect_err("down").is_transient());
}
