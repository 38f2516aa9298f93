//! The API's tests, over real HTTP on loopback against the embedded node (SQLite and
//! PostgreSQL read models) or a Hardhat network: whole trades, financing, consents and
//! credit profiles, authenticity, live events, remote backends, and the OpenAPI document.
//! One test binary, a module per feature.

mod authenticity;
mod consortium;
mod credit;
mod financier_errors;
mod financing;
mod hardening;
mod holiday;
mod keys;
mod live;
mod members_only;
mod openapi;
mod overload;
mod provenance;
mod readmodel;
mod registry;
mod remote;
mod tokens;
mod trade;
mod web;

/// `tests/js` with its pinned npm packages (ethers) installed, where Node.js is; `None`
/// (said loudly) where it is not, and `what` did not run.
fn js_tests(what: &str) -> Option<std::path::PathBuf> {
    let js = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    if std::process::Command::new("node").arg("--version").output().is_err() {
        eprintln!("\n\n*** SKIPPED: `node` is not installed; {what} did not run ***\n\n");
        return None;
    }
    if !js.join("node_modules/ethers").exists() {
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&js)
            .status()
            .expect("npm runs");
        assert!(status.success(), "npm ci failed in {}", js.display());
    }
    Some(js)
}
