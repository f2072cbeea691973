//! The gate: three parts, each of one concern — the [`Rules`] that say which limits a request
//! meets, the [`Storage`] where limits live, and the [`Record`] of decisions made. Building
//! it and its public face are here; deciding a request is `admit.rs` and `decision.rs`.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use tollgate_core::Block;
use tollgate_core::{Clock, Limiter, MemoryStore, NANOS_PER_SEC, Nanos, SystemClock};
use tollgate_policy::{ConfigErrors, DirectoryEntry, Policy};
use tollgate_ratelimit_config::RateLimitConfig;

use crate::Journal;
use crate::metrics::{Decided, Metrics};
use crate::record::Record;
use crate::rules::Rules;
use crate::store::{Failover, Local, Shared, Stores};
use crate::usage::UsageCounter;

/// A policy and the limiter that enforces it; the policy and the catalog's accounts can be
/// replaced while serving.
#[derive(Debug)]
pub struct Gate<C: Clock = SystemClock> {
    /// Which limits a request meets.
    pub(crate) rules: Rules,
    /// Where limits live.
    pub(crate) storage: Storage<C>,
    /// What was decided.
    pub(crate) record: Record,
}

/// Where limits live, and where the embedded store's long-lived state is written down.
#[derive(Debug)]
pub(crate) struct Storage<C: Clock> {
    /// The embedded store: where limits live, or with a shared store, the fallback of
    /// `on_store_error = "local"`.
    pub(crate) local: Arc<Local<C>>,
    /// Where limits live.
    pub(crate) stores: Stores<C>,
    /// Once started: an admission that counted long-lived state waits until it is on disk.
    pub(crate) journal: OnceLock<Journal>,
}

impl<C: Clock + 'static> Gate<C> {
    /// A gate enforcing `policy` on an embedded memory store (bounded by the policy's
    /// `server.max_partitions`, full as `server.when_full` says), reading `clock`.
    pub fn new(policy: Policy, clock: C) -> Self {
        Self::with_store(policy, clock, false, None)
    }

    /// A gate whose store notes long-lived state for a journal (see [`Gate::set_journal`]).
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
            .anonymous_share(policy.server().anonymous_share)
            .when_full(policy.server().when_full)
            .journaled(journaled)
            .build();
        let local = Arc::new(Limiter::new(store, clock));
        let stores = match shared {
            Some(shared) => Stores::Shared(Box::new(Failover::new(shared, Arc::clone(&local)))),
            None => Stores::Local(Arc::clone(&local)),
        };
        Self {
            rules: Rules::new(policy),
            storage: Storage {
                local,
                stores,
                journal: OnceLock::new(),
            },
            record: Record::default(),
        }
    }
}

