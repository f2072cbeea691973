//! Hostile clients are bounded on both ports: slow request heads and silent connections are
//! closed after `header_read_timeout`, idle ones after `idle_timeout`, and past
//! `max_connections` new connections wait while established clients keep being served.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::support::{Tollgate, Upstream, send};

/// A policy whose `[server]` table is `server`.
fn policy(server: &str) -> String {
    format!(
        r#"
        [server]
        {server}

        [[routes]]
        api = "hello"
        match = "GET /hello"

        [[routes]]
        api = "hang"
        match = "GET /hang"

        [[limits]]
        name = "plenty"
        window = {{ max = 1000000, every = "1h" }}
        "#
    )
}

/// A check API question, answered 200.
const ASK: &str = r#"{"method":"GET","path":"/hello","headers":{}}"#;

/// The check API question as a raw HTTP/1.1 keep-alive request.
fn check_request() -> String {
    format!(
        "POST /v1/check HTTP/1.1\r\nHost: tollgate\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{ASK}",
        ASK.len()
    )
}

const ADMIN_HEALTH: &str = "GET /healthz HTTP/1.1\r\nHost: tollgate\r\n\r\n";

/// How long the server may take to close what it must close, past its own timeout.
const CLOSE_WITHIN: Duration = Duration::from_secs(10);

/// Sends `request` on `stream` and reads one response (with `Content-Length`); its status line.
async fn exchange(stream: &mut TcpStream, request: &str) -> String {
    stream.write_all(request.as_bytes()).await.unwrap();
    response(stream).await
}

/// Reads one response with `Content-Length` from `stream`; its status line.
async fn response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let count = stream.read(&mut chunk).await.unwrap();
        assert!(count > 0, "closed before a whole response head");
        received.extend_from_slice(&chunk[..count]);
    };
    let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .expect("a Content-Length");
    while received.len() < head_end + length {
        let count = stream.read(&mut chunk).await.unwrap();
        assert!(count > 0, "closed before the whole body");
        received.extend_from_slice(&chunk[..count]);
    }
    head.lines().next().unwrap().to_owned()
}

/// Reads `stream` until the server closes it (end of file or reset); what it sent before.
async fn until_closed(mut stream: TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) => return received,
            Ok(count) => received.extend_from_slice(&chunk[..count]),
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => return received,
            Err(error) => panic!("{error}"),
        }
    }
}

/// Waits (at most [`CLOSE_WITHIN`]) for the server to close `stream`; what it sent before.
async fn closed_by_server(stream: TcpStream, what: &str) -> Vec<u8> {
    tokio::time::timeout(CLOSE_WITHIN, until_closed(stream))
        .await
        .unwrap_or_else(|_| panic!("{what}: still open after {CLOSE_WITHIN:?}"))
}

