//! Bar charts over a true time axis, as inline SVG: one slot for every hour of the span, empty
//! ones too, each at the place its time gives it, so that a gap or a reset is seen where it
//! happened. Past [`MAX_SLOTS`] hours a slot is a UTC day. The labels under the axis are thinned
//! by the room there is: each is given its width (over-estimated) and a tick is labelled only
//! where the labels of its step cannot touch, so that no two ever overlap, on one bar or a
//! thousand.

use std::fmt::Write as _;

use tollgate_core::{NANOS_PER_SEC, Nanos};

use crate::html::escape;
use crate::time::rfc3339;

/// An hour, in nanoseconds.
pub(crate) const HOUR: Nanos = 3_600 * NANOS_PER_SEC;

/// The most slots a chart has: past this many hours, a slot is a day.
pub(crate) const MAX_SLOTS: usize = 1_000;

/// The plot's widest, and a slot's widest, in pixels.
const PLOT: f64 = 800.0;
const SLOT: f64 = 48.0;
/// The plot's height, and the room above it for the scale's top.
const HEIGHT: f64 = 150.0;
const TOP: f64 = 12.0;
/// Room right of the plot: half the widest label, centred on the last tick, and more.
const RIGHT: f64 = 40.0;
/// The labels' font size, the width a character is given (more than any digit, `:` or `-` of
/// a sans-serif font takes), and the least room between two labels.
const FONT: f64 = 11.0;
const CHARACTER: f64 = 0.66 * FONT;
const GAP: f64 = 8.0;
/// Baselines under the plot: ticks' labels, then dates.
const FIRST_ROW: f64 = 18.0;
const SECOND_ROW: f64 = 33.0;
/// Below the plot in all.
const BOTTOM: f64 = 40.0;

/// How many hours a slot of a chart over `hours` hours is: 1 up to [`MAX_SLOTS`], then a day
/// (or as many days as keep the slots under [`MAX_SLOTS`]).
pub(crate) fn slot_hours(hours: usize) -> u64 {
    if hours <= MAX_SLOTS {
        1
    } else {
        24 * (hours.div_ceil(24).div_ceil(MAX_SLOTS) as u64)
    }
}

/// What a chart shows in each slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bars {
    /// Requests in grey, refusals in red over them.
    Requests,
    /// Refusals only, in red.
    Refusals,
}

