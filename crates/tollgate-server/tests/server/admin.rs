//! The admin port of the real binary: its token, catalog edits that apply at once, reload.

use crate::support::{Tollgate, send};

const POLICY: &str = r#"
    [identity]
    api_key = { header = "X-Api-Key" }

    [[routes]]
    api = "machines"
    match = "GET /machines/{*rest}"

    [[limits]]
    name = "daily"
    window = { max = 3, every = "1d" }
    per = ["account"]

    [plans.basic]
    [plans.pro.limits]
    daily = { max = 1000 }

    [packs.plus]
    period = "365d"
    limits.daily = { max = 50 }

    [packs.max]
    limits.daily = { max = 200 }
"#;

/// Creates an account from `body` through the admin API and returns a new key of it.
async fn account_with_key(
    tollgate: &Tollgate,
    auth: &[(&str, &str)],
    body: &str,
    id: &str,
) -> String {
    let created = send(tollgate.admin, "POST", "/admin/accounts", auth, body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let made = send(
        tollgate.admin,
        "POST",
        &format!("/admin/accounts/{id}/keys"),
        auth,
        "",
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);
    key_of(&made)
}

/// The API key in an admin answer that made one.
fn key_of(made: &crate::support::Reply) -> String {
    let answer: serde_json::Value = serde_json::from_str(&made.body).unwrap();
    answer["key"].as_str().unwrap().to_owned()
}

fn token(tollgate: &Tollgate) -> String {
    let path = tollgate.data_dir.join("admin-token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is the owner's alone");
    }
    tollgate.admin_token()
}

