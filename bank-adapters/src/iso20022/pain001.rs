//! pain.001.001.09, customer credit transfer initiation: written by the ISO adapter, read by
//! the sandbox bank.
//!
//! One payment information block (`PmtInf`) per debtor account and requested execution
//! date, as banks expect of a bulk file (and per usage: a block states its service level and
//! charge bearer for all its transfers): the worker names each block of a batch
//! (`CreditTransfer::payment_information_id`); a transfer sent alone travels in a block of
//! its own named by its EndToEndId. The bank's pain.002 names the block back
//! (`OrgnlPmtInfId`). `GrpHdr/NbOfTxs` and `CtrlSum` (and the same
//! per `PmtInf`) must agree with the transactions; `CtrlSum` is the plain sum of the amounts
//! and so is only written when every transfer is in the same currency (the standard's own
//! convention).
//!
//! Two usages: a euro transfer between two SEPA accounts follows the EPC's SEPA Credit
//! Transfer rules (service level `SEPA`, charge bearer `SLEV`); any other transfer is a
//! cross-border payment in CBPR+ usage: no SEPA service level, and the charge bearer the
//! order's parties agreed (`SHAR`, `DEBT`, `CRED`).

use chrono::{DateTime, Utc};

use super::xml::{Element, XmlOut, parse_document};
use super::{MessageError, PAIN_001_NS, iso_datetime, max_text, parse_date, parse_datetime, read_amount};
use crate::party::Party;
use crate::payment::{ChargeBearer, CreditTransfer, MAX_REMITTANCE};
use tradechain_money::identifier::{Bic, EndToEndId, Iban};
use tradechain_money::money::Money;

/// One pain.001 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pain001 {
    /// `GrpHdr/MsgId` (≤ 35 characters, unique per message).
    pub(crate) msg_id: String,
    pub(crate) created: DateTime<Utc>,
    /// `GrpHdr/InitgPty/Nm`: the bank's customer or the bank itself.
    pub(crate) initiating_party: String,
    pub(crate) transfers: Vec<CreditTransfer>,
}

/// A transfer as a bank reads it: with the payment information block it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReceivedTransfer {
    /// `PmtInf/PmtInfId` of its block.
    pub(crate) pmt_inf_id: String,
    pub(crate) transfer: CreditTransfer,
}

/// A pain.001 as a bank reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReceivedPain001 {
    pub(crate) msg_id: String,
    pub(crate) created: DateTime<Utc>,
    pub(crate) initiating_party: String,
    pub(crate) transfers: Vec<ReceivedTransfer>,
}

const GRP_HDR: &[&str] = &["MsgId", "CreDtTm", "Authstn", "NbOfTxs", "CtrlSum", "InitgPty", "FwdgAgt"];
const PMT_INF: &[&str] = &[
    "PmtInfId",
    "PmtMtd",
    "BtchBookg",
    "NbOfTxs",
    "CtrlSum",
    "PmtTpInf",
    "ReqdExctnDt",
    "PoolgAdjstmntDt",
    "Dbtr",
    "DbtrAcct",
    "DbtrAgt",
    "DbtrAgtAcct",
    "InstrForDbtrAgt",
    "UltmtDbtr",
    "ChrgBr",
    "ChrgsAcct",
    "ChrgsAcctAgt",
    "CdtTrfTxInf",
];
const TX_INF: &[&str] = &[
    "PmtId",
    "PmtTpInf",
    "Amt",
    "XchgRateInf",
    "ChrgBr",
    "ChqInstr",
    "UltmtDbtr",
    "IntrmyAgt1",
    "IntrmyAgt1Acct",
    "IntrmyAgt2",
    "IntrmyAgt2Acct",
    "IntrmyAgt3",
    "IntrmyAgt3Acct",
    "CdtrAgt",
    "CdtrAgtAcct",
    "Cdtr",
    "CdtrAcct",
    "UltmtCdtr",
    "InstrForCdtrAgt",
    "InstrForDbtrAgt",
    "Purp",
    "RgltryRptg",
    "Tax",
    "RltdRmtInf",
    "RmtInf",
];

