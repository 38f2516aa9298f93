//! API tokens get a lifecycle (issue 18): an optional expiry, the time each was last used,
//! and the time it was revoked. An off-chain table: its columns added one statement each
//! (SQLite alters one column at a time), every existing token kept, unexpiring and live.

use sea_orm::DbErr;
use sea_orm::sea_query::{Alias, ColumnDef, Table};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

/// See the module docs.
pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0004_token_lifecycle"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    // The trait's signature elides the lifetime; async_trait needs the same form here.
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["expires_at", "last_used_at", "revoked_at"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("api_tokens"))
                        .add_column(ColumnDef::new(Alias::new(column)).big_integer().null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
