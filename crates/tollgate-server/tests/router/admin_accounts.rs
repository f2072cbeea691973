//! The admin API over every account Tollgate knows, whether the policy file or the catalog
//! defines it: listed together a page at a time, each readable, and a change to what the file
//! owns refused with a 409 that names the file.

use serde_json::json;

use crate::support::{Tollgate, example};

/// The IoT platform's file accounts (acme on basic, globex on pro, tiny on trial), and three of
/// the catalog's.
async fn with_accounts() -> Tollgate {
    let tollgate = Tollgate::with_admin(&example("iot-platform.toml")).await;
    for (id, plan) in [("initech", "pro"), ("beta", "basic"), ("zulu", "basic")] {
        let body = json!({ "id": id, "plan": plan }).to_string();
        let created = tollgate.admin("POST", "/admin/accounts", &body).await;
        assert_eq!(created.status, 201, "{}", created.body);
    }
    tollgate
}

/// The ids and sources of a page, and its `next`.
fn page(reply: &crate::support::Reply) -> (Vec<String>, Vec<String>, serde_json::Value) {
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    let field = |name: &str| {
        body["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|account| account[name].as_str().unwrap().to_owned())
            .collect()
    };
    (field("id"), field("source"), body["next"].clone())
}

#[tokio::test]
async fn accounts_of_the_file_and_the_catalog_are_listed_together_in_pages() {
    let tollgate = with_accounts().await;
    let (ids, sources, next) = page(&tollgate.admin("GET", "/admin/accounts", "").await);
    assert_eq!(ids, ["acme", "beta", "globex", "initech", "tiny", "zulu"]);
    assert_eq!(
        sources,
        [
            "policy", "catalog", "policy", "catalog", "policy", "catalog"
        ]
    );
    assert_eq!(next, json!(null));

    let mut seen = Vec::new();
    let mut path = "/admin/accounts?limit=4".to_owned();
    loop {
        let (ids, _, next) = page(&tollgate.admin("GET", &path, "").await);
        assert!(ids.len() <= 4);
        seen.extend(ids);
        let Some(after) = next.as_str() else { break };
        path = format!("/admin/accounts?limit=4&after={after}");
    }
    assert_eq!(seen, ["acme", "beta", "globex", "initech", "tiny", "zulu"]);

    let (on_basic, _, _) = page(
        &tollgate
            .admin("GET", "/admin/accounts?plan=basic", "")
            .await,
    );
    assert_eq!(on_basic, ["acme", "beta", "zulu"]);
    let (after_acme, _, next) = page(
        &tollgate
            .admin("GET", "/admin/accounts?plan=basic&after=acme&limit=1", "")
            .await,
    );
    assert_eq!((after_acme, next), (vec!["beta".to_owned()], json!("beta")));

    for bad in ["limit=0", "limit=1001", "limit=many", "sort=id"] {
        let refused = tollgate
            .admin("GET", &format!("/admin/accounts?{bad}"), "")
            .await;
        assert_eq!(refused.status, 400, "{bad}: {}", refused.body);
    }
    let wrong_method = tollgate.admin("PUT", "/admin/accounts", "{}").await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.json()["code"], "method_not_allowed");
    assert!(
        wrong_method
            .header("allow")
            .is_some_and(|allow| allow.contains("GET"))
    );
    let unknown = tollgate
        .admin("GET", "/admin/accounts?plan=platinum", "")
        .await;
    assert_eq!(
        (unknown.status, unknown.json()["code"].clone()),
        (400, json!("unknown_plan"))
    );
}

#[tokio::test]
async fn every_read_works_for_an_account_of_the_file() {
    let tollgate = with_accounts().await;
    // Its zone is the one its times are shown in: the file's calendar windows' (it names none).
    let acme = tollgate.admin("GET", "/admin/accounts/acme", "").await;
    assert_eq!(acme.status, 200, "{}", acme.body);
    assert_eq!(
        acme.json(),
        json!({ "id": "acme", "plan": "basic", "company": null, "time_zone": "Asia/Shanghai", "source": "policy" })
    );

    let keys = tollgate.admin("GET", "/admin/accounts/acme/keys", "").await;
    assert_eq!(keys.status, 200, "{}", keys.body);
    // SHA-256 of "acme-key", the key the file gives acme.
    let digest = "afacab3575137afa4e00d9cbcafcb14c9ae25f779d964eb0ea5b2c4eb5dfd163";
    let listed = keys.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["key_sha256"], digest);
    assert_eq!(listed[0]["created_at"], json!(null));

    let bought = tollgate
        .admin("POST", "/admin/accounts/acme/packs", r#"{"pack":"plus"}"#)
        .await;
    assert_eq!(bought.status, 201, "{}", bought.body);
    let packs = tollgate
        .admin("GET", "/admin/accounts/acme/packs", "")
        .await;
    assert_eq!(packs.status, 200, "{}", packs.body);
    assert_eq!(packs.json()[0]["pack"], "plus");

    for read in ["overrides", "usage", "usage/history", "history"] {
        let reply = tollgate
            .admin("GET", &format!("/admin/accounts/acme/{read}"), "")
            .await;
        assert_eq!(reply.status, 200, "{read}: {}", reply.body);
    }
    let nobody = tollgate
        .admin("GET", "/admin/accounts/nobody/packs", "")
        .await;
    assert_eq!(nobody.status, 404, "{}", nobody.body);
}

#[tokio::test]
async fn a_change_to_what_the_file_owns_is_a_conflict_that_names_the_file() {
    let tollgate = with_accounts().await;
    let changes = [
        ("PATCH", "/admin/accounts/acme", r#"{"plan":"pro"}"#),
        ("DELETE", "/admin/accounts/acme", ""),
        ("POST", "/admin/accounts/acme/keys", ""),
        ("DELETE", "/admin/accounts/acme/keys/00", ""),
    ];
    for (method, path, body) in changes {
        let refused = tollgate.admin(method, path, body).await;
        assert_eq!(refused.status, 409, "{method} {path}: {}", refused.body);
        assert_eq!(refused.json()["code"], "defined_in_policy");
        let message = refused.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains("policy.toml"), "{message}");
    }
    let still = tollgate.admin("GET", "/admin/accounts/acme", "").await;
    assert_eq!(still.json()["plan"], "basic");
    // The catalog's own accounts change as before.
    let changed = tollgate
        .admin("PATCH", "/admin/accounts/beta", r#"{"plan":"pro"}"#)
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
}
