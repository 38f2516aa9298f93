use chrono::{NaiveDate, TimeZone, Utc};

use super::*;
use tradechain_money::money::Currency;

pub(crate) fn party(name: &str, bban: &str, bic: &str) -> Party {
    Party { name: name.into(), iban: Iban::from_bban("GB", bban).expect("iban"), bic: Bic::parse(bic).expect("bic") }
}

pub(crate) fn sample() -> Pain001 {
    let usd = Currency::from_code("USD").expect("usd");
    Pain001 {
        msg_id: "M0001".into(),
        created: Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).single().expect("time"),
        initiating_party: "Harbour Bank".into(),
        transfers: vec![CreditTransfer {
            end_to_end_id: EndToEndId::derive(7431, "12", 1, 1).expect("e2e"),
            debtor: party("Acme Imports & Sons", "HRBR00000000000001", "HRBRGB2L"),
            creditor: party("Shenzhen Widgets <Ltd>", "SZWB00000000000002", "SZWBGB2LXXX"),
            amount: Money::new(1_234_567, usd),
            requested_execution_date: NaiveDate::from_ymd_opt(2026, 3, 31).expect("date"),
            remittance: crate::payment::remittance("12", 1, 1),
            charges: ChargeBearer::Shared,
            payment_information_id: None,
        }],
    }
}

/// What a bank reads back must be what was written, each transfer in the block named by
/// its EndToEndId.
fn reads_back(msg: &Pain001) {
    let xml = write(msg).expect("write");
    let got = parse(xml.as_bytes()).expect("parse");
    assert_eq!((&got.msg_id, got.created, &got.initiating_party), (&msg.msg_id, msg.created, &msg.initiating_party));
    let transfers: Vec<CreditTransfer> = got.transfers.iter().map(|r| r.transfer.clone()).collect();
    assert_eq!(transfers, msg.transfers);
    for r in &got.transfers {
        assert_eq!(r.pmt_inf_id, r.transfer.end_to_end_id.as_str());
    }
}

#[test]
fn written_message_reads_back_identically() {
    reads_back(&sample());
    let mut debtor_pays = sample();
    debtor_pays.transfers[0].charges = ChargeBearer::Debtor;
    reads_back(&debtor_pays);
}

/// A euro payment between two SEPA accounts follows the EPC's rules (service level SEPA,
/// charges SLEV whatever was agreed); the same outside SEPA, or in another currency, is a
/// CBPR+ payment with the agreed bearer and no SEPA service level.
#[test]
fn sepa_and_cbpr_plus_payments_are_written_by_their_own_rules() {
    let eur = Currency::from_code("EUR").expect("eur");
    let mut sepa = sample();
    let t = &mut sepa.transfers[0];
    t.amount = Money::new(50_000, eur);
    t.debtor.iban = tradechain_money::identifier::Iban::parse("DE89370400440532013000").expect("iban");
    t.creditor.iban = tradechain_money::identifier::Iban::parse("FR1420041010050500013M02606").expect("iban");
    t.charges = ChargeBearer::Creditor;
    let xml = write(&sepa).expect("write");
    assert!(xml.contains("<SvcLvl>\n          <Cd>SEPA</Cd>") || xml.contains("<Cd>SEPA</Cd>"), "{xml}");
    assert!(xml.contains("<ChrgBr>SLEV</ChrgBr>"), "{xml}");
    let mut outside = sepa.clone();
    outside.transfers[0].creditor.iban =
        tradechain_money::identifier::Iban::parse("AE070331234567890123456").expect("iban");
    let xml = write(&outside).expect("write");
    assert!(!xml.contains("SEPA") && xml.contains("<ChrgBr>CRED</ChrgBr>"), "{xml}");
    let mut dollars = sepa.clone();
    dollars.transfers[0].amount = Money::new(50_000, Currency::from_code("USD").expect("usd"));
    let xml = write(&dollars).expect("write");
    assert!(!xml.contains("SEPA") && xml.contains("<ChrgBr>CRED</ChrgBr>"), "{xml}");
    // A bank refuses a SEPA service level on what is not a SEPA payment.
    let forged = write(&outside)
        .expect("write")
        .replace("<ReqdExctnDt>", "<PmtTpInf><SvcLvl><Cd>SEPA</Cd></SvcLvl></PmtTpInf><ReqdExctnDt>");
    assert!(parse(forged.as_bytes()).is_err());
}

