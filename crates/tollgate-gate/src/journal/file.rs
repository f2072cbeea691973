//! The journal's bytes: batches of `count: u32`, `crc32: u32` of the records, then `count`
//! records of `key: u64, state: u64` (little-endian), and the file they live in.
//!
//! The file is kept longer than its batches, zero-filled past them: a batch is written over
//! zeros already on disk, so making it durable flushes its data only, not the file's size and
//! blocks too (on ext4, an append's `fdatasync` took 2.3 times as long as an overwrite's).
//! Zeros read as empty batches (a count of 0 and the CRC-32 of nothing, 0), so a reader needs
//! no marker of where the batches end.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Bytes of one record.
const RECORD: usize = 16;

/// Zeros written past the batches whenever the file is rewritten or runs out of them.
const ZEROS: usize = 64 * 1024;

/// One batch, framed and checksummed.
pub(super) fn encode(batch: &[(u64, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + batch.len() * RECORD);
    out.extend_from_slice(&u32::try_from(batch.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    for &(key, state) in batch {
        out.extend_from_slice(&key.to_le_bytes());
        out.extend_from_slice(&state.to_le_bytes());
    }
    let crc = crc32fast::hash(&out[8..]);
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    out
}

/// The records of every valid batch of `bytes`, in order, and the length of the valid prefix:
/// reading stops at the first batch that is torn or fails its checksum.
pub(super) fn decode(bytes: &[u8]) -> (Vec<(u64, u64)>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let body = bytes.get(at..at + 8).and_then(|header| {
            let count = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
            let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
            let body = bytes.get(at + 8..at + 8 + count.checked_mul(RECORD)?)?;
            (crc32fast::hash(body) == crc).then_some(body)
        });
        let Some(body) = body else { break };
        for record in body.chunks_exact(RECORD) {
            let (key, state) = record.split_at(8);
            records.push((
                u64::from_le_bytes(key.try_into().unwrap_or_default()),
                u64::from_le_bytes(state.try_into().unwrap_or_default()),
            ));
        }
        at += 8 + body.len();
    }
    (records, at)
}

/// Where the journal's bytes go: a file, or in tests, one that fails on demand.
pub(super) trait Disk: Send + 'static {
    /// Appends `bytes` and makes them durable.
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    /// Cuts the file back to `len` bytes (what a failed append may have left past it).
    fn truncate(&mut self, len: u64) -> std::io::Result<()>;
    /// Replaces the whole file with `bytes`, atomically and durably.
    fn replace(&mut self, bytes: &[u8]) -> std::io::Result<()>;
}

/// The journal file at `path`: batches up to `end`, zeros from there to `zeroed`.
pub(super) struct JournalFile {
    path: PathBuf,
    file: File,
    /// Where the next batch goes.
    end: u64,
    /// Where the zeros written past the batches stop (the file's length).
    zeroed: u64,
}

impl JournalFile {
    /// Opens (creating, mode 0600) the file at `path`, the next batch to go after its `valid`
    /// bytes.
    pub(super) fn open(path: &Path, valid: usize) -> std::io::Result<Self> {
        let file = private(OpenOptions::new().write(true).create(true)).open(path)?;
        let zeroed = file.metadata()?.len();
        let end = (valid as u64).min(zeroed);
        Ok(Self {
            path: path.to_owned(),
            file,
            end,
            zeroed,
        })
    }

    /// The records of every valid batch of the file at `path`, and the length of the valid
    /// prefix; a damaged tail is logged.
    pub(super) fn read(path: &Path) -> (Vec<(u64, u64)>, usize) {
        let mut bytes = Vec::new();
        match File::open(path).and_then(|mut file| file.read_to_end(&mut bytes)) {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return (Vec::new(), 0),
            Err(error) => {
                tracing::error!(file = %path.display(), %error, "limit state unreadable; counting starts anew");
                return (Vec::new(), 0);
            }
        }
        let (records, valid) = decode(&bytes);
        if valid < bytes.len() {
            tracing::warn!(file = %path.display(), offset = valid, "limit state file damaged from here; what follows is ignored");
        }
        (records, valid)
    }
}

impl Disk for JournalFile {
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let after = self.end + bytes.len() as u64;
        if after <= self.zeroed {
            self.file.write_all_at(bytes, self.end)?;
        } else {
            // Out of zeros: the batch and a new run of them, in one write (this one's sync
            // flushes the new length too).
            let mut longer = Vec::with_capacity(bytes.len() + ZEROS);
            longer.extend_from_slice(bytes);
            longer.resize(bytes.len() + ZEROS, 0);
            self.file.write_all_at(&longer, self.end)?;
            self.zeroed = after + ZEROS as u64;
        }
        self.file.sync_data()?;
        self.end = after;
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        self.file.set_len(len)?;
        self.file.sync_data()?;
        self.end = len;
        self.zeroed = len;
        Ok(())
    }

    fn replace(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let mut zeroed = Vec::with_capacity(bytes.len() + ZEROS);
        zeroed.extend_from_slice(bytes);
        zeroed.resize(bytes.len() + ZEROS, 0);
        crate::atomic_file::write_atomically(
            &self.path,
            &zeroed,
            crate::atomic_file::Publish::Replace,
        )?;
        self.file = OpenOptions::new().write(true).open(&self.path)?;
        self.end = bytes.len() as u64;
        self.zeroed = zeroed.len() as u64;
        Ok(())
    }
}

