//! A whole trade over real HTTP on loopback, driven by the organisations' own tokens,
//! with the forbidden attempts along the way; then the read model is dropped, rebuilt
//! from the chain and compared. Runs on SQLite, and on PostgreSQL when the test script
//! provides a server (`scripts/with-postgres.sh`).

use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use test_support::api::{Db, Net};
use test_support::fixtures::date_in;
use test_support::redact::hex as redact_hex;
use tradechain_api::indexer::Indexer;
use tradechain_api::readmodel;

fn proposal(seller: &str, buyer_bank: &str, seller_bank: &str, carrier: &str) -> Value {
    json!({
        "seller": seller,
        "buyer_bank": buyer_bank,
        "seller_bank": seller_bank,
        "carrier": carrier,
        "amount_minor": "10000000",
        "currency": "USD",
        "incoterm": "FOB",
        "latest_shipment": date_in(30),
        "expiry": date_in(60),
        "milestones": [
            { "share_bps": 3000, "documents": ["commercial_invoice"], "tenor_days": 0 },
            { "amount_minor": "7000000", "documents": ["bill_of_lading"], "tenor_days": 0 }
        ],
        "details": {
            "line_items": [{ "description": "Arabica green coffee, grade 1", "quantity": "19200", "unit": "kg" }],
            "port_of_loading": "BRSSZ",
            "port_of_discharge": "DEHAM"
        }
    })
}

/// Error bodies met along the way, for the snapshot.
struct Errors(Vec<(String, u16, Value)>);

impl Errors {
    fn expect(&mut self, name: &str, got: (StatusCode, Value), status: u16, code: &str) {
        assert_eq!(got.0.as_u16(), status, "{name}: {}", got.1);
        assert_eq!(got.1["error"]["code"], code, "{name}: {}", got.1);
        let redacted = test_support::redact::long_numbers(&redact_hex(&got.1.to_string()));
        let redacted: Value = serde_json::from_str(&redacted).expect("json");
        self.0.push((name.to_string(), status, redacted));
    }
}

