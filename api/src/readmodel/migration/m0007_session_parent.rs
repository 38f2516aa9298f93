//! A web app session (issue 21) remembers the token it was opened with, so that revoking
//! or expiring that token ends its sessions too: an operator who revokes a leaked token must
//! not leave a browser session opened with it alive for hours. An off-chain table's column,
//! added as m0004 did; every existing token has none.

use sea_orm::DbErr;
use sea_orm::sea_query::{Alias, ColumnDef, Table};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

/// See the module docs.
pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0007_session_parent"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    // The trait's signature elides the lifetime; async_trait needs the same form here.
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("api_tokens"))
                    .add_column(ColumnDef::new(Alias::new("parent_hash")).string().null())
                    .to_owned(),
            )
            .await
    }
}
