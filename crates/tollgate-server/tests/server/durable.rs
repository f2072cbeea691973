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

/// A daily quota of 400 whose journal is compacted every few hundred writes.
const COMPACTING: &str = r#"
    [server]
    journal_slack = 1024

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
    window = { max = 400, every = "day", align = "calendar", tz = "Asia/Shanghai" }
    per = ["account"]
"#;

/// The value of a counter or gauge on the admin port's `/metrics`.
async fn metric(tollgate: &Tollgate, name: &str) -> u64 {
    crate::support::counter(&tollgate.metrics().await, name)
}

/// Sixteen clients asking at once until `stop` answers have come back (or the process is gone);
/// how many were admitted.
async fn storm(tollgate: &Tollgate, stop: usize) -> usize {
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let admitted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..16 {
        let (answered, admitted, address) = (answered.clone(), admitted.clone(), tollgate.address);
        clients.push(tokio::spawn(async move {
            let client =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http::<axum::body::Body>();
            while answered.load(std::sync::atomic::Ordering::SeqCst) < stop {
                let request = axum::http::Request::post(format!("http://{address}/v1/check"))
                    .body(axum::body::Body::from(ASK))
                    .unwrap();
                let Ok(response) = client.request(request).await else {
                    return;
                };
                let Ok(body) = http_body_util::BodyExt::collect(response.into_body()).await else {
                    return;
                };
                let answer: serde_json::Value =
                    serde_json::from_slice(&body.to_bytes()).unwrap_or_default();
                answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if answer["allowed"] == true {
                    admitted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    admitted.load(std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test]
async fn kill_9_at_random_moments_compaction_included_never_admits_past_the_limit() {
    // A reproducible draw of when to kill: after 20 to 100 answers.
    let mut seed = std::process::id() as u64 | 1;
    let mut draw = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        20 + (seed % 81) as usize
    };
    let mut tollgate = Tollgate::start(COMPACTING, None);
    let (mut admitted, mut compactions) = (0, 0);
    for _ in 0..8 {
        admitted += storm(&tollgate, draw()).await;
        compactions += metric(&tollgate, "tollgate_journal_compactions_total").await;
        // Killed while the clients' next requests are in flight; those answered count too.
        let load = tokio::spawn({
            let address = tollgate.address;
            async move {
                let mut admitted = 0;
                for _ in 0..8 {
                    let ask = send(address, "POST", "/v1/check", &[], ASK);
                    let Ok(reply) =
                        tokio::time::timeout(std::time::Duration::from_secs(5), ask).await
                    else {
                        break;
                    };
                    if reply.body.contains(r#""allowed":true"#) {
                        admitted += 1;
                    }
                }
                admitted
            }
        });
        tollgate = tollgate.crash_and_restart();
        admitted += load.await.unwrap_or(0);
        tollgate.wait_for_logged("limit state restored");
    }
    admitted += storm(&tollgate, 500).await;
    assert!(
        admitted <= 400,
        "admitted {admitted} across 8 kills of a quota of 400"
    );
    assert!(
        admitted >= 300,
        "only {admitted} admitted: the kills lost more than in-flight requests"
    );
    assert!(
        compactions > 8,
        "compactions ran mid-storm, not only at start: {compactions}"
    );
}

/// A small filesystem (tmpfs) mounted for one test, unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    /// Mounts a 2 MiB tmpfs at `path`; `None` where mounting is not allowed (not root).
    fn mount(path: &std::path::Path) -> Option<Self> {
        std::fs::create_dir_all(path).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs"])
            .arg(path)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        mounted.then(|| Self(path.to_owned()))
    }

    /// Writes a file until the filesystem is full.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let filler = self.0.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 4096];
        while file
            .write_all(&block)
            .and_then(|()| file.sync_data())
            .is_ok()
        {}
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// The check API's answer to one request: allowed, and the status the gateway would give.
async fn ask(tollgate: &Tollgate) -> (bool, u64) {
    let reply = send(tollgate.address, "POST", "/v1/check", &[], ASK).await;
    let answer: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    (
        answer["allowed"] == true,
        answer["status"].as_u64().unwrap_or(0),
    )
}

#[tokio::test]
async fn a_full_disk_is_answered_in_time_and_served_again_once_it_has_room() {
    let dir = crate::support::TempDir::new();
    let Some(disk) = SmallDisk::mount(&dir.0.join("data")) else {
        eprintln!(
            "SKIPPED: mounting a small filesystem needs root (the full-disk case is also covered in process by journal::writer::tests)"
        );
        return;
    };
    let policy = COMPACTING
        .replace("max = 400,", "max = 6000,")
        .replace("journal_slack = 1024", "journal_slack = 1048576");
    let tollgate = Tollgate::start_in(dir, &policy, None);
    tollgate.wait_for_logged("limit state restored");
    for _ in 0..3 {
        assert_eq!(ask(&tollgate).await, (true, 200));
    }
    let filler = disk.fill();
    // Appends go over the zeros the journal keeps ahead of its batches (64 KiB: about 2,700
    // batches of one record), then into the file's last page until it is full: then the
    // first failure.
    let started = std::time::Instant::now();
    let mut admitted = 3;
    let mut unavailable = 0;
    for _ in 0..4000 {
        match ask(&tollgate).await {
            (true, 200) => admitted += 1,
            answer => {
                assert_eq!(answer, (false, 503), "the disk is full: the failure answer");
                unavailable += 1;
                break;
            }
        }
    }
    assert_eq!(unavailable, 1, "the disk filled up within 4,000 appends");
    assert!(
        admitted > 2700,
        "the zeros ahead were written over: {admitted}"
    );
    for _ in 0..2 {
        assert_eq!(ask(&tollgate).await, (false, 503));
        unavailable += 1;
    }
    // Each answer came within the journal's wait (2 s), not never.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(metric(&tollgate, "tollgate_journal_write_errors_total").await >= 1);
    assert_eq!(metric(&tollgate, "tollgate_journal_up").await, 0);

    std::fs::remove_file(filler).unwrap();
    assert_eq!(
        ask(&tollgate).await,
        (true, 200),
        "served again once the disk has room"
    );
    assert_eq!(metric(&tollgate, "tollgate_journal_up").await, 1);
    // Nothing was lost: after a crash the count goes on (the refused answers were counted).
    let tollgate = tollgate.crash_and_restart();
    tollgate.wait_for_logged("limit state restored");
    let mut after = 0;
    while ask(&tollgate).await.0 {
        after += 1;
    }
    assert_eq!(admitted + unavailable + 1 + after, 6000);
    drop(tollgate);
    drop(disk);
}
