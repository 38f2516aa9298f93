//! The SQL read model (sea-orm): SQLite by default, PostgreSQL by configuration.
//!
//! Schema management: versioned, idempotent schema creation rather than
//! `sea-orm-migration` (which pulls a CLI stack into the API): every table is created
//! from its entity with `IF NOT EXISTS` ([`Schema::create_table_from_entity`]), indexes
//! likewise, and `schema_version` records [`SCHEMA_VERSION`]. A future change to a table
//! bumps the version and adds its step to [`migrate`].
//!
//! Two kinds of tables: [`chain_tables`] are filled by the indexer from the chain's events
//! and can be dropped and rebuilt ([`drop_chain_tables`], then re-index); [`offchain`]
//! tables hold what the chain does not (tokens, custodial keys, order details, files).
//! Amounts are decimal strings of minor units, never floats.

pub mod chain_tables;
pub mod offchain;

use sea_orm::sea_query::{Index, Table};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, EntityTrait, Iterable, PrimaryKeyToColumn,
    QueryOrder, Schema,
};
use serde::Serialize;

pub use chain_tables::{
    consent, credit_facts, cursor, document, event, financing, fingerprint, milestone, near_key, order, organisation,
    payment, verification_request,
};
pub use offchain::{api_token, audit, document_file, financing_review, member, order_detail, schema_version};

/// Version of the schema this code writes.
pub const SCHEMA_VERSION: i32 = 3;

/// Connect to `url` (`sqlite://path?mode=rwc` or `postgres://…`).
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_string());
    options.max_connections(if url.starts_with("sqlite") { 8 } else { 16 }).sqlx_logging(false);
    let db = Database::connect(options).await?;
    if url.starts_with("sqlite") {
        db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
        db.execute_unprepared("PRAGMA busy_timeout=10000").await?;
    }
    Ok(db)
}

async fn create<E: EntityTrait>(db: &DatabaseConnection, entity: E) -> Result<(), DbErr> {
    let schema = Schema::new(db.get_database_backend());
    let mut stmt = schema.create_table_from_entity(entity);
    stmt.if_not_exists();
    db.execute(&stmt).await?;
    Ok(())
}

async fn index<C: sea_orm::sea_query::IntoIden + Copy + 'static>(
    db: &DatabaseConnection,
    table: &str,
    name: &str,
    columns: &[C],
) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.if_not_exists().name(name).table(sea_orm::sea_query::Alias::new(table));
    for c in columns {
        stmt.col(*c);
    }
    db.execute(&stmt).await?;
    Ok(())
}

/// Create the chain-derived tables (idempotent).
pub async fn create_chain_tables(db: &DatabaseConnection) -> Result<(), DbErr> {
    create(db, organisation::Entity).await?;
    create(db, order::Entity).await?;
    create(db, milestone::Entity).await?;
    create(db, document::Entity).await?;
    create(db, payment::Entity).await?;
    create(db, consent::Entity).await?;
    create(db, financing::Entity).await?;
    create(db, fingerprint::Entity).await?;
    create(db, near_key::Entity).await?;
    create(db, verification_request::Entity).await?;
    create(db, event::Entity).await?;
    create(db, credit_facts::Entity).await?;
    create(db, cursor::Entity).await?;
    index(db, "orders", "orders_buyer", &[order::Column::Buyer, order::Column::Id]).await?;
    index(db, "orders", "orders_seller", &[order::Column::Seller, order::Column::Id]).await?;
    index(db, "orders", "orders_buyer_bank", &[order::Column::BuyerBank, order::Column::Id]).await?;
    index(db, "orders", "orders_seller_bank", &[order::Column::SellerBank, order::Column::Id]).await?;
    index(db, "events", "events_order", &[event::Column::OrderId]).await?;
    index(db, "documents", "documents_hash", &[document::Column::Hash]).await?;
    index(db, "payments", "payments_payer", &[payment::Column::Payer]).await?;
    index(db, "payments", "payments_payee", &[payment::Column::Payee]).await?;
    index(db, "financings", "financings_financier", &[financing::Column::Financier, financing::Column::Id]).await?;
    index(db, "financings", "financings_firm", &[financing::Column::Firm, financing::Column::Id]).await?;
    index(db, "financings", "financings_order", &[financing::Column::OrderId]).await?;
    index(db, "near_keys", "near_keys_key", &[near_key::Column::NearKey]).await?;
    index(db, "verification_requests", "verification_requests_firm", &[verification_request::Column::Firm]).await?;
    index(db, "verification_requests", "verification_requests_financier", &[verification_request::Column::Financier])
        .await?;
    Ok(())
}

