//! The proxy recipes of `docs/proxies.md`, each run exactly as printed there (`proxy.rs`): Debian's
//! nginx or Caddy in front of a real upstream, asking a real Tollgate configured with the page's
//! own policy lines, seen by a client.

mod proxy;

use serde_json::json;

pub(crate) use self::proxy::{Kind, Proxy, installed};
use crate::support::{Reply, Tollgate, Upstream, send};

/// The test's policy: the page's lines for `kind`, then an account, a limited and an exempt
/// route, and 3 requests an hour per account.
fn policy(kind: Kind) -> String {
    format!(
        r#"{}
[[accounts]]
id = "acme"
keys = ["acme-key"]

[[routes]]
api = "machines"
match = "GET /machines/{{id}}"

[[routes]]
api = "health"
match = "GET /healthz"
exempt = true

[[limits]]
name = "burst"
token_bucket = {{ rate = "1/1h", burst = 3 }}
per = ["account"]
"#,
        kind.policy()
    )
}

const KEY: (&str, &str) = ("X-Api-Key", "acme-key");

/// Every answer the client gets: no header meant for the proxy alone.
fn for_the_client(reply: &Reply) -> &Reply {
    assert_eq!(
        reply.header("tollgate-refusal"),
        None,
        "an internal header reached the client: {:?}",
        reply.headers
    );
    reply
}

/// A JSON body.
fn json_of(reply: &Reply) -> serde_json::Value {
    assert_eq!(reply.header("content-type"), Some("application/json"));
    serde_json::from_str(&reply.body).unwrap_or_else(|_| panic!("not JSON: {}", reply.body))
}

/// What a client sees through the `kind` recipe: the API's answers with the rate-limit
/// headers, Tollgate's refusals as Tollgate gives them, its own 401, the quota page and its
/// sign-in, and nothing through when Tollgate cannot be asked.
async fn through_the_recipe(kind: Kind) {
    let upstream = Upstream::start().await;
    let tollgate = Tollgate::start(&policy(kind), None);
    let proxy = Proxy::start(kind, tollgate.address, upstream.address);
    // Each call claims, both ways a proxy may name it, to be the exempt health check, and
    // another client address.
    let spoofed = [
        KEY,
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/healthz"),
        ("X-Original-Method", "GET"),
        ("X-Original-URI", "/healthz"),
        ("X-Forwarded-For", "203.0.113.9"),
    ];
    for (remaining, reset) in [(2, 3600), (1, 7200), (0, 10800)] {
        let reply = proxy.get("/machines/1", &spoofed).await;
        let reply = for_the_client(&reply);
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.header("x-upstream"), Some("yes"));
        assert_eq!(reply.body, "GET /machines/1 xff=127.0.0.1 body=");
        let ratelimit = format!("\"burst\";r={remaining};t={reset}");
        assert_eq!(reply.header("ratelimit"), Some(ratelimit.as_str()));
        assert_eq!(reply.header("ratelimit-policy"), Some("\"burst\";q=3"));
    }
    for _ in 0..2 {
        let refused = proxy.get("/machines/1", &spoofed).await;
        let refused = for_the_client(&refused);
        assert_eq!(refused.status, 429, "{}", refused.body);
        assert_eq!(refused.header("retry-after"), Some("3600"));
        assert_eq!(refused.header("ratelimit"), Some("\"burst\";r=0;t=10800"));
        assert_eq!(refused.header("ratelimit-policy"), Some("\"burst\";q=3"));
        assert_eq!(
            json_of(refused),
            json!({
                "error": "rate_limited",
                "message": "Maximum number of requests (1 per hour) reached. Try again in 3600 seconds.",
                "limit": "burst",
                "api": "machines",
                "retry_after": 3600,
            })
        );
    }
    assert_eq!(upstream.hits(), 3, "a refusal never reaches the API");

    let unknown = proxy.get("/machines/1", &[("X-Api-Key", "stolen")]).await;
    assert_eq!(for_the_client(&unknown).status, 401, "{}", unknown.body);
    assert_eq!(
        json_of(&unknown),
        json!({"error": "unauthenticated", "message": "unknown API key"})
    );
    let unrouted = proxy.get("/nowhere", &[KEY]).await;
    assert_eq!(for_the_client(&unrouted).status, 403, "{}", unrouted.body);
    assert_eq!(json_of(&unrouted)["error"], "no_route");
    if kind == Kind::Nginx {
        let internal = proxy.get("/_tollgate/auth", &[KEY]).await;
        assert_eq!(internal.status, 404, "nginx's question is internal");
    }
    assert_eq!(upstream.hits(), 3);

    // The exempt route goes through, with no rate-limit header (nothing was counted).
    let exempt = proxy.get("/healthz", &[KEY]).await;
    assert_eq!(
        (for_the_client(&exempt).status, exempt.body.as_str()),
        (200, "GET /healthz xff=127.0.0.1 body=")
    );
    assert_eq!(exempt.header("ratelimit"), None, "{:?}", exempt.headers);
    assert_eq!(exempt.header("ratelimit-policy"), None);
    assert_eq!(upstream.hits(), 4);

    customers_page(&proxy).await;
    assert_eq!(upstream.hits(), 4, "the page is Tollgate's own");

    // A block is refused with 423, as Tollgate answers it.
    let bearer = format!("Bearer {}", tollgate.admin_token().trim());
    let block = send(
        tollgate.admin,
        "POST",
        "/admin/blocks",
        &[("authorization", &bearer)],
        r#"{"account":"acme","seconds":600}"#,
    )
    .await;
    assert_eq!(block.status, 201, "{}", block.body);
    let blocked = proxy.get("/machines/1", &[KEY]).await;
    assert_eq!(for_the_client(&blocked).status, 423, "{}", blocked.body);
    assert_eq!(blocked.header("retry-after"), Some("600"));
    assert_eq!(json_of(&blocked)["error"], "blocked");
    assert_eq!(upstream.hits(), 4);

    // Not one error line for all these refusals.
    let log = proxy.log();
    let errors = match kind {
        Kind::Nginx => "[error]",
        Kind::Caddy => r#""level":"error""#,
    };
    assert!(!log.contains(errors), "{log}");
    assert!(!log.contains("auth request unexpected status"), "{log}");

    // Tollgate gone: nothing goes through, and now the log says why.
    assert!(tollgate.terminate().success());
    let unasked = proxy.get("/machines/1", &[KEY]).await;
    match kind {
        Kind::Nginx => {
            assert_eq!(unasked.status, 503, "{}", unasked.body);
            assert_eq!(json_of(&unasked)["error"], "unavailable");
            assert!(
                proxy.log().contains("auth request unexpected status: 502"),
                "{}",
                proxy.log()
            );
        }
        Kind::Caddy => {
            assert_eq!(unasked.status, 502, "{}", unasked.body);
            assert!(proxy.log().contains(errors), "{}", proxy.log());
        }
    }
    assert_eq!(upstream.hits(), 4);
}

