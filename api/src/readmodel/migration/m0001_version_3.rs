//! The schema as released before migrations (its `schema_version` 3), as the baseline: a
//! database created by that release is recognised and kept as it is; an older one (version
//! 1 or 2) is upgraded the way that release did; a new one is created.

use sea_orm::sea_query::{ColumnDef, Table, TableCreateStatement};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult, Statement};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

/// See the module docs.
pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0001_version_3"
    }
}

/// The last `schema_version` before migrations.
const VERSION: i32 = 3;

fn table(name: &str) -> TableCreateStatement {
    let mut t = Table::create();
    t.table(sea_orm::sea_query::Alias::new(name)).if_not_exists();
    t
}

fn col(name: &str) -> ColumnDef {
    ColumnDef::new(sea_orm::sea_query::Alias::new(name))
}

/// The off-chain tables as version 3 created them.
fn offchain_tables() -> Vec<TableCreateStatement> {
    vec![
        table("schema_version")
            .col(col("id").integer().not_null().primary_key())
            .col(col("version").integer().not_null())
            .to_owned(),
        table("members")
            .col(col("address").string().not_null().primary_key())
            .col(col("custody").string().not_null())
            .col(col("key_ciphertext").text().null())
            .col(col("iban").string().null())
            .col(col("bic").string().null())
            .col(col("created_at").big_integer().not_null())
            .to_owned(),
        table("api_tokens")
            .col(col("token_hash").string().not_null().primary_key())
            .col(col("org").string().not_null())
            .col(col("label").string().not_null())
            .col(col("created_at").big_integer().not_null())
            .to_owned(),
        table("order_details")
            .col(col("details_hash").string().not_null().primary_key())
            .col(col("body").text().not_null())
            .to_owned(),
        table("document_files")
            .col(col("hash").string().not_null().primary_key())
            .col(col("size").big_integer().not_null())
            .col(col("content_type").string().not_null())
            .col(col("uploaded_by").string().not_null())
            .col(col("created_at").big_integer().not_null())
            .to_owned(),
        table("audit_log")
            .col(col("id").big_integer().not_null().auto_increment().primary_key())
            .col(col("at").big_integer().not_null())
            .col(col("actor").string().not_null())
            .col(col("action").string().not_null())
            .col(col("subject").string().not_null())
            .to_owned(),
        table("financing_reviews")
            .col(col("financing_id").big_integer().not_null().primary_key())
            .col(col("review").text().not_null())
            .to_owned(),
    ]
}

#[derive(FromQueryResult)]
struct Version {
    version: i32,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    // The trait's signature elides the lifetime; async_trait needs the same form here.
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = db.get_database_backend();
        let released = if manager.has_table("schema_version").await? {
            let row = Version::find_by_statement(Statement::from_string(
                backend,
                "SELECT version FROM schema_version WHERE id = 1",
            ))
            .one(db)
            .await?;
            row.map(|r| r.version)
        } else {
            None
        };
        if let Some(v) = released
            && v > VERSION
        {
            return Err(DbErr::Custom(format!("read model schema version {v} is newer than this build's {VERSION}")));
        }
        for stmt in offchain_tables() {
            db.execute(&stmt).await?;
        }
        tradechain_store::create_index(db, "api_tokens", "api_tokens_org", &[super::super::api_token::Column::Org])
            .await?;
        match released {
            Some(v) if v < VERSION => {
                // Version 2 indexes the financing and verification-request events the earlier
                // indexer skipped; version 3 adds the firms' credit facts. Either way: drop the
                // chain tables; the indexer re-indexes from block 0.
                super::super::drop_chain_tables(db).await?;
                // Version 3 reads near-duplicate keys from the chain (`near_keys`); the
                // version-2 table kept them with the review flags of this node's offers: keep
                // the flags, drop the rest.
                if v == 2 {
                    db.execute_unprepared(
                        "INSERT INTO financing_reviews (financing_id, review) \
                         SELECT financing_id, review FROM financing_near_keys",
                    )
                    .await?;
                }
                db.execute_unprepared("DROP TABLE IF EXISTS financing_near_keys").await?;
                db.execute_unprepared(&format!("UPDATE schema_version SET version = {VERSION} WHERE id = 1")).await?;
            }
            Some(_) => {}
            None => {
                db.execute_unprepared(&format!("INSERT INTO schema_version (id, version) VALUES (1, {VERSION})"))
                    .await?;
            }
        }
        super::super::create_chain_tables(db).await
    }
}
