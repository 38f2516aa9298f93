//! For which order a node keeps an order's details as written here (what it serves and
//! delivers as that order's): recorded by the block that indexes the writer's own proposal,
//! not by the request after its receipt, and never for a stranger who anchors the same
//! (public) hash.

use alloy::primitives::{Address, B256};
use alloy::sol_types::SolCall;
use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::api::{Net, backends};
use test_support::fixtures::date_in;
use tradechain_contracts::TradeOrders;

/// A proposal of `seller`'s goods, banked by `bank`, anchoring `details_hash`, as raw
/// `TradeOrders.propose` call data (what a member's own software sends).
fn propose_call(seller: &str, bank: &str, details_hash: B256) -> String {
    let now = tradechain_engine::node::unix_now();
    let bank: Address = bank.parse().expect("bank");
    let t = TradeOrders::OrderTerms {
        seller: seller.parse().expect("seller"),
        buyerBank: bank,
        sellerBank: bank,
        carrier: Address::ZERO,
        inspector: Address::ZERO,
        amount: 500_000,
        currency: "EUR".as_bytes().try_into().expect("bytes3"),
        incoterm: "CIF".as_bytes().try_into().expect("bytes3"),
        detailsHash: details_hash,
        latestShipment: now + 86_400 * 20,
        expiry: now + 86_400 * 40,
        examinationDays: 5,
        charges: tradechain_contracts::Charges::Shared as u8,
    };
    let terms = vec![TradeOrders::MilestoneTerms { shareBps: 10_000, fixedAmount: 0, requiredDocs: 1, tenorDays: 0 }];
    format!("0x{}", hex::encode(TradeOrders::proposeCall { t, terms }.abi_encode()))
}

/// The members of these tests and the honest buyer's first proposal, with its details.
struct Proposed {
    buyer_t: String,
    seller: String,
    seller_t: String,
    bank: String,
    mallory_t: String,
    /// The details the buyer sent.
    details: Value,
    /// The answer to its proposal.
    first: Value,
}

async fn proposed(net: &Net) -> Proposed {
    let (_, buyer_t) = net.onboard("Hanseatic Coffee Importers GmbH", &["trader"]).await;
    let (seller, seller_t) = net.onboard("Fazenda Boa Vista Ltda", &["trader"]).await;
    let (bank, _) = net.onboard("Deutsche Handelsbank AG", &["bank"]).await;
    let (_, mallory_t) = net.onboard("Mallory Trading", &["trader"]).await;
    let details = json!({ "notes": "19,200 kg Arabica, grade 1; price confidential" });
    let (s, first) = net
        .post(
            "/v1/orders",
            &buyer_t,
            json!({
                "seller": seller, "buyer_bank": bank, "seller_bank": bank,
                "amount_minor": "500000", "currency": "EUR", "incoterm": "CIF",
                "latest_shipment": date_in(20), "expiry": date_in(40),
                "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"], "tenor_days": 0 }],
                "details": details,
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    Proposed { buyer_t, seller, seller_t, bank, mallory_t, details, first }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn details_are_kept_for_their_writers_own_proposal_by_the_block_and_never_for_a_strangers() {
    for db in backends() {
        let mut net = Net::start(db).await;
        let Proposed { buyer_t, seller, seller_t, bank, mallory_t, details, first } = proposed(&net).await;
        assert_eq!(first["details"]["notes"], details["notes"], "the proposal's own response shows its details");
        let details = first["details"].clone();
        let hash: B256 = first["details_hash"].as_str().expect("hash").parse().expect("hash");
        let (_, chain) = net.get("/v1/chain", &buyer_t).await;
        let orders = chain["trade_orders"].as_str().expect("address").to_string();

        // The buyer proposes again with the details it stored, its transaction sent and
        // mined without the REST request's step after the receipt (as when the process dies
        // between the two): the block that indexes it records the details for the order.
        let call = json!({ "to": orders, "data": propose_call(&seller, &bank, hash) });
        let (s, sent) = net.post("/v1/transactions", &buyer_t, call.clone()).await;
        assert_eq!(s, StatusCode::OK, "{sent}");
        let (_, page) = net.get("/v1/orders?role=buyer", &buyer_t).await;
        let second = page["items"][0]["id"].as_i64().expect("id");
        assert_ne!(second, first["id"].as_i64().expect("id"), "{page}");
        for (who, token) in [("the buyer", &buyer_t), ("the seller", &seller_t)] {
            let (s, o) = net.get(&format!("/v1/orders/{second}"), token).await;
            assert_eq!(s, StatusCode::OK, "{o}");
            assert_eq!(o["details"], details, "{who} sees the details of the buyer's second order: {o}");
        }

        // Mallory, a member of the same node, anchors the same hash (public on chain) on an
        // order of her own with the same seller: no row of hers, so the node keeps nothing
        // for her order and shows it to no one.
        let (s, sent) = net.post("/v1/transactions", &mallory_t, call).await;
        assert_eq!(s, StatusCode::OK, "{sent}");
        let (_, page) = net.get("/v1/orders?role=buyer", &mallory_t).await;
        let hers = page["items"][0]["id"].as_i64().expect("id");
        for (who, token) in [("Mallory", &mallory_t), ("the seller", &seller_t)] {
            let (s, o) = net.get(&format!("/v1/orders/{hers}"), token).await;
            assert_eq!(s, StatusCode::OK, "{o}");
            assert_eq!(o["details_hash"], format!("{hash:#x}"), "the hash is anchored on her order: {o}");
            assert_eq!(o["details"], Value::Null, "{who} sees nothing of the honest buyer's details: {o}");
        }
        net.stop().await;
    }
}

/// The indexer writes a block's proposals together (one read of the stored details for all
/// of them): Mallory's proposal anchoring the honest buyer's hash, mined in the very block
/// of the buyer's own, still gets nothing, and the buyer's still gets its details.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_strangers_proposal_in_the_writers_own_block_gets_none_of_the_details() {
    for db in backends() {
        // Blocks gather what arrives within 300 ms: the two proposals share one.
        let mut net = Net::start_gathering(db, 300).await;
        let Proposed { buyer_t, seller, seller_t, bank, mallory_t, first, .. } = proposed(&net).await;
        let hash: B256 = first["details_hash"].as_str().expect("hash").parse().expect("hash");
        let (_, chain) = net.get("/v1/chain", &buyer_t).await;
        let orders = chain["trade_orders"].as_str().expect("address").to_string();
        let call = json!({ "to": orders, "data": propose_call(&seller, &bank, hash) });

        let ((s1, mine), (s2, hers)) = tokio::join!(
            net.post("/v1/transactions", &mallory_t, call.clone()),
            net.post("/v1/transactions", &buyer_t, call)
        );
        assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{mine} {hers}");
        assert_eq!(mine["block"], hers["block"], "both proposals in one block: {mine} {hers}");

        let newest = |token: &str| {
            let net = &net;
            let token = token.to_string();
            async move {
                let (_, page) = net.get("/v1/orders?role=buyer", &token).await;
                page["items"][0]["id"].as_i64().expect("id")
            }
        };
        let (buyers, mallorys) = (newest(&buyer_t).await, newest(&mallory_t).await);
        for (who, token) in [("the buyer", &buyer_t), ("the seller", &seller_t)] {
            let (s, o) = net.get(&format!("/v1/orders/{buyers}"), token).await;
            assert_eq!(s, StatusCode::OK, "{o}");
            assert_eq!(o["details"], first["details"], "{who} sees the details of the buyer's own order: {o}");
        }
        for (who, token) in [("Mallory", &mallory_t), ("the seller", &seller_t)] {
            let (s, o) = net.get(&format!("/v1/orders/{mallorys}"), token).await;
            assert_eq!(s, StatusCode::OK, "{o}");
            assert_eq!(o["details_hash"], format!("{hash:#x}"), "the hash is anchored on her order: {o}");
            assert_eq!(o["details"], Value::Null, "{who} sees nothing of the honest buyer's details: {o}");
        }
        net.stop().await;
    }
}

