//! The read model's migrations on PostgreSQL, where several processes of one member start
//! against one database.

use sea_orm::{ConnectionTrait, Statement};
use tradechain_api::readmodel;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn processes_starting_at_once_apply_each_migration_once() {
    let Some(test_support::api::Db::Postgres(pg)) = test_support::api::Db::postgres() else {
        assert!(!test_support::hardhat::required(), "CI runs this with PostgreSQL");
        eprintln!("skipped: no TRADECHAIN_TEST_POSTGRES_URL (run under scripts/with-postgres.sh)");
        return;
    };
    let url = test_support::api::fresh_postgres(&pg).await;
    let mut starts = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        starts.push(tokio::spawn(async move {
            let db = readmodel::connect(&url).await.expect("connect");
            readmodel::migrate(&db).await
        }));
    }
    for s in starts {
        s.await.expect("task").expect("every process starts");
    }
    let db = readmodel::connect(&url).await.expect("connect");
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT version, COUNT(*) AS n FROM readmodel_migrations GROUP BY version",
        ))
        .await
        .expect("migrations");
    assert!(!rows.is_empty());
    for row in rows {
        let n: i64 = row.try_get("", "n").expect("count");
        assert_eq!(n, 1, "applied once");
    }
    let version: i32 = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), "SELECT version FROM schema_version"))
        .await
        .expect("query")
        .expect("row")
        .try_get("", "version")
        .expect("version");
    assert_eq!(version, 3);
}