/// The sum of the amounts when they share one currency.
fn control_sum(transfers: &[&CreditTransfer]) -> Result<Option<Money>, MessageError> {
    let Some(first) = transfers.first() else { return Ok(None) };
    let mut sum = Money::new(0, first.amount.currency);
    for t in transfers {
        if t.amount.currency != sum.currency {
            return Ok(None);
        }
        sum.minor =
            sum.minor.checked_add(t.amount.minor).ok_or_else(|| MessageError::invalid("CtrlSum", "overflows"))?;
    }
    Ok(Some(sum))
}

/// Write the message; refuses transfers that break the schema's limits.
pub(crate) fn write(msg: &Pain001) -> Result<String, MessageError> {
    max_text("MsgId", &msg.msg_id, 35)?;
    max_text("InitgPty/Nm", &msg.initiating_party, 140)?;
    if msg.transfers.is_empty() {
        return Err(MessageError::invalid("NbOfTxs", "a message needs at least one transfer"));
    }
    let mut out = XmlOut::new(PAIN_001_NS)?;
    out.open("CstmrCdtTrfInitn")?;
    out.open("GrpHdr")?
        .leaf("MsgId", &msg.msg_id)?
        .leaf("CreDtTm", &iso_datetime(msg.created))?
        .leaf("NbOfTxs", &msg.transfers.len().to_string())?;
    let all: Vec<&CreditTransfer> = msg.transfers.iter().collect();
    if let Some(sum) = control_sum(&all)? {
        out.leaf("CtrlSum", &sum.decimal())?;
    }
    out.open("InitgPty")?.leaf("Nm", &msg.initiating_party)?.close()?.close()?;
    for block in blocks(&msg.transfers)? {
        write_payment_information(&mut out, &block)?;
    }
    out.finish()
}

/// The transfers by payment information block, each block where its first transfer is.
/// What a block states once (debtor account, date, service level, charge bearer) must hold
/// for every transfer in it: a batch that mixes them is refused rather than misstated.
fn blocks(transfers: &[CreditTransfer]) -> Result<Vec<Vec<&CreditTransfer>>, MessageError> {
    let mut blocks: Vec<Vec<&CreditTransfer>> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for t in transfers {
        let id = t.payment_information();
        max_text("PmtInfId", id, 35)?;
        match index.get(id) {
            Some(&i) => {
                let first = blocks[i][0];
                let same = first.debtor == t.debtor
                    && first.requested_execution_date == t.requested_execution_date
                    && first.is_sepa() == t.is_sepa()
                    && first.charge_bearer_code() == t.charge_bearer_code();
                if !same {
                    return Err(MessageError::invalid(
                        "PmtInf",
                        format!("block {id} mixes debtor accounts, dates, service levels or charge bearers"),
                    ));
                }
                blocks[i].push(t);
            }
            None => {
                index.insert(id, blocks.len());
                blocks.push(vec![t]);
            }
        }
    }
    Ok(blocks)
}

fn write_payment_information(out: &mut XmlOut, block: &[&CreditTransfer]) -> Result<(), MessageError> {
    let Some(head) = block.first() else { return Ok(()) };
    max_text("Dbtr/Nm", &head.debtor.name, 140)?;
    out.open("PmtInf")?
        .leaf("PmtInfId", head.payment_information())?
        .leaf("PmtMtd", "TRF")?
        .leaf("NbOfTxs", &block.len().to_string())?;
    if let Some(sum) = control_sum(block)? {
        out.leaf("CtrlSum", &sum.decimal())?;
    }
    if head.is_sepa() {
        out.open("PmtTpInf")?.open("SvcLvl")?.leaf("Cd", "SEPA")?.close()?.close()?;
    }
    out.open("ReqdExctnDt")?.leaf("Dt", &head.requested_execution_date.format("%Y-%m-%d").to_string())?.close()?;
    write_party(out, "Dbtr", "DbtrAcct", "DbtrAgt", &head.debtor)?;
    out.leaf("ChrgBr", head.charge_bearer_code())?;
    for t in block {
        write_transaction(out, t)?;
    }
    out.close()?; // PmtInf
    Ok(())
}

