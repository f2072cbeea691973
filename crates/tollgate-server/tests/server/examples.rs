//! The shipped example policies, through the real binary in front of a real upstream.

use crate::support::{Reply, Tollgate, Upstream, send};

fn example(name: &str) -> String {
    let path = format!("{}/../../examples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

fn header(reply: &Reply, name: &str) -> u64 {
    reply
        .header(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .parse()
        .unwrap()
}

/// Spends `count` requests of acme's unregistered pool; the last reply, and whether a window
/// boundary passed meanwhile (then the counts mean nothing and the caller tries again).
async fn spend(tollgate: &Tollgate, headers: &[(&str, &str)], count: usize) -> (Reply, bool) {
    let first = send(tollgate.address, "GET", "/api/invoices", headers, "").await;
    let mut last = first;
    let reset = header(&last, "x-rate-limit-reset");
    for _ in 1..count {
        last = send(tollgate.address, "GET", "/api/invoices", headers, "").await;
    }
    let crossed = last
        .header("x-rate-limit-reset")
        .is_some_and(|r| r.parse::<u64>().unwrap() != reset);
    (last, crossed)
}

#[tokio::test]
async fn invoicing_pools_windows_headers_and_xml_refusals() {
    let upstream = Upstream::start().await;
    let acme = [("X-BillomatApiKey", "acme-key")];
    for attempt in 0..2 {
        let tollgate = Tollgate::start(&example("invoicing.toml"), Some(upstream.address));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let (last, crossed) = spend(&tollgate, &acme, 300).await;
        if crossed && attempt == 0 {
            continue;
        }
        // Every response carries the headers; the window ends on a quarter hour.
        assert_eq!(header(&last, "x-rate-limit-remaining"), 0);
        let reset = header(&last, "x-rate-limit-reset");
        assert_eq!(reset % 900, 0, "windows end at XX:00, :15, :30, :45");
        assert!(reset > now && reset <= now + 901);

        let refused = send(tollgate.address, "GET", "/api/invoices", &acme, "").await;
        assert_eq!(refused.status, 429);
        assert_eq!(refused.header("content-type"), Some("application/xml"));
        let retry = header(&refused, "retry-after");
        assert_eq!(
            refused.body,
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><errors><error>Maximum number of requests (300 per 15 minutes) reached. Try again in {retry} seconds.</error></errors>"#
            )
        );
        assert!(retry <= reset.saturating_sub(now) + 1);

        // A wrong secret is no app: still the exhausted pool of 300.
        let wrong = [
            ("X-BillomatApiKey", "acme-key"),
            ("X-AppId", "invoicer"),
            ("X-AppSecret", "guess"),
        ];
        assert_eq!(
            send(tollgate.address, "GET", "/api/invoices", &wrong, "")
                .await
                .status,
            429
        );
        // The registered app has its own 1,000 per account, for acme and for globex.
        let app = [
            ("X-BillomatApiKey", "acme-key"),
            ("X-AppId", "invoicer"),
            ("X-AppSecret", "invoicer-secret"),
        ];
        let first = send(tollgate.address, "GET", "/api/invoices", &app, "").await;
        assert_eq!(
            (first.status, header(&first, "x-rate-limit-remaining")),
            (200, 999)
        );
        let globex = [
            ("X-BillomatApiKey", "globex-key"),
            ("X-AppId", "invoicer"),
            ("X-AppSecret", "invoicer-secret"),
        ];
        let other = send(tollgate.address, "GET", "/api/invoices", &globex, "").await;
        assert_eq!(header(&other, "x-rate-limit-remaining"), 999);
        let (spent, crossed) = spend(&tollgate, &app, 999).await;
        if crossed && attempt == 0 {
            continue;
        }
        assert_eq!(header(&spent, "x-rate-limit-remaining"), 0);
        let refused = send(tollgate.address, "GET", "/api/invoices", &app, "").await;
        assert!(
            refused.body.contains("(1000 per 15 minutes)"),
            "{}",
            refused.body
        );

        // Webhooks: never refused, no rate-limit headers, acme's pools untouched.
        let webhook = send(
            tollgate.address,
            "POST",
            "/webhooks/invoice-paid",
            &acme,
            "{}",
        )
        .await;
        assert_eq!(webhook.status, 200);
        assert_eq!(webhook.header("x-rate-limit-remaining"), None);
        return;
    }
    panic!("two window boundaries crossed in two attempts");
}

#[tokio::test]
async fn invoicing_override_through_the_admin_api_applies_at_once() {
    let tollgate = Tollgate::start(&example("invoicing.toml"), None);
    let token = std::fs::read_to_string(tollgate.data_dir.join("admin-token")).unwrap();
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];
    let ask =
        r#"{"method":"GET","path":"/api/invoices","headers":{"x-billomatapikey":"globex-key"}}"#;
    let limit = || async {
        let answer: serde_json::Value = serde_json::from_str(
            &send(tollgate.address, "POST", "/v1/check", &[], ask)
                .await
                .body,
        )
        .unwrap();
        answer["limits"][0]["limit"].as_u64().unwrap()
    };
    assert_eq!(limit().await, 300);
    let set = send(
        tollgate.admin,
        "PUT",
        "/admin/accounts/globex/overrides/unregistered",
        &auth,
        r#"{"max":5000}"#,
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(limit().await, 5000, "globex at 5,000 per window at once");
    let acme =
        r#"{"method":"GET","path":"/api/invoices","headers":{"x-billomatapikey":"acme-key"}}"#;
    let answer: serde_json::Value = serde_json::from_str(
        &send(tollgate.address, "POST", "/v1/check", &[], acme)
            .await
            .body,
    )
    .unwrap();
    assert_eq!(answer["limits"][0]["limit"], 300, "acme keeps 300");
}

#[tokio::test]
async fn heating_partner_buckets_per_concrete_path_time_programs_and_appliance_blocks() {
    let upstream = Upstream::start().await;
    let tollgate = Tollgate::start(&example("heating-partner.toml"), Some(upstream.address));
    let acme = [("Authorization", "Bearer acme-key")];
    let globex = [("Authorization", "Bearer globex-key")];
    let get = |path: &'static str, auth: &'static [(&'static str, &'static str)]| async move {
        send(tollgate.address, "GET", path, auth, "").await
    };
    const ACME: &[(&str, &str)] = &[("Authorization", "Bearer acme-key")];
    const GLOBEX: &[(&str, &str)] = &[("Authorization", "Bearer globex-key")];

    // With a gateway: burst 3, then one every 2 s, per concrete path.
    for _ in 0..3 {
        assert_eq!(get("/hvacs/1/heatingCircuits/1", ACME).await.status, 200);
    }
    let refused = get("/hvacs/1/heatingCircuits/1", ACME).await;
    assert_eq!(
        (refused.status, refused.header("retry-after")),
        (429, Some("2"))
    );
    assert_eq!(
        get("/hvacs/1/heatingCircuits/2", ACME).await.status,
        200,
        "another circuit, another bucket"
    );
    assert_eq!(
        get("/hvacs/1/heatingCircuits/1", GLOBEX).await.status,
        200,
        "another company, another bucket"
    );

    // Without a gateway: burst 5, two a second.
    for _ in 0..5 {
        assert_eq!(get("/gateways", ACME).await.status, 200);
    }
    let refused = get("/gateways", ACME).await;
    assert_eq!(
        (refused.status, refused.header("retry-after")),
        (429, Some("1"))
    );

    // A time program: once per 10 s per exact resource, though its gateway bucket has tokens.
    let program = "/hvacs/1/heatingCircuits/1/timePrograms/1";
    assert_eq!(
        send(tollgate.address, "PUT", program, &acme, "{}")
            .await
            .status,
        200
    );
    let again = send(tollgate.address, "PUT", program, &acme, "{}").await;
    assert_eq!(
        (again.status, again.header("retry-after")),
        (429, Some("10"))
    );
    assert_eq!(
        send(
            tollgate.address,
            "PUT",
            "/hvacs/1/heatingCircuits/1/timePrograms/2",
            &acme,
            "{}"
        )
        .await
        .status,
        200
    );
    assert_eq!(
        send(
            tollgate.address,
            "PUT",
            "/hvacs/1/dhwCircuits/1/timePrograms/1",
            &acme,
            "{}"
        )
        .await
        .status,
        200
    );
    assert_eq!(
        send(tollgate.address, "PUT", program, &globex, "{}")
            .await
            .status,
        200
    );

    // The appliance protects itself: its Tollgate-Block-For answer (to `?protect`) blocks that
    // function there, for every spelling of its ids.
    let protected = "/hvacs/2/heatingCircuits/7/timePrograms/1?protect";
    assert_eq!(
        send(tollgate.address, "PUT", protected, &acme, "{}")
            .await
            .status,
        200
    );
    let hits = upstream.hits();
    let respelled = "/hvacs/002/heatingCircuits/07/timePrograms/001";
    let blocked = send(tollgate.address, "PUT", respelled, &globex, "{}").await;
    assert_eq!(blocked.status, 423);
    assert!(
        blocked.body.contains("blocked by the appliance until"),
        "{}",
        blocked.body
    );
    assert_eq!(
        upstream.hits(),
        hits,
        "a blocked call never reaches the appliance"
    );
}

#[tokio::test]
async fn iot_platform_quotas_per_api_rates_packs_apps_and_the_customer_view() {
    let upstream = Upstream::start().await;
    let tollgate = Tollgate::start(&example("iot-platform.toml"), Some(upstream.address));
    let tiny = [("Authorization", "Bearer tiny-key")];
    let acme = [("Authorization", "Bearer acme-key")];

    // The trial plan: 5 a day per API, burst 5; then the daily quota, with its own code.
    for _ in 0..5 {
        assert_eq!(
            send(tollgate.address, "GET", "/api/v1/machines", &tiny, "")
                .await
                .status,
            200
        );
    }
    let exhausted = send(tollgate.address, "GET", "/api/v1/machines", &tiny, "").await;
    assert_eq!(exhausted.status, 429);
    let body: serde_json::Value = serde_json::from_str(&exhausted.body).unwrap();
    assert_eq!(
        (&body["error"], &body["api"]),
        (&"daily_quota_exhausted".into(), &"machines.list".into())
    );
    // At the end of the Shanghai day, in Shanghai.
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .ends_with("T00:00:00+08:00"),
        "{}",
        body["message"]
    );
    let reset: u64 = exhausted
        .header("x-ratelimit-reset")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(reset % 86_400, 57_600);
    assert_eq!(
        send(tollgate.address, "GET", "/api/v1/machines/7", &tiny, "")
            .await
            .status,
        200,
        "each API has its own quota"
    );

    // The basic plan's rate: 1 a second per API.
    assert_eq!(
        send(tollgate.address, "GET", "/api/v1/machines", &acme, "")
            .await
            .status,
        200
    );
    let fast = send(tollgate.address, "GET", "/api/v1/machines", &acme, "").await;
    let body: serde_json::Value = serde_json::from_str(&fast.body).unwrap();
    assert_eq!(
        (fast.status, &body["error"]),
        (429, &"rate_limit_exceeded".into())
    );

    // A third-party app with acme's key spends acme's quota.
    let fleetview = [
        ("Authorization", "Bearer acme-key"),
        ("X-App-Id", "fleetview"),
        ("X-App-Secret", "fleetview-secret"),
    ];
    assert_eq!(
        send(
            tollgate.address,
            "GET",
            "/api/v1/stats/cutting-length",
            &fleetview,
            ""
        )
        .await
        .status,
        200
    );

    // A pack raises acme's quotas, not its rates.
    let token = std::fs::read_to_string(tollgate.data_dir.join("admin-token")).unwrap();
    let bearer = format!("Bearer {token}");
    let bought = send(
        tollgate.admin,
        "POST",
        "/admin/accounts/acme/packs",
        &[("Authorization", bearer.as_str())],
        r#"{"pack":"plus"}"#,
    )
    .await;
    assert_eq!(bought.status, 201, "{}", bought.body);

    // The customer's own view: every API, quota and rate, plan, pack; looking is free.
    let view: serde_json::Value = serde_json::from_str(
        &send(tollgate.address, "GET", "/_tollgate/quota", &acme, "")
            .await
            .body,
    )
    .unwrap();
    assert_eq!(
        (&view["plan"], &view["pack"]["name"]),
        (&"basic".into(), &"plus".into())
    );
    let apis = view["apis"].as_array().unwrap();
    assert_eq!(apis.len(), 5);
    let stats = apis
        .iter()
        .find(|api| api["api"] == "stats.daily-cutting-length")
        .unwrap();
    let quota = &stats["limits"][0];
    assert_eq!(
        (&quota["name"], &quota["limit"], &quota["used"]),
        (&"daily-quota".into(), &5000.into(), &1.into())
    );
    assert_eq!(
        (&stats["limits"][1]["kind"], &stats["limits"][1]["limit"]),
        (&"rate".into(), &1.into())
    );
}
