//! The read model's migrations, applied in order by [`tradechain_store::migrate`] at every
//! start, and recorded in the table `readmodel_migrations`.
//!
//! Two rules, from the two kinds of tables:
//! - the chain tables ([`super::chain_tables`]) are created from their entities and can be
//!   rebuilt from the chain: a migration that changes what is indexed drops them and
//!   recreates them from the entities, and the indexer re-indexes from block 0;
//! - the off-chain tables ([`super::offchain`]) hold what exists nowhere else (tokens,
//!   custodial keys, order details, the audit log): a migration changes them with explicit
//!   statements (its columns written out), never from the current entities, and never
//!   loses a row.

mod m0001_version_3;
mod m0002_sound_contracts;
mod m0003_registry_keys;
mod m0004_token_lifecycle;
mod m0005_consortium;
mod m0006_private_items;
mod m0007_session_parent;
mod m0008_event_indexes;
mod m0009_details_writers;
mod m0010_timeline_index;

use sea_orm::DynIden;
use sea_orm::sea_query::{Alias, IntoIden};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// The read model's migrations.
pub(crate) struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_version_3::Migration),
            Box::new(m0002_sound_contracts::Migration),
            Box::new(m0003_registry_keys::Migration),
            Box::new(m0004_token_lifecycle::Migration),
            Box::new(m0005_consortium::Migration),
            Box::new(m0006_private_items::Migration),
            Box::new(m0007_session_parent::Migration),
            Box::new(m0008_event_indexes::Migration),
            Box::new(m0009_details_writers::Migration),
            Box::new(m0010_timeline_index::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        Alias::new("readmodel_migrations").into_iden()
    }
}
