//! pain.002.001.10, customer payment status report: the bank's answer to a pain.001 and to
//! a status enquiry. Written by the sandbox bank, read by the ISO adapter.

use chrono::{DateTime, Utc};

use super::xml::{Element, XmlOut, parse_document};
use super::{MessageError, PAIN_002_NS, iso_datetime, max_text, parse_datetime, read_amount};
use crate::payment::RailStatus;
use tradechain_money::identifier::EndToEndId;
use tradechain_money::money::Money;

/// `ExternalPaymentTransactionStatus1Code` values a payment can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TxStatus {
    /// Received.
    Rcvd,
    /// Technically accepted (syntax and authentication passed).
    Actc,
    /// Accepted (customer profile checks passed).
    Accp,
    /// Accepted with a change (e.g. of the requested execution date).
    Acwc,
    /// Accepted, settlement in process.
    Acsp,
    /// Accepted, settlement completed: the debtor's account is debited.
    Acsc,
    /// Accepted, credit to the creditor's account completed.
    Accc,
    /// Pending.
    Pdng,
    /// Rejected.
    Rjct,
}

impl TxStatus {
    pub(crate) fn code(self) -> &'static str {
        match self {
            TxStatus::Rcvd => "RCVD",
            TxStatus::Actc => "ACTC",
            TxStatus::Accp => "ACCP",
            TxStatus::Acwc => "ACWC",
            TxStatus::Acsp => "ACSP",
            TxStatus::Acsc => "ACSC",
            TxStatus::Accc => "ACCC",
            TxStatus::Pdng => "PDNG",
            TxStatus::Rjct => "RJCT",
        }
    }

    /// Accepted at some stage but not booked: the bank may still settle or reject it.
    pub(crate) fn is_interim(self) -> bool {
        matches!(
            self,
            TxStatus::Rcvd | TxStatus::Actc | TxStatus::Accp | TxStatus::Acwc | TxStatus::Acsp | TxStatus::Pdng
        )
    }

    pub(crate) fn parse(code: &str) -> Result<Self, MessageError> {
        Ok(match code {
            "RCVD" => TxStatus::Rcvd,
            "ACTC" => TxStatus::Actc,
            "ACCP" => TxStatus::Accp,
            "ACWC" => TxStatus::Acwc,
            "ACSP" => TxStatus::Acsp,
            "ACSC" => TxStatus::Acsc,
            "ACCC" => TxStatus::Accc,
            "PDNG" => TxStatus::Pdng,
            "RJCT" => TxStatus::Rjct,
            other => return Err(MessageError::invalid("TxSts", format!("unknown status code {:?}", clip(other)))),
        })
    }
}

fn clip(s: &str) -> String {
    s.chars().take(35).collect()
}

/// The status of one transaction (`TxInfAndSts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TransactionStatus {
    /// `OrgnlPmtInfAndSts/OrgnlPmtInfId`: the payment information block of the pain.001 it
    /// was sent in (tradechain writes one block per transfer, named by its EndToEndId).
    pub(crate) original_pmt_inf_id: String,
    pub(crate) original_end_to_end_id: EndToEndId,
    pub(crate) status: TxStatus,
    /// `StsRsnInf/Rsn/Cd`, e.g. `AM04`.
    pub(crate) reason: Option<String>,
    /// `StsRsnInf/AddtlInf`.
    pub(crate) detail: Option<String>,
    /// `AcctSvcrRef`: the bank's own reference of the booking.
    pub(crate) bank_reference: Option<String>,
    /// `OrgnlTxRef/Amt/InstdAmt`, echoed by banks that include it.
    pub(crate) original_amount: Option<Money>,
}

impl TransactionStatus {
    /// What the rails trait reports for this status.
    pub(crate) fn rail_status(&self) -> RailStatus {
        match self.status {
            TxStatus::Rcvd | TxStatus::Actc | TxStatus::Accp | TxStatus::Acwc | TxStatus::Acsp | TxStatus::Pdng => {
                RailStatus::InFlight { code: self.status.code().to_string() }
            }
            TxStatus::Acsc | TxStatus::Accc => RailStatus::Settled { bank_reference: self.bank_reference.clone() },
            TxStatus::Rjct => RailStatus::Rejected {
                reason: self.reason.clone().unwrap_or_else(|| "NARR".into()),
                detail: self.detail.clone(),
            },
        }
    }
}

