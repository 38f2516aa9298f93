//! An order's timeline read from an index in chain order
//! ([`super::super::events_indexes`]): a read model made before it loses the index of the
//! order alone, which the new one covers, and gets the new one.

use sea_orm::DbErr;
use sea_orm::sea_query::{Alias, Index};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

/// See the module docs.
pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0010_timeline_index"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    // The trait's signature elides the lifetime; async_trait needs the same form here.
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("events_order").table(Alias::new("events")).if_exists().to_owned())
            .await?;
        super::super::events_indexes(manager.get_connection()).await
    }
}
