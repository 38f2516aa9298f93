//! tradechain-store: how every tradechain database is opened and kept at its schema: the
//! API's read model, a bank's settlement outbox, the sandbox bank's ledger.
//!
//! - [`connect`] opens SQLite (a file, the default) or PostgreSQL (a `postgres://` URL) with
//!   the same settings on every pooled connection: SQLite in write-ahead-log mode with a
//!   busy timeout, and the [`Durability`] the caller's data needs.
//! - [`migrate`] applies a crate's `sea-orm-migration` migrations. On PostgreSQL several
//!   processes may start at once against one database (two API processes of one member, a
//!   worker beside them): the migrations then run in one transaction under an advisory lock
//!   named after the migration table, so exactly one process applies each, and the others
//!   find them applied. A database that has a migration this build does not know (written
//!   by a newer release) is refused rather than used.
//! - [`create_table`] and [`create_index`] create what an entity describes, if missing: for
//!   tables that may be dropped and rebuilt from another source (the read model's chain
//!   tables). Tables whose rows exist nowhere else are created by migrations with their
//!   columns written out, so that a later entity change cannot alter how an old migration
//!   creates them.
//!
//! What it must never do: change a table outside a migration, or let two processes apply
//! the same migration.

use std::time::Duration;

use sea_orm::sea_query::{Alias, Index, IntoIden};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, EntityTrait, Schema,
    TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

/// How hard SQLite works to keep a commit across a power cut (PostgreSQL is configured on
/// its server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Every commit is synced to disk (`synchronous = FULL`): what records money decisions
    /// (the outbox) or what exists nowhere else (tokens, custodial keys) needs this.
    Full,
    /// Synced at checkpoints (`synchronous = NORMAL`): survives a crash of the process,
    /// not necessarily of the machine. For the sandbox bank, and for the read model's
    /// indexer, which writes only what it can derive again.
    Normal,
}

/// Prepared statements kept per SQLite connection (sqlx keeps 100): the API runs more
/// distinct statements than that, and each one evicted is parsed and planned again.
const STATEMENT_CACHE: usize = 1024;

/// Open the database at `url` (`sqlite://path?mode=rwc` or `postgres://…`), with at most
/// `max_connections` pooled connections (the driver's default when `None`).
///
/// # Errors
/// When the database cannot be reached or opened.
pub async fn connect(
    url: &str,
    durability: Durability,
    max_connections: Option<u32>,
) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_string());
    options.sqlx_logging(false);
    if url.starts_with("sqlite:") {
        // No reaper for a local file's connections (closing idle ones saves nothing): sqlx's
        // reaper can spin a core for ever and hang the runtime's shutdown (sqlx#3645, its
        // `num_idle` wrapping below zero; fixed upstream by #4289, not in sqlx 0.9.0). Seen
        // here once, a scenario test spinning in it after its body had finished.
        // No ping before each statement: the pool's default sends one to the connection's
        // worker thread and waits for its answer, a second hand-off for every statement,
        // and a connection to a file in this process cannot go stale the way a server's
        // can. About two thread switches of the read model's every statement.
        options.idle_timeout(None).max_lifetime(None).test_before_acquire(false);
    }
    if let Some(n) = max_connections {
        options.max_connections(n);
    }
    let synchronous = match durability {
        Durability::Full => SqliteSynchronous::Full,
        Durability::Normal => SqliteSynchronous::Normal,
    };
    // Applied to every connection of the pool, not only the first.
    options.map_sqlx_sqlite_opts(move |o| {
        o.journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(Duration::from_secs(10))
            .statement_cache_capacity(STATEMENT_CACHE)
            // Temporary tables and indexes SQLite builds within a statement (an ORDER BY or
            // IN it cannot read from an index, a statement's journal) in memory, not in a
            // file under /var/tmp opened, written and deleted each time.
            .pragma("temp_store", "memory")
    });
    options.map_sqlx_sqlite_pool_opts(|pool| pool.after_connect(|conn, _| Box::pin(plan_once(conn))));
    Database::connect(options).await
}

