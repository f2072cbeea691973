//! The accept loop of both ports: HTTP/1 and HTTP/2 (h2c, prior knowledge) on hyper, with bounds
//! on what a client may hold, since every byte a client sends is hostile.
//!
//! - **Header read timeout** (`server.header_read_timeout`, 10 s): a connection's first request
//!   must have arrived whole within it of the accept, whatever the protocol (a client that
//!   sends nothing, half a request line or half the HTTP/2 preface is closed); on HTTP/1, every
//!   request head must arrive within it of the server starting to wait for it, which hyper
//!   starts as soon as a keep-alive connection goes idle: an idle HTTP/1 connection is closed
//!   after this timeout.
//! - **Idle timeout** (`server.idle_timeout`, 60 s): a connection with no request in flight for
//!   this long is shut down gracefully (HTTP/2: `GOAWAY`; a response still being sent is
//!   finished); one that then moves no byte for another idle timeout is closed.
//! - **Connection cap** (`server.max_connections`; unset, 10,000 per port or what the open-file
//!   limit allows, see `limits.rs`): at the cap the loop stops
//!   accepting, so new connections wait in the kernel's backlog while established clients keep
//!   being served; a warning says so, at most once a minute.
//! - **HTTP/2**: at most 100 concurrent streams per connection, header lists of at most 64 KiB
//!   (HTTP/1 heads too), a ping after 20 s of silence that must be answered within 20 s.
//!
//! On shutdown the loop stops accepting, every connection is shut down gracefully (requests in
//! flight are answered), and [`serve`] returns once all are closed: at most
//! `server.shutdown_timeout` (30 s) later, when those still moving bytes are closed.

mod accept;
mod connection;
mod limits;
mod port;

pub(crate) use accept::serve;
pub(crate) use limits::{Limits, allow_open_files};
pub(crate) use port::Port;
