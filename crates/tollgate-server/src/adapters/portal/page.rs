//! The customer's page in HTML: its quotas with usage bars, each limit and its reset in words,
//! its pack and what packs replaced by others left, and the last 30 days per api as a chart with its numbers — and the sign-in form.
//! Plain HTML and CSS, no script: the numbers are text, readable by anything that reads HTML.

use std::collections::BTreeMap;
use std::fmt::Write;

use tollgate_catalog::{PackPurchase, UsageDay};
use tollgate_gate::{LimitKind, LimitUsage, Usage};

use super::{SIGN_IN, SIGN_OUT, chart, escape, words};

/// How many days of history the page shows.
pub(super) const DAYS: i64 = 30;

/// The style of both pages: readable at 375 px, contrast of at least 4.5:1 for text.
const STYLE: &str = "\
:root{--ink:#1f2937;--muted:#4b5563;--line:#d1d5db;--track:#e5e7eb;--ok:#1d4ed8;--warn:#b45309;--full:#b91c1c}\
*{box-sizing:border-box}\
body{margin:0;font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:var(--ink);background:#f9fafb}\
main{max-width:760px;margin:0 auto;padding:1.25rem}\
header{display:flex;flex-wrap:wrap;align-items:baseline;justify-content:space-between;gap:.5rem}\
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.25rem;margin:0 0 .75rem}\
.who,.pack,.note,.detail,footer{color:var(--muted)}.who strong,.pack strong{color:var(--ink)}\
section{background:#fff;border:1px solid var(--line);border-radius:.5rem;padding:1rem;margin:1rem 0}\
.limit{margin:0 0 1rem}.label{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.25rem 1rem}\
.name{font-weight:600}.numbers{font-variant-numeric:tabular-nums}\
.bar{height:.8rem;background:var(--track);border-radius:.4rem;overflow:hidden;margin:.25rem 0}\
.bar span{display:block;height:100%;background:var(--ok)}\
.warn .bar span{background:var(--warn)}.full .bar span{background:var(--full)}\
.warn .state{color:var(--warn);font-weight:600}.full .state{color:var(--full);font-weight:600}\
.detail{margin:0;font-size:.95rem}\
figure{margin:1rem 0 0}figcaption{font-size:.9rem;color:var(--muted)}\
.chart{width:100%;height:auto;display:block}\
.chart .scale line{stroke:var(--line)}.chart .scale .top{stroke-dasharray:3 3}\
.chart text{font-size:11px;fill:var(--muted)}\
.chart .admitted{fill:var(--ok)}.chart .refused{fill:var(--full)}\
.key{display:inline-block;width:.8rem;height:.8rem;border-radius:.15rem;vertical-align:-.1rem;margin:0 .25rem 0 .75rem}\
.key.admitted{background:var(--ok)}.key.refused{background:var(--full)}\
details{margin-top:.5rem}table{border-collapse:collapse;font-variant-numeric:tabular-nums}\
td,th{padding:.15rem .75rem .15rem 0;text-align:right}th:first-child,td:first-child{text-align:left}\
form.sign-in{display:grid;gap:.5rem;max-width:28rem}\
label{font-weight:600}input{font:inherit;padding:.5rem;border:1px solid var(--muted);border-radius:.35rem}\
button{font:inherit;padding:.45rem 1rem;border-radius:.35rem;border:1px solid var(--ok);background:var(--ok);color:#fff;cursor:pointer}\
header button{background:#fff;color:var(--ok)}\
.error{color:var(--full);font-weight:600}\
:focus-visible{outline:3px solid #b45309;outline-offset:2px}\
@media (max-width:480px){.chart text{font-size:20px}main{padding:.75rem}}";

/// A whole page around `body`.
fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    )
}

