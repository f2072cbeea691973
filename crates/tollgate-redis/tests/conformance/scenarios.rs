//! The scenarios: each limit kind alone, limits together, refunds, and a long random walk.

use std::time::Duration;

use tollgate_core::{
    Algorithm, CalendarUnit, Concurrency, Distinct, Key, LimitRequest, NANOS_PER_SEC as SEC, Nanos,
    Rate, Schedule, SlidingWindow, TokenBucket, Window,
};

use crate::Pair;

/// 2026-03-08 09:00:00 UTC, a Sunday: Shanghai's day turns at 16:00 UTC.
const T0: Nanos = 1_772_960_400 * SEC;

fn bucket(count: u64, period: Duration, burst: u64) -> Algorithm {
    TokenBucket::new(Rate::new(count, period), burst)
        .unwrap()
        .into()
}

fn quarter_hours(max: u64) -> Algorithm {
    Window::new(max, Schedule::clock(Duration::from_secs(900)).unwrap())
        .unwrap()
        .into()
}

fn shanghai_days(max: u64) -> Algorithm {
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    Window::new(max, Schedule::calendar(CalendarUnit::Day, tz))
        .unwrap()
        .into()
}

fn per_minute_sliding(max: u64) -> Algorithm {
    SlidingWindow::new(max, Duration::from_secs(60))
        .unwrap()
        .into()
}

fn slots(max: u64) -> Algorithm {
    Concurrency::new(max, Duration::from_secs(30))
        .unwrap()
        .into()
}

fn one(key: u64, algorithm: &Algorithm, cost: u32) -> [LimitRequest<'_>; 1] {
    [LimitRequest::new(Key::from_hash(key), algorithm, cost)]
}

#[tokio::test]
async fn token_bucket_one_every_two_seconds_burst_three() {
    let mut pair = Pair::start().await;
    let b = bucket(1, Duration::from_secs(2), 3);
    let admitted: Vec<bool> = {
        let mut seen = Vec::new();
        for at in [T0, T0, T0, T0, T0 + 2 * SEC - 1_000, T0 + 2 * SEC] {
            seen.push(pair.acquire(at, &one(1, &b, 1)).await.allowed);
        }
        seen
    };
    assert_eq!(admitted, [true, true, true, false, false, true]);
}

#[tokio::test]
async fn quarter_hour_window_turns_on_the_clock() {
    let mut pair = Pair::start().await;
    let w = quarter_hours(3);
    let quarter = T0 + 900 * SEC;
    for at in [T0, T0 + SEC, T0 + 2 * SEC] {
        assert!(pair.acquire(at, &one(2, &w, 1)).await.allowed);
    }
    let refused = pair.acquire(quarter - 1_000, &one(2, &w, 1)).await;
    assert!(!refused.allowed);
    assert_eq!(refused.outcomes[0].4, Some(quarter / 1_000));
    assert!(pair.acquire(quarter, &one(2, &w, 2)).await.allowed);
    assert!(
        !pair.acquire(quarter, &one(2, &w, 2)).await.allowed,
        "2 + 2 > 3"
    );
    assert!(
        !pair.acquire(quarter, &one(2, &w, 4)).await.allowed,
        "never fits"
    );
}

#[tokio::test]
async fn calendar_day_in_shanghai() {
    let mut pair = Pair::start().await;
    let w = shanghai_days(2);
    let midnight = 1_772_985_600 * SEC; // 2026-03-09 00:00 in Shanghai
    assert!(
        pair.acquire(midnight - 3_600 * SEC, &one(3, &w, 2))
            .await
            .allowed
    );
    let refused = pair.acquire(midnight - 1_000, &one(3, &w, 1)).await;
    assert_eq!(refused.outcomes[0].3, midnight / 1_000);
    assert!(pair.acquire(midnight, &one(3, &w, 1)).await.allowed);
}

#[tokio::test]
async fn sliding_window_weighs_the_previous_minute() {
    let mut pair = Pair::start().await;
    let s = per_minute_sliding(10);
    let minute = 29_549_340 * 60 * SEC;
    for _ in 0..10 {
        assert!(pair.acquire(minute, &one(4, &s, 1)).await.allowed);
    }
    let next = minute + 60 * SEC + 15 * SEC;
    assert_eq!(pair.acquire(next, &one(4, &s, 0)).await.outcomes[0].2, 2);
    for _ in 0..2 {
        assert!(pair.acquire(next, &one(4, &s, 1)).await.allowed);
    }
    let refused = pair.acquire(next, &one(4, &s, 1)).await;
    assert_eq!(refused.outcomes[0].4, Some((minute + 78 * SEC) / 1_000));
}

