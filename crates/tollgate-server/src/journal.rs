//! Quotas that survive a restart: long-lived limit state written to `<data-dir>/limits.journal`.
//!
//! The file is a sequence of batches, each `count: u32`, `crc32: u32` of the records, then
//! `count` records of `key: u64, state: u64` (little-endian). At start the valid batches are
//! replayed into the store (a torn or corrupted tail is logged and dropped) and the file is
//! rewritten with the live states only. A flusher thread then appends what the store notes.
//!
//! With `durability = "always"` (the default) an answer that counted long-lived state waits
//! until that state is on disk (fsync): after a crash, `kill -9` included, no quota starts
//! anew. With an interval (`"100ms"`), answers do not wait; a crash can forget the admissions
//! of the last interval, which a client could then make again.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tollgate_core::{MemoryStore, Nanos};

/// When journaled state reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Before the answer that counted it.
    Always,
    /// Every interval, answers not waiting.
    Every(Duration),
}

/// The running journal: wakes the flusher, and says what is on disk.
#[derive(Debug)]
pub struct Journal {
    durability: Durability,
    wanted: Arc<(Mutex<bool>, Condvar)>,
    flushed: watch::Receiver<u64>,
}

const RECORD: usize = 16;

/// Drains the store's noted states into a buffer; returns the take's number.
type Take = dyn Fn(&mut Vec<(u64, u64)>) -> u64 + Send;

impl Journal {
    /// Replays `<data_dir>/limits.journal` into `store`, compacts it, and starts the flusher.
    ///
    /// # Errors
    /// The file cannot be rewritten or opened for appending.
    pub fn start(
        data_dir: &Path,
        store: &MemoryStore,
        now: Nanos,
        take: impl Fn(&mut Vec<(u64, u64)>) -> u64 + Send + 'static,
        durability: Durability,
    ) -> Result<Self, String> {
        let path = data_dir.join("limits.journal");
        let records = read(&path);
        let restored = store
            .restore(records.iter().copied(), now)
            .map_err(|error| format!("cannot restore limit state: {error}"))?;
        tracing::info!(file = %path.display(), restored, "limit state restored");
        compact(&path, &records, now)
            .map_err(|error| format!("cannot rewrite {}: {error}", path.display()))?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|error| format!("cannot open {}: {error}", path.display()))?;
        let wanted = Arc::new((Mutex::new(false), Condvar::new()));
        let (published, flushed) = watch::channel(0);
        let flusher = Flusher {
            file,
            path,
            take: Box::new(take),
            wanted: Arc::clone(&wanted),
            published,
            durability,
        };
        std::thread::Builder::new()
            .name("tollgate-journal".into())
            .spawn(move || flusher.run())
            .map_err(|error| format!("cannot start the journal: {error}"))?;
        Ok(Self {
            durability,
            wanted,
            flushed,
        })
    }

    /// Returns once everything taken up to `epoch` is on disk (at once unless `Always`).
    pub async fn written(&self, epoch: u64) {
        if self.durability != Durability::Always {
            return;
        }
        {
            let (wanted, wake) = &*self.wanted;
            *wanted
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
            wake.notify_one();
        }
        let mut flushed = self.flushed.clone();
        let _ = flushed.wait_for(|&done| done > epoch).await;
    }
}

struct Flusher {
    file: File,
    path: PathBuf,
    take: Box<Take>,
    wanted: Arc<(Mutex<bool>, Condvar)>,
    published: watch::Sender<u64>,
    durability: Durability,
}

impl Flusher {
    fn run(mut self) {
        let mut batch = Vec::new();
        loop {
            match self.durability {
                Durability::Always => {
                    let (wanted, wake) = &*self.wanted;
                    let mut flag = wanted
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    while !*flag {
                        let (next, _) = wake
                            .wait_timeout(flag, Duration::from_secs(1))
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        flag = next;
                        if self.published.is_closed() {
                            return;
                        }
                    }
                    *flag = false;
                }
                Durability::Every(interval) => std::thread::sleep(interval),
            }
            batch.clear();
            let take = (self.take)(&mut batch);
            if !batch.is_empty() {
                if let Err(error) = append(&mut self.file, &batch) {
                    tracing::error!(file = %self.path.display(), %error, "journal not written; quotas may not survive a crash");
                    continue;
                }
            }
            self.published.send_replace(take);
        }
    }
}