/// Plan each statement once, whatever its parameters (SQLite's query planner stability
/// guarantee, `SQLITE_DBCONFIG_ENABLE_QPSG`). Without it SQLite (3.46 and later) folds the
/// value bound to a `LIMIT ?` into the statement's plan and marks the statement to be
/// parsed and planned again whenever that parameter is bound anew; sqlx binds every
/// parameter at every execution, and sea-orm's `one()` is `LIMIT ?`: each lookup by key was
/// parsed and planned again each time (about a sixth of the read model's time under the
/// open-loop bench). The plans given up are those that depend on a bound value: a `LIKE`
/// prefix on an index (none here: `LIKE` is case-insensitive, the indexes binary) and
/// STAT4's per-value estimates after an `ANALYZE` (the api bench's large read model runs
/// one; `sqlite_stat1`'s estimates still apply). Results never change, only plans.
/// A connection SQLite refused it would be an error of the pool's, retried until its
/// acquire timeout: SQLite refuses it only when built without it.
async fn plan_once(conn: &mut sea_orm::sqlx::SqliteConnection) -> Result<(), sea_orm::sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    let mut now = 0;
    // SAFETY: `db` is this connection's open handle, held exclusively by `handle` (sqlx's
    // worker runs nothing on it meanwhile) for the duration of the call; the option takes
    // an int and a pointer to an int that outlives the call.
    let rc =
        unsafe { libsqlite3_sys::sqlite3_db_config(db, libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG, 1, &raw mut now) };
    if rc != libsqlite3_sys::SQLITE_OK || now != 1 {
        return Err(sea_orm::sqlx::Error::Configuration(
            format!("SQLite refused the query planner stability guarantee (code {rc})").into(),
        ));
    }
    Ok(())
}

/// Apply `M`'s pending migrations (see the crate docs for the lock).
///
/// # Errors
/// A migration that fails (nothing of it is kept on PostgreSQL, whose DDL is
/// transactional), or a database already migrated past what `M` knows.
pub async fn migrate<M: MigratorTrait>(db: &DatabaseConnection) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    if db.get_database_backend() == DbBackend::Postgres {
        let table = M::migration_table_name().to_string();
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock(hashtext('tradechain:{table}'))")).await?;
    }
    M::up(&txn, None).await?;
    txn.commit().await
}

/// Create the table `entity` describes, if it does not exist.
///
/// # Errors
/// When the database refuses the statement.
pub async fn create_table<C: ConnectionTrait, E: EntityTrait>(db: &C, entity: E) -> Result<(), DbErr> {
    let mut stmt = Schema::new(db.get_database_backend()).create_table_from_entity(entity);
    stmt.if_not_exists();
    db.execute(&stmt).await?;
    Ok(())
}

/// Create index `name` on `table` over `columns`, if it does not exist.
///
/// # Errors
/// When the database refuses the statement.
pub async fn create_index<C, I>(db: &C, table: &str, name: &str, columns: &[I]) -> Result<(), DbErr>
where
    C: ConnectionTrait,
    I: IntoIden + Copy + 'static,
{
    let mut stmt = Index::create();
    stmt.if_not_exists().name(name).table(Alias::new(table));
    for c in columns {
        stmt.col(*c);
    }
    db.execute(&stmt).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};

    use super::{Durability, connect};

    /// The opcodes SQLite compiles `SELECT 1 LIMIT ?` to, 7 bound, on a pooled connection.
    async fn limit_program(url: &str) -> Vec<(String, i64)> {
        let db = connect(url, Durability::Full, Some(2)).await.expect("opens");
        let explain = Statement::from_sql_and_values(DbBackend::Sqlite, "EXPLAIN SELECT 1 LIMIT ?", [7i64.into()]);
        let mut ops = Vec::new();
        // Twice: a statement is kept prepared and bound anew the second time.
        for _ in 0..2 {
            ops = db
                .query_all_raw(explain.clone())
                .await
                .expect("explains")
                .iter()
                .map(|r| (r.try_get::<String>("", "opcode").expect("opcode"), r.try_get::<i64>("", "p1").expect("p1")))
                .collect();
        }
        ops
    }

    #[tokio::test]
    async fn a_bound_limit_is_read_at_run_time_not_planned_into_the_statement() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.sqlite").display());
        let ops = limit_program(&url).await;
        // Planned into the statement, the 7 would be an `Integer 7` and the statement
        // parsed again each time it is bound; read at run time it is a `Variable`.
        assert!(ops.iter().any(|(op, _)| op == "Variable"), "{ops:?}");
        assert!(!ops.iter().any(|(op, p1)| op == "Integer" && *p1 == 7), "{ops:?}");
    }

    /// Every connection of a SQLite pool builds its temporary structures in memory, and the
    /// pool hands a connection out without pinging its worker thread first.
    #[tokio::test]
    async fn each_sqlite_connection_sorts_in_memory_and_is_handed_out_without_a_ping() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.sqlite").display());
        let db = connect(&url, Durability::Full, Some(2)).await.expect("opens");
        assert!(!db.get_sqlite_connection_pool().options().get_test_before_acquire());
        // Both connections at once, each in its own transaction: the setting is every
        // connection's, not only the first one's.
        let (a, b) = (db.begin().await.expect("begin"), db.begin().await.expect("begin"));
        for tx in [&a, &b] {
            let row = tx
                .query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA temp_store"))
                .await
                .expect("pragma")
                .expect("a row");
            // 2 is MEMORY (0 the default, a file).
            assert_eq!(row.try_get_by_index::<i64>(0).expect("a number"), 2);
        }
    }
}
