//! Alerts off the request path: crossings from the gate's queue and packs near their end are
//! written to the catalog as due deliveries, then sent, signed, until a receiver answers 2xx
//! or the tries run out (waiting the policy's backoff, doubled each time); a start sends again
//! whatever is still due. A dead receiver costs its tries, nothing more.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;
use tollgate_catalog::{AlertDelivery, Catalog, DeliveryState, Tried};
use tollgate_core::{Clock, Nanos};
use tollgate_gate::Crossing;
use tollgate_policy::Alerts;

use super::body::AlertBody;
use super::queue::{AlertQueue, QUEUE};
use super::signature::{DELIVERY_HEADER, SIGNATURE_HEADER, sign};
use crate::App;

/// Records and sends alerts.
#[derive(Debug)]
pub struct Deliverer<C: Clock> {
    pub(super) app: Arc<App<C>>,
    pub(super) catalog: Catalog,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl<C: Clock + 'static> Deliverer<C> {
    /// Starts alerts for `app`: the gate hands its crossings to a queue read here, the
    /// deliveries still due in `catalog` are sent again, and packs are watched for their end.
    pub fn start(app: Arc<App<C>>, catalog: Catalog) -> Arc<Self> {
        let (sender, receiver) = mpsc::channel(QUEUE);
        app.gate
            .set_alert_sink(Arc::new(AlertQueue::new(sender, Arc::clone(&app))));
        let deliverer = Arc::new(Self {
            app,
            catalog,
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        // What was left due is read before anything new is recorded: a delivery written now is
        // never read back as left due, and sent twice.
        let started = Arc::clone(&deliverer);
        tokio::spawn(async move {
            started.resume().await;
            tokio::spawn(Arc::clone(&started).watch_packs());
            started.receive(receiver).await;
        });
        deliverer
    }

    /// Sends again what a previous run left due.
    async fn resume(self: &Arc<Self>) {
        match self.catalog.due_alerts().await {
            Ok(due) => {
                tracing::info!(alerts = due.len(), "alerts left due read");
                for delivery in due {
                    tokio::spawn(Arc::clone(self).deliver(delivery));
                }
            }
            Err(error) => {
                tracing::warn!(%error, "alerts left due not read; sent after the next start")
            }
        }
    }

    /// Records each crossing the gate noticed, and sends those not sent before.
    async fn receive(self: Arc<Self>, mut receiver: mpsc::Receiver<Crossing>) {
        while let Some(crossing) = receiver.recv().await {
            let subject = format!("{}/{}", crossing.limit, crossing.api);
            let threshold = format!("{}%", crossing.percent);
            let plan = crossing.plan.as_deref();
            let now = self.app.gate.limiter().clock().now();
            let made = self
                .record(
                    &crossing.account,
                    plan,
                    subject,
                    threshold,
                    crossing.period_end,
                    |id| AlertBody::quota(id, &crossing, now).to_json(),
                )
                .await;
            if let Err(error) = made {
                tracing::warn!(account = &*crossing.account, %error, "quota alert not recorded");
            }
        }
    }

    /// Writes the alert `subject`/`threshold` of `account` for the period ending at `period_end`
    /// as due, unless it was written before, and sends it. Nothing without a receiver.
    pub(super) async fn record(
        self: &Arc<Self>,
        account: &str,
        plan: Option<&str>,
        subject: String,
        threshold: String,
        period_end: Nanos,
        body: impl FnOnce(&str) -> String,
    ) -> Result<(), tollgate_catalog::CatalogError> {
        let policy = self.app.gate.policy();
        let Some(alerts) = policy.alerts() else {
            return Ok(());
        };
        let own = self.catalog.alert_url(account).await?;
        let Some(receiver) = super::Receiver::of(alerts, own, plan) else {
            return Ok(());
        };
        let id = Catalog::new_alert_id()?;
        let delivery = AlertDelivery {
            body: body(&id),
            id,
            account: account.to_owned(),
            subject,
            threshold,
            period_end,
            url: receiver.url().to_owned(),
            state: DeliveryState::Due,
            attempts: 0,
            created_at: self.app.gate.limiter().clock().now(),
            delivered_at: None,
            last_error: None,
        };
        if self.catalog.record_alert(&delivery).await? {
            let recorded = &self.app.gate.metrics().alerts().recorded;
            recorded.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(Arc::clone(self).deliver(delivery));
        }
        Ok(())
    }

    /// Tries `delivery` until a receiver answers 2xx or its tries run out, each try recorded.
    /// A delivery read back due after a restart is tried at once.
    async fn deliver(self: Arc<Self>, mut delivery: AlertDelivery) {
        let mut retry = 0;
        loop {
            if retry > 0 {
                let Some(wait) = self.app.gate.policy().alerts().map(|a| a.backoff(retry)) else {
                    return;
                };
                tokio::time::sleep(wait).await;
            }
            retry += 1;
            // The policy in force at each try: a reload changes the secret, tries and timeout.
            let policy = self.app.gate.policy();
            let Some(alerts) = policy.alerts() else {
                // Alerts taken out of the policy: left due, sent again by the next start that
                // has them.
                return;
            };
            delivery.attempts += 1;
            let sent = self.send(&delivery, alerts).await;
            let last = delivery.attempts >= alerts.attempts();
            let tried = match &sent {
                Ok(()) => Tried::Delivered(self.app.gate.limiter().clock().now()),
                Err(error) => Tried::Failed { error, last },
            };
            let counts = self.app.gate.metrics().alerts();
            let count = match (&sent, last) {
                (Ok(()), _) => &counts.delivered,
                (Err(_), false) => &counts.failed_tries,
                (Err(_), true) => {
                    counts.failed_tries.fetch_add(1, Ordering::Relaxed);
                    &counts.given_up
                }
            };
            count.fetch_add(1, Ordering::Relaxed);
            if let Err(error) = self
                .catalog
                .alert_tried(&delivery.id, delivery.attempts, tried)
                .await
            {
                tracing::warn!(id = %delivery.id, %error, "alert try not recorded");
            }
            match sent {
                Ok(()) => {
                    tracing::info!(id = %delivery.id, account = %delivery.account, attempts = delivery.attempts, "alert delivered");
                    return;
                }
                Err(error) => {
                    tracing::warn!(id = %delivery.id, account = %delivery.account, attempts = delivery.attempts, last, %error, "alert not delivered");
                    if last {
                        return;
                    }
                }
            }
        }
    }

    /// One try: the body POSTed, signed now, within the policy's timeout. Errors say why in
    /// words with no secret and no URL (its query may hold a receiver's token).
    async fn send(&self, delivery: &AlertDelivery, alerts: &Alerts) -> Result<(), String> {
        let at = super::body::seconds(self.app.gate.limiter().clock().now());
        let signature = sign(alerts.secret(), at, delivery.body.as_bytes());
        let request = hyper::Request::post(&delivery.url)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("tollgate/", env!("CARGO_PKG_VERSION")),
            )
            .header(SIGNATURE_HEADER, signature)
            .header(DELIVERY_HEADER, &delivery.id)
            .body(Full::new(Bytes::from(delivery.body.clone())))
            .map_err(|_| "not a URL alerts can be sent to".to_owned())?;
        let timeout = alerts.timeout();
        match tokio::time::timeout(timeout, self.client.request(request)).await {
            Err(_) => Err(format!("no answer within {}", humane(timeout))),
            Ok(Err(error)) => Err(format!("cannot reach the receiver: {error}")),
            Ok(Ok(response)) if response.status().is_success() => Ok(()),
            Ok(Ok(response)) => Err(format!(
                "the receiver answered {}",
                response.status().as_u16()
            )),
        }
    }
}

fn humane(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}
