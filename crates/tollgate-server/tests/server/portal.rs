//! The customer's page in a real browser: Debian's headless Chromium, driven through the
//! DevTools protocol, signs in through the form of a real `tollgate serve`, reads the page —
//! the numbers, the account's zone, the pack's days left, the chart — at desktop and at phone
//! width, signs out, and leaves screenshots in the target directory for a person to look at
//! (`portal.png`, `portal-phone.png`).
//!
//! The fixture: acme, in Asia/Shanghai, with a bought pack; 8 of 10 calls of its daily quota on
//! machines (amber), all 10 on reports and 2 refused (red), and 29 earlier days of history
//! written to the catalog before the server starts.

use serde_json::{Value, json};

use crate::chromium::Chromium;
use crate::support::{TempDir, Tollgate, send};

const POLICY: &str = r#"
[identity]
api_key = { header = "X-Api-Key" }

[[accounts]]
id = "acme"
plan = "basic"
keys = ["acme-key"]
time_zone = "Asia/Shanghai"

[[routes]]
api = "machines"
match = "GET /machines/{id}"

[[routes]]
api = "reports"
match = "GET /reports"

[[limits]]
name = "daily"
window = { max = 10, every = "day", align = "calendar", tz = "Asia/Shanghai" }
per = ["account", "api"]

[[limits]]
name = "per-second"
token_bucket = { rate = "50/s", burst = 100 }
per = ["account"]

[plans.basic]

[packs.plus]
period = "30d"
limits.per-second = { burst = 200 }
"#;

/// What the page shows, read from its DOM.
const READ_PAGE: &str = r"JSON.stringify({
    who: document.querySelector('.who').innerText,
    pack: document.querySelector('.pack').innerText,
    apis: [...document.querySelectorAll('section')].map(section => ({
        name: section.querySelector('h2').innerText,
        limits: [...section.querySelectorAll('.limit')].map(limit => ({
            class: limit.className,
            numbers: limit.querySelector('.numbers').innerText,
            now: limit.querySelector('.bar').getAttribute('aria-valuenow'),
            max: limit.querySelector('.bar').getAttribute('aria-valuemax'),
            detail: limit.querySelector('.detail').innerText,
        })),
        chart: section.querySelector('svg.chart desc').textContent,
        bars: section.querySelectorAll('svg.chart g.day').length,
        today: [...section.querySelectorAll('svg.chart g.day title')].pop().textContent,
    })),
    wide: document.documentElement.scrollWidth,
})";

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_signs_in_and_reads_its_page_in_chromium() {
    let Some(mut chromium) = Chromium::start() else {
        return;
    };
    // What the page shows depends on the day in Shanghai: a run across its midnight is run
    // again, with the new day (the next midnight is a day away).
    for _ in 0..2 {
        if signs_in_and_reads(&mut chromium).await {
            return;
        }
        eprintln!("the day turned in Asia/Shanghai during the run: once more");
    }
    panic!("the day turned twice in one test");
}

/// The day in Shanghai now.
fn shanghai_today() -> i64 {
    let shanghai = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    let now = u64::try_from(jiff::Timestamp::now().as_nanosecond()).unwrap();
    tollgate_server::day_of(now, &shanghai)
}

