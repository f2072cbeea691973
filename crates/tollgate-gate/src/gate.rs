//! The gate: a policy, the store where its limits live, and the catalog's accounts and
//! blocks, all replaceable while serving. Building and replacing its state is here; deciding
//! a request is `admit.rs`.

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use arc_swap::{ArcSwap, ArcSwapOption};
use tollgate_core::Block;
use tollgate_core::{Clock, Limiter, MemoryStore, NANOS_PER_SEC, Nanos, SystemClock};
use tollgate_policy::{ConfigErrors, Directory, DirectoryEntry, Policy, Resolved};
use tollgate_ratelimit_config::RateLimitConfig;

use crate::Journal;
use crate::hints::BlockHints;
use crate::metrics::{Decided, Metrics};
use crate::refusal_lines::RefusalLines;
use crate::store::{Failover, Local, Shared, Stores};
use crate::usage::UsageCounter;

/// A policy and the limiter that enforces it; the policy and the catalog's accounts can be
/// replaced while serving.
#[derive(Debug)]
pub struct Gate<C: Clock = SystemClock> {
    pub(super) state: ArcSwap<State>,
    /// Held by whoever replaces `state` (see [`Gate::reload`] and [`Gate::set_accounts`]).
    writes: std::sync::Mutex<()>,
    /// The embedded store: where limits live, or with a shared store, the fallback of
    /// `on_store_error = "local"`.
    pub(super) local: Arc<Local<C>>,
    /// Where limits live.
    pub(super) stores: Stores<C>,
    /// Where the embedded store's long-lived state is written down, once started: an admission
    /// that counted such state waits until it is on disk.
    pub(super) journal: OnceLock<Journal>,
    /// Blocks of the catalog (set by the admin API), and those the upstream asked for.
    blocks: ArcSwap<Vec<Block>>,
    hints: BlockHints,
    /// Decisions per account, api and day, not yet written down.
    pub(super) usage: UsageCounter,
    /// Decisions since the start: admitted, refused, and refused because the store could not
    /// decide.
    pub(super) decisions: [AtomicU64; 3],
    /// envoyproxy/ratelimit's configuration, which Envoy's descriptors are decided by
    /// (`--ratelimit-config`), replaceable while serving.
    pub(super) ratelimit: ArcSwapOption<RateLimitConfig>,
    /// What shadow limits would have refused.
    pub(super) shadow: super::shadow::ShadowLog,
    /// What `/metrics` adds to the stores' figures: decisions by api and limit, latency.
    pub(super) metrics: Metrics,
    /// How many refusals are logged, per limit and second.
    pub(super) refusal_lines: RefusalLines,
}

/// The policy and the accounts kept outside it, bound to its plans: swapped together so that
/// no decision sees one without the other.
#[derive(Debug)]
pub(super) struct State {
    pub(super) policy: Arc<Policy>,
    pub(super) directory: Directory,
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
            state: ArcSwap::from_pointee(State::new(Arc::new(policy), Vec::new(), Vec::new())),
            writes: std::sync::Mutex::new(()),
            local,
            stores,
            journal: OnceLock::new(),
            blocks: ArcSwap::from_pointee(Vec::new()),
            hints: BlockHints::default(),
            usage: UsageCounter::default(),
            decisions: Default::default(),
            ratelimit: ArcSwapOption::empty(),
            shadow: super::shadow::ShadowLog::default(),
            metrics: Metrics::default(),
            refusal_lines: RefusalLines::default(),
        }
    }
}

