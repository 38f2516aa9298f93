//! Secrets that survive a stolen backup: outside dev mode the master key comes from outside
//! the node's data directory (a key, a key file elsewhere, or a passphrase), a key file
//! inside it is refused, a wrong passphrase is refused at start; data files are 0600 in
//! 0700 directories; custodial keys leave the node only as Web3 Secret Storage files, which
//! ethers opens (and tradechain opens ethers').

use std::path::Path;

use reqwest::StatusCode;
use serde_json::json;
use test_support::api::{Db, Net, genesis};
use tradechain_api::{ApiConfig, Platform};
use tradechain_engine::config::NodeConfig;
use tradechain_engine::node::Node;

/// Start an API outside dev mode over a fresh dev engine in `dir`, with `api`'s settings.
async fn start(dir: &Path, api: impl FnOnce(ApiConfig) -> ApiConfig) -> Result<Platform, String> {
    let config = NodeConfig::dev_in(dir.join("chain"));
    let node = Node::open(config.clone(), genesis(&config)).expect("node opens");
    let base = ApiConfig { dev: false, ..ApiConfig::for_node(&config) };
    Platform::start(node, api(base)).await.map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outside_dev_mode_the_master_key_comes_from_outside_the_data_directory() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    // Nothing configured: refused, saying where the key must come from.
    let refused = start(&dir.path().join("a"), |c| c).await.err().expect("refused");
    assert!(refused.contains("outside the data directory"), "{refused}");
    // A key file inside the data directory (a backup of it would open every key): refused.
    let inside = dir.path().join("b/chain/master.key");
    std::fs::create_dir_all(inside.parent().expect("parent")).expect("dir");
    std::fs::write(&inside, "11".repeat(32)).expect("write");
    let refused = start(&dir.path().join("b"), |c| ApiConfig { master_key_file: Some(inside.clone()), ..c })
        .await
        .err()
        .expect("refused");
    assert!(refused.contains("inside the data directory"), "{refused}");
    // The same file outside it: starts.
    let outside = dir.path().join("secrets/master.key");
    std::fs::create_dir_all(outside.parent().expect("parent")).expect("dir");
    std::fs::write(&outside, "11".repeat(32)).expect("write");
    assert!(start(&dir.path().join("c"), |c| ApiConfig { master_key_file: Some(outside.clone()), ..c }).await.is_ok());

    // A passphrase: the data directory holds a salt and a check value, never the key.
    let passphrase = |p: &str| {
        let p = p.to_string();
        move |c: ApiConfig| ApiConfig { master_passphrase: Some(p), ..c }
    };
    let short = start(&dir.path().join("d"), passphrase("short")).await.err().expect("refused");
    assert!(short.contains("at least 12"), "{short}");
    let node_dir = dir.path().join("e");
    assert!(start(&node_dir, passphrase("a long enough passphrase")).await.is_ok());
    let api_dir = node_dir.join("chain/api");
    assert!(api_dir.join("master.salt").exists() && api_dir.join("master.check").exists());
    assert!(!api_dir.join("master.key").exists(), "no key in the data directory");
    // A restart with a mistyped passphrase is refused at start (the same read model and
    // files, a new chain directory as another engine would have).
    let again = |p: &'static str| {
        let api_dir = api_dir.clone();
        move |c: ApiConfig| ApiConfig { data_dir: api_dir, master_passphrase: Some(p.to_string()), ..c }
    };
    let wrong = start(&dir.path().join("f"), again("a long enough passphrasE")).await.err().expect("refused");
    assert!(wrong.contains("does not open"), "{wrong}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn data_files_are_the_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let mut net = Net::start(Db::Sqlite).await;
    let (_, buyer_t) = net.onboard("Hanseatic Coffee Importers GmbH", &["trader"]).await;
    let (seller, seller_t) = net.onboard("Fazenda Boa Vista Ltda", &["trader"]).await;
    let (bank, bank_t) = net.onboard("Deutsche Handelsbank AG", &["bank"]).await;
    let proposal = json!({
        "seller": seller, "buyer_bank": bank, "seller_bank": bank,
        "amount_minor": "10000000", "currency": "USD", "incoterm": "FOB",
        "latest_shipment": test_support::fixtures::date_in(30), "expiry": test_support::fixtures::date_in(60),
        "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"] }]
    });
    let (_, order) = net.post("/v1/orders", &buyer_t, proposal).await;
    let o = format!("/v1/orders/{}", order["id"]);
    assert_eq!(net.post(&format!("{o}/accept"), &seller_t, json!({})).await.0, StatusCode::OK);
    assert_eq!(net.post(&format!("{o}/commit"), &bank_t, json!({})).await.0, StatusCode::OK);
    let (s, body) =
        net.put_bytes(&format!("{o}/documents/commercial_invoice"), &seller_t, b"%PDF-1.7 invoice".to_vec()).await;
    assert_eq!(s, StatusCode::OK, "{body}");

    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    let chain = net.dir.path().join("chain");
    let api = chain.join("api");
    for d in [&chain, &api, &api.join("files")] {
        assert_eq!(mode(d), 0o700, "{}", d.display());
    }
    let document = std::fs::read_dir(api.join("files")).expect("files").next().expect("a file").expect("entry").path();
    let readmodel =
        std::path::PathBuf::from(net.database_url.trim_start_matches("sqlite://").split('?').next().expect("path"));
    for f in [
        chain.join("chain.redb"),
        readmodel,
        api.join("operator.token"),
        api.join("master.key"),
        api.join("master.check"),
        document,
    ] {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn custodial_keys_leave_as_web3_key_files_that_ethers_opens() {
    let Some(js) = crate::js_tests("the key file test") else { return };
    let mut net = Net::start(Db::Sqlite).await;
    let (seller, _) = net.onboard("Fazenda Boa Vista Ltda", &["trader"]).await;
    let passphrase = "correct horse battery staple";
    let short = tradechain_api::keyfile::export_for_org(&net.state.config, "Fazenda Boa Vista Ltda", "short").await;
    assert!(short.is_err(), "a key file needs a real passphrase");
    let file = tradechain_api::keyfile::export_for_org(&net.state.config, "Fazenda Boa Vista Ltda", passphrase)
        .await
        .expect("export");
    let dir = tempfile::tempdir().expect("tempdir");
    let (exported, written) = (dir.path().join("exported.json"), dir.path().join("from-ethers.json"));
    std::fs::write(&exported, file.to_string()).expect("write");
    let out = std::process::Command::new("node")
        .arg(js.join("keyfile.mjs"))
        .arg(&exported)
        .arg(passphrase)
        .arg(&written)
        .output()
        .expect("node runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0].to_lowercase(), seller, "ethers opens the key tradechain exported");
    let theirs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&written).expect("read")).expect("json");
    let opened = tradechain_api::keyfile::decrypt(&theirs, passphrase).expect("tradechain opens ethers' file");
    assert_eq!(format!("{:?}", opened.address()).to_lowercase(), lines[1].to_lowercase());
    assert!(tradechain_api::keyfile::decrypt(&theirs, "not the passphrase").is_err());
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_master_key_rotation_reseals_every_key_under_the_new_one() {
    use sea_orm::EntityTrait;
    use tradechain_api::keystore::Keystore;
    use tradechain_api::readmodel::{member, registry_key};
    let mut net = Net::start(Db::Sqlite).await;
    let (seller, _) = net.onboard("Fazenda Boa Vista Ltda", &["trader"]).await;
    let old = net.state.config.clone();
    let new_hex = "42".repeat(32);
    let new = ApiConfig { master_key: Some(new_hex.clone()), ..old.clone() };
    let n = tradechain_api::keyfile::rotate_master_key(&old, &new).await.expect("rotate");
    assert!(n >= 2, "the organisation's key and the registry's: {n}");
    let sealed = member::Entity::find_by_id(seller.clone()).one(&net.state.db).await.expect("db").expect("member");
    let sealed = sealed.key_ciphertext.expect("custodial");
    let address = seller.parse().expect("address");
    let (old_ks, new_ks) =
        (Keystore::new(old.master_key().expect("old")), Keystore::new(new.master_key().expect("new")));
    assert_eq!(new_ks.open(address, &sealed).expect("opens under the new key").address(), address);
    assert!(old_ks.open(address, &sealed).is_err(), "the old key opens nothing any more");
    let k = registry_key::Entity::find_by_id(1).one(&net.state.db).await.expect("db").expect("v1");
    assert!(new_ks.open_secret(b"tradechain registry key v1", &k.sealed).is_ok());
    assert!(old_ks.open_secret(b"tradechain registry key v1", &k.sealed).is_err());
    // A wrong current key changes nothing.
    let wrong = ApiConfig { master_key: Some("13".repeat(32)), ..old.clone() };
    assert!(tradechain_api::keyfile::rotate_master_key(&wrong, &old).await.is_err());
    let after = member::Entity::find_by_id(seller).one(&net.state.db).await.expect("db").expect("member");
    assert_eq!(after.key_ciphertext.as_deref(), Some(sealed.as_str()));
    net.stop().await;
}