impl<C: Clock> Gate<C> {
    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        self.rules.policy()
    }

    /// The zone account `id` sees its times and counts its days in (see
    /// [`Policy::account_zone`]); `None` for an account neither the policy nor the catalog's
    /// keyed accounts have.
    pub fn account_zone(&self, id: &str) -> Option<jiff::tz::TimeZone> {
        let state = self.rules.state.load();
        state.policy.account_zone(Some(&state.directory), id)
    }

    /// The zone of accounts that name none (see [`Policy::default_zone`]).
    pub fn default_zone(&self) -> jiff::tz::TimeZone {
        self.rules.state.load().policy.default_zone().clone()
    }

    /// Counts of decisions per account, api and day, to be taken and written down.
    pub fn usage_counter(&self) -> &UsageCounter {
        &self.record.usage
    }

    /// What shadow limits would have refused, by limit, hour and account.
    pub fn shadow(&self) -> &super::shadow::ShadowLog {
        &self.record.shadow
    }

    /// Where the embedded store's long-lived state is written down: from now on an admission
    /// that counted such state is answered once it is on disk. Set once; later calls are
    /// ignored.
    pub fn set_journal(&self, journal: Journal) {
        let _ = self.storage.journal.set(journal);
    }

    /// The journal, once set.
    pub fn journal(&self) -> Option<&Journal> {
        self.storage.journal.get()
    }

    /// Replaces the blocks of the catalog.
    pub fn set_blocks(&self, blocks: Vec<Block>) {
        self.rules.set_blocks(blocks);
    }

    /// Refuses requests to `api` on `path` (any account) for `seconds`, as the upstream asked
    /// (kept in memory: an appliance's protection outlasts no restart). False when the bound
    /// on such blocks is reached and this one is dropped.
    pub fn block_for(&self, api: &str, path: &str, seconds: u64) -> bool {
        let now = self.limiter().clock().now();
        let until = now.saturating_add(seconds.saturating_mul(NANOS_PER_SEC));
        self.rules.hints.insert(api, path, until, now)
    }

    /// Drops the upstream's blocks that have ended.
    pub fn sweep_hints(&self) {
        self.rules.hints.sweep(self.limiter().clock().now());
    }

    /// Upstream blocks held, and those dropped at the bound since the start.
    pub fn hint_figures(&self) -> (usize, u64) {
        self.rules.hints.figures()
    }

    /// Replaces the accounts, keys and apps kept outside the policy file (the catalog's).
    pub fn set_accounts(&self, entries: Vec<DirectoryEntry>, apps: Vec<(String, String)>) {
        self.rules.set_accounts(entries, apps);
    }

    /// Replaces the policy with the file at `path`, compiled in the same key space so that
    /// limits whose name and numbers are unchanged keep their counters. An invalid file changes
    /// nothing. Returns the new policy's summary.
    ///
    /// # Errors
    /// Every problem found in the file.
    pub fn reload(&self, path: &Path) -> Result<String, ConfigErrors> {
        let reloaded = self.rules.reload(path);
        self.record.metrics.reloaded(reloaded.is_ok());
        reloaded
    }

    /// Decides Envoy's descriptors by `config` (envoyproxy/ratelimit's files) from now on.
    pub fn set_ratelimit_config(&self, config: RateLimitConfig) {
        self.rules.ratelimit.store(Some(Arc::new(config)));
    }

    /// envoyproxy/ratelimit's configuration in force, if one was set.
    pub fn ratelimit_config(&self) -> Option<Arc<RateLimitConfig>> {
        self.rules.ratelimit.load_full()
    }

    /// Replaces envoyproxy/ratelimit's configuration with the files of `dir`, compiled in the
    /// same key space so that rules that kept their place in the tree and their unit keep their
    /// counters. Invalid files change nothing. Returns the new configuration's summary.
    ///
    /// # Errors
    /// Every problem found in the files; also when no configuration was set before.
    pub fn reload_ratelimit_config(&self, dir: &Path) -> Result<String, ConfigErrors> {
        let reloaded = self.rules.reload_ratelimit(dir);
        self.record.metrics.reloaded(reloaded.is_ok());
        reloaded
    }

    /// The embedded store's limiter, for background sweeps, the journal and figures.
    pub fn limiter(&self) -> &Limiter<MemoryStore, C> {
        &self.storage.local
    }

    /// Counts a decision begun at `started` (by the embedded store's clock), whichever way it
    /// came in: its time in the latency histogram, its outcome in [`decisions`](Self::decisions).
    pub(crate) fn finished(&self, started: Nanos, outcome: Decided) {
        let took = self.limiter().clock().now().saturating_sub(started);
        self.record.finished(took, outcome);
    }

    /// Decisions since the start: admitted, refused, and refused because the limit store could
    /// not decide (503).
    pub fn decisions(&self) -> [u64; 3] {
        self.record.decisions()
    }

    /// What `/metrics` adds to the stores' figures.
    pub fn metrics(&self) -> &Metrics {
        &self.record.metrics
    }

    /// envoyproxy/ratelimit's statistics of its rules, by the names its Prometheus mapping
    /// gives them.
    pub fn rule_stats(&self) -> &crate::RuleStats {
        &self.record.rule_stats
    }

    /// The shared store and its health, if limits live in one.
    pub fn shared_store(&self) -> Option<&Shared> {
        self.storage.stores.shared()
    }

    /// Each applicable limit's name and partition in words, header values masked.
    pub fn explain<H: tollgate_policy::Headers + ?Sized>(
        &self,
        facts: &tollgate_policy::RequestFacts<'_, H>,
    ) -> Vec<(String, String)> {
        let state = self.rules.state.load();
        let now = self.limiter().clock().now();
        state.policy.explain(Some(&state.directory), now, facts)
    }
}
