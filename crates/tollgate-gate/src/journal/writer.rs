//! The running journal: a flusher thread that appends what the store notes, compacts the file
//! in the background, and tells the answers that wait whether their state reached the disk.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tollgate_core::{Clock, MemoryStore, Nanos};

use super::file::{Disk, JournalFile, encode};
use crate::metrics::Histogram;

/// When journaled state reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Before the answer that counted it.
    Always,
    /// Every interval, answers not waiting.
    Every(Duration),
}

/// The longest an answer waits for its state to reach the disk before it gets the failure
/// answer instead.
pub const DURABILITY_WAIT: Duration = Duration::from_secs(2);

/// Bytes the file may grow past twice its last compacted size before it is compacted again,
/// unless `server.journal_slack` says otherwise.
#[cfg(test)]
const SLACK: u64 = 1 << 20;

/// How often a failing journal tries again, with no answer waiting.
const RETRY: Duration = Duration::from_secs(1);

/// An answer's state did not reach the disk in time, or writing it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotDurable;

/// The running journal: wakes the flusher, and says what is on disk.
#[derive(Debug)]
pub struct Journal {
    durability: Durability,
    wanted: Arc<(Mutex<bool>, Condvar)>,
    progress: watch::Receiver<Progress>,
    figures: Arc<Figures>,
}

/// What the journal has done, for `/metrics`.
#[derive(Debug, Default)]
struct Figures {
    bytes: AtomicU64,
    compactions: AtomicU64,
    write_errors: AtomicU64,
    failing: AtomicBool,
    fsyncs: AtomicU64,
    fsync_nanos: AtomicU64,
    fsync_latency: Histogram,
}

/// A copy of the journal's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalFigures {
    /// The file's size.
    pub bytes: u64,
    /// Compactions since the start (the one at start included).
    pub compactions: u64,
    /// Writes that failed.
    pub write_errors: u64,
    /// Whether the last write failed (answers get the failure answer until one succeeds).
    pub failing: bool,
    /// Writes made durable, and the time they took in all, in nanoseconds.
    pub fsyncs: u64,
    /// See `fsyncs`.
    pub fsync_nanos: u64,
}

/// Which takes are on disk, and which failed.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    flushed: u64,
    failed: u64,
}

/// Drains the store's noted states into a buffer; returns the take's number.
type Take = dyn Fn(&mut Vec<(u64, u64)>) -> u64 + Send;

