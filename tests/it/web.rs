//! The web app in a real browser: `tradechain demo --serve` in a process of its own, and
//! headless Chromium sessions (one per organisation, each with its own cookies) clicking
//! through a whole trade from proposal to payment, the sandbox bank paying; a financier
//! onboarded by the operator in the browser, refused another firm's order, granted consent,
//! reading the credit profile and checking one proof against the chain; a wrong amount
//! shown next to its field; sign-out ending the session for whoever copied its cookie.
//! Screenshots of each party's page at the end are kept in the test's target directory.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use test_support::browser::{Browser, Driver};

/// `tradechain demo --serve` on a free loopback port; killed when dropped.
struct Demo {
    child: Child,
    base: String,
    /// Party name → sign-in link.
    links: Vec<(String, String)>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Demo {
    fn start() -> Demo {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tradechain"))
            .args(["demo", "--serve", "--listen", "127.0.0.1:0"])
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the tradechain binary runs");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut demo = Demo { child, base: String::new(), links: Vec::new() };
        let deadline = Instant::now() + Duration::from_secs(240);
        let mut seen = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| panic!("the demo printed no sign-in links:\n{seen}"));
            seen.push_str(&line);
            seen.push('\n');
            if let Some(rest) = line.strip_prefix("The platform keeps running at ") {
                demo.base = rest.split(". ").next().unwrap_or("").to_string();
            }
            if let Some((name, link)) = line.trim().rsplit_once(' ')
                && link.contains("/app/#token=tc_")
            {
                demo.links.push((name.trim().to_string(), link.to_string()));
                if name.trim() == "Operator" {
                    break;
                }
            }
        }
        // Keep draining stdout so the demo never blocks on a full pipe.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        assert!(seen.contains("order coffee (#1): completed"), "{seen}");
        demo
    }

    fn link(&self, name: &str) -> &str {
        &self.links.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no link for {name}: {:?}", self.links)).1
    }

    fn token(&self, name: &str) -> String {
        self.link(name).split("#token=").nth(1).expect("token").to_string()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn screenshots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

async fn rest(http: &reqwest::Client, base: &str, token: &str, path: &str) -> (u16, Value) {
    let res = http.get(format!("{base}{path}")).bearer_auth(token).send().await.expect("REST");
    let status = res.status().as_u16();
    (status, res.bytes().await.ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null))
}

/// Sign `browser` in through the printed link; wait until the page names the organisation.
async fn sign_in(browser: &Browser, demo: &Demo, name: &str) {
    browser.goto(demo.link(name)).await;
    // The link fills the form; a person clicks.
    browser.click_button("Sign in").await;
    // The operator is registered as "operator".
    browser.wait_text("#who-name", if name == "Operator" { "operator" } else { name }).await;
    assert!(!browser.hash().await.contains("token"), "the token is taken out of the address bar");
}

