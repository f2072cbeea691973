//! Quota alerts: signed webhooks when a watched quota reaches a share of its period, or a pack
//! nears its end. The gate notices crossings on the decision path and queues them
//! (`queue.rs`); everything else runs beside it: recording in the catalog and sending with
//! retries (`deliver.rs`) to the account's receiver (`receiver.rs`), watching packs
//! (`packs.rs`), the body (`body.rs`) and its signature (`signature.rs`).

mod body;
mod deliver;
mod packs;
mod queue;
mod receiver;
mod signature;

pub use deliver::Deliverer;
pub(crate) use receiver::{Receiver, plan_of};
