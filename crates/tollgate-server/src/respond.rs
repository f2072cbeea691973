//! What a verdict looks like on the wire: status, rate-limit headers, refusal body.

use serde::Serialize;
use tollgate_core::{Decision, NANOS_PER_SEC, Nanos};
use tollgate_policy::{BodyFormat, HeaderFamily, Plan, Responses};

/// The state of one limit after a decision, as reported to clients and logs.
#[derive(Debug, Clone, Serialize)]
pub struct LimitReport {
    /// The limit's name.
    pub name: std::sync::Arc<str>,
    /// Whether it admitted the request.
    pub allowed: bool,
    /// Its capacity.
    pub limit: u64,
    /// Units left.
    pub remaining: u64,
    /// When it is whole again, ns since the epoch.
    pub reset_at: Nanos,
    /// When the same request would be admitted, ns since the epoch.
    pub retry_at: Option<Nanos>,
    /// Counted and reported, never refusing.
    pub shadow: bool,
    /// The status of a refusal.
    #[serde(skip)]
    pub status: u16,
    /// The error code of a refusal.
    #[serde(skip)]
    pub code: std::sync::Arc<str>,
    /// The period in words.
    #[serde(skip)]
    pub period: std::sync::Arc<str>,
    /// The number messages show per period (a bucket's rate count, else the limit).
    #[serde(skip)]
    pub per_period: u64,
}