/// One run: a fixture, the page read through the sign-in form and signed out of; `false` when
/// the day turned meanwhile (nothing asserted then on what depends on it).
async fn signs_in_and_reads(chromium: &mut Chromium) -> bool {
    // 29 earlier days of history, in acme's days, before the server starts.
    let dir = TempDir::new();
    let data = dir.0.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let today = shanghai_today();
    let catalog_url = format!("sqlite://{}", data.join("catalog.db").display());
    let catalog = tollgate_catalog::Catalog::open(&catalog_url).await.unwrap();
    let row = |api: &str, day, admitted, refused| tollgate_catalog::UsageDay {
        account: "acme".to_owned(),
        api: api.to_owned(),
        day,
        admitted,
        refused,
    };
    let earlier: Vec<_> = (1..30)
        .flat_map(|back| {
            let day = today - back;
            let busy = u64::try_from(back).unwrap() * 7 % 40 + 20;
            [
                row("machines", day, busy, busy / 10),
                row("reports", day, busy / 4, 0),
            ]
        })
        .collect();
    catalog.add_usage(&earlier).await.unwrap();
    drop(catalog);

    let tollgate = Tollgate::start_in(dir, POLICY, None);
    let admin = tollgate.admin_token();
    let bought = send(
        tollgate.admin,
        "POST",
        "/admin/accounts/acme/packs",
        &[
            ("Authorization", &format!("Bearer {admin}")),
            ("Content-Type", "application/json"),
        ],
        r#"{"pack":"plus"}"#,
    )
    .await;
    assert_eq!(bought.status, 201, "{}", bought.body);
    let key = [("X-Api-Key", "acme-key")];
    for _ in 0..8 {
        let reply = send(
            tollgate.address,
            "GET",
            "/v1/auth",
            &[
                key[0],
                ("X-Forwarded-Method", "GET"),
                ("X-Forwarded-Uri", "/machines/1"),
            ],
            "",
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let mut refused = 0;
    for _ in 0..12 {
        let reply = send(
            tollgate.address,
            "GET",
            "/v1/auth",
            &[
                key[0],
                ("X-Forwarded-Method", "GET"),
                ("X-Forwarded-Uri", "/reports"),
            ],
            "",
        )
        .await;
        refused += usize::from(reply.status == 429);
    }
    assert_eq!(refused, 2);

    // The sign-in form, filled and sent as a person would.
    chromium.width(1000, false);
    let page = format!("http://{}/_tollgate/quota", tollgate.address);
    chromium.and_load("Page.navigate", json!({ "url": page }));
    assert_eq!(
        chromium.eval("document.querySelector('label[for=key]').innerText"),
        "Your API key"
    );
    let submit = "document.getElementById('key').value = 'acme-key'; \
                  document.querySelector('form.sign-in').requestSubmit(); true";
    chromium.and_load("Runtime.evaluate", json!({ "expression": submit }));
    // The cookie is the browser's, not the page's: no script reads it.
    assert_eq!(chromium.eval("document.cookie"), "");

    let seen: Value = serde_json::from_str(chromium.eval(READ_PAGE).as_str().unwrap()).unwrap();
    let desktop = chromium.screenshot("portal.png", None);
    // At a phone's width nothing is wider than the screen.
    chromium.width(375, true);
    let wide = chromium.eval("document.documentElement.scrollWidth");
    let phone = chromium.screenshot("portal-phone.png", None);
    eprintln!("screenshots: {} and {}", desktop.display(), phone.display());
    // Signing out forgets the key: the form again.
    let out = "document.querySelector('header form button').click(); true";
    chromium.and_load("Runtime.evaluate", json!({ "expression": out }));
    assert_eq!(chromium.eval("!!document.getElementById('key')"), true);
    chromium.and_load("Page.reload", json!({}));
    assert_eq!(chromium.eval("!!document.getElementById('key')"), true);
    if shanghai_today() != today {
        return false;
    }

    assert!(wide.as_u64().unwrap() <= 375, "{wide} px wide at 375");
    let who = seen["who"].as_str().unwrap();
    assert!(
        who.contains("acme") && who.contains("basic") && who.contains("Asia/Shanghai"),
        "{who}"
    );
    let pack = seen["pack"].as_str().unwrap();
    assert!(
        pack.starts_with("Pack plus until ") && pack.ends_with("(30 days left)"),
        "{pack}"
    );
    let apis = seen["apis"].as_array().unwrap();
    let (machines, reports) = (&apis[0], &apis[1]);
    assert_eq!(machines["name"], "machines");
    let daily = &machines["limits"][0];
    assert_eq!(
        (&daily["class"], &daily["numbers"]),
        (
            &json!("limit warn"),
            &json!("8 of 10 used · near the limit")
        )
    );
    assert_eq!((&daily["now"], &daily["max"]), (&json!("8"), &json!("10")));
    let detail = daily["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("10 per day · resets at 00:00 (Asia/Shanghai), in "),
        "{detail}"
    );
    let rate = &machines["limits"][1];
    assert!(
        rate["detail"]
            .as_str()
            .unwrap()
            .starts_with("50 per second, bursts of 200"),
        "{rate}"
    );
    let full = &reports["limits"][0];
    assert_eq!(
        (&full["class"], &full["numbers"]),
        (&json!("limit full"), &json!("10 of 10 used · used up"))
    );
    // Thirty days per api, today's with today's calls.
    assert_eq!(
        (&machines["bars"], &reports["bars"]),
        (&json!(30), &json!(30))
    );
    let today_title = machines["today"].as_str().unwrap();
    assert!(
        today_title.ends_with(": 8 admitted, 0 refused"),
        "{today_title}"
    );
    let reports_today = reports["today"].as_str().unwrap();
    assert!(
        reports_today.ends_with(": 10 admitted, 2 refused"),
        "{reports_today}"
    );
    let earlier_machines: u64 = (1..30_u64).map(|back| back * 7 % 40 + 20).sum();
    let refused_machines: u64 = (1..30_u64).map(|back| (back * 7 % 40 + 20) / 10).sum();
    // The busiest: 59 admitted and 5 refused, 17 days ago.
    assert_eq!(
        machines["chart"],
        format!(
            "{} admitted and {} refused in all; the busiest day had 64.",
            with_commas(earlier_machines + 8),
            refused_machines
        )
    );
    assert!(seen["wide"].as_u64().unwrap() <= 1000);
    true
}

/// `12345` as `12,345`.
fn with_commas(number: u64) -> String {
    let digits = number.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
