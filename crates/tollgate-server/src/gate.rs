//! The one code path every adapter takes: facts in, verdict out.

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tollgate_catalog::Block;
use tollgate_core::{
    Clock, Decision, Lease, LimitRequest, Limiter, MemoryStore, NANOS_PER_SEC, Nanos, SystemClock,
};
use tollgate_policy::{
    ConfigErrors, Directory, DirectoryEntry, Headers, KeyLookup, Limit, Limits, Plan, Policy,
    RequestFacts, Resolution,
};

use crate::Shared;
use crate::held::{GiveBack, Held, ToMemory, ToShared};
use crate::hints::BlockHints;
use crate::history::UsageCounter;
use crate::respond::{self, LimitReport, Refund, Verdict};
use crate::shared::Acquired;

/// A policy and the limiter that enforces it; the policy and the catalog's accounts can be
/// replaced while serving.
#[derive(Debug)]
pub struct Gate<C: Clock = SystemClock> {
    state: ArcSwap<State>,
    /// Held by whoever replaces `state` (see [`Gate::reload`] and [`Gate::set_accounts`]).
    writes: std::sync::Mutex<()>,
    /// The embedded store: where limits live, or with a shared store, the fallback of
    /// `on_store_error = "local"`.
    limiter: Arc<Limiter<MemoryStore, C>>,
    shared: Option<Arc<Shared>>,
    /// Where slots go back: the embedded store, and the shared one if any.
    to_memory: Arc<dyn GiveBack>,
    to_shared: Option<Arc<dyn GiveBack>>,
    /// Blocks of the catalog (set by the admin API), and those the upstream asked for.
    blocks: ArcSwap<Vec<Block>>,
    hints: BlockHints,
    /// Decisions per account, api and day, not yet written down.
    usage: UsageCounter,
    /// Decisions since the start: admitted, refused, and refused because the store could not
    /// decide.
    decisions: [std::sync::atomic::AtomicU64; 3],
}

/// The policy and the accounts kept outside it, bound to its plans: swapped together so that
/// no decision sees one without the other.
#[derive(Debug)]
struct State {
    policy: Arc<Policy>,
    directory: Directory,
    entries: Vec<DirectoryEntry>,
    apps: Vec<(String, String)>,
}

impl State {
    fn new(policy: Arc<Policy>, entries: Vec<DirectoryEntry>, apps: Vec<(String, String)>) -> Self {
        let (mut directory, unknown_plans) = policy.directory(entries.iter().cloned());
        directory.add_apps(apps.iter().cloned());
        for plan in unknown_plans {
            tracing::warn!(
                plan,
                "a catalog account names a plan the policy does not define"
            );
        }
        Self {
            policy,
            directory,
            entries,
            apps,
        }
    }
}

impl<C: Clock + 'static> Gate<C> {
    /// A gate enforcing `policy` on an embedded memory store (bounded by the policy's
    /// `server.max_partitions`, full as `server.when_full` says), reading `clock`.
    pub fn new(policy: Policy, clock: C) -> Self {
        Self::with_store(policy, clock, false, None)
    }

    /// A gate whose store notes long-lived state for a journal (see [`crate::Journal`]).
    pub fn journaled(policy: Policy, clock: C) -> Self {
        Self::with_store(policy, clock, true, None)
    }

    /// A gate whose limits live in a store shared with other instances; the embedded store
    /// only stands in for it while it cannot be reached, as `shared` says.
    pub fn shared(policy: Policy, clock: C, shared: Shared) -> Self {
        Self::with_store(policy, clock, false, Some(shared))
    }

    fn with_store(policy: Policy, clock: C, journaled: bool, shared: Option<Shared>) -> Self {
        let store = MemoryStore::builder()
            .capacity(policy.server().max_partitions)
            .when_full(policy.server().when_full)
            .journaled(journaled)
            .build();
        let limiter = Arc::new(Limiter::new(store, clock));
        let shared = shared.map(Arc::new);
        Self {
            state: ArcSwap::from_pointee(State::new(Arc::new(policy), Vec::new(), Vec::new())),
            writes: std::sync::Mutex::new(()),
            to_memory: Arc::new(ToMemory(Arc::clone(&limiter))),
            to_shared: shared
                .as_ref()
                .map(|shared| -> Arc<dyn GiveBack> { Arc::new(ToShared(Arc::clone(shared))) }),
            limiter,
            shared,
            blocks: ArcSwap::from_pointee(Vec::new()),
            hints: BlockHints::default(),
            usage: UsageCounter::default(),
            decisions: Default::default(),
        }
    }
}

