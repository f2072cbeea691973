//! Any reference model behind one type, for tests that keep partitions of several kinds.

use tollgate_core::Nanos;

use crate::reference::{Bucket, FixedWindow, InFlight, Model, Sliding};

/// One model partition of any kind.
#[derive(Debug, Clone)]
pub(crate) enum AnyModel {
    Bucket(Bucket),
    Window(FixedWindow),
    Sliding(Sliding),
    InFlight(InFlight),
}

impl AnyModel {
    /// The model, whatever its kind.
    pub(crate) fn get(&mut self) -> &mut dyn ModelDyn {
        match self {
            Self::Bucket(m) => m,
            Self::Window(m) => m,
            Self::Sliding(m) => m,
            Self::InFlight(m) => m,
        }
    }
}

/// [`Model`] as a trait object.
pub(crate) trait ModelDyn {
    fn fits(&mut self, now: Nanos, cost: u64) -> bool;
    fn take(&mut self, now: Nanos, cost: u64);
    fn remaining(&mut self, now: Nanos) -> u64;
    fn reset_at(&mut self, now: Nanos) -> Nanos;
}

impl<M: Model> ModelDyn for M {
    fn fits(&mut self, now: Nanos, cost: u64) -> bool {
        Model::fits(self, now, cost)
    }
    fn take(&mut self, now: Nanos, cost: u64) {
        Model::take(self, now, cost);
    }
    fn remaining(&mut self, now: Nanos) -> u64 {
        self.verdict(now, 1).remaining
    }
    fn reset_at(&mut self, now: Nanos) -> Nanos {
        self.verdict(now, 1).reset_at
    }
}
