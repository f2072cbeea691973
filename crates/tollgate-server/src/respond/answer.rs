//! The check API's answer: a decision as JSON, the same whether it admits or refuses.

use std::collections::BTreeMap;

use axum::http::{HeaderName, HeaderValue};
use serde::Serialize;
use serde::ser::SerializeMap;
use smallvec::SmallVec;

use tollgate_gate::{Admission, LimitReport, Refusal, Report};

/// The JSON shape of a decision (`POST /v1/check`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CheckAnswer<'a> {
    /// Whether the request would be admitted.
    allowed: bool,
    /// What the gateway would answer.
    status: u16,
    /// Seconds until the same request would be admitted, when refused and known.
    retry_after: Option<u64>,
    /// Milliseconds until the request's turn, when it was refused only because its turn was
    /// still to come (a token bucket's `delay`: the gateway would have held it that long).
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
    /// The api its route names.
    api: Option<&'a str>,
    /// The account its key is.
    account: Option<&'a str>,
    /// The app it came through.
    app: Option<&'a str>,
    /// The account's plan.
    plan: Option<&'a str>,
    /// What each limit said.
    #[schema(value_type = Vec<LimitReport>)]
    limits: &'a [LimitReport],
    /// The headers the gateway would add.
    #[schema(value_type = BTreeMap<String, String>)]
    headers: HeadersJson,
    /// Each limit's partition in words, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    partitions: Option<BTreeMap<String, String>>,
}

impl<'a> CheckAnswer<'a> {
    /// The answer of an admission.
    pub(crate) fn admitted(admission: &'a Admission) -> Self {
        Self::of(true, 200, (None, None), admission.report())
    }

    /// The answer of a refusal.
    pub(crate) fn refused(refusal: &'a Refusal) -> Self {
        let retry = (refusal.retry_after, refusal.retry_after_ms);
        Self::of(false, refusal.status, retry, &refusal.report)
    }

    /// `retry`: seconds and milliseconds until admitted, when refused.
    fn of(
        allowed: bool,
        status: u16,
        (retry_after, retry_after_ms): (Option<u64>, Option<u64>),
        report: &'a Report,
    ) -> Self {
        let mut headers = HeadersJson(SmallVec::new());
        tollgate_http::header_fields(report, retry_after, retry_after_ms, |name, value| {
            headers.0.push((name, value));
        });
        Self {
            allowed,
            status,
            retry_after,
            retry_after_ms,
            api: report.api.as_deref(),
            account: report.account.as_deref(),
            app: report.app.as_deref(),
            plan: report.plan.as_deref(),
            limits: &report.limits,
            headers,
            partitions: None,
        }
    }

    /// Adds each limit's partition in words.
    pub(crate) fn with_partitions(mut self, partitions: Vec<(String, String)>) -> Self {
        self.partitions = Some(partitions.into_iter().collect());
        self
    }
}

/// Headers as a JSON object, written as the gateway sends them (bytes past ASCII, as in a limit
/// named `café`, included), without copying them first.
#[derive(Debug)]
struct HeadersJson(SmallVec<[(HeaderName, HeaderValue); 8]>);

impl Serialize for HeadersJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name.as_str(), &String::from_utf8_lossy(value.as_bytes()))?;
        }
        map.end()
    }
}
