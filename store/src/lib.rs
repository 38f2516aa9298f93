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
    /// not necessarily of the machine. For the sandbox bank.
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
    });
    Database::connect(options).await
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
