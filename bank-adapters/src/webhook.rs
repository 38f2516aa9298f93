//! The webhook adapter: JSON over HTTP(S), HMAC-SHA256 signed both ways, for banks with a
//! modern payments API.
//!
//! Request: `POST {base}/payments` with a [`WebhookPayment`] body; status enquiry:
//! `GET {base}/payments/{EndToEndId}` (404 when unknown). Every request and every answer
//! carries `X-Tradechain-Timestamp` (unix seconds) and `X-Tradechain-Signature:
//! sha256=HEX(HMAC-SHA256(secret, timestamp + "." + body))`; requests also carry
//! `Idempotency-Key: {EndToEndId}`. An answer whose signature does not verify, or that
//! speaks of another EndToEndId or amount, is refused.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::iso20022::MessageError;
use crate::payment::{CreditTransfer, RailStatus};
use crate::rails::{RailError, Rails, http_client, read_body, status_error, transport_error};

/// Header carrying `sha256=HEX(HMAC-SHA256(secret, timestamp + "." + body))`, both ways.
pub const SIGNATURE_HEADER: &str = "x-tradechain-signature";
/// Header carrying the signing time in unix seconds (part of what is signed).
pub const TIMESTAMP_HEADER: &str = "x-tradechain-timestamp";
/// Header carrying the EndToEndId on a payment request, for the bank's deduplication.
pub(crate) const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// HMAC-SHA256 signature header value over `timestamp.body`.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Constant-time check of a signature header value.
pub fn verify(secret: &[u8], timestamp: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.strip_prefix("sha256=") else { return false };
    let Ok(sig) = hex::decode(hex_sig) else { return false };
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else { return false };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// An account in the webhook JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAccount {
    /// Account holder name (at most 140 characters).
    pub name: String,
    /// IBAN (ISO 13616), electronic form without spaces.
    pub iban: String,
    /// BIC (ISO 9362) of the bank holding the account, 8 or 11 characters.
    pub bic: String,
}

/// The payment a webhook bank receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookPayment {
    /// The idempotency key, also sent as `Idempotency-Key` (at most 35 characters).
    pub end_to_end_id: String,
    /// The account debited.
    pub debtor: WebhookAccount,
    /// The account credited.
    pub creditor: WebhookAccount,
    /// Decimal with exactly the currency's minor unit digits.
    pub amount: String,
    /// ISO 4217 alphabetic code, e.g. `EUR`.
    pub currency: String,
    /// `YYYY-MM-DD`: the milestone's due date (UTC).
    pub requested_execution_date: String,
    /// Remittance information naming the order and milestone (at most 140 characters).
    pub remittance: String,
}

impl From<&CreditTransfer> for WebhookPayment {
    fn from(t: &CreditTransfer) -> Self {
        let acct = |p: &crate::party::Party| WebhookAccount {
            name: p.name.clone(),
            iban: p.iban.to_string(),
            bic: p.bic.to_string(),
        };
        WebhookPayment {
            end_to_end_id: t.end_to_end_id.to_string(),
            debtor: acct(&t.debtor),
            creditor: acct(&t.creditor),
            amount: t.amount.decimal(),
            currency: t.amount.currency.code().to_string(),
            requested_execution_date: t.requested_execution_date.format("%Y-%m-%d").to_string(),
            remittance: t.remittance.clone(),
        }
    }
}

/// What a webhook bank answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookStatus {
    /// Must be the instruction's EndToEndId, or the answer is refused.
    pub end_to_end_id: String,
    /// `pending`, `accepted` (both still in flight: nothing booked), `settled` (booked) or
    /// `rejected`.
    pub status: String,
    /// Must echo the instructed amount exactly (same decimal text).
    pub amount: String,
    /// Must echo the instructed ISO 4217 code.
    pub currency: String,
    /// The bank's own reference of the booking, if it gives one.
    #[serde(default)]
    pub bank_reference: Option<String>,
    /// For `rejected`: an ISO 20022 reason code such as `AM04` (`NARR` when absent).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Rails over signed JSON webhooks.
#[derive(Debug, Clone)]
pub struct WebhookRails {
    base_url: String,
    secret: Vec<u8>,
    client: reqwest::Client,
}

