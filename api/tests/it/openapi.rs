//! The OpenAPI document: every route and schema, every error code; snapshot reviewed by a person.

use tradechain_api::openapi;

#[test]
fn openapi_document_lists_every_route_and_error_code() {
    let doc = serde_json::to_value(openapi::document()).expect("serialises");
    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/v1/organisations",
        "/v1/orders",
        "/v1/orders/{id}",
        "/v1/orders/{id}/commit",
        "/v1/orders/{id}/documents/{doc_type}",
        "/v1/orders/{id}/documents/{doc_type}/content",
        "/v1/payments",
        "/v1/transactions",
        "/v1/events",
        "/v1/ready",
    ] {
        assert!(paths.contains_key(p), "{p} missing from the OpenAPI document");
    }
    let codes = doc["components"]["schemas"]["ErrorCode"]["enum"].as_array().expect("error codes");
    for c in ["ORDER_NOT_FOUND", "NOT_BUYER_BANK", "INVALID_CURRENCY", "NO_LIVE_CONSENT", "MILESTONES_DO_NOT_SUM"] {
        assert!(codes.iter().any(|v| v == c), "{c} missing from ErrorCode");
    }
    insta::assert_json_snapshot!("openapi", doc);
}

/// A client generated from the document sends each parameter where the route reads it:
/// a query parameter declared `in: path` (utoipa's default) would never reach the server.
#[test]
fn every_path_parameter_is_in_its_path_and_query_filters_are_query_parameters() {
    let doc = serde_json::to_value(openapi::document()).expect("serialises");
    let mut queries = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for op in item.as_object().expect("item").values() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().expect("name");
                match p["in"].as_str() {
                    Some("path") => {
                        assert!(path.contains(&format!("{{{name}}}")), "{path}: `{name}` is not in the path");
                    }
                    Some("query") => queries += 1,
                    other => panic!("{path}: `{name}` in {other:?}"),
                }
            }
        }
    }
    assert!(queries >= 20, "the list routes' filters are query parameters ({queries})");
}

#[test]
fn operation_ids_are_unique() {
    let doc = serde_json::to_value(openapi::document()).expect("serialises");
    let mut ids = Vec::new();
    for item in doc["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("item").values() {
            ids.push(op["operationId"].as_str().expect("operationId").to_string());
        }
    }
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate operationId");
}
