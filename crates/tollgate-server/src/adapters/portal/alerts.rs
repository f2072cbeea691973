//! The alert settings on the customer's page: which quotas are watched and at which shares,
//! how long before a pack's end, and the host alerts go to — never the secret, nor the
//! receiver's path or query (a token there would let anyone who sees the page post to it).

use std::fmt::Write as _;
use std::time::Duration;

use tollgate_core::Clock;
use tollgate_replay::html::escape;

use super::words;
use crate::app::App;

/// What the page says of the account's alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AlertSettings {
    /// The watched quotas.
    pub(super) limits: Vec<String>,
    /// Their shares, in percent.
    pub(super) thresholds: Vec<u8>,
    /// How long before a pack's end.
    pub(super) before: Vec<Duration>,
    /// The receiver's host (and port); `None`: no receiver, no alert is sent.
    pub(super) host: Option<String>,
}

/// The settings that apply to `account` on `plan`, if the policy has alerts.
pub(super) async fn settings<C: Clock>(
    app: &App<C>,
    account: &str,
    plan: Option<&str>,
) -> Option<AlertSettings> {
    let policy = app.gate.policy();
    let alerts = policy.alerts()?;
    let own = match &app.catalog {
        Some(catalog) => catalog.alert_url(account).await.unwrap_or_else(|error| {
            tracing::warn!(%error, "alert receiver not read for the customer's page");
            None
        }),
        None => None,
    };
    let receiver = crate::alerts::Receiver::of(alerts, own, plan);
    Some(AlertSettings {
        limits: alerts.limits().map(str::to_owned).collect(),
        thresholds: alerts.at().to_vec(),
        before: alerts.pack_expiry().to_vec(),
        host: receiver.as_ref().and_then(|receiver| host(receiver.url())),
    })
}

/// The host (and port) of an `http://` URL, without user information.
fn host(url: &str) -> Option<String> {
    let authority = url.strip_prefix("http://")?.split(['/', '?', '#']).next()?;
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    (!host.is_empty()).then(|| host.to_owned())
}

/// The paragraph of the page: `Alerts at 80 % and 100 % of daily, and 14 days before your pack
/// ends, to hooks.example.com.`
pub(super) fn render(body: &mut String, settings: &AlertSettings) {
    let shares: Vec<String> = settings
        .thresholds
        .iter()
        .map(|share| format!("{share} %"))
        .collect();
    let mut what = Vec::new();
    if !shares.is_empty() && !settings.limits.is_empty() {
        let limits: Vec<String> = settings.limits.iter().map(|limit| escape(limit)).collect();
        what.push(format!("at {} of {}", and(&shares), and(&limits)));
    }
    if !settings.before.is_empty() {
        let before: Vec<String> = settings
            .before
            .iter()
            .map(|before| words::unused(before.as_secs()))
            .collect();
        what.push(format!("{} before your pack ends", and(&before)));
    }
    if what.is_empty() {
        return;
    }
    let _ = write!(body, "<p class=\"alerts\">Alerts {}", what.join(", and "));
    match &settings.host {
        Some(host) => {
            let _ = write!(body, ", to <strong>{}</strong>.</p>", escape(host));
        }
        None => body.push_str(": no receiver is set, none is sent.</p>"),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_the_receiver_s_host_only() {
        assert_eq!(
            host("http://user:token@hooks.example.com:8080/t/abc?sig=1").as_deref(),
            Some("hooks.example.com:8080")
        );
        assert_eq!(
            host("http://hooks.example.com").as_deref(),
            Some("hooks.example.com")
        );
        let mut body = String::new();
        let day = Duration::from_secs(86_400);
        render(
            &mut body,
            &AlertSettings {
                limits: vec!["daily".to_owned(), "<monthly>".to_owned()],
                thresholds: vec![80, 100],
                before: vec![14 * day, day],
                host: Some("hooks.example.com".to_owned()),
            },
        );
        assert_eq!(
            body,
            "<p class=\"alerts\">Alerts at 80 % and 100 % of daily and &lt;monthly&gt;, and 14 days and 1 day before your pack ends, to <strong>hooks.example.com</strong>.</p>"
        );
    }
}
