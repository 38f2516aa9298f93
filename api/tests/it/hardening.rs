//! Small refusals that were wrong, each tried as an attacker or a careless client would:
//! onboarding an address already registered (was a 500), dates beyond year 9999 or with a
//! sign (were accepted), organisation names with invisible characters or that read like a
//! registered member's (were accepted), and a dev `evm_revert` under a running API (left
//! the read model ahead of the chain).

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
