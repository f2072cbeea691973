//! What is counted is what the upstream serves: HEAD is GET, typed path parameters have one
//! spelling, a company header is believed from trusted proxies only, and an IPv4 client on a
//! dual-stack listener is the IPv4 client it is. Each test failed before its rule existed.

use serde_json::json;

use crate::support::{Tollgate, example, policy};

const ACME: (&str, &str) = ("Authorization", "Bearer acme-key");
const GLOBEX: (&str, &str) = ("Authorization", "Bearer globex-key");

/// Two GETs a minute, counted per method.
const GETS: &str = r#"
    [[routes]]
    api = "items"
    match = "GET /items/{id:int}"

    [[limits]]
    name = "gets"
    window = { max = 2, every = "1m" }
    per = ["method", "path"]
    when = { method = ["GET"] }
"#;

#[tokio::test]
async fn head_spends_what_get_spends() {
    let tollgate = Tollgate::start(GETS);
    assert_eq!(tollgate.auth("GET", "/items/1", &[]).await.status, 200);
    assert_eq!(tollgate.auth("HEAD", "/items/1", &[]).await.status, 200);
    // The same bucket for both, by `when.method` and by the `method` dimension alike.
    assert_eq!(tollgate.auth("HEAD", "/items/1", &[]).await.status, 429);
    assert_eq!(tollgate.auth("GET", "/items/1", &[]).await.status, 429);
    assert_eq!(tollgate.auth("head", "/items/1", &[]).await.status, 429);
}

#[test]
fn head_is_no_method_of_its_own_in_a_policy() {
    for (text, expected) in [
        (
            "[[routes]]\napi = \"x\"\nmatch = \"HEAD /x\"\n",
            "policy.toml:3:9: HEAD requests are GET requests",
        ),
        (
            "[[routes]]\napi = \"x\"\nmatch = \"GET /x\"\n[[limits]]\nname = \"l\"\nwindow = { max = 1, every = \"1m\" }\nwhen = { method = [\"head\"] }\n",
            "policy.toml:7:20: HEAD requests are GET requests",
        ),
    ] {
        let errors =
            tollgate_policy::Policy::compile(&tollgate_policy::Source::new("policy.toml", text))
                .unwrap_err()
                .to_string();
        assert!(errors.starts_with(expected), "{errors}");
    }
}

#[tokio::test]
async fn a_typed_id_has_one_bucket_whatever_its_spelling() {
    let tollgate = Tollgate::start(&example("heating-partner.toml"));
    // Burst 3: three spellings of circuit 1 spend it, the canonical one is then refused.
    for spelling in [
        "/hvacs/7/heatingCircuits/01",
        "/hvacs/007/heatingCircuits/1",
        "/hvacs/7/heatingCircuits/%30%31",
    ] {
        assert_eq!(tollgate.auth("GET", spelling, &[ACME]).await.status, 200);
    }
    assert_eq!(
        tollgate
            .auth("GET", "/hvacs/7/heatingCircuits/1", &[ACME])
            .await
            .status,
        429
    );
    // Spellings that are no number of the type are refused: never counted, never passed.
    for spelling in [
        "/hvacs/7/heatingCircuits/+1",
        "/hvacs/7/heatingCircuits/-1",
        "/hvacs/7/heatingCircuits/1.0",
        "/hvacs/7/heatingCircuits/0x1",
        "/hvacs/7/heatingCircuits/%201",
        "/hvacs/7/heatingCircuits/%D9%A1",
        "/hvacs/g7/heatingCircuits/1",
    ] {
        let reply = tollgate.auth("GET", spelling, &[ACME]).await;
        assert_eq!(reply.status, 400, "{spelling}: {}", reply.body);
    }
    // The check API reads it the same way, and says which bucket it spends.
    let answer = tollgate
        .check(json!({
            "method": "GET",
            "path": "/hvacs/0007/heatingCircuits/00001",
            "headers": {"authorization": "Bearer acme-key"},
        }))
        .await;
    assert_eq!(answer["allowed"], false, "{answer}");
}

