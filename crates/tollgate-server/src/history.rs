//! Usage history in the catalog: what the gate's [`UsageCounter`] counted, written down, and
//! read back with what is not written yet.

use tollgate_catalog::UsageDay;
use tollgate_gate::UsageCounter;

/// An account's usage history from day `first` to day `last` as the catalog has it, with the
/// counts not yet written added: current, and nothing written (a customer's page view).
///
/// # Errors
/// Only for database faults.
pub(crate) async fn peek(
    counter: &UsageCounter,
    catalog: &tollgate_catalog::Catalog,
    id: &str,
    first: i64,
    last: i64,
) -> Result<Vec<UsageDay>, tollgate_catalog::CatalogError> {
    let mut rows = catalog.usage_history(id, first, last).await?;
    rows.extend(
        counter
            .pending(id)
            .into_iter()
            .filter(|row| (first..=last).contains(&row.day)),
    );
    Ok(rows)
}

/// An account's usage history from day `first` to day `last`, current: the counts not yet
/// written are written first (and kept for the next write if that fails).
///
/// # Errors
/// Only for database faults.
pub(crate) async fn read(
    counter: &UsageCounter,
    catalog: &tollgate_catalog::Catalog,
    id: &str,
    first: i64,
    last: i64,
) -> Result<Vec<UsageDay>, tollgate_catalog::CatalogError> {
    let pending = counter.take();
    if let Err(failure) = catalog.add_usage(&pending).await {
        counter.put_back(pending);
        return Err(failure);
    }
    catalog.usage_history(id, first, last).await
}
