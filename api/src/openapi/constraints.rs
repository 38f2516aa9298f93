//! What the API enforces on every field of a request, written into the OpenAPI document, so
//! that a client generated from it (and Schemathesis, in CI) sends only what the API
//! accepts. The rules live here once, keyed by the field's name (an address is an address
//! wherever it appears), and take their values from the same constants the handlers check
//! against (currencies, Incoterms, document types, roles, states), so they cannot drift.
//! What no JSON Schema can say (dates in the future, milestones summing to 100 %, an
//! attester who is no party, the chain's own refusals) stays a documented 422 or 409.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use tradechain_contracts::{DocType, FinancingState, OrderState};
use tradechain_money::money::Currency;

const ADDRESS: &str = "^0x[0-9a-fA-F]{40}$";
const HASH32: &str = "^(0[xX])?[0-9a-fA-F]{64}$";
/// `YYYY-MM-DD`, a real calendar day of the years 1970 to 9999 (leap years included).
const DATE: &str = "^(?:(?:19[7-9][0-9]|[2-9][0-9]{3})-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)|(?:19(?:7[26]|8[048]|9[26])|[2-9][0-9](?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[3579][26])00)-02-29)$";
/// A positive amount in minor units: what fits an order (18 digits, ISO 20022); at most 38
/// characters, leading zeros included (`terms::amount`).
const ORDER_AMOUNT: &str = "^0*[1-9][0-9]{0,17}$";
const AMOUNT: &str = "^[0-9]*[1-9][0-9]*$";
/// Free text: at least one visible character.
const TEXT: &str = "\\S";
/// A name: no control, format or zero-width character, and one visible character at least.
const NAME: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff][^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff]*$";

fn one_of(values: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let alternatives: Vec<String> = values.into_iter().map(|v| v.as_ref().to_string()).collect();
    format!("^({})$", alternatives.join("|"))
}