/// The sign-in form, with why the last attempt failed if it did.
pub(super) fn sign_in(problem: Option<&str>) -> String {
    let mut body = String::from("<h1>Your quotas</h1>");
    if let Some(problem) = problem {
        let _ = write!(
            body,
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(problem)
        );
    }
    let _ = write!(
        body,
        "<form class=\"sign-in\" method=\"post\" action=\"{SIGN_IN}\">\
         <label for=\"key\">Your API key</label>\
         <input id=\"key\" name=\"key\" type=\"password\" autocomplete=\"current-password\" \
         required spellcheck=\"false\" autocapitalize=\"off\">\
         <button type=\"submit\">Show my quotas</button></form>\
         <p class=\"note\">The key is kept in a cookie only this site's pages send, which no \
         script can read, until you sign out. Looking costs no quota.</p>"
    );
    layout("Your quotas", &body)
}

/// What the page shows, beside the account's standing (`usage`, as `Gate::usage` makes it).
pub(super) struct Seen<'a> {
    /// The account's standing.
    pub(super) usage: &'a Usage,
    /// The account's calls per api and day, the last [`DAYS`] days among them.
    pub(super) history: &'a [UsageDay],
    /// The rows of its pack ledger that another pack replaced, oldest first.
    pub(super) replaced: &'a [PackPurchase],
    /// Its alert settings, if the policy has alerts.
    pub(super) alerts: Option<&'a super::alerts::AlertSettings>,
    /// Now, in epoch seconds.
    pub(super) now: u64,
    /// Today's day number in the account's zone.
    pub(super) today: i64,
}

/// The page of an account.
pub(super) fn quotas(seen: &Seen<'_>) -> String {
    let usage = seen.usage;
    let zone = usage.time_zone.as_str();
    let mut body = String::new();
    let _ = write!(
        body,
        "<header><div><h1>Your quotas</h1><p class=\"who\">Account <strong>{}</strong>",
        escape(&usage.account)
    );
    if let Some(plan) = &usage.plan {
        let _ = write!(body, " · plan <strong>{}</strong>", escape(plan));
    }
    let _ = write!(
        body,
        " · times in <strong>{}</strong></p></div>\
         <form method=\"post\" action=\"{SIGN_OUT}\"><button type=\"submit\">Sign out</button></form></header>",
        escape(zone)
    );
    let today = tollgate_gate::date_of(seen.today);
    if let (Some(pack), Some(today)) = (&usage.pack, today) {
        let until = pack
            .expires_local
            .get(..10)
            .and_then(|date| date.parse::<jiff::civil::Date>().ok());
        if let Some(until) = until {
            let _ = write!(
                body,
                "<p class=\"pack\">Pack <strong>{}</strong> until {} ({})</p>",
                escape(&pack.name),
                words::day(until),
                words::days_left(today, until)
            );
        }
    }
    for row in seen.replaced {
        replaced_pack(&mut body, row, zone);
    }
    if let Some(alerts) = seen.alerts {
        super::alerts::render(&mut body, alerts);
    }
    let days = by_api(seen);
    for (index, api) in usage.apis.iter().enumerate() {
        let name = api.api.as_str();
        let _ = write!(
            body,
            "<section aria-labelledby=\"api-{index}\"><h2 id=\"api-{index}\">{}</h2>",
            escape(name)
        );
        for limit in &api.limits {
            limit_row(&mut body, limit, seen, zone);
        }
        let per_request: Vec<String> = api.per_request.iter().map(|name| escape(name)).collect();
        if !per_request.is_empty() {
            let _ = write!(
                body,
                "<p class=\"note\">Also limited per call (by address, path or header): {}</p>",
                per_request.join(", ")
            );
        }
        if let Some(days) = days.get(name) {
            history(&mut body, name, index, days);
        }
        body.push_str("</section>");
    }
    body.push_str(
        "<footer><p>Programs read the same as JSON: <code>GET /_tollgate/quota</code> with the \
         API key and <code>Accept: application/json</code>.</p></footer>",
    );
    layout(&format!("Your quotas — {}", usage.account), &body)
}