/// Every control of the page has a label a screen reader announces (WCAG 1.3.1, 4.1.2),
/// and every error place is announced (role=alert).
async fn assert_accessible(browser: &Browser, page: &str) {
    let unlabelled = browser
        .eval(
            "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
               .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute('aria-label'))
               .map((c) => c.outerHTML)",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(unlabelled, serde_json::json!([]), "{page}: controls without a label");
    let buttons = browser
        .eval(
            "return [...document.querySelectorAll('button')].filter((b) => !b.textContent.trim()).length",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(buttons, 0, "{page}: a button without a name");
}

async fn open_order(browser: &Browser, base: &str, id: i64) {
    browser.goto(&format!("{base}/app/#/orders/{id}")).await;
    browser.wait_text("h1", &format!("Order #{id}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_parties_work_a_trade_in_chromium_and_a_financier_checks_the_seller() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(driver) = Driver::start().await else { return };
    let demo = Demo::start();
    let base = demo.base.clone();
    let http = reqwest::Client::new();
    let shots = screenshots_dir();

    let buyer = driver.browser().await;
    let seller = driver.browser().await;
    let bank = driver.browser().await;
    let carrier = driver.browser().await;
    // The seller's bank works in German: its page formats money and dates for de-DE.
    let seller_bank = driver.browser_in("de-DE").await;
    sign_in(&buyer, &demo, "Hamburg Roastery").await;
    sign_in(&seller, &demo, "Santos Coffee").await;
    sign_in(&bank, &demo, "Nordbank").await;
    sign_in(&carrier, &demo, "Atlantic Lines").await;
    sign_in(&seller_bank, &demo, "Banco Paulista").await;
    // Another member's sign-in link, sent to a signed-in party, does not swap its session
    // (opened afresh, as from a mail).
    buyer.goto("about:blank").await;
    buyer.goto(demo.link("Santos Coffee")).await;
    buyer.wait_text("#flash", "sign out first").await;
    buyer.goto(&format!("{}/app/#/", demo.base)).await;
    buyer.wait_text("#who-name", "Hamburg Roastery").await;
    // The session cookie is HttpOnly and SameSite=Strict: the page's script cannot read it.
    let cookies = buyer.cookies().await;
    let session = cookies.iter().find(|c| c["name"] == "tc_session").expect("a session cookie");
    assert_eq!(
        (session["httpOnly"].as_bool(), session["sameSite"].as_str()),
        (Some(true), Some("Strict")),
        "{session}"
    );
    let seen_by_script = buyer.eval("return document.cookie", serde_json::json!([])).await;
    assert!(!seen_by_script.as_str().unwrap_or("").contains("tc_session"), "{seen_by_script}");

    let (_, orgs) = rest(&http, &base, &demo.token("Operator"), "/v1/organisations").await;
    let dir = |name: &str| {
        orgs.as_array()
            .and_then(|a| a.iter().find(|o| o["name"] == name))
            .and_then(|o| o["address"].as_str())
            .unwrap_or_else(|| panic!("{name} in the directory"))
            .to_string()
    };
    let seller_addr = dir("Santos Coffee");
    let bank_addr = dir("Nordbank");
    let seller_bank_addr = dir("Banco Paulista");
    let carrier_addr = dir("Atlantic Lines");

    // The buyer proposes; a wrong amount is refused by the API and shown at its field.
    buyer.goto(&format!("{base}/app/#/orders/new")).await;
    buyer.find("form#new-order").await;
    buyer.choose("#f-seller", &seller_addr).await;
    buyer.choose("#f-buyer_bank", &bank_addr).await;
    buyer.choose("#f-seller_bank", &seller_bank_addr).await;
    buyer.choose("#f-carrier", &carrier_addr).await;
    buyer.fill("#f-goods", "320 bags green arabica, grade 2").await;
    buyer.fill("#f-quantity", "19200").await;
    buyer.fill("#f-port_of_loading", "BRSSZ").await;
    buyer.fill("#f-port_of_discharge", "DEHAM").await;
    assert_accessible(&buyer, "new order").await;
    buyer.fill("#f-amount", "0").await;
    buyer.click_button("Propose the order").await;
    let error = buyer.wait_text("#f-amount-error", "amount").await;
    let amount = buyer.find("#f-amount").await;
    assert_eq!(buyer.attribute(&amount, "aria-invalid").await.as_deref(), Some("true"), "{error}");
    let code = buyer.eval("return document.getElementById('f-amount-error').dataset.code", serde_json::json!([])).await;
    assert_eq!(code, "INVALID_AMOUNT", "the API's refusal, next to the amount: {error}");
    let (_, before) = rest(&http, &base, &demo.token("Hamburg Roastery"), "/v1/orders").await;
    assert_eq!(before["items"].as_array().map(Vec::len), Some(1), "the refused proposal wrote nothing");
    // Too many decimals for the currency is caught before sending, also at the field.
    buyer.fill("#f-amount", "64000.123").await;
    buyer.click_button("Propose the order").await;
    buyer.wait_text("#f-amount-error", "USD has 2 decimals").await;
    buyer.fill("#f-amount", "64,000.50").await;
    buyer.click_button("Propose the order").await;
    buyer.wait_text("h1", "proposed").await;
    let hash = buyer.hash().await;
    let id: i64 = hash.trim_start_matches("#/orders/").parse().unwrap_or_else(|_| panic!("order page: {hash}"));
    let (_, order) = rest(&http, &base, &demo.token("Hamburg Roastery"), &format!("/v1/orders/{id}")).await;
    assert_eq!(order["amount_minor"], "6400050", "money in minor units by the currency's exponent: {order}");
    assert_eq!(order["details"]["port_of_loading"], "BRSSZ");

    // The seller accepts; the buyer's bank commits.
    open_order(&seller, &base, id).await;
    seller.click_button("Accept the order").await;
    seller.wait_text("h1", "accepted").await;
    open_order(&bank, &base, id).await;
    bank.click_button("Commit the undertaking").await;
    bank.wait_text("h1", "committed").await;

    // Live: the seller's page, open since the acceptance, shows the upload without a reload.
    seller.find("#upload-bill_of_lading").await;
    let file = std::env::temp_dir().join(format!("bl-{}-{id}.pdf", std::process::id()));
    let content = format!("%PDF-1.7 bill of lading ATL-{id}, clean on board, Santos");
    std::fs::write(&file, &content).expect("write the file");
    seller.send_keys("#upload-bill_of_lading", file.to_str().expect("path")).await;
    let shown = seller.wait_text("[data-doc=bill_of_lading] .hash", "0x").await;
    let anchored = <sha2::Sha256 as sha2::Digest>::digest(content.as_bytes());
    assert_eq!(
        shown.trim(),
        format!("0x{}", hex(&anchored)),
        "the hash shown is the file's SHA-256, as anchored on chain"
    );

    // The carrier finds it in its queue and attests it.
    carrier.goto(&format!("{base}/app/#/attest")).await;
    carrier.click(&format!("#attest a[href='#/orders/{id}']")).await;
    carrier.wait_text("h1", &format!("Order #{id}")).await;
    carrier.click_button("Attest").await;
    carrier.wait_text("[data-doc=bill_of_lading]", "attested").await;

    // The bank's queue, by deadline; the document opened inline; accepted.
    bank.goto(&format!("{base}/app/#/examine")).await;
    bank.wait_text("#examine", "bill of lading").await;
    bank.click(&format!("#examine a[href='#/orders/{id}']")).await;
    bank.find("iframe.doc").await;
    bank.wait_text("[data-doc=bill_of_lading] .deadline", "banking day").await;
    assert_accessible(&bank, "examination").await;
    bank.click_button("Accept the document").await;

    // The settlement workers release and pay; every party's page follows live.
    buyer.wait_text("h1", "completed").await;
    seller.wait_text("h1", "completed").await;
    let (_, paid) = rest(&http, &base, &demo.token("Santos Coffee"), &format!("/v1/orders/{id}/payments")).await;
    let e2e = paid[0]["end_to_end_id"].as_str().expect("an EndToEndId").to_string();
    assert_eq!(paid[0]["state"], "paid", "{paid}");
    bank.goto(&format!("{base}/app/#/payments")).await;
    let row = bank.wait_text(&format!("tr[data-e2e='{e2e}']"), "paid").await;
    assert!(row.contains("64,000.50"), "money formatted for the user's locale: {row}");
    seller_bank.goto(&format!("{base}/app/#/payments")).await;
    let row = seller_bank.wait_text(&format!("tr[data-e2e='{e2e}']"), "paid").await;
    assert!(row.contains("64.000,50"), "money formatted for a German user: {row}");

    for (name, b) in [
        ("buyer", &buyer),
        ("seller", &seller),
        ("buyer-bank", &bank),
        ("carrier", &carrier),
        ("seller-bank", &seller_bank),
    ] {
        if !["buyer-bank", "seller-bank"].contains(&name) {
            open_order(b, &base, id).await;
        }
        b.screenshot(&shots.join(format!("{name}.png"))).await;
    }
    for b in [buyer, carrier, seller_bank] {
        b.close().await;
    }

    // The operator onboards a financier in the browser; its first token is shown once.
    let operator = driver.browser().await;
    sign_in(&operator, &demo, "Operator").await;
    operator.goto(&format!("{base}/app/#/admin")).await;
    operator.wait_text("#chain", "Indexer lag").await;
    assert_accessible(&operator, "operator").await;
    operator.fill("#f-name", "Lisbon Trade Finance").await;
    operator.click("input[name=roles][value=financier]").await;
    operator.click_button("Onboard").await;
    let onboarded = operator.wait_text("#onboarded", "tc_").await;
    let token = onboarded.split_whitespace().find(|w| w.starts_with("tc_")).expect("token").to_string();
    operator.screenshot(&shots.join("operator.png")).await;
    operator.close().await;

    // The financier signs in with the form; another firm's order is "not found".
    let financier = driver.browser().await;
    financier.goto(&format!("{base}/app/")).await;
    financier.fill("#f-token", &token).await;
    financier.click_button("Sign in").await;
    financier.wait_text("#who-name", "Lisbon Trade Finance").await;
    financier.goto(&format!("{base}/app/#/orders/{id}")).await;
    financier.wait_text("h1", "Not found").await;
    let code = financier.eval("return document.querySelector('[data-code]').dataset.code", serde_json::json!([])).await;
    assert_eq!(code, "ORDER_NOT_FOUND");
    financier.goto(&format!("{base}/app/#/firms/{seller_addr}")).await;
    financier.wait_text("#page", "consent").await;

    // It asks the seller, who grants access; then it reads the profile and checks a proof.
    financier.goto(&format!("{base}/app/#/financier")).await;
    financier.choose("#f-firm", &seller_addr).await;
    financier.click_button("Ask for access").await;
    financier.wait_text("#my-requests", "Santos Coffee").await;
    seller.goto(&format!("{base}/app/#/consents")).await;
    assert_accessible(&seller, "consents").await;
    seller.click_button("Grant access").await;
    seller.wait_text("#page", "granted").await;
    financier.goto(&format!("{base}/app/#/firms/{seller_addr}")).await;
    let completed = financier.wait_text("[data-figure=completed_as_seller]", "2 orders").await;
    assert!(completed.contains("304,000.50"), "USD 240,000.00 + 64,000.50: {completed}");
    // Open the figure's cited transactions and check the first against the chain (a live
    // update may re-render the page meanwhile: then the reader clicks again).
    let figure = "details[data-figure=completed_as_seller]";
    let mut verified = None;
    for _ in 0..10 {
        if financier.eval(&format!("return document.querySelector('{figure}').open"), serde_json::json!([])).await
            != true
        {
            financier.try_click(&format!("{figure} summary")).await;
        }
        if financier.try_click(&format!("{figure} button.check-proof")).await {
            verified = financier
                .text_within(&format!("{figure} .proof-result"), "verified on chain", Duration::from_secs(5))
                .await;
            if verified.is_some() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(verified.is_some(), "a cited transaction checked on chain: {}", financier.page_text().await);
    financier.screenshot(&shots.join("financier.png")).await;
    financier.wait_text("#page", "Trade history").await;
    // An offer is checked before it is sent: on a paid order the contract would refuse it.
    financier.goto(&format!("{base}/app/#/offer/{id}/USD")).await;
    financier.fill("#f-advance", "50000").await;
    financier.fill("#f-invoice_number", "SC-2026-118").await;
    financier.fill("#f-invoice_amount", "64000.50").await;
    assert_accessible(&financier, "offer").await;
    financier.click("#check-offer").await;
    financier.wait_text("#offer-check", "would refuse").await;
    seller.goto(&format!("{base}/app/#/consents")).await;
    seller.wait_text("#reads", "Lisbon Trade Finance").await;
    seller.screenshot(&shots.join("seller-consents.png")).await;

    // Signing out revokes the session: its cookie, copied, opens nothing any more.
    let cookie = seller.cookies().await.into_iter().find(|c| c["name"] == "tc_session").expect("cookie");
    let value = cookie["value"].as_str().expect("value").to_string();
    seller.click_button("Sign out").await;
    seller.find("form#signin").await;
    let res = http
        .get(format!("{base}/v1/orders"))
        .header("cookie", format!("tc_session={value}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status().as_u16(), 401, "a signed-out session's cookie authenticates nothing");
    for b in [seller, bank, financier] {
        b.close().await;
    }
    eprintln!("screenshots kept in {}", shots.display());
}