impl<C: Clock> Gate<C> {
    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.state.load().policy)
    }

    /// The zone account `id` sees its times and counts its days in (see
    /// [`Policy::account_zone`]); `None` for an account neither the policy nor the catalog's
    /// keyed accounts have.
    pub fn account_zone(&self, id: &str) -> Option<jiff::tz::TimeZone> {
        let state = self.state.load();
        state.policy.account_zone(Some(&state.directory), id)
    }

    /// The zone of accounts that name none (see [`Policy::default_zone`]).
    pub fn default_zone(&self) -> jiff::tz::TimeZone {
        self.state.load().policy.default_zone().clone()
    }

    /// Counts of decisions per account, api and day, to be taken and written down.
    pub fn usage_counter(&self) -> &UsageCounter {
        &self.usage
    }

    /// What shadow limits would have refused, by limit, hour and account.
    pub fn shadow(&self) -> &super::shadow::ShadowLog {
        &self.shadow
    }

    /// Where the embedded store's long-lived state is written down: from now on an admission
    /// that counted such state is answered once it is on disk. Set once; later calls are
    /// ignored.
    pub fn set_journal(&self, journal: Journal) {
        let _ = self.journal.set(journal);
    }

    /// The journal, once set.
    pub fn journal(&self) -> Option<&Journal> {
        self.journal.get()
    }

    /// Replaces the blocks of the catalog.
    pub fn set_blocks(&self, blocks: Vec<Block>) {
        self.blocks.store(Arc::new(blocks));
    }

    /// Refuses requests to `api` on `path` (any account) for `seconds`, as the upstream asked
    /// (kept in memory: an appliance's protection outlasts no restart). False when the bound
    /// on such blocks is reached and this one is dropped.
    pub fn block_for(&self, api: &str, path: &str, seconds: u64) -> bool {
        let now = self.limiter().clock().now();
        let until = now.saturating_add(seconds.saturating_mul(NANOS_PER_SEC));
        self.hints.insert(api, path, until, now)
    }

    /// Drops the upstream's blocks that have ended.
    pub fn sweep_hints(&self) {
        self.hints.sweep(self.limiter().clock().now());
    }

    /// Upstream blocks held, and those dropped at the bound since the start.
    pub fn hint_figures(&self) -> (usize, u64) {
        self.hints.figures()
    }

    /// The block in force for a request from `account` (`None`: blocks on no account only),
    /// the one lasting longest.
    pub(super) fn blocked_for(
        &self,
        account: Option<&str>,
        resolved: &Resolved<'_>,
        now: Nanos,
    ) -> Option<Block> {
        let catalog = self.blocks.load();
        let (api, path) = (&**resolved.api, resolved.path);
        let set = catalog
            .iter()
            .filter(|block| {
                block.until > now
                    && block
                        .account
                        .as_deref()
                        .is_none_or(|blocked| account == Some(blocked))
                    && block.api.as_deref().is_none_or(|blocked| api == blocked)
                    && block.path.as_deref().is_none_or(|blocked| path == blocked)
            })
            .max_by_key(|block| block.until);
        let hinted = self.hints.until(api, path, now);
        match (set, hinted) {
            (Some(block), None) => Some(block.clone()),
            (Some(block), Some(until)) if block.until >= until => Some(block.clone()),
            (_, Some(until)) => Some(Block {
                id: format!("upstream:{api}:{path}"),
                account: None,
                api: Some(api.to_owned()),
                path: Some(path.to_owned()),
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

    /// Replaces the policy with the file at `path`, compiled in the same key space so that
    /// limits whose name and numbers are unchanged keep their counters. An invalid file changes
    /// nothing. Returns the new policy's summary.
    ///
    /// # Errors
    /// Every problem found in the file.
    pub fn reload(&self, path: &Path) -> Result<String, ConfigErrors> {
        let reloaded = self.reload_policy(path);
        self.metrics.reloaded(reloaded.is_ok());
        reloaded
    }

    fn reload_policy(&self, path: &Path) -> Result<String, ConfigErrors> {
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

    /// Decides Envoy's descriptors by `config` (envoyproxy/ratelimit's files) from now on.
    pub fn set_ratelimit_config(&self, config: RateLimitConfig) {
        self.ratelimit.store(Some(Arc::new(config)));
    }

    /// envoyproxy/ratelimit's configuration in force, if one was set.
    pub fn ratelimit_config(&self) -> Option<Arc<RateLimitConfig>> {
        self.ratelimit.load_full()
    }

    /// Replaces envoyproxy/ratelimit's configuration with the files of `dir`, compiled in the
    /// same key space so that rules that kept their place in the tree and their unit keep their
    /// counters. Invalid files change nothing. Returns the new configuration's summary.
    ///
    /// # Errors
    /// Every problem found in the files; also when no configuration was set before.
    pub fn reload_ratelimit_config(&self, dir: &Path) -> Result<String, ConfigErrors> {
        let reloaded = self.reload_ratelimit_files(dir);
        self.metrics.reloaded(reloaded.is_ok());
        reloaded
    }

    fn reload_ratelimit_files(&self, dir: &Path) -> Result<String, ConfigErrors> {
        let _writing = self.writing();
        let Some(current) = self.ratelimit.load_full() else {
            return Err(ConfigErrors(vec![tollgate_policy::ConfigError {
                file: dir.display().to_string(),
                line: 1,
                column: 1,
                message: "no envoyproxy/ratelimit configuration is served".to_owned(),
            }]));
        };
        let config = RateLimitConfig::load_dir_in(dir, current.key_space().clone())?;
        let summary = config.summary();
        self.ratelimit.store(Some(Arc::new(config)));
        Ok(summary)
    }

    /// The embedded store's limiter, for background sweeps, the journal and figures.
    pub fn limiter(&self) -> &Limiter<MemoryStore, C> {
        &self.local
    }

    /// Counts a decision begun at `started` (by the embedded store's clock), whichever way it
    /// came in: its time in the latency histogram, its outcome in [`decisions`](Self::decisions).
    pub(crate) fn finished(&self, started: tollgate_core::Nanos, outcome: Decided) {
        let took = self.limiter().clock().now().saturating_sub(started);
        self.metrics.latency.observe(took);
        self.decisions[outcome.index()].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Decisions since the start: admitted, refused, and refused because the limit store could
    /// not decide (503).
    pub fn decisions(&self) -> [u64; 3] {
        self.decisions
            .each_ref()
            .map(|count| count.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// What `/metrics` adds to the stores' figures.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The shared store and its health, if limits live in one.
    pub fn shared_store(&self) -> Option<&Shared> {
        self.stores.shared()
    }

    /// Each applicable limit's name and partition in words, header values masked.
    pub fn explain<H: tollgate_policy::Headers + ?Sized>(
        &self,
        facts: &tollgate_policy::RequestFacts<'_, H>,
    ) -> Vec<(String, String)> {
        let state = self.state.load();
        let now = self.limiter().clock().now();
        state.policy.explain(Some(&state.directory), now, facts)
    }
}
