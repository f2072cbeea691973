//! Redis Cluster: limits of one root are decided in one slot; limits of several roots by one
//! call per root, with what a refused request took from the others given back.

use std::time::Duration;

use tollgate_core::{Algorithm, Key, LimitRequest, Schedule, Window};
use tollgate_redis::{Redirections, RedisStore, StoreUrl};

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
    assert_eq!(store.redirections(), Redirections::default());
    let (mover, asker, bouncer, handle) = (
        std::sync::Arc::clone(&cluster),
        store.clone(),
        store.clone(),
        tokio::runtime::Handle::current(),
    );
    let (remaining_while_asked, asked, bounced) = tokio::task::spawn_blocking(move || {
        let (mut remaining, mut asked, mut bounced) = (0, Redirections::default(), None);
        let decide = |store: RedisStore| async move {
            let five = hourly(5);
            let request =
                [LimitRequest::new(Key::from_hash(30), &five, 1).with_root(Key::from_hash(3))];
            store
                .acquire(&request)
                .await
                .map(|d| d.outcomes()[0].remaining())
        };
        mover.move_slot_of_first(
            "tg:{*",
            || {
                remaining = handle
                    .block_on(decide(asker.clone()))
                    .expect("decided while migrating");
                asked = asker.redirections();
            },
            || {
                // The old primary says MOVED to the new one, which says MOVED back until it
                // takes the slot: a decision started now is decided once it has.
                bounced = Some(handle.spawn(decide(bouncer)));
                std::thread::sleep(Duration::from_millis(100));
            },
        );
        (remaining, asked, bounced.expect("bouncing ran"))
    })
    .await
    .unwrap();
    assert_eq!(
        remaining_while_asked, 3,
        "decided on the node the key moved to"
    );
    assert_eq!(asked.asked, 1, "{asked:?}");
    assert_eq!(
        bounced
            .await
            .unwrap()
            .expect("decided once the slot settled"),
        2
    );
    let bounces = store.redirections();
    assert!(bounces.moved >= 2, "MOVED there and back: {bounces:?}");
    assert_eq!(
        store.acquire(&request).await.unwrap().outcomes()[0].remaining(),
        1,
        "after MOVED"
    );
    eprintln!("redirections followed: {:?}", store.redirections());
}
