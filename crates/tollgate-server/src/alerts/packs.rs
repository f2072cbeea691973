//! Alerts before a pack's end: every few seconds, each account's latest pack is compared with
//! the policy's `pack_expiry` thresholds, and the shortest one reached is recorded (once per
//! pack expiry: a renewal moves the expiry and starts over). Hourly, deliveries answered more
//! than `server.usage_history_days` ago are forgotten, as the usage history is.

use std::sync::Arc;
use std::time::Duration;

use tollgate_catalog::LatestPack;
use tollgate_core::{Clock, NANOS_PER_SEC, Nanos};

use super::body::{AlertBody, seconds};
use super::deliver::Deliverer;

/// How often packs are looked at.
const PACK_SCAN: Duration = Duration::from_secs(5);

/// How often old deliveries are pruned.
const PRUNES: Duration = Duration::from_secs(3_600);

impl<C: Clock + 'static> Deliverer<C> {
    /// Looks at the packs every [`PACK_SCAN`], the first time at once.
    pub(super) async fn watch_packs(self: Arc<Self>) {
        let mut tick = tokio::time::interval(PACK_SCAN);
        let mut pruned: Option<tokio::time::Instant> = None;
        loop {
            tick.tick().await;
            if pruned.is_none_or(|at| at.elapsed() >= PRUNES) {
                pruned = Some(tokio::time::Instant::now());
                self.prune().await;
            }
            let thresholds = match self.app.gate.policy().alerts() {
                Some(alerts) if !alerts.pack_expiry().is_empty() => alerts.pack_expiry().to_vec(),
                _ => continue,
            };
            let packs = match self.catalog.latest_packs().await {
                Ok(packs) => packs,
                Err(error) => {
                    tracing::warn!(%error, "packs not read for alerts; trying again");
                    continue;
                }
            };
            let now = self.app.gate.limiter().clock().now();
            for pack in packs {
                let Some(before) = reached(&thresholds, pack.expires_at, now) else {
                    continue;
                };
                if let Err(error) = self.pack_alert(&pack, before, now).await {
                    tracing::warn!(account = %pack.account, %error, "pack alert not recorded");
                }
            }
        }
    }

    /// Forgets deliveries answered (or given up) more than `server.usage_history_days` ago.
    async fn prune(&self) {
        let kept = self.app.gate.policy().server().usage_history_days;
        let now = self.app.gate.limiter().clock().now();
        let before = now.saturating_sub(u64::from(kept) * 86_400 * NANOS_PER_SEC);
        match self.catalog.prune_alerts(before).await {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, kept_days = kept, "alert deliveries pruned"),
            Err(error) => tracing::warn!(%error, "alert deliveries not pruned; trying again later"),
        }
    }

    async fn pack_alert(
        self: &Arc<Self>,
        pack: &LatestPack,
        before: Duration,
        now: Nanos,
    ) -> Result<(), tollgate_catalog::CatalogError> {
        let plan = super::plan_of(&self.app, &self.catalog, &pack.account).await;
        let threshold_seconds = before.as_secs();
        self.record(
            &pack.account,
            plan.as_deref(),
            format!("pack/{}", pack.pack),
            format!("{threshold_seconds}s"),
            pack.expires_at,
            |id| {
                AlertBody::PackExpiry {
                    id,
                    account: &pack.account,
                    pack: &pack.pack,
                    threshold_seconds,
                    // Rounded up, as the pack ledger shows it.
                    expires_at: pack.expires_at.div_ceil(NANOS_PER_SEC),
                    created_at: seconds(now),
                }
                .to_json()
            },
        )
        .await
    }
}

/// The shortest of `thresholds` (longest first) within which a pack expiring at `expires_at`
/// ends, seen at `now`; `None` when it ended or none is reached.
fn reached(thresholds: &[Duration], expires_at: Nanos, now: Nanos) -> Option<Duration> {
    let left = expires_at.checked_sub(now).filter(|left| *left > 0)?;
    thresholds
        .iter()
        .rev()
        .find(|before| u128::from(left) <= before.as_nanos())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shortest_threshold_reached_is_the_one_due() {
        const DAY: Nanos = 86_400 * NANOS_PER_SEC;
        let thresholds = [14, 1].map(|days| Duration::from_secs(days * 86_400));
        let day = Duration::from_secs(86_400);
        assert_eq!(reached(&thresholds, 100 * DAY, 80 * DAY), None);
        assert_eq!(reached(&thresholds, 100 * DAY, 86 * DAY), Some(14 * day));
        assert_eq!(reached(&thresholds, 100 * DAY, 99 * DAY), Some(day));
        assert_eq!(reached(&thresholds, 100 * DAY, 100 * DAY), None);
    }
}
