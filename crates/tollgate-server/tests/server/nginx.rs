//! A real nginx (Debian's, with `auth_request`) in front of a real upstream, asking Tollgate's
//! forward-auth, configured with the README's own snippet.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{Reply, TempDir, Tollgate, Upstream, send};

const POLICY: &str = r#"
    [server]
    forward_auth = "nginx"

    [identity]
    api_key = { header = "X-Api-Key" }

    [[accounts]]
    id = "acme"
    keys = ["acme-key"]

    [[routes]]
    api = "machines"
    match = "GET /machines/{id}"

    [[routes]]
    api = "health"
    match = "GET /healthz"
    exempt = true

    [[limits]]
    name = "burst"
    token_bucket = { rate = "1/1h", burst = 5 }
    per = ["account"]
"#;

/// A running nginx, stopped on drop.
struct Nginx {
    child: Child,
    address: SocketAddr,
    _dir: TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The nginx binary (Debian puts it in /usr/sbin, which a user's PATH may lack).
fn nginx_binary() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
        .expect("nginx is not installed: scripts/test installs Debian's nginx, or run `apt-get install nginx`")
}

/// The README's `nginx` block, pointed at `tollgate` and `upstream`.
fn readme_locations(tollgate: SocketAddr) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let block = readme
        .split("```nginx\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README has an nginx block");
    block.replace("127.0.0.1:8080", &tollgate.to_string())
}

impl Nginx {
    fn start(tollgate: SocketAddr, upstream: SocketAddr) -> Self {
        let locations = readme_locations(tollgate);
        for _ in 0..5 {
            let dir = TempDir::new();
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let address = SocketAddr::from(([127, 0, 0, 1], port));
            let prefix = dir.0.display();
            let config = format!(
                "daemon off;\nmaster_process off;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n\
                 events {{ worker_connections 256; }}\n\
                 http {{\n  access_log off;\n  client_body_temp_path {prefix}/body;\n  proxy_temp_path {prefix}/proxy;\n  \
                 fastcgi_temp_path {prefix}/fastcgi;\n  uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n  \
                 upstream api {{ server {upstream}; }}\n  server {{\n    listen {address};\n{locations}\n  }}\n}}\n"
            );
            let path = dir.0.join("nginx.conf");
            std::fs::write(&path, config).unwrap();
            let mut child = Command::new(nginx_binary())
                .arg("-p")
                .arg(&dir.0)
                .arg("-c")
                .arg(&path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nginx starts");
            for _ in 0..200 {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if std::net::TcpStream::connect(address).is_ok() {
                    return Self {
                        child,
                        address,
                        _dir: dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.0.join("error.log")).unwrap_or_default();
            eprintln!("nginx did not start on {address} (trying another port): {log}");
        }
        panic!("nginx did not start");
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        send(self.address, "GET", path, headers, "").await
    }
}

const KEY: (&str, &str) = ("X-Api-Key", "acme-key");

#[tokio::test]
async fn behind_nginx_limits_hold_and_spoofed_headers_change_nothing() {
    let upstream = Upstream::start().await;
    let tollgate = Tollgate::start(POLICY, None);
    let nginx = Nginx::start(tollgate.address, upstream.address);
    let spoofed = [
        KEY,
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/healthz"),
    ];
    for call in 1..=5 {
        let reply = nginx.get("/machines/1", &spoofed).await;
        assert_eq!(reply.status, 200, "call {call}: {}", reply.body);
        assert_eq!(reply.header("x-upstream"), Some("yes"));
        assert!(reply.header("ratelimit").is_some(), "{:?}", reply.headers);
    }
    // Ten more, each claiming to be the exempt health check: all refused, none forwarded.
    for _ in 0..10 {
        let reply = nginx.get("/machines/1", &spoofed).await;
        assert_eq!(reply.status, 429, "{}", reply.body);
        assert_eq!(reply.header("retry-after"), Some("3600"));
        assert_eq!(reply.header("ratelimit"), Some("\"burst\";r=0;t=18000"));
        assert_eq!(reply.header("ratelimit-policy"), Some("\"burst\";q=5"));
        let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(
            body["error"], "rate_limited",
            "Tollgate's own body: {}",
            reply.body
        );
        assert_eq!(body["limit"], "burst");
    }
    assert_eq!(upstream.hits(), 5);
    // The exempt route itself is still free.
    assert_eq!(nginx.get("/healthz", &[KEY]).await.status, 200);
}

#[tokio::test]
async fn behind_nginx_an_unrouted_path_is_never_a_429_or_a_500() {
    let upstream = Upstream::start().await;
    let tollgate = Tollgate::start(POLICY, None);
    let nginx = Nginx::start(tollgate.address, upstream.address);
    let reply = nginx.get("/nowhere", &[KEY]).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(upstream.hits(), 0);

    let passing = POLICY.replace(
        "forward_auth = \"nginx\"",
        "forward_auth = \"nginx\"\nunmatched = \"pass\"",
    );
    let tollgate = Tollgate::start(&passing, None);
    let nginx = Nginx::start(tollgate.address, upstream.address);
    let reply = nginx.get("/nowhere", &[KEY]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(upstream.hits(), 1);

    // A path Tollgate refuses to read is the client's 400, with Tollgate's reason.
    let reply = nginx.get("/machines/a%2Fb", &[KEY]).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("encoded slash"), "{}", reply.body);
    assert_eq!(upstream.hits(), 1);
}