/// A pack another replaced: when (the day in the account's zone), how long it had left, and
/// what that was worth.
fn replaced_pack(body: &mut String, row: &PackPurchase, zone: &str) {
    let (Some((at, by)), Some(refund)) = (&row.superseded, &row.refund) else {
        return;
    };
    let day = i64::try_from(at / tollgate_core::NANOS_PER_SEC)
        .ok()
        .and_then(|seconds| jiff::Timestamp::from_second(seconds).ok())
        .zip(jiff::tz::TimeZone::get(zone).ok())
        .map(|(at, zone)| words::day(at.to_zoned(zone).date()));
    let _ = write!(
        body,
        "<p class=\"pack\">Pack <strong>{}</strong> replaced by <strong>{}</strong>",
        escape(&row.pack),
        escape(by)
    );
    if let Some(day) = day {
        let _ = write!(body, " on {day}");
    }
    let _ = write!(
        body,
        " with {} unused",
        words::unused(refund.unused_seconds)
    );
    if let Some(value) = &refund.value {
        let _ = write!(body, ", worth {}", escape(&value.to_string()));
    }
    body.push_str("</p>");
}

/// One limit: its name and numbers, a bar (amber from 80 % used, red when used up), what it
/// allows and when it is whole again.
fn limit_row(body: &mut String, limit: &LimitUsage, seen: &Seen<'_>, zone: &str) {
    let (of, used) = (limit.limit, limit.used);
    let name = escape(&limit.name);
    // A limit of 0 is always used up.
    let share = used
        .saturating_mul(100)
        .checked_div(of)
        .map_or(100, |share| share.min(100));
    // A little use shows as a sliver, not as nothing.
    let width = if used > 0 { share.max(1) } else { 0 };
    let (class, state) = match share {
        100.. => ("limit full", " · used up"),
        80.. => ("limit warn", " · near the limit"),
        _ => ("limit", ""),
    };
    let used_words = match (limit.kind, &limit.noun) {
        (LimitKind::Concurrency, _) => {
            format!("{} of {} in flight", words::count(used), words::count(of))
        }
        // `7 of 10 machines`.
        (LimitKind::Distinct, Some(noun)) => {
            format!(
                "{} of {}",
                words::count(used),
                words::distinct(noun, of, "")
            )
        }
        _ => format!("{} of {} used", words::count(used), words::count(of)),
    };
    let allows = escape(&match &limit.noun {
        Some(noun) => words::distinct(noun, of, &limit.period),
        None => words::allowance(limit.kind, limit.per_period, &limit.period, of),
    });
    let used_words = escape(&used_words);
    let for_good = limit.kind == LimitKind::Distinct && limit.period.is_empty();
    let reset = limit.reset;
    let at = limit.reset_local.as_str();
    // Within a day the time says it; further off, the date too.
    let within_a_day = reset.saturating_sub(seen.now) < 86_400;
    let when = match (
        at.get(..10).map(str::parse::<jiff::civil::Date>),
        at.get(11..16),
    ) {
        (Some(Ok(date)), Some(time)) if !within_a_day => {
            format!("on {} at {time}", date.strftime("%-d %b"))
        }
        (_, Some(time)) => format!("at {time}"),
        _ => String::new(),
    };
    let _ = write!(
        body,
        "<div class=\"{class}\"><div class=\"label\"><span class=\"name\">{name}</span>\
         <span class=\"numbers\">{used_words}<span class=\"state\">{state}</span></span></div>\
         <div class=\"bar\" role=\"progressbar\" aria-label=\"{name}: {used_words}\" \
         aria-valuemin=\"0\" aria-valuemax=\"{of}\" aria-valuenow=\"{used}\">\
         <span style=\"width:{width}%\"></span></div>\
         <p class=\"detail\">{allows} · {reset}</p></div>",
        reset = if used == 0 {
            "nothing used".to_owned()
        } else if for_good {
            "kept for good".to_owned()
        } else {
            format!(
                "resets {when} ({}), {}",
                escape(zone),
                words::wait(reset.saturating_sub(seen.now))
            )
        },
    );
}

