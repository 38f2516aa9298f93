//! Financing and consents over real HTTP on loopback: receivables finance from offer to
//! settlement with the payment going to the financier, payables finance to repayment, the refusals of double financing
//! (same receivable; same invoice or bill of lading under another order), near duplicates flagged for
//! review and the check route that changes nothing, who may accept, and a financier's
//! consented, audited access to a firm's history. Each ends with a rebuild of the read
//! model compared to the one indexed live. SQLite, and PostgreSQL under
//! `scripts/with-postgres.sh`.

use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::api::{Db, Net};
use test_support::fixtures::date_in;
use tradechain_api::indexer::Indexer;
use tradechain_api::readmodel;

struct Parties {
    buyer: String,
    buyer_t: String,
    seller: String,
    seller_t: String,
    buyer_bank: String,
    buyer_bank_t: String,
    seller_bank: String,
    carrier: String,
}

async fn parties(net: &Net) -> Parties {
    let (buyer, buyer_t) = net.onboard("Hanseatic Coffee Importers GmbH", &["trader"]).await;
    let (seller, seller_t) = net.onboard("Fazenda Boa Vista Ltda", &["trader"]).await;
    let (buyer_bank, buyer_bank_t) = net.onboard("Deutsche Handelsbank AG", &["bank"]).await;
    let (seller_bank, _) = net.onboard("Banco Paulista SA", &["bank"]).await;
    let (carrier, _) = net.onboard("Atlantic Container Line", &["carrier"]).await;
    Parties { buyer, buyer_t, seller, seller_t, buyer_bank, buyer_bank_t, seller_bank, carrier }
}

/// A committed order of USD 100,000.00, one milestone paid against the commercial invoice.
async fn committed_order(net: &Net, p: &Parties) -> i64 {
    committed_order_against(net, p, "commercial_invoice").await
}

