//! A consortium of member nodes on one Hardhat network, each with its own data directory
//! and read model (one on PostgreSQL when the test script provides it), talking over real
//! HTTP: node A serves the exporter, its bank and the carrier; node B the importer and its
//! bank; node C a financier and an unrelated trader. An order's private data reaches the
//! nodes of those entitled to it, and no other; a node that was down gets everything when
//! it is back; and what a dishonest node (or a stranger) pushes is refused and logged.
//!
//! Needs TRADECHAIN_TEST_HARDHAT_URL (scripts/with-hardhat.sh); skipped without it locally,
//! failing when TRADECHAIN_REQUIRE_HARDHAT=1 as in CI.

use std::net::SocketAddr;
use std::time::Duration;

use alloy::primitives::{B256, keccak256};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use sha2::Digest as _;
use test_support::api::{Db, MemberNode, RemoteApi};
use test_support::fixtures::date_after;
use tradechain_api::readmodel::{document_file, order_detail, peer_outbox, peer_receipt};
use tradechain_chain::Chain;
use tradechain_chain::remote::RemoteChain;
use tradechain_peer::envelope::{Kind, NodeKey, Subject, seal};

const BILL_OF_LADING: &[u8] =
    b"%PDF-1.7\n% bill of lading MAEU-2611-0042: 18 t green coffee, Santos to Hamburg\n%%EOF\n";

/// A member's node: the API, its data directory (kept for a restart), its read model.
struct Member {
    api: RemoteApi,
    dir: tempfile::TempDir,
    database_url: String,
}

impl Member {
    async fn start(url: &str, operator: &alloy::signers::local::PrivateKeySigner, database_url: String) -> Member {
        let dir = tempfile::tempdir().expect("tempdir");
        let api = RemoteApi::start_member(MemberNode {
            url,
            operator,
            database_url: database_url.clone(),
            data_dir: dir.path().join("api"),
            peer: "127.0.0.1:0".parse().expect("addr"),
        })
        .await;
        Member { api, dir, database_url }
    }

    fn peer(&self) -> String {
        self.api.peer.clone().expect("a peer endpoint")
    }

    /// Stop the node and start it again on the same directory, read model and peer port.
    async fn restart(&mut self, url: &str, operator: &alloy::signers::local::PrivateKeySigner) {
        let peer: SocketAddr = self.peer().trim_start_matches("http://").parse().expect("addr");
        self.api.stop().await;
        self.api = RemoteApi::start_member(MemberNode {
            url,
            operator,
            database_url: self.database_url.clone(),
            data_dir: self.dir.path().join("api"),
            peer,
        })
        .await;
    }
}

fn sqlite(dir: &tempfile::TempDir, name: &str) -> String {
    format!("sqlite://{}?mode=rwc", dir.path().join(format!("{name}.sqlite")).display())
}

/// Poll `check` until it holds (30 s at most).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never happened: {what}");
}

async fn chain_now(chain: &RemoteChain) -> u64 {
    let head = chain.head().await.expect("head");
    chain.block_header(head).await.expect("header").expect("head").timestamp
}

