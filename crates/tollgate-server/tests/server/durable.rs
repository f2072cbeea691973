//! Quotas survive a crash of the real binary: `kill -9`, restart, the count goes on.

use crate::support::{Tollgate, send};

const POLICY: &str = r#"
    [identity]
    api_key = { header = "X-Api-Key" }

    [[accounts]]
    id = "acme"
    keys = ["acme-key"]

    [[routes]]
    api = "machines"
    match = "GET /machines/{*rest}"

    [[limits]]
    name = "daily"
    window = { max = 5, every = "day", align = "calendar", tz = "Asia/Shanghai" }
    per = ["account"]

    [[limits]]
    name = "per-second"
    token_bucket = { rate = "100/s", burst = 100 }
    per = ["account"]
"#;

const ASK: &str = r#"{"method":"GET","path":"/machines/1","headers":{"x-api-key":"acme-key"}}"#;

async fn admitted(tollgate: &Tollgate, tries: usize) -> usize {
    let mut admitted = 0;
    for _ in 0..tries {
        let reply = send(tollgate.address, "POST", "/v1/check", &[], ASK).await;
        let answer: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        if answer["allowed"] == true {
            admitted += 1;
        }
    }
    admitted
}

#[tokio::test]
async fn kill_9_hands_nobody_a_fresh_quota() {
    let tollgate = Tollgate::start(POLICY, None);
    let before = admitted(&tollgate, 3).await;
    assert_eq!(before, 3);
    let tollgate = tollgate.crash_and_restart();
    tollgate.wait_for_logged("limit state restored");
    let after = admitted(&tollgate, 10).await;
    assert_eq!(
        before + after,
        5,
        "admitted before + after the crash = the daily quota"
    );
    // And once more, gracefully this time.
    let tollgate = tollgate.restart();
    assert_eq!(admitted(&tollgate, 3).await, 0);
}

#[tokio::test]
async fn a_damaged_state_file_is_logged_and_serving_goes_on() {
    let tollgate = Tollgate::start(POLICY, None);
    assert_eq!(admitted(&tollgate, 2).await, 2);
    let journal = tollgate.data_dir.join("limits.journal");
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes.extend_from_slice(&[0xFF; 21]);
    std::fs::write(&journal, bytes).unwrap();
    let tollgate = tollgate.crash_and_restart();
    tollgate.wait_for_logged("damaged from here");
    // The valid part was kept: 2 of 5 used.
    assert_eq!(admitted(&tollgate, 10).await, 3);

    std::fs::write(&journal, b"not a journal at all").unwrap();
    let tollgate = tollgate.crash_and_restart();
    tollgate.wait_for_logged("damaged from here");
    assert_eq!(
        admitted(&tollgate, 10).await,
        5,
        "nothing readable: counting starts anew, no panic"
    );
}