#[tokio::test]
async fn concurrency_leases_expire_and_release() {
    let mut pair = Pair::start().await;
    let c = slots(2);
    assert!(pair.acquire(T0, &one(5, &c, 1)).await.allowed);
    assert!(pair.acquire(T0 + SEC, &one(5, &c, 1)).await.allowed);
    let refused = pair.acquire(T0 + 2 * SEC, &one(5, &c, 1)).await;
    assert_eq!(refused.outcomes[0].4, Some((T0 + 30 * SEC) / 1_000));
    pair.release_oldest(T0 + 3 * SEC).await;
    assert!(pair.acquire(T0 + 3 * SEC, &one(5, &c, 1)).await.allowed);
    // Unreleased leases expire after 30 s.
    assert!(pair.acquire(T0 + 40 * SEC, &one(5, &c, 2)).await.allowed);
}

#[tokio::test]
async fn a_refusal_charges_no_limit() {
    let mut pair = Pair::start().await;
    let (b, w) = (bucket(10, Duration::from_secs(1), 10), quarter_hours(1));
    let both = |cost| {
        [
            LimitRequest::new(Key::from_hash(6), &b, cost),
            LimitRequest::new(Key::from_hash(7), &w, cost),
        ]
    };
    assert!(pair.acquire(T0, &both(1)).await.allowed);
    let refused = pair.acquire(T0, &both(1)).await;
    assert!(!refused.allowed);
    assert!(refused.outcomes[0].0, "the bucket alone would admit");
    // The bucket was not charged by the refusal: 9 left, not 8.
    assert_eq!(pair.acquire(T0, &one(6, &b, 0)).await.outcomes[0].2, 9);
}

#[tokio::test]
async fn refunds_give_back_in_the_window_that_held_the_charge() {
    let mut pair = Pair::start().await;
    let (b, w, s) = (
        bucket(1, Duration::from_secs(1), 3),
        quarter_hours(3),
        per_minute_sliding(3),
    );
    let all = [
        LimitRequest::new(Key::from_hash(8), &b, 1),
        LimitRequest::new(Key::from_hash(9), &w, 1),
        LimitRequest::new(Key::from_hash(10), &s, 1),
    ];
    for _ in 0..3 {
        assert!(pair.acquire(T0, &all).await.allowed);
    }
    assert!(!pair.acquire(T0, &all).await.allowed);
    pair.refund(T0, &all).await;
    let after = pair.acquire(T0, &all).await;
    assert!(after.allowed);
    assert_eq!(
        after.outcomes.iter().map(|o| o.2).collect::<Vec<_>>(),
        [0, 0, 0]
    );
}