#[test]
fn written_message_matches_reviewed_snapshot() {
    insta::assert_snapshot!(write(&sample()).expect("write"));
}

fn tampered(from: &str, to: &str) -> Result<ReceivedPain001, MessageError> {
    let xml = write(&sample()).expect("write");
    assert!(xml.contains(from), "fixture lacks {from}");
    parse(xml.replacen(from, to, 1).as_bytes())
}

#[test]
fn amount_with_wrong_precision_is_refused() {
    let err = tampered("12345.67</InstdAmt>", "12345.6</InstdAmt>").expect_err("precision");
    assert!(matches!(err, MessageError::Money(_)), "{err}");
}

#[test]
fn unknown_currency_is_refused() {
    assert!(matches!(tampered("Ccy=\"USD\"", "Ccy=\"XYZ\""), Err(MessageError::Money(_))));
}

#[test]
fn wrong_namespace_is_refused() {
    let err = tampered("pain.001.001.09", "pain.001.001.03").expect_err("namespace");
    assert!(matches!(err, MessageError::Namespace { .. }), "{err}");
}

#[test]
fn missing_end_to_end_id_is_refused() {
    let err = tampered("<EndToEndId>", "<EndToEndIdX>").expect_err("missing");
    assert!(err.to_string().contains("PmtId/EndToEndId") || matches!(err, MessageError::Xml(_)), "{err}");
}

#[test]
fn elements_out_of_schema_order_are_refused() {
    let xml = write(&sample()).expect("write");
    let swapped = xml.replacen(
        "<NbOfTxs>1</NbOfTxs>\n      <CtrlSum>12345.67</CtrlSum>",
        "<CtrlSum>12345.67</CtrlSum>\n      <NbOfTxs>1</NbOfTxs>",
        1,
    );
    assert_ne!(swapped, xml);
    assert!(matches!(parse(swapped.as_bytes()), Err(MessageError::Order { .. })));
}

#[test]
fn control_sum_that_disagrees_with_amounts_is_refused() {
    let err = tampered("<CtrlSum>12345.67</CtrlSum>", "<CtrlSum>99999.99</CtrlSum>").expect_err("ctrlsum");
    assert!(err.to_string().contains("CtrlSum"), "{err}");
}

#[test]
fn invalid_iban_is_refused() {
    let msg = sample();
    let iban = msg.transfers[0].creditor.iban.to_string();
    let mut broken = iban.clone();
    broken.replace_range(2..4, if &iban[2..4] == "00" { "01" } else { "00" });
    assert!(matches!(tampered(&iban, &broken), Err(MessageError::Identifier(_))));
}

#[test]
fn doctype_and_entities_are_refused_as_hostile() {
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"><CstmrCdtTrfInitn>&lol2;</CstmrCdtTrfInitn></Document>"#;
    assert!(matches!(parse(bomb.as_bytes()), Err(MessageError::Hostile(_))));
    let undeclared = r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"><CstmrCdtTrfInitn>&xxe;</CstmrCdtTrfInitn></Document>"#;
    assert!(matches!(parse(undeclared.as_bytes()), Err(MessageError::Hostile(_))));
}

#[test]
fn oversized_and_deeply_nested_input_is_refused() {
    let huge =
        format!("<Document xmlns=\"{PAIN_001_NS}\">{}</Document>", "x".repeat(super::super::xml::MAX_MESSAGE_BYTES));
    assert!(matches!(parse(huge.as_bytes()), Err(MessageError::Hostile(_))));
    let deep = format!("<Document xmlns=\"{PAIN_001_NS}\">{}{}</Document>", "<a>".repeat(100), "</a>".repeat(100));
    assert!(matches!(parse(deep.as_bytes()), Err(MessageError::Hostile(_))));
}

