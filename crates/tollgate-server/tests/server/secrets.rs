//! The admin API stays locked and the secrets stay private: an unfit admin token or a damaged key
//! seed refuses the start with the fix named; the data directory is the owner's alone.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{TempDir, Tollgate, send};

const POLICY: &str = r#"
    [identity]
    api_key = { header = "X-Api-Key" }

    [[routes]]
    api = "machines"
    match = "GET /machines/{*rest}"

    [[limits]]
    name = "daily"
    window = { max = 3, every = "1d" }
    per = ["account"]
"#;

/// A token long enough (40 characters).
const GOOD_TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";

/// How `tollgate serve` ended on a data directory prepared by the test.
struct Refused {
    code: Option<i32>,
    stderr: String,
}

/// Runs `tollgate serve` on `data_dir` with `TOLLGATE_ADMIN_TOKEN` set to `token` (removed if
/// `None`), expecting it to stop by itself within 20 s.
fn serve_until_exit(dir: &TempDir, data_dir: &Path, token: Option<&str>) -> Refused {
    let config = dir.0.join("policy.toml");
    std::fs::write(&config, POLICY).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    command
        .args(["serve", "--config"])
        .arg(&config)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    match token {
        Some(token) => command.env("TOLLGATE_ADMIN_TOKEN", token),
        None => command.env_remove("TOLLGATE_ADMIN_TOKEN"),
    };
    let child = command.spawn().unwrap();
    let pid = child.id();
    let (sender, ended) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    let Ok(output) = ended.recv_timeout(Duration::from_secs(20)) else {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        panic!("tollgate kept serving where it had to refuse to start");
    };
    let output = output.unwrap();
    Refused {
        code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A data directory holding `admin-token` with `contents`.
fn with_token_file(dir: &TempDir, contents: &str) -> PathBuf {
    let data_dir = dir.0.join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::write(data_dir.join("admin-token"), contents).unwrap();
    data_dir
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn an_empty_admin_token_file_refuses_the_start_naming_the_fix() {
    for contents in ["", "\n", "  \n"] {
        let dir = TempDir::new();
        let data_dir = with_token_file(&dir, contents);
        let refused = serve_until_exit(&dir, &data_dir, None);
        assert_eq!(refused.code, Some(2), "{}", refused.stderr);
        assert_eq!(
            refused.stderr.trim_end(),
            format!(
                "tollgate: the admin token in {} is empty (at least 32 characters are needed): \
                 delete the file to have a new one generated, or write a longer one (or set \
                 TOLLGATE_ADMIN_TOKEN)",
                data_dir.join("admin-token").display()
            )
        );
    }
}

#[test]
fn a_short_admin_token_file_refuses_the_start() {
    let dir = TempDir::new();
    let data_dir = with_token_file(&dir, "short-secret\n");
    let refused = serve_until_exit(&dir, &data_dir, None);
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!(
            "the admin token in {} has 12 characters (at least 32 are needed): delete the file",
            data_dir.join("admin-token").display()
        )),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("short-secret"),
        "the message never shows the token"
    );
}

#[test]
fn a_short_admin_token_in_the_environment_refuses_the_start() {
    let dir = TempDir::new();
    let data_dir = dir.0.join("data");
    let refused = serve_until_exit(&dir, &data_dir, Some("0123456789"));
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert_eq!(
        refused.stderr.trim_end(),
        format!(
            "tollgate: TOLLGATE_ADMIN_TOKEN is set but has 10 characters (at least 32 are \
             needed): set it to at least 32 visible ASCII characters (e.g. `openssl rand -hex \
             24`), or unset it to use the token in {}",
            data_dir.join("admin-token").display()
        )
    );
    assert!(
        !data_dir.join("admin-token").exists(),
        "no token file is made for a refused start"
    );
}

/// A set but empty variable is a mistake (a secret that did not reach the process), never a
/// silent fall back to the file's token.
#[test]
fn an_empty_environment_token_refuses_the_start_even_beside_a_good_file() {
    let dir = TempDir::new();
    let data_dir = with_token_file(&dir, GOOD_TOKEN);
    let refused = serve_until_exit(&dir, &data_dir, Some(""));
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert!(
        refused.stderr.starts_with(
            "tollgate: TOLLGATE_ADMIN_TOKEN is set but is empty (at least 32 characters are \
             needed): set it to at least 32 visible ASCII characters"
        ),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_damaged_key_seed_refuses_the_start_naming_the_fix() {
    let dir = TempDir::new();
    let data_dir = with_token_file(&dir, GOOD_TOKEN);
    std::fs::write(data_dir.join("key-seed"), [7u8; 5]).unwrap();
    let refused = serve_until_exit(&dir, &data_dir, None);
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert_eq!(
        refused.stderr.trim_end(),
        format!(
            "tollgate: the key seed {} is damaged (5 bytes; a key seed has 16): restore it from \
             a backup of the data directory, or delete it to start with fresh limit state \
             (every quota and rate limit restarts from zero)",
            data_dir.join("key-seed").display()
        )
    );
    assert_eq!(
        std::fs::read(data_dir.join("key-seed")).unwrap(),
        [7u8; 5],
        "the damaged seed is left for the operator"
    );
}

#[test]
fn the_data_directory_and_every_secret_in_it_are_the_owners_alone() {
    let tollgate = Tollgate::start(POLICY, None);
    let data = &tollgate.data_dir;
    assert_eq!(mode(data), 0o700);
    assert_eq!(mode(&data.join("admin-token")), 0o600);
    assert_eq!(mode(&data.join("key-seed")), 0o600);
    assert_eq!(std::fs::read(data.join("key-seed")).unwrap().len(), 16);
    assert_eq!(mode(&data.join("catalog.db")), 0o600);
    assert_eq!(mode(&data.join("limits.journal")), 0o600);
    let token = tollgate.admin_token();
    assert_eq!(token.len(), 48);
    assert!(token.bytes().all(|byte| byte.is_ascii_hexdigit()));
    let mut names: Vec<String> = std::fs::read_dir(data)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort_unstable();
    for name in &names {
        assert_eq!(mode(&data.join(name)), 0o600, "{name} is the owner's alone");
        assert!(
            !name.ends_with(".new"),
            "no temporary file is left: {names:?}"
        );
    }
    let line = tollgate.wait_for_logged("admin token generated");
    assert!(!line.contains(&token), "the log never shows the token");
}

#[tokio::test]
async fn an_open_data_directory_and_token_file_are_narrowed_and_the_token_trimmed() {
    use std::os::unix::fs::PermissionsExt;
    let tollgate = Tollgate::start(POLICY, None);
    let data = tollgate.data_dir.clone();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let token_file = data.join("admin-token");
    std::fs::write(&token_file, format!("  {GOOD_TOKEN}\n")).unwrap();
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let tollgate = tollgate.restart();
    let warned = tollgate.wait_for_logged("group or others had access");
    assert!(
        warned.contains(&format!("path={}", data.display())) && warned.contains("was=755"),
        "{warned}"
    );
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&token_file), 0o600);
    let auth = format!("Bearer {GOOD_TOKEN}");
    let created = send(
        tollgate.admin,
        "POST",
        "/admin/accounts",
        &[("Authorization", &auth)],
        r#"{"id":"globex"}"#,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let anonymous = send(
        tollgate.admin,
        "POST",
        "/admin/accounts",
        &[],
        r#"{"id":"initech"}"#,
    )
    .await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
}