/// Either case, letter by letter (`[Uu][Ss][Dd]`): where the API upper-cases first.
fn one_of_any_case(values: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    one_of(values.into_iter().map(|v| {
        v.as_ref()
            .chars()
            .map(|c| {
                if c.is_ascii_alphabetic() {
                    format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
    }))
}

/// The values of a `^(a|b|c)$` pattern built by [`one_of`], if that is what it is.
fn finite(pattern: &str) -> Option<Vec<String>> {
    let inner = pattern.strip_prefix("^(")?.strip_suffix(")$")?;
    let values: Vec<String> = inner.split('|').map(str::to_string).collect();
    values.iter().all(|v| v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then_some(values)
}

fn doc_types() -> String {
    one_of(DocType::ALL.iter().map(|d| d.as_str()))
}

/// The rule for a string field or parameter named `name` in schema `owner`.
fn string_rule(owner: &str, name: &str) -> Option<Map<String, Value>> {
    let pattern = |p: String| Some(json!({ "pattern": p }).as_object().cloned().unwrap_or_default());
    match (owner, name) {
        (
            _,
            "seller" | "buyer_bank" | "seller_bank" | "carrier" | "inspector" | "financier" | "firm" | "address"
            | "organisation" | "counterparty" | "to",
        ) => pattern(ADDRESS.into()),
        (_, "latest_shipment" | "expiry" | "expires_at" | "date" | "shipment_date") => pattern(DATE.into()),
        ("ProposeOrder" | "MilestoneRequest", "amount_minor") => {
            Some(json!({ "pattern": ORDER_AMOUNT, "maxLength": 38 }).as_object().cloned().unwrap_or_default())
        }
        (_, "amount_minor" | "advance_minor") => {
            Some(json!({ "pattern": AMOUNT, "maxLength": 38 }).as_object().cloned().unwrap_or_default())
        }
        ("Invoice", "currency") => pattern(one_of_any_case(Currency::codes())),
        (_, "currency") => pattern(one_of(Currency::codes())),
        (_, "incoterm") => pattern(one_of(crate::terms::INCOTERMS_2020)),
        (_, "doc_type") => pattern(doc_types()),
        (_, "cover") => pattern(one_of(["bank_risk", "earmark"])),
        (_, "charges") => pattern(one_of(["shared", "debtor", "creditor"])),
        ("FinancingOffer" | "FinancingCheck", "kind") => pattern(one_of(["receivable", "payable"])),
        (_, "hash" | "tx_hash" | "invoice_hash" | "document_hash") => pattern(HASH32.into()),
        (_, "raw" | "data") => pattern("^0x(?:[0-9a-fA-F]{2})+$".into()),
        (_, "reason" | "purpose") => {
            Some(json!({ "pattern": TEXT, "maxLength": 280 }).as_object().cloned().unwrap_or_default())
        }
        (_, "reference") => pattern("^[ -~]{1,32}$".into()),
        (_, "reason_code") => pattern("^[A-Z0-9]{4}$".into()),
        ("NewOrganisation", "name") => {
            Some(json!({ "pattern": NAME, "maxLength": 140 }).as_object().cloned().unwrap_or_default())
        }
        ("NewTokenRequest", "name") => {
            Some(json!({ "pattern": NAME, "maxLength": 64 }).as_object().cloned().unwrap_or_default())
        }
        ("RegisterNode", "endpoint") => {
            // As `consortium::node::check_endpoint` checks it.
            let endpoint = "^https?://[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(:[0-9]{1,5})?(/[A-Za-z0-9._~-]*)*$";
            Some(json!({ "pattern": endpoint, "maxLength": 200 }).as_object().cloned().unwrap_or_default())
        }
        ("Invoice", "number") => {
            Some(json!({ "pattern": "[A-Za-z0-9]", "maxLength": 64 }).as_object().cloned().unwrap_or_default())
        }
        // Path and query parameters.
        (_, "id") => pattern("^[0-9a-f]{16}$".into()),
        ("/v1/orders" | "/v1/firms/{address}/orders", "role") => {
            pattern(one_of(["buyer", "seller", "buyer_bank", "seller_bank"]))
        }
        ("/v1/financings", "role") => pattern(one_of(["financier", "firm"])),
        ("/v1/orders" | "/v1/firms/{address}/orders", "state") => {
            pattern(one_of(OrderState::ALL.iter().map(|s| s.as_str())))
        }
        ("/v1/financings", "state") => pattern(one_of(FinancingState::ALL.iter().map(|s| s.as_str()))),
        _ => None,
    }
}

/// Bounds of an integer field or parameter.
fn integer_rule(owner: &str, name: &str) -> Option<(i64, i64)> {
    match (owner, name) {
        (_, "examination_days") => Some((1, 5)),
        (_, "share_bps") => Some((0, 10_000)),
        (_, "tenor_days") => Some((0, 720)),
        (_, "rate_bps") => Some((0, 10_000)),
        (_, "extra_days") => Some((1, 360)),
        (_, "deadline_days") => Some((1, 30)),
        ("/v1/payments" | "/v1/firms/{address}/credit-profile/references", "limit") => Some((1, 500)),
        (_, "limit") => Some((1, 100)),
        (_, "offset" | "log_index" | "amendment" | "index") => Some((0, i64::MAX)),
        _ => None,
    }
}

/// Bounds on the length of an array field.
fn array_rule(name: &str) -> Option<(u64, Option<u64>, Option<String>)> {
    match name {
        "milestones" => Some((1, Some(8), None)),
        "days" => Some((1, Some(64), Some(DATE.into()))),
        "discrepancies" => Some((1, Some(8), None)),
        "documents" => Some((1, None, Some(doc_types()))),
        "roles" => Some((1, None, Some(one_of(crate::organisation::ROLES.iter().map(|(r, _)| *r))))),
        _ => None,
    }
}

fn is(schema: &Value, ty: &str) -> bool {
    match &schema["type"] {
        Value::String(t) => t == ty,
        Value::Array(ts) => ts.iter().any(|t| t == ty),
        _ => false,
    }
}

fn constrain(owner: &str, name: &str, schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else { return };
    let as_value = Value::Object(obj.clone());
    if is(&as_value, "string") {
        if let Some(mut rule) = string_rule(owner, name) {
            // A finite set on a field that cannot be null is an `enum` (what generators and
            // clients read best); on a nullable one, the alternation stays a pattern.
            let nullable = is(&as_value, "null");
            if !nullable && let Some(alternatives) = rule.get("pattern").and_then(Value::as_str).and_then(finite) {
                rule.remove("pattern");
                rule.insert("enum".into(), json!(alternatives));
            }
            obj.extend(rule);
        }
    } else if is(&as_value, "integer") {
        if let Some((min, max)) = integer_rule(owner, name) {
            obj.insert("minimum".into(), json!(min));
            obj.insert("maximum".into(), json!(max));
        }
    } else if is(&as_value, "array")
        && let Some((min, max, items)) = array_rule(name)
    {
        obj.insert("minItems".into(), json!(min));
        if let Some(max) = max {
            obj.insert("maxItems".into(), json!(max));
        }
        if let (Some(pattern), Some(item)) = (items, obj.get_mut("items")) {
            if let Some(item) = item.as_object_mut() {
                match finite(&pattern) {
                    Some(values) => item.insert("enum".into(), json!(values)),
                    None => item.insert("pattern".into(), json!(pattern)),
                };
            }
        } else if name == "discrepancies"
            && let Some(item) = obj.get_mut("items").and_then(Value::as_object_mut)
        {
            item.insert("pattern".into(), json!(TEXT));
            item.insert("maxLength".into(), json!(280));
        }
    }
}

fn referenced(schema: &Value, into: &mut BTreeSet<String>) {
    match schema {
        Value::Object(o) => {
            if let Some(r) = o.get("$ref").and_then(Value::as_str) {
                into.insert(r.trim_start_matches("#/components/schemas/").to_string());
            }
            o.values().for_each(|v| referenced(v, into));
        }
        Value::Array(a) => a.iter().for_each(|v| referenced(v, into)),
        _ => {}
    }
}

/// Write the rules into `doc` (the serialised OpenAPI document).
pub(crate) fn apply(doc: &mut Value) {
    // The schemas requests carry, and those they refer to.
    let mut requests = BTreeSet::new();
    if let Some(paths) = doc["paths"].as_object() {
        for item in paths.values() {
            for op in item.as_object().into_iter().flat_map(|o| o.values()) {
                referenced(&op["requestBody"], &mut requests);
            }
        }
    }
    loop {
        let mut more = requests.clone();
        for name in &requests {
            if let Some(schema) = doc.pointer(&format!("/components/schemas/{name}")) {
                referenced(schema, &mut more);
            }
        }
        if more.len() == requests.len() {
            break;
        }
        requests = more;
    }
    for name in &requests {
        let pointer = format!("/components/schemas/{name}/properties");
        if let Some(props) = doc.pointer_mut(&pointer).and_then(Value::as_object_mut) {
            for (field, schema) in props.iter_mut() {
                constrain(name, field, schema);
            }
        }
    }
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            for op in item.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
                for param in op.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                    let name = param["name"].as_str().unwrap_or_default().to_string();
                    if param["in"] == "path" {
                        param["required"] = json!(true);
                    }
                    constrain(path, &name, &mut param["schema"]);
                }
            }
        }
    }
}
