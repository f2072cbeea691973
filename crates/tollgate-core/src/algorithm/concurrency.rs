//! The concurrency limit: at most `max` units in flight, each held by a lease.

use std::time::Duration;

use smallvec::SmallVec;

use super::error::{LimitError, MAX_SPAN};
use crate::{Key, Lease, Nanos, Outcome, duration_nanos};

/// At most `max` units in flight at once in a partition.
///
/// An admitted request holds a [`Lease`] until it is released or until `lease_ttl` has passed,
/// so a caller that crashed cannot hold a slot forever. Its `retry_at` is the expiry of the
/// leases that must go for the request to fit: an upper bound, since a release may come sooner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concurrency {
    max: u64,
    lease_ttl: Nanos,
}

impl Concurrency {
    /// At most `max` units in flight, each lease expiring after `lease_ttl`.
    ///
    /// # Errors
    /// A zero max or lease time.
    pub fn new(max: u64, lease_ttl: Duration) -> Result<Self, LimitError> {
        if max == 0 {
            return Err(LimitError::Zero("concurrency max"));
        }
        match duration_nanos(lease_ttl) {
            0 => Err(LimitError::Zero("lease time")),
            ttl if ttl > MAX_SPAN => Err(LimitError::TooLong),
            lease_ttl => Ok(Self { max, lease_ttl }),
        }
    }

    /// The most units in flight.
    #[must_use]
    pub const fn max(&self) -> u64 {
        self.max
    }

    /// How long a lease lasts unless released, in nanoseconds.
    #[must_use]
    pub const fn lease_ttl(&self) -> Nanos {
        self.lease_ttl
    }

    /// Decides a request of `cost` units at `now` for partition `key`, taking a lease into
    /// `leases` when admitted (a peek, cost 0, takes none).
    pub(crate) fn decide(
        &self,
        leases: &mut LeaseSet,
        key: Key,
        now: Nanos,
        cost: u32,
    ) -> (Outcome, Option<Lease>) {
        leases.expire(now);
        let in_flight = leases.units();
        let wanted = u64::from(cost.max(1));
        let allowed = in_flight + wanted <= self.max;
        let lease = (allowed && cost > 0).then(|| {
            let lease = Lease {
                key,
                root: key,
                expires_at: now + self.lease_ttl,
                cost,
            };
            leases.held.push((lease.expires_at, cost));
            lease
        });
        let charged = lease.map_or(0, |lease| u64::from(lease.cost));
        let remaining = self.max.saturating_sub(in_flight + charged);
        let reset_at = leases.last_expiry().unwrap_or(now);
        let outcome = if allowed {
            Outcome::admitted(self.max, remaining, reset_at, now)
        } else {
            let retry_at = leases.freed_by(in_flight + wanted - self.max, wanted <= self.max);
            Outcome::refused(self.max, remaining, reset_at, retry_at)
        };
        (outcome, lease)
    }
}

/// The leases held in one partition of a concurrency limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LeaseSet {
    /// `(expires_at, cost)` of each lease held.
    held: SmallVec<[(Nanos, u32); 4]>,
}

impl LeaseSet {
    /// Whether no lease is held (the partition is at rest).
    #[must_use]
    pub(crate) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Gives back a lease; a lease already expired or released is ignored.
    pub(crate) fn release(&mut self, lease: &Lease) {
        if let Some(at) = self
            .held
            .iter()
            .position(|&held| held == (lease.expires_at, lease.cost))
        {
            self.held.swap_remove(at);
        }
    }

    /// Drops the leases that have expired by `now`.
    pub(crate) fn expire(&mut self, now: Nanos) {
        self.held.retain(|&mut (expires_at, _)| expires_at > now);
    }

    fn units(&self) -> u64 {
        self.held.iter().map(|&(_, cost)| u64::from(cost)).sum()
    }

    fn last_expiry(&self) -> Option<Nanos> {
        self.held.iter().map(|&(expires_at, _)| expires_at).max()
    }

    /// When enough leases will have expired to free `units`.
    fn freed_by(&self, units: u64, possible: bool) -> Option<Nanos> {
        if !possible {
            return None;
        }
        let mut by_expiry = self.held.clone();
        by_expiry.sort_unstable();
        let mut freed = 0;
        by_expiry.into_iter().find_map(|(expires_at, cost)| {
            freed += u64::from(cost);
            (freed >= units).then_some(expires_at)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: Key = Key::from_hash(9);

    #[test]
    fn holds_at_most_max_until_released() {
        let limit = Concurrency::new(2, Duration::from_secs(30)).unwrap();
        let mut leases = LeaseSet::default();
        let first = limit.decide(&mut leases, KEY, 0, 1).1.unwrap();
        let (second, _) = limit.decide(&mut leases, KEY, 1, 1);
        assert_eq!(second.remaining(), 0);
        let (refused, _) = limit.decide(&mut leases, KEY, 2, 1);
        assert!(!refused.allowed());
        assert_eq!(refused.retry_at(), Some(first.expires_at));
        leases.release(&first);
        assert!(limit.decide(&mut leases, KEY, 3, 1).0.allowed());
    }

    #[test]
    fn leases_expire_so_a_crash_frees_its_slot() {
        let limit = Concurrency::new(1, Duration::from_nanos(100)).unwrap();
        let mut leases = LeaseSet::default();
        assert!(limit.decide(&mut leases, KEY, 0, 1).0.allowed());
        assert!(!limit.decide(&mut leases, KEY, 99, 1).0.allowed());
        assert!(limit.decide(&mut leases, KEY, 100, 1).0.allowed());
    }

    #[test]
    fn peek_takes_no_lease_and_big_costs_never_fit() {
        let limit = Concurrency::new(3, Duration::from_secs(1)).unwrap();
        let mut leases = LeaseSet::default();
        let (peek, lease) = limit.decide(&mut leases, KEY, 0, 0);
        assert!(peek.allowed() && lease.is_none() && leases.is_empty());
        assert_eq!(limit.decide(&mut leases, KEY, 0, 4).0.retry_at(), None);
    }

    #[test]
    fn release_of_an_expired_lease_is_ignored() {
        let limit = Concurrency::new(2, Duration::from_nanos(10)).unwrap();
        let mut leases = LeaseSet::default();
        let old = limit.decide(&mut leases, KEY, 0, 1).1.unwrap();
        let fresh = limit.decide(&mut leases, KEY, 20, 1).1.unwrap();
        leases.release(&old);
        assert_eq!(leases.held.as_slice(), &[(fresh.expires_at, 1)]);
    }
}
