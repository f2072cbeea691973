//! The check API's answer: a decision as JSON, the same whether it admits or refuses.

use std::collections::BTreeMap;

use axum::http::{HeaderName, HeaderValue};
use serde::Serialize;
use serde::ser::SerializeMap;
use smallvec::SmallVec;

use tollgate_gate::{Admission, LimitReport, Refusal, Report};

/// The JSON shape of a decision (`POST /v1/check`).
#[derive(Debug, Serialize)]
pub(crate) struct CheckAnswer<'a> {
    allowed: bool,
    status: u16,
    retry_after: Option<u64>,
    api: Option<&'a str>,
    account: Option<&'a str>,
    app: Option<&'a str>,
    plan: Option<&'a str>,
    limits: &'a [LimitReport],
    /// The headers the gateway would add.
    headers: HeadersJson,
    /// Each limit's partition in words, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    partitions: Option<BTreeMap<String, String>>,
}

impl<'a> CheckAnswer<'a> {
    /// The answer of an admission.
    pub(crate) fn admitted(admission: &'a Admission) -> Self {
        Self::of(true, 200, None, admission.report())
    }

    /// The answer of a refusal.
    pub(crate) fn refused(refusal: &'a Refusal) -> Self {
        Self::of(false, refusal.status, refusal.retry_after, &refusal.report)
    }

    fn of(allowed: bool, status: u16, retry_after: Option<u64>, report: &'a Report) -> Self {
        let mut headers = HeadersJson(SmallVec::new());
        tollgate_http::header_fields(report, retry_after, |name, value| {
            headers.0.push((name, value));
        });
        Self {
            allowed,
            status,
            retry_after,
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
