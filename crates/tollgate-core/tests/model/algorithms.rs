//! Each one-`u64` algorithm against its model: same verdicts, exact `retry_at`, rest rule.

use std::time::Duration;

use jiff::tz::TimeZone;
use proptest::prelude::*;
use tollgate_core::{
    Algorithm, CalendarUnit, Nanos, Rate, Schedule, SlidingWindow, TokenBucket, Window,
};

use crate::reference::{Bucket, FixedWindow, Model, Sliding, Windows};
use crate::{START, cost, time_step};

/// Runs `steps` through `algorithm` and `model` side by side.
fn check<M: Model>(
    algorithm: &Algorithm,
    mut model: M,
    steps: &[(Nanos, u32)],
) -> Result<(), TestCaseError> {
    let (mut now, mut state) = (START, 0);
    for &(step, cost) in steps {
        now += step;
        let transition = algorithm.decide(state, now, cost).unwrap();
        let outcome = transition.outcome;
        let wanted = u64::from(cost.max(1));
        let expected = model.verdict(now, wanted);
        prop_assert_eq!(
            outcome.allowed(),
            expected.allowed,
            "at {} cost {}",
            now,
            cost
        );
        if state <= now {
            let fresh = algorithm.decide(0, now, cost).unwrap();
            prop_assert_eq!(
                fresh.outcome,
                outcome,
                "a state at rest decides as an absent one"
            );
            if outcome.allowed() && cost > 0 {
                prop_assert_eq!(fresh.state, transition.state);
            }
        }
        match (outcome.allowed(), outcome.retry_at()) {
            (true, retry) => {
                prop_assert_eq!(retry, Some(now));
                if cost > 0 {
                    model.take(now, wanted);
                }
                prop_assert_eq!(outcome.remaining(), model.verdict(now, 1).remaining);
            }
            (false, None) => prop_assert!(wanted > outcome.limit()),
            (false, Some(retry)) => {
                prop_assert_eq!(outcome.remaining(), expected.remaining);
                prop_assert!(retry > now);
                prop_assert!(
                    model.clone().fits(retry, wanted),
                    "admitted at retry_at {}",
                    retry
                );
                prop_assert!(
                    !model.clone().fits(retry - 1, wanted),
                    "refused 1 ns before {}",
                    retry
                );
            }
        }
        if !matches!(algorithm, Algorithm::TokenBucket(_)) || outcome.allowed() {
            prop_assert_eq!(outcome.reset_at(), model.verdict(now, 1).reset_at);
        }
        prop_assert!(
            cost > 0 && outcome.allowed() || transition.state == state,
            "only a charge writes"
        );
        state = transition.state;
    }
    Ok(())
}

fn steps() -> impl Strategy<Value = Vec<(Nanos, u32)>> {
    prop::collection::vec((time_step(), cost()), 1..120)
}

proptest! {
    #[test]
    fn token_bucket(count in 1u64..5, period_ms in 1u64..5_000, burst in 1u64..6, steps in steps()) {
        let bucket = TokenBucket::new(Rate::new(count, Duration::from_millis(period_ms)), burst).unwrap();
        let model = Bucket::new(bucket.interval(), burst);
        check(&bucket.into(), model, &steps)?;
    }

    #[test]
    fn clock_window(max in 1u64..8, period_s in prop::sample::select(vec![1u64, 60, 900, 3_600, 86_400]), steps in steps()) {
        let window = Window::new(max, Schedule::clock(Duration::from_secs(period_s)).unwrap()).unwrap();
        let model = FixedWindow::new(max, Windows::Every(period_s * 1_000_000_000));
        check(&window.into(), model, &steps)?;
    }

    #[test]
    fn calendar_window(
        max in 1u64..8,
        unit in prop::sample::select(vec![CalendarUnit::Day, CalendarUnit::Week, CalendarUnit::Month]),
        zone in prop::sample::select(vec!["Europe/Berlin", "Asia/Shanghai", "America/New_York", "UTC"]),
        steps in steps(),
    ) {
        let tz = TimeZone::get(zone).unwrap();
        let window = Window::new(max, Schedule::calendar(unit, tz.clone())).unwrap();
        let model = FixedWindow::new(max, Windows::Calendar(unit, tz));
        check(&window.into(), model, &steps)?;
    }

    #[test]
    fn sliding_window(max in 1u64..8, period_ms in prop::sample::select(vec![1_000u64, 60_000]), steps in steps()) {
        let sliding = SlidingWindow::new(max, Duration::from_millis(period_ms)).unwrap();
        let model = Sliding::new(max, period_ms * 1_000_000);
        check(&sliding.into(), model, &steps)?;
    }
}

/// DST days of 2026 in Berlin, walked hour by hour: a window's count is per local date.
#[test]
fn berlin_dst_days_count_per_local_date() {
    let tz = TimeZone::get("Europe/Berlin").unwrap();
    let window: Algorithm = Window::new(1, Schedule::calendar(CalendarUnit::Day, tz.clone()))
        .unwrap()
        .into();
    let model = FixedWindow::new(1, Windows::Calendar(CalendarUnit::Day, tz));
    // From 2026-03-28 to 2026-03-31, and from 2026-10-24 to 2026-10-27, every 30 minutes.
    for first in [1_774_652_400u64, 1_792_792_800] {
        let steps: Vec<(Nanos, u32)> = std::iter::once(((first * 1_000_000_000) - START, 1))
            .chain(std::iter::repeat_n((1_800_000_000_000, 1), 150))
            .collect();
        check(&window, model.clone(), &steps).unwrap();
    }
}
