//! The check API's answer: a decision as JSON, the same whether it admits or refuses.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::pipeline::{Admission, LimitReport, Refusal, Report};

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
    headers: BTreeMap<String, String>,
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
        let mut headers = BTreeMap::new();
        // As the gateway sends them, bytes past ASCII (a limit named `café`) included.
        super::headers::each(report, retry_after, |name, value| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            headers.insert(name.as_str().to_owned(), value);
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
