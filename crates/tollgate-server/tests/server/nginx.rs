//! A real nginx (Debian's, with `auth_request`) in front of a real upstream, asking Tollgate's
//! forward-auth, running the nginx.conf of `docs/proxies.md` as printed there (see
//! `recipes.rs`): spoofed headers, unrouted paths and unreadable ones.

use crate::recipes::{Kind, Proxy};
use crate::support::{Tollgate, Upstream};

const POLICY: &str = r#"
    [server]
    forward_auth = "nginx"

    [identity]
    api_key = { header = "X-Api-Key" }

    [[accounts]]
    id = "acme"
    keys = ["acme-key"]

    [[routes]]
    api = "machines"
    match = "GET /machines/{id}"

    [[routes]]
    api = "health"
    match = "GET /healthz"
    exempt = true

    [[limits]]
    name = "burst"
    token_bucket = { rate = "1/1h", burst = 5 }
    per = ["account"]
"#;

const KEY: (&str, &str) = ("X-Api-Key", "acme-key");

#[tokio::test]
async fn behind_nginx_limits_hold_and_spoofed_headers_change_nothing() {
    let upstream = Upstream::start().await;
    let tollgate = Tollgate::start(POLICY, None);
    let nginx = Proxy::start(Kind::Nginx, tollgate.address, upstream.address);
    let spoofed = [
        KEY,
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/healthz"),
    ];
    for call in 1..=5 {
        let reply = nginx.get("/machines/1", &spoofed).await;
        assert_eq!(reply.status, 200, "call {call}: {}", reply.body);
        assert_eq!(reply.header("x-upstream"), Some("yes"));
        assert!(reply.header("ratelimit").is_some(), "{:?}", reply.headers);
    }
    // Ten more, each claiming to be the exempt health check: all refused, none forwarded.
    for _ in 0..10 {
        let reply = nginx.get("/machines/1", &spoofed).await;
        assert_eq!(reply.status, 429, "{}", reply.body);
        assert_eq!(reply.header("retry-after"), Some("3600"));
        assert_eq!(reply.header("ratelimit"), Some("\"burst\";r=0;t=18000"));
        assert_eq!(reply.header("ratelimit-policy"), Some("\"burst\";q=5"));
        let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(
            body["error"], "rate_limited",
            "Tollgate's own body: {}",
            reply.body
        );
        assert_eq!(body["limit"], "burst");
    }
    assert_eq!(upstream.hits(), 5);
    // The exempt route itself is still free.
    assert_eq!(nginx.get("/healthz", &[KEY]).await.status, 200);
}

#[tokio::test]
async fn behind_nginx_an_unrouted_path_is_never_a_429_or_a_500() {
    let upstream = Upstream::start().await;
    let tollgate = Tollgate::start(POLICY, None);
    let nginx = Proxy::start(Kind::Nginx, tollgate.address, upstream.address);
    let reply = nginx.get("/nowhere", &[KEY]).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(upstream.hits(), 0);

    let passing = POLICY.replace(
        "forward_auth = \"nginx\"",
        "forward_auth = \"nginx\"\nunmatched = \"pass\"",
    );
    let tollgate = Tollgate::start(&passing, None);
    let nginx = Proxy::start(Kind::Nginx, tollgate.address, upstream.address);
    let reply = nginx.get("/nowhere", &[KEY]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(upstream.hits(), 1);

    // A path Tollgate refuses to read is the client's 400, with Tollgate's reason.
    let reply = nginx.get("/machines/a%2Fb", &[KEY]).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("encoded slash"), "{}", reply.body);
    assert_eq!(upstream.hits(), 1);
}
