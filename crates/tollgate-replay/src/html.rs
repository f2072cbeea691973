//! A replay's report as one self-contained HTML page: the numbers in tables, the hourly
//! profiles as inline SVG bar charts. No script, no stylesheet or font from elsewhere: the
//! file reads the same offline, and every number in a chart is in a table (or a bar's
//! tooltip) too.

use std::fmt::Write as _;

use crate::summary::Summary;

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

/// A bar chart of `bars` (label, total, refused): totals in grey, refusals in red over them.
fn chart(out: &mut String, bars: &[(&str, u64, u64)]) {
    if bars.is_empty() {
        out.push_str("<p>no requests</p>");
        return;
    }
    let top = bars
        .iter()
        .map(|&(_, total, refused)| total.max(refused))
        .max()
        .unwrap_or(1)
        .max(1);
    let width = (800 / bars.len()).clamp(1, 40);
    let (height, left, bottom) = (160, 60, 20);
    let plot = bars.len() * width;
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img">"#,
        plot + left + 10,
        height + bottom + 10
    );
    let _ = write!(
        out,
        r##"<text x="{}" y="12" font-size="11" text-anchor="end">{top}</text><text x="{}" y="{}" font-size="11" text-anchor="end">0</text><line x1="{left}" y1="5" x2="{left}" y2="{}" stroke="#999"/>"##,
        left - 4,
        left - 4,
        height + 5,
        height + 5
    );
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "pixels"
    )]
    let scaled = |value: u64| ((value as f64 / top as f64) * height as f64).round() as usize;
    for (at, &(label, total, refused)) in bars.iter().enumerate() {
        let x = left + at * width;
        let label = escape(label);
        for (value, colour, what) in [(total, "#bbb", "requests"), (refused, "#c33", "refused")] {
            let bar = scaled(value);
            if bar == 0 {
                continue;
            }
            let _ = write!(
                out,
                r#"<rect x="{x}" y="{}" width="{}" height="{bar}" fill="{colour}"><title>{label}: {value} {what}</title></rect>"#,
                height + 5 - bar,
                width.saturating_sub(1).max(1)
            );
        }
    }
    let first = escape(bars[0].0);
    let last = escape(bars[bars.len() - 1].0);
    let _ = write!(
        out,
        r#"<text x="{left}" y="{}" font-size="11">{first}</text><text x="{}" y="{}" font-size="11" text-anchor="end">{last}</text></svg>"#,
        height + bottom + 5,
        left + plot,
        height + bottom + 5
    );
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
         .shadow{{color:#777}}</style></head><body><h1>{}</h1>",
        escape(title),
        escape(title)
    );
    let _ = write!(
        out,
        "<p>{} lines from {}: <b>{}</b> requests, {} admitted, <b>{}</b> refused; {} malformed, {} late (replayed at the latest time seen). From {} to {}.</p>",
        summary.lines,
        escape(&summary.files.join(", ")),
        summary.requests,
        summary.admitted,
        summary.refused,
        summary.malformed.count,
        summary.late,
        escape(summary.first_at.as_deref().unwrap_or("-")),
        escape(summary.last_at.as_deref().unwrap_or("-")),
    );
    out.push_str("<h2>Requests per hour (UTC)</h2>");
    let bars: Vec<(&str, u64, u64)> = summary
        .hours
        .iter()
        .map(|hour| (hour.hour.as_str(), hour.requests, hour.refused))
        .collect();
    chart(&mut out, &bars);
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
            "<h3{}>{}{}: refusals per hour</h3>",
            if limit.shadow {
                " class=\"shadow\""
            } else {
                ""
            },
            escape(&limit.name),
            if limit.shadow { " (shadow)" } else { "" }
        );
        let bars: Vec<(&str, u64, u64)> = limit
            .hours
            .iter()
            .map(|hour| (hour.hour.as_str(), 0, hour.count))
            .collect();
        chart(&mut out, &bars);
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
    use crate::summary::HourSummary;

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
            ..Summary::default()
        };
        let page = summary(&report, "replay");
        assert!(page.contains("&lt;log&gt;"));
        assert!(page.contains("<svg"));
        assert!(page.contains("<title>2026-01-01T00:00:00Z: 1 refused</title>"));
        assert!(!page.contains("<script"));
        assert!(
            !page.contains("http://")
                || !page
                    .replace("http://www.w3.org/2000/svg", "")
                    .contains("http://")
        );
    }
}
