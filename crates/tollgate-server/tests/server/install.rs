//! The ways an operator installs Tollgate without building Rust, each made from this test's own
//! binary and run on loopback: the container image (`scripts/image`, built and run with podman,
//! its storage in a temporary directory) and the Debian package (`scripts/package`, installed by
//! dpkg into a temporary root with an empty database, its unit checked by `systemd-analyze
//! verify` and its `ExecStart` run).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::Process;
use crate::support::{Reply, TempDir, send, try_send};

/// The repository's root, where the scripts run.
const REPOSITORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The binary under test, which the image and the package are made from.
const BINARY: &str = env!("CARGO_BIN_EXE_tollgate");

/// The uid and gid the image runs as.
const IMAGE_USER: &str = "65532:65532";

/// Open files `tollgate serve` needs with the default `server.max_connections` (10,000 a port)
/// on all three ports: a file per connection, and 256 to spare.
const OPEN_FILES_NEEDED: u64 = 3 * 10_000 + 256;

/// Runs `command` and returns its standard output; panics with both outputs unless it succeeds.
fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?}: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Panics with the `apt-get install` to run unless `program --version` runs.
fn require(program: &str, packages: &str) {
    let found = Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        found,
        "{program} is not installed: scripts/test installs it, or run `apt-get install {packages}` as root"
    );
}

/// The size in bytes that a script's last line (`NAME: SIZE bytes (HUMAN)`) gives for `name`.
fn reported_size(output: &str, name: &str) -> u64 {
    let line = output.lines().last().unwrap_or_default();
    let size = line
        .strip_prefix(&format!("{name}: "))
        .and_then(|rest| rest.split_once(" bytes ("))
        .unwrap_or_else(|| panic!("not `{name}: SIZE bytes (…)`: {output}"))
        .0;
    size.parse().unwrap()
}