/// `member` registers `node`'s peer endpoint at that node, the operator approves it, and
/// each of `served` (tokens at that node) chooses it; its id.
async fn join(node: &RemoteApi, member_t: &str, served: &[&str]) -> u64 {
    let (s, body) = node.post("/v1/nodes", member_t, json!({ "endpoint": node.peer.clone().expect("peer") })).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["this_node"], true, "{body}");
    assert_eq!(body["approved"], false, "{body}");
    let id = body["id"].as_u64().expect("id");
    let (s, body) = node.post(&format!("/v1/nodes/{id}/approve"), &node.token, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    for token in served {
        let (s, body) = node.put("/v1/organisations/me/node", token, json!({ "node_id": id })).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    id
}

async fn has_details(node: &RemoteApi, hash: &str) -> bool {
    order_detail::Entity::find_by_id(hash.to_string()).one(&node.state.db).await.expect("db").is_some()
}

async fn has_file(node: &RemoteApi, hash: &str) -> bool {
    document_file::Entity::find_by_id(hash.to_string()).one(&node.state.db).await.expect("db").is_some()
}

/// The rows `node` planned for node `to` of the item whose hash is `hash`.
async fn planned_for(node: &RemoteApi, to: u64, hash: &str) -> Vec<peer_outbox::Model> {
    peer_outbox::Entity::find()
        .filter(peer_outbox::Column::RecipientNode.eq(i64::try_from(to).expect("id")))
        .filter(peer_outbox::Column::ContentHash.eq(hash))
        .all(&node.state.db)
        .await
        .expect("db")
}

async fn receipts(node: &RemoteApi, order: i64) -> Vec<peer_receipt::Model> {
    peer_receipt::Entity::find()
        .filter(peer_receipt::Column::OrderId.eq(order))
        .order_by_asc(peer_receipt::Column::Id)
        .all(&node.state.db)
        .await
        .expect("db")
}

/// Release the at-sight payment, moving the network's clock a day at a time while the
/// paying bank's next banking day has not come (Hardhat's clock may stand on a weekend).
async fn release(node: &RemoteApi, chain: &RemoteChain, order: i64, token: &str) {
    for _ in 0..4 {
        let (s, body) = node.post(&format!("/v1/orders/{order}/milestones/0/release"), token, json!({})).await;
        if s == StatusCode::OK {
            return;
        }
        assert_eq!(body["error"]["code"], "NOT_DUE_YET", "{body}");
        let _: Value = chain.rpc().request("evm_increaseTime", json!([86_400])).await.expect("time");
        let _: Value = chain.rpc().request("evm_mine", json!([])).await.expect("mine");
        let head = chain.head().await.expect("head");
        assert!(node.state.indexer.wait_for(head, Duration::from_secs(30)).await);
    }
    panic!("the payment never fell due");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn private_data_reaches_the_entitled_nodes_only_across_a_restart_and_a_consent() {
    // A network of its own: presentation, attestation and examination run on banking days,
    // and the scenarios beside it move the shared node's clock a week at a time.
    let Some(hardhat) = test_support::hardhat::OwnHardhat::start() else { return };
    let url = hardhat.url.clone();
    let (operator, chain) = test_support::hardhat::deployed(&url).await;
    let dbs = tempfile::tempdir().expect("tempdir");
    let c_db = match Db::postgres() {
        Some(Db::Postgres(pg)) => test_support::api::fresh_postgres(&pg).await,
        _ => sqlite(&dbs, "c"),
    };
    let a = Member::start(&url, &operator, sqlite(&dbs, "a")).await;
    let mut b = Member::start(&url, &operator, sqlite(&dbs, "b")).await;
    let c = Member::start(&url, &operator, c_db).await;

    let (exporter, exporter_t) = a.api.onboard("Fazenda Boa Vista", &["trader"]).await;
    let (exporter_bank, exporter_bank_t) = a.api.onboard("Banco do Cafe", &["bank"]).await;
    let (carrier, carrier_t) = a.api.onboard("Atlantic Lines", &["carrier"]).await;
    let (importer, importer_t) = b.api.onboard("Hanseatic Importers", &["trader"]).await;
    let (importer_bank, importer_bank_t) = b.api.onboard("Handelsbank", &["bank"]).await;
    let (financier, financier_t) = c.api.onboard("Harbour Capital", &["financier"]).await;
    let (_, stranger_t) = c.api.onboard("Unrelated Trading", &["trader"]).await;

    let node_a = join(&a.api, &exporter_bank_t, &[&exporter_t, &exporter_bank_t, &carrier_t]).await;
    let node_b = join(&b.api, &importer_bank_t, &[&importer_t, &importer_bank_t]).await;
    // Run by the unrelated trader: suspending the financier leaves the node itself approved.
    let node_c = join(&c.api, &stranger_t, &[&financier_t, &stranger_t]).await;
    let (s, dir) = c.api.get("/v1/nodes", &stranger_t).await;
    assert_eq!(s, StatusCode::OK, "{dir}");
    assert_eq!(dir["node_id"], node_c, "{dir}");
    assert_eq!(dir["nodes"].as_array().map(Vec::len), Some(3), "{dir}");

    // The importer proposes at B; the exporter sees the details at A.
    let now = chain_now(&chain).await;
    let details = json!({ "line_items": [{ "description": "green coffee, Santos NY 2/3", "quantity": "18000",
        "unit": "kg", "unit_price_minor": "450" }], "port_of_loading": "BRSSZ", "port_of_discharge": "DEHAM" });
    let proposal = json!({
        "seller": exporter, "buyer_bank": importer_bank, "seller_bank": exporter_bank, "carrier": carrier,
        "amount_minor": "8100000", "currency": "EUR", "incoterm": "CIF",
        "latest_shipment": date_after(now, 20), "expiry": date_after(now, 40),
        "milestones": [{ "share_bps": 10000, "documents": ["bill_of_lading"], "tenor_days": 0 }],
        "details": details,
    });
    let (s, order) = b.api.post("/v1/orders", &importer_t, proposal).await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    let id = order["id"].as_i64().expect("id");
    let details_hash = order["details_hash"].as_str().expect("hash").to_string();
    eventually("the details reach node A", || has_details(&a.api, &details_hash)).await;
    let (s, seen) = a.api.get(&format!("/v1/orders/{id}"), &exporter_t).await;
    assert_eq!(s, StatusCode::OK, "{seen}");
    assert_eq!(seen["details"], details, "the exporter reads the importer's details at its own node");

    let (s, body) = a.api.post(&format!("/v1/orders/{id}/accept"), &exporter_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = b.api.post(&format!("/v1/orders/{id}/commit"), &importer_bank_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");

    // Node B is down while the exporter presents the bill of lading at A.
    b.api.stop().await;
    let (s, body) =
        a.api.put_pdf(&format!("/v1/orders/{id}/documents/bill_of_lading"), &exporter_t, BILL_OF_LADING.to_vec()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let bill_hash = format!("0x{}", hex::encode(sha2::Sha256::digest(BILL_OF_LADING)));
    let to_b = || async {
        peer_outbox::Entity::find()
            .filter(peer_outbox::Column::ContentHash.eq(bill_hash.as_str()))
            .filter(peer_outbox::Column::RecipientNode.eq(i64::try_from(node_b).expect("id")))
            .one(&a.api.state.db)
            .await
            .expect("db")
    };
    eventually("A tries B and fails while it is down", || async { to_b().await.is_some_and(|r| r.attempts >= 2) })
        .await;
    assert_eq!(to_b().await.expect("row").state, "pending", "kept until acknowledged");
    b.restart(&url, &operator).await;
    eventually("the bill of lading reaches B once it is back", || has_file(&b.api, &bill_hash)).await;
    eventually("A hears B's acknowledgement", || async { to_b().await.is_some_and(|r| r.state == "delivered") }).await;
    let stored = receipts(&b.api, id).await;
    assert_eq!(
        stored
            .iter()
            .filter(|r| r.content_hash == bill_hash && r.outcome == "stored")
            .map(|r| r.sender_node)
            .collect::<Vec<_>>(),
        [i64::try_from(node_a).expect("id")],
        "stored once, from A, whatever was repeated: {stored:?}"
    );

    // The carrier attests at A; the importer's bank reads the bill at B, accepts it; it pays.
    let (s, body) = a
        .api
        .post(
            &format!("/v1/orders/{id}/documents/bill_of_lading/attest"),
            &carrier_t,
            json!({ "shipment_date": date_after(chain_now(&chain).await, 0) }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, bytes) =
        b.api.get_bytes(&format!("/v1/orders/{id}/documents/bill_of_lading/content"), &importer_bank_t).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(bytes, BILL_OF_LADING, "the bank examines the very bytes presented at A");
    let (s, body) =
        b.api.post(&format!("/v1/orders/{id}/documents/bill_of_lading/accept"), &importer_bank_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    release(&b.api, &chain, id, &importer_bank_t).await;
    let (s, body) = b
        .api
        .post(&format!("/v1/orders/{id}/milestones/0/confirm"), &importer_bank_t, json!({ "reference": "HB-0001" }))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "completed", "{body}");

    // Node C serves no party of it: not a byte reached it, nor was any planned for it.
    assert!(!has_details(&c.api, &details_hash).await, "C never received the details");
    assert!(!has_file(&c.api, &bill_hash).await, "C never received the bill of lading");
    assert!(receipts(&c.api, id).await.is_empty(), "nothing was even offered to C");
    let files_c: Vec<_> = std::fs::read_dir(c.dir.path().join("api/files")).expect("files").collect();
    assert!(files_c.is_empty(), "C's disk holds no document: {files_c:?}");
    for node in [&a.api, &b.api] {
        let to_c = peer_outbox::Entity::find()
            .filter(peer_outbox::Column::RecipientNode.eq(i64::try_from(node_c).expect("id")))
            .all(&node.state.db)
            .await
            .expect("db");
        assert!(to_c.is_empty(), "nothing planned for C: {to_c:?}");
    }

    // The exporter lets the financier at C see its trade: what A keeps of its orders goes to C.
    let grant = json!({ "financier": financier, "expires_at": date_after(chain_now(&chain).await, 700) });
    let (s, body) = a.api.post("/v1/consents", &exporter_t, grant).await;
    assert!(s.is_success(), "{body}");
    eventually("the consented details reach C", || has_details(&c.api, &details_hash)).await;
    eventually("the consented bill of lading reaches C", || has_file(&c.api, &bill_hash)).await;

    // The operator suspends the financier: its consent still stands, but a new order of the
    // exporter's reaches A and nothing of it reaches C; reinstated, it is served again.
    let consortium = format!("{:#x}", a.api.state.suite.consortium);
    let relay = |call: Vec<u8>| json!({ "to": consortium, "data": format!("0x{}", hex::encode(call)) });
    let financier_addr: alloy::primitives::Address = financier.parse().expect("address");
    let suspend = tradechain_contracts::Consortium::suspendCall { account: financier_addr, reason: "licence".into() };
    let (s, body) =
        a.api.post("/v1/transactions", &a.api.token, relay(alloy::sol_types::SolCall::abi_encode(&suspend))).await;
    assert!(s.is_success(), "{body}");
    let now = chain_now(&chain).await;
    let while_suspended = json!({
        "seller": exporter, "buyer_bank": importer_bank, "seller_bank": exporter_bank,
        "amount_minor": "250000", "currency": "EUR", "incoterm": "FOB",
        "latest_shipment": date_after(now, 20), "expiry": date_after(now, 40),
        "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"], "tenor_days": 0 }],
        "details": { "notes": "while the financier is suspended" },
    });
    let (s, suspended_order) = b.api.post("/v1/orders", &importer_t, while_suspended).await;
    assert_eq!(s, StatusCode::CREATED, "{suspended_order}");
    let hash_s = suspended_order["details_hash"].as_str().expect("hash").to_string();
    eventually("the details reach A", || has_details(&a.api, &hash_s)).await;
    assert!(!has_details(&c.api, &hash_s).await, "nothing reaches a suspended financier's node");
    assert!(planned_for(&b.api, node_c, &hash_s).await.is_empty(), "nor is any planned for it");
    let reinstate = tradechain_contracts::Consortium::reinstateCall { account: financier_addr };
    let (s, body) =
        a.api.post("/v1/transactions", &a.api.token, relay(alloy::sol_types::SolCall::abi_encode(&reinstate))).await;
    assert!(s.is_success(), "{body}");

    // Revoked: a new order of the exporter's is delivered to A, and nothing of it to C.
    let (s, body) = a.api.post(&format!("/v1/consents/{financier}/revoke"), &exporter_t, json!({})).await;
    assert!(s.is_success(), "{body}");
    let now = chain_now(&chain).await;
    let second = json!({
        "seller": exporter, "buyer_bank": importer_bank, "seller_bank": exporter_bank,
        "amount_minor": "500000", "currency": "EUR", "incoterm": "FOB",
        "latest_shipment": date_after(now, 20), "expiry": date_after(now, 40),
        "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"], "tenor_days": 0 }],
        "details": { "notes": "second lot, after the consent was revoked" },
    });
    let (s, order2) = b.api.post("/v1/orders", &importer_t, second).await;
    assert_eq!(s, StatusCode::CREATED, "{order2}");
    let id2 = order2["id"].as_i64().expect("id");
    let hash2 = order2["details_hash"].as_str().expect("hash").to_string();
    eventually("the second order's details reach A", || has_details(&a.api, &hash2)).await;
    assert!(!has_details(&c.api, &hash2).await, "nothing new reaches C once revoked");
    assert!(receipts(&c.api, id2).await.is_empty(), "nothing new is sent to C");
    assert!(planned_for(&b.api, node_c, &hash2).await.is_empty(), "nor planned for it");

    // Fetch on demand: B lost the bill of lading (a disk restored from an old backup); the
    // bank's download asks A for it, and B keeps it again.
    document_file::Entity::delete_by_id(bill_hash.clone()).exec(&b.api.state.db).await.expect("forget");
    std::fs::remove_file(b.dir.path().join("api/files").join(bill_hash.trim_start_matches("0x"))).expect("lose");
    let (s, bytes) =
        b.api.get_bytes(&format!("/v1/orders/{id}/documents/bill_of_lading/content"), &importer_bank_t).await;
    assert_eq!((s, bytes.as_slice()), (StatusCode::OK, BILL_OF_LADING), "fetched from A");
    let fetched: Vec<_> = receipts(&b.api, id).await.into_iter().filter(|r| r.outcome == "fetched").collect();
    assert_eq!(fetched.len(), 1, "{fetched:?}");
    assert_eq!(fetched[0].sender_node, i64::try_from(node_a).expect("id"));

    // C asks A for it, now that the consent is revoked: refused. A stranger asking in B's
    // name gets an answer sealed to B's key, which its own key does not open.
    let subject = Subject {
        order_id: u64::try_from(id).expect("id"),
        kind: Kind::Document(2),
        content_hash: bill_hash.parse().expect("hash"),
        sender_node: node_a,
        recipient_node: node_c,
    };
    let ask = |subject: Subject| {
        let peer_a = a.peer();
        async move {
            reqwest::Client::new()
                .post(format!("{peer_a}/peer/v1/content"))
                .headers(headers(&subject, &[0; 32], ""))
                .send()
                .await
                .expect("ask")
        }
    };
    let res = ask(subject.clone()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let err: Value = serde_json::from_slice(&res.bytes().await.expect("body")).expect("json");
    assert_eq!(err["error"]["code"], "NOT_ENTITLED", "{err}");
    let in_bs_name = Subject { recipient_node: node_b, ..subject };
    let res = ask(in_bs_name.clone()).await;
    assert_eq!(res.status(), StatusCode::OK, "B is entitled");
    let encapsulated: [u8; 32] = hex::decode(res.headers()["tradechain-encapsulated"].to_str().expect("text"))
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    let ciphertext = res.bytes().await.expect("body").to_vec();
    assert!(!ciphertext.windows(16).any(|w| w == &BILL_OF_LADING[..16]), "not in clear");
    let stranger = NodeKey::generate().expect("key");
    let a_key = a.api.state.node_key().await.expect("key").public_bytes();
    let envelope = tradechain_peer::envelope::Envelope { encapsulated, ciphertext };
    assert!(tradechain_peer::envelope::open(&stranger, &a_key, &in_bs_name, &envelope).is_err(), "unreadable");
    assert_eq!(
        tradechain_peer::envelope::open(&b.api.state.node_key().await.expect("key"), &a_key, &in_bs_name, &envelope)
            .expect("B opens it"),
        BILL_OF_LADING
    );

    // Node B's key is rotated, by its owner through node B only; data flows both ways after.
    let rotate = format!("/v1/nodes/{node_b}/rotate-key");
    let (s, err) = b.api.post(&rotate, &importer_t, json!({})).await;
    assert_eq!((s, err["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("NOT_NODE_OWNER")), "{err}");
    let (s, err) = c.api.post(&rotate, &financier_t, json!({})).await;
    assert_eq!((s, err["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("NOT_THIS_NODE")), "{err}");
    let old_key = b.api.state.node_key().await.expect("key").public_bytes();
    let (s, rotated) = b.api.post(&rotate, &importer_bank_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{rotated}");
    let new_key = b.api.state.node_key().await.expect("key").public_bytes();
    assert_ne!(new_key, old_key);
    assert_eq!(rotated["encryption_key"], format!("{:#x}", B256::from(new_key)), "{rotated}");
    let (_, dir) = b.api.get("/v1/nodes", &importer_t).await;
    assert_eq!(dir["node_id"], node_b, "B still finds itself in the directory: {dir}");
    let now = chain_now(&chain).await;
    let third = |buyer_bank: &str, seller: &str, seller_bank: &str, notes: &str| {
        json!({
            "seller": seller, "buyer_bank": buyer_bank, "seller_bank": seller_bank,
            "amount_minor": "100000", "currency": "EUR", "incoterm": "FOB",
            "latest_shipment": date_after(now, 20), "expiry": date_after(now, 40),
            "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"], "tenor_days": 0 }],
            "details": { "notes": notes },
        })
    };
    let (s, from_b) = b
        .api
        .post("/v1/orders", &importer_t, third(&importer_bank, &exporter, &exporter_bank, "after B's rotation"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{from_b}");
    let (s, to_b) = a
        .api
        .post("/v1/orders", &exporter_t, third(&exporter_bank, &importer, &importer_bank, "sealed to B's new key"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{to_b}");
    let (from_b, to_b) = (from_b["details_hash"].as_str().expect("hash"), to_b["details_hash"].as_str().expect("hash"));
    eventually("B's details reach A after the rotation", || has_details(&a.api, from_b)).await;
    eventually("A's details reach B at its new key", || has_details(&b.api, to_b)).await;
}

/// A delivery for the attack tests: the headers of the peer protocol, pinned here.
fn headers(subject: &Subject, encapsulated: &[u8; 32], media_type: &str) -> reqwest::header::HeaderMap {
    let mut h = reqwest::header::HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        h.insert(name, value.parse().expect("header"));
    };
    put("tradechain-sender-node", subject.sender_node.to_string());
    put("tradechain-recipient-node", subject.recipient_node.to_string());
    put("tradechain-order", subject.order_id.to_string());
    put("tradechain-kind", subject.kind.to_string());
    put("tradechain-content-hash", format!("{:#x}", subject.content_hash));
    put("tradechain-encapsulated", hex::encode(encapsulated));
    put("tradechain-media-type", media_type.to_string());
    h
}

async fn push(peer: &str, subject: &Subject, encapsulated: &[u8; 32], ciphertext: Vec<u8>) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .post(format!("{peer}/peer/v1/deliveries"))
        .headers(headers(subject, encapsulated, "application/json"))
        .body(ciphertext)
        .send()
        .await
        .expect("request");
    let status = res.status();
    let body = res.bytes().await.expect("body");
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

/// The attacker is a node of the directory (its member registered it with a key the test
/// holds, the operator approved it, the exporter chose it), or a stranger with a key of its
/// own. Node B serves the importer; node C only an unrelated trader. Each refusal is logged
/// with its code, and nothing is stored; then the honest delivery goes through once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_a_dishonest_node_or_a_stranger_pushes_is_refused_and_logged() {
    let Some(url) = test_support::hardhat::url() else { return };
    let (operator, chain) = test_support::hardhat::deployed(&url).await;
    let dbs = tempfile::tempdir().expect("tempdir");
    let b = Member::start(&url, &operator, sqlite(&dbs, "b")).await;
    let c = Member::start(&url, &operator, sqlite(&dbs, "c")).await;
    let (exporter, exporter_t) = b.api.onboard("Fazenda Boa Vista", &["trader"]).await;
    let (exporter_bank, exporter_bank_t) = b.api.onboard("Banco do Cafe", &["bank"]).await;
    let (_, importer_t) = b.api.onboard("Hanseatic Importers", &["trader"]).await;
    let (importer_bank, importer_bank_t) = b.api.onboard("Handelsbank", &["bank"]).await;
    let (_, stranger_t) = c.api.onboard("Unrelated Trading", &["trader"]).await;
    // An endpoint other nodes could not call (or that would send them elsewhere) is refused
    // with its code, and nothing is registered.
    for bad in [
        "http://[",
        "ftp://node.example",
        "http://user:pw@node.example",
        "http://node.example/?q=1",
        "https://",
        "http:/x",
        "http://9U2r*",
        "http://node.example:",
        "http://-node.example",
        "https://node.example:99999",
    ] {
        let (s, err) = b.api.post("/v1/nodes", &importer_bank_t, json!({ "endpoint": bad })).await;
        assert_eq!(
            (s, err["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("INVALID_ENDPOINT")),
            "{bad}: {err}"
        );
    }
    let (_, dir) = b.api.get("/v1/nodes", &importer_t).await;
    assert_eq!(dir["nodes"].as_array().map(Vec::len), Some(0), "{dir}");
    let node_b = join(&b.api, &importer_bank_t, &[&importer_t, &importer_bank_t]).await;
    let node_c = join(&c.api, &stranger_t, &[&stranger_t]).await;

    // The exporter's bank registers node A, whose key the test holds (its endpoint leads
    // nowhere: the test itself speaks for it), through the custodial relay.
    let a_key = NodeKey::generate().expect("key");
    let register = tradechain_contracts::Consortium::registerNodeCall {
        endpoint: "http://127.0.0.1:9".into(),
        encryptionKey: B256::from(a_key.public_bytes()),
    };
    let consortium = format!("{:#x}", b.api.state.suite.consortium);
    let data = format!("0x{}", hex::encode(alloy::sol_types::SolCall::abi_encode(&register)));
    let (s, body) = b.api.post("/v1/transactions", &exporter_bank_t, json!({ "to": consortium, "data": data })).await;
    assert!(s.is_success(), "{body}");
    let (_, dir) = b.api.get("/v1/nodes", &exporter_t).await;
    let node_a = dir["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["endpoint"] == "http://127.0.0.1:9"))
        .and_then(|n| n["id"].as_u64())
        .expect("node A registered");
    let (s, body) = b.api.post(&format!("/v1/nodes/{node_a}/approve"), &b.api.token, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    for token in [&exporter_t, &exporter_bank_t] {
        let (s, body) = b.api.put("/v1/organisations/me/node", token, json!({ "node_id": node_a })).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }

    // An order between them whose details node B does not keep (as if written at A).
    let now = chain_now(&chain).await;
    let details = json!({ "notes": "18 t green coffee, the price the seller must not learn from a stranger" });
    let proposal = json!({
        "seller": exporter, "buyer_bank": importer_bank, "seller_bank": exporter_bank,
        "amount_minor": "8100000", "currency": "EUR", "incoterm": "CIF",
        "latest_shipment": date_after(now, 20), "expiry": date_after(now, 40),
        "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"], "tenor_days": 0 }],
        "details": details,
    });
    let (s, order) = b.api.post("/v1/orders", &importer_t, proposal).await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    let id = order["id"].as_i64().expect("id");
    let hash: B256 = order["details_hash"].as_str().expect("hash").parse().expect("hash");
    let body = order_detail::Entity::find_by_id(format!("{hash:#x}"))
        .one(&b.api.state.db)
        .await
        .expect("db")
        .expect("kept")
        .body;
    order_detail::Entity::delete_by_id(format!("{hash:#x}")).exec(&b.api.state.db).await.expect("forget");
    assert_eq!(keccak256(body.as_bytes()), hash);

    let to_b = Subject {
        order_id: u64::try_from(id).expect("id"),
        kind: Kind::Details,
        content_hash: hash,
        sender_node: node_a,
        recipient_node: node_b,
    };
    let b_key = b.api.state.node_key().await.expect("key").public_bytes();
    let c_key = c.api.state.node_key().await.expect("key").public_bytes();
    let honest = seal(&a_key, &b_key, &to_b, body.as_bytes()).expect("sealed");
    let peer_b = b.peer();

    // Tampered in transit: one bit of the ciphertext flipped.
    let mut tampered = honest.ciphertext.clone();
    tampered[3] ^= 1;
    let (s, err) = push(&peer_b, &to_b, &honest.encapsulated, tampered).await;
    assert_eq!((s, err["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("ENVELOPE_REJECTED")), "{err}");

    // A stranger, not in the directory, names itself a node id nobody has.
    let stranger = NodeKey::generate().expect("key");
    let from_nowhere = Subject { sender_node: 999, ..to_b.clone() };
    let sealed_by_nobody = seal(&stranger, &b_key, &from_nowhere, body.as_bytes()).expect("sealed");
    let (s, err) =
        push(&peer_b, &from_nowhere, &sealed_by_nobody.encapsulated, sealed_by_nobody.ciphertext.clone()).await;
    assert_eq!((s, err["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("UNKNOWN_NODE")), "{err}");

    // The stranger passes for node A: the envelope does not open with A's directory key.
    let sealed = seal(&stranger, &b_key, &to_b, body.as_bytes()).expect("sealed");
    let (s, err) = push(&peer_b, &to_b, &sealed.encapsulated, sealed.ciphertext).await;
    assert_eq!((s, err["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("ENVELOPE_REJECTED")), "{err}");

    // Node A seals other details under the anchored hash: they do not hash to it.
    let doctored = br#"{"notes":"18 t green coffee at half the price"}"#;
    let sealed = seal(&a_key, &b_key, &to_b, doctored).expect("sealed");
    let (s, err) = push(&peer_b, &to_b, &sealed.encapsulated, sealed.ciphertext).await;
    assert_eq!((s, err["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("CONTENT_HASH_MISMATCH")), "{err}");

    // Node A pushes something the chain never anchored on this order: never asked for.
    let unasked = Subject { content_hash: keccak256(doctored), ..to_b.clone() };
    let sealed = seal(&a_key, &b_key, &unasked, doctored).expect("sealed");
    let (s, err) = push(&peer_b, &unasked, &sealed.encapsulated, sealed.ciphertext).await;
    assert_eq!((s, err["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("NOT_ANCHORED")), "{err}");

    // Node A pushes the genuine details to C, which serves no party of the order.
    let to_c = Subject { recipient_node: node_c, ..to_b.clone() };
    let sealed = seal(&a_key, &c_key, &to_c, body.as_bytes()).expect("sealed");
    let (s, err) = push(&c.peer(), &to_c, &sealed.encapsulated, sealed.ciphertext).await;
    assert_eq!((s, err["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("NOT_ENTITLED")), "{err}");
    assert!(!has_details(&c.api, &format!("{hash:#x}")).await, "C stored nothing");
    let logged_c = receipts(&c.api, id).await;
    assert_eq!(logged_c.len(), 1, "{logged_c:?}");
    assert_eq!(logged_c[0].outcome, "refused");

    // Nothing of it was stored at B, and each refusal is logged with its code.
    assert!(!has_details(&b.api, &format!("{hash:#x}")).await, "B stored nothing");
    let logged: Vec<String> = receipts(&b.api, id)
        .await
        .into_iter()
        .map(|r| format!("{} {}", r.outcome, r.reason.unwrap_or_default().split(':').next().unwrap_or_default()))
        .collect();
    assert_eq!(
        logged,
        [
            "refused ENVELOPE_REJECTED",
            "refused UNKNOWN_NODE",
            "refused ENVELOPE_REJECTED",
            "refused CONTENT_HASH_MISMATCH",
            "refused NOT_ANCHORED"
        ],
        "every refusal logged, in order"
    );

    // A stranger floods B with deliveries in the name of a node nobody has: each is
    // refused, but kept as a row only within the budget for senders no envelope proved (a
    // row each was a write to the read model and a row on disk for anyone on the network).
    let flood = 200;
    for _ in 0..flood {
        let (s, err) =
            push(&peer_b, &from_nowhere, &sealed_by_nobody.encapsulated, sealed_by_nobody.ciphertext.clone()).await;
        assert_eq!((s, err["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("UNKNOWN_NODE")), "{err}");
    }
    let kept = receipts(&b.api, id).await.len() - logged.len();
    assert!(kept < flood && kept <= 2 * 60, "{kept} rows for a flood of {flood}");
    // A refusal of a proven node is kept whatever the strangers did.
    let again = seal(&a_key, &b_key, &unasked, doctored).expect("sealed");
    let (s, err) = push(&peer_b, &unasked, &again.encapsulated, again.ciphertext).await;
    assert_eq!((s, err["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("NOT_ANCHORED")), "{err}");
    let last = receipts(&b.api, id).await.pop().expect("a row");
    assert_eq!(
        (last.sender_node, last.reason.unwrap_or_default().split(':').next()),
        (i64::try_from(node_a).expect("id"), Some("NOT_ANCHORED"))
    );

    // The honest delivery is stored, once, and served as if written at B.
    let (s, ok) = push(&peer_b, &to_b, &honest.encapsulated, honest.ciphertext.clone()).await;
    assert_eq!((s, ok["stored"].as_bool()), (StatusCode::OK, Some(true)), "{ok}");
    let (s, again) = push(&peer_b, &to_b, &honest.encapsulated, honest.ciphertext).await;
    assert_eq!((s, again["stored"].as_bool()), (StatusCode::OK, Some(false)), "a replay changes nothing: {again}");
    let (s, seen) = b.api.get(&format!("/v1/orders/{id}"), &importer_t).await;
    assert_eq!(s, StatusCode::OK, "{seen}");
    assert_eq!(seen["details"]["notes"], details["notes"], "{seen}");

    // Mallory copies the details hash from chain onto an order of her own (an amendment her
    // accomplice approves): node B, which keeps those details for the honest order, shows
    // nothing on hers, plans nothing for it, and answers no node asking for it.
    let (_, mallory_t) = b.api.onboard("Mallory Trading", &["trader"]).await;
    let (trudy, trudy_t) = b.api.onboard("Trudy Goods", &["trader"]).await;
    let (s, body) = b.api.put("/v1/organisations/me/node", &trudy_t, json!({ "node_id": node_c })).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let now = chain_now(&chain).await;
    let theirs = json!({
        "seller": trudy, "buyer_bank": importer_bank, "seller_bank": importer_bank,
        "amount_minor": "100", "currency": "EUR", "incoterm": "FOB",
        "latest_shipment": date_after(now, 20), "expiry": date_after(now, 40),
        "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"], "tenor_days": 0 }],
        "details": { "notes": "ours" },
    });
    let (s, own) = b.api.post("/v1/orders", &mallory_t, theirs).await;
    assert_eq!(s, StatusCode::CREATED, "{own}");
    let own = own["id"].as_i64().expect("id");
    let copy = tradechain_contracts::TradeOrders::proposeAmendmentCall {
        orderId: alloy::primitives::U256::from(own),
        detailsHash: hash,
        latestShipment: now + 20 * 86_400,
        expiry: now + 40 * 86_400,
    };
    let trade_orders = format!("{:#x}", b.api.state.suite.trade_orders);
    let data = format!("0x{}", hex::encode(alloy::sol_types::SolCall::abi_encode(&copy)));
    let (s, body) = b.api.post("/v1/transactions", &mallory_t, json!({ "to": trade_orders, "data": data })).await;
    assert!(s.is_success(), "{body}");
    let (s, body) = b.api.post(&format!("/v1/orders/{own}/amendments/1/approve"), &trudy_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["details_hash"], format!("{hash:#x}"), "the copied hash is anchored on Mallory's order");
    assert_eq!(body["details"], Value::Null, "B shows Mallory nothing of the honest order's details: {body}");
    let asked = Subject {
        order_id: u64::try_from(own).expect("id"),
        sender_node: node_b,
        recipient_node: node_c,
        ..to_b.clone()
    };
    let res = reqwest::Client::new()
        .post(format!("{peer_b}/peer/v1/content"))
        .headers(headers(&asked, &[0; 32], ""))
        .send()
        .await
        .expect("ask");
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "C (Trudy's node) asks B for them under Mallory's order");
    let err: Value = serde_json::from_slice(&res.bytes().await.expect("body")).expect("json");
    assert_eq!(err["error"]["code"], "CONTENT_NOT_HELD", "{err}");
    let planned = peer_outbox::Entity::find()
        .filter(peer_outbox::Column::OrderId.eq(own))
        .filter(peer_outbox::Column::ContentHash.eq(format!("{hash:#x}")))
        .all(&b.api.state.db)
        .await
        .expect("db");
    assert!(planned.is_empty(), "B plans no delivery of them for Mallory's order: {planned:?}");

    // A body past a document's size limit is refused before anything is read into memory.
    let huge = vec![0u8; b.api.state.config.max_document_bytes + 128 * 1024];
    let (s, err) = push(&peer_b, &to_b, &honest.encapsulated, huge).await;
    assert_eq!((s, err["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("BODY_TOO_LARGE")), "{err}");

    // The peer endpoint serves none of the REST API.
    let res = reqwest::Client::new()
        .get(format!("{peer_b}/v1/orders/{id}"))
        .bearer_auth(&importer_t)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
