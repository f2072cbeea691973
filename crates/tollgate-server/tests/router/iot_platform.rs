//! `examples/iot-platform.toml` (seed page 000, an industrial IoT platform) in process: a daily
//! quota per api on the Shanghai calendar day and a rate per api, plans, third-party apps, upgrade
//! packs bought through the admin API, and the customer's own view.

use std::time::Duration;

use serde_json::json;

use crate::support::{T0_S, Tollgate, example, pairs};

const ACME: (&str, &str) = ("Authorization", "Bearer acme-key");
const TINY: (&str, &str) = ("Authorization", "Bearer tiny-key");

fn start() -> Tollgate {
    Tollgate::start(&example("iot-platform.toml"))
}

#[tokio::test]
async fn the_trial_plan_has_5_a_day_per_api_until_midnight_in_shanghai() {
    let tollgate = start();
    for _ in 0..5 {
        assert_eq!(
            tollgate
                .auth("GET", "/api/v1/machines", &[TINY])
                .await
                .status,
            200
        );
    }
    let exhausted = tollgate.auth("GET", "/api/v1/machines", &[TINY]).await;
    assert_eq!(exhausted.status, 429);
    assert_eq!(
        exhausted.json(),
        json!({
            "error": "daily_quota_exhausted",
            "api": "machines.list",
            "message": "daily-quota exceeded for machines.list (5 per day); it resets at 2026-01-02T00:00:00+08:00",
            "retry_after": 57600,
        })
    );
    assert_eq!(
        exhausted.limit_headers(),
        pairs([
            ("ratelimit-policy", "\"daily-quota\";q=5"),
            ("ratelimit", "\"daily-quota\";r=0;t=57600"),
            ("x-ratelimit-limit", "5"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1767283200"),
            ("x-ratelimit-used", "5"),
            ("x-ratelimit-resource", "daily-quota"),
            ("retry-after", "57600"),
        ])
    );
    assert_eq!(
        tollgate
            .auth("GET", "/api/v1/machines/7", &[TINY])
            .await
            .status,
        200,
        "each api has its own quota"
    );
    tollgate.advance(Duration::from_secs(57_600) - Duration::from_nanos(1));
    assert_eq!(
        tollgate
            .auth("GET", "/api/v1/machines", &[TINY])
            .await
            .status,
        429
    );
    tollgate.advance_nanos(1);
    assert_eq!(
        tollgate
            .auth("GET", "/api/v1/machines", &[TINY])
            .await
            .status,
        200,
        "a new day in Shanghai"
    );
}

#[tokio::test]
async fn the_basic_plans_rate_is_one_a_second_per_api() {
    let tollgate = start();
    assert_eq!(
        tollgate
            .auth("GET", "/api/v1/machines", &[ACME])
            .await
            .status,
        200
    );
    let fast = tollgate.auth("GET", "/api/v1/machines", &[ACME]).await;
    assert_eq!(fast.status, 429);
    assert_eq!(
        fast.json(),
        json!({
            "error": "rate_limit_exceeded",
            "api": "machines.list",
            "message": "rate-limit exceeded for machines.list (1 per second); it resets at 2026-01-01T08:00:01+08:00",
            "retry_after": 1,
        })
    );
    assert_eq!(
        tollgate
            .auth("GET", "/api/v1/machines/7", &[ACME])
            .await
            .status,
        200,
        "another api, another rate"
    );
    tollgate.advance(Duration::from_secs(1) - Duration::from_nanos(1));
    assert_eq!(
        tollgate
            .auth("GET", "/api/v1/machines", &[ACME])
            .await
            .status,
        429
    );
    tollgate.advance_nanos(1);
    let again = tollgate.auth("GET", "/api/v1/machines", &[ACME]).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        again.limit_headers(),
        pairs([
            ("ratelimit-policy", "\"rate-limit\";q=1"),
            ("ratelimit", "\"rate-limit\";r=0;t=1"),
            ("x-ratelimit-limit", "1"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1767225602"),
            ("x-ratelimit-used", "1"),
            ("x-ratelimit-resource", "rate-limit"),
        ]),
        "the limit with the fewest units left: the rate, not the quota's 998"
    );
}

#[tokio::test]
async fn a_third_party_app_spends_the_quota_of_the_account_whose_key_it_sends() {
    let tollgate = start();
    let ask = |headers: serde_json::Value| json!({ "method": "GET", "path": "/api/v1/stats/cutting-length", "headers": headers });
    let by_app = tollgate
        .check(ask(json!({
            "authorization": "Bearer acme-key",
            "x-app-id": "fleetview",
            "x-app-secret": "fleetview-secret",
        })))
        .await;
    assert_eq!(
        (
            &by_app["allowed"],
            &by_app["account"],
            &by_app["app"],
            &by_app["plan"],
            &by_app["api"]
        ),
        (
            &json!(true),
            &json!("acme"),
            &json!("fleetview"),
            &json!("basic"),
            &json!("stats.daily-cutting-length")
        )
    );
    assert_eq!(by_app["limits"][0]["remaining"], 999);
    tollgate.advance(Duration::from_secs(1));
    let own = tollgate
        .check(ask(json!({ "authorization": "Bearer acme-key" })))
        .await;
    assert_eq!(
        (&own["app"], &own["limits"][0]["remaining"]),
        (&json!(null), &json!(998))
    );
}

/// Acme's standing on `stats.daily-cutting-length` as its quota page shows it.
async fn stats(tollgate: &Tollgate) -> serde_json::Value {
    let view = tollgate.quota(&[ACME]).await.json();
    view["apis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|api| api["api"] == "stats.daily-cutting-length")
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn the_customer_sees_each_apis_quota_and_rate_its_plan_and_pack() {
    let tollgate = Tollgate::with_admin(&example("iot-platform.toml")).await;
    tollgate
        .auth("GET", "/api/v1/stats/cutting-length", &[ACME])
        .await;
    let bought = tollgate
        .admin("POST", "/admin/accounts/acme/packs", r#"{"pack":"plus"}"#)
        .await;
    assert_eq!(bought.status, 201, "{}", bought.body);
    let view = tollgate.quota(&[ACME]).await.json();
    let year = T0_S + 365 * 86_400;
    assert_eq!(
        (&view["account"], &view["plan"], &view["pack"]),
        (
            &json!("acme"),
            &json!("basic"),
            &json!({
                "name": "plus",
                "expires": year,
                "expires_local": "2027-01-01T08:00:00+08:00",
            })
        )
    );
    let apis: Vec<&str> = view["apis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|api| api["api"].as_str().unwrap())
        .collect();
    assert_eq!(
        apis,
        [
            "machines.list",
            "machines.detail",
            "machines.status",
            "stats.daily-cutting-length",
            "tasks.upload"
        ]
    );
    assert_eq!(
        stats(&tollgate).await["limits"],
        json!([
            {
                "name": "daily-quota",
                "kind": "quota",
                "per_period": 5000,
                "period": "day",
                "limit": 5000,
                "used": 1,
                "remaining": 4999,
                "reset": 1_767_283_200_u64,
                "reset_local": "2026-01-02T00:00:00+08:00",
            },
            {
                "name": "rate-limit",
                "kind": "rate",
                "per_period": 1,
                "period": "second",
                "limit": 1,
                "used": 1,
                "remaining": 0,
                "reset": T0_S + 1,
                "reset_local": "2026-01-01T08:00:01+08:00",
            },
        ]),
        "the pack raised the quota, not the rate"
    );
}

#[tokio::test]
async fn a_pack_applies_until_exactly_its_expiry() {
    let tollgate = Tollgate::with_admin(&example("iot-platform.toml")).await;
    let bought = tollgate
        .admin("POST", "/admin/accounts/acme/packs", r#"{"pack":"plus"}"#)
        .await;
    assert_eq!(bought.status, 201, "{}", bought.body);
    tollgate.advance(Duration::from_secs(365 * 86_400) - Duration::from_nanos(1));
    assert_eq!(stats(&tollgate).await["limits"][0]["limit"], 5000);
    tollgate.advance_nanos(1);
    assert_eq!(stats(&tollgate).await["limits"][0]["limit"], 1000);
    assert_eq!(tollgate.quota(&[ACME]).await.json()["pack"], json!(null));
}

#[tokio::test]
async fn the_same_pack_again_renews_it_and_another_replaces_it_at_once() {
    let tollgate = Tollgate::with_admin(&example("iot-platform.toml")).await;
    let buy = |pack: &'static str| {
        let tollgate = &tollgate;
        async move {
            let body = format!(r#"{{"pack":"{pack}"}}"#);
            let bought = tollgate
                .admin("POST", "/admin/accounts/acme/packs", &body)
                .await;
            assert_eq!(bought.status, 201, "{}", bought.body);
        }
    };
    let pack = || async { tollgate.quota(&[ACME]).await.json()["pack"].clone() };
    buy("plus").await;
    tollgate.advance(Duration::from_secs(86_400));
    buy("plus").await;
    assert_eq!(
        pack().await["expires"],
        T0_S + 2 * 365 * 86_400,
        "renewed from its expiry, not from now"
    );
    tollgate.advance(Duration::from_secs(1));
    buy("max").await;
    let max = pack().await;
    assert_eq!(
        (&max["name"], &max["expires"]),
        (&json!("max"), &json!(T0_S + 86_401 + 365 * 86_400)),
        "a year from now"
    );
    assert_eq!(stats(&tollgate).await["limits"][0]["limit"], 20000);
}

#[tokio::test]
async fn two_purchases_in_the_same_instant_are_both_kept() {
    let tollgate = Tollgate::with_admin(&example("iot-platform.toml")).await;
    for pack in ["plus", "max"] {
        let body = format!(r#"{{"pack":"{pack}"}}"#);
        let bought = tollgate
            .admin("POST", "/admin/accounts/acme/packs", &body)
            .await;
        assert_eq!(bought.status, 201, "{pack}: {}", bought.body);
    }
    assert_eq!(stats(&tollgate).await["limits"][0]["limit"], 20000);
}

#[tokio::test]
async fn the_admin_api_refuses_a_file_account_s_id_and_a_plan_the_policy_lacks() {
    let tollgate = Tollgate::with_admin(&example("iot-platform.toml")).await;
    let taken = tollgate
        .admin("POST", "/admin/accounts", r#"{"id":"acme"}"#)
        .await;
    assert_eq!(taken.status, 409, "{}", taken.body);
    assert_eq!(taken.json()["code"], "duplicate_account");
    let unknown = tollgate
        .admin(
            "POST",
            "/admin/accounts",
            r#"{"id":"initech","plan":"platinum"}"#,
        )
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert_eq!(unknown.json()["code"], "unknown_plan");
    let created = tollgate
        .admin(
            "POST",
            "/admin/accounts",
            r#"{"id":"initech","plan":"pro"}"#,
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let changed = tollgate
        .admin("PATCH", "/admin/accounts/initech", r#"{"plan":"platinum"}"#)
        .await;
    assert_eq!(changed.status, 400, "{}", changed.body);
    assert_eq!(changed.json()["code"], "unknown_plan");
    let cleared = tollgate
        .admin("PATCH", "/admin/accounts/initech", r#"{"plan":null}"#)
        .await;
    assert_eq!(cleared.status, 200, "{}", cleared.body);
}

/// A pack bought at an instant that is not a whole second expires at one instant, whichever
/// field says it: the quota JSON's `expires` and `expires_local`, and the ledger's `expires_at`.
#[tokio::test]
async fn a_pack_s_expiry_reads_as_one_instant() {
    let tollgate = Tollgate::with_admin(&example("iot-platform.toml")).await;
    tollgate.advance_nanos(479_539_569);
    let bought = tollgate
        .admin("POST", "/admin/accounts/acme/packs", r#"{"pack":"plus"}"#)
        .await;
    assert_eq!(bought.status, 201, "{}", bought.body);
    let pack = tollgate.quota(&[ACME]).await.json()["pack"].clone();
    let expires = pack["expires"].as_u64().unwrap();
    // A year from the purchase, rounded up to the second.
    assert_eq!(expires, T0_S + 365 * 86_400 + 1);
    let local: jiff::Timestamp = pack["expires_local"].as_str().unwrap().parse().unwrap();
    assert_eq!(u64::try_from(local.as_second()).unwrap(), expires);
    assert_eq!(bought.json()["expires_at"], expires);
}
