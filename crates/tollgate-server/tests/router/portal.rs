//! The customer's page in a browser's shoes: the sign-in form, the cookie it sets and what it
//! is sent with, signing out, and every way a form or a cookie can be wrong — refused with the
//! form again, never a 500, never telling a right key from a wrong one.

use axum::body::Body;

use crate::support::{Reply, Tollgate, request};
use crate::{ACME, POLICY, guarded};

const HOST: (&str, &str) = ("Host", "api.example.com");
const PAGE: (&str, &str) = ("Accept", "text/html");

/// `POST path` with a form body, from this site's page.
async fn post(tollgate: &Tollgate, path: &str, form: &str, extra: &[(&str, &str)]) -> Reply {
    let mut headers = vec![
        HOST,
        ("Origin", "https://api.example.com"),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    headers.extend_from_slice(extra);
    let body = Body::from(form.to_owned());
    tollgate.send(request("POST", path, &headers, body)).await
}

/// The page as a browser asks for it, with `extra` headers.
async fn page(tollgate: &Tollgate, extra: &[(&str, &str)]) -> Reply {
    let mut headers = vec![HOST, PAGE];
    headers.extend_from_slice(extra);
    tollgate.get("/_tollgate/quota", &headers).await
}

/// The `name=value` a `Set-Cookie` gives, for the next request's `Cookie`.
fn cookie_of(reply: &Reply) -> String {
    let set = reply.header("set-cookie").expect("a cookie");
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn without_a_key_a_browser_gets_the_sign_in_form() {
    let tollgate = Tollgate::start(POLICY);
    let form = page(&tollgate, &[]).await;
    assert_eq!(form.status, 200);
    assert!(
        form.body
            .contains("<label for=\"key\">Your API key</label>")
    );
    assert!(form.body.contains("action=\"/_tollgate/quota/sign-in\""));
    assert_eq!(form.header("cache-control"), Some("no-store"));
    let security = form.header("content-security-policy").unwrap();
    assert!(
        security.starts_with("default-src 'none'") && security.contains("frame-ancestors 'none'")
    );
    // A program without a key still gets JSON's 401.
    let json = tollgate.quota(&[]).await;
    assert_eq!(json.status, 401);
    assert_eq!(json.json()["error"], "unauthenticated");
}

#[tokio::test]
async fn signing_in_keeps_the_key_in_a_strict_cookie_until_signing_out() {
    let tollgate = Tollgate::start(POLICY);
    let signed = post(&tollgate, "/_tollgate/quota/sign-in", "key=acme-key", &[]).await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(signed.header("location"), Some("/_tollgate/quota"));
    assert_eq!(
        signed.header("set-cookie"),
        Some(
            "tollgate_key=acme-key; Path=/_tollgate; Max-Age=2592000; HttpOnly; SameSite=Strict; Secure"
        )
    );
    let cookie = cookie_of(&signed);
    let shown = page(&tollgate, &[("Cookie", &cookie)]).await;
    assert_eq!(shown.status, 200);
    assert!(
        shown.body.contains("Account <strong>acme</strong>"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("action=\"/_tollgate/quota/sign-out\""));
    // Programs on the same site may read the JSON with the cookie too.
    let json = tollgate.quota(&[("Cookie", &cookie)]).await;
    assert_eq!(json.json()["account"], "acme");

    let out = post(
        &tollgate,
        "/_tollgate/quota/sign-out",
        "",
        &[("Cookie", &cookie)],
    )
    .await;
    assert_eq!(out.status, 303);
    assert_eq!(out.header("location"), Some("/_tollgate/quota"));
    assert_eq!(
        out.header("set-cookie"),
        Some("tollgate_key=; Path=/_tollgate; Max-Age=0; HttpOnly; SameSite=Strict; Secure")
    );
}

#[tokio::test]
async fn on_a_loopback_host_the_cookie_is_not_secure() {
    let tollgate = Tollgate::start(POLICY);
    let headers = [
        ("Host", "127.0.0.1:8080"),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let body = Body::from("key=acme-key");
    let signed = tollgate
        .send(request("POST", "/_tollgate/quota/sign-in", &headers, body))
        .await;
    assert_eq!(signed.status, 303);
    assert!(!signed.header("set-cookie").unwrap().contains("Secure"));
}

#[tokio::test]
async fn the_request_s_own_key_wins_over_the_cookie() {
    let tollgate = Tollgate::start(POLICY);
    let shown = page(&tollgate, &[ACME, ("Cookie", "tollgate_key=globex-key")]).await;
    assert!(
        shown.body.contains("Account <strong>acme</strong>"),
        "{}",
        shown.body
    );
    let shown = page(&tollgate, &[("Cookie", "tollgate_key=globex-key")]).await;
    assert!(
        shown.body.contains("Account <strong>globex</strong>"),
        "{}",
        shown.body
    );
}

#[tokio::test]
async fn a_wrong_key_gets_the_form_again_and_a_revoked_cookie_is_forgotten() {
    let tollgate = Tollgate::start(POLICY);
    let wrong = post(&tollgate, "/_tollgate/quota/sign-in", "key=guess", &[]).await;
    assert_eq!(wrong.status, 401);
    assert!(
        wrong
            .body
            .contains("role=\"alert\">That API key is not known.</p>")
    );
    assert_eq!(wrong.header("set-cookie"), None);
    let stale = page(&tollgate, &[("Cookie", "tollgate_key=revoked")]).await;
    assert_eq!(stale.status, 401);
    assert!(
        stale
            .header("set-cookie")
            .unwrap()
            .starts_with("tollgate_key=; ")
    );
}

#[tokio::test]
async fn while_guessing_is_throttled_a_right_key_reads_as_a_wrong_one() {
    let tollgate = Tollgate::start(&guarded());
    for _ in 0..2 {
        let wrong = post(&tollgate, "/_tollgate/quota/sign-in", "key=guess", &[]).await;
        assert_eq!(wrong.status, 401);
    }
    let wrong = post(&tollgate, "/_tollgate/quota/sign-in", "key=guess", &[]).await;
    let right = post(&tollgate, "/_tollgate/quota/sign-in", "key=acme-key", &[]).await;
    assert_eq!(wrong.status, 429);
    assert!(
        wrong
            .body
            .contains("Too many tries with unknown keys from your address")
    );
    assert_eq!(
        (
            right.status,
            right.header("retry-after"),
            &right.body,
            right.header("set-cookie")
        ),
        (wrong.status, wrong.header("retry-after"), &wrong.body, None)
    );
}

#[tokio::test]
async fn forms_and_cookies_that_cannot_be_read_get_the_form_with_a_400() {
    let tollgate = Tollgate::start(POLICY);
    for (form, status) in [
        ("key=acme-key&key=globex-key", 400),
        ("key=", 400),
        ("name=acme-key", 400),
        ("key=%FF%FE", 400),
    ] {
        let reply = post(&tollgate, "/_tollgate/quota/sign-in", form, &[]).await;
        assert_eq!(reply.status, status, "{form}: {}", reply.body);
        assert!(reply.body.contains("<form class=\"sign-in\""), "{form}");
    }
    let large = format!("key={}", "a".repeat(5_000));
    let reply = post(&tollgate, "/_tollgate/quota/sign-in", &large, &[]).await;
    assert_eq!(reply.status, 400);
    // A key that is not visible ASCII, in a cookie: read one way only.
    for cookie in [
        "tollgate_key=a; tollgate_key=b",
        "tollgate_key=%FF",
        "tollgate_key=a%20b",
    ] {
        let reply = page(&tollgate, &[("Cookie", cookie)]).await;
        assert_eq!(reply.status, 400, "{cookie}: {}", reply.body);
        assert!(
            reply
                .header("set-cookie")
                .unwrap()
                .starts_with("tollgate_key=; ")
        );
    }
}

#[tokio::test]
async fn a_form_from_another_site_is_refused_and_other_methods_are_405() {
    let tollgate = Tollgate::start(POLICY);
    let foreign = [("Origin", "https://evil.example")];
    let headers = [
        HOST,
        foreign[0],
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    for path in ["/_tollgate/quota/sign-in", "/_tollgate/quota/sign-out"] {
        let reply = tollgate
            .send(request("POST", path, &headers, Body::from("key=acme-key")))
            .await;
        assert_eq!(reply.status, 403, "{path}");
        assert_eq!(reply.header("set-cookie"), None);
        let get = tollgate.get(path, &[HOST]).await;
        assert_eq!((get.status, get.header("allow")), (405, Some("POST")));
    }
}

#[tokio::test]
async fn the_request_s_own_key_is_read_first_and_the_form_s_key_alone_signs_in() {
    let tollgate = Tollgate::start(POLICY);
    // A key of its own, sent twice, is that request's problem: a 400, not the form.
    let twice = page(&tollgate, &[ACME, ("X-Api-Key", "globex-key")]).await;
    assert_eq!(twice.status, 400, "{}", twice.body);
    // With a key of its own, a broken cookie is not even read.
    let shown = page(
        &tollgate,
        &[ACME, ("Cookie", "tollgate_key=a; tollgate_key=b")],
    )
    .await;
    assert!(
        shown.body.contains("Account <strong>acme</strong>"),
        "{}",
        shown.body
    );
    // Signing in with the form's key while sending another would keep an unchecked key.
    let mixed = post(
        &tollgate,
        "/_tollgate/quota/sign-in",
        "key=anything",
        &[ACME],
    )
    .await;
    assert_eq!(mixed.status, 400);
    assert_eq!(mixed.header("set-cookie"), None);
    // Every answer of the lookup is one account's: never cached.
    for reply in [
        tollgate.quota(&[ACME]).await,
        tollgate.quota(&[("X-Api-Key", "guess")]).await,
        page(&tollgate, &[ACME]).await,
    ] {
        assert_eq!(reply.header("cache-control"), Some("no-store"));
    }
}

#[tokio::test]
async fn guessing_on_the_page_is_charged_even_when_every_guess_limit_names_an_api() {
    let scoped = format!(
        "{POLICY}
    [[limits]]
    name = \"guessing\"
    window = {{ max = 2, every = \"1h\" }}
    per = [\"ip\"]
    apis = [\"machines\"]
    when = {{ key = \"unknown\" }}
"
    );
    let tollgate = Tollgate::start(&scoped);
    for _ in 0..2 {
        let wrong = post(&tollgate, "/_tollgate/quota/sign-in", "key=guess", &[]).await;
        assert_eq!(wrong.status, 401);
    }
    let wrong = post(&tollgate, "/_tollgate/quota/sign-in", "key=guess", &[]).await;
    assert_eq!(wrong.status, 429, "{}", wrong.body);
    // And through the API the same partition is spent.
    let api = tollgate
        .auth("GET", "/machines/1", &[("X-Api-Key", "guess")])
        .await;
    assert_eq!(api.status, 429);
}

#[tokio::test]
async fn another_cookie_s_bytes_are_passed_over() {
    let tollgate = Tollgate::start(POLICY);
    let signed = post(&tollgate, "/_tollgate/quota/sign-in", "key=acme-key", &[]).await;
    let cookie = cookie_of(&signed);
    for other in [
        &b"theme=\xff\xfe"[..],
        b"a=\tb\x80",
        b"x=\"\xc0\"",
        b"\xe9t\xe9=1",
    ] {
        let mut value = other.to_vec();
        value.extend_from_slice(b"; ");
        value.extend_from_slice(cookie.as_bytes());
        let mut asked = request("GET", "/_tollgate/quota", &[HOST, PAGE], Body::empty());
        asked.headers_mut().insert(
            "cookie",
            axum::http::HeaderValue::from_bytes(&value).unwrap(),
        );
        let reply = tollgate.send(asked).await;
        assert_eq!(reply.status, 200, "{other:?}: {}", reply.body);
        assert!(reply.body.contains("acme"), "{other:?}");
    }
}
