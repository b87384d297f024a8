//! Revocation has no gaps however revoking transactions interleave: with several servers on
//! one database, keys cached by one server and revoked through another by concurrent
//! clients are all refused a second after the last revoke is acknowledged. On PostgreSQL
//! (`ANDI_TEST_DATABASE_URL`) a gap in the revocation sequence leaves a key working for the
//! key-cache lifetime. The test prints how many were accepted and how long it took
//! (`cargo test --test api revocation_race -- --nocapture`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use andi::http::limits::Limits;
use andi::keys::grant::Permission;
use andi::keys::lifecycle;
use chrono::Utc;

use crate::helpers::TestApp;
use crate::revocation::status;

const KEYS: usize = 120;
const REVOKERS: usize = 16;

#[tokio::test]
async fn keys_revoked_concurrently_on_one_server_are_all_refused_by_another_a_second_later() {
    // A revokes, B stands by, C checks: three servers on one database, each with its own
    // pool, key cache and revocation watcher, as `andi serve` runs them.
    let revoking = TestApp::builder().spawn().await;
    let _bystander = TestApp::builder().database_of(&revoking).spawn().await;
    // C is asked about every revoked key from one address: no failed-authentication limit.
    let checking = TestApp::builder()
        .database_of(&revoking)
        .limits(Limits {
            max_auth_failures_per_ip: 0,
            ..Limits::default()
        })
        .spawn()
        .await;
    let acme = revoking.create_workspace("acme").await;
    let mut issued = Vec::with_capacity(KEYS);
    for _ in 0..KEYS {
        issued.push(
            revoking
                .create_key(&acme, None, &[Permission::ObjectsRead])
                .await,
        );
    }
    let revoking_db = revoking.db.clone();

    let client = reqwest::Client::new();
    for (secret, _) in &issued {
        assert_eq!(
            status(&client, &checking, secret).await.status(),
            200,
            "the key works on C before it is revoked"
        );
    }

    let started = Instant::now();
    let queue = Arc::new(Mutex::new(
        issued.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>(),
    ));
    let revokers: Vec<_> = (0..REVOKERS)
        .map(|_| {
            let queue = Arc::clone(&queue);
            let db = revoking_db.clone();
            tokio::spawn(async move {
                // Bounded by the queue, which only shrinks.
                loop {
                    let next = queue.lock().expect("queue").pop();
                    let Some(id) = next else { break };
                    lifecycle::revoke_key(&db, crate::helpers::test_audit(), &id, Utc::now())
                        .await
                        .expect("revoke is acknowledged");
                }
            })
        })
        .collect();
    for revoker in revokers {
        revoker.await.expect("revoker finished");
    }
    let acknowledged = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut accepted = 0;
    for (secret, _) in &issued {
        let response = status(&client, &checking, secret).await;
        match response.status().as_u16() {
            200 => accepted += 1,
            401 => {}
            other => panic!("a revoked key is answered {other}"),
        }
    }
    eprintln!(
        "revocation race: {accepted} of {KEYS} revoked keys accepted by C 1 s after the last \
         acknowledgement; {REVOKERS} revokers took {} ms, the whole run {} ms",
        acknowledged.as_millis(),
        started.elapsed().as_millis()
    );
    assert_eq!(
        accepted, 0,
        "every revoked key is refused a second after its revocation is acknowledged"
    );
}
