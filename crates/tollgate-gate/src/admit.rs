//! A request's way through the gate: facts in, an [`Admission`] or a [`Refusal`] out.
//! Resolve, check blocks and the guess guard, decide (`decision.rs`, which Envoy's
//! descriptors reach too), report. Nothing here knows HTTP.

use std::sync::Arc;

use smallvec::SmallVec;
use tollgate_core::{Clock, Decision, LimitRequest, NANOS_PER_SEC};
use tollgate_policy::{Headers, Limits, RequestFacts, Resolution, Resolved};

use super::admission::Admission;
use super::gate::Gate;
use super::refusal::Refusal;
use super::report::Report;
use crate::decision::{Asked, Undecided};
use crate::metrics::Decided;
use crate::rules::State;
use crate::store::{Acquired, Taken};
use crate::turn::Turn;

/// Nanoseconds in a millisecond.
const MILLI: u64 = 1_000_000;

/// What the limits for unknown keys would answer a guess: see [`Gate::as_a_guess`].
#[allow(
    clippy::large_enum_variant,
    reason = "lives on the stack for one call; boxing would allocate per request"
)]
pub(super) enum Guess {
    Admitted,
    Refused(Decision),
    Unavailable,
}

/// Whether the caller holds a request while it waits for its turn (a token bucket's delay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waits {
    /// It does (the gateway): a request whose turn comes within the delay is admitted, to
    /// start then.
    ForTurn,
    /// It answers at once (forward-auth, the check API, Envoy): such a request is refused
    /// with the time until its turn, and its turn given back.
    Never,
}

