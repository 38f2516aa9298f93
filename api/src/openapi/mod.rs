//! The OpenAPI 3 document, generated from the handlers and types (utoipa), served at
//! `/openapi.json`, and a self-contained viewer at `/docs` (no CDN: it fetches the
//! document and lists routes, error codes and schemas).

mod constraints;

use axum::Json;
use axum::Router;
use axum::response::Html;
use axum::routing::get;
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::AppState;
use crate::error::{ALL_CODES, revert_status};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tradechain API",
        description = "Trade orders, documents, payments and financing on the tradechain consortium chain. \
            Authenticate with `Authorization: Bearer <token>`. Errors are `{\"error\": {\"code\", \"message\"}}`; \
            the codes are listed in the `ErrorCode` schema.",
        license(name = "Apache-2.0")
    ),
    paths(
        crate::health::health,
        crate::health::ready,
        crate::organisation::onboard,
        crate::organisation::list,
        crate::organisation::me,
        crate::organisation::new_token,
        crate::token::list,
        crate::token::issue,
        crate::token::revoke,
        crate::order::propose,
        crate::order::list,
        crate::order::get_order,
        crate::order::accept,
        crate::order::reject,
        crate::order::commit,
        crate::order::cancel,
        crate::order::expire,
        crate::order::amend,
        crate::order::approve_amendment,
        crate::order::raise_dispute,
        crate::order::resolve_dispute,
        crate::order::release,
        crate::order::confirm_payment,
        crate::order::fail_payment,
        crate::order::firm_history,
        crate::document::upload,
        crate::document::download,
        crate::document::attest,
        crate::document::accept,
        crate::document::reject,
        crate::document::deem,
        crate::financing::offer,
        crate::financing::list,
        crate::financing::get_financing,
        crate::financing::check,
        crate::financing::accept,
        crate::financing::decline,
        crate::financing::withdraw,
        crate::financing::advance,
        crate::financing::acknowledge_advance,
        crate::financing::approve,
        crate::financing::lapse,
        crate::financing::cancel,
        crate::financing::release_repayment,
        crate::financing::confirm_repayment,
        crate::consent::request,
        crate::consent::grant,
        crate::consent::grant_directly,
        crate::consent::decline,
        crate::consent::withdraw,
        crate::consent::revoke,
        crate::consortium::node::list,
        crate::consortium::node::register,
        crate::consortium::node::approve,
        crate::consortium::node::revoke,
        crate::consortium::node::rotate_key,
        crate::consortium::node::move_endpoint,
        crate::consortium::node::choose,
        crate::holiday::set,
        crate::holiday::calendar,
        crate::consent::overview,
        crate::credit::credit_profile,
        crate::credit::references,
        crate::proof::check,
        crate::authenticity::check,
        crate::registry::fingerprints,
        crate::registry::rotate,
        crate::payment::list,
        crate::payment::of_order,
        crate::transaction::relay,
        crate::transaction::chain_info,
        crate::events::watch,
    ),
    modifiers(&Extras),
    tags(
        (name = "organisations", description = "consortium members (onboarding: operator only)"),
        (name = "orders", description = "the life of a trade order"),
        (name = "documents", description = "presentation, attestation and examination of documents"),
        (name = "payments", description = "payment release, confirmation and the ISO 20022 references"),
        (name = "financing", description = "receivables and payables finance, the duplicate-financing registry"),
        (name = "consents", description = "verification requests, a firm's consents to financiers, its credit profile and the check of its proofs"),
        (name = "nodes", description = "the consortium's node directory: the nodes members run, which one serves each organisation"),
        (name = "transactions", description = "non-custodial relay of signed transactions"),
        (name = "health", description = "liveness and readiness"),
    )
)]
/// The OpenAPI 3 document of `/v1`, generated from the handlers' annotations.
pub struct ApiDoc;

struct Extras;

/// Every stable error code with its HTTP status and meaning: the API's own and every
/// contract custom error.
pub fn error_codes() -> Vec<(String, u16, String)> {
    let mut out: Vec<(String, u16, String)> =
        ALL_CODES.iter().map(|(c, s, m)| ((*c).to_string(), *s, (*m).to_string())).collect();
    for e in tradechain_contracts::revert::all() {
        let code = tradechain_contracts::revert::code_of(&e.name);
        if out.iter().any(|(c, _, _)| *c == code) {
            continue;
        }
        out.push((code.clone(), revert_status(&code).as_u16(), format!("contract revert {}", e.signature())));
    }
    out.sort();
    out
}

impl Modify for Extras {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("tc_…").build()),
        );
        let codes = error_codes();
        let description = codes.iter().map(|(c, s, m)| format!("- `{c}` ({s}): {m}")).collect::<Vec<_>>().join("\n");
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(codes.iter().map(|(c, _, _)| c.clone())))
            .description(Some(format!("Stable error codes and their HTTP status.\n\n{description}")))
            .build();
        components.schemas.insert("ErrorCode".to_string(), schema.into());
        for item in openapi.paths.paths.values_mut() {
            for (write, op) in [
                (false, &mut item.get),
                (true, &mut item.put),
                (true, &mut item.post),
                (true, &mut item.delete),
                (true, &mut item.patch),
            ] {
                let Some(op) = op.as_mut() else { continue };
                // What every route of its kind can answer, whatever its handler: the token
                // extractor (401; 403 for a suspended organisation), the body extractor
                // (400 malformed, 413 too large, 422 invalid), the path and query
                // extractors (422), and, for a write, the contract's refusals (404 for what
                // it cannot find, 409 for a state that forbids it).
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let body = op.request_body.is_some();
                let params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let mut needed = Vec::new();
                if secured {
                    needed.extend(["401", "403"]);
                }
                if body {
                    needed.extend(["400", "413", "422"]);
                }
                if params {
                    needed.extend(["404", "422"]);
                }
                if secured && write {
                    // 503: the writes in progress at their bound (`OVERLOADED`).
                    needed.extend(["404", "409", "503"]);
                }
                for status in needed {
                    op.responses.responses.entry(status.to_string()).or_insert_with(|| error_response(status));
                }
                for (status, response) in &mut op.responses.responses {
                    let utoipa::openapi::RefOr::T(r) = response else { continue };
                    if r.description.is_empty() {
                        r.description = describe(status).to_string();
                    }
                    if status == "503" {
                        r.headers.entry("Retry-After".to_string()).or_insert_with(retry_after);
                    }
                }
            }
        }
    }
}

