//! What an admitted request keeps, past the policy's lifetime, to give back what limits refund
//! once the upstream has answered.

use tollgate_core::{Algorithm, LimitRequest};

use super::resolved::Resolved;

/// What an admitted request charged in limits that refund some upstream statuses: enough to
/// give it back later, whatever policy is in force by then.
#[derive(Debug, Clone)]
pub struct RefundTicket {
    charges: Vec<Charge>,
}

#[derive(Debug, Clone)]
struct Charge {
    key: tollgate_core::Key,
    root: tollgate_core::Key,
    algorithm: Algorithm,
    cost: u32,
    refund: Vec<(u16, u16)>,
}

impl Resolved<'_> {
    /// What to keep, past the policy's lifetime, to refund this request's enforced limits once
    /// the upstream has answered; `None` when no limit refunds any status.
    #[must_use]
    pub fn refund_ticket(&self) -> Option<RefundTicket> {
        let charges: Vec<Charge> = self
            .enforced
            .limits
            .iter()
            .zip(&self.enforced.requests)
            .filter(|(limit, _)| !limit.refund.is_empty())
            .map(|(limit, request)| Charge {
                key: request.key,
                root: request.root,
                algorithm: request.algorithm.clone(),
                cost: request.cost,
                refund: limit.refund.clone(),
            })
            .collect();
        (!charges.is_empty()).then_some(RefundTicket { charges })
    }
}

impl RefundTicket {
    /// The store requests that give back what the limits refunding `status` charged.
    #[must_use]
    pub fn refunds(&self, status: u16) -> Vec<LimitRequest<'_>> {
        self.charges
            .iter()
            .filter(|charge| {
                charge
                    .refund
                    .iter()
                    .any(|&(low, high)| (low..=high).contains(&status))
            })
            .map(|charge| {
                LimitRequest::new(charge.key, &charge.algorithm, charge.cost).with_root(charge.root)
            })
            .collect()
    }
}