async fn whole_trade(mut net: Net) -> Vec<(String, u16, Value)> {
    let mut errors = Errors(Vec::new());
    let (_buyer, buyer_t) = net.onboard("Hanseatic Coffee Importers GmbH", &["trader"]).await;
    let (seller, seller_t) = net.onboard("Fazenda Boa Vista Ltda", &["trader"]).await;
    let (buyer_bank, buyer_bank_t) = net.onboard("Deutsche Handelsbank AG", &["bank"]).await;
    let (seller_bank, _seller_bank_t) = net.onboard("Banco Paulista SA", &["bank"]).await;
    let (carrier, carrier_t) = net.onboard("Atlantic Container Line", &["carrier"]).await;
    let (_other_carrier, other_carrier_t) = net.onboard("Pacific Shipping", &["carrier"]).await;
    let (_financier, financier_t) = net.onboard("Nordic Trade Capital", &["financier"]).await;
    let (_stranger, stranger_t) = net.onboard("Unrelated Trading Co", &["trader"]).await;

    // Only the operator onboards.
    errors.expect(
        "onboard_by_non_operator",
        net.post("/v1/organisations", &buyer_t, json!({ "name": "X", "roles": ["trader"] })).await,
        403,
        "OPERATOR_ONLY",
    );
    errors.expect("no_token", net.call("GET", "/v1/orders", None, None).await, 401, "UNAUTHENTICATED");
    errors.expect("unknown_token", net.get("/v1/orders", "tc_nope").await, 401, "UNAUTHENTICATED");

    // Validation at the edge: nothing is written.
    let mut bad = proposal(&seller, &buyer_bank, &seller_bank, &carrier);
    bad["currency"] = json!("XYZ");
    errors.expect("invalid_currency", net.post("/v1/orders", &buyer_t, bad).await, 422, "INVALID_CURRENCY");
    let mut bad = proposal(&seller, &buyer_bank, &seller_bank, &carrier);
    bad["incoterm"] = json!("DAT");
    errors.expect("invalid_incoterm", net.post("/v1/orders", &buyer_t, bad).await, 422, "INVALID_INCOTERM");
    let mut bad = proposal(&seller, &buyer_bank, &seller_bank, &carrier);
    bad["amount_minor"] = json!("0");
    errors.expect("zero_amount", net.post("/v1/orders", &buyer_t, bad).await, 422, "INVALID_AMOUNT");
    // ISO 20022 amounts carry at most 18 digits: refused when proposed, never at payment.
    let mut bad = proposal(&seller, &buyer_bank, &seller_bank, &carrier);
    bad["amount_minor"] = json!("1000000000000000000");
    bad["milestones"] = json!([{ "share_bps": 10000, "documents": ["commercial_invoice"] }]);
    errors.expect("amount_beyond_18_digits", net.post("/v1/orders", &buyer_t, bad).await, 422, "AMOUNT_TOO_LARGE");
    let mut bad = proposal(&seller, &buyer_bank, &seller_bank, &carrier);
    bad["charges"] = json!("buyer");
    errors.expect("unknown_charge_bearer", net.post("/v1/orders", &buyer_t, bad).await, 422, "VALIDATION_FAILED");
    let mut bad = proposal(&seller, &buyer_bank, &seller_bank, &carrier);
    bad["currency"] = json!("BGN");
    errors.expect("withdrawn_currency", net.post("/v1/orders", &buyer_t, bad).await, 422, "INVALID_CURRENCY");
    let mut bad = proposal(&seller, &buyer_bank, &seller_bank, &carrier);
    bad["milestones"][1]["amount_minor"] = json!("6999999");
    errors.expect("milestones_do_not_sum", net.post("/v1/orders", &buyer_t, bad).await, 422, "MILESTONES_DO_NOT_SUM");
    let mut bad = proposal(&seller, &buyer_bank, &seller_bank, &carrier);
    bad["expiry"] = json!(date_in(10));
    errors.expect("expiry_before_shipment", net.post("/v1/orders", &buyer_t, bad).await, 422, "INVALID_DATES");
    errors.expect("malformed_json", malformed_post(&net, &buyer_t).await, 400, "INVALID_JSON");
    // A bill of lading needs the carrier that attests it named in the order, and never a
    // party to it (a seller holding the carrier role would attest its own).
    let mut bad = proposal(&seller, &buyer_bank, &seller_bank, &carrier);
    bad.as_object_mut().expect("object").remove("carrier");
    errors.expect(
        "no_carrier_for_a_bill_of_lading",
        net.post("/v1/orders", &buyer_t, bad).await,
        422,
        "VALIDATION_FAILED",
    );
    let mut bad = proposal(&seller, &buyer_bank, &seller_bank, &carrier);
    bad["carrier"] = json!(seller);
    errors.expect("seller_as_carrier", net.post("/v1/orders", &buyer_t, bad).await, 422, "INVALID_ATTESTER");
    // A seller that is not a trader: the contract's check, decoded.
    let mut bad = proposal(&buyer_bank, &buyer_bank, &seller_bank, &carrier);
    bad["seller"] = json!(buyer_bank);
    errors.expect("seller_without_trader_role", net.post("/v1/orders", &buyer_t, bad).await, 403, "MISSING_ROLE");
    let (_, page) = net.get("/v1/orders", &buyer_t).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0), "nothing was written: {page}");
    let details = tradechain_api::readmodel::order_detail::Entity::find().count(&net.state.db).await.expect("count");
    assert_eq!(details, 0, "refused proposals leave no details behind");

    // The buyer proposes.
    let (status, order) =
        net.post("/v1/orders", &buyer_t, proposal(&seller, &buyer_bank, &seller_bank, &carrier)).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let id = order["id"].as_i64().expect("id");
    let o = format!("/v1/orders/{id}");
    assert_eq!(order["state"], "proposed");
    assert_eq!(order["amount"], "100000.00");
    assert_eq!(order["milestones"][0]["amount_minor"], "3000000");
    assert_eq!(order["details"]["port_of_loading"], "BRSSZ");

    // Forbidden: a stranger reads it; the seller commits it; the buyer accepts it.
    errors.expect("stranger_reads_order", net.get(&o, &stranger_t).await, 404, "ORDER_NOT_FOUND");
    errors.expect(
        "seller_commits",
        net.post(&format!("{o}/commit"), &seller_t, json!({})).await,
        403,
        "NOT_BUYER_BANK",
    );
    errors.expect(
        "buyer_accepts",
        net.post(&format!("{o}/accept"), &buyer_t, json!({})).await,
        403,
        "NOT_ORDER_SELLER",
    );
    errors.expect(
        "stranger_accepts",
        net.post(&format!("{o}/accept"), &stranger_t, json!({})).await,
        404,
        "ORDER_NOT_FOUND",
    );
    errors.expect(
        "bank_commits_too_early",
        net.post(&format!("{o}/commit"), &buyer_bank_t, json!({})).await,
        409,
        "INVALID_STATE",
    );
    let (_, still) = net.get(&o, &buyer_t).await;
    assert_eq!(still["state"], "proposed", "forbidden attempts changed nothing");

    // Accept, commit.
    let (s, body) = net.post(&format!("{o}/accept"), &seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "accepted");
    errors.expect(
        "unknown_cover",
        net.post(&format!("{o}/commit"), &buyer_bank_t, json!({ "cover": "hope" })).await,
        422,
        "VALIDATION_FAILED",
    );
    let (s, body) = net.post(&format!("{o}/commit"), &buyer_bank_t, json!({ "cover": "earmark" })).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "committed");
    assert_eq!((body["cover"].as_str(), body["charges"].as_str()), (Some("earmark"), Some("shared")), "{body}");

    // Documents: invoice, then bill of lading attested by the carrier.
    let invoice = b"%PDF-1.7 commercial invoice 2026-001 USD 100,000.00".to_vec();
    let (s, body) = net.put_bytes(&format!("{o}/documents/commercial_invoice"), &seller_t, invoice.clone()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    errors.expect(
        "buyer_uploads",
        net.put_bytes(&format!("{o}/documents/commercial_invoice"), &buyer_t, b"x".to_vec()).await,
        403,
        "NOT_ORDER_SELLER",
    );
    let files = std::fs::read_dir(&net.state.files_dir).expect("files").count();
    assert_eq!(files, 1, "a refused upload stores no file");
    errors.expect(
        "unknown_document_type",
        net.put_bytes(&format!("{o}/documents/delivery_note"), &seller_t, b"x".to_vec()).await,
        422,
        "INVALID_DOCUMENT_TYPE",
    );
    // The bank finds a discrepancy; the seller presents a corrected invoice.
    let (s, body) = net
        .post(
            &format!("{o}/documents/commercial_invoice/reject"),
            &buyer_bank_t,
            json!({ "discrepancies": ["amount differs from the order", "invoice not signed"] }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["documents"][0]["state"], "rejected");
    assert_eq!(body["documents"][0]["discrepancies"], json!(["amount differs from the order", "invoice not signed"]));
    // UCP 600 art. 16(d): one notice per presentation; no discrepancy is added later.
    errors.expect(
        "second_refusal_of_a_presentation",
        net.post(
            &format!("{o}/documents/commercial_invoice/reject"),
            &buyer_bank_t,
            json!({ "discrepancies": ["port of loading differs"] }),
        )
        .await,
        409,
        "INVALID_DOCUMENT_STATE",
    );
    errors.expect(
        "refusal_without_a_discrepancy",
        net.post(&format!("{o}/documents/commercial_invoice/reject"), &buyer_bank_t, json!({ "discrepancies": [] }))
            .await,
        422,
        "INVALID_DISCREPANCIES",
    );
    let corrected = b"%PDF-1.7 commercial invoice 2026-001 rev 1 USD 100,000.00".to_vec();
    let (s, body) = net.put_bytes(&format!("{o}/documents/commercial_invoice"), &seller_t, corrected.clone()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["documents"][0]["version"], 2);
    let bl = b"%PDF-1.7 bill of lading ACL-77881 clean on board".to_vec();
    let (s, body) = net.put_bytes(&format!("{o}/documents/bill_of_lading"), &seller_t, bl).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    errors.expect(
        "accept_unattested_bill_of_lading",
        net.post(&format!("{o}/documents/bill_of_lading/accept"), &buyer_bank_t, json!({})).await,
        409,
        "DOCUMENT_NOT_ATTESTED",
    );
    errors.expect(
        "trader_attests",
        net.post(&format!("{o}/documents/bill_of_lading/attest"), &stranger_t, json!({ "shipment_date": date_in(0) }))
            .await,
        403,
        "WRONG_ISSUER",
    );
    errors.expect(
        "carrier_not_named_attests",
        net.post(
            &format!("{o}/documents/bill_of_lading/attest"),
            &other_carrier_t,
            json!({ "shipment_date": date_in(0) }),
        )
        .await,
        403,
        "WRONG_ISSUER",
    );
    errors.expect(
        "attestation_without_shipment_date",
        net.post(&format!("{o}/documents/bill_of_lading/attest"), &carrier_t, json!({})).await,
        422,
        "VALIDATION_FAILED",
    );
    errors.expect(
        "shipped_after_the_latest_shipment_date",
        net.post(&format!("{o}/documents/bill_of_lading/attest"), &carrier_t, json!({ "shipment_date": date_in(31) }))
            .await,
        422,
        "LATE_SHIPMENT",
    );
    let (s, body) = net
        .post(&format!("{o}/documents/bill_of_lading/attest"), &carrier_t, json!({ "shipment_date": date_in(0) }))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["attested"], true);
    assert_eq!(body["shipment_date"], date_in(0));
    for doc in ["commercial_invoice", "bill_of_lading"] {
        let (s, body) = net.post(&format!("{o}/documents/{doc}/accept"), &buyer_bank_t, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    let (_, body) = net.get(&o, &seller_t).await;
    assert_eq!(body["milestones"][0]["state"], "triggered", "{body}");
    assert_eq!(body["milestones"][1]["state"], "triggered", "{body}");

    // Download: parties only.
    let res = net
        .http
        .get(format!("{}{o}/documents/commercial_invoice/content", net.base))
        .bearer_auth(&buyer_bank_t)
        .send()
        .await
        .expect("download");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.expect("bytes").to_vec(), corrected);
    errors.expect(
        "stranger_downloads",
        net.get(&format!("{o}/documents/commercial_invoice/content"), &stranger_t).await,
        404,
        "ORDER_NOT_FOUND",
    );

    // Payment: released, then confirmed by the buyer's bank.
    for m in 0..2 {
        let (s, body) = net.post(&format!("{o}/milestones/{m}/release"), &seller_t, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    let (_, payments) = net.get("/v1/payments", &buyer_bank_t).await;
    let payments = payments.as_array().expect("payments").clone();
    assert_eq!(payments.len(), 2);
    let e2e: Vec<&str> = payments.iter().filter_map(|p| p["end_to_end_id"].as_str()).collect();
    assert!(e2e.contains(&format!("TC7431-{id}-0-1").as_str()), "{e2e:?}");
    errors.expect(
        "seller_confirms_payment",
        net.post(&format!("{o}/milestones/0/confirm"), &seller_t, json!({ "reference": "X" })).await,
        403,
        "NOT_PAYER",
    );
    for m in 0..2 {
        let reference = format!("TC7431-{id}-{m}-1");
        let (s, body) =
            net.post(&format!("{o}/milestones/{m}/confirm"), &buyer_bank_t, json!({ "reference": reference })).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    let (_, done) = net.get(&o, &buyer_t).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["paid_minor"], "10000000");
    let (_, paid) = net.get(&format!("{o}/payments"), &seller_t).await;
    assert_eq!(paid[0]["state"], "paid");
    assert_eq!(paid[0]["bank_reference"], format!("TC7431-{id}-0-1"));
    let kinds: Vec<&str> =
        done["timeline"].as_array().expect("timeline").iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"MilestoneDefined"));
    assert!(
        kinds.contains(&"OrderCommitted")
            && kinds.contains(&"PaymentConfirmed")
            && kinds.last() == Some(&"OrderCompleted"),
        "{kinds:?}"
    );

    // A financier without consent reads the seller's history.
    errors.expect(
        "financier_without_consent",
        net.get(&format!("/v1/firms/{seller}/orders"), &financier_t).await,
        403,
        "NO_LIVE_CONSENT",
    );
    errors.expect(
        "trader_reads_history",
        net.get(&format!("/v1/firms/{seller}/orders"), &buyer_t).await,
        403,
        "NOT_FINANCIER",
    );

    // Lists and filters.
    let (_, page) = net.get("/v1/orders?state=completed&role=seller", &seller_t).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    let (_, page) = net.get("/v1/orders", &stranger_t).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0), "{page}");
    errors.expect("bad_filter", net.get("/v1/orders?limit=1000", &seller_t).await, 422, "VALIDATION_FAILED");
    errors.expect("unknown_route", net.get("/v1/nothing", &seller_t).await, 404, "NOT_FOUND");

    // Rebuild: index, drop, rebuild, compare.
    let before = readmodel::dump_chain_tables(&net.state.db).await.expect("dump");
    net.stop().await;
    let db = net.state.db.clone();
    let indexer = Indexer::new(db.clone(), net.state.chain.clone(), net.state.operator.address());
    indexer.rebuild().await.expect("rebuild");
    let after = readmodel::dump_chain_tables(&db).await.expect("dump");
    assert!(before.contains("OrderCompleted"));
    assert_eq!(before, after, "the rebuilt read model equals the one indexed live");
    errors.0
}

