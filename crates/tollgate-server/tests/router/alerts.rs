//! The admin API's view of quota alerts: which receiver an account's alerts go to (its own,
//! its plan's or the policy's), set and cleared, and the answers to bad input.

use serde_json::json;

use crate::support::Tollgate;

const POLICY: &str = r#"
    [[accounts]]
    id = "acme"
    plan = "basic"
    keys = ["acme-key"]

    [plans.basic]
    [plans.pro]

    [[limits]]
    name = "daily"
    window = { max = 1000, every = "day", align = "calendar" }
    per = ["account"]

    [[limits]]
    name = "burst"
    token_bucket = { rate = "10/s", burst = 20 }

    [alerts]
    url = "http://hooks.example.com/all"
    plans.pro = "http://hooks.example.com/pro"
    secret = "whsec_0123456789abcdef"
    at = [50, 90, 100]
    pack_expiry = ["7d"]
"#;

async fn receiver(tollgate: &Tollgate, id: &str) -> serde_json::Value {
    let reply = tollgate
        .admin("GET", &format!("/admin/accounts/{id}/alerts"), "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    json!([body["receiver"], body["url"]])
}

#[tokio::test]
async fn an_account_s_alerts_go_to_its_own_receiver_else_its_plan_s_else_the_policy_s() {
    let tollgate = Tollgate::with_admin(POLICY).await;
    let created = tollgate
        .admin(
            "POST",
            "/admin/accounts",
            r#"{"id":"initech","plan":"pro"}"#,
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let listing = tollgate
        .admin("GET", "/admin/accounts/acme/alerts", "")
        .await
        .json();
    assert_eq!(
        listing,
        json!({
            "account": "acme", "url": null, "receiver": "policy",
            "limits": ["daily"], "thresholds": [50, 90, 100], "pack_expiry_seconds": [604_800],
            "deliveries": [],
        })
    );
    assert_eq!(receiver(&tollgate, "initech").await, json!(["plan", null]));
    let own = r#"{"url":"http://hooks.initech.example/t?token=1"}"#;
    let set = tollgate
        .admin("PUT", "/admin/accounts/initech/alerts", own)
        .await;
    assert_eq!(set.status, 204, "{}", set.body);
    assert_eq!(
        receiver(&tollgate, "initech").await,
        json!(["account", "http://hooks.initech.example/t?token=1"])
    );
    let cleared = tollgate
        .admin("PUT", "/admin/accounts/initech/alerts", r#"{"url":null}"#)
        .await;
    assert_eq!(cleared.status, 204);
    assert_eq!(receiver(&tollgate, "initech").await, json!(["plan", null]));
}

#[tokio::test]
async fn bad_receivers_and_unknown_accounts_are_refused() {
    let tollgate = Tollgate::with_admin(POLICY).await;
    let put = |id: &'static str, body: &'static str| {
        let tollgate = &tollgate;
        async move {
            let reply = tollgate
                .admin("PUT", &format!("/admin/accounts/{id}/alerts"), body)
                .await;
            (
                reply.status,
                reply.json()["code"].as_str().unwrap_or("").to_owned(),
            )
        }
    };
    assert_eq!(
        put("acme", r#"{"url":"https://x"}"#).await,
        (400, "bad_url".to_owned())
    );
    assert_eq!(
        put("acme", r#"{"url":"http://"}"#).await,
        (400, "bad_url".to_owned())
    );
    assert_eq!(
        put("acme", r#"{"uri":"http://x"}"#).await,
        (400, "bad_request".to_owned())
    );
    assert_eq!(
        put("nobody", r#"{"url":"http://x"}"#).await,
        (404, "unknown_account".to_owned())
    );
    let unknown = tollgate
        .admin("GET", "/admin/accounts/nobody/alerts", "")
        .await;
    assert_eq!(
        (unknown.status, unknown.json()["code"].clone()),
        (404, json!("unknown_account"))
    );
}
