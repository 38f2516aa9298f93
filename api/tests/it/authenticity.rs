//! The authenticity check over real HTTP on loopback: an order's parties, state, documents
//! and live financing as the chain holds them, found by order id or by the commercial
//! invoice's hash (a replaced invoice's hash too); a financing event checked against the
//! chain; unknown orders and hashes; who may ask (it is no directory of orders: a
//! financier counting order ids up learns nothing); and the answer unchanged when the read
//! model's copy of the order is gone (it is read from the chain). SQLite, and PostgreSQL
//! under `scripts/with-postgres.sh`.

use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use test_support::api::{Db, Net};
use test_support::fixtures::date_in;
use tradechain_api::readmodel;

fn expect_error(got: (StatusCode, Value), status: u16, code: &str) {
    assert_eq!(got.0.as_u16(), status, "{}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{}", got.1);
}

async fn authenticity(net: Net) {
    let (buyer, buyer_t) = net.onboard("Hanseatic Coffee Importers GmbH", &["trader"]).await;
    let (seller, seller_t) = net.onboard("Fazenda Boa Vista Ltda", &["trader"]).await;
    let (bank, bank_t) = net.onboard("Deutsche Handelsbank AG", &["bank"]).await;
    let (seller_bank, _) = net.onboard("Banco Paulista SA", &["bank"]).await;
    let (financier, financier_t) = net.onboard("Nordic Trade Capital", &["financier"]).await;
    let (_, stranger_t) = net.onboard("Unrelated Trading Co", &["trader"]).await;

    let proposal = json!({
        "seller": seller, "buyer_bank": bank, "seller_bank": seller_bank,
        "amount_minor": "10000000", "currency": "USD", "incoterm": "FOB",
        "latest_shipment": date_in(30), "expiry": date_in(60),
        "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"], "tenor_days": 30 }]
    });
    let (s, order) = net.post("/v1/orders", &buyer_t, proposal).await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    let id = order["id"].as_i64().expect("id");
    let o = format!("/v1/orders/{id}");
    let by_id = format!("/v1/authenticity?order_id={id}");

    // The directory attack: a financier no firm let in counts order ids up. An order that
    // exists and one that does not get the same answer.
    for n in [id, id + 1, 999] {
        expect_error(net.get(&format!("/v1/authenticity?order_id={n}"), &financier_t).await, 404, "ORDER_NOT_FOUND");
    }
    net.consent(&seller_t, &financier).await;
    let (s, body) = net.get(&by_id, &financier_t).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["exists"], true);
    assert_eq!(body["state"], "proposed");
    assert_eq!((&body["buyer"], &body["seller"]), (&json!(buyer), &json!(seller)));
    assert_eq!((&body["buyer_bank"], &body["seller_bank"]), (&json!(bank), &json!(seller_bank)));
    assert_eq!(body["amount_minor"], "10000000");
    assert_eq!(body["currency"], "USD");
    assert_eq!(body["documents"], json!([]));
    assert_eq!(body["financed"], false);

    for (path, token) in [(format!("{o}/accept"), &seller_t), (format!("{o}/commit"), &bank_t)] {
        let (s, body) = net.post(&path, token, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    // A discrepant invoice, rejected by the buyer's bank and replaced by a corrected one:
    // both hashes must lead a financier to this order, the first marked as replaced.
    let (s, body) = net
        .put_bytes(&format!("{o}/documents/commercial_invoice"), &seller_t, b"%PDF invoice 2026-001 draft".to_vec())
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let first_hash = body["documents"][0]["hash"].as_str().expect("hash").to_string();
    let (s, body) = net
        .post(
            &format!("{o}/documents/commercial_invoice/reject"),
            &bank_t,
            json!({ "discrepancies": ["amount differs from the order"] }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) =
        net.put_bytes(&format!("{o}/documents/commercial_invoice"), &seller_t, b"%PDF invoice 2026-001".to_vec()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let invoice_hash = body["documents"][0]["hash"].as_str().expect("hash").to_string();
    assert_ne!(first_hash, invoice_hash);
    let (_, body) = net.get(&by_id, &seller_t).await;
    assert_eq!(body["state"], "committed", "{body}");
    assert_eq!(body["documents"][0]["hash"], invoice_hash.as_str(), "{body}");
    assert_eq!(body["documents"][0]["state"], "submitted", "{body}");
    assert_eq!(body["documents"][0]["accepted_by"], Value::Null, "{body}");

    let (s, body) = net.post(&format!("{o}/documents/commercial_invoice/accept"), &bank_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let offer = json!({
        "kind": "receivable", "advance_minor": "9000000", "rate_bps": 250,
        "invoice": { "number": "INV-2026-001", "date": "2026-11-20", "amount_minor": "10000000", "currency": "USD" }
    });
    let (s, offer) = net.post(&format!("{o}/milestones/0/financing-offers"), &financier_t, offer).await;
    assert_eq!(s, StatusCode::CREATED, "{offer}");
    let fid = offer["id"].as_i64().expect("financing id");
    let (s, body) = net.post(&format!("/v1/financings/{fid}/accept"), &seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    // The seller takes its consent back: the financier still finances the order, and asks
    // about it as such.
    let (s, body) = net.post(&format!("/v1/consents/{financier}/revoke"), &seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");

    // Accepted by the buyer's bank, and financed: by id and by the invoice's hash alike.
    let (s, expected) = net.get(&by_id, &financier_t).await;
    assert_eq!(s, StatusCode::OK, "{expected}");
    assert_eq!(expected["documents"][0]["state"], "accepted", "{expected}");
    assert_eq!(expected["documents"][0]["accepted_by"], bank.as_str(), "{expected}");
    assert_eq!(expected["milestones"][0]["state"], "triggered", "{expected}");
    assert_eq!(expected["milestones"][0]["live_financing"], fid.to_string(), "{expected}");
    assert_eq!(expected["financed"], true, "{expected}");
    assert_eq!(expected["documents"][0]["version"], 2, "{expected}");
    assert_eq!(expected["invoice"], Value::Null, "{expected}");
    let (s, mut by_hash) = net.get(&format!("/v1/authenticity?invoice_hash={invoice_hash}"), &financier_t).await;
    assert_eq!(s, StatusCode::OK, "{by_hash}");
    assert_eq!(by_hash["invoice"]["status"], "current", "{by_hash}");
    assert_eq!(by_hash["invoice"]["version"], 2, "{by_hash}");
    assert_eq!(by_hash["invoice"]["hash"], invoice_hash.as_str(), "{by_hash}");
    let (s, mut by_old_hash) = net.get(&format!("/v1/authenticity?invoice_hash={first_hash}"), &financier_t).await;
    assert_eq!(s, StatusCode::OK, "{by_old_hash}");
    assert_eq!(by_old_hash["exists"], true, "{by_old_hash}");
    assert_eq!(by_old_hash["invoice"]["status"], "replaced", "{by_old_hash}");
    assert_eq!(by_old_hash["invoice"]["version"], 1, "{by_old_hash}");
    assert_eq!(by_old_hash["invoice"]["hash"], first_hash.as_str(), "{by_old_hash}");
    let (s, by_seller) = net.get(&format!("/v1/authenticity?invoice_hash={first_hash}"), &seller_t).await;
    assert_eq!((s, &by_seller["invoice"]["status"]), (StatusCode::OK, &json!("replaced")), "{by_seller}");
    // Apart from where the asked-for hash stands, the same order as read by id.
    for answer in [&mut by_hash, &mut by_old_hash] {
        answer.as_object_mut().expect("object").remove("invoice");
    }
    let mut expected_without = expected.clone();
    expected_without.as_object_mut().expect("object").remove("invoice");
    assert_eq!(by_hash, expected_without);
    assert_eq!(by_old_hash, expected_without);

    // The financing's own events are checkable by its financier and its firm against the
    // chain, and hidden from anyone else.
    let offered = readmodel::event::Entity::find()
        .filter(readmodel::event::Column::Kind.eq("FinancingOffered"))
        .one(&net.state.db)
        .await
        .expect("query")
        .expect("FinancingOffered indexed");
    let proof = format!("/v1/proofs/{}?log_index={}&kind=FinancingOffered", offered.tx_hash, offered.log_index);
    for token in [&financier_t, &seller_t] {
        let (s, body) = net.get(&proof, token).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert_eq!(body["verified"], true, "{body}");
        assert_eq!(body["log"]["contract"], "Receivables", "{body}");
        assert_eq!(body["log"]["order_id"], id, "{body}");
        assert_eq!(body["log"]["data"]["financingId"], fid.to_string(), "{body}");
    }
    let (s, body) = net.get(&format!("{proof}&block={}", offered.block + 1), &financier_t).await;
    assert_eq!((s, &body["verified"]), (StatusCode::OK, &json!(false)), "{body}");
    expect_error(net.get(&proof, &stranger_t).await, 404, "PROOF_NOT_FOUND");

    // Whoever holds what it verifies is answered: an invoice's hash, or an order id with the
    // hash of one of its documents. Nothing else opens an order to a stranger.
    let (s, held) = net.get(&format!("/v1/authenticity?invoice_hash={invoice_hash}"), &stranger_t).await;
    assert_eq!((s, &held["order_id"]), (StatusCode::OK, &json!(id)), "{held}");
    let (s, held) = net.get(&format!("{by_id}&document_hash={first_hash}"), &stranger_t).await;
    assert_eq!((s, &held["exists"]), (StatusCode::OK, &json!(true)), "the replaced invoice's hash too: {held}");
    expect_error(
        net.get(&format!("{by_id}&document_hash=0x{}", "cd".repeat(32)), &stranger_t).await,
        404,
        "ORDER_NOT_FOUND",
    );
    expect_error(net.get(&by_id, &stranger_t).await, 404, "ORDER_NOT_FOUND");
    // An unknown hash: the holder learns no order holds it.
    let unknown = format!("0x{}", "ab".repeat(32));
    for token in [&financier_t, &seller_t, &stranger_t] {
        let (s, body) = net.get(&format!("/v1/authenticity?invoice_hash={unknown}"), token).await;
        assert_eq!((s, &body["exists"]), (StatusCode::OK, &json!(false)), "{body}");
    }
    expect_error(net.get("/v1/authenticity?order_id=999", &seller_t).await, 404, "ORDER_NOT_FOUND");
    expect_error(
        net.get(&format!("/v1/authenticity?order_id={id}&invoice_hash={invoice_hash}"), &financier_t).await,
        422,
        "VALIDATION_FAILED",
    );
    expect_error(net.get("/v1/authenticity", &financier_t).await, 422, "VALIDATION_FAILED");
    // The reads the consent alone allowed are in the audit log, which the seller sees.
    let (_, overview) = net.get("/v1/consents", &seller_t).await;
    let reads: Vec<&str> =
        overview["reads"].as_array().into_iter().flatten().filter_map(|r| r["action"].as_str()).collect();
    assert!(reads.contains(&"authenticity_read"), "{overview}");
    assert!(reads.contains(&"registry_query"), "{overview}");

    // Read from the chain: the same answer with the read model's copy of the order gone.
    let db = &net.state.db;
    readmodel::order::Entity::delete_by_id(id).exec(db).await.expect("delete order");
    readmodel::milestone::Entity::delete_many()
        .filter(readmodel::milestone::Column::OrderId.eq(id))
        .exec(db)
        .await
        .expect("delete");
    readmodel::document::Entity::delete_many()
        .filter(readmodel::document::Column::OrderId.eq(id))
        .exec(db)
        .await
        .expect("delete");
    readmodel::financing::Entity::delete_many().exec(db).await.expect("delete");
    let (s, again) = net.get(&by_id, &financier_t).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn authenticity_reads_parties_documents_and_live_financing_from_the_chain_on_sqlite() {
    authenticity(Net::start(Db::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn authenticity_reads_parties_documents_and_live_financing_from_the_chain_on_postgres() {
    let Some(db) = Db::postgres() else {
        eprintln!("TRADECHAIN_TEST_POSTGRES_URL not set: run through scripts/with-postgres.sh");
        return;
    };
    authenticity(Net::start(db).await).await;
}
