//! Requests through a compiled policy: who, which route, which limits, which partitions.

use std::time::Duration;

use tollgate_core::{Limiter, ManualClock, MemoryStore};
use tollgate_policy::{Plan, Policy, RequestFacts, Resolution, Source};

use crate::example;

fn resolve<'p>(
    policy: &'p Policy,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
) -> Resolution<'p> {
    policy.resolve(&RequestFacts {
        method,
        uri,
        headers,
        client_ip: None,
        cost: None,
    })
}

fn limited<'p>(resolution: Resolution<'p>) -> Plan<'p> {
    match resolution {
        Resolution::Limited(plan) => plan,
        other => panic!("expected limits, got {other:?}"),
    }
}

#[test]
fn accounts_plans_and_limits() {
    let policy = Policy::load(&example("quickstart.toml")).unwrap();
    let alice = limited(resolve(
        &policy,
        "GET",
        "/hello/world",
        &[("X-Api-Key", "alice-key")],
    ));
    assert_eq!(
        (alice.api, alice.account, alice.plan),
        ("greetings", Some("alice"), Some("free"))
    );
    let names: Vec<&str> = alice.enforced.limits.iter().map(|l| l.name()).collect();
    assert_eq!(names, ["per-second", "daily"]);

    // The pro plan's daily quota is 10,000; the store reports it as the limit.
    let bob = limited(resolve(
        &policy,
        "get",
        "/hello/world",
        &[("x-api-key", "bob-key")],
    ));
    let limiter = Limiter::new(
        MemoryStore::new(),
        ManualClock::new(1_767_225_600_000_000_000),
    );
    let decision = limiter.acquire(&bob.enforced.requests).unwrap();
    assert_eq!(decision.outcomes()[1].limit(), 10_000);
    assert_eq!(decision.outcomes()[1].remaining(), 9_999);

    // Without a key: the default plan, no account.
    let anonymous = limited(resolve(&policy, "GET", "/hello/x", &[]));
    assert_eq!((anonymous.account, anonymous.plan), (None, Some("free")));
}

#[test]
fn unknown_keys_missing_routes_and_exempt_routes() {
    let policy = Policy::load(&example("quickstart.toml")).unwrap();
    assert!(matches!(
        resolve(&policy, "GET", "/hello/x", &[("X-Api-Key", "stolen")]),
        Resolution::Unauthenticated("unknown API key")
    ));
    assert!(matches!(
        resolve(&policy, "DELETE", "/hello/x", &[]),
        Resolution::NoRoute
    ));
    assert!(matches!(
        resolve(&policy, "GET", "/nowhere", &[]),
        Resolution::NoRoute
    ));
    assert!(matches!(
        resolve(&policy, "GET", "/healthz", &[]),
        Resolution::Exempt { api: "health" }
    ));
}

#[test]
fn every_spelling_of_a_path_shares_its_partition() {
    let policy = Policy::load(&example("quickstart.toml")).unwrap();
    let key = |uri| {
        limited(resolve(&policy, "GET", uri, &[("X-Api-Key", "alice-key")]))
            .enforced
            .requests[0]
            .key
    };
    let plain = key("/hello/world");
    for uri in [
        "//hello/world",
        "/hello/./world/",
        "/x/../hello/%77orld",
        "/hello/world?utm=1",
    ] {
        assert_eq!(key(uri), plain, "{uri}");
    }
}

const HEATING: &str = r#"
    [identity]
    api_key = { bearer = true }
    app = { id_header = "X-AppId", secret_header = "X-AppSecret" }

    [[accounts]]
    id = "acme"
    company = "acme"
    keys = ["acme-key"]

    [[apps]]
    id = "invoicer"
    secret = "invoicer-secret"

    [[routes]]
    api = "circuits"
    match = "GET /hvacs/{gatewayId}/heatingCircuits/{circuitId}"

    [[limits]]
    name = "per-path"
    token_bucket = { rate = "1/2s", burst = 3 }
    per = ["company", "param:gatewayId", "api", "path"]

    [[limits]]
    name = "with-app"
    window = { max = 1000, every = "15m" }
    per = ["account"]
    when = { app = "present" }
"#;

#[test]
fn concrete_paths_are_independent_partitions() {
    let policy = Policy::compile(&Source::new("heating.toml", HEATING)).unwrap();
    let auth = [("Authorization", "Bearer acme-key")];
    let key = |uri| {
        limited(resolve(&policy, "GET", uri, &auth))
            .enforced
            .requests[0]
            .key
    };
    assert_ne!(
        key("/hvacs/1/heatingCircuits/1"),
        key("/hvacs/1/heatingCircuits/2")
    );
    assert_eq!(
        key("/hvacs/1/heatingCircuits/1"),
        key("/hvacs/1/heatingCircuits/1/")
    );
}

