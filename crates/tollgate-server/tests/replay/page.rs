//! The HTML report as a browser lays it out: headless Chromium (see `chromium.rs`) opens the
//! page `tollgate replay --html` writes and reads, from the layout, where each chart puts each
//! slot of time and each label. Every chart has every hour of the log's span, empty ones too,
//! at a place proportional to its time; no label touches another or leaves its chart. The
//! screenshots (`replay-*.png` in the target directory) are for a person to look at.

use std::collections::BTreeMap;

use serde_json::Value;
use tollgate_replay::html;

use crate::chromium::Chromium;
use crate::{ACCOUNTS, Scratch, lines, replay};

/// `max` requests a day per account, the day Berlin's.
fn berlin_days(max: u64) -> String {
    format!(
        r#"{ACCOUNTS}
    [[limits]]
    name = "daily"
    window = {{ max = {max}, every = "day", align = "calendar", tz = "Europe/Berlin" }}
    per = ["account"]
"#
    )
}

/// Each chart of the page: its heading, its box, the boxes of what carries a tooltip (a slot
/// of time; its title begins with the slot's start), and its labels.
const READ_CHARTS: &str = r"JSON.stringify([...document.querySelectorAll('svg')].map(svg => {
    const box = element => {
        const b = element.getBoundingClientRect();
        return [b.left, b.top, b.right, b.bottom];
    };
    let heading = svg;
    while (heading && !/^H[23]$/.test(heading.tagName)) {
        heading = heading.previousElementSibling ?? heading.parentElement;
    }
    return {
        heading: heading ? heading.textContent : '',
        box: box(svg),
        slots: [...svg.querySelectorAll('title')]
            .map(title => ({ title: title.textContent, box: box(title.parentElement) })),
        labels: [...svg.querySelectorAll('text')]
            .map(text => ({ text: text.textContent, box: box(text) })),
    };
}))";

/// A box: left, top, right, bottom, in CSS pixels.
type Box = [f64; 4];

/// One chart as laid out.
#[derive(Debug)]
struct Chart {
    heading: String,
    bounds: Box,
    /// By the start of each slot (seconds since the epoch): its left edge and its tooltip.
    slots: BTreeMap<i64, (f64, String)>,
    labels: Vec<(String, Box)>,
}

fn boxed(value: &Value) -> Box {
    let numbers: Vec<f64> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_f64().unwrap())
        .collect();
    [numbers[0], numbers[1], numbers[2], numbers[3]]
}

/// The charts of the page open in `chromium`.
fn charts(chromium: &mut Chromium) -> Vec<Chart> {
    let read: Value = serde_json::from_str(chromium.eval(READ_CHARTS).as_str().unwrap()).unwrap();
    read.as_array()
        .unwrap()
        .iter()
        .map(|chart| {
            let mut slots = BTreeMap::new();
            for slot in chart["slots"].as_array().unwrap() {
                let title = slot["title"].as_str().unwrap();
                let start = title.split(' ').next().unwrap().trim_end_matches(':');
                let start: jiff::Timestamp = start
                    .parse()
                    .unwrap_or_else(|_| panic!("a tooltip begins with its time: {title}"));
                let left = boxed(&slot["box"])[0];
                let entry = slots
                    .entry(start.as_second())
                    .or_insert((left, title.to_owned()));
                entry.0 = entry.0.min(left);
            }
            Chart {
                heading: chart["heading"].as_str().unwrap().to_owned(),
                bounds: boxed(&chart["box"]),
                slots,
                labels: chart["labels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|label| {
                        (
                            label["text"].as_str().unwrap().to_owned(),
                            boxed(&label["box"]),
                        )
                    })
                    .collect(),
            }
        })
        .collect()
}

