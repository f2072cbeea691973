//! The `tollgate` command line as an operator meets it: `--version`, and `tollgate admin`
//! against a real server.

use std::process::Command;

use crate::support::Tollgate;

/// `tollgate --version` names the version and the commit it was built from.
#[test]
fn the_version_names_the_commit() {
    let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success());
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|git| git.status.success())
        .map_or_else(
            || "unknown".to_owned(),
            |git| String::from_utf8_lossy(&git.stdout).trim().to_owned(),
        );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("tollgate {} (commit {commit})", env!("CARGO_PKG_VERSION"))
    );
}

/// `tollgate admin …` against the real server, with its token file.
pub(crate) struct AdminCli {
    url: String,
    token_file: std::path::PathBuf,
}

/// What a `tollgate admin` run printed and how it ended.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl AdminCli {
    pub(crate) fn of(tollgate: &Tollgate) -> Self {
        Self {
            url: format!("http://{}", tollgate.admin),
            token_file: tollgate.data_dir.join("admin-token"),
        }
    }

    fn run(&self, args: &[&str]) -> Ran {
        let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .arg("admin")
            .args(["--url", &self.url])
            .arg("--token-file")
            .arg(&self.token_file)
            .args(args)
            .env_remove("TOLLGATE_ADMIN_TOKEN")
            .env_remove("TOLLGATE_ADMIN_URL")
            .output()
            .unwrap();
        let ran = Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        eprintln!(
            "$ tollgate admin {}\n{}{}",
            args.join(" "),
            ran.stdout,
            ran.stderr
        );
        ran
    }

    /// Runs `args`, which must succeed, and returns what it printed.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let ran = self.run(args);
        assert_eq!(ran.code, 0, "{args:?}: {}", ran.stderr);
        ran.stdout
    }

    /// Runs `args` with `--json`, which must succeed, and returns the JSON.
    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut with_json = vec!["--json"];
        with_json.extend_from_slice(args);
        serde_json::from_str(&self.ok(&with_json)).unwrap()
    }
}

fn iot_platform() -> Tollgate {
    let policy = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/iot-platform.toml"
    ))
    .unwrap();
    Tollgate::start(&policy, None)
}

#[test]
fn the_admin_cli_reaches_every_resource() {
    let tollgate = iot_platform();
    let cli = AdminCli::of(&tollgate);

    // Accounts: the file's and the catalog's together, a table for people.
    cli.ok(&[
        "accounts",
        "create",
        "initech",
        "--plan",
        "pro",
        "--time-zone",
        "Europe/Berlin",
    ]);
    let listed = cli.ok(&["accounts", "list"]);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["ID", "PLAN", "COMPANY", "TIME_ZONE", "SOURCE"]
    );
    let ids: Vec<&str> = lines[1..]
        .iter()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert_eq!(ids, ["acme", "globex", "initech", "tiny"]);
    let page = cli.json(&["accounts", "list", "--limit", "2"]);
    assert_eq!(page["next"], "globex");
    assert!(
        cli.ok(&["accounts", "list", "--limit", "2"])
            .ends_with("more: --after globex\n")
    );
    cli.ok(&[
        "accounts",
        "update",
        "initech",
        "--no-plan",
        "--company",
        "Initech",
    ]);
    let shown = cli.json(&["accounts", "show", "initech"]);
    assert_eq!(
        (&shown["plan"], &shown["company"]),
        (&serde_json::Value::Null, &serde_json::json!("Initech"))
    );

    // Keys: created once in clear, listed as digests, revoked.
    let key = cli.json(&["keys", "create", "initech"]);
    let key = key["key"].as_str().unwrap().to_owned();
    let keys = cli.json(&["keys", "list", "initech"]);
    assert_eq!(keys.as_array().map(Vec::len), Some(1));
    let digest = keys[0]["key_sha256"].as_str().unwrap().to_owned();
    assert!(
        !cli.ok(&["keys", "list", "initech"]).contains(&key),
        "never the key itself"
    );
    assert_eq!(
        cli.ok(&["keys", "revoke", "initech", &digest]),
        "key revoked\n"
    );

    // Packs, overrides, usage, history.
    cli.ok(&["packs", "buy", "acme", "plus", "--by", "billing"]);
    let ledger = cli.ok(&["packs", "list", "acme"]);
    assert!(
        ledger
            .lines()
            .nth(1)
            .is_some_and(|row| row.starts_with("plus") && row.contains("billing")),
        "{ledger}"
    );
    cli.ok(&["overrides", "set", "acme", "daily-quota", "--max", "7"]);
    assert_eq!(cli.json(&["overrides", "list", "acme"])[0]["max"], 7);
    let usage = cli.ok(&["usage", "acme"]);
    assert!(usage.starts_with("acme  plan basic"), "{usage}");
    assert!(
        usage
            .lines()
            .any(|row| row.contains("daily-quota") && row.contains("quota")),
        "{usage}"
    );
    assert_eq!(
        cli.ok(&["overrides", "clear", "acme", "daily-quota"]),
        "override cleared\n"
    );
    let history = cli.json(&["history", "acme", "--days", "7"]);
    assert_eq!(history["account"], "acme");

    // Blocks and apps.
    let block = cli.json(&[
        "blocks",
        "add",
        "--account",
        "acme",
        "--seconds",
        "60",
        "--reason",
        "audit",
    ]);
    let id = block["id"].as_str().unwrap().to_owned();
    assert!(cli.ok(&["blocks", "list"]).contains("audit"));
    assert_eq!(cli.ok(&["blocks", "remove", &id]), "block lifted\n");
    let app = cli.json(&["apps", "create", "dashboard", "--owner", "acme"]);
    assert_eq!(app["app"], "dashboard");
    assert!(cli.ok(&["apps", "list"]).contains("dashboard"));
    assert_eq!(cli.ok(&["apps", "delete", "dashboard"]), "app deleted\n");

    // Reload and the shadow report.
    assert!(cli.ok(&["reload"]).contains("reloaded"));
    assert!(cli.ok(&["shadow", "--hours", "2"]).starts_with("since "));
    assert_eq!(
        cli.ok(&["accounts", "delete", "initech"]),
        "account deleted\n"
    );
}

