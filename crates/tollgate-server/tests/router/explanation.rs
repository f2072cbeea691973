//! `{explanation}` in a refusal body: which limit refused, in which partition (header values
//! masked), its numbers and when it is whole again — escaped for JSON and XML, and never for an
//! unknown key, whose answer must not tell a right key from a wrong one.

use serde_json::json;

use crate::support::Tollgate;
use crate::{ACME, POLICY, guarded};

/// `policy` with refusal bodies that explain themselves.
fn explaining(policy: &str) -> String {
    policy.replace(
        "format = \"accept\"",
        "format = \"accept\"\n    json = '{\"error\":\"{code}\",\"why\":\"{explanation}\"}'\n    xml = '<error why=\"{explanation}\"/>'",
    )
}

#[tokio::test]
async fn a_refusal_says_which_limit_partition_and_numbers() {
    let tollgate = Tollgate::start(&explaining(POLICY));
    for _ in 0..2 {
        assert_eq!(
            tollgate.auth("GET", "/machines/1", &[ACME]).await.status,
            200
        );
    }
    let refused = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(refused.status, 429);
    // A bucket of 2 refilling one an hour, both taken at T0: whole again two hours on.
    assert_eq!(
        refused.json(),
        json!({
            "error": "rate_limited",
            "why": "hourly (account=acme api=machines): 2 of 2 used, 1 per hour; whole again at 2026-01-01T02:00:00+00:00",
        })
    );
    let xml = tollgate
        .auth("GET", "/machines/1", &[ACME, ("Accept", "application/xml")])
        .await;
    assert_eq!(
        xml.body,
        "<error why=\"hourly (account=acme api=machines): 2 of 2 used, 1 per hour; whole again at 2026-01-01T02:00:00+00:00\"/>"
    );
}

#[tokio::test]
async fn client_values_are_masked_and_escaped() {
    let policy =
        explaining(POLICY).replace("per = [\"account\", \"api\"]", "per = [\"header:x-team\"]");
    let tollgate = Tollgate::start(&policy);
    let team = ("X-Team", "\"<b>&secret");
    for _ in 0..2 {
        let reply = tollgate.auth("GET", "/machines/1", &[ACME, team]).await;
        assert_eq!(reply.status, 200);
    }
    let refused = tollgate.auth("GET", "/machines/1", &[ACME, team]).await;
    // Two characters shown, the rest masked; the body is still JSON.
    let why = refused.json()["why"].as_str().unwrap().to_owned();
    assert!(
        why.starts_with("hourly (header:x-team=\"<***): 2 of 2 used"),
        "{why}"
    );
    assert!(!why.contains("secret"));
    let xml = tollgate
        .auth(
            "GET",
            "/machines/1",
            &[ACME, team, ("Accept", "application/xml")],
        )
        .await;
    assert!(
        xml.body
            .starts_with("<error why=\"hourly (header:x-team=&quot;&lt;***): 2 of 2"),
        "{}",
        xml.body
    );
}

#[tokio::test]
async fn an_unknown_key_and_a_throttled_right_key_read_alike() {
    let tollgate = Tollgate::start(&explaining(&guarded()));
    let guess = ("X-Api-Key", "guess");
    // Two guesses are answered 401; then guessing from this address is throttled.
    for _ in 0..2 {
        assert_eq!(
            tollgate.auth("GET", "/machines/1", &[guess]).await.status,
            401
        );
    }
    let wrong = tollgate.auth("GET", "/machines/1", &[guess]).await;
    let right = tollgate.auth("GET", "/machines/1", &[ACME]).await;
    assert_eq!(wrong.status, 429);
    assert_eq!((right.status, &right.body), (wrong.status, &wrong.body));
    let why = wrong.json()["why"].as_str().unwrap().to_owned();
    assert!(why.starts_with("guessing: 2 of 2 used"), "{why}");
}
