//! Distinct-value limits ("machine quota"): `examples/iot-platform.toml`'s machines per account
//! and calendar month, raised by a pack, shown as "2 of 2 machines"; and one kept for good,
//! counting a header's values, with the default refusal body.

use std::time::Duration;

use serde_json::json;

use crate::support::{T0_S, Tollgate, example};

const ACME: (&str, &str) = ("Authorization", "Bearer acme-key");
const TINY: (&str, &str) = ("Authorization", "Bearer tiny-key");

/// 2026-02-01T00:00:00+08:00, when January's machines stop counting in Shanghai.
const FEBRUARY_S: u64 = T0_S + 30 * 86_400 + 57_600;

/// `uri`'s status for `key`, a second later than the last call (the rates refill).
async fn status(tollgate: &Tollgate, uri: &str, key: (&str, &str)) -> u16 {
    tollgate.advance(Duration::from_secs(1));
    tollgate.auth("GET", uri, &[key]).await.status
}

/// `api`'s limit `name` in the quota JSON of `key`'s account.
async fn standing(
    tollgate: &Tollgate,
    key: (&str, &str),
    api: &str,
    name: &str,
) -> serde_json::Value {
    let view = tollgate.quota(&[key]).await.json();
    let api = view["apis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|standing| standing["api"] == api)
        .cloned()
        .unwrap();
    api["limits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|limit| limit["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} in {api}"))
}

#[tokio::test]
async fn a_new_machine_past_the_quota_is_refused_and_the_others_keep_working() {
    let tollgate = Tollgate::with_admin(&example("iot-platform.toml")).await;
    // The trial plan: 2 machines, whichever api names them (detail and status share them).
    assert_eq!(status(&tollgate, "/api/v1/machines/m1", TINY).await, 200);
    assert_eq!(
        status(&tollgate, "/api/v1/machines/m2/status", TINY).await,
        200
    );
    tollgate.advance(Duration::from_secs(1));
    let refused = tollgate.auth("GET", "/api/v1/machines/m3", &[TINY]).await;
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.json(),
        json!({
            "error": "machine_quota_exceeded",
            "api": "machines.detail",
            "message": "machine-quota exceeded for machines.detail (2 machines per month); it resets at 2026-02-01T00:00:00+08:00",
            "retry_after": FEBRUARY_S - T0_S - 3,
        })
    );
    // Machines already used go on, in any api and any spelling of their token.
    assert_eq!(
        status(&tollgate, "/api/v1/machines/M1/status", TINY).await,
        200
    );
    assert_eq!(status(&tollgate, "/api/v1/machines/m2", TINY).await, 200);
    // The refusal counted nothing: the detail api's daily quota saw m1 and m2 only.
    let daily = standing(&tollgate, TINY, "machines.detail", "daily-quota").await;
    assert_eq!(daily["used"], 2);
    assert_eq!(
        standing(&tollgate, TINY, "machines.detail", "machine-quota").await,
        json!({
            "name": "machine-quota",
            "kind": "distinct",
            "noun": "machines",
            "per_period": 2,
            "period": "month",
            "limit": 2,
            "used": 2,
            "remaining": 0,
            "reset": FEBRUARY_S,
            "reset_local": "2026-02-01T00:00:00+08:00",
        })
    );
    let page = tollgate.quota(&[TINY, ("Accept", "text/html")]).await.body;
    assert!(page.contains("2 of 2 machines"), "{page}");
    assert!(page.contains("2 machines per month"), "{page}");
    // A new month in Shanghai: new machines again, one nanosecond after and not before.
    let now = T0_S + 5;
    tollgate.advance(Duration::from_secs(FEBRUARY_S - now) - Duration::from_nanos(1));
    assert_eq!(
        tollgate
            .auth("GET", "/api/v1/machines/m3", &[TINY])
            .await
            .status,
        429
    );
    tollgate.advance_nanos(1);
    assert_eq!(
        tollgate
            .auth("GET", "/api/v1/machines/m3", &[TINY])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_pack_raises_the_machine_quota_and_the_headers_show_requests_not_machines() {
    let tollgate = Tollgate::with_admin(&example("iot-platform.toml")).await;
    for machine in 0..10 {
        let uri = format!("/api/v1/machines/m{machine}");
        assert_eq!(status(&tollgate, &uri, ACME).await, 200, "{uri}");
    }
    tollgate.advance(Duration::from_secs(1));
    let seen = tollgate.auth("GET", "/api/v1/machines/m0", &[ACME]).await;
    assert_eq!(seen.status, 200);
    assert_eq!(
        seen.header("x-ratelimit-resource"),
        Some("rate-limit"),
        "no machine left to add, but requests go on: the headers show the rate"
    );
    assert_eq!(status(&tollgate, "/api/v1/machines/m10", ACME).await, 429);
    let bought = tollgate
        .admin("POST", "/admin/accounts/acme/packs", r#"{"pack":"plus"}"#)
        .await;
    assert_eq!(bought.status, 201, "{}", bought.body);
    assert_eq!(status(&tollgate, "/api/v1/machines/m10", ACME).await, 200);
    let machines = standing(&tollgate, ACME, "machines.status", "machine-quota").await;
    assert_eq!(
        (&machines["used"], &machines["limit"]),
        (&json!(11), &json!(20))
    );
}

/// Devices per app, kept for good, counted by a header; the default body.
const DEVICES: &str = r#"
    [identity]
    api_key = { header = "X-Api-Key" }

    [[accounts]]
    id = "acme"
    keys = ["acme-key"]

    [[routes]]
    api = "telemetry"
    match = "POST /telemetry"

    [[limits]]
    name = "devices"
    distinct = { max = 2, of = "header:X-Device-Id", noun = "devices" }
    per = ["account"]
"#;

#[tokio::test]
async fn a_quota_kept_for_good_never_says_when_and_counts_no_request_without_a_value() {
    let tollgate = Tollgate::start(DEVICES);
    let post = |device: Option<&'static str>| {
        let tollgate = &tollgate;
        async move {
            let mut headers = vec![("X-Api-Key", "acme-key")];
            headers.extend(device.map(|device| ("X-Device-Id", device)));
            tollgate.auth("POST", "/telemetry", &headers).await
        }
    };
    for device in ["d1", "d2", "d1"] {
        assert_eq!(post(Some(device)).await.status, 200, "{device}");
    }
    assert_eq!(post(None).await.status, 200, "no device: nothing counted");
    let refused = post(Some("d3")).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("retry-after"), None, "it never frees up");
    assert_eq!(
        refused.json(),
        json!({
            "error": "distinct_limit_exceeded",
            "message": "At most 2 devices (devices): a new one is refused, those already used go on.",
            "limit": "devices",
            "api": "telemetry",
            "retry_after": null,
        })
    );
    tollgate.advance(Duration::from_secs(100 * 365 * 86_400));
    assert_eq!(post(Some("d3")).await.status, 429, "a century later");
    assert_eq!(post(Some("d2")).await.status, 200);
}

#[tokio::test]
async fn a_refusal_kept_for_good_explains_itself_without_a_time() {
    let policy = format!(
        "[responses]\njson = '{{\"why\":\"{{explanation}}\",\"in\":\"{{retry_in}}\",\"quota\":\"{{quota}}\"}}'\n{DEVICES}"
    );
    let tollgate = Tollgate::start(&policy);
    for device in ["d1", "d2", "d3"] {
        let headers = [("X-Api-Key", "acme-key"), ("X-Device-Id", device)];
        tollgate.auth("POST", "/telemetry", &headers).await;
    }
    let headers = [("X-Api-Key", "acme-key"), ("X-Device-Id", "d3")];
    let refused = tollgate.auth("POST", "/telemetry", &headers).await;
    assert_eq!(
        refused.json(),
        json!({
            "why": "devices (account=acme): 2 of 2 devices used, kept for good",
            "in": "never",
            "quota": "2 devices",
        })
    );
}
