//! The contracts made sound against a dishonest party (issue 15) emit new and changed
//! events (named attesters, shipment dates, refusal notices with every discrepancy, payer
//! defaults, the financing's approvals, advance acknowledgement, deadline and exits, the
//! banks' holidays): the chain tables gain the columns that hold them. They are rebuilt
//! from the chain, so: drop them, recreate them, and the indexer re-indexes from block 0.
//! The off-chain tables are untouched.

use sea_orm::DbErr;
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

/// See the module docs.
pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0002_sound_contracts"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    // The trait's signature elides the lifetime; async_trait needs the same form here.
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        super::super::drop_chain_tables(db).await?;
        super::super::create_chain_tables(db).await
    }
}
