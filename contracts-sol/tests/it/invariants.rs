//! Property tests of the money invariants, executed in the EVM: milestone amounts add up
//! exactly to the order amount, and however payments are confirmed (repeated, out of
//! order), paid never exceeds the amount and paid + outstanding == amount.

use proptest::prelude::*;
use test_support::evm::*;
use tradechain_contracts::TradeOrders::{self, outstandingCall};

/// Splits 10,000 bps (or `total`) at the given cut points into positive parts.
fn partition(total: u128, mut cuts: Vec<u128>) -> Vec<u128> {
    cuts.retain(|c| *c > 0 && *c < total);
    cuts.sort_unstable();
    cuts.dedup();
    let mut parts = Vec::with_capacity(cuts.len() + 1);
    let mut prev = 0;
    for c in cuts.into_iter().chain(std::iter::once(total)) {
        parts.push(c - prev);
        prev = c;
    }
    parts
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn amounts_conserve_and_paid_never_exceeds_the_order_amount(
        amount in prop_oneof![1u128..1_000, 1_000u128..1_000_000_000_000_000_000],
        cuts in proptest::collection::vec(1u128..1_000_000_000_000_000_000, 0..7),
        by_share in any::<bool>(),
        pay_order in proptest::collection::vec(0usize..8, 0..16),
    ) {
        let mut c = TestChain::with_members();
        let ms: Vec<TradeOrders::MilestoneTerms> = if by_share {
            partition(10_000, cuts.iter().map(|x| x % 10_000).collect())
                .into_iter()
                .map(|bps| share(bps as u16, bit(INVOICE), 0))
                .collect()
        } else {
            partition(amount, cuts.iter().map(|x| x % amount.max(1)).collect())
                .into_iter()
                .map(|a| fixed(a, bit(INVOICE), 0))
                .collect()
        };
        let n = ms.len() as u64;
        let t = TradeOrders::OrderTerms { amount, ..terms(c.now) };
        let id = match c.propose(t, ms) {
            Ok(id) => id,
            Err(f) => {
                // Only a share that rounds down to nothing may refuse a well-formed split.
                prop_assert!(by_share, "fixed partitions always cover the amount: {f:?}");
                prop_assert_eq!(f.name(), "InvalidMilestone");
                return Ok(());
            }
        };
        let sum: u128 = (0..n).map(|i| c.milestone(id, i).amount).sum();
        prop_assert_eq!(sum, amount);

        let to = c.suite.trade_orders;
        c.exec(addr("seller"), to, TradeOrders::acceptCall { orderId: u(id) }).unwrap();
        c.exec(addr("buyer_bank"), to, TradeOrders::commitCall { orderId: u(id), cover: tradechain_contracts::Cover::BankRisk as u8 }).unwrap();
        c.present(id, INVOICE);
        let mut paid = vec![false; n as usize];
        for i in pay_order.into_iter().map(|i| (i as u64) % n) {
            let _ = c.release(id, i);
            let ok = c.confirm("buyer_bank", id, i).is_ok();
            prop_assert_eq!(ok, !paid[i as usize], "a milestone is paid exactly once");
            paid[i as usize] = true;
            let o = c.order(id);
            let outstanding = c.view(to, outstandingCall { orderId: u(id) });
            prop_assert!(o.paid <= o.amount);
            prop_assert_eq!(o.paid + outstanding, o.amount);
            let expected: u128 = (0..n).filter(|j| paid[*j as usize]).map(|j| c.milestone(id, j).amount).sum();
            prop_assert_eq!(o.paid, expected);
        }
    }
}
