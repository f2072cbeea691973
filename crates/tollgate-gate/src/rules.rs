//! What decides which limits a request meets: the policy, the catalog's accounts bound to its
//! plans, envoyproxy/ratelimit's configuration, and the blocks in force — each replaceable
//! while serving, each read once per decision.

use std::path::Path;
use std::sync::Arc;

use arc_swap::{ArcSwap, ArcSwapOption};
use tollgate_core::{Block, Nanos};
use tollgate_policy::{ConfigErrors, Directory, DirectoryEntry, Policy, Resolved};
use tollgate_ratelimit_config::RateLimitConfig;

use crate::hints::BlockHints;

/// The policy and the accounts kept outside it, bound to its plans: swapped together so that
/// no decision sees one without the other.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) policy: Arc<Policy>,
    pub(crate) directory: Directory,
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

/// The rules in force.
#[derive(Debug)]
pub(crate) struct Rules {
    pub(crate) state: ArcSwap<State>,
    /// Held by whoever replaces `state` (see [`Rules::reload`] and [`Rules::set_accounts`]).
    writes: std::sync::Mutex<()>,
    /// envoyproxy/ratelimit's configuration, which Envoy's descriptors are decided by
    /// (`--ratelimit-config`).
    pub(crate) ratelimit: ArcSwapOption<RateLimitConfig>,
    /// Blocks of the catalog (set by the admin API).
    blocks: ArcSwap<Vec<Block>>,
    /// Blocks the upstream asked for.
    pub(crate) hints: BlockHints,
}

impl Rules {
    /// `policy`, no catalog account, no block.
    pub(crate) fn new(policy: Policy) -> Self {
        Self {
            state: ArcSwap::from_pointee(State::new(Arc::new(policy), Vec::new(), Vec::new())),
            writes: std::sync::Mutex::new(()),
            ratelimit: ArcSwapOption::empty(),
            blocks: ArcSwap::from_pointee(Vec::new()),
            hints: BlockHints::default(),
        }
    }

    /// The policy in force.
    pub(crate) fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.state.load().policy)
    }

    /// Replaces the blocks of the catalog.
    pub(crate) fn set_blocks(&self, blocks: Vec<Block>) {
        self.blocks.store(Arc::new(blocks));
    }

    /// The block in force at `now` for a request from `account` (`None`: blocks on no account
    /// only), the one lasting longest.
    pub(crate) fn blocked_for(
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
    pub(crate) fn set_accounts(&self, entries: Vec<DirectoryEntry>, apps: Vec<(String, String)>) {
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
    pub(crate) fn reload(&self, path: &Path) -> Result<String, ConfigErrors> {
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

    /// Replaces envoyproxy/ratelimit's configuration with the files of `dir`, in the same key
    /// space. Invalid files change nothing. Returns the new configuration's summary.
    pub(crate) fn reload_ratelimit(&self, dir: &Path) -> Result<String, ConfigErrors> {
        let _writing = self.writing();
        let Some(current) = self.ratelimit.load_full() else {
            return Err(ConfigErrors(vec![tollgate_policy::ConfigError {
                file: dir.display().to_string(),
                line: 1,
                column: 1,
                message: "no envoyproxy/ratelimit configuration is served".to_owned(),
            }]));
        };
        let config = RateLimitConfig::load_dir_merging(
            dir,
            current.key_space().clone(),
            current.merges_domains(),
        )?;
        let summary = config.summary();
        self.ratelimit.store(Some(Arc::new(config)));
        Ok(summary)
    }
}