/// Files the journal makes are readable by their owner only.
fn private(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_and_a_bad_one_ends_the_valid_prefix() {
        let mut bytes = encode(&[(1, 100), (2, 200)]);
        bytes.extend(encode(&[(1, 150)]));
        let whole = bytes.len();
        assert_eq!(decode(&bytes), (vec![(1, 100), (2, 200), (1, 150)], whole));
        let mut torn = bytes.clone();
        torn.extend(&encode(&[(3, 300)])[..10]);
        assert_eq!(decode(&torn).1, whole);
        let mut flipped = bytes.clone();
        flipped[whole - 1] ^= 1;
        assert_eq!(decode(&flipped), (vec![(1, 100), (2, 200)], 40));
    }

    #[test]
    fn batches_go_over_zeros_and_the_zeros_read_as_nothing() {
        let folder = std::env::temp_dir().join(format!("tollgate-journal-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join("limits.journal");
        let mut file = JournalFile::open(&path, 0).unwrap();
        file.replace(&encode(&[(1, 100)])).unwrap();
        let length = || std::fs::metadata(&path).unwrap().len();
        assert_eq!(length(), 24 + ZEROS as u64);
        file.append(&encode(&[(2, 200)])).unwrap();
        assert_eq!(length(), 24 + ZEROS as u64, "written over the zeros");
        assert_eq!(
            JournalFile::read(&path),
            (vec![(1, 100), (2, 200)], 24 + ZEROS)
        );
        // A batch longer than the zeros left: the file grows by it and by a new run of zeros.
        let long: Vec<(u64, u64)> = (0..ZEROS as u64 / 16).map(|key| (key, key)).collect();
        file.append(&encode(&long)).unwrap();
        let batches = 48 + 8 + ZEROS as u64;
        assert_eq!(length(), batches + ZEROS as u64);
        file.append(&encode(&[(3, 300)])).unwrap();
        let (records, valid) = JournalFile::read(&path);
        assert_eq!(records.len(), 2 + long.len() + 1);
        assert_eq!(records.last(), Some(&(3, 300)));
        assert_eq!(valid as u64, length());
        // Reopened after a restart: the next batch goes after the last one, not the zeros.
        let (_, valid) = JournalFile::read(&path);
        let mut reopened = JournalFile::open(&path, valid).unwrap();
        reopened.truncate(batches + 24).unwrap();
        reopened.append(&encode(&[(4, 400)])).unwrap();
        let (records, _) = JournalFile::read(&path);
        assert_eq!(records.last(), Some(&(4, 400)));
        assert_eq!(records.len(), 2 + long.len() + 2);
        std::fs::remove_dir_all(&folder).unwrap();
    }
}
