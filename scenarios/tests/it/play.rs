//! Every scenario in `scenarios/` plays green on the embedded platform, with a snapshot of
//! its timeline; a bad file is reported with its line; an unmet expectation names itself.

use std::path::{Path, PathBuf};

use test_support::redact::long_hex as redact;
use tradechain_scenarios::{Error, Options, play_file, play_text};

fn scenario_files() -> Vec<PathBuf> {
    files_in(Path::new(env!("CARGO_MANIFEST_DIR")))
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("scenarios dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.file_name().is_some_and(|n| n != "Cargo.toml"))
        .collect();
    files.sort();
    files
}

/// Every scenario file in `scenarios/` plays green; its timeline is snapshotted under its name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_plays_green_with_its_timeline() {
    let files = scenario_files();
    assert!(files.len() >= 4, "{files:?}");
    for path in files {
        let name = path.file_stem().expect("stem").to_string_lossy().into_owned();
        let played = match play_file(&path, &Options::default()).await {
            Ok(p) => p,
            Err(e) => panic!("{name}: {e}"),
        };
        insta::assert_snapshot!(name, redact(&played.timeline));
    }
}

/// Every attack in `scenarios/adversarial/` ends in the honest party's outcome (paid,
/// refused, released); its timeline is snapshotted as `adversarial-<name>`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_adversarial_scenario_ends_in_the_honest_outcome() {
    let files = files_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("adversarial"));
    assert!(files.len() >= 11, "one scenario per attack at least: {files:?}");
    for path in files {
        let name = path.file_stem().expect("stem").to_string_lossy().into_owned();
        let played = match play_file(&path, &Options::default()).await {
            Ok(p) => p,
            Err(e) => panic!("{name}: {e}"),
        };
        insta::assert_snapshot!(format!("adversarial-{name}"), redact(&played.timeline));
    }
}

const SMALL: &str = r#"
name = "small"

[[party]]
name = "Buyer"
roles = ["trader"]

[[party]]
name = "Seller"
roles = ["trader"]

[[party]]
name = "Bank"
roles = ["bank"]

[[order]]
id = "o"
buyer = "Buyer"
seller = "Seller"
buyer_bank = "Bank"
seller_bank = "Bank"
currency = "USD"
amount_minor = 100000
incoterm = "FOB"
latest_shipment_days = 10
expiry_days = 20

[[order.milestone]]
share_bps = 10000
documents = ["commercial_invoice"]

[[step]]
actor = "Buyer"
action = "propose"
order = "o"
"#;

#[test]
fn an_unknown_field_is_reported_with_its_line_and_column() {
    let text = SMALL.replace("order = \"o\"\n", "order = \"o\"\ncolour = \"blue\"\n");
    let err = tradechain_scenarios::Scenario::parse("bad.toml", &text).expect_err("unknown field");
    let Error::Parse { line, column, ref message, .. } = err else { panic!("{err}") };
    assert_eq!((line, column), (36, 1), "{err}");
    assert!(message.contains("unknown field `colour`"), "{err}");
    assert!(err.to_string().starts_with("bad.toml:36:1: unknown field `colour`"), "{err}");
}

#[test]
fn an_unknown_action_and_a_wrong_type_are_reported_with_their_lines() {
    let text = SMALL.replace("action = \"propose\"", "action = \"pay_everyone\"");
    let err = tradechain_scenarios::Scenario::parse("bad.toml", &text).expect_err("unknown action");
    assert!(err.to_string().starts_with("bad.toml:34:10:"), "{err}");
    assert!(err.to_string().contains("pay_everyone"), "{err}");
    let text = SMALL.replace("amount_minor = 100000", "amount_minor = \"lots\"");
    let err = tradechain_scenarios::Scenario::parse("bad.toml", &text).expect_err("wrong type");
    assert!(err.to_string().starts_with("bad.toml:23:16:"), "{err}");
}

#[test]
fn an_actor_who_is_not_a_party_is_reported_at_its_step() {
    let text = SMALL.replace("actor = \"Buyer\"", "actor = \"Nobody\"");
    let err = tradechain_scenarios::Scenario::parse("bad.toml", &text).expect_err("unknown actor");
    assert!(err.to_string().starts_with("bad.toml:32:1: actor `Nobody` is not a party"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmet_expectation_names_the_step_and_both_values() {
    let text = format!("{SMALL}expect = {{ state = \"committed\" }}\n");
    let err = play_text("small.toml", &text, &Options::default()).await.expect_err("unmet");
    let Error::Expectation { step, ref expectation, ref expected, ref actual, .. } = err else { panic!("{err}") };
    assert_eq!((step, expectation.as_str(), expected.as_str(), actual.as_str()), (1, "state", "committed", "proposed"));
    assert_eq!(
        err.to_string(),
        "step 1 (Propose Buyer o): expectation `state` not met: expected committed, got proposed"
    );
}

#[test]
fn financing_and_consent_steps_name_what_they_need() {
    let text = SMALL.replace(
        "action = \"propose\"\norder = \"o\"",
        "action = \"offer_financing\"\norder = \"o\"\nkind = \"receivable\"",
    );
    let err = tradechain_scenarios::Scenario::parse("bad.toml", &text).expect_err("no financing name");
    assert!(err.to_string().starts_with("bad.toml:32:1: missing field `financing`"), "{err}");
    let text = SMALL.replace("action = \"propose\"\norder = \"o\"", "action = \"grant_consent\"\nfinancier = \"Bank\"");
    let err = tradechain_scenarios::Scenario::parse("bad.toml", &text).expect_err("no days");
    assert!(err.to_string().starts_with("bad.toml:32:1: missing field `days`"), "{err}");
    // A field of another action is refused where it stands.
    let text = SMALL.replace("order = \"o\"\n", "order = \"o\"\ndays = 3\n");
    let err = tradechain_scenarios::Scenario::parse("bad.toml", &text).expect_err("days on propose");
    assert!(err.to_string().starts_with("bad.toml:36:1: unknown field `days`"), "{err}");
    let text = SMALL.replace("action = \"propose\"\norder = \"o\"", "action = \"query_credit\"\nfirm = \"Nobody\"");
    let err = tradechain_scenarios::Scenario::parse("bad.toml", &text).expect_err("unknown firm");
    assert!(err.to_string().contains("firm `Nobody` is not a party"), "{err}");
}

/// A party names the member node that serves it: a short lower-case name, and either every
/// party names one or none does (a party left out would have no node to act at).
#[test]
fn the_nodes_parties_name_are_checked() {
    let on = |text: &str, party: &str, node: &str| {
        text.replace(&format!("name = \"{party}\"\n"), &format!("name = \"{party}\"\nnode = \"{node}\"\n"))
    };
    let all = on(&on(&on(SMALL, "Buyer", "b"), "Seller", "a"), "Bank", "a");
    let parsed = tradechain_scenarios::Scenario::parse("ok.toml", &all).expect("every party on a node");
    assert_eq!(parsed.nodes(), ["b", "a"]);
    let err = tradechain_scenarios::Scenario::parse("bad.toml", &on(SMALL, "Buyer", "b")).expect_err("one left out");
    assert!(err.to_string().contains("when one party names its node, every party does"), "{err}");
    for bad in ["", "Node-A", "a b", "abcdefghijklmnopq"] {
        let text = on(&on(&on(SMALL, "Buyer", bad), "Seller", "a"), "Bank", "a");
        let err = tradechain_scenarios::Scenario::parse("bad.toml", &text).expect_err("bad node name");
        assert!(err.to_string().contains("1 to 16 lower-case letters or digits"), "{bad:?}: {err}");
    }
}