/// Bring the schema to [`SCHEMA_VERSION`] (idempotent; safe at every start).
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    create(db, schema_version::Entity).await?;
    create_chain_tables(db).await?;
    create(db, member::Entity).await?;
    create(db, api_token::Entity).await?;
    create(db, order_detail::Entity).await?;
    create(db, document_file::Entity).await?;
    create(db, audit::Entity).await?;
    create(db, financing_review::Entity).await?;
    index(db, "api_tokens", "api_tokens_org", &[api_token::Column::Org]).await?;
    let current = schema_version::Entity::find_by_id(1).one(db).await?;
    match current {
        None => {
            let row = schema_version::ActiveModel { id: sea_orm::Set(1), version: sea_orm::Set(SCHEMA_VERSION) };
            schema_version::Entity::insert(row).exec(db).await?;
        }
        Some(v) if v.version > SCHEMA_VERSION => {
            return Err(DbErr::Custom(format!(
                "read model schema version {} is newer than this build's {SCHEMA_VERSION}",
                v.version
            )));
        }
        Some(v) if v.version < SCHEMA_VERSION => {
            // Version 2 indexes the financing and verification-request events the earlier
            // indexer skipped; version 3 adds the firms' credit facts. Either way: drop the
            // chain tables; the indexer re-indexes from block 0.
            drop_chain_tables(db).await?;
            create_chain_tables(db).await?;
            // Version 3 reads near-duplicate keys from the chain (`near_keys`); the
            // version-2 table kept them with the review flags of this node's offers: keep
            // the flags, drop the rest.
            if v.version == 2 {
                db.execute_unprepared(
                    "INSERT INTO financing_reviews (financing_id, review) \
                     SELECT financing_id, review FROM financing_near_keys",
                )
                .await?;
            }
            db.execute_unprepared("DROP TABLE IF EXISTS financing_near_keys").await?;
            let row = schema_version::ActiveModel { id: sea_orm::Set(1), version: sea_orm::Set(SCHEMA_VERSION) };
            schema_version::Entity::update(row).exec(db).await?;
        }
        Some(_) => {}
    }
    Ok(())
}

/// Drop every chain-derived table (the off-chain ones stay), ready for a rebuild.
pub async fn drop_chain_tables(db: &DatabaseConnection) -> Result<(), DbErr> {
    for name in [
        "organisations",
        "orders",
        "milestones",
        "documents",
        "payments",
        "consents",
        "financings",
        "fingerprints",
        "near_keys",
        "verification_requests",
        "events",
        "credit_facts",
        "indexer_cursor",
    ] {
        let mut stmt = Table::drop();
        stmt.table(sea_orm::sea_query::Alias::new(name)).if_exists();
        db.execute(&stmt).await?;
    }
    Ok(())
}

async fn dump_table<E>(db: &DatabaseConnection, entity: E, out: &mut String) -> Result<(), DbErr>
where
    E: EntityTrait,
    E::Model: Serialize,
{
    let mut query = E::find();
    for pk in E::PrimaryKey::iter() {
        query = query.order_by_asc(pk.into_column());
    }
    out.push_str(&format!("## {}\n", entity.table_name()));
    for row in query.all(db).await? {
        out.push_str(&serde_json::to_string(&row).map_err(|e| DbErr::Custom(e.to_string()))?);
        out.push('\n');
    }
    Ok(())
}