#[tokio::test]
async fn a_value_not_of_its_type_is_refused_even_where_unrouted_paths_pass() {
    let text = r#"
        [server]
        unmatched = "pass"

        [[routes]]
        api = "items"
        match = "GET /items/{id:int}"

        [[limits]]
        name = "one"
        window = { max = 1, every = "1m" }
    "#;
    let tollgate = Tollgate::start(text);
    assert_eq!(tollgate.auth("GET", "/items/7", &[]).await.status, 200);
    assert_eq!(tollgate.auth("GET", "/items/7", &[]).await.status, 429);
    // An unrouted path passes, uncounted; `+7`, which the upstream may read as 7, does not.
    assert_eq!(tollgate.auth("GET", "/other", &[]).await.status, 200);
    for spelling in ["/items/+7", "/items/%D9%A7", "/items/7.0"] {
        assert_eq!(
            tollgate.auth("GET", spelling, &[]).await.status,
            400,
            "{spelling}"
        );
        let answer = tollgate
            .check(json!({"method": "GET", "path": spelling, "headers": {}}))
            .await;
        assert_eq!(
            (answer["allowed"].clone(), answer["status"].clone()),
            (json!(false), json!(400)),
            "{spelling}"
        );
    }
}

#[test]
fn typed_parameters_are_checked_when_the_policy_loads() {
    for (route, expected) in [
        (
            "match = \"GET /a/{id:int}/b/{id}\"",
            "`{id}` is a parameter of this route already",
        ),
        (
            "match = \"GET /a/{id:number}\"",
            "`number` is not a parameter type",
        ),
        (
            "match = \"GET /a/{*rest:int}\"",
            "a catch-all parameter cannot be typed",
        ),
        (
            "match = \"GET /a/{*rest}\"\nparams = { rest = \".*\" }",
            "`rest` is a catch-all, which cannot be typed",
        ),
        (
            "match = \"GET /a/{id}\"\nparams = { id = '\\d+' }",
            "match every script's digits",
        ),
        (
            "match = \"GET /a/{id}\"\nparams = { other = \"x\" }",
            "`other` is not a parameter of this route",
        ),
    ] {
        let text = format!("[[routes]]\napi = \"a\"\n{route}\n");
        let errors =
            tollgate_policy::Policy::compile(&tollgate_policy::Source::new("p.toml", text))
                .unwrap_err()
                .to_string();
        assert!(errors.contains(expected), "{route}: {errors}");
    }
}

/// What `check-config` warns of in the policy `text`, as it prints it.
fn warnings_of(text: &str) -> Vec<String> {
    policy(text)
        .warnings()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn check_config_warns_of_a_limit_by_what_a_client_spells() {
    let text = r#"
        [[routes]]
        api = "files"
        match = "GET /files/{name}"

        [[routes]]
        api = "items"
        match = "GET /items/{id:uuid}"

        [[limits]]
        name = "per-file"
        window = { max = 1, every = "1m" }
        per = ["param:name"]

        [[limits]]
        name = "per-item"
        window = { max = 1, every = "1m" }
        per = ["path", "param:id"]
        apis = ["items"]

        [[limits]]
        name = "without-a-key"
        token_bucket = { rate = "1/s", burst = 5 }
        per = ["ip"]
        when = { key = "absent" }
    "#;
    let warnings = warnings_of(text);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("policy.toml:13:16: partitioned by the untyped parameter `name`"),
        "{warnings:?}"
    );
}

#[test]
fn check_config_warns_of_distinct_values_counted_as_a_client_spells_them() {
    let text = r#"
        [identity]
        api_key = { header = "X-Api-Key" }

        [[routes]]
        api = "machines"
        match = "GET /machines/{machineId}"

        [[limits]]
        name = "machine-quota"
        distinct = { max = 10, of = "param:machineId", noun = "machines" }
        per = ["account"]
    "#;
    let warnings = warnings_of(text);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(
            "policy.toml:11:37: counting the distinct values of the untyped parameter `machineId`: every spelling of a value is a value of its own (`M1` and `m1` two of them)"
        ),
        "{warnings:?}"
    );
}

/// The heating partner's policy, the company read from `X-Company` where a proxy at
/// 10.0.0.1 sets it.
fn with_company_header() -> String {
    example("heating-partner.toml").replace(
        "[identity]\n",
        "[server]\ncheck_from = [\"127.0.0.1/32\", \"10.0.0.1/32\"]\n\n[identity]\ncompany_header = \"X-Company\"\ntrusted_proxies = [\"10.0.0.1/32\"]\n",
    )
}

#[tokio::test]
async fn a_company_header_from_a_client_chooses_no_bucket() {
    let tollgate = Tollgate::start(&with_company_header());
    let circuit = "/hvacs/7/heatingCircuits/1";
    // Six companies named by one client: one bucket, its account's company's (burst 3).
    let statuses = {
        let mut statuses = Vec::new();
        for company in ["x1", "x2", "x3", "x4", "x5", "x6"] {
            let reply = tollgate
                .auth("GET", circuit, &[ACME, ("X-Company", company)])
                .await;
            statuses.push(reply.status);
        }
        statuses
    };
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
    // Naming another customer's company spent nothing of its bucket.
    for _ in 0..3 {
        assert_eq!(tollgate.auth("GET", circuit, &[GLOBEX]).await.status, 200);
    }
}

