//! The outbox on SQLite always, and on PostgreSQL when `TRADECHAIN_TEST_POSTGRES_URL` is set
//! (each test then gets a fresh database on that server).

use sea_orm::{ConnectionTrait, Database};
use tradechain_bank_adapters::outbox::{Change, Instruction, Outbox, State, Watch};

struct Db {
    url: String,
    _dir: Option<tempfile::TempDir>,
}

/// SQLite in a temporary file, plus a fresh PostgreSQL database when the server is given.
async fn databases(test: &str) -> Vec<Db> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut out =
        vec![Db { url: format!("sqlite://{}?mode=rwc", dir.path().join("outbox.db").display()), _dir: Some(dir) }];
    if let Ok(base) = std::env::var("TRADECHAIN_TEST_POSTGRES_URL") {
        let name = format!("outbox_{test}_{}", std::process::id());
        let admin = Database::connect(base.as_str()).await.expect("connect to TRADECHAIN_TEST_POSTGRES_URL");
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}")).await.expect("drop");
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
        let (server, _) = base.rsplit_once('/').expect("url with a database name");
        out.push(Db { url: format!("{server}/{name}"), _dir: None });
    }
    out
}

fn instruction(e2e: &str, bank: &str) -> Instruction {
    Instruction {
        end_to_end_id: e2e.into(),
        bank_id: bank.into(),
        kind: "milestone".into(),
        financing_id: None,
        chain_id: 7431,
        order_id: "340282366920938463463374607431768211457".into(),
        milestone: 0,
        attempt: 1,
        payer: "0x01".into(),
        payee: "0x02".into(),
        debtor_name: "Acme".into(),
        debtor_iban: "GB43HRBR00000000000001".into(),
        debtor_bic: "HRBRGB2L".into(),
        creditor_name: "Widgets".into(),
        creditor_iban: "GB07PRLB00000000000002".into(),
        creditor_bic: "PRLBGB2L".into(),
        // More than fits a SQL bigint: stored exactly as text.
        amount_minor: "340282366920938463463374607431768211455".into(),
        currency: "USD".into(),
        due_date: 1_767_225_600,
        block_number: 12,
        state: State::New.as_str().into(),
        bank_reference: None,
        reason: None,
        chain_tx: None,
        send_count: 0,
        retries: 0,
        next_attempt_at: 0,
        created_at: 1,
        sent_at: None,
        accepted_at: None,
        settled_at: None,
        rejected_at: None,
        needs_review_at: None,
        chain_recorded_at: None,
        charges: "shared".into(),
        payment_information_id: None,
        updated_at: 1,
    }
}

#[tokio::test]
async fn recording_the_same_range_twice_keeps_one_instruction_and_moves_the_cursor() {
    for db in databases("twice").await {
        let outbox = Outbox::connect(&db.url).await.expect("connect");
        assert_eq!(outbox.cursor("bank-a").await.expect("cursor"), None);
        let watch = Watch { order_id: "1".into(), milestone: 1, due_date: 99, financing_id: None, doc_type: None };
        let n = outbox
            .record_range("bank-a", 7431, 10, vec![instruction("TC7431-1-0-1", "bank-a")], vec![watch.clone()], vec![])
            .await;
        assert_eq!(n.expect("first"), 1);
        let n = outbox
            .record_range("bank-a", 7431, 11, vec![instruction("TC7431-1-0-1", "bank-a")], vec![watch], vec![])
            .await;
        assert_eq!(n.expect("second"), 0, "{}", db.url);
        assert_eq!(outbox.cursor("bank-a").await.expect("cursor"), Some(11));
        assert_eq!(outbox.all("bank-a").await.expect("all").len(), 1);
        assert_eq!(outbox.due_watches("bank-a", 99).await.expect("watches").len(), 1);
        assert!(outbox.due_watches("bank-a", 98).await.expect("watches").is_empty());
        let stored = outbox.get("TC7431-1-0-1").await.expect("get").expect("row");
        assert_eq!(stored.amount().expect("amount").minor, u128::MAX);
    }
}

