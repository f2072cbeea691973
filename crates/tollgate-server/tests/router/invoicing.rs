//! `examples/invoicing.toml` (seed page 002, an invoicing SaaS) in process: fixed 15-minute
//! windows aligned to the clock, one pool of 300 per account for unregistered clients, 1,000 for a
//! registered app, free webhooks, `X-Rate-Limit-*` on every response, the provider's XML body,
//! overrides through the admin API.

use std::time::Duration;

use serde_json::json;

use crate::support::{Reply, T0, T0_S, Tollgate, example, pairs, secs};

const ACME: (&str, &str) = ("X-BillomatApiKey", "acme-key");
const GLOBEX: (&str, &str) = ("X-BillomatApiKey", "globex-key");
const APP: [(&str, &str); 2] = [("X-AppId", "invoicer"), ("X-AppSecret", "invoicer-secret")];

/// 00:10:54 UTC: 246 s before the quarter hour, as on the seed page.
fn start() -> Tollgate {
    Tollgate::start_at(&example("invoicing.toml"), T0 + secs(654))
}

fn refusal(quota: &str, retry_after: u64) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><errors><error>Maximum number of requests ({quota}) reached. Try again in {retry_after} seconds.</error></errors>"#
    )
}

/// Spends `count` requests with `headers`; the last reply.
async fn spend(tollgate: &Tollgate, headers: &[(&str, &str)], count: usize) -> Reply {
    let mut last = None;
    for _ in 0..count {
        let reply = tollgate.auth("GET", "/api/invoices", headers).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        last = Some(reply);
    }
    last.expect("at least one request")
}

#[tokio::test]
async fn every_response_carries_x_rate_limit_remaining_and_the_quarter_hours_end() {
    let tollgate = start();
    let reset = (T0_S + 900).to_string();
    for remaining in (0..300).rev() {
        let reply = tollgate.auth("GET", "/api/invoices", &[ACME]).await;
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.limit_headers(),
            pairs([
                ("x-rate-limit-remaining", &remaining.to_string()),
                ("x-rate-limit-reset", &reset),
            ])
        );
    }
}

#[tokio::test]
async fn the_301st_is_refused_with_the_providers_xml_until_the_quarter_hour() {
    let tollgate = start();
    spend(&tollgate, &[ACME], 300).await;
    let refused = tollgate.auth("GET", "/api/invoices", &[ACME]).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("content-type"), Some("application/xml"));
    assert_eq!(refused.body, refusal("300 per 15 minutes", 246));
    let reset = (T0_S + 900).to_string();
    assert_eq!(
        refused.limit_headers(),
        pairs([
            ("x-rate-limit-remaining", "0"),
            ("x-rate-limit-reset", &reset),
            ("retry-after", "246"),
        ])
    );

    tollgate.advance(Duration::from_secs(246) - Duration::from_nanos(1));
    let early = tollgate.auth("GET", "/api/invoices", &[ACME]).await;
    assert_eq!(early.body, refusal("300 per 15 minutes", 1));
    tollgate.advance_nanos(1);
    let next = tollgate.auth("GET", "/api/invoices", &[ACME]).await;
    let reset = (T0_S + 1800).to_string();
    assert_eq!(
        (next.status, next.limit_headers()),
        (
            200,
            pairs([
                ("x-rate-limit-remaining", "299"),
                ("x-rate-limit-reset", &reset),
            ])
        )
    );
}

#[tokio::test]
async fn a_wrong_secret_is_no_app_and_spends_the_shared_300() {
    let tollgate = start();
    spend(&tollgate, &[ACME], 300).await;
    let wrong = [ACME, ("X-AppId", "invoicer"), ("X-AppSecret", "guess")];
    let refused = tollgate.auth("GET", "/api/invoices", &wrong).await;
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (429, refusal("300 per 15 minutes", 246).as_str())
    );
}

#[tokio::test]
async fn a_registered_app_has_its_own_1000_per_account() {
    let tollgate = start();
    spend(&tollgate, &[ACME], 300).await;
    let acme_app = [ACME, APP[0], APP[1]];
    let first = tollgate.auth("GET", "/api/invoices", &acme_app).await;
    assert_eq!(
        (first.status, first.header("x-rate-limit-remaining")),
        (200, Some("999"))
    );
    let globex_app = [GLOBEX, APP[0], APP[1]];
    let other = tollgate.auth("GET", "/api/invoices", &globex_app).await;
    assert_eq!(other.header("x-rate-limit-remaining"), Some("999"));
    let globex = tollgate.auth("GET", "/api/invoices", &[GLOBEX]).await;
    assert_eq!(globex.header("x-rate-limit-remaining"), Some("299"));

    let last = spend(&tollgate, &acme_app, 999).await;
    assert_eq!(last.header("x-rate-limit-remaining"), Some("0"));
    let refused = tollgate.auth("GET", "/api/invoices", &acme_app).await;
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (429, refusal("1000 per 15 minutes", 246).as_str())
    );
}

#[tokio::test]
async fn webhooks_count_nothing_and_are_never_refused() {
    let tollgate = start();
    for _ in 0..3 {
        let webhook = tollgate
            .auth("POST", "/webhooks/invoice-paid", &[ACME])
            .await;
        assert_eq!((webhook.status, webhook.limit_headers()), (200, vec![]));
    }
    let first = tollgate.auth("GET", "/api/invoices", &[ACME]).await;
    assert_eq!(first.header("x-rate-limit-remaining"), Some("299"));
    spend(&tollgate, &[ACME], 299).await;
    let webhook = tollgate
        .auth("POST", "/webhooks/invoice-paid", &[ACME])
        .await;
    assert_eq!(webhook.status, 200, "the pool is spent, webhooks go on");
}

#[tokio::test]
async fn an_override_through_the_admin_api_applies_at_once_to_that_account() {
    let tollgate = Tollgate::with_admin(&example("invoicing.toml")).await;
    let limit = |key: &'static str| {
        let tollgate = &tollgate;
        async move {
            let ask = json!({
                "method": "GET",
                "path": "/api/invoices",
                "headers": { "x-billomatapikey": key },
            });
            tollgate.check(ask).await["limits"][0]["limit"].clone()
        }
    };
    assert_eq!(limit("globex-key").await, 300);
    let set = tollgate
        .admin(
            "PUT",
            "/admin/accounts/globex/overrides/unregistered",
            r#"{"max":5000}"#,
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(limit("globex-key").await, 5000);
    assert_eq!(limit("acme-key").await, 300, "acme keeps 300");
    let cleared = tollgate
        .admin(
            "DELETE",
            "/admin/accounts/globex/overrides/unregistered",
            "",
        )
        .await;
    assert_eq!(cleared.status, 204, "{}", cleared.body);
    assert_eq!(limit("globex-key").await, 300);
}