/// One pain.002 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pain002 {
    pub(crate) msg_id: String,
    pub(crate) created: DateTime<Utc>,
    /// `OrgnlGrpInfAndSts/OrgnlMsgId`: the pain.001 this answers (or the enquiry id).
    pub(crate) original_msg_id: String,
    /// `OrgnlGrpInfAndSts/OrgnlMsgNmId`, e.g. `pain.001.001.09`.
    pub(crate) original_msg_name: String,
    pub(crate) transactions: Vec<TransactionStatus>,
}

const TX_INF_AND_STS: &[&str] = &[
    "StsId",
    "OrgnlInstrId",
    "OrgnlEndToEndId",
    "OrgnlUETR",
    "TxSts",
    "StsRsnInf",
    "ChrgsInf",
    "AccptncDtTm",
    "FctvIntrBkSttlmDt",
    "AcctSvcrRef",
    "ClrSysRef",
    "OrgnlTxRef",
    "SplmtryData",
];
const ROOT: &[&str] = &["GrpHdr", "OrgnlGrpInfAndSts", "OrgnlPmtInfAndSts", "SplmtryData"];

pub(crate) fn write(msg: &Pain002) -> Result<String, MessageError> {
    max_text("MsgId", &msg.msg_id, 35)?;
    max_text("OrgnlMsgId", &msg.original_msg_id, 35)?;
    let mut out = XmlOut::new(PAIN_002_NS)?;
    out.open("CstmrPmtStsRpt")?;
    out.open("GrpHdr")?.leaf("MsgId", &msg.msg_id)?.leaf("CreDtTm", &iso_datetime(msg.created))?.close()?;
    out.open("OrgnlGrpInfAndSts")?
        .leaf("OrgnlMsgId", &msg.original_msg_id)?
        .leaf("OrgnlMsgNmId", &msg.original_msg_name)?
        .close()?;
    // One block per original payment information block, in the order first met.
    let mut blocks: Vec<&str> = Vec::new();
    for tx in &msg.transactions {
        if !blocks.contains(&tx.original_pmt_inf_id.as_str()) {
            blocks.push(&tx.original_pmt_inf_id);
        }
    }
    for block in blocks {
        max_text("OrgnlPmtInfId", block, 35)?;
        out.open("OrgnlPmtInfAndSts")?.leaf("OrgnlPmtInfId", block)?;
        for tx in msg.transactions.iter().filter(|t| t.original_pmt_inf_id == block) {
            write_transaction(&mut out, tx)?;
        }
        out.close()?;
    }
    out.close()?;
    out.finish()
}

fn write_transaction(out: &mut XmlOut, tx: &TransactionStatus) -> Result<(), MessageError> {
    out.open("TxInfAndSts")?
        .leaf("OrgnlInstrId", tx.original_end_to_end_id.as_str())?
        .leaf("OrgnlEndToEndId", tx.original_end_to_end_id.as_str())?
        .leaf("TxSts", tx.status.code())?;
    if tx.reason.is_some() || tx.detail.is_some() {
        out.open("StsRsnInf")?;
        if let Some(reason) = &tx.reason {
            out.open("Rsn")?.leaf("Cd", reason)?.close()?;
        }
        if let Some(detail) = &tx.detail {
            out.leaf("AddtlInf", detail)?;
        }
        out.close()?;
    }
    if let Some(r) = &tx.bank_reference {
        out.leaf("AcctSvcrRef", r)?;
    }
    if let Some(amount) = &tx.original_amount {
        out.open("OrgnlTxRef")?
            .open("Amt")?
            .leaf_with("InstdAmt", &[("Ccy", amount.currency.code())], &amount.decimal())?
            .close()?
            .close()?;
    }
    out.close()?;
    Ok(())
}

pub(crate) fn parse(xml: &[u8]) -> Result<Pain002, MessageError> {
    let doc = parse_document(xml, PAIN_002_NS)?;
    let root = doc.req(&["CstmrPmtStsRpt"])?;
    root.check_order(ROOT)?;
    let msg_id = root.req_text(&["GrpHdr", "MsgId"])?.to_string();
    max_text("MsgId", &msg_id, 35)?;
    let created = parse_datetime("CreDtTm", root.req_text(&["GrpHdr", "CreDtTm"])?)?;
    let original_msg_id = root.req_text(&["OrgnlGrpInfAndSts", "OrgnlMsgId"])?.to_string();
    let original_msg_name = root.req_text(&["OrgnlGrpInfAndSts", "OrgnlMsgNmId"])?.to_string();
    let mut transactions = Vec::new();
    for block in root.children_named("OrgnlPmtInfAndSts") {
        let pmt_inf_id = block.req_text(&["OrgnlPmtInfId"])?;
        max_text("OrgnlPmtInfId", pmt_inf_id, 35)?;
        for tx in block.children_named("TxInfAndSts") {
            transactions.push(parse_transaction(tx, pmt_inf_id)?);
        }
    }
    Ok(Pain002 { msg_id, created, original_msg_id, original_msg_name, transactions })
}

