//! One trait for a bank's payment rails, whatever the bank speaks.
//!
//! Adapters: [`crate::iso20022_http::IsoHttpRails`] (pain.001 over HTTP, pain.002 and
//! camt.054 back) and [`crate::webhook::WebhookRails`] (HMAC-signed JSON). The settlement
//! worker only ever talks to this trait.

use std::future::Future;
use std::time::Duration;

use crate::iso20022::MessageError;
use crate::payment::{CreditTransfer, RailStatus};

/// Why the rails could not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum RailError {
    /// Nothing reached the bank, or it answered that it is unavailable (connection refused,
    /// 502/503/504). Safe to retry after a status enquiry.
    #[error("bank unavailable: {0}")]
    Unavailable(String),
    /// The request went out and no answer came back in time: the outcome is unknown; the
    /// next step must be a status enquiry, never a blind resend.
    #[error("bank did not answer in time: {0}")]
    Timeout(String),
    /// The bank refused the request itself (4xx other than 404 on an enquiry): our message
    /// or credentials are wrong; a person must look.
    #[error("bank refused the request with HTTP {status}: {body}")]
    Refused {
        /// The HTTP status code the bank answered.
        status: u16,
        /// The start of the bank's answer body (at most 300 characters), for the log.
        body: String,
    },
    /// The answer is malformed, hostile, or does not match the instruction (wrong
    /// EndToEndId, amount mismatch, bad signature): a person must look.
    #[error("bank answer rejected: {0}")]
    Malformed(#[from] MessageError),
    /// The answer's signature does not verify.
    #[error("bank answer signature invalid: {0}")]
    Signature(String),
    /// Local misconfiguration (bad URL, TLS set-up).
    #[error("rail configuration: {0}")]
    Config(String),
}

impl RailError {
    /// The same failure, for each transfer of a batch it struck as a whole (the message
    /// never reached the bank, or its answer could not be read): each is then handled as
    /// if it had been sent alone.
    #[must_use]
    pub fn for_each_transfer(&self) -> RailError {
        match self {
            RailError::Unavailable(s) => RailError::Unavailable(s.clone()),
            RailError::Timeout(s) => RailError::Timeout(s.clone()),
            RailError::Refused { status, body } => RailError::Refused { status: *status, body: body.clone() },
            RailError::Malformed(e) => RailError::Malformed(MessageError::Hostile(e.to_string())),
            RailError::Signature(s) => RailError::Signature(s.clone()),
            RailError::Config(s) => RailError::Config(s.clone()),
        }
    }

    /// Worth retrying later with backoff (after a status enquiry).
    pub fn is_transient(&self) -> bool {
        matches!(self, RailError::Unavailable(_) | RailError::Timeout(_))
    }
}

/// A bank's rails.
///
/// Contract for implementors: `pay` must be safe to call again for the same EndToEndId
/// (the bank deduplicates by it), yet the worker never calls it again without first asking
/// `status`, and never after `status` says the payment is known.
pub trait Rails: Send + Sync + 'static {
    /// Send one credit transfer and report what the bank says about it.
    fn pay(&self, transfer: &CreditTransfer) -> impl Future<Output = Result<RailStatus, RailError>> + Send;

    /// Send many credit transfers at once, one answer per transfer in their order. Rails
    /// that speak bulk (a pain.001 with many transactions) send one message; the others send
    /// each in turn. The same contract as `pay` holds for each transfer.
    fn pay_batch(
        &self,
        transfers: &[CreditTransfer],
    ) -> impl Future<Output = Vec<Result<RailStatus, RailError>>> + Send {
        async move {
            let mut answers = Vec::with_capacity(transfers.len());
            for t in transfers {
                answers.push(self.pay(t).await);
            }
            answers
        }
    }

    /// Status enquiry by EndToEndId: `None` when the bank has never seen the instruction.
    /// The transfer is passed whole so the answer can be checked against it (amount).
    fn status(&self, transfer: &CreditTransfer) -> impl Future<Output = Result<Option<RailStatus>, RailError>> + Send;
}

/// Largest answer body read from a bank (larger ones are refused as hostile).
pub(crate) const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// The workspace's HTTP client (reqwest over rustls with the ring provider, which the
/// database driver already brings), with a total timeout per request.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, RailError> {
    tradechain_chain::http::client(timeout).map_err(|e| RailError::Config(e.to_string()))
}

/// Map a transport error to what it means for the payment.
pub(crate) fn transport_error(e: reqwest::Error) -> RailError {
    if e.is_timeout() {
        RailError::Timeout(e.to_string())
    } else if e.is_connect() {
        RailError::Unavailable(e.to_string())
    } else if e.is_builder() {
        RailError::Config(e.to_string())
    } else {
        // Body or protocol errors after the request left: outcome unknown.
        RailError::Timeout(e.to_string())
    }
}

/// Read a response body, refusing anything over [`MAX_RESPONSE_BYTES`].
pub(crate) async fn read_body(mut resp: reqwest::Response) -> Result<Vec<u8>, RailError> {
    if resp.content_length().is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
        return Err(RailError::Malformed(MessageError::Hostile("answer body too large".into())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(RailError::Malformed(MessageError::Hostile("answer body too large".into())));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Classify a non-success HTTP status.
pub(crate) fn status_error(status: reqwest::StatusCode, body: &[u8]) -> RailError {
    let text: String = String::from_utf8_lossy(body).chars().take(300).collect();
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        RailError::Unavailable(format!("HTTP {status}: {text}"))
    } else {
        RailError::Refused { status: status.as_u16(), body: text }
    }
}