/// A committed order of USD 100,000.00, one milestone paid against `document`.
async fn committed_order_against(net: &Net, p: &Parties, document: &str) -> i64 {
    let proposal = json!({
        "seller": p.seller, "buyer_bank": p.buyer_bank, "seller_bank": p.seller_bank, "carrier": p.carrier,
        "amount_minor": "10000000", "currency": "USD", "incoterm": "FOB",
        "latest_shipment": date_in(30), "expiry": date_in(60),
        "milestones": [{ "share_bps": 10000, "documents": [document], "tenor_days": 0 }]
    });
    let (s, order) = net.post("/v1/orders", &p.buyer_t, proposal).await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    let id = order["id"].as_i64().expect("id");
    let (s, body) = net.post(&format!("/v1/orders/{id}/accept"), &p.seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = net.post(&format!("/v1/orders/{id}/commit"), &p.buyer_bank_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    id
}

fn receivable_offer(advance: &str, invoice_number: &str) -> Value {
    json!({
        "kind": "receivable", "advance_minor": advance, "rate_bps": 250,
        "invoice": { "number": invoice_number, "date": "2026-11-20", "amount_minor": "10000000", "currency": "USD" }
    })
}

fn expect_error(got: (StatusCode, Value), status: u16, code: &str) {
    assert_eq!(got.0.as_u16(), status, "{}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{}", got.1);
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"].as_array().map(|a| a.iter().filter_map(|f| f["id"].as_i64()).collect()).unwrap_or_default()
}

/// Stop the API, drop and rebuild the chain tables, and compare with the live read model.
async fn rebuilt_read_model_equals_live(mut net: Net, must_contain: &str) {
    let before = readmodel::dump_chain_tables(&net.state.db).await.expect("dump");
    net.stop().await;
    let db = net.state.db.clone();
    let indexer = Indexer::new(db.clone(), net.state.chain.clone(), net.state.operator.address());
    indexer.rebuild().await.expect("rebuild");
    let after = readmodel::dump_chain_tables(&db).await.expect("dump");
    assert!(before.contains(must_contain), "the dump holds {must_contain}");
    assert_eq!(before, after, "the rebuilt read model equals the one indexed live");
}

async fn receivable_financing(net: Net) {
    let p = parties(&net).await;
    let (financier, financier_t) = net.onboard_financier("Nordic Trade Capital", &[&p.seller_t]).await;
    let (second, second_t) = net.onboard_financier("Lisbon Factoring SA", &[&p.seller_t]).await;
    let (_stranger, stranger_t) = net.onboard("Unrelated Trading Co", &["trader"]).await;
    let id = committed_order(&net, &p).await;
    let offers = format!("/v1/orders/{id}/milestones/0/financing-offers");

    // Validation at the edge.
    let mut bad = receivable_offer("9000000", "INV-2026-001");
    bad["rate_bps"] = json!(10001);
    expect_error(net.post(&offers, &financier_t, bad).await, 422, "INVALID_RATE");
    expect_error(
        net.post(&offers, &p.seller_t, receivable_offer("9000000", "INV-2026-001")).await,
        403,
        "NOT_FINANCIER",
    );

    // The offer.
    let (s, offer) = net.post(&offers, &financier_t, receivable_offer("9000000", "INV-2026-001")).await;
    assert_eq!(s, StatusCode::CREATED, "{offer}");
    let fid = offer["id"].as_i64().expect("financing id");
    let f = format!("/v1/financings/{fid}");
    assert_eq!(offer["state"], "offered");
    assert_eq!(offer["kind"], "receivable");
    assert_eq!(offer["firm"], p.seller);
    assert_eq!(offer["financier"], financier);
    assert_eq!(offer["amount_minor"], "9000000");
    assert!(!offer.to_string().contains("INV-2026-001"), "nothing readable of the invoice: {offer}");

    // Only the seller takes it: a stranger does not even see it; the buyer and the
    // financier are refused by the contract.
    expect_error(net.post(&format!("{f}/accept"), &stranger_t, json!({})).await, 404, "FINANCING_NOT_FOUND");
    expect_error(net.get(&f, &stranger_t).await, 404, "FINANCING_NOT_FOUND");
    expect_error(net.post(&format!("{f}/accept"), &p.buyer_t, json!({})).await, 403, "NOT_FINANCED_FIRM");
    expect_error(net.post(&format!("{f}/accept"), &financier_t, json!({})).await, 403, "NOT_FINANCED_FIRM");
    let (_, still) = net.get(&f, &financier_t).await;
    assert_eq!(still["state"], "offered", "{still}");

    let (s, taken) = net.post(&format!("{f}/accept"), &p.seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{taken}");
    assert_eq!(taken["state"], "accepted", "reserved, not yet binding: {taken}");
    assert!(
        taken["deadline"].as_i64().is_some_and(|d| d > taken["accepted_at"].as_i64().unwrap_or(i64::MAX)),
        "{taken}"
    );
    assert_eq!(taken["fingerprints"].as_array().map(Vec::len), Some(1), "{taken}");
    // No proceeds before an advance: the seller is still the payee, and cannot acknowledge
    // an advance nobody recorded.
    let (_, order) = net.get(&format!("/v1/orders/{id}"), &p.seller_t).await;
    assert_eq!(order["milestones"][0]["payee"], p.seller, "{order}");
    expect_error(
        net.post(&format!("{f}/advance/acknowledge"), &p.seller_t, json!({})).await,
        409,
        "ADVANCE_NOT_RECORDED",
    );

    // A second financier on the same receivable: refused, the first unaffected.
    expect_error(
        net.post(&offers, &second_t, receivable_offer("5000000", "INV-2026-002")).await,
        409,
        "RECEIVABLE_ALREADY_FINANCED",
    );
    let (_, first) = net.get(&f, &financier_t).await;
    assert_eq!(first["state"], "accepted", "{first}");

    // The same invoice (written differently) under a second order of the same parties, by
    // another financier: refused by its fingerprint.
    let id2 = committed_order(&net, &p).await;
    let offers2 = format!("/v1/orders/{id2}/milestones/0/financing-offers");
    expect_error(
        net.post(&offers2, &second_t, receivable_offer("5000000", "inv 2026/001")).await,
        409,
        "DUPLICATE_FINGERPRINT",
    );
    // Another invoice is financeable there; the financier withdraws, the seller declines
    // a later offer.
    let (s, other) = net.post(&offers2, &second_t, receivable_offer("5000000", "INV-2026-777")).await;
    assert_eq!(s, StatusCode::CREATED, "{other}");
    let other_id = other["id"].as_i64().expect("id");
    expect_error(
        net.post(&format!("/v1/financings/{other_id}/withdraw"), &financier_t, json!({})).await,
        404,
        "FINANCING_NOT_FOUND",
    );
    let (s, body) = net.post(&format!("/v1/financings/{other_id}/withdraw"), &second_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "withdrawn");
    let (_, again) = net.post(&offers2, &second_t, receivable_offer("5000000", "INV-2026-778")).await;
    let again_id = again["id"].as_i64().expect("id");
    let (s, body) = net.post(&format!("/v1/financings/{again_id}/decline"), &p.seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "declined");

    // The financier records the advance it paid the seller; the proceeds pass only when
    // the seller acknowledges receiving it (the financier cannot acknowledge for it).
    let (s, body) = net.post(&format!("{f}/advance"), &financier_t, json!({ "reference": "NTC-ADV-0001" })).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["advance_reference"], "NTC-ADV-0001");
    assert_eq!((body["state"].as_str(), body["advance_acknowledged"].as_bool()), (Some("accepted"), Some(false)));
    expect_error(
        net.post(&format!("{f}/advance/acknowledge"), &financier_t, json!({})).await,
        403,
        "NOT_FINANCED_FIRM",
    );
    let (s, live) = net.post(&format!("{f}/advance/acknowledge"), &p.seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{live}");
    assert_eq!((live["state"].as_str(), live["advance_acknowledged"].as_bool()), (Some("live"), Some(true)));

    // The milestone falls due: the buyer's bank is told to pay the financier.
    let o = format!("/v1/orders/{id}");
    let (s, body) =
        net.put_bytes(&format!("{o}/documents/commercial_invoice"), &p.seller_t, b"%PDF invoice".to_vec()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = net.post(&format!("{o}/documents/commercial_invoice/accept"), &p.buyer_bank_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = net.post(&format!("{o}/milestones/0/release"), &p.seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let m = &body["milestones"][0];
    assert_eq!(m["state"], "due", "{body}");
    assert_eq!(m["payee"], financier, "the PaymentDue payee is the financier: {body}");
    assert_eq!(m["financing"]["id"], fid, "{body}");
    assert_eq!(m["financing"]["state"], "live", "{body}");
    let (_, payments) = net.get("/v1/payments", &p.buyer_bank_t).await;
    assert_eq!(payments[0]["payee"], financier, "{payments}");

    // Paid: settled in both parties' views.
    let (s, body) =
        net.post(&format!("{o}/milestones/0/confirm"), &p.buyer_bank_t, json!({ "reference": "DHB-0001" })).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    for token in [&financier_t, &p.seller_t] {
        let (_, page) = net.get("/v1/financings?state=settled", token).await;
        assert_eq!(ids(&page), vec![fid], "{page}");
    }
    let (_, settled) = net.get(&f, &p.seller_t).await;
    assert!(settled["settled_at"].is_i64(), "{settled}");
    assert_eq!(settled["fingerprints"].as_array().map(Vec::len), Some(0), "released on settlement: {settled}");
    let (_, page) = net.get("/v1/financings", &second_t).await;
    assert_eq!(ids(&page), vec![again_id, other_id], "the second financier sees its own only: {page}");
    let (_, page) = net.get("/v1/financings", &stranger_t).await;
    assert_eq!(ids(&page), Vec::<i64>::new(), "{page}");
    let (_, page) = net.get("/v1/financings?role=firm", &p.seller_t).await;
    assert_eq!(ids(&page), vec![again_id, other_id, fid], "{page}");
    expect_error(net.get("/v1/financings?state=nope", &p.seller_t).await, 422, "VALIDATION_FAILED");
    let _ = (second, p.buyer);

    rebuilt_read_model_equals_live(net, "FinancingSettled").await;
}

async fn same_bill_of_lading(net: Net) {
    let p = parties(&net).await;
    let (_, financier_t) = net.onboard_financier("Nordic Trade Capital", &[&p.seller_t]).await;
    let (_, second_t) = net.onboard_financier("Lisbon Factoring SA", &[&p.seller_t]).await;
    let bill = b"%PDF bill of lading ACL-77881 clean on board".to_vec();
    let mut orders = Vec::new();
    for file in [bill.clone(), bill, b"%PDF bill of lading ACL-90001".to_vec()] {
        let id = committed_order_against(&net, &p, "bill_of_lading").await;
        let (s, body) = net.put_bytes(&format!("/v1/orders/{id}/documents/bill_of_lading"), &p.seller_t, file).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        orders.push(id);
    }
    let offers = |id: i64| format!("/v1/orders/{id}/milestones/0/financing-offers");
    let (s, first) = net.post(&offers(orders[0]), &financier_t, receivable_offer("9000000", "INV-BL-1")).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    let (s, taken) = net.post(&format!("/v1/financings/{}/accept", first["id"]), &p.seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{taken}");
    assert_eq!(taken["fingerprints"].as_array().map(Vec::len), Some(2), "invoice and bill of lading: {taken}");
    // Another invoice, but the same bill of lading under another order: refused.
    expect_error(
        net.post(&offers(orders[1]), &second_t, receivable_offer("9000000", "INV-BL-2")).await,
        409,
        "DUPLICATE_FINGERPRINT",
    );
    // Another bill of lading: financeable.
    let (s, other) = net.post(&offers(orders[2]), &second_t, receivable_offer("9000000", "INV-BL-2")).await;
    assert_eq!(s, StatusCode::CREATED, "{other}");

    rebuilt_read_model_equals_live(net, "FingerprintRegistered").await;
}

fn offer_with(advance: &str, number: &str, date: &str, amount: &str) -> Value {
    json!({
        "kind": "receivable", "advance_minor": advance, "rate_bps": 250,
        "invoice": { "number": number, "date": date, "amount_minor": amount, "currency": "USD" }
    })
}

async fn near_duplicates(net: Net) {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let p = parties(&net).await;
    let (_, first_t) = net.onboard_financier("Nordic Trade Capital", &[&p.seller_t]).await;
    let (_, second_t) = net.onboard_financier("Lisbon Factoring SA", &[&p.seller_t]).await;
    let (_, third_t) = net.onboard_financier("Antwerp Receivables NV", &[&p.seller_t]).await;
    let offers = |id: i64| format!("/v1/orders/{id}/milestones/0/financing-offers");
    let (o1, o2, o3, o4) = (
        committed_order(&net, &p).await,
        committed_order(&net, &p).await,
        committed_order(&net, &p).await,
        committed_order(&net, &p).await,
    );

    let (s, first) = net.post(&offers(o1), &first_t, offer_with("9000000", "INV-N-1", "2026-11-20", "10000000")).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(first["review"], json!([]), "{first}");
    let f1 = first["id"].as_i64().expect("id");

    // The check route: the same invoice number and seller with another amount would be
    // flagged; nothing is sent or stored.
    let head = net.state.chain.head().await.expect("head");
    let dump = readmodel::dump_chain_tables(&net.state.db).await.expect("dump");
    let near_rows = readmodel::financing_review::Entity::find().count(&net.state.db).await.expect("count");
    let check = check_body(o2, "inv n 1", "2026-11-20", "9500000");
    let (s, checked) = net.post("/v1/financings/check", &second_t, check).await;
    assert_eq!(s, StatusCode::OK, "{checked}");
    assert_eq!(checked["refusal"], Value::Null, "{checked}");
    assert_eq!(checked["review"][0]["code"], "NEAR_DUPLICATE", "{checked}");
    assert_eq!(checked["review"][0]["financing_id"], f1, "{checked}");
    assert_eq!(checked["review"][0]["differs"], json!(["amount"]), "{checked}");
    assert_eq!(net.state.chain.head().await.expect("head"), head, "no transaction");
    assert_eq!(readmodel::dump_chain_tables(&net.state.db).await.expect("dump"), dump, "no chain row");
    let after = readmodel::financing_review::Entity::find().count(&net.state.db).await.expect("count");
    assert_eq!(after, near_rows, "no review row");
    let (_, page) = net.get("/v1/financings", &second_t).await;
    assert_eq!(ids(&page), Vec::<i64>::new(), "{page}");

    // Offered for real under another order to another financier: flagged, with the reason.
    let (s, amount) = net.post(&offers(o2), &second_t, offer_with("5000000", "inv n 1", "2026-11-20", "9500000")).await;
    assert_eq!(s, StatusCode::CREATED, "{amount}");
    let review = &amount["review"];
    assert_eq!(review.as_array().map(Vec::len), Some(1), "{amount}");
    assert_eq!(review[0]["code"], "NEAR_DUPLICATE");
    assert_eq!(review[0]["financing_id"], f1);
    assert_eq!(review[0]["differs"], json!(["amount"]));
    assert_eq!(review[0]["reason"], format!("same invoice number and seller as financing {f1}; amount differs"));
    let f2 = amount["id"].as_i64().expect("id");
    // Stored: its financier sees the flags, the seller does not.
    let (_, again) = net.get(&format!("/v1/financings/{f2}"), &second_t).await;
    assert_eq!(again["review"], *review, "{again}");
    let (_, seller_view) = net.get(&format!("/v1/financings/{f2}"), &p.seller_t).await;
    assert_eq!(seller_view["review"], json!([]), "{seller_view}");

    // Another date (same amount as the first): flagged "date" against the first, "amount
    // and date" against the second.
    let (s, date) = net.post(&offers(o3), &third_t, offer_with("5000000", "INV-N-1", "2026-11-21", "10000000")).await;
    assert_eq!(s, StatusCode::CREATED, "{date}");
    assert_eq!(date["review"][0]["financing_id"], f1, "{date}");
    assert_eq!(date["review"][0]["differs"], json!(["date"]), "{date}");
    assert_eq!(date["review"][0]["reason"], format!("same invoice number and seller as financing {f1}; date differs"));
    assert_eq!(date["review"][1]["financing_id"], f2, "{date}");
    assert_eq!(date["review"][1]["differs"], json!(["amount", "date"]), "{date}");

    // The first is accepted: the exact invoice under a fourth order is refused with its
    // stable code, by the check route too.
    let (s, live) = net.post(&format!("/v1/financings/{f1}/accept"), &p.seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{live}");
    let exact = offer_with("5000000", "INV-N-1", "2026-11-20", "10000000");
    let check = check_body(o4, "INV-N-1", "2026-11-20", "10000000");
    let (s, checked) = net.post("/v1/financings/check", &third_t, check).await;
    assert_eq!(s, StatusCode::OK, "{checked}");
    assert_eq!(checked["refusal"]["code"], "DUPLICATE_FINGERPRINT", "{checked}");
    expect_error(net.post(&offers(o4), &third_t, exact).await, 409, "DUPLICATE_FINGERPRINT");
    // A withdrawn offer no longer counts.
    let (s, body) = net.post(&format!("/v1/financings/{f2}/withdraw"), &second_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let check = check_body(o4, "INV-N-1", "2026-11-20", "9500000");
    let (_, checked) = net.post("/v1/financings/check", &third_t, check).await;
    let flagged: Vec<i64> =
        checked["review"].as_array().expect("review").iter().filter_map(|f| f["financing_id"].as_i64()).collect();
    assert!(!flagged.contains(&f2), "{checked}");
    assert!(flagged.contains(&f1), "{checked}");
    // Only financiers check.
    let check = check_body(o4, "INV-N-1", "2026-11-20", "10000000");
    expect_error(net.post("/v1/financings/check", &p.seller_t, check).await, 403, "NOT_FINANCIER");

    // The near keys are the chain's: a rebuild from the chain restores them.
    rebuilt_read_model_equals_live(net, "NearKeysRecorded").await;
}

/// Another node of the consortium (its own API and read model, the same chain and salt)
/// flags an offer of the same invoice number and seller taken by the first node; the keys
/// on chain are salted digests, nothing of the invoice is readable in the transaction or
/// its logs; and after a rebuild of its read model from the chain, it still flags it.
async fn near_duplicates_across_nodes(net: Net) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let p = parties(&net).await;
    let (_, first_t) = net.onboard_financier("Nordic Trade Capital", &[&p.seller_t]).await;
    let (o1, o2) = (committed_order(&net, &p).await, committed_order(&net, &p).await);
    let offers = |id: i64| format!("/v1/orders/{id}/milestones/0/financing-offers");
    let (s, first) =
        net.post(&offers(o1), &first_t, offer_with("9000000", "HKG/2026-0042", "2026-11-20", "10000000")).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    let f1 = first["id"].as_i64().expect("id");

    let mut other = net.another_api().await;
    let (second, second_t) = other.onboard("Lisbon Factoring SA", &["financier"]).await;
    net.consent(&p.seller_t, &second).await;
    let check = check_body(o2, "hkg 2026 0042", "2026-11-20", "9900000");
    let (s, checked) = other.post("/v1/financings/check", &second_t, check).await;
    assert_eq!(s, StatusCode::OK, "{checked}");
    assert_eq!(checked["review"][0]["financing_id"], f1, "flagged by the other node: {checked}");
    assert_eq!(checked["review"][0]["differs"], json!(["amount"]), "{checked}");
    let (s, second) =
        other.post(&offers(o2), &second_t, offer_with("5000000", "HKG-2026-0042", "2026-11-20", "9900000")).await;
    assert_eq!(s, StatusCode::CREATED, "{second}");
    assert_eq!(second["review"][0]["code"], "NEAR_DUPLICATE", "{second}");
    assert_eq!(second["review"][0]["financing_id"], f1, "{second}");

    // Nothing readable on chain: neither the invoice number (as written or normalised) nor
    // the amount's digits appear in the offers' transactions or logs. (The second offer went
    // through the other node: this one indexes its block in its own time.)
    let head = net.node.head().header.number;
    assert!(net.state.indexer.wait_for(head, std::time::Duration::from_secs(10)).await, "this node indexes the head");
    let recorded = readmodel::event::Entity::find()
        .filter(readmodel::event::Column::Kind.eq("NearKeysRecorded"))
        .all(&net.state.db)
        .await
        .expect("events");
    assert_eq!(recorded.len(), 2, "both offers recorded their near keys on chain");
    for e in &recorded {
        let hash = e.tx_hash.parse().expect("tx hash");
        let raw = net.state.chain.transaction(hash).await.expect("chain").expect("mined");
        let receipt = net.state.chain.receipt(hash).await.expect("chain").expect("receipt");
        let mut bytes = raw.to_vec();
        for log in &receipt.logs {
            bytes.extend_from_slice(&log.data.data);
        }
        for needle in ["HKG/2026-0042", "HKG-2026-0042", "HKG20260042", "hkg 2026 0042", "9900000", "10000000"] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "{needle} readable on chain");
        }
    }

    // A rebuild of the other node's read model from the chain keeps the flag.
    other.stop().await;
    let indexer = Indexer::new(other.state.db.clone(), other.state.chain.clone(), other.state.operator.address());
    indexer.rebuild().await.expect("rebuild");
    let keys = readmodel::near_key::Entity::find().all(&other.state.db).await.expect("near keys");
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(keys[0].near_key, keys[1].near_key, "same seller and normalised invoice number");
    assert_ne!(keys[0].amount_digest, keys[1].amount_digest);
    assert_eq!(keys[0].date_digest, keys[1].date_digest);
}

/// The body of `POST /v1/financings/check` for milestone 0 of `order_id`.
fn check_body(order_id: i64, number: &str, date: &str, amount: &str) -> Value {
    let mut check = offer_with("5000000", number, date, amount);
    check["order_id"] = json!(order_id);
    check["milestone"] = json!(0);
    check
}

async fn payables_financing(net: Net) {
    let p = parties(&net).await;
    let (financier, financier_t) = net.onboard_financier("Nordic Trade Capital", &[&p.buyer_t]).await;
    let id = committed_order(&net, &p).await;
    let o = format!("/v1/orders/{id}");
    let payable = |extra_days: Value| {
        json!({
            "kind": "payable", "extra_days": extra_days, "rate_bps": 100,
            "invoice": { "number": "INV-77", "date": "2026-11-20", "amount_minor": "10000000", "currency": "USD" }
        })
    };
    let offers = format!("{o}/milestones/0/financing-offers");
    expect_error(net.post(&offers, &financier_t, payable(Value::Null)).await, 422, "INVALID_TENOR");
    // The buyer's bank pays the fee: it is bounded (25 %) whoever offers it.
    let mut greedy = payable(json!(30));
    greedy["rate_bps"] = json!(2501);
    expect_error(net.post(&offers, &financier_t, greedy).await, 422, "INVALID_FEE");
    let (s, offer) = net.post(&offers, &financier_t, payable(json!(30))).await;
    assert_eq!(s, StatusCode::CREATED, "{offer}");
    assert_eq!(offer["firm"], p.buyer, "payables finance is the buyer's");
    assert_eq!(offer["amount_minor"], "10100000", "repayment = amount + 1%: {offer}");
    let f = format!("/v1/financings/{}", offer["id"].as_i64().expect("id"));
    expect_error(net.get(&o, &financier_t).await, 404, "ORDER_NOT_FOUND");
    expect_error(net.post(&format!("{f}/accept"), &p.seller_t, json!({})).await, 403, "NOT_FINANCED_FIRM");
    let (s, body) = net.post(&format!("{f}/accept"), &p.buyer_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "accepted", "{body}");

    // The buyer alone cannot swap the seller's payer: the seller (whose payer changes) and
    // the buyer's bank (which repays, fee included) approve, each once.
    let (_, order) = net.get(&o, &p.seller_t).await;
    assert_eq!(order["milestones"][0]["payer"], p.buyer_bank, "{order}");
    expect_error(net.post(&format!("{f}/approve"), &p.buyer_t, json!({})).await, 403, "NOT_ORDER_PARTY");
    expect_error(net.post(&format!("{f}/approve"), &financier_t, json!({})).await, 403, "NOT_ORDER_PARTY");
    let (s, body) = net.post(&format!("{f}/approve"), &p.seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!((body["state"].as_str(), body["seller_approved"].as_bool()), (Some("accepted"), Some(true)));
    expect_error(net.post(&format!("{f}/approve"), &p.seller_t, json!({})).await, 409, "ALREADY_APPROVED");
    let (s, body) = net.post(&format!("{f}/approve"), &p.buyer_bank_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!((body["state"].as_str(), body["bank_approved"].as_bool()), (Some("live"), Some(true)));

    // The financier now pays the seller on the due date, and sees the order it pays on.
    let (s, body) = net.get(&o, &financier_t).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["milestones"][0]["payer"], financier, "{body}");
    assert_eq!(body["milestones"][0]["financing"]["kind"], "payable", "{body}");
    let (s, body) =
        net.put_bytes(&format!("{o}/documents/commercial_invoice"), &p.seller_t, b"%PDF invoice".to_vec()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = net.post(&format!("{o}/documents/commercial_invoice/accept"), &p.buyer_bank_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = net.post(&format!("{o}/milestones/0/release"), &p.seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    expect_error(
        net.post(&format!("{o}/milestones/0/confirm"), &p.buyer_bank_t, json!({ "reference": "X" })).await,
        403,
        "NOT_PAYER",
    );
    let (s, body) =
        net.post(&format!("{o}/milestones/0/confirm"), &financier_t, json!({ "reference": "NTC-PAY-1" })).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (_, waiting) = net.get(&f, &p.buyer_t).await;
    assert_eq!(waiting["state"], "awaiting_repayment", "{waiting}");
    assert_eq!(waiting["repayment_amount_minor"], "10100000", "{waiting}");

    // The buyer's bank repays the financier 30 days later.
    expect_error(net.post(&format!("{f}/repayment/release"), &p.buyer_t, json!({})).await, 409, "REPAYMENT_NOT_DUE");
    net.node.increase_time(31 * 86_400).expect("time");
    net.node.mine(None).expect("mine");
    let (s, due) = net.post(&format!("{f}/repayment/release"), &p.buyer_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{due}");
    assert_eq!(due["state"], "repayment_due");
    expect_error(
        net.post(&format!("{f}/repayment/confirm"), &financier_t, json!({ "reference": "X" })).await,
        403,
        "NOT_PAYER",
    );
    let (s, settled) =
        net.post(&format!("{f}/repayment/confirm"), &p.buyer_bank_t, json!({ "reference": "DHB-REPAY-1" })).await;
    assert_eq!(s, StatusCode::OK, "{settled}");
    assert_eq!(settled["state"], "settled");
    assert_eq!(settled["repayment_reference"], "DHB-REPAY-1");
    for token in [&financier_t, &p.buyer_t] {
        let (_, page) = net.get("/v1/financings?state=settled", token).await;
        assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    }

    rebuilt_read_model_equals_live(net, "RepaymentConfirmed").await;
}

async fn consented_history(net: Net) {
    let p = parties(&net).await;
    let (financier, financier_t) = net.onboard("Nordic Trade Capital", &["financier"]).await;
    let (second, second_t) = net.onboard("Lisbon Factoring SA", &["financier"]).await;
    let (_stranger, stranger_t) = net.onboard("Unrelated Trading Co", &["trader"]).await;
    committed_order(&net, &p).await;
    let history = format!("/v1/firms/{}/orders", p.seller);

    expect_error(
        net.post("/v1/verification-requests", &p.buyer_t, json!({ "firm": p.seller, "purpose": "x" })).await,
        403,
        "NOT_FINANCIER",
    );
    let (s, req) = net
        .post(
            "/v1/verification-requests",
            &financier_t,
            json!({ "firm": p.seller, "purpose": "receivables line of USD 500k" }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{req}");
    assert_eq!(req["state"], "open");
    let rid = req["id"].as_i64().expect("request id");

    // The firm sees who asked.
    let (_, overview) = net.get("/v1/consents", &p.seller_t).await;
    assert_eq!(overview["requests"][0]["financier"], financier, "{overview}");
    assert_eq!(overview["requests"][0]["purpose"], "receivables line of USD 500k");

    expect_error(net.get(&history, &financier_t).await, 403, "NO_LIVE_CONSENT");
    expect_error(
        net.post(&format!("/v1/verification-requests/{rid}/grant"), &stranger_t, json!({ "expires_at": date_in(90) }))
            .await,
        404,
        "REQUEST_NOT_FOUND",
    );
    let (s, granted) = net
        .post(&format!("/v1/verification-requests/{rid}/grant"), &p.seller_t, json!({ "expires_at": date_in(90) }))
        .await;
    assert_eq!(s, StatusCode::OK, "{granted}");
    assert_eq!(granted["state"], "granted");
    assert_eq!(granted["financier"], financier);

    let (s, page) = net.get(&history, &financier_t).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    // The consent covers the firm's own trade (as buyer or seller), not the orders of other
    // firms it carried or inspected: a financier asking for those is refused, not served.
    for role in ["carrier", "inspector"] {
        expect_error(net.get(&format!("{history}?role={role}"), &financier_t).await, 422, "VALIDATION_FAILED");
    }
    expect_error(net.get(&history, &second_t).await, 403, "NO_LIVE_CONSENT");

    let (s, revoked) = net.post(&format!("/v1/consents/{financier}/revoke"), &p.seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["state"], "revoked");
    expect_error(net.get(&history, &financier_t).await, 403, "NO_LIVE_CONSENT");
    expect_error(
        net.post(&format!("/v1/consents/{financier}/revoke"), &p.seller_t, json!({})).await,
        403,
        "NO_LIVE_CONSENT",
    );

    // A second request, declined; it cannot be granted afterwards.
    let (_, req2) =
        net.post("/v1/verification-requests", &second_t, json!({ "firm": p.seller, "purpose": "payables" })).await;
    let rid2 = req2["id"].as_i64().expect("id");
    let (s, declined) = net.post(&format!("/v1/verification-requests/{rid2}/decline"), &p.seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{declined}");
    assert_eq!(declined["state"], "declined");
    expect_error(
        net.post(&format!("/v1/verification-requests/{rid2}/grant"), &p.seller_t, json!({ "expires_at": date_in(9) }))
            .await,
        409,
        "REQUEST_ALREADY_ANSWERED",
    );

    // Requests cost nothing to send: one open per financier and firm. An unanswered one
    // is withdrawn by its financier (not before 30 days), which frees it to ask again.
    let (s, req3) =
        net.post("/v1/verification-requests", &second_t, json!({ "firm": p.seller, "purpose": "again" })).await;
    assert_eq!(s, StatusCode::CREATED, "{req3}");
    let rid3 = req3["id"].as_i64().expect("id");
    expect_error(
        net.post("/v1/verification-requests", &second_t, json!({ "firm": p.seller, "purpose": "and again" })).await,
        409,
        "REQUEST_ALREADY_OPEN",
    );
    let withdraw = format!("/v1/verification-requests/{rid3}/withdraw");
    expect_error(net.post(&withdraw, &second_t, json!({})).await, 409, "REQUEST_TOO_RECENT");
    expect_error(net.post(&withdraw, &stranger_t, json!({})).await, 404, "REQUEST_NOT_FOUND");
    net.node.increase_time(31 * 86_400).expect("time");
    net.node.mine(None).expect("mine");
    let (s, withdrawn) = net.post(&withdraw, &second_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{withdrawn}");
    assert_eq!(withdrawn["state"], "withdrawn");
    let (s, req4) =
        net.post("/v1/verification-requests", &second_t, json!({ "firm": p.seller, "purpose": "fresh" })).await;
    assert_eq!(s, StatusCode::CREATED, "{req4}");

    // Every attempt is in the audit log, and the firm sees it.
    let (_, overview) = net.get("/v1/consents", &p.seller_t).await;
    let reads: Vec<(String, String)> = overview["reads"]
        .as_array()
        .expect("reads")
        .iter()
        .map(|r| (r["reader"].as_str().unwrap_or("").to_string(), r["action"].as_str().unwrap_or("").to_string()))
        .collect();
    let refused = "firm_history_refused".to_string();
    assert_eq!(
        reads,
        vec![
            (financier.clone(), refused.clone()),
            (financier.clone(), "firm_history".to_string()),
            (second.clone(), refused.clone()),
            (financier.clone(), refused.clone()),
        ],
        "{overview}"
    );
    let states: Vec<&str> =
        overview["requests"].as_array().expect("requests").iter().filter_map(|r| r["state"].as_str()).collect();
    assert_eq!(states, vec!["granted", "declined", "withdrawn", "open"]);
    assert_eq!(overview["consents"][0]["state"], "revoked", "{overview}");
    // A financier sees only its own.
    let (_, own) = net.get("/v1/consents", &second_t).await;
    assert_eq!(own["requests"].as_array().map(Vec::len), Some(3), "{own}");
    assert_eq!(own["consents"].as_array().map(Vec::len), Some(0), "{own}");

    rebuilt_read_model_equals_live(net, "VerificationWithdrawn").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receivable_financing_pays_the_financier_and_refuses_double_financing_on_sqlite() {
    receivable_financing(Net::start(Db::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receivable_financing_pays_the_financier_and_refuses_double_financing_on_postgres() {
    let Some(db) = Db::postgres() else {
        eprintln!("TRADECHAIN_TEST_POSTGRES_URL not set: run through scripts/with-postgres.sh");
        return;
    };
    receivable_financing(Net::start(db).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_bill_of_lading_under_another_order_is_refused_on_sqlite() {
    same_bill_of_lading(Net::start(Db::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_bill_of_lading_under_another_order_is_refused_on_postgres() {
    let Some(db) = Db::postgres() else {
        eprintln!("TRADECHAIN_TEST_POSTGRES_URL not set: run through scripts/with-postgres.sh");
        return;
    };
    same_bill_of_lading(Net::start(db).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn near_duplicates_are_flagged_for_review_and_exact_ones_refused_on_sqlite() {
    near_duplicates(Net::start(Db::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn near_duplicates_are_flagged_for_review_and_exact_ones_refused_on_postgres() {
    let Some(db) = Db::postgres() else {
        eprintln!("TRADECHAIN_TEST_POSTGRES_URL not set: run through scripts/with-postgres.sh");
        return;
    };
    near_duplicates(Net::start(db).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn near_duplicates_are_flagged_across_nodes_from_the_keys_on_chain() {
    near_duplicates_across_nodes(Net::start(Db::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payables_financing_makes_the_financier_payer_and_the_buyer_bank_repays_on_sqlite() {
    payables_financing(Net::start(Db::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payables_financing_makes_the_financier_payer_and_the_buyer_bank_repays_on_postgres() {
    let Some(db) = Db::postgres() else {
        eprintln!("TRADECHAIN_TEST_POSTGRES_URL not set: run through scripts/with-postgres.sh");
        return;
    };
    payables_financing(Net::start(db).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn history_read_needs_a_live_consent_and_every_attempt_is_audited_on_sqlite() {
    consented_history(Net::start(Db::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn history_read_needs_a_live_consent_and_every_attempt_is_audited_on_postgres() {
    let Some(db) = Db::postgres() else {
        eprintln!("TRADECHAIN_TEST_POSTGRES_URL not set: run through scripts/with-postgres.sh");
        return;
    };
    consented_history(Net::start(db).await).await;
}