#[tokio::test]
async fn a_company_header_from_a_trusted_proxy_is_believed() {
    let tollgate = Tollgate::start(&with_company_header()).with_peer("10.0.0.1:40000");
    let circuit = "/hvacs/7/heatingCircuits/1";
    let via = |company| {
        [
            ACME,
            ("X-Company", company),
            ("X-Forwarded-For", "203.0.113.9"),
        ]
    };
    for _ in 0..3 {
        assert_eq!(tollgate.auth("GET", circuit, &via("x1")).await.status, 200);
    }
    assert_eq!(tollgate.auth("GET", circuit, &via("x1")).await.status, 429);
    assert_eq!(tollgate.auth("GET", circuit, &via("x2")).await.status, 200);
}

#[tokio::test]
async fn an_ipv4_mapped_peer_is_its_ipv4_address() {
    let text = r#"
        [server]
        check_from = ["10.0.0.0/8"]

        [identity]
        trusted_proxies = ["10.0.0.1/32"]

        [[routes]]
        api = "x"
        match = "GET /x"

        [[limits]]
        name = "per-ip"
        window = { max = 1, every = "1m" }
        per = ["ip"]
    "#;
    // A dual-stack listener sees the IPv4 proxy as ::ffff:10.0.0.1: still allowed to ask,
    // still trusted for X-Forwarded-For.
    let mapped = Tollgate::start(text).with_peer("[::ffff:10.0.0.1]:40000");
    let client = [("X-Forwarded-For", "203.0.113.9")];
    assert_eq!(mapped.auth("GET", "/x", &client).await.status, 200);
    let answer = mapped.auth("GET", "/x", &client).await;
    assert_eq!(answer.status, 429, "{}", answer.body);
    let other = [("X-Forwarded-For", "203.0.113.10")];
    assert_eq!(mapped.auth("GET", "/x", &other).await.status, 200);
}

#[tokio::test]
async fn a_bearer_token_in_the_query_is_refused_or_read_as_the_policy_says() {
    let circuit = "/hvacs/7/heatingCircuits/1";
    let in_query = "/hvacs/7/heatingCircuits/1?access_token=acme-key";
    // By default the token is read from Authorization only: one in the query, which an
    // upstream may read, is refused rather than counted as anonymous.
    let refusing = Tollgate::start(&example("heating-partner.toml"));
    let reply = refusing.auth("GET", in_query, &[]).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("access_token"), "{}", reply.body);

    let reading = Tollgate::start(&example("heating-partner.toml").replace(
        "api_key = { bearer = true }",
        "api_key = { bearer = true, access_token = true }",
    ));
    for _ in 0..3 {
        assert_eq!(reading.auth("GET", circuit, &[ACME]).await.status, 200);
    }
    // RFC 6750's `access_token` is acme's key: its spent bucket, not an anonymous one.
    let reply = reading.auth("GET", in_query, &[]).await;
    assert_eq!(reply.status, 429, "{}", reply.body);
    for (uri, why) in [
        (
            "/hvacs/7/heatingCircuits/2?access_token=globex-key",
            "a token both ways",
        ),
        (
            "/hvacs/7/heatingCircuits/2?access_token=",
            "an empty one beside a real one",
        ),
        (
            "/hvacs/7/heatingCircuits/2?access_token=a&access_token=b",
            "two",
        ),
        (
            "/hvacs/7/heatingCircuits/2?ACCESS_TOKEN=acme-key",
            "another spelling",
        ),
    ] {
        assert_eq!(reading.auth("GET", uri, &[ACME]).await.status, 400, "{why}");
    }
    let wrong = reading
        .auth("GET", "/hvacs/7/heatingCircuits/2?access_token=nobody", &[])
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
}

#[test]
fn check_config_warns_of_keyless_buckets_no_address_guards() {
    let text = r#"
        [[routes]]
        api = "files"
        match = "GET /files/{id:int}"

        [[limits]]
        name = "per-file"
        window = { max = 1, every = "1m" }
        per = ["param:id"]
    "#;
    let warnings = warnings_of(text);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("requests without a key make a partition per `param:id`"),
        "{warnings:?}"
    );
    let guarded = format!(
        "{text}\n[[limits]]\nname = \"guard\"\ntoken_bucket = {{ rate = \"1/s\", burst = 5 }}\nper = [\"ip\"]\nwhen = {{ key = \"absent\" }}\n"
    );
    assert!(warnings_of(&guarded).is_empty());
}
