//! The workspace's HTTP client: reqwest over rustls with the ring provider (which the
//! database driver already brings), with a total timeout per request.

use std::time::Duration;

/// A client whose every request times out after `timeout` (connecting after at most 5 s).
///
/// # Errors
/// When the TLS stack cannot be initialised.
pub fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    builder(timeout).build()
}

/// As [`client`], following no redirect: for calls to addresses other parties publish (a
/// peer node's endpoint), which must not send this node's requests elsewhere.
///
/// # Errors
/// When the TLS stack cannot be initialised.
pub fn client_without_redirects(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    builder(timeout).redirect(reqwest::redirect::Policy::none()).build()
}

fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    // Installing twice is harmless (the first provider stays); only the first call matters.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(timeout).connect_timeout(timeout.min(Duration::from_secs(5)))
}
