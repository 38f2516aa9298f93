//! `tradechain demo` plays a whole trade on the embedded defaults and ends verified.

use std::process::Command;

#[test]
fn demo_completes_a_trade_pays_everyone_and_verifies_the_chain() {
    let out = Command::new(env!("CARGO_BIN_EXE_tradechain"))
        .arg("demo")
        .env_remove("RUST_LOG")
        .output()
        .expect("the tradechain binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("USD 72,000.00 → Santos Coffee"), "{stdout}");
    assert!(stdout.contains("USD 168,000.00 → Harbour Capital"), "assigned proceeds go to the financier:\n{stdout}");
    assert!(stdout.contains("NotDueYet"), "no payment is released before its due date:\n{stdout}");
    assert!(stdout.contains("order #1: completed — paid USD 240,000.00 of USD 240,000.00"), "{stdout}");
    assert!(stdout.contains("chain verified from genesis"), "{stdout}");
    assert!(!stderr.contains(" INFO "), "the timeline is not drowned in logs:\n{stderr}");
}