/// No label of `chart` overlaps another, and each is inside the chart.
fn assert_labels_apart(chart: &Chart) {
    assert!(chart.labels.len() >= 3, "a scale and a time: {chart:?}");
    for (at, (text, [left, top, right, bottom])) in chart.labels.iter().enumerate() {
        let [chart_left, chart_top, chart_right, chart_bottom] = chart.bounds;
        assert!(
            *left >= chart_left - 0.5
                && *right <= chart_right + 0.5
                && *top >= chart_top - 0.5
                && *bottom <= chart_bottom + 0.5,
            "`{text}` at {:?} leaves {}, {:?}",
            [left, top, right, bottom],
            chart.heading,
            chart.bounds
        );
        for (other, [other_left, other_top, other_right, other_bottom]) in &chart.labels[at + 1..] {
            let apart = right <= other_left
                || other_right <= left
                || bottom <= other_top
                || other_bottom <= top;
            assert!(
                apart,
                "in {}: `{text}` {:?} overlaps `{other}` {:?}",
                chart.heading,
                [left, top, right, bottom],
                [other_left, other_top, other_right, other_bottom]
            );
        }
    }
}

/// `chart` has a slot for each of the `count` spans of `seconds` from `first`, and none else,
/// each as far from the first as its time is.
fn assert_true_time_axis(chart: &Chart, first: &str, count: usize, seconds: i64) {
    let first = first.parse::<jiff::Timestamp>().unwrap().as_second();
    let expected: Vec<i64> = (0..count as i64).map(|i| first + i * seconds).collect();
    let starts: Vec<i64> = chart.slots.keys().copied().collect();
    assert_eq!(
        starts.len(),
        count,
        "{}: {} slots, not one per {seconds} s of the span",
        chart.heading,
        starts.len()
    );
    assert_eq!(starts, expected, "{}", chart.heading);
    let lefts: Vec<f64> = chart.slots.values().map(|(left, _)| *left).collect();
    if count > 1 {
        let step = (lefts[count - 1] - lefts[0]) / (count - 1) as f64;
        assert!(step > 0.5, "{}: {step} px a slot", chart.heading);
        for (at, left) in lefts.iter().enumerate() {
            let at_its_time = lefts[0] + at as f64 * step;
            assert!(
                (left - at_its_time).abs() < 0.51,
                "{}: slot {at} at {left} px, not at {at_its_time} px",
                chart.heading
            );
        }
    }
}

/// The report of `log` under `policy`, in `chromium`, 1,000 pixels wide: its charts.
fn open_report(
    chromium: &mut Chromium,
    dir: &Scratch,
    name: &str,
    policy: &str,
    log: &str,
) -> Vec<Chart> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let summary = runtime.block_on(replay(policy, log));
    let page = dir.write(&format!("{name}.html"), &html::summary(&summary, name));
    chromium.open(&page, 1000);
    let wide = chromium.eval("document.documentElement.scrollWidth");
    assert!(
        wide.as_u64().unwrap() <= 1000,
        "{name}: {wide} px wide at 1,000"
    );
    charts(chromium)
}

