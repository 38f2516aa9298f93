//! Who wrote which details here, for a proposal not on chain yet (issue 19): a proposal's
//! order id is known only from its receipt, so its details were recorded as written here
//! (`private_items`) in a commit of their own after the receipt. A crash between the two
//! left an order whose details this node kept but never delivered, and the planner could
//! pass the order's event before the record (`outbox::plan_written` mended that race).
//! Now the writer and the details' hash are kept with the details, in their commit, and the
//! indexer records the item for the order in the block's transaction that indexes the
//! proposal. An off-chain table, created with its columns written out; nothing to carry
//! over (what was proposed before is recorded already).

use sea_orm::DbErr;
use sea_orm::sea_query::{Alias, ColumnDef, Index, Table};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

/// See the module docs.
pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0009_details_writers"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    // The trait's signature elides the lifetime; async_trait needs the same form here.
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let col = |name: &str| ColumnDef::new(Alias::new(name));
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("details_writers"))
                    .if_not_exists()
                    .col(col("writer").string().not_null())
                    .col(col("details_hash").string().not_null())
                    .col(col("at").big_integer().not_null())
                    .primary_key(Index::create().col(Alias::new("writer")).col(Alias::new("details_hash")))
                    .to_owned(),
            )
            .await
    }
}