/// Raises this process's soft limit on open files to `needed` if it is lower (the server
/// started after inherits it).
fn allow_open_files(needed: u64) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_some_and(|current| current < needed) {
        assert!(
            limit.maximum.is_none_or(|maximum| maximum >= needed),
            "the test needs {needed} open files; the hard limit (ulimit -Hn) is {:?}",
            limit.maximum
        );
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(needed),
                maximum: limit.maximum,
            },
        )
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_slow_clients_neither_block_an_ordinary_one_nor_stay() {
    const SLOW: usize = 1_000;
    allow_open_files(4 * SLOW as u64 + 1_024);
    let tollgate = Tollgate::start(
        &policy("header_read_timeout = \"3s\"\nmax_connections = 2000"),
        None,
    );
    let mut slow = Vec::with_capacity(SLOW);
    for _ in 0..SLOW {
        let mut stream = TcpStream::connect(tollgate.address).await.unwrap();
        stream.write_all(b"GET /hea").await.unwrap();
        slow.push(stream);
    }

    let ordinary = tokio::time::timeout(
        Duration::from_secs(1),
        send(tollgate.address, "POST", "/v1/check", &[], ASK),
    )
    .await
    .expect("an ordinary client is answered within a second");
    assert_eq!(ordinary.status, 200, "{}", ordinary.body);
    assert!(
        ordinary.body.contains(r#""allowed":true"#),
        "{}",
        ordinary.body
    );
    let mut chunk = [0u8; 16];
    for (index, stream) in slow.iter().enumerate() {
        assert!(
            matches!(stream.try_read(&mut chunk), Err(error) if error.kind() == std::io::ErrorKind::WouldBlock),
            "slow client {index} was still open while the ordinary one was answered"
        );
    }

    let mut closing = JoinSet::new();
    for stream in slow {
        closing.spawn(tokio::time::timeout(CLOSE_WITHIN, until_closed(stream)));
    }
    let mut closed = 0;
    while let Some(outcome) = closing.join_next().await {
        let received = outcome
            .unwrap()
            .expect("every slow client is closed after the header read timeout");
        assert_eq!(
            String::from_utf8_lossy(&received),
            "",
            "closed without an answer"
        );
        closed += 1;
    }
    assert_eq!(closed, SLOW);
}

#[tokio::test]
async fn the_admin_port_closes_slow_and_silent_clients_after_the_header_read_timeout() {
    let tollgate = Tollgate::start(&policy("header_read_timeout = \"1s\""), None);
    let mut half_line = TcpStream::connect(tollgate.admin).await.unwrap();
    half_line.write_all(b"GET /adm").await.unwrap();
    let silent = TcpStream::connect(tollgate.admin).await.unwrap();
    let mut half_preface = TcpStream::connect(tollgate.admin).await.unwrap();
    half_preface.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    let mut no_request = TcpStream::connect(tollgate.admin).await.unwrap();
    no_request.write_all(H2_PREFACE).await.unwrap();
    no_request.write_all(&frame(4, 0, 0, &[])).await.unwrap();
    let mut ordinary = TcpStream::connect(tollgate.admin).await.unwrap();
    assert_eq!(
        exchange(&mut ordinary, ADMIN_HEALTH).await,
        "HTTP/1.1 200 OK"
    );

    assert_eq!(
        closed_by_server(half_line, "half a request line").await,
        b""
    );
    assert_eq!(closed_by_server(silent, "a silent connection").await, b"");
    assert_eq!(
        closed_by_server(half_preface, "half the HTTP/2 preface").await,
        b""
    );
    // HTTP/2 without a request: the server's SETTINGS, then the close.
    let frames = frames(&closed_by_server(no_request, "HTTP/2 without a request").await);
    assert_eq!(frames.first().map(|f| f.0), Some(4), "{frames:?}");
}

/// hyper starts the header read timeout as soon as a keep-alive HTTP/1 connection goes idle,
/// so an idle HTTP/1 connection lasts the header read timeout, however long the idle timeout.
#[tokio::test]
async fn an_idle_http1_connection_is_closed_after_the_header_read_timeout() {
    let tollgate = Tollgate::start(
        &policy("header_read_timeout = \"1s\"\nidle_timeout = \"1h\""),
        None,
    );
    let mut stream = TcpStream::connect(tollgate.admin).await.unwrap();
    assert_eq!(exchange(&mut stream, ADMIN_HEALTH).await, "HTTP/1.1 200 OK");
    let idle = Instant::now();
    assert_eq!(closed_by_server(stream, "idle keep-alive").await, b"");
    eprintln!("idle HTTP/1 connection closed after {:?}", idle.elapsed());
}

#[tokio::test]
async fn the_idle_timeout_closes_a_keep_alive_connection_between_requests() {
    let tollgate = Tollgate::start(
        &policy("header_read_timeout = \"1h\"\nidle_timeout = \"1s\""),
        None,
    );
    let mut stream = TcpStream::connect(tollgate.address).await.unwrap();
    for _ in 0..2 {
        assert_eq!(
            exchange(&mut stream, &check_request()).await,
            "HTTP/1.1 200 OK"
        );
    }
    assert_eq!(closed_by_server(stream, "idle HTTP/1").await, b"");
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// An HTTP/2 frame.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut bytes = vec![length[1], length[2], length[3], kind, flags];
    bytes.extend_from_slice(&stream.to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// The (type, stream id) of each frame header in `bytes`, as a server sends them (no preface).
fn frames(bytes: &[u8]) -> Vec<(u8, u32)> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + 9) {
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let stream = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
        found.push((header[3], stream));
        at += 9 + length;
    }
    found
}

#[tokio::test]
async fn an_idle_http2_connection_gets_goaway_after_the_idle_timeout() {
    let tollgate = Tollgate::start(
        &policy("header_read_timeout = \"1h\"\nidle_timeout = \"1s\""),
        None,
    );
    let mut stream = TcpStream::connect(tollgate.admin).await.unwrap();
    // GET /healthz: HPACK `:method GET`, `:scheme http` (static table), `:path` and
    // `:authority` as literals.
    let authority = tollgate.admin.to_string();
    let mut block = vec![0x82, 0x86, 0x44, 8];
    block.extend_from_slice(b"/healthz");
    block.push(0x41);
    block.push(u8::try_from(authority.len()).unwrap());
    block.extend_from_slice(authority.as_bytes());
    let mut hello = H2_PREFACE.to_vec();
    hello.extend(frame(4, 0, 0, &[]));
    hello.extend(frame(1, 0x5, 1, &block));
    stream.write_all(&hello).await.unwrap();
    let frames = frames(&closed_by_server(stream, "idle HTTP/2").await);
    let answered = frames.iter().position(|&f| f == (1, 1));
    let going_away = frames.iter().rposition(|&f| f == (7, 0));
    assert!(
        answered.is_some() && going_away > answered,
        "the response's HEADERS, then GOAWAY, then the close: {frames:?}"
    );
}

#[tokio::test]
async fn past_max_connections_established_clients_are_served_and_new_ones_wait() {
    let tollgate = Tollgate::start(
        &policy("header_read_timeout = \"1h\"\nmax_connections = 4"),
        None,
    );
    let address: SocketAddr = tollgate.address;
    let mut established = TcpStream::connect(address).await.unwrap();
    assert_eq!(
        exchange(&mut established, &check_request()).await,
        "HTTP/1.1 200 OK"
    );
    let mut fillers = Vec::new();
    for _ in 0..3 {
        fillers.push(TcpStream::connect(address).await.unwrap());
    }
    let cap = tollgate.wait_for("connection cap reached");
    assert!(cap.contains("max_connections=4"), "{cap}");

    // Taken by the kernel's backlog, not served until a connection closes.
    let mut waiting = TcpStream::connect(address).await.unwrap();
    waiting.write_all(check_request().as_bytes()).await.unwrap();
    for _ in 0..3 {
        assert_eq!(
            exchange(&mut established, &check_request()).await,
            "HTTP/1.1 200 OK",
            "the established client keeps being served at the cap"
        );
    }
    drop(fillers.pop());
    let answered = tokio::time::timeout(CLOSE_WITHIN, response(&mut waiting))
        .await
        .expect("the waiting client is served once a connection closed");
    assert_eq!(answered, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn sigterm_answers_the_requests_in_flight_before_stopping() {
    let upstream = Upstream::start().await;
    let tollgate = Tollgate::start(&policy("upstream_timeout = \"2s\""), Some(upstream.address));
    let address = tollgate.address;
    let in_flight = tokio::spawn(async move { send(address, "GET", "/hang", &[], "").await });
    let until = Instant::now() + CLOSE_WITHIN;
    while upstream.hits() == 0 && Instant::now() < until {
        tokio::task::yield_now().await;
    }
    assert_eq!(upstream.hits(), 1, "the request is in flight");
    tollgate.signal("TERM");
    tollgate.wait_for("shutting down");
    let reply = in_flight.await.unwrap();
    assert_eq!(
        reply.status, 504,
        "answered (after the upstream timeout) before the stop: {}",
        reply.body
    );
    assert!(tollgate.terminate().success());
}

#[tokio::test]
async fn a_client_that_never_finishes_its_body_does_not_hold_the_shutdown() {
    // The body read has an hour; the shutdown a second.
    let server = "header_read_timeout = \"1h\"\nshutdown_timeout = \"1s\"";
    let tollgate = Tollgate::start(&policy(server), None);
    let mut stream = TcpStream::connect(tollgate.address).await.unwrap();
    stream
        .write_all(b"POST /v1/check HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    // A byte of body every 100 ms for up to a minute: the connection always moves.
    let trickle = tokio::spawn(async move {
        for _ in 0..600 {
            if stream.write_all(b"1\r\n \r\n").await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    });
    tollgate.signal("TERM");
    tollgate.wait_for("shutting down");
    // Stopped a second after, not a minute: the trickling client found its connection closed.
    let stopped = tokio::task::spawn_blocking(move || tollgate.terminate());
    let status = tokio::time::timeout(Duration::from_secs(20), stopped)
        .await
        .expect("the shutdown did not wait for the trickling client")
        .unwrap();
    assert!(status.success());
    assert!(trickle.await.unwrap(), "the connection was closed");
}

#[test]
fn connection_limits_are_checked_with_file_line_and_column() {
    let dir = crate::support::TempDir::new();
    let file = dir.0.join("policy.toml");
    std::fs::write(
        &file,
        "[server]\nheader_read_timeout = \"10\"\nidle_timeout = \"0s\"\nmax_connections = 0\n\n\
         [[routes]]\napi = \"hello\"\nmatch = \"GET /hello\"\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("check-config")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let errors = String::from_utf8(output.stderr).unwrap();
    let name = file.display();
    assert_eq!(
        errors.lines().take(3).collect::<Vec<_>>(),
        [
            format!("{name}:2:23: `10` has no unit: write e.g. `10s`, `10m` or `10d`"),
            format!("{name}:3:16: idle_timeout must be longer than 0"),
            format!("{name}:4:19: max_connections must be 1 to 1000000, not 0"),
        ]
    );
}

#[tokio::test]
async fn http2_streams_and_heads_are_bounded_and_so_are_http1_heads() {
    let tollgate = Tollgate::start(&policy(""), None);
    let mut stream = TcpStream::connect(tollgate.address).await.unwrap();
    let mut hello = H2_PREFACE.to_vec();
    hello.extend(frame(4, 0, 0, &[]));
    stream.write_all(&hello).await.unwrap();
    let mut header = [0u8; 9];
    stream.read_exact(&mut header).await.unwrap();
    assert_eq!(header[3], 4, "the server's SETTINGS come first");
    let mut payload = vec![0u8; u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize];
    stream.read_exact(&mut payload).await.unwrap();
    let settings: Vec<(u16, u32)> = payload
        .chunks_exact(6)
        .map(|s| {
            (
                u16::from_be_bytes([s[0], s[1]]),
                u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
            )
        })
        .collect();
    // SETTINGS_MAX_CONCURRENT_STREAMS (3) and SETTINGS_MAX_HEADER_LIST_SIZE (6).
    assert!(settings.contains(&(3, 100)), "{settings:?}");
    assert!(settings.contains(&(6, 64 * 1024)), "{settings:?}");

    let mut http1 = TcpStream::connect(tollgate.address).await.unwrap();
    // Exactly 64 KiB of head, unfinished: all of it read, none left to turn the close into a
    // reset that could swallow the answer.
    let mut big = "GET /hello HTTP/1.1\r\nHost: tollgate\r\nX-Big: ".to_owned();
    big.push_str(&"a".repeat(64 * 1024 - big.len()));
    http1.write_all(big.as_bytes()).await.unwrap();
    let answer = closed_by_server(http1, "a head too large").await;
    assert!(
        answer.starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn a_check_body_that_never_arrives_is_answered_after_the_header_timeout() {
    let open =
        "[server]\nheader_read_timeout = \"1s\"\n[[routes]]\napi = \"x\"\nmatch = \"GET /x\"\n";
    let tollgate = Tollgate::start(open, None);
    let mut stream = tokio::net::TcpStream::connect(tollgate.address)
        .await
        .unwrap();
    stream
        .write_all(b"POST /v1/check HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n{\"method\"")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut answer),
    );
    read.await.expect("answered, not held").unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // A peer that may not check is refused before its body is read.
    let closed = open.replace("[server]\n", "[server]\ncheck_from = [\"10.0.0.0/8\"]\n");
    let tollgate = Tollgate::start(&closed, None);
    let mut stream = tokio::net::TcpStream::connect(tollgate.address)
        .await
        .unwrap();
    stream
        .write_all(b"POST /v1/check HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    let read = tokio::time::timeout(
        std::time::Duration::from_millis(900),
        stream.read_exact(&mut head),
    );
    read.await.expect("refused at once").unwrap();
    assert_eq!(&head, b"HTTP/1.1 403");
}

/// `tollgate serve` under an open-file limit of 2,000 (soft and hard), with `server` settings:
/// the log line containing `awaited`, and the warnings logged until it.
fn started_under_2000_open_files(server: &str, awaited: &str) -> (String, Vec<String>) {
    let dir = crate::support::TempDir::new();
    let config = dir.0.join("policy.toml");
    std::fs::write(&config, policy(server)).unwrap();
    let mut command = std::process::Command::new("sh");
    command
        .args([
            "-c",
            "ulimit -Sn 2000 && ulimit -Hn 2000 && exec \"$0\" \"$@\"",
        ])
        .arg(env!("CARGO_BIN_EXE_tollgate"))
        .args(["serve", "--config"])
        .arg(&config)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.0.join("data"));
    let process = crate::process::Process::spawn(&mut command);
    let line = process.wait_for(awaited);
    let warnings = process
        .logged_lines()
        .into_iter()
        .filter(|line| line.contains("WARN"))
        .collect();
    (line, warnings)
}

#[test]
fn unset_the_connection_cap_fits_the_open_file_limit_it_starts_under() {
    let sized = "connections per port sized to the open-file limit";
    let (line, warnings) = started_under_2000_open_files("", sized);
    // (2,000 - 256 kept for files that are not connections) / 2 ports.
    assert!(line.contains("max_connections=872"), "{line}");
    assert!(line.contains("open_files=2000"), "{line}");
    assert!(line.contains("INFO"), "{line}");
    assert_eq!(warnings, Vec::<String>::new());
}

#[test]
fn a_connection_cap_set_past_the_open_file_limit_is_kept_and_warned_about() {
    let warned = "the open-file limit is below server.max_connections";
    let (line, _) = started_under_2000_open_files("max_connections = 5000", warned);
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("needed=10256"), "{line}");
}
