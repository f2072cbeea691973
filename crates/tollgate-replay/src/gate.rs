//! The gate (`tollgate-gate`, the very pipeline the server runs) as a replay's pipeline: each
//! request decided by [`Gate::admit`] at its log time on a [`ManualClock`], and settled with the
//! logged upstream status so that refunds apply, exactly as the gateway does. A request the
//! gate names no account for is told apart by the policy's own identification: no key, a key
//! no account has, or not identified at all.

use tollgate_core::{Clock, ManualClock, NANOS_PER_SEC, Nanos};
use tollgate_gate::{Gate, Report, Why};
use tollgate_policy::{
    DirectoryEntry, Headers, KeyCarrier, PathError, Policy, RequestFacts, Resolution, Target,
};

use crate::{Caller, LimitOutcome, Pipeline, Verdict};

/// States at rest are swept from the store a step (4,096 slots of one shard) per simulated
/// second, as the server does in the background (a step every 50 ms): memory follows the live
/// partitions, not the log.
const SWEEP_EVERY: Nanos = NANOS_PER_SEC;

/// A [`Gate`] over a [`ManualClock`] that a replay moves to each line's time.
#[derive(Debug)]
pub struct ReplayGate {
    gate: Gate<ManualClock>,
    clock: ManualClock,
    swept_at: std::cell::Cell<Nanos>,
    /// The accounts an access log named, each given a stand-in key (see
    /// [`Pipeline::stand_in_key`]).
    stand_ins: std::cell::RefCell<std::collections::BTreeSet<String>>,
}

impl ReplayGate {
    /// A gate enforcing `policy` on an embedded store (no journal: nothing is written).
    #[must_use]
    pub fn new(policy: Policy) -> Self {
        let clock = ManualClock::new(0);
        Self {
            gate: Gate::new(policy, clock.clone()),
            clock,
            swept_at: std::cell::Cell::new(0),
            stand_ins: std::cell::RefCell::default(),
        }
    }

    /// The gate, for its figures.
    #[must_use]
    pub fn gate(&self) -> &Gate<ManualClock> {
        &self.gate
    }

    fn sweep(&self, now: Nanos) {
        if now.saturating_sub(self.swept_at.get()) >= SWEEP_EVERY {
            self.swept_at.set(now);
            let store = self.gate.limiter().store();
            store.sweep(now, 4_096);
            self.gate.sweep_hints();
            // The usage history the server writes to the catalog: nothing keeps it here.
            drop(self.gate.usage_counter().take());
        }
    }

    /// Who sent `facts`, which the gate answered without naming an account (`why` it refused,
    /// if it did). Refusals that say it are taken at their word; the rest, rarer (keyless
    /// calls, the unknown keys' own limits, exempt routes), are identified again by the policy,
    /// which reads the key as the gate did.
    fn anonymous<H: Headers + Sync + ?Sized>(
        &self,
        facts: &RequestFacts<'_, H>,
        why: Option<Why>,
    ) -> Caller {
        match why {
            Some(Why::Unauthenticated) => return Caller::UnknownKey,
            Some(Why::NoRoute | Why::BadRequest) => return Caller::Unidentified,
            _ => {}
        }
        let policy = self.gate.policy();
        match policy.resolve(facts) {
            Resolution::Limited(resolved) => match (resolved.account, resolved.unauthenticated) {
                (Some(account), _) => Caller::Account(account.clone()),
                (None, Some(_)) => Caller::UnknownKey,
                (None, None) => Caller::NoKey,
            },
            Resolution::Unauthenticated(_) => Caller::UnknownKey,
            Resolution::NoRoute | Resolution::Ambiguous(_) | Resolution::Exempt { .. } => {
                Caller::Unidentified
            }
        }
    }
}

/// The limits of `report` into `verdict`.
fn outcomes(report: &Report, verdict: &mut Verdict) {
    verdict.api.clone_from(&report.api);
    if let Some(account) = &report.account {
        verdict.caller = Caller::Account(account.clone());
    }
    verdict
        .limits
        .extend(report.limits.iter().map(|limit| LimitOutcome {
            name: limit.name.clone(),
            allowed: limit.allowed,
            shadow: limit.shadow,
        }));
}

/// The stand-in key of `account` (its id in hex: letters, digits and dashes, fit for a header
/// or a query): no request of a real client carries it.
fn stand_in(account: &str) -> String {
    let hex: String = account.bytes().map(|byte| format!("{byte:02x}")).collect();
    format!("tollgate-replay-{hex}")
}

impl Pipeline for ReplayGate {
    /// An account's stand-in key is added to the gate's directory the first time it is asked
    /// for: an account of the policy file keeps the file's plan and numbers, another is on the
    /// default plan (the catalog's plans, packs and overrides are not in a log).
    fn stand_in_key(&self, account: Option<&str>, path: &str) -> Option<KeyCarrier> {
        let policy = self.gate.policy();
        // Where the log shows the key parameter (its value redacted), the key came that way.
        let in_query = policy.key_parameter().is_some_and(|name| {
            path.split_once('?').is_some_and(|(_, query)| {
                query
                    .split('&')
                    .any(|pair| pair.split_once('=').is_some_and(|(key, _)| key == name))
            })
        });
        let Some(account) = account else {
            return policy.key_carrier("tollgate-replay-unknown-key", in_query);
        };
        let mut known = self.stand_ins.borrow_mut();
        if known.insert(account.to_owned()) {
            let entries = known.iter().map(|id| DirectoryEntry {
                key_sha256: tollgate_policy::units::sha256_hex(&stand_in(id)),
                account: id.clone(),
                plan: None,
                company: None,
                pack: None,
                overrides: Vec::new(),
                time_zone: None,
                stand_in: true,
            });
            self.gate.set_accounts(entries.collect(), Vec::new());
        }
        policy.key_carrier(&stand_in(account), in_query)
    }

    fn target<'a>(&self, method: &str, raw: &'a str) -> Result<Target<'a>, PathError> {
        self.gate.policy().target(method, raw)
    }

    async fn decide<H: Headers + Sync + ?Sized>(
        &self,
        at: Nanos,
        facts: &RequestFacts<'_, H>,
        status: Option<u16>,
        verdict: &mut Verdict,
    ) {
        if at > self.clock.now() {
            self.clock.set(at);
        }
        self.sweep(at);
        // As the gateway decides: a request whose turn comes within a bucket's delay waits for
        // it, and starts at that turn on the replay's clock.
        match self.gate.admit_waiting(facts).await {
            Ok(mut admission) => {
                admission.assume_turn();
                outcomes(admission.report(), verdict);
                if verdict.caller.account().is_none() {
                    verdict.caller = self.anonymous(facts, None);
                }
                // Concurrency slots go back at once: a replayed request takes no time.
                if let Some(status) = status {
                    drop(admission.settle(status).await);
                }
            }
            Err(refusal) => {
                verdict.refused = Some(refusal.status);
                outcomes(&refusal.report, verdict);
                if verdict.caller.account().is_none() {
                    verdict.caller = self.anonymous(facts, Some(refusal.why));
                }
            }
        }
    }
}
