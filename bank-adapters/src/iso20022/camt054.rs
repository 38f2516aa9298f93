//! camt.054.001.08, bank-to-customer debit/credit notification: the bank tells an account
//! holder what was booked on its account. Written by the sandbox bank, read by the ISO
//! adapter (the seller's bank side confirms receipt with it; tests match bookings by
//! EndToEndId).

use chrono::{DateTime, Utc};

use super::xml::{Element, XmlOut, parse_document};
use super::{CAMT_054_NS, MessageError, iso_datetime, max_text, parse_datetime, read_amount};
use tradechain_money::identifier::{EndToEndId, Iban};
use tradechain_money::money::Money;

/// One booked (or pending) entry on the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `NtryRef`: the bank's sequence number of the entry (used for `since` paging).
    pub entry_ref: u64,
    /// `Amt` in its `Ccy`, unsigned: `credit` gives the direction.
    pub amount: Money,
    /// `CdtDbtInd`: `true` for CRDT, `false` for DBIT.
    pub credit: bool,
    /// `Sts/Cd`: `BOOK` or `PDNG`.
    pub booked: bool,
    /// `BookgDt/DtTm` (or midnight UTC of `BookgDt/Dt`).
    pub booking_time: DateTime<Utc>,
    /// `AcctSvcrRef`: the bank's reference of the booking.
    pub bank_reference: String,
    /// `NtryDtls/TxDtls/Refs/EndToEndId`: the instruction this entry books, when known.
    pub end_to_end_id: Option<EndToEndId>,
    /// `BkTxCd/Domn/Fmly/SubFmlyCd` (ISO 20022 bank transaction codes, domain `PMNT`):
    /// `ESCT` for a SEPA credit transfer, `XBCT` for a cross-border one, `BOOK` for a
    /// transfer within the bank's books.
    pub sub_family: String,
}

/// One camt.054 message with a single notification for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Camt054 {
    /// `GrpHdr/MsgId` (at most 35 characters).
    pub msg_id: String,
    /// `GrpHdr/CreDtTm`: when the bank wrote the notification.
    pub created: DateTime<Utc>,
    /// `Ntfctn/Acct/Id/IBAN`: the account notified about.
    pub account: Iban,
    /// The entries on the account, in the bank's order.
    pub entries: Vec<Entry>,
}

const NTFCTN: &[&str] = &[
    "Id",
    "NtfctnPgntn",
    "ElctrncSeqNb",
    "RptgSeq",
    "LglSeqNb",
    "CreDtTm",
    "FrToDt",
    "CpyDplctInd",
    "RptgSrc",
    "Acct",
    "RltdAcct",
    "Intrst",
    "TxsSummry",
    "Ntry",
    "AddtlNtfctnInf",
];
const NTRY: &[&str] = &[
    "NtryRef",
    "Amt",
    "CdtDbtInd",
    "RvslInd",
    "Sts",
    "BookgDt",
    "ValDt",
    "AcctSvcrRef",
    "Avlbty",
    "BkTxCd",
    "ComssnWvrInd",
    "AddtlInfInd",
    "AmtDtls",
    "Chrgs",
    "TechInptChanl",
    "Intrst",
    "CardTx",
    "NtryDtls",
    "AddtlNtryInf",
];