#[test]
fn every_chart_has_every_hour_of_the_span_at_its_place_in_chromium() {
    let Some(mut chromium) = Chromium::start() else {
        return;
    };
    let dir = Scratch::new("replay-page-hours");
    // acme's Berlin day ends at 23:00 UTC: refused from its fourth call each evening, admitted
    // again after the reset, and nothing at all at 01:00 UTC.
    let mut log = String::new();
    for (hour, count) in [
        ("28T18", 6),
        ("28T19", 6),
        ("28T20", 6),
        ("28T21", 6),
        ("28T22", 6),
    ] {
        for minute in 0..count {
            log += &lines(1, &format!("2026-03-{hour}:{minute}0:00Z"), "acme-key");
        }
    }
    log += &lines(2, "2026-03-28T23:10:00Z", "acme-key");
    log += &lines(1, "2026-03-29T00:10:00Z", "acme-key");
    log += &lines(6, "2026-03-29T02:10:00Z", "acme-key");
    let charts = open_report(&mut chromium, &dir, "replay-hours", &berlin_days(3), &log);
    let shot = chromium.screenshot("replay-report.png", None);
    eprintln!("screenshot: {}", shot.display());

    assert_eq!(charts.len(), 2);
    for chart in &charts {
        // 18:00 on the 28th to 02:00 on the 29th: nine hours, each in its place.
        assert_true_time_axis(chart, "2026-03-28T18:00:00Z", 9, 3600);
        assert_labels_apart(chart);
    }
    let headings: Vec<&str> = charts.iter().map(|chart| &*chart.heading).collect();
    assert_eq!(
        headings,
        ["Requests per hour (UTC)", "daily: refusals per hour (UTC)"]
    );
    let (requests, daily) = (&charts[0], &charts[1]);
    let title = |chart: &Chart, hour: &str| {
        let at = hour.parse::<jiff::Timestamp>().unwrap().as_second();
        chart.slots[&at].1.clone()
    };
    assert_eq!(
        title(requests, "2026-03-29T01:00:00Z"),
        "2026-03-29T01:00:00Z (1 hour): 0 requests, 0 refused"
    );
    assert_eq!(
        title(daily, "2026-03-28T22:00:00Z"),
        "2026-03-28T22:00:00Z (1 hour): 6 refused"
    );
    // Berlin's midnight: the reset is seen, not left out.
    assert_eq!(
        title(daily, "2026-03-28T23:00:00Z"),
        "2026-03-28T23:00:00Z (1 hour): 0 refused"
    );
    assert_eq!(
        title(daily, "2026-03-29T02:00:00Z"),
        "2026-03-29T02:00:00Z (1 hour): 6 refused"
    );
    // One time axis for the page: an hour is at the same place in every chart.
    for (start, (left, _)) in &requests.slots {
        assert!((daily.slots[start].0 - left).abs() < 0.01, "{start}");
    }
}

#[test]
fn labels_never_overlap_from_one_hour_to_two_months_in_chromium() {
    let Some(mut chromium) = Chromium::start() else {
        return;
    };
    let dir = Scratch::new("replay-page-labels");
    let day = 86_400;
    let start = 1_767_261_600; // 2026-01-01T10:00:00Z
    let every = |count: i64, seconds: i64| -> String {
        (0..count)
            .map(|i| lines(1, &(start + i * seconds).to_string(), "acme-key"))
            .collect()
    };
    // Name, log, its first slot, slots, seconds a slot.
    let spans = [
        (
            "one-hour",
            every(3, 1_200),
            "2026-01-01T10:00:00Z",
            1,
            3_600,
        ),
        (
            "two-hours",
            every(3, 3_000),
            "2026-01-01T10:00:00Z",
            2,
            3_600,
        ),
        (
            "three-days",
            every(13, 6 * 3_600),
            "2026-01-01T10:00:00Z",
            73,
            3_600,
        ),
        (
            "thirty-days",
            every(120, 6 * 3_600),
            "2026-01-01T10:00:00Z",
            715,
            3_600,
        ),
        // Past 1,000 hours a slot is a day (UTC): 10:00 on 1 January to 04:00 on 2 March.
        (
            "sixty-days",
            every(240, 6 * 3_600),
            "2026-01-01T00:00:00Z",
            61,
            day,
        ),
    ];
    for (name, log, first, count, seconds) in spans {
        let charts = open_report(&mut chromium, &dir, name, &berlin_days(2), &log);
        // The charts, not the table of every hour under them.
        let below = charts
            .iter()
            .map(|chart| chart.bounds[3])
            .fold(0.0, f64::max);
        let shot = chromium.screenshot(&format!("replay-{name}.png"), Some(below + 20.0));
        eprintln!("screenshot: {}", shot.display());
        assert_eq!(charts.len(), 2, "{name}: {charts:?}");
        for chart in &charts {
            assert_labels_apart(chart);
            assert_true_time_axis(chart, first, count, seconds);
        }
    }
}
