//! Small refusals that were wrong, each tried as an attacker or a careless client would:
//! onboarding an address already registered (was a 500), dates beyond year 9999 or with a
//! sign (were accepted), organisation names with invisible characters or that read like a
//! registered member's (were accepted), a dev `evm_revert` under a running API (left
//! the read model ahead of the chain), and the peer endpoint's connections (unbounded, where
//! the API's were bounded per client and in total).

use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::api::{Db, Net};
use test_support::fixtures::date_in;

fn expect_error(got: (StatusCode, Value), status: u16, code: &str) {
    assert_eq!(got.0.as_u16(), status, "{}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{}", got.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn onboarding_refuses_a_registered_address_and_names_that_read_like_a_members() {
    let mut net = Net::start(Db::Sqlite).await;
    let (bank, _) = net.onboard("Deutsche Handelsbank AG", &["bank"]).await;
    let onboard = |body: Value| net.post("/v1/organisations", &net.operator_token, body);

    // The same address again (own key): a conflict, not an internal error.
    let body = json!({ "name": "Another Bank", "roles": ["bank"], "address": bank });
    expect_error(onboard(body).await, 409, "ORGANISATION_EXISTS");
    let operator = format!("{:#x}", net.state.operator.address());
    let body = json!({ "name": "Operator Twin", "roles": ["trader"], "address": operator });
    expect_error(onboard(body).await, 409, "ORGANISATION_EXISTS");

    // Invisible characters: a zero-width space, NUL, a right-to-left override, a BOM.
    for name in ["Deutsche\u{200B}Handelsbank", "Handelsbank\u{0000}", "\u{202E}GA knabslednaH", "\u{FEFF}Bank"] {
        expect_error(onboard(json!({ "name": name, "roles": ["bank"] })).await, 422, "INVALID_NAME");
    }
    // Look-alikes of the registered name: case, punctuation, a Cyrillic е, a capital I for l.
    for name in
        ["DEUTSCHE HANDELSBANK AG", "Deutsche Handelsbank A.G.", "Dеutsche Handelsbank AG", "Deutsche HandeIsbank AG"]
    {
        expect_error(onboard(json!({ "name": name, "roles": ["bank"] })).await, 409, "NAME_CONFUSABLE");
    }
    // The directory shows none of them; a distinct name is fine, and stored in NFC.
    let (s, body) = onboard(json!({ "name": "Cafe\u{0301} do Brasil Ltda", "roles": ["trader"] })).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["organisation"]["name"], "Caf\u{00E9} do Brasil Ltda");
    let (_, directory) = net.get("/v1/organisations", &net.operator_token).await;
    assert_eq!(directory.as_array().map(Vec::len), Some(3), "operator, the bank, the café: {directory}");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dates_are_calendar_dates_written_yyyy_mm_dd() {
    let mut net = Net::start(Db::Sqlite).await;
    let (_, buyer_t) = net.onboard("Hanseatic Coffee Importers GmbH", &["trader"]).await;
    let (seller, _) = net.onboard("Fazenda Boa Vista Ltda", &["trader"]).await;
    let (bank, _) = net.onboard("Deutsche Handelsbank AG", &["bank"]).await;
    let (financier, _) = net.onboard("Nordic Trade Capital", &["financier"]).await;
    let order = |expiry: &str| {
        json!({
            "seller": seller, "buyer_bank": bank, "seller_bank": bank,
            "amount_minor": "10000000", "currency": "USD", "incoterm": "FOB",
            "latest_shipment": date_in(30), "expiry": expiry,
            "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"] }]
        })
    };
    for bad in ["+10000-01-01", "10000-01-01", "+2027-01-01", "2027-1-01", "2027-02-30"] {
        expect_error(net.post("/v1/orders", &buyer_t, order(bad)).await, 422, "INVALID_DATES");
        let grant = json!({ "financier": financier, "expires_at": bad });
        expect_error(net.post("/v1/consents", &buyer_t, grant).await, 422, "INVALID_DATES");
    }
    let (s, body) = net.post("/v1/orders", &buyer_t, order(&date_in(60))).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dev_revert_is_refused_while_the_api_follows_the_chain() {
    let mut net = Net::start(Db::Sqlite).await;
    let rpc = |method: &str, params: Value| {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string();
        let req = net.http.post(format!("{}/", net.base)).header("content-type", "application/json").body(body);
        async move {
            serde_json::from_str::<Value>(&req.send().await.expect("rpc").text().await.expect("body")).expect("json")
        }
    };
    let snapshot = rpc("evm_snapshot", json!([])).await;
    let id = snapshot["result"].clone();
    let (bank, _) = net.onboard("Deutsche Handelsbank AG", &["bank"]).await;
    let answer = rpc("evm_revert", json!([id])).await;
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("read model"), "{answer}");
    // Nothing went back: the chain and the read model both still know the bank.
    let (s, body) = net.get("/v1/organisations", &net.operator_token).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.to_string().contains(&bank), "{body}");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_document_is_an_allowed_type_matching_its_bytes_and_comes_back_as_an_inert_attachment() {
    let mut net = Net::start(Db::Sqlite).await;
    let (_, buyer_t) = net.onboard("Hanseatic Coffee Importers GmbH", &["trader"]).await;
    let (seller, seller_t) = net.onboard("Fazenda Boa Vista Ltda", &["trader"]).await;
    let (bank, bank_t) = net.onboard("Deutsche Handelsbank AG", &["bank"]).await;
    let proposal = json!({
        "seller": seller, "buyer_bank": bank, "seller_bank": bank,
        "amount_minor": "10000000", "currency": "USD", "incoterm": "FOB",
        "latest_shipment": date_in(30), "expiry": date_in(60),
        "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"] }]
    });
    let (_, order) = net.post("/v1/orders", &buyer_t, proposal).await;
    let o = format!("/v1/orders/{}", order["id"]);
    assert_eq!(net.post(&format!("{o}/accept"), &seller_t, json!({})).await.0, StatusCode::OK);
    assert_eq!(net.post(&format!("{o}/commit"), &bank_t, json!({})).await.0, StatusCode::OK);
    let upload = |content_type: &'static str, bytes: &'static [u8]| {
        let req = net
            .http
            .put(format!("{}{o}/documents/commercial_invoice", net.base))
            .bearer_auth(&seller_t)
            .header("content-type", content_type)
            .body(bytes);
        async move {
            let res = req.send().await.expect("upload");
            let status = res.status();
            (status, serde_json::from_str::<Value>(&res.text().await.expect("body")).unwrap_or_default())
        }
    };
    // The stored-XSS attempt: an "invoice" that is a page with a script, as HTML, as PDF,
    // as plain text. Each refused, nothing on chain, no file kept.
    expect_error(
        upload("text/html", b"<html><script>fetch('/v1/orders')</script></html>").await,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    );
    expect_error(upload("application/pdf", b"<html><script>alert(1)</script>").await, 422, "MEDIA_TYPE_MISMATCH");
    expect_error(upload("text/plain", b"<script>alert(document.cookie)</script>").await, 422, "MEDIA_TYPE_MISMATCH");
    expect_error(upload("image/svg+xml", b"<svg onload=alert(1)></svg>").await, 415, "UNSUPPORTED_MEDIA_TYPE");
    assert_eq!(std::fs::read_dir(&net.state.files_dir).expect("files").count(), 0);
    let (_, detail) = net.get(&o, &buyer_t).await;
    assert_eq!(detail["documents"], json!([]), "nothing presented: {detail}");

    // A real PDF is accepted and comes back as an attachment nothing can run.
    let (s, body) = upload("application/pdf", b"%PDF-1.7 commercial invoice 2026-001").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let res = net
        .http
        .get(format!("{}{o}/documents/commercial_invoice/content", net.base))
        .bearer_auth(&bank_t)
        .send()
        .await
        .expect("download");
    assert_eq!(res.status(), StatusCode::OK);
    let h = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!(h("content-type"), "application/pdf");
    assert_eq!(h("x-content-type-options"), "nosniff");
    assert!(h("content-disposition").starts_with("attachment; filename=\"order-"), "{}", h("content-disposition"));
    assert!(
        h("content-security-policy").contains("default-src 'none'") && h("content-security-policy").contains("sandbox")
    );
    assert_eq!(res.bytes().await.expect("bytes").as_ref(), b"%PDF-1.7 commercial invoice 2026-001");
    net.stop().await;
}

