//! The duplicate-financing registry against its adversaries, over real HTTP: the brute
//! force that recovered an invoice from salted digests (everything on chain, every
//! member's configuration) finds nothing, and finds the invoice at once with the registry's
//! key (the positive control: the search itself is sound); the registry is no oracle (a
//! financier's questions are bounded per hour and each is audited for the firm); only the
//! consortium's nodes ask it directly; a rotation keeps catching what the old key
//! registered.

use alloy::primitives::{Address, B256, keccak256};
use alloy::sol_types::{SolCall, SolEvent};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use test_support::api::{Db, Net};
use test_support::fixtures::date_in;
use tradechain_api::readmodel;
use tradechain_contracts::Receivables;

struct Firm {
    seller: String,
    seller_t: String,
    buyer: String,
    buyer_t: String,
    bank_t: String,
    bank: String,
}

async fn firm(net: &Net) -> Firm {
    let (buyer, buyer_t) = net.onboard("Hanseatic Coffee Importers GmbH", &["trader"]).await;
    let (seller, seller_t) = net.onboard("Fazenda Boa Vista Ltda", &["trader"]).await;
    let (bank, bank_t) = net.onboard("Deutsche Handelsbank AG", &["bank"]).await;
    Firm { seller, seller_t, buyer, buyer_t, bank_t, bank }
}

async fn committed_order(net: &Net, f: &Firm) -> i64 {
    let proposal = json!({
        "seller": f.seller, "buyer_bank": f.bank, "seller_bank": f.bank,
        "amount_minor": "10000000", "currency": "USD", "incoterm": "FOB",
        "latest_shipment": date_in(30), "expiry": date_in(60),
        "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"], "tenor_days": 30 }]
    });
    let (s, order) = net.post("/v1/orders", &f.buyer_t, proposal).await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    let id = order["id"].as_i64().expect("id");
    assert_eq!(net.post(&format!("/v1/orders/{id}/accept"), &f.seller_t, json!({})).await.0, StatusCode::OK);
    assert_eq!(net.post(&format!("/v1/orders/{id}/commit"), &f.bank_t, json!({})).await.0, StatusCode::OK);
    id
}

fn offer(number: &str, date: &str) -> Value {
    json!({
        "kind": "receivable", "advance_minor": "9000000", "rate_bps": 250,
        "invoice": { "number": number, "date": date, "amount_minor": "10000000", "currency": "USD" }
    })
}

fn offers(order: i64) -> String {
    format!("/v1/orders/{order}/milestones/0/financing-offers")
}

