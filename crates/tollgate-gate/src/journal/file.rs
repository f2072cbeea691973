//! The journal's bytes: batches of `count: u32`, `crc32: u32` of the records, then `count`
//! records of `key: u64, state: u64` (little-endian), and the file they live in.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Bytes of one record.
const RECORD: usize = 16;

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

/// The journal file at `path`, opened for appending.
pub(super) struct JournalFile {
    path: PathBuf,
    file: File,
}

impl JournalFile {
    /// Opens (creating, mode 0600) the file at `path` for appending.
    pub(super) fn open(path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            path: path.to_owned(),
            file: private(OpenOptions::new().append(true).create(true)).open(path)?,
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
        self.file.write_all(bytes)?;
        self.file.sync_data()
    }

    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        self.file.set_len(len)?;
        self.file.sync_data()
    }

    fn replace(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        crate::atomic_file::write_atomically(
            &self.path,
            bytes,
            crate::atomic_file::Publish::Replace,
        )?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
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
}
