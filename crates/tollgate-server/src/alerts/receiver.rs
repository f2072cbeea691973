//! Where an account's alerts go: the receiver it set in the catalog, else its plan's in the
//! policy (`plans.NAME`), else the policy's (`url`).

use tollgate_catalog::Catalog;
use tollgate_core::Clock;
use tollgate_policy::Alerts;

use crate::App;

/// Where an account's alerts go, and whose setting that is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Receiver {
    /// The account's own, set through the admin API.
    Account(String),
    /// Its plan's, from the policy.
    Plan(String),
    /// The policy's.
    Policy(String),
}

impl Receiver {
    /// The receiver of an account that set `own` (or none), on `plan`, under `alerts`;
    /// `None`: nowhere, no alert is made.
    pub(crate) fn of(alerts: &Alerts, own: Option<String>, plan: Option<&str>) -> Option<Self> {
        if let Some(url) = own {
            return Some(Self::Account(url));
        }
        if let Some(url) = plan.and_then(|plan| alerts.plan_url(plan)) {
            return Some(Self::Plan(url.to_owned()));
        }
        alerts.url().map(|url| Self::Policy(url.to_owned()))
    }

    /// Its URL.
    pub(crate) fn url(&self) -> &str {
        match self {
            Self::Account(url) | Self::Plan(url) | Self::Policy(url) => url,
        }
    }

    /// Whose setting it is: `account`, `plan` or `policy`.
    pub(crate) const fn source(&self) -> &'static str {
        match self {
            Self::Account(_) => "account",
            Self::Plan(_) => "plan",
            Self::Policy(_) => "policy",
        }
    }
}

/// The plan of account `id`: as decisions see it, else (an account of the catalog with no key
/// yet) as the catalog has it.
pub(crate) async fn plan_of<C: Clock + 'static>(
    app: &App<C>,
    catalog: &Catalog,
    id: &str,
) -> Option<String> {
    if let Some(usage) = app.gate.usage(id, None).await {
        return usage.plan;
    }
    catalog.account(id).await.ok().flatten()?.plan
}
