//! The OpenAPI document of the admin API and the check API, checked as CI checks it: valid
//! OpenAPI 3.1 (`openapi-spec-validator`), and a live server's answers all matching it
//! (`schemathesis`: examples, coverage, fuzzing and the stateful links, against the admin port
//! with its token and the public port's check API). Every check but `positive_data_acceptance`
//! (which would have the schema state every rule of the handlers, such as a rate only a token
//! bucket takes); a fixed seed, so a run is the same each time.

use std::process::Command;

use crate::support::{TempDir, Tollgate, send};

/// A Python tool `scripts/test` installs from PyPI.
fn tool(name: &str) -> Command {
    let found = Command::new(name).arg("--version").output();
    assert!(
        found.is_ok_and(|output| output.status.success()),
        "`{name}` is not installed: run `python3 -m pip install schemathesis openapi-spec-validator` (scripts/test does)"
    );
    Command::new(name)
}

/// Runs `command` and fails the test with its output unless it succeeds; returns its output.
fn run(mut command: Command) -> String {
    let output = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{text}");
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_valid_and_every_answer_matches_it() {
    let policy = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/iot-platform.toml"
    ))
    .unwrap();
    let tollgate = Tollgate::start(&policy, None);
    let document = send(tollgate.admin, "GET", "/admin/openapi.json", &[], "").await;
    assert_eq!(document.status, 200, "{}", document.body);
    let parsed: serde_json::Value = serde_json::from_str(&document.body).unwrap();
    assert_eq!(parsed["openapi"], "3.1.0");
    // Without the token, the types alone; with it, the policy's own names too.
    let plan = "/components/schemas/NewAccount/properties/plan/enum";
    assert_eq!(parsed.pointer(plan), None);
    let bearer = format!("Bearer {}", tollgate.admin_token());
    let full = send(
        tollgate.admin,
        "GET",
        "/admin/openapi.json",
        &[("authorization", &bearer)],
        "",
    )
    .await;
    let full: serde_json::Value = serde_json::from_str(&full.body).unwrap();
    assert_eq!(
        full.pointer(plan),
        Some(&serde_json::json!(["basic", "pro", "trial", null]))
    );
    let scratch = TempDir::new();
    let file = scratch.0.join("openapi.json");
    std::fs::write(&file, &document.body).unwrap();
    let mut validator = tool("openapi-spec-validator");
    validator.arg(&file);
    run(validator);

    let url = format!("http://{}/admin/openapi.json", tollgate.admin);
    let token = format!("Authorization: Bearer {}", tollgate.admin_token());
    let common = [
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--seed",
        "7",
        "--max-examples",
        "40",
        "--no-color",
    ];
    let mut admin = tool("schemathesis");
    admin
        .current_dir(&scratch.0)
        .args(["run", &url, "-H", &token, "--exclude-path", "/v1/check"])
        .args(common);
    let report = run(admin);
    assert!(report.contains("Stateful"), "{report}");

    let public = format!("http://{}", tollgate.address);
    let mut check = tool("schemathesis");
    check
        .current_dir(&scratch.0)
        .args(["run", &url, "--url", &public, "--include-path", "/v1/check"])
        .args(common)
        .args(["--phases", "examples,coverage,fuzzing"]);
    run(check);
}
