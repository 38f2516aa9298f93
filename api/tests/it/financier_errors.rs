//! Every refusal a financier or a firm meets on the financing, consent, credit-profile,
//! proof and authenticity routes, over real HTTP: each gets its stable code and message,
//! and none changes anything (the chain head and the financing list are the same after).
//! The bodies are snapshotted (insta) because integrators read them.

use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::api::{Db, Net};
use test_support::fixtures::date_in;

struct Parties {
    buyer_t: String,
    seller: String,
    seller_t: String,
    bank: String,
    bank_t: String,
    seller_bank: String,
}

/// A committed order whose commercial invoice the seller has presented; its id.
async fn presented_order(net: &Net, p: &Parties) -> i64 {
    let body = json!({
        "seller": p.seller, "buyer_bank": p.bank, "seller_bank": p.seller_bank,
        "amount_minor": "2500000", "currency": "EUR", "incoterm": "CIF",
        "latest_shipment": date_in(20), "expiry": date_in(40),
        "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"], "tenor_days": 30 }]
    });
    let (s, o) = net.post("/v1/orders", &p.buyer_t, body).await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    let id = o["id"].as_i64().expect("id");
    let path = format!("/v1/orders/{id}");
    assert_eq!(net.post(&format!("{path}/accept"), &p.seller_t, json!({})).await.0, StatusCode::OK);
    assert_eq!(net.post(&format!("{path}/commit"), &p.bank_t, json!({})).await.0, StatusCode::OK);
    let content = format!("%PDF invoice of order {id}").into_bytes();
    let (s, b) = net.put_bytes(&format!("{path}/documents/commercial_invoice"), &p.seller_t, content).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    id
}

