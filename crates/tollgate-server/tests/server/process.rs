//! A `tollgate` process of a test: its log lines read as they come (all of them, listened to
//! or not: a full pipe would stall the server), signals, and a kill on drop.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::Receiver;
use std::time::Duration;

/// A running process whose standard output is its log.
pub(crate) struct Process {
    child: Child,
    lines: Receiver<String>,
    /// Every line read so far.
    seen: Mutex<Vec<String>>,
}

impl Process {
    /// Starts `command` (logging at `info`, with no admin token from the environment), its
    /// log lines echoed to the test's output.
    pub(crate) fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .env("RUST_LOG", "info")
            .env_remove("TOLLGATE_ADMIN_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("tollgate: {line}");
                let _ = sender.send(line);
            }
        });
        Self {
            child,
            lines,
            seen: Mutex::new(Vec::new()),
        }
    }

    /// The address logged as `field`, in text (`field=ADDR`) or JSON (`"field":"ADDR"`) lines.
    pub(crate) fn logged_address(&self, field: &str) -> SocketAddr {
        let (text, json) = (format!("{field}="), format!("\"{field}\":\""));
        let line = self.wait_for_any(&[&text, &json]);
        let value = if let Some((_, rest)) = line.split_once(&text) {
            rest.split_whitespace().next()
        } else {
            line.split_once(&json)
                .and_then(|(_, rest)| rest.split('"').next())
        };
        value.unwrap().parse().unwrap()
    }

    /// Like [`wait_for`](Self::wait_for), for a line logged before now or later.
    pub(crate) fn wait_for_logged(&self, needle: &str) -> String {
        let earlier = self
            .seen
            .lock()
            .unwrap()
            .iter()
            .find(|line| line.contains(needle))
            .cloned();
        earlier.unwrap_or_else(|| self.wait_for(needle))
    }

    /// Every log line read so far.
    pub(crate) fn logged_lines(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits (at most 20 s) for a log line containing `needle`, and returns it.
    pub(crate) fn wait_for(&self, needle: &str) -> String {
        self.wait_for_any(&[needle])
    }

    /// Waits (at most 20 s) for a log line containing one of `needles`, and returns it.
    fn wait_for_any(&self, needles: &[&str]) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no log line with {needles:?}"));
            self.seen.lock().unwrap().push(line.clone());
            if needles.iter().any(|needle| line.contains(needle)) {
                return line;
            }
        }
    }

    /// Sends a signal (`HUP`, `TERM`, `KILL`) to the process.
    pub(crate) fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([&format!("-{name}"), &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Sends `signal` and waits for the exit status.
    pub(crate) fn stop_with(&mut self, signal: &str) -> ExitStatus {
        self.signal(signal);
        self.child.wait().unwrap()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