/// The answer to one request, before any transport shapes it.
#[derive(Debug, Serialize)]
pub struct Verdict {
    /// Whether the request may go on.
    pub allowed: bool,
    /// 200 when allowed; the refusal's status otherwise.
    pub status: u16,
    /// Seconds until the same request would be admitted (refusals only).
    pub retry_after: Option<u64>,
    /// The route's api, when one matched.
    pub api: Option<String>,
    /// The normalized path, when a route matched and limits were consulted.
    #[serde(skip)]
    pub path: Option<String>,
    /// The account of the API key, the verified app, and the plan.
    pub account: Option<String>,
    /// The verified app.
    pub app: Option<String>,
    /// The plan whose numbers applied.
    pub plan: Option<String>,
    /// Every limit consulted.
    pub limits: Vec<LimitReport>,
    /// Headers to add to the response.
    pub headers: Vec<(&'static str, String)>,
    /// The refusal body and its content type.
    #[serde(skip)]
    pub body: Option<(&'static str, String)>,
    /// What to give back if the upstream's status is one a limit refunds.
    #[serde(skip)]
    pub refund: Option<Refund>,
    /// Concurrency slots held until this value, or what it is moved into, is dropped.
    #[serde(skip)]
    pub held: crate::Held,
    /// The journal epoch to wait past before answering: long-lived state was counted.
    #[serde(skip)]
    pub journal: Option<u64>,
    /// Set when no route matched: forward-auth and the check API answer as `server.unmatched`
    /// says, the gateway 404.
    #[serde(skip)]
    pub unmatched: bool,
}

/// The charges of an admitted request that some limit gives back for some upstream statuses.
#[derive(Debug, Clone)]
pub struct Refund {
    /// What was charged.
    pub ticket: tollgate_policy::RefundTicket,
    /// When, by the store's clock.
    pub at: Nanos,
}

impl Verdict {
    /// A refusal before any limit: no route, unauthenticated, store fault.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        let body = serde_json::json!({ "error": code, "message": message }).to_string();
        Self {
            allowed: false,
            status,
            retry_after: None,
            api: None,
            path: None,
            account: None,
            app: None,
            plan: None,
            limits: Vec::new(),
            headers: Vec::new(),
            body: Some(("application/json", body)),
            refund: None,
            held: crate::Held::default(),
            journal: None,
            unmatched: false,
        }
    }

    /// A request let through without counting (`server.unmatched = "pass"`).
    pub fn passed() -> Self {
        Self {
            api: None,
            ..Self::exempt("")
        }
    }

    /// A request no route matches: 404 from the gateway.
    pub fn unmatched() -> Self {
        Self {
            unmatched: true,
            ..Self::error(404, "no_route", "no route matches this method and path")
        }
    }

    /// A refusal by limits no api owns (guessing keys on the quota page): 429 with `Retry-After`
    /// for `retry_at`, seen at `now`.
    pub fn throttled(message: &str, retry_at: Nanos, now: Nanos) -> Self {
        let retry_after = seconds_until(retry_at, now).max(1);
        let mut verdict = Self::error(429, "rate_limited", message);
        verdict.retry_after = Some(retry_after);
        verdict
            .headers
            .push(("retry-after", retry_after.to_string()));
        verdict
    }

    /// A request refused by a block: 423 with `Retry-After` and the block's reason.
    pub fn blocked(block: &tollgate_catalog::Block, now: Nanos) -> Self {
        let until = jiff::Timestamp::from_nanosecond(i128::from(block.until))
            .map(|at| at.to_string())
            .unwrap_or_default();
        let retry_after = seconds_until(block.until, now).max(1);
        let body = serde_json::json!({
            "error": "blocked",
            "message": format!("{} until {until}", block.reason),
            "until": block.until.div_ceil(NANOS_PER_SEC),
        })
        .to_string();
        let mut verdict = Self::error(423, "blocked", "");
        verdict.retry_after = Some(retry_after);
        verdict
            .headers
            .push(("retry-after", retry_after.to_string()));
        verdict.body = Some(("application/json", body));
        verdict
    }

    /// A route that counts nothing.
    pub fn exempt(api: &str) -> Self {
        Self {
            allowed: true,
            status: 200,
            retry_after: None,
            api: Some(api.to_owned()),
            path: None,
            account: None,
            app: None,
            plan: None,
            limits: Vec::new(),
            headers: Vec::new(),
            body: None,
            refund: None,
            held: crate::Held::default(),
            journal: None,
            unmatched: false,
        }
    }
}

/// Shapes a decision into a verdict.
pub(crate) fn verdict(
    responses: &Responses,
    accept: Option<&str>,
    plan: &Plan<'_>,
    decision: &Decision,
    limits: Vec<LimitReport>,
    now: Nanos,
) -> Verdict {
    let enforced = &limits[..plan.enforced.limits.len()];
    let shown = most_restrictive(enforced);
    let mut headers = Vec::new();
    if let Some(shown) = shown {
        for family in &responses.headers {
            add_headers(&mut headers, *family, shown, now);
        }
    }
    let path = Some(plan.path.clone());
    let (api, account, app, plan_name) = (
        Some(plan.api.to_owned()),
        plan.account.map(str::to_owned),
        plan.app.map(str::to_owned),
        plan.plan.map(str::to_owned),
    );
    if decision.allowed() {
        return Verdict {
            allowed: true,
            status: 200,
            retry_after: None,
            api,
            path,
            account,
            app,
            plan: plan_name,
            limits,
            headers,
            body: None,
            refund: None,
            held: crate::Held::default(),
            journal: None,
            unmatched: false,
        };
    }
    let shown = shown.expect("a refusal has a refusing limit");
    // Never: the request's cost exceeds the limit; point at the reset all the same.
    let retry_at = decision.retry_at().unwrap_or(shown.reset_at);
    let retry_after = seconds_until(retry_at, now).max(1);
    headers.push(("retry-after", retry_after.to_string()));
    let xml = match responses.format {
        BodyFormat::Json => false,
        BodyFormat::Xml => true,
        BodyFormat::Accept => accept.is_some_and(|accept| accept.contains("xml")),
    };
    let (content_type, template) = if xml {
        ("application/xml", &responses.xml)
    } else {
        ("application/json", &responses.json)
    };
    let body = template
        .replace("{quota}", &quota(shown))
        .replace("{limit}", &shown.per_period.to_string())
        .replace("{period}", &shown.period)
        .replace("{api}", plan.api)
        .replace(
            "{reset}",
            &shown.reset_at.div_ceil(NANOS_PER_SEC).to_string(),
        )
        .replace("{reset_at}", &rfc3339(shown.reset_at))
        .replace("{retry_after}", &retry_after.to_string())
        .replace("{name}", &shown.name)
        .replace("{code}", &shown.code);
    Verdict {
        allowed: false,
        status: shown.status,
        retry_after: Some(retry_after),
        api,
        path,
        account,
        app,
        plan: plan_name,
        headers,
        body: Some((content_type, body)),
        limits,
        refund: None,
        held: crate::Held::default(),
        journal: None,
        unmatched: false,
    }
}

/// An instant as RFC 3339 in UTC, to the second.
fn rfc3339(at: Nanos) -> String {
    jiff::Timestamp::from_second(i64::try_from(at.div_ceil(NANOS_PER_SEC)).unwrap_or(i64::MAX))
        .map(|instant| instant.to_string())
        .unwrap_or_default()
}

/// The quota in words: `300 per 15 minutes`, `2 per second`, `10 in flight`.
fn quota(shown: &LimitReport) -> String {
    if shown.period.is_empty() {
        format!("{} in flight", shown.per_period)
    } else {
        format!("{} per {}", shown.per_period, shown.period)
    }
}

/// The limit to show: the refusing one that frees up last, or the one with fewest units left.
fn most_restrictive(limits: &[LimitReport]) -> Option<&LimitReport> {
    let refusing = limits.iter().filter(|report| !report.allowed);
    refusing
        .max_by_key(|report| report.retry_at.unwrap_or(Nanos::MAX))
        .or_else(|| {
            limits
                .iter()
                .min_by_key(|report| (report.remaining, std::cmp::Reverse(report.reset_at)))
        })
}

fn seconds_until(at: Nanos, now: Nanos) -> u64 {
    at.saturating_sub(now).div_ceil(NANOS_PER_SEC)
}

fn add_headers(
    headers: &mut Vec<(&'static str, String)>,
    family: HeaderFamily,
    shown: &LimitReport,
    now: Nanos,
) {
    let reset_epoch = shown.reset_at.div_ceil(NANOS_PER_SEC);
    let mut add = |name: &'static str, value: String| headers.push((name, value));
    match family {
        HeaderFamily::Ietf => {
            add(
                "ratelimit-policy",
                format!("\"{}\";q={}", shown.name, shown.limit),
            );
            add(
                "ratelimit",
                format!(
                    "\"{}\";r={};t={}",
                    shown.name,
                    shown.remaining,
                    seconds_until(shown.reset_at, now)
                ),
            );
        }
        HeaderFamily::XRateLimitDashed => {
            add("x-rate-limit-remaining", shown.remaining.to_string());
            add("x-rate-limit-reset", reset_epoch.to_string());
        }
        HeaderFamily::XRateLimit => {
            add("x-ratelimit-limit", shown.limit.to_string());
            add("x-ratelimit-remaining", shown.remaining.to_string());
            add("x-ratelimit-reset", reset_epoch.to_string());
            add(
                "x-ratelimit-used",
                shown.limit.saturating_sub(shown.remaining).to_string(),
            );
            add("x-ratelimit-resource", shown.name.to_string());
        }
    }
}
