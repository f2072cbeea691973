//! Quotas that survive a restart: long-lived limit state written to `<data-dir>/limits.journal`.
//!
//! The file is a sequence of checksummed batches ([`file`]). At start the valid batches are
//! replayed into the store (a torn or corrupted tail is logged and dropped) and the file is
//! rewritten with the live states only; a flusher thread ([`writer`]) then appends what the store
//! notes, and compacts the file again in the background whenever it has grown past twice its
//! last compacted size plus `server.journal_slack` (1 MiB by default), so that its size follows
//! the live long-lived state, not the
//! traffic. A failed write cuts the file back to its last good batch, and the next write rewrites
//! it whole: a bad batch never hides the good ones after it.
//!
//! With `durability = "always"` (the default) an answer that counted long-lived state waits
//! until that state is on disk (fsync): after a crash, `kill -9` included, no quota starts
//! anew. While the disk cannot be written, such an answer gets the failure answer within
//! [`DURABILITY_WAIT`] instead of hanging. With an interval (`"100ms"`), answers do not wait; a
//! crash can forget the admissions of the last interval, which a client could then make again.

mod file;
mod writer;

pub use writer::{DURABILITY_WAIT, Durability, Journal, JournalFigures, NotDurable};
