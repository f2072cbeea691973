//! The chart of one api's last days on the customer's page: admitted and refused calls per
//! day as stacked bars, in SVG drawn here (no script, no external resource). Every bar has a
//! `<title>` with its numbers, and the chart a title and a description for screen readers.

use std::fmt::Write;

use super::escape;
use super::words;

/// One day of the chart: the date, admitted and refused calls.
pub(super) type Day = (jiff::civil::Date, u64, u64);

/// Width and height of the drawing, in its own units (it scales to the page's width).
const WIDTH: u32 = 600;
const HEIGHT: u32 = 170;
/// Room left of the bars for the scale, and below them for the dates.
const LEFT: u32 = 44;
const BOTTOM: u32 = 24;
const TOP: u32 = 8;

/// The SVG of `days` (oldest first) for `api`; `id` makes its title's id unique on the page.
pub(super) fn svg(api: &str, id: usize, days: &[Day]) -> String {
    let busiest = days
        .iter()
        .map(|&(_, admitted, refused)| admitted + refused)
        .max()
        .unwrap_or(0);
    // The scale's top: the busiest day, or 1 when there were no calls.
    let most = busiest.max(1);
    let admitted: u64 = days.iter().map(|day| day.1).sum();
    let refused: u64 = days.iter().map(|day| day.2).sum();
    let plot = HEIGHT - BOTTOM - TOP;
    let slot = (WIDTH - LEFT) / u32::try_from(days.len().max(1)).unwrap_or(1);
    let bar = slot.saturating_sub(4).max(2);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-labelledby=\"chart-{id}-title chart-{id}-desc\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"chart-{id}-title\">{api}: calls per day, last {n} days</title>\
         <desc id=\"chart-{id}-desc\">{desc}</desc>",
        api = escape(api),
        n = days.len(),
        desc = if busiest == 0 {
            "No calls in these days.".to_owned()
        } else {
            format!(
                "{} admitted and {} refused in all; the busiest day had {}.",
                words::count(admitted),
                words::count(refused),
                words::count(busiest)
            )
        },
    );
    // The scale: the busiest day's count at the top, 0 at the bottom.
    let base = HEIGHT - BOTTOM;
    let _ = write!(
        out,
        "<g class=\"scale\"><line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{WIDTH}\" y2=\"{base}\"/>\
         <line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{WIDTH}\" y2=\"{TOP}\" class=\"top\"/>\
         <text x=\"{x}\" y=\"{ty}\" text-anchor=\"end\">{most}</text>\
         <text x=\"{x}\" y=\"{base}\" text-anchor=\"end\">0</text></g>",
        x = LEFT - 6,
        ty = TOP + 10,
        most = words::count(most),
    );
    for (index, &(date, admitted, refused)) in days.iter().enumerate() {
        let x = LEFT + 2 + slot * u32::try_from(index).unwrap_or(0);
        let height = |count: u64| u32::try_from(u64::from(plot) * count / most).unwrap_or(plot);
        let (green, red) = (height(admitted), height(refused));
        let _ = write!(
            out,
            "<g class=\"day\"><title>{date}: {admitted} admitted, {refused} refused</title>",
            date = date.strftime("%-d %b"),
            admitted = words::count(admitted),
            refused = words::count(refused),
        );
        if green > 0 {
            let _ = write!(
                out,
                "<rect class=\"admitted\" x=\"{x}\" y=\"{}\" width=\"{bar}\" height=\"{green}\"/>",
                base - green
            );
        }
        if red > 0 {
            let _ = write!(
                out,
                "<rect class=\"refused\" x=\"{x}\" y=\"{}\" width=\"{bar}\" height=\"{red}\"/>",
                base - green - red
            );
        }
        out.push_str("</g>");
    }
    // Dates under the first bar (from its left edge), the middle one and the last one (to its
    // right edge): none runs off the drawing, whatever the font's size.
    let last = days.len().saturating_sub(1);
    for (index, anchor) in [(0, "start"), (last / 2, "middle"), (last, "end")] {
        if let Some(&(date, _, _)) = days.get(index) {
            let left = LEFT + 2 + slot * u32::try_from(index).unwrap_or(0);
            let x = match anchor {
                "start" => left,
                "end" => left + bar,
                _ => left + bar / 2,
            };
            let _ = write!(
                out,
                "<text class=\"date\" x=\"{x}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
                HEIGHT - 6,
                date.strftime("%-d %b")
            );
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_busiest_day_and_carry_their_numbers() {
        let day = |text: &str| text.parse::<jiff::civil::Date>().unwrap();
        let days = [
            (day("2026-11-24"), 0, 0),
            (day("2026-11-25"), 50, 0),
            (day("2026-11-26"), 75, 25),
        ];
        let svg = svg("<machines>", 3, &days);
        assert!(svg.starts_with("<svg class=\"chart\""));
        assert!(svg.contains(
            "<title id=\"chart-3-title\">&lt;machines&gt;: calls per day, last 3 days</title>"
        ));
        assert!(svg.contains("125 admitted and 25 refused in all; the busiest day had 100."));
        assert!(svg.contains("<title>26 Nov: 75 admitted, 25 refused</title>"));
        // 138 units of plot: 75 of 100 is 103, 25 is 34, 50 is 69.
        assert!(svg.contains("height=\"103\""), "{svg}");
        assert!(svg.contains("class=\"refused\"") && svg.contains("height=\"34\""));
        assert!(svg.contains("height=\"69\""));
        // The dates: the first from its bar's left edge, the last to its bar's right edge.
        assert!(svg.contains("text-anchor=\"start\">24 Nov</text>"), "{svg}");
        assert!(svg.contains("text-anchor=\"end\">26 Nov</text>"), "{svg}");
        // A day without calls draws no bar, only its title.
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.ends_with("</svg>"));
    }
}
