//! Quota alerts: signed webhooks when a watched quota reaches a share of its period, or a pack
//! nears its end. The gate notices crossings on the decision path and queues them
//! (`queue.rs`); everything else runs beside it: recording in the catalog and sending with
//! retries (`deliver.rs`), watching packs (`packs.rs`), the body (`body.rs`) and its signature
//! (`signature.rs`).

mod body;
mod deliver;
mod packs;
mod queue;
mod signature;

pub use deliver::Deliverer;

use tollgate_catalog::Catalog;
use tollgate_core::Clock;

use crate::App;

/// The plan of account `id`, whose receiver its alerts go to when it set none: as decisions
/// see it, else (an account of the catalog with no key yet) as the catalog has it.
pub(crate) async fn plan_of<C: Clock + 'static>(
    app: &App<C>,
    catalog: &Catalog,
    id: &str,
) -> Option<String> {
    if let Some(usage) = app.gate.usage(id, None).await {
        return usage.plan;
    }
    catalog.account(id).await.ok().flatten()?.plan
}
