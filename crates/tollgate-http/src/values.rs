//! Header values formatted into one reused buffer per thread: each value is split off the
//! buffer and shared with it, so that formatting a number into a header allocates only when
//! the buffer's few kilobytes are used up.

use std::cell::RefCell;
use std::fmt::{self, Write};

use axum::http::HeaderValue;
use bytes::BytesMut;

/// Bytes the buffer is refilled with when a value may not fit.
const REFILL: usize = 8 * 1024;

/// The longest value formatted here without a refill check failing it.
const ROOM: usize = 512;

thread_local! {
    static BUFFER: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// `args` as a header value; `None` if the text is no valid header value.
pub fn header_value(args: fmt::Arguments<'_>) -> Option<HeaderValue> {
    BUFFER.with_borrow_mut(|buffer| {
        if buffer.capacity() - buffer.len() < ROOM {
            buffer.reserve(REFILL);
        }
        buffer.write_fmt(args).ok()?;
        HeaderValue::from_maybe_shared(buffer.split().freeze()).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_what_was_formatted() {
        let values: Vec<HeaderValue> = (0..2_000u64)
            .map(|n| header_value(format_args!("\"limit\";r={n};t={}", n * 2)).unwrap())
            .collect();
        for (n, value) in (0u64..).zip(&values) {
            assert_eq!(
                value.to_str().unwrap(),
                format!("\"limit\";r={n};t={}", n * 2)
            );
        }
        assert!(header_value(format_args!("a\nb")).is_none());
    }
}
