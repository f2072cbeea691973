//! A request body read whole, bounded in size and in time: a client cannot hold a connection
//! by never finishing one, nor fill memory with a large one.

use std::time::Duration;

use bytes::Bytes;

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unread {
    /// Larger than allowed, or cut short.
    TooLarge,
    /// Still arriving when the time ran out.
    Late,
}

/// Reads `body` whole: at most `max` bytes, within `timeout` unless it came with its head (a
/// body already there is read without a timer).
pub(crate) async fn read<B>(body: B, max: usize, timeout: Duration) -> Result<Bytes, Unread>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut read = std::pin::pin!(http_body_util::BodyExt::collect(
        http_body_util::Limited::new(body, max)
    ));
    let arrived = match futures_util::FutureExt::now_or_never(read.as_mut()) {
        Some(read) => Ok(read),
        None => tokio::time::timeout(timeout, read).await,
    };
    match arrived {
        Ok(Ok(body)) => Ok(body.to_bytes()),
        Ok(Err(_)) => Err(Unread::TooLarge),
        Err(_) => Err(Unread::Late),
    }
}