/// A deterministic walk over every kind: random costs, gaps, refunds and releases, checked step
/// by step on both stores.
#[tokio::test]
async fn random_walk_agrees_step_by_step() {
    let mut pair = Pair::start().await;
    let limits = [
        bucket(5, Duration::from_secs(1), 4),
        bucket(1, Duration::from_secs(2), 3),
        quarter_hours(7),
        shanghai_days(40),
        per_minute_sliding(6),
        slots(3),
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    let mut now = T0;
    let mut admitted = 0;
    for _ in 0..1_500 {
        now += [
            0,
            1_000,
            37_000,
            250_000_000,
            1_100_000_000,
            61 * SEC,
            400 * SEC,
        ][next(7) as usize];
        let cost = [0, 1, 1, 1, 2, 3][next(6) as usize] as u32;
        let first = next(limits.len() as u64) as usize;
        let count = 1 + next(3) as usize;
        let requests: Vec<LimitRequest<'_>> = (first..first + count)
            .map(|at| at % limits.len())
            .map(|at| LimitRequest::new(Key::from_hash(100 + at as u64), &limits[at], cost))
            .collect();
        let seen = pair.acquire(now, &requests).await;
        admitted += usize::from(seen.allowed);
        match next(10) {
            0 if seen.allowed => pair.refund(now, &requests).await,
            1 | 2 => pair.release_oldest(now).await,
            _ => {}
        }
    }
    // Both answers were common: the walk tried the limits, not only their empty states.
    assert!(
        (300..1_200).contains(&admitted),
        "{admitted} of 1,500 admitted"
    );
}

/// Distinct values, kept for good and per quarter hour, beside a window that refuses now and
/// then: random values (or none), costs (0 peeks) and gaps, checked step by step.
#[tokio::test]
async fn distinct_values_agree_step_by_step() {
    let mut pair = Pair::start().await;
    let for_good: Algorithm = Distinct::new(3, None).unwrap().into();
    let quarterly: Algorithm =
        Distinct::new(2, Some(Schedule::clock(Duration::from_secs(900)).unwrap()))
            .unwrap()
            .into();
    let window = quarter_hours(9);
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    let (mut now, mut admitted, mut refused_new) = (T0, 0, 0);
    for _ in 0..600 {
        now += [0, 1_000, 90 * SEC, 901 * SEC][next(4) as usize];
        let value = (next(8) > 0).then(|| Key::from_hash(1 + next(6)));
        let cost = [0, 1, 1, 2][next(4) as usize];
        let distinct = [&for_good, &quarterly][next(2) as usize];
        let mut requests =
            vec![LimitRequest::new(Key::from_hash(300), distinct, cost).with_value(value)];
        if next(2) == 0 {
            requests.push(LimitRequest::new(Key::from_hash(301), &window, cost));
        }
        let seen = pair.acquire(now, &requests).await;
        admitted += usize::from(seen.allowed);
        refused_new += usize::from(!seen.outcomes[0].0);
    }
    assert!((200..550).contains(&admitted), "{admitted} of 600 admitted");
    assert!(refused_new > 20, "{refused_new} new values refused");
}

#[tokio::test]
async fn a_partition_named_twice_in_one_request_is_not_decided() {
    let pair = Pair::start().await;
    let w = quarter_hours(3);
    let twice = [
        LimitRequest::new(Key::from_hash(20), &w, 2),
        LimitRequest::new(Key::from_hash(20), &w, 2),
    ];
    // The script decides each limit against the state before the call: it would charge 2 of 4.
    let refused = pair.redis.acquire_at(T0, &twice).await.unwrap_err();
    assert!(!refused.is_transient(), "{refused}");
}

fn waiting_bucket(
    count: u64,
    period: Duration,
    burst: u64,
    max: Duration,
    queue: u64,
) -> Algorithm {
    let delay = tollgate_core::Delay { max, queue };
    TokenBucket::new(Rate::new(count, period), burst)
        .and_then(|bucket| bucket.with_delay(delay))
        .unwrap()
        .into()
}

#[tokio::test]
async fn a_delay_admits_a_request_to_wait_for_its_turn_and_takes_it_back_when_it_leaves() {
    let mut pair = Pair::start().await;
    let ms = SEC / 1_000;
    // "1 request every 2 s, up to 3 at once", up to 500 ms early; with a plain bucket and a
    // quarter-hour window beside it, counted at the turn.
    let waits = waiting_bucket(1, Duration::from_secs(2), 3, Duration::from_millis(500), 2);
    let plain = bucket(5, Duration::from_secs(1), 5);
    let quarter = quarter_hours(100);
    let all = [
        LimitRequest::new(Key::from_hash(7), &waits, 1),
        LimitRequest::new(Key::from_hash(8), &plain, 1),
        LimitRequest::new(Key::from_hash(9), &quarter, 1),
    ];
    for _ in 0..3 {
        assert!(pair.acquire(T0, &all[..1]).await.allowed);
    }
    assert!(!pair.acquire(T0, &all).await.allowed, "2 s ahead: refused");
    let early = T0 + 1_800 * ms;
    let waiting = pair.acquire(early, &all).await;
    assert!(waiting.allowed);
    let turn = (T0 + 2 * SEC) / 1_000;
    let turns: Vec<Option<u64>> = waiting.outcomes.iter().map(|o| o.4).collect();
    assert_eq!(turns, [Some(turn), Some(turn), Some(early / 1_000)]);
    assert!(
        !pair.acquire(early, &all).await.allowed,
        "the next turn is 2.2 s ahead"
    );
    // The request leaves before its turn: everything it took comes back.
    let reserved: Vec<Nanos> = waiting.outcomes.iter().map(|o| o.3 * 1_000).collect();
    pair.withdraw(early, &all, &reserved).await;
    let again = pair.acquire(early, &all).await;
    assert!(again.allowed);
    assert_eq!(again.outcomes[0].4, Some(turn));
    assert_eq!(again.outcomes[2].2, 99, "the window's unit came back");
}