/// The customer's page through `proxy`: the JSON and the page with a key, signing in (the
/// client's host reaches Tollgate, or the form would count as sent from elsewhere) and out.
async fn customers_page(proxy: &Proxy) {
    let quota = proxy.get("/_tollgate/quota", &[KEY]).await;
    assert_eq!(for_the_client(&quota).status, 200, "{}", quota.body);
    let quota = json_of(&quota);
    assert_eq!(quota["account"], "acme");
    let burst = &quota["apis"][0]["limits"][0];
    assert_eq!(
        (&burst["name"], &burst["used"], &burst["remaining"]),
        (&json!("burst"), &json!(3), &json!(0))
    );
    let page = proxy
        .get("/_tollgate/quota", &[KEY, ("Accept", "text/html")])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        page.body.contains("Account <strong>acme</strong>"),
        "{}",
        page.body
    );
    let unknown = proxy
        .get("/_tollgate/quota", &[("X-Api-Key", "stolen")])
        .await;
    assert_eq!(unknown.status, 401, "{}", unknown.body);
    assert_eq!(json_of(&unknown)["error"], "unauthenticated");

    let origin = format!("http://{}", proxy.address);
    let from_the_page = [
        ("Origin", origin.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let signed_in = proxy
        .post("/_tollgate/quota/sign-in", &from_the_page, "key=acme-key")
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(signed_in.header("location"), Some("/_tollgate/quota"));
    // Not `Secure`: Tollgate saw the loopback host the client asked for.
    assert_eq!(
        signed_in.header("set-cookie"),
        Some("tollgate_key=acme-key; Path=/_tollgate; Max-Age=2592000; HttpOnly; SameSite=Strict")
    );
    let page = proxy
        .get(
            "/_tollgate/quota",
            &[("Cookie", "tollgate_key=acme-key"), ("Accept", "text/html")],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Account <strong>acme</strong>"),
        "{}",
        page.body
    );
    let signed_out = proxy
        .post("/_tollgate/quota/sign-out", &from_the_page, "")
        .await;
    assert_eq!(signed_out.status, 303, "{}", signed_out.body);
    assert_eq!(
        signed_out.header("set-cookie"),
        Some("tollgate_key=; Path=/_tollgate; Max-Age=0; HttpOnly; SameSite=Strict")
    );
}

#[tokio::test]
async fn the_nginx_recipe_answers_as_tollgate_does_and_logs_no_refusal() {
    through_the_recipe(Kind::Nginx).await;
}

#[tokio::test]
async fn the_caddy_recipe_answers_as_tollgate_does_and_leaks_no_internal_header() {
    through_the_recipe(Kind::Caddy).await;
}