impl<C: Clock + 'static> Gate<C> {
    /// Decides one request for a caller that answers at once: admitted, with what it took, or
    /// refused, with why. A request whose turn is still to come (a token bucket's delay) is
    /// refused with the time until it, in [`Refusal::retry_after_ms`] too.
    ///
    /// # Errors
    /// The refusal, whatever refused it (a limit, a block, the request itself, the store).
    pub async fn admit<H: Headers + Sync + ?Sized>(
        &self,
        facts: &RequestFacts<'_, H>,
    ) -> Result<Admission, Refusal> {
        self.admit_as(facts, Waits::Never).await
    }

    /// Decides one request for a caller that holds it until its turn (the gateway): as
    /// [`admit`](Self::admit), but a request whose turn comes within its limits' delay is
    /// admitted with that turn, to wait for it with [`Admission::wait_for_turn`].
    ///
    /// # Errors
    /// The refusal, whatever refused it (a limit, a block, the request itself, the store).
    pub async fn admit_waiting<H: Headers + Sync + ?Sized>(
        &self,
        facts: &RequestFacts<'_, H>,
    ) -> Result<Admission, Refusal> {
        self.admit_as(facts, Waits::ForTurn).await
    }

    async fn admit_as<H: Headers + Sync + ?Sized>(
        &self,
        facts: &RequestFacts<'_, H>,
        waits: Waits,
    ) -> Result<Admission, Refusal> {
        let clock = self.limiter().clock();
        let started = clock.now();
        // One reading of the state for the decision and its counting: a reload in between
        // changes neither.
        let state = self.rules.state.load_full();
        let answer = self.decide(&state, facts, waits).await;
        let per_account = state.policy.server().metrics_per_account;
        self.record.metrics.decided(&answer, per_account);
        self.finished(started, Decided::of(&answer));
        answer
    }

    async fn decide<H: Headers + Sync + ?Sized>(
        &self,
        state: &State,
        facts: &RequestFacts<'_, H>,
        waits: Waits,
    ) -> Result<Admission, Refusal> {
        let State {
            policy, directory, ..
        } = state;
        let now = self.limiter().clock().now();
        let resolved = match policy.resolve_in(Some(directory), now, facts) {
            Resolution::NoRoute => return Err(Refusal::no_route()),
            Resolution::Ambiguous(reason) => {
                return Err(Refusal::bad_request("bad_request", reason));
            }
            Resolution::Unauthenticated(reason) => return Err(unauthenticated(state, reason)),
            Resolution::Exempt { api } => {
                return Ok(Admission::uncounted(Report::uncounted(Some(api), now)));
            }
            Resolution::Limited(resolved) => resolved,
        };
        // Blocks on no account first, then the guess guard, then the account's blocks: in that
        // order a right key is answered as a wrong one while guessing is throttled.
        // Blocks on no account, and a guess, are told in the policy's zone: the account's would
        // tell a guesser whose key this is.
        let anyone = policy.default_zone();
        if let Some(block) = self.rules.blocked_for(None, &resolved, now) {
            return Err(Refusal::blocked(&block, now, anyone));
        }
        match self.as_a_guess(&resolved.guards.requests).await {
            Guess::Admitted => {}
            Guess::Unavailable => return Err(Refusal::unavailable()),
            // Answered exactly as the same request with a wrong key is.
            Guess::Refused(refused) => {
                let report = Report {
                    account: None,
                    app: resolved.app.cloned(),
                    plan: policy.default_plan().cloned(),
                    ..Report::of(
                        &resolved,
                        &resolved.guards,
                        &refused,
                        &policy.responses().headers,
                    )
                };
                // No partition in words: it would tell whose key this is.
                return Err(Refusal::limited(
                    policy.responses(),
                    facts.headers.get("accept"),
                    report,
                    &refused,
                    None,
                    anyone,
                ));
            }
        }
        if let Some(block) = self
            .rules
            .blocked_for(resolved.account.map(|a| &**a), &resolved, now)
        {
            return Err(Refusal::blocked(&block, now, resolved.time_zone));
        }
        let took = self
            .decide_limits(Asked {
                enforced: &resolved.enforced.requests,
                // An unknown key is refused whatever its throttle says: no shadow to count.
                shadow: match resolved.unauthenticated {
                    Some(_) => &[],
                    None => resolved.shadow.requests.as_slice(),
                },
                refused: false,
                look_when_refused: false,
            })
            .await
            .map_err(refused_undecided)?;
        let Some(Taken {
            mut decision,
            held,
            refunds_to,
        }) = took.enforced
        else {
            // Uncounted, but an unknown key stays unknown.
            return match resolved.unauthenticated {
                Some(reason) => Err(unauthenticated(state, reason)),
                None => Ok(Admission::uncounted(Report::uncounted(
                    Some(resolved.api),
                    now,
                ))),
            };
        };
        if let (true, Some(reason)) = (decision.allowed(), resolved.unauthenticated) {
            // An unknown key that its throttle admits is still refused (`held` goes back).
            return Err(unauthenticated(state, reason));
        }
        // The clock is read again only for a request that has a turn to wait for.
        let turn = decision.turn().and(refunds_to.as_ref()).and_then(|store| {
            let now = self.limiter().clock().now();
            Turn::of(
                &decision,
                &resolved.enforced.requests,
                Arc::clone(store),
                now,
                self.record.metrics.turns(),
            )
        });
        // A turn still to come that the caller cannot wait for: refused, the turn given back,
        // and told as the limits stand without it (`unwaited`: the turn they give now, if any).
        let (waiting, unwaited) = match (turn, waits) {
            (Some(turn), Waits::Never) => {
                drop(turn);
                if let Some(standing) = self.standing(&resolved.enforced.requests).await {
                    decision = standing;
                }
                (None, Some(decision.turn()))
            }
            (turn, _) => (turn, None),
        };
        let admitted = decision.allowed() && unwaited.is_none();
        if let Some(account) = resolved.account {
            let day = crate::usage::day_of(decision.at(), resolved.time_zone);
            self.record
                .usage
                .record(account, resolved.api, day, admitted);
        }
        let mut report = Report::of(
            &resolved,
            &resolved.enforced,
            &decision,
            &policy.responses().headers,
        );
        if unwaited.is_some() {
            report.refuse_turns();
        }
        if !admitted {
            // The partition in words, for `{explanation}`: never for an unknown key, whose
            // answer must read as a right key's throttled guess does.
            let partition = (policy.responses().explains() && resolved.unauthenticated.is_none())
                .then(|| {
                    let refusing = report.shown()?;
                    state
                        .policy
                        .explain(Some(&state.directory), report.at, facts)
                        .into_iter()
                        .find(|(name, _)| **name == *refusing.name)
                        .map(|(_, partition)| partition)
                })
                .flatten();
            // An unknown key's refusal reads as a wrong key's: in the policy's zone.
            let zone = match resolved.unauthenticated {
                Some(_) => policy.default_zone(),
                None => resolved.time_zone,
            };
            let mut refusal = Refusal::limited(
                policy.responses(),
                facts.headers.get("accept"),
                report,
                &decision,
                partition.as_deref(),
                zone,
            );
            if let Some(Some(turn)) = unwaited {
                refusal.retry_after_ms = Some(turn.saturating_sub(decision.at()).div_ceil(MILLI));
            }
            if tracing::enabled!(tracing::Level::INFO) {
                self.log_refusal(state, &resolved, &refusal, facts);
            }
            return Err(refusal);
        }
        self.notice_crossings(policy, &resolved, &decision);
        if let Some(shadow) = &took.shadow {
            self.shadowed(&resolved, &resolved.shadow, shadow, &mut report);
        }
        let refund = refunds_to.and_then(|to| {
            let ticket = resolved.refund_ticket()?;
            Some((ticket, decision.at(), to))
        });
        Ok(Admission::new(report, held, refund, waiting))
    }

    /// Reports the shadow limits of an admitted request (`decision`: what the store said of
    /// them) and notes those that would have refused; they never refuse, and hold nothing.
    fn shadowed(
        &self,
        resolved: &Resolved<'_>,
        shadow: &Limits<'_>,
        decision: &Decision,
        report: &mut Report,
    ) {
        if !decision.allowed() {
            tracing::info!(
                api = &**resolved.api,
                account = resolved.account.map(|a| &**a),
                "a shadow limit would have refused"
            );
            let outcomes = shadow.limits.iter().zip(decision.outcomes());
            for (limit, _) in outcomes.filter(|(_, outcome)| !outcome.allowed()) {
                let [name, ..] = limit.labels();
                self.record
                    .shadow
                    .record(decision.at(), &name, resolved.account);
            }
        }
        report.add(shadow, decision, true);
    }

    /// How `requests` stand, taking nothing: each limit's outcome for one more request (a turn
    /// for one that would wait for it); `None` when the store cannot tell now.
    async fn standing(&self, requests: &[LimitRequest<'_>]) -> Option<Decision> {
        let looks: SmallVec<[LimitRequest<'_>; 4]> = requests
            .iter()
            .map(|request| LimitRequest {
                cost: 0,
                ..*request
            })
            .collect();
        match self.storage.stores.acquire(&looks).await {
            Acquired::Decided(taken) => Some(taken.decision),
            Acquired::Unlimited | Acquired::Failed(_) => None,
        }
    }

    /// What the limits for unknown keys would answer the same request with a wrong key
    /// (`guesses`: its partitions, as peeks that take nothing). A right key refused so is
    /// answered like a wrong one, and guessing learns nothing while it is throttled.
    pub(super) async fn as_a_guess(&self, guesses: &[LimitRequest<'_>]) -> Guess {
        if guesses.is_empty() {
            return Guess::Admitted;
        }
        match self.storage.stores.acquire(guesses).await {
            Acquired::Decided(taken) if !taken.decision.allowed() => Guess::Refused(taken.decision),
            Acquired::Decided(_) | Acquired::Unlimited => Guess::Admitted,
            Acquired::Failed(_) => Guess::Unavailable,
        }
    }

    /// The log line of a refusal: which limit, whose partition (no key, no secret), the
    /// numbers. Re-deriving the partitions in words costs a second resolution: only when logged.
    fn log_refusal<H: Headers + ?Sized>(
        &self,
        state: &State,
        resolved: &Resolved<'_>,
        refusal: &Refusal,
        facts: &RequestFacts<'_, H>,
    ) {
        let Some(refusing) = refusal.report.refusing() else {
            return;
        };
        let now = refusal.report.at;
        if !self.record.refusal_lines.may_log(&refusing.name, now) {
            return;
        }
        let partitions = state.policy.explain(Some(&state.directory), now, facts);
        tracing::info!(
            limit = %refusing.name,
            partition = partitions
                .iter()
                .find(|(name, _)| **name == *refusing.name)
                .map_or("-", |(_, partition)| partition.as_str()),
            api = &**resolved.api,
            account = resolved.account.map_or("-", |a| &**a),
            app = resolved.app.map_or("-", |a| &**a),
            max = refusing.limit,
            remaining = refusing.remaining,
            retry_after_s = refusing.retry_at.map(|at| at.saturating_sub(now).div_ceil(NANOS_PER_SEC)),
            "refused"
        );
    }
}

/// The refusal of a request that could not be decided.
fn refused_undecided(undecided: Undecided) -> Refusal {
    match undecided {
        Undecided::Store => Refusal::unavailable(),
        Undecided::NotKept => Refusal::store_fault("the limit store cannot keep this decision now"),
    }
}

/// An unknown key's refusal, with the status the policy sets.
fn unauthenticated(state: &State, reason: &str) -> Refusal {
    Refusal::unauthenticated(state.policy.unknown_key_status(), reason)
}
