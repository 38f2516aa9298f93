//! The outbox's migrations, recorded in the table `outbox_migrations`. The outbox decides
//! whether money moves, so it is the best-kept schema of all: each change is an explicit
//! migration with its columns written out, never derived from the current entities, and
//! never loses a row (a `sent` row in particular stays `sent`: it is never resent without a
//! status enquiry).

use sea_orm::DbErr;
use sea_orm::sea_query::{Alias, ColumnDef, IntoIden, Table, TableCreateStatement};
use sea_orm_migration::{MigrationName, MigrationTrait, MigratorTrait, SchemaManager};

/// The outbox's migrations.
pub(super) struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(Baseline), Box::new(ExaminationWatch), Box::new(UndertakingCover), Box::new(PaymentInformation)]
    }

    fn migration_table_name() -> sea_orm::DynIden {
        Alias::new("outbox_migrations").into_iden()
    }
}

/// The tables as the release before migrations created them (and as they still are in a
/// database it wrote: `IF NOT EXISTS` keeps those as they are).
struct Baseline;

impl MigrationName for Baseline {
    fn name(&self) -> &str {
        "m0001_baseline"
    }
}

fn table(name: &str) -> TableCreateStatement {
    let mut t = Table::create();
    t.table(Alias::new(name)).if_not_exists();
    t
}

fn col(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
}

fn baseline() -> [TableCreateStatement; 3] {
    let mut instruction = table("payment_instruction");
    instruction.col(col("end_to_end_id").string().not_null().primary_key());
    for c in ["bank_id", "kind"] {
        instruction.col(col(c).string().not_null());
    }
    instruction.col(col("financing_id").string().null()).col(col("chain_id").big_integer().not_null());
    instruction.col(col("order_id").string().not_null());
    for c in ["milestone", "attempt"] {
        instruction.col(col(c).big_integer().not_null());
    }
    for c in [
        "payer",
        "payee",
        "debtor_name",
        "debtor_iban",
        "debtor_bic",
        "creditor_name",
        "creditor_iban",
        "creditor_bic",
        "amount_minor",
        "currency",
    ] {
        instruction.col(col(c).string().not_null());
    }
    for c in ["due_date", "block_number"] {
        instruction.col(col(c).big_integer().not_null());
    }
    instruction.col(col("state").string().not_null());
    for c in ["bank_reference", "reason", "chain_tx"] {
        instruction.col(col(c).string().null());
    }
    for c in ["send_count", "retries", "next_attempt_at", "created_at"] {
        instruction.col(col(c).big_integer().not_null());
    }
    for c in ["sent_at", "accepted_at", "settled_at", "rejected_at", "needs_review_at", "chain_recorded_at"] {
        instruction.col(col(c).big_integer().null());
    }
    instruction.col(col("updated_at").big_integer().not_null());
    let cursor = table("settlement_cursor")
        .col(col("bank_id").string().not_null().primary_key())
        .col(col("chain_id").big_integer().not_null())
        .col(col("last_block").big_integer().not_null())
        .col(col("updated_at").big_integer().not_null())
        .to_owned();
    let watch = table("milestone_watch")
        .col(col("key").string().not_null().primary_key())
        .col(col("bank_id").string().not_null())
        .col(col("financing_id").string().null())
        .col(col("order_id").string().not_null())
        .col(col("milestone").big_integer().not_null())
        .col(col("due_date").big_integer().not_null())
        .col(col("done").boolean().not_null())
        .to_owned();
    [instruction, cursor, watch]
}

/// Watches also remember presentations whose examination period this bank waits out, to
/// record deemed acceptance (UCP 600 art. 16(f)) once it lapses: `doc_type` is set for
/// those (null for milestones and repayments, as every existing row is).
struct ExaminationWatch;