/// POST a malformed body and return (status, body).
async fn malformed_post(net: &Net, token: &str) -> (StatusCode, Value) {
    let res = net
        .http
        .post(format!("{}/v1/orders", net.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    let status = res.status();
    (status, serde_json::from_str(&res.text().await.expect("text")).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_trade_with_forbidden_attempts_on_sqlite() {
    let errors = whole_trade(Net::start(Db::Sqlite).await).await;
    let snapshot: Vec<Value> = errors
        .into_iter()
        .map(|(name, status, body)| json!({ "case": name, "status": status, "body": body }))
        .collect();
    insta::assert_json_snapshot!("error_bodies", snapshot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_trade_with_forbidden_attempts_on_postgres() {
    let Some(db) = Db::postgres() else {
        eprintln!("TRADECHAIN_TEST_POSTGRES_URL not set: run through scripts/with-postgres.sh");
        return;
    };
    whole_trade(Net::start(db).await).await;
}

/// A payment attempt that failed stays failed in the payment history when the next one
/// is paid: a bank's failure is not rewritten as paid (nor the reverse) by the attempt
/// that followed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_attempt_stays_failed_when_the_next_is_paid() {
    for db in test_support::api::backends() {
        let mut net = Net::start(db).await;
        let (_, buyer_t) = net.onboard("Hanseatic Coffee Importers GmbH", &["trader"]).await;
        let (seller, seller_t) = net.onboard("Fazenda Boa Vista Ltda", &["trader"]).await;
        let (bank, bank_t) = net.onboard("Deutsche Handelsbank AG", &["bank"]).await;
        let (seller_bank, _) = net.onboard("Banco Paulista SA", &["bank"]).await;
        let proposal = json!({
            "seller": seller, "buyer_bank": bank, "seller_bank": seller_bank,
            "amount_minor": "100000", "currency": "USD", "incoterm": "FOB",
            "latest_shipment": date_in(30), "expiry": date_in(60),
            "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"], "tenor_days": 0 }]
        });
        let (s, order) = net.post("/v1/orders", &buyer_t, proposal).await;
        assert_eq!(s, StatusCode::CREATED, "{order}");
        let o = format!("/v1/orders/{}", order["id"].as_i64().expect("id"));
        let ok = |(s, body): (StatusCode, Value)| assert_eq!(s, StatusCode::OK, "{body}");
        ok(net.post(&format!("{o}/accept"), &seller_t, json!({})).await);
        ok(net.post(&format!("{o}/commit"), &bank_t, json!({})).await);
        let doc = format!("{o}/documents/commercial_invoice");
        ok(net.put_bytes(&doc, &seller_t, b"%PDF invoice".to_vec()).await);
        ok(net.post(&format!("{doc}/accept"), &bank_t, json!({})).await);
        ok(net.post(&format!("{o}/milestones/0/release"), &seller_t, json!({})).await);
        let failure = json!({ "reference": "PAY-1", "reason_code": "AM04", "reason": "insufficient funds" });
        ok(net.post(&format!("{o}/milestones/0/fail"), &bank_t, failure).await);
        ok(net.post(&format!("{o}/milestones/0/release"), &seller_t, json!({})).await);
        ok(net.post(&format!("{o}/milestones/0/confirm"), &bank_t, json!({ "reference": "PAY-2" })).await);

        let (s, payments) = net.get(&format!("{o}/payments"), &buyer_t).await;
        assert_eq!(s, StatusCode::OK, "{payments}");
        let mut seen: Vec<(String, String, String)> = payments
            .as_array()
            .expect("a list")
            .iter()
            .map(|p| {
                let text = |k: &str| p[k].as_str().unwrap_or_default().to_string();
                (text("end_to_end_id"), text("state"), text("bank_reference"))
            })
            .collect();
        seen.sort();
        let attempt = |p: &(String, String, String)| p.0.rsplit('-').next().unwrap_or_default().to_string();
        assert_eq!(seen.iter().map(attempt).collect::<Vec<_>>(), ["1", "2"], "{payments}");
        assert_eq!((seen[0].1.as_str(), seen[0].2.as_str()), ("failed", "PAY-1"), "{payments}");
        assert_eq!((seen[1].1.as_str(), seen[1].2.as_str()), ("paid", "PAY-2"), "{payments}");
        net.stop().await;
    }
}
