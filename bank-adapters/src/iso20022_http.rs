//! The ISO 20022 adapter: pain.001.001.09 out over HTTP, pain.002 status reports and
//! camt.054 notifications back, every answer checked against the instruction.
//!
//! Protocol (the sandbox bank serves it; a real bank's gateway sits behind the same
//! three calls): `POST {base}/iso20022/pain.001` answers a pain.002;
//! `GET {base}/iso20022/status/{EndToEndId}` answers a pain.002 or 404 when the bank has
//! never seen the id; `GET {base}/iso20022/camt.054?account={IBAN}&since={N}`.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::iso20022::camt054::{self, Camt054};
use crate::iso20022::pain001::{self, Pain001};
use crate::iso20022::pain002;
use crate::payment::{CreditTransfer, RailStatus};
use crate::rails::{RailError, Rails, http_client, read_body, status_error, transport_error};
use tradechain_money::identifier::Iban;

/// Rails over ISO 20022 XML and HTTP.
#[derive(Debug, Clone)]
pub struct IsoHttpRails {
    base_url: String,
    initiating_party: String,
    client: reqwest::Client,
}

impl IsoHttpRails {
    /// `base_url` without a trailing slash, e.g. `http://127.0.0.1:9000`; every request
    /// gives up after `timeout` (then the outcome is unknown and a status enquiry follows).
    pub fn new(
        base_url: impl Into<String>,
        initiating_party: impl Into<String>,
        timeout: Duration,
    ) -> Result<Self, RailError> {
        let base_url = base_url.into().trim_end_matches('/').to_string();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(RailError::Config(format!("bank URL must be http(s): {base_url}")));
        }
        Ok(IsoHttpRails { base_url, initiating_party: initiating_party.into(), client: http_client(timeout)? })
    }

    /// The camt.054 notifications for `account` after entry `since`.
    pub async fn notifications(&self, account: &Iban, since: u64) -> Result<Camt054, RailError> {
        let url = format!("{}/iso20022/camt.054?account={account}&since={since}", self.base_url);
        let resp = self.client.get(url).send().await.map_err(transport_error)?;
        let status = resp.status();
        let body = read_body(resp).await?;
        if !status.is_success() {
            return Err(status_error(status, &body));
        }
        let msg = camt054::parse(&body)?;
        if &msg.account != account {
            return Err(RailError::Malformed(crate::iso20022::MessageError::invalid(
                "Ntfctn/Acct",
                format!("notification for {} but {account} was asked", msg.account),
            )));
        }
        Ok(msg)
    }
}

/// A message id unique per send of an instruction: `hex(sha256(e2e || nanos))[..32]`.
fn message_id(transfer: &CreditTransfer) -> String {
    let mut h = Sha256::new();
    h.update(transfer.end_to_end_id.as_str().as_bytes());
    h.update(Utc::now().timestamp_nanos_opt().unwrap_or_default().to_be_bytes());
    hex::encode(&h.finalize()[..16])
}

fn check(body: &[u8], transfer: &CreditTransfer) -> Result<RailStatus, RailError> {
    check_report(&pain002::parse(body)?, transfer)
}

/// A batch's report split by transfer (the header kept apart). A report naming an
/// instruction the message did not carry is refused whole: the bank answered something
/// else, and none of its statuses can be trusted.
fn by_transfer(
    report: pain002::Pain002,
    transfers: &[CreditTransfer],
) -> Result<(pain002::Pain002, HashMap<String, Vec<pain002::TransactionStatus>>), RailError> {
    let mut each: HashMap<String, Vec<pain002::TransactionStatus>> =
        transfers.iter().map(|t| (t.end_to_end_id.to_string(), Vec::new())).collect();
    let pain002::Pain002 { transactions, .. } = &report;
    for tx in transactions {
        match each.get_mut(tx.original_end_to_end_id.as_str()) {
            Some(v) => v.push(tx.clone()),
            None => {
                return Err(RailError::Malformed(crate::iso20022::MessageError::invalid(
                    "OrgnlEndToEndId",
                    format!("report names {}, which the message did not carry", tx.original_end_to_end_id),
                )));
            }
        }
    }
    Ok((pain002::Pain002 { transactions: Vec::new(), ..report }, each))
}