fn write_transaction(out: &mut XmlOut, t: &CreditTransfer) -> Result<(), MessageError> {
    max_text("Cdtr/Nm", &t.creditor.name, 140)?;
    max_text("RmtInf/Ustrd", &t.remittance, MAX_REMITTANCE)?;
    let e2e = t.end_to_end_id.as_str();
    let amount = t.amount.decimal();
    out.open("CdtTrfTxInf")?
        .open("PmtId")?
        .leaf("InstrId", e2e)?
        .leaf("EndToEndId", e2e)?
        .close()?
        .open("Amt")?
        .leaf_with("InstdAmt", &[("Ccy", t.amount.currency.code())], &amount)?
        .close()?;
    out.open("CdtrAgt")?.open("FinInstnId")?.leaf("BICFI", t.creditor.bic.as_str())?.close()?.close()?;
    out.open("Cdtr")?.leaf("Nm", &t.creditor.name)?.close()?;
    out.open("CdtrAcct")?.open("Id")?.leaf("IBAN", t.creditor.iban.as_str())?.close()?.close()?;
    out.open("RmtInf")?.leaf("Ustrd", &t.remittance)?.close()?;
    out.close()?; // CdtTrfTxInf
    Ok(())
}

fn write_party(
    out: &mut XmlOut,
    who: &'static str,
    acct: &'static str,
    agent: &'static str,
    p: &Party,
) -> Result<(), MessageError> {
    out.open(who)?.leaf("Nm", &p.name)?.close()?;
    out.open(acct)?.open("Id")?.leaf("IBAN", p.iban.as_str())?.close()?.close()?;
    out.open(agent)?.open("FinInstnId")?.leaf("BICFI", p.bic.as_str())?.close()?.close()?;
    Ok(())
}

/// Read and check a pain.001.001.09 message.
pub(crate) fn parse(xml: &[u8]) -> Result<ReceivedPain001, MessageError> {
    let doc = parse_document(xml, PAIN_001_NS)?;
    let root = doc.req(&["CstmrCdtTrfInitn"])?;
    let hdr = root.req(&["GrpHdr"])?;
    hdr.check_order(GRP_HDR)?;
    let msg_id = hdr.req_text(&["MsgId"])?.to_string();
    max_text("MsgId", &msg_id, 35)?;
    let created = parse_datetime("CreDtTm", hdr.req_text(&["CreDtTm"])?)?;
    let initiating_party = hdr.req_text(&["InitgPty", "Nm"])?.to_string();
    let declared: usize =
        hdr.req_text(&["NbOfTxs"])?.parse().map_err(|_| MessageError::invalid("NbOfTxs", "not a number"))?;

    let mut transfers = Vec::new();
    for pmt in root.children_named("PmtInf") {
        transfers.extend(parse_payment_information(pmt)?);
    }
    if transfers.is_empty() {
        return Err(MessageError::Missing("CstmrCdtTrfInitn/PmtInf/CdtTrfTxInf".into()));
    }
    if declared != transfers.len() {
        return Err(MessageError::invalid(
            "GrpHdr/NbOfTxs",
            format!("says {declared}, message has {}", transfers.len()),
        ));
    }
    let plain: Vec<&CreditTransfer> = transfers.iter().map(|r| &r.transfer).collect();
    check_control_sum(hdr, &plain, "GrpHdr/CtrlSum")?;
    Ok(ReceivedPain001 { msg_id, created, initiating_party, transfers })
}

fn check_control_sum(el: &Element, transfers: &[&CreditTransfer], field: &'static str) -> Result<(), MessageError> {
    let (Some(text), Some(sum)) = (el.opt_text(&["CtrlSum"]), control_sum(transfers)?) else { return Ok(()) };
    if sum.currency.parse_minor(text)? != sum.minor {
        return Err(MessageError::invalid(
            field,
            format!("{text} does not equal the sum of the amounts {}", sum.decimal()),
        ));
    }
    Ok(())
}