fn parse_transaction(tx: &Element, pmt_inf_id: &str) -> Result<TransactionStatus, MessageError> {
    tx.check_order(TX_INF_AND_STS)?;
    let reason = tx.opt_text(&["StsRsnInf", "Rsn", "Cd"]).map(str::to_string);
    if let Some(r) = &reason
        && (r.len() > 4 || !r.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return Err(MessageError::invalid("StsRsnInf/Rsn/Cd", format!("{:?} is not an external reason code", clip(r))));
    }
    let status = TxStatus::parse(tx.req_text(&["TxSts"])?)?;
    if status == TxStatus::Rjct && reason.is_none() {
        return Err(MessageError::Missing("TxInfAndSts/StsRsnInf/Rsn/Cd (required for RJCT)".into()));
    }
    let bank_reference = tx.opt_text(&["AcctSvcrRef"]).map(str::to_string);
    if let Some(r) = &bank_reference {
        max_text("AcctSvcrRef", r, 35)?;
    }
    Ok(TransactionStatus {
        original_pmt_inf_id: pmt_inf_id.to_string(),
        original_end_to_end_id: EndToEndId::parse(tx.req_text(&["OrgnlEndToEndId"])?)?,
        status,
        reason,
        detail: tx.opt_text(&["StsRsnInf", "AddtlInf"]).map(|s| s.chars().take(105).collect()),
        bank_reference,
        original_amount: tx.opt(&["OrgnlTxRef", "Amt", "InstdAmt"]).map(read_amount).transpose()?,
    })
}

