//! The sandbox ledger's migrations, recorded in the table `ledger_migrations`: explicit
//! statements, columns written out, rows never lost (a bank's books balance before and
//! after).

use sea_orm::DbErr;
use sea_orm::sea_query::{Alias, ColumnDef, IntoIden, Table, TableCreateStatement};
use sea_orm_migration::{MigrationName, MigrationTrait, MigratorTrait, SchemaManager};

/// The ledger's migrations.
pub(super) struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(Baseline), Box::new(PaymentInformation)]
    }

    fn migration_table_name() -> sea_orm::DynIden {
        Alias::new("ledger_migrations").into_iden()
    }
}

/// A payment remembers the payment information block it came in (`PmtInfId`), which its
/// status reports name back (`OrgnlPmtInfId`); rows from before it answer with their
/// EndToEndId, which is what tradechain's adapter names its blocks.
struct PaymentInformation;

impl MigrationName for PaymentInformation {
    fn name(&self) -> &str {
        "m0002_payment_information"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for PaymentInformation {
    // The trait's signature elides the lifetime; async_trait needs the same form here.
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut alter = Table::alter();
        alter.table(Alias::new("sandbox_payment")).add_column(col("pmt_inf_id").string().null());
        manager.alter_table(alter).await
    }
}

/// The tables as the release before migrations created them.
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
    let account = table("sandbox_account")
        .col(col("iban").string().not_null().primary_key())
        .col(col("name").string().not_null())
        .col(col("bic").string().not_null())
        .col(col("currency").string().not_null())
        .col(col("overdraft_limit").big_integer().not_null())
        .col(col("balance").big_integer().not_null())
        .col(col("created_at").big_integer().not_null())
        .to_owned();
    let entry = table("sandbox_entry")
        .col(col("id").big_integer().not_null().auto_increment().primary_key())
        .col(col("booking_ref").string().not_null())
        .col(col("iban").string().not_null())
        .col(col("amount").big_integer().not_null())
        .col(col("currency").string().not_null())
        .col(col("end_to_end_id").string().null())
        .col(col("booked_at").big_integer().not_null())
        .to_owned();
    let payment = table("sandbox_payment")
        .col(col("end_to_end_id").string().not_null().primary_key())
        .col(col("msg_id").string().not_null())
        .col(col("debtor_iban").string().not_null())
        .col(col("creditor_iban").string().not_null())
        .col(col("amount").string().not_null())
        .col(col("currency").string().not_null())
        .col(col("status").string().not_null())
        .col(col("reason").string().null())
        .col(col("bank_reference").string().null())
        .col(col("received_count").integer().not_null())
        .col(col("received_at").big_integer().not_null())
        .to_owned();
    [account, entry, payment]
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

#[cfg(test)]
mod tests {
    use sea_orm::ConnectionTrait;

    use crate::sandbox::ledger::Ledger;

    /// A ledger as the release before migrations wrote it: one funded account and the
    /// bank's capital account (`sqlite3 .dump`).
    const RELEASED: &str = include_str!("../../../tests/fixtures/ledger-v1.sqlite.sql");

    #[tokio::test]
    async fn a_ledger_of_the_last_release_keeps_its_books() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("bank.sqlite").display());
        let raw = tradechain_store::connect(&url, tradechain_store::Durability::Normal, None).await.expect("connect");
        raw.execute_unprepared(RELEASED).await.expect("the released schema and its rows");
        let ledger = Ledger::open(&url).await.expect("migrated");
        let balances = ledger.balances().await.expect("balances");
        let importer = balances.iter().find(|b| b.iban == "GB82WEST12345698765432").expect("the account is kept");
        assert_eq!(importer.balance, 500_000);
        let sums = ledger.check().await.expect("every balance agrees with its entries");
        assert_eq!(sums, vec![("USD".to_string(), 0)], "the books balance");
    }
}