/// Proposals arriving together have their details stored in one commit: each order still
/// shows its own proposer's details, none another's, none lost; details proposed twice at
/// once, by one buyer or by two, are kept for each of those orders.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn details_stored_together_each_stay_with_their_own_order() {
    for db in backends() {
        let mut net = Net::start_gathering(db, 50).await;
        let (seller, seller_t) = net.onboard("Fazenda Boa Vista Ltda", &["trader"]).await;
        let (bank, _) = net.onboard("Deutsche Handelsbank AG", &["bank"]).await;
        let mut buyers = Vec::new();
        for name in ["Hanseatic Coffee Importers GmbH", "Nordsee Roasters AG", "Alpen Kaffee GmbH"] {
            buyers.push((name, net.onboard(name, &["trader"]).await.1));
        }
        let mut proposals = Vec::new();
        for (b, (name, token)) in buyers.iter().enumerate() {
            for k in 0..4 {
                // The last two of the first two buyers' proposals: the same details, all four.
                let notes = if b < 2 && k >= 2 {
                    "A standard lot: the same details".to_string()
                } else {
                    format!("{name}: lot {k}, price confidential")
                };
                let body = json!({
                    "seller": seller, "buyer_bank": bank, "seller_bank": bank,
                    "amount_minor": format!("{}", 500_000 + k), "currency": "EUR", "incoterm": "CIF",
                    "latest_shipment": date_in(20), "expiry": date_in(40),
                    "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"], "tenor_days": 0 }],
                    "details": { "notes": notes },
                });
                proposals.push((token.clone(), notes, body));
            }
        }
        let net_ = &net;
        let proposals = proposals.into_iter().map(|(token, notes, body)| async move {
            let answer = net_.post("/v1/orders", &token, body).await;
            (token, notes, answer)
        });
        let created = futures_util::future::join_all(proposals).await;
        for (token, notes, (s, o)) in created {
            assert_eq!(s, StatusCode::CREATED, "{o}");
            assert_eq!(o["details"]["notes"], notes, "the answer shows its own details: {o}");
            let id = o["id"].as_i64().expect("id");
            for (who, token) in [("its buyer", token.as_str()), ("the seller", seller_t.as_str())] {
                let (s, o) = net.get(&format!("/v1/orders/{id}"), token).await;
                assert_eq!(s, StatusCode::OK, "{o}");
                assert_eq!(o["details"]["notes"], notes, "{who} sees the order's own details: {o}");
            }
        }
        net.stop().await;
    }
}
