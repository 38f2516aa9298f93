//! The SQL read model (sea-orm): SQLite by default, PostgreSQL by configuration.
//!
//! Two kinds of tables: [`chain_tables`] are filled by the indexer from the chain's events
//! and can be dropped and rebuilt ([`drop_chain_tables`], then re-index); [`offchain`]
//! tables hold what the chain does not (tokens, custodial keys, order details, files, the
//! audit log). The schema is kept by versioned migrations ([`migration`], sea-orm-migration)
//! applied at every start. Amounts are decimal strings of minor units, never floats.

pub mod access;
pub mod chain_tables;
mod migration;
pub mod offchain;

use sea_orm::sea_query::Table;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, Iterable, PrimaryKeyToColumn, QueryOrder};
use serde::Serialize;
use tradechain_store::{Durability, create_index, create_table};

pub use chain_tables::{
    consent, credit_facts, cursor, document, event, financing, fingerprint, holiday, milestone, near_key, order,
    organisation, payment, verification_request,
};
pub use offchain::{
    api_token, audit, details_writer, document_file, financing_review, member, node_key, order_detail, peer_cursor,
    peer_outbox, peer_receipt, private_item, registry_key, schema_version,
};

/// An insert's outcome under `ON CONFLICT DO NOTHING`: `true` if the row is new. A conflict
/// that inserted nothing (sea-orm's `RecordNotInserted`) is no error.
///
/// # Errors
/// The database's other errors.
pub(crate) fn inserted(r: Result<u64, DbErr>) -> Result<bool, DbErr> {
    match r {
        Ok(n) => Ok(n > 0),
        Err(DbErr::RecordNotInserted) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Connect to `url` (`sqlite://path?mode=rwc` or `postgres://…`). Every commit is synced:
/// the off-chain tables exist nowhere else.
///
/// # Errors
/// When the database cannot be reached.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let pool = if url.starts_with("sqlite") { 8 } else { 16 };
    tradechain_store::connect(url, Durability::Full, Some(pool)).await
}

/// The indexer's own connection to the SQLite database at `url`, whose commits are not
/// synced one by one (`synchronous = NORMAL`); on PostgreSQL, and for a database in
/// memory, `shared` itself.
///
/// Why the indexer may, on SQLite: everything it writes derives again from the chain's
/// blocks and from rows the API wrote synced. Its last commits can be lost only with the
/// machine, which takes this process down too: it starts again from the cursor those
/// commits took back with them and indexes the same blocks again. Nothing synced can
/// depend on a commit lost: the write-ahead log is one sequence, and syncing a later
/// commit (the API's, on its own connections) syncs every earlier one with it. A synced
/// commit was the last of a block's wait before its answer (about 0.7 ms a block).
///
/// Not on PostgreSQL (`synchronous_commit = off`): its server can lose its last commits
/// and come back while this process runs on, its cursor in memory past blocks the
/// database no longer has, and those blocks would never be indexed.
///
/// # Errors
/// When the database cannot be opened.
pub async fn connect_indexer(url: &str, shared: &DatabaseConnection) -> Result<DatabaseConnection, DbErr> {
    if !url.starts_with("sqlite") || url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(shared.clone());
    }
    tradechain_store::connect(url, Durability::Normal, Some(1)).await
}

/// Create the chain-derived tables and their indexes (idempotent), from their entities.
///
/// The indexes of `events` beyond its key (block, log index).
///
/// The background readers': the private-data planner looks for its kinds after its
/// cursor, and the node directory for a Consortium event after the block it was read at.
/// Without them each such look read every event after that point (a planner cursor left
/// behind by thousands of other events read them all, at every block).
///
/// An order's timeline ([`event::timeline`]), read with every order shown, a write's
/// answer included: by order, in chain order. An index of the order alone left each read
/// to sort its rows in a temporary B-tree (SQLite's plan says so).
pub(crate) async fn events_indexes<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    create_index(db, "events", "events_kind", &[event::Column::Kind, event::Column::Block, event::Column::LogIndex])
        .await?;
    create_index(db, "events", "events_contract", &[event::Column::Contract, event::Column::Block]).await?;
    create_index(
        db,
        "events",
        "events_timeline",
        &[event::Column::OrderId, event::Column::Block, event::Column::LogIndex],
    )
    .await
}

