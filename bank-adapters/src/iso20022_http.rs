//! The ISO 20022 adapter: pain.001.001.09 out over HTTP, pain.002 status reports and
//! camt.054 notifications back, every answer checked against the instruction.
//!
//! Protocol (the sandbox bank serves it; a real bank's gateway sits behind the same
//! three calls): `POST {base}/iso20022/pain.001` answers a pain.002;
//! `GET {base}/iso20022/status/{EndToEndId}` answers a pain.002 or 404 when the bank has
//! never seen the id; `GET {base}/iso20022/camt.054?account={IBAN}&since={N}`.

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
    let report = pain002::parse(body)?;
    // tradechain names each payment information block by its transfer's EndToEndId.
    let e2e = &transfer.end_to_end_id;
    let tx = pain002::status_for(&report, e2e.as_str(), e2e, &transfer.amount)?;
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

impl Rails for IsoHttpRails {
    async fn pay(&self, transfer: &CreditTransfer) -> Result<RailStatus, RailError> {
        let msg = Pain001 {
            msg_id: message_id(transfer),
            created: Utc::now(),
            initiating_party: self.initiating_party.clone(),
            transfers: vec![transfer.clone()],
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
        check(&body, transfer)
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
