//! A firm's credit profile over real HTTP on loopback: a known history (trades as buyer
//! and seller, two currencies, two counterparties, one payment three days late, one
//! dispute, one rejected document), every figure asserted exactly, every cited event
//! checked against the chain at `/v1/proofs`, the reference pages equal to the inline
//! references, and the consent rules (none, expired, revoked, not a financier) refused
//! and audited. SQLite, and PostgreSQL under `scripts/with-postgres.sh`.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::api::{Db, Net};
use test_support::fixtures::date_in;
use tradechain_api::credit::{ChainRef, digest};

struct Firms {
    firm: String,
    firm_t: String,
    a: String,
    a_t: String,
    b: String,
    b_t: String,
    bank: String,
    bank_t: String,
    seller_bank: String,
}

fn expect_error(got: (StatusCode, Value), status: u16, code: &str) {
    assert_eq!(got.0.as_u16(), status, "{}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{}", got.1);
}

/// A committed order: `buyer_t` buys from `seller` for `amount` minor units of `currency`,
/// one milestone at sight against the commercial invoice.
async fn committed(
    net: &Net,
    f: &Firms,
    buyer_t: &str,
    seller: &str,
    seller_t: &str,
    amount: &str,
    currency: &str,
) -> i64 {
    let proposal = json!({
        "seller": seller, "buyer_bank": f.bank, "seller_bank": f.seller_bank,
        "amount_minor": amount, "currency": currency, "incoterm": "FOB",
        "latest_shipment": date_in(30), "expiry": date_in(60),
        "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"], "tenor_days": 0 }]
    });
    let (s, order) = net.post("/v1/orders", buyer_t, proposal).await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    let id = order["id"].as_i64().expect("id");
    let (s, body) = net.post(&format!("/v1/orders/{id}/accept"), seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = net.post(&format!("/v1/orders/{id}/commit"), &f.bank_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    id
}

/// The seller presents the invoice (rejected once first when `reject_first`), the bank
/// accepts, the seller releases the milestone, the bank pays `days_late` days after.
async fn paid(net: &Net, f: &Firms, id: i64, seller_t: &str, reject_first: bool, days_late: u64) -> i64 {
    let o = format!("/v1/orders/{id}");
    let doc = format!("{o}/documents/commercial_invoice");
    if reject_first {
        let (s, body) = net.put_bytes(&doc, seller_t, b"%PDF invoice draft".to_vec()).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let (s, body) =
            net.post(&format!("{doc}/reject"), &f.bank_t, json!({ "discrepancies": ["amount differs"] })).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    let (s, body) = net.put_bytes(&doc, seller_t, format!("%PDF invoice of order {id}").into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = net.post(&format!("{doc}/accept"), &f.bank_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = net.post(&format!("{o}/milestones/0/release"), seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    if days_late > 0 {
        net.node.increase_time(days_late * 86_400).expect("time");
        net.node.mine(None).expect("mine");
    }
    let (s, body) =
        net.post(&format!("{o}/milestones/0/confirm"), &f.bank_t, json!({ "reference": format!("PAY-{id}") })).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "completed", "{body}");
    // When the order completed (block time), from its timeline.
    body["timeline"]
        .as_array()
        .and_then(|t| t.iter().find(|e| e["kind"] == "OrderCompleted"))
        .and_then(|e| e["at"].as_i64())
        .expect("OrderCompleted in the timeline")
}

fn figure<'a>(profile: &'a Value, name: &str) -> &'a Value {
    profile["figures"].as_array().and_then(|f| f.iter().find(|f| f["name"] == name)).unwrap_or(&Value::Null)
}

/// (kind, order id) of each inline reference of a figure, in order.
fn cited(profile: &Value, name: &str) -> Vec<(String, i64)> {
    figure(profile, name)["proof"]["references"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|r| (r["kind"].as_str().unwrap_or("").to_string(), r["order_id"].as_i64().unwrap_or(-1)))
                .collect()
        })
        .unwrap_or_default()
}

fn refs(v: &Value) -> Vec<ChainRef> {
    v.as_array()
        .expect("references")
        .iter()
        .map(|r| ChainRef {
            block: r["block"].as_i64().expect("block"),
            log_index: r["log_index"].as_i64().expect("log index"),
            tx_hash: r["tx_hash"].as_str().expect("tx hash").to_string(),
            kind: r["kind"].as_str().expect("kind").to_string(),
            order_id: r["order_id"].as_i64().expect("order id"),
        })
        .collect()
}

fn date(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).expect("timestamp").format("%Y-%m-%d").to_string()
}