/// The one status a report gives for `e2e`, checked against what was instructed.
///
/// Refuses a report that does not mention `e2e`, mentions any other id (a bank answering
/// about someone else's payment is confused or hostile), places it in a payment
/// information block other than `pmt_inf_id` (the one it was sent in), gives conflicting
/// statuses for it (the same status repeated is a duplicate and harmless), or echoes an
/// amount other than `amount`.
pub(crate) fn status_for(
    report: &Pain002,
    pmt_inf_id: &str,
    e2e: &EndToEndId,
    amount: &Money,
) -> Result<TransactionStatus, MessageError> {
    let mut found: Option<&TransactionStatus> = None;
    for tx in &report.transactions {
        if &tx.original_end_to_end_id != e2e {
            return Err(MessageError::invalid(
                "OrgnlEndToEndId",
                format!("report names {} but the instruction is {e2e}", tx.original_end_to_end_id),
            ));
        }
        if tx.original_pmt_inf_id != pmt_inf_id {
            return Err(MessageError::invalid(
                "OrgnlPmtInfId",
                format!("report places {e2e} in {} but it was sent in {pmt_inf_id}", tx.original_pmt_inf_id),
            ));
        }
        if let Some(a) = &tx.original_amount
            && a != amount
        {
            return Err(MessageError::invalid("OrgnlTxRef/Amt", format!("report says {a}, instructed {amount}")));
        }
        match found {
            Some(prev) if prev.status != tx.status => {
                return Err(MessageError::invalid(
                    "TxSts",
                    format!("conflicting statuses {} and {} for {e2e}", prev.status.code(), tx.status.code()),
                ));
            }
            Some(_) => {}
            None => found = Some(tx),
        }
    }
    found.cloned().ok_or_else(|| MessageError::Missing(format!("TxInfAndSts for {e2e}")))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use tradechain_money::money::Currency;

    fn e2e() -> EndToEndId {
        EndToEndId::derive(7431, "3", 0, 1).expect("e2e")
    }

    fn usd(minor: u128) -> Money {
        Money::new(minor, Currency::from_code("USD").expect("usd"))
    }

    fn report(status: TxStatus, reason: Option<&str>) -> Pain002 {
        Pain002 {
            msg_id: "S1".into(),
            created: Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).single().expect("t"),
            original_msg_id: "M1".into(),
            original_msg_name: "pain.001.001.09".into(),
            transactions: vec![TransactionStatus {
                original_pmt_inf_id: e2e().to_string(),
                original_end_to_end_id: e2e(),
                status,
                reason: reason.map(str::to_string),
                detail: None,
                bank_reference: Some("SBX-1".into()),
                original_amount: Some(usd(100)),
            }],
        }
    }

    #[test]
    fn every_status_round_trips_through_xml() {
        for s in [
            TxStatus::Rcvd,
            TxStatus::Actc,
            TxStatus::Accp,
            TxStatus::Acwc,
            TxStatus::Acsp,
            TxStatus::Acsc,
            TxStatus::Accc,
            TxStatus::Pdng,
        ] {
            let msg = report(s, None);
            assert_eq!(parse(write(&msg).expect("write").as_bytes()).expect("parse"), msg);
        }
        let rjct = report(TxStatus::Rjct, Some("AM04"));
        assert_eq!(parse(write(&rjct).expect("write").as_bytes()).expect("parse"), rjct);
    }

    #[test]
    fn a_status_placed_in_another_payment_information_block_is_refused() {
        let mut r = report(TxStatus::Acsc, None);
        r.transactions[0].original_pmt_inf_id = "M1".into();
        let err = status_for(&r, e2e().as_str(), &e2e(), &usd(100)).expect_err("the message id is not the PmtInfId");
        assert!(err.to_string().contains("OrgnlPmtInfId"), "{err}");
    }

    #[test]
    fn statuses_of_several_blocks_are_grouped_by_their_original_block() {
        let mut r = report(TxStatus::Acsc, None);
        let other = EndToEndId::derive(7431, "4", 0, 1).expect("e2e");
        r.transactions.push(TransactionStatus {
            original_pmt_inf_id: other.to_string(),
            original_end_to_end_id: other,
            ..r.transactions[0].clone()
        });
        let xml = write(&r).expect("write");
        assert_eq!(xml.matches("<OrgnlPmtInfAndSts>").count(), 2, "{xml}");
        assert_eq!(parse(xml.as_bytes()).expect("parse"), r);
    }

    #[test]
    fn rejection_without_reason_code_is_refused() {
        let xml = write(&report(TxStatus::Rjct, None)).expect("write");
        assert!(matches!(parse(xml.as_bytes()), Err(MessageError::Missing(_))));
    }

    #[test]
    fn unknown_status_code_is_refused() {
        let xml = write(&report(TxStatus::Acsc, None)).expect("write").replace("ACSC", "PAID");
        assert!(parse(xml.as_bytes()).is_err());
    }

    #[test]
    fn status_for_a_different_end_to_end_id_is_refused() {
        let other = EndToEndId::derive(7431, "3", 0, 2).expect("e2e");
        let err = status_for(&report(TxStatus::Acsc, None), other.as_str(), &other, &usd(100)).expect_err("wrong id");
        assert!(err.to_string().contains("OrgnlEndToEndId"), "{err}");
    }

    #[test]
    fn echoed_amount_that_differs_is_refused() {
        let err = status_for(&report(TxStatus::Acsc, None), e2e().as_str(), &e2e(), &usd(101)).expect_err("amount");
        assert!(err.to_string().contains("Amt"), "{err}");
    }

    #[test]
    fn duplicate_identical_statuses_are_harmless_but_conflicting_ones_are_refused() {
        let mut r = report(TxStatus::Acsc, None);
        r.transactions.push(r.transactions[0].clone());
        assert_eq!(status_for(&r, e2e().as_str(), &e2e(), &usd(100)).expect("dup").status, TxStatus::Acsc);
        r.transactions[1].status = TxStatus::Rjct;
        assert!(status_for(&r, e2e().as_str(), &e2e(), &usd(100)).is_err());
    }

    #[test]
    fn statuses_map_to_rail_outcomes() {
        let t = |s, r: Option<&str>| report(s, r).transactions[0].rail_status();
        // Accepted is not booked: only ACSC and ACCC settle (confirmPayment cannot be undone).
        for s in [TxStatus::Rcvd, TxStatus::Actc, TxStatus::Accp, TxStatus::Acwc, TxStatus::Acsp, TxStatus::Pdng] {
            assert_eq!(t(s, None), RailStatus::InFlight { code: s.code().into() });
            assert!(!t(s, None).is_booked());
        }
        assert!(matches!(t(TxStatus::Acsc, None), RailStatus::Settled { .. }));
        assert!(matches!(t(TxStatus::Accc, None), RailStatus::Settled { .. }));
        assert_eq!(t(TxStatus::Rjct, Some("AM04")), RailStatus::Rejected { reason: "AM04".into(), detail: None });
    }
}