/// A block range with many payments is recorded in bulk. A replayed event (a row already
/// recorded and since sent) must not be recorded again or reset to `new` (it would be paid
/// twice), nor may an event named twice in one range become two rows.
#[tokio::test]
async fn a_large_range_records_each_new_instruction_once_and_leaves_recorded_ones_as_they_are() {
    for db in databases("bulk").await {
        let outbox = Outbox::connect(&db.url).await.expect("connect");
        let n = outbox.record_range("bank-a", 7431, 1, vec![instruction("TC7431-7-0-1", "bank-a")], vec![], vec![]);
        assert_eq!(n.await.expect("first"), 1);
        outbox.transition("TC7431-7-0-1", State::Sent, Change::default()).await.expect("sent");

        let mut rows: Vec<_> = (0..450).map(|i| instruction(&format!("TC7431-{i}-0-1"), "bank-a")).collect();
        rows.push(instruction("TC7431-3-0-1", "bank-a"));
        let watches: Vec<_> = (0..450)
            .chain([3])
            .map(|i| Watch { order_id: i.to_string(), milestone: 0, due_date: 50, financing_id: None, doc_type: None })
            .collect();
        let n = outbox.record_range("bank-a", 7431, 2, rows, watches, vec![]).await.expect("bulk");
        assert_eq!(n, 449, "450 named, one recorded before, one named twice: {}", db.url);
        assert_eq!(outbox.all("bank-a").await.expect("all").len(), 450);
        let kept = outbox.get("TC7431-7-0-1").await.expect("get").expect("row");
        assert_eq!(kept.state(), Some(State::Sent), "a recorded row is left as it is");
        assert_eq!(outbox.due_watches("bank-a", 50).await.expect("watches").len(), 450);
    }
}

#[tokio::test]
async fn a_range_that_fails_to_record_leaves_neither_instructions_nor_cursor_behind() {
    for db in databases("atomic").await {
        let outbox = Outbox::connect(&db.url).await.expect("connect");
        outbox.record_range("bank-a", 7431, 5, vec![], vec![], vec![]).await.expect("first range");
        // Break the cursor table so the cursor write, the last step, fails.
        outbox.connection().execute_unprepared("DROP TABLE settlement_cursor").await.expect("drop");
        let result =
            outbox.record_range("bank-a", 7431, 9, vec![instruction("TC7431-2-0-1", "bank-a")], vec![], vec![]).await;
        assert!(result.is_err(), "{}", db.url);
        assert!(outbox.get("TC7431-2-0-1").await.expect("get").is_none(), "instruction must roll back with the cursor");
    }
}

#[tokio::test]
async fn every_state_is_stamped_and_final_states_are_not_actionable() {
    for db in databases("states").await {
        let outbox = Outbox::connect(&db.url).await.expect("connect");
        let rows = ["A", "B", "C"].map(|s| instruction(&format!("TC7431-{s}-0-1"), "bank-b"));
        outbox.record_range("bank-b", 7431, 1, rows.to_vec(), vec![], vec![]).await.expect("record");
        assert_eq!(outbox.actionable("bank-b", 10).await.expect("actionable").len(), 3);

        let sent = outbox
            .transition("TC7431-A-0-1", State::Sent, Change { count_send: true, ..Change::default() })
            .await
            .expect("sent");
        assert_eq!((sent.send_count, sent.sent_at.is_some()), (1, true));
        let accepted = Change { bank_reference: Some("SBX1".into()), ..Change::default() };
        outbox.transition("TC7431-A-0-1", State::Accepted, accepted).await.expect("accepted");
        let settled = outbox.transition("TC7431-A-0-1", State::Settled, Change::default()).await.expect("settled");
        assert!(settled.sent_at.is_some() && settled.accepted_at.is_some() && settled.settled_at.is_some());
        assert_eq!(settled.bank_reference.as_deref(), Some("SBX1"));

        let rejected = Change { reason: Some("AM04".into()), ..Change::default() };
        outbox.transition("TC7431-B-0-1", State::Rejected, rejected).await.expect("rejected");
        outbox.defer("TC7431-C-0-1", 1, 60_000, "bank unavailable").await.expect("defer");
        let open: Vec<String> =
            outbox.actionable("bank-b", 10).await.expect("open").into_iter().map(|i| i.end_to_end_id).collect();
        assert_eq!(open, vec!["TC7431-B-0-1".to_string()], "rejected but not yet on chain stays open; backoff hides C");

        let recorded = Change { chain_recorded: true, ..Change::default() };
        let b = outbox.transition("TC7431-B-0-1", State::Rejected, recorded).await.expect("recorded");
        assert!(b.rejected_at.is_some() && b.chain_recorded_at.is_some());
        assert_eq!(b.reason.as_deref(), Some("AM04"));
        outbox.transition("TC7431-C-0-1", State::NeedsReview, Change::default()).await.expect("review");
        assert!(outbox.actionable("bank-b", 10).await.expect("open").is_empty());
        assert!(outbox.actionable("bank-other", 10).await.expect("open").is_empty());
    }
}
