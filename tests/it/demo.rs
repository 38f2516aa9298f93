//! `tradechain demo` plays the flagship scenario on the embedded defaults and ends verified;
//! `tradechain scenario run` exits non-zero on an unmet expectation, naming it.

use std::process::Command;

#[test]
fn demo_completes_a_trade_pays_the_seller_and_verifies_the_chain() {
    let out = Command::new(env!("CARGO_BIN_EXE_tradechain"))
        .arg("demo")
        .env_remove("RUST_LOG")
        .output()
        .expect("the tradechain binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("Coffee at sight on the bill of lading"), "{stdout}");
    assert!(stdout.contains("Atlantic Lines       attests the bill of lading"), "{stdout}");
    assert!(stdout.contains("milestone 1 triggered, due day 11"), "{stdout}");
    assert!(stdout.contains("USD 240,000.00 → Santos Coffee"), "the seller is paid through the bank:\n{stdout}");
    assert!(stdout.contains("order coffee (#1): completed — paid USD 240,000.00 of USD 240,000.00"), "{stdout}");
    assert!(stdout.contains("chain verified from genesis"), "{stdout}");
    assert!(!stderr.contains(" INFO "), "the timeline is not drowned in logs:\n{stderr}");
}

#[test]
fn scenario_run_fails_on_an_unmet_expectation_and_names_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/expiry-nothing-paid.toml"))
        .expect("scenario");
    let bad = good.replace("state = \"expired\"", "state = \"completed\"");
    assert_ne!(good, bad);
    let file = dir.path().join("wrong.toml");
    std::fs::write(&file, bad).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_tradechain"))
        .args(["scenario", "run"])
        .arg(&file)
        .env_remove("RUST_LOG")
        .output()
        .expect("the tradechain binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an unmet expectation must fail the run");
    assert!(
        stderr.contains(
            "step 6 (Expire Rotterdam Metals steel): expectation `state` not met: expected completed, got expired"
        ),
        "{stderr}"
    );
}

#[test]
fn scenario_run_reports_progress_on_stderr_when_asked() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/expiry-nothing-paid.toml");
    let steps = std::fs::read_to_string(file).expect("scenario").matches("[[step]]").count();
    assert!(steps > 1, "the scenario has steps");
    let out = Command::new(env!("CARGO_BIN_EXE_tradechain"))
        .args(["scenario", "run", "--progress", file])
        .env_remove("RUST_LOG")
        .output()
        .expect("the tradechain binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(": step 1/"), "{stderr}");
    assert!(stderr.contains(&format!(": step {steps}/{steps}")), "{stderr}");
    // The timeline itself stays on stdout, free of progress lines.
    assert!(!String::from_utf8_lossy(&out.stdout).contains(": step 1/"));
}