/// # Errors
/// When the database refuses.
pub async fn create_chain_tables<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    create_table(db, organisation::Entity).await?;
    create_table(db, order::Entity).await?;
    create_table(db, milestone::Entity).await?;
    create_table(db, document::Entity).await?;
    create_table(db, payment::Entity).await?;
    create_table(db, consent::Entity).await?;
    create_table(db, financing::Entity).await?;
    create_table(db, fingerprint::Entity).await?;
    create_table(db, near_key::Entity).await?;
    create_table(db, verification_request::Entity).await?;
    create_table(db, event::Entity).await?;
    create_table(db, credit_facts::Entity).await?;
    create_table(db, holiday::Entity).await?;
    create_table(db, cursor::Entity).await?;
    create_index(db, "orders", "orders_buyer", &[order::Column::Buyer, order::Column::Id]).await?;
    create_index(db, "orders", "orders_seller", &[order::Column::Seller, order::Column::Id]).await?;
    create_index(db, "orders", "orders_buyer_bank", &[order::Column::BuyerBank, order::Column::Id]).await?;
    create_index(db, "orders", "orders_seller_bank", &[order::Column::SellerBank, order::Column::Id]).await?;
    create_index(db, "orders", "orders_carrier", &[order::Column::Carrier, order::Column::Id]).await?;
    create_index(db, "orders", "orders_inspector", &[order::Column::Inspector, order::Column::Id]).await?;
    events_indexes(db).await?;
    create_index(db, "documents", "documents_hash", &[document::Column::Hash]).await?;
    create_index(db, "payments", "payments_payer", &[payment::Column::Payer]).await?;
    create_index(db, "payments", "payments_payee", &[payment::Column::Payee]).await?;
    create_index(db, "financings", "financings_financier", &[financing::Column::Financier, financing::Column::Id])
        .await?;
    create_index(db, "financings", "financings_firm", &[financing::Column::Firm, financing::Column::Id]).await?;
    create_index(db, "financings", "financings_order", &[financing::Column::OrderId]).await?;
    create_index(db, "near_keys", "near_keys_key", &[near_key::Column::NearKey]).await?;
    create_index(db, "verification_requests", "verification_requests_firm", &[verification_request::Column::Firm])
        .await?;
    create_index(
        db,
        "verification_requests",
        "verification_requests_financier",
        &[verification_request::Column::Financier],
    )
    .await?;
    Ok(())
}

/// Bring the schema up to date (idempotent; safe at every start, from several processes
/// at once).
///
/// # Errors
/// A failed migration, or a read model written by a newer release.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    tradechain_store::migrate::<migration::Migrator>(db).await
}

/// Drop every chain-derived table (the off-chain ones stay), ready for a rebuild.
///
/// # Errors
/// When the database refuses.
pub async fn drop_chain_tables<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    for name in [
        "organisations",
        "orders",
        "milestones",
        "documents",
        "payments",
        "consents",
        "financings",
        "fingerprints",
        "near_keys",
        "verification_requests",
        "events",
        "credit_facts",
        "holidays",
        "indexer_cursor",
    ] {
        let mut stmt = Table::drop();
        stmt.table(sea_orm::sea_query::Alias::new(name)).if_exists();
        db.execute(&stmt).await?;
    }
    Ok(())
}

