//! The duplicate-financing registry keeps its keys (issue 17): `registry_keys`, one row per
//! key version, each sealed under the node's master key, so that every API process of a
//! node (several may share one PostgreSQL) uses the same keys and no key is ever stored in
//! clear. An off-chain table: created with its columns written out.

use sea_orm::DbErr;
use sea_orm::sea_query::{Alias, ColumnDef, Table};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

/// See the module docs.
pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0003_registry_keys"
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
                    .table(Alias::new("registry_keys"))
                    .if_not_exists()
                    .col(col("version").integer().not_null().primary_key())
                    .col(col("sealed").text().not_null())
                    .col(col("created_at").big_integer().not_null())
                    .col(col("retired_at").big_integer().null())
                    .to_owned(),
            )
            .await
    }
}