fn offer(advance: &str, rate: u32, number: &str) -> Value {
    json!({
        "kind": "receivable", "advance_minor": advance, "rate_bps": rate,
        "invoice": { "number": number, "date": "2026-11-20", "amount_minor": "2500000", "currency": "EUR" }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn financier_side_refusals_have_stable_codes_and_change_nothing() {
    let mut net = Net::start(Db::Sqlite).await;
    let (_, buyer_t) = net.onboard("Rheinland Maschinenbau GmbH", &["trader"]).await;
    let (seller, seller_t) = net.onboard("Shenzhen Precision Tools Ltd", &["trader"]).await;
    let (bank, bank_t) = net.onboard("Commerzbank AG", &["bank"]).await;
    let (seller_bank, _) = net.onboard("Bank of Shenzhen", &["bank"]).await;
    let (financier, financier_t) = net.onboard("Harbour Capital", &["financier"]).await;
    let (second, second_t) = net.onboard("Meridian Trade Finance", &["financier"]).await;
    let (_, outsider_t) = net.onboard("Outsider Capital", &["financier"]).await;
    let p = Parties { buyer_t, seller: seller.clone(), seller_t, bank, bank_t, seller_bank };

    // Order A, financed by the first financier; order B, committed but not yet financed;
    // order C, only proposed.
    let a = presented_order(&net, &p).await;
    net.consent(&p.seller_t, &financier).await;
    let (s, first) = net
        .post(&format!("/v1/orders/{a}/milestones/0/financing-offers"), &financier_t, offer("2000000", 250, "INV-A-1"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    let fid = first["id"].as_i64().expect("financing id");
    assert_eq!(net.post(&format!("/v1/financings/{fid}/accept"), &p.seller_t, json!({})).await.0, StatusCode::OK);
    let b = presented_order(&net, &p).await;
    let (s, c) = net
        .post(
            "/v1/orders",
            &p.buyer_t,
            json!({
                "seller": p.seller, "buyer_bank": p.bank, "seller_bank": p.seller_bank,
                "amount_minor": "100000", "currency": "EUR", "incoterm": "FOB",
                "latest_shipment": date_in(20), "expiry": date_in(40),
                "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"] }]
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let c = c["id"].as_i64().expect("id");
    let (s, req) =
        net.post("/v1/verification-requests", &second_t, json!({ "firm": seller, "purpose": "credit line" })).await;
    assert_eq!(s, StatusCode::CREATED, "{req}");
    let rid = req["id"].as_i64().expect("request id");
    let grant = json!({ "expires_at": date_in(30) });
    let (s, body) = net.post(&format!("/v1/verification-requests/{rid}/grant"), &p.seller_t, grant.clone()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let head_before = net.state.chain.head().await.expect("head");
    let (_, financings_before) = net.get("/v1/financings", &financier_t).await;

    let unknown_tx = format!("0x{}", "ab".repeat(32));
    let cases: Vec<(&str, &str, &str, String, Option<Value>)> = vec![
        ("credit_profile_without_consent", "GET", &outsider_t, format!("/v1/firms/{seller}/credit-profile"), None),
        (
            "offer_without_the_firms_consent",
            "POST",
            &outsider_t,
            format!("/v1/orders/{b}/milestones/0/financing-offers"),
            Some(offer("2000000", 250, "INV-B-1")),
        ),
        (
            "check_without_the_firms_consent",
            "POST",
            &outsider_t,
            "/v1/financings/check".into(),
            Some({
                let mut check = offer("2000000", 250, "INV-B-1");
                check["order_id"] = json!(b);
                check["milestone"] = json!(0);
                check
            }),
        ),
        ("credit_profile_by_a_trader", "GET", &p.buyer_t, format!("/v1/firms/{seller}/credit-profile"), None),
        (
            "references_of_an_unknown_figure",
            "GET",
            &second_t,
            format!("/v1/firms/{seller}/credit-profile/references?figure=favourite_colour"),
            None,
        ),
        (
            "direct_grant_to_a_trader",
            "POST",
            &p.seller_t,
            "/v1/consents".into(),
            Some(json!({ "financier": p.bank, "expires_at": date_in(30) })),
        ),
        (
            "direct_grant_in_the_past",
            "POST",
            &p.seller_t,
            "/v1/consents".into(),
            Some(json!({ "financier": second, "expires_at": "2020-01-01" })),
        ),
        ("grant_twice", "POST", &p.seller_t, format!("/v1/verification-requests/{rid}/grant"), Some(grant.clone())),
        (
            "grant_an_unknown_request",
            "POST",
            &p.seller_t,
            "/v1/verification-requests/999/grant".into(),
            Some(json!({ "expires_at": date_in(30) })),
        ),
        (
            "grant_a_request_to_another_firm",
            "POST",
            &p.buyer_t,
            format!("/v1/verification-requests/{rid}/grant"),
            Some(json!({ "expires_at": date_in(30) })),
        ),
        (
            "request_by_a_trader",
            "POST",
            &p.buyer_t,
            "/v1/verification-requests".into(),
            Some(json!({ "firm": seller, "purpose": "curious" })),
        ),
        (
            "offer_on_a_proposed_order",
            "POST",
            &financier_t,
            format!("/v1/orders/{c}/milestones/0/financing-offers"),
            Some(offer("50000", 250, "INV-C-1")),
        ),
        (
            "offer_more_than_the_receivable",
            "POST",
            &financier_t,
            format!("/v1/orders/{b}/milestones/0/financing-offers"),
            Some(offer("2500001", 250, "INV-B-1")),
        ),
        (
            "offer_at_a_rate_over_100_percent",
            "POST",
            &financier_t,
            format!("/v1/orders/{b}/milestones/0/financing-offers"),
            Some(offer("2000000", 10001, "INV-B-1")),
        ),
        (
            "offer_on_an_unknown_milestone",
            "POST",
            &financier_t,
            format!("/v1/orders/{b}/milestones/7/financing-offers"),
            Some(offer("2000000", 250, "INV-B-1")),
        ),
        (
            "second_financing_of_a_financed_receivable",
            "POST",
            &second_t,
            format!("/v1/orders/{a}/milestones/0/financing-offers"),
            Some(offer("1900000", 200, "INV-A-1")),
        ),
        (
            "same_invoice_under_another_order",
            "POST",
            &second_t,
            format!("/v1/orders/{b}/milestones/0/financing-offers"),
            Some(offer("1900000", 200, "INV-A-1")),
        ),
        (
            "offer_by_a_trader",
            "POST",
            &p.buyer_t,
            format!("/v1/orders/{b}/milestones/0/financing-offers"),
            Some(offer("2000000", 250, "INV-B-1")),
        ),
        ("accept_an_unknown_financing", "POST", &p.seller_t, "/v1/financings/999/accept".into(), Some(json!({}))),
        ("accept_by_the_buyer", "POST", &p.buyer_t, format!("/v1/financings/{fid}/accept"), Some(json!({}))),
        ("accept_twice", "POST", &p.seller_t, format!("/v1/financings/{fid}/accept"), Some(json!({}))),
        ("withdraw_by_another_financier", "POST", &second_t, format!("/v1/financings/{fid}/withdraw"), Some(json!({}))),
        ("proof_of_an_unknown_transaction", "GET", &financier_t, format!("/v1/proofs/{unknown_tx}?log_index=0"), None),
        ("proof_with_a_malformed_hash", "GET", &financier_t, "/v1/proofs/0x1234?log_index=0".into(), None),
        ("authenticity_of_another_firms_order", "GET", &p.bank_t, "/v1/authenticity?order_id=999".into(), None),
        (
            "authenticity_with_both_keys",
            "GET",
            &financier_t,
            format!("/v1/authenticity?order_id={a}&invoice_hash={unknown_tx}"),
            None,
        ),
    ];
    let mut snapshot = Vec::new();
    for (case, method, token, path, body) in cases {
        let (status, answer) = match method {
            "GET" => net.get(&path, token).await,
            _ => net.post(&path, token, body.unwrap_or_default()).await,
        };
        assert!(status.is_client_error(), "{case}: {status} {answer}");
        let code = answer["error"]["code"].as_str().unwrap_or_default();
        assert!(!code.is_empty() && code.chars().all(|c| c.is_ascii_uppercase() || c == '_'), "{case}: {answer}");
        assert!(answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{case}: {answer}");
        snapshot.push(json!({ "case": case, "status": status.as_u16(), "body": answer }));
    }

    // Nothing changed: no block was sealed by a refusal, and the financings are as before.
    assert_eq!(net.state.chain.head().await.expect("head"), head_before, "a refusal sealed a block");
    let (_, financings_after) = net.get("/v1/financings", &financier_t).await;
    assert_eq!(financings_before, financings_after);
    let redacted = test_support::redact::hex(&serde_json::to_string_pretty(&snapshot).expect("json"));
    insta::assert_snapshot!("financier_error_bodies", redacted);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_firm_grants_a_financier_unprompted_and_may_revoke() {
    let mut net = Net::start(Db::Sqlite).await;
    let (firm, firm_t) = net.onboard("Fazenda Boa Vista Ltda", &["trader"]).await;
    let (financier, financier_t) = net.onboard("Harbour Capital", &["financier"]).await;
    let profile = format!("/v1/firms/{firm}/credit-profile");
    assert_eq!(net.get(&profile, &financier_t).await.0, StatusCode::FORBIDDEN);

    let (s, consent) =
        net.post("/v1/consents", &firm_t, json!({ "financier": financier, "expires_at": date_in(60) })).await;
    assert_eq!(s, StatusCode::CREATED, "{consent}");
    let (s, body) = net.get(&profile, &financier_t).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["firm"], firm.as_str(), "{body}");
    // The firm sees the grant, with no request behind it, and can take it back.
    let (s, overview) = net.get("/v1/consents", &firm_t).await;
    assert_eq!(s, StatusCode::OK, "{overview}");
    assert!(overview.to_string().contains(&financier), "{overview}");
    let (s, body) = net.post(&format!("/v1/consents/{financier}/revoke"), &firm_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(net.get(&profile, &financier_t).await.0, StatusCode::FORBIDDEN);
    net.stop().await;
}
