//! A real PostgreSQL server on a loopback port, in a fresh data directory, stopped and removed
//! when dropped. Shared by the test suites of `tollgate-catalog` and the server.
//!
//! It uses Debian's server binaries (`/usr/lib/postgresql/VERSION/bin`, package `postgresql`,
//! which `scripts/test` installs). As root it runs them as the `postgres` user: PostgreSQL
//! refuses to run as root.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One PostgreSQL server, trust authentication for the user `tollgate` on 127.0.0.1 only.
#[derive(Debug)]
pub struct PostgresServer {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

impl PostgresServer {
    pub fn start() -> Self {
        let bin = binaries();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("a free loopback port");
        let dir = std::env::temp_dir().join(format!("tollgate-pg-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let server = Self { port, dir, bin };
        if is_root() {
            run(Command::new("chown")
                .args(["-R", "postgres"])
                .arg(&server.dir));
        }
        let data = server.dir.join("data");
        run(server.as_owner("initdb").arg("-D").arg(&data).args([
            "-U",
            "tollgate",
            "--auth=trust",
            "-N",
            "-E",
            "UTF8",
        ]));
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            server.dir.display()
        );
        run(server
            .as_owner("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-w", "-l"])
            .arg(server.dir.join("log"))
            .arg("start"));
        server
    }

    /// `postgres://tollgate@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://tollgate@127.0.0.1:{}/postgres", self.port)
    }

    /// A new database on this server; its URL.
    pub fn database(&self, name: &str) -> String {
        run(self.as_owner("createdb").args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "tollgate",
            name,
        ]));
        format!("postgres://tollgate@127.0.0.1:{}/{name}", self.port)
    }

    fn as_owner(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = self
            .as_owner("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(command: &mut Command) {
    let output = command.output().expect("a PostgreSQL program");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.starts_with(b"0\n"))
}

/// The newest `/usr/lib/postgresql/VERSION/bin`.
fn binaries() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!("no PostgreSQL server under /usr/lib/postgresql: scripts/test installs it (apt-get install postgresql)")
    })
}
