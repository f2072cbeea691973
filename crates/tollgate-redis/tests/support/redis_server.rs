//! Real `redis-server` processes on loopback ports, stopped when dropped: a single server, or
//! the nodes of a Redis Cluster. Shared by the test suites of `tollgate-redis` and the server.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One `redis-server` on `127.0.0.1:port`.
#[derive(Debug)]
pub struct RedisServer {
    pub port: u16,
    dir: PathBuf,
    /// For a cluster node: its `cluster-node-timeout` in milliseconds.
    cluster: Option<u32>,
    child: Option<Child>,
}

impl RedisServer {
    /// A single server with no persistence.
    pub fn start() -> Self {
        Self::spawn(None)
    }

    fn spawn(cluster: Option<u32>) -> Self {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("tollgate-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory for redis-server");
        let mut server = Self {
            port,
            dir,
            cluster,
            child: None,
        };
        server.run();
        server
    }

    /// Starts the process again on the same port (after [`kill`](Self::kill)).
    pub fn run(&mut self) {
        let mut command = Command::new("redis-server");
        command
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(node_timeout) = self.cluster {
            command
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout"])
                .arg(node_timeout.to_string());
        }
        let child = command.spawn().unwrap_or_else(|error| {
            panic!(
                "cannot start redis-server ({error}): scripts/test installs it (apt-get install redis-server)"
            )
        });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.command(&["PING"]).as_deref() != Some("+PONG") {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends one inline command; the first line of the answer, if any.
    pub fn command(&self, words: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        stream
            .write_all(format!("{}\r\n", words.join(" ")).as_bytes())
            .ok()?;
        let mut answer = [0; 512];
        let read = stream.read(&mut answer).ok()?;
        let answer = String::from_utf8_lossy(&answer[..read]);
        answer.lines().next().map(str::to_owned)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The nodes of one Redis Cluster, slots spread over three primaries by `redis-cli --cluster
/// create`.
#[derive(Debug)]
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Three primaries (node timeout 2 s).
    pub fn start() -> Self {
        Self::create(3, 0, 2_000)
    }

    /// Three primaries with one replica each, `cluster-node-timeout` `node_timeout_ms`: a
    /// primary that stops answering for that long is failed over to its replica.
    pub fn start_replicated(node_timeout_ms: u32) -> Self {
        Self::create(6, 1, node_timeout_ms)
    }

    fn create(count: usize, replicas: usize, node_timeout_ms: u32) -> Self {
        let nodes: Vec<RedisServer> = (0..count)
            .map(|_| RedisServer::spawn(Some(node_timeout_ms)))
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let status = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli (package redis-tools) creates the cluster");
        assert!(status.success(), "redis-cli --cluster create failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        let ready = |node: &RedisServer| {
            let replication = cli(node.port, &["INFO", "replication"]);
            node.info("CLUSTER", "INFO").contains("cluster_state:ok")
                && (replication.contains("role:master")
                    || replication.contains("master_link_status:up"))
        };
        while !nodes.iter().all(ready) {
            assert!(Instant::now() < deadline, "the cluster did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { nodes }
    }

    /// `redis+cluster://HOST:PORT,…`.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }
}

impl RedisCluster {
    /// Waits (at most 10 s) for a key matching `pattern` on a primary, and returns that
    /// primary's index and the key.
    fn first_key(&self, pattern: &str) -> (usize, String) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self.nodes.iter().enumerate().find_map(|(at, node)| {
                if !node.is_primary() {
                    return None;
                }
                let keys = cli(node.port, &["--scan", "--pattern", pattern]);
                keys.lines().next().map(|key| (at, key.to_owned()))
            });
            if let Some(found) = found {
                return found;
            }
            assert!(Instant::now() < deadline, "no key matching {pattern}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits (at most 10 s) for a key matching `pattern`, then moves its slot to another
    /// primary by hand, as `redis-cli --cluster reshard` does: IMPORTING and MIGRATING, MIGRATE,
    /// then SETSLOT NODE everywhere, staying 100 ms in each state so that traffic meets `ASK`
    /// redirections and then `MOVED` ones; `asking` runs while the key has moved and its slot
    /// has not (every call of it meets `ASK`). The new owner is set on the old primary first
    /// and on the new one only after `bouncing` has run: meanwhile the old primary answers
    /// `MOVED` to the new one and the new one, still importing, `MOVED` back (what a reshard meets
    /// whenever SETSLOT NODE reaches the old primary before the new one; this support used to
    /// take the nodes in their order, so about a third of the runs met it for a few
    /// milliseconds, and failed).
    /// Returns the slot and the ports it moved between.
    pub fn move_slot_of_first(
        &self,
        pattern: &str,
        asking: impl FnOnce(),
        bouncing: impl FnOnce(),
    ) -> (String, u16, u16) {
        let (from, key) = self.first_key(pattern);
        let from = &self.nodes[from];
        let to = self
            .nodes
            .iter()
            .find(|node| node.port != from.port && node.is_primary())
            .expect("two primaries");
        let slot = cli(from.port, &["CLUSTER", "KEYSLOT", &key])
            .trim()
            .to_owned();
        let (from_id, to_id) = (from.id(), to.id());
        cli(
            to.port,
            &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &from_id],
        );
        cli(
            from.port,
            &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &to_id],
        );
        std::thread::sleep(Duration::from_millis(100));
        let to_port = to.port.to_string();
        cli(
            from.port,
            &[
                "MIGRATE",
                "127.0.0.1",
                &to_port,
                "",
                "0",
                "5000",
                "KEYS",
                &key,
            ],
        );
        asking();
        cli(from.port, &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id]);
        bouncing();
        cli(to.port, &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id]);
        for node in &self.nodes {
            if node.port != from.port && node.port != to.port {
                cli(node.port, &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id]);
            }
        }
        (slot, from.port, to.port)
    }

    /// Waits (at most 10 s) for a key matching `pattern`, then kills its primary at once
    /// (SIGKILL), as a crash would. Returns the index of the killed node and of its replica.
    pub fn kill_primary_of_first(&mut self, pattern: &str) -> (usize, usize) {
        let (primary, _key) = self.first_key(pattern);
        let port = format!("master_port:{}", self.nodes[primary].port);
        let replica = self
            .nodes
            .iter()
            .position(|node| cli(node.port, &["INFO", "replication"]).contains(&port))
            .expect("the primary has a replica");
        self.nodes[primary].kill();
        (primary, replica)
    }
}

impl RedisServer {
    /// Whether this node is a primary now (`ROLE`).
    pub fn is_primary(&self) -> bool {
        cli(self.port, &["ROLE"]).lines().next() == Some("master")
    }

