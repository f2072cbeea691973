//! Requests through a compiled policy: who, which route, which limits, which partitions.

use tollgate_core::{Limiter, ManualClock, MemoryStore};
use tollgate_policy::{Policy, RequestFacts, Resolution, Resolved, Source};

use crate::example;

/// Resolves a request; what it borrows is leaked, so that the resolution outlives the call.
fn resolve<'p>(
    policy: &'p Policy,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
) -> Resolution<'p> {
    let leak = |text: &str| -> &'static str { Box::leak(text.to_owned().into_boxed_str()) };
    let target = Box::leak(Box::new(
        policy.target(method, leak(uri)).expect("a canonical path"),
    ));
    let headers: &'static [(&str, &str)] = Box::leak(
        headers
            .iter()
            .map(|&(name, value)| (leak(name), leak(value)))
            .collect(),
    );
    policy.resolve(&RequestFacts {
        method: leak(method),
        target,
        headers,
        client_ip: None,
        cost: None,
        from_trusted_proxy: false,
    })
}

fn limited<'p>(resolution: Resolution<'p>) -> Resolved<'p> {
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
        (
            &**alice.api,
            alice.account.map(|a| &**a),
            alice.plan.map(|p| &**p)
        ),
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
    assert_eq!(
        (anonymous.account, anonymous.plan.map(|p| &**p)),
        (None, Some("free"))
    );
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
        Resolution::Exempt { api } if &**api == "health"
    ));
}

const PER_PATH: &str = r#"
    [[routes]]
    api = "files"
    match = "GET /files/{*rest}"

    [[limits]]
    name = "per-path"
    window = { max = 5, every = "1m" }
    per = ["path", "param:rest"]
"#;

#[test]
fn every_spelling_of_a_path_shares_its_partition() {
    let policy = Policy::compile(&Source::new("per-path.toml", PER_PATH)).unwrap();
    let key = |uri| limited(resolve(&policy, "GET", uri, &[])).enforced.requests[0].key;
    let plain = key("/files/a/b");
    for uri in [
        "//files/a/b",
        "/files/./a/b/",
        "/x/../files/a/%62",
        "/files/a/b?utm=1",
    ] {
        assert_eq!(key(uri), plain, "{uri}");
    }
    assert_ne!(key("/files/a/c"), plain);
    assert_ne!(
        key("/files/A/b"),
        plain,
        "paths are case-sensitive by default"
    );

    let folded = format!("[paths]\ncase_insensitive = true\n{PER_PATH}");
    let policy = Policy::compile(&Source::new("folded.toml", folded)).unwrap();
    let key = |uri| limited(resolve(&policy, "GET", uri, &[])).enforced.requests[0].key;
    assert_eq!(
        key("/FILES/A/b"),
        key("/files/a/B"),
        "one partition whatever the case"
    );
}

#[test]
fn head_uses_get_routes_and_keys_come_from_query_or_any_bearer_spelling() {
    let policy = Policy::compile(&Source::new("heating.toml", HEATING)).unwrap();
    let uri = "/hvacs/1/heatingCircuits/1";
    let plan = limited(resolve(
        &policy,
        "HEAD",
        uri,
        &[("authorization", "BEARER acme-key")],
    ));
    assert_eq!(plan.account.map(|a| &**a), Some("acme"));

    let text = "[identity]\napi_key = { query = \"key\" }\n[[accounts]]\nid = \"acme\"\nkeys = [\"a/b+c\"]\n[[routes]]\napi = \"x\"\nmatch = \"GET /x\"\n";
    let policy = Policy::compile(&Source::new("query.toml", text)).unwrap();
    let plan = limited(resolve(&policy, "GET", "/x?other=1&key=a%2Fb%2Bc", &[]));
    assert_eq!(
        plan.account.map(|a| &**a),
        Some("acme"),
        "the query value is percent-decoded"
    );
}

