//! How the catalog writes values in SQL columns: instants as signed 64-bit nanoseconds, bytes
//! (hashes, random ids) as lowercase hex.

use tollgate_core::Nanos;

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Nanoseconds as SQL's signed 64-bit integer (valid until 2262).
pub(crate) fn nanos(at: Nanos) -> i64 {
    i64::try_from(at).unwrap_or(i64::MAX)
}

pub(crate) fn from_nanos(at: i64) -> Nanos {
    Nanos::try_from(at).unwrap_or(0)
}