    /// This cluster node's id.
    fn id(&self) -> String {
        cli(self.port, &["CLUSTER", "MYID"]).trim().to_owned()
    }

    /// How many `ASKING` commands this node has run since it started: each is a client
    /// following an `ASK` redirection to it.
    pub fn asking_calls(&self) -> u64 {
        cli(self.port, &["INFO", "commandstats"])
            .lines()
            .find_map(|line| line.strip_prefix("cmdstat_asking:calls="))
            .and_then(|rest| rest.split(',').next()?.trim().parse().ok())
            .unwrap_or(0)
    }
}

/// `redis-cli -p PORT ARGS…`: its output.
fn cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli (package redis-tools)");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

impl RedisServer {
    /// The whole bulk answer of a two-word command such as `CLUSTER INFO`.
    fn info(&self, first: &str, second: &str) -> String {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return String::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = stream.write_all(format!("{first} {second}\r\n").as_bytes());
        let mut answer = [0; 4096];
        let read = stream.read(&mut answer).unwrap_or(0);
        String::from_utf8_lossy(&answer[..read]).into_owned()
    }
}

/// A loopback port free now, with port + 10,000 free too (a cluster node's bus port).
fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = 20_000 + (std::process::id() % 500) as u16 * 20;
    loop {
        let port = start + NEXT.fetch_add(1, Ordering::Relaxed) % 10_000;
        let free = |port: u16| TcpListener::bind(("127.0.0.1", port)).is_ok();
        if port < 30_000 && free(port) && free(port + 10_000) {
            return port;
        }
    }
}
