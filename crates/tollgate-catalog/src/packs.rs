//! Upgrade packs: the rules of a purchase, as a pure function of the ledger and the time.
//!
//! A pack raises an account's quotas for a period (a year by default). Buying the pack the
//! account already holds renews it from its current expiry (not from now); buying another pack
//! replaces the one held at once; a pack bought after the previous one expired starts now.
//! A pack replaced by another leaves its unused time, worth its share of what was paid.

use tollgate_core::{Nanos, Price, epoch_seconds};

/// A pack held by an account, as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeldPack {
    /// The pack's name.
    pub(crate) pack: String,
    /// When it started applying.
    pub(crate) starts_at: Nanos,
    /// When it stops applying.
    pub(crate) expires_at: Nanos,
}

/// What a purchase does to the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Purchase {
    /// The new ledger row's start: now, or the renewed pack's start.
    pub(crate) starts_at: Nanos,
    /// The new ledger row's expiry.
    pub(crate) expires_at: Nanos,
    /// Whether the pack held is replaced (a different pack, still valid), from now.
    pub(crate) replaces_held: bool,
}

/// Buys `pack` for `period` at `now`, given the pack the account holds (if any, even expired).
#[must_use]
pub(crate) fn purchase(held: Option<&HeldPack>, pack: &str, period: Nanos, now: Nanos) -> Purchase {
    match held {
        // The same pack, still valid: renewed from its expiry.
        Some(held) if held.pack == pack && held.expires_at > now => Purchase {
            starts_at: held.starts_at,
            expires_at: held.expires_at.saturating_add(period),
            replaces_held: false,
        },
        // Another pack, still valid: replaced at once.
        Some(held) if held.expires_at > now => Purchase {
            starts_at: now,
            expires_at: now.saturating_add(period),
            replaces_held: true,
        },
        // Nothing held, or only an expired pack.
        _ => Purchase {
            starts_at: now,
            expires_at: now.saturating_add(period),
            replaces_held: false,
        },
    }
}

/// What a pack replaced before its expiry leaves: the time it would still have applied, and
/// the share of what was paid that this time is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refund {
    /// Whole seconds from the replacement to the expiry, as the ledger shows both instants
    /// (each rounded up to the second): `expires_at − superseded_at`.
    pub unused_seconds: u64,
    /// `unused_seconds / (expires_at − starts_at)` of what was paid for the held pack (its
    /// purchase and the renewals folded into it), rounded to the nearest unit of the price's
    /// decimals, halves up; `None` when some purchase of it had no price, or two of them were
    /// in different currencies.
    pub value: Option<Price>,
}

/// What `held`, for which `paid` was paid, leaves when another pack replaces it at `now`.
/// Counted on the instants that decided: the held pack applied until `expires_at`, whatever
/// the account's zone, so its unused time is the seconds from `now` to then.
#[must_use]
pub(crate) fn refund(held: &HeldPack, paid: Option<Price>, now: Nanos) -> Refund {
    let expires = epoch_seconds(held.expires_at);
    let unused_seconds = expires.saturating_sub(epoch_seconds(now));
    let total = expires.saturating_sub(epoch_seconds(held.starts_at));
    Refund {
        unused_seconds,
        value: paid.map(|paid| paid.share(unused_seconds, total)),
    }
}

/// The pack in force at `now`, if the one held has not expired.
#[must_use]
pub(crate) fn in_force(held: Option<&HeldPack>, now: Nanos) -> Option<&HeldPack> {
    held.filter(|held| held.starts_at <= now && now < held.expires_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Nanos = 86_400 * 1_000_000_000;
    const YEAR: Nanos = 365 * DAY;

    fn held(pack: &str, starts_at: Nanos, expires_at: Nanos) -> HeldPack {
        HeldPack {
            pack: pack.to_owned(),
            starts_at,
            expires_at,
        }
    }

    #[test]
    fn a_first_pack_starts_now_for_its_period() {
        let bought = purchase(None, "plus", YEAR, 10 * DAY);
        assert_eq!(
            bought,
            Purchase {
                starts_at: 10 * DAY,
                expires_at: 10 * DAY + YEAR,
                replaces_held: false
            }
        );
    }

    #[test]
    fn the_same_pack_again_renews_from_the_old_expiry() {
        let plus = held("plus", 0, YEAR);
        let renewed = purchase(Some(&plus), "plus", YEAR, 100 * DAY);
        assert_eq!(
            renewed.expires_at,
            2 * YEAR,
            "old expiry + period, not now + period"
        );
        assert_eq!((renewed.starts_at, renewed.replaces_held), (0, false));
    }

    #[test]
    fn a_different_pack_replaces_the_held_one_at_once() {
        let plus = held("plus", 0, YEAR);
        let max = purchase(Some(&plus), "max", YEAR, 100 * DAY);
        assert_eq!(
            max,
            Purchase {
                starts_at: 100 * DAY,
                expires_at: 100 * DAY + YEAR,
                replaces_held: true
            }
        );
    }

    #[test]
    fn renewing_after_expiry_starts_now() {
        let plus = held("plus", 0, YEAR);
        let again = purchase(Some(&plus), "plus", YEAR, YEAR + 5 * DAY);
        assert_eq!(
            again,
            Purchase {
                starts_at: YEAR + 5 * DAY,
                expires_at: 2 * YEAR + 5 * DAY,
                replaces_held: false
            }
        );
    }

    #[test]
    fn a_replaced_pack_leaves_its_unused_seconds_worth_their_share() {
        const SECOND: Nanos = 1_000_000_000;
        let euros = |text: &str| text.parse::<Price>().unwrap();
        let plus = held("plus", 10 * DAY, 10 * DAY + YEAR);
        let left = refund(&plus, Some(euros("99.99 EUR")), 56 * DAY);
        // 319 of 365 days: 9,999 × 319 / 365 = 8,738.85… cents.
        assert_eq!(left.unused_seconds, 319 * 86_400);
        assert_eq!(left.value, Some(euros("87.39 EUR")));
        // Instants read as the ledger shows them, rounded up to the second.
        let left = refund(&plus, None, 56 * DAY + SECOND / 2);
        assert_eq!((left.unused_seconds, left.value), (319 * 86_400 - 1, None));
        // Replaced in its first second: all of it.
        let left = refund(&plus, Some(euros("99.99 EUR")), 10 * DAY);
        assert_eq!(left.value, Some(euros("99.99 EUR")));
    }

    #[test]
    fn a_pack_stops_applying_at_its_expiry() {
        let plus = held("plus", 0, YEAR);
        assert_eq!(in_force(Some(&plus), YEAR - 1), Some(&plus));
        assert_eq!(in_force(Some(&plus), YEAR), None);
        assert_eq!(in_force(None, 0), None);
    }
}