impl Journal {
    /// Replays `<data_dir>/limits.journal` into `store`, compacts it, and starts the flusher,
    /// which drains the store's notes through `take`.
    ///
    /// # Errors
    /// The file cannot be rewritten or opened for appending.
    pub fn start<C: Clock + 'static>(
        data_dir: &Path,
        store: &MemoryStore,
        clock: C,
        take: impl Fn(&mut Vec<(u64, u64)>) -> u64 + Send + 'static,
        durability: Durability,
        slack: u64,
    ) -> Result<Self, String> {
        let path = data_dir.join("limits.journal");
        let (records, valid) = JournalFile::read(&path);
        let now = clock.now();
        let restored = store
            .restore(records.iter().copied(), now)
            .map_err(|error| format!("cannot restore limit state: {error}"))?;
        tracing::info!(file = %path.display(), restored, "limit state restored");
        let disk = JournalFile::open(&path, valid)
            .map_err(|error| format!("cannot open {}: {error}", path.display()))?;
        let latest: HashMap<u64, u64> = records.into_iter().collect();
        Self::run(disk, latest, clock, Box::new(take), durability, slack)
            .map_err(|error| format!("cannot rewrite {}: {error}", path.display()))
    }

    /// Compacts `latest` onto `disk` and starts the flusher.
    fn run<C: Clock + 'static>(
        disk: impl Disk,
        latest: HashMap<u64, u64>,
        clock: C,
        take: Box<Take>,
        durability: Durability,
        slack: u64,
    ) -> std::io::Result<Self> {
        let wanted = Arc::new((Mutex::new(false), Condvar::new()));
        let (published, progress) = watch::channel(Progress::default());
        let figures = Arc::new(Figures::default());
        let mut flusher = Flusher {
            disk,
            take,
            now: Box::new(move || clock.now()),
            latest,
            len: 0,
            snapshot: 0,
            dirty: false,
            slack,
            wanted: Arc::clone(&wanted),
            published,
            durability,
            figures: Arc::clone(&figures),
        };
        flusher.compact()?;
        std::thread::Builder::new()
            .name("tollgate-journal".into())
            .spawn(move || flusher.run())?;
        Ok(Self {
            durability,
            wanted,
            progress,
            figures,
        })
    }

    /// Returns once everything taken up to `epoch` is on disk (at once unless `Always`).
    ///
    /// # Errors
    /// [`NotDurable`] when writing it failed, or it is not on disk after [`DURABILITY_WAIT`].
    pub async fn written(&self, epoch: u64) -> Result<(), NotDurable> {
        if self.durability != Durability::Always {
            return Ok(());
        }
        {
            // Only the first answer to want the disk since the flusher last looked wakes it (a
            // wake is a system call); the others find the flag set and wait with it.
            let (wanted, wake) = &*self.wanted;
            let mut flag = wanted.lock().unwrap_or_else(PoisonError::into_inner);
            if !*flag {
                *flag = true;
                drop(flag);
                wake.notify_one();
            }
        }
        let mut progress = self.progress.clone();
        let settled = progress.wait_for(|done| done.flushed > epoch || done.failed > epoch);
        match tokio::time::timeout(DURABILITY_WAIT, settled).await {
            Ok(Ok(done)) if done.flushed > epoch => Ok(()),
            _ => Err(NotDurable),
        }
    }

    /// The time each write took to be made durable.
    pub fn fsync_latency(&self) -> &Histogram {
        &self.figures.fsync_latency
    }

    /// What the journal has done so far.
    pub fn figures(&self) -> JournalFigures {
        let figures = &*self.figures;
        JournalFigures {
            bytes: figures.bytes.load(Ordering::Relaxed),
            compactions: figures.compactions.load(Ordering::Relaxed),
            write_errors: figures.write_errors.load(Ordering::Relaxed),
            failing: figures.failing.load(Ordering::Relaxed),
            fsyncs: figures.fsyncs.load(Ordering::Relaxed),
            fsync_nanos: figures.fsync_nanos.load(Ordering::Relaxed),
        }
    }
}

/// The thread that owns the file.
struct Flusher<D: Disk> {
    disk: D,
    take: Box<Take>,
    now: Box<dyn Fn() -> Nanos + Send>,
    /// The newest state of every key written, so that a compaction or a recovery writes them
    /// all without reading the file.
    latest: HashMap<u64, u64>,
    /// Bytes on disk, all of them valid.
    len: u64,
    /// Bytes after the last compaction.
    snapshot: u64,
    /// Set when `latest` holds states the file may lack (a write failed): the next write is a
    /// whole rewrite, never an append after a hole.
    dirty: bool,
    /// Bytes the file may grow past twice `snapshot` before it is compacted.
    slack: u64,
    wanted: Arc<(Mutex<bool>, Condvar)>,
    published: watch::Sender<Progress>,
    durability: Durability,
    figures: Arc<Figures>,
}

impl<D: Disk> Flusher<D> {
    fn run(mut self) {
        let mut batch = Vec::new();
        while self.wait() {
            batch.clear();
            let take = (self.take)(&mut batch);
            self.latest.extend(batch.iter().copied());
            let written = if self.dirty {
                self.compact()
            } else if batch.is_empty() {
                Ok(())
            } else {
                self.append(&batch)
            };
            match written {
                Ok(()) => {
                    if self.figures.failing.swap(false, Ordering::Relaxed) {
                        tracing::info!("limit state written to disk again");
                    }
                    self.published.send_modify(|done| done.flushed = take);
                    if self.len > self.snapshot.saturating_mul(2).saturating_add(self.slack) {
                        if let Err(error) = self.compact() {
                            self.failed(None, &error);
                        }
                    }
                }
                Err(error) => self.failed(Some(take), &error),
            }
        }
    }

    /// Waits for an answer to want the disk (or the interval); false once the journal is gone.
    fn wait(&self) -> bool {
        match self.durability {
            Durability::Always => {
                let (wanted, wake) = &*self.wanted;
                let mut flag = wanted.lock().unwrap_or_else(PoisonError::into_inner);
                while !*flag {
                    let (next, timeout) = wake
                        .wait_timeout(flag, RETRY)
                        .unwrap_or_else(PoisonError::into_inner);
                    flag = next;
                    if self.published.is_closed() {
                        return false;
                    }
                    if timeout.timed_out() && self.dirty {
                        break;
                    }
                }
                *flag = false;
            }
            Durability::Every(interval) => std::thread::sleep(interval),
        }
        !self.published.is_closed()
    }