/// The chart of one api's days, with its numbers in a table.
fn history(body: &mut String, api: &str, index: usize, days: &[chart::Day]) {
    let _ = write!(
        body,
        "<figure>{}<figcaption>Calls per day, last {DAYS} days:\
         <span class=\"key admitted\"></span>admitted<span class=\"key refused\"></span>refused\
         </figcaption><details><summary>The numbers</summary><table><thead><tr><th scope=\"col\">Day</th>\
         <th scope=\"col\">Admitted</th><th scope=\"col\">Refused</th></tr></thead><tbody>",
        chart::svg(api, index, days)
    );
    for &(date, admitted, refused) in days.iter().rev().filter(|day| day.1 + day.2 > 0) {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            date.strftime("%a %-d %b"),
            words::count(admitted),
            words::count(refused)
        );
    }
    body.push_str("</tbody></table></details></figure>");
}

/// Each api's last [`DAYS`] days, oldest first, days without calls included.
fn by_api(seen: &Seen<'_>) -> BTreeMap<String, Vec<chart::Day>> {
    let first = seen.today - DAYS + 1;
    let mut counts: BTreeMap<&str, BTreeMap<i64, (u64, u64)>> = BTreeMap::new();
    for api in &seen.usage.apis {
        counts.entry(api.api.as_str()).or_default();
    }
    for row in seen.history {
        if (first..=seen.today).contains(&row.day) {
            let entry = counts
                .entry(&row.api)
                .or_default()
                .entry(row.day)
                .or_default();
            entry.0 += row.admitted;
            entry.1 += row.refused;
        }
    }
    counts
        .into_iter()
        .map(|(api, days)| {
            let series = (first..=seen.today)
                .filter_map(|day| {
                    let (admitted, refused) = days.get(&day).copied().unwrap_or_default();
                    Some((tollgate_gate::date_of(day)?, admitted, refused))
                })
                .collect();
            (api.to_owned(), series)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_says_the_numbers_in_words_and_escapes() {
        let today = tollgate_gate::day_number("2026-11-26".parse().unwrap());
        let limit =
            |name: &str, kind, per_period, period: &str, limit, used, reset, local: &str| {
                LimitUsage {
                    name: name.to_owned(),
                    kind,
                    noun: None,
                    per_period,
                    period: period.to_owned(),
                    limit,
                    used,
                    remaining: limit - used,
                    reset,
                    reset_local: local.to_owned(),
                }
            };
        let usage = Usage {
            account: "<acme>".to_owned(),
            time_zone: "Asia/Shanghai".to_owned(),
            plan: Some("basic".to_owned()),
            pack: Some(tollgate_gate::PackUsage {
                name: "plus".to_owned(),
                expires: 0,
                expires_local: "2026-12-26T00:00:00+08:00".to_owned(),
            }),
            apis: vec![tollgate_gate::ApiStanding {
                api: "machines".to_owned(),
                limits: vec![
                    limit(
                        "daily",
                        LimitKind::Quota,
                        10,
                        "day",
                        10,
                        8,
                        1_000 + 3 * 3_600 + 7 * 60,
                        "2026-11-27T00:00:00+08:00",
                    ),
                    limit(
                        "per-second",
                        LimitKind::Rate,
                        1,
                        "second",
                        3,
                        3,
                        1_003,
                        "2026-11-26T20:00:03+08:00",
                    ),
                    limit(
                        "monthly",
                        LimitKind::Quota,
                        100_000,
                        "month",
                        100_000,
                        7,
                        1_000 + 5 * 86_400,
                        "2026-12-01T00:00:00+08:00",
                    ),
                ],
                per_request: vec!["per-ip".to_owned()],
            }],
        };
        let row = |day, admitted, refused| UsageDay {
            account: "<acme>".to_owned(),
            api: "machines".to_owned(),
            day,
            admitted,
            refused,
        };
        let history = [row(today, 8, 2), row(today - 40, 5, 0)];
        let replaced = [PackPurchase {
            pack: "basic".to_owned(),
            bought_by: "billing".to_owned(),
            bought_at: 0,
            starts_at: 0,
            expires_at: 0,
            // 2026-02-01T00:00:00+08:00
            superseded: Some((
                1_769_875_200 * tollgate_core::NANOS_PER_SEC,
                "plus".to_owned(),
            )),
            price: "999.00 CNY".parse().ok(),
            refund: Some(tollgate_catalog::Refund {
                unused_seconds: 334 * 86_400,
                value: "914.15 CNY".parse().ok(),
            }),
        }];
        let page = quotas(&Seen {
            usage: &usage,
            history: &history,
            replaced: &replaced,
            alerts: None,
            now: 1_000,
            today,
        });
        assert!(page.contains("Account <strong>&lt;acme&gt;</strong> · plan <strong>basic</strong> · times in <strong>Asia/Shanghai</strong>"));
        assert!(page.contains("Pack <strong>plus</strong> until 26 December 2026 (30 days left)"));
        assert!(page.contains(
            "Pack <strong>basic</strong> replaced by <strong>plus</strong> on 1 February 2026 \
             with 334 days unused, worth 914.15 CNY</p>"
        ));
        assert!(page.contains("<div class=\"limit warn\">"));
        assert!(page.contains("8 of 10 used<span class=\"state\"> · near the limit</span>"));
        assert!(
            page.contains("aria-valuemax=\"10\" aria-valuenow=\"8\"><span style=\"width:80%\">")
        );
        assert!(page.contains("10 per day · resets at 00:00 (Asia/Shanghai), in 3 h 7 min"));
        assert!(page.contains("<div class=\"limit full\">"));
        assert!(
            page.contains("1 per second, bursts of 3 · resets at 20:00 (Asia/Shanghai), in 3 s")
        );
        // A little use is a sliver; a reset days away names its date.
        assert!(page.contains("aria-valuenow=\"7\"><span style=\"width:1%\">"));
        assert!(page.contains("7 of 100,000 used"));
        assert!(
            page.contains(
                "100,000 per month · resets on 1 Dec at 00:00 (Asia/Shanghai), in 5 days"
            )
        );
        assert!(page.contains("Also limited per call (by address, path or header): per-ip"));
        // Thirty days in the chart; the day 40 days ago is not among them.
        assert!(page.contains("last 30 days</title>"));
        assert!(page.contains("8 admitted and 2 refused in all"));
        assert!(page.contains("<tr><td>Thu 26 Nov</td><td>8</td><td>2</td></tr>"));
        assert_eq!(page.matches("<g class=\"day\">").count(), 30);
    }

    #[test]
    fn the_form_has_a_label_and_says_what_failed() {
        let form = sign_in(Some("unknown API key <b>"));
        assert!(form.contains("<label for=\"key\">Your API key</label>"));
        assert!(form.contains("id=\"key\" name=\"key\" type=\"password\""));
        assert!(form.contains("role=\"alert\">unknown API key &lt;b&gt;</p>"));
        assert!(form.contains("action=\"/_tollgate/quota/sign-in\""));
    }

    #[test]
    fn distinct_values_read_as_so_many_of_so_many_machines() {
        let machines = LimitUsage {
            name: "machine-quota".to_owned(),
            kind: LimitKind::Distinct,
            noun: Some("machines".to_owned()),
            per_period: 10,
            period: String::new(),
            limit: 10,
            used: 7,
            remaining: 3,
            reset: u64::MAX / 2_000_000_000,
            reset_local: "2255-06-05T23:47:34+08:00".to_owned(),
        };
        let seen = Seen {
            usage: &Usage {
                account: "acme".to_owned(),
                time_zone: "UTC".to_owned(),
                plan: None,
                pack: None,
                apis: Vec::new(),
            },
            history: &[],
            now: 1_000,
            today: 0,
            replaced: &[],
            alerts: None,
        };
        let mut body = String::new();
        limit_row(&mut body, &machines, &seen, "UTC");
        assert!(body.contains(">7 of 10 machines<"), "{body}");
        assert!(body.contains("10 machines · kept for good"), "{body}");
    }
}
