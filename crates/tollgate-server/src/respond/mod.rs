//! From an admission or a refusal to an HTTP answer: the rate-limit headers (values formatted
//! into a reused buffer), refusal bodies, and the check API's JSON.

mod answer;

pub(crate) use answer::CheckAnswer;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
pub(crate) use tollgate_http::{add_headers, header_fields, header_value, refusal};

/// A JSON value as a response with `status`.
pub(crate) fn json(status: StatusCode, value: &impl serde::Serialize) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The answer to a peer that may not use the check API or forward-auth.
pub(crate) fn forbidden() -> Response {
    let error = serde_json::json!({
        "error": "forbidden",
        "message": "this peer may not call the check API or forward-auth (see server.check_from)",
    });
    json(StatusCode::FORBIDDEN, &error)
}
