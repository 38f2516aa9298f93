//! The web app's session, tried as another site and as a thief would: a sign-in posted from
//! another origin, a change sent with the cookie but without the session's CSRF token (or
//! with another session's), a signed-out or expired session's cookie replayed; the cookie's
//! flags, the page's Content-Security-Policy, and `/` sending browsers (only) to the app.
//! The whole app in a real browser is the binary's test (`tests/it/web.rs`).

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use test_support::api::{Db, Net};
use test_support::fixtures;
use tradechain_api::readmodel::api_token;

struct Session {
    cookie: String,
    csrf: String,
    set_cookie: String,
}

async fn sign_in(net: &Net, token: &str, extra: &[(&str, &str)]) -> Result<Session, (StatusCode, Value)> {
    let mut req = net
        .http
        .post(format!("{}/app/session", net.base))
        .header("content-type", "application/json")
        .body(json!({ "token": token }).to_string());
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("sign-in");
    let status = res.status();
    let set_cookie = res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body: Value = serde_json::from_slice(&res.bytes().await.expect("body")).unwrap_or(Value::Null);
    if status != StatusCode::OK {
        assert!(set_cookie.is_empty(), "a refused sign-in sets no cookie: {set_cookie}");
        return Err((status, body));
    }
    let cookie = set_cookie.split(';').next().expect("cookie").to_string();
    Ok(Session { cookie, csrf: body["csrf"].as_str().expect("csrf").to_string(), set_cookie })
}

/// A request as the browser sends it: the cookie, and the CSRF header if given.
async fn call(
    net: &Net,
    method: &str,
    path: &str,
    s: &Session,
    csrf: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut headers = HeaderMap::new();
    headers.insert("cookie", HeaderValue::from_str(&s.cookie).expect("cookie"));
    if let Some(c) = csrf {
        headers.insert("x-csrf-token", HeaderValue::from_str(c).expect("csrf"));
    }
    let mut req = net.http.request(method.parse().expect("method"), format!("{}{path}", net.base)).headers(headers);
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    (status, serde_json::from_slice(&res.bytes().await.expect("body")).unwrap_or(Value::Null))
}

fn expect_error(got: (StatusCode, Value), status: u16, code: &str) {
    assert_eq!(got.0.as_u16(), status, "{}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{}", got.1);
}

