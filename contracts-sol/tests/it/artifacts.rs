//! The committed artifacts are what the sources compile to, and the bindings, the
//! genesis plan and the revert decoder agree with them.

use std::path::Path;
use std::process::Command;

use alloy::primitives::{Address, U256};
use alloy::sol_types::SolError;
use test_support::evm::*;
use tradechain_contracts::genesis::{self, SuiteAddresses};
use tradechain_contracts::{Consents, Consortium, Receivables, TradeOrders, TradechainErrors, revert};

#[test]
fn committed_artifacts_match_a_fresh_compile() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !dir.join("node_modules/solc").exists() {
        // CI installs the pinned compiler (scripts/test.sh runs `npm ci`) and sets this,
        // so there the check can never be skipped silently.
        assert!(
            std::env::var_os("TRADECHAIN_REQUIRE_SOLC").is_none(),
            "TRADECHAIN_REQUIRE_SOLC is set but contracts-sol/node_modules is missing: run `npm ci` in contracts-sol/"
        );
        eprintln!("SKIPPED: contracts-sol/node_modules missing; run `npm ci` in contracts-sol/ to check artifacts");
        return;
    }
    let out = Command::new("node").arg("compile.js").arg("--check").current_dir(dir).output().expect("node runs");
    assert!(
        out.status.success(),
        "artifacts are stale:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn genesis_deploys_the_suite_at_the_documented_addresses() {
    let mut c = TestChain::new();
    let a = SuiteAddresses::for_operator(c.operator);
    assert_eq!(c.suite, a);
    assert_eq!(genesis::plan(c.operator).len(), 6);
    assert_eq!(c.view(a.trade_orders, TradeOrders::consortiumCall {}), a.consortium);
    assert_eq!(c.view(a.trade_orders, TradeOrders::receivablesCall {}), a.receivables);
    assert_eq!(c.view(a.trade_orders, TradeOrders::consentsCall {}), a.consents);
    assert_eq!(c.view(a.consents, Consents::ordersCall {}), a.trade_orders);
    assert_eq!(c.view(a.consents, Consents::receivablesCall {}), a.receivables);
    assert_eq!(c.view(a.receivables, Receivables::ordersCall {}), a.trade_orders);
    assert_eq!(c.view(a.consents, Consents::consortiumCall {}), a.consortium);
    assert!(c.view(
        a.consortium,
        Consortium::hasRoleCall { account: c.operator, role: tradechain_contracts::role::OPERATOR }
    ));
}

#[test]
fn reverts_decode_to_stable_codes_and_readable_messages() {
    let caller: Address = addr("seller");
    let data = TradechainErrors::NotOrderBuyer { caller }.abi_encode();
    let r = revert::decode(&data).expect("suite error decodes");
    assert_eq!(r.code, "NOT_ORDER_BUYER");
    assert_eq!(r.message, format!("NotOrderBuyer(caller: {})", caller.to_checksum(None)));

    let data = TradechainErrors::InvalidCurrency { currency: b3("usd") }.abi_encode();
    assert_eq!(revert::decode(&data).unwrap().message, "InvalidCurrency(currency: usd)");

    let data = TradechainErrors::MilestonesDoNotSum { coveredBps: U256::from(9_000), expectedBps: U256::from(10_000) }
        .abi_encode();
    assert_eq!(revert::decode(&data).unwrap().code, "MILESTONES_DO_NOT_SUM");

    assert!(revert::decode(&[]).is_none());
    assert!(revert::decode(&[0xde, 0xad, 0xbe, 0xef, 1, 2]).is_none(), "unknown selector");
    let mut truncated = TradechainErrors::NotOrderBuyer { caller }.abi_encode();
    truncated.truncate(10);
    assert!(revert::decode(&truncated).is_none(), "truncated arguments");
    // Every error of the suite has a distinct code.
    let mut codes: Vec<String> = revert::all().map(|e| revert::code_of(&e.name)).collect();
    let n = codes.len();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), n);
    assert!(n >= 60, "all custom errors are in the table, got {n}");
}