/// A canonical text dump of every chain-derived table, rows in primary-key order: two
/// read models hold the same chain data exactly when their dumps are equal.
pub async fn dump_chain_tables(db: &DatabaseConnection) -> Result<String, DbErr> {
    let mut out = String::new();
    dump_table(db, organisation::Entity, &mut out).await?;
    dump_table(db, order::Entity, &mut out).await?;
    dump_table(db, milestone::Entity, &mut out).await?;
    dump_table(db, document::Entity, &mut out).await?;
    dump_table(db, payment::Entity, &mut out).await?;
    dump_table(db, consent::Entity, &mut out).await?;
    dump_table(db, financing::Entity, &mut out).await?;
    dump_table(db, fingerprint::Entity, &mut out).await?;
    dump_table(db, near_key::Entity, &mut out).await?;
    dump_table(db, verification_request::Entity, &mut out).await?;
    dump_table(db, event::Entity, &mut out).await?;
    dump_table(db, credit_facts::Entity, &mut out).await?;
    dump_table(db, cursor::Entity, &mut out).await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn upgrading_from_version_1_empties_the_chain_tables_for_a_reindex() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("rm.sqlite").display());
        let db = connect(&url).await.expect("connect");
        migrate(&db).await.expect("migrate");
        cursor::Entity::insert(cursor::ActiveModel { id: sea_orm::Set(1), last_block: sea_orm::Set(5) })
            .exec(&db)
            .await
            .expect("cursor");
        let v1 = schema_version::ActiveModel { id: sea_orm::Set(1), version: sea_orm::Set(1) };
        schema_version::Entity::update(v1).exec(&db).await.expect("version 1");
        migrate(&db).await.expect("upgrade");
        assert!(cursor::Entity::find_by_id(1).one(&db).await.expect("read").is_none(), "re-index from block 0");
        let version = schema_version::Entity::find_by_id(1).one(&db).await.expect("read").map(|v| v.version);
        assert_eq!(version, Some(SCHEMA_VERSION));
        // Already current: nothing is dropped.
        cursor::Entity::insert(cursor::ActiveModel { id: sea_orm::Set(1), last_block: sea_orm::Set(7) })
            .exec(&db)
            .await
            .expect("cursor");
        migrate(&db).await.expect("again");
        assert!(cursor::Entity::find_by_id(1).one(&db).await.expect("read").is_some());
    }

    #[tokio::test]
    async fn upgrading_from_version_2_keeps_the_review_flags_and_drops_the_off_chain_near_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("rm.sqlite").display());
        let db = connect(&url).await.expect("connect");
        migrate(&db).await.expect("migrate");
        // The version-2 table, as that version created it, with one offer's keys and flags.
        db.execute_unprepared(
            "CREATE TABLE financing_near_keys (financing_id INTEGER PRIMARY KEY, near_key TEXT NOT NULL, \
             amount_digest TEXT NOT NULL, date_digest TEXT NOT NULL, buyer_digest TEXT NOT NULL, review TEXT NOT NULL)",
        )
        .await
        .expect("v2 table");
        db.execute_unprepared(
            "INSERT INTO financing_near_keys VALUES (7, '0x01', '0x02', '0x03', '0x04', \
             '[{\"code\":\"NEAR_DUPLICATE\",\"financing_id\":3}]')",
        )
        .await
        .expect("v2 row");
        let v2 = schema_version::ActiveModel { id: sea_orm::Set(1), version: sea_orm::Set(2) };
        schema_version::Entity::update(v2).exec(&db).await.expect("version 2");
        migrate(&db).await.expect("upgrade");
        let review = financing_review::Entity::find_by_id(7).one(&db).await.expect("read").map(|r| r.review);
        assert_eq!(review.as_deref(), Some(r#"[{"code":"NEAR_DUPLICATE","financing_id":3}]"#));
        assert!(
            db.execute_unprepared("SELECT 1 FROM financing_near_keys").await.is_err(),
            "the off-chain near keys are gone: the chain's are indexed into near_keys"
        );
        let version = schema_version::Entity::find_by_id(1).one(&db).await.expect("read").map(|v| v.version);
        assert_eq!(version, Some(SCHEMA_VERSION));
    }
}