#[test]
fn ipv6_clients_are_partitioned_by_their_64() {
    let text = "[[routes]]\napi = \"x\"\nmatch = \"GET /x\"\n[[limits]]\nname = \"per-ip\"\nwindow = { max = 5, every = \"1m\" }\nper = [\"ip\"]\n";
    let policy = Policy::compile(&Source::new("ip.toml", text)).unwrap();
    let key = |ip: &str| {
        let target = policy.target("GET", "/x").unwrap();
        let facts = RequestFacts {
            method: "GET",
            target: &target,
            headers: &[][..],
            client_ip: Some(ip.parse().unwrap()),
            cost: None,
            from_trusted_proxy: false,
        };
        limited(policy.resolve(&facts)).enforced.requests[0].key
    };
    assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
    assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
    assert_ne!(key("192.0.2.1"), key("192.0.2.2"));
    assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
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
        (
            plan.app.map(|app| app.to_string()),
            plan.enforced.limits.len(),
        )
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

#[test]
fn only_listed_peers_may_check() {
    let ip = |text: &str| text.parse::<std::net::IpAddr>().unwrap();
    let loopback = Policy::compile(&Source::new("default.toml", "")).unwrap();
    assert!(loopback.server().may_check(ip("127.0.0.1")));
    assert!(loopback.server().may_check(ip("::1")));
    assert!(!loopback.server().may_check(ip("192.0.2.1")));
    let listed = Policy::compile(&Source::new(
        "listed.toml",
        "[server]\ncheck_from = [\"10.0.0.0/8\"]\n",
    ))
    .unwrap();
    assert!(listed.server().may_check(ip("10.1.2.3")));
    assert!(!listed.server().may_check(ip("127.0.0.1")));
}

#[test]
fn unknown_keys_meet_only_their_own_throttle() {
    let text = r#"
        [identity]
        api_key = { header = "X-Api-Key" }

        [[accounts]]
        id = "acme"
        keys = ["acme-key"]

        [[routes]]
        api = "x"
        match = "GET /x"

        [[limits]]
        name = "per-account"
        window = { max = 100, every = "1m" }
        per = ["account"]

        [[limits]]
        name = "key-guessing"
        window = { max = 3, every = "1m" }
        per = ["ip"]
        when = { key = "unknown" }
    "#;
    let policy = Policy::compile(&Source::new("guess.toml", text)).unwrap();
    let names = |headers: &[(&str, &str)]| -> Vec<String> {
        limited(resolve(&policy, "GET", "/x", headers))
            .enforced
            .limits
            .iter()
            .map(|l| l.name().to_owned())
            .collect()
    };
    assert_eq!(names(&[("X-Api-Key", "acme-key")]), ["per-account"]);
    assert_eq!(names(&[]), ["per-account"]);
    let guess = limited(resolve(&policy, "GET", "/x", &[("X-Api-Key", "guess")]));
    assert_eq!(guess.unauthenticated, Some("unknown API key"));
    assert_eq!(
        guess
            .enforced
            .limits
            .iter()
            .map(|l| l.name())
            .collect::<Vec<_>>(),
        ["key-guessing"]
    );
}

#[test]
fn a_pack_raises_quotas_until_it_expires() {
    let text = r#"
        [identity]
        api_key = { header = "X-Api-Key" }

        [[routes]]
        api = "machines"
        match = "GET /machines"

        [[limits]]
        name = "daily"
        window = { max = 1000, every = "day", align = "calendar", tz = "Asia/Shanghai" }
        per = ["account", "api"]

        [[limits]]
        name = "per-second"
        token_bucket = { rate = "1/s" }
        per = ["account", "api"]

        [plans.basic]

        [packs.plus]
        period = "365d"
        price = "99.99 EUR"
        limits.daily = { max = 5000 }
    "#;
    let policy = Policy::compile(&Source::new("packs.toml", text)).unwrap();
    assert_eq!(
        policy.pack_period("plus"),
        Some(std::time::Duration::from_secs(365 * 86_400))
    );
    let price = policy.pack_price("plus").unwrap();
    assert_eq!(
        (price.minor(), price.decimals(), price.currency()),
        (9_999, 2, "EUR")
    );
    assert_eq!(policy.pack_price("nothing"), None);
    let hash = tollgate_policy::units::sha256_hex("acme-key");
    let until = 1_800_000_000_000_000_000;
    let entry = tollgate_policy::DirectoryEntry {
        key_sha256: hash,
        account: "acme".into(),
        plan: Some("basic".into()),
        company: None,
        pack: Some(("plus".into(), until)),
        overrides: Vec::new(),
        time_zone: None,
        stand_in: false,
    };
    let (directory, unknown) = policy.directory([entry]);
    assert!(unknown.is_empty());
    let limiter = Limiter::new(
        MemoryStore::new(),
        ManualClock::new(1_767_225_600_000_000_000),
    );
    let limits_at = |now| {
        let target = policy.target("GET", "/machines").unwrap();
        let facts = RequestFacts {
            method: "GET",
            target: &target,
            headers: &[("X-Api-Key", "acme-key")][..],
            client_ip: None,
            cost: None,
            from_trusted_proxy: false,
        };
        let plan = limited(policy.resolve_in(Some(&directory), now, &facts));
        let decision = limiter.acquire(&plan.enforced.requests).unwrap();
        (
            decision.outcomes()[0].limit(),
            decision.outcomes()[1].limit(),
        )
    };
    assert_eq!(
        limits_at(until - 1),
        (5000, 1),
        "the quota is raised, the rate is not"
    );
    assert_eq!(
        limits_at(until),
        (1000, 1),
        "at expiry the plan's numbers are back"
    );
}

#[test]
fn an_identity_read_two_ways_is_refused() {
    let policy = Policy::compile(&Source::new("heating.toml", HEATING)).unwrap();
    let uri = "/hvacs/1/heatingCircuits/1";
    let ambiguous = |headers: &[(&str, &str)]| match resolve(&policy, "GET", uri, headers) {
        Resolution::Ambiguous(reason) => reason,
        other => panic!("expected a refusal for {headers:?}, got {other:?}"),
    };
    // Two keys, an empty one beside a real one, a header spelled in two cases.
    ambiguous(&[
        ("authorization", "Bearer acme-key"),
        ("authorization", "Bearer other"),
    ]);
    ambiguous(&[("authorization", ""), ("authorization", "Bearer acme-key")]);
    ambiguous(&[
        ("Authorization", "Bearer acme-key"),
        ("authorization", "Bearer x"),
    ]);
    // Bytes that are not visible ASCII, in the header or in the key.
    ambiguous(&[("authorization", "Bearer acme-key\u{0}")]);
    ambiguous(&[("authorization", "Bearer acme-kéy")]);
    assert!(ambiguous(&[("authorization", "Bearer acme key")]).contains("visible ASCII"));
    // The app's headers count as identity too.
    ambiguous(&[
        ("authorization", "Bearer acme-key"),
        ("x-appid", "invoicer"),
        ("X-AppId", "other"),
    ]);
    assert_eq!(
        limited(resolve(
            &policy,
            "GET",
            uri,
            &[("authorization", "Bearer acme-key")]
        ))
        .account
        .map(|a| &**a),
        Some("acme")
    );
    // A tab after the scheme is the same key, as servers read it; `_` for `-` is a repeat.
    let tabbed = [("authorization", "Bearer\tacme-key")];
    assert_eq!(
        limited(resolve(&policy, "GET", uri, &tabbed))
            .account
            .map(|a| &**a),
        Some("acme")
    );
    ambiguous(&[
        ("authorization", "Bearer acme-key"),
        ("X_AppId", "invoicer"),
    ]);

    let text = "[identity]\napi_key = { query = \"key\" }\n[[accounts]]\nid = \"acme\"\nkeys = [\"k1\"]\n[[routes]]\napi = \"x\"\nmatch = \"GET /x\"\n";
    let policy = Policy::compile(&Source::new("query.toml", text)).unwrap();
    for uri in [
        "/x?KEY=k1",
        "/x?key=k1&Key=k2",
        "/x?_method=DELETE&key=k1",
        "/x?key=k1&Key=k2",
        "/x?key=&key=k1",
        "/x?key=k1&k%65y=k2",
        "/x?key=k%00",
        "/x?key=k+1",
    ] {
        assert!(
            matches!(resolve(&policy, "GET", uri, &[]), Resolution::Ambiguous(_)),
            "{uri}"
        );
    }
    assert_eq!(
        limited(resolve(&policy, "GET", "/x?key=k%31", &[]))
            .account
            .map(|a| &**a),
        Some("acme")
    );
}

#[test]
fn a_key_no_request_could_send_is_a_config_error() {
    let text = "[identity]\napi_key = { header = \"X-Api-Key\" }\n[[accounts]]\nid = \"acme\"\nkeys = [\"a b\"]\n[[routes]]\napi = \"x\"\nmatch = \"GET /x\"\n";
    let errors = Policy::compile(&Source::new("keys.toml", text)).unwrap_err();
    assert!(errors.to_string().starts_with("keys.toml:3:"), "{errors}");
    assert!(errors.to_string().contains("not visible ASCII"), "{errors}");
}

#[test]
fn typed_values_are_counted_and_forwarded_in_their_canonical_form() {
    let text = r#"
        [paths]
        case_insensitive = true

        [[routes]]
        api = "things"
        match = "GET /Things/{id:token}/parts/{n:int}"

        [[routes]]
        api = "skus"
        match = "PUT /skus/{sku}"
        params = { sku = "[A-Z]{3}-[0-9]{2}" }
    "#;
    let policy = Policy::compile(&Source::new("typed.toml", text)).unwrap();
    // Folded for counting, and the typed values forwarded canonical (not in the client's case,
    // nor as `ſ`, which folds as `s`); literal segments keep the client's case.
    let target = policy
        .target("GET", "/THINGS/Gear%C5%BF/Parts/007?x=1")
        .unwrap();
    assert_eq!(target.path(), "/things/gears/parts/7");
    assert_eq!(target.encoded_path().to_string(), "/THINGS/gears/Parts/7");
    assert_eq!(target.query(), Some("x=1"));
    // A pattern matches in any case where paths do, on the folded value.
    let target = policy.target("PUT", "/skus/abc-12").unwrap();
    assert_eq!(target.path(), "/skus/abc-12");
    assert!(matches!(
        resolve(&policy, "PUT", "/skus/ABC-12", &[]),
        Resolution::Limited(_)
    ));
    assert!(matches!(
        resolve(&policy, "PUT", "/skus/ABC-123", &[]),
        Resolution::Ambiguous(_)
    ));
    // Another method's routes do not rewrite; a block names the path whatever the method.
    assert_eq!(
        policy.target("POST", "/things/g/parts/007").unwrap().path(),
        "/things/g/parts/007"
    );
    assert_eq!(
        policy.block_target("/things/G/parts/007").unwrap().path(),
        "/things/g/parts/7"
    );
}

#[test]
fn a_distinct_limit_keys_its_partition_and_hands_the_value_apart() {
    let text = r#"
        [identity]
        api_key = { header = "X-Api-Key" }

        [[accounts]]
        id = "acme"
        keys = ["acme-key"]

        [[routes]]
        api = "machines"
        match = "GET /machines/{machineId:token}"

        [[routes]]
        api = "list"
        match = "GET /machines"

        [[limits]]
        name = "machine-quota"
        distinct = { max = 2, of = "param:machineId", noun = "machines" }
        per = ["account"]
    "#;
    let policy = Policy::compile(&Source::new("d.toml", text)).unwrap();
    let limit = &policy.limits()[0];
    assert_eq!(limit.code(), "distinct_limit_exceeded");
    assert_eq!(limit.noun().map(|noun| &**noun), Some("machines"));
    let key = [("X-Api-Key", "acme-key")];
    let request = |uri: &str| {
        limited(resolve(&policy, "GET", uri, &key))
            .enforced
            .requests[0]
    };
    let (m1, m1_again, m2, none) = (
        request("/machines/m1"),
        request("/machines/M1"),
        request("/machines/m2"),
        request("/machines"),
    );
    // One partition per account, whichever machine; the machine is the value.
    assert!(m1.key == m2.key && m1.key == none.key);
    assert_eq!(
        m1.value, m1_again.value,
        "a token is compared in lower case"
    );
    assert_ne!(m1.value, m2.value);
    assert!(m1.value.is_some() && none.value.is_none());

    let limiter = Limiter::new(MemoryStore::new(), ManualClock::new(0));
    for uri in ["/machines/m1", "/machines/m2", "/machines/m1", "/machines"] {
        assert!(limiter.acquire(&[request(uri)]).unwrap().allowed(), "{uri}");
    }
    let third = limiter.acquire(&[request("/machines/m3")]).unwrap();
    assert!(!third.allowed());
    assert_eq!(third.outcomes()[0].limit(), 2);
}