/// The status of `transfer` in a report, which must place it in the block it was sent in.
fn check_report(report: &pain002::Pain002, transfer: &CreditTransfer) -> Result<RailStatus, RailError> {
    let e2e = &transfer.end_to_end_id;
    let tx = pain002::status_for(report, transfer.payment_information(), e2e, &transfer.amount)?;
    Ok(tx.rail_status())
}

impl IsoHttpRails {
    /// The booked debit of `transfer` in its debtor account's camt.054, if the bank has
    /// booked it: a bank's notification of the booking settles a payment its status report
    /// still shows in flight.
    async fn booked_debit(&self, transfer: &CreditTransfer) -> Result<Option<RailStatus>, RailError> {
        let notification = self.notifications(&transfer.debtor.iban, 0).await?;
        let entry = notification
            .entries
            .into_iter()
            .find(|e| e.booked && !e.credit && e.end_to_end_id.as_ref() == Some(&transfer.end_to_end_id));
        match entry {
            Some(e) if e.amount != transfer.amount => {
                Err(RailError::Malformed(crate::iso20022::MessageError::invalid(
                    "Ntry/Amt",
                    format!("booked {} for {}, instructed {}", e.amount, transfer.end_to_end_id, transfer.amount),
                )))
            }
            Some(e) => Ok(Some(RailStatus::Settled { bank_reference: Some(e.bank_reference) })),
            None => Ok(None),
        }
    }
}

impl IsoHttpRails {
    /// Send one pain.001 carrying `transfers` and answer the bank's pain.002.
    async fn initiate(&self, transfers: &[CreditTransfer]) -> Result<Vec<u8>, RailError> {
        let Some(first) = transfers.first() else { return Ok(Vec::new()) };
        let msg = Pain001 {
            msg_id: message_id(first),
            created: Utc::now(),
            initiating_party: self.initiating_party.clone(),
            transfers: transfers.to_vec(),
        };
        let xml = pain001::write(&msg)?;
        let resp = self
            .client
            .post(format!("{}/iso20022/pain.001", self.base_url))
            .header(reqwest::header::CONTENT_TYPE, "application/xml")
            .body(xml)
            .send()
            .await
            .map_err(transport_error)?;
        let status = resp.status();
        let body = read_body(resp).await?;
        if !status.is_success() {
            return Err(status_error(status, &body));
        }
        Ok(body)
    }
}

impl Rails for IsoHttpRails {
    async fn pay(&self, transfer: &CreditTransfer) -> Result<RailStatus, RailError> {
        let body = self.initiate(std::slice::from_ref(transfer)).await?;
        check(&body, transfer)
    }

    /// One pain.001 for the whole batch, its blocks as the transfers name them; the one
    /// pain.002 answers each transfer, checked against it (its block, EndToEndId, amount).
    async fn pay_batch(&self, transfers: &[CreditTransfer]) -> Vec<Result<RailStatus, RailError>> {
        let report = match self.initiate(transfers).await {
            Ok(body) => pain002::parse(&body).map_err(RailError::from),
            Err(e) => Err(e),
        };
        let report = report.and_then(|r| by_transfer(r, transfers));
        match report {
            Ok((header, mut each)) => transfers
                .iter()
                .map(|t| {
                    let transactions = each.remove(t.end_to_end_id.as_str()).unwrap_or_default();
                    check_report(&pain002::Pain002 { transactions, ..header.clone() }, t)
                })
                .collect(),
            Err(e) => transfers.iter().map(|_| Err(e.for_each_transfer())).collect(),
        }
    }

    async fn status(&self, transfer: &CreditTransfer) -> Result<Option<RailStatus>, RailError> {
        let url = format!("{}/iso20022/status/{}", self.base_url, transfer.end_to_end_id);
        let resp = self.client.get(url).send().await.map_err(transport_error)?;
        let status = resp.status();
        let body = read_body(resp).await?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(status_error(status, &body));
        }
        match check(&body, transfer)? {
            RailStatus::InFlight { code } => {
                Ok(Some(self.booked_debit(transfer).await?.unwrap_or(RailStatus::InFlight { code })))
            }
            other => Ok(Some(other)),
        }
    }
}
