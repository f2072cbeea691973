//! A deterministic access log for `examples/quickstart.toml`, as JSON lines on standard output:
//!
//! ```text
//! cargo run -p tollgate-replay --example generate_log -- LINES [SECONDS] > access.log
//! ```
//!
//! `LINES` requests spread evenly over `SECONDS` (default 86,400) from 2026-03-28T12:00:00Z —
//! across Berlin's change to summer time — by `alice` (free plan), `bob` (pro), 200 further
//! accounts' keys the policy does not know (refused 401), and callers without a key; one
//! request in 50 answered 503 upstream, one line in 100,000 malformed. The same arguments give
//! the same log, byte for byte.

use std::io::{BufWriter, Write};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let lines: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let seconds: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(86_400);
    let start: u64 = 1_774_699_200; // 2026-03-28T12:00:00Z
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64*: fast, deterministic, good enough to spread requests.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11
    };
    let names = ["ada", "bob", "cy", "di"];
    for line in 0..lines {
        if line % 100_000 == 99_999 {
            writeln!(out, "{{\"time\": \"not a time\", \"method\": \"GET\"}}")?;
            continue;
        }
        let millis = line * seconds * 1_000 / lines.max(1);
        let (at, fraction) = (start + millis / 1_000, millis % 1_000);
        let roll = next();
        let key = match roll % 10 {
            0..=3 => "\"X-Api-Key\": \"alice-key\"".to_owned(),
            4..=6 => "\"X-Api-Key\": \"bob-key\"".to_owned(),
            7 => format!("\"X-Api-Key\": \"guest-{}\"", next() % 200),
            _ => String::new(),
        };
        let (method, path) = if roll % 17 == 0 {
            ("POST", "/reports".to_owned())
        } else if roll % 23 == 0 {
            ("GET", "/healthz".to_owned())
        } else {
            ("GET", format!("/hello/{}", names[(next() % 4) as usize]))
        };
        let status = if next() % 50 == 0 { 503 } else { 200 };
        let ip = format!("203.0.113.{}", next() % 250);
        writeln!(
            out,
            "{{\"time\": {at}.{fraction:03}, \"method\": \"{method}\", \"path\": \"{path}\", \"headers\": {{{key}}}, \"client_ip\": \"{ip}\", \"status\": {status}}}"
        )?;
    }
    out.flush()
}
