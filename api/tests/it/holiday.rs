//! Banks' holiday calendars through the API: a bank keeps its own, from today on; any
//! member reads it; a presentation made after a declaration is examined by it (five
//! banking days skip the holiday), one made before keeps its period; the read model
//! rebuilt from the chain holds the same calendar.

use reqwest::StatusCode;
use serde_json::json;
use test_support::api::{Db, Net};
use test_support::clock::{DAY, day0};
use test_support::fixtures::{date_in, order};
use tradechain_api::indexer::Indexer;
use tradechain_api::readmodel;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_keeps_its_calendar_and_later_presentations_are_examined_by_it() {
    let mut net = Net::start(Db::Sqlite).await;
    let (_, buyer_t) = net.onboard("Rotterdam Foods", &["trader"]).await;
    let (seller, seller_t) = net.onboard("Valparaiso Fruit", &["trader"]).await;
    let (bank, bank_t) = net.onboard("Maasbank", &["bank"]).await;
    let (seller_bank, _) = net.onboard("Banco del Pacifico", &["bank"]).await;

    // Refusals: only a bank, from today on, 1 to 64 days at a time; nothing is written.
    let wednesday = date_in(2);
    let change = |days: Vec<String>| json!({ "days": days, "holiday": true });
    let refused = [
        (net.post("/v1/holidays", &seller_t, change(vec![wednesday.clone()])).await, 403, "NOT_BANK"),
        (net.post("/v1/holidays", &bank_t, change(vec![date_in(-1)])).await, 422, "HOLIDAY_IN_THE_PAST"),
        (net.post("/v1/holidays", &bank_t, change(vec![])).await, 422, "INVALID_HOLIDAYS"),
        (net.post("/v1/holidays", &bank_t, change((0..65).map(date_in).collect())).await, 422, "INVALID_HOLIDAYS"),
        (net.post("/v1/holidays", &bank_t, change(vec!["2026-13-01".into()])).await, 422, "INVALID_DATES"),
    ];
    for ((status, body), want_status, want_code) in refused {
        assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (want_status, Some(want_code)), "{body}");
    }
    let calendar = format!("/v1/banks/{bank}/holidays");
    let (_, empty) = net.get(&calendar, &seller_t).await;
    assert_eq!(empty["holidays"], json!([]), "{empty}");

    // Two orders of the same parties: the first invoice is presented before the bank
    // declares Wednesday a holiday, the second after.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (s, o) =
            net.post("/v1/orders", &buyer_t, order(&seller, &bank, &seller_bank, &["commercial_invoice"])).await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        let id = o["id"].as_i64().expect("id");
        assert_eq!(net.post(&format!("/v1/orders/{id}/accept"), &seller_t, json!({})).await.0, StatusCode::OK);
        assert_eq!(net.post(&format!("/v1/orders/{id}/commit"), &bank_t, json!({})).await.0, StatusCode::OK);
        ids.push(id);
    }
    let present = |id: i64| {
        let net = &net;
        let seller_t = &seller_t;
        async move {
            let path = format!("/v1/orders/{id}/documents/commercial_invoice");
            let (s, body) = net.put_bytes(&path, seller_t, format!("%PDF invoice {id}").into_bytes()).await;
            assert_eq!(s, StatusCode::OK, "{body}");
            body["documents"][0]["examine_by"].as_u64().expect("examine_by")
        }
    };
    let before = present(ids[0]).await;
    net.node.increase_time(1).expect("a second later");
    let (s, declared) = net.post("/v1/holidays", &bank_t, change(vec![wednesday.clone()])).await;
    assert_eq!(s, StatusCode::OK, "{declared}");
    assert_eq!(declared["holidays"][0]["day"], wednesday, "{declared}");
    net.node.increase_time(1).expect("a second later");
    let after = present(ids[1]).await;
    // Day 0 is a Monday: five banking days end on Monday next week, or on Tuesday with the
    // Wednesday holiday.
    let monday = day0() / DAY;
    assert_eq!(before, (monday + 8) * DAY - 1, "the presentation before keeps its period");
    assert_eq!(after, (monday + 9) * DAY - 1, "the presentation after skips the holiday");

    // Any member reads the calendar; it is the chain's, rebuilt identically.
    let (s, read) = net.get(&calendar, &buyer_t).await;
    assert_eq!(s, StatusCode::OK, "{read}");
    assert_eq!(read["holidays"], declared["holidays"], "{read}");
    let (s, back) = net.post("/v1/holidays", &bank_t, json!({ "days": [wednesday], "holiday": false })).await;
    assert_eq!(s, StatusCode::OK, "{back}");
    assert_eq!(back["holidays"], json!([]), "a banking day again: {back}");
    let dump = readmodel::dump_chain_tables(&net.state.db).await.expect("dump");
    net.stop().await;
    let indexer = Indexer::new(net.state.db.clone(), net.state.chain.clone(), net.state.operator.address());
    indexer.rebuild().await.expect("rebuild");
    assert_eq!(readmodel::dump_chain_tables(&net.state.db).await.expect("dump"), dump);
}