fn quarter(ts: i64) -> String {
    use chrono::Datelike;
    let d = chrono::DateTime::from_timestamp(ts, 0).expect("timestamp");
    format!("{}-Q{}", d.year(), d.month0() / 3 + 1)
}

async fn credit_profile(mut net: Net) {
    let (firm, firm_t) = net.onboard("Hanseatic Coffee Importers GmbH", &["trader"]).await;
    let (a, a_t) = net.onboard("Fazenda Boa Vista Ltda", &["trader"]).await;
    let (b, b_t) = net.onboard("Cafe Altura SAS", &["trader"]).await;
    let (bank, bank_t) = net.onboard("Deutsche Handelsbank AG", &["bank"]).await;
    let (seller_bank, _) = net.onboard("Banco Paulista SA", &["bank"]).await;
    let (financier, financier_t) = net.onboard("Nordic Trade Capital", &["financier"]).await;
    let (second, second_t) = net.onboard("Lisbon Factoring SA", &["financier"]).await;
    let (_, stranger_t) = net.onboard("Unrelated Trading Co", &["trader"]).await;
    let f = Firms { firm, firm_t, a, a_t, b, b_t, bank, bank_t, seller_bank };
    let profile_path = format!("/v1/firms/{}/credit-profile", f.firm);

    // The history: three purchases (USD from A on time and 3 days late, EUR from B), one
    // sale to B (its invoice rejected once), and a disputed purchase from A.
    let o1 = committed(&net, &f, &f.firm_t, &f.a, &f.a_t, "100000", "USD").await;
    let t1 = paid(&net, &f, o1, &f.a_t, false, 0).await;
    let o2 = committed(&net, &f, &f.firm_t, &f.a, &f.a_t, "50000", "USD").await;
    let t2 = paid(&net, &f, o2, &f.a_t, false, 3).await;
    let o3 = committed(&net, &f, &f.firm_t, &f.b, &f.b_t, "20000", "EUR").await;
    let t3 = paid(&net, &f, o3, &f.b_t, false, 0).await;
    let o4 = committed(&net, &f, &f.b_t, &f.firm, &f.firm_t, "30000", "USD").await;
    let t4 = paid(&net, &f, o4, &f.firm_t, true, 0).await;
    let o5 = committed(&net, &f, &f.firm_t, &f.a, &f.a_t, "1000", "USD").await;
    let (s, body) =
        net.post(&format!("/v1/orders/{o5}/disputes"), &f.firm_t, json!({ "reason": "short shipment" })).await;
    assert_eq!(s, StatusCode::OK, "{body}");

    // No consent yet, not a financier: refused.
    expect_error(net.get(&profile_path, &financier_t).await, 403, "NO_LIVE_CONSENT");
    expect_error(net.get(&profile_path, &f.a_t).await, 403, "NOT_FINANCIER");

    // The firm grants both financiers; the first until 10 days from now.
    for (token, until) in [(&financier_t, 10), (&second_t, 90)] {
        let (s, req) =
            net.post("/v1/verification-requests", token, json!({ "firm": f.firm, "purpose": "credit line" })).await;
        assert_eq!(s, StatusCode::CREATED, "{req}");
        let rid = req["id"].as_i64().expect("request id");
        let (s, body) = net
            .post(&format!("/v1/verification-requests/{rid}/grant"), &f.firm_t, json!({ "expires_at": date_in(until) }))
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }

    let (s, profile) = net.get(&profile_path, &financier_t).await;
    assert_eq!(s, StatusCode::OK, "{profile}");
    assert_eq!(profile["firm"], f.firm);
    let value = |name: &str| figure(&profile, name)["value"].clone();
    assert_eq!(value("completed_as_buyer"), json!(3));
    assert_eq!(value("completed_as_seller"), json!(1));
    assert_eq!(value("volume_as_buyer"), json!({ "EUR": "20000", "USD": "150000" }));
    assert_eq!(value("volume_as_seller"), json!({ "USD": "30000" }));
    assert_eq!(value("on_time_payment_rate"), json!({ "paid": 3, "on_time": 2, "rate_bps": 6666 }));
    assert_eq!(value("days_late"), json!({ "late": 1, "average": "3.00", "worst": 3 }));
    assert_eq!(value("disputes_raised"), json!(1));
    assert_eq!(value("documents_rejected_as_seller"), json!(1));
    assert_eq!(value("counterparties"), json!(2));
    assert_eq!(
        value("concentration"),
        json!([
            { "currency": "EUR", "largest_counterparty": f.b, "share_bps": 10000 },
            { "currency": "USD", "largest_counterparty": f.a, "share_bps": 8333 },
        ])
    );
    type Quarter = (i64, BTreeMap<&'static str, u128>);
    let mut trend: BTreeMap<String, Quarter> = BTreeMap::new();
    for (t, currency, amount) in [(t1, "USD", 100000u128), (t2, "USD", 50000), (t3, "EUR", 20000), (t4, "USD", 30000)] {
        let q = trend.entry(quarter(t)).or_default();
        q.0 += 1;
        *q.1.entry(currency).or_default() += amount;
    }
    let expected_trend: Vec<Value> = trend
        .iter()
        .map(|(q, (n, vol))| {
            let volume: serde_json::Map<String, Value> =
                vol.iter().map(|(c, v)| ((*c).to_string(), Value::String(v.to_string()))).collect();
            json!({ "quarter": q, "orders": n, "volume": volume })
        })
        .collect();
    assert_eq!(value("quarterly_trend"), Value::Array(expected_trend));
    assert_eq!(value("trading_period"), json!({ "first": date(t1), "last": date(t4) }));

    // What each figure cites.
    let completed = |ids: &[i64]| ids.iter().map(|i| ("OrderCompleted".to_string(), *i)).collect::<Vec<_>>();
    assert_eq!(cited(&profile, "completed_as_buyer"), completed(&[o1, o2, o3]));
    assert_eq!(cited(&profile, "volume_as_buyer"), completed(&[o1, o2, o3]));
    assert_eq!(cited(&profile, "completed_as_seller"), completed(&[o4]));
    assert_eq!(cited(&profile, "counterparties"), completed(&[o1, o2, o3, o4]));
    assert_eq!(cited(&profile, "trading_period"), completed(&[o1, o4]));
    let payment = |id: i64| vec![("MilestoneTriggered".to_string(), id), ("PaymentConfirmed".to_string(), id)];
    assert_eq!(cited(&profile, "on_time_payment_rate"), [payment(o1), payment(o2), payment(o3)].concat());
    assert_eq!(cited(&profile, "days_late"), payment(o2));
    assert_eq!(cited(&profile, "disputes_raised"), vec![("DisputeRaised".to_string(), o5)]);
    assert_eq!(cited(&profile, "documents_rejected_as_seller"), vec![("DocumentRejected".to_string(), o4)]);

    // Every proof: count and digest match its references; the paginated list gives the
    // same; every reference verifies against the chain.
    let mut all: BTreeSet<ChainRef> = BTreeSet::new();
    for fig in profile["figures"].as_array().expect("figures") {
        let name = fig["name"].as_str().expect("name");
        let proof = &fig["proof"];
        let inline = refs(&proof["references"]);
        assert_eq!(proof["count"].as_u64(), Some(inline.len() as u64), "{name}");
        assert_eq!(proof["digest"], format!("{:#x}", digest(&inline)), "{name}");
        let mut listed = Vec::new();
        let mut next = Some(0u64);
        while let Some(offset) = next {
            let (s, page) = net
                .get(&format!("{}&offset={offset}&limit=2", proof["list"].as_str().expect("list")), &financier_t)
                .await;
            assert_eq!(s, StatusCode::OK, "{page}");
            assert_eq!(page["digest"], proof["digest"], "{name}");
            listed.extend(refs(&page["items"]));
            next = page["next_offset"].as_u64();
        }
        assert_eq!(listed, inline, "{name}: the pages list the inline references");
        all.extend(inline);
    }
    for r in &all {
        let check = format!(
            "/v1/proofs/{}?log_index={}&kind={}&order_id={}&block={}",
            r.tx_hash, r.log_index, r.kind, r.order_id, r.block
        );
        let (s, body) = net.get(&check, &financier_t).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert_eq!(body["verified"], true, "{r:?}: {body}");
        assert_eq!(body["log"]["kind"], r.kind.as_str());
        assert_eq!(body["block"]["number"].as_i64(), Some(r.block));
        assert_eq!(body["transaction"]["hash"], r.tx_hash.as_str());
    }
    // A claim the chain does not back is not verified; a stranger cannot check at all.
    let r = all.iter().find(|r| r.kind == "PaymentConfirmed").expect("a payment");
    let (s, body) =
        net.get(&format!("/v1/proofs/{}?log_index={}&kind=OrderCompleted", r.tx_hash, r.log_index), &financier_t).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["verified"], false, "{body}");
    expect_error(
        net.get(&format!("/v1/proofs/{}?log_index={}", r.tx_hash, r.log_index), &stranger_t).await,
        404,
        "PROOF_NOT_FOUND",
    );
    expect_error(
        net.get(&format!("/v1/proofs/{}?log_index=999", r.tx_hash), &financier_t).await,
        404,
        "PROOF_NOT_FOUND",
    );
    expect_error(
        net.get(&format!("{profile_path}/references?figure=nope"), &financier_t).await,
        404,
        "FIGURE_NOT_FOUND",
    );

    // The snapshot a person reviews: addresses, hashes, blocks and dates redacted; the
    // trend too (asserted exactly above; it spans two quarters when run at a quarter's end).
    let mut shown = profile.clone();
    if let Some(trend) =
        shown["figures"].as_array_mut().and_then(|f| f.iter_mut().find(|f| f["name"] == "quarterly_trend"))
    {
        trend["value"] = json!("[per calendar quarter: asserted above]");
    }
    let shown: Value = serde_json::from_str(&test_support::redact::hex(&shown.to_string())).expect("json");
    insta::assert_json_snapshot!("credit_profile", shown, {
        ".as_of_block" => "[block]",
        ".figures[].proof.references[].block" => "[block]",
        ".figures[].proof.references[].log_index" => "[log index]",
        ".figures[].value.first" => "[date]",
        ".figures[].value.last" => "[date]",
    });

    // Revoked: the second financier is refused; expired: so is the first, 12 days on.
    let (s, body) = net.get(&profile_path, &second_t).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = net.post(&format!("/v1/consents/{second}/revoke"), &f.firm_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    expect_error(net.get(&profile_path, &second_t).await, 403, "NO_LIVE_CONSENT");
    net.node.increase_time(12 * 86_400).expect("time");
    net.node.mine(None).expect("mine");
    expect_error(net.get(&profile_path, &financier_t).await, 403, "NO_LIVE_CONSENT");
    expect_error(
        net.get(
            &format!("{}&offset=0", figure(&profile, "disputes_raised")["proof"]["list"].as_str().unwrap_or("")),
            &financier_t,
        )
        .await,
        403,
        "NO_LIVE_CONSENT",
    );

    // Every attempt is in the audit log, and the firm sees it.
    let (_, overview) = net.get("/v1/consents", &f.firm_t).await;
    let reads: Vec<(String, String)> = overview["reads"]
        .as_array()
        .expect("reads")
        .iter()
        .map(|r| (r["reader"].as_str().unwrap_or("").to_string(), r["action"].as_str().unwrap_or("").to_string()))
        .collect();
    let (served, refused) = ("credit_profile".to_string(), "credit_profile_refused".to_string());
    let pages = reads.iter().filter(|r| r.0 == financier && r.1 == served).count();
    assert!(pages > 1, "the profile and its reference pages are audited: {reads:?}");
    // Each proof the financier checked on the strength of the consent is a read of the
    // firm's history too (the claim the chain did not back included).
    let proof_read = "proof_read".to_string();
    let checked = reads.iter().filter(|r| r.0 == financier && r.1 == proof_read).count();
    assert_eq!(checked, all.len() + 1, "{reads:?}");
    let mut expected = vec![(financier.clone(), refused.clone()), (f.a.clone(), refused.clone())];
    expected.extend(std::iter::repeat_n((financier.clone(), served.clone()), pages));
    expected.extend(std::iter::repeat_n((financier.clone(), proof_read), checked));
    expected.extend([
        (second.clone(), served.clone()),
        (second.clone(), refused.clone()),
        (financier.clone(), refused.clone()),
        (financier.clone(), refused.clone()),
    ]);
    assert_eq!(reads, expected, "{overview}");

    // Rebuilt from block 0, the whole history in runs of many blocks whose facts are
    // appended per firm: the credit facts (and the rest of the read model) are those
    // indexed block by block, each fact with its own order's firms.
    let before = tradechain_api::readmodel::dump_chain_tables(&net.state.db).await.expect("dump");
    net.stop().await;
    let indexer = tradechain_api::indexer::Indexer::new(
        net.state.db.clone(),
        net.state.chain.clone(),
        net.state.operator.address(),
    );
    indexer.rebuild().await.expect("rebuild");
    let after = tradechain_api::readmodel::dump_chain_tables(&net.state.db).await.expect("dump");
    assert!(before.contains("MilestoneTriggered") && before.contains(&f.b), "the dump holds the credit facts");
    assert_eq!(before, after, "the rebuilt read model equals the one indexed live");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn credit_profile_figures_are_exact_and_every_cited_event_verifies_on_chain_on_sqlite() {
    credit_profile(Net::start(Db::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn credit_profile_figures_are_exact_and_every_cited_event_verifies_on_chain_on_postgres() {
    let Some(db) = Db::postgres() else {
        eprintln!("TRADECHAIN_TEST_POSTGRES_URL not set: run through scripts/with-postgres.sh");
        return;
    };
    credit_profile(Net::start(db).await).await;
}