pub(crate) fn write(msg: &Camt054) -> Result<String, MessageError> {
    max_text("MsgId", &msg.msg_id, 35)?;
    let mut out = XmlOut::new(CAMT_054_NS)?;
    out.open("BkToCstmrDbtCdtNtfctn")?;
    out.open("GrpHdr")?.leaf("MsgId", &msg.msg_id)?.leaf("CreDtTm", &iso_datetime(msg.created))?.close()?;
    out.open("Ntfctn")?.leaf("Id", &msg.msg_id)?.leaf("CreDtTm", &iso_datetime(msg.created))?;
    out.open("Acct")?.open("Id")?.leaf("IBAN", msg.account.as_str())?.close()?.close()?;
    for e in &msg.entries {
        let ccy = [("Ccy", e.amount.currency.code())];
        let amount = e.amount.decimal();
        let ind = if e.credit { "CRDT" } else { "DBIT" };
        out.open("Ntry")?
            .leaf("NtryRef", &e.entry_ref.to_string())?
            .leaf_with("Amt", &ccy, &amount)?
            .leaf("CdtDbtInd", ind)?
            .open("Sts")?
            .leaf("Cd", if e.booked { "BOOK" } else { "PDNG" })?
            .close()?
            .open("BookgDt")?
            .leaf("DtTm", &iso_datetime(e.booking_time))?
            .close()?
            .open("ValDt")?
            .leaf("Dt", &e.booking_time.format("%Y-%m-%d").to_string())?
            .close()?
            .leaf("AcctSvcrRef", &e.bank_reference)?;
        out.open("BkTxCd")?
            .open("Domn")?
            .leaf("Cd", "PMNT")?
            .open("Fmly")?
            .leaf("Cd", if e.credit { "RCDT" } else { "ICDT" })?
            .leaf("SubFmlyCd", &e.sub_family)?
            .close()?
            .close()?
            .close()?;
        out.open("NtryDtls")?.open("TxDtls")?.open("Refs")?.leaf("AcctSvcrRef", &e.bank_reference)?;
        if let Some(id) = &e.end_to_end_id {
            out.leaf("EndToEndId", id.as_str())?;
        }
        out.close()?; // Refs
        out.leaf_with("Amt", &ccy, &amount)?.leaf("CdtDbtInd", ind)?;
        out.close()?.close()?.close()?; // TxDtls, NtryDtls, Ntry
    }
    out.finish()
}

pub(crate) fn parse(xml: &[u8]) -> Result<Camt054, MessageError> {
    let doc = parse_document(xml, CAMT_054_NS)?;
    let root = doc.req(&["BkToCstmrDbtCdtNtfctn"])?;
    let msg_id = root.req_text(&["GrpHdr", "MsgId"])?.to_string();
    max_text("MsgId", &msg_id, 35)?;
    let created = parse_datetime("CreDtTm", root.req_text(&["GrpHdr", "CreDtTm"])?)?;
    let n = root.req(&["Ntfctn"])?;
    n.check_order(NTFCTN)?;
    n.req_text(&["Id"])?;
    let account = Iban::parse(n.req_text(&["Acct", "Id", "IBAN"])?)?;
    let entries = n.children_named("Ntry").map(parse_entry).collect::<Result<_, _>>()?;
    Ok(Camt054 { msg_id, created, account, entries })
}

fn credit_indicator(el: &Element, path: &[&str]) -> Result<bool, MessageError> {
    match el.req_text(path)? {
        "CRDT" => Ok(true),
        "DBIT" => Ok(false),
        other => Err(MessageError::invalid(
            "CdtDbtInd",
            format!("{:?} is neither CRDT nor DBIT", other.chars().take(8).collect::<String>()),
        )),
    }
}