#[test]
fn apps_need_their_secret() {
    let policy = Policy::compile(&Source::new("heating.toml", HEATING)).unwrap();
    let uri = "/hvacs/1/heatingCircuits/1";
    let with = |secret| {
        let headers = [
            ("Authorization", "Bearer acme-key"),
            ("X-AppId", "invoicer"),
            ("X-AppSecret", secret),
        ];
        let plan = limited(resolve(&policy, "GET", uri, &headers));
        (plan.app.map(str::to_owned), plan.enforced.limits.len())
    };
    assert_eq!(with("invoicer-secret"), (Some("invoicer".to_owned()), 2));
    assert_eq!(
        with("guess"),
        (None, 1),
        "a wrong secret is no app, never the higher tier"
    );

    let refusing = HEATING.replace(
        r#"secret_header = "X-AppSecret" }"#,
        r#"secret_header = "X-AppSecret", wrong_secret = "refuse" }"#,
    );
    let policy = Policy::compile(&Source::new("refusing.toml", refusing)).unwrap();
    let headers = [
        ("Authorization", "Bearer acme-key"),
        ("X-AppId", "invoicer"),
        ("X-AppSecret", "guess"),
    ];
    assert!(matches!(
        resolve(&policy, "GET", uri, &headers),
        Resolution::Unauthenticated(_)
    ));
    let _ = Duration::ZERO;
}

#[test]
fn a_reload_in_the_same_key_space_keeps_unchanged_partitions() {
    let first = Policy::compile(&Source::new("a.toml", HEATING)).unwrap();
    let space = first.key_space().clone();
    let same = Policy::compile_in(&Source::new("b.toml", HEATING), space.clone()).unwrap();
    let changed = HEATING.replace(r#"rate = "1/2s", burst = 3"#, r#"rate = "1/2s", burst = 4"#);
    let changed = Policy::compile_in(&Source::new("c.toml", changed), space).unwrap();
    let auth = [("Authorization", "Bearer acme-key")];
    let key = |policy: &Policy| {
        limited(resolve(policy, "GET", "/hvacs/1/heatingCircuits/1", &auth))
            .enforced
            .requests[0]
            .key
    };
    assert_eq!(key(&first), key(&same));
    assert_ne!(key(&first), key(&changed), "new numbers start new counters");
}

#[test]
fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let text = "[identity]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.168.1.7\"]\n";
    let policy = Policy::compile(&Source::new("proxies.toml", text)).unwrap();
    let ip = |text: &str| text.parse::<std::net::IpAddr>().unwrap();
    let chain = Some("203.0.113.9, 10.1.2.3");
    assert_eq!(policy.client_ip(ip("10.0.0.1"), chain), ip("203.0.113.9"));
    assert_eq!(
        policy.client_ip(ip("192.168.1.7"), chain),
        ip("203.0.113.9")
    );
    assert_eq!(
        policy.client_ip(ip("198.51.100.4"), chain),
        ip("198.51.100.4"),
        "a spoofed header is ignored"
    );
    assert_eq!(
        policy.client_ip(ip("10.0.0.1"), Some("garbage")),
        ip("10.0.0.1")
    );
    assert_eq!(policy.client_ip(ip("10.0.0.1"), None), ip("10.0.0.1"));

    let bad = Policy::compile(&Source::new(
        "bad.toml",
        "[identity]\ntrusted_proxies = [\"10.0.0.0/33\"]\n",
    ));
    assert_eq!(
        bad.unwrap_err().to_string(),
        "bad.toml:2:20: `10.0.0.0/33` is not an address or CIDR such as 10.0.0.0/8"
    );
}

#[test]
fn account_overrides_beat_plan_api_numbers_which_beat_the_plan() {
    let text = r#"
        [identity]
        api_key = { header = "X-Api-Key" }

        [[accounts]]
        id = "acme"
        plan = "basic"
        keys = ["acme-key"]

        [[accounts]]
        id = "globex"
        plan = "basic"
        keys = ["globex-key"]
        overrides = { daily = { max = 5000 } }

        [[routes]]
        api = "machines"
        match = "GET /machines"

        [[routes]]
        api = "tasks"
        match = "POST /tasks"

        [[limits]]
        name = "daily"
        window = { max = 10, every = "1d" }
        per = ["account", "api"]

        [plans.basic.limits]
        daily = { max = 1000 }

        [plans.basic.apis.tasks]
        daily = { max = 100 }
    "#;
    let policy = Policy::compile(&Source::new("numbers.toml", text)).unwrap();
    let limiter = Limiter::new(
        MemoryStore::new(),
        ManualClock::new(1_767_225_600_000_000_000),
    );
    let max = |method, uri, key| {
        let plan = limited(resolve(&policy, method, uri, &[("X-Api-Key", key)]));
        limiter.acquire(&plan.enforced.requests).unwrap().outcomes()[0].limit()
    };
    assert_eq!(
        max("GET", "/machines", "acme-key"),
        1000,
        "the plan's number"
    );
    assert_eq!(
        max("POST", "/tasks", "acme-key"),
        100,
        "the plan's number for the api"
    );
    assert_eq!(
        max("POST", "/tasks", "globex-key"),
        5000,
        "the account's override"
    );
    assert_eq!(max("GET", "/machines", "globex-key"), 5000);
}