/// A chart of `values`, one `(requests, refused)` for each hour from `start` (an hour's
/// start), written to `out`.
pub(crate) fn chart(out: &mut String, start: Nanos, values: &[(u64, u64)], bars: Bars) {
    if values.is_empty() {
        out.push_str("<p>no requests</p>");
        return;
    }
    let bucket = slot_hours(values.len());
    let bucket_ns = bucket * HOUR;
    let (first, slots) = bucketed(start, values, bucket_ns);
    let top = slots
        .iter()
        .map(|&(requests, refused)| match bars {
            Bars::Requests => requests.max(refused),
            Bars::Refusals => refused,
        })
        .max()
        .unwrap_or(0)
        .max(1);
    #[allow(clippy::cast_precision_loss, reason = "pixels")]
    let width = (PLOT / slots.len() as f64).min(SLOT);
    let plot = width * slots.len() as f64;
    let left = (width_of(&top.to_string()) + 10.0).max(40.0).ceil();
    let bottom = TOP + HEIGHT;
    let (step, ticks) = ticks(first, slots.len(), bucket, width);
    let x_of = |at: Nanos| {
        #[allow(clippy::cast_precision_loss, reason = "pixels")]
        let slot = (at - first) as f64 / bucket_ns as f64;
        left + slot * width
    };
    let labels = labels(&ticks, step, first, &x_of);
    let right = labels
        .iter()
        .map(|label| label.right())
        .fold(left + plot + RIGHT, f64::max)
        .ceil();
    let length = match bucket {
        1 => "1 hour".to_owned(),
        24 => "1 day".to_owned(),
        hours => format!("{} days", hours / 24),
    };
    let per = if bucket == 1 { "hour" } else { "day" };
    let (busiest, what) = match bars {
        Bars::Requests => (slots.iter().map(|s| s.0).max().unwrap_or(0), "requests"),
        Bars::Refusals => (slots.iter().map(|s| s.1).max().unwrap_or(0), "refusals"),
    };
    let _ = write!(
        out,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{right}" height="{}" role="img" data-slots="{}" data-slot-hours="{bucket}"><desc>{what} per {per} (UTC), {} slots from {} to {}; the busiest had {busiest}</desc>"#,
        bottom + BOTTOM,
        slots.len(),
        slots.len(),
        rfc3339(first),
        rfc3339(first + slots.len() as u64 * bucket_ns),
    );
    let _ = write!(
        out,
        r##"<g font-size="{FONT}" fill="#444"><text x="{}" y="{}" text-anchor="end">{top}</text><text x="{}" y="{}" text-anchor="end">0</text></g><line x1="{left}" y1="{TOP}" x2="{left}" y2="{bottom}" stroke="#999"/><line x1="{left}" y1="{bottom}" x2="{}" y2="{bottom}" stroke="#999"/>"##,
        left - 5.0,
        TOP + 4.0,
        left - 5.0,
        bottom + 4.0,
        px(left + plot),
    );
    #[allow(clippy::cast_precision_loss, reason = "pixels: counts far below 2^52")]
    let scaled = |value: u64| (value as f64 / top as f64) * HEIGHT;
    let bar = if width >= 4.0 { width - 1.0 } else { width };
    for (at, &(requests, refused)) in slots.iter().enumerate() {
        let begins = first + at as u64 * bucket_ns;
        let x = x_of(begins);
        let counts = match bars {
            Bars::Requests => format!("{requests} requests, {refused} refused"),
            Bars::Refusals => format!("{refused} refused"),
        };
        let _ = write!(
            out,
            r#"<g class="slot"><title>{} ({length}): {counts}</title><rect x="{}" y="{TOP}" width="{}" height="{HEIGHT}" fill="transparent"/>"#,
            rfc3339(begins),
            px(x),
            px(width),
        );
        let drawn = match bars {
            Bars::Requests => [(requests, "#bbb"), (refused, "#c33")].to_vec(),
            Bars::Refusals => [(refused, "#c33")].to_vec(),
        };
        for (value, colour) in drawn {
            let height = scaled(value);
            if value > 0 {
                let _ = write!(
                    out,
                    r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{colour}"/>"#,
                    px(x),
                    px(bottom - height),
                    px(bar),
                    px(height),
                );
            }
        }
        out.push_str("</g>");
    }
    // A short tick at each slot where they stand apart, a longer one at each label.
    if width >= 4.0 {
        out.push_str(r##"<path stroke="#bbb" d=""##);
        for at in 0..=slots.len() {
            let _ = write!(out, "M{} {bottom}v3", px(left + at as f64 * width));
        }
        out.push_str(r#""/>"#);
    }
    out.push_str(r##"<path stroke="#666" d=""##);
    for &tick in &ticks {
        let _ = write!(out, "M{} {bottom}v6", px(x_of(tick)));
    }
    out.push_str(r#""/>"#);
    let _ = write!(out, r##"<g font-size="{FONT}" fill="#444">"##);
    for label in &labels {
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" text-anchor="{}">{}</text>"#,
            px(label.x),
            bottom + label.row,
            if label.middle { "middle" } else { "start" },
            escape(&label.text)
        );
    }
    out.push_str("</g></svg>");
}

/// `values`, one for each hour from `start`, summed into slots of `bucket` nanoseconds (an
/// hour, or whole days from midnight UTC): the first slot's start, and the slots.
fn bucketed(start: Nanos, values: &[(u64, u64)], bucket: Nanos) -> (Nanos, Vec<(u64, u64)>) {
    let first = start - start % bucket;
    let mut slots: Vec<(u64, u64)> = Vec::new();
    for (at, &(requests, refused)) in values.iter().enumerate() {
        let Ok(slot) = usize::try_from((start + at as u64 * HOUR - first) / bucket) else {
            break;
        };
        if slots.len() <= slot {
            slots.resize(slot + 1, (0, 0));
        }
        slots[slot].0 += requests;
        slots[slot].1 += refused;
    }
    (first, slots)
}

/// A number of pixels, to the hundredth.
fn px(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The width `text` is given: more than it takes.
#[allow(clippy::cast_precision_loss, reason = "a label's length")]
fn width_of(text: &str) -> f64 {
    text.chars().count() as f64 * CHARACTER
}

/// The hours between labelled ticks worth having: hours that divide a day, days, weeks and
/// their doublings (and, for slots of several days, doublings of a slot).
const STEPS: [u64; 11] = [1, 2, 3, 6, 12, 24, 48, 168, 336, 672, 1_344];

/// The labelled ticks of an axis of `slots` slots of `bucket` hours from `first`, `width`
/// pixels each: every `step` hours for the smallest step whose labels cannot touch (a time
/// within a day, a date from a day on), on the hour (days at midnight UTC, weeks on Mondays).
/// The step, and the ticks.
fn ticks(first: Nanos, slots: usize, bucket: u64, width: f64) -> (u64, Vec<Nanos>) {
    let doublings = |of: u64| (0..48).map(move |power| of.saturating_mul(1 << power));
    let step = STEPS
        .into_iter()
        .chain(doublings(1_344))
        .chain(doublings(bucket))
        .filter(|step| step % bucket == 0)
        .filter(|&step| {
            let label = if step < 24 { "00:00" } else { "2026-01-01" };
            #[allow(clippy::cast_precision_loss, reason = "pixels")]
            let room = (step / bucket) as f64 * width;
            room >= width_of(label) + GAP
        })
        .min()
        .unwrap_or(u64::MAX / HOUR);
    // Weeks begin on Monday, 1970-01-05, 96 hours after the epoch.
    let offset = if step % 168 == 0 { 96 % step } else { 0 };
    let end = first + slots as u64 * bucket * HOUR;
    let hour = first / HOUR;
    let mut tick = hour + (step + offset - hour % step) % step;
    let mut ticks = Vec::new();
    while let Some(at) = tick.checked_mul(HOUR).filter(|&at| at <= end) {
        ticks.push(at);
        let Some(next) = tick.checked_add(step) else {
            break;
        };
        tick = next;
    }
    (step, ticks)
}

/// A label under the axis.
#[derive(Debug)]
struct Label {
    text: String,
    /// Its anchor; centred on it, or beginning at it.
    x: f64,
    middle: bool,
    /// Its baseline, below the plot.
    row: f64,
}

impl Label {
    fn left(&self) -> f64 {
        if self.middle {
            self.x - width_of(&self.text) / 2.0
        } else {
            self.x
        }
    }

    fn right(&self) -> f64 {
        self.left() + width_of(&self.text)
    }
}

/// The labels of `ticks`, `step` hours apart, on an axis from `first`: each tick's time
/// (`HH:00`) with the date of each midnight under it, and the first date where it has room; or,
/// with ticks a day or more apart, the date of each.
fn labels(ticks: &[Nanos], step: u64, first: Nanos, x_of: &impl Fn(Nanos) -> f64) -> Vec<Label> {
    let date = |at: Nanos| rfc3339(at)[..10].to_owned();
    let daily = step >= 24;
    let mut labels: Vec<Label> = ticks
        .iter()
        .map(|&tick| Label {
            text: if daily {
                date(tick)
            } else {
                rfc3339(tick)[11..16].to_owned()
            },
            x: x_of(tick),
            middle: true,
            row: FIRST_ROW,
        })
        .collect();
    if daily {
        return labels;
    }
    let day = 24 * HOUR;
    let midnights: Vec<Label> = ticks
        .iter()
        .filter(|&&tick| tick % day == 0)
        .map(|&tick| Label {
            text: date(tick),
            x: x_of(tick),
            middle: true,
            row: SECOND_ROW,
        })
        .collect();
    // The first day's date, from the axis' start, unless it would touch the first midnight's.
    if first % day != 0 {
        let start = Label {
            text: date(first),
            x: x_of(first),
            middle: false,
            row: SECOND_ROW,
        };
        let room = midnights
            .first()
            .map_or(f64::INFINITY, |midnight| midnight.left());
        let ends = start.right() + GAP;
        if ends <= room {
            labels.push(start);
        }
    }
    labels.extend(midnights);
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-03-28T12:00:00Z.
    const NOON: Nanos = 1_774_699_200 * NANOS_PER_SEC;

    /// The labels of a chart over `hours` hours from `start`, as drawn.
    fn drawn(start: Nanos, hours: usize) -> Vec<(String, f64, f64, f64)> {
        let mut out = String::new();
        chart(&mut out, start, &vec![(1, 1); hours], Bars::Requests);
        let mut labels = Vec::new();
        for text in out.split("<text ").skip(1) {
            let attribute = |name: &str| {
                let from = text.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                text[from..from + text[from..].find('"').unwrap()].to_owned()
            };
            let content = &text[text.find('>').unwrap() + 1..text.find("</text>").unwrap()];
            let x: f64 = attribute("x").parse().unwrap();
            let y: f64 = attribute("y").parse().unwrap();
            let width = width_of(content);
            let left = match &*attribute("text-anchor") {
                "middle" => x - width / 2.0,
                "end" => x - width,
                _ => x,
            };
            labels.push((content.to_owned(), left, left + width, y));
        }
        labels
    }

    #[test]
    fn labels_are_apart_from_one_hour_to_seven_years() {
        for hours in [
            1, 2, 3, 5, 11, 24, 25, 49, 100, 240, 719, 1_000, 1_001, 2_000, 8_760,
        ] {
            for start in [NOON, NOON + 11 * HOUR, NOON - 12 * HOUR] {
                let labels = drawn(start, hours);
                assert!(labels.len() >= 3, "{hours} h: {labels:?}");
                for (at, (text, left, right, y)) in labels.iter().enumerate() {
                    assert!(*left >= 0.0, "{hours} h: `{text}` at {left}");
                    for (other, other_left, other_right, other_y) in &labels[at + 1..] {
                        let apart = y != other_y
                            || right + 1.0 <= *other_left
                            || other_right + 1.0 <= *left;
                        assert!(apart, "{hours} h from {start}: `{text}` touches `{other}`");
                    }
                }
            }
        }
    }

    #[test]
    fn each_hour_has_its_slot_at_its_time() {
        let mut out = String::new();
        // Nothing at 14:00: its slot is there, empty, between the others.
        chart(
            &mut out,
            NOON,
            &[(3, 1), (2, 0), (0, 0), (5, 5)],
            Bars::Requests,
        );
        let slots: Vec<&str> = out.split(r#"<g class="slot">"#).skip(1).collect();
        assert_eq!(slots.len(), 4);
        assert!(
            slots[2]
                .starts_with("<title>2026-03-28T14:00:00Z (1 hour): 0 requests, 0 refused</title>")
        );
        let xs: Vec<&str> = slots
            .iter()
            .map(|slot| {
                &slot[slot.find("x=\"").unwrap() + 3..]
                    [..slot[slot.find("x=\"").unwrap() + 3..].find('"').unwrap()]
            })
            .collect();
        assert_eq!(xs, ["40", "88", "136", "184"]);
    }

    #[test]
    fn past_a_thousand_hours_a_slot_is_a_day_from_midnight() {
        assert_eq!((slot_hours(1_000), slot_hours(1_001)), (1, 24));
        assert_eq!(slot_hours(24 * 1_000 + 1), 48);
        let mut out = String::new();
        chart(&mut out, NOON, &vec![(1, 0); 1_200], Bars::Requests);
        // From the 28th at noon for 50 days: 51 days, the first from its midnight.
        assert_eq!(out.matches(r#"<g class="slot">"#).count(), 51);
        assert!(
            out.contains("<title>2026-03-28T00:00:00Z (1 day): 12 requests, 0 refused</title>")
        );
        assert!(
            out.contains("<title>2026-03-29T00:00:00Z (1 day): 24 requests, 0 refused</title>")
        );
    }
}
