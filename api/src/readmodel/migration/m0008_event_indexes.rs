//! The `events` indexes the background readers need ([`super::super::events_indexes`]): a
//! read model made before them gets them here; a new one has them from its chain tables.

use sea_orm::DbErr;
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

/// See the module docs.
pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0008_event_indexes"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    // The trait's signature elides the lifetime; async_trait needs the same form here.
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::super::events_indexes(manager.get_connection()).await
    }
}
