//! What an alert says: the JSON body a receiver gets, the same on every try of a delivery.

use serde::Serialize;
use tollgate_core::{NANOS_PER_SEC, Nanos};
use tollgate_gate::Crossing;

/// The body of an alert. Instants are unix seconds.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum AlertBody<'a> {
    /// A watched quota reached a share of its period's units.
    Quota {
        /// The delivery's id: the same on every try; a receiver that saw it has the alert.
        id: &'a str,
        /// The account.
        account: &'a str,
        /// The limit (quota).
        limit: &'a str,
        /// The api of the request that reached the share.
        api: &'a str,
        /// The share reached, in percent.
        threshold: u8,
        /// Units used in the period.
        used: u64,
        /// Units per period.
        max: u64,
        /// Where the period began.
        period_start: u64,
        /// Where it ends (when the quota is whole again).
        period_end: u64,
        /// When the alert was made.
        created_at: u64,
    },
    /// The account's pack ends within the threshold.
    PackExpiry {
        /// The delivery's id.
        id: &'a str,
        /// The account.
        account: &'a str,
        /// The pack.
        pack: &'a str,
        /// How long before its expiry this alert was due, in seconds.
        threshold_seconds: u64,
        /// When it expires (rounded up, as the pack ledger shows it).
        expires_at: u64,
        /// When the alert was made.
        created_at: u64,
    },
}

/// Unix seconds of `at` (rounded down).
pub(crate) const fn seconds(at: Nanos) -> u64 {
    at / NANOS_PER_SEC
}

impl<'a> AlertBody<'a> {
    /// The body of the alert `id` about `crossing`, made at `now`.
    pub(crate) fn quota(id: &'a str, crossing: &'a Crossing, now: Nanos) -> Self {
        Self::Quota {
            id,
            account: &crossing.account,
            limit: &crossing.limit,
            api: &crossing.api,
            threshold: crossing.percent,
            used: crossing.used,
            max: crossing.max,
            period_start: seconds(crossing.period_start),
            period_end: seconds(crossing.period_end),
            created_at: seconds(now),
        }
    }

    /// The body, as sent.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain data serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::signature::sign;

    /// The worked example of docs/policy.md ("Quota alerts"): its body and its signature.
    #[test]
    fn the_documented_alert_is_this_body_signed_so() {
        let at = |seconds: u64| seconds * NANOS_PER_SEC;
        let crossing = Crossing {
            account: "acme".into(),
            plan: None,
            api: "machines.detail".into(),
            limit: "daily-quota".into(),
            percent: 80,
            used: 800,
            max: 1000,
            period_start: at(1_796_572_800),
            period_end: at(1_796_659_200),
        };
        let body = AlertBody::quota("alr_5f1c2a9e0b7d4c31", &crossing, at(1_796_623_392)).to_json();
        assert_eq!(
            body,
            r#"{"type":"quota","id":"alr_5f1c2a9e0b7d4c31","account":"acme","limit":"daily-quota","api":"machines.detail","threshold":80,"used":800,"max":1000,"period_start":1796572800,"period_end":1796659200,"created_at":1796623392}"#
        );
        assert_eq!(
            sign(b"whsec_0123456789abcdef", 1_796_623_392, body.as_bytes()),
            "t=1796623392,v1=7692613794ff9f6313122091440888c8afe0d745760324270ee5e766c1a04a85"
        );
    }
}
