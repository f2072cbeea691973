//! Blocks of the catalog (`Gate::set_blocks`, and the admin API that sets them): 423 with
//! `Retry-After` until they end, taking nothing.

use std::time::Duration;

use serde_json::json;

use crate::support::{T0, T0_S, Tollgate, block, secs};
use crate::{ACME, GLOBEX, POLICY, guarded};

/// The body of a refusal by [`block`] until `until_s` (epoch seconds, `at` in RFC 3339).
fn blocked(until_s: u64, at: &str) -> serde_json::Value {
    json!({ "error": "blocked", "message": format!("maintenance until {at}"), "until": until_s })
}

#[tokio::test]
async fn a_blocked_account_gets_423_with_retry_after_and_the_reason() {
    let tollgate = Tollgate::start(POLICY);
    tollgate.set_blocks(vec![block(Some("acme"), None, None, T0 + secs(600))]);
    let reply = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(reply.status, 423);
    assert_eq!(
        reply.limit_headers(),
        [("retry-after".to_owned(), "600".to_owned())]
    );
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(
        reply.json(),
        blocked(T0_S + 600, "2026-01-01T00:10:00+00:00")
    );
    assert_eq!(reply.header("tollgate-refusal"), Some(reply.body.as_str()));
    assert_eq!(
        tollgate.auth("GET", "/machines/1", &[GLOBEX]).await.status,
        200,
        "another account is not blocked"
    );
}

#[tokio::test]
async fn a_block_ends_exactly_at_its_time_and_took_nothing() {
    let tollgate = Tollgate::start(POLICY);
    tollgate.set_blocks(vec![block(Some("acme"), None, None, T0 + secs(600))]);
    for _ in 0..3 {
        assert_eq!(
            tollgate.auth("GET", "/machines/1", &[ACME]).await.status,
            423
        );
    }
    tollgate.advance(Duration::from_secs(600) - Duration::from_nanos(1));
    let early = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(
        (early.status, early.header("retry-after")),
        (423, Some("1"))
    );
    tollgate.advance_nanos(1);
    let admitted = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(
        (admitted.status, admitted.header("x-rate-limit-remaining")),
        (200, Some("1")),
        "the blocked requests took nothing"
    );
}

#[tokio::test]
async fn an_api_block_refuses_every_account_on_that_api_only() {
    let tollgate = Tollgate::start(POLICY);
    tollgate.set_blocks(vec![block(None, Some("machines"), None, T0 + secs(60))]);
    for key in [&[ACME][..], &[GLOBEX], &[]] {
        let reply = tollgate.auth("GET", "/machines/1", key).await;
        assert_eq!(
            (reply.status, reply.header("retry-after")),
            (423, Some("60")),
            "{key:?}"
        );
    }
    assert_eq!(
        tollgate
            .auth("GET", "/machines/1", &[("X-Api-Key", "guess")])
            .await
            .status,
        401,
        "an unknown key is still unknown"
    );
    assert_eq!(tollgate.auth("GET", "/healthz", &[ACME]).await.status, 200);
}

#[tokio::test]
async fn a_path_block_refuses_every_spelling_of_that_path_only() {
    let tollgate = Tollgate::start(POLICY);
    tollgate.set_blocks(vec![block(None, None, Some("/machines/7"), T0 + secs(60))]);
    for spelling in ["/machines/7", "/machines/%37", "//machines/7/"] {
        let reply = tollgate.auth("GET", spelling, &[ACME]).await;
        assert_eq!(
            (reply.status, reply.header("retry-after")),
            (423, Some("60")),
            "{spelling}"
        );
    }
    assert_eq!(
        tollgate.auth("GET", "/machines/8", &[ACME]).await.status,
        200
    );
}

#[tokio::test]
async fn the_longest_block_in_force_is_the_one_answered() {
    let tollgate = Tollgate::start(POLICY);
    tollgate.set_blocks(vec![
        block(Some("acme"), None, None, T0 + secs(60)),
        block(None, Some("machines"), Some("/machines/1"), T0 + secs(300)),
        block(Some("acme"), None, None, T0 - secs(1)),
    ]);
    let reply = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(reply.header("retry-after"), Some("300"));
    let other = tollgate.auth("GET", "/machines/2", &[ACME]).await;
    assert_eq!(other.header("retry-after"), Some("60"));
    let globex = tollgate.auth("GET", "/machines/2", &[GLOBEX]).await;
    assert_eq!(globex.status, 200, "a block that ended refuses nothing");
}