#[test]
fn the_admin_cli_shows_what_a_replaced_pack_left() {
    let tollgate = iot_platform();
    let cli = AdminCli::of(&tollgate);
    let plus = cli.json(&["packs", "buy", "acme", "plus", "--by", "billing"]);
    assert_eq!(
        plus["price"],
        serde_json::json!({ "amount": "999.00", "currency": "CNY" })
    );
    cli.ok(&["packs", "buy", "acme", "max", "--by", "billing"]);
    let ledger = cli.json(&["packs", "list", "acme"]);
    let replaced = &ledger[0];
    let seconds = |field: &str| replaced[field].as_u64().unwrap();
    // On the server's clock: whatever the instants, the row says how they were counted.
    let unused = seconds("expires_at") - seconds("superseded_at");
    let total = seconds("expires_at") - seconds("starts_at");
    assert_eq!(replaced["refund"]["unused_seconds"], unused);
    assert!(unused > 364 * 86_400 && total == 365 * 86_400, "{replaced}");
    // 999.00 CNY × unused / total, to the nearest fen, halves up.
    let fen = (99_900 * u128::from(unused) * 2 + u128::from(total)) / (2 * u128::from(total));
    let value = format!("{}.{:02}", fen / 100, fen % 100);
    assert_eq!(replaced["refund"]["value"]["amount"], value.as_str());
    assert_eq!(ledger[1]["refund"], serde_json::Value::Null);

    let table = cli.ok(&["packs", "list", "acme"]);
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0][7..],
        ["PRICE", "UNUSED_SECONDS", "REFUND"],
        "{table}"
    );
    let refund = format!("{value} CNY");
    assert_eq!(
        lines[1][7..],
        ["999.00", "CNY", &unused.to_string(), value.as_str(), "CNY"],
        "{table}: plus, replaced, its refund {refund}"
    );
    assert_eq!(lines[2][7..], ["2999.00", "CNY", "-", "-"], "{table}");
}

#[test]
fn the_admin_cli_says_what_went_wrong_and_exits_with_its_kind() {
    let tollgate = iot_platform();
    let cli = AdminCli::of(&tollgate);
    // The API refused: 1, its code and message.
    let unknown = cli.run(&["accounts", "show", "nobody"]);
    assert_eq!(unknown.code, 1);
    assert_eq!(
        unknown.stderr.trim(),
        "tollgate admin: unknown_account: no account `nobody` (HTTP 404)"
    );
    let owned = cli.run(&["accounts", "delete", "acme"]);
    assert_eq!(owned.code, 1);
    assert!(
        owned.stderr.contains("defined_in_policy"),
        "{}",
        owned.stderr
    );
    // A wrong token: 1, unauthorized.
    let scratch = crate::support::TempDir::new();
    let wrong = scratch.0.join("token");
    std::fs::write(&wrong, "not-the-token-but-long-enough-to-be-one-0000").unwrap();
    let refused = AdminCli {
        url: cli.url.clone(),
        token_file: wrong,
    }
    .run(&["accounts", "list"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("unauthorized"),
        "{}",
        refused.stderr
    );
    // No token: 2; a bad command line: 2.
    let missing = AdminCli {
        url: cli.url.clone(),
        token_file: scratch.0.join("absent"),
    }
    .run(&["reload"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("no admin token"),
        "{}",
        missing.stderr
    );
    assert_eq!(cli.run(&["accounts", "frobnicate"]).code, 2);
    // Nobody there: 3.
    let token_file = scratch.0.join("kept");
    std::fs::copy(&cli.token_file, &token_file).unwrap();
    let gone = tollgate.admin;
    drop(tollgate);
    let unreachable = AdminCli {
        url: format!("http://{gone}"),
        token_file,
    };
    let down = unreachable.run(&["accounts", "list"]);
    assert_eq!(down.code, 3, "{}", down.stderr);
    assert!(
        down.stderr.contains("cannot reach the admin port"),
        "{}",
        down.stderr
    );
}