    fn append(&mut self, batch: &[(u64, u64)]) -> std::io::Result<()> {
        let bytes = encode(batch);
        let started = Instant::now();
        self.disk.append(&bytes)?;
        self.synced(started);
        self.len += bytes.len() as u64;
        self.figures.bytes.store(self.len, Ordering::Relaxed);
        Ok(())
    }

    /// Rewrites the file with the live states only (those not yet at rest).
    fn compact(&mut self) -> std::io::Result<()> {
        let now = (self.now)();
        self.latest.retain(|_, state| *state > now);
        let live: Vec<(u64, u64)> = self.latest.iter().map(|(&k, &s)| (k, s)).collect();
        let bytes = if live.is_empty() {
            Vec::new()
        } else {
            encode(&live)
        };
        let started = Instant::now();
        self.disk.replace(&bytes)?;
        self.synced(started);
        self.len = bytes.len() as u64;
        self.snapshot = self.len;
        self.dirty = false;
        self.figures.bytes.store(self.len, Ordering::Relaxed);
        self.figures.compactions.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn synced(&self, started: Instant) {
        let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.figures.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.figures.fsync_nanos.fetch_add(took, Ordering::Relaxed);
        self.figures.fsync_latency.observe(took);
    }

    /// After a failed write: what may have been left past the valid bytes is cut off, the
    /// answers waiting for `take` get the failure answer, and the next write rewrites the file.
    fn failed(&mut self, take: Option<u64>, error: &std::io::Error) {
        self.figures.write_errors.fetch_add(1, Ordering::Relaxed);
        if !self.figures.failing.swap(true, Ordering::Relaxed) {
            tracing::error!(%error, "limit state not written to disk; answers that wait for it are refused until it is");
        }
        self.dirty = true;
        let _ = self.disk.truncate(self.len);
        if let Some(take) = take {
            self.published.send_modify(|done| done.failed = take);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::journal::file::decode;

    /// A disk in memory that fails while `full` is set, leaving half of what it was given.
    #[derive(Clone, Default)]
    struct FlakyDisk {
        bytes: Arc<Mutex<Vec<u8>>>,
        full: Arc<AtomicBool>,
    }

    impl Disk for FlakyDisk {
        fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
            let mut file = self.bytes.lock().unwrap();
            if self.full.load(Ordering::SeqCst) {
                file.extend(&bytes[..bytes.len() / 2]);
                return Err(std::io::Error::other("no space left on device"));
            }
            file.extend(bytes);
            Ok(())
        }
        fn truncate(&mut self, len: u64) -> std::io::Result<()> {
            self.bytes.lock().unwrap().truncate(len as usize);
            Ok(())
        }
        fn replace(&mut self, bytes: &[u8]) -> std::io::Result<()> {
            if self.full.load(Ordering::SeqCst) {
                return Err(std::io::Error::other("no space left on device"));
            }
            *self.bytes.lock().unwrap() = bytes.to_vec();
            Ok(())
        }
    }

    /// Notes a test pushes as a store would, and the number of the last take.
    type Notes = Mutex<(Vec<(u64, u64)>, u64)>;

    /// A journal over `disk` whose store is a queue of notes the test pushes.
    fn journal(disk: &FlakyDisk, clock: tollgate_core::ManualClock) -> (Journal, Arc<Notes>) {
        let notes = Arc::new(Mutex::new((Vec::new(), 0)));
        let source = Arc::clone(&notes);
        let take = Box::new(move |into: &mut Vec<(u64, u64)>| {
            let mut notes = source.lock().unwrap();
            into.append(&mut notes.0);
            notes.1 += 1;
            notes.1
        });
        let journal = Journal::run(
            disk.clone(),
            HashMap::new(),
            clock,
            take,
            Durability::Always,
            SLACK,
        )
        .unwrap();
        (journal, notes)
    }

    /// Notes `(key, state)` as the store would, and returns the epoch to wait past.
    fn note(notes: &Mutex<(Vec<(u64, u64)>, u64)>, key: u64, state: u64) -> u64 {
        let mut notes = notes.lock().unwrap();
        notes.0.push((key, state));
        notes.1
    }

    #[tokio::test]
    async fn a_failed_write_is_answered_and_nothing_is_lost_once_the_disk_has_room() {
        let disk = FlakyDisk::default();
        let (journal, notes) = journal(&disk, tollgate_core::ManualClock::new(10));
        assert_eq!(journal.written(note(&notes, 1, 100)).await, Ok(()));
        disk.full.store(true, Ordering::SeqCst);
        assert_eq!(journal.written(note(&notes, 2, 200)).await, Err(NotDurable));
        assert_eq!(journal.written(note(&notes, 3, 300)).await, Err(NotDurable));
        assert!(journal.figures().failing);
        assert!(journal.figures().write_errors >= 2);
        // What is on disk is still whole: no torn batch past the good ones.
        let (records, valid) = decode(&disk.bytes.lock().unwrap());
        assert_eq!(valid, disk.bytes.lock().unwrap().len());
        assert_eq!(records, [(1, 100)]);

        disk.full.store(false, Ordering::SeqCst);
        assert_eq!(journal.written(note(&notes, 4, 400)).await, Ok(()));
        assert!(!journal.figures().failing);
        let (mut records, _) = decode(&disk.bytes.lock().unwrap());
        records.sort_unstable();
        assert_eq!(
            records,
            [(1, 100), (2, 200), (3, 300), (4, 400)],
            "the failed ones too"
        );
    }

    #[tokio::test]
    async fn a_million_admissions_on_one_daily_quota_keep_the_file_small() {
        use tollgate_core::{Algorithm, Key, LimitRequest, Schedule, Store, Window};
        let store = Arc::new(MemoryStore::builder().journaled(true).build());
        let clock = tollgate_core::ManualClock::new(1_767_225_600_000_000_000);
        let day = Schedule::clock(Duration::from_secs(86_400)).unwrap();
        let daily: Algorithm = Window::new(2_000_000, day.clone()).unwrap().into();
        let disk = FlakyDisk::default();
        let source = Arc::clone(&store);
        let take = Box::new(move |into: &mut Vec<(u64, u64)>| source.take_journal(into));
        let journal = Journal::run(
            disk.clone(),
            HashMap::new(),
            clock.clone(),
            take,
            Durability::Always,
            SLACK,
        )
        .unwrap();
        let request = [LimitRequest::new(Key::from_hash(7), &daily, 1)];
        let mut largest = 0;
        for admitted in 1..=1_000_000u32 {
            assert!(store.acquire(clock.now(), &request).unwrap().allowed());
            // Answers wait in groups, as concurrent clients' answers do.
            if admitted % 10 == 0 {
                journal.written(store.journal_epoch()).await.unwrap();
                largest = largest.max(disk.bytes.lock().unwrap().len() as u64);
            }
        }
        let figures = journal.figures();
        // Uncompacted, it would hold 100,000 batches of 24 bytes or more (2.4 MB); compacted, at
        // most twice the live state, the slack, and the batch that crossed the bound.
        assert!(
            largest <= 2 * 24 + SLACK + 1_024,
            "largest file: {largest} bytes"
        );
        assert!(figures.compactions > 1, "{figures:?}");
        // What is on disk restores the count: a restarted store refuses the 1,000,001st unit
        // of a window of 1,000,001.
        let (records, _) = decode(&disk.bytes.lock().unwrap());
        let restarted = MemoryStore::new();
        restarted.restore(records, clock.now()).unwrap();
        let rest: Algorithm = Window::new(1_000_001, day).unwrap().into();
        let one = [LimitRequest::new(Key::from_hash(7), &rest, 1)];
        assert!(restarted.acquire(clock.now(), &one).unwrap().allowed());
        assert!(!restarted.acquire(clock.now(), &one).unwrap().allowed());
    }

    #[tokio::test]
    async fn states_at_rest_are_dropped_when_compacting() {
        let disk = FlakyDisk::default();
        let clock = tollgate_core::ManualClock::new(10);
        let (journal, notes) = journal(&disk, clock.clone());
        note(&notes, 1, 50);
        journal.written(note(&notes, 2, 500)).await.unwrap();
        clock.advance(Duration::from_nanos(100));
        // Grow the file past its bound with one key, then read it back.
        for state in 0..(SLACK / 24 + 2) {
            journal
                .written(note(&notes, 3, 1_000 + state))
                .await
                .unwrap();
        }
        let (records, _) = decode(&disk.bytes.lock().unwrap());
        assert!(!records.contains(&(1, 50)), "at rest since 50");
        assert!(records.contains(&(2, 500)));
    }
}