fn encode(batch: &[(u64, u64)]) -> Vec<u8> {
    let mut records = Vec::with_capacity(batch.len() * RECORD);
    for &(key, state) in batch {
        records.extend_from_slice(&key.to_le_bytes());
        records.extend_from_slice(&state.to_le_bytes());
    }
    let mut out = Vec::with_capacity(8 + records.len());
    out.extend_from_slice(&u32::try_from(batch.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&records).to_le_bytes());
    out.extend_from_slice(&records);
    out
}

fn append(file: &mut File, batch: &[(u64, u64)]) -> std::io::Result<()> {
    file.write_all(&encode(batch))?;
    file.sync_data()
}

/// The records of every valid batch, in order; a bad tail is logged and ignored.
fn read(path: &Path) -> Vec<(u64, u64)> {
    let mut bytes = Vec::new();
    match File::open(path).and_then(|mut file| file.read_to_end(&mut bytes)) {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(error) => {
            tracing::error!(file = %path.display(), %error, "limit state unreadable; counting starts anew");
            return Vec::new();
        }
    }
    let mut records = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let header = bytes.get(at..at + 8).map(|h| {
            let count = u32::from_le_bytes(h[..4].try_into().expect("4 bytes")) as usize;
            let crc = u32::from_le_bytes(h[4..].try_into().expect("4 bytes"));
            (count, crc)
        });
        let body = header.and_then(|(count, crc)| {
            let body = bytes.get(at + 8..at + 8 + count.checked_mul(RECORD)?)?;
            (crc32fast::hash(body) == crc).then_some(body)
        });
        let Some(body) = body else {
            tracing::warn!(file = %path.display(), offset = at, "limit state file damaged from here; what follows is ignored");
            break;
        };
        for record in body.chunks_exact(RECORD) {
            let key = u64::from_le_bytes(record[..8].try_into().expect("8 bytes"));
            let state = u64::from_le_bytes(record[8..].try_into().expect("8 bytes"));
            records.push((key, state));
        }
        at += 8 + body.len();
    }
    records
}

/// Rewrites the file with the live states only, atomically.
fn compact(path: &Path, records: &[(u64, u64)], now: Nanos) -> std::io::Result<()> {
    let mut latest = std::collections::HashMap::new();
    for &(key, state) in records {
        latest.insert(key, state);
    }
    let live: Vec<(u64, u64)> = latest
        .into_iter()
        .filter(|&(_, state)| state > now)
        .collect();
    let temporary = path.with_extension("journal.new");
    {
        let mut out = BufWriter::new(File::create(&temporary)?);
        if !live.is_empty() {
            out.write_all(&encode(&live))?;
        }
        out.into_inner()
            .map_err(std::io::IntoInnerError::into_error)?
            .sync_all()?;
    }
    std::fs::rename(&temporary, path)?;
    if let Some(folder) = path.parent() {
        File::open(folder)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_and_a_torn_tail_is_dropped() {
        let folder = std::env::temp_dir().join(format!("tollgate-journal-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join("limits.journal");
        let mut bytes = encode(&[(1, 100), (2, 200)]);
        bytes.extend(encode(&[(1, 150)]));
        let whole = bytes.len();
        bytes.extend(&encode(&[(3, 300)])[..10]);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read(&path), [(1, 100), (2, 200), (1, 150)]);
        compact(&path, &read(&path), 120).unwrap();
        let mut live = read(&path);
        live.sort_unstable();
        assert_eq!(live, [(1, 150), (2, 200)]);
        assert!(std::fs::metadata(&path).unwrap().len() < whole as u64);
        let _ = std::fs::remove_dir_all(&folder);
    }
}
