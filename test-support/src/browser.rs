//! A real browser for the web app's tests: Debian's headless Chromium driven through
//! ChromeDriver over the W3C WebDriver protocol (plain JSON over HTTP, spoken here with
//! reqwest: no WebDriver crate needed for the dozen commands the tests use).
//!
//! [`Driver::start`] runs `chromedriver` on a free loopback port; each [`Browser`] is one
//! Chromium session with its own profile (cookies), so five parties sign in side by side.
//! Without `chromium` and `chromedriver` on the machine the tests skip, unless
//! `TRADECHAIN_REQUIRE_CHROMIUM` is set (as `scripts/test.sh` does: they are installed there).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key WebDriver names an element reference by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a wait for the page lasts before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A running ChromeDriver; killed when dropped.
pub struct Driver {
    url: String,
    child: Child,
    http: reqwest::Client,
}

/// Where Chromium and ChromeDriver are, if installed.
fn binaries() -> Option<(String, String)> {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| Path::new(p).exists())?;
    let driver =
        ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].into_iter().find(|p| Path::new(p).exists())?;
    Some((chromium.to_string(), driver.to_string()))
}

impl Driver {
    /// Start ChromeDriver, or `None` (the test skips) when Chromium is not installed and
    /// not required.
    ///
    /// # Panics
    /// When Chromium is required but missing, or ChromeDriver does not answer.
    pub async fn start() -> Option<Driver> {
        let Some((_, driver)) = binaries() else {
            assert!(
                std::env::var_os("TRADECHAIN_REQUIRE_CHROMIUM").is_none(),
                "TRADECHAIN_REQUIRE_CHROMIUM is set but chromium/chromedriver are not installed"
            );
            eprintln!(
                "skipped: chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("http client");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{url}/status")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not answer on {url}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Some(Driver { url, child, http })
    }

    /// A new headless Chromium session (its own profile: its own cookies).
    ///
    /// # Panics
    /// When Chromium cannot start.
    pub async fn browser(&self) -> Browser {
        self.browser_in("en-GB").await
    }

    /// A new session whose user speaks `lang` (a BCP 47 tag: numbers, dates and money are
    /// formatted for it).
    ///
    /// # Panics
    /// When Chromium cannot start.
    pub async fn browser_in(&self, lang: &str) -> Browser {
        let (chromium, _) = binaries().expect("chromium");
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--no-first-run",
                    "--disable-extensions", "--window-size=1280,1000", format!("--lang={lang}")],
                "prefs": { "intl.accept_languages": lang }
            }
        } } });
        let answer = post(&self.http, &format!("{}/session", self.url), &caps).await;
        let id = answer["sessionId"].as_str().expect("a session id").to_string();
        Browser { base: format!("{}/session/{id}", self.url), http: self.http.clone() }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(http: &reqwest::Client, url: &str, body: &Value) -> Value {
    let res = http
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = res.status();
    let v: Value = res.bytes().await.ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null);
    assert!(status.is_success(), "POST {url} {body}: {status} {v}");
    v["value"].clone()
}

/// One Chromium session.
pub struct Browser {
    base: String,
    http: reqwest::Client,
}

