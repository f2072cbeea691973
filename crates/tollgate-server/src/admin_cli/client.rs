//! The admin API over HTTP: the token found, one request sent, its answer read.

use std::path::Path;
use std::time::Duration;

use axum::body::Body;
use http_body_util::BodyExt;
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::request::Asked;

/// The most an answer may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The token file where `tollgate serve` writes one by default.
const DEFAULT_TOKEN_FILE: &str = "tollgate-data/admin-token";

/// An answer of the admin API.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: String,
}

/// The admin token: `TOLLGATE_ADMIN_TOKEN`, else the first line of `file`, else of the default
/// token file.
pub(super) fn token(file: Option<&Path>) -> Result<String, String> {
    if let Some(token) = std::env::var("TOLLGATE_ADMIN_TOKEN")
        .ok()
        .filter(|token| !token.is_empty())
    {
        return Ok(token);
    }
    let file = file.unwrap_or_else(|| Path::new(DEFAULT_TOKEN_FILE));
    let text = std::fs::read_to_string(file).map_err(|error| {
        format!(
            "no admin token: set TOLLGATE_ADMIN_TOKEN, or --token-file (cannot read {}: {error})",
            file.display()
        )
    })?;
    let token = text.lines().next().unwrap_or_default().trim().to_owned();
    if token.is_empty() {
        return Err(format!("the token file {} is empty", file.display()));
    }
    Ok(token)
}

/// Sends `asked` to the admin port at `url` with `token`.
pub(super) async fn send(url: &str, token: &str, asked: &Asked) -> Result<Answer, String> {
    let base = url.trim_end_matches('/');
    if !base.starts_with("http://") {
        return Err(format!(
            "the admin URL must start with http:// (got `{url}`)"
        ));
    }
    let body = asked
        .body
        .as_ref()
        .map_or_else(Body::empty, |body| Body::from(body.to_string()));
    let request = Request::builder()
        .method(asked.method)
        .uri(format!("{base}{}", asked.path))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body)
        .map_err(|error| format!("cannot make the request: {error}"))?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|error| format!("cannot reach the admin port at {base}: {error}"))?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|error| format!("the answer was cut short: {error}"))?
            .to_bytes();
        Ok(Answer {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| format!("no answer from {base} within {} s", TIMEOUT.as_secs()))?
}
