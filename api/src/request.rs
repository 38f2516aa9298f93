//! Request plumbing: a tracing span per request with a request id (taken from
//! `x-request-id` or generated) echoed in the response, and a JSON body extractor whose
//! rejections are answered in the API's error shape.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{FromRequest, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::error::ApiError;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Middleware: span `request{id, method, path, org}`, status and latency logged at the end.
pub(crate) async fn trace(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .map_or_else(
            || format!("req-{:x}-{}", std::process::id(), NEXT_ID.fetch_add(1, Ordering::Relaxed)),
            str::to_string,
        );
    let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path(), org = tracing::field::Empty);
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert("x-request-id", v);
    }
    let started = std::time::Instant::now();
    async move {
        let mut res = next.run(req).await;
        tracing::info!(status = res.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request done");
        if let Ok(v) = HeaderValue::from_str(&id) {
            res.headers_mut().insert("x-request-id", v);
        }
        res
    }
    .instrument(span)
    .await
}

/// `axum::Json`, with rejections as [`ApiError`].
pub(crate) struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Read as JSON first (a syntax error or a wrong content type keeps axum's answer),
        // then as `T`: a number with no fraction (`203.0`) is an integer, as JSON Schema
        // has it, whatever the client's serialiser wrote.
        let axum::Json(mut v) = axum::Json::<serde_json::Value>::from_request(req, state).await?;
        integers(&mut v);
        serde_json::from_value(v).map(Body).map_err(|e| {
            ApiError::validation(
                "VALIDATION_FAILED",
                format!("Failed to deserialize the JSON body into the target type: {e}"),
            )
        })
    }
}

/// Integer-valued floats as integers, throughout.
fn integers(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9_007_199_254_740_992.0
            {
                // Exact below 2^53; the cast cannot lose anything there.
                #[allow(clippy::cast_possible_truncation)]
                let i = f as i64;
                *v = serde_json::Value::from(i);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(integers),
        serde_json::Value::Object(o) => o.values_mut().for_each(integers),
        _ => {}
    }
}

/// `axum::extract::Path`, with rejections as [`ApiError`].
pub(crate) struct PathArgs<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> axum::extract::FromRequestParts<S> for PathArgs<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(v) = axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(PathArgs(v))
    }
}

/// `axum::extract::Query`, with rejections as [`ApiError`].
pub(crate) struct QueryArgs<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> axum::extract::FromRequestParts<S> for QueryArgs<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(v) = axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(QueryArgs(v))
    }
}

/// A route that sends one contract call as the caller, for the object named by the path's
/// `id`, and answers the object as it then stands: `$act(&state, &caller, id, input)` does
/// the sending (the object's visibility check, the transaction, the read after it).
///
/// `contract_action!(/// docs  name, "/v1/…/{id}/…", "tag", "_suffix", View, act, |id| Call { … });`
/// declares the handler `name` with its OpenAPI operation (`name_suffix`).
macro_rules! contract_action {
    ($(#[$doc:meta])* $name:ident, $path:literal, $tag:literal, $suffix:literal, $view:ty, $act:path,
        |$id:ident| $call:expr) => {
        $(#[$doc])*
        #[utoipa::path(post, path = $path, tag = $tag, operation_id = concat!(stringify!($name), $suffix),
            params(("id" = i64, Path)),
            responses((status = 200, body = $view), (status = 403, body = crate::error::ErrorBody),
                (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
            security(("token" = [])))]
        pub(crate) async fn $name(
            axum::extract::State(state): axum::extract::State<crate::AppState>,
            caller: crate::auth::Caller,
            crate::request::PathArgs($id): crate::request::PathArgs<i64>,
        ) -> crate::error::ApiResult<axum::Json<$view>> {
            $act(&state, &caller, $id, alloy::sol_types::SolCall::abi_encode(&$call)).await
        }
    };
}
pub(crate) use contract_action;

#[cfg(test)]
mod tests {
    use super::*;

    /// Integers a client's serialiser wrote with a fraction of zero, up to 2^53, read as
    /// the integers they are: parsed exactly (serde_json's `float_roundtrip`), not one unit
    /// in the last place off, which left `2251799813685247.0` with a fraction (Schemathesis).
    #[test]
    fn integer_valued_numbers_up_to_2_pow_53_are_integers() {
        for (text, expected) in [
            ("2251799813685247.0", 2_251_799_813_685_247_u64),
            ("203.0", 203),
            ("9007199254740991.0", 9_007_199_254_740_991),
            ("4503599627370495.0", 4_503_599_627_370_495),
        ] {
            let mut v: serde_json::Value = serde_json::from_str(&format!("{{\"n\": {text}}}")).expect("JSON");
            integers(&mut v);
            assert_eq!(v["n"].as_u64(), Some(expected), "{text} read as {}", v["n"]);
        }
        // A fraction stays a fraction: refused where an integer is wanted.
        let mut v: serde_json::Value = serde_json::from_str("{\"n\": 2251799813685247.5}").expect("JSON");
        integers(&mut v);
        assert_eq!(v["n"].as_u64(), None);
    }
}
