//! Spellings of one typed id — a number and a UUID — sent through the gateway (raw request
//! lines), forward-auth and the check API once its bucket ran dry: each shares the canonical
//! bucket or matches no route; none reaches the upstream, none falls into the exempt catch-all,
//! and an upstream's block of the canonical id holds for every spelling.

use crate::bypass::{raw_status, statuses};
use crate::support::{Tollgate, Upstream, send};

/// One request an hour per account and path for circuits and things; `/protect` asks the
/// upstream for a block of 60 s; everything else is exempt.
const POLICY: &str = r#"
    [identity]
    api_key = { header = "X-Api-Key" }

    [[accounts]]
    id = "acme"
    keys = ["acme-key"]

    [[routes]]
    api = "circuits"
    match = "GET /gateways/{g:int}/circuits/{c:int}"

    [[routes]]
    api = "things"
    match = "GET /things/{id:uuid}"

    [[routes]]
    api = "protected"
    match = "GET /protect/{id:int}"

    [[routes]]
    api = "other"
    match = "* /{*rest}"
    exempt = true

    [[limits]]
    name = "per-path"
    token_bucket = { rate = "1/1h", burst = 1 }
    per = ["account", "path"]
    apis = ["circuits", "things"]

    [[limits]]
    name = "protected"
    window = { max = 1000, every = "1h" }
    per = ["account"]
    apis = ["protected"]
"#;

/// Spellings of id 1, to put where the canonical `1` goes.
const NUMBERS: [&str; 30] = [
    "01",
    "001",
    "00000000000000000000001",
    "%31",
    "%30%31",
    "0%31",
    "1/",
    "+1",
    "%2B1",
    "%2b1",
    "-1",
    "%201",
    "1%20",
    "%091",
    "1.0",
    "1.",
    "1e0",
    "0x1",
    "0X1",
    "1a",
    "%D9%A1",
    "%EF%BC%91",
    "%E2%80%8B1",
    "1%00",
    "1,0",
    "1_",
    "18446744073709551617",
    "1;x",
    "1%3B",
    "%7B1%7D",
];

/// The canonical UUID.
const UUID: &str = "123e4567-e89b-12d3-a456-426614174000";

/// Spellings of [`UUID`].
const UUIDS: [&str; 30] = [
    "123E4567-E89B-12D3-A456-426614174000",
    "123e4567-E89B-12d3-a456-426614174000",
    "123e4567e89b12d3a456426614174000",
    "123E4567E89B12D3A456426614174000",
    "%31%32%33e4567-e89b-12d3-a456-426614174000",
    "123e4567%2De89b%2D12d3%2Da456%2D426614174000",
    "123%65%34567-e89b-12d3-a456-426614174000",
    "123e4567-e89b-12d3-a456-426614174000/",
    "%7B123e4567-e89b-12d3-a456-426614174000%7D",
    "urn:uuid:123e4567-e89b-12d3-a456-426614174000",
    "123e4567-e89b-12d3-a456-4266141740000",
    "0123e4567-e89b-12d3-a456-426614174000",
    "123e4567-e89b-12d3-a456-42661417400",
    "123e4567-e89b12d3-a456-4266141740000",
    "123e4567--e89b-12d3-a456-426614174000",
    "123e4567-e89b-12d3-a456-426614174000-",
    "-123e4567-e89b-12d3-a456-426614174000",
    "%20123e4567-e89b-12d3-a456-426614174000",
    "123e4567-e89b-12d3-a456-426614174000%20",
    "+123e4567-e89b-12d3-a456-426614174000",
    "123e4567-e89b-12d3-a456-426614174000.",
    "123e4567-e89b-12d3-a456-426614174000.json",
    "123e4567-e89b-12d3-a456-42661417400g",
    "123e4567_e89b_12d3_a456_426614174000",
    "123e4567-e89b-12d3-a456-426614174000%00",
    "123e4567-e89b-12d3-a456-426614174000;v=1",
    "1-1-1-1-1",
    "{123e4567-e89b-12d3-a456-426614174000}",
    "123e4567-e89b-12d3-a456-426614174000%0A",
    "%EF%BC%91%EF%BC%92%EF%BC%93e4567-e89b-12d3-a456-426614174000",
];

const KEY: (&str, &str) = ("X-Api-Key", "acme-key");

/// Whether a spelling was refused everywhere: the spent bucket (429), a block (423), a refused
/// path (400), or no route (404 from the gateway and the check API, 403 from forward-auth).
fn refused((gateway, forward_auth, check, allowed): (u16, u16, u16, bool)) -> bool {
    [429, 423, 400, 404].contains(&gateway)
        && [429, 423, 400, 403].contains(&forward_auth)
        && [429, 423, 400, 404].contains(&check)
        && !allowed
}

#[tokio::test]
async fn no_spelling_of_a_typed_id_gets_past_its_spent_bucket() {
    let upstream = Upstream::start().await;
    let tollgate = Tollgate::start(POLICY, Some(upstream.address));
    let circuit = "/gateways/7/circuits/1";
    let thing = format!("/things/{UUID}");
    for canonical in [circuit, thing.as_str()] {
        assert_eq!(raw_status(tollgate.address, canonical).await, 200);
        assert_eq!(raw_status(tollgate.address, canonical).await, 429);
    }
    assert_eq!(upstream.hits(), 2);

    let mut failures = Vec::new();
    let spellings = NUMBERS
        .iter()
        .map(|number| format!("/gateways/7/circuits/{number}"))
        .chain(UUIDS.iter().map(|uuid| format!("/things/{uuid}")));
    for spelling in spellings {
        let got = statuses(&tollgate, &spelling).await;
        if !refused(got) {
            failures.push(format!("{spelling}: {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "got past the limit:\n{}",
        failures.join("\n")
    );
    assert_eq!(upstream.hits(), 2, "no spelling reached the upstream");
}

#[tokio::test]
async fn the_canonical_id_is_forwarded_and_its_block_holds_for_every_spelling() {
    let upstream = Upstream::start().await;
    let tollgate = Tollgate::start(POLICY, Some(upstream.address));
    // Forwarded in its canonical form.
    let reply = send(
        tollgate.address,
        "GET",
        "/gateways/007/circuits/01",
        &[KEY],
        "",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body.starts_with("GET /gateways/7/circuits/1 "),
        "{}",
        reply.body
    );
    // The upstream blocks /protect/1 for 60 s: every spelling of it is refused, none reaches it.
    let reply = send(tollgate.address, "GET", "/protect/1", &[KEY], "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let hits = upstream.hits();
    let mut failures = Vec::new();
    for number in ["1"].iter().chain(NUMBERS.iter()) {
        let spelling = format!("/protect/{number}");
        let got = statuses(&tollgate, &spelling).await;
        if !refused(got) {
            failures.push(format!("{spelling}: {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "got past the block:\n{}",
        failures.join("\n")
    );
    assert_eq!(upstream.hits(), hits, "no spelling reached the upstream");
    // Another id is not blocked.
    assert_eq!(
        send(tollgate.address, "GET", "/protect/2", &[KEY], "")
            .await
            .status,
        200
    );
}