fn parse_entry(e: &Element) -> Result<Entry, MessageError> {
    e.check_order(NTRY)?;
    let sub_family = e.req_text(&["BkTxCd", "Domn", "Fmly", "SubFmlyCd"])?.to_string();
    if sub_family.len() != 4 || !sub_family.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(MessageError::invalid("SubFmlyCd", "not a bank transaction code"));
    }
    let amount = read_amount(e.req(&["Amt"])?)?;
    let credit = credit_indicator(e, &["CdtDbtInd"])?;
    let booked = match e.req_text(&["Sts", "Cd"])? {
        "BOOK" => true,
        "PDNG" | "INFO" | "FUTR" => false,
        other => {
            return Err(MessageError::invalid(
                "Sts/Cd",
                format!("unknown entry status {:?}", other.chars().take(8).collect::<String>()),
            ));
        }
    };
    let booking_time = match (e.opt_text(&["BookgDt", "DtTm"]), e.opt_text(&["BookgDt", "Dt"])) {
        (Some(t), _) => parse_datetime("BookgDt/DtTm", t)?,
        (None, Some(d)) => {
            super::parse_date("BookgDt/Dt", d)?.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or_default()
        }
        (None, None) => return Err(MessageError::Missing("Ntry/BookgDt".into())),
    };
    let details = e.opt(&["NtryDtls", "TxDtls"]);
    if let Some(tx) = details {
        // The transaction details must agree with the entry they explain.
        if let Some(a) = tx.opt(&["Amt"])
            && read_amount(a)? != amount
        {
            return Err(MessageError::invalid("TxDtls/Amt", "differs from the entry amount"));
        }
        if tx.opt(&["CdtDbtInd"]).is_some() && credit_indicator(tx, &["CdtDbtInd"])? != credit {
            return Err(MessageError::invalid("TxDtls/CdtDbtInd", "differs from the entry"));
        }
    }
    let entry_ref =
        e.req_text(&["NtryRef"])?.parse().map_err(|_| MessageError::invalid("NtryRef", "not a sequence number"))?;
    let bank_reference = e.req_text(&["AcctSvcrRef"])?.to_string();
    max_text("AcctSvcrRef", &bank_reference, 35)?;
    Ok(Entry {
        entry_ref,
        amount,
        credit,
        booked,
        booking_time,
        bank_reference,
        end_to_end_id: details.and_then(|d| d.opt_text(&["Refs", "EndToEndId"])).map(EndToEndId::parse).transpose()?,
        sub_family,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use tradechain_money::money::Currency;

    fn sample() -> Camt054 {
        let t = Utc.with_ymd_and_hms(2026, 4, 2, 10, 0, 0).single().expect("t");
        let kwd = Currency::from_code("KWD").expect("kwd");
        Camt054 {
            msg_id: "N1".into(),
            created: t,
            account: Iban::from_bban("KW", "CBKU0000000000001234560101").expect("iban"),
            entries: vec![
                Entry {
                    entry_ref: 7,
                    amount: Money::new(1_500, kwd),
                    credit: true,
                    booked: true,
                    booking_time: t,
                    bank_reference: "SBX-7".into(),
                    end_to_end_id: Some(EndToEndId::derive(7431, "1", 0, 1).expect("e2e")),
                    sub_family: "XBCT".into(),
                },
                Entry {
                    entry_ref: 8,
                    amount: Money::new(1, kwd),
                    credit: false,
                    booked: false,
                    booking_time: t,
                    bank_reference: "SBX-8".into(),
                    end_to_end_id: None,
                    sub_family: "BOOK".into(),
                },
            ],
        }
    }

    #[test]
    fn notification_round_trips_with_three_decimal_currency() {
        let xml = write(&sample()).expect("write");
        assert!(xml.contains("<Amt Ccy=\"KWD\">1.500</Amt>"), "{xml}");
        assert_eq!(parse(xml.as_bytes()).expect("parse"), sample());
    }

    #[test]
    fn transaction_details_that_contradict_the_entry_are_refused() {
        let xml = write(&sample()).expect("write");
        let tampered = xml.replacen(
            "<CdtDbtInd>CRDT</CdtDbtInd>\n          </TxDtls>",
            "<CdtDbtInd>DBIT</CdtDbtInd>\n          </TxDtls>",
            1,
        );
        assert_ne!(tampered, xml);
        assert!(parse(tampered.as_bytes()).is_err());
    }

    #[test]
    fn entry_without_bank_transaction_code_is_refused() {
        let xml = write(&sample()).expect("write");
        let start = xml.find("<BkTxCd>").expect("has BkTxCd");
        let end = xml.find("</BkTxCd>").expect("closes") + "</BkTxCd>".len();
        let stripped = format!("{}{}", &xml[..start], &xml[end..]);
        assert!(matches!(parse(stripped.as_bytes()), Err(MessageError::Missing(_))));
    }
}