/// Polls `GET /healthz` on the admin port until it answers 200, for at most 30 s.
async fn wait_until_healthy(admin: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = try_send(admin, "GET", "/healthz", &[], "").await;
        if reply.is_ok_and(|reply| reply.status == 200) {
            return;
        }
        assert!(Instant::now() < deadline, "{admin} never became healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `GET path` with `headers` until a 429 comes back (at most 50 times): the statuses of
/// the answers before it, and the 429.
async fn until_refused(
    address: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (Vec<u16>, Reply) {
    let mut before = Vec::new();
    for _ in 0..50 {
        let reply = send(address, "GET", path, headers, "").await;
        if reply.status == 429 {
            return (before, reply);
        }
        before.push(reply.status);
    }
    panic!("no 429 in 50 requests: {before:?}");
}

/// Checks the quick-start policy's refusal: the per-second limit of api `greetings`.
fn assert_quick_start_refusal(refused: &Reply) {
    let body: serde_json::Value = serde_json::from_str(&refused.body).unwrap();
    assert_eq!(
        (&body["error"], &body["limit"], &body["api"]),
        (
            &"rate_limited".into(),
            &"per-second".into(),
            &"greetings".into()
        ),
        "{}",
        refused.body
    );
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(
        refused.header("ratelimit-policy"),
        Some("\"per-second\";q=5")
    );
}

/// podman with its storage (images, containers, volumes), run state and settings in a
/// temporary directory, through `CONTAINERS_STORAGE_CONF` and `CONTAINERS_CONF`; the image,
/// container and volume named here are removed on drop, then the directory.
struct Podman {
    /// The image's name, unique to this run.
    image: String,
    /// The container's name.
    container: String,
    /// The volume mounted on the data directory.
    volume: String,
    dir: TempDir,
}

impl Podman {
    fn new() -> Self {
        require("podman", "podman runc");
        let dir = TempDir::new();
        let path = dir.0.display();
        // Storage on vfs (plain directories: no overlay mount to leave behind); podman's locks,
        // run state and network files in the directory too (not /dev/shm or /run/libpod); no
        // event log. runc with cgroupfs, and no default ulimits: on a host without systemd crun
        // refused to run the container, and runc refused to set the rlimits podman adds.
        std::fs::write(
            dir.0.join("storage.conf"),
            format!("[storage]\ndriver = \"vfs\"\ngraphroot = \"{path}/storage\"\nrunroot = \"{path}/run\"\n"),
        )
        .unwrap();
        std::fs::write(
            dir.0.join("containers.conf"),
            format!(
                "[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\n\
                 events_logger = \"none\"\nlock_type = \"file\"\ntmp_dir = \"{path}/libpod\"\n\n\
                 [network]\nnetwork_config_dir = \"{path}/networks\"\n"
            ),
        )
        .unwrap();
        let run = dir.0.file_name().unwrap().to_string_lossy().into_owned();
        Self {
            image: format!("localhost/{run}:test"),
            container: format!("{run}-container"),
            volume: format!("{run}-data"),
            dir,
        }
    }

    /// A command for `program` (podman or a script calling it) with this storage and settings.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env("CONTAINERS_STORAGE_CONF", self.dir.0.join("storage.conf"))
            .env("CONTAINERS_CONF", self.dir.0.join("containers.conf"))
            .env("TMPDIR", &self.dir.0);
        command
    }

    /// Runs `podman ARGS` and returns its standard output, trimmed.
    fn podman(&self, args: &[&str]) -> String {
        run(self.command("podman").args(args)).trim().to_owned()
    }

    /// The loopback address podman published the container's `port` on.
    fn published(&self, port: u16) -> SocketAddr {
        self.podman(&["port", &self.container, &format!("{port}/tcp")])
            .parse()
            .unwrap()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let quiet = |args: &[&str]| {
            let _ = self.command("podman").args(args).output();
        };
        quiet(&["rm", "--force", "--time", "0", "--volumes", &self.container]);
        quiet(&["volume", "rm", "--force", &self.volume]);
        quiet(&["rmi", "--force", &self.image]);
    }
}

#[tokio::test]
async fn the_image_serves_the_quick_start_policy_and_keeps_its_data_across_a_restart() {
    let started = Instant::now();
    let podman = Podman::new();
    let built = run(podman
        .command(Path::new(REPOSITORY).join("scripts/image"))
        .arg(BINARY)
        .env("IMAGE", &podman.image));
    // The binary, its libraries and a few small files: no base image, no shell.
    let size = reported_size(&built, &podman.image);
    assert!(
        (1 << 20..64 << 20).contains(&size),
        "the image has {size} bytes"
    );
    let config = podman.podman(&[
        "image",
        "inspect",
        "--format",
        "{{.Config.User}} {{json .Config.Volumes}} {{json .Config.ExposedPorts}}",
        &podman.image,
    ]);
    assert_eq!(
        config,
        format!(
            "{IMAGE_USER} {{\"/var/lib/tollgate\":{{}}}} {{\"8080/tcp\":{{}},\"8081/tcp\":{{}},\"8089/tcp\":{{}}}}"
        )
    );

    podman.podman(&["volume", "create", &podman.volume]);
    podman.podman(&[
        "run",
        "--detach",
        "--name",
        &podman.container,
        "--volume",
        &format!("{}:/var/lib/tollgate", podman.volume),
        "--publish",
        "127.0.0.1::8080",
        "--publish",
        "127.0.0.1::8081",
        &podman.image,
    ]);
    let (public, admin) = (podman.published(8080), podman.published(8081));
    assert!(public.ip().is_loopback() && admin.ip().is_loopback());
    wait_until_healthy(admin).await;
    let top = podman.podman(&["top", &podman.container, "huser", "args"]);
    let process: Vec<&str> = top.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        process.join(" "),
        "65532 /usr/bin/tollgate serve --config /etc/tollgate/policy.toml --data-dir /var/lib/tollgate --listen 0.0.0.0:8080 --admin-listen 0.0.0.0:8081",
        "the image's own command, not as root"
    );

    // The quick start from outside: the gateway admits alice (and, with no upstream configured,
    // answers 502) until her burst of 5 is spent.
    let alice = [("X-Api-Key", "alice-key")];
    let (admitted, refused) = until_refused(public, "/hello/world", &alice).await;
    assert!(
        admitted.len() >= 5 && admitted.iter().all(|&status| status == 502),
        "{admitted:?}"
    );
    assert_quick_start_refusal(&refused);
    let daily_used = |address: SocketAddr| async move {
        let reply = send(address, "GET", "/_tollgate/quota", &alice, "").await;
        let quota: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        let daily = &quota["apis"][0]["limits"][1];
        assert_eq!(daily["name"], "daily", "{}", reply.body);
        daily["used"].as_u64().unwrap()
    };
    assert_eq!(daily_used(public).await, admitted.len() as u64);

    // The admin token, read from the volume as docs/operations.md says; the admin port wants it.
    let token_file = podman.dir.0.join("admin-token");
    podman.podman(&[
        "cp",
        &format!("{}:/var/lib/tollgate/admin-token", podman.container),
        token_file.to_str().unwrap(),
    ]);
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert_eq!(token.len(), 48, "{token}");
    let bearer = format!("Bearer {token}");
    let auth = [("authorization", bearer.as_str())];
    let account = r#"{"id":"globex","plan":"pro","time_zone":"Asia/Shanghai"}"#;
    let unauthorized = send(admin, "POST", "/admin/accounts", &[], account).await;
    assert_eq!(unauthorized.status, 401, "{}", unauthorized.body);
    let created = send(admin, "POST", "/admin/accounts", &auth, account).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let key = send(admin, "POST", "/admin/accounts/globex/keys", &auth, "").await;
    assert_eq!(key.status, 201, "{}", key.body);
    let key: serde_json::Value = serde_json::from_str(&key.body).unwrap();
    let key = key["key"].as_str().unwrap().to_owned();

    podman.podman(&["stop", "--time", "30", &podman.container]);
    let logs = podman.podman(&["logs", &podman.container]);
    assert!(logs.contains("stopped"), "a clean shutdown: {logs}");
    podman.podman(&["start", &podman.container]);
    assert_eq!(
        (podman.published(8080), podman.published(8081)),
        (public, admin)
    );
    wait_until_healthy(admin).await;

    // The catalog (the account and its key) and the limit state (alice's daily count) are kept.
    let account = send(admin, "GET", "/admin/accounts/globex", &auth, "").await;
    assert_eq!(account.status, 200, "{}", account.body);
    let account: serde_json::Value = serde_json::from_str(&account.body).unwrap();
    assert_eq!(
        (&account["plan"], &account["time_zone"]),
        (&"pro".into(), &"Asia/Shanghai".into())
    );
    let globex = send(
        public,
        "GET",
        "/_tollgate/quota",
        &[("X-Api-Key", &key)],
        "",
    )
    .await;
    assert_eq!(
        globex.status, 200,
        "the catalog's key is known: {}",
        globex.body
    );
    let quota: serde_json::Value = serde_json::from_str(&globex.body).unwrap();
    assert_eq!(
        (
            &quota["account"],
            &quota["plan"],
            &quota["apis"][0]["limits"][1]["limit"]
        ),
        (&"globex".into(), &"pro".into(), &10_000.into()),
        "{}",
        globex.body
    );
    assert_eq!(daily_used(public).await, admitted.len() as u64);
    let logs = podman.podman(&["logs", &podman.container]);
    assert!(
        !logs.contains("group or others had access"),
        "the volume is the user's alone from the start: {logs}"
    );
    eprintln!("image test: {:.1} s", started.elapsed().as_secs_f64());
}

/// A temporary root with an empty dpkg database, for `dpkg --root`.
fn empty_root(dir: &TempDir) -> PathBuf {
    let root = dir.0.join("root");
    for folder in ["info", "updates"] {
        std::fs::create_dir_all(root.join("var/lib/dpkg").join(folder)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    root
}

/// `dpkg --root=ROOT` with the package's maintainer scripts run outside a chroot (the empty root
/// has no shell; dpkg then sets `DPKG_ROOT` and the scripts touch nothing), without its
/// dependencies (libc6 and the rest are not in the empty root) and, when not run as root,
/// without root.
fn dpkg(root: &Path) -> Command {
    let mut command = Command::new("dpkg");
    command.arg(format!("--root={}", root.display())).args([
        "--force-script-chrootless",
        "--force-depends",
        "--force-not-root",
    ]);
    command
}

#[tokio::test]
async fn the_package_installs_and_its_units_command_line_serves_until_a_429() {
    let started = Instant::now();
    require("dpkg-deb", "dpkg-dev");
    require("systemd-analyze", "systemd");
    let dir = TempDir::new();
    let built = run(Command::new(Path::new(REPOSITORY).join("scripts/package"))
        .arg(BINARY)
        .env("PACKAGE_DIR", &dir.0)
        .env("TMPDIR", &dir.0)
        // xz's fastest level: the same files, 3 s instead of 13 s for a debug build's binary.
        .env("DPKG_DEB_COMPRESSOR_LEVEL", "1"));
    let field = |name: &str, deb: &Path| {
        run(Command::new("dpkg-deb").arg("--field").arg(deb).arg(name))
            .trim()
            .to_owned()
    };
    let arch = run(Command::new("dpkg").arg("--print-architecture"));
    let name = format!("tollgate_{}_{}.deb", env!("CARGO_PKG_VERSION"), arch.trim());
    let deb = dir.0.join(&name);
    let size = reported_size(&built, deb.to_str().unwrap());
    assert_eq!(size, std::fs::metadata(&deb).unwrap().len());
    assert_eq!(field("Package", &deb), "tollgate");
    assert_eq!(field("Version", &deb), env!("CARGO_PKG_VERSION"));

    // What it holds, the policy a conffile, and dependencies this host satisfies.
    let contents = run(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    for file in [
        "./usr/bin/tollgate",
        "./lib/systemd/system/tollgate.service",
        "./etc/tollgate/policy.toml",
        "./usr/share/doc/tollgate/copyright",
    ] {
        assert!(
            contents.lines().any(|line| line.ends_with(file)),
            "{file} in {contents}"
        );
    }
    let info = run(Command::new("dpkg-deb").arg("--info").arg(&deb));
    assert!(
        info.lines().any(|line| line.trim().ends_with("conffiles")),
        "{info}"
    );
    assert_eq!(
        run(Command::new("dpkg-deb")
            .arg("--info")
            .arg(&deb)
            .arg("conffiles")),
        "/etc/tollgate/policy.toml\n"
    );
    let depends = field("Depends", &deb);
    assert!(depends.starts_with("libc6 (>= "), "{depends}");
    for dependency in depends.split(", ") {
        let (package, version) = match dependency.split_once(" (>= ") {
            Some((package, version)) => (package, version.trim_end_matches(')')),
            None => (dependency, "0"),
        };
        let installed = run(Command::new("dpkg-query")
            .args(["--showformat=${Version}", "--show"])
            .arg(package));
        let satisfied = Command::new("dpkg")
            .args(["--compare-versions", &installed, "ge", version])
            .status()
            .unwrap()
            .success();
        assert!(satisfied, "{package} {installed} is older than {version}");
    }

    // Installed into an empty root, never this system's.
    let root = empty_root(&dir);
    run(dpkg(&root).arg("--install").arg(&deb));
    let installed = run(Command::new("dpkg-query")
        .arg(format!(
            "--admindir={}",
            root.join("var/lib/dpkg").display()
        ))
        .args(["--showformat=${Status}\n${Conffiles}", "--show", "tollgate"]));
    let (status, conffiles) = installed.split_once('\n').unwrap();
    assert_eq!(status, "install ok installed");
    assert!(
        conffiles.trim().starts_with("/etc/tollgate/policy.toml "),
        "{installed}"
    );
    let unit = std::fs::read_to_string(root.join("lib/systemd/system/tollgate.service")).unwrap();
    assert_eq!(
        unit,
        std::fs::read_to_string(Path::new(REPOSITORY).join("packaging/tollgate.service")).unwrap()
    );
    let setting = |name: &str| {
        unit.lines()
            .find_map(|line| line.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name}= in the unit"))
    };
    let open_files: u64 = setting("LimitNOFILE").parse().unwrap();
    assert!(open_files >= OPEN_FILES_NEEDED, "LimitNOFILE={open_files}");
    assert_eq!(setting("ExecReload"), "/bin/kill -HUP $MAINPID");

    // The unit is sound: no unknown setting, no bad value, its commands there. The empty root has
    // none of systemd's own units (sysinit.target), so only the unit itself is judged; procps's
    // /bin/kill, which the package depends on, is put where procps would.
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/bin/kill", root.join("bin/kill")).expect("procps's /bin/kill");
    let verify = Command::new("systemd-analyze")
        .args(["verify", "--recursive-errors=no", "--man=no"])
        .arg(format!("--root={}", root.display()))
        .arg("/lib/systemd/system/tollgate.service")
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(verify.status.success() && said.is_empty(), "{said}");

    // The unit's own command line, its paths in the root, on free loopback ports.
    let line = setting("ExecStart");
    let mut words = line.split_whitespace().map(|word| match word {
        path if path.starts_with('/') => root.join(&path[1..]).into_os_string(),
        word => word.into(),
    });
    let mut command = Command::new(words.next().unwrap());
    command
        .args(words)
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"]);
    let mut tollgate = Process::spawn(&mut command);
    let address = tollgate.logged_address("address");
    tollgate.logged_address("admin");
    let forwarded = [
        ("X-Api-Key", "alice-key"),
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/hello/world"),
    ];
    let (admitted, refused) = until_refused(address, "/v1/auth", &forwarded).await;
    assert!(
        admitted.len() >= 5 && admitted.iter().all(|&status| status == 200),
        "{admitted:?}"
    );
    assert_quick_start_refusal(&refused);
    let data = root.join("var/lib/tollgate");
    assert!(data.join("admin-token").is_file() && data.join("catalog.db").is_file());
    assert!(tollgate.stop_with("TERM").success());

    // A purge takes the files, the conffile and the data directory.
    run(dpkg(&root).args(["--purge", "tollgate"]));
    for gone in [
        "usr/bin/tollgate",
        "etc/tollgate/policy.toml",
        "var/lib/tollgate",
    ] {
        assert!(!root.join(gone).exists(), "{gone} is left");
    }
    eprintln!(
        "package test: {:.1} s, {name}: {size} bytes",
        started.elapsed().as_secs_f64()
    );
}