impl MigrationName for ExaminationWatch {
    fn name(&self) -> &str {
        "m0002_examination_watch"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for ExaminationWatch {
    // The trait's signature elides the lifetime; async_trait needs the same form here.
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut alter = Table::alter();
        alter.table(Alias::new("milestone_watch")).add_column(col("doc_type").big_integer().null());
        manager.alter_table(alter).await
    }
}

/// How the buyer's bank covers each undertaking (`order_cover`: the earmark it holds and what
/// it paid from it), and who bears a payment's charges (`payment_instruction.charges`,
/// `shared` for every existing row, which is what they were sent with).
struct UndertakingCover;

impl MigrationName for UndertakingCover {
    fn name(&self) -> &str {
        "m0003_undertaking_cover"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for UndertakingCover {
    // The trait's signature elides the lifetime; async_trait needs the same form here.
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut alter = Table::alter();
        alter.table(Alias::new("payment_instruction")).add_column(col("charges").string().not_null().default("shared"));
        manager.alter_table(alter).await?;
        let cover = table("order_cover")
            .col(col("key").string().not_null().primary_key())
            .col(col("bank_id").string().not_null())
            .col(col("order_id").string().not_null())
            .col(col("mode").string().not_null())
            .col(col("currency").string().not_null())
            .col(col("amount_minor").string().not_null())
            .col(col("earmarked").boolean().not_null())
            .col(col("drawn_minor").string().not_null())
            .col(col("ended").boolean().not_null())
            .col(col("released").boolean().not_null())
            .col(col("updated_at").big_integer().not_null())
            .to_owned();
        manager.create_table(cover).await
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Baseline {
    // The trait's signature elides the lifetime; async_trait needs the same form here.
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for stmt in baseline() {
            manager.create_table(stmt).await?;
        }
        Ok(())
    }
}

/// A batch shares payment information blocks (one per debtor account and date): the block
/// an instruction was sent in (`payment_instruction.payment_information_id`) is kept, so
/// the bank's status report naming it can be checked after a restart. Null for every
/// existing row, which was sent in a block of its own named by its EndToEndId.
struct PaymentInformation;

impl MigrationName for PaymentInformation {
    fn name(&self) -> &str {
        "m0004_payment_information"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for PaymentInformation {
    // The trait's signature elides the lifetime; async_trait needs the same form here.
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut alter = Table::alter();
        alter.table(Alias::new("payment_instruction")).add_column(col("payment_information_id").string().null());
        manager.alter_table(alter).await
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::ConnectionTrait;

    use crate::outbox::{Outbox, State};

    /// An outbox as the release before migrations wrote it, with a `sent` instruction, a
    /// cursor and a watch (`sqlite3 .dump`).
    const RELEASED: &str = include_str!("../../tests/fixtures/outbox-v1.sqlite.sql");

    #[tokio::test]
    async fn an_outbox_of_the_last_release_keeps_every_row_and_a_sent_row_stays_sent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("outbox.sqlite").display());
        let raw = tradechain_store::connect(&url, tradechain_store::Durability::Full, None).await.expect("connect");
        raw.execute_unprepared(RELEASED).await.expect("the released schema and its rows");
        let outbox = Outbox::connect(&url).await.expect("migrated");
        let sent = outbox.get("TC7431-1-0-1").await.expect("read").expect("the instruction is kept");
        assert_eq!(sent.state(), Some(State::Sent), "never resent without a status enquiry");
        assert_eq!((sent.amount_minor.as_str(), sent.send_count), ("1234500", 1));
        assert_eq!(outbox.cursor("0x70997970c51812dc3a010c7d01b50e0d17dc79c8").await.expect("cursor"), Some(12));
        // A second start finds nothing to do.
        drop(outbox);
        let again = Outbox::connect(&url).await.expect("again");
        assert_eq!(again.get("TC7431-1-0-1").await.expect("read").and_then(|i| i.state()), Some(State::Sent));
    }

    #[tokio::test]
    async fn an_outbox_of_a_newer_release_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("outbox.sqlite").display());
        let outbox = Outbox::connect(&url).await.expect("new outbox");
        outbox
            .connection()
            .execute_unprepared("INSERT INTO outbox_migrations (version, applied_at) VALUES ('m9999_future', 0)")
            .await
            .expect("a migration of a later release");
        drop(outbox);
        let err = Outbox::connect(&url).await.expect_err("refused");
        assert!(err.to_string().contains("m9999_future"), "{err}");
    }
}