/// A documented error answer: an [`crate::error::ErrorBody`] with `status`'s meaning.
fn error_response(status: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    utoipa::openapi::RefOr::T(
        ResponseBuilder::new()
            .description(describe(status))
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
            .build(),
    )
}

/// The `Retry-After` header every 503 carries.
fn retry_after() -> utoipa::openapi::header::Header {
    utoipa::openapi::header::HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::Integer))
        .description(Some("Seconds to wait before retrying"))
        .build()
}

fn describe(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "400" => "Malformed request (code INVALID_JSON)",
        "401" => "No, unknown, revoked or expired API token (UNAUTHENTICATED, TOKEN_REVOKED, TOKEN_EXPIRED)",
        "403" => {
            "The organisation may not do this, or is suspended (NOT_*, MISSING_ROLE, OPERATOR_ONLY, ORGANISATION_SUSPENDED, ...)"
        }
        "404" => "Not found among what the organisation may see (ORDER_NOT_FOUND, ...)",
        "409" => "The current state forbids it (INVALID_STATE, ...)",
        "413" => "Body too large (BODY_TOO_LARGE)",
        "422" => "Invalid input (INVALID_CURRENCY, MILESTONES_DO_NOT_SUM, ...)",
        "503" => {
            "Not ready, the chain unavailable, or writes at their bound (NOT_READY, CHAIN_UNAVAILABLE, OVERLOADED): retry after Retry-After seconds"
        }
        _ => "See ErrorCode",
    }
}

/// The OpenAPI document, with every request field's constraints ([`constraints`]).
pub fn document() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    constraints::apply(&mut doc);
    doc
}

/// `/openapi.json` and the `/docs` viewer.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(|| async { Json(document()) }))
        .route("/docs", get(|| async { Html(VIEWER) }))
}

const VIEWER: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tradechain API</title>
<style>
body{font:14px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#222}
h1{font-size:1.4rem} h2{margin-top:2rem;border-bottom:1px solid #ddd}
.op{border:1px solid #ddd;border-radius:4px;margin:.5rem 0;padding:.4rem .8rem}
.m{display:inline-block;min-width:4rem;font-weight:bold;text-transform:uppercase}
.get{color:#0a6}.post{color:#06c}.put{color:#a60}.delete{color:#c00}
code,pre{background:#f6f6f6;padding:0 .2rem} pre{padding:.5rem;overflow:auto}
details summary{cursor:pointer}
</style></head><body>
<h1 id="title">tradechain API</h1><p id="desc"></p>
<p>Token for "try it": <input id="token" size="60" placeholder="tc_…"></p>
<div id="ops"></div><h2>Error codes</h2><pre id="codes"></pre><h2>Schemas</h2><div id="schemas"></div>
<script>
const esc = s => String(s).replace(/[&<>]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;'}[c]));
fetch('/openapi.json').then(r => r.json()).then(doc => {
  document.getElementById('title').textContent = doc.info.title + ' ' + doc.info.version;
  document.getElementById('desc').textContent = doc.info.description || '';
  const ops = document.getElementById('ops');
  const byTag = {};
  for (const [path, item] of Object.entries(doc.paths)) for (const [m, op] of Object.entries(item)) {
    const tag = (op.tags || ['other'])[0]; (byTag[tag] = byTag[tag] || []).push([m, path, op]);
  }
  for (const [tag, list] of Object.entries(byTag)) {
    ops.insertAdjacentHTML('beforeend', '<h2>' + esc(tag) + '</h2>');
    for (const [m, path, op] of list) {
      const id = 'r' + Math.random().toString(36).slice(2);
      ops.insertAdjacentHTML('beforeend', '<details class="op"><summary><span class="m ' + m + '">' + m +
        '</span> <code>' + esc(path) + '</code> ' + esc(op.summary || op.description || '') + '</summary><pre>' +
        esc(JSON.stringify({parameters: op.parameters, requestBody: op.requestBody, responses: op.responses}, null, 2)) +
        '</pre>' + (m === 'get' && !path.includes('{') ? '<button data-p="' + esc(path) + '" data-o="' + id +
        '">try it</button><pre id="' + id + '"></pre>' : '') + '</details>');
    }
  }
  ops.addEventListener('click', e => {
    const p = e.target.dataset && e.target.dataset.p; if (!p) return;
    const t = document.getElementById('token').value;
    fetch(p, {headers: t ? {Authorization: 'Bearer ' + t} : {}}).then(r => r.text())
      .then(x => document.getElementById(e.target.dataset.o).textContent = x);
  });
  const codes = doc.components.schemas.ErrorCode;
  document.getElementById('codes').textContent = codes ? codes.description : '';
  const schemas = document.getElementById('schemas');
  for (const [name, s] of Object.entries(doc.components.schemas)) if (name !== 'ErrorCode')
    schemas.insertAdjacentHTML('beforeend', '<details class="op"><summary><code>' + esc(name) +
      '</code></summary><pre>' + esc(JSON.stringify(s, null, 2)) + '</pre></details>');
});
</script></body></html>
"#;