async fn dump_table<E>(db: &DatabaseConnection, entity: E, out: &mut String) -> Result<(), DbErr>
where
    E: EntityTrait,
    E::Model: Serialize,
{
    let mut query = E::find();
    for pk in E::PrimaryKey::iter() {
        query = query.order_by_asc(pk.into_column());
    }
    out.push_str(&format!("## {}\n", entity.table_name()));
    for row in query.all(db).await? {
        out.push_str(&serde_json::to_string(&row).map_err(|e| DbErr::Custom(e.to_string()))?);
        out.push('\n');
    }
    Ok(())
}

/// A canonical text dump of every chain-derived table, rows in primary-key order: two
/// read models hold the same chain data exactly when their dumps are equal.
pub async fn dump_chain_tables(db: &DatabaseConnection) -> Result<String, DbErr> {
    let mut out = String::new();
    dump_table(db, organisation::Entity, &mut out).await?;
    dump_table(db, order::Entity, &mut out).await?;
    dump_table(db, milestone::Entity, &mut out).await?;
    dump_table(db, document::Entity, &mut out).await?;
    dump_table(db, payment::Entity, &mut out).await?;
    dump_table(db, consent::Entity, &mut out).await?;
    dump_table(db, financing::Entity, &mut out).await?;
    dump_table(db, fingerprint::Entity, &mut out).await?;
    dump_table(db, near_key::Entity, &mut out).await?;
    dump_table(db, verification_request::Entity, &mut out).await?;
    dump_table(db, event::Entity, &mut out).await?;
    dump_table(db, credit_facts::Entity, &mut out).await?;
    dump_table(db, holiday::Entity, &mut out).await?;
    dump_table(db, cursor::Entity, &mut out).await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, EntityTrait};

    use super::*;

    async fn sqlite(dir: &tempfile::TempDir) -> DatabaseConnection {
        connect(&format!("sqlite://{}?mode=rwc", dir.path().join("rm.sqlite").display())).await.expect("connect")
    }

    async fn version(db: &DatabaseConnection) -> Option<i32> {
        schema_version::Entity::find_by_id(1).one(db).await.expect("read").map(|v| v.version)
    }

    /// What exists nowhere else (tokens, custodial keys, stored details) is synced at each
    /// commit; only the indexer, which writes what it can derive again, is not.
    #[tokio::test]
    async fn only_the_indexers_connection_leaves_commits_unsynced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("rm.sqlite").display());
        let shared = connect(&url).await.expect("connect");
        let indexer = connect_indexer(&url, &shared).await.expect("connect");
        let synchronous = |db: DatabaseConnection| async move {
            let sql = sea_orm::Statement::from_string(db.get_database_backend(), "PRAGMA synchronous");
            let row = db.query_one_raw(sql).await.expect("pragma").expect("a row");
            row.try_get_by_index::<i64>(0).expect("a number")
        };
        // FULL is 2, NORMAL 1.
        assert_eq!(synchronous(shared).await, 2, "the API's writes are synced");
        assert_eq!(synchronous(indexer).await, 1, "the indexer's are synced at checkpoints");
        // A database in memory has one connection's worth of data: the indexer shares it.
        let memory = connect("sqlite::memory:").await.expect("connect");
        let same = connect_indexer("sqlite::memory:", &memory).await.expect("connect");
        assert_eq!(synchronous(same).await, 2);
    }

    /// A read model as the last release before migrations wrote it (a dev node with one
    /// onboarded organisation: `sqlite3 .dump` of its `readmodel.sqlite`).
    const RELEASED_V3: &str = include_str!("../../tests/fixtures/readmodel-v3.sqlite.sql");

    #[tokio::test]
    async fn a_read_model_of_the_last_release_keeps_its_own_rows_and_reindexes_the_chain() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sqlite(&dir).await;
        db.execute_unprepared(RELEASED_V3).await.expect("the released schema and its rows");
        assert!(cursor::Entity::find_by_id(1).one(&db).await.expect("read").is_some());
        // The released columns, read as the released schema has them.
        let released_tokens = || async {
            let sql = "SELECT token_hash, org, label, created_at FROM api_tokens ORDER BY token_hash";
            let rows = db.query_all_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await;
            rows.expect("tokens")
                .iter()
                .map(|r| {
                    let col = |c: &str| r.try_get::<String>("", c).expect("text column");
                    (
                        col("token_hash"),
                        col("org"),
                        col("label"),
                        r.try_get::<i64>("", "created_at").expect("created_at"),
                    )
                })
                .collect::<Vec<_>>()
        };
        let tokens = released_tokens().await;
        assert!(!tokens.is_empty());
        migrate(&db).await.expect("migrate");
        // The contracts' events changed (m0002): the chain tables are rebuilt from block 0.
        assert!(cursor::Entity::find_by_id(1).one(&db).await.expect("read").is_none(), "re-index from block 0");
        assert!(organisation::Entity::find().all(&db).await.expect("read").is_empty());
        // What exists nowhere else is kept, row for row.
        assert_eq!(released_tokens().await, tokens);
        // Tokens of the last release stay live: no expiry, never revoked (m0004).
        assert!(
            api_token::Entity::find()
                .all(&db)
                .await
                .expect("tokens")
                .iter()
                .all(|t| t.expires_at.is_none() && t.revoked_at.is_none())
        );
        let member = member::Entity::find_by_id("0xb5de14040dbc55ac414d1c0bb86c407b44560f14").one(&db).await;
        assert_eq!(member.expect("read").and_then(|m| m.iban).as_deref(), Some("GB82WEST12345698765432"));
        assert_eq!(version(&db).await, Some(3));
        // The new columns are there: an order row with its attesters and open dispute reads.
        assert!(order::Entity::find().all(&db).await.expect("the new schema reads").is_empty());
        // Applied once: a second start finds nothing to do and keeps what was indexed since.
        cursor::Entity::insert(cursor::ActiveModel {
            id: sea_orm::ActiveValue::Set(1),
            last_block: sea_orm::ActiveValue::Set(7),
        })
        .exec(&db)
        .await
        .expect("indexed since");
        migrate(&db).await.expect("again");
        assert_eq!(cursor::Entity::find_by_id(1).one(&db).await.expect("read").map(|c| c.last_block), Some(7));
    }

    #[tokio::test]
    async fn a_read_model_of_a_newer_release_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sqlite(&dir).await;
        migrate(&db).await.expect("migrate");
        db.execute_unprepared("INSERT INTO readmodel_migrations (version, applied_at) VALUES ('m9999_future', 0)")
            .await
            .expect("a migration of a later release");
        let err = migrate(&db).await.expect_err("refused");
        assert!(err.to_string().contains("m9999_future"), "{err}");
    }

    #[tokio::test]
    async fn upgrading_from_version_1_empties_the_chain_tables_for_a_reindex() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sqlite(&dir).await;
        db.execute_unprepared(RELEASED_V3).await.expect("released schema");
        db.execute_unprepared("UPDATE schema_version SET version = 1").await.expect("version 1");
        assert!(cursor::Entity::find_by_id(1).one(&db).await.expect("read").is_some());
        migrate(&db).await.expect("upgrade");
        assert!(cursor::Entity::find_by_id(1).one(&db).await.expect("read").is_none(), "re-index from block 0");
        assert_eq!(version(&db).await, Some(3));
        assert!(!api_token::Entity::find().all(&db).await.expect("tokens").is_empty(), "off-chain rows kept");
    }

    #[tokio::test]
    async fn upgrading_from_version_2_keeps_the_review_flags_and_drops_the_off_chain_near_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sqlite(&dir).await;
        db.execute_unprepared(RELEASED_V3).await.expect("released schema");
        // The version-2 table, as that version created it, with one offer's keys and flags.
        db.execute_unprepared(
            "CREATE TABLE financing_near_keys (financing_id INTEGER PRIMARY KEY, near_key TEXT NOT NULL, \
             amount_digest TEXT NOT NULL, date_digest TEXT NOT NULL, buyer_digest TEXT NOT NULL, review TEXT NOT NULL)",
        )
        .await
        .expect("v2 table");
        db.execute_unprepared(
            "INSERT INTO financing_near_keys VALUES (7, '0x01', '0x02', '0x03', '0x04', \
             '[{\"code\":\"NEAR_DUPLICATE\",\"financing_id\":3}]')",
        )
        .await
        .expect("v2 row");
        db.execute_unprepared("UPDATE schema_version SET version = 2").await.expect("version 2");
        migrate(&db).await.expect("upgrade");
        let review = financing_review::Entity::find_by_id(7).one(&db).await.expect("read").map(|r| r.review);
        assert_eq!(review.as_deref(), Some(r#"[{"code":"NEAR_DUPLICATE","financing_id":3}]"#));
        assert!(
            db.execute_unprepared("SELECT 1 FROM financing_near_keys").await.is_err(),
            "the off-chain near keys are gone: the chain's are indexed into near_keys"
        );
        assert_eq!(version(&db).await, Some(3));
    }

    /// SQLite's plan for reading an order's timeline, one line per step, from a connection
    /// of its own: a connection's cached `EXPLAIN` keeps the plan it was prepared with
    /// across a change of the schema.
    async fn timeline_plan(dir: &tempfile::TempDir) -> Vec<String> {
        use sea_orm::QueryTrait;
        let db = sqlite(dir).await;
        let read = event::timeline(7).build(db.get_database_backend());
        let explain = sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            format!("EXPLAIN QUERY PLAN {}", read.sql),
            read.values.map(|v| v.0).unwrap_or_default(),
        );
        let rows = db.query_all_raw(explain).await.expect("plan");
        db.close().await.expect("close");
        rows.iter().map(|r| r.try_get::<String>("", "detail").expect("detail")).collect()
    }

    /// An order's timeline, read with every order shown, comes from an index in chain
    /// order, not sorted at each read; a read model made with the older index of the order
    /// alone (which sorted) gets the new one when it migrates, and loses the old.
    #[tokio::test]
    async fn a_timeline_is_read_in_chain_order_from_its_index_without_sorting() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sqlite(&dir).await;
        migrate(&db).await.expect("migrate");
        // A read model in use: 10,000 events of 1,000 orders (the planner scans a table it
        // finds nearly empty, whatever its indexes).
        db.execute_unprepared(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9999) \
             INSERT INTO events (block, log_index, tx_hash, contract, kind, order_id, data, timestamp) \
             SELECT i / 4, i % 4, '0x', 'TradeOrders', 'OrderAccepted', i % 1000, '{}', 0 FROM n",
        )
        .await
        .expect("events");
        let plan = timeline_plan(&dir).await;
        assert!(plan.iter().any(|p| p.contains("events_timeline")), "{plan:?}");
        assert!(!plan.iter().any(|p| p.contains("TEMP B-TREE")), "{plan:?}");
        // The read model as the release before this one left it.
        for sql in [
            "DROP INDEX events_timeline",
            "CREATE INDEX events_order ON events (order_id)",
            "DELETE FROM readmodel_migrations WHERE version = 'm0010_timeline_index'",
        ] {
            db.execute_unprepared(sql).await.expect("the older index");
        }
        let plan = timeline_plan(&dir).await;
        assert!(plan.iter().any(|p| p.contains("TEMP B-TREE")), "the older index sorts: {plan:?}");
        migrate(&db).await.expect("migrate again");
        let plan = timeline_plan(&dir).await;
        assert!(
            plan.iter().any(|p| p.contains("events_timeline")) && !plan.iter().any(|p| p.contains("TEMP B-TREE")),
            "{plan:?}"
        );
        let older = sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'events_order'",
        );
        assert!(db.query_one_raw(older).await.expect("read").is_none(), "the older index is dropped");
    }
}
