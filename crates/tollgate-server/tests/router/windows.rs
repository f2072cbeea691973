//! Windows aligned to the clock and to calendar days in a time zone: each resets exactly at its
//! boundary, refused one nanosecond before it.

use std::time::Duration;

use crate::support::{T0, T0_S, Tollgate, secs};

/// Two requests per `window`, for everyone, headers `ietf` and `x-rate-limit`.
fn policy(window: &str) -> String {
    format!(
        r#"
        [responses]
        headers = ["ietf", "x-rate-limit"]

        [[routes]]
        api = "api"
        match = "GET /{{*rest}}"

        [[limits]]
        name = "quota"
        window = {window}
    "#
    )
}

/// Spends what is left of the window's two requests (`spent` already) and checks the refusal's
/// `Retry-After`; then the boundary: refused one nanosecond before `retry_after` (and told to
/// wait a second), admitted at it.
async fn spend_then_cross(tollgate: &Tollgate, spent: usize, retry_after: Duration) {
    for _ in spent..2 {
        assert_eq!(tollgate.auth("GET", "/a", &[]).await.status, 200);
    }
    let refused = tollgate.auth("GET", "/a", &[]).await;
    assert_eq!(refused.status, 429);
    let whole = retry_after.as_nanos().div_ceil(1_000_000_000).to_string();
    assert_eq!(refused.header("retry-after"), Some(whole.as_str()));
    tollgate.advance(retry_after - Duration::from_nanos(1));
    let early = tollgate.auth("GET", "/a", &[]).await;
    assert_eq!(
        (early.status, early.header("retry-after")),
        (429, Some("1"))
    );
    tollgate.advance_nanos(1);
    assert_eq!(tollgate.auth("GET", "/a", &[]).await.status, 200);
}

#[tokio::test]
async fn a_15_minute_window_ends_on_the_quarter_hour() {
    // 00:01:40.4 UTC: 799.6 s to 00:15.
    let tollgate = Tollgate::start_at(
        &policy(r#"{ max = 2, every = "15m" }"#),
        T0 + secs(100) + 400_000_000,
    );
    let first = tollgate.auth("GET", "/a", &[]).await;
    assert_eq!(first.header("ratelimit-policy"), Some("\"quota\";q=2"));
    assert_eq!(first.header("ratelimit"), Some("\"quota\";r=1;t=800"));
    let reset = (T0_S + 900).to_string();
    assert_eq!(first.header("x-rate-limit-reset"), Some(reset.as_str()));
    assert_eq!(tollgate.auth("GET", "/a", &[]).await.status, 200);
    let refused = tollgate.auth("GET", "/a", &[]).await;
    assert_eq!(
        (refused.status, refused.header("retry-after")),
        (429, Some("800"))
    );
}

#[tokio::test]
async fn a_15_minute_window_admits_again_exactly_at_the_quarter_hour() {
    let tollgate = Tollgate::start_at(
        &policy(r#"{ max = 2, every = "15m" }"#),
        T0 + secs(100) + 400_000_000,
    );
    spend_then_cross(&tollgate, 0, Duration::from_millis(799_600)).await;
    let next = tollgate.auth("GET", "/a", &[]).await;
    assert_eq!(
        next.header("ratelimit"),
        Some("\"quota\";r=0;t=900"),
        "a whole new window, one taken at 00:15 and one now"
    );
    let reset = (T0_S + 1800).to_string();
    assert_eq!(next.header("x-rate-limit-reset"), Some(reset.as_str()));
}

#[tokio::test]
async fn a_daily_quota_in_shanghai_ends_at_16_00_utc() {
    // 2026-01-01T00:00Z is 08:00 in Shanghai (UTC+8): the local day ends 16 h later.
    let tollgate = Tollgate::start(&policy(
        r#"{ max = 2, every = "day", align = "calendar", tz = "Asia/Shanghai" }"#,
    ));
    let first = tollgate.auth("GET", "/a", &[]).await;
    assert_eq!(first.header("ratelimit"), Some("\"quota\";r=1;t=57600"));
    assert_eq!(first.header("x-rate-limit-reset"), Some("1767283200"));
    assert_eq!(tollgate.auth("GET", "/a", &[]).await.status, 200);
    let refused = tollgate.auth("GET", "/a", &[]).await;
    assert_eq!(
        (refused.status, refused.header("retry-after")),
        (429, Some("57600"))
    );
}

#[tokio::test]
async fn a_daily_quota_in_shanghai_resets_exactly_at_local_midnight() {
    let tollgate = Tollgate::start(&policy(
        r#"{ max = 2, every = "day", align = "calendar", tz = "Asia/Shanghai" }"#,
    ));
    spend_then_cross(&tollgate, 0, Duration::from_secs(16 * 3600)).await;
    let next = tollgate.auth("GET", "/a", &[]).await;
    assert_eq!(
        next.header("ratelimit"),
        Some("\"quota\";r=0;t=86400"),
        "a local day of 24 h from 2026-01-01T16:00Z"
    );
    assert_eq!(next.header("x-rate-limit-reset"), Some("1767369600"));
}

#[tokio::test]
async fn the_berlin_day_of_the_spring_change_is_23_hours() {
    // 2026-03-28T23:00Z is midnight of Sunday 29 March in Berlin, which ends at 22:00Z (CEST).
    let midnight = 1_774_738_800 * 1_000_000_000;
    let tollgate = Tollgate::start_at(
        &policy(r#"{ max = 2, every = "day", align = "calendar", tz = "Europe/Berlin" }"#),
        midnight,
    );
    let first = tollgate.auth("GET", "/a", &[]).await;
    assert_eq!(first.header("ratelimit"), Some("\"quota\";r=1;t=82800"));
    spend_then_cross(&tollgate, 1, Duration::from_secs(23 * 3600)).await;
    let monday = tollgate.auth("GET", "/a", &[]).await;
    assert_eq!(
        monday.header("ratelimit"),
        Some("\"quota\";r=0;t=86400"),
        "Monday has 24 hours again"
    );
}
