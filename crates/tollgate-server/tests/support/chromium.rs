//! Debian's headless Chromium driven through the DevTools protocol, blocking: it needs no
//! runtime, and a test on a multi-thread runtime may call it from its own thread. Loads a page
//! (a file, or one a server serves), evaluates JavaScript on it, sets its width, and saves
//! screenshots in the target directory for a person to look at. Shared by the replay report's
//! tests (`tests/replay/page.rs`) and the customer's page's (`tests/server/portal.rs`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// How long Chromium may take to start, or to answer one call.
const PATIENCE: Duration = Duration::from_secs(30);

/// Headless Chromium with the DevTools protocol on one page, closed on drop.
pub(crate) struct Chromium {
    page: WebSocket<MaybeTlsStream<TcpStream>>,
    next: u64,
    /// Events read while waiting for an answer, for `open` to find.
    events: Vec<Value>,
    /// Dropped last: the process, killed if it is still there, and its profile.
    _process: Process,
}

/// Chromium's process and its profile, from the moment it starts: a start that fails half-way
/// leaves neither behind.
struct Process {
    child: Child,
    profile: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Chromium {
    /// Starts it, or `None` when there is no `chromium` (allowed only outside CI).
    pub(crate) fn start() -> Option<Self> {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let profile = std::env::temp_dir().join(format!(
            "tollgate-test-chromium-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&profile).unwrap();
        let spawned = Command::new("chromium")
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--hide-scrollbars",
                "--force-color-profile=srgb",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(error) if std::env::var_os("CI").is_none() => {
                eprintln!(
                    "SKIPPED: no chromium ({error}): `apt-get install chromium` (scripts/test does)"
                );
                return None;
            }
            Err(error) => panic!("chromium is needed in CI: {error}"),
        };
        let mut process = Process { child, profile };
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/…".
        let stderr = process.child.stderr.take().unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = sender.send(line);
            }
        });
        let port = loop {
            let line = lines
                .recv_timeout(PATIENCE)
                .expect("chromium said where DevTools listen");
            if let Some(rest) = line.split("ws://127.0.0.1:").nth(1) {
                break rest.split('/').next().unwrap().parse::<u16>().unwrap();
            }
        };
        let targets: Value =
            serde_json::from_str(&get(([127, 0, 0, 1], port).into(), "/json/list"))
                .expect("DevTools list their targets as JSON");
        let url = targets
            .as_array()
            .unwrap()
            .iter()
            .find(|target| target["type"] == "page")
            .and_then(|target| target["webSocketDebuggerUrl"].as_str())
            .expect("a page to drive")
            .to_owned();
        let (page, _) = tungstenite::connect(url).expect("DevTools connect");
        if let MaybeTlsStream::Plain(stream) = page.get_ref() {
            stream.set_read_timeout(Some(PATIENCE)).unwrap();
        }
        let mut chromium = Self {
            page,
            next: 0,
            events: Vec::new(),
            _process: process,
        };
        chromium.call("Page.enable", json!({}));
        Some(chromium)
    }

    /// Calls `method` and returns its result (events on the way are kept).
    pub(crate) fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let message = json!({ "id": id, "method": method, "params": params }).to_string();
        self.page.send(Message::text(message)).unwrap();
        loop {
            let reply = self.read();
            if reply["id"] == id {
                assert!(reply["error"].is_null(), "{method}: {reply}");
                return reply["result"].clone();
            }
            self.events.push(reply);
        }
    }

    /// The next message (the socket times out after [`PATIENCE`]).
    fn read(&mut self) -> Value {
        loop {
            match self.page.read().expect("chromium answered in time") {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Close(_) => panic!("chromium closed the DevTools connection"),
                _ => {}
            }
        }
    }

    /// Opens the file at `path`, `width` pixels wide, and waits until it has loaded.
    #[allow(dead_code, reason = "each test binary uses what it needs")]
    pub(crate) fn open(&mut self, path: &Path, width: u32) {
        self.width(width, false);
        let url = format!("file://{}", path.display());
        self.and_load("Page.navigate", json!({ "url": url }));
    }

    /// The page `width` pixels wide (a phone's, with `mobile`).
    pub(crate) fn width(&mut self, width: u32, mobile: bool) {
        let params =
            json!({ "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile });
        self.call("Emulation.setDeviceMetricsOverride", params);
    }

    /// Calls `method`, then waits until the page it starts has loaded (`Page.loadEventFired`,
    /// which may come before the call's own answer).
    pub(crate) fn and_load(&mut self, method: &str, params: Value) {
        self.events.clear();
        self.call(method, params);
        let loaded = |event: &Value| event["method"] == "Page.loadEventFired";
        if self.events.iter().any(loaded) {
            return;
        }
        while !loaded(&self.read()) {}
    }

    /// The value of a JavaScript expression on the page; a failure shows what the page reads.
    pub(crate) fn eval(&mut self, expression: &str) -> Value {
        let params = json!({ "expression": expression, "returnByValue": true });
        let result = self.call("Runtime.evaluate", params);
        if !result["exceptionDetails"].is_null() {
            let text = json!({ "expression": "document.body.innerText", "returnByValue": true });
            let text = self.call("Runtime.evaluate", text);
            panic!(
                "{expression}: {}\non a page reading:\n{}",
                result["exceptionDetails"], text["result"]["value"]
            );
        }
        result["result"]["value"].clone()
    }

    /// A screenshot of the page's top `height` pixels (the whole page: `None`), saved as
    /// `name` in the target directory.
    pub(crate) fn screenshot(&mut self, name: &str, height: Option<f64>) -> PathBuf {
        let mut params = json!({ "format": "png", "captureBeyondViewport": true });
        if let Some(height) = height {
            let width = self.eval("document.documentElement.scrollWidth");
            params["clip"] =
                json!({ "x": 0, "y": 0, "width": width, "height": height, "scale": 1 });
        }
        let data = self.call("Page.captureScreenshot", params)["data"]
            .as_str()
            .unwrap()
            .to_owned();
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
        let dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
            PathBuf::from,
        );
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, png).unwrap();
        path
    }
}

impl Drop for Chromium {
    /// Closes the browser, whose processes all end before it closes the connection, so that
    /// its profile can go; a browser that does not is killed.
    fn drop(&mut self) {
        let close = json!({ "id": 0, "method": "Browser.close" }).to_string();
        if self.page.send(Message::text(close)).is_ok() {
            while self.page.read().is_ok() {}
        }
    }
}

/// The body of `GET path` on `address` (HTTP/1.1: Chromium answers nothing to 1.0, and keeps
/// the connection open, so the body is read by its length).
fn get(address: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect_timeout(&address, PATIENCE).expect("DevTools listen");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n").unwrap();
    let mut answer = BufReader::new(stream);
    let mut line = String::new();
    answer.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
    let mut length = None;
    loop {
        line.clear();
        answer.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let mut body = vec![0; length.expect("a Content-Length")];
    answer.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}
