//! A replay's report as one self-contained HTML page: the numbers in tables, the hourly
//! profiles as inline SVG bar charts over one true time axis (`chart.rs`): every hour of the
//! span, the same in every chart. No script, no stylesheet or font from elsewhere: the file
//! reads the same offline, and every number in a chart is in a table (or a slot's tooltip) too.

use std::fmt::Write as _;

use crate::chart::{Bars, HOUR, chart, slot_hours};
use crate::summary::Summary;
use crate::time;

/// Text safe inside HTML elements and quoted attributes (the server's customer page uses it
/// too).
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(character),
        }
    }
    out
}

/// A table of `rows` under `headings`.
fn table(out: &mut String, headings: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    out.push_str("<table><tr>");
    for heading in headings {
        let _ = write!(out, "<th>{}</th>", escape(heading));
    }
    out.push_str("</tr>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", escape(&cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
}

/// The report page of `summary`, titled `title`.
#[must_use]
pub fn summary(summary: &Summary, title: &str) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>\
         body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:.5em 0 1.5em}}\
         td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}\
         .shadow{{color:#777}}.warning{{background:#fff4d6;border-left:4px solid #e0a800;padding:.4em .8em}}</style></head><body><h1>{}</h1>",
        escape(title),
        escape(title)
    );
    let no_request = match summary.no_request {
        0 => String::new(),
        count => format!(", {count} without a request (nginx's \"-\")"),
    };
    let _ = write!(
        out,
        "<p>{} lines from {}: <b>{}</b> requests, {} admitted, <b>{}</b> refused; {} malformed{}, {} late (replayed at the latest time seen). From {} to {}.</p>",
        summary.lines,
        escape(&summary.files.join(", ")),
        summary.requests,
        summary.admitted,
        summary.refused,
        summary.malformed.count,
        escape(&no_request),
        summary.late,
        escape(summary.first_at.as_deref().unwrap_or("-")),
        escape(summary.last_at.as_deref().unwrap_or("-")),
    );
    for warning in &summary.warnings {
        let _ = write!(out, "<p class=\"warning\">Warning: {}</p>", escape(warning));
    }
    // One time axis for every chart: every hour from the summary's first to its last.
    let at = |hour: &str| time::parse_text(hour).map(|at| at - at % HOUR);
    let start = summary.hours.first().and_then(|hour| at(&hour.hour));
    let end = summary.hours.last().and_then(|hour| at(&hour.hour));
    let axis = match (start, end) {
        (Some(start), Some(end)) if start <= end => Some((
            start,
            usize::try_from((end - start) / HOUR).unwrap_or(0) + 1,
        )),
        _ => None,
    };
    // Counts by hour, each at its place on the axis; an hour off it is left out.
    let per_hour = |counts: &mut dyn Iterator<Item = (&str, u64, u64)>| {
        let Some((start, hours)) = axis else {
            return Vec::new();
        };
        let mut values = vec![(0, 0); hours];
        for (hour, requests, refused) in counts {
            let Some(slot) = at(hour)
                .filter(|&hour| hour >= start)
                .and_then(|hour| usize::try_from((hour - start) / HOUR).ok())
            else {
                continue;
            };
            if let Some(value) = values.get_mut(slot) {
                *value = (requests, refused);
            }
        }
        values
    };
    let (start, hours) = axis.unwrap_or_default();
    let per = if slot_hours(hours) == 1 {
        "hour"
    } else {
        "day"
    };
    let _ = write!(out, "<h2>Requests per {per} (UTC)</h2>");
    let values = per_hour(
        &mut summary
            .hours
            .iter()
            .map(|hour| (hour.hour.as_str(), hour.requests, hour.refused)),
    );
    chart(&mut out, start, &values, Bars::Requests);
    out.push_str("<h2>Limits</h2>");
    table(
        &mut out,
        &["limit", "mode", "requests", "refused"],
        summary.limits.iter().map(|limit| {
            vec![
                limit.name.clone(),
                if limit.shadow {
                    "shadow (would refuse)"
                } else {
                    "enforced"
                }
                .to_owned(),
                limit.requests.to_string(),
                limit.refused.to_string(),
            ]
        }),
    );
    for limit in summary.limits.iter().filter(|limit| limit.refused > 0) {
        let _ = write!(
            out,
            "<h3{}>{}{}: refusals per {per} (UTC)</h3>",
            if limit.shadow {
                " class=\"shadow\""
            } else {
                ""
            },
            escape(&limit.name),
            if limit.shadow { " (shadow)" } else { "" }
        );
        let values = per_hour(
            &mut limit
                .hours
                .iter()
                .map(|hour| (hour.hour.as_str(), 0, hour.count)),
        );
        chart(&mut out, start, &values, Bars::Refusals);
        table(
            &mut out,
            &["top offender", "refused"],
            limit
                .top
                .iter()
                .map(|offender| vec![offender.account.clone(), offender.refused.to_string()]),
        );
    }
    out.push_str("<h2>Accounts</h2>");
    table(
        &mut out,
        &["account", "requests", "refused", "shadow refused"],
        summary.accounts.iter().take(100).map(|account| {
            vec![
                account.account.clone(),
                account.requests.to_string(),
                account.refused.to_string(),
                account.shadow_refused.to_string(),
            ]
        }),
    );
    out.push_str("<h2>Hours</h2>");
    table(
        &mut out,
        &["hour (UTC)", "requests", "refused"],
        summary.hours.iter().map(|hour| {
            vec![
                hour.hour.clone(),
                hour.requests.to_string(),
                hour.refused.to_string(),
            ]
        }),
    );
    if summary.malformed.count > 0 {
        let _ = write!(out, "<h2>Malformed lines: {}</h2>", summary.malformed.count);
        table(
            &mut out,
            &["file", "line", "reason"],
            summary
                .malformed
                .first
                .iter()
                .map(|bad| vec![bad.file.clone(), bad.line.to_string(), bad.reason.clone()]),
        );
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{HourCount, HourSummary, LimitSummary};

    #[test]
    fn the_page_is_self_contained_and_escaped() {
        let report = Summary {
            files: vec!["<log>".into()],
            requests: 3,
            refused: 1,
            hours: vec![HourSummary {
                hour: "2026-01-01T00:00:00Z".into(),
                requests: 3,
                refused: 1,
            }],
            warnings: vec!["a <warning>".into()],
            ..Summary::default()
        };
        let page = summary(&report, "replay");
        assert!(page.contains("&lt;log&gt;"));
        assert!(page.contains("<svg"));
        assert!(
            page.contains("<title>2026-01-01T00:00:00Z (1 hour): 3 requests, 1 refused</title>")
        );
        assert!(page.contains("<p class=\"warning\">Warning: a &lt;warning&gt;</p>"));
        assert!(!page.contains("<script"));
        assert!(
            !page.contains("http://")
                || !page
                    .replace("http://www.w3.org/2000/svg", "")
                    .contains("http://")
        );
    }

    #[test]
    fn every_chart_has_every_hour_of_the_span() {
        let hour = |hour: &str, requests, refused| HourSummary {
            hour: hour.into(),
            requests,
            refused,
        };
        let report = Summary {
            // Sparse, as a hand-made summary may be: the charts still have every hour.
            hours: vec![
                hour("2026-01-01T22:00:00Z", 4, 2),
                hour("2026-01-02T00:00:00Z", 4, 2),
            ],
            limits: vec![LimitSummary {
                name: "daily".into(),
                refused: 4,
                hours: vec![
                    HourCount {
                        hour: "2026-01-01T22:00:00Z".into(),
                        count: 2,
                    },
                    HourCount {
                        hour: "2026-01-02T00:00:00Z".into(),
                        count: 2,
                    },
                ],
                ..LimitSummary::default()
            }],
            ..Summary::default()
        };
        let page = summary(&report, "replay");
        let requests = &page[page.find("Requests per hour (UTC)").unwrap()..];
        let requests = &requests[..requests.find("</svg>").unwrap()];
        assert_eq!(requests.matches("<g class=\"slot\">").count(), 3);
        assert!(
            requests
                .contains("<title>2026-01-01T23:00:00Z (1 hour): 0 requests, 0 refused</title>")
        );
        let daily = &page[page.find("daily: refusals per hour (UTC)").unwrap()..];
        let daily = &daily[..daily.find("</svg>").unwrap()];
        assert_eq!(daily.matches("<g class=\"slot\">").count(), 3);
        assert!(daily.contains("<title>2026-01-01T23:00:00Z (1 hour): 0 refused</title>"));
    }
}