#[tokio::test]
async fn a_block_in_the_check_api_is_status_423_with_retry_after() {
    let tollgate = Tollgate::start(POLICY);
    tollgate.set_blocks(vec![block(Some("acme"), None, None, T0 + secs(90))]);
    let answer = tollgate
        .check(json!({ "method": "GET", "path": "/machines/1", "headers": { "x-api-key": "acme-key" } }))
        .await;
    assert_eq!(
        (
            &answer["allowed"],
            &answer["status"],
            &answer["retry_after"],
            &answer["headers"]
        ),
        (
            &json!(false),
            &json!(423),
            &json!(90),
            &json!({ "retry-after": "90" })
        )
    );
}

#[tokio::test]
async fn a_blocked_accounts_right_key_is_answered_as_a_guess_while_guessing_is_throttled() {
    let tollgate = Tollgate::start(&guarded());
    tollgate.set_blocks(vec![block(Some("acme"), None, None, T0 + secs(7200))]);
    for _ in 0..2 {
        tollgate
            .auth("GET", "/machines/1", &[("X-Api-Key", "guess")])
            .await;
    }
    let right = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    let wrong = tollgate
        .auth("GET", "/machines/1", &[("X-Api-Key", "guess")])
        .await;
    assert_eq!(
        (right.status, &right.limit_headers(), &right.body),
        (429, &wrong.limit_headers(), &wrong.body),
        "the block shows only once guessing has room again"
    );
    tollgate.advance(Duration::from_secs(3600));
    let reply = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(
        (reply.status, reply.header("retry-after")),
        (423, Some("3600"))
    );
}

#[tokio::test]
async fn a_block_set_and_removed_through_the_admin_api_applies_at_once() {
    let tollgate = Tollgate::with_admin(POLICY).await;
    let set = tollgate
        .admin(
            "POST",
            "/admin/blocks",
            r#"{"account":"acme","seconds":600,"reason":"unpaid invoice"}"#,
        )
        .await;
    assert_eq!(set.status, 201, "{}", set.body);
    let reply = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(
        (reply.status, reply.header("retry-after")),
        (423, Some("600"))
    );
    assert_eq!(
        reply.json()["message"],
        "unpaid invoice until 2026-01-01T00:10:00+00:00"
    );
    let id = set.json()["id"].as_str().expect("a block id").to_owned();
    let removed = tollgate
        .admin("DELETE", &format!("/admin/blocks/{id}"), "")
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    assert_eq!(
        tollgate.auth("GET", "/machines/1", &[ACME]).await.status,
        200
    );
}

/// A block set at an instant that is not a whole second ends at one instant everywhere: the
/// admin API's `until`, the 423 body's, its message (to the second, rounded up, in the
/// account's zone) and `Retry-After` all say the same second.
#[tokio::test]
async fn a_block_s_end_reads_the_same_everywhere_in_the_account_s_zone() {
    let policy = POLICY.replace(
        "id = \"acme\"",
        "id = \"acme\"\n    time_zone = \"Asia/Shanghai\"",
    );
    assert_ne!(policy, POLICY, "acme has a zone");
    let tollgate = Tollgate::with_admin(&policy).await;
    tollgate.advance_nanos(479_539_569);
    let set = tollgate
        .admin(
            "POST",
            "/admin/blocks",
            r#"{"account":"acme","seconds":600,"reason":"maintenance"}"#,
        )
        .await;
    assert_eq!(set.status, 201, "{}", set.body);
    let until = T0_S + 601;
    assert_eq!(set.json()["until"], until);
    let listed = tollgate.admin("GET", "/admin/blocks", "").await;
    assert_eq!(listed.json()[0]["until"], until);
    let reply = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(reply.status, 423);
    assert_eq!(reply.header("retry-after"), Some("600"));
    assert_eq!(reply.json(), blocked(until, "2026-01-01T08:10:01+08:00"));
}