/// A connection to `port` from the loopback address `from` that is answered one request
/// (HTTP/1.1 keep-alive, held open); `None` if the node closed it unanswered.
async fn answered(from: &str, port: u16) -> Option<tokio::net::TcpStream> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    socket.bind(format!("{from}:0").parse().ok()?).ok()?;
    let mut stream = socket.connect(([127, 0, 0, 1], port).into()).await.ok()?;
    let attempt = async {
        stream.write_all(b"GET /nothing HTTP/1.1\r\nHost: peer\r\n\r\n").await.ok()?;
        let mut buf = [0u8; 512];
        let n = stream.read(&mut buf).await.ok()?;
        buf[..n].starts_with(b"HTTP/1.1 404").then_some(())
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), attempt).await.ok().flatten()?;
    Some(stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peer_endpoint_bounds_connections_per_client_and_in_total_as_the_api_does() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = tradechain_engine::NodeConfig::dev_in(dir.path().join("chain"));
    let node = tradechain_engine::Node::open(config.clone(), test_support::api::genesis(&config)).expect("node opens");
    let database_url = format!("sqlite://{}?mode=rwc", dir.path().join("readmodel.sqlite").display());
    let api = tradechain_api::ApiConfig {
        database_url: Some(database_url),
        max_connections: 6,
        max_connections_per_client: 4,
        ..tradechain_api::ApiConfig::for_node(&config)
    };
    let platform = tradechain_api::Platform::start(node, api).await.expect("platform starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let peer = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = peer.local_addr().expect("addr").port();
    let mut serving = platform.spawn(listener, Some(peer)).expect("serve");

    // A stranger opens twenty connections to the peer port: it keeps four.
    let mut held = Vec::new();
    for _ in 0..20 {
        held.extend(answered("127.0.0.1", port).await);
    }
    assert_eq!(held.len(), 4, "one client's share");
    // Others share what is left of the six.
    let mut others = Vec::new();
    for from in ["127.0.0.2", "127.0.0.3"] {
        for _ in 0..4 {
            others.extend(answered(from, port).await);
        }
    }
    assert_eq!(others.len(), 2, "the total");
    // Closed, the slots come back.
    drop(held);
    let mut back = None;
    for _ in 0..100 {
        back = answered("127.0.0.4", port).await;
        if back.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(back.is_some(), "a slot given back is taken again");
    serving.stop().await;
}