impl WebhookRails {
    /// `base_url` without a trailing slash; `secret` is the shared HMAC key (at least 16
    /// bytes); every request gives up after `timeout` (a status enquiry follows).
    pub fn new(base_url: impl Into<String>, secret: impl Into<Vec<u8>>, timeout: Duration) -> Result<Self, RailError> {
        let base_url = base_url.into().trim_end_matches('/').to_string();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(RailError::Config(format!("bank URL must be http(s): {base_url}")));
        }
        let secret = secret.into();
        if secret.len() < 16 {
            return Err(RailError::Config("webhook secret must be at least 16 bytes".into()));
        }
        Ok(WebhookRails { base_url, secret, client: http_client(timeout)? })
    }

    async fn answer(
        &self,
        resp: reqwest::Response,
        transfer: &CreditTransfer,
    ) -> Result<Option<RailStatus>, RailError> {
        let status = resp.status();
        let timestamp = resp.headers().get(TIMESTAMP_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
        let signature = resp.headers().get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = read_body(resp).await?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(status_error(status, &body));
        }
        let (Some(ts), Some(sig)) = (timestamp, signature) else {
            return Err(RailError::Signature("answer is not signed".into()));
        };
        if !verify(&self.secret, &ts, &body, &sig) {
            return Err(RailError::Signature("answer signature does not verify".into()));
        }
        let answer: WebhookStatus = serde_json::from_slice(&body)
            .map_err(|e| RailError::Malformed(MessageError::invalid("webhook answer", e.to_string())))?;
        let expected = WebhookPayment::from(transfer);
        if answer.end_to_end_id != expected.end_to_end_id {
            return Err(RailError::Malformed(MessageError::invalid(
                "end_to_end_id",
                format!("answer names {} but the instruction is {}", answer.end_to_end_id, expected.end_to_end_id),
            )));
        }
        if answer.amount != expected.amount || answer.currency != expected.currency {
            return Err(RailError::Malformed(MessageError::invalid(
                "amount",
                format!(
                    "answer says {} {}, instructed {} {}",
                    answer.amount, answer.currency, expected.amount, expected.currency
                ),
            )));
        }
        let bank_reference = answer.bank_reference;
        Ok(Some(match answer.status.as_str() {
            "pending" => RailStatus::InFlight { code: "PDNG".into() },
            // Accepted is not booked: only `settled` confirms on chain.
            "accepted" => RailStatus::InFlight { code: "ACSP".into() },
            "settled" => RailStatus::Settled { bank_reference },
            "rejected" => RailStatus::Rejected { reason: answer.reason.unwrap_or_else(|| "NARR".into()), detail: None },
            other => {
                return Err(RailError::Malformed(MessageError::invalid("status", format!("unknown status {other:?}"))));
            }
        }))
    }
}

fn now_secs() -> String {
    chrono::Utc::now().timestamp().to_string()
}

impl Rails for WebhookRails {
    async fn pay(&self, transfer: &CreditTransfer) -> Result<RailStatus, RailError> {
        let body = serde_json::to_vec(&WebhookPayment::from(transfer))
            .map_err(|e| RailError::Config(format!("cannot encode payment: {e}")))?;
        let ts = now_secs();
        let resp = self
            .client
            .post(format!("{}/payments", self.base_url))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, &ts)
            .header(SIGNATURE_HEADER, sign(&self.secret, &ts, &body))
            .header(IDEMPOTENCY_HEADER, transfer.end_to_end_id.as_str())
            .body(body)
            .send()
            .await
            .map_err(transport_error)?;
        self.answer(resp, transfer)
            .await?
            .ok_or_else(|| RailError::Refused { status: 404, body: "payments endpoint not found".into() })
    }

    async fn status(&self, transfer: &CreditTransfer) -> Result<Option<RailStatus>, RailError> {
        let ts = now_secs();
        let resp = self
            .client
            .get(format!("{}/payments/{}", self.base_url, transfer.end_to_end_id))
            .header(TIMESTAMP_HEADER, &ts)
            .header(SIGNATURE_HEADER, sign(&self.secret, &ts, b""))
            .send()
            .await
            .map_err(transport_error)?;
        self.answer(resp, transfer).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_verifies_only_for_the_same_secret_timestamp_and_body() {
        let sig = sign(b"0123456789abcdef", "1700000000", b"{\"a\":1}");
        assert!(verify(b"0123456789abcdef", "1700000000", b"{\"a\":1}", &sig));
        assert!(!verify(b"0123456789abcdeX", "1700000000", b"{\"a\":1}", &sig));
        assert!(!verify(b"0123456789abcdef", "1700000001", b"{\"a\":1}", &sig));
        assert!(!verify(b"0123456789abcdef", "1700000000", b"{\"a\":2}", &sig));
        assert!(!verify(b"0123456789abcdef", "1700000000", b"{\"a\":1}", "sha256=zz"));
        assert!(!verify(b"0123456789abcdef", "1700000000", b"{\"a\":1}", sig.trim_start_matches("sha256=")));
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(matches!(
            WebhookRails::new("http://127.0.0.1:1", b"short".to_vec(), Duration::from_secs(1)),
            Err(RailError::Config(_))
        ));
    }
}