async fn tokens(net: &Net) -> u64 {
    api_token::Entity::find().count(&net.state.db).await.expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_browser_session_holds_against_other_sites_and_replays() {
    let net = Net::start(Db::Sqlite).await;
    let (seller, seller_t) = net.onboard("Santos Coffee", &["trader"]).await;
    let (_, buyer_t) = net.onboard("Hamburg Roastery", &["trader"]).await;
    let (buyer_bank, _) = net.onboard("Nordbank", &["bank"]).await;
    let (seller_bank, _) = net.onboard("Banco Paulista", &["bank"]).await;
    let (_, stranger_t) = net.onboard("Rotterdam Metals", &["trader"]).await;

    // Another site posts a sign-in (a victim signed in as the attacker's organisation, or a
    // stolen token tried from a page): refused, nothing created.
    let before = tokens(&net).await;
    let refused = sign_in(&net, &buyer_t, &[("origin", "http://evil.example")]).await.err().expect("refused");
    expect_error(refused, 403, "CSRF_FAILED");
    expect_error(sign_in(&net, "tc_nope", &[]).await.err().expect("refused"), 401, "UNAUTHENTICATED");
    assert_eq!(tokens(&net).await, before, "no session was made");

    // Signed in from our own page: an HttpOnly, SameSite=Strict cookie, Secure behind TLS.
    let origin = net.base.clone();
    let buyer = sign_in(&net, &buyer_t, &[("origin", origin.as_str())]).await.expect("signed in");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(buyer.set_cookie.contains(flag), "{flag}: {}", buyer.set_cookie);
    }
    assert!(!buyer.set_cookie.contains("Secure"), "plain HTTP: {}", buyer.set_cookie);
    let tls = sign_in(&net, &buyer_t, &[("x-forwarded-proto", "https")]).await.expect("signed in");
    assert!(tls.set_cookie.contains("; Secure"), "{}", tls.set_cookie);
    assert_ne!(buyer.cookie, format!("tc_session={buyer_t}"), "the session is a token of its own, not the one given");

    // Reads need no CSRF token; the same need-to-know applies as to any client.
    let (s, page) = call(&net, "GET", "/v1/orders", &buyer, None, None).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let proposal = fixtures::order(&seller, &buyer_bank, &seller_bank, &["commercial_invoice"]);
    let (s, order) = net.post("/v1/orders", &seller_t, json!({})).await;
    assert_ne!(s, StatusCode::CREATED, "{order}");
    let (s, order) = net.post("/v1/orders", &buyer_t, proposal.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    let id = order["id"].as_i64().expect("id");
    let stranger = sign_in(&net, &stranger_t, &[]).await.expect("signed in");
    expect_error(call(&net, "GET", &format!("/v1/orders/{id}"), &stranger, None, None).await, 404, "ORDER_NOT_FOUND");

    // A change with the cookie alone (what another site's form or script would send): refused,
    // nothing written; with another session's CSRF token: refused; with its own: done.
    let (_, before) = net.get("/v1/orders", &buyer_t).await;
    let count = |v: &Value| v["items"].as_array().map_or(0, Vec::len);
    expect_error(call(&net, "POST", "/v1/orders", &buyer, None, Some(proposal.clone())).await, 403, "CSRF_FAILED");
    expect_error(
        call(&net, "POST", "/v1/orders", &buyer, Some(&stranger.csrf), Some(proposal.clone())).await,
        403,
        "CSRF_FAILED",
    );
    expect_error(call(&net, "POST", "/v1/orders", &buyer, Some(""), Some(proposal.clone())).await, 403, "CSRF_FAILED");
    let (_, after) = net.get("/v1/orders", &buyer_t).await;
    assert_eq!(count(&after), count(&before), "refused changes wrote nothing");
    let (s, body) = call(&net, "POST", "/v1/orders", &buyer, Some(&buyer.csrf), Some(proposal.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    // An API client's bearer token is unaffected: no CSRF token needed, whatever cookie.
    let res = net
        .http
        .post(format!("{}/v1/orders", net.base))
        .bearer_auth(&buyer_t)
        .header("cookie", &stranger.cookie)
        .header("content-type", "application/json")
        .body(proposal.to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::CREATED, "the bearer token decides, not the cookie");

    // The live stream takes the cookie (EventSource sends no header).
    let res =
        net.http.get(format!("{}/v1/events", net.base)).header("cookie", &buyer.cookie).send().await.expect("sse");
    assert_eq!(res.status(), StatusCode::OK);
    drop(res);

    // Sign-out needs the CSRF token, revokes the session (a copied cookie is dead), clears
    // the cookie, and leaves the token it was opened with alone.
    expect_error(call(&net, "DELETE", "/app/session", &buyer, None, None).await, 403, "CSRF_FAILED");
    let res = net
        .http
        .delete(format!("{}/app/session", net.base))
        .header("cookie", &buyer.cookie)
        .header("x-csrf-token", &buyer.csrf)
        .send()
        .await
        .expect("sign out");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cleared = res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert!(cleared.starts_with("tc_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    expect_error(call(&net, "GET", "/v1/orders", &buyer, None, None).await, 401, "TOKEN_REVOKED");
    expect_error(call(&net, "GET", "/app/session", &buyer, None, None).await, 401, "TOKEN_REVOKED");
    assert_eq!(net.get("/v1/orders", &buyer_t).await.0, StatusCode::OK, "the organisation's own token lives on");

    // Revoking the token a session was opened with ends the session (and a session opened
    // with that session): a leaked token revoked leaves no browser session alive.
    let (s, issued) = net.post("/v1/tokens", &buyer_t, json!({ "name": "laptop" })).await;
    assert_eq!(s, StatusCode::CREATED, "{issued}");
    let laptop = issued["token"].as_str().expect("token").to_string();
    let first = sign_in(&net, &laptop, &[]).await.expect("signed in");
    let second = sign_in(&net, first.cookie.trim_start_matches("tc_session="), &[]).await.expect("signed in");
    assert_eq!(call(&net, "GET", "/v1/orders", &second, None, None).await.0, StatusCode::OK);
    let id = issued["id"].as_str().expect("id");
    assert_eq!(net.post(&format!("/v1/tokens/{id}/revoke"), &buyer_t, json!({})).await.0, StatusCode::OK);
    expect_error(call(&net, "GET", "/v1/orders", &first, None, None).await, 401, "TOKEN_REVOKED");
    expect_error(call(&net, "GET", "/v1/orders", &second, None, None).await, 401, "TOKEN_REVOKED");
    expect_error(call(&net, "GET", "/app/session", &first, None, None).await, 401, "TOKEN_REVOKED");
    assert_eq!(net.get("/v1/orders", &buyer_t).await.0, StatusCode::OK, "other tokens live on");

    // A session past its expiry opens nothing.
    let session_hash = tradechain_api::auth::token_hash(stranger.cookie.trim_start_matches("tc_session="));
    api_token::Entity::update_many()
        .col_expr(api_token::Column::ExpiresAt, sea_orm::sea_query::Expr::value(chrono_now() - 1))
        .filter(api_token::Column::TokenHash.eq(session_hash))
        .exec(&net.state.db)
        .await
        .expect("expire");
    expect_error(call(&net, "GET", "/v1/orders", &stranger, None, None).await, 401, "TOKEN_EXPIRED");
}

fn chrono_now() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs())
        .expect("seconds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_app_is_served_hardened_and_browsers_are_sent_to_it() {
    let net = Net::start(Db::Sqlite).await;
    for (path, kind) in [("/app/", "text/html"), ("/app/app.js", "text/javascript"), ("/app/app.css", "text/css")] {
        let res = net.http.get(format!("{}{path}", net.base)).send().await.expect("get");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let h = res.headers();
        let csp = h.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or("");
        for rule in ["default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'none'"] {
            assert!(csp.contains(rule), "{path}: {rule} in {csp}");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
        assert_eq!(h.get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"));
        assert!(h.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").starts_with(kind), "{path}");
    }
    // Nothing loaded from another host, no inline script or style in the page.
    let page = net.http.get(format!("{}/app/", net.base)).send().await.expect("get").text().await.expect("text");
    assert!(!page.contains("http://") && !page.contains("https://"), "{page}");
    assert!(!page.contains("<script>") && !page.contains("style="), "{page}");

    // A browser asking for `/` gets the app; a JSON-RPC client's `/` is unchanged.
    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let res = no_redirect.get(format!("{}/", net.base)).header("accept", "text/html").send().await.expect("get");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers().get("location").and_then(|v| v.to_str().ok()), Some("/app/"));
    let res = net
        .http
        .post(format!("{}/", net.base))
        .header("content-type", "application/json")
        .header("accept", "text/html")
        .body(json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": [] }).to_string())
        .send()
        .await
        .expect("rpc");
    let body: Value = serde_json::from_slice(&res.bytes().await.expect("body")).expect("json");
    assert_eq!(body["result"], "0x1d07", "{body}");
}
