//! From what an adapter knows about a request to the limits it must pass: identify, route,
//! select the limits, key their partitions. One straight line; no I/O, and nothing copied
//! from the request: the resolution borrows the path, the route parameters and the headers.

mod facts;
mod identify;
mod partition;
mod refund;
mod resolved;

pub use facts::{HeaderLookup, Headers, RequestFacts, is_header_text, lookup_header, same_header};
pub use refund::RefundTicket;
pub(crate) use resolved::Context;
pub use resolved::{Limits, Resolution, Resolved};
