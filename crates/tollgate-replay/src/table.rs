//! The terminal's view of a [`Summary`] and a [`Diff`]: aligned columns, the biggest numbers
//! first, long lists cut to their head (the JSON has everything).

use std::fmt::Write as _;

use crate::diff::{Change, Diff};
use crate::summary::Summary;

/// Rows of long lists shown in the terminal.
pub const ROWS: usize = 20;

/// Hours of profile shown hour by hour in the terminal; longer logs are shown day by day.
pub const HOURS: usize = 48;

/// Columns aligned under their headings: text to the left, numbers to the right.
fn columns(out: &mut String, headings: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headings
        .iter()
        .map(|heading| heading.chars().count())
        .collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let numeric: Vec<bool> = (0..headings.len())
        .map(|at| {
            !rows.is_empty()
                && rows
                    .iter()
                    .all(|row| row[at].trim_start_matches('+').parse::<i128>().is_ok())
        })
        .collect();
    let mut line = |cells: &[String]| {
        let mut text = String::new();
        for (at, cell) in cells.iter().enumerate() {
            let pad = widths[at] - cell.chars().count();
            if numeric[at] {
                text.push_str(&" ".repeat(pad));
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.push_str(&" ".repeat(pad));
            }
            text.push_str("  ");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&headings.iter().map(ToString::to_string).collect::<Vec<_>>());
    for row in rows {
        line(row);
    }
}

/// A replay's report for the terminal.
#[must_use]
pub fn summary(summary: &Summary) -> String {
    let mut out = String::new();
    let span = match (&summary.first_at, &summary.last_at) {
        (Some(first), Some(last)) => format!(", {first} to {last}"),
        _ => String::new(),
    };
    let no_request = match summary.no_request {
        0 => String::new(),
        count => format!(", {count} without a request (nginx's \"-\")"),
    };
    let _ = writeln!(
        out,
        "{} lines: {} requests, {} admitted, {} refused; {} malformed{no_request}, {} late{span}",
        summary.lines,
        summary.requests,
        summary.admitted,
        summary.refused,
        summary.malformed.count,
        summary.late
    );
    if !summary.refused_by_status.is_empty() {
        let statuses: Vec<String> = summary
            .refused_by_status
            .iter()
            .map(|(status, count)| format!("{status}: {count}"))
            .collect();
        let _ = writeln!(out, "refused by status: {}", statuses.join(", "));
    }
    out.push('\n');
    let rows: Vec<Vec<String>> = summary
        .limits
        .iter()
        .map(|limit| {
            let top: Vec<String> = limit
                .top
                .iter()
                .take(3)
                .map(|offender| format!("{} ({})", offender.account, offender.refused))
                .collect();
            vec![
                limit.name.clone(),
                if limit.shadow { "shadow" } else { "enforced" }.to_owned(),
                limit.requests.to_string(),
                limit.refused.to_string(),
                top.join(", "),
            ]
        })
        .collect();
    columns(
        &mut out,
        &["limit", "mode", "requests", "refused", "top offenders"],
        &rows,
    );
    out.push('\n');
    let rows: Vec<Vec<String>> = summary
        .accounts
        .iter()
        .take(ROWS)
        .map(|account| {
            vec![
                account.account.clone(),
                account.requests.to_string(),
                account.refused.to_string(),
                account.shadow_refused.to_string(),
            ]
        })
        .collect();
    columns(
        &mut out,
        &["account", "requests", "refused", "shadow refused"],
        &rows,
    );
    if summary.accounts.len() > ROWS {
        let _ = writeln!(
            out,
            "… and {} more accounts (see --json)",
            summary.accounts.len() - ROWS
        );
    }
    out.push('\n');
    profile(&mut out, summary);
    if summary.malformed.count > 0 {
        let _ = writeln!(
            out,
            "\n{} malformed lines; the first:",
            summary.malformed.count
        );
        for bad in &summary.malformed.first {
            let _ = writeln!(out, "  {}:{}: {}", bad.file, bad.line, bad.reason);
        }
    }
    out
}

/// Requests and refusals per hour; per day past [`HOURS`] hours (the JSON keeps the hours).
fn profile(out: &mut String, summary: &Summary) {
    let by_day = summary.hours.len() > HOURS;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut totals = (String::new(), 0, 0);
    for hour in &summary.hours {
        let label = if by_day {
            &hour.hour[..10]
        } else {
            &hour.hour[..]
        };
        if label != totals.0 && !totals.0.is_empty() {
            rows.push(vec![
                totals.0.clone(),
                totals.1.to_string(),
                totals.2.to_string(),
            ]);
            totals = (String::new(), 0, 0);
        }
        label.clone_into(&mut totals.0);
        totals.1 += hour.requests;
        totals.2 += hour.refused;
    }
    if !totals.0.is_empty() {
        rows.push(vec![totals.0, totals.1.to_string(), totals.2.to_string()]);
    }
    let heading = if by_day { "day (UTC)" } else { "hour (UTC)" };
    columns(out, &[heading, "requests", "refused"], &rows);
}

/// A diff for the terminal.
#[must_use]
pub fn diff(diff: &Diff) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} requests: {} refused under the old policy, {} under the new ({:+})",
        diff.requests,
        diff.old_refused,
        diff.new_refused,
        i128::from(diff.new_refused) - i128::from(diff.old_refused)
    );
    let row = |change: &Change| {
        let mut cells = vec![change.account.clone()];
        if let (Some(api), Some(limit)) = (&change.api, &change.limit) {
            cells.push(api.clone());
            cells.push(limit.clone());
        }
        cells.extend([
            change.old.to_string(),
            change.new.to_string(),
            format!("{:+}", change.change),
        ]);
        cells
    };
    for (title, changes) in [
        (
            "\nlosers (refused more under the new policy):",
            diff.losers().collect::<Vec<_>>(),
        ),
        (
            "\ngainers (refused less under the new policy):",
            diff.gainers().collect(),
        ),
    ] {
        let _ = writeln!(out, "{title}");
        if changes.is_empty() {
            out.push_str("  none\n");
            continue;
        }
        let rows: Vec<Vec<String>> = changes
            .iter()
            .take(ROWS)
            .map(|change| row(change))
            .collect();
        columns(&mut out, &["account", "old", "new", "change"], &rows);
    }
    let _ = writeln!(out, "\nby account, api and limit:");
    if diff.changes.is_empty() {
        out.push_str("  no change\n");
    } else {
        let rows: Vec<Vec<String>> = diff.changes.iter().take(ROWS * 2).map(row).collect();
        columns(
            &mut out,
            &["account", "api", "limit", "old", "new", "change"],
            &rows,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_profile_is_shown_by_day() {
        let hours = (0..72)
            .map(|hour| crate::HourSummary {
                hour: format!("2026-01-{:02}T{:02}:00:00Z", 1 + hour / 24, hour % 24),
                requests: 2,
                refused: 1,
            })
            .collect();
        let mut out = String::new();
        profile(
            &mut out,
            &Summary {
                hours,
                ..Summary::default()
            },
        );
        assert_eq!(
            out,
            "day (UTC)   requests  refused\n2026-01-01        48       24\n\
             2026-01-02        48       24\n2026-01-03        48       24\n"
        );
    }

    #[test]
    fn columns_align_numbers_to_the_right() {
        let mut out = String::new();
        columns(
            &mut out,
            &["name", "n"],
            &[
                vec!["a".into(), "100".into()],
                vec!["bcd".into(), "7".into()],
            ],
        );
        assert_eq!(out, "name    n\na     100\nbcd     7\n");
    }
}