impl<C: Clock> Gate<C> {
    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.state.load().policy)
    }

    /// Counts of decisions per account, api and day, to be taken and written down.
    pub fn usage_counter(&self) -> &UsageCounter {
        &self.usage
    }

    /// Replaces the blocks of the catalog.
    pub fn set_blocks(&self, blocks: Vec<Block>) {
        self.blocks.store(Arc::new(blocks));
    }

    /// Refuses requests to `api` on `path` (any account) for `seconds`, as the upstream asked
    /// (kept in memory: an appliance's protection outlasts no restart). False when the bound
    /// on such blocks is reached and this one is dropped.
    pub fn block_for(&self, api: &str, path: &str, seconds: u64) -> bool {
        let now = self.limiter.clock().now();
        let until = now.saturating_add(seconds.saturating_mul(NANOS_PER_SEC));
        self.hints.insert(api, path, until, now)
    }

    /// Drops the upstream's blocks that have ended.
    pub fn sweep_hints(&self) {
        self.hints.sweep(self.limiter.clock().now());
    }

    /// Upstream blocks held, and those dropped at the bound since the start.
    pub fn hint_figures(&self) -> (usize, u64) {
        self.hints.figures()
    }

    /// The block in force for a request, the one lasting longest.
    fn blocked(&self, plan: &Plan<'_>, now: Nanos) -> Option<Block> {
        self.blocked_for(plan.account, plan, now)
    }

    /// The block in force for a request from `account` (`None`: blocks on no account only).
    fn blocked_for(&self, account: Option<&str>, plan: &Plan<'_>, now: Nanos) -> Option<Block> {
        let catalog = self.blocks.load();
        let set = catalog
            .iter()
            .filter(|block| {
                block.until > now
                    && block
                        .account
                        .as_deref()
                        .is_none_or(|blocked| account == Some(blocked))
                    && block.api.as_deref().is_none_or(|api| plan.api == api)
                    && block.path.as_deref().is_none_or(|path| plan.path == path)
            })
            .max_by_key(|block| block.until);
        let hinted = self.hints.until(plan.api, &plan.path, now);
        match (set, hinted) {
            (Some(block), None) => Some(block.clone()),
            (Some(block), Some(until)) if block.until >= until => Some(block.clone()),
            (_, Some(until)) => Some(Block {
                id: format!("upstream:{}:{}", plan.api, plan.path),
                account: None,
                api: Some(plan.api.to_owned()),
                path: Some(plan.path.clone()),
                until,
                reason: "blocked by the appliance".to_owned(),
                set_by: "upstream".to_owned(),
            }),
            (None, None) => None,
        }
    }

    /// Replaces the accounts, keys and apps kept outside the policy file (the catalog's).
    pub fn set_accounts(&self, entries: Vec<DirectoryEntry>, apps: Vec<(String, String)>) {
        // One writer at a time: a reload between this load and store would be undone.
        let _writing = self.writing();
        let policy = self.policy();
        self.state
            .store(Arc::new(State::new(policy, entries, apps)));
    }

    /// The right to replace the state: reloads and catalog refreshes each read the state and
    /// store a new one built from it, so they take turns.
    fn writing(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The account whose API key a lookup (the customer's quota page) carries, or the refusal:
    /// 401 without a key or with an unknown one, whose guess is charged to the limits for
    /// unknown keys first (429 once they are spent), 400 for a key read two ways.
    pub async fn key_holder<H: Headers + ?Sized>(
        &self,
        facts: &RequestFacts<'_, H>,
    ) -> Result<String, Verdict> {
        let state = self.state.load_full();
        let policy = &state.policy;
        let limits = match policy.key_lookup(Some(&state.directory), facts) {
            KeyLookup::Account(account, guards) => {
                return match self.as_a_guess(&guards.requests).await {
                    Guess::Refused(refused) => Err(Self::guess_throttled(&refused)),
                    Guess::Unavailable => Err(Self::unavailable()),
                    Guess::Admitted => Ok(account.to_owned()),
                };
            }
            KeyLookup::Absent => {
                let message = "send your API key to see your quotas";
                return Err(Verdict::error(401, "unauthenticated", message));
            }
            KeyLookup::Ambiguous(reason) => return Err(Verdict::error(400, "bad_request", reason)),
            KeyLookup::Unknown(limits) => limits,
        };
        let unknown = || {
            Verdict::error(
                policy.unknown_key_status(),
                "unauthenticated",
                "unknown API key",
            )
        };
        match self.acquire(&limits.requests).await {
            Acquired::Decided(decision, shared) if !decision.allowed() => {
                drop(self.hold(decision.leases(), shared));
                Err(Self::guess_throttled(&decision))
            }
            // Counted, not held.
            Acquired::Decided(decision, shared) => {
                drop(self.hold(decision.leases(), shared));
                Err(unknown())
            }
            Acquired::Unlimited => Err(unknown()),
            Acquired::Failed(_) => Err(Self::unavailable()),
        }
    }

    /// Account `id`'s standing on every api, as JSON: each limit's numbers now, reset times in
    /// epoch seconds and in `time_zone`; `None` if no such account. Looking costs nothing.
    pub async fn usage(
        &self,
        id: &str,
        time_zone: &jiff::tz::TimeZone,
    ) -> Option<serde_json::Value> {
        let state = self.state.load_full();
        let now = self.limiter.clock().now();
        let usage = state.policy.usage(Some(&state.directory), id, now)?;
        let local = |at: Nanos| {
            jiff::Timestamp::from_nanosecond(i128::from(at))
                .map(|instant| instant.to_zoned(time_zone.clone()).to_string())
                .unwrap_or_default()
        };
        let mut apis = Vec::with_capacity(usage.apis.len());
        for api in &usage.apis {
            let requests: Vec<_> = api.limits.iter().map(|(_, request)| *request).collect();
            let outcomes = match self.acquire(&requests).await {
                Acquired::Decided(decision, shared) => {
                    drop(self.hold(decision.leases(), shared));
                    decision.outcomes().to_vec()
                }
                Acquired::Unlimited | Acquired::Failed(_) => Vec::new(),
            };
            apis.push({
                let limits: Vec<serde_json::Value> = api
                    .limits
                    .iter()
                    .zip(&outcomes)
                    .map(|((limit, request), outcome)| {
                        let kind = match request.algorithm {
                            tollgate_core::Algorithm::TokenBucket(_) => "rate",
                            tollgate_core::Algorithm::Concurrency(_) => "concurrency",
                            _ => "quota",
                        };
                        serde_json::json!({
                            "name": limit.name(),
                            "kind": kind,
                            "limit": outcome.limit(),
                            "used": outcome.limit().saturating_sub(outcome.remaining()),
                            "remaining": outcome.remaining(),
                            "reset": outcome.reset_at().div_ceil(NANOS_PER_SEC),
                            "reset_local": local(outcome.reset_at()),
                        })
                    })
                    .collect();
                let per_request: Vec<&str> =
                    api.per_request.iter().map(|limit| limit.name()).collect();
                serde_json::json!({ "api": api.api, "limits": limits, "per_request": per_request })
            });
        }
        Some(serde_json::json!({
            "account": id,
            "plan": usage.plan,
            "pack": usage.pack.map(|(pack, until)| serde_json::json!({
                "name": pack,
                "expires": until / NANOS_PER_SEC,
                "expires_local": local(until),
            })),
            "apis": apis,
        }))
    }

    /// `leases`, held until the value is dropped, then given back to the store that gave them:
    /// the shared one if `shared`, else the embedded one.
    fn hold(&self, leases: &[Lease], shared: bool) -> Held {
        match (&self.to_shared, shared) {
            (Some(to_shared), true) => Held::new(leases, to_shared),
            _ => Held::new(leases, &self.to_memory),
        }
    }

    /// Replaces the policy with the file at `path`, compiled in the same key space so that
    /// limits whose name and numbers are unchanged keep their counters. An invalid file changes
    /// nothing. Returns the new policy's summary.
    ///
    /// # Errors
    /// Every problem found in the file.
    pub fn reload(&self, path: &Path) -> Result<String, ConfigErrors> {
        let _writing = self.writing();
        let current = self.state.load();
        let policy = Policy::load_for(
            path,
            current.policy.key_space().clone(),
            current.policy.store_check(),
        )?;
        let summary = policy.summary();
        self.state.store(Arc::new(State::new(
            Arc::new(policy),
            current.entries.clone(),
            current.apps.clone(),
        )));
        Ok(summary)
    }

    /// The limiter, for background sweeps.
    pub fn limiter(&self) -> &Limiter<MemoryStore, C> {
        &self.limiter
    }

    /// Decides one request.
    pub async fn decide<H: Headers + Sync + ?Sized>(&self, facts: &RequestFacts<'_, H>) -> Verdict {
        let verdict = self.verdict(facts).await;
        let counted = match (verdict.allowed, verdict.status) {
            (true, _) => 0,
            (false, 503) => 2,
            (false, _) => 1,
        };
        self.decisions[counted].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        verdict
    }

    /// Decisions since the start: admitted, refused, and refused because the limit store could
    /// not decide (503).
    pub fn decisions(&self) -> [u64; 3] {
        self.decisions
            .each_ref()
            .map(|count| count.load(std::sync::atomic::Ordering::Relaxed))
    }

    async fn verdict<H: Headers + Sync + ?Sized>(&self, facts: &RequestFacts<'_, H>) -> Verdict {
        let state = self.state.load_full();
        let (policy, directory) = (&state.policy, &state.directory);
        let now = self.limiter.clock().now();
        let plan = match policy.resolve_in(Some(directory), now, facts) {
            Resolution::NoRoute => return Verdict::unmatched(),
            Resolution::Ambiguous(reason) => return Verdict::error(400, "bad_request", reason),
            Resolution::Unauthenticated(reason) => {
                return Verdict::error(policy.unknown_key_status(), "unauthenticated", reason);
            }
            Resolution::Exempt { api } => return Verdict::exempt(api),
            Resolution::Limited(plan) => plan,
        };
        // Blocks on no account first, then the guess guard, then the account's blocks: in that
        // order a right key is answered as a wrong one while guessing is throttled.
        if let Some(block) = self.blocked_for(None, &plan, now) {
            return Verdict::blocked(&block, now);
        }
        let refused = match self.as_a_guess(&plan.guards.requests).await {
            Guess::Admitted => None,
            Guess::Unavailable => return Self::unavailable(),
            Guess::Refused(refused) => Some(refused),
        };
        if let Some(refused) = refused {
            // Answered exactly as the same request with a wrong key is.
            let guess = Plan {
                account: None,
                plan: policy.default_plan(),
                enforced: Limits {
                    limits: plan.guards.limits.clone(),
                    requests: Default::default(),
                },
                shadow: Limits::default(),
                guards: Limits::default(),
                unauthenticated: Some("unknown API key"),
                path: plan.path.clone(),
                ..plan
            };
            let reports = reports(&guess.enforced.limits, &refused, false);
            let accept = facts_accept(facts);
            return respond::verdict(policy.responses(), accept, &guess, &refused, reports, now);
        }
        if let Some(block) = self.blocked(&plan, now) {
            return Verdict::blocked(&block, now);
        }
        let (decision, shared) = match self.acquire(&plan.enforced.requests).await {
            Acquired::Decided(decision, shared) => (decision, shared),
            Acquired::Unlimited => {
                // Uncounted, but an unknown key stays unknown.
                return match plan.unauthenticated {
                    Some(reason) => {
                        Verdict::error(policy.unknown_key_status(), "unauthenticated", reason)
                    }
                    None => Verdict::exempt(plan.api),
                };
            }
            Acquired::Failed(error) => {
                // A full store is counted in /metrics (refused partitions), not logged per request.
                let full = matches!(error, tollgate_core::StoreError::Full { .. });
                if self.shared.is_none() && !full {
                    tracing::error!(%error, "limit store fault; refusing");
                }
                return Self::unavailable();
            }
        };
        // Held from the moment they are taken: a request cancelled from here on gives them back.
        let held = self.hold(decision.leases(), shared);
        if let (true, Some(reason)) = (decision.allowed(), plan.unauthenticated) {
            // An unknown key that its throttle admits is still refused (`held` goes back).
            return Verdict::error(policy.unknown_key_status(), "unauthenticated", reason);
        }
        if let Some(account) = plan.account {
            self.usage
                .record(account, plan.api, decision.at(), decision.allowed());
        }
        let mut reports = reports(&plan.enforced.limits, &decision, false);
        if decision.allowed() && !plan.shadow.requests.is_empty() {
            match self.acquire(&plan.shadow.requests).await {
                Acquired::Decided(shadow, shadow_shared) => {
                    if !shadow.allowed() {
                        tracing::info!(
                            api = plan.api,
                            account = plan.account,
                            "a shadow limit would have refused"
                        );
                    }
                    // Shadow slots are counted, not held.
                    drop(self.hold(shadow.leases(), shadow_shared));
                    reports.extend(reports_of(&plan.shadow.limits, &shadow, true));
                }
                Acquired::Unlimited => {}
                Acquired::Failed(error) => tracing::warn!(%error, "shadow limits not counted"),
            }
        }
        let now = decision.at();
        let verdict = respond::verdict(
            policy.responses(),
            facts_accept(facts),
            &plan,
            &decision,
            reports,
            now,
        );
        let mut verdict = verdict;
        if verdict.allowed {
            verdict.journal = decision
                .needs_journal()
                .then(|| self.limiter.store().journal_epoch());
            verdict.held = held;
            // Charges taken by the stand-in for an unreachable shared store are not refunded.
            let refundable = shared || self.shared.is_none();
            verdict.refund = refundable
                .then(|| plan.refund_ticket())
                .flatten()
                .map(|ticket| Refund {
                    ticket,
                    at: decision.at(),
                });
        } else if tracing::enabled!(tracing::Level::INFO) {
            // Re-deriving the partitions costs a second resolution: only when it is logged.
            let partitions = policy.explain(Some(directory), now, facts);
            explain(&plan, &verdict, &partitions, now);
        }
        verdict
    }

    /// What the limits for unknown keys would answer the same request with a wrong key
    /// (`guesses`: its partitions, as peeks that take nothing). A right key refused so is
    /// answered like a wrong one, and guessing learns nothing while it is throttled.
    async fn as_a_guess(&self, guesses: &[LimitRequest<'_>]) -> Guess {
        if guesses.is_empty() {
            return Guess::Admitted;
        }
        match self.acquire(guesses).await {
            Acquired::Decided(decision, _) if !decision.allowed() => Guess::Refused(decision),
            Acquired::Decided(..) | Acquired::Unlimited => Guess::Admitted,
            Acquired::Failed(_) => Guess::Unavailable,
        }
    }

    /// The answer while the limit store cannot decide.
    fn unavailable() -> Verdict {
        Verdict::error(
            503,
            "store_unavailable",
            "the limit store cannot decide now",
        )
    }

    /// The quota page's answer to a throttled guess (a right key's, or a wrong one's).
    fn guess_throttled(decision: &Decision) -> Verdict {
        let at = decision.retry_at().unwrap_or_else(|| decision.at());
        let message = "too many unknown API keys: try again later";
        Verdict::throttled(message, at, decision.at())
    }

    /// Gives back what `requests` took at `at`, in the store that took it (`shared`, else the
    /// embedded one).
    async fn give_back(&self, at: Nanos, requests: &[LimitRequest<'_>], shared: bool) {
        let given = match (&self.shared, shared) {
            (Some(remote), true) => remote.store.refund(at, requests).await,
            _ => self.limiter.refund(at, requests),
        };
        if let Err(error) = given {
            tracing::warn!(%error, "give-back failed; the units come back with the window");
        }
    }

    /// Gives back what an admitted request took from limits that refund the upstream's
    /// `status`, in the store that decided it.
    pub async fn settle(&self, refund: &Refund, status: u16) {
        let requests = refund.ticket.refunds(status);
        if requests.is_empty() {
            return;
        }
        // Only charges the deciding store took are refunded (see `verdict`): the shared one's
        // when there is one.
        self.give_back(refund.at, &requests, self.shared.is_some())
            .await;
    }

    /// The shared store and its health, if limits live in one.
    pub fn shared_store(&self) -> Option<&Shared> {
        self.shared.as_deref()
    }

    /// Decides `requests` in the store where limits live; while a shared store cannot be
    /// reached, as its failure policy says.
    async fn acquire(&self, requests: &[LimitRequest<'_>]) -> Acquired {
        let Some(shared) = &self.shared else {
            return match self.limiter.acquire(requests) {
                Ok(decision) => Acquired::Decided(decision, false),
                Err(error) => Acquired::Failed(error),
            };
        };
        shared.acquire(requests, &self.limiter).await
    }

    /// Each applicable limit's name and partition in words, header values masked.
    pub fn explain<H: Headers + ?Sized>(
        &self,
        facts: &RequestFacts<'_, H>,
    ) -> Vec<(String, String)> {
        let state = self.state.load();
        let now = self.limiter.clock().now();
        state.policy.explain(Some(&state.directory), now, facts)
    }
}

/// What the limits for unknown keys would answer a guess: see [`Gate::as_a_guess`].
enum Guess {
    Admitted,
    Refused(Decision),
    Unavailable,
}

fn facts_accept<'a, H: Headers + ?Sized>(facts: &RequestFacts<'a, H>) -> Option<&'a str> {
    facts.headers.get("accept")
}

fn reports(limits: &[&Limit], decision: &Decision, shadow: bool) -> Vec<LimitReport> {
    reports_of(limits, decision, shadow).collect()
}

fn reports_of<'a>(
    limits: &'a [&Limit],
    decision: &'a Decision,
    shadow: bool,
) -> impl Iterator<Item = LimitReport> + 'a {
    limits
        .iter()
        .zip(decision.outcomes())
        .map(move |(limit, outcome)| {
            let [name, code, period] = limit.labels();
            LimitReport {
                name,
                allowed: outcome.allowed(),
                limit: outcome.limit(),
                remaining: outcome.remaining(),
                reset_at: outcome.reset_at(),
                retry_at: outcome.retry_at(),
                shadow,
                status: limit.status(),
                code,
                period,
                per_period: limit.rate_count().unwrap_or(outcome.limit()),
            }
        })
}

/// The log line of a refusal: which limit, whose partition (no key, no secret), the numbers.
fn explain(plan: &Plan<'_>, verdict: &Verdict, partitions: &[(String, String)], now: Nanos) {
    let Some(refusing) = verdict
        .limits
        .iter()
        .find(|report| !report.allowed && !report.shadow)
    else {
        return;
    };
    tracing::info!(
        limit = %refusing.name,
        partition = partitions
            .iter()
            .find(|(name, _)| **name == *refusing.name)
            .map_or("-", |(_, partition)| partition.as_str()),
        api = plan.api,
        account = plan.account.unwrap_or("-"),
        app = plan.app.unwrap_or("-"),
        max = refusing.limit,
        remaining = refusing.remaining,
        retry_after_s = refusing.retry_at.map(|at| at.saturating_sub(now).div_ceil(NANOS_PER_SEC)),
        "refused"
    );
}
