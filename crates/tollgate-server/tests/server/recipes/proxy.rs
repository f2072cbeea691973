//! A proxy running a recipe of `docs/proxies.md` exactly as printed there: the page's fenced
//! block read at test time, only its addresses put on loopback ports, Debian's nginx or Caddy
//! started on it and stopped on drop.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Reply, TempDir, send};

/// The page the recipes are printed on.
const PAGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/proxies.md");

/// The fenced block that follows the line `<!-- recipe: {name} -->` on the page, the only one.
fn recipe(name: &str) -> String {
    let page = std::fs::read_to_string(PAGE).unwrap();
    let marker = format!("<!-- recipe: {name} -->\n");
    let mut found = page.split(&marker).skip(1);
    let rest = found
        .next()
        .unwrap_or_else(|| panic!("{PAGE} has no line `{}`", marker.trim()));
    assert!(found.next().is_none(), "{PAGE} marks `{name}` twice");
    let (fence, block) = rest.split_once('\n').unwrap();
    assert!(fence.starts_with("```"), "`{name}` is not a fenced block");
    let (text, _) = block
        .split_once("\n```")
        .unwrap_or_else(|| panic!("`{name}` is not closed"));
    format!("{text}\n")
}

/// `text` with each placeholder replaced, every placeholder being there (a recipe that lost
/// one would otherwise be tested on the default, not on what it prints).
fn substitute(text: &str, placeholders: &[(&str, String)]) -> String {
    placeholders
        .iter()
        .fold(text.to_owned(), |text, (from, to)| {
            assert!(text.contains(from), "the recipe has no `{from}`:\n{text}");
            text.replace(from, to)
        })
}

/// Which proxy a recipe is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Nginx,
    Caddy,
}

impl Kind {
    /// The page's policy lines for this proxy.
    pub(crate) fn policy(self) -> String {
        recipe(match self {
            Self::Nginx => "nginx policy",
            Self::Caddy => "caddy policy",
        })
    }

    /// The page's configuration file, its addresses replaced: clients come to `address`, the
    /// API is `api`, Tollgate `tollgate`; nginx logs in `dir`.
    fn config(
        self,
        tollgate: SocketAddr,
        api: SocketAddr,
        address: SocketAddr,
        dir: &Path,
    ) -> String {
        match self {
            Self::Nginx => substitute(
                &recipe("nginx.conf"),
                &[
                    ("listen 80;", format!("listen {address};")),
                    ("127.0.0.1:9000", api.to_string()),
                    ("127.0.0.1:8080", tollgate.to_string()),
                    ("/var/log/nginx/", format!("{}/", dir.display())),
                ],
            ),
            // Caddy listens on every address of a site's port unless told where: the test's
            // site listens on loopback only.
            Self::Caddy => substitute(
                &recipe("Caddyfile"),
                &[
                    (
                        ":80 {",
                        format!(":{} {{\n\tbind {}", address.port(), address.ip()),
                    ),
                    ("127.0.0.1:9000", api.to_string()),
                    ("127.0.0.1:8080", tollgate.to_string()),
                ],
            ),
        }
    }

    /// The command that runs `config` in the foreground, its pid file (nginx) or its state
    /// (Caddy: autosaved configuration, storage) in `dir`. nginx keeps the temporary folders
    /// the recipe leaves to Debian's defaults, under /var/lib/nginx, as a packaged nginx does.
    fn command(self, config: &Path, dir: &Path) -> Command {
        match self {
            Self::Nginx => {
                let mut command =
                    Command::new(installed("nginx", &["/usr/sbin/nginx", "/usr/bin/nginx"]));
                let pid = dir.join("nginx.pid");
                command
                    .arg("-p")
                    .arg(dir)
                    .arg("-c")
                    .arg(config)
                    .arg("-g")
                    .arg(format!(
                        "daemon off; master_process off; pid {};",
                        pid.display()
                    ));
                command
            }
            Self::Caddy => {
                let mut command = Command::new(installed("caddy", &["/usr/bin/caddy"]));
                command
                    .args(["run", "--adapter", "caddyfile", "--config"])
                    .arg(config)
                    .env("HOME", dir)
                    .env("XDG_CONFIG_HOME", dir)
                    .env("XDG_DATA_HOME", dir);
                command
            }
        }
    }

    /// Where the proxy's error log goes.
    fn log(self, dir: &Path) -> PathBuf {
        match self {
            Self::Nginx => dir.join("error.log"),
            Self::Caddy => dir.join("output.log"),
        }
    }
}

/// The program `name` of Debian's package `name`, on PATH or at one of `paths` (Debian puts
/// nginx in /usr/sbin, which a user's PATH may lack).
pub(crate) fn installed(name: &str, paths: &[&str]) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    paths
        .iter()
        .map(PathBuf::from)
        .chain(on_path)
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not installed: scripts/test installs Debian's {name}, \
                 or run `apt-get install {name}`"
            )
        })
}

/// A proxy running a recipe of the page on a loopback port, stopped (its folder removed) on drop.
pub(crate) struct Proxy {
    kind: Kind,
    child: Child,
    pub(crate) address: SocketAddr,
    dir: TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proxy {
    /// Starts the `kind` recipe in front of `api`, asking `tollgate`; tries another port when
    /// the one it chose was taken meanwhile.
    pub(crate) fn start(kind: Kind, tollgate: SocketAddr, api: SocketAddr) -> Self {
        for _ in 0..5 {
            let dir = TempDir::new();
            let address = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            let config = dir.0.join(match kind {
                Kind::Nginx => "nginx.conf",
                Kind::Caddy => "Caddyfile",
            });
            std::fs::write(&config, kind.config(tollgate, api, address, &dir.0)).unwrap();
            let output = std::fs::File::create(dir.0.join("output.log")).unwrap();
            let mut child = kind
                .command(&config, &dir.0)
                .stdin(Stdio::null())
                .stdout(output.try_clone().unwrap())
                .stderr(output)
                .spawn()
                .unwrap_or_else(|error| panic!("{kind:?} does not start: {error}"));
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                if TcpStream::connect(address).is_ok() {
                    return Self {
                        kind,
                        child,
                        address,
                        dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            let output = std::fs::read_to_string(dir.0.join("output.log")).unwrap_or_default();
            let log = std::fs::read_to_string(kind.log(&dir.0)).unwrap_or_default();
            eprintln!("{kind:?} did not start on {address} (trying another port): {output}{log}");
        }
        panic!("{kind:?} did not start");
    }

    pub(crate) async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        send(self.address, "GET", path, headers, "").await
    }

    pub(crate) async fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        send(self.address, "POST", path, headers, body).await
    }

    /// The proxy's error log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.kind.log(&self.dir.0)).unwrap_or_default()
    }
}
