//! The `[alerts]` table: receivers, the signing secret, the watched quotas and their shares,
//! the warnings before a pack's end, and the retries.

use std::sync::Arc;
use std::time::Duration;

use tollgate_core::Algorithm;

use super::{Compiler, known};
use crate::Limit;
use crate::alerts::Alerts;
use crate::model::AlertsConfig;
use crate::units::parse_duration;

/// The shortest secret accepted: a guessable key would let anyone forge alerts.
const SHORTEST_SECRET: usize = 16;

impl Compiler<'_> {
    /// `[alerts]`, checked against the compiled `limits` and the `plans`.
    pub(super) fn alerts(
        &mut self,
        config: &toml::Spanned<AlertsConfig>,
        limits: &[Limit],
        plans: &[String],
    ) -> Alerts {
        let config = config.get_ref();
        let url = config.url.as_ref().map(|url| self.receiver(url));
        let plan_urls = config
            .plans
            .iter()
            .map(|(plan, url)| {
                if !plans.contains(plan) {
                    self.fail(
                        url.span(),
                        format!(
                            "alerts for plan `{plan}`, which is not a plan: {}",
                            known(plans)
                        ),
                    );
                }
                (crate::Name::from(plan.as_str()), self.receiver(url))
            })
            .collect();
        let secret = config.secret.get_ref();
        if secret.chars().count() < SHORTEST_SECRET {
            self.fail(
                config.secret.span(),
                format!("the alerts' secret must have at least {SHORTEST_SECRET} characters"),
            );
        }
        let is_quota =
            |limit: &Limit| matches!(limit.algorithms.last(), Some(Algorithm::Window(_)));
        let watched: Vec<Arc<str>> = if config.limits.is_empty() {
            limits
                .iter()
                .filter(|limit| is_quota(limit))
                .map(|limit| Arc::clone(&limit.name))
                .collect()
        } else {
            config
                .limits
                .iter()
                .filter_map(|name| {
                    let found = limits.iter().find(|limit| &*limit.name == name.get_ref());
                    match found {
                        Some(limit) if is_quota(limit) => Some(Arc::clone(&limit.name)),
                        Some(_) => {
                            self.fail(
                                name.span(),
                                format!(
                                    "alerts watch quotas: `{}` is not a `window` limit",
                                    name.get_ref()
                                ),
                            );
                            None
                        }
                        None => {
                            self.fail_undefined(
                                super::read::Defined::Limit,
                                name.get_ref(),
                                name.span(),
                                format!("alerts watch `{}`, which is not a limit", name.get_ref()),
                            );
                            None
                        }
                    }
                })
                .collect()
        };
        let mut at: Vec<u8> = match &config.at {
            None => vec![80, 100],
            Some(shares) => shares
                .get_ref()
                .iter()
                .filter_map(|share| match u8::try_from(*share.get_ref()) {
                    Ok(percent @ 1..=100) => Some(percent),
                    _ => {
                        self.fail(
                            share.span(),
                            format!(
                                "an alert's share of a quota is a percentage from 1 to 100, not {}",
                                share.get_ref()
                            ),
                        );
                        None
                    }
                })
                .collect(),
        };
        at.sort_unstable();
        at.dedup();
        let mut pack_expiry: Vec<Duration> = config
            .pack_expiry
            .iter()
            .filter_map(|before| self.parse(before, parse_duration))
            .collect();
        pack_expiry.sort_unstable_by(|a, b| b.cmp(a));
        pack_expiry.dedup();
        let attempts = match &config.attempts {
            None => 10,
            Some(attempts) => match u32::try_from(*attempts.get_ref()) {
                Ok(count @ 1..=100) => count,
                _ => {
                    self.fail(
                        attempts.span(),
                        format!("attempts must be 1 to 100, not {}", attempts.get_ref()),
                    );
                    10
                }
            },
        };
        let backoff = config
            .backoff
            .as_ref()
            .and_then(|backoff| self.parse(backoff, positive))
            .unwrap_or(Duration::from_secs(1));
        let timeout = config
            .timeout
            .as_ref()
            .and_then(|timeout| self.parse(timeout, positive))
            .unwrap_or(Duration::from_secs(10));
        Alerts {
            url,
            plan_urls,
            secret: secret.clone(),
            limits: watched,
            at,
            pack_expiry,
            attempts,
            backoff,
            timeout,
        }
    }

    /// A receiver's URL: `http://HOST…` (Tollgate speaks no TLS: an https receiver is reached
    /// through a relay that does).
    fn receiver(&mut self, url: &toml::Spanned<String>) -> String {
        let text = url.get_ref();
        if !is_receiver(text) {
            self.fail(url.span(), format!("the alert receiver `{text}` must be an http:// URL, e.g. http://hooks.example.com/tollgate"));
        }
        text.clone()
    }
}

