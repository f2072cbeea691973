//! Redis Cluster: limits of one root are decided in one slot; limits of several roots by one
//! call per root, with what a refused request took from the others given back.

use std::time::Duration;

use tollgate_core::{Algorithm, Key, LimitRequest, Schedule, Window};
use tollgate_redis::{RedisStore, StoreUrl};

use crate::redis_server::RedisCluster;

fn hourly(max: u64) -> Algorithm {
    Window::new(max, Schedule::clock(Duration::from_secs(3_600)).unwrap())
        .unwrap()
        .into()
}

#[tokio::test]
async fn limits_of_several_roots_give_back_what_a_refusal_took() {
    let cluster = RedisCluster::start();
    let url: StoreUrl = cluster.url().parse().unwrap();
    let store = RedisStore::connect(&url, Duration::from_secs(5))
        .await
        .unwrap();
    let (one, five) = (hourly(1), hourly(5));
    // Roots chosen apart: their hash tags fall in different slots of the three masters.
    let (tight, roomy) = (Key::from_hash(1), Key::from_hash(2));
    let both = [
        LimitRequest::new(Key::from_hash(11), &one, 1).with_root(tight),
        LimitRequest::new(Key::from_hash(12), &five, 1).with_root(roomy),
    ];
    assert!(store.acquire(&both).await.unwrap().allowed());
    for _ in 0..3 {
        let refused = store.acquire(&both).await.unwrap();
        assert!(!refused.allowed());
        assert!(
            refused.outcomes()[1].allowed(),
            "the roomy limit alone admits"
        );
    }
    // Three refusals later the roomy limit still holds 4: each charge was given back.
    let peek = [LimitRequest::new(Key::from_hash(12), &five, 0).with_root(roomy)];
    let held = store.acquire(&peek).await.unwrap();
    assert_eq!(held.outcomes()[0].remaining(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_follows_its_partition_to_another_primary() {
    let cluster = std::sync::Arc::new(RedisCluster::start());
    let url: StoreUrl = cluster.url().parse().unwrap();
    let store = RedisStore::connect(&url, Duration::from_secs(5))
        .await
        .unwrap();
    let five = hourly(5);
    let request = [LimitRequest::new(Key::from_hash(30), &five, 1).with_root(Key::from_hash(3))];
    assert_eq!(
        store.acquire(&request).await.unwrap().outcomes()[0].remaining(),
        4
    );
    let (mover, asker, handle) = (
        std::sync::Arc::clone(&cluster),
        store.clone(),
        tokio::runtime::Handle::current(),
    );
    let remaining_while_asked = tokio::task::spawn_blocking(move || {
        let mut remaining = 0;
        mover.move_slot_of_first("tg:{*", || {
            let request =
                [LimitRequest::new(Key::from_hash(30), &five, 1).with_root(Key::from_hash(3))];
            let decided = handle
                .block_on(asker.acquire(&request))
                .expect("decided while migrating");
            remaining = decided.outcomes()[0].remaining();
        });
        remaining
    })
    .await
    .unwrap();
    assert_eq!(
        remaining_while_asked, 3,
        "decided on the node the key moved to"
    );
    let five = hourly(5);
    let request = [LimitRequest::new(Key::from_hash(30), &five, 1).with_root(Key::from_hash(3))];
    assert_eq!(
        store.acquire(&request).await.unwrap().outcomes()[0].remaining(),
        2,
        "after MOVED"
    );
}
