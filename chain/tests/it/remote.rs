//! The remote backend against a Hardhat node.

use std::time::Duration;

use serde_json::{Value, json};
use tradechain_chain::Chain;
use tradechain_chain::remote::{RemoteChain, RemoteSettings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_heads_arrive_by_websocket_subscription() {
    let Some(url) = test_support::hardhat::url() else { return };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ws = url.replacen("http", "ws", 1);
    // Polling once a minute: within the 30 s wait below, only the subscription can wake it.
    let settings =
        RemoteSettings { ws_url: Some(ws), poll_interval: Duration::from_secs(60), ..RemoteSettings::new(&url) };
    let chain = RemoteChain::connect(settings).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let known = chain.head().await.expect("head");
    let client = test_support::hardhat::connect(&url).await;
    let started = std::time::Instant::now();
    let miner = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _: Value = client.rpc().request("evm_mine", json!([])).await.expect("mine");
    });
    chain.wait_new_head(known, Duration::from_secs(30)).await;
    assert!(chain.head().await.expect("head") > known, "a new head");
    assert!(started.elapsed() < Duration::from_secs(10), "woken by the subscription, not the minute's poll");
    // Whatever else mined meanwhile, the new head came over the WebSocket.
    assert!(chain.subscribed_head().expect("subscribed") > known, "announced by newHeads");
    miner.await.expect("miner");
}

/// Many reads sent as JSON-RPC batches (here 250: three batches) answer each call as it is
/// answered alone, in the order asked, a revert among them included: a worker reading a
/// batch's milestones must never pair one milestone with another's state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_in_batches_answer_each_call_as_alone_in_order() {
    use alloy::primitives::{Address, U256};
    use tradechain_chain::{call_sol, call_sol_many};
    use tradechain_contracts::TradeOrders;
    let chain = test_support::settlement::start_chain().await;
    let to = chain.suite.trade_orders;
    let bank = Address::repeat_byte(0x13);
    let start = 1_798_761_600u64; // 2027-01-01
    let calls: Vec<(Address, TradeOrders::bankingDayOfCall)> =
        (0..250u64).map(|i| (to, TradeOrders::bankingDayOfCall { bank, ts: start + i * 86_400 })).collect();
    let mut mixed: Vec<(Address, TradeOrders::getOrderCall)> =
        vec![(to, TradeOrders::getOrderCall { orderId: U256::from(424_242) })];
    mixed.extend(std::iter::repeat_n((to, TradeOrders::getOrderCall { orderId: U256::from(1) }), 2));

    let batched = call_sol_many(chain.rpc.as_ref(), bank, &calls).await.expect("batched reads");
    assert_eq!(batched.len(), calls.len());
    for ((to, call), answer) in calls.iter().zip(&batched) {
        let alone = call_sol(chain.rpc.as_ref(), bank, *to, call).await.expect("read alone");
        assert_eq!(answer.as_ref().expect("answered"), &alone, "ts {}", call.ts);
    }
    // Saturday 2 January 2027 rolls to Monday the 4th: the answers are the days asked.
    assert_eq!(batched[1].as_ref().expect("answered"), &(start + 3 * 86_400));

    let answers = call_sol_many(chain.rpc.as_ref(), bank, &mixed).await.expect("reads");
    for ((to, call), answer) in mixed.iter().zip(answers) {
        let alone = call_sol(chain.rpc.as_ref(), bank, *to, call).await;
        assert_eq!(format!("{answer:?}"), format!("{alone:?}"), "order {}", call.orderId);
    }
}