#[tokio::test]
async fn without_the_token_nothing_but_health() {
    let tollgate = Tollgate::start(POLICY, None);
    let line = tollgate.wait_for_logged("admin token generated");
    assert!(
        !line.contains(&token(&tollgate)),
        "the log names the file, never the token"
    );
    assert_eq!(
        send(tollgate.admin, "GET", "/healthz", &[], "")
            .await
            .status,
        200
    );
    let denied = send(
        tollgate.admin,
        "POST",
        "/admin/accounts",
        &[],
        r#"{"id":"acme"}"#,
    )
    .await;
    assert_eq!(denied.status, 401);
    assert!(denied.body.contains(r#""code":"unauthorized""#));
    let wrong = send(
        tollgate.admin,
        "GET",
        "/admin/accounts/acme",
        &[("Authorization", "Bearer guess")],
        "",
    )
    .await;
    assert_eq!(wrong.status, 401);
}

#[tokio::test]
async fn an_account_and_key_made_through_the_admin_api_decide_at_once() {
    let tollgate = Tollgate::start(POLICY, None);
    let bearer = format!("Bearer {}", token(&tollgate));
    let auth = [("Authorization", bearer.as_str())];
    let created = send(
        tollgate.admin,
        "POST",
        "/admin/accounts",
        &auth,
        r#"{"id":"globex","plan":"pro","time_zone":"Asia/Shanghai"}"#,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let duplicate = send(
        tollgate.admin,
        "POST",
        "/admin/accounts",
        &auth,
        r#"{"id":"globex"}"#,
    )
    .await;
    assert_eq!(duplicate.status, 409);
    assert!(duplicate.body.contains("duplicate_account"));
    for (body, code) in [
        (r#"{"id":"#, "bad_request"),
        (r#"{"id":"x","colour":1}"#, "bad_request"),
        (r#"{"id":"y","time_zone":"Mars/Olympus"}"#, "bad_time_zone"),
    ] {
        let reply = send(tollgate.admin, "POST", "/admin/accounts", &auth, body).await;
        assert_eq!(reply.status, 400, "{body}");
        assert!(reply.body.contains(code), "{}", reply.body);
    }
    let unknown = send(
        tollgate.admin,
        "POST",
        "/admin/accounts/nobody/keys",
        &auth,
        "",
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.body.contains("unknown_account")),
        (404, true)
    );

    let made = send(
        tollgate.admin,
        "POST",
        "/admin/accounts/globex/keys",
        &auth,
        "",
    )
    .await;
    assert_eq!(made.status, 201);
    let key = key_of(&made);
    let ask =
        format!(r#"{{"method":"GET","path":"/machines/1","headers":{{"x-api-key":"{key}"}}}}"#);
    let answer: serde_json::Value = serde_json::from_str(
        &send(tollgate.address, "POST", "/v1/check", &[], &ask)
            .await
            .body,
    )
    .unwrap();
    assert_eq!(
        (&answer["account"], &answer["plan"]),
        (&"globex".into(), &"pro".into())
    );
    assert_eq!(
        answer["limits"][0]["limit"], 1000,
        "the catalog account's plan applies"
    );
    let fetched = send(tollgate.admin, "GET", "/admin/accounts/globex", &auth, "").await;
    assert!(fetched.body.contains(r#""time_zone":"Asia/Shanghai""#));
    assert!(!fetched.body.contains(&key), "the key is shown once only");
}

#[tokio::test]
async fn catalog_accounts_survive_a_restart() {
    let first = Tollgate::start(POLICY, None);
    let bearer = format!("Bearer {}", token(&first));
    let auth = [("Authorization", bearer.as_str())];
    let key = account_with_key(&first, &auth, r#"{"id":"acme","plan":"basic"}"#, "acme").await;
    let second = first.restart();
    assert_eq!(
        token(&second),
        bearer.trim_start_matches("Bearer "),
        "the same token after a restart"
    );
    let ask =
        format!(r#"{{"method":"GET","path":"/machines/1","headers":{{"x-api-key":"{key}"}}}}"#);
    let answer: serde_json::Value = serde_json::from_str(
        &send(second.address, "POST", "/v1/check", &[], &ask)
            .await
            .body,
    )
    .unwrap();
    assert_eq!(answer["account"], "acme");
}

#[tokio::test]
async fn reload_through_the_admin_api() {
    let tollgate = Tollgate::start(POLICY, None);
    let bearer = format!("Bearer {}", token(&tollgate));
    let auth = [("Authorization", bearer.as_str())];
    std::fs::write(&tollgate.config, "[[limits]]\nname = 7\n").unwrap();
    let refused = send(tollgate.admin, "POST", "/admin/reload", &auth, "").await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("policy.toml:2:8"), "{}", refused.body);
    std::fs::write(&tollgate.config, POLICY).unwrap();
    let reloaded = send(tollgate.admin, "POST", "/admin/reload", &auth, "").await;
    assert_eq!(reloaded.status, 200, "{}", reloaded.body);
}

#[tokio::test]
async fn packs_bought_through_the_admin_api_raise_the_quota_at_once() {
    let tollgate = Tollgate::start(POLICY, None);
    let bearer = format!("Bearer {}", token(&tollgate));
    let auth = [("Authorization", bearer.as_str())];
    let key = account_with_key(&tollgate, &auth, r#"{"id":"acme","plan":"basic"}"#, "acme").await;
    let ask =
        format!(r#"{{"method":"GET","path":"/machines/1","headers":{{"x-api-key":"{key}"}}}}"#);
    let quota = || async {
        let answer: serde_json::Value = serde_json::from_str(
            &send(tollgate.address, "POST", "/v1/check", &[], &ask)
                .await
                .body,
        )
        .unwrap();
        answer["limits"][0]["limit"].as_u64().unwrap()
    };
    assert_eq!(quota().await, 3);
    let bad = send(
        tollgate.admin,
        "POST",
        "/admin/accounts/acme/packs",
        &auth,
        r#"{"pack":"gold"}"#,
    )
    .await;
    assert_eq!((bad.status, bad.body.contains("bad_pack")), (400, true));
    let nobody = send(
        tollgate.admin,
        "POST",
        "/admin/accounts/nobody/packs",
        &auth,
        r#"{"pack":"plus"}"#,
    )
    .await;
    assert_eq!(nobody.status, 404);

    let plus = send(
        tollgate.admin,
        "POST",
        "/admin/accounts/acme/packs",
        &auth,
        r#"{"pack":"plus","by":"billing"}"#,
    )
    .await;
    assert_eq!(plus.status, 201, "{}", plus.body);
    assert_eq!(quota().await, 50, "the pack applies at once");
    let renewed: serde_json::Value = serde_json::from_str(
        &send(
            tollgate.admin,
            "POST",
            "/admin/accounts/acme/packs",
            &auth,
            r#"{"pack":"plus"}"#,
        )
        .await
        .body,
    )
    .unwrap();
    let first: serde_json::Value = serde_json::from_str(&plus.body).unwrap();
    assert_eq!(
        renewed["expires_at"].as_u64().unwrap(),
        first["expires_at"].as_u64().unwrap() + 365 * 86_400,
        "renewed from the old expiry"
    );
    send(
        tollgate.admin,
        "POST",
        "/admin/accounts/acme/packs",
        &auth,
        r#"{"pack":"max"}"#,
    )
    .await;
    assert_eq!(quota().await, 200, "another pack replaces it at once");
    let ledger: serde_json::Value = serde_json::from_str(
        &send(
            tollgate.admin,
            "GET",
            "/admin/accounts/acme/packs",
            &auth,
            "",
        )
        .await
        .body,
    )
    .unwrap();
    let packs: Vec<(&str, &str)> = ledger
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["pack"].as_str().unwrap(),
                row["superseded_by"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(packs, [("plus", "plus"), ("plus", "max"), ("max", "-")]);
}

#[tokio::test]
async fn usage_shows_every_api_in_the_account_time_zone_and_costs_nothing() {
    let tollgate = Tollgate::start(POLICY, None);
    let bearer = format!("Bearer {}", token(&tollgate));
    let auth = [("Authorization", bearer.as_str())];
    let key = account_with_key(
        &tollgate,
        &auth,
        r#"{"id":"acme","plan":"basic","time_zone":"Asia/Shanghai"}"#,
        "acme",
    )
    .await;
    let ask =
        format!(r#"{{"method":"GET","path":"/machines/1","headers":{{"x-api-key":"{key}"}}}}"#);
    for _ in 0..2 {
        send(tollgate.address, "POST", "/v1/check", &[], &ask).await;
    }
    for _ in 0..2 {
        let reply = send(
            tollgate.admin,
            "GET",
            "/admin/accounts/acme/usage",
            &auth,
            "",
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let usage: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(
            (&usage["plan"], &usage["apis"][0]["api"]),
            (&"basic".into(), &"machines".into())
        );
        let daily = &usage["apis"][0]["limits"][0];
        assert_eq!(
            (&daily["name"], &daily["kind"]),
            (&"daily".into(), &"quota".into())
        );
        assert_eq!(
            (
                daily["limit"].as_u64(),
                daily["used"].as_u64(),
                daily["remaining"].as_u64()
            ),
            (Some(3), Some(2), Some(1))
        );
        // The catalog's zone: the offset, to the second.
        assert_eq!(usage["time_zone"], "Asia/Shanghai", "{usage}");
        let reset_local = daily["reset_local"].as_str().unwrap();
        assert!(reset_local.ends_with("+08:00"), "{daily}");
        assert_eq!(
            reset_local.len(),
            "2026-01-01T00:00:00+08:00".len(),
            "{daily}"
        );
    }
    assert_eq!(
        send(
            tollgate.admin,
            "GET",
            "/admin/accounts/nobody/usage",
            &auth,
            ""
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn plan_changes_revoked_keys_and_deleted_accounts_apply_at_once() {
    let tollgate = Tollgate::start(POLICY, None);
    let bearer = format!("Bearer {}", token(&tollgate));
    let auth = [("Authorization", bearer.as_str())];
    let key = account_with_key(
        &tollgate,
        &auth,
        r#"{"id":"acme","plan":"basic","company":"acme"}"#,
        "acme",
    )
    .await;
    let ask =
        format!(r#"{{"method":"GET","path":"/machines/1","headers":{{"x-api-key":"{key}"}}}}"#);
    let check = || async {
        serde_json::from_str::<serde_json::Value>(
            &send(tollgate.address, "POST", "/v1/check", &[], &ask)
                .await
                .body,
        )
        .unwrap()
    };

    let changed = send(
        tollgate.admin,
        "PATCH",
        "/admin/accounts/acme",
        &auth,
        r#"{"plan":"pro","company":null}"#,
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert!(changed.body.contains(r#""company":null"#) && changed.body.contains(r#""plan":"pro""#));
    assert_eq!(check().await["limits"][0]["limit"], 1000);

    let keys: serde_json::Value = serde_json::from_str(
        &send(
            tollgate.admin,
            "GET",
            "/admin/accounts/acme/keys",
            &auth,
            "",
        )
        .await
        .body,
    )
    .unwrap();
    let hash = keys[0]["key_sha256"].as_str().unwrap().to_owned();
    let revoke = format!("/admin/accounts/acme/keys/{hash}");
    assert_eq!(
        send(tollgate.admin, "DELETE", &revoke, &auth, "")
            .await
            .status,
        204
    );
    assert_eq!(
        send(tollgate.admin, "DELETE", &revoke, &auth, "")
            .await
            .status,
        404
    );
    assert_eq!(
        check().await["status"],
        401,
        "a revoked key is refused at once"
    );

    assert_eq!(
        send(tollgate.admin, "DELETE", "/admin/accounts/acme", &auth, "")
            .await
            .status,
        204
    );
    assert_eq!(
        send(tollgate.admin, "GET", "/admin/accounts/acme", &auth, "")
            .await
            .status,
        404
    );
    assert_eq!(
        send(tollgate.admin, "DELETE", "/admin/accounts/acme", &auth, "")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn an_override_raises_one_account_at_once_and_can_be_taken_back() {
    let tollgate = Tollgate::start(POLICY, None);
    let bearer = format!("Bearer {}", token(&tollgate));
    let auth = [("Authorization", bearer.as_str())];
    let key = account_with_key(
        &tollgate,
        &auth,
        r#"{"id":"globex","plan":"basic"}"#,
        "globex",
    )
    .await;
    let ask =
        format!(r#"{{"method":"GET","path":"/machines/1","headers":{{"x-api-key":"{key}"}}}}"#);
    let quota = || async {
        let answer: serde_json::Value = serde_json::from_str(
            &send(tollgate.address, "POST", "/v1/check", &[], &ask)
                .await
                .body,
        )
        .unwrap();
        answer["limits"][0]["limit"].as_u64().unwrap()
    };
    assert_eq!(quota().await, 3);
    let path = "/admin/accounts/globex/overrides/daily";
    for (body, code) in [
        (r#"{"rate":"5/s"}"#, "bad_override"),
        (r#"{"max":0}"#, "bad_override"),
    ] {
        let reply = send(tollgate.admin, "PUT", path, &auth, body).await;
        assert_eq!(
            (reply.status, reply.body.contains(code)),
            (400, true),
            "{body}: {}",
            reply.body
        );
    }
    let unknown = send(
        tollgate.admin,
        "PUT",
        "/admin/accounts/globex/overrides/weekly",
        &auth,
        r#"{"max":5}"#,
    )
    .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(
        send(tollgate.admin, "PUT", path, &auth, r#"{"max":5000}"#)
            .await
            .status,
        200
    );
    assert_eq!(quota().await, 5000, "the override applies at once");
    assert_eq!(
        send(tollgate.admin, "DELETE", path, &auth, "").await.status,
        204
    );
    assert_eq!(quota().await, 3);
    assert_eq!(
        send(tollgate.admin, "DELETE", path, &auth, "").await.status,
        404
    );
}

#[tokio::test]
async fn admin_path_blocks_follow_the_policys_path_rules() {
    let folded = format!("[paths]\ncase_insensitive = true\n{POLICY}");
    let tollgate = Tollgate::start(&folded, None);
    let bearer = format!("Bearer {}", token(&tollgate));
    let auth = [("Authorization", bearer.as_str())];
    let key = account_with_key(&tollgate, &auth, r#"{"id":"acme","plan":"pro"}"#, "acme").await;
    let made = send(
        tollgate.admin,
        "POST",
        "/admin/blocks",
        &auth,
        r#"{"path":"/MACHINES/%37","seconds":600}"#,
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let block: serde_json::Value = serde_json::from_str(&made.body).unwrap();
    assert_eq!(
        block["path"], "/machines/7",
        "folded and decoded as requests are"
    );
    for path in ["/machines/7", "/Machines/7", "/MACHINES/%37"] {
        let ask =
            format!(r#"{{"method":"GET","path":"{path}","headers":{{"x-api-key":"{key}"}}}}"#);
        let answer: serde_json::Value = serde_json::from_str(
            &send(tollgate.address, "POST", "/v1/check", &[], &ask)
                .await
                .body,
        )
        .unwrap();
        assert_eq!(answer["status"], 423, "{path}");
    }
    let refused = send(
        tollgate.admin,
        "POST",
        "/admin/blocks",
        &auth,
        r#"{"path":"/machines/a%2Fb","seconds":600}"#,
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
}

#[tokio::test]
async fn blocks_set_by_the_admin_refuse_until_removed() {
    let tollgate = Tollgate::start(POLICY, None);
    let bearer = format!("Bearer {}", token(&tollgate));
    let auth = [("Authorization", bearer.as_str())];
    let key = account_with_key(&tollgate, &auth, r#"{"id":"acme","plan":"pro"}"#, "acme").await;
    let ask = |path: &str| {
        format!(r#"{{"method":"GET","path":"{path}","headers":{{"x-api-key":"{key}"}}}}"#)
    };
    let status = |path: &'static str| {
        let body = ask(path);
        async move {
            let answer: serde_json::Value = serde_json::from_str(
                &send(tollgate.address, "POST", "/v1/check", &[], &body)
                    .await
                    .body,
            )
            .unwrap();
            answer["status"].as_u64().unwrap()
        }
    };
    let refused = send(
        tollgate.admin,
        "POST",
        "/admin/blocks",
        &auth,
        r#"{"seconds":60}"#,
    )
    .await;
    assert_eq!(
        (refused.status, refused.body.contains("bad_block")),
        (400, true)
    );
    let made = send(
        tollgate.admin,
        "POST",
        "/admin/blocks",
        &auth,
        r#"{"account":"acme","path":"/machines//7/","seconds":600,"reason":"maintenance"}"#,
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let block: serde_json::Value = serde_json::from_str(&made.body).unwrap();
    assert_eq!(
        block["path"], "/machines/7",
        "paths are kept in their normal form"
    );
    assert_eq!(status("/machines/7").await, 423);
    assert_eq!(
        status("/machines/8").await,
        200,
        "another path is not blocked"
    );
    let listed: serde_json::Value = serde_json::from_str(
        &send(tollgate.admin, "GET", "/admin/blocks", &auth, "")
            .await
            .body,
    )
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let remove = format!("/admin/blocks/{}", block["id"].as_str().unwrap());
    assert_eq!(
        send(tollgate.admin, "DELETE", &remove, &auth, "")
            .await
            .status,
        204
    );
    assert_eq!(status("/machines/7").await, 200);
    assert_eq!(
        send(tollgate.admin, "DELETE", &remove, &auth, "")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn apps_registered_through_the_admin_api_get_their_tier_and_bodies_have_a_size_limit() {
    let policy = r#"
        [identity]
        api_key = { header = "X-Api-Key" }
        app = { id_header = "X-AppId", secret_header = "X-AppSecret" }

        [[accounts]]
        id = "acme"
        keys = ["acme-key"]

        [[routes]]
        api = "invoices"
        match = "GET /invoices"

        [[limits]]
        name = "unregistered"
        window = { max = 300, every = "15m" }
        per = ["account"]
        when = { app = "absent" }

        [[limits]]
        name = "registered"
        window = { max = 1000, every = "15m" }
        per = ["account", "app"]
        when = { app = "present" }
    "#;
    let tollgate = Tollgate::start(policy, None);
    let bearer = format!("Bearer {}", token(&tollgate));
    let auth = [("Authorization", bearer.as_str())];
    let made = send(
        tollgate.admin,
        "POST",
        "/admin/apps",
        &auth,
        r#"{"id":"invoicer"}"#,
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let secret = serde_json::from_str::<serde_json::Value>(&made.body).unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        send(
            tollgate.admin,
            "POST",
            "/admin/apps",
            &auth,
            r#"{"id":"invoicer"}"#
        )
        .await
        .status,
        409
    );
    let limit = |app_secret: &str| {
        let ask = format!(
            r#"{{"method":"GET","path":"/invoices","headers":{{"x-api-key":"acme-key","x-appid":"invoicer","x-appsecret":"{app_secret}"}}}}"#
        );
        async move {
            let answer: serde_json::Value = serde_json::from_str(
                &send(tollgate.address, "POST", "/v1/check", &[], &ask)
                    .await
                    .body,
            )
            .unwrap();
            (
                answer["limits"][0]["name"].as_str().unwrap().to_owned(),
                answer["app"].clone(),
            )
        }
    };
    assert_eq!(
        limit(&secret).await,
        ("registered".to_owned(), "invoicer".into())
    );
    assert_eq!(
        limit("guess").await,
        ("unregistered".to_owned(), serde_json::Value::Null),
        "a wrong secret gets no upgrade"
    );
    assert_eq!(
        send(tollgate.admin, "DELETE", "/admin/apps/invoicer", &auth, "")
            .await
            .status,
        204
    );
    assert_eq!(
        limit(&secret).await.0,
        "unregistered",
        "a deleted app is no app"
    );

    let huge = format!(r#"{{"id":"{}"}}"#, "x".repeat(3 * 1024 * 1024));
    assert_eq!(
        send(tollgate.admin, "POST", "/admin/accounts", &auth, &huge)
            .await
            .status,
        413
    );
}

#[tokio::test]
async fn usage_history_counts_admitted_and_refused_per_api_and_day_and_survives_a_restart() {
    let tollgate = Tollgate::start(POLICY, None);
    let bearer = format!("Bearer {}", token(&tollgate));
    let auth = [("Authorization", bearer.as_str())];
    let key = account_with_key(&tollgate, &auth, r#"{"id":"acme","plan":"basic"}"#, "acme").await;
    let ask =
        format!(r#"{{"method":"GET","path":"/machines/1","headers":{{"x-api-key":"{key}"}}}}"#);
    for _ in 0..5 {
        send(tollgate.address, "POST", "/v1/check", &[], &ask).await;
    }
    let history = |tollgate: &Tollgate| {
        let (admin, auth) = (tollgate.admin, bearer.clone());
        async move {
            let reply = send(
                admin,
                "GET",
                "/admin/accounts/acme/history?days=7",
                &[("Authorization", auth.as_str())],
                "",
            )
            .await;
            serde_json::from_str::<serde_json::Value>(&reply.body).unwrap()
        }
    };
    let rows = history(&tollgate).await;
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(
        (&rows[0]["api"], &rows[0]["admitted"], &rows[0]["refused"]),
        (&"machines".into(), &3.into(), &2.into())
    );
    assert_eq!(
        rows[0]["date"].as_str().unwrap().len(),
        10,
        "a YYYY-MM-DD date"
    );
    let tollgate = tollgate.restart();
    assert_eq!(
        history(&tollgate).await,
        rows,
        "written down, kept across a restart"
    );
}

#[tokio::test]
async fn metrics_show_the_store_in_prometheus_text() {
    let tollgate = Tollgate::start(POLICY, None);
    let bearer = format!("Bearer {}", token(&tollgate));
    send(
        tollgate.admin,
        "POST",
        "/admin/accounts",
        &[("Authorization", bearer.as_str())],
        r#"{"id":"acme","plan":"basic"}"#,
    )
    .await;
    let made = send(
        tollgate.admin,
        "POST",
        "/admin/accounts/acme/keys",
        &[("Authorization", bearer.as_str())],
        "",
    )
    .await;
    let ask = format!(
        r#"{{"method":"GET","path":"/machines/1","headers":{{"x-api-key":"{}"}}}}"#,
        key_of(&made)
    );
    send(tollgate.address, "POST", "/v1/check", &[], &ask).await;
    let metrics = send(
        tollgate.admin,
        "GET",
        "/metrics",
        &[("Authorization", bearer.as_str())],
        "",
    )
    .await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        metrics
            .body
            .contains("# TYPE tollgate_partitions gauge\ntollgate_partitions 1\n"),
        "{}",
        metrics.body
    );
    assert!(
        metrics.body.contains("tollgate_journal_takes_total "),
        "{}",
        metrics.body
    );
}

/// A catalog account that the policy file comes to define: its catalog key no longer opens
/// anything (it would be unlisted and unrevocable), the account is listed once, as the file's,
/// and what the catalog still holds of it can be deleted.
#[tokio::test]
async fn a_catalog_account_the_file_comes_to_define_keeps_no_key_of_its_own() {
    let tollgate = Tollgate::start(POLICY, None);
    let bearer = format!("Bearer {}", token(&tollgate));
    let auth = [("authorization", bearer.as_str())];
    let key = account_with_key(
        &tollgate,
        &auth,
        r#"{"id":"carol","plan":"basic"}"#,
        "carol",
    )
    .await;
    let check =
        format!(r#"{{"method":"GET","path":"/machines/1","headers":{{"x-api-key":"{key}"}}}}"#);
    let asked = send(tollgate.address, "POST", "/v1/check", &[], &check).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let answer: serde_json::Value = serde_json::from_str(&asked.body).unwrap();
    assert_eq!(answer["account"], "carol");

    let file = format!(
        "{POLICY}\n[[accounts]]\nid = \"carol\"\nplan = \"pro\"\nkeys = [\"carol-file-key\"]\n"
    );
    std::fs::write(&tollgate.config, file).unwrap();
    let reloaded = send(tollgate.admin, "POST", "/admin/reload", &auth, "").await;
    assert_eq!(reloaded.status, 200, "{}", reloaded.body);

    let asked = send(tollgate.address, "POST", "/v1/check", &[], &check).await;
    let answer: serde_json::Value = serde_json::from_str(&asked.body).unwrap();
    assert_eq!(
        (&answer["allowed"], &answer["status"]),
        (&false.into(), &401.into()),
        "{answer}"
    );
    let listed = send(tollgate.admin, "GET", "/admin/accounts", &auth, "").await;
    let listed: serde_json::Value = serde_json::from_str(&listed.body).unwrap();
    assert_eq!(
        listed["accounts"],
        serde_json::json!([{ "id": "carol", "plan": "pro", "company": null, "time_zone": "UTC", "source": "policy" }])
    );
    let removed = send(tollgate.admin, "DELETE", "/admin/accounts/carol", &auth, "").await;
    assert_eq!(
        removed.status, 204,
        "the catalog's remnant: {}",
        removed.body
    );
    let again = send(tollgate.admin, "DELETE", "/admin/accounts/carol", &auth, "").await;
    assert_eq!(again.status, 409, "now only the file's: {}", again.body);
}