/// Whether `url` is a URL alerts can be sent to: `http://` and a host.
#[must_use]
pub fn is_receiver(url: &str) -> bool {
    url.strip_prefix("http://")
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .is_some_and(|host| !host.is_empty() && !host.contains(char::is_whitespace))
}

fn positive(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        duration if duration.is_zero() => Err("must be longer than 0".to_owned()),
        duration => Ok(duration),
    }
}

#[cfg(test)]
mod tests {
    use crate::{Policy, Source};

    const LIMITS: &str = r#"
[[limits]]
name = "daily"
window = { max = 1000, every = "day", align = "calendar" }

[[limits]]
name = "burst"
token_bucket = { rate = "1/s" }

[plans.pro]
"#;

    fn compile(alerts: &str) -> Result<Policy, String> {
        Policy::compile(&Source::new("p.toml", format!("{LIMITS}\n{alerts}")))
            .map_err(|errors| errors.to_string())
    }

    #[test]
    fn alerts_default_to_every_window_at_80_and_100_percent() {
        let policy = compile(
            "[alerts]\nurl = \"http://hooks.example.com/a?t=1\"\nsecret = \"0123456789abcdef\"\nplans = { pro = \"http://pro.example.com/\" }\npack_expiry = [\"1d\", \"14d\"]\nbackoff = \"50ms\"",
        )
        .unwrap();
        let alerts = policy.alerts().unwrap();
        assert_eq!(alerts.limits().collect::<Vec<_>>(), ["daily"]);
        assert_eq!(alerts.at(), [80, 100]);
        assert_eq!(
            alerts.pack_expiry(),
            [14, 1].map(|days| std::time::Duration::from_secs(days * 86_400))
        );
        assert_eq!(alerts.plan_url("pro"), Some("http://pro.example.com/"));
        assert_eq!(alerts.plan_url("basic"), None);
        assert_eq!(alerts.url(), Some("http://hooks.example.com/a?t=1"));
        assert_eq!(alerts.attempts(), 10);
        assert_eq!(alerts.backoff(1).as_millis(), 50);
        assert_eq!(alerts.backoff(4).as_millis(), 400);
        assert!(!format!("{alerts:?}").contains("0123456789abcdef"));
        assert!(compile("").unwrap().alerts().is_none());
    }

    #[test]
    fn every_mistake_in_alerts_is_reported_where_it_is() {
        let errors = compile(
            "[alerts]\nurl = \"https://hooks.example.com\"\nsecret = \"short\"\nlimits = [\"burst\", \"nightly\"]\nat = [0, 80, 101]\nplans = { gold = \"http://x\" }\nattempts = 0\nbackoff = \"0s\"",
        )
        .unwrap_err();
        assert_eq!(
            errors,
            "p.toml:13:7: the alert receiver `https://hooks.example.com` must be an http:// URL, e.g. http://hooks.example.com/tollgate\n\
             p.toml:14:10: the alerts' secret must have at least 16 characters\n\
             p.toml:15:11: alerts watch quotas: `burst` is not a `window` limit\n\
             p.toml:15:20: alerts watch `nightly`, which is not a limit\n\
             p.toml:16:7: an alert's share of a quota is a percentage from 1 to 100, not 0\n\
             p.toml:16:14: an alert's share of a quota is a percentage from 1 to 100, not 101\n\
             p.toml:17:18: alerts for plan `gold`, which is not a plan: defined are pro\n\
             p.toml:18:12: attempts must be 1 to 100, not 0\n\
             p.toml:19:11: must be longer than 0"
        );
    }
}
