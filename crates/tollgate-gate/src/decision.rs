//! The one decision every way in reaches once it knows which limits apply: the enforced
//! limits asked of the store, all or nothing; a store fault answered by the failure policy; the
//! shadow limits counted for an admitted request (or looked at for a refused one); and the wait
//! for the journal where what was counted must outlive a crash. An HTTP request (`admit.rs`)
//! and Envoy's descriptors (`descriptors.rs`) differ only in how they find their limits and
//! how they tell the answer.

use smallvec::SmallVec;
use tollgate_core::{Clock, Decision, LimitRequest, Outcomes};
use tollgate_policy::OnStoreError;

use crate::NotDurable;
use crate::gate::Gate;
use crate::store::{Acquired, Held, Taken};

/// The limits of one request, as the store is asked for them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asked<'r, 'a> {
    /// Counted all or nothing: a refusal by one takes nothing from the others.
    pub(crate) enforced: &'r [LimitRequest<'a>],
    /// Counted once the enforced limits admitted the request; they never refuse it.
    pub(crate) shadow: &'r [LimitRequest<'a>],
    /// Refused before the store is asked (a rule that refuses everything): the enforced limits
    /// are not counted.
    pub(crate) refused: bool,
    /// Whether the shadow limits of a refused request are looked at (taking nothing), so that
    /// their standing can be told; otherwise they are left alone.
    pub(crate) look_when_refused: bool,
}

/// What the store made of a request's limits.
#[derive(Debug)]
pub(crate) struct Took {
    /// Whether the request is admitted.
    pub(crate) admitted: bool,
    /// The enforced limits' decision and what it holds; `None` when the store was not asked
    /// (refused before) or its failure policy admitted without counting.
    pub(crate) enforced: Option<Taken>,
    /// The shadow limits' decision, when they were asked and the store answered.
    pub(crate) shadow: Option<Decision>,
}

/// Why a request could not be decided: nothing of the client's doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Undecided {
    /// The store could not decide, and its failure policy refuses.
    Store,
    /// What was counted could not be written down, and `on_store_error = "deny"`.
    NotKept,
}

impl<C: Clock + 'static> Gate<C> {
    /// Decides `asked`: see [`Asked`] and [`Took`].
    ///
    /// # Errors
    /// When the store or the journal cannot decide and the failure policy refuses.
    pub(crate) async fn decide_limits(&self, asked: Asked<'_, '_>) -> Result<Took, Undecided> {
        let mut took = Took {
            admitted: !asked.refused,
            enforced: None,
            shadow: None,
        };
        if !asked.refused && asked.enforced.is_empty() {
            // Nothing to count: no call to a store that may be across the network.
            took.enforced = Some(Taken {
                decision: Decision::new(self.limiter().clock().now(), Outcomes::new(), Vec::new()),
                held: Held::default(),
                refunds_to: None,
            });
        } else if !asked.refused {
            match self.storage.stores.acquire(asked.enforced).await {
                Acquired::Decided(taken) => {
                    took.admitted = taken.decision.allowed();
                    took.enforced = Some(taken);
                }
                // Nothing counted, nothing to write down; the shadow limits live in the same
                // store, down too.
                Acquired::Unlimited => return Ok(took),
                // Logged by the store, as its kind of fault calls for.
                Acquired::Failed(_) => return Err(Undecided::Store),
            }
        }
        let shadow_asked = took.admitted || asked.look_when_refused;
        if shadow_asked && !asked.shadow.is_empty() {
            let looks: SmallVec<[LimitRequest<'_>; 4]>;
            let requests = if took.admitted {
                asked.shadow
            } else {
                looks = asked
                    .shadow
                    .iter()
                    .map(|request| LimitRequest {
                        cost: 0,
                        ..*request
                    })
                    .collect();
                &looks
            };
            match self.storage.stores.acquire(requests).await {
                Acquired::Decided(taken) => took.shadow = Some(taken.decision),
                Acquired::Unlimited => {}
                Acquired::Failed(error) => tracing::warn!(%error, "shadow limits not counted"),
            }
        }
        let journaled = took
            .enforced
            .iter()
            .map(|taken| &taken.decision)
            .chain(&took.shadow)
            .any(Decision::needs_journal);
        if took.admitted && journaled {
            self.durable().await?;
        }
        Ok(took)
    }

    /// Waits until what was just counted is on disk, when the journal says answers wait.
    async fn durable(&self) -> Result<(), Undecided> {
        let Some(journal) = self.storage.journal.get() else {
            return Ok(());
        };
        let epoch = self.limiter().store().journal_epoch();
        match journal.written(epoch).await {
            Ok(()) => Ok(()),
            Err(NotDurable) => match self.policy().server().on_store_error {
                OnStoreError::Deny => Err(Undecided::NotKept),
                _ => Ok(()),
            },
        }
    }
}