/// `financier_t` offers on `order` against the invoice and the seller takes it: the
/// invoice is registered (an offer reserves nothing until the firm accepts it).
async fn financed(net: &Net, f: &Firm, order: i64, financier_t: &str, number: &str, date: &str) {
    let (s, body) = net.post(&offers(order), financier_t, offer(number, date)).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    let (s, body) = net.post(&format!("/v1/financings/{id}/accept"), &f.seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

/// The published construction (docs/privacy.md): HMAC-SHA256 over length-prefixed fields.
/// The algorithm is no secret; only the key is.
fn hmac_fields(key: &[u8], fields: &[&[u8]]) -> B256 {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    for f in fields {
        m.update(&u32::try_from(f.len()).expect("short").to_be_bytes());
        m.update(f);
    }
    B256::from_slice(&m.finalize().into_bytes())
}

fn encoding(fields: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        out.extend_from_slice(&u32::try_from(f.len()).expect("short").to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_fingerprints_on_chain_cannot_be_reversed_without_the_registrys_key() {
    let mut net = Net::start(Db::Sqlite).await;
    let f = firm(&net).await;
    let (_, financier_t) = net.onboard_financier("Nordic Trade Capital", &[&f.seller_t]).await;
    let order = committed_order(&net, &f).await;
    let (s, body) = net.post(&offers(order), &financier_t, offer("FBV-2026/0117", "2026-11-20")).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");

    // What the adversary holds: everything on chain (the offer's calldata and its events,
    // as a validator of the network sees them), and every member's configuration.
    let (_, chain) = net.get("/v1/chain", &net.operator_token).await;
    let receivables: Address = chain["receivables"].as_str().expect("receivables").parse().expect("address");
    let filter = json!([{ "fromBlock": "0x0", "address": receivables, "topics": [Receivables::NearKeysRecorded::SIGNATURE_HASH] }]);
    let rpc = json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": filter });
    let answer =
        net.http.post(format!("{}/", net.base)).header("content-type", "application/json").body(rpc.to_string());
    let text = answer.send().await.expect("rpc").text().await.expect("body");
    let logs: Value = serde_json::from_str(&text).expect("json");
    let log = &logs["result"][0];
    let tx = log["transactionHash"].as_str().expect("tx").parse().expect("hash");
    let raw = net.state.chain.transaction(tx).await.expect("chain").expect("mined");
    let envelope: alloy::consensus::TxEnvelope =
        alloy::eips::eip2718::Decodable2718::decode_2718(&mut raw.as_ref()).expect("a transaction");
    let call = Receivables::offerReceivableFinanceCall::abi_decode(alloy::consensus::Transaction::input(&envelope))
        .expect("an offer");
    let on_chain: Vec<B256> =
        [call.fps.invoice, call.near.key, call.near.amount, call.near.date, call.near.buyer].into();
    let (seller, buyer): (Address, Address) = (f.seller.parse().expect("seller"), f.buyer.parse().expect("buyer"));

    // Every member's configuration: a node's whole settings hold no registry secret (the
    // salt of earlier versions is gone); the adversary tries what it has as a key anyway.
    let config = serde_json::to_string(&tradechain_api::config::ApiConfig::default()).expect("config");
    assert!(!config.to_lowercase().contains("salt"), "{config}");
    let mut keys: Vec<Vec<u8>> = vec![Vec::new(), vec![0; 32], 7431u64.to_be_bytes().to_vec(), b"tradechain".to_vec()];
    keys.push(receivables.to_vec());
    keys.push(keccak256(config.as_bytes()).to_vec());

    // The search: the seller's invoice numbers of the year around the real one, every day
    // of the month, the order's amount (on chain) and currency.
    let mut candidates = Vec::new();
    for n in 100..200 {
        for day in 1..=30 {
            candidates.push((format!("FBV2026{n:04}"), format!("2026-11-{day:02}")));
        }
    }
    let fields = |number: &str, date: &str| -> Vec<Vec<u8>> {
        vec![
            b"invoice".to_vec(),
            seller.to_vec(),
            buyer.to_vec(),
            number.as_bytes().to_vec(),
            date.as_bytes().to_vec(),
            b"10000000".to_vec(),
            b"USD".to_vec(),
        ]
    };
    // Each construction the adversary can think of, against each digest on chain: the
    // invoice's fingerprint (number, date, amount) and its near key (number alone).
    let found = |key: &[u8], near_only: bool| -> Vec<(String, String)> {
        candidates
            .iter()
            .filter(|(number, date)| {
                let owned = fields(number, date);
                let parts: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
                let near: [&[u8]; 3] = [b"near", seller.as_slice(), number.as_bytes()];
                let tries = if near_only {
                    vec![hmac_fields(key, &near), keccak256([key, &encoding(&near)].concat())]
                } else {
                    vec![
                        hmac_fields(key, &parts),
                        keccak256([key, &encoding(&parts)].concat()),
                        B256::from_slice(&Sha256::digest([key, &encoding(&parts)].concat())),
                    ]
                };
                tries.iter().any(|t| on_chain.contains(t))
            })
            .cloned()
            .collect()
    };
    for key in &keys {
        for near_only in [false, true] {
            assert_eq!(found(key, near_only), Vec::<(String, String)>::new(), "recovered with a member's {key:?}");
        }
    }

    // The positive control: with the registry's key (sealed in its node's database under
    // the node's master key, which only that node's operator holds), the same search finds
    // the invoice, and only it.
    let row = readmodel::registry_key::Entity::find_by_id(1).one(&net.state.db).await.expect("db").expect("key v1");
    let key = net.state.keystore.open_secret(b"tradechain registry key v1", &row.sealed).expect("unseal");
    assert_eq!(found(&key, false), vec![("FBV20260117".to_string(), "2026-11-20".to_string())]);
    let numbers: std::collections::BTreeSet<String> = found(&key, true).into_iter().map(|(n, _)| n).collect();
    assert_eq!(numbers, ["FBV20260117".to_string()].into(), "the near key names the number, whatever the date");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_registry_is_no_oracle_questions_are_bounded_and_audited() {
    let mut net = Net::start(Db::Sqlite).await;
    let f = firm(&net).await;
    let (_, first_t) = net.onboard_financier("Nordic Trade Capital", &[&f.seller_t]).await;
    let (prober, prober_t) = net.onboard_financier("Lisbon Factoring SA", &[&f.seller_t]).await;
    let (_, stranger_t) = net.onboard("Antwerp Receivables NV", &["financier"]).await;
    let (taken, probe) = (committed_order(&net, &f).await, committed_order(&net, &f).await);
    financed(&net, &f, taken, &first_t, "FBV-2026/0117", "2026-11-20").await;

    // A financier the seller never let in gets the answer of an order that does not exist.
    let mut check = offer("FBV-2026/0117", "2026-11-20");
    check["order_id"] = json!(probe);
    check["milestone"] = json!(0);
    let (s, body) = net.post("/v1/financings/check", &stranger_t, check.clone()).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("ORDER_NOT_FOUND")), "{body}");

    // The prober walks the invoice numbers through the check route: each question is one
    // of its hourly allowance, the allowance runs out long before the space does, and the
    // real invoice, asked after it ran out, is refused like any other.
    let per_hour = net.state.config.registry.queries_per_hour;
    let mut asked = 0;
    for n in 0..per_hour {
        check["invoice"]["number"] = json!(format!("FBV-2026/{:04}", 1000 + n));
        let (s, body) = net.post("/v1/financings/check", &prober_t, check.clone()).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert!(body["refusal"].is_null(), "{body}");
        asked += 1;
    }
    check["invoice"]["number"] = json!("FBV-2026/0117");
    let (s, body) = net.post("/v1/financings/check", &prober_t, check.clone()).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("RATE_LIMITED")), "{body}");
    let (s, body) = net.post(&offers(probe), &prober_t, offer("FBV-2026/0117", "2026-11-20")).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("RATE_LIMITED")), "{body}");
    // Another financier's allowance is its own: the honest offer is still refused as the
    // duplicate it is.
    let (_, third_t) = net.onboard_financier("Rotterdam Trade Finance BV", &[&f.seller_t]).await;
    let (s, body) = net.post(&offers(probe), &third_t, offer("FBV-2026/0117", "2026-11-20")).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("DUPLICATE_FINGERPRINT")), "{body}");

    // The seller sees every question asked about it, by whom.
    let (_, overview) = net.get("/v1/consents", &f.seller_t).await;
    let by_prober = overview["reads"]
        .as_array()
        .expect("reads")
        .iter()
        .filter(|r| r["reader"] == json!(prober) && r["action"] == "registry_query")
        .count();
    assert_eq!(by_prober, asked as usize, "each question the registry answered is audited");

    // Only the consortium's nodes ask the registry directly, with its operator's credential.
    let invoice = json!({ "number": "FBV20260117", "date": "2026-11-20", "amount": 10_000_000, "currency": "USD" });
    let query =
        json!({ "financier": prober, "order_id": probe, "milestone": 0, "side": "receivable", "invoice": invoice });
    let direct = json!({ "query": query, "signed_at": 0, "signature": "0x" });
    let (s, body) = net.post("/v1/registry/fingerprints", &prober_t, direct.clone()).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("OPERATOR_ONLY")), "{body}");
    let (s, _) = net.call("POST", "/v1/registry/fingerprints", None, Some(direct)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotated_key_keeps_catching_what_the_old_key_registered() {
    let mut net = Net::start(Db::Sqlite).await;
    let f = firm(&net).await;
    let (_, first_t) = net.onboard_financier("Nordic Trade Capital", &[&f.seller_t]).await;
    let (_, second_t) = net.onboard_financier("Lisbon Factoring SA", &[&f.seller_t]).await;
    let (o1, o2, o3, o4) = (
        committed_order(&net, &f).await,
        committed_order(&net, &f).await,
        committed_order(&net, &f).await,
        committed_order(&net, &f).await,
    );
    financed(&net, &f, o1, &first_t, "FBV-2026/0117", "2026-11-20").await;

    // Only the operator rotates.
    let (s, body) = net.post("/v1/registry/rotate", &first_t, json!({})).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("OPERATOR_ONLY")), "{body}");
    let (s, body) = net.post("/v1/registry/rotate", &net.operator_token, json!({})).await;
    assert_eq!((s, body["version"].as_i64()), (StatusCode::OK, Some(2)), "{body}");
    let versions: Vec<(i32, bool)> = readmodel::registry_key::Entity::find()
        .all(&net.state.db)
        .await
        .expect("keys")
        .iter()
        .map(|k| (k.version, k.retired_at.is_some()))
        .collect();
    assert_eq!(versions, vec![(1, true), (2, false)], "the old key retires and keeps matching for the window");

    // The duplicate of an invoice registered under the old key is still refused.
    let (s, body) = net.post(&offers(o2), &second_t, offer("fbv 2026 0117", "2026-11-20")).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("DUPLICATE_FINGERPRINT")), "{body}");
    // A new invoice registers under the new key, and its duplicate is refused too.
    financed(&net, &f, o3, &first_t, "FBV-2026/0118", "2026-11-21").await;
    let (s, body) = net.post(&offers(o4), &second_t, offer("FBV-2026/0118", "2026-11-21")).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("DUPLICATE_FINGERPRINT")), "{body}");
    net.stop().await;
}
