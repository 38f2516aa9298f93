//! A payment is requested for execution on the paying bank's banking day: the first on or
//! after its due date, by the bank's holiday calendar on chain; released late, today's (or
//! the next banking day's), never a date in the past.

use std::time::Duration;

use test_support::settlement::*;
use tradechain_contracts::{Consortium, Cover};

fn weekday(day: u64) -> bool {
    (day + 3) % 7 < 5
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_payment_is_requested_for_the_banks_next_banking_day_not_its_past_due_date() {
    let chain = start_chain().await;
    let bank = spawn_sandbox(std::path::Path::new(env!("CARGO_BIN_EXE_sandbox-bank")));
    let p = Parties::new();
    p.register(&chain).await;
    open_accounts(&bank, &p, 10_000_000).await;
    let order = due_order(&chain, &p, 1_000_000, &[10_000], Cover::BankRisk).await;
    let due = chain.milestone(order, 0).await.dueDate;
    // Twelve days late; the bank declares today and tomorrow holidays.
    chain.advance(12 * DAY).await;
    let today = chain.now().await / DAY;
    let days = vec![u32::try_from(today).expect("day"), u32::try_from(today + 1).expect("day")];
    chain.send(&p.buyer_bank, chain.suite.consortium, Consortium::setHolidaysCall { days_: days, holiday: true }).await;
    chain.advance(1).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let w = worker(&chain, &bank, &p, &sqlite_url(&dir, "outbox.db"), Duration::from_secs(2)).await;
    let id = e2e(chain.node.config().chain_id, order, 0, 1);
    drive_until(&w, Duration::from_secs(20), || async { w.outbox().get(&id).await.ok().flatten().is_some() }).await;
    let ins = w.outbox().get(&id).await.expect("outbox").expect("recorded");
    let requested = u64::try_from(ins.due_date).expect("a date") / DAY;
    let expected = (today + 2..).find(|d| weekday(*d)).expect("a banking day");
    assert!(requested > due / DAY, "not the past due date");
    assert_eq!(requested, expected, "the first banking day after today's and tomorrow's holidays");
}