#[test]
fn malformed_xml_is_refused() {
    for bad in [
        "",
        "<Document",
        "not xml at all",
        "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.09\"></Documen>",
    ] {
        assert!(parse(bad.as_bytes()).is_err(), "{bad:?}");
    }
}

#[test]
fn remittance_longer_than_140_characters_is_not_written() {
    let mut msg = sample();
    msg.transfers[0].remittance = "x".repeat(141);
    assert!(write(&msg).is_err());
}

/// A batch: one payment information block per debtor account and date, each stating its
/// debtor, date, number of transactions and control sum once; the bank reads each transfer
/// back with the block it came in.
#[test]
fn a_batch_travels_in_one_block_per_debtor_account_and_date() {
    let one = sample().transfers[0].clone();
    let mut batch = Vec::new();
    for i in 0..5u64 {
        let mut t = one.clone();
        t.end_to_end_id = EndToEndId::derive(7431, &format!("{}", 20 + i), 1, 1).expect("e2e");
        t.amount.minor = 1_000 + u128::from(i);
        if i >= 3 {
            t.debtor = party("Second Debtor Ltd", "HRBR00000000000009", "HRBRGB2L");
        }
        t.payment_information_id = Some(if i < 3 { "BATCH-0" } else { "BATCH-1" }.into());
        batch.push(t);
    }
    let msg = Pain001 { transfers: batch.clone(), ..sample() };
    let xml = write(&msg).expect("write");
    assert_eq!(xml.matches("<PmtInf>").count(), 2, "{xml}");
    let flat: String = xml.lines().map(str::trim).collect();
    assert!(
        flat.contains("<PmtInfId>BATCH-0</PmtInfId><PmtMtd>TRF</PmtMtd><NbOfTxs>3</NbOfTxs><CtrlSum>30.03</CtrlSum>"),
        "{xml}"
    );
    assert!(
        flat.contains("<PmtInfId>BATCH-1</PmtInfId><PmtMtd>TRF</PmtMtd><NbOfTxs>2</NbOfTxs><CtrlSum>20.07</CtrlSum>"),
        "{xml}"
    );
    let got = parse(xml.as_bytes()).expect("parse");
    let blocks: Vec<&str> = got.transfers.iter().map(|r| r.pmt_inf_id.as_str()).collect();
    assert_eq!(blocks, ["BATCH-0", "BATCH-0", "BATCH-0", "BATCH-1", "BATCH-1"]);
    assert_eq!(got.transfers.iter().map(|r| r.transfer.clone()).collect::<Vec<_>>(), batch);
}

/// A block states its debtor and date once: transfers that differ in either cannot share
/// it, and the writer refuses rather than misstate one of them.
#[test]
fn a_block_mixing_debtors_or_dates_is_refused() {
    let one = sample().transfers[0].clone();
    let mut other_date = one.clone();
    other_date.end_to_end_id = EndToEndId::derive(7431, "99", 1, 1).expect("e2e");
    other_date.requested_execution_date = NaiveDate::from_ymd_opt(2026, 4, 1).expect("date");
    let mut other_debtor = other_date.clone();
    other_debtor.requested_execution_date = one.requested_execution_date;
    other_debtor.debtor = party("Someone Else", "HRBR00000000000009", "HRBRGB2L");
    for second in [other_date, other_debtor] {
        let mut a = one.clone();
        let mut b = second;
        a.payment_information_id = Some("SHARED".into());
        b.payment_information_id = Some("SHARED".into());
        let err = write(&Pain001 { transfers: vec![a, b], ..sample() }).expect_err("mixed block");
        assert!(err.to_string().contains("mixes"), "{err}");
    }
}