/// An element of the page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    async fn cmd(&self, path: &str, body: Value) -> Value {
        post(&self.http, &format!("{}{path}", self.base), &body).await
    }

    async fn try_cmd(&self, path: &str, body: Value) -> Result<Value, Value> {
        let url = format!("{}{path}", self.base);
        let res = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| json!(e.to_string()))?;
        let ok = res.status().is_success();
        let v: Value = res.bytes().await.ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null);
        if ok { Ok(v["value"].clone()) } else { Err(v["value"].clone()) }
    }

    async fn get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.base);
        let res = self.http.get(&url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let v: Value = res.bytes().await.ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null);
        v["value"].clone()
    }

    /// Open `url`.
    pub async fn goto(&self, url: &str) {
        self.cmd("/url", json!({ "url": url })).await;
    }

    /// Run `script` in the page (`return …` gives its value).
    pub async fn eval(&self, script: &str, args: Value) -> Value {
        self.cmd("/execute/sync", json!({ "script": script, "args": args })).await
    }

    /// The first element matching `css` now, if any.
    pub async fn find_now(&self, css: &str) -> Option<Element> {
        let v = self.try_cmd("/element", json!({ "using": "css selector", "value": css })).await.ok()?;
        v[ELEMENT].as_str().map(|id| Element(id.to_string()))
    }

    /// The first element matching `css`, waiting for it to appear.
    ///
    /// # Panics
    /// When none appears within [`PATIENCE`].
    pub async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(e) = self.find_now(css).await {
                return e;
            }
            assert!(Instant::now() < deadline, "no element {css:?} appeared; page: {}", self.page_text().await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The visible text of the element matching `css`, once it contains `wanted`.
    ///
    /// # Panics
    /// When it does not within [`PATIENCE`].
    pub async fn wait_text(&self, css: &str, wanted: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(e) = self.find_now(css).await {
                let text = self.text(&e).await;
                if text.contains(wanted) {
                    return text;
                }
            }
            assert!(Instant::now() < deadline, "{css:?} never showed {wanted:?}; page: {}", self.page_text().await);
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// The text of the element matching `css` once it contains `wanted`, or `None` after
    /// `within`.
    pub async fn text_within(&self, css: &str, wanted: &str, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(e) = self.find_now(css).await {
                let text = self.text(&e).await;
                if text.contains(wanted) {
                    return Some(text);
                }
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        None
    }

    /// Click the element matching `css` if it is there and can be clicked now.
    pub async fn try_click(&self, css: &str) -> bool {
        match self.find_now(css).await {
            Some(e) => self.try_cmd(&format!("/element/{}/click", e.0), json!({})).await.is_ok(),
            None => false,
        }
    }

    /// The page's whole visible text (for failure messages).
    pub async fn page_text(&self) -> String {
        self.eval("return document.body ? document.body.innerText : ''", json!([]))
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// An element's visible text.
    pub async fn text(&self, e: &Element) -> String {
        self.get(&format!("/element/{}/text", e.0)).await.as_str().unwrap_or("").to_string()
    }

    /// An element's attribute.
    pub async fn attribute(&self, e: &Element, name: &str) -> Option<String> {
        self.get(&format!("/element/{}/attribute/{name}", e.0)).await.as_str().map(str::to_string)
    }

    /// Do `what` (an element command) to the element matching `css`, finding it again when
    /// the page re-rendered in between (a live update replaces the elements it shows).
    async fn on_element(&self, css: &str, what: &str, body: Value) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let e = self.find(css).await;
            match self.try_cmd(&format!("/element/{}/{what}", e.0), body.clone()).await {
                Ok(_) => return,
                Err(err) => {
                    assert!(Instant::now() < deadline, "{what} on {css:?} failed: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// Click the element matching `css` (waiting for it).
    pub async fn click(&self, css: &str) {
        self.on_element(css, "click", json!({})).await;
    }

    /// Click the button whose text is `text` (waiting for it).
    pub async fn click_button(&self, text: &str) {
        let xpath = format!("//button[normalize-space(.)='{text}']");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(v) = self.try_cmd("/element", json!({ "using": "xpath", "value": xpath })).await
                && let Some(id) = v[ELEMENT].as_str()
                && self.try_cmd(&format!("/element/{id}/click"), json!({})).await.is_ok()
            {
                return;
            }
            assert!(Instant::now() < deadline, "no button {text:?}; page: {}", self.page_text().await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Replace the value of the field matching `css` by typing `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        self.on_element(css, "clear", json!({})).await;
        self.on_element(css, "value", json!({ "text": text })).await;
    }

    /// Type into the element (a file input takes a path).
    pub async fn send_keys(&self, css: &str, text: &str) {
        self.on_element(css, "value", json!({ "text": text })).await;
    }

    /// Choose the option with `value` of the `<select>` matching `css`.
    pub async fn choose(&self, css: &str, value: &str) {
        self.click(&format!("{css} option[value=\"{value}\"]")).await;
    }

    /// The location's fragment (`#/orders/2`).
    pub async fn hash(&self) -> String {
        self.eval("return location.hash", json!([])).await.as_str().unwrap_or("").to_string()
    }

    /// The browser's cookies (HttpOnly ones too: WebDriver sees them, the page does not).
    pub async fn cookies(&self) -> Vec<Value> {
        self.get("/cookie").await.as_array().cloned().unwrap_or_default()
    }

    /// Save a PNG screenshot of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let b64 = self.get("/screenshot").await;
        let png = decode_base64(b64.as_str().unwrap_or("")).expect("a base64 screenshot");
        std::fs::write(path, png).expect("write the screenshot");
    }

    /// End the session (closes its Chromium).
    pub async fn close(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}

/// Standard base64 (WebDriver's screenshots), padding optional.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let bytes: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace() && *b != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let [_, a, b, c] = acc.to_be_bytes();
        out.push(a);
        if chunk.len() > 2 {
            out.push(b);
        }
        if chunk.len() > 3 {
            out.push(c);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(super::decode_base64("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(super::decode_base64("aGVsbG8h").as_deref(), Some(&b"hello!"[..]));
        assert_eq!(super::decode_base64("aGk").as_deref(), Some(&b"hi"[..]));
        assert_eq!(super::decode_base64("a$"), None);
    }
}