fn parse_party(el: &Element, who: &str, acct: &str, agent: &str) -> Result<Party, MessageError> {
    Ok(Party {
        name: el.req_text(&[who, "Nm"])?.to_string(),
        iban: Iban::parse(el.req_text(&[acct, "Id", "IBAN"])?)?,
        bic: Bic::parse(el.req_text(&[agent, "FinInstnId", "BICFI"])?)?,
    })
}

fn parse_payment_information(pmt: &Element) -> Result<Vec<ReceivedTransfer>, MessageError> {
    pmt.check_order(PMT_INF)?;
    let pmt_inf_id = pmt.req_text(&["PmtInfId"])?;
    max_text("PmtInfId", pmt_inf_id, 35)?;
    if pmt.req_text(&["PmtMtd"])? != "TRF" {
        return Err(MessageError::invalid("PmtMtd", "a credit transfer must be TRF"));
    }
    let date = match (pmt.opt_text(&["ReqdExctnDt", "Dt"]), pmt.opt_text(&["ReqdExctnDt", "DtTm"])) {
        (Some(d), None) => parse_date("ReqdExctnDt/Dt", d)?,
        (None, Some(t)) => parse_datetime("ReqdExctnDt/DtTm", t)?.date_naive(),
        _ => return Err(MessageError::Missing("PmtInf/ReqdExctnDt (exactly one of Dt, DtTm)".into())),
    };
    let debtor = parse_party(pmt, "Dbtr", "DbtrAcct", "DbtrAgt")?;
    let sepa = pmt.opt_text(&["PmtTpInf", "SvcLvl", "Cd"]) == Some("SEPA");
    let charges = match pmt.opt_text(&["ChrgBr"]) {
        None | Some("SHAR" | "SLEV") => ChargeBearer::Shared,
        Some("DEBT") => ChargeBearer::Debtor,
        Some("CRED") => ChargeBearer::Creditor,
        Some(other) => {
            return Err(MessageError::invalid(
                "ChrgBr",
                format!("{:?} is not a charge bearer code", other.chars().take(8).collect::<String>()),
            ));
        }
    };
    let mut out = Vec::new();
    for tx in pmt.children_named("CdtTrfTxInf") {
        tx.check_order(TX_INF)?;
        let e2e = EndToEndId::parse(tx.req_text(&["PmtId", "EndToEndId"])?)?;
        let amount = read_amount(tx.req(&["Amt", "InstdAmt"])?)?;
        let remittance = tx.opt_text(&["RmtInf", "Ustrd"]).unwrap_or_default().to_string();
        if remittance.chars().count() > MAX_REMITTANCE {
            return Err(MessageError::invalid("RmtInf/Ustrd", "longer than 140 characters"));
        }
        // A block of its own is named by its transfer; a shared one is kept with it.
        let shared = (pmt_inf_id != e2e.as_str()).then(|| pmt_inf_id.to_string());
        let transfer = CreditTransfer {
            end_to_end_id: e2e,
            debtor: debtor.clone(),
            creditor: parse_party(tx, "Cdtr", "CdtrAcct", "CdtrAgt")?,
            amount,
            requested_execution_date: date,
            remittance,
            charges,
            payment_information_id: shared,
        };
        // The EPC's rules: a SEPA credit transfer is in euro between SEPA accounts, SLEV.
        if sepa && (!transfer.is_sepa() || pmt.opt_text(&["ChrgBr"]).is_some_and(|c| c != "SLEV")) {
            return Err(MessageError::invalid(
                "PmtTpInf/SvcLvl",
                "SEPA is for euro between SEPA accounts, charges SLEV",
            ));
        }
        out.push(ReceivedTransfer { pmt_inf_id: pmt_inf_id.to_string(), transfer });
    }
    if let Some(n) = pmt.opt_text(&["NbOfTxs"])
        && n.parse::<usize>().ok() != Some(out.len())
    {
        return Err(MessageError::invalid("PmtInf/NbOfTxs", format!("says {n}, block has {}", out.len())));
    }
    let plain: Vec<&CreditTransfer> = out.iter().map(|r| &r.transfer).collect();
    check_control_sum(pmt, &plain, "PmtInf/CtrlSum")?;
    Ok(out)
}

#[cfg(test)]
#[path = "pain001_tests.rs"]
mod tests;
