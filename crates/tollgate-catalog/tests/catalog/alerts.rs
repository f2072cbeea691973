//! Alert deliveries through the catalog: written once per account, subject, threshold and
//! period, due until answered, kept across reopening; and an account's own receiver.

use tollgate_catalog::{AlertDelivery, Catalog, DeliveryState, Tried};

use super::{Scratch, postgres_server};

fn alert(id: &str, threshold: &str, created_at: u64) -> AlertDelivery {
    AlertDelivery {
        id: id.to_owned(),
        account: "acme".to_owned(),
        subject: "daily/tasks".to_owned(),
        threshold: threshold.to_owned(),
        period_end: 86_400_000_000_000,
        url: "http://127.0.0.1:9/alerts".to_owned(),
        body: format!("{{\"id\":\"{id}\"}}"),
        state: DeliveryState::Due,
        attempts: 0,
        created_at,
        delivered_at: None,
        last_error: None,
    }
}

async fn deliveries_are_written_once_and_stay_due_until_answered(url: &str) {
    {
        let catalog = Catalog::open(url).await.unwrap();
        assert!(
            catalog
                .record_alert(&alert("alr_1", "80%", 1))
                .await
                .unwrap()
        );
        // The same threshold of the same period again: not written, not to be sent.
        assert!(
            !catalog
                .record_alert(&alert("alr_2", "80%", 2))
                .await
                .unwrap()
        );
        assert!(
            catalog
                .record_alert(&alert("alr_3", "100%", 3))
                .await
                .unwrap()
        );
        let error = "connection refused";
        catalog
            .alert_tried("alr_1", 1, Tried::Failed { error, last: false })
            .await
            .unwrap();
        catalog
            .alert_tried("alr_3", 1, Tried::Failed { error, last: false })
            .await
            .unwrap();
    }
    // Reopened, as after a restart: both are due, with their tries.
    let catalog = Catalog::open(url).await.unwrap();
    let due = catalog.due_alerts().await.unwrap();
    let ids: Vec<_> = due
        .iter()
        .map(|row| (row.id.as_str(), row.attempts))
        .collect();
    assert_eq!(ids, [("alr_1", 1), ("alr_3", 1)]);
    assert_eq!(due[0].last_error.as_deref(), Some("connection refused"));
    assert_eq!(due[0].body, "{\"id\":\"alr_1\"}");
    catalog
        .alert_tried("alr_1", 2, Tried::Delivered(5))
        .await
        .unwrap();
    catalog
        .alert_tried(
            "alr_3",
            2,
            Tried::Failed {
                error: "503",
                last: true,
            },
        )
        .await
        .unwrap();
    assert!(catalog.due_alerts().await.unwrap().is_empty());
    let listed = catalog.alert_deliveries("acme", 10).await.unwrap();
    let states: Vec<_> = listed
        .iter()
        .map(|row| (row.id.as_str(), row.state, row.attempts, row.delivered_at))
        .collect();
    assert_eq!(
        states,
        [
            ("alr_3", DeliveryState::Failed, 2, None),
            ("alr_1", DeliveryState::Delivered, 2, Some(5)),
        ]
    );
    assert_eq!(catalog.alert_deliveries("acme", 1).await.unwrap().len(), 1);
    assert!(
        catalog
            .alert_deliveries("globex", 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Pruned: answered ones made before the instant only (alr_1 at 1, alr_3 at 3).
    assert_eq!(catalog.prune_alerts(2).await.unwrap(), 1);
    let left = catalog.alert_deliveries("acme", 10).await.unwrap();
    assert_eq!(
        left.iter().map(|row| row.id.as_str()).collect::<Vec<_>>(),
        ["alr_3"]
    );

    assert_eq!(catalog.alert_url("acme").await.unwrap(), None);
    catalog
        .set_alert_url("acme", Some("http://hooks.acme.example/a"))
        .await
        .unwrap();
    catalog
        .set_alert_url("acme", Some("http://hooks.acme.example/b"))
        .await
        .unwrap();
    assert_eq!(
        catalog.alert_url("acme").await.unwrap().as_deref(),
        Some("http://hooks.acme.example/b")
    );
    catalog.set_alert_url("acme", None).await.unwrap();
    assert_eq!(catalog.alert_url("acme").await.unwrap(), None);
    assert!(Catalog::new_alert_id().unwrap().starts_with("alr_"));
}

#[tokio::test]
async fn sqlite_deliveries_are_written_once_and_stay_due_until_answered() {
    let scratch = Scratch::new("alerts");
    deliveries_are_written_once_and_stay_due_until_answered(&scratch.url()).await;
}

#[tokio::test]
async fn postgres_deliveries_are_written_once_and_stay_due_until_answered() {
    let server = postgres_server::PostgresServer::start();
    deliveries_are_written_once_and_stay_due_until_answered(&server.url()).await;
}
