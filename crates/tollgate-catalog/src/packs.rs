//! Upgrade packs: the rules of a purchase, as a pure function of the ledger and the time.
//!
//! A pack raises an account's quotas for a period (a year by default). Buying the pack the
//! account already holds renews it from its current expiry (not from now); buying another pack
//! replaces the one held at once; a pack bought after the previous one expired starts now.

use tollgate_core::Nanos;

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
    fn a_pack_stops_applying_at_its_expiry() {
        let plus = held("plus", 0, YEAR);
        assert_eq!(in_force(Some(&plus), YEAR - 1), Some(&plus));
        assert_eq!(in_force(Some(&plus), YEAR), None);
        assert_eq!(in_force(None, 0), None);
    }
}
